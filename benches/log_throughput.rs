//! Log throughput benchmark (`cargo bench --bench log_throughput`): numbers printed, never
//! asserted. End to end: containers writing numbered lines as fast as they can, through SSH,
//! into the log view's buffer with an include filter active, side by side with the raw pipe
//! `ssh HOST docker logs -f CONTAINER` on the same containers.
//!
//! Design (a finite, fair measurement):
//! * one sandbox host (sshd + its own dockerd on loopback); for each container count (1 and
//!   20) that many `fleetdeck-demo/worker:v1` containers run a busybox sh loop. Round `k`:
//!   the bench creates `arm<k>` in a directory bind-mounted into every container, the
//!   containers then print `ready <k> NAME` every 50 ms until `go<k>` exists, then write
//!   their share of the burst (`b=<k> i=<i> NAME level=info ...`, ~105 bytes) as fast as the
//!   shell can and one `end <k> NAME`, and wait for the next round silently. Their json-file
//!   log is not rotated during the run (`--log-opt max-size`, FLEETDECK_LOGBENCH_LOG_MAX_SIZE,
//!   default 1g; the sandbox engines' default is 5m x 2 files): Docker 20.10's follow stream
//!   loses and repeats lines across rotations, for any client, which a pilot run showed;
//! * a round of either method starts its followers, waits until it has seen `ready <k>` from
//!   every container (so nothing is missed), creates `go<k>` and times until the `end <k>`
//!   line of every container has arrived: lines/s = burst lines received / that time. Lines
//!   of the burst that did not arrive (dropped) are reported, not hidden;
//! * fleetdeck: the real console path in this process: `App` (open the service's logs,
//!   include filter typed in with keys), a `LogSession` over the fleet's SSH connection
//!   (`LogOptions::default()`), drained like `tui::run` (`changed().await`, `drain(.., LOG_BATCH)`,
//!   `Msg::Logs`), frames drawn at most every 33 ms on a 200x50 `TestBackend`, and a key
//!   (alternately Up, which pauses, and End, which follows) injected every 50-150 ms from
//!   another thread: key latency = from the injection until the frame after it is drawn;
//! * raw: one `ssh -i KEY ... -p PORT root@127.0.0.1 docker -H unix://SOCK logs -f --tail 0
//!   CONTAINER` per container (the OpenSSH client and the machine's docker CLI through the
//!   sandbox's sshd; `--tail 0` so earlier rounds are not replayed), stdout read and its
//!   lines counted by a thread per child (instead of `> /dev/null`, to see the end lines);
//! * rounds alternate fleetdeck / raw (`FLEETDECK_LOGBENCH_ROUNDS` each); medians reported.
//!   CPU: this process (getrusage self: the fleet's runtime, the drain, store, filter and
//!   drawing; in raw rounds the line counters), the ssh clients (getrusage children), the
//!   sandbox sshd (its processes, reaped children included), the engine (dockerd,
//!   containerd, shims). RSS: this process's VmRSS sampled every 50 ms.
//! * render: the log view drawn with 100,000 lines in the buffer (the last fleetdeck round's
//!   lines), filter on and off, following and paused in the middle.
//!
//! Settings: FLEETDECK_LOGBENCH_LINES (lines per burst, all containers together; default
//! 200000), FLEETDECK_LOGBENCH_CONTAINERS (default 1,20), FLEETDECK_LOGBENCH_ROUNDS (3),
//! FLEETDECK_LOGBENCH_TIMEOUT (seconds a round may take, 120), FLEETDECK_LOGBENCH_FILTER
//! (include regex; default `i=\d*7\b`: exactly 10 % of the burst lines),
//! FLEETDECK_LOGBENCH_LOG_MAX_SIZE (json-file max-size of the containers, default 1g).

mod common;
#[path = "logbench/fleet.rs"]
mod fleet;
#[path = "logbench/raw.rs"]
mod raw;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleetdeck::sandbox::{check_prerequisites, Sandbox, SandboxSpec};

