//! The raw pipe of the log throughput bench: one `ssh ... docker logs -f --tail 0 CONTAINER`
//! (OpenSSH client, the machine's docker CLI run by the sandbox's sshd) per container, its
//! stdout read by a thread that counts the round's lines.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fleetdeck::sandbox::Sandbox;

use super::common::{check_interrupted, clk_tck, proc_stat};
use super::{rusage_secs, Case, Markers, OutsideCpu, Round, RssPeak, Seen, Settings};

enum Event {
    Ready,
    End(Instant),
}

/// Kills and reaps the ssh clients however the round ends (by pid: our own children).
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

/// Reads one client's stdout: reports `ready` and `end` of round `k`, notes its burst lines.
fn reader(out: impl std::io::Read, m: Markers, mut seen: Seen, tx: mpsc::Sender<Event>) -> Seen {
    let mut r = BufReader::with_capacity(1 << 16, out);
    let (mut buf, mut ready) = (Vec::with_capacity(256), false);
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return seen,
            Ok(_) => {}
        }
        if buf.starts_with(m.burst.as_bytes()) {
            seen.note(m.line_number(&buf));
        } else if !ready && buf.starts_with(m.ready.as_bytes()) {
            ready = true;
            let _ = tx.send(Event::Ready);
        } else if buf.starts_with(m.end.as_bytes()) {
            let _ = tx.send(Event::End(Instant::now()));
            return seen;
        }
    }
}

/// CPU ticks of the given processes (own, all threads) right now.
fn ticks(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&p| proc_stat(p)).map(|s| s.own_ticks).sum()
}

/// One raw round, to run on a blocking thread (see the bench header).
pub fn round(
    sb: &Sandbox,
    case: &Case,
    k: usize,
    s: &Settings,
    rss: &RssPeak,
) -> impl FnOnce() -> Result<Round, String> {
    let host = sb.host(0);
    let commands: Vec<std::process::Command> = case
        .containers
        .iter()
        .map(|name| {
            let mut cmd = sb.ssh(0);
            cmd.args(["docker", "-H", &host.docker_host(), "logs", "-f", "--tail", "0", name]);
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
            cmd
        })
        .collect();
    let mut outside = OutsideCpu::start(sb);
    let (case, rss, timeout) = (case.clone(), rss.clone(), s.timeout);
    move || {
        case.signal("arm", k)?;
        let (tx, rx) = mpsc::channel();
        let mut children = Children(Vec::new());
        let mut readers = Vec::new();
        for mut cmd in commands {
            let mut child = cmd.spawn().map_err(|e| format!("ssh: {e}"))?;
            let out = child.stdout.take().ok_or("ssh without stdout")?;
            let (m, tx, seen) = (Markers::new(k), tx.clone(), Seen::new(case.per_container));
            let counter = std::thread::Builder::new().name("raw-counter".into());
            readers.push(counter.spawn(move || reader(out, m, seen, tx)).map_err(|e| e.to_string())?);
            children.0.push(child);
        }
        drop(tx);
        let want = children.0.len();
        let pids: Vec<u32> = children.0.iter().map(Child::id).collect();
        let wait = |n: usize, until: Instant, is_end: bool| -> Result<Option<Instant>, String> {
            let (mut got, mut last) = (0, None);
            while got < n {
                check_interrupted()?;
                let left = until.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                    Ok(Event::Ready) if !is_end => got += 1,
                    Ok(Event::End(t)) if is_end => {
                        got += 1;
                        last = Some(t);
                    }
                    Ok(_) => {}
                    Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < until => {}
                    Err(_) => return Err(format!("{got} of {n} ssh clients got there in time")),
                }
            }
            Ok(last)
        };
        wait(want, Instant::now() + Duration::from_secs(30), false).map_err(|e| format!("ready: {e}"))?;
        outside.rebase();
        let (cpu0, clients0) = (rusage_secs(libc::RUSAGE_SELF), ticks(&pids));
        rss.reset();
        case.signal("go", k)?;
        let start = Instant::now();
        let end = wait(want, start + timeout, true).map_err(|e| format!("end lines: {e}"))?;
        let end = end.unwrap_or_else(Instant::now);
        let cpu_clients = ticks(&pids).saturating_sub(clients0) as f64 / clk_tck();
        let cpu_self = rusage_secs(libc::RUSAGE_SELF) - cpu0;
        let (cpu_sshd, cpu_engine) = outside.since();
        let rss_peak = rss.peak();
        let before = outside.sshd_process_count_at_start();
        drop(children);
        let seen: Vec<Seen> = readers.into_iter().map(|r| r.join().unwrap_or_default()).collect();
        // let sshd reap the sessions before the next round
        let deadline = Instant::now() + Duration::from_secs(5);
        while outside.sshd_process_count() > before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Round {
            lines: seen.iter().map(|s| s.distinct).sum(),
            repeated: seen.iter().map(|s| s.repeated).sum(),
            secs: (end - start).as_secs_f64(),
            dropped: 0,
            cpu_self,
            cpu_clients,
            cpu_sshd,
            cpu_engine,
            rss_peak,
            ..Default::default()
        })
    }
}

pub fn summary(r: &Round, expected: usize) -> String {
    format!(
        "{}/{expected} lines ({} repeated) in {:.2} s = {:.0} lines/s, ssh clients CPU {:.2} s (sshd {:.2}, engine {:.2}; counting {:.2})",
        r.lines,
        r.repeated,
        r.secs,
        r.rate(),
        r.cpu_clients,
        r.cpu_sshd,
        r.cpu_engine,
        r.cpu_self
    )
}
