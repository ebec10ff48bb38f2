//! The message lint: checks a message before DATA and says what a server (or SES) is likely
//! to refuse, each finding with the rule it comes from. Pure: it reads bytes and facts the
//! session already has, and never stops a session (a debugger may want to break rules).
//!
//! The rules' citations and the header lists are data, in `assets/lint-rules.toml`.

use std::sync::OnceLock;

use serde::Deserialize;

use super::escape::escape_str;
use super::iam::arn::Arn;
use super::message::{MAX_LINE_OCTETS, encode_message};

mod headers;

/// What the lint knows about the message and where it goes.
#[derive(Debug, Clone, Default)]
pub struct LintInput<'a> {
    /// The message, or at least its beginning (for a large file): the headers are read from
    /// it, and long lines are looked for in it.
    pub message: &'a [u8],
    /// The message's size on the wire (after dot-stuffing), when known.
    pub wire_size: Option<u64>,
    /// The MAIL FROM address.
    pub mail_from: Option<&'a str>,
    /// The SES region when the server is SES (SES-only rules apply).
    pub ses_region: Option<&'a str>,
    /// The SIZE the server announced.
    pub server_size: Option<u64>,
    /// The server offers SMTPUTF8.
    pub smtputf8: bool,
}

/// One finding: a rule, what was seen, and where the rule is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub text: String,
    pub cite: String,
    pub url: String,
}

impl Finding {
    /// The finding in one line, for the transcript: "<what> [rule: <citation>]".
    pub fn line(&self) -> String {
        format!("{} [{}: {}]", self.text, self.rule, self.cite)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalog {
    ses_max_message_bytes: u64,
    single_instance: Vec<String>,
    ses_single_instance: Vec<String>,
    rule: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    id: String,
    cite: String,
    url: String,
}

const RULES: &str = crate::engine::builtin_data::LINT_RULES.json;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        // Checked by a unit test; a broken file is a build-time mistake, not a user's.
        serde_json::from_str(RULES).unwrap_or_else(|e| Catalog {
            ses_max_message_bytes: 40 * 1024 * 1024,
            single_instance: Vec::new(),
            ses_single_instance: Vec::new(),
            rule: vec![Rule {
                id: "catalog".into(),
                cite: format!("the lint's rule file does not parse: {e}"),
                url: String::new(),
            }],
        })
    })
}

/// The SES message size limit over SMTP, in bytes.
pub fn ses_max_message_bytes() -> u64 {
    catalog().ses_max_message_bytes
}

struct Out {
    findings: Vec<Finding>,
}

impl Out {
    fn add(&mut self, rule: &str, text: String) {
        let (cite, url) = catalog()
            .rule
            .iter()
            .find(|r| r.id == rule)
            .map_or((String::new(), String::new()), |r| {
                (r.cite.clone(), r.url.clone())
            });
        self.findings.push(Finding {
            rule: rule.to_string(),
            text,
            cite,
            url,
        });
    }
}

/// Runs every rule; findings come in a fixed order (headers, size, SES headers).
pub fn lint(input: &LintInput<'_>) -> Vec<Finding> {
    let cat = catalog();
    let fields = headers::parse(input.message);
    let mut out = Out {
        findings: Vec::new(),
    };
    duplicates(&fields, input.ses_region.is_some(), cat, &mut out);
    for (name, rule) in [
        ("From", "missing-from"),
        ("Date", "missing-date"),
        ("Message-ID", "missing-message-id"),
    ] {
        if !fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            out.add(rule, format!("the message has no {name} header"));
        }
    }
    if input.ses_region.is_some() {
        from_domain(&fields, input.mail_from, &mut out);
    }
    if !input.smtputf8
        && let Some(f) = fields.iter().find(|f| f.non_ascii)
    {
        out.add(
            "non-ascii-header",
            format!(
                "the {} header (line {}) has non-ASCII characters, and the server does not offer SMTPUTF8; encode them as RFC 2047 encoded-words (=?UTF-8?B?...?=)",
                escape_str(&f.name),
                f.line
            ),
        );
    }
    let (_, stats) = encode_message(input.message);
    if let Some(first) = stats.long_lines.first() {
        out.add(
            "long-line",
            format!(
                "{} line(s) longer than {MAX_LINE_OCTETS} octets (first: line {first}); servers may refuse the message or break the lines",
                stats.long_lines.len()
            ),
        );
    }
    size(input, cat, &mut out);
    if let Some(region) = input.ses_region {
        ses_headers(&fields, region, &mut out);
    }
    out.findings
}

