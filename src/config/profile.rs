//! Profiles: one TOML file per environment (hosts, SSH settings, services, probes).
//!
//! Parsing is strict: unknown fields are errors, and every error names the file, line and
//! column. `Profile::load` parses and validates; `resolve_hosts` (in `hosts.rs`) turns hosts
//! into ready-to-dial SSH targets.

use super::diag::{ConfigError, ConfigErrors};
use super::duration::ConfigDuration;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub ssh: SshDefaults,
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub backups: Vec<crate::config::backup::BackupSpec>,
}

/// SSH settings shared by every host (each host may override them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshDefaults {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<String>,
    pub use_agent: Option<bool>,
    pub known_hosts: Option<String>,
    pub ssh_config: Option<String>,
    pub jump: Option<String>,
    pub connect_timeout: Option<ConfigDuration>,
    pub keepalive_interval: Option<ConfigDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: Spanned<String>,
    pub address: Spanned<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<String>,
    pub jump: Option<String>,
    pub docker_socket: Option<String>,
    /// Where fleetdeck keeps its release journal and deploy locks on this host.
    pub state_dir: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: Spanned<String>,
    pub hosts: Option<Vec<Spanned<String>>>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    pub container_name: Option<Spanned<String>>,
    #[serde(default)]
    pub probes: Vec<ProbeSpec>,
    /// Log files on the service's hosts, followed with `tail -F` (e.g. nginx's access log).
    #[serde(default)]
    pub log_files: Vec<String>,
    /// systemd units whose journal is followed (`journalctl -f -u UNIT`).
    #[serde(default)]
    pub journald_units: Vec<String>,
    /// How the service is deployed (rolling replacement settings).
    pub deploy: Option<DeploySpec>,
}

/// `[services.deploy]`: how fleetdeck rolls out a new image.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    /// "stop-first" (default: replace one replica in place) or "start-first".
    pub strategy: Option<Spanned<String>>,
    /// Replicas replaced at once. Default 1.
    pub batch_size: Option<usize>,
    /// How long a new replica may take to become healthy. Default "60s".
    pub health_timeout: Option<ConfigDuration>,
    /// How long a batch must stay healthy before the next starts. Default "3s".
    pub monitor: Option<ConfigDuration>,
    /// Grace period for stopping the old replica. Default "10s".
    pub stop_timeout: Option<ConfigDuration>,
    /// Steps run once before anything changes.
    #[serde(default)]
    pub pre_deploy: Vec<HookSpec>,
    /// Run on a replica's host before it is stopped (e.g. take it out of an upstream).
    #[serde(default)]
    pub pre_stop: Vec<HookSpec>,
    /// Run on a replica's host after its replacement passed the health gate.
    #[serde(default)]
    pub post_start: Vec<HookSpec>,
    /// start-first: the environment variable the app reads its listening port from (set to
    /// the replacement's own port). Published host ports on that port move with it.
    pub port_env: Option<Spanned<String>>,
    /// start-first: ports the replacements are given, "8100-8199" (or one port, "8100").
    pub port_range: Option<Spanned<String>>,
    /// start-first: moves a replica's traffic to its replacement (and back on a rollback).
    #[serde(default)]
    pub switch: Vec<HookSpec>,
    /// start-first: how long the old replica keeps running after the switch. Default "1s".
    pub drain: Option<ConfigDuration>,
}

/// A command run on a host. Placeholders ({service}, {image}, {release}, {host}; around a
/// replica also {address}, {container}, {port}; in `switch` also {from_container},
/// {to_container}, {from_port}, {to_port}) are replaced by shell-quoted values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSpec {
    pub run: String,
    /// Host to run on; default: the replica's host (pre_deploy: the service's first host).
    pub host: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    pub name: Option<String>,
    pub url: Spanned<String>,
    pub container_port: Option<u16>,
    pub expect_status: Option<u16>,
    pub status_field: Option<String>,
    pub healthy_values: Option<Vec<String>>,
    pub degraded_values: Option<Vec<String>>,
    pub interval: Option<ConfigDuration>,
    pub timeout: Option<ConfigDuration>,
}

