//! The requests: update a service to an image with fleetdeck's update config, or ask the
//! engine for its rollback, and follow either to the end.

use super::follow::{follow, status_key, FollowArgs, Following, SwarmOutcome};
use super::follower::Follower;
use super::spec::{build_update_spec, describe, spec_image, unpinned, SwarmDeploy, SwarmRollback};
use super::task::TaskView;
use crate::deploy::runner::{Control, DeployEvent};
use crate::docker::error_chain;
use bollard::models::Service;
use bollard::query_parameters::UpdateServiceOptions;
use bollard::Docker;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub(super) fn version_of(s: &Service) -> Result<i32, String> {
    let v = s.version.as_ref().and_then(|v| v.index).ok_or("the engine gave no version index for the service")?;
    i32::try_from(v).map_err(|_| format!("the service's version index {v} does not fit the API's version parameter"))
}

pub(super) async fn inspect(docker: &Docker, name: &str) -> Result<Service, String> {
    docker.inspect_service(name, None).await.map_err(|e| format!("inspect service {name}: {}", error_chain(&e)))
}

/// The service's tasks now, to report only what changes after a request.
pub(super) async fn known_tasks(docker: &Docker, svc: &Service, events: &mpsc::Sender<DeployEvent>) -> Vec<TaskView> {
    let label = svc.spec.as_ref().and_then(|s| s.name.clone()).unwrap_or_default();
    Follower::new(docker, svc.id.clone().unwrap_or_default(), label, events).tasks().await.unwrap_or_default()
}

pub(super) async fn request_rollback(docker: &Docker, service: &str) -> Result<Vec<String>, String> {
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
    let started = start_rollback(docker, req, &events).await.map_err(|e| e.explain(&req.service_name))?;
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

/// Why the engine did not start a rollback. Nothing was changed.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackRefused {
    /// The engine keeps no previous spec of the service: it was never updated, or it was
    /// rolled back since (the engine drops the previous spec when it rolls back by itself).
    NoPreviousSpec,
    /// Anything else: the service could not be read, the engine said no.
    Other(String),
}

impl RollbackRefused {
    pub fn explain(&self, service: &str) -> String {
        match self {
            RollbackRefused::NoPreviousSpec => format!(
                "the engine keeps no previous spec of {service} (never updated, or the engine rolled it back by itself since): nothing was changed; go back to a release's image instead (fleetdeck rollback --to RELEASE)"
            ),
            RollbackRefused::Other(e) => e.clone(),
        }
    }
}

/// Ask the engine to roll back. bollard's `Service` model has no `PreviousSpec`, so where the
/// service goes back to is read from its spec right after the engine swapped it in.
pub async fn start_rollback(
    docker: &Docker,
    req: &SwarmRollback,
    events: &mpsc::Sender<DeployEvent>,
) -> Result<RollbackStarted, RollbackRefused> {
    let started = Instant::now();
    let svc = inspect(docker, &req.service_name).await.map_err(RollbackRefused::Other)?;
    let current = svc.spec.as_ref().and_then(spec_image).unwrap_or_default();
    let before = status_key(svc.update_status.as_ref());
    let id = svc.id.clone().unwrap_or_else(|| req.service_name.clone());
    let known = known_tasks(docker, &svc, events).await;
    let warnings = request_rollback(docker, &id).await.map_err(|e| {
        if e.contains("does not have a previous spec") {
            RollbackRefused::NoPreviousSpec
        } else {
            RollbackRefused::Other(format!("the engine refused the rollback of {}: {e}", req.service_name))
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
