//! Exit codes of the contract and the one error type the commands return; rendering for a person.

use std::fmt;

/// The process exit codes of DESIGN §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything passed.
    Ok,
    /// A threshold (`expect:`) or a conformance check failed.
    Failed,
    /// Usage or configuration error: bad YAML, unknown key, bad duration.
    Usage,
    /// The run could not proceed: target unreachable at start, port in use.
    CannotProceed,
    /// Interrupted (Ctrl-C); a partial report was still written.
    Interrupted,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        match self {
            Code::Ok => 0,
            Code::Failed => 1,
            Code::Usage => 2,
            Code::CannotProceed => 3,
            Code::Interrupted => 130,
        }
    }
}

/// An error a command could not get past, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    code: Code,
    message: String,
}

impl CliError {
    /// Bad input: the message names the file, the key and the fix (exit 2).
    pub fn usage(message: impl fmt::Display) -> Self {
        CliError {
            code: Code::Usage,
            message: message.to_string(),
        }
    }

    /// The run could not start or continue (exit 3).
    pub fn cannot_proceed(message: impl fmt::Display) -> Self {
        CliError {
            code: Code::CannotProceed,
            message: message.to_string(),
        }
    }

    pub fn exit_code(&self) -> Code {
        self.code
    }

    /// The text printed on stderr.
    pub fn render(&self) -> String {
        let msg = self.message.trim_end();
        if msg.starts_with("error") {
            msg.to_string()
        } else {
            format!("error: {msg}")
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::cannot_proceed(e)
    }
}
