//! SES SMTP password derivation: the reference vectors, an independent cross-check against
//! Python's hmac/hashlib/base64, and the `smtpscope password` front end via the binary.

use std::io::Write;
use std::process::{Command, Stdio};

use rand::Rng;
use smtpscope::engine::ses::{
    KNOWN_SMTP_REGIONS, PasswordShape, derive_legacy_v2_password, derive_smtp_password,
    password_shape,
};

/// AWS's documented example secret access key (not a real key).
const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// ses-smtp.md §3.1, pinned by several independent public implementations.
const VECTORS: &[(&str, &str)] = &[
    ("us-east-1", "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"),
    ("us-west-2", "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd"),
    ("eu-west-1", "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk"),
    (
        "eu-central-1",
        "BF0/eIJm0ruTHsSjOkRuOGzGF+zeSyE3aiRzrzUQ8LwG",
    ),
    (
        "us-gov-west-1",
        "BHW/eHvx1MM9YwW4wrJG6MGVQmLDCAM99G9YiSdGEIAw",
    ),
    ("eu-west-3", "BDDdpSTzbzUY3SJq/n4Oq7heDuCWbOtogMi5S3AR673+"),
    ("eu-north-1", "BPfy85A/4ChxYc0s4mIG5bpIlvRl5AP1uupODe8KaHpf"),
    (
        "ap-southeast-2",
        "BLNVIwl1Vk66qi8YP1q44PSaqUtaoyrS/0LT79VaGBfa",
    ),
    ("sa-east-1", "BMaY55NZ29oKHOmwPeGZOue+QPW4b9Vwt4rVGhRfAK+4"),
];
const LEGACY_V2: &str = "An60U4ZD3sd4fg+FvXUjayOipTt8LO4rUUmhpdX6ctDy";

#[test]
fn reference_vectors() {
    for (region, expected) in VECTORS {
        let got = derive_smtp_password(EXAMPLE_SECRET, region);
        assert_eq!(got, *expected, "region {region}");
        assert_eq!(got.len(), 44);
        assert_eq!(password_shape(&got), PasswordShape::SigV4);
    }
}

#[test]
fn legacy_v2_vector() {
    let got = derive_legacy_v2_password(EXAMPLE_SECRET);
    assert_eq!(got, LEGACY_V2);
    assert_eq!(password_shape(&got), PasswordShape::LegacyV2);
}

#[test]
fn every_region_gives_a_distinct_password() {
    let mut all: Vec<String> = KNOWN_SMTP_REGIONS
        .iter()
        .map(|r| derive_smtp_password(EXAMPLE_SECRET, r))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), KNOWN_SMTP_REGIONS.len());
}

/// The algorithm written independently in Python (stdlib only). Input lines are
/// "SECRET REGION"; output lines are "V4 V2".
const PYTHON_DERIVATION: &str = r#"
import base64, hashlib, hmac, sys
def mac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
for line in sys.stdin.read().splitlines():
    secret, region = line.split(" ")
    k = mac(("AWS4" + secret).encode("utf-8"), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        k = mac(k, part)
    v4 = base64.b64encode(bytes([4]) + k).decode("ascii")
    v2 = base64.b64encode(bytes([2]) + mac(secret.encode("utf-8"), "SendRawEmail")).decode("ascii")
    print(v4, v2)
"#;

#[test]
fn matches_python_on_random_secrets_and_regions() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
    let mut rng = rand::rng();
    let mut regions: Vec<String> = KNOWN_SMTP_REGIONS
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    regions.push("xx-madeup-7".to_string());
    let cases: Vec<(String, String)> = (0..24)
        .map(|i| {
            let secret: String = (0..40)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            // Cover every region at least once, then random ones.
            let region = regions
                .get(i)
                .cloned()
                .unwrap_or_else(|| regions[rng.random_range(0..regions.len())].clone());
            (secret, region)
        })
        .collect();
    let input: String = cases.iter().map(|(s, r)| format!("{s} {r}\n")).collect();

    // Secrets go through stdin, not argv.
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_DERIVATION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed for this cross-check");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python3 failed");
    let lines: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), cases.len());
    for ((secret, region), line) in cases.iter().zip(&lines) {
        let (v4, v2) = line.split_once(' ').unwrap();
        assert_eq!(derive_smtp_password(secret, region), v4, "region {region}");
        assert_eq!(derive_legacy_v2_password(secret), v2);
    }
}

// --- the `smtpscope password` front end, through the built binary ---------------------------

fn smtpscope(args: &[&str], env_secret: Option<&str>, stdin: &str) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtpscope"));
    cmd.args(args)
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(secret) = env_secret {
        cmd.env("AWS_SECRET_ACCESS_KEY", secret);
    }
    let mut child = cmd.spawn().unwrap();
    // A usage error exits before reading standard input: a closed pipe is not a failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn binary_derives_from_env() {
    let (code, out, err) = smtpscope(
        &["password", "--region", "eu-west-1"],
        Some(EXAMPLE_SECRET),
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk\n");
    assert!(!err.contains(EXAMPLE_SECRET));
}

#[test]
fn binary_derives_from_stdin_for_all_regions() {
    let input = format!("{EXAMPLE_SECRET}\n");
    let (code, out, err) = smtpscope(
        &["password", "--all-regions", "--secret-stdin"],
        None,
        &input,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), KNOWN_SMTP_REGIONS.len());
    for (region, expected) in VECTORS {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [*region, *expected]),
            "{region} missing from:\n{out}"
        );
    }
    assert!(!out.contains(EXAMPLE_SECRET) && !err.contains(EXAMPLE_SECRET));
}

#[test]
fn binary_reads_a_piped_secret_without_the_flag() {
    // No variable, the secret on a pipe: read it, as `--secret-stdin` would.
    let input = format!("{EXAMPLE_SECRET}\n");
    let (code, out, err) = smtpscope(&["password", "--region", "eu-west-1"], None, &input);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk\n");
    assert!(!out.contains(EXAMPLE_SECRET) && !err.contains(EXAMPLE_SECRET));
}

#[test]
fn binary_without_secret_exits_2() {
    // Nothing in the variable and an empty pipe: a clear error naming both ways in.
    let (code, out, err) = smtpscope(&["password", "--region", "us-east-1"], None, "");
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
}

#[test]
fn binary_has_no_flag_that_takes_the_secret() {
    let (code, out, err) = smtpscope(
        &[
            "password",
            "--region",
            "us-east-1",
            "--secret",
            EXAMPLE_SECRET,
        ],
        None,
        "",
    );
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(err.contains("--secret"), "{err}");
    assert!(
        !err.contains(EXAMPLE_SECRET),
        "the secret was echoed: {err}"
    );
}
