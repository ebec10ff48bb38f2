//! End to end: the real binary in a real pseudo-terminal (tmux), against a scripted SES-like
//! server on 127.0.0.1, walked with Enter through the 554 authorization case; then the saved
//! transcript opened with `smtpscope replay`; and `smtpscope demo` through its picker and the
//! demo's scenarios. tmux is installed by `.ci/test`; without it these tests fail.

mod common;

use common::tmux::Tmux;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

const ACCESS_DENIED: &str = "554 Access denied: User `arn:aws:iam::123456789012:user/ses-smtp-user.20230808-000000' is not authorized to perform `ses:SendRawEmail' on resource `arn:aws:ses:ap-northeast-1:123456789012:identity/example.com'";

/// Answers one session like SES for a user whose IAM policy denies sending.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream).lines();
    out.write_all(b"220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-E2E\r\n")?;
    while let Some(line) = lines.next() {
        let line = line?;
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &str = match verb.as_str() {
            "EHLO" => {
                "250-email-smtp.amazonaws.com\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 Ok"
            }
            "AUTH" => "235 Authentication successful.",
            "MAIL" | "RCPT" => "250 Ok",
            "DATA" => {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                for body in lines.by_ref() {
                    if body?.trim_end_matches('\r') == "." {
                        break;
                    }
                }
                ACCESS_DENIED
            }
            "QUIT" => {
                out.write_all(b"221 Bye\r\n")?;
                return Ok(());
            }
            _ => "502 Command not implemented",
        };
        out.write_all(reply.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

#[test]
fn enter_walks_to_the_554_and_the_screen_names_it_authorization() {
    assert!(
        Tmux::available(),
        "tmux is needed for the pseudo-terminal tests: run `bash .ci/test` (it installs tmux)"
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve(stream);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let tmux = Tmux::new("554");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!(
            "env SMTPSCOPE_PASSWORD=e2e-secret-pw {bin} --host 127.0.0.1 --port {port} --tls none \
             --user AKIAIOSFODNN7EXAMPLE --from policy-fail@example.com --to xxxxx@example.com \
             --ehlo mail.example.com; echo EXITED $?; sleep 30"
        ),
    );
    tmux.wait_for("Next: connect");
    let steps = [
        "Next: EHLO",
        "Next: AUTH",
        // Without TLS, Next opens the AUTH form to show the warning first.
        "No TLS on this connection",
        "Next: MAIL",
        "Next: RCPT",
        "Next: DATA",
        "Next: message",
        "554 Access denied",
    ];
    for want in steps {
        tmux.keys(&["Enter"]);
        tmux.wait_for(want);
    }
    let screen = tmux.wait_for("Verdict: Authenticated; authorization denied after DATA");
    assert!(screen.contains("authorization"), "{screen}");
    assert!(
        screen.contains("arn:aws:iam::123456789012:user/ses-smtp-user.20230808-000000"),
        "{screen}"
    );
    assert!(
        screen.contains("✓AUTH") && screen.contains("✗\".\""),
        "{screen}"
    );
    assert!(!screen.contains("e2e-secret-pw"));
    println!("--- the 554 screen at 100x30 ---\n{screen}");

    // Save, leave (QUIT is sent first), and check the terminal is given back.
    tmux.keys(&["w"]);
    tmux.wait_for("Saved (redacted)");
    tmux.keys(&["q"]);
    let after = tmux.wait_for("EXITED 0");
    assert!(
        !after.contains("Transcript"),
        "alternate screen left behind:\n{after}"
    );

    let saved: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let text = std::fs::read_to_string(saved[0].with_extension("txt")).expect("txt saved");
    assert!(text.contains("554 Access denied"), "{text}");
    assert!(!text.contains("e2e-secret-pw"));

    let replay = Tmux::new("replay");
    replay.start(
        dir.path(),
        100,
        30,
        &format!(
            "{bin} replay {}; echo EXITED $?; sleep 30",
            saved[0].display()
        ),
    );
    let screen = replay.wait_for("read-only");
    assert!(
        screen.contains("Authenticated; authorization denied after DATA"),
        "{screen}"
    );
    replay.keys(&["Enter"]);
    replay.wait_for("nothing can be sent");
    replay.keys(&["q"]);
    replay.wait_for("EXITED 0");
}

#[test]
fn demo_picker_then_enter_reaches_the_554_authorization_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let tmux = Tmux::new("demo554");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!("{bin} demo; echo EXITED $?; sleep 30"),
    );
    tmux.wait_for("Which session");
    tmux.wait_for("ip-restricted");
    tmux.keys(&["3"]);
    tmux.wait_for("IAM allows only another source IP");
    // The scenario notes quote the decisive reply: wait for the greeting, so they are gone.
    tmux.wait_for("220 email-smtp");
    let screen = tmux.enter_until("554 Access denied", 14);
    let screen = tmux.showing(screen, "Verdict:");
    println!("--- demo ip-restricted at 100x30 ---\n{screen}");
    assert!(
        screen.contains("Verdict: Authenticated; authorization denied after DATA"),
        "{screen}"
    );
    assert!(screen.contains("[authorization]"), "{screen}");
    assert!(screen.contains("user/ip-restricted"), "{screen}");
    assert!(screen.contains("TLS 1.3 verified"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
}

#[test]
fn demo_wrong_password_stops_at_auth_and_names_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let tmux = Tmux::new("demo535");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!("{bin} demo --scenario wrong-password; echo EXITED $?; sleep 30"),
    );
    tmux.wait_for("a wrong password");
    let screen = tmux.enter_until("535 Authentication", 10);
    let screen = tmux.showing(screen, "Verdict: Authentication failed at AUTH");
    assert!(screen.contains("[authentication]"), "{screen}");
    assert!(
        !screen.contains("authorization denied"),
        "a 535 is never authorization: {screen}"
    );
    // Next goes on to MAIL FROM, where SES answers 530: the learner sees both.
    let screen = tmux.enter_until("530 Authentication required", 4);
    println!("--- demo wrong-password at 100x30 ---\n{screen}");
    assert!(
        screen.contains("Verdict: Authentication failed at AUTH"),
        "{screen}"
    );
    assert!(
        !screen.contains("abcdefg"),
        "the typed password must not show"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
}

/// The debugger against the aiosmtpd peer dressed as SES, trusting its CA with `--ca-file`,
/// connected at start, with USER's password in the environment.
fn debugger_against_peer(
    tag: &str,
    peer_args: &[&str],
    user: &str,
    password: &str,
    extra: &str,
) -> (Tmux, common::Peer, common::Pki, tempfile::TempDir) {
    let pki = common::make_pki(common::LeafSpec::default());
    let mut args = peer_args.to_vec();
    args.push("--require-tls-for-auth");
    let peer = common::start_ses_peer("127.0.0.1", "starttls", Some(&pki), &args);
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let tmux = Tmux::new(tag);
    tmux.start(dir.path(), 100, 30,
        &format!(
            "env SMTPSCOPE_PASSWORD='{password}' {bin} --host localhost --port {} --ca-file {} \
             --user {user} --from policy-fail@example.com --to xxxxx@example.com {extra} --connect; echo EXITED $?; sleep 30",
            peer.port,
            pki.ca_pem.display()
        ),
    );
    tmux.wait_for("SimpleEmailService");
    (tmux, peer, pki, dir)
}

/// The debugger against an independent server (aiosmtpd dressed as SES) with `--ca-file`:
/// Enter walks STARTTLS, AUTH, MAIL, RCPT and DATA to the 554 after the final ".".
#[test]
fn against_aiosmtpd_with_ca_file_enter_reaches_the_554() {
    let user = "AKIADENIEDEXAMPLE123";
    let password = "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd";
    let creds = format!("{user}:{password}");
    let deny = format!("{user}:arn:aws:iam::123456789012:user/ses-smtp-user.20230808-1");
    let (tmux, _peer, _pki, _dir) = debugger_against_peer(
        "aiosmtpd",
        &["--user", &creds, "--deny-user", &deny],
        user,
        password,
        "",
    );
    let screen = tmux.enter_until("554 Access denied", 14);
    let screen = tmux.showing(screen, "Verdict: Authenticated");
    assert!(screen.contains("TLS 1.3 verified"), "{screen}");
    assert!(
        screen.contains("Verdict: Authenticated; authorization denied after DATA"),
        "{screen}"
    );
    assert!(screen.contains("user/ses-smtp-user.20230808-1"), "{screen}");
    assert!(!screen.contains(password), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
}

/// AUTH LOGIN with a wrong password in the debugger, against aiosmtpd: Enter walks to the 535
/// that answers the password line, and the screen names authentication, not authorization.
#[test]
fn against_aiosmtpd_auth_login_535_is_authentication() {
    let user = "AKIAIOSFODNN7EXAMPLE";
    let creds = format!("{user}:BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9");
    let wrong = "BWrongPasswordForLogin0000000000000000000000";
    let (tmux, _peer, _pki, _dir) = debugger_against_peer(
        "aiosmtpd535",
        &["--user", &creds],
        user,
        wrong,
        "--auth login",
    );
    let screen = tmux.enter_until("535 Authentication Credentials Invalid", 10);
    let screen = tmux.showing(screen, "Verdict: Authentication failed at AUTH");
    println!("--- aiosmtpd AUTH LOGIN 535 at 100x30 ---\n{screen}");
    assert!(screen.contains("334 UGFzc3dvcmQ6"), "{screen}");
    assert!(screen.contains("[authentication]"), "{screen}");
    assert!(!screen.contains("authorization denied"), "{screen}");
    assert!(!screen.contains(wrong), "{screen}");
}

/// The screen's text with rows joined and spaces collapsed, so a wrapped line reads whole.
fn flat(screen: &str) -> String {
    screen.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A private copy of the binary under test: the build directory is shared, and another build
/// may replace the file while these tests run.
fn own_binary(dir: &std::path::Path) -> String {
    let to = dir.join("smtpscope-under-test");
    std::fs::copy(env!("CARGO_BIN_EXE_smtpscope"), &to).expect("copy the binary");
    to.display().to_string()
}

/// The first note (the teaching line) of each demo scenario.
fn teaching_lines() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo/scenarios.toml"
    ))
    .expect("scenarios.toml");
    let doc: toml::Table = toml::from_str(&text).expect("scenarios parse");
    doc["scenario"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| {
            let name = s["name"].as_str().expect("name").to_string();
            let note = s["notes"][0].as_str().expect("a note").to_string();
            (name, note)
        })
        .collect()
}

