//! How a command fails. The error knows its exit code; `main` prints it, once, through
//! [`super::report`] (which escapes it), and returns the code, so destructors run (the
//! `Zeroizing` buffers that hold a password among them).

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

use crate::cli::CliError;

/// Exit code for input the user can fix: flags, files, standard input, configuration.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when this machine, not the input, is the problem: the terminal, the runtime, a
/// port that cannot be bound, a file that cannot be written.
pub(crate) const EXIT_ENVIRONMENT: u8 = 1;

/// Who can fix the problem, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blame {
    /// The input (exit 2).
    Usage,
    /// The environment (exit 1).
    Environment,
}

/// Why a command could not do its job.
#[derive(Debug)]
pub struct CommandError {
    blame: Blame,
    /// What was being done, e.g. "terminal" or "cannot start the simulator".
    context: Option<&'static str>,
    source: Box<dyn Error + Send + Sync>,
}

impl CommandError {
    /// Bad input: the message says what to change.
    pub fn usage(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            blame: Blame::Usage,
            context: None,
            source: source.into(),
        }
    }

    /// The machine failed the command.
    pub fn environment(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            blame: Blame::Environment,
            context: None,
            source: source.into(),
        }
    }

    /// Names what was being done when it failed.
    #[must_use]
    pub fn context(mut self, context: &'static str) -> Self {
        self.context = Some(context);
        self
    }

    #[cfg(test)]
    pub(crate) fn blame(&self) -> Blame {
        self.blame
    }

    /// The process exit code for this error.
    pub(crate) fn code(&self) -> u8 {
        match self.blame {
            Blame::Usage => EXIT_USAGE,
            Blame::Environment => EXIT_ENVIRONMENT,
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.context {
            Some(c) => write!(f, "{c}: {}", self.source),
            None => self.source.fmt(f),
        }
    }
}

impl Error for CommandError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

impl From<CliError> for CommandError {
    fn from(e: CliError) -> Self {
        Self::usage(e)
    }
}

/// What a command returns: its own exit code when it ran (an outcome, a policy decision), or
/// the error that stopped it.
pub type CommandResult = Result<ExitCode, CommandError>;

/// Prints the error, if any, under the command's name and turns the result into the exit code.
pub fn finish(command: &str, result: CommandResult) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            super::report(command, &e);
            ExitCode::from(e.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_knows_its_code_and_context() {
        let e = CommandError::usage("no scenario \"x\"");
        assert_eq!(e.code(), EXIT_USAGE);
        assert_eq!(e.to_string(), "no scenario \"x\"");
        let e = CommandError::environment(std::io::Error::other("not a tty")).context("terminal");
        assert_eq!(e.code(), EXIT_ENVIRONMENT);
        assert_eq!(e.to_string(), "terminal: not a tty");
        let e: CommandError = CliError::Usage("--to needs an address".into()).into();
        assert_eq!(e.blame(), Blame::Usage);
    }

    #[test]
    fn finish_prints_through_the_escaping_reporter() {
        // `finish` writes to stderr; the escaping itself is tested on `write_error`. Here:
        // the code of an error, and an Ok code passed through untouched.
        assert_eq!(finish("x", Ok(ExitCode::from(9))), ExitCode::from(9));
        assert_eq!(
            finish("x", Err(CommandError::usage("bad"))),
            ExitCode::from(EXIT_USAGE)
        );
    }
}
