//! Log files named in the profile, followed with `tail -F` over the sandbox's real sshd:
//! every line exactly once across a killed SSH connection, lines stamped with the time they
//! state, and the headless command reading a file to its end (with `--since` on those times).

mod common;

use chrono::{SecondsFormat, Utc};
use common::*;
use fleetdeck::logs::line::{Entry, StreamKind};
use fleetdeck::logs::session::{LogOptions, LogSession};
use fleetdeck::logs::source::{Selector, SourceState};
use fleetdeck::ssh::ConnectOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A profile with service `app` on host-1 whose log is `file`.
fn file_profile(sb: &fleetdeck::sandbox::Sandbox, file: &Path) -> PathBuf {
    let service = format!(
        "\n[[services]]\nname = \"app\"\nhosts = [\"host-1\"]\nlog_files = [{:?}]\n",
        file.display().to_string()
    );
    write_sandbox_profile(sb, "files.toml", &service)
}

fn append(file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Appends `<now, RFC 3339> seq=N app` lines, `per_sec` a second, until stopped.
fn writer(file: PathBuf, per_sec: u64) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut i = 0;
        while !flag.load(Ordering::Relaxed) {
            i += 1;
            append(&file, &format!("{} seq={i} app", Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)));
            std::thread::sleep(Duration::from_millis(1000 / per_sec));
        }
        i
    });
    (stop, handle)
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    let seq = |t: &str| t.split("seq=").nth(1)?.split(' ').next()?.parse().ok();
    entries.iter().filter_map(|e| e.as_line()).filter_map(|l| seq(&l.text)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_is_followed_exactly_once_across_a_killed_connection() {
    let (_tmp, sb) = sandbox(1);
    let file = sb.dir.join("app.log");
    std::fs::write(&file, "").unwrap();
    let profile = load_profile(&file_profile(&sb, &file));
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "host ready", |s| s.hosts[0].ready).await;
    let opts = LogOptions { follow: true, tail: None, since: None, ring_capacity: 100_000 };
    let mut session = LogSession::new(&profile, vec![Selector::Service("app".into())], opts);
    session.sync(&state, &fleet);
    assert_eq!(session.sources().len(), 1, "{:?}", session.sources());

    let mut got: Vec<Entry> = Vec::new();
    let mut collect = async |session: &mut LogSession,
                             got: &mut Vec<Entry>,
                             d: Duration,
                             until: &dyn Fn(&LogSession, &[Entry]) -> bool| {
        let deadline = tokio::time::Instant::now() + d;
        while tokio::time::Instant::now() < deadline && !until(session, got) {
            tokio::select! {
                _ = session.changed() => { session.drain(got, usize::MAX); }
                ev = fleet.events.recv() => if let Some(ev) = ev { state.apply(ev); },
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        session.drain(got, usize::MAX);
    };
    // the source goes live (tail is running) before anything is written
    collect(&mut session, &mut got, Duration::from_secs(20), &|s, _| s.sources()[0].state == SourceState::Live).await;
    assert_eq!(session.sources()[0].state, SourceState::Live, "{:?}", session.sources());
    let (stop, handle) = writer(file.clone(), 100);
    collect(&mut session, &mut got, Duration::from_secs(3), &|_, _| false).await;
    let before_kill = seqs(&got).last().copied().unwrap_or(0);
    assert!(before_kill > 50, "lines flow before the kill: {before_kill}");

    sb.kill_ssh_connections(0);
    let killed_at = Instant::now();
    let target = before_kill + 300;
    let reached = move |_: &LogSession, g: &[Entry]| seqs(g).last().copied().unwrap_or(0) >= target;
    collect(&mut session, &mut got, Duration::from_secs(40), &reached).await;
    stop.store(true, Ordering::Relaxed);
    let written = handle.join().unwrap();
    // and the lines written up to the stop
    collect(&mut session, &mut got, Duration::from_secs(10), &|_, g| seqs(g).last().copied() == Some(written)).await;

    let s = seqs(&got);
    let expected: Vec<u64> = (1..=written).collect();
    if s != expected {
        let dups = s.windows(2).filter(|w| w[1] <= w[0]).count();
        let holes = s.windows(2).filter(|w| w[1] > w[0] + 1).count();
        panic!("not exactly once: {} lines for 1..={written}, {dups} repeats/reorders, {holes} holes", s.len());
    }
    println!("{written} file lines exactly once; {} ms from the kill to the end", killed_at.elapsed().as_millis());
    // each line carries the time it states, not the time it was read
    for l in got.iter().filter_map(|e| e.as_line()) {
        assert_eq!(l.stream, StreamKind::File);
        let stated = chrono::DateTime::parse_from_rfc3339(l.text.split(' ').next().unwrap()).unwrap();
        assert_eq!(l.ts, stated.timestamp_nanos_opt().unwrap(), "{}", l.text);
    }
}

#[test]
fn headless_logs_read_a_file_to_its_end_and_filter_by_the_times_it_states() {
    let (_tmp, sb) = sandbox(1);
    let file = sb.dir.join("access.log");
    // an nginx access log: two old requests, three recent ones
    let clf = |t: chrono::DateTime<Utc>, path: &str| {
        format!(
            "127.0.0.1 - - [{}] \"GET {path} HTTP/1.1\" 200 15 \"-\" \"curl/8\"",
            t.format("%d/%b/%Y:%H:%M:%S +0000")
        )
    };
    let now = Utc::now();
    for (age_min, path) in [(300, "/old-1"), (200, "/old-2"), (3, "/new-1"), (2, "/new-2"), (1, "/new-3")] {
        append(&file, &clf(now - chrono::Duration::minutes(age_min), path));
    }
    let profile = file_profile(&sb, &file);
    let run = |args: &[&str]| {
        let started = Instant::now();
        let out = Command::new(bin()).arg("logs").arg("--profile").arg(&profile).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code().unwrap(), text, String::from_utf8_lossy(&out.stderr).into_owned(), started.elapsed())
    };
    // without -f the file is read to its end and the command returns
    let (code, out, err, took) = run(&["app"]);
    assert_eq!(code, 0, "{err}");
    assert!(took < Duration::from_secs(15), "returned after {took:?}");
    let paths: Vec<&str> = out.lines().filter_map(|l| l.split("GET ").nth(1)?.split(' ').next()).collect();
    assert_eq!(paths, ["/old-1", "/old-2", "/new-1", "/new-2", "/new-3"], "{out}");
    assert!(out.lines().all(|l| l.starts_with(&format!("host-1:{} ", file.display()))), "{out}");
    // --since compares the times the lines state
    let (code, out, err, _) = run(&["app", "--since", "1h", "--json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let texts: Vec<&str> = lines.iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 3, "{out}");
    assert!(texts.iter().all(|t| t.contains("/new-")), "{out}");
    assert_eq!(lines[0]["stream"], "file");
    let first = chrono::DateTime::parse_from_rfc3339(lines[0]["timestamp"].as_str().unwrap()).unwrap();
    assert_eq!(first.timestamp(), (now - chrono::Duration::minutes(3)).timestamp(), "the stated time, to the second");
    // --since without --tail reads the whole file, not only its last 100 lines
    let busy = sb.dir.join("busy.log");
    let half_hour_ago = now - chrono::Duration::minutes(30);
    for i in 0..150 {
        append(&busy, &clf(half_hour_ago + chrono::Duration::seconds(i), &format!("/req-{i}")));
    }
    // and a last line without its newline yet
    std::fs::OpenOptions::new()
        .append(true)
        .open(&busy)
        .unwrap()
        .write_all(b"2026-11-30T08:00:00Z unfinished")
        .unwrap();
    let busy_profile = file_profile(&sb, &busy);
    let out = Command::new(bin())
        .args(["logs", "--profile"])
        .arg(&busy_profile)
        .args(["app", "--since", "1h"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| l.contains("GET /req-")).count(), 150, "{text}");
    let out = Command::new(bin()).args(["logs", "--profile"]).arg(&busy_profile).arg("app").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("unfinished"), "the unfinished last line is read too");
    // a path tail cannot read: named, exit status 1
    let dir_profile = file_profile(&sb, &sb.dir);
    let out = Command::new(bin()).args(["logs", "--profile"]).arg(&dir_profile).arg("app").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("tail exited with status 1"), "{err}");

    // a file that does not exist: the command ends and says so
    let missing = sb.dir.join("missing.log");
    let profile_missing = file_profile(&sb, &missing);
    let started = Instant::now();
    let out = Command::new(bin()).args(["logs", "--profile"]).arg(&profile_missing).arg("app").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(15) && out.stdout.is_empty());
    assert!(err.contains("missing.log: no such file"), "{err}");
}

