//! Shared helpers of the benchmarks (`benches/startup.rs`, `benches/idle.rs`, ...): settings from
//! the environment, statistics, /proc readings (CPU ticks, RSS, process trees), tmux servers
//! that are killed on drop, Ctrl-C handling that still cleans up, and the results file that
//! `scripts/bench.sh` summarises.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fleetdeck::sandbox::Sandbox;

/// A setting from the environment, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("bench: cannot parse {name}={v:?}; using the default");
            default
        }),
        _ => default,
    }
}

/// A comma-separated list setting (`1,10,50`), or `default`.
pub fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            let list: Vec<usize> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
            if list.is_empty() {
                default.to_vec()
            } else {
                list
            }
        }
        _ => default.to_vec(),
    }
}

// ---------------------------------------------------------------------------------------------
// Interruption: Ctrl-C / SIGTERM set a flag; the waiting loops return an error, and the guards
// (sandbox, tmux servers, children) clean up while the stack unwinds normally.

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT / SIGTERM / SIGHUP handler.
pub fn install_interrupt_handler() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGHUP, handler);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails if the run was interrupted.
pub fn check_interrupted() -> Result<(), String> {
    if interrupted() {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// Sleeps `d` in small steps; fails early when interrupted.
pub fn sleep_checked(d: Duration) -> Result<(), String> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_interrupted()?;
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
    check_interrupted()
}

// ---------------------------------------------------------------------------------------------
// Statistics.

/// Summary of repeated timings.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub runs: usize,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

pub fn stats(samples: &[Duration]) -> Option<Stats> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2 };
    Some(Stats { runs: n, median, min: s[0], max: s[n - 1] })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// /proc.

/// Clock ticks per second (USER_HZ).
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as f64
    } else {
        100.0
    }
}

/// One process's /proc/PID/stat fields we use.
#[derive(Debug, Clone)]
pub struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub zombie: bool,
    /// utime + stime (all threads), in ticks.
    pub own_ticks: u64,
    /// cutime + cstime: reaped children (short-lived helpers), in ticks.
    pub child_ticks: u64,
}

pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// A thread's stat (`/proc/PID/task/TID/stat`).
pub fn task_stat(pid: u32, tid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text[open + 1..close].to_string();
    let f: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // f[0] = state (field 3), f[1] = ppid (4), f[11..15] = utime stime cutime cstime (14..17).
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Some(ProcStat {
        pid,
        ppid: num(1) as u32,
        comm,
        zombie: matches!(f.first(), Some(&"Z") | Some(&"X")),
        own_ticks: num(11) + num(12),
        child_ticks: num(13) + num(14),
    })
}

/// Every live process.
pub fn all_procs() -> Vec<ProcStat> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
            if let Some(st) = proc_stat(pid) {
                if !st.zombie {
                    out.push(st);
                }
            }
        }
    }
    out
}

/// The command line of a process, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ")
}

/// `pids` and all their live descendants.
pub fn with_descendants(pids: &[u32]) -> Vec<u32> {
    let procs = all_procs();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in &procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut seen: HashSet<u32> = HashSet::new();
    let mut queue: Vec<u32> = pids.to_vec();
    let mut out = Vec::new();
    while let Some(pid) = queue.pop() {
        if seen.insert(pid) {
            out.push(pid);
            queue.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    out
}

/// Live descendants of `pids`, not the pids themselves.
pub fn descendants(pids: &[u32]) -> Vec<u32> {
    let roots: HashSet<u32> = pids.iter().copied().collect();
    with_descendants(pids).into_iter().filter(|p| !roots.contains(p)).collect()
}

/// VmRSS of a process in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:").map(|kb| kb * 1024)
}

/// VmHWM (peak RSS) of a process in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    status_kb(pid, "VmHWM:").map(|kb| kb * 1024)
}

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// CPU ticks (own + reaped children) of a set of processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot(pub HashMap<u32, u64>);

