//! A probe's result as Prometheus metrics (the text exposition format, version 0.0.4, which
//! `promtool check metrics` checks and every Prometheus scrapes).
//!
//! Everything here is derived from the transcript entries of one session: the outcome and the
//! failed phase come from the session model folded over them, the per-step durations from the
//! entries' timestamps, the reply codes from the replies, the TLS facts from `tls-started`. No
//! timer of its own, so `run`, the debugger and a probe cannot tell different stories.
//!
//! Names follow `blackbox_exporter` where they mean the same (`probe_success`,
//! `probe_duration_seconds`, `probe_ssl_earliest_cert_expiry`, `probe_tls_version_info`), so
//! dashboards and alerts written for it keep working. Labels hold only our own words (outcome,
//! phase, step, TLS version, provider), never a secret; the user name only when asked for.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::classify::Phase;
use super::command::Verb;
use super::escape::escape_str;
use super::model::{Outcome, SessionModel};
use super::runner::StopAfter;
use super::transcript::{Entry, EntryKind};

/// How far a probe goes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum ProbeMode {
    /// The greeting only.
    Connect,
    /// Through STARTTLS (or the implicit-TLS handshake) and the EHLO after it.
    #[default]
    Tls,
    /// AUTH, then QUIT: the credentials are checked, nothing is sent.
    Auth,
    /// A whole message: MAIL, RCPT, DATA and the final ".".
    Send,
}

impl ProbeMode {
    pub const ALL: [ProbeMode; 4] = [
        ProbeMode::Connect,
        ProbeMode::Tls,
        ProbeMode::Auth,
        ProbeMode::Send,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProbeMode::Connect => "connect",
            ProbeMode::Tls => "tls",
            ProbeMode::Auth => "auth",
            ProbeMode::Send => "send",
        }
    }

    /// Where the standard flow stops for this mode (`None`: it runs to the end).
    pub fn stop_after(self) -> Option<StopAfter> {
        match self {
            ProbeMode::Connect => Some(StopAfter::Connect),
            ProbeMode::Tls => Some(StopAfter::Tls),
            ProbeMode::Auth => Some(StopAfter::Auth),
            ProbeMode::Send => None,
        }
    }

    /// AUTH is part of the probe.
    pub fn uses_auth(self) -> bool {
        matches!(self, ProbeMode::Auth | ProbeMode::Send)
    }
}

/// The steps whose durations and reply codes are reported, in session order.
pub const STEPS: [&str; 10] = [
    "connect",
    "greeting",
    "ehlo",
    "starttls",
    "tls_handshake",
    "auth",
    "mail",
    "rcpt",
    "data",
    "dot",
];

