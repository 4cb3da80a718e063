//! What `benches/deploy_vs_compose.rs` drives: a docker-compose project on a sandbox engine
//! (taken down on drop), the engine's container events as they happen (a `docker events`
//! child, killed on drop), a load run that is stopped on drop, and the replicas' state.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::common::{check_interrupted, interrupted};
use super::traffic::{load, LoadReport};

/// Seconds since the Unix epoch: the clock of our marks and of the engine's events.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// docker-compose (1.x, Python) against the sandbox engine only.

pub struct Compose {
    pub project: String,
    pub file: PathBuf,
    /// `unix://<sandbox engine socket>`: the only engine compose is ever pointed at.
    pub docker_host: String,
    /// (service, port): each replica listens on its own 127.0.0.1 port (host network).
    pub services: Vec<(String, u16)>,
    pub stop_grace: Duration,
    /// Whether `down` is needed on drop.
    started: bool,
}

impl Compose {
    pub fn new(project: &str, dir: &Path, socket: &Path, services: Vec<(String, u16)>, stop_grace: Duration) -> Self {
        Compose {
            project: project.to_string(),
            file: dir.join("docker-compose.yml"),
            docker_host: format!("unix://{}", socket.display()),
            services,
            stop_grace,
            started: false,
        }
    }

    /// Writes the compose file with every service on `image`: host network, PORT and the
    /// `fleetdeck.port` label (the port fleetdeck's probe URL uses), the image's own health
    /// check spelled out, and the same graceful stop as fleetdeck's profile.
    pub fn write(&self, image: &str) -> Result<(), String> {
        let mut s = String::from("version: \"2.4\"\nservices:\n");
        let grace = self.stop_grace.as_secs();
        for (name, port) in &self.services {
            s.push_str(&format!("  {name}:\n    image: {image}\n    network_mode: host\n"));
            s.push_str(&format!("    environment:\n      PORT: \"{port}\"\n"));
            s.push_str(&format!("    labels:\n      fleetdeck.port: \"{port}\"\n"));
            s.push_str("    healthcheck:\n      test: [\"CMD\", \"/bin/sh\", \"/bin/healthcheck\"]\n");
            s.push_str("      interval: 1s\n      timeout: 1s\n      retries: 2\n");
            s.push_str(&format!("    stop_grace_period: {grace}s\n"));
        }
        std::fs::write(&self.file, s).map_err(|e| format!("write {}: {e}", self.file.display()))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(std::env::var("DOCKER_COMPOSE").unwrap_or_else(|_| "docker-compose".into()));
        c.arg("-p").arg(&self.project).arg("-f").arg(&self.file).args(args);
        c.env("DOCKER_HOST", &self.docker_host).env_remove("DOCKER_CONTEXT").env_remove("DOCKER_TLS_VERIFY");
        c.env("COMPOSE_HTTP_TIMEOUT", "120").stdin(Stdio::null());
        c
    }

