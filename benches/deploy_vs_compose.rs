//! Rolling deploy vs compose (`cargo bench --bench deploy_vs_compose`): failed requests and
//! duration of replacing the same two web replicas, v1 -> v2, behind the same nginx under the
//! same steady load, in one run; and fleetdeck's overhead per replica beyond health waits,
//! graceful stops and monitor windows.
//!
//! One sandbox host (sshd + its own dockerd on loopback). A compose project `<prefix>-bench`
//! with two services, web1 and web2 (`fleetdeck-demo/web`, host network, each on its own
//! 127.0.0.1 port through PORT, the image's health check spelled out, stop_grace_period 2 s),
//! is run with `docker-compose` (1.x) against the sandbox engine only
//! (`DOCKER_HOST=unix://<sandbox socket>`). Debian's nginx proxies to both ports
//! (tests/common/traffic.rs: retries the other replica on a refused connection) and a load
//! generator sends FLEETDECK_DEPLOY_BENCH_RATE (default 50) requests a second through it,
//! one at a time. Every round (FLEETDECK_DEPLOY_BENCH_ROUNDS, default 3):
//!   1. compose: both replicas on v1 and healthy (recreated with compose when they are not);
//!      the file switched to v2 and `docker-compose up -d --force-recreate`; timed until both
//!      new containers are healthy (the engine's `health_status: healthy` events);
//!   2. fleetdeck: both replicas reset to v1 with compose (not measured), then the release
//!      binary's `fleetdeck deploy web --image fleetdeck-demo/web:v2 --yes` on a profile whose
//!      service `web` matches the project's containers by `compose_project` only (stop-first,
//!      batches of 1, a /health probe with status_field, monitor 1 s, stop_timeout 2 s),
//!      timed from spawn to exit.
//!
//! The load runs from 1 s before each measured step to 1 s after it; every failed request
//! in that window counts. The engine's container events (kill, die, create, start, health)
//! are streamed during each step, and fleetdeck's progress lines are time-stamped as they
//! are printed; together they split each replica's time (see `print_formula`).
//!
//! Numbers are printed, never asserted (the run fails only when a step itself fails).

mod common;
#[path = "deploy_support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "../tests/common/traffic.rs"]
mod traffic;

use common::*;
use fleetdeck::sandbox::{check_prerequisites, web_image, Sandbox, SandboxSpec};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use traffic::LoadReport;

/// The release binary cargo built for this bench.
const BIN: &str = env!("CARGO_BIN_EXE_fleetdeck");
/// fleetdeck's monitor window after each batch (the profile's `monitor`).
const MONITOR: Duration = Duration::from_secs(1);
/// Graceful stop for both: compose's stop_grace_period and fleetdeck's stop_timeout.
const STOP_GRACE: Duration = Duration::from_secs(2);
const HEALTHY: &str = "health_status: healthy";
const TIMEOUT: Duration = Duration::from_secs(90);

