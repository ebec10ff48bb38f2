//! Wildcard matching for Action names (case-insensitive) and resource ARNs (case-sensitive,
//! segment by segment), with IAM's `*` and `?`.

/// Wildcard match: `*` is any run of characters, `?` exactly one.
pub(super) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Actions are case-insensitive.
pub(super) fn action_matches(pattern: &str, action: &str) -> bool {
    glob_match(&pattern.to_lowercase(), &action.to_lowercase())
}

/// ARNs are case-sensitive and matched segment by segment, so a wildcard does not spill
/// across a colon (the sixth segment, the resource, keeps its own colons).
pub(super) fn arn_matches(pattern: &str, resource: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let r: Vec<&str> = resource.splitn(6, ':').collect();
    if p.len() == 6 && r.len() == 6 {
        p.iter().zip(&r).all(|(p, r)| glob_match(p, r))
    } else {
        glob_match(pattern, resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("ses:Send*", "ses:SendRawEmail"));
        assert!(glob_match("ses:Send?awEmail", "ses:SendRawEmail"));
        assert!(!glob_match("ses:Send?Email", "ses:SendRawEmail"));
        assert!(glob_match("*@example.com", "a@example.com"));
        assert!(!glob_match("*@example.com", "a@example.com.evil"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("**", "x"));
        assert!(!glob_match("?", ""));
    }

    #[test]
    fn arn_segments() {
        let r = "arn:aws:ses:us-east-1:123456789012:identity/example.com";
        assert!(arn_matches("*", r));
        assert!(arn_matches("arn:aws:ses:*:123456789012:identity/*", r));
        assert!(arn_matches(
            "arn:aws:ses:us-east-?:*:identity/example.com",
            r
        ));
        assert!(!arn_matches(
            "arn:aws:ses:*:123456789012:identity/Example.com",
            r
        ));
        // A wildcard in one segment does not cross into the next.
        assert!(!arn_matches("arn:aws:ses:*:identity/example.com:*:*", r));
        assert!(arn_matches("arn:aws:ses:*", r));
        assert!(!arn_matches(
            "arn:aws:ses:*:123456789012:configuration-set/*",
            r
        ));
    }
}
