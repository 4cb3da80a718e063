//! Idle-cost benchmark: what watching 200 containers over 5 hosts costs once the picture is
//! complete, over a 60 s window, for
//!   * the fleetdeck TUI (release binary in a 200x50 tmux pane): its own CPU (utime + stime of
//!     all its threads, % of one core), its RSS (VmRSS), the CPU it causes in the Docker
//!     engines, and the CPU of the host side of its SSH connections (sshd + usage sampler);
//!   * the fleetdeck library without a UI (in this process, its runtime threads only), to
//!     separate the workers' cost from the UI's;
//!   * oxker (a ratatui + bollard TUI that watches one local engine through DOCKER_HOST): one
//!     instance per engine, 5 tmux sessions, summed.
//!
//! The sandbox: 5 sshd hosts, each with its own Docker engine running 40 idle containers
//! (`fleetdeck-demo/idle:v1`: a sleeping busybox sh, no logs, no health check). Engine CPU is
//! the utime + stime (+ reaped children) of every dockerd, containerd and containerd-shim of
//! the sandbox; what a watcher "causes" is its window minus the mean of two baseline windows
//! without any watcher (one before, one after).
//!
//! Numbers are printed, never asserted. Run: `cargo bench --bench idle` (settings:
//! FLEETDECK_IDLE_SECS=60 window, FLEETDECK_IDLE_WARMUP=15 seconds after the picture is
//! complete, FLEETDECK_IDLE_HOSTS=5, FLEETDECK_IDLE_PER_HOST=40, OXKER=path to oxker;
//! without oxker, its window is skipped: `cargo install oxker --locked`).

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;
use fleetdeck::fleet::worker::WorkerConfig;
use fleetdeck::fleet::Fleet;
use fleetdeck::sandbox::{check_prerequisites, Sandbox, SandboxSpec};
use fleetdeck::ssh::ConnectOptions;

const BIN: &str = env!("CARGO_BIN_EXE_fleetdeck");

/// The thread name of the in-process fleet's runtime (at most 15 bytes: it is the comm).
const FLEET_THREADS: &str = "fdbench-fleet";

struct Settings {
    window: Duration,
    warmup: Duration,
    hosts: usize,
    per_host: usize,
}

/// What one window measured.
#[derive(Debug, Default, Clone)]
struct Window {
    secs: f64,
    /// The watcher's own CPU, % of one core.
    own_cpu: Option<f64>,
    /// The watcher's RSS at the end and the highest seen (sampled each second), bytes.
    rss_end: Option<u64>,
    rss_max: Option<u64>,
    /// Docker engines' CPU during the window, % of one core.
    engines_cpu: f64,
    /// Of which the dockerd processes (the API servers fleetdeck and oxker talk to).
    dockerd_cpu: f64,
    /// sshd per-connection processes + what runs in them, % of one core.
    ssh_side_cpu: f64,
    /// The tmux server's CPU (drawing what the watcher writes), % of one core.
    tmux_cpu: Option<f64>,
    /// The watcher's threads by name: (name, % of one core, wakeups per second).
    threads: Vec<(String, f64, f64)>,
}

fn main() {
    install_interrupt_handler();
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("idle bench failed: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn oxker_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("OXKER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join("oxker")).find(|p| p.is_file())
}

