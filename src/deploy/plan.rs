//! The deploy plan: which replicas on which hosts in which batches, the health gate for each,
//! the timeouts and the pre-deploy steps. Shown before anything changes, printed by
//! `--dry-run`, and then executed as is.

use super::journal::ReleaseKind;
use crate::config::{Profile, Service};
use crate::fleet::model::FleetState;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedReplica {
    pub host_index: usize,
    pub host: String,
    pub container_id: String,
    pub container: String,
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub release_id: String,
    pub kind: ReleaseKind,
    pub profile: String,
    pub protected: bool,
    pub service: String,
    pub from_image: String,
    pub to_image: String,
    pub strategy: &'static str,
    pub batches: Vec<Vec<PlannedReplica>>,
    /// Hosts that hold the lock and the journal (every host the service runs on).
    pub hosts: Vec<String>,
    pub gate: String,
    #[serde(with = "secs")]
    pub health_timeout: Duration,
    #[serde(with = "secs")]
    pub monitor: Duration,
    #[serde(with = "secs")]
    pub stop_timeout: Duration,
    pub pre_deploy: Vec<String>,
    pub warnings: Vec<String>,
    pub message: Option<String>,
    #[serde(skip)]
    pub service_spec: Service,
    /// Backup jobs that run before this service is deployed (`before_deploy`).
    #[serde(skip)]
    pub backups: Vec<crate::config::backup::BackupJob>,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl Plan {
    pub fn replicas(&self) -> impl Iterator<Item = &PlannedReplica> {
        self.batches.iter().flatten()
    }

    /// The plan as a person reads it (the wizard shows the same lines).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} {} on profile {}{}: {} -> {}\nrelease {}\nstrategy {} · health gate: {} · timeout {}s · monitor {}s · graceful stop {}s\n",
            match self.kind {
                ReleaseKind::Deploy => "deploy",
                ReleaseKind::Rollback => "rollback",
            },
            self.service,
            self.profile,
            if self.protected { " (PROTECTED)" } else { "" },
            self.from_image,
            self.to_image,
            self.release_id,
            self.strategy,
            self.gate,
            self.health_timeout.as_secs(),
            self.monitor.as_secs(),
            self.stop_timeout.as_secs()
        );
        s.push_str(&format!("lock and journal on: {}\n", self.hosts.join(", ")));
        for step in &self.pre_deploy {
            s.push_str(&format!("before: {step}\n"));
        }
        for (i, b) in self.batches.iter().enumerate() {
            let names: Vec<String> = b.iter().map(|r| format!("{}/{} ({})", r.host, r.container, r.image)).collect();
            s.push_str(&format!("batch {}: {}\n", i + 1, names.join(", ")));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }
}

/// Work out the plan for deploying `image` to `service`.
pub fn make_plan(
    profile: &Profile,
    fleet: &FleetState,
    service_name: &str,
    image: &str,
    kind: ReleaseKind,
    release_id: String,
    message: Option<String>,
) -> Result<Plan, String> {
    let service = super::target::profile_service(profile, service_name)?.clone();
    let mut replicas = Vec::new();
    let mut hosts = Vec::new();
    for (hi, h) in fleet.hosts.iter().enumerate() {
        if !service.runs_on(&h.name) {
            continue;
        }
        let mine: Vec<_> =
            h.containers.iter().filter(|c| service.matches(&c.name, |k| c.labels.get(k).cloned())).collect();
        if mine.is_empty() {
            continue;
        }
        if !h.conn.is_connected() {
            return Err(format!(
                "{} runs {} replica(s) of {service_name} but is {}: refusing to deploy a service with a host out of reach",
                h.name,
                mine.len(),
                h.conn.label()
            ));
        }
        hosts.push(h.name.clone());
        for c in mine {
            replicas.push(PlannedReplica {
                host_index: hi,
                host: h.name.clone(),
                container_id: c.id.clone(),
                container: c.name.clone(),
                image: c.image.clone(),
            });
        }
    }
    if replicas.is_empty() {
        return Err(format!("service {service_name} has no containers on any connected host"));
    }
    replicas.sort_by(|a, b| (a.host.as_str(), a.container.as_str()).cmp(&(b.host.as_str(), b.container.as_str())));
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in &replicas {
        match counts.iter_mut().find(|(i, _)| *i == r.image) {
            Some(c) => c.1 += 1,
            None => counts.push((r.image.clone(), 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let from_image = counts[0].0.clone();
    let d = &service.deploy;
    if d.start_first {
        return Err(format!(
            "service {service_name}: strategy \"start-first\" is not supported yet (it needs a traffic-switch hook); \
             use \"stop-first\": with two or more replicas the service stays up"
        ));
    }
    let mut warnings = Vec::new();
    if replicas.len() == 1 && !d.start_first {
        warnings.push("only one replica: with stop-first the service is down while it is replaced".into());
    }
    if d.batch_size >= replicas.len() && replicas.len() > 1 {
        warnings.push(format!("batch size {} replaces every replica at once: the service will be down", d.batch_size));
    }
    if counts.len() > 1 {
        warnings.push(format!(
            "replicas run different images now: {}",
            counts.iter().map(|(i, n)| format!("{i} ×{n}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if replicas.iter().all(|r| r.image == image) {
        warnings.push(format!("every replica already runs {image}: they will be recreated"));
    }
    let backup_names: Vec<String> = crate::config::backup::jobs_before_deploy(&profile.backups, service_name)
        .map(|j| format!("backup job {} on {}", j.name, j.host))
        .collect();
    let gate = match (service.probes.is_empty(), service.probes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()) {
        (true, _) => "Docker healthcheck (or running, for images without one)".to_string(),
        (false, names) => format!("Docker healthcheck + probes {} healthy", names.join(", ")),
    };
    let batches = replicas.chunks(d.batch_size.min(replicas.len().max(1))).map(|c| c.to_vec()).collect();
    Ok(Plan {
        release_id,
        kind,
        profile: profile.name.clone(),
        protected: profile.protected,
        service: service.name.clone(),
        from_image,
        to_image: image.to_string(),
        strategy: if d.start_first { "start-first" } else { "stop-first" },
        batches,
        hosts,
        gate,
        health_timeout: d.health_timeout,
        monitor: d.monitor,
        stop_timeout: d.stop_timeout,
        pre_deploy: backup_names
            .into_iter()
            .chain(
                d.pre_deploy.iter().map(|h| format!("run on {}: {}", h.host.as_deref().unwrap_or("first host"), h.run)),
            )
            .collect(),
        warnings,
        message,
        backups: crate::config::backup::jobs_before_deploy(&profile.backups, service_name).cloned().collect(),
        service_spec: service,
    })
}