/// More log files on a host than the connection keeps channels for followers: the extra ones
/// wait (and say so), and commands that end — what deploys and backups run — still get a
/// channel at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_beyond_their_channels_queue_and_never_block_other_commands() {
    use fleetdeck::ssh::client::{MAX_CONCURRENT_EXECS, MAX_FOLLOWERS};
    let (_tmp, sb) = sandbox(1);
    // as many as every channel the connection may open: with one shared pool, nothing would
    // be left for other commands
    let n = MAX_CONCURRENT_EXECS + MAX_FOLLOWERS;
    let queued = n - (MAX_FOLLOWERS - 1);
    let files: Vec<PathBuf> = (0..n).map(|i| sb.dir.join(format!("f{i}.log"))).collect();
    for f in &files {
        append(f, "2026-11-30T08:00:00Z first");
    }
    let list: Vec<String> = files.iter().map(|f| format!("{:?}", f.display().to_string())).collect();
    let service = format!("\n[[services]]\nname = \"app\"\nhosts = [\"host-1\"]\nlog_files = [{}]\n", list.join(", "));
    let profile = load_profile(&write_sandbox_profile(&sb, "many.toml", &service));
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "host ready", |s| s.hosts[0].ready).await;
    let opts = LogOptions { follow: true, tail: None, since: None, ring_capacity: 1000 };
    let mut session = LogSession::new(&profile, vec![Selector::Service("app".into())], opts);
    session.sync(&state, &fleet);
    let mut got = Vec::new();
    let count = |s: &LogSession, want: SourceState| s.sources().iter().filter(|x| x.state == want).count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // the usage sampler holds one follower channel
    while tokio::time::Instant::now() < deadline && count(&session, SourceState::Queued) < queued {
        tokio::select! {
            _ = session.changed() => { session.drain(&mut got, usize::MAX); }
            ev = fleet.events.recv() => if let Some(ev) = ev { state.apply(ev); },
        }
    }
    assert_eq!(count(&session, SourceState::Queued), queued, "{:?}", session.sources());
    assert_eq!(count(&session, SourceState::Live), MAX_FOLLOWERS - 1, "{:?}", session.sources());
    // a command that ends is not kept waiting
    let (ssh, _) = fleet.link(0).unwrap().current().expect("connected");
    let t = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), ssh.exec("echo free")).await.expect("not blocked").unwrap();
    assert_eq!(out.stdout_str().trim(), "free");
    println!("exec answered in {} ms with {queued} followers queued", t.elapsed().as_millis());
    // the first lines of the followed files arrive, none of the queued ones'
    let lines = |g: &[Entry]| g.iter().filter(|e| e.as_line().is_some()).count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while lines(&got) < MAX_FOLLOWERS - 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        session.drain(&mut got, usize::MAX);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    session.drain(&mut got, usize::MAX);
    let lines = lines(&got);
    assert_eq!(lines, MAX_FOLLOWERS - 1, "one line from each followed file");
}
