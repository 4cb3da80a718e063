//! Deploys of Swarm services. fleetdeck does not replace a Swarm service's replicas itself:
//! it sets the service's update config (parallelism, delay, monitor, failure action
//! `rollback`, order), its rollback config and its image through the Docker API, then
//! follows the engine's progress task by task (reporting `DeployEvent`s like the container
//! runner does, so the same wizard and the same CLI printer show it), and rolls back with
//! the engine's own rollback (`rollback=previous`). [`SwarmRunner`] adds what every
//! fleetdeck release has: the deploy lock and the release journal on the manager host, and
//! the local audit log.
//!
//! Swarm has no API to pause an update: a `Control::Pause` is explained in a note and
//! ignored. `Control::Abort` asks the engine to roll back to the previous spec.

use super::audit::{self, AuditEntry};
use super::gate::GateFailure;
use super::journal::{self, Release, ReleaseKind, ReleaseState, ReplicaOutcome};
use super::lock::{self, Holder, LockResult};
use super::recreate::Ops;
use super::runner::{Control, DeployError, DeployEvent, HostHandle, Phase};
use crate::config::profile::Deploy;
use crate::docker::error_chain;
use crate::ssh::SshSession;
use bollard::models::{
    Service, ServiceSpec, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatus, Task,
};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions, UpdateServiceOptions};
use bollard::Docker;
use chrono::Utc;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long fleetdeck follows an update (or rollback) before it reports a timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the service and its tasks are read while following.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Label that names the fleetdeck service a Swarm service belongs to, if its name differs.
pub const SERVICE_LABEL: &str = "fleetdeck.service";
/// Label `docker stack deploy` puts on the services of a stack (named `<stack>_<service>`).
pub const STACK_LABEL: &str = "com.docker.stack.namespace";
/// How long API errors in a row are tolerated while following (a dropped connection).
const API_ERRORS_FOR: Duration = Duration::from_secs(30);
/// How long the engine may report no update status at all before the update counts as one
/// with nothing to replace (no replicas).
const NO_STATUS_GRACE: Duration = Duration::from_secs(5);
/// How long a step waits for the manager's connection to come back.
const RECONNECT_WAIT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOrder {
    /// Stop the old task before starting the new one (Swarm's default).
    StopFirst,
    /// Start the new task first; the old one stops once the new one runs.
    StartFirst,
}

impl UpdateOrder {
    pub fn parse(s: &str) -> Result<UpdateOrder, String> {
        match s {
            "stop-first" => Ok(UpdateOrder::StopFirst),
            "start-first" => Ok(UpdateOrder::StartFirst),
            other => Err(format!("update order must be stop-first or start-first, not {other:?}")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateOrder::StopFirst => "stop-first",
            UpdateOrder::StartFirst => "start-first",
        }
    }
}

/// An update of a Swarm service to another image, carried out by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmDeploy {
    /// The Swarm service (name or id).
    pub service_name: String,
    pub image: String,
    /// Tasks updated at once (0: all at once, as in Swarm).
    pub parallelism: u64,
    /// Wait between batches.
    pub delay: Duration,
    /// How long a new task is watched for failure after it started (0: the engine's 5 s).
    pub monitor: Duration,
    pub order: UpdateOrder,
    pub release_id: String,
    pub message: Option<String>,
    /// How long fleetdeck follows the engine before it reports a timeout.
    pub timeout: Duration,
}

impl SwarmDeploy {
    /// Swarm's update settings from a fleetdeck service's deploy settings: batch size is the
    /// parallelism, the monitor window is Swarm's monitor, start-first is the order. The
    /// timeout covers every batch: (health timeout + monitor) per batch, at least 5 minutes.
    pub fn from_config(
        service_name: &str,
        image: &str,
        deploy: &Deploy,
        replicas: usize,
        release_id: String,
        message: Option<String>,
    ) -> SwarmDeploy {
        let parallelism = deploy.batch_size.max(1) as u64;
        let batches = replicas.max(1).div_ceil(parallelism as usize) as u32;
        let per_batch = deploy.health_timeout + deploy.monitor + deploy.stop_timeout;
        SwarmDeploy {
            service_name: service_name.to_string(),
            image: image.to_string(),
            parallelism,
            delay: Duration::ZERO,
            monitor: deploy.monitor,
            order: if deploy.start_first { UpdateOrder::StartFirst } else { UpdateOrder::StopFirst },
            release_id,
            message,
            timeout: (per_batch * batches).max(DEFAULT_TIMEOUT),
        }
    }
}

/// The engine's rollback of a Swarm service to its previous spec.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmRollback {
    pub service_name: String,
    pub release_id: String,
    pub message: Option<String>,
    pub timeout: Duration,
}

/// One task of the service, as fleetdeck reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub id: String,
    pub slot: Option<i64>,
    pub node_id: String,
    /// The node's hostname when known, else its id.
    pub node: String,
    /// Image reference without a `@sha256:` pin.
    pub image: String,
    pub desired: String,
    pub state: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub exit_code: Option<i64>,
    pub container_id: Option<String>,
    /// The container's HEALTHCHECK status, when its container is on the engine we talk to.
    pub health: Option<String>,
}

