//! fleetdeck's view of a container, built from the Docker API's inspect response, and the
//! reads that fill it (list + inspect, image digests).

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortMapping {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountInfo {
    pub kind: String,
    pub source: String,
    pub destination: String,
    pub read_write: bool,
}

/// One container, as fleetdeck shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// Image reference as configured (e.g. `fleetdeck-demo/web:v1`).
    pub image: String,
    pub image_id: String,
    /// `repo@sha256:...` when the image came from a registry.
    pub image_digest: Option<String>,
    /// Docker state: created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    /// Docker HEALTHCHECK status: starting, healthy, unhealthy (None: no healthcheck).
    pub health: Option<String>,
    /// Output of the most recent health check.
    pub health_output: Option<String>,
    pub health_failing_streak: i64,
    pub restart_count: i64,
    pub exit_code: Option<i64>,
    pub created: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub ports: Vec<PortMapping>,
    pub labels: BTreeMap<String, String>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    pub env: Vec<String>,
    pub command: Vec<String>,
    pub mounts: Vec<MountInfo>,
    pub network_mode: Option<String>,
    pub restart_policy: Option<String>,
}

impl ContainerInfo {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    pub fn is_running(&self) -> bool {
        self.state == "running"
    }

    /// The host port a probe should use: the published port for `container_port`, else the
    /// first published TCP port, else the `fleetdeck.port` label.
    pub fn probe_port(&self, container_port: Option<u16>) -> Option<u16> {
        let published = |p: &PortMapping| p.host_port.filter(|_| p.protocol == "tcp");
        if let Some(cp) = container_port {
            if let Some(hp) = self.ports.iter().filter(|p| p.container_port == cp).find_map(published) {
                return Some(hp);
            }
        }
        self.ports.iter().find_map(published).or_else(|| self.labels.get("fleetdeck.port").and_then(|p| p.parse().ok()))
    }

    /// The port to reach the app on: the published port of `container_port`, else the value
    /// of the `port_env` variable in its environment (an app on the host network reading its
    /// port from e.g. `PORT`), else [`probe_port`](Self::probe_port)'s fallbacks.
    pub fn listening_port(&self, container_port: Option<u16>, port_env: Option<&str>) -> Option<u16> {
        let mapped = container_port.and_then(|cp| {
            self.ports.iter().filter(|p| p.container_port == cp && p.protocol == "tcp").find_map(|p| p.host_port)
        });
        mapped.or_else(|| self.env_port(port_env?)).or_else(|| self.probe_port(container_port))
    }

    /// The port in the environment variable `var` (the last setting wins).
    pub fn env_port(&self, var: &str) -> Option<u16> {
        self.env.iter().rev().find_map(|e| e.strip_prefix(var)?.strip_prefix('=')?.trim().parse::<u16>().ok())
    }

    pub fn from_inspect(c: ContainerInspectResponse) -> ContainerInfo {
        let state = c.state.clone().unwrap_or_default();
        let config = c.config.clone().unwrap_or_default();
        let host_config = c.host_config.clone().unwrap_or_default();
        let labels: BTreeMap<String, String> = config.labels.clone().unwrap_or_default().into_iter().collect();
        let health = state.health.clone();
        let last_check = health.as_ref().and_then(|h| h.log.as_ref()).and_then(|l| l.last().cloned());
        let health_status =
            health.as_ref().and_then(|h| h.status).map(|s| s.to_string()).filter(|s| !s.is_empty() && s != "none");
        let mut ports = Vec::new();
        let port_map = c.network_settings.as_ref().and_then(|n| n.ports.clone()).unwrap_or_default();
        for (key, bindings) in port_map {
            let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let Ok(container_port) = port.parse() else { continue };
            match bindings {
                Some(bs) if !bs.is_empty() => {
                    for b in bs {
                        ports.push(PortMapping {
                            container_port,
                            protocol: proto.to_string(),
                            host_ip: b.host_ip.filter(|s| !s.is_empty()),
                            host_port: b.host_port.and_then(|p| p.parse().ok()),
                        })
                    }
                }
                _ => ports.push(PortMapping {
                    container_port,
                    protocol: proto.to_string(),
                    host_ip: None,
                    host_port: None,
                }),
            }
        }
        ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
        ports.dedup_by(|a, b| {
            a.container_port == b.container_port && a.host_port == b.host_port && a.protocol == b.protocol
        });
        ContainerInfo {
            id: c.id.clone().unwrap_or_default(),
            name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
            image: config.image.clone().unwrap_or_default(),
            image_id: c.image.clone().unwrap_or_default(),
            image_digest: None,
            state: state.status.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            health: health_status,
            health_output: last_check.and_then(|r| r.output).map(|o| o.trim().to_string()),
            health_failing_streak: health.and_then(|h| h.failing_streak).unwrap_or(0),
            restart_count: c.restart_count.unwrap_or(0),
            exit_code: state.exit_code,
            created: c.created.as_deref().and_then(parse_time),
            started_at: state.started_at.as_deref().and_then(parse_time),
            finished_at: state.finished_at.as_deref().and_then(parse_time),
            ports,
            compose_project: labels.get("com.docker.compose.project").cloned(),
            compose_service: labels.get("com.docker.compose.service").cloned(),
            labels,
            env: config.env.unwrap_or_default(),
            command: config.entrypoint.unwrap_or_default().into_iter().chain(config.cmd.unwrap_or_default()).collect(),
            mounts: c
                .mounts
                .unwrap_or_default()
                .into_iter()
                .map(|m| MountInfo {
                    kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                    source: m.source.or(m.name).unwrap_or_default(),
                    destination: m.destination.unwrap_or_default(),
                    read_write: m.rw.unwrap_or(true),
                })
                .collect(),
            network_mode: host_config.network_mode,
            restart_policy: host_config
                .restart_policy
                .and_then(|p| p.name)
                .map(|n| n.to_string())
                .filter(|s| !s.is_empty()),
        }
    }
}

