//! Log pipeline benchmark (`cargo bench --bench log_store`): prints numbers, asserts nothing.
//!
//! 1. Ingest N lines (default 1M, `LOG_BENCH_LINES`) of ~80-byte text from 20 sources, mostly
//!    in order with 1% late by up to 2 s, through the real path: Docker timestamp parsing,
//!    level detection, per-stream rings, drain, store insert (budget N) and a level-filtered
//!    view kept in sync. Reports lines/s per phase and RSS growth per line.
//! 2. Rebuilding a view over the full store with an include regex (and other filters).
//! 3. `window()` of 50 rows at random offsets in a ~100k-entry filtered view, plus the ANSI
//!    span split a renderer would do on those rows; `find()` over the whole view.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fleetdeck::logs::filter::{FilterSpec, LogFilter};
use fleetdeck::logs::level::Level;
use fleetdeck::logs::line::{ansi_spans, parse_docker_timestamped, Entry, LogLine, StreamKind};
use fleetdeck::logs::ring::RingSet;
use fleetdeck::logs::store::LogStore;
use fleetdeck::logs::view::{FilteredView, Follow};

const SOURCES: u32 = 20;
const T0: i64 = 1_796_007_845_000_000_000; // 2026-11-30T03:04:05Z

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// VmRSS of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn text(rng: &mut Rng) -> String {
    let (a, b, c) = (rng.below(1000), rng.below(100_000), rng.below(250));
    match rng.below(10) {
        0 => format!("ERROR upstream timeout after 5000ms host=10.0.{c}.{a} path=/api/v1/orders/{b} retry=3"),
        1 => format!("WARN  slow query took {a}ms: SELECT id, total FROM orders WHERE customer_id = {b}"),
        2 => format!(r#"{{"level":"info","ts":1796007845.{b},"msg":"cache hit","key":"user:{b}","ttl":{a}}}"#),
        3 => format!(r#"time="2026-11-30T03:04:05Z" level=debug msg="tick" worker={c} queue_depth={a} lag={b}us"#),
        4 => format!("\x1b[32mINFO\x1b[0m connection from 10.0.{c}.{a}:{b} accepted, {a} active sessions now"),
        5 => format!("    at com.example.orders.OrderService.handle(OrderService.java:{a}) ~[app.jar:{c}]"),
        _ => format!("INFO  request completed method=GET path=/api/v1/items/{b} status=200 dur={a}ms"),
    }
}

fn rfc3339(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn per_sec(n: usize, d: Duration) -> String {
    format!("{:>10.0} lines/s", n as f64 / d.as_secs_f64())
}

/// Feeds every input line through parse → ring → drain → store → view → follow.
fn ingest(raw: &str, spans: &[(u32, u32, u32)], spec: &FilterSpec, batched: bool) -> (LogStore, FilteredView) {
    let n = spans.len();
    let set = RingSet::new();
    let rings: Vec<_> = (0..SOURCES).map(|s| set.add(s, 8192)).collect();
    let mut store = LogStore::new(n);
    let mut view = FilteredView::new(LogFilter::new(spec).unwrap());
    let mut follow = Follow::new();
    let mut batch: Vec<Entry> = Vec::with_capacity(8192);
    let (mut t_produce, mut t_consume) = (Duration::ZERO, Duration::ZERO);
    let t_all = Instant::now();
    for chunk in spans.chunks(4096) {
        let t = Instant::now();
        for &(source, start, end) in chunk {
            let line = &raw[start as usize..end as usize];
            let (ts, text) = parse_docker_timestamped(line).expect("bench input parses");
            rings[source as usize].push(LogLine::new(ts, source, StreamKind::Stdout, text));
        }
        let t2 = Instant::now();
        t_produce += t2 - t;
        set.drain_all(&mut batch, usize::MAX);
        if batched {
            let outcome = store.insert_batch(&mut batch);
            let change = view.on_insert_batch(&store, &outcome);
            follow.on_batch(&change, view.len(), 50);
        } else {
            for e in batch.drain(..) {
                let outcome = store.insert(e);
                let change = view.on_insert(&store, &outcome);
                follow.on_change(&change, view.len(), 50);
            }
        }
        t_consume += t2.elapsed();
    }
    let t_all = t_all.elapsed();
    let how =
        if batched { "insert_batch + on_insert_batch + on_batch" } else { "insert + on_insert + on_change per entry" };
    println!("\n1. ingest, {how}");
    println!("   total     {} ({:.3} s)", per_sec(n, t_all), t_all.as_secs_f64());
    println!("   producer  {}  (parse, detect_level, Box<str>, ring push)", per_sec(n, t_produce));
    println!("   consumer  {}  (drain_all, store, view, follow)", per_sec(n, t_consume));
    println!(
        "   store {} entries, {} late inserts, {} evicted, {} dropped by rings; warn+ view {} entries",
        store.len(),
        store.late_inserts(),
        store.evicted(),
        set.dropped_total(),
        view.len()
    );
    (store, view)
}

fn main() {
    let n: usize = std::env::var("LOG_BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    println!("log_store bench: {n} lines, {SOURCES} sources, budget {n}");
    println!("size_of::<LogLine>() = {}, size_of::<Entry>() = {} (the store: a 16-byte slot and a record in its arena per entry)", size_of::<LogLine>(), size_of::<Entry>());

    // Raw input, one buffer (so that freeing it cannot feed the store's allocations).
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut raw = String::with_capacity(n * 120);
    let mut spans = Vec::with_capacity(n);
    let (mut text_bytes, mut late) = (0usize, 0usize);
    for i in 0..n {
        let mut ts = T0 + i as i64 * 5_000 + rng.below(5_000) as i64;
        if rng.below(100) == 0 {
            ts -= rng.below(2_000_000_000) as i64;
            late += 1;
        }
        let t = text(&mut rng);
        text_bytes += t.len();
        let start = raw.len();
        raw.push_str(&rfc3339(ts));
        raw.push(' ');
        raw.push_str(&t);
        raw.push('\n');
        spans.push(((rng.below(SOURCES as u64)) as u32, start as u32, raw.len() as u32));
    }
    println!(
        "input: avg text {:.1} bytes, {late} late lines ({:.2}%)",
        text_bytes as f64 / n as f64,
        late as f64 * 100.0 / n as f64
    );

    // 1. Ingest, batch path (measured for memory), then the entry-by-entry path.
    let rss_before = rss_kib();
    let warn = FilterSpec { min_level: Some(Level::Warn), ..Default::default() };
    let (store, mut view) = ingest(&raw, &spans, &warn, true);
    let rss_after = rss_kib();
    let grown = (rss_after.saturating_sub(rss_before)) * 1024;
    println!(
        "   RSS {} MiB -> {} MiB: +{:.1} MiB, {:.0} bytes/line (incl. {:.1} MiB warn+ view index)",
        rss_before / 1024,
        rss_after / 1024,
        grown as f64 / 1048576.0,
        grown as f64 / n as f64,
        (view.len() * 8) as f64 / 1048576.0
    );
    println!(
        "   store holds {:.1} MiB: {:.0} bytes/line (slots and text arena, {} compactions)",
        store.bytes_held() as f64 / 1048576.0,
        store.bytes_held() as f64 / n as f64,
        store.compactions()
    );
    drop(ingest(&raw, &spans, &warn, false));

    // Store-only insert rate, from ready lines (text already allocated).
    let mut lines: Vec<Entry> = Vec::with_capacity(n.min(200_000));
    store.for_each(|_, e| {
        if lines.len() < n.min(200_000) {
            lines.push(e.into_owned());
        }
    });
    let mut shuffled_late = lines.clone();
    for i in (0..shuffled_late.len()).step_by(100) {
        let j = i.saturating_sub(rng.below(400) as usize);
        shuffled_late.swap(i, j);
    }
    let mut s2 = LogStore::new(n);
    let t = Instant::now();
    for e in shuffled_late {
        black_box(s2.insert(e));
    }
    println!("   store.insert alone {} (200k lines, 1% late)", per_sec(lines.len(), t.elapsed()));
    drop((s2, lines));

    // 2. Filter rebuilds over the full store.
    println!("\n2. view rebuild over {} entries", store.len());
    let cases = [
        ("include 'timeout|refused'", FilterSpec { include: Some("timeout|refused".into()), ..Default::default() }),
        ("include 'orders/\\d+5 '", FilterSpec { include: Some(r"orders/\d+5 ".into()), ..Default::default() }),
        ("exclude 'tick'", FilterSpec { exclude: Some("tick".into()), ..Default::default() }),
        ("min level warn", warn.clone()),
        ("sources 0-4", FilterSpec { sources: Some((0..5).collect()), ..Default::default() }),
        ("no filter", FilterSpec::default()),
    ];
    for (name, spec) in &cases {
        let t = Instant::now();
        view.set_filter(LogFilter::new(spec).unwrap(), &store);
        let d = t.elapsed();
        println!("   {name:<28} {:>8.1} ms  -> {:>7} entries", d.as_secs_f64() * 1e3, view.len());
    }

    // 3. window() in a ~100k filtered view.
    view.set_filter(LogFilter::new(&cases[0].1).unwrap(), &store);
    let (calls, height) = (20_000, 50);
    let max_first = view.len().saturating_sub(height).max(1) as u64;
    let offsets: Vec<usize> = (0..calls).map(|_| rng.below(max_first) as usize).collect();
    let t = Instant::now();
    let mut rows = 0;
    for &first in &offsets {
        rows += black_box(view.window(&store, first, height)).len();
    }
    let d = t.elapsed();
    println!("\n3. window({height}) in a {}-entry view", view.len());
    println!("   window()            {:>8.2} µs/call ({rows} rows)", d.as_secs_f64() * 1e6 / calls as f64);
    let t = Instant::now();
    let mut pieces = 0;
    for &first in offsets.iter().take(2000) {
        for e in view.window(&store, first, height) {
            if let Some(l) = e.as_line() {
                pieces += black_box(ansi_spans(l.text)).len();
            }
        }
    }
    let d = t.elapsed();
    println!("   window + ansi_spans {:>8.2} µs/call ({pieces} spans)", d.as_secs_f64() * 1e6 / 2000.0);
    let re = regex::Regex::new("no such text anywhere").unwrap();
    let t = Instant::now();
    let hit = view.find(&store, &re, 0, true);
    println!("   find() full wrap, no hit: {:.1} ms ({hit:?})", t.elapsed().as_secs_f64() * 1e3);

    // 4. Export: the filtered view, and every line, to a file.
    println!("4. export to a file");
    let path = std::env::temp_dir().join(format!("fleetdeck-bench-export-{}.log", std::process::id()));
    let label = |s: u32| format!("host-{}/app-{s}", s % 3);
    for (name, v) in
        [("filtered view", &view), ("every line", &FilteredView::new(LogFilter::new(&FilterSpec::default()).unwrap()))]
    {
        let mut v = v.clone();
        if name == "every line" {
            v.rebuild(&store);
        }
        let t = Instant::now();
        let n = fleetdeck::logs::export::export(&path, &v, &store, label, true, true).unwrap();
        let d = t.elapsed();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!("   {name:<14} {n:>8} lines in {:>7.1} ms ({:.0} MB)", d.as_secs_f64() * 1e3, size as f64 / 1e6);
    }
    let _ = std::fs::remove_file(&path);
}