impl TaskView {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(10)]
    }

    /// `web.1` (replicated) or `web.<node>` (global), as `docker service ps` names it.
    pub fn replica_name(&self, service: &str) -> String {
        match self.slot {
            Some(s) if s > 0 => format!("{service}.{s}"),
            _ => format!("{service}.{}", self.node_id),
        }
    }

    fn state_text(&self) -> String {
        match (&self.state[..], self.health.as_deref()) {
            ("running", Some(h)) => format!("running ({h})"),
            _ => self.state.clone(),
        }
    }

    fn problem(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(e) = self.error.as_deref().filter(|e| !e.is_empty()) {
            parts.push(e.to_string());
        }
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            if !parts.iter().any(|p| p.contains(m)) {
                parts.push(m.to_string());
            }
        }
        if let Some(c) = self.exit_code.filter(|_| is_ended(&self.state)) {
            parts.push(format!("exit code {c}"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// How an update (or rollback) ended, as the engine reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmOutcome {
    /// Succeeded (completed), FailedRolledBack (the engine rolled back on failure), Aborted
    /// (rolled back at the operator's request), Failed (paused, timed out or lost).
    pub state: ReleaseState,
    /// The engine's last `UpdateStatus.State` (`completed`, `rollback_completed`, ...).
    pub engine_state: Option<String>,
    /// The engine's message, the failure's when there was one.
    pub engine_message: Option<String>,
    /// Why it did not succeed, in a sentence.
    pub reason: Option<String>,
    pub from_image: String,
    pub to_image: String,
    /// The image the service's spec names at the end.
    pub image_now: String,
    /// The tasks that should run at the end (desired state running).
    pub tasks: Vec<TaskView>,
    pub took: Duration,
}

/// The Swarm service that stands for the fleetdeck service `name`: the service named `name`,
/// else the one labelled `fleetdeck.service=<name>`, else the stack service `<stack>_<name>`.
/// `None` when the engine is not a Swarm manager, or nothing (or more than one) matches.
pub async fn find_swarm_service(docker: &Docker, name: &str) -> Option<Service> {
    let services = match docker.list_services(None::<ListServicesOptions>).await {
        Ok(s) => s,
        Err(e) => {
            // 503 "This node is not a swarm manager": no swarm here, the common case.
            log::debug!("list services: {}", error_chain(&e));
            return None;
        }
    };
    pick_service(&services, name).cloned()
}

/// See [`find_swarm_service`].
pub fn pick_service<'a>(services: &'a [Service], name: &str) -> Option<&'a Service> {
    let spec_name = |s: &Service| s.spec.as_ref().and_then(|sp| sp.name.clone()).unwrap_or_default();
    let label =
        |s: &Service, key: &str| s.spec.as_ref().and_then(|sp| sp.labels.as_ref()).and_then(|l| l.get(key).cloned());
    if let Some(s) = services.iter().find(|s| spec_name(s) == name) {
        return Some(s);
    }
    let labelled: Vec<&Service> =
        services.iter().filter(|s| label(s, SERVICE_LABEL).as_deref() == Some(name)).collect();
    match labelled.as_slice() {
        [one] => return Some(one),
        [] => {}
        _ => return None,
    }
    let stacked: Vec<&Service> = services
        .iter()
        .filter(|s| label(s, STACK_LABEL).is_some_and(|ns| spec_name(s) == format!("{ns}_{name}")))
        .collect();
    match stacked.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// The image a service spec runs, without a `@sha256:` pin.
pub fn spec_image(spec: &ServiceSpec) -> Option<String> {
    spec.task_template.as_ref()?.container_spec.as_ref()?.image.as_deref().map(unpinned)
}

/// `repo:tag@sha256:…` → `repo:tag`.
pub fn unpinned(image: &str) -> String {
    image.split('@').next().unwrap_or(image).to_string()
}

/// Replicas the spec asks for (`None`: global or job mode).
pub fn spec_replicas(spec: &ServiceSpec) -> Option<i64> {
    spec.mode.as_ref()?.replicated.as_ref()?.replicas
}

fn nanos(d: Duration) -> i64 {
    d.as_nanos().min(i64::MAX as u128) as i64
}

/// The spec to send: the current one with fleetdeck's update and rollback configs and the new
/// image. Deploying the image the service already runs bumps `ForceUpdate`, so the engine
/// replaces the tasks (as a container deploy recreates them).
pub fn build_update_spec(current: &ServiceSpec, req: &SwarmDeploy) -> ServiceSpec {
    let mut spec = current.clone();
    let parallelism = req.parallelism.min(i64::MAX as u64) as i64;
    spec.update_config = Some(ServiceSpecUpdateConfig {
        parallelism: Some(parallelism),
        delay: Some(nanos(req.delay)),
        failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
        monitor: Some(nanos(req.monitor)),
        max_failure_ratio: Some(0.0),
        order: Some(match req.order {
            UpdateOrder::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
        }),
    });
    // Going back must not stop half-way silently: a failing rollback pauses (and fleetdeck
    // reports it as needing a person).
    spec.rollback_config = Some(ServiceSpecRollbackConfig {
        parallelism: Some(parallelism),
        delay: Some(0),
        failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
        monitor: Some(nanos(req.monitor)),
        max_failure_ratio: Some(0.0),
        order: Some(match req.order {
            UpdateOrder::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        }),
    });
    let same_image = spec_image(current).as_deref() == Some(unpinned(&req.image).as_str());
    let template = spec.task_template.get_or_insert_with(Default::default);
    template.container_spec.get_or_insert_with(Default::default).image = Some(req.image.clone());
    if same_image {
        template.force_update = Some(template.force_update.unwrap_or(0) + 1);
    }
    spec
}

/// The task as fleetdeck reports it (`node` is the node id until a name is known).
pub fn task_view(t: &Task) -> TaskView {
    let status = t.status.as_ref();
    let cs = status.and_then(|s| s.container_status.as_ref());
    let node_id = t.node_id.clone().unwrap_or_default();
    TaskView {
        id: t.id.clone().unwrap_or_default(),
        slot: t.slot,
        node: node_id.clone(),
        node_id,
        image: t
            .spec
            .as_ref()
            .and_then(|s| s.container_spec.as_ref())
            .and_then(|c| c.image.as_deref())
            .map(unpinned)
            .unwrap_or_default(),
        desired: t.desired_state.map(|d| d.to_string()).unwrap_or_default(),
        state: status.and_then(|s| s.state).map(|s| s.to_string()).unwrap_or_default(),
        message: status.and_then(|s| s.message.clone()),
        error: status.and_then(|s| s.err.clone()),
        exit_code: cs.and_then(|c| c.exit_code),
        container_id: cs.and_then(|c| c.container_id.clone()).filter(|c| !c.is_empty()),
        health: None,
    }
}

fn is_ended(state: &str) -> bool {
    matches!(state, "complete" | "shutdown" | "failed" | "rejected" | "remove" | "orphaned")
}

fn is_failure(t: &TaskView) -> bool {
    match t.state.as_str() {
        "failed" | "rejected" | "orphaned" => true,
        // A task that ended on its own while it should run (e.g. killed for being unhealthy).
        "complete" | "shutdown" => t.desired == "running" || t.error.as_deref().is_some_and(|e| !e.is_empty()),
        _ => false,
    }
}

/// The phase of a replica, as the wizard shows it, from one of its tasks. `target` is the
/// image the engine is moving to (the previous image while it rolls back).
pub fn phase_for(t: &TaskView, target: &str, rolling_back: bool) -> Option<Phase> {
    if t.image != target {
        return None;
    }
    if is_failure(t) {
        return Some(Phase::Failed);
    }
    match t.state.as_str() {
        "new" | "allocated" | "pending" | "assigned" | "accepted" | "preparing" | "ready" => {
            Some(if rolling_back { Phase::RollingBack } else { Phase::Replacing })
        }
        "starting" => Some(if rolling_back { Phase::RollingBack } else { Phase::WaitingHealthy }),
        "running" if t.desired == "running" => {
            if t.health.as_deref().is_some_and(|h| h != "healthy") {
                Some(if rolling_back { Phase::RollingBack } else { Phase::WaitingHealthy })
            } else {
                Some(if rolling_back { Phase::RolledBack } else { Phase::Healthy })
            }
        }
        _ => None,
    }
}

/// What fleetdeck follows: an update it asked for, or a rollback it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Following {
    Update,
    Rollback,
}