/// Every demo scenario at 80x24: the whole teaching line is on screen; Enter walks to the
/// reply that decides; after the simulator's idle timeout has closed the connection (a short
/// one here, `--idle-timeout 2`), that reply is still the one selected and explained.
#[test]
fn every_demo_scenario_at_80x24_keeps_the_decisive_reply_and_the_whole_teaching_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = own_binary(dir.path());
    let ends = [
        ("good", "Verdict: Authenticated and authorized", None),
        (
            "wrong-password",
            "535 Authentication",
            Some("Diagnosis ✗: 535"),
        ),
        (
            "ip-restricted",
            "554 Access denied",
            Some("Diagnosis ✗: 554"),
        ),
        (
            "loopback-policy",
            "554 Access denied",
            Some("Diagnosis ✗: 554"),
        ),
        ("sandbox", "554 Message rejected", Some("Diagnosis ✗: 554")),
    ];
    let teaching = teaching_lines();
    for (name, last, decisive) in ends {
        let tmux = Tmux::new(&format!("walk-{name}"));
        tmux.start(
            dir.path(),
            80,
            24,
            &format!("{bin} demo --scenario {name} --idle-timeout 2; echo EXITED $?; sleep 30"),
        );
        let screen = tmux.wait_for("Server's view");
        let (_, note) = teaching.iter().find(|(n, _)| n == name).expect("scenario");
        assert!(
            flat(&screen).contains(&flat(note)),
            "{name}: the teaching line is cut:\n{screen}"
        );
        // The scenario notes quote the decisive reply: wait for the greeting, so they are gone.
        tmux.wait_for("220 email-smtp");
        tmux.enter_until(last, 14);
        // The simulator drops the idle connection: the header says so, the selection stays.
        let screen = tmux.wait_for("○ closed");
        println!("--- demo {name} at 80x24 after the idle timeout ---\n{screen}");
        match decisive {
            Some(title) => {
                assert!(screen.contains(title), "{name}: {screen}");
                assert!(screen.contains("✗ kept"), "{name}: {screen}");
            }
            None => assert!(
                screen.contains("Verdict: Authenticated and authorized"),
                "{name}: {screen}"
            ),
        }
        assert!(
            flat(&screen).contains(&flat(note)),
            "{name}: the teaching line is cut:\n{screen}"
        );
        tmux.keys(&["q"]);
        tmux.wait_for("EXITED 0");
    }
}

