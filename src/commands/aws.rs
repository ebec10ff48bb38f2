//! `smtpscope aws diagnose`: reads the account behind an SMTP user name (an access key ID)
//! from IAM and SES, and predicts what SES will answer to one send, naming the policy,
//! statement and condition, or the key status or identity, that decides.
//!
//! The AWS API credentials (`--aws-profile` or the standard AWS environment) only read; they
//! are never the SMTP credentials, and no secret is printed.

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::error::{CommandError, CommandResult};
use crate::engine::aws::{Diagnosis, SendQuestion};
use crate::engine::command::{check_address, check_arg};
use crate::engine::escape::escape_str;
use crate::engine::model::Outcome;
use crate::engine::ses;

/// Where the AWS API credentials come from: flattened into `aws diagnose` and `run`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AwsApiArgs {
    /// Named AWS profile (in ~/.aws/config) whose credentials only READ IAM and SES for the
    /// AWS checks [default: the standard AWS environment variables, SSO, instance roles]
    #[arg(long, value_name = "NAME", help_heading = "AWS checks")]
    pub aws_profile: Option<String>,
}

impl AwsApiArgs {
    pub fn validate(&self) -> Result<(), CommandError> {
        if let Some(p) = &self.aws_profile {
            check_arg("--aws-profile", p).map_err(CommandError::usage)?;
            if p.is_empty() || p.len() > 128 {
                return Err(CommandError::usage(
                    "--aws-profile must be a profile name of 1 to 128 characters",
                ));
            }
        }
        Ok(())
    }
}

/// The address SES sees, or "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceIp(pub Option<IpAddr>);

fn parse_source_ip(text: &str) -> Result<SourceIp, String> {
    if text.eq_ignore_ascii_case("unknown") {
        return Ok(SourceIp(None));
    }
    text.parse()
        .map(|ip| SourceIp(Some(ip)))
        .map_err(|_| "an IP address (e.g. 203.0.113.5) or \"unknown\"".to_string())
}

#[derive(clap::Args, Debug)]
pub struct DiagnoseArgs {
    /// SMTP user name: the access key ID (AKIA...) whose sends to check
    #[arg(long, short = 'u', value_name = "ACCESS_KEY_ID")]
    pub user: String,
    /// SES region the SMTP endpoint is in (email-smtp.REGION.amazonaws.com)
    #[arg(long, value_name = "REGION")]
    pub region: String,
    /// From address (ses:FromAddress)
    #[arg(long, value_name = "ADDRESS")]
    pub from: String,
    /// Recipient (ses:Recipients); repeat for each To, CC and BCC address
    #[arg(long = "to", value_name = "ADDRESS", required = true)]
    pub to: Vec<String>,
    /// The address SES will see the connection come from (aws:SourceIp), or "unknown": then
    /// IP conditions are reported as what they require
    #[arg(long, value_name = "IP", default_value = "unknown", value_parser = parse_source_ip)]
    pub source_ip: SourceIp,
    /// aws:CurrentTime as RFC 3339 [default: now]
    #[arg(long, value_name = "RFC3339", value_parser = super::policy::parse_time)]
    pub time: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub aws: AwsApiArgs,
    /// Print the result as one JSON object
    #[arg(long)]
    pub json: bool,
}

/// The most recipients one diagnosis asks about (SES takes 50 per message).
const MAX_RECIPIENTS: usize = 50;

impl DiagnoseArgs {
    fn question(&self) -> Result<SendQuestion, CommandError> {
        check_arg("--user", &self.user).map_err(CommandError::usage)?;
        if !ses::is_access_key_id(&self.user) {
            return Err(CommandError::usage(format!(
                "--user {:?} is not an access key ID: the SES SMTP user name is the IAM user's \
                 access key ID (20 characters, AKIA...)",
                self.user
            )));
        }
        check_arg("--region", &self.region).map_err(CommandError::usage)?;
        if !ses::is_valid_region_name(&self.region) {
            return Err(CommandError::usage(format!(
                "--region {:?} is not a region name (e.g. us-east-1)",
                self.region
            )));
        }
        check_address("--from", &self.from).map_err(CommandError::usage)?;
        if self.from.is_empty() {
            return Err(CommandError::usage("--from is empty"));
        }
        if self.to.len() > MAX_RECIPIENTS {
            return Err(CommandError::usage(format!(
                "at most {MAX_RECIPIENTS} --to addresses (SES's limit per message)"
            )));
        }
        for to in &self.to {
            check_address("--to", to).map_err(CommandError::usage)?;
        }
        self.aws.validate()?;
        Ok(question(
            &self.user,
            &self.region,
            &self.from,
            &self.to,
            self.source_ip.0,
            self.time,
        ))
    }
}

/// The question for one send. Shared with `run --aws-check` and the debugger.
pub(crate) fn question(
    user: &str,
    region: &str,
    from: &str,
    to: &[String],
    source_ip: Option<IpAddr>,
    time: Option<DateTime<Utc>>,
) -> SendQuestion {
    SendQuestion {
        access_key_id: user.to_string(),
        region: region.to_string(),
        from: from.to_string(),
        from_display_name: None,
        recipients: to.to_vec(),
        source_ip,
        time: time.unwrap_or_else(Utc::now),
    }
}

/// Reads the account and diagnoses; the error says why no call could be made.
#[cfg(feature = "aws")]
pub(crate) async fn check(
    aws: &AwsApiArgs,
    question: &SendQuestion,
) -> Result<Diagnosis, CommandError> {
    let source = crate::engine::aws::read::AwsSource {
        profile: aws.aws_profile.clone(),
    };
    let facts = Box::pin(crate::engine::aws::read::read(&source, question))
        .await
        .map_err(|e| CommandError::environment(e).context("cannot read the AWS account"))?;
    Ok(crate::engine::aws::diagnose(question, &facts))
}

