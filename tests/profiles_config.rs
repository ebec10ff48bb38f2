//! AWS profiles and the configuration file, driving the binary against the simulator: a
//! temporary HOME with fake profiles (the simulator's demo users' documented example keys),
//! temporary credentials refused before anything is sent, and named targets from a file.

mod common;
mod sim_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{json_lines, replies, text};
use sim_support::*;

/// AWS's documented example key: the simulator's demo user `good`.
const ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The binary with HOME set to `home`, no AWS or smtpscope variables but `env`.
fn smtpscope(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
    cmd.args(args).env("HOME", home).env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("SMTPSCOPE_") || k == "XDG_CONFIG_HOME" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().expect("run smtpscope")
}

/// A HOME with `~/.aws/credentials` and `~/.aws/config` holding `credentials` and `config`.
fn home(credentials: &str, config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".aws")).unwrap();
    std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
    std::fs::write(dir.path().join(".aws/config"), config).unwrap();
    dir
}

fn good_profile() -> tempfile::TempDir {
    home(
        &format!("[ses]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"),
        "[profile ses]\nregion = ap-northeast-1\noutput = json\n",
    )
}

/// The simulator as SES in Tokyo, with the demo user `good`.
async fn tokyo_sim() -> TestSim {
    start(config_from(&format!(
        "region = \"ap-northeast-1\"\nverified_identities = [\"example.com\"]\n{GOOD_USER_TOML}"
    )))
    .await
}

fn sim_args<'a>(sim: &'a TestSim, port: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--host",
        "localhost",
        "--port",
        port,
        "--ca-file",
        sim.ca.to_str().unwrap(),
        "--from",
        "sender@example.com",
        "--to",
        "rcpt@example.com",
        "--json",
        "--timeout",
        "10",
    ]
}

