//! A real Prometheus on loopback scrapes a running `smtpscope exporter` that probes two
//! servers: the built-in SES simulator and a private Postfix with Dovecot SASL (a server
//! nobody on this project wrote). Each has a good user, a wrong password and a user who logs
//! in but may not send. The test asks Prometheus's HTTP API what it stored: `probe_success`,
//! the failed phase (authentication for the wrong password, authorization for the denied
//! user), and the shipped alert rules going pending for the right targets.

mod common;
mod sim_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::postfix::{DENIED, GOOD, PostfixPeer};
use common::prometheus::{Exporter, Prometheus};
use sim_support::*;

/// What Prometheus should end up holding for one target.
struct Expect {
    success: f64,
    phase: Option<&'static str>,
    outcome: &'static str,
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_phases_from_the_exporter() {
    let sim = start(demo_config()).await;
    let postfix = tokio::task::spawn_blocking(PostfixPeer::start)
        .await
        .expect("postfix starts");
    let dir = tempfile::tempdir().unwrap();

    // Secrets: the simulator's through environment variables, Postfix's through a file and a
    // command, so each source is used.
    let (good_key, good_pw) = sim.credentials("good");
    let (wrong_key, _) = sim.credentials("wrong-password");
    let (denied_key, denied_pw) = sim.credentials("send-email-only");
    let pw_file = dir.path().join("postfix-good.pass");
    std::fs::write(&pw_file, format!("{}\n", GOOD.1)).unwrap();
    let sim_port = sim.port();
    let sim_ca = sim.ca.display().to_string();
    let pf_port = postfix.port;
    let pf_ca = postfix.ca_file.display().to_string();
    let config = format!(
        r#"
[exporter]
max_timeout_secs = 20

[modules.sim]
mode = "send"
host = "localhost"
port = {sim_port}
region = "us-east-1"
ca_file = "{sim_ca}"
from = "sender@example.com"
to = ["success@simulator.amazonses.com"]

[modules.postfix]
mode = "send"
host = "127.0.0.1"
port = {pf_port}
ca_file = "{pf_ca}"
from = "sender@example.com"
to = ["rcpt@example.net"]

[targets.sim-good]
module = "sim"
user = "{good_key}"
password_env = "SIM_GOOD_PW"

[targets.sim-wrong-password]
module = "sim"
mode = "auth"
user = "{wrong_key}"
password_env = "SIM_WRONG_PW"

[targets.sim-denied]
module = "sim"
user = "{denied_key}"
password_env = "SIM_DENIED_PW"

[targets.postfix-good]
module = "postfix"
user = "{gu}"
password_file = "{pw_file}"

[targets.postfix-wrong-password]
module = "postfix"
mode = "auth"
user = "{gu}"
password_command = ["echo", "not-the-password"]

[targets.postfix-denied]
module = "postfix"
user = "{du}"
password_command = ["echo", "{dp}"]
"#,
        gu = GOOD.0,
        du = DENIED.0,
        dp = DENIED.1,
        pw_file = pw_file.display(),
    );
    let config_path = dir.path().join("exporter.toml");
    std::fs::write(&config_path, &config).unwrap();
    let exporter = Exporter::start(
        &config_path,
        &[
            ("SIM_GOOD_PW", good_pw.as_str()),
            ("SIM_WRONG_PW", "wrong-password-for-the-probe-42"),
            ("SIM_DENIED_PW", denied_pw.as_str()),
        ],
    );

    let expect: BTreeMap<&str, Expect> = [
        (
            "sim-good",
            Expect {
                success: 1.0,
                phase: None,
                outcome: "accepted",
            },
        ),
        (
            "sim-wrong-password",
            Expect {
                success: 0.0,
                phase: Some("authentication"),
                outcome: "authentication_failed",
            },
        ),
        (
            "sim-denied",
            Expect {
                success: 0.0,
                phase: Some("authorization"),
                outcome: "authorization_denied",
            },
        ),
        (
            "postfix-good",
            Expect {
                success: 1.0,
                phase: None,
                outcome: "accepted",
            },
        ),
        (
            "postfix-wrong-password",
            Expect {
                success: 0.0,
                phase: Some("authentication"),
                outcome: "authentication_failed",
            },
        ),
        (
            "postfix-denied",
            Expect {
                success: 0.0,
                phase: Some("authorization"),
                outcome: "authorization_denied",
            },
        ),
    ]
    .into_iter()
    .collect();

    let targets: Vec<String> = expect.keys().map(|t| format!("\"{t}\"")).collect();
    let rules =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/monitoring/alerts.yml");
    let prom_config = format!(
        r#"
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 1s
rule_files:
  - "{rules}"
scrape_configs:
  - job_name: smtp
    metrics_path: /probe
    static_configs:
      - targets: [{targets}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{port}
  - job_name: smtpscope_exporter
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"#,
        rules = rules.display(),
        targets = targets.join(", "),
        port = exporter.port,
    );
    let prometheus = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || Prometheus::start(&dir, &prom_config)
    })
    .await
    .unwrap();

