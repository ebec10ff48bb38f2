//! `smtpscope aws diagnose` and `run --aws-check` against moto, an independent
//! implementation of the IAM, SES and STS APIs, on loopback. Each account is built with boto3
//! by `tests/peers/aws_account.py`; smtpscope reaches it through `AWS_ENDPOINT_URL` with fake
//! API keys, a temporary HOME (no ~/.aws) and the instance metadata service disabled.
//! Then the predictions are held against the simulator configured with the same users, keys
//! and policies: what `run` observes must be what `diagnose` predicted, reply text included.
#![cfg(feature = "aws")]

mod common;
mod sim_support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// The account every test reads: users, keys, inline, attached and group policies, a
/// permissions boundary, one verified domain.
fn account() -> Value {
    let allow_send = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "SendRaw", "Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]});
    json!({
        "region": "us-east-1",
        "verified_domains": ["example.com"],
        "managed_policies": {
            "ses-send": allow_send,
            "ses-api-only": {"Version": "2012-10-17", "Statement": [
                {"Sid": "ApiOnly", "Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}]}
        },
        "groups": {
            "contractors": {
                "inline": {"deny-outside": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "DenyOutsideRecipients", "Effect": "Deny", "Action": "ses:SendRawEmail",
                     "Resource": "*", "Condition": {"ForAnyValue:StringNotLike":
                        {"ses:Recipients": ["*@example.com"]}}}]}},
                "attached": ["ses-send"]
            }
        },
        "users": {
            "smtp-app": {"inline": {"ses-from-office": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AllowOfficeOnly", "Effect": "Allow", "Action": "ses:SendRawEmail",
                 "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}]}}},
            "contractor": {"groups": ["contractors"]},
            "bounded": {"attached": ["ses-send"], "boundary": "ses-api-only"},
            "noreply-only": {"inline": {"from-noreply": {"Version": "2012-10-17", "Statement": [
                {"Sid": "OnlyNoreply", "Effect": "Allow", "Action": "ses:SendRawEmail",
                 "Resource": "*", "Condition": {"StringEquals":
                    {"ses:FromAddress": "noreply@example.com"}}}]}}},
            "example-recipients": {"inline": {"to-example": {"Version": "2012-10-17", "Statement": [
                {"Sid": "OnlyExampleCom", "Effect": "Allow", "Action": "ses:SendRawEmail",
                 "Resource": "*", "Condition": {"ForAllValues:StringLike":
                    {"ses:Recipients": ["*@example.com"]}}}]}}},
            "retired": {"attached": ["ses-send"], "keys": ["Inactive"]},
            "sender": {"attached": ["ses-send"]}
        }
    })
}

/// moto serving an account; stops when dropped (its standard input closes).
struct Moto {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    keys: HashMap<String, Vec<String>>,
    home: tempfile::TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start(spec: &Value) -> Moto {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join("account.json");
        std::fs::write(&file, spec.to_string()).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/aws_account.py");
        let mut child = Command::new(common::python())
            .arg(script)
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut keys = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(k) = line.strip_prefix("KEYS ") {
                    keys = serde_json::from_str::<HashMap<String, Vec<String>>>(k).ok();
                } else if let Some(p) = line.strip_prefix("READY ") {
                    let _ = tx.send((p.trim().parse::<u16>().ok(), keys.take()));
                }
            }
        });
        let (port, keys) = rx
            .recv_timeout(Duration::from_mins(1))
            .expect("moto printed READY within 60 s");
        Moto {
            child,
            _stdin: stdin,
            port: port.expect("a port"),
            keys: keys.expect("the access key IDs"),
            home,
        }
    }

    fn key(&self, user: &str) -> String {
        self.keys[user][0].clone()
    }

    /// The environment smtpscope reads AWS from: moto's endpoint, fake API keys, nothing
    /// from the machine (HOME is a temporary folder, the metadata service is off).
    fn env(&self) -> Vec<(&'static str, String)> {
        let home = self.home.path().to_str().unwrap().to_string();
        vec![
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".into()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", format!("{home}/aws-config")),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                format!("{home}/aws-credentials"),
            ),
            ("HOME", home),
            ("NO_COLOR", "1".into()),
        ]
    }
}

/// Runs the binary with only `env` in its environment.
fn smtpscope(args: &[String], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
    cmd.args(args).env_clear().stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run smtpscope")
}

