//! What a Swarm deploy or rollback would do, before it does it: the service and its manager,
//! the current and the target image, the update (or rollback) config the engine will use, the
//! tasks that run now and what fleetdeck will not do for a Swarm service. `--dry-run` prints
//! it; the CLI shows it before it starts; [`SwarmPlan::into_runner`] carries it out as is.

use super::runner::{SwarmChange, SwarmRunner};
use super::spec::{build_update_spec, spec_image, spec_replicas, unpinned, SwarmDeploy, SwarmRollback};
use super::task::TaskView;
use super::update::known_tasks;
use crate::config::{Profile, Service as ServiceConfig};
use crate::deploy::journal::{brought, find_release, Release, ReleaseKind, ReleaseState};
use crate::deploy::recreate::Ops;
use crate::deploy::runner::{Control, DeployEvent, HostHandle};
use crate::deploy::target::{profile_service, SwarmTarget};
use crate::fleet::model::FleetState;
use bollard::models::{Service, ServiceSpecRollbackConfig, ServiceSpecUpdateConfig};
use bollard::Docker;
use tokio::sync::{mpsc, watch};

/// The label the engine puts on the containers of a Swarm service's tasks.
const TASK_SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";

/// A Swarm deploy or rollback, planned.
#[derive(Clone)]
pub struct SwarmPlan {
    pub release_id: String,
    pub kind: ReleaseKind,
    pub profile: String,
    pub protected: bool,
    /// The fleetdeck service (the lock's and the journal's name).
    pub service: String,
    /// The Swarm service's name on the engine.
    pub swarm_service: String,
    /// The manager the change goes through; lock and journal live there.
    pub manager: HostHandle,
    pub from_image: String,
    /// Where it goes, as a person reads it: an image, or the engine's previous spec.
    pub to: String,
    pub change: SwarmChange,
    /// Replicas the spec asks for (`None`: global mode).
    pub replicas: Option<i64>,
    /// The tasks that should run now.
    pub tasks: Vec<TaskView>,
    /// The update config the engine will use, or, for the engine's rollback, the service's
    /// rollback config now.
    pub config: String,
    /// The line saying what decides success (the engine's own watch of the new tasks).
    pub gate: String,
    pub warnings: Vec<String>,
}

