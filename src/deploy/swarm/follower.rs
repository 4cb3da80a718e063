//! Reads a service's tasks (with node names and container health) and reports what changed
//! since the last look: task state changes, replica phases, and a failed task's evidence.

use super::task::{is_ended, is_failure, phase_for, task_view, TaskView};
use crate::deploy::gate::GateFailure;
use crate::deploy::recreate::Ops;
use crate::deploy::runner::{DeployEvent, Phase};
use crate::docker::error_chain;
use bollard::query_parameters::ListTasksOptions;
use bollard::Docker;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Follows the engine's progress and reports it.
pub(super) struct Follower<'a> {
    docker: &'a Docker,
    service_id: String,
    /// The service's name, for replica names (`web.1`).
    pub(super) label: String,
    events: &'a mpsc::Sender<DeployEvent>,
    nodes: HashMap<String, String>,
    nodes_read: Option<Instant>,
    pub(super) seen: HashMap<String, TaskView>,
    phases: HashMap<(String, String), Phase>,
    /// Task ids whose failure was reported with its evidence, and what was said.
    pub(super) explained: HashMap<String, String>,
    /// Containers not on this engine (no health, no logs from here).
    elsewhere: HashSet<String>,
}

impl<'a> Follower<'a> {
    pub(super) fn new(
        docker: &'a Docker,
        service_id: String,
        label: String,
        events: &'a mpsc::Sender<DeployEvent>,
    ) -> Self {
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

    pub(super) async fn note(&self, s: impl Into<String>) {
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

    pub(super) async fn tasks(&mut self) -> Result<Vec<TaskView>, String> {
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

    /// Report what changed since the last look: a note per task state change and the
    /// replica's phase. `target` is the image the engine moves to now; `forward` the image
    /// of fleetdeck's update (empty when following a rollback), whose failed tasks are
    /// explained with their evidence (the engine's error, the container's last log lines);
    /// `blamed` is the engine's rollback message, which names the task that failed.
    pub(super) async fn report(
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