/// One container count's setup: the containers and where their round files go.
#[derive(Clone)]
pub struct Case {
    pub containers: Vec<String>,
    /// Lines each container writes per round (a multiple of 10).
    pub per_container: usize,
    /// Bind-mounted into the containers as /go.
    pub go_dir: PathBuf,
}

impl Case {
    pub fn expected(&self) -> usize {
        self.per_container * self.containers.len()
    }

    /// Creates the round file `arm<k>` or `go<k>`.
    pub fn signal(&self, what: &str, round: usize) -> Result<(), String> {
        let path = self.go_dir.join(format!("{what}{round}"));
        std::fs::write(&path, b"").map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The markers of round `k`.
pub struct Markers {
    pub burst: String,
    pub ready: String,
    pub end: String,
}

impl Markers {
    pub fn new(k: usize) -> Markers {
        Markers { burst: format!("b={k} "), ready: format!("ready {k} "), end: format!("end {k} ") }
    }

    /// The line number `i` of a burst line (`b=<k> i=<i> ...`).
    pub fn line_number(&self, line: &[u8]) -> Option<usize> {
        let rest = line.strip_prefix(self.burst.as_bytes())?.strip_prefix(b"i=")?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
    }
}

/// Which of one container's burst lines arrived: distinct ones, and repeats.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    seen: Vec<bool>,
    pub distinct: usize,
    pub repeated: usize,
}

impl Seen {
    pub fn new(lines: usize) -> Seen {
        Seen { seen: vec![false; lines + 1], ..Default::default() }
    }

    pub fn note(&mut self, i: Option<usize>) {
        match i.and_then(|i| self.seen.get_mut(i)) {
            Some(s) if !*s => {
                *s = true;
                self.distinct += 1;
            }
            _ => self.repeated += 1,
        }
    }
}

/// What one round of either method measured.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Distinct burst lines that arrived (into the buffer, or out of the ssh pipes).
    pub lines: usize,
    /// Burst lines that arrived more than once (or unparsable ones).
    pub repeated: usize,
    pub secs: f64,
    /// Burst lines lost on the way (fleetdeck: dropped by its rings).
    pub dropped: u64,
    /// CPU seconds: this process, the ssh clients, sshd (all of the sandbox host's), engine.
    pub cpu_self: f64,
    pub cpu_clients: f64,
    pub cpu_sshd: f64,
    pub cpu_engine: f64,
    /// VmRSS of this process when the round started (fleetdeck: the view open, no burst line
    /// yet) and the highest during the round, bytes.
    pub rss_start: u64,
    pub rss_peak: u64,
    /// fleetdeck: lines in the store / in the filtered view at the end, burst lines in the
    /// view, and the key latencies.
    pub store_len: usize,
    /// fleetdeck: bytes the store holds at the end (`LogStore::bytes_held`: slots and arena)
    /// and the bytes of its lines' texts.
    pub store_bytes: usize,
    pub store_text_bytes: usize,
    /// fleetdeck: chunks packed so far, packed chunks held, bytes of unpacked copies held
    pub store_packing: (u64, usize, usize),
    pub view_burst: usize,
    pub keys: Vec<Duration>,
    /// During each key's latency: the time the UI thread ran, and waited on a run queue (for
    /// a CPU; a wait is booked when it ends, so one that began before the key counts whole).
    pub keys_ran: Vec<Duration>,
    pub keys_queued: Vec<Duration>,
    /// fleetdeck: the largest drained batch, and the longest `Msg::Logs` update and frame.
    pub max_batch: usize,
    pub max_ingest: Duration,
    pub max_draw: Duration,
}

impl Round {
    pub fn rate(&self) -> f64 {
        self.lines as f64 / self.secs.max(1e-9)
    }
}

/// CPU snapshots of the processes outside this one that a round may use.
pub struct OutsideCpu {
    sshd: CpuSnapshot,
    engine: CpuSnapshot,
    sshd_listeners: Vec<u32>,
    engine_pids: Vec<u32>,
    sshd_count_at_start: usize,
}