    /// Runs `docker-compose ARGS`; fails with its output when it fails.
    pub fn run(&mut self, args: &[&str]) -> Result<(), String> {
        self.started = true;
        let out =
            self.command(args).output().map_err(|e| format!("docker-compose (apt-get install docker-compose): {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "docker-compose {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub fn version() -> Result<String, String> {
        let out = Command::new(std::env::var("DOCKER_COMPOSE").unwrap_or_else(|_| "docker-compose".into()))
            .arg("version")
            .arg("--short")
            .output()
            .map_err(|e| format!("docker-compose is needed (apt-get install docker-compose): {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if self.started {
            let t = format!("{}", self.stop_grace.as_secs());
            match self.command(&["down", "-t", &t, "--remove-orphans"]).output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!("docker-compose down failed: {}", String::from_utf8_lossy(&o.stderr)),
                Err(e) => eprintln!("docker-compose down: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The replicas' state on the engine.

#[derive(Debug, Clone)]
pub struct Replica {
    pub name: String,
    pub id: String,
    pub image: String,
    pub healthy: bool,
}

/// The running containers of compose project `project`, by name.
pub fn replicas(docker: Command, project: &str) -> Result<Vec<Replica>, String> {
    let mut docker = docker;
    docker.args(["ps", "--no-trunc", "--filter"]).arg(format!("label=com.docker.compose.project={project}"));
    docker.args(["--format", "{{.Names}}\t{{.ID}}\t{{.Image}}\t{{.Status}}"]);
    let out = docker.output().map_err(|e| format!("docker ps: {e}"))?;
    if !out.status.success() {
        return Err(format!("docker ps: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let mut list: Vec<Replica> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4).then(|| Replica {
                name: f[0].to_string(),
                id: f[1].to_string(),
                image: f[2].to_string(),
                healthy: f[3].contains("(healthy)"),
            })
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// Waits until exactly `n` replicas run, all on `image` and healthy.
pub fn wait_replicas(
    docker: impl Fn() -> Command,
    project: &str,
    n: usize,
    image: &str,
    timeout: Duration,
) -> Result<Vec<Replica>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        check_interrupted()?;
        let list = replicas(docker(), project)?;
        if list.len() == n && list.iter().all(|r| r.healthy && r.image == image) {
            return Ok(list);
        }
        if Instant::now() > deadline {
            return Err(format!("{n} healthy replicas on {image} not seen within {timeout:?}: {list:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// The engine's container events, streamed by `docker events` while a step runs.

#[derive(Debug, Clone)]
pub struct EngineEvent {
    /// Seconds since the epoch (the event's timeNano).
    pub at: f64,
    /// create, start, kill, die, `health_status: healthy`, ...
    pub action: String,
    pub id: String,
    pub name: String,
    /// The signal of a kill event.
    pub signal: Option<String>,
}

pub struct Events {
    child: Child,
    seen: Arc<Mutex<Vec<EngineEvent>>>,
    reader: Option<JoinHandle<()>>,
}

impl Events {
    /// Streams the engine's container events from `since` (replayed from the engine's buffer,
    /// so nothing between `since` and the stream's start is missed).
    pub fn start(mut docker: Command, since: f64) -> Result<Events, String> {
        docker.args(["events", "--format", "{{json .}}", "--since", &format!("{since:.6}")]);
        for f in ["type=container", "event=create", "event=start", "event=kill", "event=die", "event=health_status"] {
            docker.args(["--filter", f]);
        }
        let mut child =
            docker.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().map_err(|e| format!("docker events: {e}"))?;
        let stdout = child.stdout.take().ok_or("docker events: no stdout")?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ev) = parse_event(&line) {
                    sink.lock().unwrap().push(ev);
                }
            }
        });
        Ok(Events { child, seen, reader: Some(reader) })
    }

    pub fn snapshot(&self) -> Vec<EngineEvent> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the events seen so far.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[EngineEvent]) -> bool,
    ) -> Result<Vec<EngineEvent>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            check_interrupted()?;
            let evs = self.snapshot();
            if done(&evs) {
                return Ok(evs);
            }
            if Instant::now() > deadline {
                return Err(format!("engine events: {what} not seen within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn parse_event(line: &str) -> Option<EngineEvent> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let attrs = &v["Actor"]["Attributes"];
    Some(EngineEvent {
        at: v["timeNano"].as_i64()? as f64 / 1e9,
        action: v["Action"].as_str()?.to_string(),
        id: v["Actor"]["ID"].as_str().or(v["id"].as_str())?.to_string(),
        name: attrs["name"].as_str().unwrap_or("").to_string(),
        signal: attrs["signal"].as_str().map(str::to_string),
    })
}

/// The first event `action` of container `id` at or after `after`.
pub fn event_at(evs: &[EngineEvent], id: &str, action: &str, after: f64) -> Option<f64> {
    evs.iter().find(|e| e.id == id && e.action == action && e.at >= after).map(|e| e.at)
}

/// The id of the first container created with name `name` at or after `after`.
pub fn created(evs: &[EngineEvent], name: &str, after: f64) -> Option<String> {
    evs.iter().find(|e| e.action == "create" && e.name == name && e.at >= after).map(|e| e.id.clone())
}

// ---------------------------------------------------------------------------------------------
// A steady load through nginx, stopped on drop.

pub struct LoadRun {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<LoadReport>>,
}

impl LoadRun {
    pub fn start(port: u16, rate: u32) -> LoadRun {
        let stop = Arc::new(AtomicBool::new(false));
        LoadRun { handle: Some(load(port, rate, stop.clone())), stop }
    }

    pub fn finish(mut self) -> Result<LoadReport, String> {
        self.stop.store(true, Ordering::Relaxed);
        let h = self.handle.take().ok_or("load already finished")?;
        let report = h.join().map_err(|_| "the load generator panicked".to_string())?;
        if interrupted() {
            return Err("interrupted".into());
        }
        Ok(report)
    }
}

impl Drop for LoadRun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
