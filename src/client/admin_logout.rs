//! The profile's `force_logout: { command: [...] }` hook: "log this user out everywhere" as a
//! program — a CLI or a database update — run once per user, with the user name in
//! `AUTHBENCH_USER`, bounded by the hook's timeout. Exit status 0 is success; anything else
//! (a non-zero status, a program that cannot start, a timeout) is an error that names the
//! program and quotes the start of its standard error.

use std::process::Stdio;

use crate::profile::ForceLogoutHook;
use crate::profile::file::DEFAULT_HOOK_TIMEOUT;

/// The environment variable that carries the user to the hook.
pub const USER_ENV: &str = "AUTHBENCH_USER";

/// Characters of the hook's standard error kept in a message.
const STDERR_CHARS: usize = 200;

/// Why a run of the hook did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The program could not be started.
    #[error("force_logout command `{program}` cannot start: {source}")]
    Start {
        /// The program.
        program: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// It exited unsuccessfully.
    #[error("force_logout command `{program}` for {user} exited with {status}: {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// The user.
        user: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The start of its standard error.
        stderr: String,
    },
    /// It ran past the timeout (and was killed).
    #[error(
        "force_logout command `{program}` for {user} took longer than {timeout:?} and was stopped"
    )]
    Timeout {
        /// The program.
        program: String,
        /// The user.
        user: String,
        /// The bound.
        timeout: std::time::Duration,
    },
}

/// Runs `hook` for `user`.
pub async fn run_hook(hook: &ForceLogoutHook, user: &str) -> Result<(), HookError> {
    let program = hook.command.first().cloned().unwrap_or_default();
    let timeout = hook.timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT);
    let child = tokio::process::Command::new(&program)
        .args(&hook.command[1..])
        .env(USER_ENV, user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HookError::Start {
            program: program.clone(),
            source,
        })?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(source)) => return Err(HookError::Start { program, source }),
        Err(_) => {
            return Err(HookError::Timeout {
                program,
                user: user.to_string(),
                timeout,
            });
        }
    };
    if out.status.success() {
        return Ok(());
    }
    Err(HookError::Failed {
        program,
        user: user.to_string(),
        status: out.status,
        stderr: crate::redact::excerpt(String::from_utf8_lossy(&out.stderr).trim(), STDERR_CHARS),
    })
}
