//! Where an OAuth access token comes from, for `--auth xoauth2` and `--auth oauthbearer`:
//! `--token-file`, `--token-command` (its first line of output, as msmtp's `passwordeval`),
//! or the `SMTPSCOPE_OAUTH_TOKEN` environment variable. Never from a visible argument.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use zeroize::Zeroizing;

use super::CliError;
use crate::engine::escape::escape_str;
use crate::engine::limited::{self, limit};

/// The environment variable that holds an access token.
pub const TOKEN_ENV: &str = "SMTPSCOPE_OAUTH_TOKEN";
/// How long `--token-command` may run.
pub(crate) const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// The most output read from `--token-command` (an access token is a few KiB at most).
const TOKEN_MAX: u64 = limit::PASSWORD;

/// OAuth access token sources (XOAUTH2, OAUTHBEARER).
#[derive(Clone, Args, Default, Debug)]
pub struct TokenArgs {
    /// Read the OAuth access token from this file (first line). Without this or
    /// --token-command, the token comes from the SMTPSCOPE_OAUTH_TOKEN environment variable
    #[expect(
        clippy::doc_markdown,
        reason = "this comment is --help text, shown verbatim"
    )]
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Credentials",
        conflicts_with = "token_command"
    )]
    pub token_file: Option<PathBuf>,
    /// Run this shell command for the OAuth access token: its first line of output is the
    /// token (e.g. `smtpscope oauth token --provider microsoft`). It may run 30 s; its output
    /// is never shown
    #[arg(long, value_name = "CMD", help_heading = "Credentials")]
    pub token_command: Option<String>,
}

/// Where the token came from, for messages that must not show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    File,
    Command,
}

impl TokenArgs {
    /// Whether a token source was named on the command line.
    pub(crate) fn given(&self) -> bool {
        self.token_file.is_some() || self.token_command.is_some()
    }

    /// The access token from the file, the command or the environment, if any.
    pub fn token(&self) -> Result<Option<(Zeroizing<String>, TokenSource)>, CliError> {
        if let Some(path) = &self.token_file {
            let text = limited::read_secret_file(path, "the access token", TOKEN_MAX)?;
            return Ok(Some((first_line(&text), TokenSource::File)));
        }
        if let Some(cmd) = &self.token_command {
            return run_token_command(cmd, TOKEN_COMMAND_TIMEOUT)
                .map(|t| Some((t, TokenSource::Command)));
        }
        Ok(std::env::var(TOKEN_ENV)
            .ok()
            .map(|t| (Zeroizing::new(t.trim().to_string()), TokenSource::Env)))
    }
}

fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.lines().next().unwrap_or("").trim().to_string())
}

/// Runs `cmd` with `sh -c`, without standard input, and returns the first line it printed.
/// Bounded in time (`timeout`, then the command is killed) and in output. Its output is
/// never put in an error: it may be the token, or part of it.
pub(crate) fn run_token_command(
    cmd: &str,
    timeout: Duration,
) -> Result<Zeroizing<String>, CliError> {
    let shown = format!("--token-command \"{}\"", escape_str(cmd));
    if cmd.contains(['\r', '\n', '\0']) {
        return Err(CliError::Usage(
            "--token-command contains a line break or a NUL byte; give one command line".into(),
        ));
    }
    if cmd.trim().is_empty() {
        return Err(CliError::Usage("--token-command is empty".into()));
    }
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| CliError::Usage(format!("{shown} could not be started: {e}")))?;
    let stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Zeroizing::new(Vec::with_capacity(4096));
        let result = match stdout {
            Some(out) => out.take(TOKEN_MAX + 1).read_to_end(&mut buf).map(|_| ()),
            None => Ok(()),
        };
        let _ = tx.send(result.map(|()| buf));
    });
    let deadline = Instant::now() + timeout;
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let timed_out = || {
        CliError::Usage(format!(
            "{shown} did not finish within {} s and was stopped",
            timeout.as_secs()
        ))
    };
    let output = match rx.recv_timeout(timeout) {
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => {
            stop(&mut child);
            return Err(CliError::Usage(format!(
                "cannot read the output of {shown}: {e}"
            )));
        }
        Err(_) => {
            stop(&mut child);
            return Err(timed_out());
        }
    };
    if output.len() as u64 > TOKEN_MAX {
        stop(&mut child);
        return Err(CliError::Usage(format!(
            "{shown} printed more than {}; an access token is much shorter",
            limited::Size(TOKEN_MAX)
        )));
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                stop(&mut child);
                return Err(timed_out());
            }
            Err(e) => {
                return Err(CliError::Usage(format!(
                    "{shown} could not be waited for: {e}"
                )));
            }
        }
    };
    if !status.success() {
        let how = match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".into(),
        };
        return Err(CliError::Usage(format!(
            "{shown} {how}; its output is not shown, since it may hold the token (run the command yourself to see its messages)"
        )));
    }
    let Ok(text) = std::str::from_utf8(&output) else {
        return Err(CliError::Usage(format!(
            "{shown} printed something that is not UTF-8 text"
        )));
    };
    let token = first_line(text);
    if token.is_empty() {
        return Err(CliError::Usage(format!(
            "{shown} succeeded but printed no token on its first line"
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_first_line_is_the_token() {
        let t = run_token_command("printf 'tok-123\\nsecond\\n'", TOKEN_COMMAND_TIMEOUT).unwrap();
        assert_eq!(t.as_str(), "tok-123");
    }

    #[test]
    fn command_failure_names_the_status_and_hides_the_output() {
        // The output ("sekret-token") is not in the command line, so only a leak shows it.
        let err = run_token_command(
            "printf c2VrcmV0LXRva2Vu | base64 -d; exit 3",
            TOKEN_COMMAND_TIMEOUT,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("exited with status 3"), "{err}");
        assert!(err.contains("base64 -d"), "the command is named: {err}");
        assert!(!err.contains("sekret-token"), "{err}");
    }

    #[test]
    fn command_is_bounded_in_time_and_output() {
        let started = Instant::now();
        let err = run_token_command("sleep 20", Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let err = run_token_command(
            "head -c 200000 /dev/zero | tr '\\0' a",
            TOKEN_COMMAND_TIMEOUT,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("printed more than"), "{err}");
        let err = run_token_command("true", TOKEN_COMMAND_TIMEOUT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no token"), "{err}");
        assert!(run_token_command("a\nb", TOKEN_COMMAND_TIMEOUT).is_err());
    }
}
