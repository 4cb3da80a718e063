//! The rolling deploy state machine. It takes the service's lock, records the release,
//! replaces replicas batch by batch behind the health gate, and when anything fails puts
//! every replica it moved — on every host — back on the previous release. It reports each
//! step as a `DeployEvent`; the console renders them, the CLI prints them.

use super::audit::{self, AuditEntry};
use super::gate::{wait_healthy, GateFailure, GateResult};
use super::hooks::Vars;
use super::journal::{self, Release, ReleaseState, ReplicaOutcome};
use super::lock::{self, Holder, LockResult};
use super::plan::{Plan, PlannedReplica};
use super::ports::parked_name;
use super::recreate::{replacement_body, Ops};
use crate::fleet::worker::HostLink;
use crate::ssh::SshSession;
use bollard::Docker;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

mod beside;
mod finish;

/// How long a step waits for a dropped host connection to come back before giving up.
const RECONNECT_WAIT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Run,
    Pause,
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Replacing,
    WaitingHealthy,
    Healthy,
    Failed,
    RollingBack,
    RolledBack,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeployEvent {
    Note(String),
    Replica { host: String, container: String, phase: Phase },
    GateFailed { host: String, container: String, failure: GateFailure },
    Finished(Box<Release>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeployError {
    /// Someone else holds the lock: nothing was changed.
    LockHeld { host: String, holder: Option<Holder> },
    /// A check before any change failed: nothing was changed.
    Preflight(String),
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployError::LockHeld { host, holder: Some(h) } => write!(f, "the deploy lock is held on {host} by {h}"),
            DeployError::LockHeld { host, holder: None } => {
                write!(f, "the deploy lock is held on {host} (holder unreadable)")
            }
            DeployError::Preflight(m) => write!(f, "{m}"),
        }
    }
}

/// A host the deploy touches.
#[derive(Clone)]
pub struct HostHandle {
    pub name: String,
    pub state_dir: String,
    pub link: HostLink,
}

pub struct Runner {
    pub plan: Plan,
    /// Indexed like the fleet's hosts (`PlannedReplica::host_index`).
    pub hosts: Vec<HostHandle>,
    pub events: mpsc::Sender<DeployEvent>,
    pub control: watch::Receiver<Control>,
    pub who: String,
}

struct Moved {
    replica: PlannedReplica,
    new_id: Option<String>,
    /// start-first: where the replacement runs beside the old replica.
    beside: Option<beside::Beside>,
}

/// A replica that could not be replaced: what was moved, why, and the gate's evidence.
type ReplaceFailure = (Moved, String, Option<GateFailure>);

impl Runner {
    async fn note(&self, s: impl Into<String>) {
        let _ = self.events.send(DeployEvent::Note(s.into())).await;
    }

    async fn phase(&self, r: &PlannedReplica, phase: Phase) {
        let _ = self
            .events
            .send(DeployEvent::Replica { host: r.host.clone(), container: r.container.clone(), phase })
            .await;
    }