/// The IP restriction, shown: in the ip-restricted and loopback-policy demos at 80x24, after
/// the 554 the screen names the deciding policy, aws:SourceIp, the range it allows and the IP
/// the simulator evaluated it with (the connection's, or the configured stand-in).
#[test]
fn demo_ip_restrictions_name_the_source_ip_and_the_allowed_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = own_binary(dir.path());
    for (name, policy, decided) in [
        (
            "ip-restricted",
            "source-ip-office.json",
            "aws:SourceIp 127.0.0.1 not in 203.0.113.0/24",
        ),
        (
            "loopback-policy",
            "source-ip-127.json",
            "aws:SourceIp 203.0.113.5 not in 127.0.0.1/32",
        ),
    ] {
        let tmux = Tmux::new(&format!("iam-{name}"));
        tmux.start(
            dir.path(),
            80,
            24,
            &format!("{bin} demo --scenario {name}; echo EXITED $?; sleep 30"),
        );
        tmux.wait_for("Server's view");
        // The scenario notes quote the decisive reply: wait for the greeting, so they are gone.
        tmux.wait_for("220 email-smtp");
        tmux.enter_until("554 Access denied", 14);
        let want = format!("IAM policy: denied by {policy}: {decided}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let screen = loop {
            let screen = tmux.screen();
            if flat(&screen).contains(&want) || std::time::Instant::now() > deadline {
                break screen;
            }
            thread::sleep(std::time::Duration::from_millis(100));
        };
        println!("--- demo {name} at 80x24 at the 554 ---\n{screen}");
        assert!(
            flat(&screen).contains(&want),
            "{name}: no {want:?}:\n{screen}"
        );
        tmux.keys(&["q"]);
        tmux.wait_for("EXITED 0");
    }
}