impl CpuSnapshot {
    pub fn take(pids: &[u32]) -> CpuSnapshot {
        CpuSnapshot(pids.iter().filter_map(|&p| proc_stat(p).map(|s| (p, s.own_ticks + s.child_ticks))).collect())
    }

    /// Ticks used between `self` (earlier) and `later`, over the processes alive at `later`
    /// (those started meanwhile count from zero).
    pub fn ticks_until(&self, later: &CpuSnapshot) -> u64 {
        later.0.iter().map(|(pid, t)| t.saturating_sub(self.0.get(pid).copied().unwrap_or(0))).sum()
    }
}

/// CPU ticks as percent of one core over `window`.
pub fn percent_of_core(ticks: u64, window: Duration) -> f64 {
    ticks as f64 / clk_tck() / window.as_secs_f64() * 100.0
}

// ---------------------------------------------------------------------------------------------
// The sandbox's processes.

/// The sandbox's Docker engines' processes right now: every dockerd, containerd and
/// containerd-shim whose command line names an engine's exec root, data root or socket
/// (container processes themselves are not included).
pub fn engine_pids(sb: &Sandbox) -> Vec<u32> {
    let mut needles: Vec<String> = Vec::new();
    for h in sb.hosts.iter().filter(|h| h.owns_engine()) {
        for p in [&h.exec_root, &h.data_root, &h.docker_socket] {
            needles.push(p.to_string_lossy().into_owned());
        }
    }
    let mut pids: Vec<u32> = all_procs()
        .into_iter()
        .filter(|p| {
            let cmd = cmdline(p.pid);
            needles.iter().any(|n| cmd.contains(n.as_str()))
        })
        .map(|p| p.pid)
        .collect();
    for pid in sb.hosts.iter().filter_map(|h| h.dockerd_pid) {
        if !pids.contains(&pid) && proc_stat(pid).is_some() {
            pids.push(pid);
        }
    }
    pids.sort();
    pids.dedup();
    pids
}

/// The sshd listener pids of the first `n` hosts.
pub fn sshd_listeners(sb: &Sandbox, n: usize) -> Vec<u32> {
    sb.hosts.iter().take(n).filter_map(|h| h.sshd_pid()).collect()
}

/// Per-connection sshd processes and whatever runs in their sessions (the host-side cost of
/// an SSH client), for the first `n` hosts.
pub fn sshd_session_pids(sb: &Sandbox, n: usize) -> Vec<u32> {
    descendants(&sshd_listeners(sb, n))
}