fn run() -> Result<(), String> {
    let s = Settings {
        window: Duration::from_secs(env_or("FLEETDECK_IDLE_SECS", 60u64).max(5)),
        warmup: Duration::from_secs(env_or("FLEETDECK_IDLE_WARMUP", 15u64)),
        hosts: env_or("FLEETDECK_IDLE_HOSTS", 5usize).clamp(1, 20),
        per_host: env_or("FLEETDECK_IDLE_PER_HOST", 40usize),
    };
    check_prerequisites().map_err(|e| e.to_string())?;
    let load_at_start = loadavg();
    println!("load average at start: {load_at_start} ({} CPUs)", cpus());
    let oxker = oxker_path();
    println!(
        "idle bench: {} hosts x {} idle containers ({} engines), window {} s, warm-up {} s",
        s.hosts,
        s.per_host,
        s.hosts,
        s.window.as_secs(),
        s.warmup.as_secs()
    );
    println!("fleetdeck binary: {BIN}");
    println!("oxker: {}", oxker.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "not found".into()));

    let tmp = temp_dir("idle");
    let t = Instant::now();
    let sb =
        Sandbox::up(SandboxSpec::new(s.hosts, tmp.path().join("sb")).with_empty_home()).map_err(|e| e.to_string())?;
    println!("sandbox up: {:.1} s", t.elapsed().as_secs_f64());
    check_interrupted()?;
    let t = Instant::now();
    start_idle_containers(&sb, s.per_host)?;
    println!("{} containers started: {:.1} s", s.hosts * s.per_host, t.elapsed().as_secs_f64());
    // Let the engines calm down after starting that many containers.
    sleep_checked(Duration::from_secs(10))?;

    println!("baseline window (no watcher)...");
    let base1 = measure_window(&sb, &s, &[], None, None)?;
    println!("  engines {:.2}% of a core", base1.engines_cpu);

    println!("fleetdeck library, no UI (in process)...");
    let lib = fleet_in_process(&sb, &s, WorkerConfig::default(), "fleetdeck library")?;
    wait_ssh_idle(&sb, s.hosts, Duration::from_secs(10));
    // Where the library's idle CPU goes: the same with the periodic usage sampling off (one
    // sample at start, then the sampler sleeps an hour), and with the resync off as well.
    let breakdown = env_or("FLEETDECK_IDLE_BREAKDOWN", 1u8) == 1;
    let mut parts = Vec::new();
    if breakdown {
        let hour = Duration::from_secs(3600);
        for (label, cfg) in [
            ("library, usage sampling off", WorkerConfig { sample_every: 3600, ..WorkerConfig::default() }),
            (
                "library, usage sampling and resync off",
                WorkerConfig { sample_every: 3600, resync_every: hour, ..WorkerConfig::default() },
            ),
        ] {
            println!("fleetdeck {label} (in process)...");
            parts.push((label, fleet_in_process(&sb, &s, cfg, label)?));
            wait_ssh_idle(&sb, s.hosts, Duration::from_secs(10));
        }
    }

    println!("fleetdeck TUI in tmux...");
    let tui = fleetdeck_tui(&sb, &s)?;
    wait_ssh_idle(&sb, s.hosts, Duration::from_secs(10));

    let ox = match &oxker {
        Some(path) => {
            println!("oxker x{} in tmux...", s.hosts);
            Some(oxker_window(&sb, &s, path)?)
        }
        None => {
            eprintln!("oxker not found (cargo install oxker --locked, or set OXKER=path): skipping it");
            None
        }
    };

    println!("baseline window again (no watcher)...");
    let base2 = measure_window(&sb, &s, &[], None, None)?;
    println!("  engines {:.2}% of a core", base2.engines_cpu);
    let baseline = (base1.engines_cpu + base2.engines_cpu) / 2.0;
    let baseline_dockerd = (base1.dockerd_cpu + base2.dockerd_cpu) / 2.0;
    // How much the engines' idle CPU moved between the two baselines: differences below it
    // are not distinguishable from no effect.
    let noise = (base1.engines_cpu - base2.engines_cpu).abs();

    let containers = s.hosts * s.per_host;
    let setup = format!("{} hosts x {} idle containers, {} s window", s.hosts, s.per_host, s.window.as_secs());
    let pct = |v: f64| format!("{v:.2}% of a core");
    let mut rows = vec![Row {
        what: "engines' CPU with no watcher (baseline)".into(),
        value: format!(
            "{} (before {:.2}, after {:.2}; dockerd alone {:.2})",
            pct(baseline),
            base1.engines_cpu,
            base2.engines_cpu,
            baseline_dockerd
        ),
        target: "-".into(),
        how: format!("dockerd + containerd + shims of the sandbox engines, /proc utime+stime; {setup}"),
    }];
    let caused = |w: &Window| w.engines_cpu - baseline;
    let caused_detail = |w: &Window| {
        format!(
            "{} (dockerd {:+.2}, containerd + shims {:+.2}; baseline noise {noise:.2})",
            pct(caused(w)),
            w.dockerd_cpu - baseline_dockerd,
            caused(w) - (w.dockerd_cpu - baseline_dockerd)
        )
    };
    rows.push(Row {
        what: "fleetdeck TUI: own CPU".into(),
        value: tui.own_cpu.map(pct).unwrap_or_default(),
        target: "<= 0.5% of a core".into(),
        how: format!("/proc/PID/stat utime+stime of the TUI in a 200x50 tmux pane; {setup}"),
    });
    rows.push(Row {
        what: "fleetdeck TUI: RSS".into(),
        value: format!(
            "{:.1} MiB at the end, {:.1} MiB max",
            mib(tui.rss_end.unwrap_or(0)),
            mib(tui.rss_max.unwrap_or(0))
        ),
        target: "<= 40 MB".into(),
        how: "VmRSS from /proc/PID/status, sampled every second".into(),
    });
    rows.push(Row {
        what: "fleetdeck TUI: engine CPU caused".into(),
        value: caused_detail(&tui),
        target: ox.as_ref().map(|o| format!("<= {:.2}% (1/4 of oxker's)", caused(o) / 4.0)).unwrap_or("-".into()),
        how: "engines' CPU in the window minus the baseline".into(),
    });
    rows.push(Row {
        what: "fleetdeck TUI: host side (sshd + sampler)".into(),
        value: pct(tui.ssh_side_cpu),
        target: "-".into(),
        how: format!(
            "sshd per-connection processes and their children; each host's sampler here reads all {containers} \
             containers' cgroups (one machine), a real host only its own"
        ),
    });
    rows.push(Row {
        what: "fleetdeck TUI: tmux server drawing it".into(),
        value: tui.tmux_cpu.map(pct).unwrap_or_default(),
        target: "-".into(),
        how: "the private tmux server's utime+stime".into(),
    });
    rows.push(Row {
        what: "fleetdeck library, no UI: own CPU".into(),
        value: lib.own_cpu.map(pct).unwrap_or_default(),
        target: "-".into(),
        how: format!(
            "utime+stime of the fleet's tokio threads in the bench process (workers + state.apply); wakeups/s {:.0}",
            lib.threads.iter().map(|t| t.2).sum::<f64>()
        ),
    });
    rows.push(Row {
        what: "fleetdeck library, no UI: engine CPU caused".into(),
        value: caused_detail(&lib),
        target: "-".into(),
        how: "engines' CPU in the window minus the baseline".into(),
    });
    rows.push(Row {
        what: "fleetdeck TUI: CPU by thread".into(),
        value: thread_summary(&tui),
        target: "-".into(),
        how: "/proc/PID/task/*/stat and voluntary_ctxt_switches, grouped by thread name".into(),
    });
    for (label, w) in &parts {
        rows.push(Row {
            what: format!("fleetdeck {label}: own CPU"),
            value: w.own_cpu.map(pct).unwrap_or_default(),
            target: "-".into(),
            how: format!(
                "as the library line; engine CPU caused {:.2}%, host side {:.2}%; wakeups/s {:.0}",
                caused(w),
                w.ssh_side_cpu,
                w.threads.iter().map(|t| t.2).sum::<f64>()
            ),
        });
    }
    rows.push(Row {
        what: "fleetdeck library, no UI: host side".into(),
        value: pct(lib.ssh_side_cpu),
        target: "-".into(),
        how: "sshd per-connection processes and their children".into(),
    });
    if let Some(o) = &ox {
        rows.push(Row {
            what: format!("oxker x{}: own CPU (sum)", s.hosts),
            value: o.own_cpu.map(pct).unwrap_or_default(),
            target: "-".into(),
            how: "one oxker per engine (DOCKER_HOST), default settings, 200x50 tmux panes; summed".into(),
        });
        rows.push(Row {
            what: format!("oxker x{}: RSS (sum)", s.hosts),
            value: format!(
                "{:.1} MiB at the end, {:.1} MiB max",
                mib(o.rss_end.unwrap_or(0)),
                mib(o.rss_max.unwrap_or(0))
            ),
            target: "-".into(),
            how: "VmRSS, summed over the instances".into(),
        });
        rows.push(Row {
            what: format!("oxker x{}: engine CPU caused", s.hosts),
            value: caused_detail(o),
            target: "-".into(),
            how: "engines' CPU in the window minus the baseline".into(),
        });
        rows.push(Row {
            what: format!("oxker x{}: tmux server drawing them", s.hosts),
            value: o.tmux_cpu.map(pct).unwrap_or_default(),
            target: "-".into(),
            how: "the private tmux server's utime+stime".into(),
        });
        let ratio = caused(&tui).max(0.0) / caused(o);
        let at_most = (caused(&tui).max(0.0) + noise) / caused(o);
        rows.push(Row {
            what: "engine CPU caused: fleetdeck TUI / oxker".into(),
            value: format!(
                "{ratio:.3} (at most {at_most:.3} allowing for the baseline noise; dockerd alone {:.3})",
                (tui.dockerd_cpu - baseline_dockerd).max(0.0) / (o.dockerd_cpu - baseline_dockerd)
            ),
            target: "<= 0.25".into(),
            how: "ratio of the two 'engine CPU caused' lines (a negative difference counts as 0)".into(),
        });
    }
    rows.push(load_row(&load_at_start));
    println!();
    print_table(&rows);
    match write_results("idle", &rows) {
        Ok(path) => println!("\nresults: {}", path.display()),
        Err(e) => eprintln!("cannot write results: {e}"),
    }
    println!("reproduce: cargo bench --bench idle   (or scripts/bench.sh for every benchmark)");
    drop(sb);
    Ok(())
}