fn duplicates(fields: &[headers::Field], ses: bool, cat: &Catalog, out: &mut Out) {
    let mut counts: Vec<(String, usize, u64)> = Vec::new();
    for f in fields {
        match counts
            .iter_mut()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(&f.name))
        {
            Some(c) => c.1 += 1,
            None => counts.push((f.name.clone(), 1, f.line)),
        }
    }
    let listed = |list: &[String], name: &str| list.iter().any(|l| l.eq_ignore_ascii_case(name));
    for (name, n, line) in counts.into_iter().filter(|c| c.1 > 1) {
        let shown = escape_str(&name);
        if listed(&cat.single_instance, &name) {
            let ses_says = if ses {
                format!("; SES answers 554 Transaction failed: Duplicate header '{shown}'")
            } else {
                String::new()
            };
            out.add(
                "duplicate-header",
                format!(
                    "{shown} appears {n} times (first on line {line}); it may appear only once{ses_says}"
                ),
            );
        } else if ses && listed(&cat.ses_single_instance, &name) {
            out.add(
                "ses-duplicate-header",
                format!(
                    "{shown} appears {n} times (first on line {line}); SES answers 554 Transaction failed: Duplicate header '{shown}'"
                ),
            );
        }
    }
}

fn from_domain(fields: &[headers::Field], mail_from: Option<&str>, out: &mut Out) {
    let from = fields.iter().find(|f| f.name.eq_ignore_ascii_case("From"));
    let header_domain = from
        .and_then(|f| headers::first_address(&f.value))
        .and_then(headers::domain);
    let envelope_domain = mail_from.and_then(headers::domain);
    if let (Some(h), Some(e)) = (header_domain, envelope_domain)
        && h != e
    {
        out.add(
            "from-domain-mismatch",
            format!(
                "the From header's domain ({}) differs from MAIL FROM's ({}); SES checks that the From address (or its domain) is a verified identity in this region, so both must be verified",
                escape_str(&h),
                escape_str(&e)
            ),
        );
    }
}

fn size(input: &LintInput<'_>, cat: &Catalog, out: &mut Out) {
    let Some(wire) = input.wire_size else {
        return;
    };
    if input.ses_region.is_some() && wire > cat.ses_max_message_bytes {
        out.add(
            "ses-size",
            format!(
                "the message is {wire} bytes on the wire, over SES's {} (40 MB); SES answers 552 Message is too long",
                cat.ses_max_message_bytes
            ),
        );
    } else if let Some(max) = input.server_size.filter(|m| *m > 0 && wire > *m) {
        out.add(
            "server-size",
            format!(
                "the message is {wire} bytes on the wire, over the {max} the server announced with SIZE; expect 552"
            ),
        );
    }
}

fn ses_headers(fields: &[headers::Field], region: &str, out: &mut Out) {
    for f in fields {
        let name = f.name.to_ascii_uppercase();
        if name == "X-SES-CONFIGURATION-SET" {
            out.add(
                "ses-configuration-set",
                format!(
                    "X-SES-CONFIGURATION-SET names the configuration set {:?}; configuration sets exist per region, so it must exist in {region}, or SES answers 554 Configuration Set does not exist",
                    escape_str(&f.value)
                ),
            );
        } else if matches!(
            name.as_str(),
            "X-SES-SOURCE-ARN" | "X-SES-FROM-ARN" | "X-SES-RETURN-PATH-ARN"
        ) && let Some(problem) = arn_problem(&f.value, region)
        {
            out.add(
                "ses-arn-header",
                format!(
                    "{} {:?}: {problem}",
                    escape_str(&f.name),
                    escape_str(&f.value)
                ),
            );
        }
    }
}

/// What is wrong with an identity ARN in an X-SES-*-ARN header, for an endpoint in `region`.
fn arn_problem(value: &str, region: &str) -> Option<String> {
    let Some(arn) = Arn::parse(value.trim()) else {
        return Some(
            "not an ARN; it should read arn:aws:ses:REGION:ACCOUNT:identity/IDENTITY".into(),
        );
    };
    if arn.service != "ses" {
        return Some(format!(
            "an ARN of the {} service, not of SES",
            escape_str(arn.service)
        ));
    }
    if arn.region != region {
        return Some(format!(
            "the ARN is in region {}, but this endpoint is in {region}; SES looks for the identity in the endpoint's region",
            escape_str(arn.region)
        ));
    }
    if arn.account.len() != 12 || !arn.account.bytes().all(|b| b.is_ascii_digit()) {
        return Some("the account part is not a 12-digit AWS account ID".into());
    }
    if !arn.resource.starts_with("identity/") || arn.resource.len() == "identity/".len() {
        return Some("the resource should be identity/ADDRESS-OR-DOMAIN".into());
    }
    None
}

#[cfg(test)]
mod tests;
