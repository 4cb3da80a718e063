//! Opening an SSH session to one host: TCP (or a jump host's direct-tcpip channel), host-key
//! verification against known_hosts, then public-key authentication by identity file and/or
//! ssh-agent.

use super::error::SshError;
use super::known_hosts::{self, HostKeyCheck};
use crate::config::hosts::{ResolvedHost, SshTarget};
use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Questions the engine needs a person to answer (the TUI shows them; headless has none).
#[derive(Debug)]
pub enum Prompt {
    /// Trust this new host key? `true` records it in known_hosts.
    HostKey { host: String, addr: String, fingerprint: String, reply: oneshot::Sender<bool> },
    /// The passphrase of an identity file (`None`: cancelled).
    Passphrase { host: String, key_path: PathBuf, reply: oneshot::Sender<Option<String>> },
}

/// How to treat what the profile cannot decide.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Record unknown host keys without asking (headless `--accept-new-host-keys`).
    pub accept_new_host_keys: bool,
    /// Where to ask questions; `None` refuses unknown keys and encrypted identity files.
    pub prompts: Option<mpsc::Sender<Prompt>>,
    /// Passphrase for encrypted identity files (from FLEETDECK_KEY_PASSPHRASE).
    pub passphrase: Option<String>,
}

/// sshd's MaxSessions defaults to 10 session channels per connection; stay under it, in two
/// pools so that long-lived commands can never take every channel from the commands that end
/// (deploy locks, journal writes, backups): this many for commands that end…
pub const MAX_CONCURRENT_EXECS: usize = 5;
/// …and this many for commands that follow until stopped (the usage sampler, `tail -F`,
/// `journalctl -f`); a follower beyond them waits for one to end.
pub const MAX_FOLLOWERS: usize = 4;

/// An authenticated SSH connection to one host.
pub struct SshSession {
    pub(crate) handle: Handle<ClientHandler>,
    /// SHA256 fingerprint of the host key the server presented.
    pub fingerprint: String,
    pub(crate) exec_slots: Arc<Semaphore>,
    pub(crate) follow_slots: Arc<Semaphore>,
    /// Keeps the jump host's connection open as long as this one lives.
    _jump: Option<Arc<SshSession>>,
    pub addr: String,
}

impl SshSession {
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed() || self._jump.as_ref().is_some_and(|j| j.is_closed())
    }

    /// Open a channel to a Unix socket on the host (e.g. the Docker socket).
    pub async fn open_streamlocal(&self, path: &str) -> Result<russh::Channel<client::Msg>, russh::Error> {
        self.handle.channel_open_direct_streamlocal(path).await
    }

    /// Open a TCP channel from the host to `host:port` (e.g. a probe on the host's loopback).
    pub async fn open_tcpip(&self, host: &str, port: u16) -> Result<russh::Channel<client::Msg>, russh::Error> {
        self.handle.channel_open_direct_tcpip(host, port as u32, "127.0.0.1", 0).await
    }

    pub async fn close(&self) {
        let _ = self.handle.disconnect(russh::Disconnect::ByApplication, "bye", "en").await;
    }
}

/// What the host-key check decided, kept so that a refused handshake can say why.
#[derive(Debug, Clone, Default)]
struct KeyVerdict {
    fingerprint: Option<String>,
    refusal: Option<SshError>,
}

