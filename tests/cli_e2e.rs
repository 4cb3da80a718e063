//! The headless commands, run as the real binary against the real sandbox.

mod common;

use common::*;
use fleetdeck::sandbox::Sandbox;
use std::process::Command;
use std::time::Duration;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().expect("run fleetdeck");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_and_hosts_report_the_fleet_with_meaningful_exit_codes() {
    let (_tmp, sb) = sandbox(2);
    let port = Sandbox::free_port();
    let web = sb.run_web(0, &format!("{}-web-1", sb.prefix), "v1", port, "web").unwrap();
    let port2 = Sandbox::free_port();
    let web2 = sb.run_web(1, &format!("{}-web-2", sb.prefix), "v2", port2, "web").unwrap();
    sb.wait_healthy(0, &web, Duration::from_secs(30)).unwrap();
    sb.wait_healthy(1, &web2, Duration::from_secs(30)).unwrap();
    let profile = sb.profile_path.to_str().unwrap();

    let (code, out, err) = run(&["status", "--profile", profile, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(v["schema"], 1);
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2);
    assert!(v["hosts"].as_array().unwrap().iter().all(|h| h["state"] == "connected"), "{out}");
    let web_s = v["services"].as_array().unwrap().iter().find(|s| s["name"] == "web").unwrap();
    assert_eq!(web_s["healthy"], 2, "{out}");
    assert_eq!(web_s["health"], "healthy");
    let replica = &web_s["replicas"][0];
    assert_eq!(replica["docker_health"], "healthy");
    assert_eq!(replica["probes"][0]["verdict"], "healthy");
    assert!(replica["probes"][0]["body"].as_str().unwrap().contains("\"status\""));
    // api and worker are declared but have no replicas: not healthy -> exit 1.
    assert_eq!(code, 1, "{out}\n{err}");

    // With only the web service declared, everything is healthy: exit 0.
    let text = std::fs::read_to_string(&sb.profile_path).unwrap();
    let base = text.split("[[services]]").next().unwrap();
    let only_web = sb.profile_path.with_file_name("only-web.toml");
    std::fs::write(
        &only_web,
        format!("{base}[[services]]\nname = \"web\"\ncompose_service = \"web\"\n[[services.probes]]\nurl = \"http://127.0.0.1:{{port}}/health\"\nstatus_field = \"status\"\n"),
    )
    .unwrap();
    let (code, out, err) = run(&["status", "--profile", only_web.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");

    // Text output names services and replicas.
    let (_, text, _) = run(&["status", "--profile", profile]);
    assert!(text.contains("web") && text.contains("2/2 healthy"), "{text}");

    // hosts: state and fingerprint per host.
    let (code, out, err) = run(&["hosts", "--profile", profile, "--json"]);
    assert_eq!(code, 0, "{out} {err}");
    let hosts: serde_json::Value = serde_json::from_str(&out).unwrap();
    for h in hosts.as_array().unwrap() {
        assert_eq!(h["state"], "connected");
        assert!(h["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    }

    // A host that cannot be reached makes it exit 2, and says which.
    sb.stop_sshd(1);
    let (code, out, _) = run(&["status", "--profile", profile, "--timeout", "10s"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("host-2") && out.contains("unreachable"), "{out}");
}

#[test]
fn check_reports_errors_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\nbogus = 1\n").unwrap();
    let (code, out, err) = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(err.starts_with(&format!("{}:5:1: unknown field `bogus`", bad.display())), "{err}");

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/example.toml");
    let (code, out, err) = run(&["check", example]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"), "{out}");

    let (code, _, err) = run(&["status", "--profile", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:5:1"), "{err}");
}
