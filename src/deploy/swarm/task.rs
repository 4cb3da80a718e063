//! A task of a Swarm service as fleetdeck reports it, and what its state means for the
//! replica it stands for.

use super::spec::unpinned;
use crate::deploy::runner::Phase;
use bollard::models::Task;
use std::collections::HashMap;

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

    pub(super) fn state_text(&self) -> String {
        match (&self.state[..], self.health.as_deref()) {
            ("running", Some(h)) => format!("running ({h})"),
            _ => self.state.clone(),
        }
    }

    pub(super) fn problem(&self) -> Option<String> {
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

pub(super) fn is_ended(state: &str) -> bool {
    matches!(state, "complete" | "shutdown" | "failed" | "rejected" | "remove" | "orphaned")
}

pub(super) fn is_failure(t: &TaskView) -> bool {
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
pub(super) fn explain_failure(message: &str, tasks: &[TaskView], explained: &HashMap<String, String>) -> String {
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
