//! A Swarm deploy or rollback as a fleetdeck release: the deploy lock and the release journal
//! on the manager host, the audit log, and the `Finished` event.

use super::follow::SwarmOutcome;
use super::follower::Follower;
use super::spec::{spec_image, unpinned, SwarmDeploy, SwarmRollback};
use super::task::TaskView;
use super::update::{follow_rollback, inspect, run, start_rollback, RollbackRefused, RollbackStarted};
use crate::deploy::audit::{self, AuditEntry};
use crate::deploy::journal::{self, Release, ReleaseKind, ReleaseState, ReplicaOutcome};
use crate::deploy::lock::{self, Holder, LockResult};
use crate::deploy::recreate::Ops;
use crate::deploy::runner::{Control, DeployError, DeployEvent, HostHandle};
use crate::ssh::SshSession;
use bollard::Docker;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long a step waits for the manager's connection to come back.
const RECONNECT_WAIT: Duration = Duration::from_secs(90);

/// What a [`SwarmRunner`] does.
#[derive(Debug, Clone, PartialEq)]
pub enum SwarmChange {
    Deploy(SwarmDeploy),
    Rollback(SwarmRollback),
}

impl SwarmChange {
    fn service_name(&self) -> &str {
        match self {
            SwarmChange::Deploy(d) => &d.service_name,
            SwarmChange::Rollback(r) => &r.service_name,
        }
    }
    fn release_id(&self) -> &str {
        match self {
            SwarmChange::Deploy(d) => &d.release_id,
            SwarmChange::Rollback(r) => &r.release_id,
        }
    }
    fn message(&self) -> Option<String> {
        match self {
            SwarmChange::Deploy(d) => d.message.clone(),
            SwarmChange::Rollback(r) => r.message.clone(),
        }
    }
}

/// What the engine is asked for, once the preflight is over.
enum Step<'a> {
    Update(&'a SwarmDeploy),
    /// A rollback the engine accepted, and how long to follow it.
    Rollback(Box<RollbackStarted>, Duration),
}

/// A Swarm deploy or rollback as a fleetdeck release: the deploy lock and the release journal
/// on the manager host (so `fleetdeck releases` lists it), the audit log, and `Finished`.
pub struct SwarmRunner {
    /// The Swarm manager the service is updated through.
    pub manager: HostHandle,
    pub profile: String,
    /// The fleetdeck service (the lock's and the journal's name).
    pub service: String,
    /// `Deploy`, or `Rollback` also for a deploy of an earlier release's image.
    pub kind: ReleaseKind,
    pub change: SwarmChange,
    pub events: mpsc::Sender<DeployEvent>,
    pub control: watch::Receiver<Control>,
    pub who: String,
}

impl SwarmRunner {
    async fn note(&self, s: impl Into<String>) {
        let _ = self.events.send(DeployEvent::Note(s.into())).await;
    }

    fn target_text(&self) -> String {
        match &self.change {
            SwarmChange::Deploy(d) => format!("{} -> {} (swarm)", self.service, d.image),
            SwarmChange::Rollback(_) => format!("{} -> previous spec (swarm)", self.service),
        }
    }

    fn audit(&self, phase: &str, outcome: Option<&str>, detail: Option<&str>) {
        let action = match self.kind {
            ReleaseKind::Deploy => "deploy",
            ReleaseKind::Rollback => "rollback",
        };
        if let Err(e) = audit::write(&AuditEntry {
            at: Utc::now(),
            who: &self.who,
            profile: &self.profile,
            action,
            target: &self.target_text(),
            phase,
            outcome,
            detail,
        }) {
            log::error!("{e}");
        }
    }

