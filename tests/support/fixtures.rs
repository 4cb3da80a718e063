//! A deterministic fleet for the console's snapshot tests: three hosts, services web
//! (two replicas, one unhealthy), api (probe says degraded) and worker (exited), with fixed
//! timestamps so that nothing on screen depends on the clock.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use fleetdeck::config::Profile;
use fleetdeck::docker::model::{ContainerInfo, PortMapping};
use fleetdeck::fleet::model::{
    ConnState, ContainerUsage, FleetEvent, FleetState, HostEvent, HostMetrics, HostState, ProbeResult, ProbeVerdict,
};
use fleetdeck::ssh::SshError;
use fleetdeck::tui::app::App;
use fleetdeck::tui::keymap::Keymap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const GIB: u64 = 1024 * 1024 * 1024;
pub const MIB: u64 = 1024 * 1024;

/// The console's clock in every test.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 0).unwrap()
}

pub fn ago(secs: i64) -> DateTime<Utc> {
    now() - Duration::seconds(secs)
}

pub const WEB_1: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const WEB_2: &str = "1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a";
pub const API_1: &str = "2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b";
pub const WORKER_1: &str = "3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c";

pub const WEB_2_HEALTH_OUTPUT: &str = "wget: server returned error: HTTP/1.1 500";
pub const API_PROBE_BODY: &str = r#"{"status":"degraded","checks":{"database":"up","redis":"down"}}"#;
pub const WEB_PROBE_BODY: &str = r#"{"status":"ok","checks":{"database":"up","cache":"up"}}"#;

pub fn profile_toml(protected: bool) -> String {
    format!(
        r#"
name = "shop-prod"
protected = {protected}

[ssh]
user = "deploy"

[[hosts]]
name = "host-1"
address = "10.0.0.11"

[[hosts]]
name = "host-2"
address = "10.0.0.12"

[[hosts]]
name = "host-3"
address = "10.0.0.13"

[[services]]
name = "web"
compose_service = "web"
[[services.probes]]
url = "http://127.0.0.1/health"
container_port = 8080
status_field = "status"

[[services]]
name = "api"
compose_service = "api"
[[services.probes]]
url = "http://127.0.0.1/healthz"
container_port = 9000
status_field = "status"

[[services]]
name = "worker"
compose_service = "worker"

[[backups]]
name = "shop-db"
host = "host-3"
directory = "/var/backups/shop-db"
file_name = "{{job}}-{{timestamp}}.dump"
backup = "docker exec shop-postgres-1 pg_dump -U shop -Fc shop > {{file}}"
verify = "pg_restore --list {{file}} > /dev/null"
restore = "docker exec -i shop-postgres-1 pg_restore -U shop --clean --if-exists --single-transaction -d shop < {{file}}"
rpo = "24h"
keep_count = 3

[[backups]]
name = "uploads"
host = "host-1"
directory = "/var/backups/uploads"
file_name = "uploads-{{timestamp}}.tar.gz"
backup = "tar -C /srv/shop -czf {{file}} uploads"
verify = "gzip -t {{file}}"
restore = "tar -C /srv/shop -xzf {{file}}"
rpo = "6h"
"#
    )
}

pub fn profile(protected: bool) -> Profile {
    Profile::parse(Path::new("shop-prod.toml"), &profile_toml(protected)).unwrap_or_else(|e| panic!("{e}"))
}

fn container(id: &str, service: &str, replica: u32, image: &str, state: &str, started_secs_ago: i64) -> ContainerInfo {
    let mut c = ContainerInfo::from_inspect(Default::default());
    c.id = id.to_string();
    c.name = format!("shop-{service}-{replica}");
    c.image = image.to_string();
    c.image_id = format!("sha256:{}", &id[..12]);
    c.state = state.to_string();
    c.created = Some(ago(started_secs_ago + 30));
    c.started_at = Some(ago(started_secs_ago));
    c.labels.insert("com.docker.compose.project".into(), "shop".into());
    c.labels.insert("com.docker.compose.service".into(), service.into());
    c.compose_project = Some("shop".into());
    c.compose_service = Some(service.into());
    c.network_mode = Some("shop_default".into());
    c.restart_policy = Some("unless-stopped".into());
    c
}

fn web(id: &str, replica: u32, health: &str, output: &str, started_secs_ago: i64) -> ContainerInfo {
    let mut c = container(id, "web", replica, "shop/web:1.4.2", "running", started_secs_ago);
    c.image_digest = Some("shop/web@sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a0".into());
    c.health = Some(health.into());
    c.health_output = Some(output.into());
    c.health_failing_streak = if health == "unhealthy" { 4 } else { 0 };
    c.ports.push(PortMapping {
        container_port: 8080,
        protocol: "tcp".into(),
        host_ip: Some("127.0.0.1".into()),
        host_port: Some(8080),
    });
    c.command = vec!["/app/web".into(), "--listen".into(), ":8080".into()];
    c.env = vec!["DB_PASSWORD=hunter2".into(), "API_TOKEN=abc".into(), "PORT=8080".into()];
    c
}

fn probe(
    service: &str,
    container_id: &str,
    url: &str,
    verdict: ProbeVerdict,
    http: u16,
    status: &str,
    body: &str,
) -> HostEvent {
    HostEvent::Probe(Box::new(ProbeResult {
        service: service.into(),
        probe: "health".into(),
        container_id: container_id.into(),
        url: url.into(),
        at: ago(4),
        http_status: Some(http),
        status_value: Some(status.into()),
        body: body.into(),
        verdict,
        error: None,
        latency_ms: 12,
    }))
}

