//! Resolve profile hosts into concrete SSH targets: profile defaults, ssh_config aliases and
//! per-host overrides, in that order of increasing precedence.

use super::diag::{ConfigError, ConfigErrors};
use super::profile::Profile;
use super::ssh_config::SshConfig;
use std::path::PathBuf;
use std::time::Duration;

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_file: Option<PathBuf>,
    /// The hop to go through first (ProxyJump), if any.
    pub jump: Option<Box<SshTarget>>,
}

impl SshTarget {
    /// "user@host:port"
    pub fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// A profile host, ready to dial.
#[derive(Debug, Clone)]
pub struct ResolvedHost {
    pub name: String,
    pub target: SshTarget,
    pub use_agent: bool,
    pub known_hosts: PathBuf,
    pub docker_socket: String,
    /// Where the release journal and deploy locks live on the host.
    pub state_dir: String,
    pub connect_timeout: Duration,
    pub keepalive_interval: Duration,
}

/// Expand a leading `~` to $HOME.
pub fn expand_tilde(p: &str) -> PathBuf {
    if p == "~" {
        return home();
    }
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(p),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn local_user() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "root".into())
}

pub fn resolve_hosts(profile: &Profile) -> Result<Vec<ResolvedHost>, ConfigErrors> {
    let d = &profile.ssh;
    let cfg_path = expand_tilde(d.ssh_config.as_deref().unwrap_or("~/.ssh/config"));
    let ssh_config = SshConfig::load(&cfg_path)
        .map_err(|e| ConfigError::whole_file(&cfg_path, format!("cannot read ssh_config: {e}")))?;
    let known_hosts = expand_tilde(d.known_hosts.as_deref().unwrap_or("~/.ssh/known_hosts"));
    let default_user = d.user.clone().unwrap_or_else(local_user);
    let mut out = Vec::new();
    for h in &profile.hosts {
        let alias = h.address.get_ref();
        let base = Base {
            user: h.user.clone().or_else(|| d.user.clone()),
            port: h.port.or(d.port),
            identity: h.identity_file.clone().or_else(|| d.identity_file.clone()),
            jump: h.jump.clone().or_else(|| d.jump.clone()),
        };
        let target = resolve_target(alias, &base, &default_user, &ssh_config, 0)
            .map_err(|m| ConfigError::at(&profile.path, "", None, format!("host {:?}: {m}", h.name.get_ref())))?;
        out.push(ResolvedHost {
            name: h.name.get_ref().clone(),
            target,
            use_agent: d.use_agent.unwrap_or(true),
            known_hosts: known_hosts.clone(),
            docker_socket: h.docker_socket.clone().unwrap_or_else(|| "/var/run/docker.sock".into()),
            state_dir: h.state_dir.clone().unwrap_or_else(|| "/var/lib/fleetdeck".into()),
            connect_timeout: d.connect_timeout.map(|x| x.0).unwrap_or(Duration::from_secs(10)),
            keepalive_interval: d.keepalive_interval.map(|x| x.0).unwrap_or(Duration::from_secs(5)),
        });
    }
    Ok(out)
}

struct Base {
    user: Option<String>,
    port: Option<u16>,
    identity: Option<String>,
    jump: Option<String>,
}

/// Explicit profile values win over ssh_config, which wins over built-in defaults.
fn resolve_target(
    spec: &str,
    explicit: &Base,
    default_user: &str,
    cfg: &SshConfig,
    depth: usize,
) -> Result<SshTarget, String> {
    if depth > 8 {
        return Err("ProxyJump chain is longer than 8 hops (a loop?)".into());
    }
    let (spec_user, alias, spec_port) = split_user_host_port(spec)?;
    let entry = cfg.lookup(&alias);
    let user =
        spec_user.or_else(|| explicit.user.clone()).or(entry.user.clone()).unwrap_or_else(|| default_user.to_string());
    let port = spec_port.or(explicit.port).or(entry.port).unwrap_or(22);
    let identity = explicit.identity.clone().or(entry.identity_file.clone()).map(|p| expand_tilde(&p));
    let jump_spec = explicit.jump.clone().or(entry.proxy_jump.clone());
    let jump = match jump_spec {
        Some(chain) => {
            // "a,b" means: a first, then b, then the target.
            let hops: Vec<&str> = chain.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            let mut prev: Option<Box<SshTarget>> = None;
            for hop in hops {
                let hop_base = Base { user: None, port: None, identity: explicit.identity.clone(), jump: None };
                let mut t = resolve_target(hop, &hop_base, default_user, cfg, depth + 1)?;
                if prev.is_some() {
                    t.jump = prev.take();
                }
                prev = Some(Box::new(t));
            }
            prev
        }
        None => None,
    };
    Ok(SshTarget { host: entry.hostname.unwrap_or(alias), port, user, identity_file: identity, jump })
}

/// "[user@]host[:port]" (IPv6 as "[::1]:22").
fn split_user_host_port(spec: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, spec),
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, tail) = r.split_once(']').ok_or_else(|| format!("bad address {spec:?}: missing ']'"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| format!("bad port in {spec:?}"))?),
            None => None,
        };
        (h.to_string(), port)
    } else if rest.matches(':').count() == 1 {
        let (h, p) = rest.split_once(':').unwrap();
        (h.to_string(), Some(p.parse().map_err(|_| format!("bad port in {spec:?}"))?))
    } else {
        (rest.to_string(), None)
    };
    if host.is_empty() {
        return Err(format!("bad address {spec:?}: empty host"));
    }
    Ok((user, host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_host_port_forms() {
        assert_eq!(split_user_host_port("h").unwrap(), (None, "h".into(), None));
        assert_eq!(split_user_host_port("u@h:22").unwrap(), (Some("u".into()), "h".into(), Some(22)));
        assert_eq!(split_user_host_port("[::1]:2200").unwrap(), (None, "::1".into(), Some(2200)));
        assert!(split_user_host_port("h:xx").is_err());
    }

    #[test]
    fn alias_and_jump_chain() {
        let cfg = SshConfig::parse(
            "Host db\n HostName 10.0.0.5\n User pg\n Port 2201\n IdentityFile /k\n ProxyJump a,b:2222\nHost b\n HostName 10.0.0.2\n",
        );
        let explicit = Base { user: None, port: None, identity: None, jump: None };
        let t = resolve_target("db", &explicit, "me", &cfg, 0).unwrap();
        assert_eq!(t.host, "10.0.0.5");
        assert_eq!(t.user, "pg");
        assert_eq!(t.port, 2201);
        assert_eq!(t.identity_file, Some(PathBuf::from("/k")));
        let b = t.jump.as_ref().unwrap();
        assert_eq!((b.host.as_str(), b.port), ("10.0.0.2", 2222));
        let a = b.jump.as_ref().unwrap();
        assert_eq!((a.host.as_str(), a.port, a.user.as_str()), ("a", 22, "me"));
        // explicit profile values beat ssh_config
        let explicit = Base { user: Some("deploy".into()), port: Some(22), identity: None, jump: None };
        let t = resolve_target("db", &explicit, "me", &cfg, 0).unwrap();
        assert_eq!((t.user.as_str(), t.port), ("deploy", 22));
    }
}
