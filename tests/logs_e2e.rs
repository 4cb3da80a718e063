//! Log tailing end to end against the real sandbox (real sshd, real Docker engines):
//! exactly-once delivery across a killed SSH connection, merge order across hosts, a stalled
//! consumer that must not block other Docker calls on the same connection, and the headless
//! `fleetdeck logs` command.

mod common;

use common::*;
use fleetdeck::logs::line::{Entry, EntryRef};
use fleetdeck::logs::session::{LogOptions, LogSession};
use fleetdeck::logs::source::Selector;
use fleetdeck::logs::store::LogStore;
use fleetdeck::sandbox::Sandbox;
use fleetdeck::ssh::ConnectOptions;
use std::process::Command;
use std::time::{Duration, Instant};

/// A container on `host` printing `seq=N` lines, `per_sec` a second (0: as fast as it can).
fn counter(sb: &Sandbox, host: usize, name: &str, per_sec: u32) -> String {
    let pause = match 1_000_000u32.checked_div(per_sec) {
        Some(us) => format!("/bin/busybox usleep {us};"),
        None => String::new(),
    };
    let script = format!("i=0; while :; do i=$((i+1)); echo \"seq=$i {name}\"; {pause} done");
    let full = format!("{}-{name}", sb.prefix);
    let out = sb
        .docker(host)
        .args(["run", "-d", "--name", &full, "--network", "host", "--entrypoint", "/bin/sh"])
        .args(["-l", "com.docker.compose.project=demo", "-l", &format!("com.docker.compose.service={name}")])
        .args(["fleetdeck-demo/worker:v1", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    full
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries
        .iter()
        .filter_map(|e| e.as_line())
        .filter_map(|l| l.text.strip_prefix("seq=")?.split(' ').next()?.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_exactly_once_in_order_across_a_killed_connection() {
    let (_tmp, sb) = sandbox(1);
    let name = counter(&sb, 0, "count", 50);
    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "host ready", |s| s.hosts[0].ready).await;
    let opts = LogOptions { follow: true, tail: None, since: None, ring_capacity: 100_000 };
    let mut session =
        LogSession::new(&profile, vec![Selector::Container { host: Some("host-1".into()), name: name.clone() }], opts);
    session.sync(&state, &fleet);
    let mut got: Vec<Entry> = Vec::new();
    let collect_for = async |session: &mut LogSession,
                             fleet: &mut fleetdeck::fleet::Fleet,
                             state: &mut fleetdeck::fleet::model::FleetState,
                             d: Duration,
                             until: &dyn Fn(&[Entry]) -> bool,
                             got: &mut Vec<Entry>| {
        let deadline = tokio::time::Instant::now() + d;
        while tokio::time::Instant::now() < deadline && !until(got) {
            tokio::select! {
                _ = session.changed() => { session.drain(got, usize::MAX); }
                ev = fleet.events.recv() => if let Some(ev) = ev { state.apply(ev); },
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        session.drain(got, usize::MAX);
    };
    collect_for(&mut session, &mut fleet, &mut state, Duration::from_secs(3), &|_| false, &mut got).await;
    let before_kill = seqs(&got).last().copied().unwrap_or(0);
    assert!(before_kill > 50, "lines flow before the kill: {before_kill}");

    // Kill the sshd process serving this connection: fleetdeck reconnects and resumes.
    sb.kill_ssh_connections(0);
    let killed_at = Instant::now();
    let target = before_kill + 400;
    collect_for(
        &mut session,
        &mut fleet,
        &mut state,
        Duration::from_secs(40),
        &|g: &[Entry]| seqs(g).last().copied().unwrap_or(0) >= target,
        &mut got,
    )
    .await;
    let s = seqs(&got);
    let last = *s.last().unwrap();
    assert!(last >= target, "lines resumed after the reconnect (last {last}, wanted {target})");
    assert!(state.hosts[0].conn.is_connected() || last >= target);
    // Exactly once and in order: 1, 2, 3, ... with nothing missing or repeated.
    let expected: Vec<u64> = (1..=last).collect();
    if s != expected {
        let dups = s.windows(2).filter(|w| w[1] <= w[0]).count();
        let holes = s.windows(2).filter(|w| w[1] > w[0] + 1).count();
        panic!("not exactly once: {} lines for 1..={last}, {dups} repeats/reorders, {holes} holes", s.len());
    }
    println!("{} lines exactly once; {} ms from the kill to line {target}", s.len(), killed_at.elapsed().as_millis());
    assert!(got.iter().all(|e| e.as_line().is_some()), "no gap markers: nothing was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_from_two_hosts_merge_in_timestamp_order() {
    let (_tmp, sb) = sandbox(2);
    let a = counter(&sb, 0, "a", 40);
    let b = counter(&sb, 1, "b", 40);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "hosts ready", |s| s.hosts.iter().all(|h| h.ready)).await;
    let selectors = vec![
        Selector::Container { host: Some("host-1".into()), name: a },
        Selector::Container { host: Some("host-2".into()), name: b },
    ];
    let opts = LogOptions { follow: false, tail: None, since: None, ring_capacity: 100_000 };
    let mut session = LogSession::new(&profile, selectors, opts);
    session.sync(&state, &fleet);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut store = LogStore::new(1_000_000);
    let mut batch = Vec::new();
    while !session.all_ended() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        session.drain(&mut batch, usize::MAX);
        // deliberately insert one host's batch before the other's: the store must order them
        batch.sort_by_key(|e| std::cmp::Reverse(e.source()));
        for e in batch.drain(..) {
            store.insert(e);
        }
    }
    session.drain(&mut batch, usize::MAX);
    for e in batch.drain(..) {
        store.insert(e);
    }
    assert!(session.all_ended(), "{:?}", session.sources());
    let entries: Vec<EntryRef> = store.iter().collect();
    assert!(entries.len() > 150, "{}", entries.len());
    assert!(entries.windows(2).all(|w| w[0].ts() <= w[1].ts()), "sorted by timestamp");
    let switches = entries.windows(2).filter(|w| w[0].source() != w[1].source()).count();
    assert!(switches > 50, "the two hosts' lines interleave ({switches} switches)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_never_blocks_docker_calls_on_the_same_connection() {
    let (_tmp, sb) = sandbox(1);
    let flood = counter(&sb, 0, "flood", 0);
    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "host ready", |s| s.hosts[0].ready).await;
    let opts = LogOptions { follow: true, tail: None, since: None, ring_capacity: 1_000 };
    let mut session =
        LogSession::new(&profile, vec![Selector::Container { host: Some("host-1".into()), name: flood }], opts);
    session.sync(&state, &fleet);
    // Nobody drains the session (a paused view during a long burst). Docker API calls on the
    // same SSH connection keep answering.
    let (_, docker) = fleet.link(0).unwrap().current().expect("connected");
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            docker.list_containers(None::<bollard::query_parameters::ListContainersOptions>),
        )
        .await;
        assert!(matches!(r, Ok(Ok(_))), "Docker call blocked or failed: {r:?}");
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("slowest Docker call during the stall: {} ms", worst.as_millis());
    // What did not fit was counted, and is marked where it happened.
    assert!(session.dropped() > 0, "the flood overflowed the 1000-line ring");
    let mut got = Vec::new();
    session.drain(&mut got, usize::MAX);
    assert!(got.len() <= 1_001 + 1, "the ring never grew past its capacity: {}", got.len());
    let gap = got.iter().find_map(|e| e.as_gap()).expect("a gap marker");
    assert!(gap.count > 0);
}

#[test]
fn headless_logs_command() {
    let (_tmp, sb) = sandbox(1);
    let name = counter(&sb, 0, "count", 20);
    std::thread::sleep(Duration::from_secs(2));
    let profile = sb.profile_path.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(bin()).arg("logs").arg("--profile").arg(profile).args(args).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // JSON objects with source, timestamp, stream, level and text.
    let target = format!("host-1/{name}");
    let (code, out, err) = run(&[&target, "--tail", "5", "--json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "{out}");
    for l in &lines {
        assert_eq!(l["source"], target.as_str());
        assert_eq!(l["stream"], "stdout");
        assert!(l["text"].as_str().unwrap().starts_with("seq="));
        assert!(l["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    // --grep / --exclude filter; the prefix names the source.
    let (code, out, _) = run(&[&target, "--grep", r"seq=\d*7 ", "--exclude", "seq=17 "]);
    assert_eq!(code, 0);
    assert!(!out.is_empty());
    for l in out.lines() {
        assert!(l.starts_with(&format!("{target} seq=")), "{l}");
        assert!(l.contains("7 ") && !l.contains("seq=17 "), "{l}");
    }
    // level filter: these lines have no level
    let (code, out, _) = run(&[&target, "--level", "error"]);
    assert_eq!(code, 0);
    assert!(out.is_empty(), "{out}");
    // bad input: clear errors, exit 2
    let (code, _, err) = run(&[&target, "--grep", "("]);
    assert_eq!(code, 2);
    assert!(err.contains("--grep") || err.contains("regex"), "{err}");
    let (code, _, err) = run(&["nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no service, host or container matches \"nope\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_replicas_join_a_followed_service_and_removed_ones_are_marked() {
    let (_tmp, sb) = sandbox(2);
    let first = counter(&sb, 0, "svc", 20);
    let profile_text = std::fs::read_to_string(&sb.profile_path).unwrap();
    let base = profile_text.split("[[services]]").next().unwrap();
    let path = sb.profile_path.with_file_name("svc.toml");
    std::fs::write(&path, format!("{base}[[services]]\nname = \"svc\"\ncompose_service = \"svc\"\n")).unwrap();
    let profile = load_profile(&path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "hosts ready", |s| s.hosts.iter().all(|h| h.ready)).await;
    let mut session = LogSession::new(&profile, vec![Selector::Service("svc".into())], LogOptions::default());
    session.sync(&state, &fleet);
    assert_eq!(session.sources().len(), 1);

    // A second replica starts on host-2: it joins without anyone asking.
    let second = counter(&sb, 1, "svc", 20);
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            ev = fleet.events.recv() => if let Some(ev) = ev { if state.apply(ev) { session.sync(&state, &fleet); } },
            _ = session.changed() => { session.drain(&mut got, usize::MAX); }
        }
        if got.iter().filter_map(|e| e.as_line()).any(|l| l.source == 1) {
            break;
        }
    }
    assert_eq!(session.sources().len(), 2, "{:?}", session.sources());
    assert!(session.sources()[1].label.ends_with(&second), "{:?}", session.sources());
    assert!(got.iter().filter_map(|e| e.as_line()).any(|l| l.source == 1), "the new replica's lines arrive");

    // The first replica is removed: its source is marked.
    let out = sb.docker(0).args(["rm", "-f", &first]).output().unwrap();
    assert!(out.status.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline
        && session.sources()[0].state != fleetdeck::logs::source::SourceState::Removed
    {
        tokio::select! {
            ev = fleet.events.recv() => if let Some(ev) = ev { if state.apply(ev) { session.sync(&state, &fleet); } },
            _ = session.changed() => { session.drain(&mut got, usize::MAX); }
            _ = tokio::time::sleep(Duration::from_millis(200)) => { session.drain(&mut got, usize::MAX); }
        }
    }
    assert_eq!(session.sources()[0].state, fleetdeck::logs::source::SourceState::Removed);
}

/// A session starts with the last lines of each container; a longer time window reads the
/// lines before them (the user pressed `w` for 1h): afterwards the store holds every line from
/// the window's start on, exactly once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_time_window_reads_the_older_lines_exactly_once() {
    let (_tmp, sb) = sandbox(1);
    let before_start = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 1_000_000_000;
    let name = counter(&sb, 0, "older", 50);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "host ready", |s| s.hosts[0].ready).await;
    let opts = LogOptions { follow: true, tail: Some(20), since: None, ring_capacity: 100_000 };
    let mut session = LogSession::new(&profile, vec![Selector::Container { host: Some("host-1".into()), name }], opts);
    session.sync(&state, &fleet);
    let mut store = LogStore::new(1_000_000);
    type Done<'a> = &'a dyn Fn(&LogSession, &LogStore) -> bool;
    let pump = async |session: &mut LogSession,
                      store: &mut LogStore,
                      fleet: &mut fleetdeck::fleet::Fleet,
                      state: &mut fleetdeck::fleet::model::FleetState,
                      d: Duration,
                      done: Done<'_>| {
        let deadline = tokio::time::Instant::now() + d;
        let mut batch = Vec::new();
        while tokio::time::Instant::now() < deadline && !done(session, store) {
            tokio::select! {
                _ = session.changed() => {}
                ev = fleet.events.recv() => if let Some(ev) = ev { state.apply(ev); },
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            session.drain(&mut batch, usize::MAX);
            store.insert_batch(&mut batch);
        }
    };
    let all = |store: &LogStore| {
        let mut v = Vec::new();
        store.for_each(|_, e| v.push(e.into_owned()));
        seqs(&v)
    };
    pump(&mut session, &mut store, &mut fleet, &mut state, Duration::from_secs(10), &|_, st| st.len() >= 20).await;
    let first = all(&store)[0];
    assert!(first > 150, "the session started with the last 20 lines, from seq {first}");

    assert_eq!(session.backfill(&fleet, before_start, 100_000), 1, "one container to read back");
    assert_eq!(session.backfill(&fleet, before_start, 100_000), 0, "asked twice, read once");
    let done = |s: &LogSession, st: &LogStore| s.backfilling() == 0 && all(st)[0] == 1;
    pump(&mut session, &mut store, &mut fleet, &mut state, Duration::from_secs(20), &done).await;
    let s = all(&store);
    let last = *s.last().unwrap();
    assert_eq!(s, (1..=last).collect::<Vec<u64>>(), "every line from the start, once, in order");
    assert_eq!(session.backfilling(), 0, "the read finished and gave its ring back");
    let report = session.backfill_report().expect("a report once the reads are done");
    assert_eq!(report, format!("read {} older lines of 1 container(s)", first - 1));
    assert_eq!(session.backfill_report(), None, "reported once");
    println!("{} lines before seq {first} read back; {} in all", first - 1, s.len());
}

/// A container writing as fast as it can, its lines through SSH into a store at the default
/// chunk size: enough of them that most chunks are packed, and every line still reads back
/// exactly once, in order, through the packed chunks (and a filter over them finds them all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_read_back_exactly_once_from_packed_chunks() {
    let (_tmp, sb) = sandbox(1);
    let full = format!("{}-packed", sb.prefix);
    let pad = "x".repeat(100);
    let script =
        format!("i=0; while :; do i=$((i+1)); echo \"seq=$i level=info msg=request path=/api/items/$i {pad}\"; done");
    let out = sb
        .docker(0)
        .args(["run", "-d", "--name", &full, "--network", "host", "--entrypoint", "/bin/sh"])
        .args(["fleetdeck-demo/worker:v1", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let profile = load_profile(&sb.profile_path);
    let (mut fleet, mut state) = start(&profile, ConnectOptions::default());
    wait_for(&mut fleet, &mut state, Duration::from_secs(30), "host ready", |s| s.hosts[0].ready).await;
    let opts = LogOptions { follow: true, tail: None, since: None, ring_capacity: 2_000_000 };
    let selector = Selector::Container { host: Some("host-1".into()), name: full };
    let mut session = LogSession::new(&profile, vec![selector], opts);
    session.sync(&state, &fleet);
    let mut store = LogStore::new(1_000_000);
    let mut batch = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    // ~1.5 MB of records: more than 20 chunks of 64 KiB
    while store.len() < 10_000 && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = session.changed() => {}
            ev = fleet.events.recv() => if let Some(ev) = ev { state.apply(ev); },
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        session.drain(&mut batch, usize::MAX);
        store.insert_batch(&mut batch);
    }
    let (_, packed, _) = store.packing_stats();
    assert!(packed >= 10, "{packed} chunks packed for {} lines", store.len());
    let mut lines = Vec::new();
    store.for_each(|_, e| lines.push(e.into_owned()));
    let s = seqs(&lines);
    let last = *s.last().unwrap();
    assert_eq!(s, (1..=last).collect::<Vec<u64>>(), "every line once, in order, from packed chunks");
    assert!(lines.iter().all(|e| e.as_line().is_some_and(|l| l.text.ends_with(pad.as_str()))), "texts intact");
    // a filter over the packed store: every seq ending in 7
    let spec = fleetdeck::logs::filter::FilterSpec { include: Some(r"seq=\d*7 ".into()), ..Default::default() };
    let mut view =
        fleetdeck::logs::view::FilteredView::new(fleetdeck::logs::filter::LogFilter::new(&Default::default()).unwrap());
    view.set_filter(fleetdeck::logs::filter::LogFilter::new(&spec).unwrap(), &store);
    assert_eq!(view.len() as u64, (last + 3) / 10);
    // the store holds less than the texts alone (the plain tail of 8 chunks included)
    let text: usize = lines.iter().filter_map(|e| e.as_line()).map(|l| l.text.len()).sum();
    assert!(store.bytes_held() < text, "{} bytes held for {text} bytes of text", store.bytes_held());
}
