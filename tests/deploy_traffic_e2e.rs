//! Deploys under traffic: nginx (Debian's) in front of two replicas and a steady load
//! generator during a rolling deploy (zero failed requests), and an SSH connection killed in
//! the middle of a deploy (never zero healthy replicas; the deploy completes or rolls back
//! with a consistent lock and journal).

mod common;

use common::traffic::{get, load, nginx};
use common::*;
use fleetdeck::sandbox::Sandbox;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn web_fleet() -> (tempfile::TempDir, Sandbox, PathBuf, Vec<u16>) {
    let (tmp, sb) = sandbox(2);
    let (_, ports) = web_replicas(&sb, 2, "v1");
    let web = web_service("", "monitor = \"1s\"\nstop_timeout = \"2s\"\n");
    let profile = write_sandbox_profile(&sb, "deploy.toml", &web);
    (tmp, sb, profile, ports)
}

fn deploy(profile: &Path, image: &str, audit: &Path) -> Command {
    let mut c = Command::new(bin());
    c.args(["deploy", "web", "--image", image, "--profile"]).arg(profile).env("FLEETDECK_AUDIT_LOG", audit);
    c
}

#[test]
fn rolling_deploy_behind_nginx_fails_no_request() {
    let (tmp, _sb, profile, ports) = web_fleet();
    let ng = nginx(&tmp.path().join("nginx"), &ports);
    assert_eq!(get(ng.port), Ok(200));
    let stop = Arc::new(AtomicBool::new(false));
    let gen = load(ng.port, 50, stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let out = deploy(&profile, "fleetdeck-demo/web:v2", &tmp.path().join("audit")).output().unwrap();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let report = gen.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    println!(
        "rolling deploy of 2 replicas behind nginx: {} requests at {:.1}/s, {} failed, deploy took {:.1}s",
        report.sent,
        report.rate(),
        report.failed,
        took.as_secs_f32()
    );
    assert!(report.sent > 100, "the load ran throughout ({})", report.sent);
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.errors);
}

#[test]
fn ssh_killed_mid_deploy_never_leaves_zero_healthy_replicas() {
    let (tmp, sb, profile, _) = web_fleet();
    let names: Vec<String> = (1..=2).map(|i| format!("{}-web-{i}", sb.prefix)).collect();
    // Watch health every 200 ms through the engines directly (not through fleetdeck).
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let socks: Vec<String> = sb.hosts.iter().map(|h| h.docker_socket.display().to_string()).collect();
        std::thread::spawn(move || {
            let mut worst = usize::MAX;
            let mut samples = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut healthy = 0;
                for s in &socks {
                    let out = Command::new("docker")
                        .args([
                            "-H",
                            &format!("unix://{s}"),
                            "ps",
                            "--filter",
                            "health=healthy",
                            "--filter",
                            "label=com.docker.compose.service=web",
                            "-q",
                        ])
                        .output()
                        .unwrap();
                    healthy += String::from_utf8_lossy(&out.stdout).lines().count();
                }
                worst = worst.min(healthy);
                samples += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            (worst, samples)
        })
    };
    let mut child = deploy(&profile, "fleetdeck-demo/web:v2", &tmp.path().join("audit"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until host-1's replica has been replaced (its old container is parked), then cut
    // host-1's SSH connection in the middle of the deploy.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = sb.docker(0).args(["ps", "-a", "--format", "{{.Names}}"]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("-old-") {
            break;
        }
        assert!(Instant::now() < deadline, "deploy never started replacing");
        std::thread::sleep(Duration::from_millis(100));
    }
    sb.kill_ssh_connections(0);
    std::thread::sleep(Duration::from_millis(500));
    sb.kill_ssh_connections(1);
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    stop.store(true, Ordering::Relaxed);
    let (worst, samples) = watcher.join().unwrap();
    println!("{stdout}\nhealthy replicas, worst of {samples} samples: {worst}");
    assert!(worst >= 1, "the service never had zero healthy replicas");
    let code = status.code().unwrap();
    assert!(code == 0 || code == 1, "completed or rolled back: {code}\n{stdout}");
    assert!(stdout.contains("connection lost") || stdout.contains("healthy on"), "{stdout}");
    let expected_image = if code == 0 { "fleetdeck-demo/web:v2" } else { "fleetdeck-demo/web:v1" };
    for (h, n) in names.iter().enumerate() {
        let out = sb.docker(h).args(["inspect", "-f", "{{.Config.Image}}", n]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected_image);
        assert!(!sb.hosts[h].host_dir.join("state/locks/web.lock").exists(), "lock released on host {h}");
        let j = std::fs::read_to_string(sb.hosts[h].host_dir.join("state/releases/web.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(j.lines().last().unwrap()).unwrap();
        assert_eq!(last["state"], if code == 0 { "succeeded" } else { "failed_rolled_back" }, "{j}");
    }
}
