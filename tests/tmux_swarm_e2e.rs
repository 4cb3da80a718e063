//! As a person would, on a Swarm service: a single-node swarm on a sandbox host's engine
//! (never the machine's main engine) runs the stack service `<prefix>_web`, which the
//! profile's `web` stands for. In the real console: open the deploy wizard on `web`, see the
//! engine's plan (update config, manager), deploy v2 and watch the engine's tasks finish,
//! then roll back from the releases view through the engine.

mod common;
mod swarm_support;
#[path = "support/tmux.rs"]
mod tmux;

use common::*;
use swarm_support::*;
use tmux::Tmux;

#[test]
fn deploy_and_roll_back_a_swarm_service_from_the_wizard() {
    let (tmp, sb) = sandbox(1);
    let mut swarm = SwarmGuard::init(&sb);
    let (service, base) = swarm.create_web_stack_service();
    let v = |tag: &str| format!("fleetdeck-demo/web:{tag}");
    let audit = tmp.path().join("audit.jsonl");
    let cmd = format!(
        "FLEETDECK_AUDIT_LOG={} {} --profile {}; echo EXITED:$?; sleep 60",
        audit.display(),
        bin().display(),
        sb.profile_path.display()
    );
    let tmux = Tmux::start(&format!("{}-swarm", sb.prefix), 170, 45, &cmd);
    // the engine's tasks are the replicas of the profile's web
    let s = tmux.wait_for("dashboard", 60, |s| {
        s.contains("1/1 hosts") && s.lines().any(|l| l.contains("▸ web") && l.contains("2/2"))
    });
    assert!(!s.contains(&format!("{service}.1.")), "no task is left unclaimed: {s}");

    // D on web: the wizard learns it is a Swarm service, lists the images
    tmux.send(&["D"]);
    let s = tmux.wait_for("image choice", 60, |s| {
        s.contains("choose an image") && s.contains(&v("v2")) && s.contains("is a Swarm service")
    });
    assert!(s.contains("web is a Swarm service: the engine updates it, through the manager host-1"), "{s}");
    tmux.type_text(&v("v2"));
    tmux.send(&["Enter"]);
    let s =
        tmux.wait_for("the engine's plan", 60, |s| s.contains("engine update config") && s.contains("enter: start"));
    assert!(s.contains(&format!("swarm service {service} (2 replicas) on manager host-1")), "{s}");
    assert!(s.contains(&format!("{} -> {}", v("v1"), v("v2"))), "{s}");
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("the update to finish", 180, |s| s.contains("SUCCEEDED"));
    assert!(s.contains(&format!("{service}.1")) && s.contains(&format!("{service}.2")), "the tasks: {s}");
    assert_eq!(spec_image(&sb, &service), v("v2"));
    wait_all_healthy_on(&sb, &service, &v("v2"), base, "v2");
    tmux.send(&["Enter"]);
    tmux.wait_for("dashboard again", 30, |s| s.contains("▸ web"));

    // R: the releases view (journal on the manager); r on the newest = undo it, via the engine
    tmux.send(&["R"]);
    tmux.wait_for("releases", 60, |s| s.contains("Releases · web") && s.contains("succeeded"));
    tmux.send(&["r"]);
    let s = tmux.wait_for("the rollback plan", 60, |s| s.contains("Rollback web") && s.contains("enter: start"));
    assert!(s.contains(&format!("{} -> {}", v("v2"), v("v1"))), "{s}");
    tmux.send(&["Enter"]);
    tmux.wait_for("the rollback to finish", 180, |s| s.contains("SUCCEEDED"));
    assert_eq!(spec_image(&sb, &service), v("v1"));
    wait_all_healthy_on(&sb, &service, &v("v1"), base, "v1");
    tmux.send(&["Enter"]);
    tmux.wait_for("dashboard", 30, |s| s.contains("▸ web"));
    tmux.send(&["q"]);
    let s = tmux.wait_for("exit", 30, |s| s.contains("EXITED:"));
    assert!(s.contains("EXITED:0"), "{s}");
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert!(audit_text.contains("\"action\":\"rollback\""), "{audit_text}");
}
