//! Health classification: one verdict per replica (Docker state + HEALTHCHECK + probes +
//! whether its host is reachable), and per-service rollups such as `web 3/4 healthy`.

use super::model::{FleetState, HostState, ProbeVerdict};
use crate::config::Service;
use crate::docker::model::ContainerInfo;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Starting,
    Degraded,
    Unhealthy,
    Down,
    /// Its host cannot be reached: the last known state is stale.
    Unknown,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Starting => "starting",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// One container of a service, with its verdict and the reason for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replica {
    pub host: String,
    #[serde(skip)]
    pub host_index: usize,
    pub container_id: String,
    pub container: String,
    pub image: String,
    pub health: Health,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSummary {
    pub name: String,
    /// Declared in the profile (false: containers grouped by their compose labels or name).
    pub configured: bool,
    /// A profile service that runs outside Docker: it names only log files or journald
    /// units, so it has no replicas and no health of its own.
    pub logs_only: bool,
    pub health: Health,
    pub healthy: usize,
    pub total: usize,
    pub replicas: Vec<Replica>,
}

/// The verdict for one container on `host`.
pub fn replica_health(host: &HostState, c: &ContainerInfo) -> (Health, String) {
    if !host.conn.is_connected() {
        // the replica row names the host already: say what is wrong with it
        return (Health::Unknown, host.conn.label().to_string());
    }
    if c.state != "running" {
        let reason = match c.exit_code {
            Some(code) if c.state == "exited" => format!("exited ({code})"),
            _ => c.state.clone(),
        };
        return (Health::Down, reason);
    }
    match c.health.as_deref() {
        Some("unhealthy") => {
            let out = c.health_output.clone().unwrap_or_default();
            return (Health::Unhealthy, format!("healthcheck failing: {}", first_line(&out)));
        }
        Some("starting") => return (Health::Starting, "healthcheck starting".into()),
        _ => {}
    }
    let mut worst: Option<(ProbeVerdict, String)> = None;
    for p in host.probes_for(&c.id) {
        let why = match (&p.error, &p.status_value, p.http_status) {
            (Some(e), _, _) => format!("probe {}: {e}", p.probe),
            (None, Some(v), _) => format!("probe {}: {v}", p.probe),
            (None, None, Some(s)) => format!("probe {}: HTTP {s}", p.probe),
            _ => format!("probe {}", p.probe),
        };
        if worst.as_ref().is_none_or(|(v, _)| p.verdict > *v) {
            worst = Some((p.verdict, why));
        }
    }
    match worst {
        Some((ProbeVerdict::Unhealthy, why)) => (Health::Unhealthy, why),
        Some((ProbeVerdict::Degraded, why)) => (Health::Degraded, why),
        _ => (Health::Healthy, if c.health.is_some() { "healthcheck ok".into() } else { "running".into() }),
    }
}

fn first_line(s: &str) -> &str {
    crate::text::head(s.lines().next().unwrap_or(""), 120)
}

/// Group every container of the fleet into services: the profile's first, then the rest by
/// compose project/service label, or by container name.
pub fn summarize(services: &[Service], fleet: &FleetState) -> Vec<ServiceSummary> {
    let mut out: Vec<ServiceSummary> = services
        .iter()
        .map(|s| ServiceSummary {
            name: s.name.clone(),
            configured: true,
            logs_only: false,
            health: Health::Down,
            healthy: 0,
            total: 0,
            replicas: vec![],
        })
        .collect();
    let mut extra: Vec<ServiceSummary> = Vec::new();
    for (hi, host) in fleet.hosts.iter().enumerate() {
        for c in &host.containers {
            let (health, reason) = replica_health(host, c);
            let replica = Replica {
                host: host.name.clone(),
                host_index: hi,
                container_id: c.id.clone(),
                container: c.name.clone(),
                image: c.image.clone(),
                health,
                reason,
            };
            let idx =
                services.iter().position(|s| s.runs_on(&host.name) && s.matches(&c.name, |k| c.labels.get(k).cloned()));
            match idx {
                Some(i) => out[i].replicas.push(replica),
                None => {
                    let group = unprofiled_group(c);
                    match extra.iter_mut().find(|s| s.name == group) {
                        Some(s) => s.replicas.push(replica),
                        None => extra.push(ServiceSummary {
                            name: group,
                            configured: false,
                            logs_only: false,
                            health: Health::Down,
                            healthy: 0,
                            total: 0,
                            replicas: vec![replica],
                        }),
                    }
                }
            }
        }
    }
    extra.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(extra);
    for s in &mut out {
        s.total = s.replicas.len();
        s.healthy = s.replicas.iter().filter(|r| r.health == Health::Healthy).count();
        s.health = rollup(&s.replicas);
    }
    for (s, svc) in out.iter_mut().zip(services) {
        let no_containers =
            svc.compose_project.is_none() && svc.compose_service.is_none() && svc.container_name.is_none();
        if s.replicas.is_empty() && no_containers && (!svc.log_files.is_empty() || !svc.journald_units.is_empty()) {
            s.logs_only = true;
            s.health = Health::Unknown;
        }
    }
    out
}