pub struct ClientHandler {
    host_name: String,
    target: SshTarget,
    known_hosts: PathBuf,
    opts: ConnectOptions,
    verdict: Arc<Mutex<KeyVerdict>>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(&mut self, offered: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        // A host certificate is checked by its key, as a plain key would be.
        let key = &offered.public_key();
        let fp = known_hosts::fingerprint(key);
        let addr = known_hosts::host_pattern(&self.target.host, self.target.port);
        self.verdict.lock().unwrap().fingerprint = Some(fp.clone());
        let (check, skipped) = match known_hosts::check(&self.known_hosts, &self.target.host, self.target.port, key) {
            Ok(r) => r,
            Err(e) => {
                log::error!("{}: cannot read known_hosts {}: {e}", self.host_name, self.known_hosts.display());
                (HostKeyCheck::Unknown { other_algorithms: vec![] }, vec![])
            }
        };
        for s in skipped {
            log::warn!("{}:{}: line not understood: {}", self.known_hosts.display(), s.line, s.reason);
        }
        let refuse = |e: SshError| {
            self.verdict.lock().unwrap().refusal = Some(e);
            Ok(false)
        };
        match check {
            HostKeyCheck::Known { .. } => Ok(true),
            HostKeyCheck::Changed { line, recorded_fingerprint } => refuse(SshError::HostKeyChanged {
                addr,
                known_hosts: self.known_hosts.clone(),
                line,
                expected: recorded_fingerprint,
                got: fp,
            }),
            HostKeyCheck::Revoked { line } => refuse(SshError::HostKeyRevoked { addr, fingerprint: fp, line }),
            HostKeyCheck::Unknown { other_algorithms } => {
                if !other_algorithms.is_empty() {
                    log::warn!(
                        "{}: known_hosts has keys of another type for {addr} (lines {other_algorithms:?}); the offered {} key is new",
                        self.host_name,
                        key.algorithm()
                    );
                }
                let accepted = if self.opts.accept_new_host_keys {
                    true
                } else if let Some(prompts) = &self.opts.prompts {
                    let (tx, rx) = oneshot::channel();
                    let prompt = Prompt::HostKey {
                        host: self.host_name.clone(),
                        addr: addr.clone(),
                        fingerprint: fp.clone(),
                        reply: tx,
                    };
                    prompts.send(prompt).await.is_ok() && rx.await.unwrap_or(false)
                } else {
                    false
                };
                if !accepted {
                    return refuse(SshError::HostKeyUnknown {
                        addr,
                        fingerprint: fp,
                        known_hosts: self.known_hosts.clone(),
                    });
                }
                match known_hosts::learn(&self.known_hosts, &self.target.host, self.target.port, key) {
                    Ok(_) => log::info!("{}: recorded host key {fp} in {}", self.host_name, self.known_hosts.display()),
                    Err(e) => log::error!("{}: could not record host key: {e}", self.host_name),
                }
                Ok(true)
            }
        }
    }
}

fn ssh_config(host: &ResolvedHost) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(host.keepalive_interval),
        keepalive_max: 3,
        nodelay: true,
        inactivity_timeout: None,
        ..Default::default()
    })
}

/// Connect and authenticate to `host` (through its jump hosts, if any).
pub async fn connect(host: &ResolvedHost, opts: &ConnectOptions) -> Result<SshSession, SshError> {
    connect_target(host, &host.target, opts).await
}

fn connect_target<'a>(
    host: &'a ResolvedHost,
    target: &'a SshTarget,
    opts: &'a ConnectOptions,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SshSession, SshError>> + Send + 'a>> {
    Box::pin(async move {
        let addr = known_hosts::host_pattern(&target.host, target.port);
        let jump = match &target.jump {
            Some(j) => Some(Arc::new(
                connect_target(host, j, opts)
                    .await
                    .map_err(|e| SshError::Jump { via: j.display(), cause: Box::new(e) })?,
            )),
            None => None,
        };
        let verdict = Arc::new(Mutex::new(KeyVerdict::default()));
        let handler = ClientHandler {
            host_name: host.name.clone(),
            target: target.clone(),
            known_hosts: host.known_hosts.clone(),
            opts: opts.clone(),
            verdict: verdict.clone(),
        };
        let config = ssh_config(host);
        let handshake = async {
            match &jump {
                Some(j) => {
                    let ch = j.open_tcpip(&target.host, target.port).await.map_err(|e| SshError::Unreachable {
                        addr: addr.clone(),
                        cause: format!("jump host could not open a tunnel: {e}"),
                    })?;
                    client::connect_stream(config, ch.into_stream(), handler).await.map_err(|e| (e, true))
                }
                None => {
                    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
                        .await
                        .map_err(|e| SshError::Unreachable { addr: addr.clone(), cause: e.to_string() })?;
                    let _ = tcp.set_nodelay(true);
                    client::connect_stream(config, tcp, handler).await.map_err(|e| (e, true))
                }
            }
            .map_err(|(e, _)| classify_handshake_error(&addr, e, &verdict))
        };
        // A host-key prompt waits for a person: do not time that out.
        let asks = opts.prompts.is_some() && !opts.accept_new_host_keys;
        let timeout = if asks { host.connect_timeout.max(Duration::from_secs(600)) } else { host.connect_timeout };
        let mut handle = match tokio::time::timeout(timeout, handshake).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(SshError::Unreachable {
                    addr,
                    cause: format!("no SSH handshake within {}s", host.connect_timeout.as_secs_f32()),
                })
            }
        };
        let fingerprint = verdict.lock().unwrap().fingerprint.clone().unwrap_or_default();
        tokio::time::timeout(
            host.connect_timeout.max(Duration::from_secs(600)),
            authenticate(&mut handle, host, target, opts, &addr),
        )
        .await
        .map_err(|_| SshError::Protocol { addr: addr.clone(), cause: "authentication timed out".into() })??;
        Ok(SshSession {
            handle,
            fingerprint,
            exec_slots: Arc::new(Semaphore::new(MAX_CONCURRENT_EXECS)),
            follow_slots: Arc::new(Semaphore::new(MAX_FOLLOWERS)),
            _jump: jump,
            addr,
        })
    })
}

