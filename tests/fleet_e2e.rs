//! End to end against the real sandbox: real sshd per host, a real Docker engine per host,
//! images built locally FROM scratch. No mocks.

mod common;

use common::*;
use fleetdeck::fleet::health::{summarize, Health};
use fleetdeck::fleet::model::{ConnState, ProbeVerdict};
use fleetdeck::sandbox::Sandbox;
use fleetdeck::ssh::ConnectOptions;
use std::time::{Duration, Instant};

fn start_web(sb: &Sandbox, host: usize, name: &str, tag: &str, service: &str) -> String {
    let port = Sandbox::free_port();
    let id = sb.run_web(host, &format!("{}-{name}", sb.prefix), tag, port, service).expect("run_web");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_containers_with_health_probes_and_follows_changes() {
    let (_tmp, sb) = sandbox(2);
    let web1 = start_web(&sb, 0, "web-1", "v1", "web");
    let api = start_web(&sb, 1, "api-1", "v4-degraded", "api");
    sb.wait_healthy(0, &web1, Duration::from_secs(30)).unwrap();
    sb.wait_healthy(1, &api, Duration::from_secs(30)).unwrap();

    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "both hosts ready with probes", |s| {
        s.hosts.iter().all(|h| h.ready && h.conn.is_connected()) && s.hosts.iter().all(|h| !h.probes.is_empty())
    })
    .await;

    // Each engine shows only its own containers, with Docker health.
    assert_eq!(state.hosts[0].containers.len(), 1, "{:?}", summary(&state));
    assert_eq!(state.hosts[1].containers.len(), 1, "{:?}", summary(&state));
    let c0 = &state.hosts[0].containers[0];
    assert_eq!(c0.id, web1);
    assert_eq!(c0.state, "running");
    assert_eq!(c0.health.as_deref(), Some("healthy"));
    assert_eq!(c0.image, "fleetdeck-demo/web:v1");
    assert_eq!(c0.compose_service.as_deref(), Some("web"));
    assert!(state.hosts[0].fingerprint.as_deref().unwrap().starts_with("SHA256:"));
    assert!(state.hosts[0].metrics.as_ref().is_some_and(|m| m.mem_total > 0 && m.cpus > 0));

    // The v4 probe answers 200 with {"status":"degraded",...}: degraded, body kept.
    let p = state.hosts[1].probes.values().next().unwrap();
    assert_eq!(p.verdict, ProbeVerdict::Degraded, "{p:?}");
    assert_eq!(p.status_value.as_deref(), Some("degraded"));
    assert!(p.body.contains("\"redis\""), "{}", p.body);
    let ok = state.hosts[0].probes.values().next().unwrap();
    assert_eq!(ok.verdict, ProbeVerdict::Healthy, "{ok:?}");

    let services = summarize(&profile.services, &state);
    let web = services.iter().find(|s| s.name == "web").unwrap();
    assert_eq!((web.healthy, web.total, web.health), (1, 1, Health::Healthy));
    let api_s = services.iter().find(|s| s.name == "api").unwrap();
    assert_eq!(api_s.health, Health::Degraded);

    // `docker stop` shows as stopped within 2 s (Docker events, not polling).
    let out = sb.docker(0).args(["stop", "-t", "1", &web1]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stopped_at = Instant::now();
    wait_for(&mut fleet, &mut state, Duration::from_secs(2), "web-1 shown as stopped", |s| {
        s.hosts[0].container(&web1).is_some_and(|c| c.state == "exited")
    })
    .await;
    println!("stop seen {} ms after `docker stop` returned", stopped_at.elapsed().as_millis());
    let services = summarize(&profile.services, &state);
    assert_eq!(services.iter().find(|s| s.name == "web").unwrap().health, Health::Down);

    // Killing the SSH connection: the host reconnects on its own and keeps updating.
    sb.kill_ssh_connections(0);
    wait_for(&mut fleet, &mut state, Duration::from_secs(15), "host-1 reconnecting", |s| {
        matches!(s.hosts[0].conn, ConnState::Reconnecting { .. })
    })
    .await;
    wait_for(&mut fleet, &mut state, Duration::from_secs(20), "host-1 connected again", |s| {
        s.hosts[0].conn.is_connected()
    })
    .await;
    let out = sb.docker(0).args(["start", &web1]).output().unwrap();
    assert!(out.status.success());
    wait_for(&mut fleet, &mut state, Duration::from_secs(10), "web-1 running again after reconnect", |s| {
        s.hosts[0].container(&web1).is_some_and(|c| c.state == "running")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hosts_are_reported_while_the_others_keep_updating() {
    let (_tmp, sb) = sandbox(3);
    let good = start_web(&sb, 2, "web-3", "v1", "web");
    sb.wait_running(2, &good, Duration::from_secs(30)).unwrap();
    sb.rotate_host_key(0).expect("rotate host key");
    sb.stop_sshd(1);

    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "all hosts settled", |s| {
        s.hosts[2].ready
            && matches!(s.hosts[0].conn, ConnState::HostKeyChanged { .. })
            && matches!(s.hosts[1].conn, ConnState::Unreachable { .. })
    })
    .await;
    // A changed key is refused with both fingerprints.
    let err = state.hosts[0].conn.error().unwrap().to_string();
    assert!(err.contains("HOST KEY CHANGED"), "{err}");
    assert_eq!(err.matches("SHA256:").count(), 2, "both fingerprints: {err}");
    assert!(err.contains(&sb.known_hosts.display().to_string()), "names the file: {err}");
    let unreachable = state.hosts[1].conn.error().unwrap().to_string();
    assert!(unreachable.contains("refused") || unreachable.contains("unreachable"), "{unreachable}");

    // The healthy host keeps updating while the others are broken.
    let out = sb.docker(2).args(["stop", "-t", "1", &good]).output().unwrap();
    assert!(out.status.success());
    wait_for(&mut fleet, &mut state, Duration::from_secs(3), "host-3 update", |s| {
        s.hosts[2].container(&good).is_some_and(|c| c.state == "exited")
    })
    .await;

    // The unreachable host comes back by itself once sshd is up again.
    sb.start_sshd(1).unwrap();
    wait_for(&mut fleet, &mut state, Duration::from_secs(20), "host-2 connected", |s| s.hosts[1].conn.is_connected())
        .await;
    // The changed-key host stays refused: nothing is learned silently.
    assert!(matches!(state.hosts[0].conn, ConnState::HostKeyChanged { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_client_key_and_unknown_host_key_are_refused_clearly() {
    let (tmp, sb) = sandbox(1);
    let other_key = tmp.path().join("other_key");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .status()
        .unwrap();
    assert!(st.success());
    let path = edit_profile(
        &sb.profile_path,
        &format!("identity_file = \"{}\"", sb.client_key.display()),
        &format!("identity_file = \"{}\"", other_key.display()),
    );
    let profile = load_profile(&path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(15), "auth failure", |s| {
        matches!(s.hosts[0].conn, ConnState::AuthFailed { .. })
    })
    .await;
    let err = state.hosts[0].conn.error().unwrap();
    assert!(err.contains("authentication as root"), "{err}");
    assert!(err.contains(&other_key.display().to_string()), "names the key: {err}");
    drop(fleet);

    // Unknown host key: refused headless, accepted with accept_new_host_keys and recorded.
    let empty_kh = tmp.path().join("empty_known_hosts");
    std::fs::write(&empty_kh, "").unwrap();
    let path = edit_profile(
        &sb.profile_path,
        &format!("known_hosts = \"{}\"", sb.known_hosts.display()),
        &format!("known_hosts = \"{}\"", empty_kh.display()),
    );
    let profile = load_profile(&path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(15), "unknown key refusal", |s| {
        matches!(s.hosts[0].conn, ConnState::HostKeyUnknown { .. })
    })
    .await;
    assert!(state.hosts[0].conn.error().unwrap().contains("--accept-new-host-keys"));
    drop(fleet);
    let opts = ConnectOptions { accept_new_host_keys: true, ..Default::default() };
    let (mut fleet, mut state) = start(&profile, opts);
    wait_for(&mut fleet, &mut state, Duration::from_secs(15), "connected after accepting", |s| {
        s.hosts[0].conn.is_connected()
    })
    .await;
    let recorded = std::fs::read_to_string(&empty_kh).unwrap();
    assert!(recorded.starts_with("|1|"), "recorded hashed: {recorded}");
}