fn main() {
    install_interrupt_handler();
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("deploy_vs_compose bench failed: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// One replica's moments in a measured step, in seconds from the step's start.
#[derive(Debug, Clone, Default)]
struct ReplicaTimes {
    name: String,
    /// The engine: SIGTERM to the old container, its exit, the new one started, and healthy.
    kill: f64,
    die: f64,
    start: f64,
    docker_healthy: f64,
    /// fleetdeck's progress lines (0 for compose).
    replacing: f64,
    waiting: f64,
    healthy: f64,
}

impl ReplicaTimes {
    fn stop(&self) -> f64 {
        self.die - self.kill
    }
    fn gate(&self) -> f64 {
        self.healthy - self.waiting
    }
    fn docker_health(&self) -> f64 {
        self.docker_healthy - self.start
    }
}

/// The stretch of a step during which requests failed, in seconds from the step's start.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: f64,
    to: f64,
    /// Requests sent in it, and how many of them failed.
    sent: usize,
    failed: usize,
}

fn failure_span(report: &LoadReport, t0: Instant) -> Option<Span> {
    let at = |i: Instant| match i.checked_duration_since(t0) {
        Some(d) => d.as_secs_f64(),
        None => -t0.duration_since(i).as_secs_f64(),
    };
    let first = report.outcomes.iter().position(|o| !o.1)?;
    let last = report.outcomes.iter().rposition(|o| !o.1)?;
    let span = &report.outcomes[first..=last];
    Some(Span {
        from: at(span[0].0),
        to: at(span[span.len() - 1].0),
        sent: span.len(),
        failed: span.iter().filter(|o| !o.1).count(),
    })
}

struct Step {
    report: LoadReport,
    /// compose: until both replicas are healthy; fleetdeck: the process's wall time.
    duration: f64,
    /// compose: until `docker-compose up` exited; fleetdeck: until its first output line
    /// (start, connect, plan).
    first: f64,
    replicas: Vec<ReplicaTimes>,
    /// Time during which no replica ran (the old ones exited, the new ones not started).
    none_running: f64,
    /// fleetdeck: monitor windows run (its "monitoring batch" lines).
    monitors: usize,
    /// From the first to the last failed request.
    failures: Option<Span>,
    timeline: Vec<(f64, String)>,
}

impl Step {
    fn sum(&self, f: fn(&ReplicaTimes) -> f64) -> f64 {
        self.replicas.iter().map(f).sum()
    }
    fn n(&self) -> f64 {
        self.replicas.len().max(1) as f64
    }
    /// (duration − health gates − graceful stops − monitor windows) / replicas.
    fn overhead(&self) -> f64 {
        (self.duration - self.sum(ReplicaTimes::gate) - self.sum(ReplicaTimes::stop) - self.monitor_total()) / self.n()
    }
    /// The same with Docker's own health time (start → healthy) instead of the gate's.
    fn overhead_strict(&self) -> f64 {
        (self.duration - self.sum(ReplicaTimes::docker_health) - self.sum(ReplicaTimes::stop) - self.monitor_total())
            / self.n()
    }
    fn monitor_total(&self) -> f64 {
        self.monitors as f64 * MONITOR.as_secs_f64()
    }
}

fn run() -> Result<(), String> {
    let rounds: usize = env_or("FLEETDECK_DEPLOY_BENCH_ROUNDS", 3).max(1);
    let rate: u32 = env_or("FLEETDECK_DEPLOY_BENCH_RATE", 50u32).clamp(1, 500);
    check_prerequisites().map_err(|e| e.to_string())?;
    let compose_version = Compose::version()?;
    let load_at_start = loadavg();
    println!("deploy vs compose: {rounds} round(s), {rate} req/s through nginx, docker-compose {compose_version}");
    println!("load average at start: {load_at_start} ({} CPUs); fleetdeck binary: {BIN}", cpus());

    let tmp = temp_dir("deploy");
    let sb = Sandbox::up(SandboxSpec::new(1, tmp.path().join("sb"))).map_err(|e| e.to_string())?;
    let docker = || sb.docker(0);
    let project = format!("{}-bench", sb.prefix);
    let services: Vec<(String, u16)> = (1..=2).map(|i| (format!("web{i}"), Sandbox::free_port())).collect();
    let ports: Vec<u16> = services.iter().map(|s| s.1).collect();
    let dir = tmp.path().join("compose");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut compose = Compose::new(&project, &dir, &sb.hosts[0].docker_socket, services, STOP_GRACE);
    compose.write(&web_image("v1"))?;
    compose.run(&["up", "-d"])?;
    wait_replicas(docker, &project, 2, &web_image("v1"), TIMEOUT)?;
    let ng = traffic::nginx(&tmp.path().join("nginx"), &ports);
    traffic::get(ng.port).map_err(|e| format!("nginx in front of the replicas: {e}"))?;
    println!("sandbox {}, compose project {project} on ports {ports:?}, nginx on {}", sb.prefix, ng.port);
    let profile = write_profile(&sb, &project, tmp.path())?;
    let audit = tmp.path().join("audit.jsonl");

    let (mut composes, mut fleets) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        println!("\n--- round {round} of {rounds}");
        let c = compose_step(&sb, &mut compose, ng.port, rate)?;
        println!(
            "compose:   {} of {} requests failed; both healthy again after {:.2} s",
            c.report.failed, c.report.sent, c.duration
        );
        composes.push(c);
        let f = fleet_step(&sb, &mut compose, ng.port, rate, &profile, &audit, tmp.path())?;
        println!(
            "fleetdeck: {} of {} requests failed; deploy took {:.2} s; overhead {:.2} s per replica",
            f.report.failed,
            f.report.sent,
            f.duration,
            f.overhead()
        );
        fleets.push(f);
    }
    for (i, (c, f)) in composes.iter().zip(&fleets).enumerate() {
        print_timeline(&format!("round {} compose", i + 1), c);
        print_timeline(&format!("round {} fleetdeck", i + 1), f);
    }
    print_formula();
    let rows = table(&composes, &fleets, rate, &load_at_start);
    println!();
    print_table(&rows);
    let path = write_results("deploy_vs_compose", &rows).map_err(|e| e.to_string())?;
    println!("\nresults: {}", path.display());
    Ok(())
}

