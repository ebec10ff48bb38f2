//! The header block of a message, split into fields (RFC 5322 §2.2): unfolded, with the line
//! each field starts on. Only what the lint needs: names, raw values, non-ASCII bytes.

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The name as written (compare with `eq_ignore_ascii_case`).
    pub name: String,
    /// The value, unfolded (continuation lines joined), lossily decoded for display.
    pub value: String,
    /// 1-based line number where the field starts.
    pub line: u64,
    /// Whether the raw field has bytes above 127.
    pub non_ascii: bool,
}

/// The fields of the header block: everything before the first empty line (or the whole
/// input when it has none). Lines that are neither a field nor a continuation are skipped.
pub(crate) fn parse(message: &[u8]) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    for (i, raw) in message.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break;
        }
        let non_ascii = !line.is_ascii();
        if matches!(line[0], b' ' | b'\t') {
            if let Some(last) = fields.last_mut() {
                last.value.push(' ');
                last.value
                    .push_str(String::from_utf8_lossy(line).trim_start());
                last.non_ascii |= non_ascii;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon])
            .trim_end()
            .to_string();
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        fields.push(Field {
            name,
            value: String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string(),
            line: i as u64 + 1,
            non_ascii,
        });
    }
    fields
}

/// The address in a mailbox (`Name <a@b>` or `a@b`), or the first of a list.
pub(crate) fn first_address(value: &str) -> Option<&str> {
    let first = value.split(',').next()?.trim();
    let address = match (first.rfind('<'), first.rfind('>')) {
        (Some(open), Some(close)) if open < close => &first[open + 1..close],
        _ => first,
    }
    .trim();
    address.contains('@').then_some(address)
}

/// The domain of an address, lower-cased.
pub(crate) fn domain(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_numbers_fields() {
        let f =
            parse(b"Subject: a\r\n  long one\r\nFrom: \"X\" <x@Example.COM>\r\n\r\nBody: no\r\n");
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].value.as_str(), f[0].line), ("a long one", 1));
        assert_eq!((f[1].name.as_str(), f[1].line), ("From", 3));
        let a = first_address(&f[1].value).unwrap();
        assert_eq!(domain(a).as_deref(), Some("example.com"));
    }

    #[test]
    fn marks_non_ascii_and_skips_junk() {
        let f = parse("no colon here\nSubject: caf\u{e9}\n".as_bytes());
        assert_eq!(f.len(), 1);
        assert!(f[0].non_ascii);
        assert_eq!(first_address("undisclosed-recipients:;"), None);
    }
}
