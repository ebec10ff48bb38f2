//! Condition operators, the SES condition keys, their parsed values, and evaluation of one
//! condition against a request, with the trace phrase that explains the result.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;

use super::document::wrong_type;
use super::pattern::glob_match;
use super::strict_json::Json;
use super::{ConditionOutcome, PolicyError, RequestContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    ForAllValues,
    ForAnyValue,
}

/// Base operators, without set prefix or `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseOp {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Null,
}

const BASE_OPS: &[(&str, BaseOp)] = &[
    ("StringEquals", BaseOp::StringEquals),
    ("StringNotEquals", BaseOp::StringNotEquals),
    ("StringEqualsIgnoreCase", BaseOp::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOp::StringLike),
    ("StringNotLike", BaseOp::StringNotLike),
    ("IpAddress", BaseOp::IpAddress),
    ("NotIpAddress", BaseOp::NotIpAddress),
    ("Bool", BaseOp::Bool),
    ("DateEquals", BaseOp::DateEquals),
    ("DateNotEquals", BaseOp::DateNotEquals),
    ("DateLessThan", BaseOp::DateLessThan),
    ("DateLessThanEquals", BaseOp::DateLessThanEquals),
    ("DateGreaterThan", BaseOp::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOp::DateGreaterThanEquals),
    ("NumericEquals", BaseOp::NumericEquals),
    ("NumericNotEquals", BaseOp::NumericNotEquals),
    ("NumericLessThan", BaseOp::NumericLessThan),
    ("NumericLessThanEquals", BaseOp::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOp::NumericGreaterThan),
    ("NumericGreaterThanEquals", BaseOp::NumericGreaterThanEquals),
    ("Null", BaseOp::Null),
];

impl BaseOp {
    /// Negated operators are true when the request value matches none of the policy values,
    /// and true when the key is absent.
    fn negated(self) -> bool {
        matches!(
            self,
            BaseOp::StringNotEquals
                | BaseOp::StringNotEqualsIgnoreCase
                | BaseOp::StringNotLike
                | BaseOp::NotIpAddress
                | BaseOp::DateNotEquals
                | BaseOp::NumericNotEquals
        )
    }
}

/// The condition keys SES honours for sending (ses-smtp.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    SourceIp,
    SecureTransport,
    CurrentTime,
    EpochTime,
    FromAddress,
    FromDisplayName,
    Recipients,
    FeedbackAddress,
    ApiVersion,
}

const KEYS: &[(&str, Key)] = &[
    ("aws:SourceIp", Key::SourceIp),
    ("aws:SecureTransport", Key::SecureTransport),
    ("aws:CurrentTime", Key::CurrentTime),
    ("aws:EpochTime", Key::EpochTime),
    ("ses:FromAddress", Key::FromAddress),
    ("ses:FromDisplayName", Key::FromDisplayName),
    ("ses:Recipients", Key::Recipients),
    ("ses:FeedbackAddress", Key::FeedbackAddress),
    ("ses:ApiVersion", Key::ApiVersion),
];

impl Key {
    fn name(self) -> &'static str {
        KEYS.iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| *n)
    }
    fn multivalued(self) -> bool {
        self == Key::Recipients
    }
}

/// Policy-side values, parsed once so a bad CIDR or date is an error at load time.
#[derive(Debug, Clone)]
enum Values {
    Strings(Vec<String>),
    Nets(Vec<IpNet>),
    Bools(Vec<bool>),
    Times(Vec<DateTime<Utc>>),
    Numbers(Vec<i64>),
    Null(bool),
}

#[derive(Debug, Clone)]
pub(super) struct Condition {
    /// The operator as written, e.g. `ForAllValues:StringLike`, for traces.
    operator: String,
    set: Option<SetOp>,
    base: BaseOp,
    if_exists: bool,
    key: Key,
    /// The values as written, for traces.
    raw: Vec<String>,
    values: Values,
}