/// Whether the engine's update status ends what fleetdeck follows, and how.
/// `aborted`: the operator asked for the rollback in the middle of an update.
/// `failure`: the engine's message when it started rolling back on its own.
pub fn verdict(
    following: Following,
    status: &ServiceUpdateStatus,
    aborted: bool,
    failure: Option<&str>,
) -> Option<(ReleaseState, Option<String>)> {
    let state = status.state.map(|s| s.to_string()).unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    match (following, state.as_str()) {
        (Following::Update, "completed") => Some((ReleaseState::Succeeded, None)),
        (Following::Update, "rollback_completed") if aborted => {
            Some((ReleaseState::Aborted, Some("aborted by the operator; the engine rolled back".into())))
        }
        (Following::Update, "rollback_completed") => Some((
            ReleaseState::FailedRolledBack,
            Some(format!("the engine rolled back: {}", failure.unwrap_or(&message))),
        )),
        (Following::Rollback, "rollback_completed") => Some((ReleaseState::Succeeded, None)),
        // A rollback the engine was asked for is never "completed"; an update is.
        (Following::Rollback, "completed") => {
            Some((ReleaseState::Failed, Some(format!("the engine completed an update instead: {message}"))))
        }
        (_, "paused") => Some((
            ReleaseState::Failed,
            Some(format!("the engine paused the update: {message} (resume or roll back with docker service update)")),
        )),
        (_, "rollback_paused") => Some((
            ReleaseState::Failed,
            Some(format!("the engine's rollback paused: {message} (the service needs a person)")),
        )),
        _ => None,
    }
}

/// Follows the engine's progress and reports it.
struct Follower<'a> {
    docker: &'a Docker,
    service_id: String,
    /// The service's name, for replica names (`web.1`).
    label: String,
    events: &'a mpsc::Sender<DeployEvent>,
    nodes: HashMap<String, String>,
    nodes_read: Option<Instant>,
    seen: HashMap<String, TaskView>,
    phases: HashMap<(String, String), Phase>,
    /// Task ids whose failure was reported with its evidence, and what was said.
    explained: HashMap<String, String>,
    /// Containers not on this engine (no health, no logs from here).
    elsewhere: HashSet<String>,
}

impl<'a> Follower<'a> {
    fn new(docker: &'a Docker, service_id: String, label: String, events: &'a mpsc::Sender<DeployEvent>) -> Self {
        Follower {
            docker,
            service_id,
            label,
            events,
            nodes: HashMap::new(),
            nodes_read: None,
            seen: HashMap::new(),
            phases: HashMap::new(),
            explained: HashMap::new(),
            elsewhere: HashSet::new(),
        }
    }

    async fn note(&self, s: impl Into<String>) {
        let _ = self.events.send(DeployEvent::Note(s.into())).await;
    }

    async fn node_name(&mut self, id: &str) -> String {
        if id.is_empty() {
            return "(unassigned)".into();
        }
        if !self.nodes.contains_key(id) && self.nodes_read.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
            self.nodes_read = Some(Instant::now());
            if let Ok(nodes) = self.docker.list_nodes(None).await {
                for n in nodes {
                    if let (Some(nid), Some(host)) =
                        (n.id.clone(), n.description.as_ref().and_then(|d| d.hostname.clone()))
                    {
                        self.nodes.insert(nid, host);
                    }
                }
            }
        }
        self.nodes.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    async fn tasks(&mut self) -> Result<Vec<TaskView>, String> {
        let filters = HashMap::from([("service".to_string(), vec![self.service_id.clone()])]);
        let tasks = self
            .docker
            .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
            .await
            .map_err(|e| format!("list tasks: {}", error_chain(&e)))?;
        let mut out = Vec::with_capacity(tasks.len());
        for t in &tasks {
            let mut v = task_view(t);
            v.node = self.node_name(&v.node_id).await;
            // Health of a running task's container, when it runs on this engine.
            if v.state == "running" && v.desired == "running" {
                let prev = self.seen.get(&v.id).and_then(|p| p.health.clone());
                v.health = prev.clone();
                if prev.as_deref() != Some("healthy") {
                    v.health = self.health(&v).await.or(prev);
                }
            }
            out.push(v);
        }
        out.sort_by(|a, b| (a.slot, &a.node_id, &a.id).cmp(&(b.slot, &b.node_id, &b.id)));
        Ok(out)
    }

    async fn health(&mut self, t: &TaskView) -> Option<String> {
        let id = t.container_id.as_deref()?;
        if self.elsewhere.contains(id) {
            return None;
        }
        match crate::docker::model::inspect(self.docker, id).await {
            Ok(Some(c)) => c.health,
            Ok(None) => {
                self.elsewhere.insert(id.to_string());
                None
            }
            Err(_) => None,
        }
    }

