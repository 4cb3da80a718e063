//! The live fleet: one worker per host feeding a single `FleetState`.

pub mod health;
pub mod model;
pub mod probe;
pub mod report;
pub mod sampler;
pub mod worker;

use crate::config::hosts::ResolvedHost;
use crate::config::Profile;
use crate::ssh::ConnectOptions;
use model::{FleetEvent, FleetState, HostState};
use tokio::sync::{mpsc, watch};
use worker::{AbortOnDrop, HostLink, HostTask, WorkerConfig};

/// The running workers of a fleet. Dropping it stops them all.
pub struct Fleet {
    pub events: mpsc::Receiver<FleetEvent>,
    links: Vec<HostLink>,
    retry: Vec<watch::Sender<u64>>,
    _tasks: Vec<AbortOnDrop<()>>,
}

impl Fleet {
    /// Start one worker per host, all connecting in parallel. Returns the workers and the
    /// initial state (every host "connecting").
    pub fn start(
        profile: &Profile,
        hosts: Vec<ResolvedHost>,
        opts: ConnectOptions,
        cfg: WorkerConfig,
    ) -> (Fleet, FleetState) {
        let (tx, events) = mpsc::channel(4096);
        let mut links = Vec::new();
        let mut retry = Vec::new();
        let mut tasks = Vec::new();
        let mut states = Vec::new();
        for (index, host) in hosts.into_iter().enumerate() {
            states.push(HostState::new(&host.name, &host.target.display()));
            let (retry_tx, retry_rx) = watch::channel(0u64);
            let link = HostLink::default();
            let task = HostTask {
                index,
                services: profile.services.iter().filter(|s| s.runs_on(&host.name)).cloned().collect(),
                host,
                opts: opts.clone(),
                cfg: cfg.clone(),
                tx: tx.clone(),
                retry: retry_rx,
                link: link.clone(),
            };
            tasks.push(AbortOnDrop(tokio::spawn(task.run())));
            links.push(link);
            retry.push(retry_tx);
        }
        (Fleet { events, links, retry, _tasks: tasks }, FleetState::new(states))
    }

    /// Ask a host that gave up (auth failed, host key refused) or is backing off to try now.
    pub fn retry(&self, host: usize) {
        if let Some(r) = self.retry.get(host) {
            r.send_modify(|n| *n += 1);
        }
    }

    pub fn link(&self, host: usize) -> Option<&HostLink> {
        self.links.get(host)
    }

    /// Apply the workers' events to `state` until `done(state)` or `timeout` has passed (the
    /// headless commands wait like this for every host to be connected or given up on).
    pub async fn settle(
        &mut self,
        state: &mut FleetState,
        timeout: std::time::Duration,
        done: impl Fn(&FleetState) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(state) {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => {
                    state.apply(ev);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}
