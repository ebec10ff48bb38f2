//! End to end: the real debugger in a real pseudo-terminal (tmux) against a private Postfix that
//! offers DSN, 8BITMIME, SIZE, CHUNKING, SMTPUTF8 and PIPELINING (issue 15 §3 in the debugger),
//! and -4/-6 on its connection.
//! What is checked is what Postfix received: the command lines its smtpd logged (Postfix's
//! `debug_peer_list`) and the message it stored. Our screen is read only for what Postfix
//! cannot tell: that the PIPELINING group was announced as one, and why -6 did not connect.

mod common;

use common::postfix::{GOOD, PostfixPeer, queue_id};
use common::tmux::Tmux;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Postfix with SMTPUTF8 on, logging every command line a client on 127.0.0.1 sends.
fn peer() -> &'static PostfixPeer {
    static P: OnceLock<PostfixPeer> = OnceLock::new();
    P.get_or_init(|| {
        PostfixPeer::with_main_cf(&[("smtputf8_enable", "yes"), ("debug_peer_list", "127.0.0.1")])
    })
}

/// A private copy of the binary under test: the build directory is shared, and another build
/// may replace the file while these tests run.
fn own_binary(dir: &std::path::Path) -> String {
    let to = dir.join("smtpscope-under-test");
    std::fs::copy(env!("CARGO_BIN_EXE_smtpscope"), &to).expect("copy the binary");
    to.display().to_string()
}

/// The command lines Postfix's smtpd read from the client ("< host[127.0.0.1]: LINE"), in
/// order, from its log: those of the session (one smtpd process) whose MAIL FROM starts with
/// `mail`, from that MAIL FROM on.
fn received_commands(peer: &PostfixPeer, mail: &str) -> Vec<String> {
    let log = peer.maillog();
    let lines: Vec<(String, String)> = log
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("smtpd[")?;
            let (pid, rest) = rest.split_once("]: < ")?;
            let (_, line) = rest.split_once("]: ")?;
            Some((pid.to_string(), line.to_string()))
        })
        .collect();
    let Some(at) = lines.iter().rposition(|(_, l)| l.starts_with(mail)) else {
        panic!("Postfix never read {mail:?}; maillog:\n{log}");
    };
    let pid = lines[at].0.clone();
    lines[at..]
        .iter()
        .filter(|(p, _)| *p == pid)
        .map(|(_, l)| l.clone())
        .collect()
}

