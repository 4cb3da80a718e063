//! Which engine deploys a service: fleetdeck's own rolling deploy of the service's containers
//! ([`make_plan`](super::plan::make_plan) and [`Runner`](super::runner::Runner)), or, for a
//! Swarm service, the engine's own rolling update ([`swarm::plan`](super::swarm::plan) and
//! [`SwarmRunner`](super::swarm::SwarmRunner)). Both front ends ask here first.
//!
//! How the Swarm manager is found: every connected host the service runs on (the profile's
//! `hosts` of the service, all hosts when it names none) is asked, in profile order, for the
//! Swarm service that stands for it ([`find_swarm_service`]: the service of that name, else
//! the one labelled `fleetdeck.service=<name>`, else the stack's `<stack>_<name>`). Only a
//! manager's engine can answer (a worker's or a standalone engine's refuses to list
//! services), so a profile must list at least one manager among the service's hosts. The
//! first host that finds it is the manager fleetdeck talks to: the update and the rollback
//! go through its engine, and the deploy lock and the release journal are kept there. Other
//! managers of the same swarm find the same service (same id) and are not used; hosts that
//! find different Swarm services for the name (two swarms) make the target ambiguous, and
//! fleetdeck refuses rather than guess. When no host finds one, the service is deployed as
//! containers.

use super::runner::HostHandle;
use super::swarm::find_swarm_service;
use crate::config::{Profile, Service as ServiceConfig};
use bollard::models::Service;
use std::time::Duration;

/// How long one host may take to say whether it has the Swarm service.
const ASK_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a deploy of a service goes.
pub enum Target {
    /// fleetdeck replaces the service's containers itself, batch by batch behind its gates.
    Containers,
    /// The service is a Swarm service: the engine updates it.
    Swarm(Box<SwarmTarget>),
}

/// A Swarm service and the manager fleetdeck reaches it through.
pub struct SwarmTarget {
    /// The manager host: the update goes through its engine; lock and journal live there.
    pub manager: HostHandle,
    /// The Swarm service as the manager's engine reported it.
    pub service: Service,
}

impl SwarmTarget {
    /// The Swarm service's name on the engine (e.g. `shop_web` for fleetdeck's `web`).
    pub fn service_name(&self) -> String {
        self.service.spec.as_ref().and_then(|s| s.name.clone()).or_else(|| self.service.id.clone()).unwrap_or_default()
    }
}

/// The profile's service named `name`.
pub fn profile_service<'a>(profile: &'a Profile, name: &str) -> Result<&'a ServiceConfig, String> {
    profile.services.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = profile.services.iter().map(|s| s.name.as_str()).collect();
        format!("no service {name:?} in profile {} (services: {})", profile.name, names.join(", "))
    })
}

/// Whether `service` is deployed as containers or through a Swarm manager (see the module
/// documentation for how the manager is found). `hosts` are the profile's hosts, connected or
/// not.
pub async fn find_target(profile: &Profile, hosts: &[HostHandle], service: &str) -> Result<Target, String> {
    let config = profile_service(profile, service)?;
    let mut found: Vec<(HostHandle, Service)> = Vec::new();
    for h in hosts.iter().filter(|h| config.runs_on(&h.name)) {
        let Some((session, docker)) = h.link.current() else { continue };
        if session.is_closed() {
            continue;
        }
        match tokio::time::timeout(ASK_TIMEOUT, find_swarm_service(&docker, service)).await {
            Ok(Some(s)) => found.push((h.clone(), s)),
            Ok(None) => {}
            Err(_) => log::warn!("{}: no answer about Swarm services within {}s", h.name, ASK_TIMEOUT.as_secs()),
        }
    }
    pick(found, service)
}

fn pick(found: Vec<(HostHandle, Service)>, service: &str) -> Result<Target, String> {
    let mut ids: Vec<&str> = found.iter().map(|(_, s)| s.id.as_deref().unwrap_or("")).collect();
    ids.dedup();
    if ids.len() > 1 {
        let seen: Vec<String> = found
            .iter()
            .map(|(h, s)| {
                let name = s.spec.as_ref().and_then(|sp| sp.name.as_deref()).unwrap_or("?");
                format!("{name} on {}", h.name)
            })
            .collect();
        return Err(format!(
            "{service} stands for different Swarm services on different swarms ({}): fleetdeck does not guess which to deploy; give each swarm its own service in the profile (hosts = [...])",
            seen.join(", ")
        ));
    }
    Ok(match found.into_iter().next() {
        Some((manager, service)) => Target::Swarm(Box::new(SwarmTarget { manager, service })),
        None => Target::Containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ServiceSpec;

    fn found(host: &str, id: &str, name: &str) -> (HostHandle, Service) {
        let h = HostHandle { name: host.into(), state_dir: "/s".into(), link: Default::default() };
        let spec = ServiceSpec { name: Some(name.into()), ..Default::default() };
        (h, Service { id: Some(id.into()), spec: Some(spec), ..Default::default() })
    }

    #[test]
    fn the_first_manager_that_finds_the_service_is_used() {
        assert!(matches!(pick(vec![], "web"), Ok(Target::Containers)));
        // Two managers of one swarm: the same service; the first host in profile order.
        let t = pick(vec![found("m1", "svc1", "shop_web"), found("m2", "svc1", "shop_web")], "web").unwrap();
        let Target::Swarm(t) = t else { panic!("a swarm target") };
        assert_eq!((t.manager.name.as_str(), t.service_name()), ("m1", "shop_web".to_string()));
        // Two swarms with a `web` each: refused, no guess.
        let Err(e) = pick(vec![found("a", "x", "web"), found("b", "y", "web")], "web") else {
            panic!("ambiguous targets are refused")
        };
        assert!(e.contains("web on a, web on b"), "{e}");
    }

    #[test]
    fn unknown_services_are_named_with_the_profile_s_services() {
        let p = Profile::parse(
            std::path::Path::new("p.toml"),
            "name = \"p\"\n[[hosts]]\nname = \"h\"\naddress = \"127.0.0.1\"\n[[services]]\nname = \"web\"\ncompose_service = \"web\"\n",
        )
        .unwrap();
        assert_eq!(profile_service(&p, "web").unwrap().name, "web");
        assert_eq!(profile_service(&p, "api").unwrap_err(), "no service \"api\" in profile p (services: web)");
    }
}
