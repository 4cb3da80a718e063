//! The demo layout started by `up` when `demo_services` is set: compose project `demo` with
//! services `web` (2 replicas), `api` (1) and `worker` (1), spread over the hosts.

use std::time::Duration;

use super::error::SandboxError;
use super::lifecycle::Sandbox;

/// How long the demo containers may take to become healthy.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(45);

/// One demo container: host index, container name, service, image tag (None: the worker).
pub(crate) fn layout(hosts: usize) -> Vec<(usize, &'static str, &'static str, Option<&'static str>)> {
    vec![
        (0, "demo-web-1", "web", Some("v1")),
        (1 % hosts, "demo-web-2", "web", Some("v1")),
        (2 % hosts, "demo-api-1", "api", Some("v1")),
        (2 % hosts, "demo-worker-1", "worker", None),
    ]
}

/// Starts the demo containers, waits until the web ones are healthy and the worker runs,
/// then puts nginx (when installed) in front of the `web` replicas.
pub(crate) fn start(sb: &Sandbox) -> Result<(), SandboxError> {
    let mut started = Vec::new();
    let mut web_ports = Vec::new();
    for (host, name, service, tag) in layout(sb.hosts.len()) {
        let id = match tag {
            Some(tag) => {
                let port = Sandbox::free_port();
                if service == "web" {
                    web_ports.push(port);
                }
                sb.run_web(host, name, tag, port, service)?
            }
            None => sb.run_worker(host, name, service)?,
        };
        started.push((host, id, tag.is_some()));
    }
    for (host, id, has_health) in started {
        if has_health {
            sb.wait_healthy(host, &id, HEALTHY_TIMEOUT)?;
        } else {
            sb.wait_running(host, &id, HEALTHY_TIMEOUT)?;
        }
    }
    if std::path::Path::new(super::nginx::NGINX).exists() {
        let port = super::nginx::start(&sb.dir, &web_ports, Sandbox::free_port())?;
        let file = super::nginx::root(&sb.dir).join("port");
        std::fs::write(&file, port.to_string()).map_err(|e| SandboxError::io("write nginx port", &file, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_wraps_around_small_fleets() {
        let three = super::layout(3);
        assert_eq!(three.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0, 1, 2, 2]);
        let one = super::layout(1);
        assert!(one.iter().all(|c| c.0 == 0));
        let two = super::layout(2);
        assert_eq!(two.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0, 1, 0, 0]);
    }
}
