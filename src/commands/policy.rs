//! `smtpscope policy check`: would SES's IAM check let this send through?
//!
//! Loads identity policies from files, builds the request SES would authorize for an SMTP
//! send (`ses:SendRawEmail` on the sending identity, from a source IP, with From and
//! recipients) and prints the decision, the statement and condition that made it, and, when
//! denied, the exact `554 Access denied` SES would send after the final ".".

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::ArgAction;

use super::error::{CommandError, CommandResult};
use crate::engine::escape::escape_str;
use crate::engine::iam::{self, Decision, DecisionKind, Policy, RequestContext};
use crate::engine::limited::{self, limit};
use crate::engine::ses;

#[derive(clap::Args, Debug)]
pub struct PolicyCheckArgs {
    /// Identity policy JSON file; repeat for every policy attached to the user and its groups
    #[arg(long = "policy", value_name = "FILE", required = true)]
    pub policies: Vec<PathBuf>,
    /// Client address as SES sees it (aws:SourceIp)
    #[arg(long, value_name = "IP")]
    pub source_ip: IpAddr,
    /// From address (ses:FromAddress); "Name <addr>" also sets the display name
    #[arg(long, value_name = "ADDRESS")]
    pub from: String,
    /// Recipient (ses:Recipients); repeat for each To, CC and BCC address
    #[arg(long = "to", value_name = "ADDRESS", required = true)]
    pub to: Vec<String>,
    /// Region of the SES endpoint
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    pub region: String,
    /// AWS account ID that owns the identity and the IAM user
    #[arg(long, value_name = "ACCOUNT", default_value = "123456789012")]
    pub account: String,
    /// Identity whose ARN SES checks [default: the From domain, or the From address if it
    /// is given with --verified]
    #[arg(long, value_name = "IDENTITY")]
    pub identity: Option<String>,
    /// A verified identity (address or domain); repeat. Picks the address over the domain
    #[arg(long = "verified", value_name = "IDENTITY")]
    pub verified: Vec<String>,
    /// IAM user name that owns the SMTP credentials (for the 554 text)
    #[arg(long, value_name = "NAME", default_value = "ses-smtp-user")]
    pub user: String,
    /// aws:SecureTransport (SES SMTP always uses TLS)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub secure_transport: bool,
    /// aws:CurrentTime as RFC 3339, e.g. 2025-06-01T12:00:00Z [default: now]
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub time: Option<DateTime<Utc>>,
    /// Action to authorize
    #[arg(long, value_name = "ACTION", default_value = iam::SEND_RAW_EMAIL)]
    pub action: String,
    /// ses:FromDisplayName (overrides a name given in --from)
    #[arg(long, value_name = "NAME")]
    pub from_display_name: Option<String>,
    /// ses:FeedbackAddress (the Return-Path)
    #[arg(long, value_name = "ADDRESS")]
    pub feedback_address: Option<String>,
    /// Print the result as one JSON object
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time (e.g. 2025-06-01T12:00:00Z): {e}"))
}

/// Run the check: exit 0 when allowed, 1 when denied, 2 on bad input.
pub fn run(args: &PolicyCheckArgs) -> CommandResult {
    let allowed = run_io(args, &mut io::stdout().lock())?;
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Evaluates and prints the decision; `Ok(true)` when the send is allowed.
fn run_io(args: &PolicyCheckArgs, out: &mut dyn Write) -> Result<bool, CommandError> {
    let policies = validate(args)
        .and_then(|()| load_policies(&args.policies))
        .map_err(CommandError::usage)?;
    let ctx = request(args);
    let decision = iam::evaluate(&policies, &ctx);
    let reply = (!decision.allowed()).then(|| {
        iam::access_denied_reply(
            &iam::user_arn(&args.account, &args.user),
            &ctx.action,
            &ctx.resource,
        )
    });
    let written = if args.json {
        write_json(out, &ctx, &decision, reply.as_deref())
    } else {
        write_text(out, &ctx, &decision, reply.as_deref())
    };
    // Exit 2, not 1: exit 1 means "denied", and a script must never read a failed write so.
    written.map_err(|e| CommandError::usage(e).context("cannot write the output"))?;
    Ok(decision.allowed())
}

/// Refuse control characters (CR, LF, NUL among them) in every text argument: they end up
/// in SMTP commands, ARNs and reply text.
fn validate(args: &PolicyCheckArgs) -> Result<(), String> {
    let mut fields: Vec<(&str, &str)> = vec![
        ("--from", &args.from),
        ("--region", &args.region),
        ("--account", &args.account),
        ("--user", &args.user),
        ("--action", &args.action),
    ];
    fields.extend(args.to.iter().map(|t| ("--to", t.as_str())));
    fields.extend(args.verified.iter().map(|v| ("--verified", v.as_str())));
    for (flag, value) in [
        ("--identity", &args.identity),
        ("--from-display-name", &args.from_display_name),
        ("--feedback-address", &args.feedback_address),
    ] {
        if let Some(v) = value {
            fields.push((flag, v));
        }
    }
    for (flag, value) in fields {
        if value.chars().any(char::is_control) {
            return Err(format!(
                "{flag} contains a control character (CR, LF, NUL, ...); remove it"
            ));
        }
    }
    if !ses::is_valid_region_name(&args.region) {
        return Err(format!(
            "--region {:?} is not an AWS region name (expected something like us-east-1)",
            args.region
        ));
    }
    if args.account.is_empty() || args.account.contains(':') {
        return Err("--account must be an AWS account ID such as 123456789012".into());
    }
    if args.from.trim().is_empty() {
        return Err("--from is empty".into());
    }
    Ok(())
}

fn load_policies(paths: &[PathBuf]) -> Result<Vec<Policy>, String> {
    paths
        .iter()
        .map(|path| {
            let shown = path.display();
            let text = limited::read_to_string(path, "the policy file", limit::POLICY)
                .map_err(|e| e.to_string())?;
            let name = path
                .file_name()
                .map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
            Policy::from_json(&text)
                .map(|p| p.with_name(name))
                .map_err(|e| format!("bad policy file {shown}: {e}"))
        })
        .collect()
}

/// Split `Name <addr>` into its display name and address.
fn split_mailbox(text: &str) -> (Option<String>, String) {
    let text = text.trim();
    match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = text[..open].trim().trim_matches('"').trim();
            let address = text[open + 1..close].trim().to_string();
            ((!name.is_empty()).then(|| name.to_string()), address)
        }
        _ => (None, text.to_string()),
    }
}

