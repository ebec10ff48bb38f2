//! Shared test helpers: independent peers, test PKI, running the binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod postfix;
pub mod prometheus;
pub mod tmux;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// The Python with aiosmtpd, installed by `.ci/test`.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SMTPSCOPE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "the independent SMTP peers need Python with aiosmtpd: run `bash .ci/test` once (it creates .venv), or set SMTPSCOPE_TEST_PYTHON"
    );
    venv
}

pub fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ses_peer.py")
}

/// A child server that printed `READY <port>`; killed on drop.
pub struct Peer {
    pub child: Child,
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server process and waits (at most 20 s) for its `READY <port>` line.
pub fn start_ready(mut cmd: Command) -> Peer {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start peer");
    let stdout = child.stdout.take().expect("peer stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(port) = line.strip_prefix("READY ") {
                let _ = tx.send(port.trim().parse::<u16>().ok());
                break;
            }
        }
        // Keep draining so the peer never blocks on a full pipe.
        for _ in lines {}
    });
    let port = rx.recv_timeout(Duration::from_secs(20)).ok().flatten();
    let mut peer = Peer { child, port: 0 };
    peer.port = port.unwrap_or_else(|| panic!("peer did not print READY <port> within 20 s"));
    peer
}

/// The aiosmtpd peer that imitates SES.
pub fn start_ses_peer(host: &str, tls: &str, pki: Option<&Pki>, extra: &[&str]) -> Peer {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script())
        .args(["--host", host, "--port", "0", "--tls", tls]);
    if let Some(p) = pki {
        cmd.arg("--cert")
            .arg(&p.leaf_pem)
            .arg("--key")
            .arg(&p.leaf_key);
    }
    cmd.args(extra);
    start_ready(cmd)
}

/// A CA and a leaf certificate written to a temporary folder.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: PathBuf,
    pub leaf_pem: PathBuf,
    pub leaf_key: PathBuf,
}

/// How the leaf should be made.
pub struct LeafSpec<'a> {
    pub names: &'a [&'a str],
    pub expired: bool,
    /// Sign by an intermediate and leave it out of the served chain.
    pub missing_intermediate: bool,
    /// A self-signed leaf, no CA at all.
    pub self_signed: bool,
    /// The CA's common name (the leaf's issuer).
    pub ca_name: &'a str,
}

impl Default for LeafSpec<'_> {
    fn default() -> Self {
        LeafSpec {
            names: &["localhost", "127.0.0.1", "::1"],
            expired: false,
            missing_intermediate: false,
            self_signed: false,
            ca_name: "smtpscope test CA",
        }
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

pub fn make_pki(spec: LeafSpec<'_>) -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let names: Vec<String> = spec
        .names
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    let mut leaf = CertificateParams::new(names).expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, spec.names[0]);
    if spec.expired {
        leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let leaf_key = KeyPair::generate().expect("key");
    let ca_key = KeyPair::generate().expect("key");
    let ca = ca_params(spec.ca_name);
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let leaf_cert = if spec.self_signed {
        leaf.self_signed(&leaf_key).expect("self-signed leaf")
    } else if spec.missing_intermediate {
        let int_key = KeyPair::generate().expect("key");
        let int = ca_params("smtpscope test intermediate");
        let int_issuer = Issuer::new(ca.clone(), &ca_key);
        let _int_cert = int.signed_by(&int_key, &int_issuer).expect("intermediate");
        let issuer = Issuer::new(int, &int_key);
        leaf.signed_by(&leaf_key, &issuer).expect("leaf")
    } else {
        let issuer = Issuer::new(ca.clone(), &ca_key);
        leaf.signed_by(&leaf_key, &issuer).expect("leaf")
    };
    let ca_pem = dir.path().join("ca.pem");
    let leaf_pem = dir.path().join("leaf.pem");
    let leaf_key_path = dir.path().join("leaf.key");
    std::fs::write(&ca_pem, ca_cert.pem()).expect("write ca");
    std::fs::write(&leaf_pem, leaf_cert.pem()).expect("write leaf");
    std::fs::write(&leaf_key_path, leaf_key.serialize_pem()).expect("write key");
    Pki {
        dir,
        ca_pem,
        leaf_pem,
        leaf_key: leaf_key_path,
    }
}

/// The smtpscope binary with `args`, a clean environment plus `env`.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
    cmd.args(args)
        .env_remove("SMTPSCOPE_PASSWORD")
        .env_remove("SMTPSCOPE_USER")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("SMTPSCOPE_OAUTH_TOKEN");
    cmd.env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the smtpscope binary with a clean environment plus `env`.
pub fn smtpscope(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env)
        .stdin(Stdio::null())
        .output()
        .expect("run smtpscope")
}

/// [`smtpscope`] with `input` piped to its standard input (then closed).
pub fn smtpscope_stdin(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    output_with_stdin(&mut command(args, env), input)
}

/// Runs `cmd` with `input` piped to its standard input (then closed) and collects its output.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    // A program that stops reading early closes the pipe: its output says why.
    let _ = stdin.write_all(input);
    drop(stdin);
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {program}: {e}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Parses `--json` output into objects.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn replies(lines: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    lines.iter().filter(|v| v["type"] == "reply").collect()
}

/// The shortest piece of a secret form that counts as a leak. A secret cut short by an
/// error message's preview, or masked only in part, still leaks when this much of it shows.
pub const LEAK_RUN: usize = 12;

/// The forms a password can leak in, each with the index of its first character that carries
/// bits of the password (characters before it encode only the user name and the NULs):
/// the password itself, base64 of it (AUTH LOGIN), base64 of `\0user\0password` (AUTH
/// PLAIN) and base64 of `user\0password` (PLAIN without the empty authzid).
pub fn secret_forms(user: &str, password: &str) -> Vec<(String, usize)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // A base64 character at index i holds bits 6i..6i+6; the password starts at bit 8*prefix.
    let first_secret_char = |prefix: usize| (8 * prefix).saturating_sub(5).div_ceil(6);
    vec![
        (password.to_string(), 0),
        (b64.encode(password), 0),
        (
            b64.encode(format!("\0{user}\0{password}")),
            first_secret_char(user.len() + 2),
        ),
        (
            b64.encode(format!("{user}\0{password}")),
            first_secret_char(user.len() + 1),
        ),
    ]
}

/// Asserts that no form of the password appears in `haystack`, whole or as any run of
/// [`LEAK_RUN`] characters that carries part of the password.
pub fn assert_no_secret(haystack: &str, user: &str, password: &str) {
    for (form, secret_from) in secret_forms(user, password) {
        assert!(!haystack.contains(&form), "secret form {form:?} leaked");
        if form.len() < LEAK_RUN {
            continue;
        }
        for start in 0..=form.len() - LEAK_RUN {
            if start + LEAK_RUN <= secret_from {
                continue; // only the user name's part of the blob
            }
            let run = &form[start..start + LEAK_RUN];
            assert!(
                !haystack.contains(run),
                "{LEAK_RUN} characters of secret form {form:?} leaked: {run:?}"
            );
        }
    }
}
