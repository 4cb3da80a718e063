//! Startup benchmark: time from start to a complete dashboard (every host connected, its
//! containers listed and inspected, probes run once, first usage sample) for 1, 10 and 50
//! loopback hosts, beside the real OpenSSH client running `docker ps` on the same hosts one
//! after another and all at once.
//!
//! The fleet is a local sandbox: 50 sshd hosts (by default) spread over 5 Docker engines, each
//! engine running 1 web replica (probed by fleetdeck) and 3 workers. Measured, for every host
//! count, interleaved round by round (one warm-up round first, not counted):
//!   * `fleetdeck lib`: in process, `Profile::load` + `resolve_hosts` + `Fleet::start` and
//!     `events.recv()` / `state.apply()` until `state.all_settled()`;
//!   * `fleetdeck status`: wall time of the release binary `fleetdeck status --profile P`;
//!   * `ssh seq`: `ssh -o ControlMaster=no ... root@127.0.0.1 docker -H unix://SOCK ps` for
//!     each host, one after another;
//!   * `ssh par`: the same, all hosts at once.
//!
//! Numbers are printed, never asserted. Run: `cargo bench --bench startup` (settings:
//! FLEETDECK_BENCH_RUNS=5, FLEETDECK_BENCH_HOSTS=1,10,50, FLEETDECK_BENCH_ENGINES=5,
//! FLEETDECK_BENCH_WORKERS=3 workers per engine besides the web replica,
//! FLEETDECK_BENCH_USER_HOME=1 to let SSH sessions run root's own .bashrc).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;
use fleetdeck::fleet::model::HostEvent;
use fleetdeck::fleet::worker::WorkerConfig;
use fleetdeck::fleet::Fleet;
use fleetdeck::sandbox::{check_prerequisites, web_image, Sandbox, SandboxSpec};
use fleetdeck::ssh::ConnectOptions;

/// The release binary cargo built for this bench (same optimisation settings as `--release`).
const BIN: &str = env!("CARGO_BIN_EXE_fleetdeck");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Lib,
    Bin,
    SshSeq,
    SshPar,
}

const METHODS: [Method; 4] = [Method::Lib, Method::Bin, Method::SshSeq, Method::SshPar];

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Lib => "fleetdeck lib (in process)",
            Method::Bin => "fleetdeck status (binary)",
            Method::SshSeq => "ssh docker ps, sequential",
            Method::SshPar => "ssh docker ps, parallel",
        }
    }
    fn how(self) -> &'static str {
        match self {
            Method::Lib => "Profile::load..Fleet::start..state.all_settled(), new tokio runtime per run",
            Method::Bin => "wall time of `fleetdeck status --profile P` (release)",
            Method::SshSeq => "OpenSSH client, -o ControlMaster=no, one host after another",
            Method::SshPar => "OpenSSH client, -o ControlMaster=no, all hosts at once",
        }
    }
}

struct Bench {
    sb: Sandbox,
    /// Containers every host must see.
    per_engine: usize,
    /// Whether every engine runs a probed web replica.
    probed: bool,
    /// (hosts, how many) of in-process runs where hosts settled without a usage sample.
    unsampled: std::sync::Mutex<Vec<(usize, usize)>>,
    /// The engines' processes (dockerd, containerd, shims).
    engine_pids: Vec<u32>,
    /// In-process runs: (hosts, when the last host reached each of PHASES).
    phases: std::sync::Mutex<Vec<(usize, [Duration; PHASES.len()])>>,
}

/// The steps of a host's startup, as seen in its events.
const PHASES: [&str; 6] =
    ["SSH connected", "Docker version", "containers inspected", "first probe", "first usage sample", "ready"];