/// The sandbox profile's hosts and SSH settings, with one service `web` matched by the compose
/// project alone (so both web1 and web2 are its replicas).
fn write_profile(sb: &Sandbox, project: &str, dir: &Path) -> Result<std::path::PathBuf, String> {
    let text = std::fs::read_to_string(&sb.profile_path).map_err(|e| e.to_string())?;
    let base = text.split("[[services]]").next().unwrap_or_default();
    let path = dir.join("deploy.toml");
    let service = format!(
        "\n[[services]]\nname = \"web\"\ncompose_project = \"{project}\"\n\n[[services.probes]]\n\
         url = \"http://127.0.0.1:{{port}}/health\"\nstatus_field = \"status\"\n\n[services.deploy]\n\
         health_timeout = \"30s\"\nmonitor = \"{}s\"\nstop_timeout = \"{}s\"\n",
        MONITOR.as_secs(),
        STOP_GRACE.as_secs()
    );
    std::fs::write(&path, format!("{base}{service}")).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Both replicas on v1 and healthy: recreated by compose unless they already are.
fn reset(sb: &Sandbox, compose: &mut Compose) -> Result<Vec<Replica>, String> {
    let v1 = web_image("v1");
    let now = replicas(sb.docker(0), &compose.project)?;
    if now.len() == 2 && now.iter().all(|r| r.healthy && r.image == v1) {
        return Ok(now);
    }
    compose.write(&v1)?;
    compose.run(&["up", "-d", "--force-recreate"])?;
    wait_replicas(|| sb.docker(0), &compose.project, 2, &v1, TIMEOUT)
}

/// The engine's side of each replica's replacement in a step that started at `t0`.
fn engine_times(evs: &[EngineEvent], old: &[Replica], t0: f64) -> Result<Vec<ReplicaTimes>, String> {
    old.iter()
        .map(|r| {
            let missing = |what: &str| format!("{}: no {what} event", r.name);
            let new = created(evs, &r.name, t0).ok_or_else(|| missing("create"))?;
            Ok(ReplicaTimes {
                name: r.name.clone(),
                kill: event_at(evs, &r.id, "kill", t0).ok_or_else(|| missing("kill"))? - t0,
                die: event_at(evs, &r.id, "die", t0).ok_or_else(|| missing("die"))? - t0,
                start: event_at(evs, &new, "start", t0).ok_or_else(|| missing("start"))? - t0,
                docker_healthy: event_at(evs, &new, HEALTHY, t0).ok_or_else(|| missing("healthy"))? - t0,
                ..Default::default()
            })
        })
        .collect()
}

/// How long no replica ran: the overlap of the replicas' [old exited, new started] gaps.
fn none_running(rs: &[ReplicaTimes]) -> f64 {
    let from = rs.iter().map(|r| r.die).fold(f64::MIN, f64::max);
    let to = rs.iter().map(|r| r.start).fold(f64::MAX, f64::min);
    (to - from).max(0.0)
}

fn engine_timeline(evs: &[EngineEvent], t0: f64) -> Vec<(f64, String)> {
    evs.iter()
        .filter(|e| e.at >= t0)
        .map(|e| {
            let sig = e.signal.as_ref().map(|s| format!(" (signal {s})")).unwrap_or_default();
            (e.at - t0, format!("engine    {} {}{sig} [{}]", e.action, e.name, &e.id[..12.min(e.id.len())]))
        })
        .collect()
}

fn compose_step(sb: &Sandbox, compose: &mut Compose, port: u16, rate: u32) -> Result<Step, String> {
    let old = reset(sb, compose)?;
    let events = Events::start(sb.docker(0), now())?;
    let load = LoadRun::start(port, rate);
    sleep_checked(Duration::from_secs(1))?;
    compose.write(&web_image("v2"))?;
    let (t0, t0_instant) = (now(), Instant::now());
    compose.run(&["up", "-d", "--force-recreate"])?;
    let exited = now() - t0;
    let evs = events.wait_for(TIMEOUT, "both new containers healthy", |evs| {
        old.iter().all(|r| created(evs, &r.name, t0).is_some_and(|id| event_at(evs, &id, HEALTHY, t0).is_some()))
    })?;
    let replicas = engine_times(&evs, &old, t0)?;
    let duration = replicas.iter().map(|r| r.docker_healthy).fold(0.0, f64::max);
    sleep_checked(Duration::from_secs(1))?;
    let report = load.finish()?;
    let mut timeline = engine_timeline(&events.snapshot(), t0);
    timeline.push((exited, "compose   docker-compose up -d --force-recreate exited".into()));
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    let failures = failure_span(&report, t0_instant);
    Ok(Step {
        report,
        duration,
        first: exited,
        none_running: none_running(&replicas),
        replicas,
        monitors: 0,
        failures,
        timeline,
    })
}

fn fleet_step(
    sb: &Sandbox,
    compose: &mut Compose,
    port: u16,
    rate: u32,
    profile: &Path,
    audit: &Path,
    dir: &Path,
) -> Result<Step, String> {
    let old = reset(sb, compose)?;
    let events = Events::start(sb.docker(0), now())?;
    let load = LoadRun::start(port, rate);
    sleep_checked(Duration::from_secs(1))?;
    let stderr_path = dir.join("deploy.stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let (t0, t0_instant) = (now(), Instant::now());
    let mut child = Command::new(BIN)
        .args(["deploy", "web", "--image", &web_image("v2"), "--yes", "--profile"])
        .arg(profile)
        .env("FLEETDECK_AUDIT_LOG", audit)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{BIN}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    // Progress lines, time-stamped as they arrive (the CLI writes each one when it happens).
    let lines: Vec<(f64, String)> =
        BufReader::new(stdout).lines().map_while(Result::ok).map(|l| (now() - t0, l)).collect();
    let status = child.wait().map_err(|e| e.to_string())?;
    let duration = now() - t0;
    if !status.success() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let out: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
        return Err(format!("fleetdeck deploy failed ({status}):\n{}\n{err}", out.join("\n")));
    }
    wait_replicas(|| sb.docker(0), &compose.project, 2, &web_image("v2"), TIMEOUT)?;
    sleep_checked(Duration::from_secs(1))?;
    let report = load.finish()?;
    let evs = events.snapshot();
    let mut replicas = engine_times(&evs, &old, t0)?;
    let at = |name: &str, phase: &str| {
        let suffix = format!("/{name}: {phase}");
        lines.iter().find(|l| l.1.ends_with(&suffix)).map(|l| l.0).ok_or_else(|| format!("no line ending {suffix:?}"))
    };
    for r in &mut replicas {
        r.replacing = at(&r.name, "Replacing")?;
        r.waiting = at(&r.name, "WaitingHealthy")?;
        r.healthy = at(&r.name, "Healthy")?;
    }
    replicas.sort_by(|a, b| a.replacing.total_cmp(&b.replacing));
    let mut timeline = engine_timeline(&evs, t0);
    timeline.extend(lines.iter().map(|(t, l)| (*t, format!("fleetdeck {l}"))));
    timeline.push((duration, "fleetdeck (process exited)".into()));
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    let failures = failure_span(&report, t0_instant);
    Ok(Step {
        report,
        duration,
        first: lines.first().map(|l| l.0).unwrap_or(duration),
        none_running: none_running(&replicas),
        monitors: lines.iter().filter(|l| l.1.contains("monitoring batch")).count(),
        failures,
        replicas,
        timeline,
    })
}

fn print_timeline(title: &str, s: &Step) {
    println!(
        "\n{title}: {} requests sent at {:.1}/s, {} failed {:?}",
        s.report.sent,
        s.report.rate(),
        s.report.failed,
        s.report.errors
    );
    for (t, what) in &s.timeline {
        println!("  {t:>7.3} s  {what}");
    }
    if let Some(f) = s.failures {
        println!(
            "  requests failed from {:.3} s to {:.3} s: {} of the {} sent in between",
            f.from, f.to, f.failed, f.sent
        );
    }
    for r in &s.replicas {
        println!(
            "  {}: SIGTERM {:.3} exit {:.3} (stop {:.3} s), new started {:.3}, Docker healthy {:.3} \
             ({:.3} s after start){}",
            r.name,
            r.kill,
            r.die,
            r.stop(),
            r.start,
            r.docker_healthy,
            r.docker_health(),
            if r.waiting > 0.0 {
                format!(
                    "; fleetdeck Replacing {:.3} WaitingHealthy {:.3} Healthy {:.3} (gate {:.3} s)",
                    r.replacing,
                    r.waiting,
                    r.healthy,
                    r.gate()
                )
            } else {
                String::new()
            }
        );
    }
}

fn print_formula() {
    println!(
        "\nfleetdeck's overhead per replica = (deploy wall time - sum of health gates (WaitingHealthy -> Healthy) \
         - sum of graceful stops (the old container's SIGTERM -> exit, engine events) - monitor windows \
         ({} s per batch)) / replicas.\nIt includes process start, SSH connect and the first fleet picture, \
         the lock, the release journal, inspect/rename/create/start calls and the cleanup. The strict variant \
         uses Docker's own health time (new container started -> healthy) instead of the gate, so the gate's \
         polling lag counts as overhead too.",
        MONITOR.as_secs()
    );
}

/// The median of `values` with `unit`, and each value when there are several.
fn median(values: &[f64], unit: &str) -> String {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
    if values.len() == 1 {
        format!("{m:.2} {unit}")
    } else {
        let each: Vec<String> = values.iter().map(|x| format!("{x:.2}")).collect();
        format!("median {m:.2} {unit} ({})", each.join(", "))
    }
}

fn failed(steps: &[Step]) -> String {
    let each: Vec<String> = steps.iter().map(|s| format!("{}/{}", s.report.failed, s.report.sent)).collect();
    let (f, n): (u64, u64) = steps.iter().fold((0, 0), |(f, n), s| (f + s.report.failed, n + s.report.sent));
    format!("{f} of {n} ({:.1} %): {}", 100.0 * f as f64 / n.max(1) as f64, each.join(", "))
}

fn per(steps: &[Step], f: impl Fn(&Step) -> f64) -> String {
    median(&steps.iter().map(f).collect::<Vec<_>>(), "s")
}

/// Per step: how long requests failed, and how many of those sent meanwhile failed.
fn spans(steps: &[Step]) -> String {
    let each: Vec<String> = steps
        .iter()
        .map(|s| match s.failures {
            Some(f) => format!("{} of {} in {:.2} s", f.failed, f.sent, f.to - f.from),
            None => "none failed".into(),
        })
        .collect();
    each.join("; ")
}

/// The mean over a step's replicas of `f`.
fn mean(s: &Step, f: impl Fn(&ReplicaTimes) -> f64) -> f64 {
    s.replicas.iter().map(f).sum::<f64>() / s.n()
}

fn rates(steps: &[Step]) -> String {
    median(&steps.iter().map(|s| s.report.rate()).collect::<Vec<_>>(), "req/s")
}

fn table(c: &[Step], f: &[Step], rate: u32, load_at_start: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |what: &str, value: String, target: &str, how: &str| {
        rows.push(Row { what: what.into(), value, target: target.into(), how: how.into() })
    };
    let window = "every request from 1 s before the command to 1 s after the step ended";
    let asked = format!("{rate}/s asked, one request at a time through nginx");
    let span = "first -> last failed request: how many of the requests sent in between failed";
    row("compose force-recreate: failed requests / sent", failed(c), "(comparison)", window);
    row("compose: while requests failed", spans(c), "-", span);
    row("compose: request rate", rates(c), "-", &asked);
    let healthy = "command start -> both new containers' health_status: healthy (engine events)";
    row("compose: until both replicas are healthy again", per(c, |s| s.duration), "-", healthy);
    row("compose: docker-compose up exited after", per(c, |s| s.first), "-", "command wall time");
    let none = "the later exit of an old container -> the earlier start of a new one (engine events)";
    row("compose: time with no replica running", per(c, |s| s.none_running), "-", none);
    row("fleetdeck deploy: failed requests / sent", failed(f), "0", window);
    row("fleetdeck: while requests failed", spans(f), "-", span);
    row("fleetdeck: request rate", rates(f), "-", &asked);
    let wall = "`fleetdeck deploy` process wall time (with its 2 monitor windows of 1 s)";
    row("fleetdeck: deploy duration", per(f, |s| s.duration), "-", wall);
    row("fleetdeck: time with no replica running", per(f, |s| s.none_running), "0", "as for compose");
    let formula = "(wall time - health gates - graceful stops - monitor windows) / replicas";
    row("fleetdeck: overhead per replica", per(f, Step::overhead), "<= 1 s", formula);
    let strict = "as above with Docker's own start -> healthy instead of the gate's wait";
    row("fleetdeck: overhead per replica, strict", per(f, Step::overhead_strict), "-", strict);
    row("  start, SSH connect, fleet picture, plan", per(f, |s| s.first), "-", "spawn -> first output line");
    let lock = "first output line -> first Replacing";
    row("  lock, preflight, journal", per(f, |s| s.replicas[0].replacing - s.first), "-", lock);
    let before = "inspect, rename (mean of the replicas, as below)";
    row("  per replica: Replacing -> SIGTERM", per(f, |s| mean(s, |r| r.kill - r.replacing)), "-", before);
    let stop = "SIGTERM -> exit (engine events); the app exits after its current 1 s sleep";
    row("  per replica: graceful stop", per(f, |s| mean(s, ReplicaTimes::stop)), "-", stop);
    let create = "stop returns, inspect, image config, create, start (engine events)";
    row("  per replica: exit -> new container started", per(f, |s| mean(s, |r| r.start - r.die)), "-", create);
    let started = "the start call returns, the event is printed";
    row("  per replica: started -> WaitingHealthy", per(f, |s| mean(s, |r| r.waiting - r.start)), "-", started);
    row("  per replica: health gate", per(f, |s| mean(s, ReplicaTimes::gate)), "-", "WaitingHealthy -> Healthy");
    let docker = "new container started -> healthy (HEALTHCHECK interval 1 s)";
    row("    of which Docker's health check", per(f, |s| mean(s, ReplicaTimes::docker_health)), "-", docker);
    let between = "monitor window, health re-check, next batch";
    row(
        "  Healthy -> next replica's Replacing",
        per(f, |s| s.replicas[1].replacing - s.replicas[0].healthy),
        "-",
        between,
    );
    let last = |s: &Step| s.duration - s.replicas[s.replicas.len() - 1].healthy;
    row("  last Healthy -> exit", per(f, last), "-", "monitor window, cleanup, journal, unlock, exit");
    rows.push(load_row(load_at_start));
    rows
}
