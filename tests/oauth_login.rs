//! `smtpscope oauth login` and `oauth token` against a mock authorization server
//! (`tests/peers/oauth_server.py`, stdlib Python, on 127.0.0.1): the device code flow with
//! pending → `slow_down` → approval, the cache (0600, the refresh token only), refresh with
//! rotation, refusals and their exit codes, app-only sending, and no token on stderr.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Peer, python, start_ready};

fn start_mock(extra: &[&str]) -> Peer {
    let mut cmd = Command::new(python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/oauth_server.py"))
        .args(extra);
    start_ready(cmd)
}

/// One HTTP/1.0 request to the mock; the body of its answer.
fn http(port: u16, method: &str, path: &str, form: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

fn state(port: u16) -> serde_json::Value {
    serde_json::from_str(&http(port, "GET", "/_state", "")).unwrap()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn command(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
    cmd.args(args)
        .env("SMTPSCOPE_DATA_DIR", data)
        .env_remove("SMTPSCOPE_OAUTH_CLIENT_ID")
        .env_remove("SMTPSCOPE_OAUTH_CLIENT_SECRET")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(data, args, env).output().unwrap()
}

fn custom_args(port: u16) -> Vec<String> {
    vec![
        "--provider".into(),
        "custom".into(),
        "--device-url".into(),
        format!("http://127.0.0.1:{port}/devicecode"),
        "--token-url".into(),
        format!("http://127.0.0.1:{port}/token"),
        "--client-id".into(),
        "test-app".into(),
        "--scope".into(),
        "smtp offline_access".into(),
    ]
}

/// Runs `oauth login`, playing the user: reads the code from stderr and approves it at the
/// mock (or denies it, or does nothing). Returns the output and the code shown.
fn login(port: u16, data: &Path, extra: &[&str], user: Option<&str>) -> (Output, String) {
    let mut args: Vec<String> = vec!["oauth".into(), "login".into()];
    args.extend(custom_args(port));
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = command(data, &args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some((_, code)) = line.split_once("enter the code ") {
                let _ = tx.send(code.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let code = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    if let Some(action) = user {
        assert!(!code.is_empty(), "no code shown");
        let answer = http(port, "POST", action, &format!("user_code={code}"));
        assert!(answer.contains("\"ok\""), "{answer}");
    }
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_mins(1), "login hangs");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let stderr = reader.join().unwrap().into_bytes();
    (
        Output {
            status,
            stdout,
            stderr,
        },
        code,
    )
}

fn cache_file(data: &Path) -> PathBuf {
    data.join("oauth-logins.json")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn assert_no_token(text: &str, port: u16) {
    let s = state(port);
    for t in strings(&s["access_tokens"])
        .into_iter()
        .chain(strings(&s["refresh_tokens"]))
    {
        assert!(!text.contains(&t), "a token leaked: {text}");
    }
}

#[test]
fn device_login_caches_the_refresh_token_and_token_refreshes_with_rotation() {
    let mock = start_mock(&[]);
    let port = mock.port;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let (out, code) = login(port, &data, &[], Some("/_approve"));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!code.is_empty());
    assert!(out.stdout.is_empty(), "login prints nothing on stdout");
    assert!(err.contains("Signed in."), "{err}");
    assert!(
        err.contains("smtpscope oauth token --provider custom"),
        "{err}"
    );
    assert_no_token(&err, port);

    // The polls went pending → slow_down → … → success, and slow_down was honored: the
    // next poll came at least interval + 5 s later.
    let s = state(port);
    let polls = s["polls"].as_array().unwrap();
    let answers: Vec<&str> = polls
        .iter()
        .map(|p| p["answer"].as_str().unwrap())
        .collect();
    assert_eq!(
        answers[..2],
        ["authorization_pending", "slow_down"],
        "{answers:?}"
    );
    assert_eq!(answers.last(), Some(&"success"), "{answers:?}");
    let t = |i: usize| polls[i]["time"].as_f64().unwrap();
    assert!(
        t(2) - t(1) >= 5.5,
        "slow_down not honored: {:.1} s",
        t(2) - t(1)
    );
    assert!(
        t(1) - t(0) >= 0.9,
        "interval not honored: {:.1} s",
        t(1) - t(0)
    );

    // The cache: 0600, the refresh token, no access token, no client secret.
    let path = cache_file(&data);
    let cached = std::fs::read_to_string(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
    let first_rt = strings(&s["refresh_tokens"])[0].clone();
    let first_at = strings(&s["access_tokens"])[0].clone();
    assert!(cached.contains(&first_rt), "{cached}");
    assert!(
        !cached.contains(&first_at),
        "the access token is not cached"
    );
    assert!(!cached.contains("at-"), "no access token at all");

    // `oauth token`: one line on stdout, the new access token; the rotated refresh token is
    // cached in place of the old one.
    for round in 1..=2 {
        let out = run(&data, &["oauth", "token", "--provider", "custom"], &[]);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        let s = state(port);
        let issued = strings(&s["access_tokens"]);
        let rts = strings(&s["refresh_tokens"]);
        assert_eq!(issued.len(), 1 + round);
        assert_eq!(
            String::from_utf8(out.stdout.clone()).unwrap(),
            format!("{}\n", issued[round]),
            "stdout is the fresh token and a line break, nothing else"
        );
        assert_no_token(&err, port);
        let cached = std::fs::read_to_string(&path).unwrap();
        assert!(cached.contains(&rts[round]), "the rotated token is cached");
        assert!(!cached.contains(&rts[round - 1]), "the old one is gone");
        let req = s["requests"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(req["grant_type"], "refresh_token");
        assert_eq!(req["client_id"], "test-app");
    }

    // As a --token-command: its first line is the token, through a shell.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' oauth token --provider custom --client-id test-app | head -n 1",
            env!("CARGO_BIN_EXE_smtpscope")
        ))
        .env("SMTPSCOPE_DATA_DIR", &data)
        .output()
        .unwrap();
    let issued = strings(&state(port)["access_tokens"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        issued.last().unwrap()
    );

    // A revoked login: a clear error naming the command to run, exit 6, no token anywhere.
    http(port, "POST", "/_revoke", "");
    let out = run(&data, &["oauth", "token", "--provider", "custom"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(out.stdout.is_empty());
    assert!(err.contains("invalid_grant"), "{err}");
    assert!(err.contains("no longer valid"), "{err}");
    let next = format!(
        "Next: run `smtpscope oauth login --provider custom --client-id test-app \
         --device-url http://127.0.0.1:{port}/devicecode --token-url http://127.0.0.1:{port}/token`"
    );
    assert!(err.contains(&next), "{err}");
    assert!(
        !err.contains("Trace ID"),
        "only the description's first line: {err}"
    );
    assert_no_token(&err, port);
}

#[test]
fn no_cached_login_and_ambiguous_logins_say_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["oauth", "token", "--provider", "microsoft"],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no cached microsoft login"), "{err}");
    assert!(
        err.contains("Next: run `smtpscope oauth login --provider microsoft --client-id YOUR-CLIENT-ID` first"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_declined_or_unapproved_sign_in_is_a_refusal_and_nothing_is_cached() {
    let mock = start_mock(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = login(mock.port, dir.path(), &[], Some("/_deny"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("access_denied"), "{err}");
    assert!(err.contains("declined"), "{err}");
    assert!(!cache_file(dir.path()).exists());

    let start = Instant::now();
    let (out, _) = login(mock.port, dir.path(), &["--timeout", "3"], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("not approved within 3 s"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "the wait is bounded"
    );
    assert!(!cache_file(dir.path()).exists());
}

#[test]
fn the_code_expiring_is_reported() {
    let mock = start_mock(&["--expires-in", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = login(mock.port, dir.path(), &[], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("expired") || err.contains("not approved within 2 s"),
        "{err}"
    );
}

#[test]
fn app_only_uses_client_credentials_and_the_secret_stays_out_of_output() {
    let mock = start_mock(&["--client-id", "app-1", "--client-secret", "s3cret-value"]);
    let dir = tempfile::tempdir().unwrap();
    let authority = format!("http://127.0.0.1:{}", mock.port);
    let args = [
        "oauth",
        "token",
        "--provider",
        "microsoft",
        "--app-only",
        "--tenant",
        "contoso.onmicrosoft.com",
        "--client-id",
        "app-1",
        "--authority",
        &authority,
    ];
    let out = run(
        dir.path(),
        &args,
        &[("SMTPSCOPE_OAUTH_CLIENT_SECRET", "s3cret-value")],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let s = state(mock.port);
    let req = s["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(req["grant_type"], "client_credentials");
    assert_eq!(req["path"], "/contoso.onmicrosoft.com/oauth2/v2.0/token");
    assert_eq!(req["has_secret"], true);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", strings(&s["access_tokens"])[0])
    );
    assert!(!cache_file(dir.path()).exists(), "app-only caches nothing");
    assert_no_token(&err, mock.port);

    // The secret from a file, wrong: invalid_client, exit 6, the secret not shown.
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "wrong-secret-xyz\n").unwrap();
    let mut with_file: Vec<&str> = args.to_vec();
    with_file.extend(["--client-secret-file", secret_file.to_str().unwrap()]);
    let out = run(dir.path(), &with_file, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("invalid_client"), "{err}");
    assert!(
        !err.contains("wrong-secret-xyz") && !err.contains("s3cret"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // No secret at all: a usage error before anything is sent.
    let out = run(dir.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SMTPSCOPE_OAUTH_CLIENT_SECRET"));
}

#[test]
fn an_unreachable_server_is_exit_3_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let authority = format!("http://127.0.0.1:{port}");
    let out = run(
        dir.path(),
        &[
            "oauth",
            "token",
            "--provider",
            "microsoft",
            "--app-only",
            "--tenant",
            "t1",
            "--client-id",
            "a",
            "--authority",
            &authority,
        ],
        &[("SMTPSCOPE_OAUTH_CLIENT_SECRET", "x")],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("cannot connect to 127.0.0.1"), "{err}");

    for (args, says) in [
        (
            vec!["oauth", "login", "--provider", "custom", "--client-id", "a"],
            "--token-url",
        ),
        (
            vec![
                "oauth",
                "login",
                "--provider",
                "microsoft",
                "--client-id",
                "a\r\nb",
            ],
            "control character",
        ),
        (
            vec![
                "oauth",
                "login",
                "--provider",
                "google",
                "--client-id",
                "a",
                "--token-url",
                "http://example.com/token",
            ],
            "plain http is allowed to this machine only",
        ),
        (
            vec!["oauth", "login", "--provider", "google", "--client-id", "a"],
            "needs the client secret",
        ),
        (
            vec!["oauth", "login", "--provider", "microsoft"],
            "--client-id is needed",
        ),
    ] {
        let out = run(dir.path(), &args, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn the_help_says_the_token_is_a_secret() {
    let out = common::smtpscope(&["oauth", "token", "--help"], &[]);
    let text = common::text(&out);
    assert!(text.contains("secret"), "{text}");
    assert!(text.contains("credential helper"), "{text}");
    let out = common::smtpscope(&["oauth", "login", "--help"], &[]);
    let text = common::text(&out);
    assert!(text.contains("keyring is not used"), "{text}");
    assert!(text.contains("mode 0600"), "{text}");
}

#[test]
fn completions_and_the_man_page_know_the_oauth_commands() {
    let bash = common::text(&common::smtpscope(&["completions", "bash"], &[]));
    for word in [
        "oauth",
        "login",
        "token",
        "--client-secret-file",
        "--app-only",
    ] {
        assert!(
            bash.contains(word),
            "{word} missing from the bash completion"
        );
    }
    let man = common::text(&common::smtpscope(&["man"], &[]));
    assert!(man.contains("oauth"), "the man page lists oauth");
}

/// The chain a user sets up: `oauth login` once, then `run --auth xoauth2 --token-command
/// 'smtpscope oauth token …'` against Postfix with Dovecot's oauth2 passdb, whose
/// introspection endpoint knows the access token this authorization server issues. Revoking
/// the login at the server makes the next run stop at the token command, in plain words,
/// before anything is sent.
#[test]
fn oauth_token_as_the_token_command_of_a_run_against_dovecot() {
    use common::postfix::{OAUTH_GOOD_TOKEN, PostfixOptions, PostfixPeer};
    let mock = start_mock(&["--access-token", OAUTH_GOOD_TOKEN]);
    let port = mock.port;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (out, _) = login(port, &data, &[], Some("/_approve"));
    assert!(out.status.success(), "{}", stderr(&out));

    let peer = PostfixPeer::start_with(&PostfixOptions {
        implicit_tls: false,
        oauth2: true,
        ..PostfixOptions::default()
    });
    // `oauth token` finds the endpoint and client saved at login.
    let token_command = format!(
        "'{}' oauth token --provider custom",
        env!("CARGO_BIN_EXE_smtpscope")
    );
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(peer.target_args());
    args.extend(
        [
            "--user",
            "good",
            "--auth",
            "xoauth2",
            "--token-command",
            &token_command,
            "--from",
            "sender@example.com",
            "--to",
            "rcpt@example.net",
            "--timeout",
            "10",
            "--json",
        ]
        .map(String::from),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: [(&str, &str); 0] = [];

    let out = run(&data, &argv, &env);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("\"outcome\":\"accepted\""),
        "Dovecot accepted the token the command fetched: {all}"
    );
    assert!(!all.contains(OAUTH_GOOD_TOKEN), "the token leaked: {all}");
    assert_no_token(&all, port);
    let refreshes = state(port)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["grant_type"] == "refresh_token")
        .count();
    assert_eq!(refreshes, 1, "the token command refreshed once");

    // The login revoked at the server: the token command fails, and run says so.
    http(port, "POST", "/_revoke", "");
    let out = run(&data, &argv, &env);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("--token-command"), "{all}");
    assert!(
        !all.contains("\"type\":\"sent\""),
        "nothing is sent without a token: {all}"
    );
    assert!(!all.contains(OAUTH_GOOD_TOKEN), "the token leaked: {all}");
}