fn usage(list: &[(&str, f64, u64)]) -> HostEvent {
    HostEvent::Usage(
        list.iter()
            .map(|(id, cpu, mem)| {
                (id.to_string(), ContainerUsage { cpu_percent: *cpu, mem_bytes: *mem, mem_limit: Some(GIB) })
            })
            .collect::<BTreeMap<_, _>>(),
    )
}

fn metrics(load1: f64, mem_available: u64, disk_used: u64) -> HostEvent {
    HostEvent::Metrics(HostMetrics {
        load1,
        load5: load1 * 0.8,
        load15: load1 * 0.6,
        cpus: 4,
        mem_total: 8 * GIB,
        mem_available,
        disk_total: 100 * GIB,
        disk_used,
        at: Some(ago(2)),
    })
}

/// The fleet with every host connected.
pub fn fleet() -> FleetState {
    let hosts = (1..=3).map(|i| HostState::new(&format!("host-{i}"), &format!("deploy@10.0.0.1{i}:22"))).collect();
    let mut state = FleetState::new(hosts);
    let mut apply = |host: usize, event: HostEvent| {
        state.apply(FleetEvent { host, generation: 1, event });
    };
    for h in 0..3 {
        apply(h, HostEvent::Conn(ConnState::Connected { since: ago(3 * 3600) }));
        apply(h, HostEvent::DockerVersion("27.3.1".into()));
    }
    // host-1: web replica 1, healthy by its healthcheck and its probe.
    apply(0, HostEvent::Containers(vec![web(WEB_1, 1, "healthy", "ok", 3 * 86400 + 4 * 3600)]));
    apply(0, usage(&[(WEB_1, 12.5, 180 * MIB)]));
    apply(0, metrics(0.42, 5 * GIB, 38 * GIB));
    apply(0, probe("web", WEB_1, "http://127.0.0.1:8080/health", ProbeVerdict::Healthy, 200, "ok", WEB_PROBE_BODY));
    // host-2: web replica 2, failing its healthcheck.
    apply(1, HostEvent::Containers(vec![web(WEB_2, 2, "unhealthy", WEB_2_HEALTH_OUTPUT, 2 * 3600)]));
    apply(1, usage(&[(WEB_2, 97.3, 412 * MIB)]));
    apply(1, metrics(3.87, GIB, 81 * GIB));
    apply(
        1,
        probe(
            "web",
            WEB_2,
            "http://127.0.0.1:8080/health",
            ProbeVerdict::Unhealthy,
            500,
            "error",
            r#"{"status":"error"}"#,
        ),
    );
    // host-3: api degraded by its probe, worker exited (OOM-killed).
    let mut api = container(API_1, "api", 1, "shop/api:2.0.1", "running", 45 * 60);
    api.ports.push(PortMapping { container_port: 9000, protocol: "tcp".into(), host_ip: None, host_port: Some(9000) });
    let mut worker = container(WORKER_1, "worker", 1, "shop/worker:2.0.1", "exited", 5 * 3600);
    worker.exit_code = Some(137);
    worker.restart_count = 3;
    worker.finished_at = Some(ago(12 * 60));
    apply(2, HostEvent::Containers(vec![api, worker]));
    apply(2, usage(&[(API_1, 3.1, 96 * MIB)]));
    apply(2, metrics(1.05, 6 * GIB, 22 * GIB));
    apply(
        2,
        probe("api", API_1, "http://127.0.0.1:9000/healthz", ProbeVerdict::Degraded, 200, "degraded", API_PROBE_BODY),
    );
    for h in 0..3 {
        apply(h, HostEvent::Ready);
    }
    state
}

pub const RECONNECT_ERROR: &str = "10.0.0.13:22 is unreachable: connection refused (os error 111)";

/// The real message of a changed host key, as the worker reports it.
pub fn host_key_changed_error() -> String {
    SshError::HostKeyChanged {
        addr: "10.0.0.12:22".into(),
        known_hosts: PathBuf::from("/home/ops/.ssh/known_hosts"),
        line: 7,
        expected: "SHA256:n4Xq0sTHbD3a1KyS5CjcU0o7Wq4Jg3kR0m9l8YbQpXc".into(),
        got: "SHA256:Zp2mV7yT0cQe4Lr8Nw1bKx6Hs3Ga9Fu5Dj2Oi7Ek4Ml".into(),
    }
    .to_string()
}

/// host-2's key changed, host-3 is reconnecting (third attempt, down for 42s).
pub fn troubled_fleet() -> FleetState {
    let mut state = fleet();
    state.apply(FleetEvent {
        host: 1,
        generation: 2,
        event: HostEvent::Conn(ConnState::HostKeyChanged { error: host_key_changed_error() }),
    });
    state.apply(FleetEvent {
        host: 2,
        generation: 2,
        event: HostEvent::Conn(ConnState::Reconnecting {
            since: ago(42),
            attempt: 3,
            last_error: RECONNECT_ERROR.into(),
        }),
    });
    state
}

pub fn keymap() -> Keymap {
    Keymap::load(None, None).unwrap_or_else(|e| panic!("{e}"))
}

/// The console over `fleet`, its clock fixed.
pub fn app_with(protected: bool, fleet: FleetState) -> App {
    let mut app = App::new(&profile(protected), false, fleet, keymap());
    app.now = now();
    app
}

pub fn app() -> App {
    app_with(false, fleet())
}