fn request(args: &PolicyCheckArgs) -> RequestContext {
    let (display_name, from_address) = split_mailbox(&args.from);
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| iam::sending_identity(&from_address, &args.verified));
    let mut ctx = RequestContext::smtp_send(
        iam::identity_arn(&args.region, &args.account, &identity),
        args.source_ip,
    );
    ctx.action.clone_from(&args.action);
    ctx.from_address = Some(from_address);
    ctx.from_display_name = args.from_display_name.clone().or(display_name);
    ctx.recipients = args.to.iter().map(|t| split_mailbox(t).1).collect();
    ctx.feedback_address.clone_from(&args.feedback_address);
    ctx.secure_transport = args.secure_transport;
    if let Some(time) = args.time {
        ctx.current_time = time;
    }
    ctx
}

fn kind_name(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Allowed => "allowed",
        DecisionKind::ExplicitDeny => "explicit_deny",
        DecisionKind::ImplicitDeny => "implicit_deny",
    }
}

/// The human-readable result. Policy text (Sid, Resource, the file name) is the user's
/// input and may hold escape sequences, so every line is escaped on its way out.
fn write_text(
    out: &mut dyn Write,
    ctx: &RequestContext,
    decision: &Decision,
    reply: Option<&str>,
) -> io::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    let _ = writeln!(text, "request: {} on {}", ctx.action, ctx.resource);
    let _ = writeln!(
        text,
        "  source IP {}, From {}, recipients [{}], TLS {}, time {}",
        ctx.source_ip,
        ctx.from_address.as_deref().unwrap_or("-"),
        ctx.recipients.join(", "),
        if ctx.secure_transport { "yes" } else { "no" },
        ctx.current_time.format("%Y-%m-%dT%H:%M:%SZ"),
    );
    let _ = writeln!(text, "{}", decision.explain());
    if let Some(reply) = reply {
        let _ = writeln!(
            text,
            "SES accepts AUTH, MAIL FROM, RCPT TO and DATA, then answers the final \".\" with:"
        );
        let _ = writeln!(text, "{reply}");
    }
    for line in text.lines() {
        writeln!(out, "{}", escape_str(line))?;
    }
    out.flush()
}