    /// Report what changed since the last look: a note per task state change, the replica's
    /// phase, and the evidence (engine error, container logs) when a task of `target` fails.
    /// Report what changed since the last look: a note per task state change and the
    /// replica's phase. `target` is the image the engine moves to now; `forward` the image
    /// of fleetdeck's update (empty when following a rollback), whose failed tasks are
    /// explained with their evidence (the engine's error, the container's last log lines);
    /// `blamed` is the engine's rollback message, which names the task that failed.
    async fn report(
        &mut self,
        tasks: &[TaskView],
        target: &str,
        rolling_back: bool,
        forward: &str,
        blamed: Option<&str>,
    ) {
        // Tasks that ended first: a failure is shown before the engine's reaction to it.
        let mut order: Vec<&TaskView> = tasks.iter().collect();
        order.sort_by_key(|t| !is_ended(&t.state));
        for t in order {
            let before = self.seen.get(&t.id).cloned();
            let changed = before.as_ref().is_none_or(|b| b.state_text() != t.state_text() || b.desired != t.desired);
            let name = t.replica_name(&self.label);
            // The engine moving a task from "ready" to "running" is not news.
            let news =
                changed && before.as_ref().is_none_or(|b| b.state_text() != t.state_text() || t.desired != "running");
            if news {
                let from = before.as_ref().map(|b| b.state_text()).unwrap_or_else(|| "new".into());
                let mut line =
                    format!("task {} ({name} on {}) {} {from} → {}", t.short_id(), t.node, t.image, t.state_text());
                if !matches!(t.desired.as_str(), "running" | "ready") && !is_ended(&t.state) {
                    line.push_str(&format!(" (engine wants it {})", t.desired));
                }
                if let Some(p) = t.problem().filter(|_| is_ended(&t.state)) {
                    line.push_str(&format!(": {p}"));
                }
                self.note(line).await;
                // A task not yet on a node has no replica row to show it on.
                if let Some(phase) = phase_for(t, target, rolling_back).filter(|_| !t.node_id.is_empty()) {
                    self.phase(&t.node, &name, phase).await;
                }
            }
            // A task of the update's image that failed: ended on its own (while the engine
            // still wanted it running), or the one the engine blames for its rollback.
            let failed = !forward.is_empty()
                && t.image == forward
                && is_ended(&t.state)
                && (is_failure(t)
                    || (changed && before.as_ref().is_some_and(|b| b.desired == "running"))
                    || blamed.is_some_and(|m| m.contains(&t.id)));
            if failed && !self.explained.contains_key(&t.id) {
                self.phase(&t.node, &name, Phase::Failed).await;
                // The container's own account, when it is on this engine: the health check's
                // last output says more than the task's "finished".
                let (mut logs, mut health) = (vec![], String::new());
                if let Some(c) = t.container_id.as_deref().filter(|c| !self.elsewhere.contains(*c)) {
                    logs = Ops { docker: self.docker }.tail_logs(c, 20).await;
                    if let Ok(Some(info)) = crate::docker::model::inspect(self.docker, c).await {
                        if let Some(h) = info.health.filter(|h| h != "healthy") {
                            let out = info.health_output.unwrap_or_default();
                            health = format!("; its container was {h}: {}", out.trim());
                        }
                    }
                }
                let reason = format!(
                    "task {} {} ended {}{}{health}",
                    t.short_id(),
                    t.image,
                    t.state,
                    t.problem().map(|p| format!(": {p}")).unwrap_or_default()
                );
                self.explained.insert(t.id.clone(), reason.clone());
                let failure = GateFailure { reason, probes: vec![], logs, connection_lost: false };
                let _ =
                    self.events.send(DeployEvent::GateFailed { host: t.node.clone(), container: name, failure }).await;
            }
        }
        let ids: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        self.seen.retain(|id, _| ids.contains(id.as_str()));
        for t in tasks {
            self.seen.insert(t.id.clone(), t.clone());
        }
    }

    async fn phase(&mut self, host: &str, container: &str, phase: Phase) {
        let key = (host.to_string(), container.to_string());
        if self.phases.get(&key) != Some(&phase) {
            self.phases.insert(key, phase);
            let _ = self
                .events
                .send(DeployEvent::Replica { host: host.to_string(), container: container.to_string(), phase })
                .await;
        }
    }
}

fn status_key(s: Option<&ServiceUpdateStatus>) -> Option<(String, String)> {
    s.map(|s| {
        (
            s.state.map(|x| x.to_string()).unwrap_or_default(),
            s.started_at.as_ref().map(|t| format!("{t:?}")).unwrap_or_default(),
        )
    })
}

fn version_of(s: &Service) -> Result<i32, String> {
    let v = s.version.as_ref().and_then(|v| v.index).ok_or("the engine gave no version index for the service")?;
    i32::try_from(v).map_err(|_| format!("the service's version index {v} does not fit the API's version parameter"))
}

async fn inspect(docker: &Docker, name: &str) -> Result<Service, String> {
    docker.inspect_service(name, None).await.map_err(|e| format!("inspect service {name}: {}", error_chain(&e)))
}

struct FollowArgs<'a> {
    docker: &'a Docker,
    service: Service,
    following: Following,
    /// The image the service leaves, and the one it moves to (for a rollback: the previous
    /// spec's).
    from: String,
    to: String,
    /// The update status before fleetdeck's request (a status equal to it is not ours).
    before: Option<(String, String)>,
    /// The tasks before the request (reported only when they change).
    known: Vec<TaskView>,
    timeout: Duration,
    started: Instant,
}