/// Docker's timestamps; the zero time ("0001-01-01T00:00:00Z") means "never".
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    (t.timestamp() > 0).then_some(t)
}

/// List every container (running or not) and inspect each, up to 8 at a time.
pub async fn list_inspected(
    docker: &Docker,
    digests: &mut HashMap<String, Option<String>>,
) -> Result<Vec<ContainerInfo>, bollard::errors::Error> {
    let summaries = docker.list_containers(Some(ListContainersOptions { all: true, ..Default::default() })).await?;
    let ids: Vec<String> = summaries.into_iter().filter_map(|s| s.id).collect();
    let results: Vec<_> = stream::iter(ids)
        .map(|id| async move { (id.clone(), inspect(docker, &id).await) })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut out = Vec::new();
    for (_id, r) in results {
        match r {
            Ok(Some(c)) => out.push(c),
            Ok(None) => {} // removed between list and inspect
            Err(e) => return Err(e),
        }
    }
    fill_digests(docker, &mut out, digests).await;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Inspect one container; `None` when it no longer exists.
pub async fn inspect(docker: &Docker, id: &str) -> Result<Option<ContainerInfo>, bollard::errors::Error> {
    match docker.inspect_container(id, None::<InspectContainerOptions>).await {
        Ok(c) => Ok(Some(ContainerInfo::from_inspect(c))),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fill `image_digest` from the images' RepoDigests, caching per image id.
pub async fn fill_digests(
    docker: &Docker,
    containers: &mut [ContainerInfo],
    cache: &mut HashMap<String, Option<String>>,
) {
    for c in containers.iter_mut() {
        if c.image_id.is_empty() {
            continue;
        }
        if !cache.contains_key(&c.image_id) {
            let digest = match docker.inspect_image(&c.image_id).await {
                Ok(img) => img.repo_digests.and_then(|d| d.into_iter().next()),
                Err(_) => None,
            };
            cache.insert(c.image_id.clone(), digest);
        }
        c.image_digest = cache.get(&c.image_id).cloned().flatten();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_is_none() {
        assert!(parse_time("0001-01-01T00:00:00Z").is_none());
        assert!(parse_time("2026-11-30T03:04:05.123456789Z").is_some());
    }

    #[test]
    fn probe_port_prefers_mapping_then_label() {
        let mut c = ContainerInfo::from_inspect(Default::default());
        c.labels.insert("fleetdeck.port".into(), "9000".into());
        assert_eq!(c.probe_port(None), Some(9000));
        c.ports.push(PortMapping { container_port: 80, protocol: "tcp".into(), host_ip: None, host_port: Some(8081) });
        c.ports.push(PortMapping {
            container_port: 8080,
            protocol: "tcp".into(),
            host_ip: None,
            host_port: Some(8082),
        });
        assert_eq!(c.probe_port(Some(8080)), Some(8082));
        assert_eq!(c.probe_port(None), Some(8081));
        // the app's own variable comes before the label and other published ports
        c.env.push("PORT=7001".into());
        assert_eq!(c.listening_port(None, Some("PORT")), Some(7001));
        assert_eq!(c.listening_port(Some(8080), Some("PORT")), Some(8082));
        assert_eq!(c.listening_port(None, None), Some(8081));
        assert_eq!(c.listening_port(None, Some("HTTP_PORT")), Some(8081));
    }
}
