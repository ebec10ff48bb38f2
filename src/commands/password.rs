//! `smtpscope password`: derive the SES SMTP password from an AWS secret access key.
//!
//! The secret comes from `AWS_SECRET_ACCESS_KEY` or standard input, never from argv (where
//! `ps` and shell history would see it). Printing the derived password is the point of the
//! command; the secret itself is never printed.

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use zeroize::Zeroizing;

use super::error::{CommandError, CommandResult};
use crate::engine::ses;

/// The environment variable the secret access key is read from.
pub(crate) const SECRET_ENV: &str = "AWS_SECRET_ACCESS_KEY";

/// Secrets are short; refuse to buffer more than this from stdin.
const MAX_SECRET_INPUT: u64 = 4096;

/// The secret from the environment: absent, or present and valid UTF-8 or not.
type EnvSecret = Option<Result<Zeroizing<String>, NotUtf8>>;

/// The environment value was not UTF-8 (the value itself is dropped, never shown).
#[derive(Debug)]
struct NotUtf8;

#[derive(clap::Args, Debug)]
pub struct PasswordArgs {
    /// Region of the SES SMTP endpoint the password is for (e.g. us-east-1); passwords work
    /// in one region only
    #[arg(long, value_name = "REGION", required_unless_present = "all_regions")]
    pub region: Option<String>,
    /// Print one "REGION PASSWORD" line for every known SES SMTP region (plus --region)
    #[arg(long)]
    pub all_regions: bool,
    /// Read the secret access key from standard input instead of `AWS_SECRET_ACCESS_KEY`
    /// (also done without this flag when the variable is unset and the input is a pipe)
    #[arg(long)]
    pub secret_stdin: bool,
}