impl OutsideCpu {
    pub fn start(sb: &Sandbox) -> OutsideCpu {
        let sshd_listeners = sshd_listeners(sb, 1);
        let engine_pids = engine_pids(sb);
        let mut o = OutsideCpu {
            sshd: CpuSnapshot::default(),
            engine: CpuSnapshot::default(),
            sshd_count_at_start: descendants(&sshd_listeners).len(),
            sshd_listeners,
            engine_pids,
        };
        o.rebase();
        o
    }

    /// Measure from now on.
    pub fn rebase(&mut self) {
        self.sshd = CpuSnapshot::take(&with_descendants(&self.sshd_listeners));
        self.engine = CpuSnapshot::take(&self.engine_pids);
    }

    /// sshd's processes (listener's descendants) when `start` was called.
    pub fn sshd_process_count_at_start(&self) -> usize {
        self.sshd_count_at_start
    }

    /// (sshd, engine) CPU seconds since `start`.
    pub fn since(&self) -> (f64, f64) {
        let sshd = self.sshd.ticks_until(&CpuSnapshot::take(&with_descendants(&self.sshd_listeners)));
        let engine = self.engine.ticks_until(&CpuSnapshot::take(&self.engine_pids));
        (sshd as f64 / clk_tck(), engine as f64 / clk_tck())
    }

    pub fn sshd_process_count(&self) -> usize {
        descendants(&self.sshd_listeners).len()
    }
}