    fn host(&self, name: &str) -> Option<&HostHandle> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The host's live connection, waiting for a reconnect if it just dropped.
    async fn live(&self, host: &str) -> Result<(Arc<SshSession>, Docker), String> {
        let h = self.host(host).ok_or_else(|| format!("unknown host {host}"))?;
        let deadline = tokio::time::Instant::now() + RECONNECT_WAIT;
        let mut told = false;
        loop {
            if let Some((s, d)) = h.link.current() {
                if !s.is_closed() {
                    return Ok((s, d));
                }
            }
            if !told {
                self.note(format!("{host}: connection lost, waiting for it to come back")).await;
                told = true;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("{host} did not come back within {}s", RECONNECT_WAIT.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn audit(&self, phase: &str, outcome: Option<&str>, detail: Option<&str>) {
        let action = match self.plan.kind {
            journal::ReleaseKind::Deploy => "deploy",
            journal::ReleaseKind::Rollback => "rollback",
        };
        let target = format!("{} -> {}", self.plan.service, self.plan.to_image);
        if let Err(e) = audit::write(&AuditEntry {
            at: Utc::now(),
            who: &self.who,
            profile: &self.plan.profile,
            action,
            target: &target,
            phase,
            outcome,
            detail,
        }) {
            log::error!("{e}");
        }
    }

    /// Run the plan. `Err` means nothing was changed.
    pub async fn execute(self) -> Result<Release, DeployError> {
        self.audit("begin", None, Some(&self.plan.release_id));
        let holder = Holder {
            id: self.plan.release_id.clone(),
            who: self.who.clone(),
            since: Utc::now(),
            message: self.plan.message.clone(),
        };
        // 1. Lock every host of the service, in a fixed order.
        let mut locked: Vec<String> = Vec::new();
        let mut hosts = self.plan.hosts.clone();
        hosts.sort();
        for host in &hosts {
            let res = match self.live(host).await {
                Ok((s, _)) => {
                    lock::try_acquire(&s, &self.host(host).unwrap().state_dir, &self.plan.service, &holder).await
                }
                Err(e) => Err(e),
            };
            match res {
                Ok(LockResult::Acquired) => locked.push(host.clone()),
                Ok(LockResult::Held(h)) => {
                    self.unlock(&locked).await;
                    self.audit("end", Some("lock held"), None);
                    return Err(DeployError::LockHeld { host: host.clone(), holder: h });
                }
                Err(e) => {
                    self.unlock(&locked).await;
                    self.audit("end", Some("preflight failed"), Some(&e));
                    return Err(DeployError::Preflight(e));
                }
            }
        }
        self.note(format!("deploy lock taken on {}", hosts.join(", "))).await;
        // 2. Preflight: the image must be on every host.
        if let Err(e) = self.preflight().await {
            self.unlock(&locked).await;
            self.audit("end", Some("preflight failed"), Some(&e));
            return Err(DeployError::Preflight(e));
        }
        let mut release = Release {
            id: self.plan.release_id.clone(),
            service: self.plan.service.clone(),
            kind: self.plan.kind,
            from_image: self.plan.from_image.clone(),
            from_digest: None,
            to_image: self.plan.to_image.clone(),
            to_digest: None,
            who: self.who.clone(),
            message: self.plan.message.clone(),
            started_at: Utc::now(),
            ended_at: None,
            state: ReleaseState::InProgress,
            replicas: self
                .plan
                .replicas()
                .map(|r| ReplicaOutcome {
                    host: r.host.clone(),
                    container: r.container.clone(),
                    from_id: r.container_id.clone(),
                    to_id: None,
                    outcome: "not started".into(),
                })
                .collect(),
            reason: None,
            backups: vec![],
        };
        self.record(&release).await;
        // 3. Backups declared to run before this service's deploys, recorded with the release.
        for job in &self.plan.backups {
            self.note(format!("before the deploy: backup job {} on {}", job.name, job.host)).await;
            let session = match self.live(&job.host).await {
                Ok((s, _)) => s,
                Err(e) => {
                    release.state = ReleaseState::Aborted;
                    release.reason = Some(format!("pre-deploy backup {} could not run: {e}", job.name));
                    return Ok(self.finish(release, &locked).await);
                }
            };
            let mut ctx = crate::backup::BackupContext::new(&self.plan.profile);
            ctx.who = self.who.clone();
            ctx.release = Some(release.id.clone());
            let (tx, mut rx) = mpsc::channel(256);
            let events = self.events.clone();
            let forward = tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    if let crate::backup::BackupEvent::Step(s) = ev {
                        let _ = events.send(DeployEvent::Note(s)).await;
                    }
                }
            });
            let rec = crate::backup::run_job(&session, job, &ctx, &tx).await;
            drop(tx);
            let _ = forward.await;
            if rec.ok() {
                release.backups.push(rec.release_entry());
                self.record(&release).await;
            } else {
                release.state = ReleaseState::Aborted;
                release.reason =
                    Some(format!("pre-deploy backup {} failed: {}", job.name, rec.error.clone().unwrap_or_default()));
                return Ok(self.finish(release, &locked).await);
            }
        }
        // 4. Pre-deploy steps.
        for hook in &self.plan.service_spec.deploy.pre_deploy {
            let host = hook.host.clone().unwrap_or_else(|| self.plan.hosts[0].clone());
            self.note(format!("before the deploy, on {host}: {}", hook.run)).await;
            let vars = Vars::deploy(&self.plan.service, &self.plan.to_image, &self.plan.release_id, &host);
            if let Err(e) = self.run_hook(&host, &hook.run, &vars).await {
                release.state = ReleaseState::Aborted;
                release.reason = Some(format!("pre-deploy step failed on {host}: {e}"));
                return Ok(self.finish(release, &locked).await);
            }
        }
        // 5. Batches.
        let mut moved: Vec<Moved> = Vec::new();
        let mut failure: Option<(ReleaseState, String)> = None;
        'batches: for (bi, batch) in self.plan.batches.iter().enumerate() {
            if let Some(stop) = self.check_control().await {
                failure = Some(stop);
                break;
            }
            self.note(format!("batch {} of {}", bi + 1, self.plan.batches.len())).await;
            for r in batch {
                self.phase(r, Phase::Replacing).await;
                let res = if self.plan.service_spec.deploy.start_first {
                    self.replace_beside(r).await
                } else {
                    let plain = |new_id| Moved { replica: r.clone(), new_id, beside: None };
                    self.replace(r).await.map(|id| plain(Some(id))).map_err(|(id, why, gate)| (plain(id), why, gate))
                };
                match res {
                    Ok(m) => {
                        set_outcome(&mut release, r, m.new_id.clone(), "healthy");
                        moved.push(m);
                        self.phase(r, Phase::Healthy).await;
                    }
                    Err((m, reason, gate)) => {
                        set_outcome(&mut release, r, m.new_id.clone(), &format!("failed: {reason}"));
                        moved.push(m);
                        self.phase(r, Phase::Failed).await;
                        if let Some(f) = gate {
                            let _ = self
                                .events
                                .send(DeployEvent::GateFailed {
                                    host: r.host.clone(),
                                    container: r.container.clone(),
                                    failure: f,
                                })
                                .await;
                        }
                        failure =
                            Some((ReleaseState::FailedRolledBack, format!("{}/{}: {reason}", r.host, r.container)));
                        break 'batches;
                    }
                }
            }
            // Monitor: the batch must stay healthy for a while before the next one.
            if !self.plan.monitor.is_zero() {
                self.note(format!("monitoring batch {} for {}s", bi + 1, self.plan.monitor.as_secs())).await;
                tokio::time::sleep(self.plan.monitor).await;
                for m in moved.iter().filter(|m| batch.contains(&m.replica)) {
                    if let Err(e) = self.still_healthy(m).await {
                        failure = Some((
                            ReleaseState::FailedRolledBack,
                            format!("{}/{}: {e}", m.replica.host, m.replica.container),
                        ));
                        break 'batches;
                    }
                }
            }
        }
        match failure {
            None => {
                self.cleanup(&moved).await;
                release.state = ReleaseState::Succeeded;
            }
            Some((state, reason)) => {
                self.note(format!("rolling back every moved replica: {reason}")).await;
                let ok = self.revert_all(&moved, &mut release).await;
                release.state = if ok { state } else { ReleaseState::Failed };
                release.reason = Some(reason);
            }
        }
        Ok(self.finish(release, &locked).await)
    }