fn diagnose(moto: &Moto, key: &str, from: &str, to: &[&str], ip: &str) -> (i32, Value) {
    let mut args: Vec<String> = [
        "aws",
        "diagnose",
        "--user",
        key,
        "--region",
        "us-east-1",
        "--from",
        from,
        "--source-ip",
        ip,
        "--time",
        "2026-12-01T12:00:00Z",
        "--json",
    ]
    .map(String::from)
    .to_vec();
    for t in to {
        args.extend(["--to".to_string(), (*t).to_string()]);
    }
    let out = smtpscope(&args, &moto.env());
    let text = common::text(&out);
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert!(
        !text.contains("wJalrXUtnFEMI"),
        "the API secret leaked: {text}"
    );
    (out.status.code().unwrap(), json)
}

struct Case<'a> {
    what: &'a str,
    user: &'a str,
    from: &'a str,
    to: &'a [&'a str],
    ip: &'a str,
    outcome: &'a str,
    exit: i32,
    /// (field of "deciding", expected text) pairs
    deciding: &'a [(&'a str, &'a str)],
    /// Substrings of the reason
    reason: &'a [&'a str],
}

#[test]
fn diagnose_names_what_decides_each_case() {
    let moto = Moto::start(&account());
    let cases = [
        Case {
            what: "aws:SourceIp outside the office range",
            user: "smtp-app",
            from: "app@example.com",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "authorization_denied",
            exit: 9,
            deciding: &[
                ("policy", "inline policy ses-from-office on user smtp-app"),
                ("sid", "AllowOfficeOnly"),
                (
                    "condition",
                    "aws:SourceIp 203.0.113.5 not in 198.51.100.0/24",
                ),
            ],
            reason: &["AUTH succeeds", "condition that does not hold"],
        },
        Case {
            what: "aws:SourceIp inside the office range",
            user: "smtp-app",
            from: "app@example.com",
            to: &["someone@example.com"],
            ip: "198.51.100.7",
            outcome: "accepted",
            exit: 0,
            deciding: &[("sid", "AllowOfficeOnly")],
            reason: &["should accept"],
        },
        Case {
            what: "explicit deny in a group policy",
            user: "contractor",
            from: "app@example.com",
            to: &["someone@example.com", "friend@gmail.example"],
            ip: "203.0.113.5",
            outcome: "authorization_denied",
            exit: 9,
            deciding: &[
                ("policy", "inline policy deny-outside on group contractors"),
                ("sid", "DenyOutsideRecipients"),
                ("effect", "Deny"),
            ],
            reason: &["explicit deny"],
        },
        Case {
            what: "the group's deny does not apply inside example.com",
            user: "contractor",
            from: "app@example.com",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "accepted",
            exit: 0,
            deciding: &[(
                "policy",
                "managed policy ses-send attached to group contractors",
            )],
            reason: &[],
        },
        Case {
            what: "a boundary without ses:SendRawEmail",
            user: "bounded",
            from: "app@example.com",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "authorization_denied",
            exit: 9,
            deciding: &[("policy", "permissions boundary ses-api-only")],
            reason: &["permissions boundary ses-api-only does not allow ses:SendRawEmail"],
        },
        Case {
            what: "ses:FromAddress",
            user: "noreply-only",
            from: "app@example.com",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "authorization_denied",
            exit: 9,
            deciding: &[
                ("sid", "OnlyNoreply"),
                (
                    "condition",
                    "ses:FromAddress app@example.com does not match StringEquals [noreply@example.com]",
                ),
            ],
            reason: &[],
        },
        Case {
            what: "ses:FromAddress met",
            user: "noreply-only",
            from: "noreply@example.com",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "accepted",
            exit: 0,
            deciding: &[("sid", "OnlyNoreply")],
            reason: &[],
        },
        Case {
            what: "ses:Recipients",
            user: "example-recipients",
            from: "app@example.com",
            to: &["someone@example.com", "a@example.org"],
            ip: "203.0.113.5",
            outcome: "authorization_denied",
            exit: 9,
            deciding: &[("sid", "OnlyExampleCom")],
            reason: &[],
        },
        Case {
            what: "an inactive key",
            user: "retired",
            from: "app@example.com",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "authentication_failed",
            exit: 6,
            deciding: &[],
            reason: &["of user retired is Inactive, created "],
        },
        Case {
            what: "an unverified From",
            user: "sender",
            from: "app@unverified.example",
            to: &["someone@example.com"],
            ip: "203.0.113.5",
            outcome: "authorization_denied",
            exit: 9,
            deciding: &[],
            reason: &["app@unverified.example not verified in us-east-1"],
        },
    ];
    for case in &cases {
        let key = moto.key(case.user);
        let (exit, json) = diagnose(&moto, &key, case.from, case.to, case.ip);
        assert_eq!(json["outcome"], case.outcome, "{}: {json:#}", case.what);
        assert_eq!(exit, case.exit, "{}: {json:#}", case.what);
        assert_eq!(json["exit_code"], case.exit, "{}", case.what);
        for (field, want) in case.deciding {
            assert_eq!(
                json["deciding"][field], *want,
                "{}: deciding.{field}: {json:#}",
                case.what
            );
        }
        let reason = json["reason"].as_str().unwrap();
        for want in case.reason {
            assert!(reason.contains(want), "{}: {reason}", case.what);
        }
        match case.outcome {
            // SES's verification refusal: `run` files it under authorization too.
            "authorization_denied" if case.from.ends_with("@unverified.example") => assert!(
                json["reply"]
                    .as_str()
                    .unwrap()
                    .starts_with("554 Message rejected: Email address is not verified."),
                "{}",
                case.what
            ),
            "authorization_denied" => assert_eq!(
                json["reply"],
                format!(
                    "554 Access denied: User `arn:aws:iam::123456789012:user/{}' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:us-east-1:123456789012:identity/example.com'",
                    case.user
                ),
                "{}",
                case.what
            ),
            "authentication_failed" => assert_eq!(
                json["reply"], "535 Authentication Credentials Invalid",
                "{}",
                case.what
            ),
            _ => assert!(json["reply"].is_null(), "{}", case.what),
        }
        assert_eq!(json["user"], case.user, "{}", case.what);
    }
}