/// Follow the engine until it ends the update (or rollback), the timeout passes or contact
/// is lost; honour the operator's controls.
async fn follow(
    a: FollowArgs<'_>,
    events: &mpsc::Sender<DeployEvent>,
    mut control: watch::Receiver<Control>,
) -> SwarmOutcome {
    let service_id = a.service.id.clone().unwrap_or_default();
    let label = a.service.spec.as_ref().and_then(|s| s.name.clone()).unwrap_or_else(|| service_id.clone());
    let mut f = Follower::new(a.docker, service_id.clone(), label.clone(), events);
    f.seen = a.known.iter().map(|t| (t.id.clone(), t.clone())).collect();
    let deadline = a.started + a.timeout;
    let mut rolling_back = a.following == Following::Rollback;
    let mut aborted = false;
    let mut pause_told = false;
    let mut abort_told = false;
    let mut control_open = true;
    let mut failure: Option<String> = None;
    let mut last_state = String::new();
    let mut last_ok = Instant::now();
    let mut api_error_told = false;
    let mut last_tasks: Vec<TaskView> = Vec::new();
    let mut image_now = a.from.clone();
    let mut engine_message: Option<String> = None;
    let mut ended: Option<(ReleaseState, Option<String>, Option<String>)> = None;
    let mut settle_told = false;
    let outcome = |state, reason, engine_state: &str, engine_message, tasks: Vec<TaskView>, image_now| SwarmOutcome {
        state,
        engine_state: (!engine_state.is_empty()).then(|| engine_state.to_string()),
        engine_message,
        reason,
        from_image: a.from.clone(),
        to_image: a.to.clone(),
        image_now,
        tasks: tasks.into_iter().filter(|t| t.desired == "running").collect(),
        took: a.started.elapsed(),
    };
    loop {
        // Controls first: an abort asks the engine to roll back.
        let c = *control.borrow_and_update();
        match c {
            Control::Abort if !aborted && !rolling_back && a.following == Following::Update => {
                aborted = true;
                f.note("abort: asking the engine to roll back to the previous spec").await;
                match request_rollback(a.docker, &service_id).await {
                    Ok(warnings) => {
                        for w in warnings {
                            f.note(format!("engine: {w}")).await;
                        }
                    }
                    Err(e) => f.note(format!("abort: the engine refused the rollback: {e}")).await,
                }
            }
            // Already going back (on its own, or a rollback fleetdeck follows): the release
            // ends as the engine's rollback ends.
            Control::Abort if !aborted && !abort_told => {
                abort_told = true;
                f.note("abort: the engine is already rolling back; following it").await;
            }
            Control::Pause if !pause_told => {
                pause_told = true;
                f.note("pause: Swarm has no way to pause an update through its API; the engine goes on (abort asks it to roll back)").await;
            }
            _ => {}
        }
        let polled = async {
            let svc = inspect(a.docker, &service_id).await?;
            let tasks = f.tasks().await?;
            Ok::<_, String>((svc, tasks))
        }
        .await;
        match polled {
            Ok((svc, tasks)) => {
                last_ok = Instant::now();
                if api_error_told {
                    api_error_told = false;
                    f.note("the engine answers again").await;
                }
                if let Some(img) = svc.spec.as_ref().and_then(spec_image) {
                    image_now = img;
                }
                let status = svc.update_status.clone();
                let ours = status.is_some() && status_key(status.as_ref()) != a.before;
                let state = if ours {
                    status.as_ref().and_then(|s| s.state).map(|s| s.to_string()).unwrap_or_default()
                } else {
                    String::new()
                };
                if ours && state != last_state {
                    let msg = status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
                    f.note(format!("engine: {} {state}: {msg}", label)).await;
                    // rollback_started may come and go between two looks.
                    if state.starts_with("rollback_") {
                        rolling_back = true;
                    }
                    if state == "rollback_started" && a.following == Following::Update && !aborted {
                        failure = Some(msg.clone());
                    }
                    engine_message = Some(msg);
                    last_state = state.clone();
                }
                // The image the engine moves to now: back to `from` when an update rolls back.
                let target = if rolling_back && a.following == Following::Update { &a.from } else { &a.to };
                let forward = if a.following == Following::Update { a.to.as_str() } else { "" };
                f.report(&tasks, target, rolling_back, forward, failure.as_deref()).await;
                let replicas = svc.spec.as_ref().and_then(spec_replicas);
                if ours && ended.is_none() {
                    let st = status.clone().unwrap_or_default();
                    // The engine's rollback message names the failed task; if fleetdeck saw
                    // rollback_completed without it (both between two looks), what it saw fail.
                    let failed_task = match failure.as_deref() {
                        Some(m) => Some(explain_failure(m, &tasks, &f.explained)),
                        None if !f.explained.is_empty() => {
                            let mut said: Vec<&str> = f.explained.values().map(String::as_str).collect();
                            said.sort();
                            Some(format!("{} ({})", engine_message.clone().unwrap_or_default(), said.join("; ")))
                        }
                        None => None,
                    };
                    if let Some((state, reason)) = verdict(a.following, &st, aborted, failed_task.as_deref()) {
                        let message = if state == ReleaseState::FailedRolledBack {
                            failure.clone().or(failed_task)
                        } else {
                            engine_message.clone()
                        };
                        if state == ReleaseState::Failed {
                            return outcome(state, reason, &last_state, message, tasks, image_now);
                        }
                        ended = Some((state, reason, message));
                    }
                }
                // "completed" means the engine updated every slot, not that every task runs
                // yet (a failed task's restart can stand in for a slot's rollback): wait for
                // the tasks too.
                if let Some((state, reason, message)) = &ended {
                    if settled(&tasks, &image_now, replicas) {
                        return outcome(*state, reason.clone(), &last_state, message.clone(), tasks, image_now);
                    }
                    if !settle_told {
                        settle_told = true;
                        f.note(format!("engine: {label} {last_state}; waiting for every task to run {image_now}"))
                            .await;
                    }
                } else if status.is_none()
                    && a.started.elapsed() > NO_STATUS_GRACE
                    && tasks
                        .iter()
                        .filter(|t| t.desired == "running")
                        .all(|t| t.image == *target && t.state == "running")
                {
                    f.note("engine: nothing to replace").await;
                    return outcome(ReleaseState::Succeeded, None, "", None, tasks, image_now);
                }
                last_tasks = tasks;
            }
            Err(e) => {
                if !api_error_told {
                    api_error_told = true;
                    f.note(format!("cannot read the service's progress: {e}")).await;
                }
                if last_ok.elapsed() > API_ERRORS_FOR {
                    let reason = format!(
                        "lost contact with the engine for {}s ({e}); the engine's update goes on without fleetdeck watching: check `docker service ps {label}`",
                        API_ERRORS_FOR.as_secs()
                    );
                    return outcome(
                        ReleaseState::Failed,
                        Some(reason),
                        &last_state,
                        engine_message,
                        last_tasks,
                        image_now,
                    );
                }
            }
        }
        if Instant::now() >= deadline {
            if let Some((state, reason, message)) = ended {
                let not_running = format!(
                    "the engine reports {last_state}, but not every task runs {image_now} after {}s: check `docker service ps {label}`",
                    a.timeout.as_secs()
                );
                let (state, reason) = match state {
                    ReleaseState::Succeeded => (ReleaseState::Failed, not_running),
                    other => (other, format!("{}; {not_running}", reason.unwrap_or_default())),
                };
                return outcome(state, Some(reason), &last_state, message, last_tasks, image_now);
            }
            let reason = format!(
                "the engine still reports {} after {}s; fleetdeck stopped following, the engine goes on: check `docker service ps {label}`",
                if last_state.is_empty() { "no progress".to_string() } else { last_state.clone() },
                a.timeout.as_secs()
            );
            return outcome(ReleaseState::Failed, Some(reason), &last_state, engine_message, last_tasks, image_now);
        }
        if control_open {
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                r = control.changed() => if r.is_err() { control_open = false },
            }
        } else {
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// Whether the service's tasks run `image`: as many running (and not unhealthy or still
/// starting their health check) as the spec asks for, and none that should run doing
/// anything else.
pub fn settled(tasks: &[TaskView], image: &str, replicas: Option<i64>) -> bool {
    let wanted: Vec<&TaskView> = tasks.iter().filter(|t| t.desired == "running").collect();
    let ok = |t: &&TaskView| {
        t.image == image && t.state == "running" && !matches!(t.health.as_deref(), Some("starting" | "unhealthy"))
    };
    let count_ok = match replicas {
        Some(n) => wanted.len() as i64 == n,
        None => !wanted.is_empty(),
    };
    count_ok && wanted.iter().all(ok)
}

/// "update rolled back due to failure or early termination of task X" plus what task X did
/// (as reported with its evidence, when it was).
fn explain_failure(message: &str, tasks: &[TaskView], explained: &HashMap<String, String>) -> String {
    let task = tasks.iter().find(|t| !t.id.is_empty() && message.contains(&t.id));
    if let Some(said) = task.and_then(|t| explained.get(&t.id)) {
        return format!("{message} ({said})");
    }
    match task {
        Some(t) => format!(
            "{message} ({} {} ended {}{})",
            t.short_id(),
            t.image,
            t.state,
            t.problem().map(|p| format!(": {p}")).unwrap_or_default()
        ),
        None => message.to_string(),
    }
}

/// The service's tasks now, to report only what changes after a request.
async fn known_tasks(docker: &Docker, svc: &Service, events: &mpsc::Sender<DeployEvent>) -> Vec<TaskView> {
    let label = svc.spec.as_ref().and_then(|s| s.name.clone()).unwrap_or_default();
    Follower::new(docker, svc.id.clone().unwrap_or_default(), label, events).tasks().await.unwrap_or_default()
}

async fn request_rollback(docker: &Docker, service: &str) -> Result<Vec<String>, String> {
    let svc = inspect(docker, service).await?;
    let spec = svc.spec.clone().ok_or("the engine gave no spec for the service")?;
    let opts =
        UpdateServiceOptions { version: version_of(&svc)?, rollback: Some("previous".into()), ..Default::default() };
    docker
        .update_service(service, spec, opts, None)
        .await
        .map(|r| r.warnings.unwrap_or_default())
        .map_err(|e| error_chain(&e))
}

fn describe(spec: &ServiceSpec, req: &SwarmDeploy) -> String {
    let replicas = match spec_replicas(spec) {
        Some(n) => format!("{n} replicas"),
        None => "global".into(),
    };
    format!(
        "swarm service {} ({replicas}): {} -> {}; engine update config: parallelism {}, delay {}s, monitor {}s, order {}, on failure rollback",
        spec.name.as_deref().unwrap_or(&req.service_name),
        spec_image(spec).unwrap_or_else(|| "?".into()),
        req.image,
        req.parallelism,
        req.delay.as_secs_f32(),
        req.monitor.as_secs_f32(),
        req.order.as_str(),
    )
}

/// Update the service to `req.image` with fleetdeck's update config and follow the engine to
/// the end. `Err` means nothing was changed (the service could not be read, or the engine
/// refused the update).
pub async fn run(
    docker: &Docker,
    req: &SwarmDeploy,
    events: mpsc::Sender<DeployEvent>,
    control: watch::Receiver<Control>,
) -> Result<SwarmOutcome, String> {
    let started = Instant::now();
    let svc = inspect(docker, &req.service_name).await?;
    let current = svc.spec.clone().ok_or("the engine gave no spec for the service")?;
    let version = version_of(&svc)?;
    let previous = spec_image(&current).unwrap_or_default();
    let spec = build_update_spec(&current, req);
    let _ = events.send(DeployEvent::Note(describe(&current, req))).await;
    if previous == unpinned(&req.image) {
        let _ = events
            .send(DeployEvent::Note(format!(
                "the service already runs {previous}: forcing the engine to replace its tasks"
            )))
            .await;
    }
    let before = status_key(svc.update_status.as_ref());
    let opts = UpdateServiceOptions { version, ..Default::default() };
    let id = svc.id.clone().unwrap_or_else(|| req.service_name.clone());
    let known = known_tasks(docker, &svc, &events).await;
    let resp = docker
        .update_service(&id, spec, opts, None)
        .await
        .map_err(|e| format!("the engine refused the update of {}: {}", req.service_name, error_chain(&e)))?;
    for w in resp.warnings.unwrap_or_default() {
        let _ = events.send(DeployEvent::Note(format!("engine: {w}"))).await;
    }
    let _ = events.send(DeployEvent::Note("update requested; following the engine task by task".into())).await;
    Ok(follow(
        FollowArgs {
            docker,
            service: svc,
            following: Following::Update,
            from: previous,
            to: unpinned(&req.image),
            before,
            known,
            timeout: req.timeout,
            started,
        },
        &events,
        control,
    )
    .await)
}

/// The engine's rollback to the service's previous spec, followed the same way. `Err` means
/// nothing was changed (e.g. the engine keeps no previous spec: a service that was never
/// updated, or one the engine already rolled back itself).
pub async fn rollback(
    docker: &Docker,
    req: &SwarmRollback,
    events: mpsc::Sender<DeployEvent>,
    control: watch::Receiver<Control>,
) -> Result<SwarmOutcome, String> {
    let started = start_rollback(docker, req, &events).await?;
    Ok(follow_rollback(docker, started, req.timeout, events, control).await)
}

/// A rollback the engine accepted: what the service leaves and where it goes back to.
pub struct RollbackStarted {
    service: Service,
    pub from_image: String,
    pub to_image: String,
    before: Option<(String, String)>,
    known: Vec<TaskView>,
    started: Instant,
}

fn no_previous_spec(service: &str) -> String {
    format!(
        "the engine keeps no previous spec of {service} (never updated, or already rolled back by the engine): nothing was changed; deploy the image to go back to instead"
    )
}

/// Ask the engine to roll back. bollard's `Service` model has no `PreviousSpec`, so where the
/// service goes back to is read from its spec right after the engine swapped it in.
pub async fn start_rollback(
    docker: &Docker,
    req: &SwarmRollback,
    events: &mpsc::Sender<DeployEvent>,
) -> Result<RollbackStarted, String> {
    let started = Instant::now();
    let svc = inspect(docker, &req.service_name).await?;
    let current = svc.spec.as_ref().and_then(spec_image).unwrap_or_default();
    let before = status_key(svc.update_status.as_ref());
    let id = svc.id.clone().unwrap_or_else(|| req.service_name.clone());
    let known = known_tasks(docker, &svc, events).await;
    let warnings = request_rollback(docker, &id).await.map_err(|e| {
        if e.contains("does not have a previous spec") {
            no_previous_spec(&req.service_name)
        } else {
            format!("the engine refused the rollback of {}: {e}", req.service_name)
        }
    })?;
    for w in warnings {
        let _ = events.send(DeployEvent::Note(format!("engine: {w}"))).await;
    }
    let previous = match inspect(docker, &id).await {
        Ok(now) => now.spec.as_ref().and_then(spec_image).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let _ = events
        .send(DeployEvent::Note(format!(
            "swarm service {}: the engine rolls back to its previous spec: {current} -> {}",
            req.service_name,
            if previous.is_empty() { "?" } else { &previous }
        )))
        .await;
    Ok(RollbackStarted { service: svc, from_image: current, to_image: previous, before, known, started })
}

/// Follow a rollback [`start_rollback`] started, to its end.
pub async fn follow_rollback(
    docker: &Docker,
    s: RollbackStarted,
    timeout: Duration,
    events: mpsc::Sender<DeployEvent>,
    control: watch::Receiver<Control>,
) -> SwarmOutcome {
    follow(
        FollowArgs {
            docker,
            service: s.service,
            following: Following::Rollback,
            from: s.from_image,
            to: s.to_image,
            before: s.before,
            known: s.known,
            timeout,
            started: s.started,
        },
        &events,
        control,
    )
    .await
}

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
        // previous spec (bollard's model does not carry it): a refusal changed nothing.
        let mut rollback_started = None;
        let to_image = match &self.change {
            SwarmChange::Deploy(d) => {
                if (Ops { docker: &docker }).image_id(&d.image).await.is_none() {
                    self.note(format!(
                        "warning: {} is not on the manager {}: every node must have it or pull it, or the engine rejects the new tasks and rolls back",
                        d.image, self.manager.name
                    ))
                    .await;
                }
                unpinned(&d.image)
            }
            SwarmChange::Rollback(r) => match start_rollback(&docker, r, &self.events).await {
                Ok(st) => {
                    let to = st.to_image.clone();
                    rollback_started = Some(st);
                    to
                }
                Err(e) => return Err(self.refuse("preflight failed", e).await),
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
            message: self.change.message(),
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
        let result = match (&self.change, rollback_started) {
            (SwarmChange::Rollback(r), Some(st)) => {
                Ok(follow_rollback(&docker, st, r.timeout, self.events.clone(), self.control.clone()).await)
            }
            (SwarmChange::Rollback(r), None) => Err(no_previous_spec(&r.service_name)),
            (SwarmChange::Deploy(d), _) => run(&docker, d, self.events.clone(), self.control.clone()).await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ServiceSpecMode, ServiceSpecModeReplicated, ServiceUpdateStatusStateEnum, TaskSpec, TaskSpecContainerSpec,
    };

    fn spec(name: &str, image: &str, labels: &[(&str, &str)]) -> ServiceSpec {
        ServiceSpec {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(vec!["PORT=2718{{.Task.Slot}}".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn service(name: &str, labels: &[(&str, &str)]) -> Service {
        Service { id: Some(format!("id-{name}")), spec: Some(spec(name, "web:v1", labels)), ..Default::default() }
    }

    fn req(image: &str) -> SwarmDeploy {
        SwarmDeploy {
            service_name: "web".into(),
            image: image.into(),
            parallelism: 2,
            delay: Duration::from_millis(1500),
            monitor: Duration::from_secs(3),
            order: UpdateOrder::StartFirst,
            release_id: "r1".into(),
            message: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    fn task(id: &str, slot: i64, image: &str, desired: &str, state: &str) -> TaskView {
        TaskView {
            id: id.into(),
            slot: Some(slot),
            node_id: "n1".into(),
            node: "vm".into(),
            image: image.into(),
            desired: desired.into(),
            state: state.into(),
            message: None,
            error: None,
            exit_code: None,
            container_id: None,
            health: None,
        }
    }

    #[test]
    fn update_spec_sets_the_engine_config_and_image_and_keeps_the_rest() {
        let current = spec("web", "web:v1@sha256:abc", &[("a", "b")]);
        let s = build_update_spec(&current, &req("web:v2"));
        let u = s.update_config.as_ref().unwrap();
        assert_eq!(u.parallelism, Some(2));
        assert_eq!(u.delay, Some(1_500_000_000));
        assert_eq!(u.monitor, Some(3_000_000_000));
        assert_eq!(u.failure_action, Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK));
        assert_eq!(u.max_failure_ratio, Some(0.0));
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        let r = s.rollback_config.as_ref().unwrap();
        assert_eq!(r.failure_action, Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE));
        assert_eq!(r.order, Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST));
        assert_eq!(spec_image(&s).as_deref(), Some("web:v2"));
        let c = s.task_template.as_ref().unwrap().container_spec.as_ref().unwrap();
        assert_eq!(c.env, Some(vec!["PORT=2718{{.Task.Slot}}".to_string()]), "the rest of the spec is kept");
        assert_eq!(s.labels, current.labels);
        assert_eq!(spec_replicas(&s), Some(2));
        assert_eq!(s.task_template.as_ref().unwrap().force_update, None);
        // The JSON the engine gets uses its field names and values.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["UpdateConfig"]["FailureAction"], "rollback");
        assert_eq!(json["UpdateConfig"]["Order"], "start-first");
        assert_eq!(json["RollbackConfig"]["FailureAction"], "pause");
        assert_eq!(json["TaskTemplate"]["ContainerSpec"]["Image"], "web:v2");
    }

    #[test]
    fn deploying_the_same_image_forces_a_replacement() {
        let mut current = spec("web", "web:v1@sha256:abc", &[]);
        current.task_template.as_mut().unwrap().force_update = Some(4);
        let s = build_update_spec(&current, &req("web:v1"));
        assert_eq!(s.task_template.as_ref().unwrap().force_update, Some(5));
    }

    #[test]
    fn config_maps_to_swarm_settings() {
        let d = Deploy { batch_size: 2, start_first: false, ..Deploy::default() };
        let s = SwarmDeploy::from_config("web", "web:v2", &d, 5, "r".into(), Some("m".into()));
        assert_eq!((s.parallelism, s.order, s.monitor), (2, UpdateOrder::StopFirst, d.monitor));
        assert!(s.timeout >= DEFAULT_TIMEOUT);
        assert_eq!(UpdateOrder::parse("start-first"), Ok(UpdateOrder::StartFirst));
        assert!(UpdateOrder::parse("blue-green").is_err());
    }

    #[test]
    fn finds_the_service_by_name_label_or_stack() {
        let list = vec![
            service("api", &[]),
            service("shop_web", &[(STACK_LABEL, "shop")]),
            service("legacy-frontend", &[(SERVICE_LABEL, "front")]),
        ];
        assert_eq!(pick_service(&list, "api").unwrap().id.as_deref(), Some("id-api"));
        assert_eq!(pick_service(&list, "web").unwrap().id.as_deref(), Some("id-shop_web"));
        assert_eq!(pick_service(&list, "front").unwrap().id.as_deref(), Some("id-legacy-frontend"));
        assert!(pick_service(&list, "worker").is_none());
        // Two stacks with a `web`: ambiguous, no guess.
        let two = vec![service("a_web", &[(STACK_LABEL, "a")]), service("b_web", &[(STACK_LABEL, "b")])];
        assert!(pick_service(&two, "web").is_none());
        // An exact name wins over a stack's service.
        let both = vec![service("a_web", &[(STACK_LABEL, "a")]), service("web", &[])];
        assert_eq!(pick_service(&both, "web").unwrap().id.as_deref(), Some("id-web"));
    }

    #[test]
    fn phases_follow_the_tasks_of_the_target_image() {
        assert_eq!(phase_for(&task("t", 1, "web:v2", "running", "preparing"), "web:v2", false), Some(Phase::Replacing));
        assert_eq!(
            phase_for(&task("t", 1, "web:v2", "running", "starting"), "web:v2", false),
            Some(Phase::WaitingHealthy)
        );
        let mut healthy = task("t", 1, "web:v2", "running", "running");
        healthy.health = Some("healthy".into());
        assert_eq!(phase_for(&healthy, "web:v2", false), Some(Phase::Healthy));
        assert_eq!(phase_for(&task("t", 1, "web:v2", "shutdown", "failed"), "web:v2", false), Some(Phase::Failed));
        // Killed for being unhealthy: ended "complete" while the engine wanted it running.
        assert_eq!(phase_for(&task("t", 1, "web:v2", "running", "complete"), "web:v2", false), Some(Phase::Failed));
        // The old tasks the engine stops on purpose are not replicas' phases.
        assert_eq!(phase_for(&task("t", 1, "web:v1", "shutdown", "shutdown"), "web:v2", false), None);
        // While rolling back, the previous image is the target.
        assert_eq!(phase_for(&task("t", 1, "web:v1", "running", "starting"), "web:v1", true), Some(Phase::RollingBack));
        assert_eq!(phase_for(&task("t", 1, "web:v1", "running", "running"), "web:v1", true), Some(Phase::RolledBack));
        assert_eq!(task("t", 3, "x", "running", "running").replica_name("web"), "web.3");
    }

    fn status(state: ServiceUpdateStatusStateEnum, msg: &str) -> ServiceUpdateStatus {
        ServiceUpdateStatus { state: Some(state), message: Some(msg.into()), ..Default::default() }
    }

    #[test]
    fn engine_states_end_the_release() {
        use ServiceUpdateStatusStateEnum as S;
        let f = Following::Update;
        assert_eq!(verdict(f, &status(S::UPDATING, "update in progress"), false, None), None);
        assert_eq!(verdict(f, &status(S::ROLLBACK_STARTED, "x"), false, None), None);
        assert_eq!(
            verdict(f, &status(S::COMPLETED, "update completed"), false, None).unwrap().0,
            ReleaseState::Succeeded
        );
        let (st, why) =
            verdict(f, &status(S::ROLLBACK_COMPLETED, "rollback completed"), false, Some("task xyz failed")).unwrap();
        assert_eq!(st, ReleaseState::FailedRolledBack);
        assert!(why.unwrap().contains("task xyz failed"));
        assert_eq!(verdict(f, &status(S::ROLLBACK_COMPLETED, "r"), true, None).unwrap().0, ReleaseState::Aborted);
        assert_eq!(verdict(f, &status(S::ROLLBACK_PAUSED, "r"), false, None).unwrap().0, ReleaseState::Failed);
        assert_eq!(verdict(f, &status(S::PAUSED, "r"), false, None).unwrap().0, ReleaseState::Failed);
        let r = Following::Rollback;
        assert_eq!(verdict(r, &status(S::ROLLBACK_STARTED, "manually requested rollback"), false, None), None);
        assert_eq!(verdict(r, &status(S::ROLLBACK_COMPLETED, "done"), false, None).unwrap().0, ReleaseState::Succeeded);
    }

    #[test]
    fn settled_means_every_slot_runs_the_image() {
        let mut a = task("a", 1, "web:v2", "running", "running");
        let b = task("b", 2, "web:v2", "running", "running");
        let old = task("c", 1, "web:v1", "shutdown", "shutdown");
        assert!(settled(&[a.clone(), b.clone(), old.clone()], "web:v2", Some(2)));
        // One slot still starting, or on another image, or missing.
        let starting = task("d", 2, "web:v2", "running", "ready");
        assert!(!settled(&[a.clone(), starting, old.clone()], "web:v2", Some(2)));
        assert!(!settled(&[a.clone(), b.clone()], "web:v1", Some(2)));
        assert!(!settled(&[a.clone()], "web:v2", Some(2)));
        a.health = Some("starting".into());
        assert!(!settled(&[a, b], "web:v2", Some(2)));
    }

    #[test]
    fn a_failure_names_the_task_and_what_it_did() {
        let mut t = task("ow84f7cjvpr5bkrbdz36dy199", 1, "web:v3", "shutdown", "complete");
        t.exit_code = Some(137);
        t.message = Some("finished".into());
        let msg = "update rolled back due to failure or early termination of task ow84f7cjvpr5bkrbdz36dy199";
        let s = explain_failure(msg, std::slice::from_ref(&t), &HashMap::new());
        assert!(s.contains("(ow84f7cjvp web:v3 ended complete: finished, exit code 137)"), "{s}");
        let said = HashMap::from([(t.id.clone(), "task ow84f7cjvp … its container was unhealthy".to_string())]);
        assert!(explain_failure(msg, &[t], &said).ends_with("(task ow84f7cjvp … its container was unhealthy)"));
        assert_eq!(unpinned("web:v1@sha256:abc"), "web:v1");
    }
}
