//! One owned, cancellable task per host: connect (with backoff), read the Docker engine over
//! the SSH connection, follow its events, sample usage, run probes, and report everything as
//! `FleetEvent`s. A broken host only ever affects its own task.

use super::model::{ConnState, FleetEvent, HostEvent};
use super::{probe, sampler};
use crate::config::hosts::ResolvedHost;
use crate::config::Service;
use crate::docker::model::{self, ContainerInfo};
use crate::docker::{docker_over_ssh, error_chain};
use crate::ssh::exec::ExecEvent;
use crate::ssh::{connect, ConnectOptions, SshError, SshSession};
use bollard::query_parameters::EventsOptions;
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Full container resync interval (events keep the view live in between).
    pub resync_every: Duration,
    /// Host/container usage sampling interval, in seconds.
    pub sample_every: u32,
    /// Timeout for Docker API calls, in seconds.
    pub docker_timeout: u64,
    /// Longest wait between reconnect attempts.
    pub max_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            resync_every: Duration::from_secs(30),
            sample_every: 2,
            docker_timeout: 20,
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// A live SSH session and the Docker client riding on it.
pub type LiveLink = (Arc<SshSession>, Docker);

/// What a running host task shares with the rest of the program.
#[derive(Clone, Default)]
pub struct HostLink {
    session: Arc<Mutex<Option<LiveLink>>>,
}

impl HostLink {
    /// The live connection and Docker client, if connected now.
    pub fn current(&self) -> Option<LiveLink> {
        self.session.lock().unwrap().clone()
    }
}

pub(crate) struct HostTask {
    pub index: usize,
    pub host: ResolvedHost,
    pub services: Vec<Service>,
    pub opts: ConnectOptions,
    pub cfg: WorkerConfig,
    pub tx: mpsc::Sender<FleetEvent>,
    pub retry: watch::Receiver<u64>,
    pub link: HostLink,
}

impl HostTask {
    async fn emit(&self, generation: u64, event: HostEvent) {
        let _ = self.tx.send(FleetEvent { host: self.index, generation, event }).await;
    }

    pub async fn run(mut self) {
        let mut generation = 0u64;
        let mut attempt = 0u32;
        let mut ever_connected = false;
        let mut down_since: DateTime<Utc> = Utc::now();
        let mut last_error = String::new();
        loop {
            generation += 1;
            attempt += 1;
            let state = if !ever_connected && attempt == 1 {
                ConnState::Connecting { since: down_since, attempt }
            } else if ever_connected {
                ConnState::Reconnecting { since: down_since, attempt, last_error: last_error.clone() }
            } else {
                ConnState::Unreachable { since: down_since, attempt, error: last_error.clone() }
            };
            self.emit(generation, HostEvent::Conn(state)).await;
            match connect(&self.host, &self.opts).await {
                Ok(session) => {
                    ever_connected = true;
                    attempt = 0;
                    let session = Arc::new(session);
                    self.emit(generation, HostEvent::Fingerprint(session.fingerprint.clone())).await;
                    self.emit(generation, HostEvent::Conn(ConnState::Connected { since: Utc::now() })).await;
                    log::info!("{}: connected to {}", self.host.name, session.addr);
                    last_error = self.connected(generation, session).await;
                    *self.link.session.lock().unwrap() = None;
                    log::warn!("{}: connection lost: {last_error}", self.host.name);
                    down_since = Utc::now();
                    generation += 1;
                    self.emit(
                        generation,
                        HostEvent::Conn(ConnState::Reconnecting {
                            since: down_since,
                            attempt: 1,
                            last_error: last_error.clone(),
                        }),
                    )
                    .await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) if e.is_permanent() => {
                    log::error!("{}: {e}", self.host.name);
                    let state = match &e {
                        SshError::HostKeyChanged { .. } => ConnState::HostKeyChanged { error: e.to_string() },
                        SshError::HostKeyUnknown { fingerprint, .. } => {
                            ConnState::HostKeyUnknown { error: e.to_string(), fingerprint: fingerprint.clone() }
                        }
                        SshError::Jump { cause, .. } if matches!(**cause, SshError::HostKeyChanged { .. }) => {
                            ConnState::HostKeyChanged { error: e.to_string() }
                        }
                        _ => ConnState::AuthFailed { error: e.to_string() },
                    };
                    self.emit(generation, HostEvent::Conn(state)).await;
                    // Retrying cannot help until someone acts: wait for an explicit retry.
                    if self.retry.changed().await.is_err() {
                        return;
                    }
                    attempt = 0;
                    down_since = Utc::now();
                }
                Err(e) => {
                    last_error = e.to_string();
                    log::warn!("{}: {last_error}", self.host.name);
                    let state = if ever_connected {
                        ConnState::Reconnecting { since: down_since, attempt, last_error: last_error.clone() }
                    } else {
                        ConnState::Unreachable { since: down_since, attempt, error: last_error.clone() }
                    };
                    self.emit(generation, HostEvent::Conn(state)).await;
                    let backoff = backoff(attempt, self.cfg.max_backoff);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        r = self.retry.changed() => if r.is_err() { return },
                    }
                }
            }
        }
    }

    /// Serve one live connection; returns why it ended.
    async fn connected(&mut self, generation: u64, session: Arc<SshSession>) -> String {
        let docker = match docker_over_ssh(session.clone(), &self.host.docker_socket, self.cfg.docker_timeout) {
            Ok(d) => d,
            Err(e) => return format!("cannot set up the Docker client: {e}"),
        };
        *self.link.session.lock().unwrap() = Some((session.clone(), docker.clone()));
        let mut live = Live {
            task: self,
            generation,
            session: session.clone(),
            docker,
            containers: HashMap::new(),
            digests: HashMap::new(),
            last_probe: HashMap::new(),
        };
        live.serve().await
    }
}