#[test]
fn unknown_keys_unknown_addresses_and_calls_moto_lacks() {
    let moto = Moto::start(&account());
    // A key of another account (AWS's documented example key): IAM here does not know it.
    let (exit, json) = diagnose(
        &moto,
        "AKIAI44QH8DHBEXAMPLE",
        "app@example.com",
        &["someone@example.com"],
        "unknown",
    );
    assert_eq!(
        (exit, json["outcome"].as_str()),
        (6, Some("authentication_failed"))
    );
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("unknown to account 123456789012"),
        "{json:#}"
    );
    assert!(json["user"].is_null());

    // Source IP unknown: the verdict says what the policy requires.
    let (_, json) = diagnose(
        &moto,
        &moto.key("smtp-app"),
        "app@example.com",
        &["someone@example.com"],
        "unknown",
    );
    let not_checked: Vec<&str> = json["not_checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        not_checked
            .iter()
            .any(|n| n.contains("applies only when: aws:SourceIp IpAddress [198.51.100.0/24]")),
        "{not_checked:#?}"
    );
    // moto 5.2.5 does not implement SES v2 GetAccount: sandbox and quota are "not checked",
    // and so is whether recipients must be verified, while everything else is.
    assert!(
        not_checked
            .iter()
            .any(|n| n.contains("sesv2:GetAccount: this endpoint does not implement it")),
        "{not_checked:#?}"
    );
    // Whether recipients must be verified matters once IAM allows the send.
    let (_, json) = diagnose(
        &moto,
        &moto.key("sender"),
        "app@example.com",
        &["someone@example.com"],
        "203.0.113.5",
    );
    assert_eq!(json["outcome"], "accepted", "{json:#}");
    assert!(
        json["not_checked"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("whether the recipients must be verified")),
        "{json:#}"
    );
    // What it can never see is always listed.
    for never in [
        "service control policies",
        "sending-authorization",
        "VPC endpoint",
    ] {
        assert!(
            not_checked.iter().any(|n| n.contains(never)),
            "{never}: {not_checked:#?}"
        );
    }
}