/// A validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub path: PathBuf,
    pub name: String,
    pub protected: bool,
    pub read_only: bool,
    pub ssh: SshDefaults,
    pub hosts: Vec<HostSpec>,
    pub services: Vec<Service>,
    pub backups: Vec<super::backup::BackupJob>,
}

/// The label the engine puts on a Swarm task's container: its Swarm service's name.
pub const SWARM_SERVICE_LABEL: &str = "com.docker.swarm.service.name";

/// How a service's containers are recognised, and how its health is probed.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    /// Host names; empty means every host.
    pub hosts: Vec<String>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    pub container_name: Option<Regex>,
    pub probes: Vec<Probe>,
    pub log_files: Vec<String>,
    pub journald_units: Vec<String>,
    pub deploy: Deploy,
}

/// Validated deploy settings of a service.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub start_first: bool,
    pub batch_size: usize,
    pub health_timeout: Duration,
    pub monitor: Duration,
    pub stop_timeout: Duration,
    pub pre_deploy: Vec<HookSpec>,
    pub pre_stop: Vec<HookSpec>,
    pub post_start: Vec<HookSpec>,
    /// start-first: see `DeploySpec`.
    pub port_env: Option<String>,
    pub port_range: Option<PortRange>,
    pub switch: Vec<HookSpec>,
    pub drain: Duration,
}

/// An inclusive range of TCP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// "8100-8199" or "8100".
    pub fn parse(s: &str) -> Result<PortRange, String> {
        let port = |p: &str| match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{:?} is not a TCP port (1-65535)", p.trim())),
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(s)?, port(s)?),
        };
        if first > last {
            return Err(format!("port range {s:?} ends before it starts"));
        }
        Ok(PortRange { first, last })
    }

    pub fn ports(self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl Default for Deploy {
    fn default() -> Self {
        Deploy {
            start_first: false,
            batch_size: 1,
            health_timeout: Duration::from_secs(60),
            monitor: Duration::from_secs(3),
            stop_timeout: Duration::from_secs(10),
            pre_deploy: vec![],
            pre_stop: vec![],
            post_start: vec![],
            port_env: None,
            port_range: None,
            switch: vec![],
            drain: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub url: String,
    pub container_port: Option<u16>,
    pub expect_status: u16,
    pub status_field: Option<String>,
    pub healthy_values: Vec<String>,
    pub degraded_values: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Service {
    /// Does a container with these labels and this name belong to the service?
    pub fn matches(&self, name: &str, label: impl Fn(&str) -> Option<String>) -> bool {
        // A Swarm task belongs to the service whose Swarm service stands for it: named like
        // it, or a stack's `<stack>_<name>` (as the deploy engine finds it).
        if let Some(swarm) = label(SWARM_SERVICE_LABEL) {
            return swarm == self.name || swarm.strip_suffix(self.name.as_str()).is_some_and(|p| p.ends_with('_'));
        }
        if self.compose_project.is_none() && self.compose_service.is_none() && self.container_name.is_none() {
            return false;
        }
        if let Some(p) = &self.compose_project {
            if label("com.docker.compose.project").as_deref() != Some(p.as_str()) {
                return false;
            }
        }
        if let Some(s) = &self.compose_service {
            if label("com.docker.compose.service").as_deref() != Some(s.as_str()) {
                return false;
            }
        }
        if let Some(re) = &self.container_name {
            if !re.is_match(name.trim_start_matches('/')) {
                return false;
            }
        }
        true
    }

    pub fn runs_on(&self, host: &str) -> bool {
        self.hosts.is_empty() || self.hosts.iter().any(|h| h == host)
    }
}

impl Profile {
    /// Read, parse and validate a profile file.
    pub fn load(path: &Path) -> Result<Profile, ConfigErrors> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::whole_file(path, format!("cannot read profile: {e}")))?;
        Profile::parse(path, &source)
    }

    /// Parse and validate profile text; `path` is only used in messages.
    pub fn parse(path: &Path, source: &str) -> Result<Profile, ConfigErrors> {
        let raw: RawProfile = toml::from_str(source).map_err(|e| ConfigError::from_toml(path, source, &e))?;
        validate(path, source, raw)
    }

    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name.get_ref() == name)
    }
}

