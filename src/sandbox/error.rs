//! The sandbox's error type: which step failed, on which host, which command, and the tail
//! of what it printed.

use std::fmt;

/// Why a sandbox operation failed.
///
/// `Display` names the step (for example `start dockerd`), the host (`host-2`) when the step
/// was about one host, the command line that ran, and the last lines of its output or log.
#[derive(Debug, Clone)]
pub struct SandboxError {
    /// What the sandbox was doing, e.g. `start dockerd` or `build image fleetdeck-demo/web:v2`.
    pub step: String,
    /// The sandbox host the step was about (`host-1`, ...), if any.
    pub host: Option<String>,
    /// The command line that failed, if a command failed.
    pub command: Option<String>,
    /// What went wrong: exit status, the tail of stderr or of a log file, an I/O error.
    pub detail: String,
}

impl SandboxError {
    /// An error of `step` (not about one host) with `detail`.
    pub fn new(step: impl Into<String>, detail: impl Into<String>) -> Self {
        SandboxError { step: step.into(), host: None, command: None, detail: detail.into() }
    }

    /// The same error, about `host`.
    pub fn on_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The same error, naming the command line that failed.
    pub fn with_command(mut self, command: impl Into<String>) -> Self {
        self.command = Some(command.into());
        self
    }

    /// An I/O error of `step` on `path`.
    pub fn io(step: impl Into<String>, path: &std::path::Path, err: std::io::Error) -> Self {
        SandboxError::new(step, format!("{}: {err}", path.display()))
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sandbox: {} failed", self.step)?;
        if let Some(host) = &self.host {
            write!(f, " on {host}")?;
        }
        let detail = self.detail.trim_end();
        if !detail.is_empty() {
            if detail.contains('\n') {
                write!(f, ":\n{detail}")?;
            } else {
                write!(f, ": {detail}")?;
            }
        }
        if let Some(command) = &self.command {
            write!(f, "\n  command: {command}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SandboxError {}

/// The last `max_lines` lines of `text` (at most ~4000 bytes), for error messages.
pub(crate) fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = lines[start..].join("\n");
    if out.len() > 4000 {
        let mut cut = out.len() - 4000;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = format!("...{}", &out[cut..]);
    }
    out
}

/// The last lines of a log file, or a note that it could not be read.
pub(crate) fn log_tail(path: &std::path::Path, max_lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            format!("last lines of {}:\n{}", path.display(), tail(&String::from_utf8_lossy(&bytes), max_lines))
        }
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}
