use super::follow::{verdict, Following};
use super::spec::*;
use super::task::*;
use super::{DEFAULT_TIMEOUT, SERVICE_LABEL, STACK_LABEL};
use crate::config::profile::Deploy;
use crate::deploy::journal::ReleaseState;
use crate::deploy::runner::Phase;
use bollard::models::{
    Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum,
    ServiceUpdateStatus, ServiceUpdateStatusStateEnum, TaskSpec, TaskSpecContainerSpec,
};
use std::collections::HashMap;
use std::time::Duration;

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
    assert_eq!(phase_for(&task("t", 1, "web:v2", "running", "starting"), "web:v2", false), Some(Phase::WaitingHealthy));
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
    assert_eq!(verdict(f, &status(S::COMPLETED, "update completed"), false, None).unwrap().0, ReleaseState::Succeeded);
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
