//! Shared helpers for the end-to-end tests: a real sandbox fleet (sshd + dockerd per host)
//! and a fleet of fleetdeck workers watching it.
#![allow(dead_code)]

pub mod traffic;

use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;
use fleetdeck::fleet::model::FleetState;
use fleetdeck::fleet::worker::WorkerConfig;
use fleetdeck::fleet::Fleet;
use fleetdeck::sandbox::{Sandbox, SandboxSpec};
use fleetdeck::ssh::ConnectOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A sandbox with `hosts` hosts in a fresh temporary directory (removed on drop).
pub fn sandbox(hosts: usize) -> (tempfile::TempDir, Sandbox) {
    let dir = tempfile::Builder::new().prefix("fdtest").tempdir_in("/tmp").expect("tempdir");
    let spec = SandboxSpec::new(hosts, dir.path().join("sb"));
    let sb = Sandbox::up(spec).unwrap_or_else(|e| panic!("sandbox up: {e}"));
    (dir, sb)
}

pub fn load_profile(path: &Path) -> Profile {
    Profile::load(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Rewrite a profile file with a replaced line fragment, returning the new path.
pub fn edit_profile(path: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "profile has no {from:?}:\n{text}");
    let new = path.with_file_name(format!("edited-{}.toml", std::process::id()));
    std::fs::write(&new, text.replacen(from, to, 1)).unwrap();
    new
}

pub fn fast_config() -> WorkerConfig {
    WorkerConfig {
        resync_every: Duration::from_secs(10),
        sample_every: 1,
        docker_timeout: 10,
        max_backoff: Duration::from_secs(2),
    }
}

pub fn start(profile: &Profile, opts: ConnectOptions) -> (Fleet, FleetState) {
    let hosts = resolve_hosts(profile).unwrap_or_else(|e| panic!("{e}"));
    Fleet::start(profile, hosts, opts, fast_config())
}

/// Apply events until `cond` holds; panics with the state after `timeout`.
pub async fn wait_for(
    fleet: &mut Fleet,
    state: &mut FleetState,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&FleetState) -> bool,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond(state) {
        match tokio::time::timeout_at(deadline, fleet.events.recv()).await {
            Ok(Some(ev)) => {
                state.apply(ev);
            }
            _ => panic!("timed out after {timeout:?} waiting for {what}; state: {:#?}", summary(state)),
        }
    }
}

pub fn summary(state: &FleetState) -> Vec<String> {
    state
        .hosts
        .iter()
        .map(|h| {
            let cs: Vec<String> = h
                .containers
                .iter()
                .map(|c| format!("{}:{}:{}", c.name, c.state, c.health.clone().unwrap_or_default()))
                .collect();
            format!("{} {:?} ready={} {:?}", h.name, h.conn, h.ready, cs)
        })
        .collect()
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fleetdeck"))
}

/// Starts `fleetdeck-demo/web:<tag>` as `<prefix>-web-<N>` on hosts 0..`hosts` (service
/// `web`, each on a free port) and waits until every one is healthy. Returns (ids, ports).
pub fn web_replicas(sb: &Sandbox, hosts: usize, tag: &str) -> (Vec<String>, Vec<u16>) {
    let mut ids = Vec::new();
    let mut ports = Vec::new();
    for h in 0..hosts {
        let port = Sandbox::free_port();
        ids.push(sb.run_web(h, &format!("{}-web-{}", sb.prefix, h + 1), tag, port, "web").unwrap());
        ports.push(port);
    }
    for (h, id) in ids.iter().enumerate() {
        sb.wait_healthy(h, id, Duration::from_secs(30)).unwrap();
    }
    (ids, ports)
}

/// Writes `<sandbox dir>/<name>`: the sandbox profile's settings and hosts (without its
/// services) followed by `rest`. Returns its path.
pub fn write_sandbox_profile(sb: &Sandbox, name: &str, rest: &str) -> PathBuf {
    let text = std::fs::read_to_string(&sb.profile_path).unwrap();
    let base = text.split("[[services]]").next().unwrap();
    let path = sb.profile_path.with_file_name(name);
    std::fs::write(&path, format!("{base}{rest}")).unwrap();
    path
}

/// The `web` service of the deploy tests: its /health probe (`probe_extra` lines added) and
/// `[services.deploy]` with `deploy` lines.
pub fn web_service(probe_extra: &str, deploy: &str) -> String {
    format!(
        "\n[[services]]\nname = \"web\"\ncompose_service = \"web\"\n\n[[services.probes]]\nurl = \"http://127.0.0.1:{{port}}/health\"\nstatus_field = \"status\"\n{probe_extra}\n[services.deploy]\n{deploy}"
    )
}