/// Split `ForAllValues:StringLikeIfExists` into its parts. Operator names are matched
/// case-insensitively.
fn parse_operator(at: &str, text: &str) -> Result<(Option<SetOp>, BaseOp, bool), PolicyError> {
    let unknown = || PolicyError::UnknownOperator {
        at: at.to_string(),
        operator: text.to_string(),
    };
    let (set, rest) = match text.split_once(':') {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case("ForAllValues") => {
            (Some(SetOp::ForAllValues), rest)
        }
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case("ForAnyValue") => {
            (Some(SetOp::ForAnyValue), rest)
        }
        Some(_) => return Err(unknown()),
        None => (None, text),
    };
    let lower = rest.to_ascii_lowercase();
    let (base_text, if_exists) = match lower.strip_suffix("ifexists") {
        Some(base) => (base, true),
        None => (lower.as_str(), false),
    };
    let base = BASE_OPS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(base_text))
        .map(|(_, op)| *op)
        .ok_or_else(unknown)?;
    if base == BaseOp::Null && (set.is_some() || if_exists) {
        return Err(unknown());
    }
    Ok((set, base, if_exists))
}

pub(super) fn parse_conditions(at: &str, node: Json) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(blocks) = node else {
        return Err(wrong_type(at, "Condition", &node, "an object"));
    };
    let mut conditions = Vec::new();
    for (operator, keys) in blocks {
        let (set, base, if_exists) = parse_operator(at, &operator)?;
        let Json::Object(keys) = keys else {
            return Err(wrong_type(
                at,
                &format!("Condition {operator}"),
                &keys,
                "an object",
            ));
        };
        if keys.is_empty() {
            return Err(PolicyError::EmptyElement {
                at: at.to_string(),
                element: format!("Condition {operator}"),
            });
        }
        for (key_text, value) in keys {
            let key = KEYS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&key_text))
                .map(|(_, k)| *k)
                .ok_or_else(|| PolicyError::UnknownConditionKey {
                    at: at.to_string(),
                    key: key_text.clone(),
                })?;
            check_operator_key(at, &operator, set, base, key)?;
            let raw = condition_values(at, &operator, key, value)?;
            let values = parse_values(at, &operator, base, key, &raw)?;
            conditions.push(Condition {
                operator: operator.clone(),
                set,
                base,
                if_exists,
                key,
                raw,
                values,
            });
        }
    }
    Ok(conditions)
}

fn check_operator_key(
    at: &str,
    operator: &str,
    set: Option<SetOp>,
    base: BaseOp,
    key: Key,
) -> Result<(), PolicyError> {
    use BaseOp::{
        Bool, DateEquals, DateGreaterThan, DateGreaterThanEquals, DateLessThan, DateLessThanEquals,
        DateNotEquals, IpAddress, NotIpAddress, Null, NumericEquals, NumericGreaterThan,
        NumericGreaterThanEquals, NumericLessThan, NumericLessThanEquals, NumericNotEquals,
        StringEquals, StringEqualsIgnoreCase, StringLike, StringNotEquals,
        StringNotEqualsIgnoreCase, StringNotLike,
    };
    let fits = match base {
        // String operators compare any key's string form.
        StringEquals
        | StringNotEquals
        | StringEqualsIgnoreCase
        | StringNotEqualsIgnoreCase
        | StringLike
        | StringNotLike
        | Null => true,
        IpAddress | NotIpAddress => key == Key::SourceIp,
        Bool => key == Key::SecureTransport,
        DateEquals
        | DateNotEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => matches!(key, Key::CurrentTime | Key::EpochTime),
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => key == Key::EpochTime,
    };
    if !fits {
        return Err(PolicyError::OperatorKeyMismatch {
            at: at.to_string(),
            operator: operator.to_string(),
            key: key.name().to_string(),
        });
    }
    // IAM leaves a multivalued key without a set operator ill-defined; refuse to guess.
    if key.multivalued() && set.is_none() && base != Null {
        return Err(PolicyError::SetOperatorRequired {
            at: at.to_string(),
            operator: operator.to_string(),
            key: key.name().to_string(),
        });
    }
    Ok(())
}