/// Waits until no SSH connection to the first `n` hosts is left (up to `timeout`).
pub fn wait_ssh_idle(sb: &Sandbox, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if sshd_session_pids(sb, n).is_empty() {
            return true;
        }
        if Instant::now() >= deadline || interrupted() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// tmux.

/// A private tmux server (`tmux -L NAME`), killed (with everything running in it) on drop.
pub struct Tmux {
    pub socket: String,
    sessions: Vec<String>,
}

impl Tmux {
    pub fn new(tag: &str) -> Tmux {
        Tmux { socket: format!("fdbench-{tag}-{}", std::process::id()), sessions: Vec::new() }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).stdin(Stdio::null());
        c
    }

    /// Starts a detached 200x50 session `name` running `command` (through `sh -c`), with the
    /// extra environment `env`. Returns the pane's pid (the command's, thanks to `exec`).
    pub fn start(&mut self, name: &str, command: &str, env: &[(&str, &str)]) -> Result<u32, String> {
        let mut c = self.cmd();
        c.args(["new-session", "-d", "-s", name, "-x", "200", "-y", "50"]);
        for (k, v) in env {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        c.arg(format!("exec {command}"));
        let out = c.output().map_err(|e| format!("tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!("tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        self.sessions.push(name.to_string());
        let out = self
            .cmd()
            .args(["list-panes", "-t", name, "-F", "#{pane_pid}"])
            .output()
            .map_err(|e| format!("tmux: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no pane pid for {name}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// The visible screen of session `name`.
    pub fn capture(&self, name: &str) -> String {
        self.cmd()
            .args(["capture-pane", "-p", "-t", name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The tmux server's pid.
    pub fn server_pid(&self) -> Option<u32> {
        let out = self.cmd().args(["display-message", "-p", "#{pid}"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Kills the server and everything in it; waits until the panes' processes are gone.
    pub fn kill(&mut self) {
        let server = self.server_pid();
        let panes = server.map(|s| descendants(&[s])).unwrap_or_default();
        let _ = self.cmd().arg("kill-server").stdout(Stdio::null()).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        let alive = |p: &u32| proc_stat(*p).is_some_and(|s| !s.zombie);
        while panes.iter().any(alive) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever ignored SIGHUP: by pid, never by name.
        let left: Vec<String> = panes.iter().filter(|p| alive(p)).map(u32::to_string).collect();
        if !left.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&left).status();
        }
        self.sessions.clear();
        // A killed server may leave its socket file behind: remove ours.
        let dir = std::env::var_os("TMUX_TMPDIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
        // SAFETY: getuid has no preconditions.
        let socket = dir.join(format!("tmux-{}", unsafe { libc::getuid() })).join(&self.socket);
        let _ = std::fs::remove_file(socket);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Results.

/// `target/bench-results/`, next to the bench executable's `target/<profile>/deps/`.
pub fn results_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"));
    target.join("bench-results")
}

/// One result row: what was measured, the number, the target, how it was measured.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub value: String,
    pub target: String,
    pub how: String,
}

/// Writes the rows to `target/bench-results/<bench>.tsv` (tab-separated, with a header) and
/// returns the path.
pub fn write_results(bench: &str, rows: &[Row]) -> std::io::Result<PathBuf> {
    let dir = results_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{bench}.tsv"));
    let mut f = std::fs::File::create(&path)?;
    writeln!(f, "what\tvalue\ttarget\thow")?;
    for r in rows {
        let clean = |s: &str| s.replace(['\t', '\n'], " ");
        writeln!(f, "{}\t{}\t{}\t{}", clean(&r.what), clean(&r.value), clean(&r.target), clean(&r.how))?;
    }
    Ok(path)
}

/// Prints rows as an aligned table.
pub fn print_table(rows: &[Row]) {
    let w = |f: fn(&Row) -> &str, title: &str| rows.iter().map(|r| f(r).len()).max().unwrap_or(0).max(title.len());
    let (a, b, c) = (w(|r| &r.what, "what"), w(|r| &r.value, "value"), w(|r| &r.target, "target"));
    println!("{:<a$}  {:<b$}  {:<c$}  how", "what", "value", "target");
    println!("{}", "-".repeat(a + b + c + 10));
    for r in rows {
        println!("{:<a$}  {:<b$}  {:<c$}  {}", r.what, r.value, r.target, r.how);
    }
}

/// A temporary directory under /tmp (short paths keep unix sockets within their limit).
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("fdbench-{tag}")).tempdir_in("/tmp").expect("temporary directory")
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Number of CPUs online.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A result row telling how busy the machine was (others' work skews wall times).
pub fn load_row(at_start: &str) -> Row {
    Row {
        what: "machine load average (1/5/15 min)".into(),
        value: format!("start {at_start}; end {}", loadavg()),
        target: "-".into(),
        how: format!(
            "/proc/loadavg on {} CPUs; numbers taken while the load is above the CPU count are inflated",
            cpus()
        ),
    }
}

/// Per thread name of process `pid`: (utime + stime ticks, voluntary context switches, i.e.
/// times the thread went to sleep and was woken again).
pub fn threads_by_name(pid: u32) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for tid in tasks.flatten().filter_map(|t| t.file_name().to_str().and_then(|s| s.parse::<u32>().ok())) {
        let Some(st) = task_stat(pid, tid) else { continue };
        let switches = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("voluntary_ctxt_switches:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let e = out.entry(st.comm).or_insert((0, 0));
        e.0 += st.own_ticks;
        e.1 += switches;
    }
    out
}
