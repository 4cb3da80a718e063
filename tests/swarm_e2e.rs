//! Swarm services through the engine's own rolling update, for real: a single-node swarm on
//! a sandbox host's Docker engine (the sandbox's own dockerd, `--bridge=none
//! --iptables=false`; the machine's main engine is never touched), a service of two replicas
//! on host networking (each slot on its own 127.0.0.1 port), and fleetdeck's swarm path over
//! SSH: update config and image set through the API, progress followed task by task, the
//! engine's automatic rollback, an explicit rollback, an operator abort, and the release
//! journal, lock and audit log on the manager.

mod common;
mod swarm_support;

use common::*;
use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::deploy::journal::{Release, ReleaseKind, ReleaseState};
use fleetdeck::deploy::runner::{Control, DeployError, DeployEvent, HostHandle, Phase};
use fleetdeck::deploy::swarm::{find_swarm_service, SwarmChange, SwarmDeploy, SwarmRollback, SwarmRunner, UpdateOrder};
use fleetdeck::sandbox::{Sandbox, SandboxSpec};
use fleetdeck::ssh::ConnectOptions;
use std::process::Command;
use std::time::{Duration, Instant};
use swarm_support::*;
use tokio::sync::{mpsc, watch};

/// Generous: two cores, loaded by other test binaries.
const STEP_TIMEOUT: Duration = Duration::from_secs(240);