    /// The manager's live connection, waiting for a reconnect if it just dropped.
    async fn live(&self) -> Result<(Arc<SshSession>, Docker), String> {
        let deadline = Instant::now() + RECONNECT_WAIT;
        let mut told = false;
        loop {
            if let Some((s, d)) = self.manager.link.current() {
                if !s.is_closed() {
                    return Ok((s, d));
                }
            }
            if !told {
                self.note(format!("{}: connection lost, waiting for it to come back", self.manager.name)).await;
                told = true;
            }
            if Instant::now() >= deadline {
                return Err(format!("{} did not come back within {}s", self.manager.name, RECONNECT_WAIT.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn record(&self, release: &Release) {
        match self.live().await {
            Ok((s, _)) => {
                if let Err(e) = journal::append(&s, &self.manager.state_dir, release).await {
                    self.note(format!("journal: {e}")).await;
                }
            }
            Err(e) => self.note(format!("journal on {}: {e}", self.manager.name)).await,
        }
    }

    async fn unlock(&self) {
        if let Ok((s, _)) = self.live().await {
            let id = self.change.release_id();
            if let Err(e) = lock::release(&s, &self.manager.state_dir, &self.service, Some(id)).await {
                self.note(format!("{}: could not release the lock: {e}", self.manager.name)).await;
            }
        }
    }

    /// A warning when the image is not on the manager (the engine may still pull it).
    async fn check_image(&self, docker: &Docker, d: &SwarmDeploy) {
        if (Ops { docker }).image_id(&d.image).await.is_none() {
            self.note(format!(
                "warning: {} is not on the manager {}: every node must have it or pull it, or the engine rejects the new tasks and rolls back",
                d.image, self.manager.name
            ))
            .await;
        }
    }

    async fn refuse(&self, outcome: &str, e: String) -> DeployError {
        self.unlock().await;
        self.audit("end", Some(outcome), Some(&e));
        DeployError::Preflight(e)
    }

    /// Run it. `Err` means nothing was changed.
    pub async fn execute(self) -> Result<Release, DeployError> {
        let release_id = self.change.release_id().to_string();
        self.audit("begin", None, Some(&release_id));
        let holder =
            Holder { id: release_id.clone(), who: self.who.clone(), since: Utc::now(), message: self.change.message() };
        let (session, docker) = match self.live().await {
            Ok(l) => l,
            Err(e) => {
                self.audit("end", Some("preflight failed"), Some(&e));
                return Err(DeployError::Preflight(e));
            }
        };
        match lock::try_acquire(&session, &self.manager.state_dir, &self.service, &holder).await {
            Ok(LockResult::Acquired) => {}
            Ok(LockResult::Held(h)) => {
                self.audit("end", Some("lock held"), None);
                return Err(DeployError::LockHeld { host: self.manager.name.clone(), holder: h });
            }
            Err(e) => {
                self.audit("end", Some("preflight failed"), Some(&e));
                return Err(DeployError::Preflight(e));
            }
        }
        self.note(format!("deploy lock taken on {} (swarm manager)", self.manager.name)).await;
        // Preflight: the service, what it runs, and (for a rollback) where it would go back to.
        let svc = match inspect(&docker, self.change.service_name()).await {
            Ok(s) => s,
            Err(e) => return Err(self.refuse("preflight failed", e).await),
        };
        let spec = svc.spec.clone().unwrap_or_default();
        let from_image = spec_image(&spec).unwrap_or_default();
        let mut follower = Follower::new(
            &docker,
            svc.id.clone().unwrap_or_default(),
            spec.name.clone().unwrap_or_default(),
            &self.events,
        );
        let before: Vec<TaskView> =
            follower.tasks().await.unwrap_or_default().into_iter().filter(|t| t.desired == "running").collect();
        // A deploy checks the image; a rollback starts here, since only the engine knows its
        // previous spec (bollard's model does not carry it): a refusal changed nothing. When
        // the engine keeps no previous spec, the rollback's fallback deploy (if any) runs.
        let (step, to_image, message) = match &self.change {
            SwarmChange::Deploy(d) => {
                self.check_image(&docker, d).await;
                (Step::Update(d), unpinned(&d.image), d.message.clone())
            }
            SwarmChange::Rollback(r) => match start_rollback(&docker, r, &self.events).await {
                Ok(st) => {
                    let to = st.to_image.clone();
                    (Step::Rollback(Box::new(st), r.timeout), to, r.message.clone())
                }
                Err(RollbackRefused::NoPreviousSpec) if r.otherwise.is_some() => {
                    let d = r.otherwise.as_ref().expect("checked");
                    self.note(format!(
                        "the engine keeps no previous spec of {} (it drops it when it rolls back by itself): going back to {} through the engine's update instead{}",
                        r.service_name,
                        d.image,
                        d.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
                    ))
                    .await;
                    self.check_image(&docker, d).await;
                    (Step::Update(d), unpinned(&d.image), d.message.clone().or_else(|| r.message.clone()))
                }
                Err(e) => return Err(self.refuse("preflight failed", e.explain(&r.service_name)).await),
            },
        };
        let mut release = Release {
            id: release_id.clone(),
            service: self.service.clone(),
            kind: self.kind,
            from_image,
            from_digest: None,
            to_image,
            to_digest: None,
            who: self.who.clone(),
            message,
            started_at: Utc::now(),
            ended_at: None,
            state: ReleaseState::InProgress,
            replicas: before
                .iter()
                .map(|t| ReplicaOutcome {
                    host: t.node.clone(),
                    container: t.replica_name(&follower.label),
                    from_id: t.id.clone(),
                    to_id: None,
                    outcome: "not started".into(),
                })
                .collect(),
            reason: None,
            backups: vec![],
        };
        let label = follower.label.clone();
        drop(follower);
        self.record(&release).await;
        let result = match step {
            Step::Rollback(st, timeout) => {
                Ok(follow_rollback(&docker, *st, timeout, self.events.clone(), self.control.clone()).await)
            }
            Step::Update(d) => run(&docker, d, self.events.clone(), self.control.clone()).await,
        };
        match result {
            Ok(o) => {
                release.state = o.state;
                release.reason = o.reason.clone();
                fill_replicas(&mut release, &o, &label);
            }
            Err(e) => {
                release.state = ReleaseState::Aborted;
                release.reason = Some(e);
            }
        }
        release.ended_at = Some(Utc::now());
        self.record(&release).await;
        self.unlock().await;
        self.audit("end", Some(release.state.label()), release.reason.as_deref());
        self.note(format!("release {} {}", release.id, release.state.label())).await;
        let _ = self.events.send(DeployEvent::Finished(Box::new(release.clone()))).await;
        Ok(release)
    }
}

/// Each replica's outcome from the tasks that run at the end, slot by slot.
fn fill_replicas(release: &mut Release, o: &SwarmOutcome, label: &str) {
    let word = match o.state {
        ReleaseState::Succeeded => "healthy",
        ReleaseState::FailedRolledBack | ReleaseState::Aborted => "rolled back",
        _ => "unknown",
    };
    let mut unmatched: Vec<&TaskView> = Vec::new();
    for t in &o.tasks {
        let name = t.replica_name(label);
        match release.replicas.iter_mut().find(|r| r.container == name && r.to_id.is_none()) {
            Some(r) => {
                r.to_id = Some(t.id.clone());
                r.host = t.node.clone();
                r.outcome = format!("{word}: {} {}", t.image, t.state_text());
            }
            None => unmatched.push(t),
        }
    }
    for t in unmatched {
        release.replicas.push(ReplicaOutcome {
            host: t.node.clone(),
            container: t.replica_name(label),
            from_id: String::new(),
            to_id: Some(t.id.clone()),
            outcome: format!("{word}: {} {}", t.image, t.state_text()),
        });
    }
    for r in release.replicas.iter_mut().filter(|r| r.to_id.is_none()) {
        r.outcome = "gone (no task runs in this slot now)".into();
    }
}