/// Run the command: print the password(s); bad input is an error (exit 2).
pub fn run(args: &PasswordArgs) -> CommandResult {
    let env_secret = std::env::var_os(SECRET_ENV)
        .map(|v| v.into_string().map(Zeroizing::new).map_err(|_| NotUtf8));
    let stdin = io::stdin();
    // `… | smtpscope password --region R` does what it says: a pipe and no variable mean the
    // secret is on the pipe. A terminal is never read without the flag (no echoing prompt).
    let piped = env_secret.is_none() && !stdin.is_terminal();
    let args = PasswordArgs {
        secret_stdin: args.secret_stdin || piped,
        region: args.region.clone(),
        all_regions: args.all_regions,
    };
    run_io(
        &args,
        env_secret,
        &mut stdin.lock(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The command with its inputs and outputs passed in; `env_secret` is the environment value.
fn run_io(
    args: &PasswordArgs,
    env_secret: EnvSecret,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CommandError> {
    match derive(args, env_secret, stdin, out, err) {
        // The reader went away (`| head`): nothing left to tell anyone.
        Ok(()) | Err(Failure::BrokenPipe) => Ok(()),
        Err(Failure::Message(message)) => Err(CommandError::usage(message)),
    }
}

fn derive(
    args: &PasswordArgs,
    env_secret: EnvSecret,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Failure> {
    if let Some(region) = &args.region
        && !ses::is_valid_region_name(region)
    {
        return Err(Failure::Message(format!(
            "{region:?} is not an AWS region name (expected something like us-east-1)"
        )));
    }
    let secret = read_secret(args.secret_stdin, env_secret, stdin).map_err(Failure::Message)?;
    check_secret(&secret, err);

    let mut regions: Vec<&str> = Vec::new();
    if let Some(region) = args.region.as_deref() {
        if !ses::KNOWN_SMTP_REGIONS.contains(&region) {
            let _ = writeln!(
                err,
                "note: {region} is not in smtpscope's list of SES SMTP regions; the password is \
                 derived anyway, but check that {} exists",
                ses::smtp_endpoint(region)
            );
        }
        regions.push(region);
    }
    if args.all_regions {
        let given = args.region.as_deref();
        regions.extend(
            ses::KNOWN_SMTP_REGIONS
                .iter()
                .copied()
                .filter(|r| Some(*r) != given),
        );
    }
    let write_failed = |e: io::Error| match e.kind() {
        io::ErrorKind::BrokenPipe => Failure::BrokenPipe,
        _ => Failure::Message(format!("cannot write the output: {e}")),
    };
    for region in regions {
        let password = Zeroizing::new(ses::derive_smtp_password(&secret, region));
        if args.all_regions {
            writeln!(out, "{region:<16} {}", password.as_str()).map_err(write_failed)?;
        } else {
            writeln!(out, "{}", password.as_str()).map_err(write_failed)?;
        }
    }
    out.flush().map_err(write_failed)
}

/// Why the command stopped early.
enum Failure {
    /// Bad input or an unusable output: a message for stderr, exit 2.
    Message(String),
    /// Standard output was closed by its reader.
    BrokenPipe,
}

/// The secret from stdin (one trailing newline trimmed) or the environment.
fn read_secret(
    from_stdin: bool,
    env_secret: EnvSecret,
    stdin: &mut dyn Read,
) -> Result<Zeroizing<String>, String> {
    let secret = if from_stdin {
        let mut secret = crate::engine::limited::read_secret(
            stdin,
            "the secret access key",
            "standard input",
            MAX_SECRET_INPUT,
        )
        .map_err(|e| e.to_string())?;
        if secret.ends_with('\n') {
            secret.pop();
            if secret.ends_with('\r') {
                secret.pop();
            }
        }
        secret
    } else {
        match env_secret {
            Some(Ok(value)) => value,
            Some(Err(_)) => return Err(format!("{SECRET_ENV} is not valid UTF-8")),
            None => {
                return Err(format!(
                    "no secret access key: set {SECRET_ENV}, or pipe it in with --secret-stdin"
                ));
            }
        }
    };
    if secret.is_empty() {
        let source = if from_stdin {
            "standard input"
        } else {
            SECRET_ENV
        };
        return Err(format!(
            "the secret access key from {source} is empty: set {SECRET_ENV}, or pipe the key in"
        ));
    }
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            "the secret access key contains whitespace or control characters (a stray space \
             or an extra newline?); AWS secret keys have none"
                .into(),
        );
    }
    Ok(secret)
}

/// Warn (without quoting it) when the secret does not look like an AWS secret access key.
fn check_secret(secret: &str, err: &mut dyn Write) {
    let len = secret.chars().count();
    if len != ses::SECRET_ACCESS_KEY_LEN {
        let _ = writeln!(
            err,
            "warning: the secret is {len} characters long; AWS secret access keys have {} \
             (was it copied whole? is it the access key ID instead?)",
            ses::SECRET_ACCESS_KEY_LEN
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const US_EAST_1: &str = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9";

    fn args(region: Option<&str>, all: bool, stdin: bool) -> PasswordArgs {
        PasswordArgs {
            region: region.map(str::to_string),
            all_regions: all,
            secret_stdin: stdin,
        }
    }

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the environment's value is an Option; this builds a present one"
    )]
    fn env(s: &str) -> EnvSecret {
        Some(Ok(Zeroizing::new(s.to_string())))
    }

    fn call(a: &PasswordArgs, env_secret: EnvSecret, stdin: &str) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = match run_io(a, env_secret, &mut stdin.as_bytes(), &mut out, &mut err) {
            Ok(()) => 0,
            Err(e) => {
                crate::commands::write_error(&mut err, "smtpscope password", &e);
                i32::from(e.code())
            }
        };
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn from_env() {
        let (code, out, err) = call(&args(Some("us-east-1"), false, false), env(SECRET), "");
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (0, "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9\n", "")
        );
    }

    #[test]
    fn from_stdin_trims_one_newline_only() {
        let a = args(Some("us-east-1"), false, true);
        for input in [
            SECRET.to_string(),
            format!("{SECRET}\n"),
            format!("{SECRET}\r\n"),
        ] {
            let (code, out, _) = call(&a, None, &input);
            assert_eq!((code, out.trim_end()), (0, US_EAST_1), "{input:?}");
        }
        let (code, out, err) = call(&a, None, &format!("{SECRET}\n\n"));
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.contains("whitespace"));
        assert!(!err.contains(SECRET));
    }

    #[test]
    fn stdin_wins_over_env_when_asked() {
        let (code, out, _) = call(&args(Some("us-east-1"), false, true), env("other"), SECRET);
        assert_eq!((code, out.trim_end()), (0, US_EAST_1));
    }

    #[test]
    fn missing_or_empty_secret() {
        let (code, out, err) = call(&args(Some("us-east-1"), false, false), None, SECRET);
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
        let (code, _, err) = call(&args(Some("us-east-1"), false, true), None, "\n");
        assert_eq!(code, 2);
        assert!(err.contains("empty"));
    }

    #[test]
    fn all_regions_lists_every_known_region() {
        let (code, out, _) = call(&args(None, true, false), env(SECRET), "");
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), ses::KNOWN_SMTP_REGIONS.len());
        assert!(lines.contains(&format!("{:<16} {US_EAST_1}", "us-east-1").as_str()));
        for (line, region) in lines.iter().zip(ses::KNOWN_SMTP_REGIONS) {
            let (r, pw) = line.split_once(' ').unwrap();
            assert_eq!(r, *region);
            assert_eq!(pw.trim(), ses::derive_smtp_password(SECRET, region));
        }
    }

    #[test]
    fn unknown_region_is_derived_with_a_note_and_bad_names_refused() {
        let (code, out, err) = call(&args(Some("ap-southeast-3"), false, false), env(SECRET), "");
        assert_eq!(code, 0);
        assert_eq!(
            out.trim_end(),
            ses::derive_smtp_password(SECRET, "ap-southeast-3")
        );
        assert!(err.contains("not in smtpscope's list"));
        let (code, out, err) = call(&args(Some("US East"), false, false), env(SECRET), "");
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(err.contains("not an AWS region name"));
    }

    #[test]
    fn short_secret_warns_without_quoting_it() {
        let (code, out, err) = call(&args(Some("us-east-1"), false, false), env("tooshort"), "");
        assert_eq!(code, 0);
        assert_eq!(
            out.trim_end(),
            ses::derive_smtp_password("tooshort", "us-east-1")
        );
        assert!(err.contains("8 characters long"));
        assert!(!err.contains("tooshort"));
    }
}