    let check = |prometheus: &Prometheus| -> Result<(), String> {
        let by_instance = |q: &str| -> BTreeMap<String, f64> {
            prometheus
                .query(q)
                .into_iter()
                .filter_map(|(m, v)| Some((m["instance"].as_str()?.to_string(), v)))
                .collect()
        };
        let up = by_instance("up{job=\"smtp\"}");
        let success = by_instance("probe_success{job=\"smtp\"}");
        for (target, e) in &expect {
            if up.get(*target) != Some(&1.0) {
                return Err(format!("{target}: not scraped yet (up: {up:?})"));
            }
            if success.get(*target) != Some(&e.success) {
                return Err(format!(
                    "{target}: probe_success {:?}",
                    success.get(*target)
                ));
            }
            let outcome = by_instance(&format!(
                "smtp_probe_outcome{{job=\"smtp\",outcome=\"{}\"}}",
                e.outcome
            ));
            if outcome.get(*target) != Some(&1.0) {
                return Err(format!(
                    "{target}: outcome {} not 1: {outcome:?}",
                    e.outcome
                ));
            }
            let phases: BTreeMap<String, String> = prometheus
                .query("smtp_probe_failed_phase{job=\"smtp\"} == 1")
                .into_iter()
                .filter_map(|(m, _)| {
                    Some((
                        m["instance"].as_str()?.to_string(),
                        m["phase"].as_str()?.to_string(),
                    ))
                })
                .collect();
            if phases.get(*target).map(String::as_str) != e.phase {
                return Err(format!(
                    "{target}: failed phase {:?}, want {:?}",
                    phases.get(*target),
                    e.phase
                ));
            }
        }
        // The two queries the issue names.
        let authn = by_instance("smtp_probe_failed_phase{phase=\"authentication\"} == 1");
        let authz = by_instance("smtp_probe_failed_phase{phase=\"authorization\"} == 1");
        let names = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<Vec<_>>();
        if names(&authn) != ["postfix-wrong-password", "sim-wrong-password"] {
            return Err(format!("authentication failures: {authn:?}"));
        }
        if names(&authz) != ["postfix-denied", "sim-denied"] {
            return Err(format!("authorization failures: {authz:?}"));
        }
        // The shipped alert rules see them (pending: their `for` has not passed yet).
        let alerts: Vec<(String, String)> = prometheus
            .query("ALERTS{alertname=~\"SMTPAuth.*\"}")
            .into_iter()
            .filter_map(|(m, _)| {
                Some((
                    m["alertname"].as_str()?.to_string(),
                    m["instance"].as_str()?.to_string(),
                ))
            })
            .collect();
        for want in [
            ("SMTPAuthorizationDenied", "sim-denied"),
            ("SMTPAuthorizationDenied", "postfix-denied"),
            ("SMTPAuthenticationFailing", "sim-wrong-password"),
            ("SMTPAuthenticationFailing", "postfix-wrong-password"),
        ] {
            if !alerts.iter().any(|(a, i)| (a.as_str(), i.as_str()) == want) {
                return Err(format!("alert {want:?} not active: {alerts:?}"));
            }
        }
        if alerts.len() != 4 {
            return Err(format!("unexpected alerts: {alerts:?}"));
        }
        // The exporter's own metrics are scraped too.
        let probes = prometheus.query("sum(smtpscope_exporter_probes_total)");
        if probes.first().is_none_or(|(_, v)| *v < 6.0) {
            return Err(format!("exporter self-metrics: {probes:?}"));
        }
        Ok(())
    };

    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last;
    loop {
        last = tokio::task::block_in_place(|| check(&prometheus));
        if last.is_ok() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = exporter.log();
    if let Err(e) = last {
        panic!("{e}\nexporter log:\n{log}");
    }
    // No secret in the exporter's log.
    common::assert_no_secret(&log, &good_key, &good_pw);
    common::assert_no_secret(&log, &denied_key, &denied_pw);
    common::assert_no_secret(&log, GOOD.0, GOOD.1);
    common::assert_no_secret(&log, DENIED.0, DENIED.1);
    drop(prometheus);
    drop(exporter);
    drop(postfix);
}