#[test]
fn text_output_and_missing_credentials() {
    let moto = Moto::start(&account());
    let args: Vec<String> = [
        "aws",
        "diagnose",
        "--user",
        &moto.key("smtp-app"),
        "--region",
        "us-east-1",
        "--from",
        "app@example.com",
        "--to",
        "someone@example.com",
        "--source-ip",
        "203.0.113.5",
    ]
    .map(String::from)
    .to_vec();
    let out = smtpscope(&args, &moto.env());
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(
        text.contains("predicted: authorization_denied (exit 9)"),
        "{text}"
    );
    assert!(
        text.contains(
            "deciding: statement #1 (Sid AllowOfficeOnly) of the inline policy ses-from-office on user smtp-app: aws:SourceIp 203.0.113.5 not in 198.51.100.0/24"
        ),
        "{text}"
    );

    // Without API credentials: said in plain words, exit 1, no call guessed.
    let env: Vec<(&str, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    let out = smtpscope(&args, &env);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no AWS API credentials found"), "{text}");

    // A control character in an argument is refused before anything is read.
    let mut bad = args.clone();
    bad[7] = "app@example.com\r\nRSET".into();
    let out = smtpscope(&bad, &moto.env());
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
}

/// The simulator with the moto account's users: the same access key IDs, user names and
/// policies, the same verified domain, and the connection seen as 203.0.113.5. (The
/// simulator has no permissions boundaries, so the boundary case stays with moto; the
/// inactive key is left out, as SES treats it like an unknown one.)
fn sim_toml(moto: &Moto, dir: &Path) -> String {
    let spec = account();
    let mut toml = String::from(
        "region = \"us-east-1\"\naccount = \"123456789012\"\nsandbox = false\n\
         verified_identities = [\"example.com\"]\napparent_source_ip = \"203.0.113.5\"\n\
         [listen]\nstarttls = \"127.0.0.1:0\"\nimplicit = \"off\"\n",
    );
    let write = |name: &str, doc: &Value| {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, doc.to_string()).unwrap();
        format!("\"{}\"", path.display())
    };
    for (user, policies) in [
        (
            "smtp-app",
            vec![(
                "ses-from-office",
                &spec["users"]["smtp-app"]["inline"]["ses-from-office"],
            )],
        ),
        (
            "contractor",
            vec![
                (
                    "deny-outside",
                    &spec["groups"]["contractors"]["inline"]["deny-outside"],
                ),
                ("ses-send", &spec["managed_policies"]["ses-send"]),
            ],
        ),
        (
            "noreply-only",
            vec![(
                "from-noreply",
                &spec["users"]["noreply-only"]["inline"]["from-noreply"],
            )],
        ),
        (
            "example-recipients",
            vec![(
                "to-example",
                &spec["users"]["example-recipients"]["inline"]["to-example"],
            )],
        ),
        (
            "sender",
            vec![("ses-send", &spec["managed_policies"]["ses-send"])],
        ),
    ] {
        let files: Vec<String> = policies.iter().map(|(n, d)| write(n, d)).collect();
        let _ = write!(
            toml,
            "[[user]]\nname = \"{user}\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\npolicy = [{}]\n",
            moto.key(user),
            secret(user),
            files.join(", ")
        );
    }
    toml
}

/// A made-up secret access key (40 characters, marked EXAMPLE) for a simulator user.
fn secret(user: &str) -> String {
    format!("EXAMPLE/{user}/{}", "x".repeat(40))[..40].to_string()
}

/// The simulator with moto's users, keys and policies (STARTTLS only), its files in `dir`.
async fn sim_for(moto: &Moto, dir: &Path) -> sim_support::TestSim {
    let mut config = sim_support::config_from(&sim_toml(moto, dir));
    sim_support::on_port_zero(&mut config);
    config.listen.implicit = None;
    sim_support::start(config).await
}