/// `per_host` idle containers on every engine (in parallel, one thread per engine), labelled
/// as replicas of the profile's `worker` service (no probes).
fn start_idle_containers(sb: &Sandbox, per_host: usize) -> Result<(), String> {
    std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..sb.hosts.len())
            .map(|h| {
                scope.spawn(move || -> Result<(), String> {
                    for i in 0..per_host {
                        check_interrupted()?;
                        sb.run_idle(h, &format!("idle-{}-{i:02}", h + 1), "worker").map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            })
            .collect();
        jobs.into_iter().try_for_each(|j| j.join().unwrap_or_else(|_| Err("thread panicked".into())))
    })
}

/// Measures one window. `own` are the watcher's processes (their CPU and RSS, summed), or
/// `threads` the thread-name prefix of this process's threads to count instead.
fn measure_window(
    sb: &Sandbox,
    s: &Settings,
    own: &[u32],
    threads: Option<&str>,
    tmux: Option<&Tmux>,
) -> Result<Window, String> {
    let hosts = sb.hosts.len();
    let tmux_pid = tmux.and_then(Tmux::server_pid);
    let dockerds = |pids: Vec<u32>| -> Vec<u32> {
        pids.into_iter().filter(|p| proc_stat(*p).is_some_and(|st| st.comm == "dockerd")).collect()
    };
    let engines0 = CpuSnapshot::take(&engine_pids(sb));
    let dockerd0 = CpuSnapshot::take(&dockerds(engine_pids(sb)));
    let ssh0 = CpuSnapshot::take(&sshd_session_pids(sb, hosts));
    let own0 = CpuSnapshot::take(own);
    let threads0 = threads.map(own_thread_ticks);
    let tmux0 = tmux_pid.map(|p| CpuSnapshot::take(&[p]));
    let thread_view = || match (threads, own) {
        (Some(prefix), _) => {
            let mut t = threads_by_name(std::process::id());
            t.retain(|name, _| name.starts_with(prefix));
            t
        }
        (None, [pid]) => threads_by_name(*pid),
        _ => Default::default(),
    };
    let by_thread0 = thread_view();
    let started = Instant::now();
    let mut rss_max: Option<u64> = None;
    while started.elapsed() < s.window {
        sleep_checked(Duration::from_secs(1).min(s.window.saturating_sub(started.elapsed())))?;
        if !own.is_empty() {
            let rss: u64 = own.iter().filter_map(|p| rss_bytes(*p)).sum();
            rss_max = Some(rss_max.unwrap_or(0).max(rss));
            if own.iter().any(|p| proc_stat(*p).is_none()) {
                return Err("a watcher exited during the window".into());
            }
        }
    }
    let window = started.elapsed();
    let engines1 = CpuSnapshot::take(&engine_pids(sb));
    let dockerd1 = CpuSnapshot::take(&dockerds(engine_pids(sb)));
    let ssh1 = CpuSnapshot::take(&sshd_session_pids(sb, hosts));
    let own1 = CpuSnapshot::take(own);
    let threads1 = threads.map(own_thread_ticks);
    let tmux1 = tmux_pid.map(|p| CpuSnapshot::take(&[p]));
    let by_thread1 = thread_view();
    let secs = window.as_secs_f64();
    let by_thread = by_thread1
        .iter()
        .map(|(name, (ticks, switches))| {
            let (t0, s0) = by_thread0.get(name).copied().unwrap_or((0, 0));
            (name.clone(), percent_of_core(ticks.saturating_sub(t0), window), switches.saturating_sub(s0) as f64 / secs)
        })
        .collect();
    let own_cpu = match (threads0, threads1) {
        (Some(a), Some(b)) => Some(percent_of_core(b.saturating_sub(a), window)),
        _ if !own.is_empty() => Some(percent_of_core(own0.ticks_until(&own1), window)),
        _ => None,
    };
    Ok(Window {
        secs: window.as_secs_f64(),
        own_cpu,
        rss_end: (!own.is_empty()).then(|| own.iter().filter_map(|p| rss_bytes(*p)).sum()),
        rss_max,
        engines_cpu: percent_of_core(engines0.ticks_until(&engines1), window),
        dockerd_cpu: percent_of_core(dockerd0.ticks_until(&dockerd1), window),
        ssh_side_cpu: percent_of_core(ssh0.ticks_until(&ssh1), window),
        tmux_cpu: match (tmux0, tmux1) {
            (Some(a), Some(b)) => Some(percent_of_core(a.ticks_until(&b), window)),
            _ => None,
        },
        threads: by_thread,
    })
}