/// Built without the `aws` feature: says how to get it.
#[cfg(not(feature = "aws"))]
#[allow(clippy::unused_async)]
pub(crate) async fn check(
    _aws: &AwsApiArgs,
    _question: &SendQuestion,
) -> Result<Diagnosis, CommandError> {
    Err(CommandError::usage(
        "this smtpscope was built without AWS support (cargo feature \"aws\"); rebuild with \
         default features to use the AWS checks",
    ))
}

/// `smtpscope aws diagnose`: prints the diagnosis, exits with `run`'s code for the predicted
/// outcome (1 when nothing could be predicted).
pub async fn diagnose(args: &DiagnoseArgs) -> CommandResult {
    let question = args.question()?;
    let diagnosis = check(&args.aws, &question).await?;
    let mut out = io::stdout().lock();
    let written = if args.json {
        write_json(&mut out, &question, &diagnosis)
    } else {
        write_text(&mut out, &question, &diagnosis)
    };
    written.map_err(|e| CommandError::environment(e).context("cannot write the output"))?;
    Ok(ExitCode::from(diagnosis.exit_code()))
}

/// The report as text, every line escaped (policy names, Sids and SDK messages are the
/// account's, not ours).
pub(crate) fn write_text(
    out: &mut dyn Write,
    question: &SendQuestion,
    diagnosis: &Diagnosis,
) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        escape_str(&format!(
            "send: {} from {} to {} in {}, source IP {}",
            question.access_key_id,
            question.from,
            question.recipients.join(", "),
            question.region,
            question
                .source_ip
                .as_ref()
                .map_or_else(|| "unknown".to_string(), ToString::to_string)
        ))
    )?;
    for line in diagnosis.lines() {
        writeln!(out, "{}", escape_str(&line))?;
    }
    out.flush()
}

/// The diagnosis as JSON (escaped by [`crate::engine::json`]).
pub(crate) fn to_json(question: &SendQuestion, d: &Diagnosis) -> serde_json::Value {
    serde_json::json!({
        "outcome": d.outcome.map(Outcome::name),
        "exit_code": d.exit_code(),
        "reply": d.reply,
        "reason": d.reason,
        "user": d.user,
        "deciding": d.deciding.as_ref().map(|x| serde_json::json!({
            "policy": x.policy,
            "statement": x.statement,
            "sid": x.sid,
            "effect": x.effect,
            "condition": x.condition,
        })),
        "findings": d.findings,
        "not_checked": d.not_checked,
        "trace": d.trace,
        "question": {
            "access_key_id": question.access_key_id,
            "region": question.region,
            "from": question.from,
            "recipients": question.recipients,
            "source_ip": question.source_ip.as_ref().map(ToString::to_string),
            "time": question.time.to_rfc3339(),
        },
    })
}

fn write_json(out: &mut dyn Write, question: &SendQuestion, d: &Diagnosis) -> io::Result<()> {
    let json = crate::engine::json::to_string(&to_json(question, d)).map_err(io::Error::other)?;
    writeln!(out, "{json}")?;
    out.flush()
}

/// `run --aws-check`: the same diagnosis after a failed send, in the output and the JSON
/// summary. Flattened into `run`'s flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunAwsArgs {
    /// After a 535/530, 554 Access denied or 554 Message rejected, read the AWS account
    /// behind --user (IAM, SES) and say which statement or setting decided
    #[arg(long, help_heading = "AWS checks")]
    pub aws_check: bool,
    /// The address SES sees this client as (aws:SourceIp) for --aws-check [default: unknown]
    #[arg(long, value_name = "IP", value_parser = parse_source_ip, requires = "aws_check", help_heading = "AWS checks")]
    pub aws_source_ip: Option<SourceIp>,
    #[command(flatten)]
    pub api: AwsApiArgs,
}

/// What `run --aws-check` adds after a session: `None` when it was not asked for or the
/// outcome is not one it explains; otherwise the diagnosis or why there is none, as lines
/// for the text output and a JSON value for the summary.
pub(crate) async fn after_run(
    args: &RunAwsArgs,
    user: Option<&str>,
    region: Option<String>,
    from: Option<&str>,
    to: &[String],
    outcome: Outcome,
) -> Option<(Vec<String>, serde_json::Value)> {
    if !args.aws_check || !crate::engine::aws::explains(outcome) {
        return None;
    }
    let missing = match (user, &region, from) {
        (None, ..) => Some("no --user (the access key ID) to look up"),
        (_, None, _) => Some("no SES region (give --region)"),
        (_, _, None) => Some("no --from address"),
        _ => None,
    };
    if let Some(why) = missing {
        return Some((
            vec![format!("AWS check not run: {why}")],
            serde_json::json!({ "error": why }),
        ));
    }
    let (Some(user), Some(region), Some(from)) = (user, region, from) else {
        return None;
    };
    if !ses::is_access_key_id(user) {
        let why = "the SMTP user name is not an access key ID (AKIA...)";
        return Some((
            vec![format!("AWS check not run: {why}")],
            serde_json::json!({ "error": why }),
        ));
    }
    let q = question(
        user,
        &region,
        from,
        to,
        args.aws_source_ip.and_then(|s| s.0),
        None,
    );
    Some(match check(&args.api, &q).await {
        Ok(d) => {
            let lines = d
                .lines()
                .into_iter()
                .map(|l| format!("AWS check: {l}"))
                .collect();
            (lines, to_json(&q, &d))
        }
        Err(e) => (
            vec![format!("AWS check failed: {e}")],
            serde_json::json!({ "error": e.to_string() }),
        ),
    })
}
