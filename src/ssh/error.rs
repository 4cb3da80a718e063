//! SSH errors, each phrased for the person who has to fix it.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshError {
    /// TCP connect failed or timed out.
    Unreachable { addr: String, cause: String },
    /// The server's host key differs from the one recorded: refused.
    HostKeyChanged { addr: String, known_hosts: PathBuf, line: usize, expected: String, got: String },
    /// The server's host key is not in known_hosts and was not accepted.
    HostKeyUnknown { addr: String, fingerprint: String, known_hosts: PathBuf },
    /// The host key is marked @revoked.
    HostKeyRevoked { addr: String, fingerprint: String, line: usize },
    /// The server refused every key we offered.
    AuthFailed { addr: String, user: String, tried: Vec<String> },
    /// The identity file needs a passphrase and none was given.
    KeyEncrypted { path: PathBuf },
    /// The identity file could not be read or decoded.
    KeyUnreadable { path: PathBuf, cause: String },
    /// Connecting through the jump host failed.
    Jump { via: String, cause: Box<SshError> },
    /// The connection broke, or the server misbehaved.
    Protocol { addr: String, cause: String },
}

impl SshError {
    /// Errors that retrying cannot fix without the user acting.
    pub fn is_permanent(&self) -> bool {
        match self {
            SshError::HostKeyChanged { .. }
            | SshError::HostKeyUnknown { .. }
            | SshError::HostKeyRevoked { .. }
            | SshError::AuthFailed { .. }
            | SshError::KeyEncrypted { .. }
            | SshError::KeyUnreadable { .. } => true,
            SshError::Jump { cause, .. } => cause.is_permanent(),
            _ => false,
        }
    }

    /// A short label for tables ("auth failed", "host key changed", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            SshError::Unreachable { .. } => "unreachable",
            SshError::HostKeyChanged { .. } => "host key changed",
            SshError::HostKeyUnknown { .. } => "host key unknown",
            SshError::HostKeyRevoked { .. } => "host key revoked",
            SshError::AuthFailed { .. } | SshError::KeyEncrypted { .. } | SshError::KeyUnreadable { .. } => {
                "auth failed"
            }
            SshError::Jump { cause, .. } => cause.kind(),
            SshError::Protocol { .. } => "connection error",
        }
    }
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshError::Unreachable { addr, cause } => write!(f, "{addr} is unreachable: {cause}"),
            SshError::HostKeyChanged { addr, known_hosts, line, expected, got } => write!(
                f,
                "HOST KEY CHANGED for {addr}: refusing to connect. known_hosts {}:{line} has {expected}, the server offered {got}. \
                 If the host was really reinstalled, remove that line and connect again.",
                known_hosts.display()
            ),
            SshError::HostKeyUnknown { addr, fingerprint, known_hosts } => write!(
                f,
                "host key of {addr} is not in {} (server offered {fingerprint}); accept it in the console or pass --accept-new-host-keys",
                known_hosts.display()
            ),
            SshError::HostKeyRevoked { addr, fingerprint, line } => {
                write!(f, "host key {fingerprint} of {addr} is marked @revoked (known_hosts line {line})")
            }
            SshError::AuthFailed { addr, user, tried } => {
                if tried.is_empty() {
                    write!(f, "authentication as {user} to {addr} failed: no key to offer (set identity_file or start ssh-agent)")
                } else {
                    write!(f, "authentication as {user} to {addr} failed: the server refused {}", tried.join(", "))
                }
            }
            SshError::KeyEncrypted { path } => write!(
                f,
                "identity file {} is passphrase-protected: enter it in the console, set FLEETDECK_KEY_PASSPHRASE, or add the key to ssh-agent",
                path.display()
            ),
            SshError::KeyUnreadable { path, cause } => {
                write!(f, "cannot use identity file {}: {cause}", path.display())
            }
            SshError::Jump { via, cause } => write!(f, "via jump host {via}: {cause}"),
            SshError::Protocol { addr, cause } => write!(f, "{addr}: {cause}"),
        }
    }
}

impl std::error::Error for SshError {}
