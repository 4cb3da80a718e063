//! Ports and names for start-first deploys. A replacement runs beside the replica it
//! replaces, so on a host network (or with a published port) it needs a port of its own:
//! taken from the profile's `port_range`, handed to the app through `port_env` (and by
//! moving a published host port), and recorded in the `fleetdeck.port` label that probes
//! read. Replaced containers are kept, stopped, under a parked name.

use crate::config::profile::PortRange;
use crate::config::Service;
use crate::docker::model::ContainerInfo;
use bollard::models::ContainerCreateBody;
use std::collections::HashSet;

/// The label probes read a container's port from (`{port}` in probe URLs).
pub const PORT_LABEL: &str = "fleetdeck.port";

/// The name an old container is kept under after release `release` replaced it.
pub fn parked_name(name: &str, release: &str) -> String {
    format!("{name}-old-{}", release_tail(release))
}

/// The name a start-first replacement has until it takes over the replica's name.
pub fn new_name(name: &str, release: &str) -> String {
    format!("{name}-new-{}", release_tail(release))
}

fn release_tail(release: &str) -> String {
    let tail: String = release.chars().rev().take(6).collect();
    tail.chars().rev().collect()
}

/// A container kept (stopped) by an earlier deploy: not a replica to deploy to.
pub fn is_parked(c: &ContainerInfo) -> bool {
    let name = c.name.trim_start_matches('/');
    !c.is_running() && name.rsplit_once("-old-").is_some_and(|(base, tail)| !base.is_empty() && tail.len() == 6)
}

/// The port a container listens on, as start-first sees it: its `port_env` variable, else
/// its `fleetdeck.port` label, else its first published TCP port.
pub fn current_port(c: &ContainerInfo, port_env: Option<&str>) -> Option<u16> {
    let from_env = port_env.and_then(|var| c.env_port(var));
    from_env.or_else(|| c.labels.get(PORT_LABEL).and_then(|p| p.parse().ok())).or_else(|| c.probe_port(None))
}

/// Ports held by the containers of one host: their `fleetdeck.port` label, their
/// `port_env` variable and their published ports. Containers `service` parked earlier
/// hold none (they are removed once a deploy that replaces their successors succeeds).
pub fn claimed_ports(containers: &[ContainerInfo], service: &Service) -> HashSet<u16> {
    let port_env = service.deploy.port_env.as_deref();
    let mut out = HashSet::new();
    for c in containers {
        if is_parked(c) && service.matches(&c.name, |k| c.labels.get(k).cloned()) {
            continue;
        }
        out.extend(current_port(c, port_env));
        out.extend(c.labels.get(PORT_LABEL).and_then(|p| p.parse::<u16>().ok()));
        out.extend(c.ports.iter().filter_map(|p| p.host_port));
    }
    out
}

/// The first port of `range` not in `taken`.
pub fn pick(range: PortRange, taken: &HashSet<u16>) -> Option<u16> {
    range.ports().find(|p| !taken.contains(p))
}

/// Give a replacement's create body its own port: `port_env` is set to `new`, published
/// host ports `old` move to `new`, and the `fleetdeck.port` label says `new`. Fails when
/// neither the variable nor a published port moves (the replacement would fight the old
/// replica for its port).
pub fn retarget(body: &mut ContainerCreateBody, port_env: Option<&str>, old: u16, new: u16) -> Result<(), String> {
    let mut moved = false;
    if let Some(var) = port_env {
        let env = body.env.get_or_insert_with(Vec::new);
        env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(var));
        env.push(format!("{var}={new}"));
        moved = true;
    }
    if let Some(bindings) = body.host_config.as_mut().and_then(|h| h.port_bindings.as_mut()) {
        for b in bindings.values_mut().flatten().flatten() {
            if b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok()) == Some(old) {
                b.host_port = Some(new.to_string());
                moved = true;
            }
        }
    }
    if !moved {
        return Err(format!(
            "the replacement would listen on the old replica's port {old}: set port_env (the variable the app \
             reads its port from) in [services.deploy]"
        ));
    }
    body.labels.get_or_insert_with(Default::default).insert(PORT_LABEL.to_string(), new.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{HostConfig, PortBinding};
    use std::collections::HashMap;

    fn container(name: &str, state: &str, env: &[&str], label: Option<&str>) -> ContainerInfo {
        let mut c = ContainerInfo::from_inspect(Default::default());
        c.name = name.into();
        c.state = state.into();
        c.env = env.iter().map(|s| s.to_string()).collect();
        if let Some(l) = label {
            c.labels.insert(PORT_LABEL.into(), l.into());
        }
        c.labels.insert("com.docker.compose.service".into(), "web".into());
        c
    }

    #[test]
    fn ports_come_from_the_variable_then_the_label() {
        let c = container("web-1", "running", &["PATH=/bin", "PORT=8081"], Some("9000"));
        assert_eq!(current_port(&c, Some("PORT")), Some(8081));
        assert_eq!(current_port(&c, None), Some(9000));
        assert_eq!(current_port(&container("w", "running", &[], None), Some("PORT")), None);
    }

    #[test]
    fn parked_containers_of_the_service_hold_no_port() {
        let mut svc = crate::config::Profile::parse(
            std::path::Path::new("t.toml"),
            "name = \"t\"\n[[hosts]]\nname = \"h\"\naddress = \"x\"\n[[services]]\nname = \"web\"\ncompose_service = \"web\"\n",
        )
        .unwrap()
        .services
        .remove(0);
        svc.deploy.port_env = Some("PORT".into());
        let parked = container(&parked_name("web-1", "r2026-abcdef"), "exited", &["PORT=8100"], Some("8100"));
        assert!(is_parked(&parked));
        let running = container("web-1", "running", &["PORT=8101"], Some("8101"));
        assert!(!is_parked(&running));
        let taken = claimed_ports(&[parked, running], &svc);
        assert_eq!(taken, HashSet::from([8101]));
        assert_eq!(pick(PortRange { first: 8100, last: 8101 }, &taken), Some(8100));
        assert_eq!(pick(PortRange { first: 8101, last: 8101 }, &taken), None);
    }

    #[test]
    fn retarget_moves_the_variable_the_binding_and_the_label() {
        let mut body = ContainerCreateBody { env: Some(vec!["PORT=8080".into(), "A=1".into()]), ..Default::default() };
        retarget(&mut body, Some("PORT"), 8080, 8101).unwrap();
        assert_eq!(body.env.as_deref().unwrap(), ["A=1", "PORT=8101"]);
        assert_eq!(body.labels.as_ref().unwrap()[PORT_LABEL], "8101");

        let binding = PortBinding { host_ip: None, host_port: Some("8080".into()) };
        let mut body = ContainerCreateBody {
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([("80/tcp".to_string(), Some(vec![binding]))])),
                ..Default::default()
            }),
            ..Default::default()
        };
        retarget(&mut body, None, 8080, 8101).unwrap();
        let b = &body.host_config.unwrap().port_bindings.unwrap()["80/tcp"];
        assert_eq!(b.as_ref().unwrap()[0].host_port.as_deref(), Some("8101"));

        let e = retarget(&mut ContainerCreateBody::default(), None, 8080, 8101).unwrap_err();
        assert!(e.contains("set port_env"), "{e}");
    }
}