fn main() {
    install_interrupt_handler();
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("startup bench failed: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run() -> Result<(), String> {
    // `cargo bench` passes `--bench`; a filter argument is not supported (run it alone).
    let runs: usize = env_or("FLEETDECK_BENCH_RUNS", 5).max(1);
    let mut counts = env_list("FLEETDECK_BENCH_HOSTS", &[1, 10, 50]);
    counts.retain(|n| (1..=99).contains(n));
    counts.sort();
    counts.dedup();
    let max_hosts = *counts.last().ok_or("FLEETDECK_BENCH_HOSTS lists no host count in 1..=99")?;
    let engines: usize = env_or("FLEETDECK_BENCH_ENGINES", 5).clamp(1, max_hosts);
    let workers: usize = env_or("FLEETDECK_BENCH_WORKERS", 3);
    check_prerequisites().map_err(|e| e.to_string())?;
    let load_at_start = loadavg();
    println!("load average at start: {load_at_start} ({} CPUs)", cpus());

    println!(
        "startup bench: hosts {counts:?} over {engines} engines, 1 web + {workers} workers per engine, {runs} runs"
    );
    println!("fleetdeck binary: {BIN}");
    let tmp = temp_dir("startup");
    let t = Instant::now();
    // By default SSH sessions get an empty HOME, as on a typical server: this machine's root
    // .bashrc (pyenv init) would add ~0.25 s and ~0.1 CPU-s to every exec.
    let user_home = env_or("FLEETDECK_BENCH_USER_HOME", 0u8) == 1;
    let mut spec = SandboxSpec::new(max_hosts, tmp.path().join("sb")).with_engines(engines);
    spec.empty_home = !user_home;
    println!(
        "SSH sessions: {}",
        if user_home {
            "root's own HOME and .bashrc (FLEETDECK_BENCH_USER_HOME=1)"
        } else {
            "empty HOME (no rc files)"
        }
    );
    let sb = Sandbox::up(spec).map_err(|e| e.to_string())?;
    println!("sandbox up ({max_hosts} sshd, {engines} engines): {:.1} s", t.elapsed().as_secs_f64());
    check_interrupted()?;
    let t = Instant::now();
    let mut bench = Bench {
        sb,
        per_engine: 1 + workers,
        probed: true,
        unsampled: Default::default(),
        engine_pids: Vec::new(),
        phases: Default::default(),
    };
    start_containers(&bench, engines, workers)?;
    bench.engine_pids = engine_pids(&bench.sb);
    println!("containers started: {:.1} s", t.elapsed().as_secs_f64());

    let profiles: Vec<(usize, PathBuf)> = counts
        .iter()
        .map(|&n| {
            let path = tmp.path().join(format!("profile-{n}.toml"));
            let hosts: Vec<usize> = (0..n).collect();
            bench.sb.write_profile(&path, &hosts).map(|()| (n, path)).map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;

    // Warm-up (not counted): first connections, page cache, engines' first answers.
    for (n, profile) in &profiles {
        for m in METHODS {
            measure(&bench, m, *n, profile).map_err(|e| format!("warm-up {} with {n} hosts: {e}", m.label()))?;
        }
    }
    let mut samples: Vec<(usize, Method, Vec<Duration>, Vec<CpuUse>)> =
        profiles.iter().flat_map(|(n, _)| METHODS.map(|m| (*n, m, Vec::new(), Vec::new()))).collect();
    for round in 1..=runs {
        for (n, profile) in &profiles {
            for m in METHODS {
                let (d, cpu) = measure(&bench, m, *n, profile)
                    .map_err(|e| format!("round {round}, {} with {n} hosts: {e}", m.label()))?;
                if let Some((_, _, list, cpus)) = samples.iter_mut().find(|(k, mm, _, _)| k == n && *mm == m) {
                    list.push(d);
                    cpus.push(cpu);
                }
            }
        }
        println!("round {round}/{runs} done");
    }

    println!();
    println!(
        "{:<28} {:>5} {:>10} {:>8} {:>8}   {:>25}",
        "startup to complete picture", "hosts", "median ms", "min ms", "max ms", "CPU s: client/sshd/engines"
    );
    let mut rows = Vec::new();
    for (n, m, list, cpus) in &samples {
        let Some(s) = stats(list) else { continue };
        let median_of = |f: fn(&CpuUse) -> f64| {
            let mut v: Vec<f64> = cpus.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        let (client, sshd, engines_cpu) = (median_of(|c| c.client), median_of(|c| c.sshd), median_of(|c| c.engines));
        println!(
            "{:<28} {:>5} {:>10.0} {:>8.0} {:>8.0}   {:>9.2} /{:>6.2} /{:>6.2}",
            m.label(),
            n,
            ms(s.median),
            ms(s.min),
            ms(s.max),
            client,
            sshd,
            engines_cpu
        );
        let target = match (m, n) {
            (Method::Lib | Method::Bin, 50) => "< 2000 ms",
            _ => "-",
        };
        rows.push(Row {
            what: format!("startup, {n} hosts: {}", m.label()),
            value: format!(
                "median {:.0} ms, min {:.0} ms ({} runs); CPU s client {client:.2}, sshd {sshd:.2}, engines \
                 {engines_cpu:.2}",
                ms(s.median),
                ms(s.min),
                s.runs
            ),
            target: target.into(),
            how: format!(
                "{}; {} engines, {} containers/engine; {}",
                m.how(),
                engines,
                bench.per_engine,
                if user_home { "sessions with root's .bashrc" } else { "sessions with an empty HOME" }
            ),
        });
    }
    println!("(CPU: median CPU seconds per run spent by the client, by sshd and by the Docker engines)");
    println!();
    for (n, _) in &profiles {
        let median = |m: Method| {
            samples
                .iter()
                .find(|(k, mm, _, _)| k == n && *mm == m)
                .and_then(|(_, _, l, _)| stats(l))
                .map(|s| ms(s.median))
        };
        if let (Some(lib), Some(bin), Some(seq), Some(par)) =
            (median(Method::Lib), median(Method::Bin), median(Method::SshSeq), median(Method::SshPar))
        {
            println!(
                "{n:>2} hosts: fleetdeck lib {lib:.0} ms, status {bin:.0} ms; ssh sequential {seq:.0} ms \
                 ({:.1}x lib), ssh parallel {par:.0} ms ({:.1}x lib)",
                seq / lib,
                par / lib
            );
        }
    }
    // Where the in-process runs spent their time (warm-up runs excluded).
    let phases = bench.phases.lock().unwrap().clone();
    println!("in-process runs: when the LAST host reached each step (median over the counted runs, ms)");
    print!("{:>5}", "hosts");
    for p in PHASES {
        print!("  {p:>20}");
    }
    println!();
    for (n, _) in &profiles {
        let runs: Vec<&[Duration; PHASES.len()]> =
            phases.iter().filter(|(k, _)| k == n).map(|(_, p)| p).skip(1).collect();
        print!("{n:>5}");
        let mut cells = Vec::new();
        for p in 0..PHASES.len() {
            let v: Vec<Duration> = runs.iter().map(|r| r[p]).collect();
            let m = stats(&v).map(|s| ms(s.median)).unwrap_or(0.0);
            print!("  {m:>20.0}");
            cells.push(format!("{} {m:.0}", PHASES[p]));
        }
        println!();
        rows.push(Row {
            what: format!("startup, {n} hosts: last host reaching each step (lib)"),
            value: cells.join(", ") + " ms",
            target: "-".into(),
            how: "in-process runs, time of each host's first such event, max over hosts, median over runs".into(),
        });
    }
    let unsampled = bench.unsampled.lock().unwrap().clone();
    if !unsampled.is_empty() {
        println!(
            "\nnote: in-process runs (warm-up included) where hosts were ready without a first usage \
             sample (hosts in fleet, hosts without sample): {unsampled:?}"
        );
        rows.push(Row {
            what: "startup: hosts ready without usage sample".into(),
            value: format!("{unsampled:?} (fleet size, hosts)"),
            target: "none".into(),
            how: "in-process runs incl. warm-up; a worker waits at most 3 s for its first sample".into(),
        });
    }
    rows.push(load_row(&load_at_start));
    println!("load average at the end: {}", loadavg());
    match write_results("startup", &rows) {
        Ok(path) => println!("\nresults: {}", path.display()),
        Err(e) => eprintln!("cannot write results: {e}"),
    }
    println!("reproduce: cargo bench --bench startup   (or scripts/bench.sh for every benchmark)");
    drop(bench);
    Ok(())
}

/// On every engine: one web replica (no Docker health check, so nothing changes while we
/// measure; fleetdeck still probes its /health) and `workers` workers.
fn start_containers(bench: &Bench, engines: usize, workers: usize) -> Result<(), String> {
    let sb = &bench.sb;
    std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..engines)
            .map(|e| {
                scope.spawn(move || -> Result<(), String> {
                    let port = Sandbox::free_port();
                    let mut cmd = sb.docker(e);
                    cmd.args(["run", "-d", "--name", &format!("bench-web-{e}"), "--network", "host"]);
                    cmd.args(["--no-healthcheck", "--restart", "unless-stopped"]);
                    cmd.args(["--label", "com.docker.compose.project=demo"]);
                    cmd.args(["--label", "com.docker.compose.service=web"]);
                    cmd.args(["--label", &format!("fleetdeck.port={port}"), "-e", &format!("PORT={port}")]);
                    cmd.arg(web_image("v1"));
                    let out = cmd.output().map_err(|e| e.to_string())?;
                    if !out.status.success() {
                        return Err(format!("docker run web: {}", String::from_utf8_lossy(&out.stderr)));
                    }
                    for w in 0..workers {
                        sb.run_worker(e, &format!("bench-worker-{e}-{w}"), "worker").map_err(|e| e.to_string())?;
                    }
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while fleetdeck::sandbox::http_get(port, "/health", Duration::from_secs(1)).map(|r| r.0)
                        != Some(200)
                    {
                        if Instant::now() > deadline {
                            return Err(format!("web replica on engine {e} does not answer on port {port}"));
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Ok(())
                })
            })
            .collect();
        jobs.into_iter().try_for_each(|j| j.join().unwrap_or_else(|_| Err("thread panicked".into())))
    })
}

/// CPU seconds one run cost, by where they were spent.
#[derive(Debug, Clone, Copy, Default)]
struct CpuUse {
    /// The client: this process (in-process runs) or the child processes (binary, ssh).
    client: f64,
    /// sshd: the listeners and every per-connection process (reaped by the listeners).
    sshd: f64,
    /// The Docker engines (dockerd, containerd, shims).
    engines: f64,
}

/// user + system CPU seconds of this process (`RUSAGE_SELF`) or its waited-for children.
fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One timed run; waits afterwards until every SSH connection it made is gone, and accounts
/// the CPU the run cost.
fn measure(bench: &Bench, method: Method, hosts: usize, profile: &Path) -> Result<(Duration, CpuUse), String> {
    check_interrupted()?;
    if !wait_ssh_idle(&bench.sb, hosts, Duration::from_secs(10)) {
        eprintln!("warning: SSH sessions of a previous run still open");
    }
    let listeners = sshd_listeners(&bench.sb, hosts);
    let sshd0 = CpuSnapshot::take(&listeners);
    let engines0 = CpuSnapshot::take(&bench.engine_pids);
    let who = if method == Method::Lib { libc::RUSAGE_SELF } else { libc::RUSAGE_CHILDREN };
    let client0 = rusage_secs(who);
    let d = match method {
        Method::Lib => fleetdeck_lib(bench, profile, hosts)?,
        Method::Bin => fleetdeck_bin(profile, hosts)?,
        Method::SshSeq => ssh_sequential(bench, hosts)?,
        Method::SshPar => ssh_parallel(bench, hosts)?,
    };
    let client = rusage_secs(who) - client0;
    wait_ssh_idle(&bench.sb, hosts, Duration::from_secs(10));
    // Let the listeners reap their last connection processes.
    std::thread::sleep(Duration::from_millis(150));
    let tck = clk_tck();
    let cpu = CpuUse {
        client,
        sshd: sshd0.ticks_until(&CpuSnapshot::take(&listeners)) as f64 / tck,
        engines: engines0.ticks_until(&CpuSnapshot::take(&bench.engine_pids)) as f64 / tck,
    };
    Ok((d, cpu))
}

fn fleetdeck_lib(bench: &Bench, profile: &Path, hosts: usize) -> Result<Duration, String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let result = rt.block_on(async {
        let profile = Profile::load(profile).map_err(|e| e.to_string())?;
        let resolved = resolve_hosts(&profile).map_err(|e| e.to_string())?;
        let (mut fleet, mut state) =
            Fleet::start(&profile, resolved, ConnectOptions::default(), WorkerConfig::default());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        // When each host first reached each phase (see PHASES).
        let mut reached = vec![[None::<Duration>; PHASES.len()]; hosts];
        while !state.all_settled() {
            match tokio::time::timeout_at(deadline, fleet.events.recv()).await {
                Ok(Some(ev)) => {
                    let phase = match &ev.event {
                        HostEvent::Fingerprint(_) => Some(0),
                        HostEvent::DockerVersion(_) => Some(1),
                        HostEvent::Containers(_) => Some(2),
                        HostEvent::Probe(_) => Some(3),
                        HostEvent::Metrics(_) => Some(4),
                        HostEvent::Ready => Some(5),
                        _ => None,
                    };
                    if let (Some(p), Some(r)) = (phase, reached.get_mut(ev.host)) {
                        r[p].get_or_insert_with(|| started.elapsed());
                    }
                    state.apply(ev);
                }
                Ok(None) => return Err("the fleet's event channel closed".to_string()),
                Err(_) => return Err("not settled within 60 s".to_string()),
            }
        }
        let elapsed = started.elapsed();
        // The picture must be the complete one, not a set of failures.
        for h in &state.hosts {
            if !h.ready || !h.conn.is_connected() {
                return Err(format!("{} settled without being ready: {:?}", h.name, h.conn));
            }
            if h.containers.len() != bench.per_engine {
                return Err(format!("{} shows {} containers, not {}", h.name, h.containers.len(), bench.per_engine));
            }
            if bench.probed && h.probes.is_empty() {
                return Err(format!("{} has no probe result", h.name));
            }
        }
        // A worker declares itself ready after waiting at most 3 s for its first usage sample:
        // count the hosts whose dashboard came without one.
        // The time the last host reached each phase.
        let mut last = [Duration::ZERO; PHASES.len()];
        for r in &reached {
            for (p, t) in r.iter().enumerate() {
                last[p] = last[p].max(t.unwrap_or(Duration::ZERO));
            }
        }
        bench.phases.lock().unwrap().push((hosts, last));
        let unsampled = state.hosts.iter().filter(|h| h.metrics.is_none()).count();
        if unsampled > 0 {
            bench.unsampled.lock().unwrap().push((hosts, unsampled));
        }
        if state.hosts.len() != hosts {
            return Err(format!("{} hosts in the state, not {hosts}", state.hosts.len()));
        }
        drop(fleet);
        Ok(elapsed)
    });
    rt.shutdown_timeout(Duration::from_millis(500));
    result
}

fn fleetdeck_bin(profile: &Path, hosts: usize) -> Result<Duration, String> {
    let mut cmd = Command::new(BIN);
    cmd.args(["status", "--profile"]).arg(profile).env_remove("FLEETDECK_PROFILE").stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd.output().map_err(|e| format!("{BIN}: {e}"))?;
    let elapsed = started.elapsed();
    // Exit 1 only says a service is not healthy (the profile's `api` has no replica here);
    // 2 would be a host not connected or a Docker error.
    let text = String::from_utf8_lossy(&out.stdout);
    let connected = text.lines().filter(|l| l.trim_start().starts_with("host-") && l.contains(" connected ")).count();
    if !matches!(out.status.code(), Some(0 | 1)) || connected != hosts {
        return Err(format!(
            "fleetdeck status exited {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(elapsed)
}

/// `ssh ... root@127.0.0.1 docker -H unix://SOCK ps` for host `i`, with the sandbox's key and
/// known_hosts, strict host-key checking and no connection sharing.
fn ssh_docker_ps(sb: &Sandbox, i: usize) -> Command {
    let h = sb.host(i);
    let mut cmd = Command::new("ssh");
    cmd.arg("-F").arg(&sb.ssh_config).arg("-i").arg(&sb.client_key);
    cmd.arg("-o").arg(format!("UserKnownHostsFile={}", sb.known_hosts.display()));
    for opt in [
        "GlobalKnownHostsFile=/dev/null",
        "StrictHostKeyChecking=yes",
        "IdentitiesOnly=yes",
        "BatchMode=yes",
        "ControlMaster=no",
        "ControlPath=none",
        "ConnectTimeout=10",
        "LogLevel=ERROR",
    ] {
        cmd.args(["-o", opt]);
    }
    cmd.arg("-p").arg(h.ssh_port.to_string()).arg("root@127.0.0.1");
    cmd.arg(format!("docker -H {} ps", h.docker_host()));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn check_ps(bench: &Bench, i: usize, out: &std::process::Output) -> Result<(), String> {
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.lines().count() != bench.per_engine + 1 {
        return Err(format!(
            "ssh docker ps on host-{}: {} {}{}",
            i + 1,
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn ssh_sequential(bench: &Bench, hosts: usize) -> Result<Duration, String> {
    let started = Instant::now();
    for i in 0..hosts {
        let out = ssh_docker_ps(&bench.sb, i).output().map_err(|e| format!("ssh: {e}"))?;
        check_ps(bench, i, &out)?;
    }
    Ok(started.elapsed())
}

fn ssh_parallel(bench: &Bench, hosts: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let children: Vec<_> = (0..hosts)
        .map(|i| ssh_docker_ps(&bench.sb, i).spawn().map_err(|e| format!("ssh: {e}")))
        .collect::<Result<_, _>>()?;
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().map_err(|e| format!("ssh: {e}")))
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed();
    for (i, out) in outputs.iter().enumerate() {
        check_ps(bench, i, out)?;
    }
    Ok(elapsed)
}