/// Every metric family a probe can print, in order (the optional ones included).
pub const FAMILIES: [&str; 13] = [
    "probe_success",
    "probe_duration_seconds",
    "probe_ssl_earliest_cert_expiry",
    "probe_tls_version_info",
    "smtp_probe_outcome",
    "smtp_probe_failed_phase",
    "smtp_probe_step_duration_seconds",
    "smtp_probe_reply_code",
    "smtp_probe_provider_info",
    "smtp_probe_mode_info",
    "smtp_probe_timed_out",
    "smtp_probe_user_info",
    // Listed last so the count above fails to compile when a family is added without it.
    "",
];

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    pub mode: ProbeMode,
    pub success: bool,
    pub outcome: Outcome,
    pub failed_phase: Option<Phase>,
    /// From the first entry to the last, in seconds.
    pub duration: f64,
    /// Seconds spent in each step that happened (see [`STEPS`]); repeated steps add up.
    pub steps: Vec<(&'static str, f64)>,
    /// The last reply code of each step that got one.
    pub codes: Vec<(&'static str, u16)>,
    /// The negotiated TLS version ("TLS 1.3"), if TLS started.
    pub tls_version: Option<String>,
    /// The earliest `notAfter` of the certificates presented, seconds since the epoch.
    pub earliest_cert_expiry: Option<i64>,
    /// Who runs the server or which software it is, as the session model detected it from the
    /// host name, greeting and EHLO reply (`ses`, `postfix`…), else `generic`.
    pub provider: String,
    /// The probe's deadline passed before the session ended by itself.
    pub timed_out: bool,
    /// One line that says what happened, for logs (never a label).
    pub verdict: String,
}

impl ProbeReport {
    /// Reads a probe's result from its transcript. `timed_out`: the session was cut short by
    /// the probe's deadline (whatever the entries say, the probe failed).
    pub fn from_entries(mode: ProbeMode, entries: &[Entry], timed_out: bool) -> ProbeReport {
        let mut model = SessionModel::default();
        for e in entries {
            model.apply(e);
        }
        let outcome = model.outcome();
        let greeted = entries.iter().any(|e| {
            e.reply()
                .is_some_and(|r| r.after == Some(Verb::Connect) && r.code / 100 == 2)
        });
        let tls = entries
            .iter()
            .any(|e| matches!(e.kind, EntryKind::TlsStarted { .. }));
        let goal = match mode {
            ProbeMode::Connect => greeted,
            ProbeMode::Tls => greeted && tls,
            ProbeMode::Auth => model.ever_authenticated_as.is_some(),
            ProbeMode::Send => model.messages_accepted > 0,
        };
        let (steps, codes) = step_times(entries);
        let tls_infos = entries.iter().filter_map(|e| match &e.kind {
            EntryKind::TlsStarted { info } => Some(info),
            _ => None,
        });
        let mut tls_version = None;
        let mut earliest = None::<i64>;
        for info in tls_infos {
            tls_version = Some(info.version.clone());
            for cert in &info.chain {
                if let Some(t) = cert.not_after_unix {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                }
            }
        }
        let duration = match (entries.first(), entries.last()) {
            (Some(a), Some(b)) => seconds(a.time, b.time),
            _ => 0.0,
        };
        let provider = super::provider::id_or_generic(model.provider()).to_string();
        let mut verdict = model.verdict();
        if timed_out {
            verdict = format!("The probe's deadline passed: {verdict}");
        }
        ProbeReport {
            mode,
            success: goal && !outcome.is_failure() && !timed_out,
            outcome,
            failed_phase: model.failure.as_ref().map(|f| f.phase),
            duration,
            steps,
            codes,
            tls_version,
            earliest_cert_expiry: earliest,
            provider,
            timed_out,
            verdict,
        }
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let d = to.signed_duration_since(from);
    d.num_microseconds()
        .map_or_else(|| d.num_milliseconds() as f64 / 1e3, |us| us as f64 / 1e6)
        .max(0.0)
}

fn step_of(verb: Verb) -> Option<&'static str> {
    Some(match verb {
        Verb::Connect => "greeting",
        Verb::Ehlo | Verb::Helo => "ehlo",
        Verb::StartTls => "starttls",
        Verb::Auth | Verb::AuthResponse => "auth",
        Verb::Mail => "mail",
        Verb::Rcpt => "rcpt",
        Verb::Data | Verb::Bdat => "data",
        Verb::DataEnd => "dot",
        Verb::Rset | Verb::Noop | Verb::Quit | Verb::Other => return None,
    })
}

type StepDurations = Vec<(&'static str, f64)>;
type StepCodes = Vec<(&'static str, u16)>;

/// Durations and last reply codes per step, from the entries' times: a step runs from the
/// entry that starts it (the command sent, the connection made, the 354 for the message) to
/// the entry that ends it (its final reply, the handshake done). AUTH's 334 challenges are
/// inside the AUTH step.
fn step_times(entries: &[Entry]) -> (StepDurations, StepCodes) {
    let mut durations: Vec<(&'static str, f64)> = Vec::new();
    let mut codes: Vec<(&'static str, u16)> = Vec::new();
    let mut add =
        |step: &'static str, secs: f64| match durations.iter_mut().find(|(s, _)| *s == step) {
            Some((_, d)) => *d += secs,
            None => durations.push((step, secs)),
        };
    let mut open: Option<(&'static str, DateTime<Utc>)> = None;
    let mut connecting: Option<DateTime<Utc>> = None;
    let mut handshake_from: Option<DateTime<Utc>> = None;
    for e in entries {
        match &e.kind {
            EntryKind::Connecting { mode, .. } => {
                connecting = Some(e.time);
                open = None;
                handshake_from = None;
                if mode == "implicit" {
                    // The handshake starts when the TCP connection is up.
                    handshake_from = Some(e.time);
                }
            }
            EntryKind::Connected { .. } => {
                if let Some(t) = connecting.take() {
                    add("connect", seconds(t, e.time));
                }
                if handshake_from.is_some() {
                    handshake_from = Some(e.time);
                } else {
                    open = Some(("greeting", e.time));
                }
            }
            EntryKind::TlsStarted { .. } => {
                if let Some(t) = handshake_from.take() {
                    add("tls_handshake", seconds(t, e.time));
                }
                if open.is_none() && codes.iter().all(|(s, _)| *s != "greeting") {
                    // Implicit TLS: the greeting comes after the handshake.
                    open = Some(("greeting", e.time));
                }
            }
            EntryKind::Sent { verb, .. } => {
                if let Some(step) = step_of(*verb) {
                    // An AUTH continuation belongs to the AUTH step already running.
                    if !(step == "auth" && open.is_some_and(|(s, _)| s == "auth")) {
                        open = Some((step, e.time));
                    }
                } else {
                    open = None;
                }
            }
            EntryKind::Reply(r) => {
                let Some(step) = r.after.and_then(step_of) else {
                    continue;
                };
                if step == "auth" && r.code == 334 {
                    continue;
                }
                if let Some((s, t)) = open.take()
                    && s == step
                {
                    add(step, seconds(t, e.time));
                }
                match codes.iter_mut().find(|(s, _)| *s == step) {
                    Some((_, c)) => *c = r.code,
                    None => codes.push((step, r.code)),
                }
                if step == "starttls" && r.code == 220 {
                    handshake_from = Some(e.time);
                }
                if step == "data" && r.code == 354 {
                    open = Some(("dot", e.time));
                }
            }
            EntryKind::Closed { .. } => {
                open = None;
                handshake_from = None;
            }
            _ => {}
        }
    }
    let order = |s: &str| STEPS.iter().position(|x| *x == s).unwrap_or(STEPS.len());
    durations.sort_by_key(|(s, _)| order(s));
    codes.sort_by_key(|(s, _)| order(s));
    (durations, codes)
}

/// A label value as the text format wants it: `\`, `"` and line feeds escaped. Control and
/// format characters are first made visible (`\x1b`), so no value can drive a terminal that
/// shows the page.
pub fn label_value(text: &str) -> String {
    let shown = escape_str(text);
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes metric families one by one, each with its HELP and TYPE lines.
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Starts a family. `kind` is `gauge`, `counter` or `summary`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample; labels are (name, raw value) and are escaped here.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", label_value(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A sample value: integers without a fraction, others in plain decimal.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a whole number below 1e15 fits an i64 exactly"
        )]
        let whole = v as i64;
        format!("{whole}")
    } else {
        format!("{v}")
    }
}

/// What the metrics may show beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// The SMTP user name, shown in `smtp_probe_user_info` only when the configuration opts
    /// in. Never a password: there is no field for one.
    pub user_label: Option<String>,
}

/// The probe's metrics, in the text exposition format.
pub fn render(report: &ProbeReport, opts: &RenderOptions) -> String {
    let mut w = Writer::new();
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    w.family(
        "probe_success",
        "gauge",
        "Whether the probe reached its goal (1) or not (0).",
    );
    w.sample("probe_success", &[], flag(report.success));
    w.family(
        "probe_duration_seconds",
        "gauge",
        "How long the probe took, in seconds.",
    );
    w.sample("probe_duration_seconds", &[], report.duration);
    if let Some(t) = report.earliest_cert_expiry {
        w.family(
            "probe_ssl_earliest_cert_expiry",
            "gauge",
            "The earliest expiry of the certificates the server presented, as a Unix time.",
        );
        w.sample("probe_ssl_earliest_cert_expiry", &[], t as f64);
    }
    if let Some(v) = &report.tls_version {
        w.family(
            "probe_tls_version_info",
            "gauge",
            "The TLS version the session used.",
        );
        w.sample("probe_tls_version_info", &[("version", v)], 1.0);
    }
    w.family(
        "smtp_probe_outcome",
        "gauge",
        "The session's outcome: 1 for the one that happened, 0 for the others.",
    );
    for o in Outcome::ALL {
        w.sample(
            "smtp_probe_outcome",
            &[("outcome", o.name())],
            flag(o == report.outcome),
        );
    }
    w.family(
        "smtp_probe_failed_phase",
        "gauge",
        "The phase of the failure that decided the outcome: 1 for it, 0 for the others (all 0 when nothing failed).",
    );
    for p in Phase::ALL {
        w.sample(
            "smtp_probe_failed_phase",
            &[("phase", p.name())],
            flag(report.failed_phase == Some(p)),
        );
    }
    w.family(
        "smtp_probe_step_duration_seconds",
        "gauge",
        "Seconds spent in each step of the session that happened.",
    );
    for (step, secs) in &report.steps {
        w.sample("smtp_probe_step_duration_seconds", &[("step", step)], *secs);
    }
    w.family(
        "smtp_probe_reply_code",
        "gauge",
        "The server's last reply code to each step that got one.",
    );
    for (step, code) in &report.codes {
        w.sample("smtp_probe_reply_code", &[("step", step)], f64::from(*code));
    }
    w.family(
        "smtp_probe_provider_info",
        "gauge",
        "The provider or server software detected from the host name, greeting and EHLO reply (generic when none).",
    );
    w.sample(
        "smtp_probe_provider_info",
        &[("provider", &report.provider)],
        1.0,
    );
    w.family(
        "smtp_probe_mode_info",
        "gauge",
        "How far the probe goes: connect, tls, auth or send.",
    );
    w.sample("smtp_probe_mode_info", &[("mode", report.mode.name())], 1.0);
    w.family(
        "smtp_probe_timed_out",
        "gauge",
        "Whether the probe's deadline passed before the session ended by itself.",
    );
    w.sample("smtp_probe_timed_out", &[], flag(report.timed_out));
    if let Some(user) = &opts.user_label {
        w.family(
            "smtp_probe_user_info",
            "gauge",
            "The SMTP user name the probe logged in as (shown because the configuration asks for it).",
        );
        w.sample("smtp_probe_user_info", &[("user", user)], 1.0);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::transcript::parse_jsonl;

    fn entries(jsonl: &str) -> Vec<Entry> {
        parse_jsonl(jsonl).expect("valid JSON Lines")
    }

    /// A STARTTLS session that authenticates, from a fixed transcript.
    const AUTH_OK: &str = r#"{"seq":1,"time":"2026-01-01T00:00:00Z","tls":false,"type":"connecting","host":"mail.example","port":587,"mode":"starttls"}
{"seq":2,"time":"2026-01-01T00:00:00.010Z","tls":false,"type":"connected","peer":"192.0.2.1:587"}
{"seq":3,"time":"2026-01-01T00:00:00.030Z","tls":false,"type":"reply","code":220,"enhanced":null,"text":"hi","lines":["220 hi"],"after":"connect","phase":"connection","verdict":"success","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
{"seq":4,"time":"2026-01-01T00:00:00.031Z","tls":false,"type":"sent","line":"EHLO me","verb":"ehlo"}
{"seq":5,"time":"2026-01-01T00:00:00.041Z","tls":false,"type":"reply","code":250,"enhanced":null,"text":"mail.example\nSTARTTLS","lines":["250-mail.example","250 STARTTLS"],"after":"ehlo","phase":"ehlo","verdict":"success","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
{"seq":6,"time":"2026-01-01T00:00:00.042Z","tls":false,"type":"sent","line":"STARTTLS","verb":"start-tls"}
{"seq":7,"time":"2026-01-01T00:00:00.052Z","tls":false,"type":"reply","code":220,"enhanced":null,"text":"go","lines":["220 go"],"after":"start-tls","phase":"tls","verdict":"success","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
{"seq":8,"time":"2026-01-01T00:00:00.152Z","tls":true,"type":"tls-started","info":{"version":"TLS 1.3","cipher":"X","server_name":"mail.example","chain":[{"subject":"CN=mail.example","issuer":"CN=CA","not_before":"a","not_after":"b","not_after_unix":1900000000,"sans":["mail.example"],"serial":"01","self_signed":false},{"subject":"CN=CA","issuer":"CN=Root","not_before":"a","not_after":"b","not_after_unix":1800000000,"sans":[],"serial":"02","self_signed":false}],"verification":{"outcome":"verified"}}}
{"seq":9,"time":"2026-01-01T00:00:00.153Z","tls":true,"type":"sent","line":"EHLO me","verb":"ehlo"}
{"seq":10,"time":"2026-01-01T00:00:00.163Z","tls":true,"type":"reply","code":250,"enhanced":null,"text":"mail.example\nAUTH PLAIN LOGIN","lines":["250-mail.example","250 AUTH PLAIN LOGIN"],"after":"ehlo","phase":"ehlo","verdict":"success","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
{"seq":11,"time":"2026-01-01T00:00:00.200Z","tls":true,"type":"sent","line":"AUTH LOGIN","verb":"auth"}
{"seq":12,"time":"2026-01-01T00:00:00.210Z","tls":true,"type":"reply","code":334,"enhanced":null,"text":"VXNlcm5hbWU6","lines":["334 VXNlcm5hbWU6"],"after":"auth","phase":"authentication","verdict":"intermediate","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
{"seq":13,"time":"2026-01-01T00:00:00.211Z","tls":true,"type":"sent","line":"<user>","verb":"auth-response"}
{"seq":14,"time":"2026-01-01T00:00:00.221Z","tls":true,"type":"reply","code":334,"enhanced":null,"text":"UGFzc3dvcmQ6","lines":["334 UGFzc3dvcmQ6"],"after":"auth-response","phase":"authentication","verdict":"intermediate","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
{"seq":15,"time":"2026-01-01T00:00:00.222Z","tls":true,"type":"sent","line":"<password>","verb":"auth-response"}
{"seq":16,"time":"2026-01-01T00:00:00.500Z","tls":true,"type":"reply","code":235,"enhanced":null,"text":"ok","lines":["235 ok"],"after":"auth-response","phase":"authentication","verdict":"success","diagnosis":{"title":"","meaning":"","remedy":"","details":[],"notes":[]}}
"#;

    fn sample<'a>(text: &'a str, name_and_labels: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
    }

    #[test]
    fn durations_codes_and_tls_facts_come_from_the_entries() {
        let report = ProbeReport::from_entries(ProbeMode::Auth, &entries(AUTH_OK), false);
        let step = |s: &str| report.steps.iter().find(|(n, _)| *n == s).map(|(_, d)| *d);
        let code = |s: &str| report.codes.iter().find(|(n, _)| *n == s).map(|(_, c)| *c);
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(near(step("connect"), 0.010), "{report:?}");
        assert!(near(step("greeting"), 0.020), "{report:?}");
        // Both EHLOs: 10 ms each.
        assert!(near(step("ehlo"), 0.020), "{report:?}");
        assert!(near(step("starttls"), 0.010), "{report:?}");
        assert!(near(step("tls_handshake"), 0.100), "{report:?}");
        // From AUTH to the 235, challenges included.
        assert!(near(step("auth"), 0.300), "{report:?}");
        assert_eq!(step("mail"), None);
        assert_eq!(
            (code("greeting"), code("ehlo"), code("auth")),
            (Some(220), Some(250), Some(235))
        );
        assert!((report.duration - 0.5).abs() < 1e-9);
        assert_eq!(report.tls_version.as_deref(), Some("TLS 1.3"));
        assert_eq!(report.earliest_cert_expiry, Some(1_800_000_000));
        assert!(report.success);
        assert_eq!(report.outcome, Outcome::Authenticated);
        // The same entries do not make a successful `send` probe.
        assert!(!ProbeReport::from_entries(ProbeMode::Send, &entries(AUTH_OK), false).success);
        assert!(!ProbeReport::from_entries(ProbeMode::Auth, &entries(AUTH_OK), true).success);
    }

    #[test]
    fn every_family_has_help_and_type_and_one_outcome_is_set() {
        let report = ProbeReport::from_entries(ProbeMode::Auth, &entries(AUTH_OK), false);
        let text = render(&report, &RenderOptions::default());
        let mut families = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                families.push(rest.split(' ').next().unwrap().to_string());
            }
        }
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(families.iter().any(|f| f == name), "no TYPE for {line}");
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {line}"
            );
        }
        assert_eq!(sample(&text, "probe_success"), Some("1"));
        assert_eq!(
            sample(&text, "smtp_probe_outcome{outcome=\"authenticated\"}"),
            Some("1")
        );
        let ones = text
            .lines()
            .filter(|l| l.starts_with("smtp_probe_outcome{") && l.ends_with(" 1"))
            .count();
        assert_eq!(ones, 1);
        assert_eq!(
            sample(&text, "smtp_probe_reply_code{step=\"auth\"}"),
            Some("235")
        );
        assert_eq!(
            sample(&text, "probe_tls_version_info{version=\"TLS 1.3\"}"),
            Some("1")
        );
        assert_eq!(
            sample(&text, "probe_ssl_earliest_cert_expiry"),
            Some("1800000000")
        );
        assert!(
            !text.contains("user"),
            "no user label unless asked:\n{text}"
        );
    }

    #[test]
    fn the_family_list_is_what_render_prints() {
        let mut report = ProbeReport::from_entries(ProbeMode::Auth, &entries(AUTH_OK), false);
        report.failed_phase = Some(Phase::Authorization);
        let opts = RenderOptions {
            user_label: Some("u".into()),
        };
        let printed: Vec<String> = render(&report, &opts)
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        let listed: Vec<&str> = FAMILIES.iter().copied().filter(|f| !f.is_empty()).collect();
        assert_eq!(printed, listed);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        // A line feed and an escape sequence become visible text, then format-escaped.
        let v = label_value("x\ny\u{1b}[2J");
        assert!(!v.contains('\n') && !v.contains('\u{1b}'), "{v}");
        let mut w = Writer::new();
        w.family("m", "gauge", "h");
        w.sample("m", &[("user", "evil\"} 1\nprobe_success 1")], 1.0);
        let text = w.finish();
        assert_eq!(text.lines().count(), 3, "{text}");
        let opts = RenderOptions {
            user_label: Some("AKIAEXAMPLE\"x".into()),
        };
        let report = ProbeReport::from_entries(ProbeMode::Auth, &entries(AUTH_OK), false);
        assert!(
            render(&report, &opts).contains("smtp_probe_user_info{user=\"AKIAEXAMPLE\\\"x\"} 1")
        );
    }

    #[test]
    fn numbers_are_plain() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1_800_000_000.0), "1800000000");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
