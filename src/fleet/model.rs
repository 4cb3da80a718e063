//! The fleet as fleetdeck knows it: per-host connection state, containers, usage, host
//! metrics and probe results. Workers send `FleetEvent`s; `FleetState::apply` is the only
//! place that changes this state.

use crate::docker::model::ContainerInfo;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// A host's connection state, honest about what is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    Connecting { since: DateTime<Utc>, attempt: u32 },
    Connected { since: DateTime<Utc> },
    Reconnecting { since: DateTime<Utc>, attempt: u32, last_error: String },
    AuthFailed { error: String },
    HostKeyChanged { error: String },
    HostKeyUnknown { error: String, fingerprint: String },
    Unreachable { since: DateTime<Utc>, attempt: u32, error: String },
}

impl ConnState {
    pub fn label(&self) -> &'static str {
        match self {
            ConnState::Connecting { .. } => "connecting",
            ConnState::Connected { .. } => "connected",
            ConnState::Reconnecting { .. } => "reconnecting",
            ConnState::AuthFailed { .. } => "auth failed",
            ConnState::HostKeyChanged { .. } => "host key changed",
            ConnState::HostKeyUnknown { .. } => "host key unknown",
            ConnState::Unreachable { .. } => "unreachable",
        }
    }

    pub fn is_connected(&self) -> bool {
        matches!(self, ConnState::Connected { .. })
    }

    /// The error that explains a non-connected state.
    pub fn error(&self) -> Option<&str> {
        match self {
            ConnState::Reconnecting { last_error: e, .. }
            | ConnState::AuthFailed { error: e }
            | ConnState::HostKeyChanged { error: e }
            | ConnState::HostKeyUnknown { error: e, .. }
            | ConnState::Unreachable { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostMetrics {
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    pub cpus: u32,
    pub mem_total: u64,
    pub mem_available: u64,
    pub disk_total: u64,
    pub disk_used: u64,
    pub at: Option<DateTime<Utc>>,
}

impl HostMetrics {
    pub fn mem_used_percent(&self) -> f64 {
        percent(self.mem_total.saturating_sub(self.mem_available), self.mem_total)
    }
    pub fn disk_used_percent(&self) -> f64 {
        percent(self.disk_used, self.disk_total)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// CPU and memory of one container, from the host's cgroup files.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerUsage {
    /// Percent of one core.
    pub cpu_percent: f64,
    pub mem_bytes: u64,
    pub mem_limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeVerdict {
    Healthy,
    Degraded,
    Unhealthy,
}

/// The last answer of one HTTP probe against one container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    pub service: String,
    pub probe: String,
    pub container_id: String,
    pub url: String,
    pub at: DateTime<Utc>,
    pub http_status: Option<u16>,
    /// The status field's value, when the probe names one.
    pub status_value: Option<String>,
    /// Response body (truncated to 4 KiB).
    pub body: String,
    pub verdict: ProbeVerdict,
    pub error: Option<String>,
    pub latency_ms: u64,
}

/// How many past answers of each probe are kept.
pub const PROBE_HISTORY: usize = 12;

/// One past probe answer, for the history strip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeMark {
    pub at: DateTime<Utc>,
    pub verdict: ProbeVerdict,
    pub http_status: Option<u16>,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostState {
    pub name: String,
    /// "user@host:port"
    pub address: String,
    pub conn: ConnState,
    pub fingerprint: Option<String>,
    pub docker_version: Option<String>,
    /// Why the Docker API cannot be read while SSH is up.
    pub docker_error: Option<String>,
    pub containers: Vec<ContainerInfo>,
    pub usage: BTreeMap<String, ContainerUsage>,
    pub metrics: Option<HostMetrics>,
    /// Keyed by "container_id/probe".
    pub probes: BTreeMap<String, ProbeResult>,
    /// The last `PROBE_HISTORY` verdicts of each probe, oldest first (same keys).
    pub probe_history: BTreeMap<String, VecDeque<ProbeMark>>,
    pub last_sync: Option<DateTime<Utc>>,
    /// The first complete picture (containers, probes, metrics) has arrived.
    pub ready: bool,
}

impl HostState {
    pub fn new(name: &str, address: &str) -> HostState {
        HostState {
            name: name.to_string(),
            address: address.to_string(),
            conn: ConnState::Connecting { since: Utc::now(), attempt: 1 },
            fingerprint: None,
            docker_version: None,
            docker_error: None,
            containers: Vec::new(),
            usage: BTreeMap::new(),
            metrics: None,
            probes: BTreeMap::new(),
            probe_history: BTreeMap::new(),
            last_sync: None,
            ready: false,
        }
    }

    pub fn container(&self, id: &str) -> Option<&ContainerInfo> {
        self.containers.iter().find(|c| c.id == id)
    }

    pub fn probes_for<'a>(&'a self, container_id: &'a str) -> impl Iterator<Item = &'a ProbeResult> + 'a {
        self.probes.values().filter(move |p| p.container_id == container_id)
    }

    /// Settled: either ready, or in a state that will not become ready without help.
    pub fn settled(&self) -> bool {
        self.ready
            || matches!(
                self.conn,
                ConnState::AuthFailed { .. }
                    | ConnState::HostKeyChanged { .. }
                    | ConnState::HostKeyUnknown { .. }
                    | ConnState::Unreachable { .. }
                    | ConnState::Reconnecting { .. }
            )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HostEvent {
    Conn(ConnState),
    Fingerprint(String),
    DockerVersion(String),
    DockerError(Option<String>),
    /// A full resync: replaces the container list.
    Containers(Vec<ContainerInfo>),
    ContainerChanged(Box<ContainerInfo>),
    ContainerGone(String),
    Usage(BTreeMap<String, ContainerUsage>),
    Metrics(HostMetrics),
    Probe(Box<ProbeResult>),
    Ready,
}

/// An event from the worker of host number `host` (index into `FleetState::hosts`).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetEvent {
    pub host: usize,
    /// The connection generation it belongs to: events of an older connection are stale.
    pub generation: u64,
    pub event: HostEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FleetState {
    pub hosts: Vec<HostState>,
    generations: Vec<u64>,
}

impl FleetState {
    pub fn new(hosts: Vec<HostState>) -> FleetState {
        let n = hosts.len();
        FleetState { hosts, generations: vec![0; n] }
    }

    /// Apply one worker event; returns whether anything visible changed.
    pub fn apply(&mut self, ev: FleetEvent) -> bool {
        let Some(host) = self.hosts.get_mut(ev.host) else { return false };
        let current = &mut self.generations[ev.host];
        if ev.generation < *current {
            return false; // stale: from a connection that has since been replaced
        }
        *current = ev.generation;
        match ev.event {
            HostEvent::Conn(c) => {
                if host.conn == c {
                    return false;
                }
                host.conn = c;
            }
            HostEvent::Fingerprint(f) => host.fingerprint = Some(f),
            HostEvent::DockerVersion(v) => host.docker_version = Some(v),
            HostEvent::DockerError(e) => {
                if host.docker_error == e {
                    return false;
                }
                host.docker_error = e;
            }
            HostEvent::Containers(list) => {
                host.last_sync = Some(Utc::now());
                host.usage.retain(|id, _| list.iter().any(|c| &c.id == id));
                host.probes.retain(|_, p| list.iter().any(|c| c.id == p.container_id));
                host.probe_history.retain(|k, _| list.iter().any(|c| k.starts_with(&c.id)));
                if host.containers == list {
                    return false;
                }
                host.containers = list;
            }
            HostEvent::ContainerChanged(c) => match host.containers.iter_mut().find(|x| x.id == c.id) {
                Some(existing) if *existing == *c => return false,
                Some(existing) => *existing = *c,
                None => {
                    host.containers.push(*c);
                    host.containers.sort_by(|a, b| a.name.cmp(&b.name));
                }
            },
            HostEvent::ContainerGone(id) => {
                let before = host.containers.len();
                host.containers.retain(|c| c.id != id);
                host.usage.remove(&id);
                host.probes.retain(|_, p| p.container_id != id);
                host.probe_history.retain(|k, _| !k.starts_with(&id));
                if before == host.containers.len() {
                    return false;
                }
            }
            HostEvent::Usage(u) => {
                if host.usage == u {
                    return false;
                }
                host.usage = u;
            }
            HostEvent::Metrics(m) => host.metrics = Some(m),
            HostEvent::Probe(p) => {
                let key = format!("{}/{}", p.container_id, p.probe);
                let history = host.probe_history.entry(key.clone()).or_default();
                history.push_back(ProbeMark {
                    at: p.at,
                    verdict: p.verdict,
                    http_status: p.http_status,
                    latency_ms: p.latency_ms,
                });
                while history.len() > PROBE_HISTORY {
                    history.pop_front();
                }
                if host.probes.get(&key).is_some_and(|old| old.body == p.body && old.verdict == p.verdict) {
                    host.probes.insert(key, *p);
                    return false;
                }
                host.probes.insert(key, *p);
            }
            HostEvent::Ready => host.ready = true,
        }
        true
    }

    pub fn all_settled(&self) -> bool {
        self.hosts.iter().all(|h| h.settled())
    }
}