fn backoff(attempt: u32, max: Duration) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1).min(10));
    let jitter = Duration::from_millis((Utc::now().timestamp_subsec_millis() % 250) as u64);
    base.min(max) + jitter
}

/// State of one live connection.
struct Live<'a> {
    task: &'a HostTask,
    generation: u64,
    session: Arc<SshSession>,
    docker: Docker,
    containers: HashMap<String, ContainerInfo>,
    digests: HashMap<String, Option<String>>,
    last_probe: HashMap<(String, String), Instant>,
}

impl Live<'_> {
    async fn emit(&self, event: HostEvent) {
        self.task.emit(self.generation, event).await
    }

    async fn serve(&mut self) -> String {
        let name = self.task.host.name.clone();
        match self.docker.version().await {
            Ok(v) => {
                self.emit(HostEvent::DockerVersion(v.version.unwrap_or_default())).await;
                self.emit(HostEvent::DockerError(None)).await;
            }
            Err(e) => self.emit(HostEvent::DockerError(Some(error_chain(&e)))).await,
        }
        // Usage sampler: one long-running exec, drained continuously by its own task.
        let (sample_tx, mut sample_rx) = mpsc::channel::<ExecEvent>(4096);
        let sampler_session = self.session.clone();
        let script = sampler::script(self.task.cfg.sample_every);
        let sampler = AbortOnDrop(tokio::spawn(async move {
            let _ = sampler_session.exec_lines(&script, sample_tx).await;
        }));
        // Docker events: their own task, drained continuously; ids are forwarded, and when the
        // forward queue is full a resync is requested instead of blocking the stream.
        let (ev_tx, mut ev_rx) = mpsc::channel::<EventNote>(512);
        let events = AbortOnDrop(tokio::spawn(follow_events(self.docker.clone(), ev_tx)));
        let mut parser = sampler::SampleParser::default();

        self.full_sync().await;
        self.probe_round(true).await;
        // Wait briefly for the first usage sample so the first picture is complete.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, sample_rx.recv()).await {
            if self.sample_line(&mut parser, ev).await {
                break;
            }
        }
        self.emit(HostEvent::Ready).await;

        let mut resync = tokio::time::interval(self.task.cfg.resync_every);
        resync.tick().await;
        let mut probe_tick = tokio::time::interval(Duration::from_millis(500));
        let has_probes = self.task.services.iter().any(|s| !s.probes.is_empty());
        let mut alive = tokio::time::interval(Duration::from_secs(1));
        let reason = loop {
            tokio::select! {
                _ = alive.tick() => {
                    if self.session.is_closed() {
                        break "SSH connection closed (keepalive timeout or server gone)".to_string();
                    }
                }
                note = ev_rx.recv() => match note {
                    Some(EventNote::Changed(id)) => self.refresh(&id).await,
                    Some(EventNote::Gone(id)) => {
                        self.containers.remove(&id);
                        self.emit(HostEvent::ContainerGone(id)).await;
                    }
                    Some(EventNote::Resync) => self.full_sync().await,
                    None => {}
                },
                _ = resync.tick() => self.full_sync().await,
                _ = probe_tick.tick(), if has_probes => self.probe_round(false).await,
                ev = sample_rx.recv() => match ev {
                    Some(ev) => { self.sample_line(&mut parser, ev).await; }
                    None => {
                        if self.session.is_closed() {
                            break "SSH connection closed".to_string();
                        }
                        log::warn!("{name}: usage sampler ended; restarting it");
                        break "usage sampler ended unexpectedly".to_string();
                    }
                },
            }
        };
        drop(events);
        drop(sampler);
        reason
    }

    /// Returns true when a complete sample was applied.
    async fn sample_line(&mut self, parser: &mut sampler::SampleParser, ev: ExecEvent) -> bool {
        match ev {
            ExecEvent::Stdout(line) => {
                if let Some((metrics, mut usage)) = parser.line(&line) {
                    usage.retain(|id, _| self.containers.contains_key(id));
                    self.emit(HostEvent::Metrics(metrics)).await;
                    self.emit(HostEvent::Usage(usage)).await;
                    return true;
                }
            }
            ExecEvent::Stderr(line) => log::debug!("{}: sampler: {line}", self.task.host.name),
            ExecEvent::Exit { .. } => {}
        }
        false
    }

    async fn full_sync(&mut self) {
        match model::list_inspected(&self.docker, &mut self.digests).await {
            Ok(list) => {
                self.containers = list.iter().map(|c| (c.id.clone(), c.clone())).collect();
                self.emit(HostEvent::DockerError(None)).await;
                self.emit(HostEvent::Containers(list)).await;
            }
            Err(e) => {
                let msg = error_chain(&e);
                log::warn!("{}: Docker: {msg}", self.task.host.name);
                self.emit(HostEvent::DockerError(Some(msg))).await;
            }
        }
    }

    async fn refresh(&mut self, id: &str) {
        match model::inspect(&self.docker, id).await {
            Ok(Some(mut c)) => {
                model::fill_digests(&self.docker, std::slice::from_mut(&mut c), &mut self.digests).await;
                let was_running = self.containers.get(id).is_some_and(|o| o.is_running());
                self.containers.insert(c.id.clone(), c.clone());
                if c.is_running() && !was_running {
                    // a (re)started replica is probed right away
                    self.last_probe.retain(|(cid, _), _| cid != id);
                }
                self.emit(HostEvent::ContainerChanged(Box::new(c))).await;
            }
            Ok(None) => {
                self.containers.remove(id);
                self.emit(HostEvent::ContainerGone(id.to_string())).await;
            }
            Err(e) => log::warn!("{}: inspect {id}: {}", self.task.host.name, error_chain(&e)),
        }
    }

    /// Run every probe that is due (or all, when `all`), concurrently.
    async fn probe_round(&mut self, all: bool) {
        let now = Instant::now();
        let mut due = Vec::new();
        for c in self.containers.values().filter(|c| c.is_running()) {
            for s in &self.task.services {
                if !s.runs_on(&self.task.host.name) || !s.matches(&c.name, |k| c.labels.get(k).cloned()) {
                    continue;
                }
                for p in &s.probes {
                    let key = (c.id.clone(), p.name.clone());
                    let is_due = all || self.last_probe.get(&key).is_none_or(|t| now.duration_since(*t) >= p.interval);
                    if is_due {
                        self.last_probe.insert(key, now);
                        due.push((s.name.clone(), s.deploy.port_env.clone(), p.clone(), c.clone()));
                    }
                }
            }
        }
        if due.is_empty() {
            return;
        }
        let session = self.session.clone();
        let results: Vec<_> = futures::stream::iter(due)
            .map(|(svc, port_env, p, c)| {
                let session = session.clone();
                async move { probe::run(&session, &svc, &p, &c, port_env.as_deref()).await }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for r in results {
            self.emit(HostEvent::Probe(Box::new(r))).await;
        }
    }
}

enum EventNote {
    Changed(String),
    Gone(String),
    Resync,
}

/// Follow the engine's container events forever (reopening the stream when it ends).
async fn follow_events(docker: Docker, tx: mpsc::Sender<EventNote>) {
    let actions = [
        "create",
        "start",
        "stop",
        "die",
        "kill",
        "pause",
        "unpause",
        "destroy",
        "health_status",
        "restart",
        "rename",
        "oom",
        "update",
    ];
    loop {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("event".to_string(), actions.iter().map(|s| s.to_string()).collect()),
        ]);
        let mut stream = docker.events(Some(EventsOptions { filters: Some(filters), ..Default::default() }));
        // Anything may have happened while the stream was down.
        if tx.try_send(EventNote::Resync).is_err() && tx.is_closed() {
            return;
        }
        while let Some(item) = stream.next().await {
            let Ok(ev) = item else { break };
            let Some(id) = ev.actor.and_then(|a| a.id) else { continue };
            let note =
                if ev.action.as_deref() == Some("destroy") { EventNote::Gone(id) } else { EventNote::Changed(id) };
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(note) {
                // never block the stream: fall back to a full resync
                let _ = tx.try_send(EventNote::Resync);
            }
            if tx.is_closed() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A task that is aborted when its owner drops it.
pub(crate) struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