fn classify_handshake_error(addr: &str, e: russh::Error, verdict: &Mutex<KeyVerdict>) -> SshError {
    if let Some(refusal) = verdict.lock().unwrap().refusal.clone() {
        return refusal;
    }
    match e {
        russh::Error::IO(io) => SshError::Unreachable { addr: addr.into(), cause: io.to_string() },
        russh::Error::Disconnect => SshError::Unreachable {
            addr: addr.into(),
            cause: "the server closed the connection during the handshake".into(),
        },
        other => SshError::Protocol { addr: addr.into(), cause: other.to_string() },
    }
}

async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    host: &ResolvedHost,
    target: &SshTarget,
    opts: &ConnectOptions,
    addr: &str,
) -> Result<(), SshError> {
    let user = target.user.clone();
    let proto = |e: russh::Error| SshError::Protocol { addr: addr.to_string(), cause: e.to_string() };
    let mut tried = Vec::new();
    if let Some(path) = &target.identity_file {
        let key = load_key(path, host, opts).await?;
        let hash = if key.algorithm().is_rsa() {
            handle.best_supported_rsa_hash().await.map_err(proto)?.flatten()
        } else {
            None
        };
        let res = handle
            .authenticate_publickey(user.clone(), PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(proto)?;
        if res.success() {
            return Ok(());
        }
        tried.push(format!("key {}", path.display()));
    }
    if host.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match russh::keys::agent::client::AgentClient::connect_env().await {
            Ok(mut agent) => {
                let ids = agent.request_identities().await.unwrap_or_default();
                let mut offered = 0;
                for id in ids {
                    let key = id.public_key().into_owned();
                    let hash = if key.algorithm().is_rsa() {
                        handle.best_supported_rsa_hash().await.map_err(proto)?.flatten()
                    } else {
                        None
                    };
                    offered += 1;
                    if let Ok(res) = handle.authenticate_publickey_with(user.clone(), key, hash, &mut agent).await {
                        if res.success() {
                            return Ok(());
                        }
                    }
                }
                tried.push(format!("{offered} agent key(s)"));
            }
            Err(e) => log::warn!("{}: ssh-agent not usable: {e}", host.name),
        }
    }
    Err(SshError::AuthFailed { addr: addr.to_string(), user, tried })
}

async fn load_key(
    path: &Path,
    host: &ResolvedHost,
    opts: &ConnectOptions,
) -> Result<russh::keys::PrivateKey, SshError> {
    let unreadable = |e: russh::keys::Error| SshError::KeyUnreadable { path: path.to_path_buf(), cause: e.to_string() };
    match russh::keys::load_secret_key(path, None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let passphrase = match &opts.passphrase {
                Some(p) => Some(p.clone()),
                None => match &opts.prompts {
                    Some(prompts) => {
                        let (tx, rx) = oneshot::channel();
                        let p = Prompt::Passphrase { host: host.name.clone(), key_path: path.to_path_buf(), reply: tx };
                        if prompts.send(p).await.is_ok() {
                            rx.await.ok().flatten()
                        } else {
                            None
                        }
                    }
                    None => None,
                },
            };
            let Some(passphrase) = passphrase else {
                return Err(SshError::KeyEncrypted { path: path.to_path_buf() });
            };
            russh::keys::load_secret_key(path, Some(&passphrase)).map_err(|e| match e {
                russh::keys::Error::IO(io) => {
                    SshError::KeyUnreadable { path: path.to_path_buf(), cause: io.to_string() }
                }
                // a wrong passphrase shows up as a decryption (cryptographic) failure
                other => SshError::KeyUnreadable {
                    path: path.to_path_buf(),
                    cause: format!("wrong passphrase (the key could not be decrypted: {other})"),
                },
            })
        }
        Err(e) => Err(unreadable(e)),
    }
}