/// utime + stime of this process's threads whose name starts with `prefix`.
fn own_thread_ticks(prefix: &str) -> u64 {
    let me = std::process::id();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) else { return 0 };
    tasks
        .flatten()
        .filter_map(|t| t.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter_map(|tid| task_stat(me, tid))
        .filter(|t| t.comm.starts_with(prefix))
        .map(|t| t.own_ticks)
        .sum()
}

fn print_window(label: &str, w: &Window) {
    println!(
        "  {label}: own CPU {}, RSS {}, engines {:.2}% (dockerd {:.2}%), host side {:.2}%, tmux {} ({:.0} s)",
        w.own_cpu.map(|v| format!("{v:.2}%")).unwrap_or("-".into()),
        w.rss_end.map(|v| format!("{:.1} MiB", mib(v))).unwrap_or("-".into()),
        w.engines_cpu,
        w.dockerd_cpu,
        w.ssh_side_cpu,
        w.tmux_cpu.map(|v| format!("{v:.2}%")).unwrap_or("-".into()),
        w.secs
    );
    if !w.threads.is_empty() {
        println!("    by thread: {}", thread_summary(w));
    }
}

/// `name 0.12% (34 wakeups/s), ...`
fn thread_summary(w: &Window) -> String {
    w.threads.iter().map(|(n, cpu, wake)| format!("{n} {cpu:.2}% ({wake:.0} wakeups/s)")).collect::<Vec<_>>().join(", ")
}