#[tokio::test(flavor = "multi_thread")]
async fn predictions_match_what_the_simulator_answers() {
    let moto = Moto::start(&account());
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_for(&moto, dir.path()).await;
    let cases: [(&str, &str, &[&str]); 8] = [
        ("smtp-app", "app@example.com", &["someone@example.com"]),
        (
            "contractor",
            "app@example.com",
            &["someone@example.com", "friend@gmail.example"],
        ),
        ("contractor", "app@example.com", &["someone@example.com"]),
        ("noreply-only", "app@example.com", &["someone@example.com"]),
        (
            "noreply-only",
            "noreply@example.com",
            &["someone@example.com"],
        ),
        ("example-recipients", "app@example.com", &["a@example.org"]),
        ("retired", "app@example.com", &["someone@example.com"]),
        ("sender", "app@unverified.example", &["someone@example.com"]),
    ];
    for (user, from, to) in cases {
        let key = moto.key(user);
        let (predicted_exit, predicted) =
            tokio::task::block_in_place(|| diagnose(&moto, &key, from, to, "203.0.113.5"));
        let password = smtpscope::engine::ses::derive_smtp_password(&secret(user), "us-east-1");
        let mut args = sim.run_args(&key, from, to);
        args.push("--aws-check".into());
        args.extend(["--aws-source-ip".into(), "203.0.113.5".into()]);
        let mut env = moto.env();
        env.push(("SMTPSCOPE_PASSWORD", password.clone()));
        let out = tokio::task::block_in_place(|| smtpscope(&args, &env));
        let text = common::text(&out);
        common::assert_no_secret(&text, &key, &password);
        let lines = common::json_lines(&out);
        let summary = lines
            .iter()
            .find(|l| l["type"] == "summary")
            .unwrap_or_else(|| panic!("{user}: no summary: {text}"));
        assert_eq!(
            summary["outcome"], predicted["outcome"],
            "{user} from {from} to {to:?}: predicted {predicted:#}\nobserved {text}"
        );
        assert_eq!(out.status.code(), Some(predicted_exit), "{user}: {text}");
        // The deciding reply is the one predicted, word for word.
        if let Some(reply) = predicted["reply"].as_str() {
            let observed: Vec<String> = common::replies(&lines)
                .iter()
                .filter_map(|r| Some(format!("{} {}", r["code"], r["text"].as_str()?)))
                .collect();
            assert!(
                observed.iter().any(|o| o == reply),
                "{user}: predicted {reply:?}, observed {observed:#?}"
            );
        }
        // run --aws-check ran the same check after the failure and put it in the summary.
        if summary["outcome"] == "accepted" {
            assert!(summary.get("aws_check").is_none(), "{user}: {summary:#}");
        } else {
            assert_eq!(
                summary["aws_check"]["outcome"], predicted["outcome"],
                "{user}: {summary:#}"
            );
            assert_eq!(summary["aws_check"]["deciding"], predicted["deciding"]);
        }
    }
}

/// The debugger's `A` after the 554: against the simulator configured with the account's
/// users, the panel names the statement that decided, read from moto through the SDK.
#[tokio::test(flavor = "multi_thread")]
async fn the_debuggers_a_key_names_the_deciding_statement_after_the_554() {
    let moto = Moto::start(&account());
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_for(&moto, dir.path()).await;
    let key = moto.key("contractor");
    let password = smtpscope::engine::ses::derive_smtp_password(&secret("contractor"), "us-east-1");
    let env: Vec<String> = moto
        .env()
        .iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect();
    let run_args = sim.run_args(&key, "app@example.com", &["friend@gmail.example"]);
    // The target options of `run` (those before --json, without "run") start the debugger.
    let json = run_args.iter().position(|a| a == "--json").unwrap();
    let target = run_args[1..json].join(" ");
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let tmux = common::tmux::Tmux::new("aws-a");
    tmux.start(
        dir.path(),
        200,
        50,
        &format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color {} SMTPSCOPE_PASSWORD='{password}' \
             {bin} {target} --to friend@gmail.example --connect; echo EXITED $?; sleep 30",
            env.join(" ")
        ),
    );
    tokio::task::block_in_place(|| {
        tmux.wait_for("SimpleEmailService");
        tmux.enter_until("554 Access denied", 14);
        tmux.keys(&["A"]);
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let screen = loop {
            let screen = tmux.screen();
            if flat(&screen).contains("DenyOutsideRecipients")
                || std::time::Instant::now() > deadline
            {
                break screen;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        println!("--- after A ---\n{screen}");
        let flat = flat(&screen);
        assert!(
            flat.contains("Sid DenyOutsideRecipients"),
            "no deciding statement:\n{screen}"
        );
        assert!(flat.contains("deny-outside on group"), "{screen}");
        assert!(!screen.contains("wJalrXUtnFEMI"), "the API secret leaked");
        assert!(!screen.contains(&password), "the SMTP password leaked");
        tmux.keys(&["q"]);
        tmux.wait_for("EXITED");
    });
}