impl SwarmPlan {
    /// The plan as a person reads it.
    pub fn to_text(&self) -> String {
        let mut s = crate::deploy::plan::heading(
            self.kind,
            &self.service,
            &self.profile,
            self.protected,
            &self.from_image,
            &self.to,
            &self.release_id,
        );
        let replicas = match self.replicas {
            Some(n) => format!("{n} replicas"),
            None => format!("global, {} tasks", self.tasks.len()),
        };
        let how = match &self.change {
            SwarmChange::Deploy(_) => "the engine updates it task by task",
            SwarmChange::Rollback(_) => "the engine rolls it back to its previous spec (docker service rollback)",
        };
        s.push_str(&format!(
            "swarm service {} ({replicas}) on manager {}: {how}\n",
            self.swarm_service, self.manager.name
        ));
        match &self.change {
            SwarmChange::Deploy(_) => s.push_str(&format!("engine update config: {}\n", self.config)),
            SwarmChange::Rollback(r) => {
                s.push_str(&format!("engine rollback config: {}\n", self.config));
                if let Some(d) = &r.otherwise {
                    s.push_str(&format!(
                        "if the engine keeps no previous spec (it drops it when it rolls back by itself): {} ({}) through the engine's update, config: {}\n",
                        d.image,
                        d.message.as_deref().unwrap_or("from the journal"),
                        deploy_config_text(d)
                    ));
                }
            }
        }
        s.push_str(&format!("{}\n", self.gate));
        s.push_str(&format!(
            "timeout {}s · lock and journal on: {} (the swarm manager)\n",
            self.timeout().as_secs(),
            self.manager.name
        ));
        for t in &self.tasks {
            s.push_str(&format!(
                "task {} on {}: {} {}\n",
                t.replica_name(&self.swarm_service),
                t.node,
                t.image,
                t.state_text()
            ));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }

    fn timeout(&self) -> std::time::Duration {
        match &self.change {
            SwarmChange::Deploy(d) => d.timeout,
            SwarmChange::Rollback(r) => r.timeout,
        }
    }

    /// The runner that carries the plan out.
    pub fn into_runner(
        self,
        events: mpsc::Sender<DeployEvent>,
        control: watch::Receiver<Control>,
        who: String,
    ) -> SwarmRunner {
        SwarmRunner {
            manager: self.manager,
            profile: self.profile,
            service: self.service,
            kind: self.kind,
            change: self.change,
            events,
            control,
            who,
        }
    }
}

/// What the service runs now, read through the manager.
struct Now {
    docker: Docker,
    service: Service,
    swarm_service: String,
    image: String,
    replicas: Option<i64>,
    tasks: Vec<TaskView>,
}

async fn now(target: &SwarmTarget) -> Result<Now, String> {
    let (_, docker) = target
        .manager
        .link
        .current()
        .ok_or_else(|| format!("the swarm manager {} is not connected", target.manager.name))?;
    let swarm_service = target.service_name();
    // Fresh: the service may have changed since it was found.
    let service = super::update::inspect(&docker, &swarm_service).await?;
    let spec = service.spec.clone().unwrap_or_default();
    let (tx, _rx) = mpsc::channel(1);
    let tasks = known_tasks(&docker, &service, &tx).await.into_iter().filter(|t| t.desired == "running").collect();
    Ok(Now {
        image: spec_image(&spec).unwrap_or_default(),
        replicas: spec_replicas(&spec),
        swarm_service,
        service,
        tasks,
        docker,
    })
}

/// Plan a deploy of `image` to the Swarm service `target` stands for (`kind` is `Rollback`
/// for a deploy of an earlier release's image).
#[allow(clippy::too_many_arguments)]
pub async fn plan_deploy(
    profile: &Profile,
    fleet: &FleetState,
    target: &SwarmTarget,
    service: &str,
    image: &str,
    kind: ReleaseKind,
    release_id: String,
    message: Option<String>,
) -> Result<SwarmPlan, String> {
    let config = profile_service(profile, service)?;
    let now = now(target).await?;
    let d = deploy_of(config, &now, image, release_id.clone(), message);
    let mut warnings = common_warnings(profile, fleet, config, &now);
    if (Ops { docker: &now.docker }).image_id(image).await.is_none() {
        warnings.push(format!(
            "{image} is not on the manager {}: every node must have it or pull it, or the engine rejects the new tasks and rolls back",
            target.manager.name
        ));
    }
    if now.image == unpinned(image) {
        warnings.push(format!("the service already runs {image}: the engine will replace its tasks (force update)"));
    }
    let spec = build_update_spec(&now.service.spec.clone().unwrap_or_default(), &d);
    Ok(SwarmPlan {
        release_id,
        kind,
        profile: profile.name.clone(),
        protected: profile.protected,
        service: service.to_string(),
        swarm_service: now.swarm_service.clone(),
        manager: target.manager.clone(),
        from_image: now.image.clone(),
        to: image.to_string(),
        config: update_config_text(spec.update_config.as_ref()),
        change: SwarmChange::Deploy(d),
        replicas: now.replicas,
        gate: gate_text(config),
        tasks: now.tasks,
        warnings,
    })
}

/// Plan a rollback. With `to`, the release it names: its image through the engine's update
/// (journaled as a rollback). Without, the engine's own rollback to the service's previous
/// spec; since the engine drops that spec when it rolls back by itself (after a failed
/// update), the journal's release that brought what runs now is undone instead when the
/// engine has none (its `from_image`, through the engine's update).
#[allow(clippy::too_many_arguments)]
pub async fn plan_rollback(
    profile: &Profile,
    fleet: &FleetState,
    target: &SwarmTarget,
    service: &str,
    releases: &[Release],
    to: Option<&str>,
    release_id: String,
    message: Option<String>,
) -> Result<SwarmPlan, String> {
    if let Some(prefix) = to {
        let r = find_release(releases, service, prefix)?;
        let message = message.or_else(|| Some(format!("rollback to {}", r.id)));
        let mut plan =
            plan_deploy(profile, fleet, target, service, &r.to_image, ReleaseKind::Rollback, release_id, message)
                .await?;
        if r.state != ReleaseState::Succeeded {
            plan.warnings.push(format!("release {} ended {}", r.id, r.state.label()));
        }
        return Ok(plan);
    }
    let config = profile_service(profile, service)?;
    let now = now(target).await?;
    let otherwise = brought(releases, &now.image).map(|r| {
        let why = message.clone().unwrap_or_else(|| format!("undo {}", r.id));
        deploy_of(config, &now, &r.from_image, release_id.clone(), Some(why))
    });
    let timeout = deploy_of(config, &now, &now.image, String::new(), None).timeout;
    let mut warnings = common_warnings(profile, fleet, config, &now);
    if otherwise.is_none() {
        warnings.push(format!(
            "no release in the journal brought {}: if the engine keeps no previous spec, nothing changes (pick a release with --to)",
            now.image
        ));
    }
    let rollback = SwarmRollback {
        service_name: now.swarm_service.clone(),
        release_id: release_id.clone(),
        message: message.or_else(|| Some("rollback to the previous spec".into())),
        timeout,
        otherwise,
    };
    Ok(SwarmPlan {
        release_id,
        kind: ReleaseKind::Rollback,
        profile: profile.name.clone(),
        protected: profile.protected,
        service: service.to_string(),
        swarm_service: now.swarm_service.clone(),
        manager: target.manager.clone(),
        from_image: now.image.clone(),
        to: "the engine's previous spec".into(),
        config: rollback_config_text(now.service.spec.as_ref().and_then(|s| s.rollback_config.as_ref())),
        change: SwarmChange::Rollback(rollback),
        replicas: now.replicas,
        gate: gate_text(config),
        tasks: now.tasks,
        warnings,
    })
}

fn deploy_of(
    config: &ServiceConfig,
    now: &Now,
    image: &str,
    release_id: String,
    message: Option<String>,
) -> SwarmDeploy {
    let count = now.replicas.map(|n| n.max(0) as usize).unwrap_or(now.tasks.len());
    SwarmDeploy::from_config(&now.swarm_service, image, &config.deploy, count, release_id, message)
}

/// What fleetdeck does not do for a Swarm service, and containers the deploy leaves alone.
fn common_warnings(profile: &Profile, fleet: &FleetState, config: &ServiceConfig, now: &Now) -> Vec<String> {
    let mut w = Vec::new();
    let mut steps: Vec<String> = crate::config::backup::jobs_before_deploy(&profile.backups, &config.name)
        .map(|j| format!("backup job {}", j.name))
        .collect();
    steps.extend(config.deploy.pre_deploy.iter().map(|h| format!("pre_deploy {:?}", h.run)));
    if !steps.is_empty() {
        w.push(format!("not run for a Swarm service: {}", steps.join(", ")));
    }
    if !config.deploy.pre_stop.is_empty() || !config.deploy.post_start.is_empty() {
        w.push("pre_stop and post_start hooks are not run for a Swarm service: the engine replaces its tasks".into());
    }
    let id = now.service.id.clone().unwrap_or_default();
    for h in fleet.hosts.iter().filter(|h| config.runs_on(&h.name)) {
        let others = h
            .containers
            .iter()
            .filter(|c| config.matches(&c.name, |k| c.labels.get(k).cloned()))
            .filter(|c| c.labels.get(TASK_SERVICE_ID_LABEL) != Some(&id))
            .count();
        if others > 0 {
            w.push(format!(
                "{others} container(s) of {} on {} are not tasks of swarm service {}: this deploy leaves them alone",
                config.name, h.name, now.swarm_service
            ));
        }
    }
    let state = now.service.update_status.as_ref().and_then(|s| s.state).map(|s| s.to_string()).unwrap_or_default();
    if matches!(state.as_str(), "updating" | "rollback_started" | "paused" | "rollback_paused") {
        w.push(format!("the engine reports the service {state}: a new change replaces what it is doing"));
    }
    w
}

fn gate_text(config: &ServiceConfig) -> String {
    let mut s = "gate: the engine's own: each new task must run (and pass the image's HEALTHCHECK) through the monitor window, else the engine rolls back".to_string();
    if !config.probes.is_empty() {
        s.push_str(" (the profile's HTTP probes are not consulted)");
    }
    s
}

fn secs(nanos: Option<i64>, default_secs: f64) -> String {
    let v = nanos.map(|n| n as f64 / 1e9).unwrap_or(default_secs);
    format!("{v}s")
}

fn config_text(
    parallelism: Option<i64>,
    delay: Option<i64>,
    monitor: Option<i64>,
    failure_action: Option<String>,
    order: Option<String>,
) -> String {
    // Absent fields are the engine's defaults.
    format!(
        "parallelism {} · delay {} · monitor {} · failure action {} · order {}",
        parallelism.unwrap_or(1),
        secs(delay, 0.0),
        secs(monitor, 5.0),
        failure_action.unwrap_or_else(|| "pause".into()),
        order.unwrap_or_else(|| "stop-first".into())
    )
}

fn update_config_text(c: Option<&ServiceSpecUpdateConfig>) -> String {
    match c {
        Some(c) => config_text(
            c.parallelism,
            c.delay,
            c.monitor,
            c.failure_action.map(|a| a.to_string()),
            c.order.map(|o| o.to_string()),
        ),
        None => format!("{} (the engine's defaults)", config_text(None, None, None, None, None)),
    }
}

fn rollback_config_text(c: Option<&ServiceSpecRollbackConfig>) -> String {
    match c {
        Some(c) => config_text(
            c.parallelism,
            c.delay,
            c.monitor,
            c.failure_action.map(|a| a.to_string()),
            c.order.map(|o| o.to_string()),
        ),
        None => format!("{} (the engine's defaults)", config_text(None, None, None, None, None)),
    }
}

fn deploy_config_text(d: &SwarmDeploy) -> String {
    update_config_text(build_update_spec(&Default::default(), d).update_config.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::profile::Deploy;
    use bollard::models::{ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum};

    fn plan(change: SwarmChange, to: &str, config: String) -> SwarmPlan {
        let task = TaskView {
            id: "t1".into(),
            slot: Some(1),
            node_id: "n1".into(),
            node: "vm".into(),
            image: "web:v1".into(),
            desired: "running".into(),
            state: "running".into(),
            message: None,
            error: None,
            exit_code: None,
            container_id: None,
            health: Some("healthy".into()),
        };
        SwarmPlan {
            release_id: "r1".into(),
            kind: ReleaseKind::Deploy,
            profile: "prod".into(),
            protected: true,
            service: "web".into(),
            swarm_service: "shop_web".into(),
            manager: HostHandle { name: "m1".into(), state_dir: "/s".into(), link: Default::default() },
            from_image: "web:v1".into(),
            to: to.into(),
            change,
            replicas: Some(1),
            tasks: vec![task],
            config,
            gate: "gate: the engine's own".into(),
            warnings: vec!["not run for a Swarm service: backup job db".into()],
        }
    }

    #[test]
    fn a_deploy_plan_names_the_manager_the_images_and_the_engine_config() {
        let d = SwarmDeploy::from_config("shop_web", "web:v2", &Deploy::default(), 1, "r1".into(), None);
        let text = plan(SwarmChange::Deploy(d.clone()), "web:v2", deploy_config_text(&d)).to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "deploy web on profile prod (PROTECTED): web:v1 -> web:v2");
        assert_eq!(lines[2], "swarm service shop_web (1 replicas) on manager m1: the engine updates it task by task");
        assert_eq!(
            lines[3],
            "engine update config: parallelism 1 · delay 0s · monitor 3s · failure action rollback · order stop-first"
        );
        assert!(text.contains("timeout 300s · lock and journal on: m1 (the swarm manager)\n"), "{text}");
        assert!(text.contains("task shop_web.1 on vm: web:v1 running (healthy)\n"), "{text}");
        assert!(text.ends_with("warning: not run for a Swarm service: backup job db\n"), "{text}");
    }

    #[test]
    fn a_rollback_plan_says_what_happens_when_the_engine_has_no_previous_spec() {
        let d =
            SwarmDeploy::from_config("shop_web", "web:v0", &Deploy::default(), 1, "r1".into(), Some("undo r0".into()));
        let r = SwarmRollback {
            service_name: "shop_web".into(),
            release_id: "r1".into(),
            message: None,
            timeout: d.timeout,
            otherwise: Some(d),
        };
        let text = plan(SwarmChange::Rollback(r), "the engine's previous spec", rollback_config_text(None)).to_text();
        assert!(text.contains(": web:v1 -> the engine's previous spec\n"), "{text}");
        assert!(text.contains("the engine rolls it back to its previous spec (docker service rollback)"), "{text}");
        assert!(
            text.contains("engine rollback config: parallelism 1 · delay 0s · monitor 5s · failure action pause · order stop-first (the engine's defaults)"),
            "{text}"
        );
        assert!(
            text.contains("(it drops it when it rolls back by itself): web:v0 (undo r0) through the engine's update"),
            "{text}"
        );
    }

    #[test]
    fn configs_read_as_the_engine_has_them() {
        let c = ServiceSpecUpdateConfig {
            parallelism: Some(2),
            delay: Some(1_500_000_000),
            monitor: Some(10_000_000_000),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
            max_failure_ratio: Some(0.0),
        };
        assert_eq!(
            update_config_text(Some(&c)),
            "parallelism 2 · delay 1.5s · monitor 10s · failure action rollback · order start-first"
        );
    }
}
