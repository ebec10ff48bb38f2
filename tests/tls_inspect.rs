//! TLS you can inspect and pin, against a real Postfix (tests/common/postfix.rs) and checked
//! with the openssl command-line tools: the certificate facts of `tls-started`, the chain
//! export, `tls-scan` against servers limited to TLS 1.2 or 1.3, `--tls-min/--tls-max/--cipher`,
//! the expiry warning, and client certificates (`--cert`/`--key`).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::postfix::{PostfixOptions, PostfixPeer};
use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A Postfix of its own with these main.cf settings, on the STARTTLS port only (the launcher
/// checks an implicit-TLS port with its own CA, which a test's own certificate would fail).
fn peer_with(main_cf: &[(&str, &str)]) -> PostfixPeer {
    PostfixPeer::start_with(&PostfixOptions {
        implicit_tls: false,
        main_cf: main_cf
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        ..PostfixOptions::default()
    })
}

fn target(peer: &PostfixPeer) -> Vec<String> {
    let mut args = peer.target_args();
    args.extend(["--timeout".into(), "10".into()]);
    args
}

fn smtpscope_with(cmd: &str, peer: &PostfixPeer, extra: &[&str]) -> Output {
    let mut args = vec![cmd.to_string()];
    args.extend(target(peer));
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    smtpscope(&args, &[])
}

/// `tls-scan --json`'s report.
fn scan(peer: &PostfixPeer, extra: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(extra);
    let out = smtpscope_with("tls-scan", peer, &all);
    let line = text(&out);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn version<'a>(report: &'a serde_json::Value, v: &str) -> &'a serde_json::Value {
    report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == v)
        .unwrap_or_else(|| panic!("no {v} in {report}"))
}

