//! AUTH helpers on arbitrary input: the 334 challenge decoder, credential validation and the
//! PLAIN/LOGIN encoders, the redacted renderings and the secret scrubber.
//!
//! (A PLAIN blob *parser* belongs to the simulator; its target joins this crate with it.)

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use smtpscope::engine::auth::{Credentials, Redacted, SecretScrubber, decode_challenge};
use zeroize::Zeroizing;

const MASK: &str = "<redacted>";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    // The challenge decoder: whatever it returns prints safely and re-encodes to itself.
    let text = String::from_utf8_lossy(data);
    if let Some(prompt) = decode_challenge(&text) {
        assert!(!prompt.chars().any(char::is_control), "{prompt:?}");
        let again = B64.encode(prompt.as_bytes());
        assert_eq!(decode_challenge(&again).as_deref(), Some(prompt.as_str()));
    }

    // Credentials from the two halves of the input.
    let split = data
        .iter()
        .position(|&b| b == 0xff)
        .unwrap_or(data.len() / 2);
    let user = String::from_utf8_lossy(&data[..split]).into_owned();
    let password = String::from_utf8_lossy(data.get(split + 1..).unwrap_or_default()).into_owned();
    let has_control = |s: &str| s.contains(['\r', '\n', '\0']);
    let creds = match Credentials::new(&user, Zeroizing::new(password.clone())) {
        Ok(c) => c,
        Err(e) => {
            assert!(
                has_control(&user) || has_control(&password),
                "refused clean input: {e}"
            );
            assert!(password.len() < 4 || !e.to_string().contains(&password));
            return;
        }
    };
    assert!(!has_control(&user) && !has_control(&password));
    let blob = B64
        .decode(creds.plain_blob().as_str())
        .expect("PLAIN blob is base64");
    assert_eq!(
        blob,
        [b"\0", user.as_bytes(), b"\0", password.as_bytes()].concat()
    );
    assert_eq!(B64.decode(creds.login_user()).unwrap(), user.as_bytes());
    assert_eq!(
        B64.decode(creds.login_password().as_str()).unwrap(),
        password.as_bytes()
    );

    // Debug never shows the password (unless it is a substring of what Debug always prints).
    let debug = format!("{creds:?}");
    let dummy = format!(
        "{:?}",
        Credentials::new(&user, Zeroizing::new(String::new())).unwrap()
    );
    if !password.is_empty() && !dummy.contains(&password) {
        assert!(!debug.contains(&password), "Debug shows the password");
    }

    // Hidden renderings do not depend on the user at all.
    for initial in [false, true] {
        let mine = Redacted::PlainBlob {
            initial,
            user: user.clone(),
            authzid: None,
        };
        let other = Redacted::PlainBlob {
            initial,
            user: "someone-else".into(),
            authzid: None,
        };
        assert_eq!(mine.render(false), other.render(false));
        assert!(!mine.render(true).chars().any(char::is_control));
    }
    let login = Redacted::LoginUser { user: user.clone() };
    assert_eq!(
        login.render(false),
        Redacted::LoginUser { user: "x".into() }.render(false)
    );

    // After scrubbing, no base64-alphabet form of the secret is left in an echo of it.
    let mut scrubber = SecretScrubber::default();
    scrubber.add(&creds);
    let mut hay = data.to_vec();
    hay.extend_from_slice(creds.plain_blob().as_bytes());
    hay.extend_from_slice(data);
    hay.extend_from_slice(creds.login_password().as_bytes());
    scrubber.scrub_bytes(&mut hay);
    for form in creds.secret_forms() {
        let checkable = form.len() >= SecretScrubber::MIN_LEN
            && !form.contains(['<', '>'])
            && !MASK.contains(form.as_str());
        if checkable {
            assert!(
                !contains(&hay, form.as_bytes()),
                "a form survived scrubbing"
            );
        }
    }
}
