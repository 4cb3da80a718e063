//! As a person would: open the deploy wizard in the real console, deploy v2, watch it
//! finish, then roll back from the releases view. Real sandbox, real binary, tmux.

mod common;
#[path = "support/tmux.rs"]
mod tmux;

use common::*;
use fleetdeck::sandbox::Sandbox;
use tmux::Tmux;

fn image_of(sb: &Sandbox, h: usize, name: &str) -> String {
    let out = sb.docker(h).args(["inspect", "-f", "{{.Config.Image}}", name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn deploy_v2_from_the_wizard_then_roll_back_from_the_releases_view() {
    let (_tmp, sb) = sandbox(2);
    let names: Vec<String> = (1..=2).map(|i| format!("{}-web-{i}", sb.prefix)).collect();
    web_replicas(&sb, 2, "v1");
    let web = web_service("", "monitor = \"1s\"\nstop_timeout = \"2s\"\n");
    let profile = write_sandbox_profile(&sb, "wizard.toml", &web);
    let audit = profile.with_file_name("audit.jsonl");
    let cmd = format!(
        "FLEETDECK_AUDIT_LOG={} {} --profile {}; echo EXITED:$?; sleep 60",
        audit.display(),
        bin().display(),
        profile.display()
    );
    let tmux = Tmux::start(&format!("{}-deploy", sb.prefix), 170, 45, &cmd);
    tmux.wait_for("dashboard", 60, |s| {
        s.contains("Hosts (2)") && s.contains("2/2") && s.matches("connected").count() >= 2
    });

    // D on the web row: the wizard lists the images found on the hosts.
    tmux.send(&["D"]);
    let s = tmux.wait_for("image choice", 30, |s| s.contains("choose an image") && s.contains("fleetdeck-demo/web:v2"));
    assert!(s.contains("fleetdeck-demo/web:v3-broken"), "{s}");
    tmux.send(&["-l", "fleetdeck-demo/web:v2"]);
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("the plan", 30, |s| s.contains("batch 1: host-1/") && s.contains("enter: start the deploy"));
    assert!(s.contains("fleetdeck-demo/web:v1 -> fleetdeck-demo/web:v2"), "{s}");
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("the deploy to finish", 120, |s| s.contains("SUCCEEDED"));
    assert!(s.matches("healthy").count() >= 2, "both replicas shown healthy:\n{s}");
    for (h, n) in names.iter().enumerate() {
        assert_eq!(image_of(&sb, h, n), "fleetdeck-demo/web:v2");
    }
    tmux.send(&["Enter"]);
    tmux.wait_for("dashboard again", 30, |s| s.contains("Hosts (2)"));

    // R: the releases view shows the release; r previews the rollback, enter runs it.
    tmux.send(&["R"]);
    let s = tmux.wait_for("releases", 30, |s| s.contains("Releases · web") && s.contains("succeeded"));
    assert!(s.contains("fleetdeck-demo/web:v2"), "{s}");
    tmux.send(&["r"]);
    let s = tmux.wait_for("rollback plan", 30, |s| s.contains("Rollback web") && s.contains("enter: start"));
    assert!(s.contains("fleetdeck-demo/web:v2 -> fleetdeck-demo/web:v1"), "{s}");
    tmux.send(&["Enter"]);
    tmux.wait_for("the rollback to finish", 120, |s| s.contains("SUCCEEDED"));
    for (h, n) in names.iter().enumerate() {
        assert_eq!(image_of(&sb, h, n), "fleetdeck-demo/web:v1");
    }
    tmux.send(&["Enter"]);
    tmux.wait_for("dashboard", 30, |s| s.contains("Hosts (2)"));
    tmux.send(&["q"]);
    let s = tmux.wait_for("exit", 30, |s| s.contains("EXITED:"));
    assert!(s.contains("EXITED:0"), "{s}");
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        audit_text.contains("\"action\":\"deploy\"") && audit_text.contains("\"action\":\"rollback\""),
        "{audit_text}"
    );
}