/// A service is healthy when every replica is; down when none runs; unknown when its hosts
/// cannot be reached; otherwise the worst of its replicas, softened to degraded while at
/// least one replica is still healthy.
fn rollup(replicas: &[Replica]) -> Health {
    if replicas.is_empty() {
        return Health::Down;
    }
    if replicas.iter().all(|r| r.health == Health::Healthy) {
        return Health::Healthy;
    }
    if replicas.iter().all(|r| r.health == Health::Unknown) {
        return Health::Unknown;
    }
    let healthy = replicas.iter().filter(|r| r.health == Health::Healthy).count();
    // Some replicas cannot be seen: the service is not known to be healthy.
    if healthy > 0 && replicas.iter().any(|r| r.health == Health::Unknown) {
        return Health::Degraded;
    }
    let worst = replicas.iter().map(|r| r.health).filter(|h| *h != Health::Unknown).max().unwrap_or(Health::Unknown);
    if healthy > 0 && worst > Health::Degraded {
        Health::Degraded
    } else if replicas.iter().all(|r| r.health == Health::Down) {
        Health::Down
    } else {
        worst
    }
}

/// The group a container that no profile service takes is shown in: its Swarm service
/// (`swarm/NAME`), its compose project and service (`project/service`), or its own name.
pub fn unprofiled_group(c: &crate::docker::model::ContainerInfo) -> String {
    let swarm = c.labels.get(crate::config::profile::SWARM_SERVICE_LABEL);
    match (&c.compose_project, &c.compose_service, swarm) {
        (_, _, Some(swarm)) => format!("swarm/{swarm}"),
        (Some(p), Some(s), _) => format!("{p}/{s}"),
        _ => c.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(h: Health) -> Replica {
        Replica {
            host: "h".into(),
            host_index: 0,
            container_id: "c".into(),
            container: "c".into(),
            image: "i".into(),
            health: h,
            reason: String::new(),
        }
    }

    #[test]
    fn rollups() {
        use Health::*;
        assert_eq!(rollup(&[]), Down);
        assert_eq!(rollup(&[r(Healthy), r(Healthy)]), Healthy);
        assert_eq!(rollup(&[r(Healthy), r(Down)]), Degraded);
        assert_eq!(rollup(&[r(Down), r(Down)]), Down);
        assert_eq!(rollup(&[r(Unhealthy), r(Down)]), Down);
        assert_eq!(rollup(&[r(Starting), r(Unhealthy)]), Unhealthy);
        assert_eq!(rollup(&[r(Unknown), r(Unknown)]), Unknown);
        assert_eq!(rollup(&[r(Healthy), r(Degraded)]), Degraded);
        assert_eq!(rollup(&[r(Healthy), r(Unknown)]), Degraded);
    }

    #[test]
    fn swarm_tasks_belong_to_the_service_their_swarm_service_stands_for() {
        let text = "name = \"p\"\n[[hosts]]\nname = \"h\"\naddress = \"10.0.0.1\"\n\
                    [[services]]\nname = \"web\"\ncompose_service = \"web\"\n\
                    [[services]]\nname = \"api\"\ncompose_service = \"api\"\n";
        let profile = crate::config::Profile::parse(std::path::Path::new("p.toml"), text).unwrap();
        fn task(swarm: &'static str) -> impl Fn(&str) -> Option<String> {
            move |k: &str| (k == crate::config::profile::SWARM_SERVICE_LABEL).then(|| swarm.to_string())
        }
        let (web, api) = (&profile.services[0], &profile.services[1]);
        assert!(web.matches("shop_web.1.x", task("shop_web")), "a stack's <stack>_web");
        assert!(web.matches("web.2.y", task("web")), "named like the service");
        assert!(!web.matches("shop_webhooks.1.z", task("shop_webhooks")));
        assert!(!web.matches("webx.1.z", task("webx")));
        assert!(!api.matches("shop_web.1.x", task("shop_web")));
        // a plain compose container still matches by its compose labels
        let compose = |k: &str| (k == "com.docker.compose.service").then(|| "web".to_string());
        assert!(web.matches("shop-web-1", compose));
    }

    #[test]
    fn a_service_outside_docker_has_no_health_of_its_own() {
        let text = "name = \"p\"\n[[hosts]]\nname = \"h\"\naddress = \"10.0.0.1\"\n\
                    [[services]]\nname = \"web\"\ncompose_service = \"web\"\n\
                    [[services]]\nname = \"nginx\"\nlog_files = [\"/var/log/nginx/access.log\"]\n";
        let profile = crate::config::Profile::parse(std::path::Path::new("p.toml"), text).unwrap();
        let fleet = FleetState::new(vec![crate::fleet::model::HostState::new("h", "10.0.0.1")]);
        let out = summarize(&profile.services, &fleet);
        assert_eq!((out[0].name.as_str(), out[0].logs_only, out[0].health), ("web", false, Health::Down));
        assert_eq!((out[1].name.as_str(), out[1].logs_only, out[1].health), ("nginx", true, Health::Unknown));
    }
}