/// utime + stime of this process (`RUSAGE_SELF`) or of its reaped children, in seconds.
pub fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Highest VmRSS of this process since the last `reset`, sampled every 50 ms by a thread.
#[derive(Clone)]
pub struct RssPeak(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl RssPeak {
    pub fn start() -> RssPeak {
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let p = peak.clone();
        std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || loop {
                if let Some(rss) = rss_bytes(std::process::id()) {
                    p.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            })
            .expect("rss sampler thread");
        RssPeak(peak)
    }

    /// Starts over from the current VmRSS, which it returns.
    pub fn reset(&self) -> u64 {
        let now = rss_bytes(std::process::id()).unwrap_or(0);
        self.0.store(now, std::sync::atomic::Ordering::Relaxed);
        now
    }

    pub fn peak(&self) -> u64 {
        let now = rss_bytes(std::process::id()).unwrap_or(0);
        self.0.load(std::sync::atomic::Ordering::Relaxed).max(now)
    }
}

/// The containers' program: see the header.
fn script(per_container: usize) -> String {
    format!(
        r#"trap 'exit 0' TERM INT
k=0
while :; do
  k=$((k+1))
  while [ ! -e /go/arm$k ]; do /bin/busybox usleep 200000; done
  while [ ! -e /go/go$k ]; do echo "ready $k $NAME"; /bin/busybox usleep 50000; done
  i=0
  while [ $i -lt {per_container} ]; do
    i=$((i+1))
    echo "b=$k i=$i $NAME level=info msg=\"request completed\" method=GET path=/api/v1/items/$i status=200"
  done
  echo "end $k $NAME"
done"#
    )
}

/// Starts `count` writer containers (labelled as replicas of the profile's `worker` service).
fn start_case(sb: &Sandbox, root: &Path, count: usize, per_container: usize, s: &Settings) -> Result<Case, String> {
    let go_dir = root.join(format!("go-{count}"));
    std::fs::create_dir_all(&go_dir).map_err(|e| format!("{}: {e}", go_dir.display()))?;
    let program = script(per_container);
    let mut containers = Vec::new();
    for i in 0..count {
        let name = format!("{}-lt{count}-{i:02}", sb.prefix);
        let out = sb
            .docker(0)
            .args(["run", "-d", "--name", &name, "--network", "none", "--entrypoint", "/bin/sh"])
            .args(["-l", "com.docker.compose.project=demo", "-l", "com.docker.compose.service=worker"])
            .args(["--log-opt", &format!("max-size={}", s.log_max_size), "--log-opt", "max-file=1"])
            .arg("-e")
            .arg(format!("NAME={name}"))
            .arg("-v")
            .arg(format!("{}:/go:ro", go_dir.display()))
            .args(["fleetdeck-demo/worker:v1", "-c", &program])
            .output()
            .map_err(|e| format!("docker run: {e}"))?;
        if !out.status.success() {
            return Err(format!("docker run {name}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        containers.push(name);
    }
    Ok(Case { containers, per_container, go_dir })
}

fn remove_case(sb: &Sandbox, case: &Case) {
    let _ = sb.docker(0).args(["rm", "-f"]).args(&case.containers).output();
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// p50 / p99 / max of latencies, in ms.
fn percentiles(v: &[Duration]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort();
    let at = |q: f64| ms(s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1]);
    Some((at(0.5), at(0.99), ms(s[s.len() - 1])))
}

fn main() {
    install_interrupt_handler();
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("log_throughput bench failed: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// A case's fleetdeck rounds, raw rounds, and the render times when measured.
type CaseResult = (Vec<Round>, Vec<Round>, Option<fleet::RenderTimes>);

pub struct Settings {
    pub lines: usize,
    pub counts: Vec<usize>,
    pub rounds: usize,
    pub timeout: Duration,
    pub filter: String,
    pub log_max_size: String,
}

fn run() -> Result<(), String> {
    let s = Settings {
        lines: env_or("FLEETDECK_LOGBENCH_LINES", 200_000usize).max(100),
        counts: env_list("FLEETDECK_LOGBENCH_CONTAINERS", &[1, 20]),
        rounds: env_or("FLEETDECK_LOGBENCH_ROUNDS", 3usize).max(1),
        timeout: Duration::from_secs(env_or("FLEETDECK_LOGBENCH_TIMEOUT", 120u64).max(5)),
        filter: env_or("FLEETDECK_LOGBENCH_FILTER", r"i=\d*7\b".to_string()),
        log_max_size: env_or("FLEETDECK_LOGBENCH_LOG_MAX_SIZE", "1g".to_string()),
    };
    check_prerequisites().map_err(|e| e.to_string())?;
    let load_at_start = loadavg();
    println!("log_throughput bench: {} lines per burst, containers {:?}, {} rounds each", s.lines, s.counts, s.rounds);
    println!(
        "include filter {:?}, container log max-size {}; load average at start: {load_at_start} ({} CPUs)",
        s.filter,
        s.log_max_size,
        cpus()
    );
    let tmp = temp_dir("logs");
    let t = Instant::now();
    let sb = Sandbox::up(SandboxSpec::new(1, tmp.path().join("sb"))).map_err(|e| e.to_string())?;
    println!("sandbox up: {:.1} s", t.elapsed().as_secs_f64());
    let rss = RssPeak::start();
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut console = rt.block_on(fleet::Console::start(&sb))?;
    let mut rows = Vec::new();
    for (ci, &count) in s.counts.iter().enumerate() {
        check_interrupted()?;
        let per_container = (s.lines / count / 10 * 10).max(10);
        let case = start_case(&sb, tmp.path(), count, per_container, &s)?;
        println!("\n== {count} container(s) x {per_container} lines per round ({} per round)", case.expected());
        let result = (|| -> Result<CaseResult, String> {
            rt.block_on(console.wait_for_containers(&case.containers, Duration::from_secs(60)))?;
            let (mut fd, mut rw) = (Vec::new(), Vec::new());
            let mut render = None;
            // the containers count their rounds from 1: fleetdeck rounds are odd, raw even
            let mut round_no = 0;
            for r in 0..s.rounds {
                check_interrupted()?;
                round_no += 1;
                let last = r + 1 == s.rounds && ci + 1 == s.counts.len();
                let (f, times) = rt.block_on(console.round(&sb, &case, round_no, &s, &rss, last))?;
                println!("  fleetdeck round {}: {}", r + 1, fleet::summary(&f, case.expected()));
                fd.push(f);
                render = render.or(times);
                round_no += 1;
                let w = rt.block_on(console.while_pumping(raw::round(&sb, &case, round_no, &s, &rss)))??;
                println!("  raw ssh   round {}: {}", r + 1, raw::summary(&w, case.expected()));
                rw.push(w);
            }
            Ok((fd, rw, render))
        })();
        remove_case(&sb, &case);
        let (fd, rw, render) = result?;
        rows.extend(case_rows(count, &case, &fd, &rw));
        if let Some(t) = render {
            rows.extend(fleet::render_rows(&t));
        }
    }
    drop(console);
    rt.shutdown_timeout(Duration::from_secs(2));
    rows.push(load_row(&load_at_start));
    println!();
    print_table(&rows);
    match write_results("log_throughput", &rows) {
        Ok(p) => println!("\nresults: {}", p.display()),
        Err(e) => eprintln!("cannot write results: {e}"),
    }
    drop(sb);
    Ok(())
}

fn case_rows(count: usize, case: &Case, fd: &[Round], rw: &[Round]) -> Vec<Row> {
    let rates = |v: &[Round]| v.iter().map(Round::rate).collect::<Vec<_>>();
    let (f, r) = (median(rates(fd)), median(rates(rw)));
    let span = |v: &[Round]| {
        let rs = rates(v);
        let (lo, hi) = rs.iter().fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        format!("{lo:.0}-{hi:.0}")
    };
    let paired: Vec<String> = fd.iter().zip(rw).map(|(a, b)| format!("{:.2}", a.rate() / b.rate())).collect();
    let pct = |secs: f64, v: &[Round]| secs / v.iter().map(|r| r.secs).sum::<f64>() * 100.0;
    let sum = |v: &[Round], f: fn(&Round) -> f64| v.iter().map(f).sum::<f64>();
    let lines = |v: &[Round]| v.iter().map(|r| r.lines).sum::<usize>().max(1) as f64;
    let who = format!("{count} container(s)");
    let keys: Vec<Duration> = fd.iter().flat_map(|r| r.keys.iter().copied()).collect();
    let ran: Vec<Duration> = fd.iter().flat_map(|r| r.keys_ran.iter().copied()).collect();
    let queued: Vec<Duration> = fd.iter().flat_map(|r| r.keys_queued.iter().copied()).collect();
    let slow: Vec<String> = (0..keys.len())
        .filter(|&i| ms(keys[i]) > 50.0)
        .map(|i| format!("{:.0} ms (ran {:.1}, waited {:.0})", ms(keys[i]), ms(ran[i]), ms(queued[i])))
        .collect();
    let lost = |v: &[Round]| v.iter().map(|r| case.expected().saturating_sub(r.lines) as u64).sum::<u64>();
    let repeated = |v: &[Round]| v.iter().map(|r| r.repeated).sum::<usize>();
    let mut rows = vec![
        Row {
            what: format!("{who}: fleetdeck lines/s into the filtered view"),
            value: format!("median {f:.0} ({} over {} rounds)", span(fd), fd.len()),
            target: "≥ 0.8 × raw".into(),
            how: format!("{} burst lines per round, time from go to every container's end line in the pane", case.expected()),
        },
        Row {
            what: format!("{who}: raw ssh docker logs -f lines/s"),
            value: format!("median {r:.0} ({})", span(rw)),
            target: "(comparison)".into(),
            how: "one OpenSSH client per container, lines counted from its stdout".into(),
        },
        Row {
            what: format!("{who}: ratio fleetdeck / raw"),
            value: format!("{:.2} (rounds: {})", f / r, paired.join(", ")),
            target: "≥ 0.8".into(),
            how: "medians; per round: each fleetdeck round over the raw round after it".into(),
        },
        Row {
            what: format!("{who}: fleetdeck CPU (this process)"),
            value: format!(
                "{:.0} % of a core, {:.2} µs/line",
                pct(sum(fd, |r| r.cpu_self), fd),
                sum(fd, |r| r.cpu_self) / lines(fd) * 1e6
            ),
            target: "-".into(),
            how: "getrusage(self) over the rounds: fleet runtime, drain, store, filter, drawing".into(),
        },
        Row {
            what: format!("{who}: raw ssh clients CPU"),
            value: format!(
                "{:.0} % of a core, {:.2} µs/line",
                pct(sum(rw, |r| r.cpu_clients), rw),
                sum(rw, |r| r.cpu_clients) / lines(rw) * 1e6
            ),
            target: "(comparison)".into(),
            how: "getrusage(children) of the ssh processes (line counting in this process excluded)".into(),
        },
        Row {
            what: format!("{who}: host side CPU fleetdeck / raw"),
            value: format!(
                "sshd {:.0} % / {:.0} %; engine {:.0} % / {:.0} %",
                pct(sum(fd, |r| r.cpu_sshd), fd),
                pct(sum(rw, |r| r.cpu_sshd), rw),
                pct(sum(fd, |r| r.cpu_engine), fd),
                pct(sum(rw, |r| r.cpu_engine), rw)
            ),
            target: "-".into(),
            how: "sandbox sshd tree (incl. the remote docker CLI of raw) and dockerd+containerd+shims".into(),
        },
        Row {
            what: format!("{who}: fleetdeck peak RSS"),
            value: format!(
                "{:.1} MiB = {:.1} MB ({:.1} MiB at the start; store {} lines at the end, holding {:.1} MiB for {:.1} MiB of text; {} chunks held packed, {:.1} MiB of unpacked copies)",
                mib(fd.iter().map(|r| r.rss_peak).max().unwrap_or(0)),
                fd.iter().map(|r| r.rss_peak).max().unwrap_or(0) as f64 / 1e6,
                mib(fd.last().map_or(0, |r| r.rss_start)),
                fd.last().map_or(0, |r| r.store_len),
                mib(fd.last().map_or(0, |r| r.store_bytes as u64)),
                mib(fd.last().map_or(0, |r| r.store_text_bytes as u64)),
                fd.last().map_or(0, |r| r.store_packing.1),
                mib(fd.last().map_or(0, |r| r.store_packing.2 as u64))
            ),
            target: "1M lines ≤ 150 MB (see log_store)".into(),
            how: "VmRSS of this process sampled every 50 ms during the rounds".into(),
        },
        Row {
            what: format!("{who}: lines lost / repeated, fleetdeck vs raw"),
            value: format!(
                "lost {} vs {} (fleetdeck ring drops {}); repeated {} vs {}",
                lost(fd),
                lost(rw),
                fd.iter().map(|r| r.dropped).sum::<u64>(),
                repeated(fd),
                repeated(rw)
            ),
            target: "0".into(),
            how: format!(
                "burst lines that never arrived; the filtered view held {} of a round's burst lines (the default filter passes 10 %)",
                fd.last().map_or(0, |r| r.view_burst),
            ),
        },
    ];
    if let Some((p50, p99, max)) = percentiles(&keys) {
        let (r50, r99, rmax) = percentiles(&ran).unwrap_or_default();
        rows.push(Row {
            what: format!("{who}: key latency while ingesting"),
            value: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} keys)", keys.len()),
            target: "≤ 50 ms".into(),
            how: format!(
                "Up/End injected every 50-150 ms; from injection to the drawn frame (TestBackend 200x50); \
                 largest batch {} lines, longest Msg::Logs update {:.1} ms, longest frame {:.1} ms",
                fd.iter().map(|r| r.max_batch).max().unwrap_or(0),
                fd.iter().map(|r| ms(r.max_ingest)).fold(0.0, f64::max),
                fd.iter().map(|r| ms(r.max_draw)).fold(0.0, f64::max)
            ),
        });
        rows.push(Row {
            what: format!("{who}: UI thread's running time per key"),
            value: format!("p50 {r50:.1} ms, p99 {r99:.1} ms, max {rmax:.1} ms"),
            target: "≤ 50 ms".into(),
            how: format!(
                "CPU the event loop thread used between injection and frame (/proc schedstat); \
                 keys over 50 ms (ran, waited for a CPU on a run queue): {}",
                if slow.is_empty() { "none".to_string() } else { slow.join(", ") }
            ),
        });
    }
    rows
}
