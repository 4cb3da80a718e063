//! The deploy plan: which replicas on which hosts in which batches, the health gate for each,
//! the timeouts and the pre-deploy steps. Shown before anything changes, printed by
//! `--dry-run`, and then executed as is.

use super::hooks::Vars;
use super::journal::ReleaseKind;
use super::ports;
use crate::config::{Profile, Service};
use crate::fleet::model::FleetState;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedReplica {
    pub host_index: usize,
    pub host: String,
    pub container_id: String,
    pub container: String,
    pub image: String,
    /// The host's address in the profile (`{address}` in hooks).
    pub address: String,
    /// The port the replica listens on (`port_env`, `fleetdeck.port` label or published).
    pub port: Option<u16>,
    /// start-first: the port its replacement is planned on (checked again when it starts).
    pub new_port: Option<u16>,
}

/// The first lines of a plan: `deploy web on profile shop (PROTECTED): a -> b`, `release r…`.
pub fn heading(
    kind: ReleaseKind,
    service: &str,
    profile: &str,
    protected: bool,
    from: &str,
    to: &str,
    release_id: &str,
) -> String {
    let verb = match kind {
        ReleaseKind::Deploy => "deploy",
        ReleaseKind::Rollback => "rollback",
    };
    let protected = if protected { " (PROTECTED)" } else { "" };
    format!("{verb} {service} on profile {profile}{protected}: {from} -> {to}\nrelease {release_id}\n")
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub release_id: String,
    pub kind: ReleaseKind,
    pub profile: String,
    pub protected: bool,
    pub service: String,
    pub from_image: String,
    pub to_image: String,
    pub strategy: &'static str,
    pub batches: Vec<Vec<PlannedReplica>>,
    /// Hosts that hold the lock and the journal (every host the service runs on).
    pub hosts: Vec<String>,
    pub gate: String,
    #[serde(with = "secs")]
    pub health_timeout: Duration,
    #[serde(with = "secs")]
    pub monitor: Duration,
    #[serde(with = "secs")]
    pub stop_timeout: Duration,
    pub pre_deploy: Vec<String>,
    pub warnings: Vec<String>,
    pub message: Option<String>,
    #[serde(skip)]
    pub service_spec: Service,
    /// Backup jobs that run before this service is deployed (`before_deploy`).
    #[serde(skip)]
    pub backups: Vec<crate::config::backup::BackupJob>,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl Plan {
    pub fn replicas(&self) -> impl Iterator<Item = &PlannedReplica> {
        self.batches.iter().flatten()
    }

    /// The plan as a person reads it (the wizard shows the same lines).
    pub fn to_text(&self) -> String {
        let mut s = heading(
            self.kind,
            &self.service,
            &self.profile,
            self.protected,
            &self.from_image,
            &self.to_image,
            &self.release_id,
        );
        s += &format!(
            "strategy {} · health gate: {} · timeout {}s · monitor {}s · graceful stop {}s\n",
            self.strategy,
            self.gate,
            self.health_timeout.as_secs(),
            self.monitor.as_secs(),
            self.stop_timeout.as_secs()
        );
        s.push_str(&format!("lock and journal on: {}\n", self.hosts.join(", ")));
        for step in &self.pre_deploy {
            s.push_str(&format!("before: {step}\n"));
        }
        let d = &self.service_spec.deploy;
        if self.strategy == "start-first" {
            s.push_str(&format!(
                "start-first: each replacement starts beside its replica on a port from {}{}, passes the gate, \
                 takes the traffic (switch), and the old container is stopped {}s later and kept\n",
                d.port_range.map(|r| r.to_string()).unwrap_or_default(),
                d.port_env.as_ref().map(|v| format!(" (${v})")).unwrap_or_default(),
                d.drain.as_secs_f32()
            ));
        }
        for (i, b) in self.batches.iter().enumerate() {
            let names: Vec<String> = b.iter().map(|r| format!("{}/{} ({})", r.host, r.container, r.image)).collect();
            s.push_str(&format!("batch {}: {}\n", i + 1, names.join(", ")));
            if self.strategy != "start-first" {
                continue;
            }
            for r in b {
                let (Some(old), Some(new)) = (r.port, r.new_port) else { continue };
                s.push_str(&format!("  {}/{}: port {old} -> {new}\n", r.host, r.container));
                for (host, cmd) in self.switch_commands(r, old, new) {
                    s.push_str(&format!("    switch on {host}: {cmd}\n"));
                }
            }
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }

    /// start-first: the switch hooks moving `r`'s traffic from `from` to `to` (the rendered
    /// commands, with the host each runs on). At the switch the old container is already
    /// parked and the replacement carries the replica's name.
    pub fn switch_commands(&self, r: &PlannedReplica, from: u16, to: u16) -> Vec<(String, String)> {
        let parked = ports::parked_name(&r.container, &self.release_id);
        let vars = self.hook_vars(r, Some(to)).switch(&parked, from, &r.container, to);
        self.service_spec
            .deploy
            .switch
            .iter()
            .map(|h| {
                let host = h.host.clone().unwrap_or_else(|| r.host.clone());
                (host, vars.render(&h.run).unwrap_or_else(|e| format!("(refused: {e})")))
            })
            .collect()
    }

    /// The placeholders of a hook about replica `r` (its container listening on `port`).
    pub fn hook_vars(&self, r: &PlannedReplica, port: Option<u16>) -> Vars {
        Vars::deploy(&self.service, &self.to_image, &self.release_id, &r.host).replica(&r.address, &r.container, port)
    }
}

/// Work out the plan for deploying `image` to `service`.
pub fn make_plan(
    profile: &Profile,
    fleet: &FleetState,
    service_name: &str,
    image: &str,
    kind: ReleaseKind,
    release_id: String,
    message: Option<String>,
) -> Result<Plan, String> {
    let service = super::target::profile_service(profile, service_name)?.clone();
    let mut replicas = Vec::new();
    let mut hosts = Vec::new();
    for (hi, h) in fleet.hosts.iter().enumerate() {
        if !service.runs_on(&h.name) {
            continue;
        }
        // Containers kept (stopped) by earlier deploys are not replicas.
        let mine: Vec<_> = h
            .containers
            .iter()
            .filter(|c| service.matches(&c.name, |k| c.labels.get(k).cloned()) && !ports::is_parked(c))
            .collect();
        if mine.is_empty() {
            continue;
        }
        if !h.conn.is_connected() {
            return Err(format!(
                "{} runs {} replica(s) of {service_name} but is {}: refusing to deploy a service with a host out of reach",
                h.name,
                mine.len(),
                h.conn.label()
            ));
        }
        hosts.push(h.name.clone());
        let address = profile.host(&h.name).map(|s| s.address.get_ref().clone()).unwrap_or_else(|| h.name.clone());
        for c in mine {
            let port = ports::current_port(c, service.deploy.port_env.as_deref());
            if service.deploy.start_first
                && service.deploy.port_env.is_none()
                && !c.ports.iter().any(|p| p.host_port.is_some() && p.host_port == port)
            {
                return Err(format!(
                    "{}/{}: start-first needs port_env (the variable the app reads its port from): the replacement \
                     must listen on a port of its own beside the old replica",
                    h.name, c.name
                ));
            }
            replicas.push(PlannedReplica {
                host_index: hi,
                host: h.name.clone(),
                container_id: c.id.clone(),
                container: c.name.clone(),
                image: c.image.clone(),
                address: address.clone(),
                port,
                new_port: None,
            });
        }
    }
    if replicas.is_empty() {
        return Err(format!("service {service_name} has no containers on any connected host"));
    }
    replicas.sort_by(|a, b| (a.host.as_str(), a.container.as_str()).cmp(&(b.host.as_str(), b.container.as_str())));
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in &replicas {
        match counts.iter_mut().find(|(i, _)| *i == r.image) {
            Some(c) => c.1 += 1,
            None => counts.push((r.image.clone(), 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let from_image = counts[0].0.clone();
    let d = &service.deploy;
    if d.start_first {
        plan_ports(fleet, &service, &mut replicas)?;
    }
    let mut warnings = Vec::new();
    if replicas.len() == 1 && !d.start_first {
        warnings.push("only one replica: with stop-first the service is down while it is replaced".into());
    }
    if d.batch_size >= replicas.len() && replicas.len() > 1 && !d.start_first {
        warnings.push(format!("batch size {} replaces every replica at once: the service will be down", d.batch_size));
    }
    if counts.len() > 1 {
        warnings.push(format!(
            "replicas run different images now: {}",
            counts.iter().map(|(i, n)| format!("{i} ×{n}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if replicas.iter().all(|r| r.image == image) {
        warnings.push(format!("every replica already runs {image}: they will be recreated"));
    }
    let backup_names: Vec<String> = crate::config::backup::jobs_before_deploy(&profile.backups, service_name)
        .map(|j| format!("backup job {} on {}", j.name, j.host))
        .collect();
    let gate = match (service.probes.is_empty(), service.probes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()) {
        (true, _) => "Docker healthcheck (or running, for images without one)".to_string(),
        (false, names) => format!("Docker healthcheck + probes {} healthy", names.join(", ")),
    };
    let batches = replicas.chunks(d.batch_size.min(replicas.len().max(1))).map(|c| c.to_vec()).collect();
    Ok(Plan {
        release_id,
        kind,
        profile: profile.name.clone(),
        protected: profile.protected,
        service: service.name.clone(),
        from_image,
        to_image: image.to_string(),
        strategy: if d.start_first { "start-first" } else { "stop-first" },
        batches,
        hosts,
        gate,
        health_timeout: d.health_timeout,
        monitor: d.monitor,
        stop_timeout: d.stop_timeout,
        pre_deploy: backup_names
            .into_iter()
            .chain(
                d.pre_deploy.iter().map(|h| format!("run on {}: {}", h.host.as_deref().unwrap_or("first host"), h.run)),
            )
            .collect(),
        warnings,
        message,
        backups: crate::config::backup::jobs_before_deploy(&profile.backups, service_name).cloned().collect(),
        service_spec: service,
    })
}

/// start-first: check the service can run replacements beside its replicas, and give each
/// replacement its own port from `port_range` (distinct across hosts, so it also holds when
/// hosts share a network namespace).
fn plan_ports(fleet: &FleetState, service: &Service, replicas: &mut [PlannedReplica]) -> Result<(), String> {
    let name = &service.name;
    let d = &service.deploy;
    let range = d.port_range.ok_or_else(|| {
        format!(
            "service {name}: start-first needs port_range in [services.deploy]: each replacement runs beside the \
             replica it replaces, on a port of its own"
        )
    })?;
    if d.switch.is_empty() {
        return Err(format!(
            "service {name}: start-first needs a switch hook in [services.deploy] that moves a replica's traffic \
             to its replacement (e.g. rewrite an nginx upstream and reload nginx)"
        ));
    }
    if let Some(p) = service.probes.iter().find(|p| !p.url.contains("{port}")) {
        return Err(format!(
            "service {name}: probe {} ({}) has a fixed port: with start-first the health gate must reach the \
             replacement on its own port, so write {{port}} in the URL",
            p.name, p.url
        ));
    }
    let mut taken = std::collections::HashSet::new();
    for h in fleet.hosts.iter() {
        taken.extend(ports::claimed_ports(&h.containers, service));
    }
    for r in replicas.iter_mut() {
        if r.port.is_none() {
            return Err(format!(
                "{}/{}: its port is unknown (no {} variable, fleetdeck.port label or published port)",
                r.host,
                r.container,
                d.port_env.as_deref().unwrap_or("port_env")
            ));
        }
        let port = ports::pick(range, &taken)
            .ok_or_else(|| format!("service {name}: no free port left in port_range {range} for {}", r.container))?;
        taken.insert(port);
        r.new_port = Some(port);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::model::ContainerInfo;
    use crate::fleet::model::{ConnState, HostState};

    const HOSTS: &str = "name = \"t\"\n[[hosts]]\nname = \"host-1\"\naddress = \"10.0.0.1\"\n[[hosts]]\nname = \"host-2\"\naddress = \"10.0.0.2\"\n";
    const SWITCH: &str =
        r"switch = [{ run = 'sed -i s/:{from_port}\;/:{to_port}\;/ /etc/nginx/up.conf && nginx -s reload' }]";

    fn profile(deploy: &str) -> Profile {
        let text = format!(
            "{HOSTS}[[services]]\nname = \"web\"\ncompose_service = \"web\"\n[[services.probes]]\nurl = \"http://127.0.0.1:{{port}}/health\"\n[services.deploy]\n{deploy}\n"
        );
        Profile::parse(std::path::Path::new("t.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn web(name: &str, state: &str, port: u16) -> ContainerInfo {
        let mut c = ContainerInfo::from_inspect(Default::default());
        c.id = format!("id-{name}");
        c.name = name.into();
        c.image = "web:v1".into();
        c.state = state.into();
        c.env = vec![format!("PORT={port}")];
        c.labels.insert("com.docker.compose.service".into(), "web".into());
        c.labels.insert("fleetdeck.port".into(), port.to_string());
        c
    }

    fn fleet(hosts: Vec<Vec<ContainerInfo>>) -> FleetState {
        let hosts = hosts
            .into_iter()
            .enumerate()
            .map(|(i, containers)| {
                let mut h = HostState::new(&format!("host-{}", i + 1), "x");
                h.conn = ConnState::Connected { since: chrono::Utc::now() };
                h.containers = containers;
                h
            })
            .collect();
        FleetState::new(hosts)
    }

    fn plan(p: &Profile, f: &FleetState) -> Result<Plan, String> {
        make_plan(p, f, "web", "web:v2", ReleaseKind::Deploy, "r20261130T041700000Z-ab12".into(), None)
    }

    #[test]
    fn start_first_gives_each_replacement_its_own_port_and_shows_the_switch() {
        let p =
            profile(&format!("strategy = \"start-first\"\nport_env = \"PORT\"\nport_range = \"9100-9105\"\n{SWITCH}"));
        // A container an earlier release parked (stopped) is no replica, and its port is free again.
        let f = fleet(vec![
            vec![web("web-1", "running", 9100), web("web-1-old-Z-cd34", "exited", 9102)],
            vec![web("web-2", "running", 9101)],
        ]);
        let plan = plan(&p, &f).unwrap();
        assert_eq!(plan.strategy, "start-first");
        let ports: Vec<_> = plan.replicas().map(|r| (r.container.as_str(), r.port, r.new_port)).collect();
        assert_eq!(ports, [("web-1", Some(9100), Some(9102)), ("web-2", Some(9101), Some(9103))]);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        let text = plan.to_text();
        assert!(text.contains("strategy start-first"), "{text}");
        assert!(text.contains("on a port from 9100-9105 ($PORT)"), "{text}");
        assert!(text.contains("batch 1: host-1/web-1 (web:v1)\n  host-1/web-1: port 9100 -> 9102\n"), "{text}");
        assert!(
            text.contains(r"    switch on host-2: sed -i s/:9101\;/:9103\;/ /etc/nginx/up.conf && nginx -s reload"),
            "{text}"
        );
        assert!(!text.contains("web-1-old"), "{text}");
        // Values are quoted words in the rendered hook (a container name with a space, say).
        let r = plan.replicas().next().unwrap().clone();
        let mut odd = plan.clone();
        odd.service_spec.deploy.switch[0].run = "echo {from_container} {to_container} {address}".into();
        assert_eq!(odd.switch_commands(&r, 1, 2)[0].1, "echo web-1-old-Z-ab12 web-1 10.0.0.1");
        odd.batches[0][0].container = "web 1;$(id)".into();
        let cmd = &odd.switch_commands(&odd.batches[0][0], 1, 2)[0].1;
        assert_eq!(cmd, "echo 'web 1;$(id)-old-Z-ab12' 'web 1;$(id)' 10.0.0.1");
    }

    #[test]
    fn start_first_refuses_what_cannot_work() {
        let f = fleet(vec![vec![web("web-1", "running", 9100)], vec![web("web-2", "running", 9101)]]);
        let cases = [
            (format!("strategy = \"start-first\"\nport_env = \"PORT\"\n{SWITCH}"), "needs port_range"),
            (
                "strategy = \"start-first\"\nport_env = \"PORT\"\nport_range = \"9100-9105\"".to_string(),
                "needs a switch hook",
            ),
            (format!("strategy = \"start-first\"\nport_range = \"9100-9105\"\n{SWITCH}"), "needs port_env"),
            (
                format!("strategy = \"start-first\"\nport_env = \"PORT\"\nport_range = \"9100-9102\"\n{SWITCH}"),
                "no free port",
            ),
        ];
        for (deploy, why) in cases {
            let e = plan(&profile(&deploy), &f).unwrap_err();
            assert!(e.contains(why), "{deploy}: {e}");
        }
        let mut p =
            profile(&format!("strategy = \"start-first\"\nport_env = \"PORT\"\nport_range = \"9100-9105\"\n{SWITCH}"));
        p.services[0].probes[0].url = "http://127.0.0.1:8080/health".into();
        assert!(plan(&p, &f).unwrap_err().contains("write {port} in the URL"));
    }

    #[test]
    fn profile_refuses_bad_start_first_fields() {
        for (deploy, why) in [
            ("port_range = \"9200-9100\"", "ends before it starts"),
            ("port_range = \"http\"", "is not a TCP port"),
            ("port_env = \"PORT=1\"", "is not an environment variable name"),
            ("switch = [{ run = \"reload '{to_port}'\" }]", "inside '...'"),
            ("switch = [{ run = \"sh -c {to_container}\" }]", "runs its arguments as shell code"),
            ("post_start = [{ run = \"echo {to_port}\" }]", "unknown placeholder {to_port}"),
        ] {
            let text = format!(
                "{HOSTS}[[services]]\nname = \"web\"\ncompose_service = \"web\"\n[services.deploy]\n{deploy}\n"
            );
            let e = Profile::parse(std::path::Path::new("t.toml"), &text).unwrap_err().to_string();
            assert!(e.contains(why), "{deploy}: {e}");
        }
    }

    #[test]
    fn stop_first_plans_are_unchanged_and_skip_parked_containers() {
        let f = fleet(vec![vec![web("web-1", "running", 9100), web("web-1-old-Z-cd34", "exited", 9102)], vec![]]);
        let plan = plan(&profile(""), &f).unwrap();
        assert_eq!(plan.strategy, "stop-first");
        assert_eq!(plan.replicas().count(), 1);
        assert_eq!(plan.replicas().next().unwrap().new_port, None);
        let text = plan.to_text();
        assert!(text.contains("batch 1: host-1/web-1 (web:v1)\nwarning: only one replica"), "{text}");
    }
}
