//! The health gate a new replica must pass: Docker's HEALTHCHECK (when the image has one)
//! and every HTTP probe of the service answering healthy, within the timeout. A failure
//! says why and carries the evidence: probe answers and the container's last log lines.

use super::recreate::Ops;
use crate::config::Service;
use crate::docker::model;
use crate::fleet::model::{ProbeResult, ProbeVerdict};
use crate::fleet::probe;
use crate::ssh::SshSession;
use bollard::Docker;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub enum GateResult {
    Healthy { after: Duration },
    Failed(GateFailure),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GateFailure {
    pub reason: String,
    /// The last answer of each probe.
    pub probes: Vec<ProbeResult>,
    /// The container's last log lines.
    pub logs: Vec<String>,
    /// The connection dropped while waiting (the verdict is unknown, not negative).
    pub connection_lost: bool,
}

/// Consecutive definite non-healthy probe answers (after Docker says healthy) that fail the
/// gate before its timeout: a degraded app is not going to recover by itself.
const PROBE_STRIKES: u32 = 5;

pub async fn wait_healthy(
    session: &SshSession,
    docker: &Docker,
    service: &Service,
    id: &str,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> GateResult {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut last_probes: Vec<ProbeResult> = Vec::new();
    let mut strikes = 0;
    let mut last_note = String::new();
    let fail = |reason: String, probes: Vec<ProbeResult>, lost: bool| async move {
        let logs = if lost { vec![] } else { Ops { docker }.tail_logs(id, 20).await };
        GateResult::Failed(GateFailure { reason, probes, logs, connection_lost: lost })
    };
    loop {
        if session.is_closed() {
            return fail("the SSH connection dropped while waiting for health".into(), last_probes, true).await;
        }
        let c = match model::inspect(docker, id).await {
            Ok(Some(c)) => c,
            Ok(None) => return fail("the new container disappeared".into(), last_probes, false).await,
            Err(e) => {
                if session.is_closed() {
                    return fail("the SSH connection dropped while waiting for health".into(), last_probes, true).await;
                }
                return fail(
                    format!("cannot inspect the new container: {}", crate::docker::error_chain(&e)),
                    last_probes,
                    false,
                )
                .await;
            }
        };
        let note = match (c.state.as_str(), c.health.as_deref()) {
            ("exited" | "dead", _) => {
                return fail(
                    format!("the new container exited with code {}", c.exit_code.unwrap_or(-1)),
                    last_probes,
                    false,
                )
                .await
            }
            ("restarting", _) => return fail("the new container is restart-looping".into(), last_probes, false).await,
            (_, Some("unhealthy")) => {
                let out = c.health_output.clone().unwrap_or_default();
                return fail(
                    format!("Docker healthcheck unhealthy: {}", out.lines().next().unwrap_or("")),
                    last_probes,
                    false,
                )
                .await;
            }
            ("running", Some("starting")) => "waiting for the Docker healthcheck".to_string(),
            ("running", _) => {
                // Docker is satisfied (or the image has no healthcheck): ask the probes.
                let mut results = Vec::new();
                for p in &service.probes {
                    results.push(probe::run(session, &service.name, p, &c, service.deploy.port_env.as_deref()).await);
                }
                let all_healthy = results.iter().all(|r| r.verdict == ProbeVerdict::Healthy);
                let answered_badly =
                    results.iter().any(|r| r.verdict != ProbeVerdict::Healthy && r.http_status.is_some());
                last_probes = results;
                if all_healthy {
                    return GateResult::Healthy { after: started.elapsed() };
                }
                if answered_badly {
                    strikes += 1;
                    if strikes >= PROBE_STRIKES {
                        let why = last_probes
                            .iter()
                            .filter(|r| r.verdict != ProbeVerdict::Healthy)
                            .map(|r| {
                                format!(
                                    "probe {} answered {}",
                                    r.probe,
                                    r.status_value
                                        .clone()
                                        .or(r.error.clone())
                                        .unwrap_or_else(|| format!("HTTP {:?}", r.http_status))
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ");
                        return fail(format!("{why} ({strikes} times in a row)"), last_probes, false).await;
                    }
                } else {
                    strikes = 0;
                }
                "waiting for the probes".to_string()
            }
            (other, _) => format!("container is {other}"),
        };
        if note != last_note {
            progress(&note);
            last_note = note;
        }
        if Instant::now() >= deadline {
            return fail(format!("not healthy within {}s ({last_note})", timeout.as_secs()), last_probes, false).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}