/// The library's fleet in this process (its own runtime and thread names), no UI: events are
/// applied to a `FleetState` as the TUI would, nothing is drawn.
fn fleet_in_process(sb: &Sandbox, s: &Settings, cfg: WorkerConfig, label: &str) -> Result<Window, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(FLEET_THREADS)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let profile = Profile::load(&sb.profile_path).map_err(|e| e.to_string())?;
    let hosts = resolve_hosts(&profile).map_err(|e| e.to_string())?;
    let (settled_tx, settled_rx) = std::sync::mpsc::channel::<usize>();
    let consumer = rt.spawn(async move {
        let (mut fleet, mut state) = Fleet::start(&profile, hosts, ConnectOptions::default(), cfg);
        let mut told = false;
        while let Some(ev) = fleet.events.recv().await {
            state.apply(ev);
            if !told && state.all_settled() {
                told = true;
                let _ = settled_tx.send(state.hosts.iter().map(|h| h.containers.len()).sum());
            }
        }
    });
    let result = (|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        let seen = loop {
            check_interrupted()?;
            match settled_rx.recv_timeout(Duration::from_millis(200)) {
                Ok(n) => break n,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => return Err("the in-process fleet did not settle within 60 s".to_string()),
            }
        };
        println!("  settled: {seen} containers seen; warm-up {} s", s.warmup.as_secs());
        sleep_checked(s.warmup)?;
        measure_window(sb, s, &[], Some(FLEET_THREADS), None)
    })();
    consumer.abort();
    rt.shutdown_timeout(Duration::from_secs(2));
    let w = result?;
    print_window(label, &w);
    Ok(w)
}

