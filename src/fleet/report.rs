//! The stable, documented JSON shape of `fleetdeck status --json` (schema version 1), and
//! the plain-text table printed without `--json`. Fields are only ever added.

use super::health::{summarize, Health};
use super::model::{FleetState, ProbeVerdict};
use crate::config::Profile;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub schema: u32,
    pub profile: String,
    pub protected: bool,
    pub generated_at: DateTime<Utc>,
    /// Every host reachable and every service healthy.
    pub healthy: bool,
    pub hosts: Vec<HostReport>,
    pub services: Vec<ServiceReport>,
}

#[derive(Debug, Serialize)]
pub struct HostReport {
    pub name: String,
    pub address: String,
    /// connecting | connected | reconnecting | auth failed | host key changed | host key unknown | unreachable
    pub state: String,
    pub error: Option<String>,
    pub fingerprint: Option<String>,
    pub docker_version: Option<String>,
    pub docker_error: Option<String>,
    pub containers: usize,
    pub load1: Option<f64>,
    pub mem_used_percent: Option<f64>,
    pub disk_used_percent: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ServiceReport {
    pub name: String,
    pub configured: bool,
    pub health: Health,
    pub healthy: usize,
    pub total: usize,
    pub replicas: Vec<ReplicaReport>,
}

#[derive(Debug, Serialize)]
pub struct ReplicaReport {
    pub host: String,
    pub container: String,
    pub container_id: String,
    pub image: String,
    pub image_digest: Option<String>,
    pub health: Health,
    pub reason: String,
    pub state: String,
    pub docker_health: Option<String>,
    pub health_output: Option<String>,
    pub restart_count: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub cpu_percent: Option<f64>,
    pub mem_bytes: Option<u64>,
    pub probes: Vec<ProbeReport>,
}

#[derive(Debug, Serialize)]
pub struct ProbeReport {
    pub probe: String,
    pub url: String,
    pub verdict: ProbeVerdict,
    pub http_status: Option<u16>,
    pub status_value: Option<String>,
    pub body: String,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub at: DateTime<Utc>,
}

impl StatusReport {
    pub fn build(profile: &Profile, fleet: &FleetState) -> StatusReport {
        let hosts: Vec<HostReport> = fleet
            .hosts
            .iter()
            .map(|h| HostReport {
                name: h.name.clone(),
                address: h.address.clone(),
                state: h.conn.label().to_string(),
                error: h.conn.error().map(String::from),
                fingerprint: h.fingerprint.clone(),
                docker_version: h.docker_version.clone(),
                docker_error: h.docker_error.clone(),
                containers: h.containers.len(),
                load1: h.metrics.as_ref().map(|m| m.load1),
                mem_used_percent: h.metrics.as_ref().map(|m| round1(m.mem_used_percent())),
                disk_used_percent: h.metrics.as_ref().map(|m| round1(m.disk_used_percent())),
            })
            .collect();
        let services: Vec<ServiceReport> = summarize(&profile.services, fleet)
            .into_iter()
            .map(|s| ServiceReport {
                name: s.name,
                configured: s.configured,
                health: s.health,
                healthy: s.healthy,
                total: s.total,
                replicas: s
                    .replicas
                    .into_iter()
                    .map(|r| {
                        let host = &fleet.hosts[r.host_index];
                        let c = host.container(&r.container_id).cloned();
                        let usage = host.usage.get(&r.container_id);
                        ReplicaReport {
                            probes: host
                                .probes_for(&r.container_id)
                                .map(|p| ProbeReport {
                                    probe: p.probe.clone(),
                                    url: p.url.clone(),
                                    verdict: p.verdict,
                                    http_status: p.http_status,
                                    status_value: p.status_value.clone(),
                                    body: p.body.clone(),
                                    error: p.error.clone(),
                                    latency_ms: p.latency_ms,
                                    at: p.at,
                                })
                                .collect(),
                            host: r.host,
                            container: r.container,
                            container_id: r.container_id,
                            image: r.image,
                            image_digest: c.as_ref().and_then(|c| c.image_digest.clone()),
                            health: r.health,
                            reason: r.reason,
                            state: c.as_ref().map(|c| c.state.clone()).unwrap_or_default(),
                            docker_health: c.as_ref().and_then(|c| c.health.clone()),
                            health_output: c.as_ref().and_then(|c| c.health_output.clone()),
                            restart_count: c.as_ref().map(|c| c.restart_count).unwrap_or(0),
                            started_at: c.as_ref().and_then(|c| c.started_at),
                            cpu_percent: usage.map(|u| round1(u.cpu_percent)),
                            mem_bytes: usage.map(|u| u.mem_bytes),
                        }
                    })
                    .collect(),
            })
            .collect();
        let healthy = hosts.iter().all(|h| h.state == "connected" && h.docker_error.is_none())
            && services.iter().all(|s| s.health == Health::Healthy);
        StatusReport {
            schema: 1,
            profile: profile.name.clone(),
            protected: profile.protected,
            generated_at: Utc::now(),
            healthy,
            hosts,
            services,
        }
    }

    /// 0: all healthy; 1: some service is not healthy; 2: some host could not be read.
    pub fn exit_code(&self) -> i32 {
        if self.hosts.iter().any(|h| h.state != "connected" || h.docker_error.is_some()) {
            2
        } else if self.services.iter().any(|s| s.health != Health::Healthy) {
            1
        } else {
            0
        }
    }

    /// Plain-text rendering for terminals and logs.
    pub fn to_text(&self) -> String {
        let mut out =
            format!("profile {}{}\n\nHOSTS\n", self.profile, if self.protected { " (protected)" } else { "" });
        for h in &self.hosts {
            let usage = match (h.load1, h.mem_used_percent, h.disk_used_percent) {
                (Some(l), Some(m), Some(d)) => format!("load {l:.2}  mem {m:.0}%  disk {d:.0}%"),
                _ => String::new(),
            };
            out.push_str(&format!("  {:<16} {:<18} {:>3} containers  {usage}\n", h.name, h.state, h.containers));
            if let Some(e) = h.error.as_ref().or(h.docker_error.as_ref()) {
                out.push_str(&format!("      {e}\n"));
            }
        }
        out.push_str("\nSERVICES\n");
        for s in &self.services {
            out.push_str(&format!("  {:<24} {}/{} {}\n", s.name, s.healthy, s.total, s.health.label()));
            for r in &s.replicas {
                out.push_str(&format!(
                    "      {:<10} {:<28} {:<26} {:<10} {}\n",
                    r.host,
                    r.container,
                    r.image,
                    r.health.label(),
                    r.reason
                ));
            }
        }
        out
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