/// A condition's values as strings: a scalar or an array of scalars (strings, numbers, bools).
fn condition_values(
    at: &str,
    operator: &str,
    key: Key,
    value: Json,
) -> Result<Vec<String>, PolicyError> {
    let element = format!("Condition {operator} {}", key.name());
    let scalar = |v: Json| match v {
        Json::String(s) => Ok(s),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Number(n) => Ok(n.to_string()),
        other => Err(wrong_type(
            at,
            &element,
            &other,
            "a string, number, boolean or an array of them",
        )),
    };
    let values = match value {
        Json::Array(items) => items
            .into_iter()
            .map(scalar)
            .collect::<Result<Vec<_>, _>>()?,
        other => vec![scalar(other)?],
    };
    if values.is_empty() {
        return Err(PolicyError::EmptyElement {
            at: at.to_string(),
            element,
        });
    }
    Ok(values)
}

fn parse_values(
    at: &str,
    operator: &str,
    base: BaseOp,
    key: Key,
    raw: &[String],
) -> Result<Values, PolicyError> {
    use BaseOp::{
        Bool, DateEquals, DateGreaterThan, DateGreaterThanEquals, DateLessThan, DateLessThanEquals,
        DateNotEquals, IpAddress, NotIpAddress, Null, NumericEquals, NumericGreaterThan,
        NumericGreaterThanEquals, NumericLessThan, NumericLessThanEquals, NumericNotEquals,
        StringEquals, StringEqualsIgnoreCase, StringLike, StringNotEquals,
        StringNotEqualsIgnoreCase, StringNotLike,
    };
    let bad = |value: &str, reason: &'static str| PolicyError::BadConditionValue {
        at: at.to_string(),
        operator: operator.to_string(),
        key: key.name().to_string(),
        value: value.to_string(),
        reason,
    };
    Ok(match base {
        StringEquals
        | StringNotEquals
        | StringEqualsIgnoreCase
        | StringNotEqualsIgnoreCase
        | StringLike
        | StringNotLike => Values::Strings(raw.to_vec()),
        IpAddress | NotIpAddress => Values::Nets(
            raw.iter()
                .map(|v| parse_net(v).ok_or_else(|| bad(v, "not an IP address or CIDR block")))
                .collect::<Result<_, _>>()?,
        ),
        Bool => Values::Bools(
            raw.iter()
                .map(|v| parse_bool(v).ok_or_else(|| bad(v, "expected \"true\" or \"false\"")))
                .collect::<Result<_, _>>()?,
        ),
        DateEquals
        | DateNotEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => {
            Values::Times(
                raw.iter()
                    .map(|v| {
                        parse_time(v).ok_or_else(|| {
                        bad(v, "not a date (use 2025-01-31T12:00:00Z, 2025-01-31 or epoch seconds)")
                    })
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => Values::Numbers(
            raw.iter()
                .map(|v| v.parse::<i64>().map_err(|_| bad(v, "not an integer")))
                .collect::<Result<_, _>>()?,
        ),
        Null => {
            let [single] = raw else {
                return Err(bad(&raw.join(", "), "Null takes exactly one value"));
            };
            Values::Null(
                parse_bool(single).ok_or_else(|| bad(single, "expected \"true\" or \"false\""))?,
            )
        }
    })
}

fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if text.contains('/') {
        text.parse::<IpNet>().ok()
    } else {
        text.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// ISO 8601 / RFC 3339 date-times, bare dates (midnight UTC) and epoch seconds.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
    }
    None
}

impl RequestContext {
    /// The request values of `key`, or `None` when the key is absent.
    fn values(&self, key: Key) -> Option<Vec<RequestValue>> {
        let one = |v: RequestValue| Some(vec![v]);
        match key {
            // Map IPv4-mapped IPv6 addresses to IPv4 so 127.0.0.1/32 covers ::ffff:127.0.0.1.
            Key::SourceIp => one(RequestValue::Ip(self.source_ip.to_canonical())),
            Key::SecureTransport => one(RequestValue::Bool(self.secure_transport)),
            Key::CurrentTime | Key::EpochTime => one(RequestValue::Time(self.current_time)),
            Key::FromAddress => self
                .from_address
                .clone()
                .map(|s| vec![RequestValue::Str(s)]),
            Key::FromDisplayName => self
                .from_display_name
                .clone()
                .map(|s| vec![RequestValue::Str(s)]),
            Key::FeedbackAddress => self
                .feedback_address
                .clone()
                .map(|s| vec![RequestValue::Str(s)]),
            Key::ApiVersion => self.api_version.clone().map(|s| vec![RequestValue::Str(s)]),
            Key::Recipients => (!self.recipients.is_empty()).then(|| {
                self.recipients
                    .iter()
                    .cloned()
                    .map(RequestValue::Str)
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Clone)]
enum RequestValue {
    Str(String),
    Ip(IpAddr),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl RequestValue {
    fn as_string(&self, key: Key) -> String {
        match self {
            RequestValue::Str(s) => s.clone(),
            RequestValue::Ip(ip) => ip.to_string(),
            RequestValue::Bool(b) => b.to_string(),
            RequestValue::Time(t) if key == Key::EpochTime => t.timestamp().to_string(),
            RequestValue::Time(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

impl Condition {
    /// Does this single request value match any policy value (non-negated sense)?
    fn matches_any(&self, value: &RequestValue) -> bool {
        use BaseOp::{
            DateEquals, DateGreaterThan, DateLessThan, DateLessThanEquals, DateNotEquals,
            NumericEquals, NumericGreaterThan, NumericLessThan, NumericLessThanEquals,
            NumericNotEquals, StringEquals, StringEqualsIgnoreCase, StringNotEquals,
            StringNotEqualsIgnoreCase,
        };
        match (&self.values, value) {
            (Values::Strings(ps), v) => {
                let s = v.as_string(self.key);
                ps.iter().any(|p| match self.base {
                    StringEquals | StringNotEquals => *p == s,
                    StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                        p.to_lowercase() == s.to_lowercase()
                    }
                    _ => glob_match(p, &s),
                })
            }
            (Values::Nets(nets), RequestValue::Ip(ip)) => nets.iter().any(|n| n.contains(ip)),
            (Values::Bools(bs), RequestValue::Bool(b)) => bs.contains(b),
            (Values::Times(ts), RequestValue::Time(now)) => ts.iter().any(|t| match self.base {
                DateEquals | DateNotEquals => now == t,
                DateLessThan => now < t,
                DateLessThanEquals => now <= t,
                DateGreaterThan => now > t,
                _ => now >= t,
            }),
            (Values::Numbers(ns), RequestValue::Time(now)) => {
                let secs = now.timestamp();
                ns.iter().any(|n| match self.base {
                    NumericEquals | NumericNotEquals => secs == *n,
                    NumericLessThan => secs < *n,
                    NumericLessThanEquals => secs <= *n,
                    NumericGreaterThan => secs > *n,
                    _ => secs >= *n,
                })
            }
            // Operator/key pairs are checked at parse time; anything else cannot match.
            _ => false,
        }
    }

    fn describe(&self) -> String {
        format!(
            "condition {} {} [{}]",
            self.operator,
            self.key.name(),
            self.raw.join(", ")
        )
    }

    /// Evaluate against the request: whether it held, with the operator, key and values as
    /// written, the request's values it compared and the trace phrase.
    pub(super) fn evaluate(&self, ctx: &RequestContext) -> ConditionOutcome {
        let (held, phrase) = self.evaluate_phrase(ctx);
        let request = ctx
            .values(self.key)
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_string(self.key))
            .collect();
        ConditionOutcome {
            operator: self.operator.clone(),
            key: self.key.name().to_string(),
            values: self.raw.clone(),
            request,
            held,
            phrase,
        }
    }

    /// Evaluate against the request: (holds, trace phrase).
    fn evaluate_phrase(&self, ctx: &RequestContext) -> (bool, String) {
        let head = self.describe();
        let values = ctx.values(self.key);
        if let Values::Null(want_absent) = self.values {
            let absent = values.is_none();
            let holds = absent == want_absent;
            let state = if absent { "absent" } else { "present" };
            let verdict = if holds { "matched" } else { "did not match" };
            return (holds, format!("{head} {verdict}: the key is {state}"));
        }
        let Some(values) = values else {
            let holds = self.if_exists
                || match self.set {
                    Some(SetOp::ForAllValues) => true,
                    Some(SetOp::ForAnyValue) => false,
                    None => self.base.negated(),
                };
            let verdict = if holds { "matched" } else { "did not match" };
            return (
                holds,
                format!(
                    "{head} {verdict}: {} is absent from the request",
                    self.key.name()
                ),
            );
        };
        let per_value = |v: &RequestValue| self.matches_any(v) != self.base.negated();
        let shown: Vec<String> = values.iter().map(|v| v.as_string(self.key)).collect();
        let shown = if self.key.multivalued() {
            format!("[{}]", shown.join(", "))
        } else {
            shown.join(", ")
        };
        match self.set {
            Some(SetOp::ForAllValues) => match values.iter().find(|v| !per_value(v)) {
                None => (true, format!("{head} matched {shown}")),
                Some(v) => (
                    false,
                    format!(
                        "{head} did not match {shown}: {} fails",
                        v.as_string(self.key)
                    ),
                ),
            },
            Some(SetOp::ForAnyValue) => match values.iter().find(|v| per_value(v)) {
                Some(v) => (
                    true,
                    format!(
                        "{head} matched {shown}: {} qualifies",
                        v.as_string(self.key)
                    ),
                ),
                None => (false, format!("{head} did not match {shown}")),
            },
            None => {
                let holds = values.iter().any(per_value);
                let verdict = if holds { "matched" } else { "did not match" };
                (holds, format!("{head} {verdict} {shown}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_parsing() {
        let op = |s| parse_operator("t", s);
        assert_eq!(op("StringLike").unwrap(), (None, BaseOp::StringLike, false));
        assert_eq!(
            op("ForAllValues:StringLikeIfExists").unwrap(),
            (Some(SetOp::ForAllValues), BaseOp::StringLike, true)
        );
        assert_eq!(
            op("notipaddress").unwrap(),
            (None, BaseOp::NotIpAddress, false)
        );
        assert!(op("StringLooksLike").is_err());
        assert!(op("ForSomeValues:StringLike").is_err());
        assert!(op("NullIfExists").is_err());
        assert!(op("IfExists").is_err());
    }

    #[test]
    fn times() {
        let t = |s: &str| parse_time(s).map(|t| t.timestamp());
        assert_eq!(t("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(t("1970-01-02"), Some(86_400));
        assert_eq!(t("86400"), Some(86_400));
        assert_eq!(t("1970-01-02T01:00:00+01:00"), Some(86_400));
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("2025-13-01"), None);
    }

    #[test]
    fn nets() {
        assert_eq!(
            parse_net("127.0.0.1"),
            Some("127.0.0.1/32".parse().unwrap())
        );
        assert_eq!(
            parse_net("2001:db8::1"),
            Some("2001:db8::1/128".parse().unwrap())
        );
        assert!(parse_net("127.0.0.1/33").is_none());
        assert!(parse_net("10.0.0.0/8x").is_none());
    }
}