/// The 250 after the final "." that says the simulator accepted the message.
fn accepted(out: &Output) -> bool {
    replies(&json_lines(out))
        .iter()
        .any(|r| r["after"] == "data-end" && r["code"] == 250)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_logs_in_with_a_derived_password_for_the_profiles_or_the_given_region() {
    let sim = tokyo_sim().await;
    let port = sim.port().to_string();
    let h = good_profile();
    let (_, password) = sim.credentials("good");
    let mut args = sim_args(&sim, &port);
    args.extend(["--profile", "ses"]);
    let out = tokio::task::block_in_place(|| smtpscope(h.path(), &args, &[]));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(accepted(&out), "{all}");
    assert!(
        all.contains(&format!(
            "SMTP user {ID} and password derived from profile ses for region ap-northeast-1"
        )),
        "{all}"
    );
    common::assert_no_secret(&all, ID, &password);
    assert!(!all.contains(SECRET), "{all}");

    // --region wins over the profile's: a password for another region gets 535.
    args.extend(["--region", "us-east-1"]);
    let out = tokio::task::block_in_place(|| smtpscope(h.path(), &args, &[]));
    let all = text(&out);
    assert!(all.contains("for region us-east-1"), "{all}");
    assert!(
        replies(&json_lines(&out)).iter().any(|r| r["code"] == 535),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_profile_and_environment_keys_work_for_ses_targets_without_a_user() {
    let sim = tokyo_sim().await;
    let port = sim.port().to_string();
    let empty = home("", "");
    let mut args = sim_args(&sim, &port);
    args.extend(["--region", "ap-northeast-1"]);
    let out = tokio::task::block_in_place(|| {
        smtpscope(
            empty.path(),
            &args,
            &[("AWS_ACCESS_KEY_ID", ID), ("AWS_SECRET_ACCESS_KEY", SECRET)],
        )
    });
    assert!(accepted(&out), "{}", text(&out));
    assert!(text(&out).contains("derived from the AWS_ACCESS_KEY_ID"));

    // AWS_PROFILE and AWS_REGION: the region from the environment wins over the profile's.
    let h = good_profile();
    let mut args = sim_args(&sim, &port);
    args.extend(["--region", "ap-northeast-1"]);
    let out = tokio::task::block_in_place(|| smtpscope(h.path(), &args, &[("AWS_PROFILE", "ses")]));
    assert!(accepted(&out), "{}", text(&out));

    // A plain user and password still work, and win over AWS_PROFILE.
    let (user, password) = sim.credentials("good");
    let mut args = sim_args(&sim, &port);
    args.extend(["--region", "ap-northeast-1", "--user", &user]);
    let out = tokio::task::block_in_place(|| {
        smtpscope(
            h.path(),
            &args,
            &[
                ("AWS_PROFILE", "missing"),
                ("SMTPSCOPE_PASSWORD", &password),
            ],
        )
    });
    assert!(accepted(&out), "{}", text(&out));
    assert!(!text(&out).contains("derived from"), "{}", text(&out));
}

#[test]
fn temporary_credentials_are_refused_before_connecting() {
    // Nothing listens on this port: a refusal here proves nothing was sent anywhere.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let cases: [(&str, &str, &str); 5] = [
        (
            "[t]\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n",
            "",
            "temporary access key",
        ),
        (
            &format!(
                "[t]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\naws_session_token = IQoJb3JpZ2luX2VjEXAMPLE\n"
            ),
            "",
            "session token",
        ),
        (
            "",
            "[profile t]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = SES\nregion = us-east-1\n",
            "SSO",
        ),
        (
            "",
            "[profile t]\nrole_arn = arn:aws:iam::111122223333:role/ses\nsource_profile = base\n",
            "assumed role",
        ),
        (
            "",
            "[profile t]\ncredential_process = /bin/false\n",
            "credential_process",
        ),
    ];
    for (credentials, config, says) in cases {
        let h = home(credentials, config);
        let out = smtpscope(
            h.path(),
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--region",
                "us-east-1",
                "--profile",
                "t",
                "--from",
                "a@example.com",
                "--to",
                "b@example.com",
            ],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{says}: {all}");
        assert!(all.contains(says), "{says}: {all}");
        assert!(
            all.contains("SES SMTP needs an IAM user's long-term access key")
                && all.contains("Nothing was sent"),
            "{all}"
        );
        assert!(out.stdout.is_empty(), "{says}: {all}");
        assert!(!all.contains("IQoJb3JpZ2luX2VjEXAMPLE") && !all.contains(SECRET));
    }
    // The same from the environment: an ASIA key with a session token.
    let h = home("", "");
    let out = smtpscope(
        h.path(),
        &[
            "run",
            "--region",
            "us-east-1",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "ASIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("long-term"), "{}", text(&out));
}

#[test]
fn aws_file_variables_and_a_missing_profile() {
    let h = home("", "");
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::write(
        &creds,
        "[other]\naws_access_key_id = AKIAEXAMPLEOTHER0001\n",
    )
    .unwrap();
    let out = smtpscope(
        h.path(),
        &[
            "run",
            "--region",
            "us-east-1",
            "--profile",
            "nope",
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
        ],
        &[("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("no profile \"nope\"") && all.contains("creds") && all.contains("other"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_target_with_a_profile_or_a_password_source() {
    let sim = tokyo_sim().await;
    let h = good_profile();
    let (user, password) = sim.credentials("good");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pass"), format!("{}\n", &*password)).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
default_target = "ses-tokyo"

[targets.ses-tokyo]
host = "localhost"
port = {port}
ca_file = "{ca}"
region = "ap-northeast-1"
profile = "ses"
from = "sender@example.com"
to = ["rcpt@example.com"]
timeout_secs = 10

[targets.by-file]
host = "localhost"
port = {port}
ca_file = "{ca}"
user = "{user}"
password_file = "pass"
from = "sender@example.com"
to = ["rcpt@example.com"]

[targets.by-env]
host = "localhost"
port = {port}
ca_file = "{ca}"
user = "{user}"
password_env = "SIM_TOKYO_PASSWORD"
from = "sender@example.com"
to = ["rcpt@example.com"]
"#,
            port = sim.port(),
            ca = sim.ca.display(),
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    for (args, env) in [
        (
            vec!["run", "--json", "--target", "ses-tokyo"],
            vec![("SMTPSCOPE_CONFIG", cfg)],
        ),
        (
            vec!["run", "--json", "--config", cfg, "--target", "by-file"],
            vec![],
        ),
        (
            vec!["run", "--json", "--config", cfg, "--target", "by-env"],
            vec![("SIM_TOKYO_PASSWORD", &*password)],
        ),
    ] {
        let out = tokio::task::block_in_place(|| smtpscope(h.path(), &args, &env));
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {all}");
        assert!(accepted(&out), "{args:?}: {all}");
        common::assert_no_secret(&all, &user, &password);
    }
    // Flags override the target's values: another recipient domain is refused by the sandbox-free
    // simulator only if unverified senders are used, so override the sender instead.
    let out = tokio::task::block_in_place(|| {
        smtpscope(
            h.path(),
            &[
                "run",
                "--json",
                "--config",
                cfg,
                "--target",
                "ses-tokyo",
                "--from",
                "x@unverified.example",
            ],
            &[],
        )
    });
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("x@unverified.example"),
        "{}",
        text(&out)
    );
    // An unset password_env is a usage error naming it.
    let out = smtpscope(
        h.path(),
        &["run", "--config", cfg, "--target", "by-env"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("SIM_TOKYO_PASSWORD is not set"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_bad_config_names_the_file_the_line_and_the_key() {
    let h = home("", "");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[targets.a]\nhost = \"localhost\"\nprot = 25\n").unwrap();
    let cfg = config.to_str().unwrap();
    let out = smtpscope(h.path(), &["run", "--config", cfg, "--target", "a"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!("{cfg}, line 3, key targets.a.prot"))
            && all.contains("unknown field"),
        "{all}"
    );
    // No such target: the ones there are.
    std::fs::write(&config, "[targets.a]\nhost = \"localhost\"\n").unwrap();
    let out = smtpscope(h.path(), &["run", "--config", cfg, "--target", "b"], &[]);
    assert!(
        text(&out).contains("no target \"b\" (targets: a)"),
        "{}",
        text(&out)
    );
    // --target without any configuration file says where to write one.
    let out = smtpscope(h.path(), &["run", "--target", "b"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no configuration file"),
        "{}",
        text(&out)
    );
}
