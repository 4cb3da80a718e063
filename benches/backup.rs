//! Backups benchmark (`cargo bench --bench backup`): prints numbers, asserts only correctness.
//!
//! 1. Listing and ageing `BACKUP_BENCH_FILES` (default 1,000) backup files with 1,000 index
//!    records on a sandbox host: `list_job` over a live connection (one exec), and the
//!    parse alone.
//! 2. Backup and restore of a PostgreSQL database of `BACKUP_BENCH_ROWS` rows (default
//!    3,000,000, about 300 MB; made with generate_series) in a throwaway cluster: the engine
//!    (`run_job`: pg_dump + checksum + verify; `restore`: verify + safety backup + restore)
//!    against the same commands run by hand with `ssh -i KEY -p PORT root@127.0.0.1 '…'`,
//!    interleaved, `BACKUP_BENCH_REPEAT` times (default 3): min and median of each.
//!
//! Results go to stdout and `target/bench-results/backup.tsv`. Ctrl-C stops between phases;
//! the cluster, the sandbox and the temp dirs are removed by Drop guards.

use fleetdeck::backup::{self, BackupContext, BackupEvent, BackupJob, RestoreOptions};
use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;
use fleetdeck::sandbox::{Sandbox, SandboxSpec, ThrowawayPostgres};
use fleetdeck::ssh::ConnectOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn check_interrupted() -> Result<(), String> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

struct Row {
    what: String,
    value: String,
    how: String,
}

