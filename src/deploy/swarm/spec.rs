//! What fleetdeck asks of the engine: the update (or rollback) request from a service's
//! deploy settings, the Swarm service that stands for a fleetdeck service, and the update
//! spec sent to the engine.

use super::{DEFAULT_TIMEOUT, SERVICE_LABEL, STACK_LABEL};
use crate::config::profile::Deploy;
use crate::docker::error_chain;
use bollard::models::{
    Service, ServiceSpec, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum,
};
use bollard::query_parameters::ListServicesOptions;
use bollard::Docker;
use std::time::Duration;

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
    /// What to deploy instead when the engine keeps no previous spec (it drops it when it
    /// rolls back by itself): e.g. the image that ran before the release that brought what
    /// runs now. `None`: the rollback is refused then, and nothing changes.
    pub otherwise: Option<SwarmDeploy>,
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

pub(super) fn describe(spec: &ServiceSpec, req: &SwarmDeploy) -> String {
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