/// `demo --scenario good` with AUTH sent before STARTTLS: the server refuses it without
/// checking the credentials, the server's view says so; the standard flow then recovers and
/// ends "accepted", authenticated only after the real AUTH.
#[test]
fn demo_good_with_auth_before_starttls_ends_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = own_binary(dir.path());
    let tmux = Tmux::new("auth-first");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!("{bin} demo --scenario good; echo EXITED $?; sleep 30"),
    );
    tmux.wait_for("Next: EHLO");
    tmux.keys(&["e"]);
    tmux.wait_for("Next: STARTTLS");
    tmux.keys(&["a"]);
    tmux.wait_for("No TLS on this connection");
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for("530 Must issue a STARTTLS");
    let screen = if screen.contains("credentials never checked") {
        screen
    } else {
        tmux.wait_for("credentials never checked")
    };
    println!("--- AUTH before STARTTLS ---\n{screen}");
    assert!(!screen.contains("authenticated as"), "{screen}");
    let screen = tmux.enter_until("Verdict: Authenticated and authorized", 14);
    println!("--- accepted ---\n{screen}");
    assert!(screen.contains("IAM policy: allowed"), "{screen}");
}

/// After a 354, `:` types the message by hand, as with `openssl s_client`: each line goes at
/// once (empty ones too), a line starting with "." arrives as typed, a lone "." ends it. The
/// message aiosmtpd received is checked byte for byte.
#[test]
fn typing_the_message_by_hand_after_354_reaches_aiosmtpd_byte_for_byte() {
    let user = "AKIATYPEDEXAMPLE1234";
    let password = "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd";
    let creds = format!("{user}:{password}");
    let mailbox = tempfile::tempdir().expect("mailbox");
    let mailbox_arg = mailbox.path().display().to_string();
    let peer = common::start_ses_peer(
        "127.0.0.1",
        "none",
        None,
        &["--user", &creds, "--mailbox", &mailbox_arg],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = own_binary(dir.path());
    let tmux = Tmux::new("typed");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!(
            "env SMTPSCOPE_PASSWORD='{password}' {bin} --host 127.0.0.1 --port {} --tls none \
             --user {user} --from typed@example.com --to rcpt@example.com --connect; \
             echo EXITED $?; sleep 30",
            peer.port
        ),
    );
    for want in [
        "Next: EHLO",
        "Next: AUTH",
        "No TLS on this connection",
        "Next: MAIL",
        "Next: RCPT",
        "Next: DATA",
    ] {
        tmux.wait_for(want);
        tmux.keys(&["Enter"]);
    }
    tmux.wait_for("Next: message");
    tmux.keys(&[":"]);
    // The status row may be painted a moment after the form: wait for the row itself.
    let screen = tmux.wait_for("typing the message: a line with only '.' ends it");
    assert!(
        screen.contains("typing the message: a line with only '.' ends it"),
        "{screen}"
    );
    for line in [
        "Subject: typed by hand",
        "",
        "Hello,",
        ".leading dot",
        "bye",
    ] {
        if !line.is_empty() {
            tmux.keys(&["-l", line]);
        }
        tmux.keys(&["Enter"]);
    }
    tmux.keys(&["-l", "."]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Verdict: Authenticated and authorized");
    println!("--- typed by hand ---\n{screen}");
    assert!(screen.contains(".leading dot"), "{screen}");
    let eml: Vec<_> = std::fs::read_dir(mailbox.path())
        .expect("mailbox")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(eml.len(), 1, "{eml:?}");
    let got = std::fs::read(&eml[0]).expect("eml");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "Subject: typed by hand\r\n\r\nHello,\r\n.leading dot\r\nbye\r\n"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
}

/// Greets, then floods unsolicited replies for up to 5 s: short lines on the first
/// connection, 60 KB lines on the next.
fn serve_flood(mut stream: TcpStream, long: bool) {
    let line = if long {
        let mut l = b"250 ".to_vec();
        l.extend(std::iter::repeat_n(b'x', 60_000));
        l.extend(b"\r\n");
        l
    } else {
        b"250 unsolicited and unending\r\n".to_vec()
    };
    let burst = line.repeat((64 * 1024 / line.len()).max(1));
    if stream.write_all(b"220 flood.test ESMTP\r\n").is_err() {
        return;
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < until {
        if stream.write_all(&burst).is_err() {
            return;
        }
    }
}

/// Peak RSS (`VmHWM`) of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A server that floods unsolicited replies (short lines, then 60 KB lines after `c`) for
/// 10 s: the debugger closes each connection as a protocol error, says why, and its peak
/// RSS stays under 100 MiB.
#[test]
fn a_flooding_server_is_cut_off_and_the_debugger_stays_under_100_mib() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for (n, stream) in listener.incoming().flatten().enumerate() {
            thread::spawn(move || serve_flood(stream, n % 2 == 1));
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let bin = env!("CARGO_BIN_EXE_smtpscope");
    let tmux = Tmux::new("flood");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!(
            "sh -c 'echo $$ > {pid}; exec {bin} --host 127.0.0.1 --port {port} --tls none --connect'; \
             echo EXITED $?; sleep 30",
            pid = pid_file.display()
        ),
    );
    let started = std::time::Instant::now();
    let pid: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pid;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no pid"
        );
        thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut peak = 0;
    let mut reconnected = false;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
        if !reconnected && started.elapsed() > std::time::Duration::from_secs(5) {
            let screen = tmux.wait_for("without being asked");
            assert!(screen.contains("Protocol error"), "{screen}");
            tmux.keys(&["c"]);
            reconnected = true;
        }
        thread::sleep(std::time::Duration::from_millis(20));
    }
    peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
    let screen = tmux.wait_for("without being asked");
    println!(
        "a 10 s flood of unsolicited replies (short, then 60 KB lines): peak RSS {peak} KiB ({:.1} MiB)\n{screen}",
        peak as f64 / 1024.0
    );
    assert!(peak > 0, "VmHWM was never read");
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB over 100 MiB");
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED");
}