/// `openssl s_client -brief` over STARTTLS with one version flag: (handshake done, output).
fn openssl_client(port: u16, ca: &Path, flags: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-brief", "-starttls", "smtp", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(ca)
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (all.contains("CONNECTION ESTABLISHED"), all)
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openssl x509 -fingerprint -sha256` of a PEM file: the colon-separated hex.
fn openssl_fingerprint(pem: &Path) -> String {
    let out = openssl(&[
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        pem.to_str().unwrap(),
    ]);
    out.trim().split_once('=').unwrap().1.to_string()
}

/// The IANA name of an OpenSSL cipher name, from `openssl ciphers -stdname`.
fn iana_name(openssl_name: &str) -> String {
    if openssl_name.starts_with("TLS_") {
        return openssl_name.to_string();
    }
    let table = openssl(&["ciphers", "-stdname", "ALL"]);
    table
        .lines()
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            let iana = parts.next()?;
            let _dash = parts.next()?;
            (parts.next()? == openssl_name).then(|| iana.to_string())
        })
        .unwrap_or_else(|| panic!("{openssl_name} not in openssl ciphers -stdname"))
}

/// Postfix's own record of the handshakes after the log's first `from` bytes: (trust,
/// protocol, cipher as IANA name) of each "TLS connection established" line.
fn postfix_handshakes(peer: &PostfixPeer, from: usize) -> Vec<(String, String, String)> {
    peer.maillog()
        .get(from..)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (kind, rest) = l.split_once(" TLS connection established from ")?;
            let kind = kind.rsplit(' ').next()?.to_string();
            let (_, after) = rest.split_once(": ")?;
            let mut words = after.split_whitespace();
            let proto = words.next()?.to_string();
            let cipher = after
                .split_once("with cipher ")?
                .1
                .split_whitespace()
                .next()?;
            Some((kind, proto, iana_name(cipher)))
        })
        .collect()
}

fn tls_started(lines: &[serde_json::Value]) -> &serde_json::Value {
    lines
        .iter()
        .find(|l| l["type"] == "tls-started")
        .unwrap_or_else(|| panic!("no tls-started: {lines:#?}"))
}

#[test]
fn tls_started_carries_the_certificate_facts_that_openssl_reads_from_the_same_files() {
    let peer = PostfixPeer::shared();
    let out = smtpscope_with(
        "run",
        peer,
        &["--json", "--auth", "none", "--quit-after", "tls"],
    );
    let lines = json_lines(&out);
    let info = &tls_started(&lines)["info"];
    let leaf = &info["chain"][0];
    let server_pem = peer.ca_file.with_file_name("server.pem");
    // openssl's reading of the certificate Postfix serves.
    let text_dump = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        server_pem.to_str().unwrap(),
    ]);
    assert!(text_dump.contains("NIST CURVE: P-256"), "{text_dump}");
    assert_eq!(leaf["key"], "EC P-256");
    assert!(text_dump.contains(&format!("Public-Key: ({} bit)", leaf["key_bits"])));
    let sig = leaf["signature_algorithm"].as_str().unwrap();
    assert!(
        text_dump.contains(&format!("Signature Algorithm: {sig}")),
        "{sig}"
    );
    assert_eq!(
        leaf["sha256"].as_str().unwrap(),
        openssl_fingerprint(&server_pem)
    );
    // The peer's certificate is valid for 30 days from its start.
    let days = leaf["days_left"].as_i64().unwrap();
    assert!((29..=30).contains(&days), "{days}");
    // The trust anchor is the peer's CA, as openssl names it.
    let ca_subject = openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-in",
        peer.ca_file.to_str().unwrap(),
    ]);
    assert_eq!(
        format!("subject={}", info["trust_anchor"].as_str().unwrap()),
        ca_subject.trim()
    );
    // Postfix staples no OCSP response; openssl sees none either.
    assert_eq!(info["ocsp"]["stapled"], false, "{info}");
    let out = Command::new("openssl")
        .args(["s_client", "-status", "-starttls", "smtp", "-connect"])
        .arg(format!("127.0.0.1:{}", peer.port))
        .arg("-CAfile")
        .arg(&peer.ca_file)
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client -status");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("OCSP response: no response sent"), "{said}");
    // The key exchange is the one Postfix logged for a session of ours.
    let kx = info["key_exchange"].as_str().unwrap();
    assert!(
        peer.maillog().contains(&format!("key-exchange {kx}")),
        "{kx}: {}",
        peer.maillog()
    );
    // Text output: the summary lines.
    let out = smtpscope_with("run", peer, &["--auth", "none", "--quit-after", "tls"]);
    let shown = text(&out);
    assert!(
        shown.contains("trust anchor: CN=smtpscope postfix peer test CA")
            && shown.contains("EC P-256 (256 bits)")
            && shown.contains("OCSP: not stapled"),
        "{shown}"
    );
}

#[test]
fn the_exported_chain_is_what_the_server_sent_in_a_private_file() {
    let peer = PostfixPeer::shared();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chain.pem");
    let out = smtpscope_with("tls-scan", peer, &["--save-chain", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let server_pem = peer.ca_file.with_file_name("server.pem");
    assert_eq!(openssl_fingerprint(&file), openssl_fingerprint(&server_pem));
    let verified = openssl(&[
        "verify",
        "-CAfile",
        peer.ca_file.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(verified.contains(": OK"), "{verified}");
}

#[test]
fn tls_scan_finds_what_postfix_limited_to_one_version_accepts_as_openssl_does() {
    for (only, other, protocols) in [
        ("1.2", "1.3", "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3"),
        ("1.3", "1.2", "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.2"),
    ] {
        let peer = peer_with(&[
            ("smtpd_tls_protocols", protocols),
            ("smtpd_tls_mandatory_protocols", protocols),
        ]);
        let before = peer.maillog().len();
        let report = scan(&peer, &[]);
        let yes = version(&report, only);
        let no = version(&report, other);
        assert_eq!(yes["accepted"], true, "{report}");
        assert_eq!(no["accepted"], false, "{report}");
        assert!(no["reason"].as_str().unwrap().len() > 5, "{report}");
        // Postfix's log of the one handshake that worked names the same protocol and cipher.
        let logged = postfix_handshakes(&peer, before);
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert_eq!(logged[0].1, format!("TLSv{only}"));
        assert_eq!(yes["cipher"].as_str().unwrap(), logged[0].2, "{logged:?}");
        // openssl agrees on which version the server accepts.
        let flag = |v: &str| if v == "1.2" { "-tls1_2" } else { "-tls1_3" };
        let (ok, said) = openssl_client(peer.port, &peer.ca_file, &[flag(only)]);
        assert!(ok, "openssl {only}: {said}");
        // The key exchange: Postfix logs it for TLS 1.3 only; for 1.2, openssl's view of
        // the server's choice.
        let kx = yes["key_exchange"].as_str().unwrap();
        if only == "1.3" {
            assert!(
                peer.maillog().contains(&format!("key-exchange {kx}")),
                "{kx}"
            );
        } else {
            assert!(
                said.contains(&format!("Server Temp Key: {kx},")),
                "{kx}: {said}"
            );
        }
        let (ok, said) = openssl_client(peer.port, &peer.ca_file, &[flag(other)]);
        assert!(!ok, "openssl {other}: {said}");
        // Text output says the same.
        let out = smtpscope_with("tls-scan", &peer, &[]);
        let shown = text(&out);
        assert!(shown.contains(&format!("TLS {only}  accepted")), "{shown}");
        assert!(shown.contains(&format!("TLS {other}  refused")), "{shown}");
        assert_eq!(out.status.code(), Some(0));
    }
}

#[test]
fn pins_choose_the_version_and_the_cipher_and_old_versions_are_refused_in_words() {
    let peer = PostfixPeer::shared();
    let lines = json_lines(&smtpscope_with(
        "run",
        peer,
        &[
            "--json",
            "--auth",
            "none",
            "--quit-after",
            "tls",
            "--tls-max",
            "1.2",
        ],
    ));
    assert_eq!(tls_started(&lines)["info"]["version"], "TLS 1.2");
    let lines = json_lines(&smtpscope_with(
        "run",
        peer,
        &[
            "--json",
            "--auth",
            "none",
            "--quit-after",
            "tls",
            "--tls-min",
            "1.3",
        ],
    ));
    assert_eq!(tls_started(&lines)["info"]["version"], "TLS 1.3");
    let chacha = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
    let report = scan(peer, &["--cipher", chacha]);
    assert_eq!(version(&report, "1.2")["cipher"], chacha, "{report}");
    assert!(
        version(&report, "1.3")["reason"]
            .as_str()
            .unwrap()
            .contains("not tried"),
        "{report}"
    );
    let report = scan(peer, &["--cipher", "TLS_CHACHA20_POLY1305_SHA256"]);
    assert_eq!(
        version(&report, "1.3")["cipher"],
        "TLS_CHACHA20_POLY1305_SHA256",
        "{report}"
    );
    for old in ["1.0", "1.1"] {
        let out = smtpscope_with("run", peer, &["--auth", "none", "--tls-min", old]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only TLS 1.2 and TLS 1.3"), "{err}");
    }
}

fn ca(cn: &str) -> (CertificateParams, KeyPair) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (p, KeyPair::generate().unwrap())
}

#[test]
fn a_certificate_close_to_expiry_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_params, ca_key) = ca("expiring test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let end = chrono::Utc::now() + chrono::Duration::days(6);
    let (y, m, d) = {
        use chrono::Datelike;
        (
            end.year(),
            u8::try_from(end.month()).unwrap(),
            u8::try_from(end.day()).unwrap(),
        )
    };
    leaf.not_after = rcgen::date_time_ymd(y, m, d);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf
        .signed_by(&leaf_key, &Issuer::new(ca_params, &ca_key))
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.path().join("ca.pem"),
        dir.path().join("leaf.pem"),
        dir.path().join("leaf.key"),
    );
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&cert_pem, leaf_cert.pem()).unwrap();
    std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();
    let chain = format!("{}, {}", key_pem.display(), cert_pem.display());
    let peer = peer_with(&[("smtpd_tls_chain_files", &chain)]);
    let out = smtpscope(
        &[
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            &peer.port.to_string(),
            "--ca-file",
            ca_pem.to_str().unwrap(),
            "--json",
            "--auth",
            "none",
            "--quit-after",
            "tls",
        ],
        &[],
    );
    let lines = json_lines(&out);
    let days = tls_started(&lines)["info"]["chain"][0]["days_left"]
        .as_i64()
        .unwrap();
    assert!((5..=6).contains(&days), "{days}");
    let warning = lines
        .iter()
        .find(|l| l["type"] == "warning" && l["text"].as_str().unwrap().contains("expires in"))
        .unwrap_or_else(|| panic!("no expiry warning: {lines:#?}"));
    assert!(
        warning["text"]
            .as_str()
            .unwrap()
            .contains(&format!("expires in {days} days")),
        "{warning}"
    );
    // The shared peer's 30-day certificate is not warned about.
    let lines = json_lines(&smtpscope_with(
        "run",
        PostfixPeer::shared(),
        &["--json", "--auth", "none", "--quit-after", "tls"],
    ));
    assert!(
        !lines
            .iter()
            .any(|l| l["type"] == "warning" && l["text"].as_str().unwrap().contains("expires")),
        "{lines:#?}"
    );
}

#[test]
fn a_client_certificate_is_presented_to_a_postfix_that_asks_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_params, ca_key) = ca("smtpscope client CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "smtpscope test client");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client
        .signed_by(&client_key, &Issuer::new(ca_params, &ca_key))
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.path().join("client-ca.pem"),
        dir.path().join("client.pem"),
        dir.path().join("client.key"),
    );
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&cert_pem, client_cert.pem()).unwrap();
    std::fs::write(&key_pem, client_key.serialize_pem()).unwrap();
    let peer = peer_with(&[
        ("smtpd_tls_ask_ccert", "yes"),
        ("smtpd_tls_CAfile", ca_pem.to_str().unwrap()),
        ("smtpd_tls_fingerprint_digest", "sha256"),
        // Level 2 logs the client certificate's names and fingerprint.
        ("smtpd_tls_loglevel", "2"),
    ]);
    let base = ["--json", "--auth", "none", "--quit-after", "ehlo"];
    // Without --cert: Postfix logs an anonymous client.
    let before = peer.maillog().len();
    let out = smtpscope_with(
        "run",
        &peer,
        &["--json", "--auth", "none", "--quit-after", "tls"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut with_cert: Vec<&str> = base.to_vec();
    with_cert.splice(3..5, ["--quit-after", "tls"]);
    with_cert.extend([
        "--cert",
        cert_pem.to_str().unwrap(),
        "--key",
        key_pem.to_str().unwrap(),
    ]);
    let out = smtpscope_with("run", &peer, &with_cert);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    let kinds: Vec<String> = postfix_handshakes(&peer, before)
        .into_iter()
        .map(|(kind, _, _)| kind)
        .collect();
    assert_eq!(kinds, ["Anonymous", "Trusted"], "{}", peer.maillog());
    // Postfix logged the certificate it verified: the one openssl fingerprints.
    let fingerprint = openssl_fingerprint(&cert_pem);
    assert!(
        peer.maillog()
            .contains(&format!("fingerprint={fingerprint}")),
        "{fingerprint}: {}",
        peer.maillog()
    );
}

/// A certificate status as `openssl ocsp` writes it into a response, stapled by
/// `openssl s_server -status_file` (TLS from the first byte; it speaks no SMTP, so the session
/// ends at the greeting's timeout, after `tls-started`).
#[test]
fn a_stapled_ocsp_response_is_read_as_openssl_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca_params, ca_key) = ca("smtpscope OCSP test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf
        .signed_by(&leaf_key, &Issuer::new(ca_params, &ca_key))
        .unwrap();
    let path = |name: &str| d.join(name).to_str().unwrap().to_string();
    std::fs::write(path("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(path("ca.key"), ca_key.serialize_pem()).unwrap();
    std::fs::write(path("leaf.pem"), leaf_cert.pem()).unwrap();
    std::fs::write(path("leaf.key"), leaf_key.serialize_pem()).unwrap();
    let serial = openssl(&["x509", "-noout", "-serial", "-in", &path("leaf.pem")]);
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    openssl(&[
        "ocsp",
        "-issuer",
        &path("ca.pem"),
        "-cert",
        &path("leaf.pem"),
        "-no_nonce",
        "-reqout",
        &path("req.der"),
    ]);
    for (letter, status) in [("V", "good"), ("R", "revoked")] {
        let revoked_at = if letter == "R" { "240101000000Z" } else { "" };
        std::fs::write(
            path("index.txt"),
            format!("{letter}\t391231235959Z\t{revoked_at}\t{serial}\tunknown\t/CN=localhost\n"),
        )
        .unwrap();
        openssl(&[
            "ocsp",
            "-index",
            &path("index.txt"),
            "-rsigner",
            &path("ca.pem"),
            "-rkey",
            &path("ca.key"),
            "-CA",
            &path("ca.pem"),
            "-reqin",
            &path("req.der"),
            "-respout",
            &path("resp.der"),
            "-ndays",
            "1",
        ]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = KillOnDrop(
            Command::new("openssl")
                .args(["s_server", "-accept"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-cert", &path("leaf.pem"), "-key", &path("leaf.key")])
                .args(["-status_file", &path("resp.der"), "-naccept", "2"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_server"),
        );
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(server.0.stdout.take().unwrap()));
        assert!(
            lines.any(|l| l.is_ok_and(|l| l.contains("ACCEPT"))),
            "s_server did not start"
        );
        std::thread::spawn(move || for _ in lines {});
        let out = smtpscope(
            &[
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--tls",
                "implicit",
                "--ca-file",
                &path("ca.pem"),
                "--json",
                "--auth",
                "none",
                "--quit-after",
                "connect",
                "--timeout",
                "2",
            ],
            &[],
        );
        let lines = json_lines(&out);
        let ocsp = &tls_started(&lines)["info"]["ocsp"];
        assert_eq!(ocsp["stapled"], true, "{ocsp}");
        assert_eq!(ocsp["status"], status, "{ocsp}");
        let size = std::fs::metadata(path("resp.der")).unwrap().len();
        assert_eq!(ocsp["bytes"].as_u64(), Some(size));
        // openssl's client reads the same status from the same server.
        let seen = Command::new("openssl")
            .args(["s_client", "-status", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client");
        let seen = String::from_utf8_lossy(&seen.stdout);
        assert!(seen.contains(&format!("Cert Status: {status}")), "{seen}");
        drop(server);
    }
}

/// A child process stopped when the test ends, passing or failing.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