fn journal_lines(sb: &Sandbox) -> Vec<serde_json::Value> {
    let path = sb.hosts[0].host_dir.join("state/releases/web.jsonl");
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

struct Step {
    result: Result<Release, DeployError>,
    events: Vec<DeployEvent>,
    took: Duration,
}

impl Step {
    fn release(&self) -> &Release {
        match &self.result {
            Ok(r) => r,
            Err(e) => panic!("the release did not run: {e}\n{:#?}", self.events),
        }
    }

    fn notes(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DeployEvent::Note(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    fn phases(&self, container: &str) -> Vec<Phase> {
        self.events
            .iter()
            .filter_map(|e| match e {
                DeployEvent::Replica { container: c, phase, .. } if c == container => Some(*phase),
                _ => None,
            })
            .collect()
    }
}

/// Run one swarm release through `SwarmRunner`, printing its events; `abort_when` sends
/// `Control::Abort` at the first event it accepts.
async fn release(
    manager: &HostHandle,
    kind: ReleaseKind,
    change: SwarmChange,
    abort_when: Option<fn(&DeployEvent) -> bool>,
) -> Step {
    release_with(manager, kind, change, None, abort_when).await
}

/// Like [`release`], and `pause_when` sends `Control::Pause` at the first event it accepts.
async fn release_with(
    manager: &HostHandle,
    kind: ReleaseKind,
    change: SwarmChange,
    pause_when: Option<fn(&DeployEvent) -> bool>,
    abort_when: Option<fn(&DeployEvent) -> bool>,
) -> Step {
    let (tx, mut rx) = mpsc::channel(256);
    let (control_tx, control) = watch::channel(Control::Run);
    let started = Instant::now();
    let collector = tokio::spawn(async move {
        let mut all = Vec::new();
        let (mut sent, mut paused) = (false, false);
        while let Some(ev) = rx.recv().await {
            eprintln!("  {:>5.1}s {ev:?}", started.elapsed().as_secs_f32());
            if !paused && pause_when.is_some_and(|f| f(&ev)) {
                paused = true;
                eprintln!("  -> pause");
                let _ = control_tx.send(Control::Pause);
            }
            if !sent && abort_when.is_some_and(|f| f(&ev)) {
                sent = true;
                eprintln!("  -> abort");
                let _ = control_tx.send(Control::Abort);
            }
            all.push(ev);
        }
        all
    });
    let runner = SwarmRunner {
        manager: manager.clone(),
        profile: "sandbox".into(),
        service: "web".into(),
        kind,
        change,
        events: tx,
        control,
        who: "swarm-e2e@test".into(),
    };
    let result = runner.execute().await;
    let events = collector.await.unwrap();
    Step { result, events, took: started.elapsed() }
}

fn deploy(service: &str, image: &str, delay: Duration, id: &str) -> SwarmChange {
    SwarmChange::Deploy(SwarmDeploy {
        service_name: service.into(),
        image: image.into(),
        parallelism: 1,
        delay,
        monitor: Duration::from_secs(3),
        // Each slot's port is fixed: old and new task of a slot cannot run side by side.
        order: UpdateOrder::StopFirst,
        release_id: id.into(),
        message: Some(format!("ship {image}")),
        timeout: STEP_TIMEOUT,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_service_updates_rolls_back_and_aborts_through_the_engine() {
    let t0 = Instant::now();
    // An empty home for SSH sessions: root's shell rc files (pyenv, ...) must not run for
    // every exec of the lock and the journal.
    let tmp = tempfile::Builder::new().prefix("fdtest").tempdir_in("/tmp").expect("tempdir");
    let sb = Sandbox::up(SandboxSpec::new(1, tmp.path().join("sb")).with_empty_home())
        .unwrap_or_else(|e| panic!("sandbox up: {e}"));
    let audit = tmp.path().join("audit.jsonl");
    // This test binary has this one test: nothing else reads the variable concurrently.
    std::env::set_var("FLEETDECK_AUDIT_LOG", &audit);
    let mut swarm = SwarmGuard::init(&sb);
    eprintln!("sandbox + swarm init: {:.1}s", t0.elapsed().as_secs_f32());

    // The service, as `docker stack deploy` would name it: <stack>_web.
    let (service, base) = swarm.create_web_stack_service();
    eprintln!("service up on v1: {:.1}s", t0.elapsed().as_secs_f32());

    // fleetdeck's view: the sandbox profile, its worker connected over SSH.
    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(60), "host-1 connected", |s| {
        s.hosts[0].conn.is_connected() && s.hosts[0].ready
    })
    .await;
    let resolved = resolve_hosts(&profile).unwrap();
    let manager = HostHandle {
        name: "host-1".into(),
        state_dir: resolved[0].state_dir.clone(),
        link: fleet.link(0).cloned().unwrap(),
    };
    let (_, docker) = manager.link.current().expect("connected");
    let found = find_swarm_service(&docker, "web").await.expect("the stack's web service is found");
    assert_eq!(found.spec.as_ref().and_then(|s| s.name.as_deref()), Some(service.as_str()));
    assert!(find_swarm_service(&docker, "api").await.is_none());
    let container = |slot: u8| format!("{service}.{slot}");

    // 1. v2: the engine updates slot by slot and completes; every task runs v2, healthy.
    let s = release(
        &manager,
        ReleaseKind::Deploy,
        deploy(&service, "fleetdeck-demo/web:v2", Duration::from_secs(1), "r-swarm-1"),
        None,
    )
    .await;
    let r = s.release();
    eprintln!("deploy v2: {:?} in {:.1}s", r.state, s.took.as_secs_f32());
    assert_eq!(r.state, ReleaseState::Succeeded, "{r:#?}");
    assert_eq!((r.from_image.as_str(), r.to_image.as_str()), ("fleetdeck-demo/web:v1", "fleetdeck-demo/web:v2"));
    assert_eq!(r.replicas.len(), 2, "{r:#?}");
    assert!(r.replicas.iter().all(|o| o.outcome.starts_with("healthy: fleetdeck-demo/web:v2 running")), "{r:#?}");
    let notes = s.notes();
    assert!(notes.iter().any(|n| n.contains("on failure rollback") && n.contains("parallelism 1")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("engine:") && n.contains("updating")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("engine:") && n.contains("completed")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.starts_with("task ") && n.contains("fleetdeck-demo/web:v2") && n.contains("→ running")),
        "task by task: {notes:?}"
    );
    for slot in 1..=2 {
        let p = s.phases(&container(slot));
        assert_eq!(p.last(), Some(&Phase::Healthy), "slot {slot}: {p:?}");
    }
    assert_eq!(spec_image(&sb, &service), "fleetdeck-demo/web:v2");
    wait_all_healthy_on(&sb, &service, "fleetdeck-demo/web:v2", base, "v2");
    let j = journal_lines(&sb);
    assert_eq!(j.len(), 2, "a start and an end record: {j:?}");
    assert_eq!(j[1]["state"], "succeeded");

    // 2. v3-broken: never healthy; the engine rolls back by itself; back on v2, healthy.
    let s = release(
        &manager,
        ReleaseKind::Deploy,
        deploy(&service, "fleetdeck-demo/web:v3-broken", Duration::from_secs(1), "r-swarm-2"),
        None,
    )
    .await;
    let r = s.release();
    eprintln!("deploy v3-broken: {:?} in {:.1}s: {:?}", r.state, s.took.as_secs_f32(), r.reason);
    assert_eq!(r.state, ReleaseState::FailedRolledBack, "{r:#?}");
    let reason = r.reason.clone().unwrap_or_default();
    // The engine's message: "update rolled back due to failure or early termination of task
    // X" while it rolls back, "rollback completed" after (when both came between two looks,
    // fleetdeck only saw the latter); either way the failed task and why follow.
    assert!(reason.starts_with("the engine rolled back: "), "{reason}");
    assert!(reason.contains("rolled back due to failure") || reason.contains("rollback completed"), "{reason}");
    assert!(reason.contains("fleetdeck-demo/web:v3-broken") && reason.contains("unhealthy"), "{reason}");
    let gate = s
        .events
        .iter()
        .find_map(|e| match e {
            DeployEvent::GateFailed { failure, .. } => Some(failure.clone()),
            _ => None,
        })
        .expect("the failed task's evidence");
    assert!(gate.reason.contains("unhealthy"), "the health check's verdict: {gate:?}");
    assert!(gate.logs.iter().any(|l| l.contains("health endpoint missing")), "the app's own log: {gate:?}");
    assert!(r.replicas.iter().all(|o| o.outcome.starts_with("rolled back: fleetdeck-demo/web:v2")), "{r:#?}");
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, DeployEvent::GateFailed { failure, .. } if failure.reason.contains("v3-broken"))),
        "the failed task's evidence: {:#?}",
        s.events
    );
    // The slot the engine tried first (it picks which) failed, then went back to v2.
    let failed_slot = s
        .events
        .iter()
        .find_map(|e| match e {
            DeployEvent::GateFailed { container, .. } => Some(container.clone()),
            _ => None,
        })
        .unwrap();
    let p = s.phases(&failed_slot);
    assert!(p.contains(&Phase::Failed) && p.last() == Some(&Phase::RolledBack), "{p:?}");
    assert!(s.notes().iter().any(|n| n.contains("engine:") && n.contains("rollback_")), "{:?}", s.notes());
    assert_eq!(spec_image(&sb, &service), "fleetdeck-demo/web:v2");
    wait_all_healthy_on(&sb, &service, "fleetdeck-demo/web:v2", base, "v2");

    // 3. An explicit rollback now: the engine cleared its previous spec when it rolled back
    //    by itself. Refused, nothing changed, nothing journaled, the lock is free again.
    let rollback = |id: &str| {
        SwarmChange::Rollback(SwarmRollback {
            service_name: service.clone(),
            release_id: id.into(),
            message: Some("go back".into()),
            timeout: STEP_TIMEOUT,
            otherwise: None,
        })
    };
    let journal_before = journal_lines(&sb).len();
    let s = release(&manager, ReleaseKind::Rollback, rollback("r-swarm-3"), None).await;
    match &s.result {
        Err(DeployError::Preflight(e)) => assert!(e.contains("no previous spec"), "{e}"),
        other => panic!("expected a refusal: {other:?}"),
    }
    assert_eq!(journal_lines(&sb).len(), journal_before);
    assert_eq!(spec_image(&sb, &service), "fleetdeck-demo/web:v2");
    assert!(!sb.hosts[0].host_dir.join("state/locks/web.lock").exists());

    // 4. v1 succeeds (the engine's previous spec is v2 again) ...
    let s = release(
        &manager,
        ReleaseKind::Deploy,
        deploy(&service, "fleetdeck-demo/web:v1", Duration::ZERO, "r-swarm-4"),
        None,
    )
    .await;
    assert_eq!(s.release().state, ReleaseState::Succeeded, "{:#?}", s.release());
    eprintln!("deploy v1: {:.1}s", s.took.as_secs_f32());
    wait_all_healthy_on(&sb, &service, "fleetdeck-demo/web:v1", base, "v1");

    // 5. ... and the explicit rollback is the engine's: back to the previous spec (v2).
    let s = release(&manager, ReleaseKind::Rollback, rollback("r-swarm-5"), None).await;
    let r = s.release();
    eprintln!("rollback: {:?} in {:.1}s", r.state, s.took.as_secs_f32());
    assert_eq!(r.state, ReleaseState::Succeeded, "{r:#?}");
    assert_eq!(r.kind, ReleaseKind::Rollback);
    assert_eq!((r.from_image.as_str(), r.to_image.as_str()), ("fleetdeck-demo/web:v1", "fleetdeck-demo/web:v2"));
    assert!(s.notes().iter().any(|n| n.contains("manually requested rollback")), "{:?}", s.notes());
    assert!(s.phases(&container(1)).contains(&Phase::RolledBack), "{:#?}", s.events);
    assert_eq!(spec_image(&sb, &service), "fleetdeck-demo/web:v2");
    wait_all_healthy_on(&sb, &service, "fleetdeck-demo/web:v2", base, "v2");

    // 6. Abort in the middle (slot 1 on v4, slot 2 waiting out the delay): the engine's
    //    rollback puts slot 1 back on v2. Pause is explained, not faked.
    let s = release_with(
        &manager,
        ReleaseKind::Deploy,
        deploy(&service, "fleetdeck-demo/web:v4-degraded", Duration::from_secs(20), "r-swarm-6"),
        Some(|e| matches!(e, DeployEvent::Replica { phase: Phase::Replacing, .. })),
        Some(|e| matches!(e, DeployEvent::Replica { phase: Phase::Healthy, .. })),
    )
    .await;
    let r = s.release();
    eprintln!("deploy v4 + abort: {:?} in {:.1}s", r.state, s.took.as_secs_f32());
    assert_eq!(r.state, ReleaseState::Aborted, "{r:#?}");
    assert!(s.notes().iter().any(|n| n.contains("Swarm has no way to pause")), "{:?}", s.notes());
    assert!(s.notes().iter().any(|n| n.contains("asking the engine to roll back")), "{:?}", s.notes());
    assert_eq!(spec_image(&sb, &service), "fleetdeck-demo/web:v2");
    wait_all_healthy_on(&sb, &service, "fleetdeck-demo/web:v2", base, "v2");

    // The journal on the manager holds every swarm release: `fleetdeck releases` lists them.
    drop(fleet);
    let out = Command::new(bin())
        .args(["releases", "web", "--json", "--profile"])
        .arg(&sb.profile_path)
        .env("FLEETDECK_AUDIT_LOG", &audit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str)> =
        listed.iter().map(|r| (r["id"].as_str().unwrap(), r["state"].as_str().unwrap())).collect();
    assert_eq!(
        states,
        vec![
            ("r-swarm-1", "succeeded"),
            ("r-swarm-2", "failed_rolled_back"),
            ("r-swarm-4", "succeeded"),
            ("r-swarm-5", "succeeded"),
            ("r-swarm-6", "aborted"),
        ]
    );
    // The audit log has a begin and an end for each, the refused rollback included.
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    let entries: Vec<serde_json::Value> = audit_text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.iter().filter(|e| e["phase"] == "begin").count(), 6, "{audit_text}");
    assert_eq!(entries.iter().filter(|e| e["phase"] == "end").count(), 6, "{audit_text}");
    assert!(entries.iter().all(|e| e["target"].as_str().unwrap().ends_with("(swarm)")), "{audit_text}");
    assert!(!sb.hosts[0].host_dir.join("state/locks/web.lock").exists());

    drop(swarm);
    assert_eq!(swarm_state(&sb), "inactive", "the engine left the swarm");
    eprintln!("total: {:.1}s", t0.elapsed().as_secs_f32());
}