fn row(rows: &mut Vec<Row>, what: &str, value: String, how: &str) {
    println!("  {what:<58} {value:>14}   {how}");
    rows.push(Row { what: what.into(), value, how: how.into() });
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------

/// A throwaway PostgreSQL cluster (socket only, trust auth), stopped and removed on drop.
struct Pg(ThrowawayPostgres);

impl Pg {
    fn start() -> Result<Pg, String> {
        ThrowawayPostgres::start("-c max_wal_size=4GB -c shared_buffers=256MB").map(Pg).map_err(|e| e.to_string())
    }

    fn tool(&self, name: &str) -> String {
        self.0.tool(name)
    }

    fn conn(&self) -> String {
        self.0.conn()
    }

    fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        self.0.psql(db, sql).map_err(|e| e.to_string())
    }
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The same command by hand: the real OpenSSH client with the sandbox's key and known_hosts.
fn by_hand(sb: &Sandbox, command: &str) -> Result<Duration, String> {
    let t = Instant::now();
    run(sb.ssh(0).arg(command))?;
    Ok(t.elapsed())
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    let code = match bench() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("backup bench: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn bench() -> Result<(), String> {
    let files: usize = env_or("BACKUP_BENCH_FILES", 1000);
    let db_rows: u64 = env_or("BACKUP_BENCH_ROWS", 3_000_000);
    let load_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut rows = Vec::new();
    let tmp = tempfile::Builder::new().prefix("fdbench-backup").tempdir_in("/tmp").map_err(|e| e.to_string())?;
    let sb = Sandbox::up(SandboxSpec::new(1, tmp.path().join("sb")).with_empty_home()).map_err(|e| e.to_string())?;
    let profile = Profile::load(&sb.profile_path).map_err(|e| e.to_string())?;
    let host = resolve_hosts(&profile).map_err(|e| e.to_string())?.remove(0);
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let session = rt.block_on(fleetdeck::ssh::connect(&host, &ConnectOptions::default())).map_err(|e| e.to_string())?;
    let ctx = BackupContext::new("bench");
    let job = |name: &str, dir: &Path, backup: String, verify: String, restore: String| BackupJob {
        name: name.into(),
        host: "host-1".into(),
        directory: dir.display().to_string(),
        file_name: format!("{name}-{{timestamp}}.dump"),
        backup,
        verify: Some(verify),
        restore,
        rpo: Some(Duration::from_secs(86400)),
        retention: backup::Retention { keep_days: Some(30), keep_count: Some(7) },
        stop_service: None,
        docker_socket: String::new(),
        before_deploy: vec![],
    };

    // 1. Listing and ageing many files.
    println!("backup bench: {files} files; database of {db_rows} rows");
    let list_dir = tmp.path().join("list");
    std::fs::create_dir_all(&list_dir).map_err(|e| e.to_string())?;
    let lj = job("list", &list_dir, "true > {file}".into(), "true".into(), "true < {file}".into());
    let mut index = String::new();
    let now = SystemTime::now();
    for i in 0..files {
        let name = format!("list-2026{:02}01T{:02}0000Z-{i:04}.dump", 1 + i % 12, i % 24);
        let path = list_dir.join(&name);
        let f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        f.set_len((i as u64 % 97) * 1024).map_err(|e| e.to_string())?;
        f.set_modified(now - Duration::from_secs(3600 * i as u64)).map_err(|e| e.to_string())?;
        let rec = serde_json::json!({"job": "list", "host": "host-1", "file": name, "path": path, "kind": "backup",
            "started_at": "2026-11-30T04:17:00Z", "duration_ms": 1234, "size": 1, "sha256": "ab".repeat(32),
            "verified": true, "verified_at": "2026-11-30T04:18:00Z", "verify_error": null, "release": null,
            "who": "bench@here", "error": null});
        index.push_str(&format!("{rec}\n"));
    }
    std::fs::write(list_dir.join(backup::INDEX_FILE), index).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let mut listed = 0;
    for i in 0..33 {
        let t = Instant::now();
        let l = rt.block_on(backup::list_job(&session, &lj)).map_err(|e| e.to_string())?;
        if i >= 3 {
            times.push(t.elapsed());
        }
        listed = l.files.len();
    }
    if listed != files {
        return Err(format!("listed {listed} files, made {files}"));
    }
    times.sort();
    let med = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!("\nlisting");
    row(
        &mut rows,
        &format!("list_job: {files} files + {files} records, median"),
        ms(med),
        "30 runs after 3 warm-ups, one exec per run over a live connection",
    );
    row(&mut rows, "list_job, p95 / min", format!("{} / {}", ms(p95), ms(times[0])), "same runs");
    let out = rt
        .block_on(session.exec(&format!(
            "sh -c 'cd {} && find . -maxdepth 1 -type f -printf \"%s\\t%T@\\t%f\\0\" | wc -c; wc -c < {}'",
            list_dir.display(),
            backup::INDEX_FILE
        )))
        .map_err(|e| e.to_string())?;
    let bytes: u64 = out.stdout_str().split_whitespace().filter_map(|w| w.parse::<u64>().ok()).sum();
    row(&mut rows, "listing output transferred", format!("{:.0} KiB", bytes as f64 / 1024.0), "find records + index");
    let t = Instant::now();
    let raw = rt.block_on(session.exec(&format!("sh -c 'cd {} && ls -l >/dev/null'", list_dir.display())));
    raw.map_err(|e| e.to_string())?;
    row(&mut rows, "for scale: one bare exec (`ls -l` of the dir)", ms(t.elapsed()), "same connection");
    let t = Instant::now();
    run(sb
        .ssh(0)
        .arg(format!("find {} -maxdepth 1 -type f -printf '%f\\t%s\\t%T@\\n' > /dev/null", list_dir.display())))?;
    row(
        &mut rows,
        "for scale: the find by hand, new ssh connection",
        ms(t.elapsed()),
        "ssh -i KEY -p PORT root@127.0.0.1",
    );
    check_interrupted()?;

    // 2. A real database.
    println!("\npostgres: generating the database…");
    let pg = Pg::start()?;
    pg.psql("postgres", "CREATE DATABASE bench")?;
    let t = Instant::now();
    pg.psql(
        "bench",
        &format!(
            "CREATE TABLE items AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload, now() AS at \
             FROM generate_series(1, {db_rows}) g; ALTER TABLE items ADD PRIMARY KEY (id)"
        ),
    )?;
    let size: u64 = pg.psql("bench", "SELECT pg_database_size('bench')")?.parse().unwrap_or(0);
    row(
        &mut rows,
        "database size (pg_database_size)",
        format!("{:.0} MiB", size as f64 / 1048576.0),
        &format!("{db_rows} rows + primary key, generated in {:.0}s", t.elapsed().as_secs_f64()),
    );
    check_interrupted()?;
    let dir = tmp.path().join("pgb");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let dump = format!("{} {} -Fc bench", pg.tool("pg_dump"), pg.conn());
    let list = format!("{} --list", pg.tool("pg_restore"));
    let restore = format!("{} {} --clean --if-exists -d bench", pg.tool("pg_restore"), pg.conn());
    let pj = job(
        "pg",
        &dir,
        format!("{dump} > {{file}}"),
        format!("{list} {{file}} > /dev/null"),
        format!("{restore} {{file}}"),
    );
    let manual = dir.join("by-hand.dump").display().to_string();

    // Interleaved repetitions; min and median of each (others' load skews single runs).
    let reps: usize = env_or("BACKUP_BENCH_REPEAT", 3).max(1);
    let mut t = Timings::default();
    for r in 0..reps {
        println!("  repetition {} of {reps}", r + 1);
        t.dump.push(by_hand(&sb, &format!("{dump} > {manual}"))?);
        let full = format!("{dump} > {manual} && sha256sum {manual} && {list} {manual} > /dev/null");
        t.dump_full.push(by_hand(&sb, &full)?);
        check_interrupted()?;
        let start = Instant::now();
        let (tx, rx) = mpsc::channel(100_000);
        let rec = rt.block_on(backup::run_job(&session, &pj, &ctx, &tx));
        t.run.push(start.elapsed());
        drop((tx, rx));
        if !rec.ok() {
            return Err(format!("run_job failed: {rec:?}"));
        }
        t.dump_size = rec.size.unwrap_or(0);
        check_interrupted()?;
        t.restore.push(by_hand(&sb, &format!("{restore} {manual}"))?);
        let count = pg.psql("bench", "SELECT count(*) FROM items")?;
        if count != db_rows.to_string() {
            return Err(format!("by-hand restore left {count} rows"));
        }
        check_interrupted()?;
        let (total, verify, safety, command) = engine_restore(&rt, &session, &pj, &ctx, &rec.file)?;
        t.engine_restore.push(total);
        t.engine_verify.push(verify);
        t.engine_safety.push(safety);
        t.engine_restore_cmd.push(command);
        let count = pg.psql("bench", "SELECT count(*) FROM items")?;
        if count != db_rows.to_string() {
            return Err(format!("engine restore left {count} rows"));
        }
        check_interrupted()?;
    }
    let how = format!("min / median of {reps}");
    println!("\nbackup (min / median of {reps})");
    row(&mut rows, "by hand: ssh … 'pg_dump -Fc > FILE'", stats(&t.dump), "OpenSSH client, new connection each");
    row(
        &mut rows,
        "by hand: ssh … 'pg_dump && sha256sum && pg_restore --list'",
        stats(&t.dump_full),
        "the same work run_job does",
    );
    let dump_mib = t.dump_size as f64 / 1048576.0;
    row(
        &mut rows,
        "engine: run_job (pg_dump, sha256, verify, record)",
        stats(&t.run),
        &format!("{how}; dump {dump_mib:.0} MiB"),
    );
    println!("\nrestore");
    row(&mut rows, "by hand: ssh … 'pg_restore --clean --if-exists'", stats(&t.restore), "restore only");
    row(&mut rows, "engine: restore, total", stats(&t.engine_restore), "verify + safety backup + restore, audited");
    row(&mut rows, "  of which verify (sha256 + pg_restore --list)", stats(&t.engine_verify), "");
    row(&mut rows, "  of which the safety backup (= run_job's work)", stats(&t.engine_safety), "");
    row(&mut rows, "  of which the restore command", stats(&t.engine_restore_cmd), "compare: by hand");
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = |s: &str| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    row(
        &mut rows,
        "machine load average (1/5/15 min)",
        format!("{} -> {}", load(&load_start), load(&load_end)),
        &format!("{cpus} CPUs"),
    );
    drop(session);
    write_results(&rows);
    Ok(())
}

#[derive(Default)]
struct Timings {
    dump: Vec<Duration>,
    dump_full: Vec<Duration>,
    run: Vec<Duration>,
    dump_size: u64,
    restore: Vec<Duration>,
    engine_restore: Vec<Duration>,
    engine_verify: Vec<Duration>,
    engine_safety: Vec<Duration>,
    engine_restore_cmd: Vec<Duration>,
}

/// `min / median` in seconds.
fn stats(v: &[Duration]) -> String {
    let mut v = v.to_vec();
    v.sort();
    format!("{:.2} / {:.2} s", v[0].as_secs_f64(), v[v.len() / 2].as_secs_f64())
}

/// Restore `file` with the engine: (total, verify, safety backup, restore command) times.
fn engine_restore(
    rt: &tokio::runtime::Runtime,
    session: &fleetdeck::ssh::SshSession,
    job: &BackupJob,
    ctx: &BackupContext,
    file: &str,
) -> Result<(Duration, Duration, Duration, Duration), String> {
    let listing = rt.block_on(backup::list_job(session, job)).map_err(|e| e.to_string())?;
    let plan = backup::plan_restore(job, &listing, Some(file), chrono::Utc::now()).map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::channel(100_000);
    let start = Instant::now();
    let marks = rt.spawn(async move {
        let mut marks = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let BackupEvent::Step(s) = &ev {
                if s.starts_with("taking a safety backup") || s.starts_with("restoring ") {
                    marks.push((s.clone(), start.elapsed()));
                }
            }
        }
        marks
    });
    let report = rt.block_on(backup::restore(session, job, &plan, ctx, &RestoreOptions::default(), &tx));
    let total = start.elapsed();
    drop(tx);
    let marks = rt.block_on(marks).unwrap_or_default();
    let report = report.map_err(|e| e.to_string())?;
    if report.outcome != backup::RestoreOutcome::Restored {
        return Err(format!("engine restore: {report:?}"));
    }
    let at = |prefix: &str| marks.iter().find(|(s, _)| s.starts_with(prefix)).map(|(_, d)| *d).unwrap_or_default();
    let (safety, restore) = (at("taking a safety backup"), at("restoring "));
    Ok((total, safety, restore.saturating_sub(safety), total.saturating_sub(restore)))
}

fn write_results(rows: &[Row]) {
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("bench-results");
    let path = dir.join("backup.tsv");
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let mut f = std::fs::File::create(&path)?;
        writeln!(f, "what\tvalue\ttarget\thow")?;
        for r in rows {
            let clean = |s: &str| s.replace(['\t', '\n'], " ");
            writeln!(f, "{}\t{}\t-\t{}", clean(&r.what), clean(&r.value), clean(&r.how))?;
        }
        Ok(())
    });
    match written {
        Ok(()) => println!("\nresults: {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