fn validate(path: &Path, source: &str, raw: RawProfile) -> Result<Profile, ConfigErrors> {
    let mut errors = Vec::new();
    let err = |span: std::ops::Range<usize>, msg: String| ConfigError::at(path, source, Some(span), msg);

    if raw.name.get_ref().trim().is_empty() {
        errors.push(err(raw.name.span(), "profile name must not be empty".into()));
    }
    if raw.hosts.is_empty() {
        errors.push(ConfigError::at(path, source, None, "profile has no [[hosts]]: add at least one host"));
    }
    let mut host_names = HashSet::new();
    for (i, h) in raw.hosts.iter().enumerate() {
        let name = h.name.get_ref();
        if name.trim().is_empty() {
            errors.push(err(h.name.span(), "host name must not be empty".into()));
        } else if !host_names.insert(name.clone()) {
            let first = raw.hosts[..i].iter().find(|o| o.name.get_ref() == name).map(|o| o.name.span().start);
            let line = first.map(|off| super::diag::line_col(source, off).0).unwrap_or(0);
            errors.push(err(h.name.span(), format!("duplicate host name {name:?} (first defined on line {line})")));
        }
        if h.address.get_ref().trim().is_empty() {
            errors.push(err(h.address.span(), format!("host {name:?}: address must not be empty")));
        }
    }

    let mut services = Vec::new();
    let mut service_names = HashSet::new();
    for s in raw.services {
        let name = s.name.get_ref().clone();
        if !service_names.insert(name.clone()) {
            errors.push(err(s.name.span(), format!("duplicate service name {name:?}")));
        }
        let mut hosts = Vec::new();
        for h in s.hosts.iter().flatten() {
            if !host_names.contains(h.get_ref()) {
                errors.push(err(
                    h.span(),
                    format!("service {name:?} names unknown host {:?} (hosts: {})", h.get_ref(), sorted(&host_names)),
                ));
            }
            hosts.push(h.get_ref().clone());
        }
        let container_name = match &s.container_name {
            Some(pat) => match Regex::new(pat.get_ref()) {
                Ok(re) => Some(re),
                Err(e) => {
                    // the regex crate's message spans several lines: keep one line per error
                    let msg =
                        e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
                    errors.push(err(pat.span(), format!("service {name:?}: invalid container_name regex: {msg}")));
                    None
                }
            },
            None => None,
        };
        let has_logs = !s.log_files.is_empty() || !s.journald_units.is_empty();
        if s.compose_project.is_none() && s.compose_service.is_none() && s.container_name.is_none() && !has_logs {
            errors.push(err(
                s.name.span(),
                format!(
                    "service {name:?} matches no containers: set compose_project/compose_service or container_name (or log_files/journald_units for a service that runs outside Docker)"
                ),
            ));
        }
        for f in &s.log_files {
            if !f.starts_with('/') {
                errors.push(err(s.name.span(), format!("service {name:?}: log file {f:?} must be an absolute path")));
            }
        }
        let deploy = match &s.deploy {
            None => Deploy::default(),
            Some(d) => {
                let start_first = match d.strategy.as_ref().map(|s| s.get_ref().as_str()) {
                    None | Some("stop-first") => false,
                    Some("start-first") => true,
                    Some(other) => {
                        let span = d.strategy.as_ref().map(|s| s.span()).unwrap_or(0..0);
                        errors.push(err(span, format!("service {name:?}: unknown strategy {other:?} (expected \"stop-first\" or \"start-first\")")));
                        false
                    }
                };
                use crate::deploy::hooks::{self, HookKind};
                let kinds = d.pre_deploy.iter().map(|h| ("pre_deploy", HookKind::Deploy, h));
                let kinds = kinds
                    .chain(d.pre_stop.iter().map(|h| ("pre_stop", HookKind::Replica, h)))
                    .chain(d.post_start.iter().map(|h| ("post_start", HookKind::Replica, h)))
                    .chain(d.switch.iter().map(|h| ("switch", HookKind::Switch, h)));
                for (field, kind, h) in kinds {
                    if let Some(host) = &h.host {
                        if !host_names.contains(host) {
                            errors.push(err(
                                s.name.span(),
                                format!("service {name:?}: hook runs on unknown host {host:?}"),
                            ));
                        }
                    }
                    for problem in hooks::check(kind, &h.run) {
                        errors
                            .push(err(s.name.span(), format!("service {name:?}: {field} hook {:?}: {problem}", h.run)));
                    }
                }
                let port_range = d.port_range.as_ref().and_then(|r| match PortRange::parse(r.get_ref()) {
                    Ok(range) => Some(range),
                    Err(e) => {
                        errors.push(err(r.span(), format!("service {name:?}: port_range: {e}")));
                        None
                    }
                });
                let port_env = d.port_env.as_ref().map(|v| {
                    let ok = !v.get_ref().is_empty()
                        && v.get_ref().chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !v.get_ref().starts_with(|c: char| c.is_ascii_digit());
                    if !ok {
                        errors.push(err(
                            v.span(),
                            format!("service {name:?}: port_env {:?} is not an environment variable name", v.get_ref()),
                        ));
                    }
                    v.get_ref().clone()
                });
                Deploy {
                    start_first,
                    batch_size: d.batch_size.unwrap_or(1).max(1),
                    health_timeout: d.health_timeout.map(|x| x.0).unwrap_or(Duration::from_secs(60)),
                    monitor: d.monitor.map(|x| x.0).unwrap_or(Duration::from_secs(3)),
                    stop_timeout: d.stop_timeout.map(|x| x.0).unwrap_or(Duration::from_secs(10)),
                    pre_deploy: d.pre_deploy.clone(),
                    pre_stop: d.pre_stop.clone(),
                    post_start: d.post_start.clone(),
                    port_env,
                    port_range,
                    switch: d.switch.clone(),
                    drain: d.drain.map(|x| x.0).unwrap_or(Duration::from_secs(1)),
                }
            }
        };
        let mut probes = Vec::new();
        for p in s.probes {
            let url = p.url.get_ref();
            if !url.starts_with("http://") {
                errors.push(err(p.url.span(), format!("probe URL {url:?} must start with http:// (it is reached through the SSH connection on the host's loopback)")));
            }
            probes.push(Probe {
                name: p.name.unwrap_or_else(|| "health".into()),
                url: url.clone(),
                container_port: p.container_port,
                expect_status: p.expect_status.unwrap_or(200),
                status_field: p.status_field,
                healthy_values: p
                    .healthy_values
                    .unwrap_or_else(|| ["ok", "healthy", "up", "pass", "UP"].map(String::from).to_vec()),
                degraded_values: p.degraded_values.unwrap_or_else(|| ["degraded", "warn"].map(String::from).to_vec()),
                interval: p.interval.map(|d| d.0).unwrap_or(Duration::from_secs(10)),
                timeout: p.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(3)),
            });
        }
        services.push(Service {
            name,
            hosts,
            compose_project: s.compose_project,
            compose_service: s.compose_service,
            container_name,
            probes,
            log_files: s.log_files,
            journald_units: s.journald_units,
            deploy,
        });
    }

    let backups = super::backup::validate(path, source, raw.backups, &raw.hosts, &services, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Profile {
        path: path.to_path_buf(),
        name: raw.name.into_inner(),
        protected: raw.protected,
        read_only: raw.read_only,
        ssh: raw.ssh,
        hosts: raw.hosts,
        services,
        backups,
    })
}

fn sorted(set: &HashSet<String>) -> String {
    let mut v: Vec<_> = set.iter().cloned().collect();
    v.sort();
    v.join(", ")
}