fn fleetdeck_tui(sb: &Sandbox, s: &Settings) -> Result<Window, String> {
    let mut tmux = Tmux::new("fd");
    let command = format!("env -u NO_COLOR {BIN} --profile {}", sb.profile_path.display());
    let pid = tmux.start("fd", &command, &[])?;
    let want = format!("Hosts ({})", s.hosts);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        check_interrupted()?;
        let screen = tmux.capture("fd");
        if screen.contains(&want) && screen.matches("connected").count() >= s.hosts {
            break;
        }
        if proc_stat(pid).is_none() {
            return Err(format!("fleetdeck exited; last screen:\n{screen}"));
        }
        if Instant::now() > deadline {
            eprintln!("warning: the dashboard did not show {want} with every host connected within 60 s:\n{screen}");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("  dashboard up; warm-up {} s", s.warmup.as_secs());
    sleep_checked(s.warmup)?;
    let w = measure_window(sb, s, &[pid], None, Some(&tmux))?;
    print_window("fleetdeck TUI", &w);
    let screen = tmux.capture("fd");
    println!("  last screen (first lines):");
    for line in screen.lines().take(12) {
        println!("  | {line}");
    }
    tmux.kill();
    Ok(w)
}

fn oxker_window(sb: &Sandbox, s: &Settings, oxker: &std::path::Path) -> Result<Window, String> {
    let mut tmux = Tmux::new("ox");
    let mut pids = Vec::new();
    for (i, h) in sb.hosts.iter().enumerate() {
        let host = h.docker_host();
        let pid = tmux.start(&format!("ox{i}"), &oxker.display().to_string(), &[("DOCKER_HOST", &host)])?;
        pids.push(pid);
    }
    println!("  started; warm-up {} s", s.warmup.as_secs());
    sleep_checked(s.warmup)?;
    // Check that each instance watches its engine, not the machine's main one.
    for i in 0..sb.hosts.len() {
        let screen = tmux.capture(&format!("ox{i}"));
        let name = format!("idle-{}-00", i + 1);
        if !screen.contains(&name) {
            eprintln!("warning: oxker {i} does not show {name}; screen:\n{screen}");
        }
    }
    let w = measure_window(sb, s, &pids, None, Some(&tmux))?;
    print_window("oxker", &w);
    tmux.kill();
    Ok(w)
}