/// Waits until Postfix's log says it queued a message sent as `sender`; its queue ID.
fn queued_for(peer: &PostfixPeer, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = peer.maillog();
        let queued = log
            .lines()
            .filter(|l| l.contains(": > ") && l.contains("queued as"))
            .filter_map(queue_id)
            .map(String::from)
            .find(|id| {
                log.lines()
                    .any(|l| l.contains(&format!("{id}: from=<{marker}")))
            });
        if let Some(id) = queued {
            return id;
        }
        assert!(Instant::now() < deadline, "nothing queued; maillog:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The message without the Received: header Postfix put on top: the peer's `header_checks`
/// drop it for ESMTP, not for the "UTF8SMTPSA" of an SMTPUTF8 session.
fn without_received(stored: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(stored);
    if !text.starts_with("Received: ") {
        return stored.to_vec();
    }
    let mut lines = text.split_inclusive('\n').skip(1).peekable();
    while lines.next_if(|l| l.starts_with([' ', '\t'])).is_some() {}
    lines.collect::<String>().into_bytes()
}

/// The debugger on the Postfix peer's STARTTLS port, as `good`, with `extra` flags.
fn open_debugger(tmux: &Tmux, dir: &std::path::Path, peer: &PostfixPeer, from: &str, extra: &str) {
    let bin = own_binary(dir);
    tmux.start(
        dir,
        120,
        40,
        &format!(
            "env LANG=C.UTF-8 SMTPSCOPE_PASSWORD={} {bin} --host 127.0.0.1 --port {} --tls starttls \
             --ca-file {} --user {} --from '{from}' --to rcpt@example.net --ehlo client.example.com \
             --timeout 10 {extra}; echo EXITED $?; sleep 30",
            GOOD.1,
            peer.port,
            peer.ca_file.display(),
            GOOD.0,
        ),
    );
    tmux.wait_for("Next: connect");
}

/// The flags' DSN parameters and the SMTPUTF8 a non-ASCII sender needs go on MAIL FROM and
/// RCPT TO, with SIZE= and BODY=8BITMIME of a message composed before MAIL FROM; `b` then
/// sends that very message in BDAT chunks (no DATA), and Postfix stores it byte for byte.
#[test]
fn mail_rcpt_parameters_and_bdat_from_the_debugger_reach_postfix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("tuix-bdat");
    let from = "s\u{e9}nder@example.com";
    open_debugger(
        &tmux,
        dir.path(),
        peer(),
        from,
        "--dsn-notify success,failure --dsn-ret hdrs --envid tuix-e2e+1",
    );
    // Connect, EHLO, STARTTLS, EHLO, AUTH: Next until MAIL is next.
    let screen = tmux.enter_until("Next: MAIL", 8);
    assert!(screen.contains("235"), "{screen}");
    // Compose before MAIL FROM: kept, so MAIL FROM can declare it.
    tmux.keys(&["d"]);
    tmux.wait_for("DATA: compose the message");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Message ready");
    // The MAIL FROM form shows what will be sent.
    tmux.keys(&["m"]);
    let form = tmux.wait_for("Parameters");
    assert!(
        form.contains("BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=tuix-e2e+2B1"),
        "{form}"
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for("Next: RCPT");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Next: DATA");
    tmux.keys(&["b"]);
    let screen = tmux.wait_for("queued as");
    println!("--- after BDAT at 120x40 ---\n{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");

    let id = queued_for(peer(), from);
    let stored = without_received(&peer().message(&id));
    let commands = received_commands(peer(), "MAIL FROM:<s\u{e9}nder@example.com>");
    let mail = &commands[0];
    // Postfix stores LF line ends; the client sent CRLF: SIZE= is the bytes on the wire.
    let lines = stored.iter().filter(|b| **b == b'\n').count();
    assert_eq!(
        *mail,
        format!(
            "MAIL FROM:<s\u{e9}nder@example.com> SIZE={} BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=tuix-e2e+2B1",
            stored.len() + lines
        )
    );
    assert!(
        commands.iter().any(|l| l
            == "RCPT TO:<rcpt@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;rcpt@example.net"),
        "{commands:?}"
    );
    let after_mail: Vec<&String> = commands
        .iter()
        .take_while(|l| !l.starts_with("QUIT"))
        .collect();
    assert!(
        after_mail
            .iter()
            .any(|l| *l == &format!("BDAT {} LAST", stored.len() + lines)),
        "{after_mail:?}"
    );
    assert!(!after_mail.iter().any(|l| *l == "DATA"), "{after_mail:?}");
    let text = String::from_utf8(stored).expect("UTF-8 message");
    assert!(text.contains("From: s\u{e9}nder@example.com\n"), "{text}");
    assert!(text.contains("X-Mailer: smtpscope\n"), "{text}");
}

/// `--pipeline --bdat`: Enter sends MAIL and RCPT as one PIPELINING group, then the message
/// in BDAT chunks of 100 bytes; Postfix saw the envelope and exactly those chunks, never DATA.
#[test]
fn enter_with_pipeline_and_bdat_groups_the_envelope_and_sends_bdat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmux = Tmux::new("tuix-pipe");
    let from = "piped@example.com";
    open_debugger(
        &tmux,
        dir.path(),
        peer(),
        from,
        "--pipeline --bdat --bdat-chunk 100",
    );
    let screen = tmux.enter_until("queued as", 12);
    println!("--- pipelined at 120x40 ---\n{screen}");
    // Ours, besides Postfix's: the group was announced as one (Postfix 3.7 logs no trace of
    // how the commands arrived when PIPELINING is offered).
    assert!(
        screen.contains("PIPELINING: sending 2 commands as one group"),
        "{screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
    let id = queued_for(peer(), from);
    let stored = without_received(&peer().message(&id));
    let session: Vec<String> = received_commands(peer(), "MAIL FROM:<piped@example.com>")
        .into_iter()
        .take_while(|l| !l.starts_with("QUIT"))
        .collect();
    let size = stored.len() + stored.iter().filter(|b| **b == b'\n').count();
    assert_eq!(session[0], "MAIL FROM:<piped@example.com>", "{session:?}");
    assert_eq!(session[1], "RCPT TO:<rcpt@example.net>", "{session:?}");
    let mut want: Vec<String> = (0..size / 100).map(|_| "BDAT 100".to_string()).collect();
    if size.is_multiple_of(100) {
        want.pop();
        want.push("BDAT 100 LAST".into());
    } else {
        want.push(format!("BDAT {} LAST", size % 100));
    }
    assert_eq!(session[2..], want[..]);
}

/// `-6` reaches the debugger's connection: 127.0.0.1 has no IPv6 address, so it does not
/// connect, and says why; `-4` connects.
#[test]
fn address_family_flags_reach_the_debuggers_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (flag, want) in [("-6", "has no IPv6 (-6) address"), ("-4", "220 ")] {
        let tmux = Tmux::new(&format!("tuix-family{flag}"));
        open_debugger(&tmux, dir.path(), peer(), "fam@example.com", flag);
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for(want);
        if flag == "-6" {
            assert!(!screen.contains("220 "), "{screen}");
        }
        tmux.keys(&["q"]);
        tmux.wait_for("EXITED 0");
    }
}
