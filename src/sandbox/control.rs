//! Driving a running sandbox: Docker and ssh commands per host, starting demo containers,
//! waiting for health, and breaking things on purpose (dropped connections, unreachable host,
//! changed host key).

use std::process::Command;
use std::time::{Duration, Instant};

use super::engine::docker_command;
use super::error::SandboxError;
use super::images::{web_image, IDLE_IMAGE, IDLE_TAG, WORKER_IMAGE, WORKER_TAG};
use super::lifecycle::Sandbox;
use super::state::SandboxHost;
use super::{net, procs, sshd};

impl Sandbox {
    /// Host `host` (0-based: `hosts[0]` is `host-1`). Panics with a clear message if out of range.
    pub fn host(&self, host: usize) -> &SandboxHost {
        self.hosts
            .get(host)
            .unwrap_or_else(|| panic!("sandbox has {} hosts (0-based index), no host {host}", self.hosts.len()))
    }

    /// `docker -H unix://<socket>` of host `host` (0-based), ready for more arguments.
    pub fn docker(&self, host: usize) -> Command {
        docker_command(self.host(host))
    }

    /// The real OpenSSH client logging in as root to host `host` (0-based) with the sandbox's
    /// key, known_hosts and strict host-key checking, ready for the remote command.
    pub fn ssh(&self, host: usize) -> Command {
        let h = self.host(host);
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg(&self.ssh_config)
            .arg("-i")
            .arg(&self.client_key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=5",
                "-o",
                "LogLevel=ERROR",
                "-p",
            ])
            .arg(h.ssh_port.to_string())
            .arg("root@127.0.0.1");
        cmd
    }

    /// Starts a web replica on host `host` (0-based): container `name`, image
    /// `fleetdeck-demo/web:<tag>` (or `tag` itself if it holds `:` or `/`), listening on
    /// 127.0.0.1:`port` (host network), `--restart unless-stopped`, labelled
    /// `com.docker.compose.project=demo`, `com.docker.compose.service=<service>`,
    /// `fleetdeck.port=<port>`. Returns the container id (health is not awaited; see
    /// [`wait_healthy`](Sandbox::wait_healthy)).
    pub fn run_web(
        &self,
        host: usize,
        name: &str,
        tag: &str,
        port: u16,
        service: &str,
    ) -> Result<String, SandboxError> {
        self.run_container(host, name, &web_image(tag), service, Some(port))
    }

    /// Starts a worker (`fleetdeck-demo/worker:v1`, no health check, no port) on host `host`
    /// (0-based), labelled like [`run_web`](Sandbox::run_web). Returns the container id.
    pub fn run_worker(&self, host: usize, name: &str, service: &str) -> Result<String, SandboxError> {
        self.run_container(host, name, &format!("{WORKER_IMAGE}:{WORKER_TAG}"), service, None)
    }

    /// Starts an idle container (`fleetdeck-demo/idle:v1`: only sleeps; no logs, no health
    /// check, no port) on host `host` (0-based), labelled like [`run_web`](Sandbox::run_web).
    /// Returns the container id.
    pub fn run_idle(&self, host: usize, name: &str, service: &str) -> Result<String, SandboxError> {
        self.run_container(host, name, &format!("{IDLE_IMAGE}:{IDLE_TAG}"), service, None)
    }

    /// Writes a fleetdeck profile like `profile.toml` but listing only the hosts `hosts`
    /// (0-based indexes, in that order) to `path`, e.g. to watch part of a large sandbox.
    pub fn write_profile(&self, path: &std::path::Path, hosts: &[usize]) -> Result<(), SandboxError> {
        let hosts: Vec<SandboxHost> = hosts.iter().map(|&i| self.host(i).clone()).collect();
        let text = super::profile::render(&super::profile::ProfileInput {
            name: "sandbox",
            client_key: &self.client_key,
            known_hosts: &self.known_hosts,
            ssh_config: &self.ssh_config,
            hosts: &hosts,
            nginx_access_log: None,
            backups: None,
        });
        std::fs::write(path, text).map_err(|e| SandboxError::io("write profile", path, e))
    }

    fn run_container(
        &self,
        host: usize,
        name: &str,
        image: &str,
        service: &str,
        port: Option<u16>,
    ) -> Result<String, SandboxError> {
        let mut cmd = self.docker(host);
        cmd.args(["run", "-d", "--name", name, "--network", "host", "--restart", "unless-stopped"]);
        cmd.args(["--label", "com.docker.compose.project=demo", "--label"]);
        cmd.arg(format!("com.docker.compose.service={service}"));
        if let Some(port) = port {
            cmd.arg("-e").arg(format!("PORT={port}"));
            cmd.arg("--label").arg(format!("fleetdeck.port={port}"));
        }
        cmd.arg(image);
        let out = procs::run(&mut cmd, &format!("start container {name}"), Duration::from_secs(60))
            .map_err(|e| e.on_host(&self.host(host).name))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The container's state and health as Docker reports them: `(status, health)`, e.g.
    /// `("running", Some("healthy"))`; health is `None` without a health check.
    pub fn container_state(&self, host: usize, id: &str) -> Result<(String, Option<String>), SandboxError> {
        let mut cmd = self.docker(host);
        cmd.args(["inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id]);
        let out = procs::run(&mut cmd, &format!("inspect container {id}"), Duration::from_secs(20))
            .map_err(|e| e.on_host(&self.host(host).name))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        let status = words.next().unwrap_or("").to_string();
        Ok((status, words.next().map(str::to_string)))
    }

    /// Waits until Docker reports the container healthy (up to `timeout`).
    pub fn wait_healthy(&self, host: usize, id: &str, timeout: Duration) -> Result<(), SandboxError> {
        self.wait_state(host, id, timeout, "healthy", |_, health| health == Some("healthy"))
    }

    /// Waits until the container runs (up to `timeout`).
    pub fn wait_running(&self, host: usize, id: &str, timeout: Duration) -> Result<(), SandboxError> {
        self.wait_state(host, id, timeout, "running", |status, _| status == "running")
    }

    fn wait_state(
        &self,
        host: usize,
        id: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&str, Option<&str>) -> bool,
    ) -> Result<(), SandboxError> {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, health) = self.container_state(host, id)?;
            if done(&status, health.as_deref()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let logs = self
                    .docker(host)
                    .args(["logs", "--tail", "10", id])
                    .output()
                    .map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
                    .unwrap_or_default();
                return Err(SandboxError::new(
                    format!("wait until container {id} is {what}"),
                    format!(
                        "still {status} {} after {timeout:?}; last log lines:\n{}",
                        health.unwrap_or_default(),
                        super::error::tail(&logs, 10)
                    ),
                )
                .on_host(&self.host(host).name));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the per-connection sshd processes of host `host` (0-based), not the listener:
    /// every client connection to it drops at once, new ones are accepted.
    pub fn kill_ssh_connections(&self, host: usize) {
        sshd::kill_connections(self.host(host));
    }

    /// Stops host `host`'s sshd and drops its connections: the host becomes unreachable over
    /// SSH (its Docker engine and containers keep running).
    pub fn stop_sshd(&self, host: usize) {
        sshd::stop(self.host(host));
    }

    /// Starts host `host`'s sshd again (same port, same host key unless rotated) and waits until
    /// it answers.
    pub fn start_sshd(&self, host: usize) -> Result<(), SandboxError> {
        sshd::start(self.host(host))
    }

    /// Gives host `host` a new ed25519 host key and restarts its sshd (current connections drop,
    /// so clients reconnect and meet the new key). known_hosts is NOT updated: strict clients
    /// must now refuse the host as "host key changed".
    pub fn rotate_host_key(&self, host: usize) -> Result<(), SandboxError> {
        let h = self.host(host);
        sshd::stop(h);
        sshd::keygen(&h.host_key, &format!("fleetdeck-sandbox-{}-rotated", h.name)).map_err(|e| e.on_host(&h.name))?;
        sshd::start(h)
    }

    /// A free TCP port on 127.0.0.1, never the same twice in this process.
    pub fn free_port() -> u16 {
        net::free_port()
    }
}
