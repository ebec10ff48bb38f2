//! The debugger's `A`: after a 535/530, `554 Access denied` or `554 Message rejected`, read
//! the AWS account behind this session's user and show what decided, in the diagnosis panel.
//!
//! The model part is here and pure: whether AWS API credentials are available, what to ask
//! (this session's user, sender, recipients and region), and the state of the check. The
//! reading itself is an [`super::update::Effect::AwsCheck`] the event loop runs as a task, so
//! the screen never waits for AWS.

use crate::engine::aws::{SendQuestion, explains};

use super::app::{App, Level};
use super::update::Effect;

/// Where the AWS API credentials come from, when the debugger has some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccess {
    /// `--aws-profile`; `None` uses the standard AWS environment.
    pub profile: Option<String>,
}

impl AwsAccess {
    /// Available with `--aws-profile`, or when the environment names AWS credentials or a
    /// profile. (A default profile in ~/.aws alone is not taken as consent to read.)
    pub fn detect(profile: Option<String>) -> Option<AwsAccess> {
        let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        (profile.is_some() || env("AWS_ACCESS_KEY_ID") || env("AWS_PROFILE"))
            .then_some(AwsAccess { profile })
    }
}

/// Where the check stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsCheckState {
    Running,
    /// The diagnosis, as lines for the panel.
    Done(Vec<String>),
    Failed(String),
}

/// The question for this session: its user (the last AUTH's, else the prefilled one), the
/// sender and recipients it sent (else the prefilled ones) and its SES region.
pub(crate) fn question(app: &App) -> Result<SendQuestion, &'static str> {
    let user = app
        .session
        .conn
        .as_ref()
        .and_then(|c| c.auth_attempt.as_ref())
        .and_then(|a| a.user.as_deref())
        .or(app.prefill.user.as_deref())
        .ok_or("no user name in this session to look up")?;
    if !crate::engine::ses::is_access_key_id(user) {
        return Err("the user name is not an access key ID (AKIA...), so not an SES SMTP user");
    }
    let region = app
        .config
        .ses_lint
        .as_ref()
        .and_then(|l| l.region.clone())
        .or_else(|| crate::engine::ses::region_from_host(&app.config.host))
        .ok_or("no SES region for this target (give --region)")?;
    // What was sent decides, not what the debugger was started with: the user may have typed
    // another MAIL FROM or RCPT TO in the form.
    let (sent_from, sent_to) = app.session.envelope();
    let from = sent_from
        .or(app.prefill.from.as_deref())
        .ok_or("no sender (MAIL FROM or --from) to check")?;
    let recipients = if sent_to.is_empty() {
        app.prefill.to.clone()
    } else {
        sent_to.to_vec()
    };
    Ok(SendQuestion {
        access_key_id: user.to_string(),
        region,
        from: from.to_string(),
        from_display_name: None,
        recipients,
        source_ip: None,
        time: chrono::Utc::now(),
    })
}

/// `A`: starts the check, or says why not.
pub(crate) fn on_key(app: &mut App) -> Vec<Effect> {
    let Some(access) = app.aws.clone() else {
        app.set_status(
            Level::Info,
            "A reads the AWS account behind the user: start with --aws-profile NAME, or with \
             AWS_PROFILE or AWS_ACCESS_KEY_ID set",
        );
        return Vec::new();
    };
    if app.aws_check == Some(AwsCheckState::Running) {
        app.set_status(Level::Info, "The AWS check is still running");
        return Vec::new();
    }
    if !explains(app.session.outcome()) {
        app.set_status(
            Level::Info,
            "A explains a 535/530, 554 Access denied or 554 Message rejected: none yet",
        );
        return Vec::new();
    }
    match question(app) {
        Err(why) => {
            app.set_status(Level::Warning, format!("AWS check not run: {why}"));
            Vec::new()
        }
        Ok(q) => {
            app.aws_check = Some(AwsCheckState::Running);
            app.set_status(Level::Info, "Reading the AWS account (IAM, SES)…");
            vec![Effect::AwsCheck {
                question: Box::new(q),
                profile: access.profile,
            }]
        }
    }
}

/// The check's result came back.
pub(crate) fn on_result(app: &mut App, result: Result<Vec<String>, String>) {
    app.dirty = true;
    app.diagnosis_scroll = 0;
    match result {
        Ok(lines) => {
            app.set_status(Level::Info, "AWS check done: see the diagnosis panel");
            app.aws_check = Some(AwsCheckState::Done(lines));
        }
        Err(e) => {
            app.set_status(Level::Warning, "AWS check failed: see the diagnosis panel");
            app.aws_check = Some(AwsCheckState::Failed(e));
        }
    }
}

/// The panel's lines about the check, for a reply that failed the session.
pub(crate) fn notes(app: &App) -> Vec<String> {
    if app.aws.is_none() || !explains(app.session.outcome()) {
        return Vec::new();
    }
    match &app.aws_check {
        None => vec!["A reads the AWS account behind this user and shows what decided".into()],
        Some(AwsCheckState::Running) => vec!["reading IAM and SES…".into()],
        Some(AwsCheckState::Done(lines)) => lines.clone(),
        Some(AwsCheckState::Failed(e)) => vec![format!("check failed: {e}")],
    }
}

/// Runs the check (the event loop's side of the effect).
#[cfg(feature = "aws")]
pub(crate) async fn run(
    question: SendQuestion,
    profile: Option<String>,
) -> Result<Vec<String>, String> {
    let source = crate::engine::aws::read::AwsSource { profile };
    let facts = Box::pin(crate::engine::aws::read::read(&source, &question))
        .await
        .map_err(|e| e.to_string())?;
    Ok(crate::engine::aws::diagnose(&question, &facts).lines())
}

#[cfg(not(feature = "aws"))]
#[allow(clippy::unused_async)]
pub(crate) async fn run(
    _question: SendQuestion,
    _profile: Option<String>,
) -> Result<Vec<String>, String> {
    Err("this smtpscope was built without AWS support (cargo feature \"aws\")".into())
}
