//! The headless commands on a Swarm service, through the real `fleetdeck` binary: a
//! single-node swarm on a sandbox host's engine (never the machine's main engine) and the
//! sandbox profile's `web` service, which fleetdeck finds as the stack service
//! `<prefix>_web` on host-1, its manager. `deploy` sets the update config and image through
//! the engine and follows it; a broken image is rolled back by the engine (exit 1);
//! `rollback` goes back through the engine; `releases` reads the journal on the manager.

mod common;
mod swarm_support;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use swarm_support::*;

fn fleetdeck(profile: &Path, args: &[&str], audit: &Path) -> Output {
    let out = Command::new(bin())
        .args(args)
        .arg("--profile")
        .arg(profile)
        .env("FLEETDECK_AUDIT_LOG", audit)
        .output()
        .unwrap();
    eprintln!("$ fleetdeck {}\n{}", args.join(" "), text(&out));
    out
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn deploy_rollback_and_releases_of_a_swarm_service_from_the_command_line() {
    let (tmp, sb) = sandbox(1);
    let audit = tmp.path().join("audit.jsonl");
    let mut swarm = SwarmGuard::init(&sb);
    let (service, base) = swarm.create_web_stack_service();
    let profile = sb.profile_path.as_path();
    let v = |tag: &str| format!("fleetdeck-demo/web:{tag}");

    // Dry run: the swarm plan (service, manager, images, the engine's update config), no change.
    let o = fleetdeck(profile, &["deploy", "web", "--image", &v("v2"), "--dry-run"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains(&format!("{} -> {}", v("v1"), v("v2"))), "{t}");
    assert!(t.contains(&format!("swarm service {service} (2 replicas) on manager host-1")), "{t}");
    assert!(
        t.contains(
            "engine update config: parallelism 1 · delay 0s · monitor 2s · failure action rollback · order stop-first"
        ),
        "{t}"
    );
    assert!(t.contains(&format!("task {service}.1 on ")) && t.contains("lock and journal on: host-1"), "{t}");
    assert!(t.contains("dry run: nothing changed"), "{t}");
    assert_eq!(spec_image(&sb, &service), v("v1"));

    // The same safety checks as container deploys: --read-only refuses, nothing changes.
    let o = fleetdeck(profile, &["deploy", "web", "--image", &v("v2"), "--yes", "--read-only"], &audit);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("read-only"), "{}", text(&o));

    // v2: the engine updates task by task; every task runs v2, healthy.
    let o = fleetdeck(profile, &["deploy", "web", "--image", &v("v2"), "--yes", "-m", "ship v2"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("engine:") && t.contains("completed"), "the engine's progress: {t}");
    assert!(t.contains(&format!("{} new → ", v("v2"))), "task by task: {t}");
    assert!(t.contains("finished: ") && t.contains(" succeeded"), "{t}");
    assert_eq!(spec_image(&sb, &service), v("v2"));
    wait_all_healthy_on(&sb, &service, &v("v2"), base, "v2");

    // v3-broken: never healthy; the engine rolls back by itself; exit 1, back on v2.
    let o = fleetdeck(profile, &["deploy", "web", "--image", &v("v3-broken"), "--yes"], &audit);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("HEALTH GATE FAILED") && t.contains("unhealthy"), "the failed task's evidence: {t}");
    assert!(t.contains("failed, rolled back: the engine rolled back"), "{t}");
    assert_eq!(spec_image(&sb, &service), v("v2"));
    wait_all_healthy_on(&sb, &service, &v("v2"), base, "v2");

    // The engine dropped its previous spec when it rolled back: `rollback` says it will undo
    // the release that brought v2 instead (back to v1), through the engine's update.
    let o = fleetdeck(profile, &["rollback", "web", "--dry-run"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains(&format!("{} -> the engine's previous spec", v("v2"))), "{t}");
    assert!(t.contains(&format!("by itself): {} (undo r", v("v1"))), "{t}");
    let o = fleetdeck(profile, &["rollback", "web", "--yes"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("keeps no previous spec"), "{}", text(&o));
    assert_eq!(spec_image(&sb, &service), v("v1"));
    wait_all_healthy_on(&sb, &service, &v("v1"), base, "v1");

    // Now the engine has a previous spec (v2): `rollback` is the engine's own rollback.
    let o = fleetdeck(profile, &["rollback", "web", "--yes"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("manually requested rollback") && t.contains("rollback_completed"), "{t}");
    assert_eq!(spec_image(&sb, &service), v("v2"));
    wait_all_healthy_on(&sb, &service, &v("v2"), base, "v2");

    // The journal on the manager: every release, as `releases --json` lists it.
    let o = fleetdeck(profile, &["releases", "web", "--json"], &audit);
    assert!(o.status.success(), "{}", text(&o));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(&str, &str, &str, &str)> = listed
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap();
            (s("kind"), s("from_image"), s("to_image"), s("state"))
        })
        .collect();
    let (v1, v2, v3) = (v("v1"), v("v2"), v("v3-broken"));
    assert_eq!(
        got,
        vec![
            ("deploy", v1.as_str(), v2.as_str(), "succeeded"),
            ("deploy", v2.as_str(), v3.as_str(), "failed_rolled_back"),
            ("rollback", v2.as_str(), v1.as_str(), "succeeded"),
            ("rollback", v1.as_str(), v2.as_str(), "succeeded"),
        ]
    );
    assert_eq!(listed[0]["message"], "ship v2");
    assert_eq!(listed[2]["message"], format!("undo {}", listed[0]["id"].as_str().unwrap()));
    assert_eq!(listed[3]["message"], "rollback to the previous spec");
    // A begin and an end in the audit log for each release; the lock is free again.
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(audit_text.matches("\"phase\":\"begin\"").count(), 4, "{audit_text}");
    assert_eq!(audit_text.matches("\"phase\":\"end\"").count(), 4, "{audit_text}");
    assert!(!sb.hosts[0].host_dir.join("state/locks/web.lock").exists());

    drop(swarm);
    assert_eq!(swarm_state(&sb), "inactive", "the engine left the swarm");
}