    async fn preflight(&self) -> Result<(), String> {
        let mut missing = Vec::new();
        for host in &self.plan.hosts {
            let (_, docker) = self.live(host).await?;
            if (Ops { docker: &docker }).image_id(&self.plan.to_image).await.is_none() {
                missing.push(host.clone());
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "image {} is not on {} (build or load it there first; nothing was changed)",
                self.plan.to_image,
                missing.join(", ")
            ))
        }
    }

    /// Pause waits here; abort returns the state to finish with.
    async fn check_control(&self) -> Option<(ReleaseState, String)> {
        let mut rx = self.control.clone();
        loop {
            let c = *rx.borrow_and_update();
            match c {
                Control::Run => return None,
                Control::Abort => return Some((ReleaseState::Aborted, "aborted by the operator".into())),
                Control::Pause => {
                    self.note("paused: resume or abort").await;
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Replace one replica; retried after a dropped connection (every step is idempotent).
    /// `Err((new container id, reason, gate evidence))`.
    async fn replace(&self, r: &PlannedReplica) -> Result<String, (Option<String>, String, Option<GateFailure>)> {
        let mut new_id = None;
        loop {
            let (session, docker) = self.live(&r.host).await.map_err(|e| (new_id.clone(), e, None))?;
            match self.replace_once(&session, &docker, r, &mut new_id).await {
                Ok(id) => return Ok(id),
                Err((reason, gate)) => {
                    let lost = session.is_closed() || gate.as_ref().is_some_and(|g| g.connection_lost);
                    if lost {
                        continue;
                    }
                    return Err((new_id, reason, gate));
                }
            }
        }
    }

    async fn replace_once(
        &self,
        session: &SshSession,
        docker: &Docker,
        r: &PlannedReplica,
        new_id: &mut Option<String>,
    ) -> Result<String, (String, Option<GateFailure>)> {
        let ops = Ops { docker };
        let parked = parked_name(&r.container, &self.plan.release_id);
        let old = ops.inspect(&r.container_id).await.map_err(|e| (e, None))?;
        let old_name = old.name.clone().unwrap_or_default().trim_start_matches('/').to_string();
        if old_name != parked {
            for hook in &self.plan.service_spec.deploy.pre_stop {
                let vars = self.plan.hook_vars(r, r.port);
                self.run_hook(hook.host.as_deref().unwrap_or(&r.host), &hook.run, &vars)
                    .await
                    .map_err(|e| (e, None))?;
            }
            ops.rename(&r.container_id, &parked).await.map_err(|e| (e, None))?;
        }
        ops.stop(&r.container_id, self.plan.stop_timeout.as_secs() as i32).await.map_err(|e| (e, None))?;
        // The new container, unless an earlier attempt created it already.
        let id = match ops.inspect(&r.container).await {
            Ok(c) if c.id.as_deref() != Some(r.container_id.as_str()) => c.id.unwrap_or_default(),
            _ => {
                let image_cfg = ops.image_config(&old.image.clone().unwrap_or_default()).await;
                let labels = vec![("fleetdeck.release".to_string(), self.plan.release_id.clone())];
                let body = replacement_body(&old, image_cfg.as_ref(), &self.plan.to_image, &labels);
                ops.create(&r.container, body).await.map_err(|e| (e, None))?
            }
        };
        *new_id = Some(id.clone());
        ops.start(&id).await.map_err(|e| (e, None))?;
        self.phase(r, Phase::WaitingHealthy).await;
        let gate = wait_healthy(session, docker, &self.plan.service_spec, &id, self.plan.health_timeout, |_| {}).await;
        match gate {
            GateResult::Healthy { after } => {
                self.note(format!(
                    "{}/{} healthy on {} after {:.1}s",
                    r.host,
                    r.container,
                    self.plan.to_image,
                    after.as_secs_f32()
                ))
                .await;
                for hook in &self.plan.service_spec.deploy.post_start {
                    let vars = self.plan.hook_vars(r, r.port);
                    self.run_hook(hook.host.as_deref().unwrap_or(&r.host), &hook.run, &vars)
                        .await
                        .map_err(|e| (e, None))?;
                }
                Ok(id)
            }
            GateResult::Failed(f) => Err((f.reason.clone(), Some(f))),
        }
    }

    async fn still_healthy(&self, m: &Moved) -> Result<(), String> {
        let Some(id) = &m.new_id else { return Ok(()) };
        let (_, docker) = self.live(&m.replica.host).await?;
        match crate::docker::model::inspect(&docker, id).await {
            Ok(Some(c)) if c.is_running() && c.health.as_deref() != Some("unhealthy") => Ok(()),
            Ok(Some(c)) => Err(format!("became {} during the monitor window", c.health.unwrap_or(c.state))),
            Ok(None) => Err("disappeared during the monitor window".into()),
            Err(e) => Err(crate::docker::error_chain(&e)),
        }
    }

    /// Put every moved replica back on its old container, newest first, one at a time.
    async fn revert_all(&self, moved: &[Moved], release: &mut Release) -> bool {
        let mut all_ok = true;
        for m in moved.iter().rev() {
            self.phase(&m.replica, Phase::RollingBack).await;
            let res = if m.beside.is_some() { self.revert_beside(m).await } else { self.revert(m).await };
            match res {
                Ok(()) => {
                    set_outcome(release, &m.replica, m.new_id.clone(), "rolled back");
                    self.phase(&m.replica, Phase::RolledBack).await;
                }
                Err(e) => {
                    all_ok = false;
                    set_outcome(release, &m.replica, m.new_id.clone(), &format!("ROLLBACK FAILED: {e}"));
                    self.note(format!("{}/{}: rollback failed: {e}", m.replica.host, m.replica.container)).await;
                }
            }
        }
        all_ok
    }

    async fn revert(&self, m: &Moved) -> Result<(), String> {
        let r = &m.replica;
        loop {
            let (session, docker) = self.live(&r.host).await?;
            let ops = Ops { docker: &docker };
            let attempt = async {
                // Remove whatever now holds the replica's name, if it is not the old one.
                if let Ok(c) = ops.inspect(&r.container).await {
                    if c.id.as_deref() != Some(r.container_id.as_str()) {
                        ops.remove(c.id.as_deref().unwrap_or(&r.container)).await?;
                    }
                }
                if let Some(n) = &m.new_id {
                    ops.remove(n).await?;
                }
                let old = ops.inspect(&r.container_id).await?;
                if old.name.as_deref().map(|n| n.trim_start_matches('/')) != Some(r.container.as_str()) {
                    ops.rename(&r.container_id, &r.container).await?;
                }
                ops.start(&r.container_id).await?;
                Ok::<(), String>(())
            };
            match attempt.await {
                Ok(()) => {}
                Err(_) if session.is_closed() => continue,
                Err(e) => return Err(e),
            }
            match wait_healthy(
                &session,
                &docker,
                &self.plan.service_spec,
                &r.container_id,
                self.plan.health_timeout,
                |_| {},
            )
            .await
            {
                GateResult::Healthy { .. } => {
                    for hook in &self.plan.service_spec.deploy.post_start {
                        let vars = self.plan.hook_vars(r, r.port);
                        let _ = self.run_hook(hook.host.as_deref().unwrap_or(&r.host), &hook.run, &vars).await;
                    }
                    return Ok(());
                }
                GateResult::Failed(f) if f.connection_lost => continue,
                GateResult::Failed(f) => {
                    return Err(format!("the previous container is not healthy again: {}", f.reason))
                }
            }
        }
    }

    /// After success: the parked old containers are removed (their images stay, so a
    /// rollback is immediate). start-first keeps them, stopped (see `cleanup_beside`).
    async fn cleanup(&self, moved: &[Moved]) {
        if self.plan.service_spec.deploy.start_first {
            return self.cleanup_beside(moved).await;
        }
        for m in moved {
            if let Ok((_, docker)) = self.live(&m.replica.host).await {
                if let Err(e) = (Ops { docker: &docker }).remove(&m.replica.container_id).await {
                    self.note(format!("{}: could not remove the old container: {e}", m.replica.host)).await;
                }
            }
        }
    }
}

fn set_outcome(release: &mut Release, r: &PlannedReplica, to_id: Option<String>, outcome: &str) {
    if let Some(o) = release.replicas.iter_mut().find(|o| o.host == r.host && o.from_id == r.container_id) {
        o.to_id = to_id;
        o.outcome = outcome.to_string();
    }
}