/// Answers EHLO, then `421 4.7.0 Temporary System Problem` to AUTH, and closes; for every
/// connection (Next reconnects once).
fn serve_421_at_auth(stream: TcpStream) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let lines = BufReader::new(stream).lines();
    out.write_all(b"220 mail.example.test ESMTP\r\n")?;
    for line in lines {
        let upper = line?.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-mail.example.test\r\n250 AUTH PLAIN LOGIN\r\n")?;
        } else if upper.starts_with("AUTH") {
            out.write_all(b"421 4.7.0 Temporary System Problem. Try again later.\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"221 Bye\r\n")?;
            return Ok(());
        }
    }
    Ok(())
}

/// The beginner walk, in the debugger: a real Postfix with a good and a denied user, and a
/// server answering 421 at AUTH. Each ends with the verdict and the server's view a beginner
/// reads: never "Authentication failed" where the credentials were not refused, never a
/// rate-limit story the server did not tell.
#[test]
fn beginner_walk_in_the_debugger_against_postfix_and_a_421() {
    use common::postfix::{DENIED, GOOD, PostfixPeer};
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = own_binary(dir.path());
    let peer = PostfixPeer::shared();
    let target = peer.target_args().join(" ");
    let walks = [
        (
            GOOD,
            "good",
            "Verdict: Authenticated and authorized",
            "authenticated as",
        ),
        (
            DENIED,
            "denied",
            "Verdict: Authenticated; authorization denied after DATA",
            "authenticated as",
        ),
    ];
    for ((user, password), name, verdict, view) in walks {
        let tmux = Tmux::new(&format!("walk-postfix-{name}"));
        tmux.start(
            dir.path(),
            100,
            30,
            &format!(
                "env SMTPSCOPE_PASSWORD='{password}' {bin} {target} --user {user} \
                 --from sender@example.com --to rcpt@example.com --connect; echo EXITED $?; sleep 30"
            ),
        );
        tmux.wait_for("Server's view");
        let screen = tmux.enter_until(verdict, 14);
        let seen = flat(&screen);
        println!("--- Postfix, user {name} ---\n{screen}");
        assert!(seen.contains(view), "{name}: {screen}");
        assert!(!seen.contains("Authentication failed"), "{name}: {screen}");
        assert!(!seen.contains("credentials rejected"), "{name}: {screen}");
        assert!(!seen.contains(password), "{name}: {screen}");
        if name == "denied" {
            assert!(seen.contains("[authorization]"), "{screen}");
            assert!(!seen.contains("SES accepted"), "{screen}");
        }
        tmux.keys(&["q"]);
        tmux.keys(&["q"]);
    }

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve_421_at_auth(stream);
        }
    });
    let tmux = Tmux::new("walk-421");
    tmux.start(
        dir.path(),
        100,
        30,
        &format!(
            "env SMTPSCOPE_PASSWORD='Walk-421-pw-x9' {bin} --host 127.0.0.1 --port {port} \
             --tls none --user walker --from sender@example.com --to rcpt@example.com --connect; \
             echo EXITED $?; sleep 30"
        ),
    );
    tmux.wait_for("Server's view");
    let screen = tmux.enter_until("refuses for now", 14);
    let seen = flat(&screen);
    println!("--- 421 at AUTH ---\n{screen}");
    assert!(seen.contains("credentials not judged"), "{screen}");
    assert!(!seen.contains("Authentication failed"), "{screen}");
    assert!(
        !seen.to_ascii_lowercase().contains("rate limit"),
        "{screen}"
    );
    assert!(!seen.contains("credentials rejected"), "{screen}");
}
