//! A single-node swarm on a sandbox host's Docker engine (the sandbox's own dockerd; the
//! machine's main engine is never touched) and a `<prefix>_web` stack service of two
//! replicas on host networking, each slot on its own 127.0.0.1 port. Shared by the swarm
//! end-to-end tests.
#![allow(dead_code)]

use fleetdeck::deploy::swarm::STACK_LABEL;
use fleetdeck::sandbox::{http_get, Sandbox};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run docker");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text.trim().to_string())
}

/// The swarm on host-1's engine: `swarm init` on creation; on drop (also after a panic) the
/// services are removed and the engine leaves the swarm, so the engine is as it was.
pub struct SwarmGuard<'a> {
    pub sb: &'a Sandbox,
    pub services: Vec<String>,
}

impl<'a> SwarmGuard<'a> {
    pub fn init(sb: &'a Sandbox) -> SwarmGuard<'a> {
        assert_eq!(swarm_state(sb), "inactive", "the sandbox engine should not be in a swarm yet");
        // Our own port for the swarm's control plane: 2377 may be taken by another swarm.
        let listen = format!("127.0.0.1:{}", Sandbox::free_port());
        let (ok, out) =
            run(sb.docker(0).args(["swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", &listen]));
        assert!(ok, "docker swarm init on the sandbox engine failed: {out}");
        SwarmGuard { sb, services: Vec::new() }
    }

    /// `<prefix>_web`, labelled as `docker stack deploy` labels a stack's services: two
    /// replicas of web:v1, slot N listening on 127.0.0.1:{base}N. Waits until both answer.
    /// Returns the service's name and the port base.
    pub fn create_web_stack_service(&mut self) -> (String, u16) {
        let sb = self.sb;
        let service = format!("{}_web", sb.prefix);
        let base = slot_port_base();
        self.services.push(service.clone());
        let (ok, out) = run(sb
            .docker(0)
            .args(["service", "create", "--detach", "--name", &service])
            .args(["--label", &format!("{STACK_LABEL}={}", sb.prefix)])
            .args(["--replicas", "2", "--network", "host"])
            .args(["--env", &format!("PORT={base}{{{{.Task.Slot}}}}")])
            .args(["--stop-grace-period", "3s"])
            .arg("fleetdeck-demo/web:v1"));
        assert!(ok, "docker service create: {out}");
        wait_all_healthy_on(sb, &service, "fleetdeck-demo/web:v1", base, "v1");
        (service, base)
    }
}

impl Drop for SwarmGuard<'_> {
    fn drop(&mut self) {
        for s in &self.services {
            let _ = run(self.sb.docker(0).args(["service", "rm", s]));
        }
        let (ok, out) = run(self.sb.docker(0).args(["swarm", "leave", "--force"]));
        eprintln!("swarm leave: ok={ok} {out}; engine swarm state now: {}", swarm_state(self.sb));
    }
}

/// The engine's `Swarm.LocalNodeState` (`inactive` outside a swarm).
pub fn swarm_state(sb: &Sandbox) -> String {
    run(sb.docker(0).args(["info", "--format", "{{.Swarm.LocalNodeState}}"])).1
}

/// A base B such that ports B1 and B2 (`PORT={B}{{.Task.Slot}}`) are free now.
pub fn slot_port_base() -> u16 {
    for _ in 0..50 {
        let base = Sandbox::free_port() / 10;
        if !(2000..=6500).contains(&base) {
            continue;
        }
        let free = (1..=2).all(|s| TcpListener::bind(("127.0.0.1", base * 10 + s)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free pair of slot ports found");
}

/// (image, status) of the running containers of the service.
pub fn containers(sb: &Sandbox, service: &str) -> Vec<(String, String)> {
    let (ok, out) = run(sb.docker(0).args([
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
        "--format",
        "{{.Image}}|{{.Status}}",
    ]));
    assert!(ok, "{out}");
    out.lines().filter_map(|l| l.split_once('|')).map(|(i, s)| (i.to_string(), s.to_string())).collect()
}

/// The image the service's spec names.
pub fn spec_image(sb: &Sandbox, service: &str) -> String {
    run(sb.docker(0).args(["service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service])).1
}

/// Waits until both containers of the service run `image`, healthy, and each slot's
/// app answers /health with `version`.
pub fn wait_all_healthy_on(sb: &Sandbox, service: &str, image: &str, base: u16, version: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = Vec::new();
    while Instant::now() < deadline {
        last = containers(sb, service);
        let healthy = last.len() == 2 && last.iter().all(|(i, s)| i.starts_with(image) && s.contains("(healthy)"));
        let answers = (1..=2).all(|slot| {
            http_get(base * 10 + slot, "/health", Duration::from_secs(2))
                .is_some_and(|(code, body)| code == 200 && body.contains(&format!("\"version\":\"{version}\"")))
        });
        if healthy && answers {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the service's 2 replicas did not all run {image} healthy (answering {version}): {last:?}");
}
