//! Shared by the simulator's integration tests: start the simulator on loopback port 0 with
//! its CA written to a temporary folder, and look up demo users' SMTP passwords.
#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};

use smtpscope::engine::sim::{self, RunningSim, SimConfig};
use zeroize::Zeroizing;

/// A running simulator and the CA file clients should trust.
pub struct TestSim {
    pub sim: RunningSim,
    pub ca: PathBuf,
    pub dir: tempfile::TempDir,
}

impl TestSim {
    pub fn port(&self) -> u16 {
        self.sim.starttls_addr.port()
    }

    pub fn implicit_port(&self) -> u16 {
        self.sim.implicit_addr.expect("implicit listener").port()
    }

    /// The arguments of `smtpscope run --json` against this simulator's STARTTLS listener as
    /// the SMTP user `user` (an access key ID), sending `from` to `to`, with the SES region
    /// us-east-1 (so the credential lint applies) and a 10 s timeout.
    pub fn run_args(&self, user: &str, from: &str, to: &[&str]) -> Vec<String> {
        let mut args = self.provider_run_args(user, from, to);
        args.splice(3..3, ["--region".to_string(), "us-east-1".to_string()]);
        args
    }

    /// The same without `--region`: for a simulator speaking as another provider
    /// (`--provider microsoft365|gmail`), where the SES credential lint does not apply.
    pub fn provider_run_args(&self, user: &str, from: &str, to: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "--host",
            "localhost",
            "--port",
            &self.port().to_string(),
            "--ca-file",
            self.ca.to_str().unwrap(),
            "--user",
            user,
            "--from",
            from,
            "--json",
            "--timeout",
            "10",
        ]
        .map(String::from)
        .to_vec();
        for t in to {
            args.extend(["--to".to_string(), t.to_string()]);
        }
        args
    }

    /// The SMTP user name (access key ID) and password of a configured user.
    pub fn credentials(&self, user: &str) -> (String, Zeroizing<String>) {
        credentials(self.sim.config(), user)
    }
}

pub fn credentials(config: &SimConfig, user: &str) -> (String, Zeroizing<String>) {
    let u = config
        .user(user)
        .unwrap_or_else(|| panic!("no user {user} in the config"));
    (u.access_key_id.clone(), u.smtp_password(&config.region))
}

/// The demo configuration on loopback port 0 (both listeners).
pub fn demo_config() -> SimConfig {
    let mut config = SimConfig::default_demo().expect("demo config");
    on_port_zero(&mut config);
    config
}

pub fn on_port_zero(config: &mut SimConfig) {
    config.listen.starttls = "127.0.0.1:0".parse().unwrap();
    config.listen.implicit = Some("127.0.0.1:0".parse().unwrap());
}

/// A configuration from TOML (policies resolve like the demo's), on port 0.
pub fn config_from(toml: &str) -> SimConfig {
    let mut config = SimConfig::from_toml_str(toml, Path::new("/nonexistent"))
        .unwrap_or_else(|e| panic!("test config: {e}"));
    on_port_zero(&mut config);
    config
}

pub async fn start(config: SimConfig) -> TestSim {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(config).await.expect("simulator starts");
    let ca = dir.path().join("sim-ca.pem");
    sim.write_ca(&ca).unwrap();
    TestSim { sim, ca, dir }
}

/// The demo's user `good` with AWS's documented example key, as a TOML snippet to reuse.
pub const GOOD_USER_TOML: &str = r#"
[[user]]
name = "good"
access_key_id = "AKIAIOSFODNN7EXAMPLE"
secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
policy = "allow-all.json"
"#;

/// A small message from a verified sender.
pub fn message(from: &str, to: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 07 Aug 2023 10:00:00 +0000\r\nMessage-ID: <{subject}@client.example>\r\n\r\nIm from SES\r\n"
    )
}