fn write_json(
    out: &mut dyn Write,
    ctx: &RequestContext,
    decision: &Decision,
    reply: Option<&str>,
) -> io::Result<()> {
    let statement = decision.statement.as_ref().map(|s| {
        serde_json::json!({
            "policy": s.policy_name,
            "policy_index": s.policy_index,
            "number": s.number,
            "sid": s.sid,
        })
    });
    let value = serde_json::json!({
        "decision": kind_name(decision.kind),
        "allowed": decision.allowed(),
        "statement": statement,
        "trace": decision.trace,
        "request": {
            "action": ctx.action,
            "resource": ctx.resource,
            "source_ip": ctx.source_ip.to_string(),
            "from_address": ctx.from_address,
            "from_display_name": ctx.from_display_name,
            "recipients": ctx.recipients,
            "feedback_address": ctx.feedback_address,
            "secure_transport": ctx.secure_transport,
            "current_time": ctx.current_time.to_rfc3339(),
        },
        "reply": reply,
    });
    let json = crate::engine::json::to_string(&value).map_err(io::Error::other)?;
    writeln!(out, "{json}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PolicyCheckArgs,
    }

    fn asset(name: &str) -> String {
        format!("{}/assets/policies/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn parse(extra: &[&str]) -> PolicyCheckArgs {
        let mut argv = vec!["check"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).expect("arguments parse").args
    }

    fn call(args: &PolicyCheckArgs) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = match run_io(args, &mut out) {
            Ok(allowed) => i32::from(!allowed),
            Err(e) => {
                crate::commands::write_error(&mut err, "smtpscope policy check", &e);
                i32::from(e.code())
            }
        };
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn seed_policy_allows_loopback() {
        let p = asset("source-ip-127.json");
        let args = parse(&[
            "--policy",
            &p,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.org",
        ]);
        let (code, out, err) = call(&args);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("ALLOWED by policy source-ip-127.json statement #1"),
            "{out}"
        );
        assert!(!out.contains("554"));
    }

    #[test]
    fn office_policy_denies_loopback_with_the_ses_reply() {
        let p = asset("source-ip-office.json");
        let args = parse(&[
            "--policy",
            &p,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.org",
            "--region",
            "ap-northeast-1",
            "--account",
            "111122223333",
            "--user",
            "ses-smtp-user.20230808-000000",
        ]);
        let (code, out, _) = call(&args);
        assert_eq!(code, 1);
        assert!(out.contains("DENIED implicitly"), "{out}");
        assert!(
            out.contains(
                "condition IpAddress aws:SourceIp [203.0.113.0/24] did not match 127.0.0.1"
            ),
            "{out}"
        );
        assert!(out.contains("(Sid AllowOffice)"));
        assert!(out.lines().any(|l| l == "554 Access denied: User `arn:aws:iam::111122223333:user/ses-smtp-user.20230808-000000' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:111122223333:identity/example.com'"), "{out}");
    }

    #[test]
    fn json_output() {
        let p = asset("explicit-deny-outside-recipients.json");
        let args = parse(&[
            "--policy",
            &p,
            "--source-ip",
            "10.0.0.1",
            "--from",
            "Ops <ops@example.com>",
            "--to",
            "a@example.com",
            "--to",
            "b@elsewhere.net",
            "--verified",
            "ops@example.com",
            "--json",
        ]);
        let (code, out, _) = call(&args);
        assert_eq!(code, 1);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["decision"], "explicit_deny");
        assert_eq!(v["allowed"], false);
        assert_eq!(v["statement"]["sid"], "DenyOutsideRecipients");
        assert_eq!(v["statement"]["number"], 2);
        assert_eq!(v["request"]["from_display_name"], "Ops");
        assert_eq!(
            v["request"]["resource"],
            "arn:aws:ses:us-east-1:123456789012:identity/ops@example.com"
        );
        assert!(
            v["reply"].as_str().unwrap().starts_with(
                "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user'"
            )
        );
    }

    #[test]
    fn time_and_transport_flags_reach_the_context() {
        let args = parse(&[
            "--policy",
            "x.json",
            "--source-ip",
            "::1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--secure-transport",
            "false",
            "--time",
            "2030-01-02T03:04:05Z",
        ]);
        let ctx = request(&args);
        assert!(!ctx.secure_transport);
        assert_eq!(ctx.current_time.to_rfc3339(), "2030-01-02T03:04:05+00:00");
        assert!(
            Cli::try_parse_from([
                "check",
                "--policy",
                "x",
                "--source-ip",
                "1.2.3.4",
                "--from",
                "a@b",
                "--to",
                "c@d",
                "--time",
                "tomorrow"
            ])
            .is_err()
        );
    }

    #[test]
    fn bad_inputs_exit_2() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("broken.json");
        std::fs::write(
            &bad,
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n",
        )
        .unwrap();
        let bad = bad.to_string_lossy().into_owned();
        let args = parse(&[
            "--policy",
            &bad,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ]);
        let (code, out, err) = call(&args);
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(
            err.contains("broken.json") && err.contains("line 4"),
            "{err}"
        );

        let missing = dir
            .path()
            .join("missing.json")
            .to_string_lossy()
            .into_owned();
        let args = parse(&[
            "--policy",
            &missing,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ]);
        let (code, _, err) = call(&args);
        assert_eq!(code, 2);
        assert!(
            err.contains("cannot read the policy file") && err.contains("missing.json"),
            "{err}"
        );

        let p = asset("allow-all.json");
        let args = parse(&[
            "--policy",
            &p,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com\r\nRCPT TO:<x@y>",
            "--to",
            "b@example.com",
        ]);
        let (code, _, err) = call(&args);
        assert_eq!(code, 2);
        assert!(err.contains("--from contains a control character"), "{err}");
        let args = parse(&[
            "--policy",
            &p,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com\0",
        ]);
        assert_eq!(call(&args).0, 2);
        let args = parse(&[
            "--policy",
            &p,
            "--source-ip",
            "127.0.0.1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--region",
            "Tokyo",
        ]);
        assert_eq!(call(&args).0, 2);
    }

    #[test]
    fn mailbox_split() {
        assert_eq!(split_mailbox("a@b.c"), (None, "a@b.c".into()));
        assert_eq!(
            split_mailbox("\"Ops Team\" <ops@b.c>"),
            (Some("Ops Team".into()), "ops@b.c".into())
        );
        assert_eq!(split_mailbox("<ops@b.c>"), (None, "ops@b.c".into()));
    }
}
