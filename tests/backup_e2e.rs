//! The backups engine against real parts: a sandbox host (sshd on loopback, root login) and a
//! throwaway PostgreSQL cluster of this machine's `postgresql` package, reached from the host
//! through its unix socket. Every cluster and directory is removed by Drop guards, also when
//! a test fails.

mod common;

use fleetdeck::backup::{self, BackupContext, BackupEvent, BackupJob, RestoreOptions, RestoreOutcome, RpoStatus};
use fleetdeck::config::hosts::resolve_hosts;
use fleetdeck::config::Profile;
use fleetdeck::sandbox::{Sandbox, SandboxSpec, ThrowawayPostgres};
use fleetdeck::ssh::{ConnectOptions, SshSession};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------
// A throwaway PostgreSQL cluster of this machine's package (socket only, trust auth),
// stopped and removed on drop.

struct Pg(ThrowawayPostgres);

impl Pg {
    fn start() -> Pg {
        Pg(ThrowawayPostgres::start("").unwrap_or_else(|e| panic!("{e}")))
    }

    fn tool(&self, name: &str) -> String {
        self.0.tool(name)
    }

    fn conn(&self) -> String {
        self.0.conn()
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        self.0.psql(db, sql).unwrap_or_else(|e| panic!("psql {sql}: {e}"))
    }

    fn rows(&self) -> String {
        self.psql("shop", "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM items")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------------------------
// A one-host sandbox with a profile holding the test's services and backup jobs.

struct Fx {
    sb: Sandbox,
    rt: tokio::runtime::Runtime,
    profile: Profile,
    /// Scratch space (job directories); removed on drop, after the sandbox.
    tmp: tempfile::TempDir,
}

/// Every test process writes its audit entries here (never to the operator's real log).
fn audit_log() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("backup-e2e-audit-{}.jsonl", std::process::id()));
    // The same value from every test thread: concurrent writes of it are harmless.
    std::env::set_var("FLEETDECK_AUDIT_LOG", &path);
    path
}

fn fixture(extra: impl FnOnce(&Path) -> String) -> Fx {
    audit_log();
    let tmp = tempfile::Builder::new().prefix("fdbk").tempdir_in("/tmp").unwrap();
    let sb = Sandbox::up(SandboxSpec::new(1, tmp.path().join("sb")).with_empty_home())
        .unwrap_or_else(|e| panic!("sandbox up: {e}"));
    let base = std::fs::read_to_string(&sb.profile_path).unwrap();
    let base = base.split("[[services]]").next().unwrap().to_string();
    let text = format!("{base}\n{}", extra(tmp.path()));
    let path = tmp.path().join("backup.toml");
    std::fs::write(&path, &text).unwrap();
    let profile = Profile::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    Fx { sb, rt, profile, tmp }
}

impl Fx {
    fn session(&self) -> SshSession {
        let host = resolve_hosts(&self.profile).unwrap().remove(0);
        self.rt.block_on(fleetdeck::ssh::connect(&host, &ConnectOptions::default())).unwrap()
    }

    fn job(&self, name: &str) -> BackupJob {
        self.profile.backups.iter().find(|j| j.name == name).cloned().unwrap()
    }

    fn ctx(&self) -> BackupContext {
        BackupContext::new(&self.profile.name)
    }
}

/// Run an engine action with a fresh event channel; returns its result and every event.
fn with_events<T, F: std::future::Future<Output = T>>(
    rt: &tokio::runtime::Runtime,
    f: impl FnOnce(mpsc::Sender<BackupEvent>) -> F,
) -> (T, Vec<BackupEvent>) {
    let (tx, mut rx) = mpsc::channel(100_000);
    let r = rt.block_on(f(tx));
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (r, events)
}

fn steps(events: &[BackupEvent]) -> String {
    events
        .iter()
        .map(|e| match e {
            BackupEvent::Step(s) => format!("step: {s}"),
            BackupEvent::Output { line, .. } => format!("out: {line}"),
            BackupEvent::Progress { bytes, .. } => format!("progress: {bytes}"),
            BackupEvent::SafetyBackup { path } => format!("safety: {path}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn audit_entries(target_contains: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(audit_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"].as_str().is_some_and(|t| t.contains(target_contains)))
        .collect()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    text(&out.stdout).split_whitespace().next().unwrap().to_string()
}

/// A `pg_dump -Fc` job of database `shop`, restored with `pg_restore --clean --if-exists`.
fn pg_job(pg: &Pg, name: &str, dir: &Path, extra: &str) -> String {
    format!(
        "[[backups]]\nname = \"{name}\"\nhost = \"host-1\"\ndirectory = \"{dir}\"\nfile_name = \"{{job}}-{{timestamp}}.dump\"\n\
         backup = \"{dump} {conn} -Fc shop > {{file}}\"\nverify = \"{restore} --list {{file}} > /dev/null\"\n\
         restore = \"{restore} {conn} --clean --if-exists --exit-on-error -d shop {{file}}\"\nrpo = \"1h\"\n{extra}\n",
        dir = dir.display(),
        dump = pg.tool("pg_dump"),
        restore = pg.tool("pg_restore"),
        conn = pg.conn(),
    )
}

fn seed(pg: &Pg) {
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql("shop", "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
    pg.psql("shop", "INSERT INTO items VALUES (1, 'apple'), (2, 'pear'), (3, 'plum')");
}

// ---------------------------------------------------------------------------------------------

#[test]
fn postgres_backup_then_restore_brings_the_rows_back_behind_a_safety_backup() {
    let pg = Pg::start();
    seed(&pg);
    let mut fx = fixture(|tmp| {
        // The restore records whether the app's container was stopped while it ran.
        let probe = format!(
            " && docker -H unix://{} inspect -f '{{{{.State.Running}}}}' {{job}}-app > {{directory}}/running-during-restore",
            "SOCKET"
        );
        let mut job = pg_job(&pg, "shop-db", &tmp.join("backups"), "stop_service = \"app\"");
        job = job.replace(" -d shop {file}\"", &format!(" -d shop {{file}}{probe}\""));
        format!("[[services]]\nname = \"app\"\ncompose_service = \"app\"\n\n{job}")
    });
    // the docker socket is known only now: point the probe at it
    let sock = fx.sb.hosts[0].docker_socket.display().to_string();
    for j in &mut fx.profile.backups {
        j.restore = j.restore.replace("SOCKET", &sock);
    }
    let app = fx.sb.run_idle(0, "shop-db-app", "app").unwrap();
    fx.sb.wait_running(0, &app, Duration::from_secs(30)).unwrap();
    let job = fx.job("shop-db");
    let s = fx.session();
    let dir = fx.tmp.path().join("backups");

    // No backup yet: the RPO is breached.
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert!(!l.directory_exists && l.files.is_empty());
    assert_eq!(l.rpo, RpoStatus::Breached { age_secs: None, rpo_secs: 3600 });

    // Run: a verified, checksummed dump, recorded in the index.
    let (rec, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx) = (&s, &job, fx.ctx());
        async move { backup::run_job(s, job, &ctx, &tx).await }
    });
    assert!(rec.ok(), "{rec:?}\n{}", steps(&events));
    let dump = dir.join(&rec.file);
    assert!(dump.is_file() && rec.file.starts_with("shop-db-2") && rec.file.ends_with(".dump"), "{rec:?}");
    assert_eq!(rec.sha256.as_deref(), Some(sha256(&dump).as_str()));
    assert_eq!(rec.size, Some(std::fs::metadata(&dump).unwrap().len()));
    assert_eq!(rec.verified, Some(true));
    assert!(steps(&events).contains("complete"), "{}", steps(&events));
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert_eq!(l.files.len(), 1, "{l:?}");
    assert!(matches!(l.rpo, RpoStatus::Met { .. }), "{:?}", l.rpo);
    assert_eq!(l.files[0].sha256, rec.sha256);
    assert_eq!(l.files[0].verified, Some(true));
    let index = std::fs::read_to_string(dir.join(backup::INDEX_FILE)).unwrap();
    assert_eq!(index.lines().count(), 1, "{index}");

    // Change the rows, then restore the backup: the rows are the backed-up ones again.
    pg.psql("shop", "DELETE FROM items WHERE id = 1; UPDATE items SET name = 'rotten' WHERE id = 2");
    pg.psql("shop", "INSERT INTO items VALUES (4, 'fig')");
    let changed = pg.rows();
    assert_eq!(changed, "2=rotten,3=plum,4=fig");
    let plan = backup::plan_restore(&job, &l, Some(&rec.file), chrono::Utc::now()).unwrap();
    assert!(plan.steps.iter().any(|s| s.contains("stop the containers of service app")), "{:?}", plan.steps);
    let (report, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx) = (&s, &job, fx.ctx());
        let plan = &plan;
        async move { backup::restore(s, job, plan, &ctx, &RestoreOptions::default(), &tx).await }
    });
    let report = report.unwrap_or_else(|e| panic!("{e}\n{}", steps(&events)));
    assert_eq!(report.outcome, RestoreOutcome::Restored, "{report:?}\n{}", steps(&events));
    assert_eq!(pg.rows(), "1=apple,2=pear,3=plum");
    // The safety backup holds the state before the restore, and its path was shown.
    let safety = PathBuf::from(report.safety_path.clone().expect("a safety backup"));
    assert!(safety.is_file(), "{}", safety.display());
    assert!(safety.file_name().unwrap().to_str().unwrap().starts_with("safety-"));
    assert!(events.contains(&BackupEvent::SafetyBackup { path: safety.display().to_string() }));
    let listed =
        Command::new(pg.tool("pg_restore")).arg("--data-only").arg("-f").arg("-").arg(&safety).output().unwrap();
    assert!(text(&listed.stdout).contains("rotten"), "the safety backup has the changed rows");
    // The service was stopped during the restore and runs again.
    assert_eq!(std::fs::read_to_string(dir.join("running-during-restore")).unwrap().trim(), "false");
    assert_eq!(fx.sb.container_state(0, &app).unwrap().0, "running");
    assert_eq!(report.stopped, vec!["shop-db-app".to_string()]);
    // The listing shows the safety backup apart from the backups; the RPO counts backups only.
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert_eq!(l.backups().count(), 1);
    assert_eq!(l.safety_backups().count(), 1);
    // The audit log has the restore and its outcome.
    let audit = audit_entries("shop-db on host-1: ");
    let phases: Vec<(&str, &str)> =
        audit.iter().map(|v| (v["phase"].as_str().unwrap(), v["outcome"].as_str().unwrap_or("-"))).collect();
    assert_eq!(phases, [("begin", "-"), ("end", "restored")], "{audit:?}");
    assert!(audit[1]["detail"].as_str().unwrap().contains(&safety.display().to_string()));
}

#[test]
fn a_corrupted_backup_fails_verification_and_is_not_restored() {
    let pg = Pg::start();
    seed(&pg);
    let fx = fixture(|tmp| pg_job(&pg, "corrupt", &tmp.join("backups"), ""));
    let (s, job) = (fx.session(), fx.job("corrupt"));
    let (rec, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx) = (&s, &job, fx.ctx());
        async move { backup::run_job(s, job, &ctx, &tx).await }
    });
    assert!(rec.ok(), "{rec:?}\n{}", steps(&events));
    let path = PathBuf::from(&rec.path);
    // Flip bytes in the middle of the dump (as a bad disk would).
    let mut bytes = std::fs::read(&path).unwrap();
    let (mid, len) = (bytes.len() / 2, bytes.len());
    for b in &mut bytes[mid..(mid + 64).min(len)] {
        *b ^= 0x5a;
    }
    bytes.truncate(bytes.len() - 16);
    std::fs::write(&path, &bytes).unwrap();
    pg.psql("shop", "UPDATE items SET name = 'kept' WHERE id = 3");

    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    let file = l.file(&rec.file).unwrap().clone();
    let (v, events) = with_events(&fx.rt, |tx| {
        let (s, job, file) = (&s, &job, &file);
        async move { backup::verify_file(s, job, file, &tx).await }
    });
    let v = v.unwrap();
    assert!(!v.ok, "{v:?}");
    assert!(matches!(v.checksum, backup::ChecksumCheck::Mismatch { .. }), "{v:?}");
    assert!(v.error.as_deref().unwrap().contains("checksum changed"), "{v:?}\n{}", steps(&events));
    // The failure is recorded for every operator.
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert_eq!(l.file(&rec.file).unwrap().verified, Some(false));

    // Restore refuses it: nothing changed, no safety backup was even taken.
    let plan = backup::plan_restore(&job, &l, Some(&rec.file), chrono::Utc::now()).unwrap();
    let (r, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx, plan) = (&s, &job, fx.ctx(), &plan);
        async move { backup::restore(s, job, plan, &ctx, &RestoreOptions::default(), &tx).await }
    });
    let err = r.unwrap_err();
    assert!(matches!(err, backup::BackupError::Refused(_)), "{err:?}");
    assert!(err.to_string().contains("failed verification"), "{err}\n{}", steps(&events));
    assert_eq!(pg.rows(), "1=apple,2=pear,3=kept");
    assert_eq!(fx.rt.block_on(backup::list_job(&s, &job)).unwrap().safety_backups().count(), 0);

    // A truncated dump put there by hand (no recorded checksum): the verify command catches it.
    let copied = path.with_file_name("corrupt-20200101T000000Z.dump");
    std::fs::write(&copied, &std::fs::read(&path).unwrap()[..200]).unwrap();
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    let file = l.file("corrupt-20200101T000000Z.dump").unwrap().clone();
    let (v, _) = with_events(&fx.rt, |tx| {
        let (s, job, file) = (&s, &job, &file);
        async move { backup::verify_file(s, job, file, &tx).await }
    });
    let v = v.unwrap();
    assert!(!v.ok && v.ran_command && v.command_status != Some(0), "{v:?}");
    assert!(matches!(v.checksum, backup::ChecksumCheck::NotRecorded { .. }));
    let audit = audit_entries("corrupt on host-1: ");
    assert_eq!(audit.last().unwrap()["outcome"], "refused", "{audit:?}");
}

#[test]
fn a_restore_failing_halfway_is_undone_from_the_safety_backup() {
    let pg = Pg::start();
    seed(&pg);
    let fx = fixture(|tmp| pg_job(&pg, "halfway", &tmp.join("backups"), ""));
    let (s, job) = (fx.session(), fx.job("halfway"));
    // A dump that cannot be restored completely: it has a table owned by a role that will be
    // gone. pg_restore --clean drops and recreates `items` (empty) and stops at the owner.
    pg.psql("shop", "CREATE ROLE ghost; CREATE TABLE extra (x int); ALTER TABLE extra OWNER TO ghost");
    let (rec, _) = with_events(&fx.rt, |tx| {
        let (s, job, ctx) = (&s, &job, fx.ctx());
        async move { backup::run_job(s, job, &ctx, &tx).await }
    });
    assert!(rec.ok(), "{rec:?}");
    pg.psql("shop", "DROP TABLE extra; DROP ROLE ghost");
    pg.psql("shop", "UPDATE items SET name = 'before-restore' WHERE id = 1");
    let before = pg.rows();

    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    let plan = backup::plan_restore(&job, &l, Some(&rec.file), chrono::Utc::now()).unwrap();
    let (report, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx, plan) = (&s, &job, fx.ctx(), &plan);
        async move { backup::restore(s, job, plan, &ctx, &RestoreOptions::default(), &tx).await }
    });
    let report = report.unwrap();
    let log = steps(&events);
    assert_eq!(report.outcome, RestoreOutcome::RolledBack, "{report:?}\n{log}");
    // The data is as it was before the restore started, and the error is shown.
    assert_eq!(pg.rows(), before);
    let err = report.error.clone().unwrap();
    assert!(err.contains("role \"ghost\" does not exist"), "{err}");
    assert!(log.contains("putting the data back from the safety backup"), "{log}");
    assert!(report.rollback_error.is_none());
    assert!(Path::new(report.safety_path.as_ref().unwrap()).is_file());
    let audit = audit_entries("halfway on host-1: ");
    let end = audit.iter().rev().find(|v| v["phase"] == "end").unwrap();
    assert_eq!(end["outcome"], "rolled_back", "{audit:?}");
    assert!(end["detail"].as_str().unwrap().contains("ghost"), "{end}");
}

/// Sets a file's mtime to `hours` ago with `touch -d`.
fn age_file(path: &Path, hours: u64) {
    let at = chrono::Utc::now() - chrono::Duration::hours(hours as i64);
    let ok = Command::new("touch").arg("-d").arg(at.to_rfc3339()).arg(path).status().unwrap();
    assert!(ok.success());
}

#[test]
fn rpo_breach_from_file_ages_and_retention_prunes_exactly_the_preview() {
    let fx = fixture(|tmp| {
        format!(
            "[[backups]]\nname = \"files\"\nhost = \"host-1\"\ndirectory = \"{}\"\nfile_name = \"files-{{timestamp}}.tar.gz\"\n\
             backup = \"printf data | gzip > {{file}}\"\nverify = \"gzip -t {{file}}\"\nrestore = \"gzip -t {{file}}\"\n\
             rpo = \"24h\"\nkeep_days = 7\nkeep_count = 3\n",
            tmp.join("b").display()
        )
    });
    let (s, job) = (fx.session(), fx.job("files"));
    let dir = fx.tmp.path().join("b");
    std::fs::create_dir_all(&dir).unwrap();
    let gz = Command::new("sh").arg("-c").arg("printf old | gzip").output().unwrap().stdout;
    // hours old: the newest is 30h old (past the 24h RPO)
    let ages = [30u64, 50, 100, 170, 180, 250, 500, 1000];
    for (i, h) in ages.iter().enumerate() {
        let p = dir.join(format!("files-2026010{i}T000000Z.tar.gz"));
        std::fs::write(&p, &gz).unwrap();
        age_file(&p, *h);
    }
    // safety backups, 300h to 600h old: the oldest is past both rules
    for (i, h) in [300u64, 400, 500, 600].iter().enumerate() {
        let name = format!("safety-2026020{i}T000000Z-files.tar.gz");
        std::fs::write(dir.join(&name), &gz).unwrap();
        age_file(&dir.join(name), *h);
    }
    // Not the job's: never listed, never pruned.
    for other in ["notes.txt", "other-20200101T000000Z.tar.gz", ".files-x.tar.gz.partial"] {
        std::fs::write(dir.join(other), "x").unwrap();
        age_file(&dir.join(other), 5000);
    }

    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert_eq!(l.backups().count(), 8);
    assert_eq!(l.safety_backups().count(), 4);
    match l.rpo {
        RpoStatus::Breached { age_secs: Some(a), rpo_secs: 86400 } => assert!((a / 3600).abs_diff(30) <= 1, "{a}"),
        other => panic!("expected a breach, got {other:?}"),
    }
    let ages_listed: Vec<u64> = l.backups().map(|f| (f.age_secs + 1800) / 3600).collect();
    assert_eq!(ages_listed, ages);

    // Retention: beyond the newest 3 AND older than 7 days (168h); safety backups apart.
    let plan = backup::plan_prune(&job, &l);
    let mut preview: Vec<String> = plan.delete.iter().map(|d| d.file.name.clone()).collect();
    let mut expected: Vec<String> = ages
        .iter()
        .enumerate()
        .filter(|(i, h)| *i >= 3 && **h > 168)
        .map(|(i, _)| format!("files-2026010{i}T000000Z.tar.gz"))
        .collect();
    expected.push("safety-20260203T000000Z-files.tar.gz".into());
    preview.sort();
    expected.sort();
    assert_eq!(preview, expected);
    let before: Vec<String> = list_dir(&dir);
    let (report, _) = with_events(&fx.rt, |tx| {
        let (s, job, ctx, plan) = (&s, &job, fx.ctx(), &plan);
        async move { backup::prune(s, job, plan, &ctx, &tx).await }
    });
    let report = report.unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    assert_eq!(deleted, preview, "what was deleted is exactly the preview");
    assert!(report.failed.is_empty());
    let after = list_dir(&dir);
    let gone: Vec<&String> = before.iter().filter(|f| !after.contains(f)).collect();
    assert_eq!(gone, preview.iter().collect::<Vec<_>>(), "and nothing else went");

    // A backup now meets the RPO again.
    let (rec, _) = with_events(&fx.rt, |tx| {
        let (s, job, ctx) = (&s, &job, fx.ctx());
        async move { backup::run_job(s, job, &ctx, &tx).await }
    });
    assert!(rec.ok(), "{rec:?}");
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert!(matches!(l.rpo, RpoStatus::Met { .. }), "{:?}", l.rpo);
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Every file under `root` a `touch PWNED…` would have made.
fn pwned(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("PWNED") {
                found.push(e.path());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    found
}

#[test]
fn names_and_values_with_shell_metacharacters_are_data_never_code() {
    let evil_job = "x$(touch PWNED);y `touch PWNED` 'q'";
    let fx = fixture(|tmp| {
        let dir = tmp.join("b $(touch PWNED) dir");
        format!(
            "[[backups]]\nname = {job:?}\nhost = \"host-1\"\ndirectory = {dir:?}\nfile_name = \"{{job}}-{{timestamp}}.gz\"\n\
             backup = \"printf 'payload' | gzip > {{file}}\"\nverify = \"gzip -t {{file}}\"\n\
             restore = \"gzip -dc {{file}} > {{directory}}/restored.txt && echo restored {{job}} {{timestamp}}\"\n\
             keep_count = 1\n",
            job = evil_job,
            dir = dir.display().to_string(),
        )
    });
    let (s, job) = (fx.session(), fx.job(evil_job));
    let dir = PathBuf::from(&job.directory);
    // run
    let (rec, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx) = (&s, &job, fx.ctx());
        async move { backup::run_job(s, job, &ctx, &tx).await }
    });
    assert!(rec.ok(), "{rec:?}\n{}", steps(&events));
    assert!(dir.join(&rec.file).is_file() && rec.file.starts_with(evil_job), "{rec:?}");
    // a file whose name is a command substitution, put there by someone else
    let evil_file = format!("{evil_job}-$(touch PWNED)`touch PWNED`'a'\"b\";touch PWNED.gz");
    std::fs::copy(dir.join(&rec.file), dir.join(&evil_file)).unwrap();
    age_file(&dir.join(&evil_file), 1);
    // list, verify, restore, prune all handle both
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    assert_eq!(l.backups().count(), 2, "{l:?}");
    let file = l.file(&evil_file).expect("listed as data").clone();
    let (v, _) = with_events(&fx.rt, |tx| {
        let (s, job, file) = (&s, &job, &file);
        async move { backup::verify_file(s, job, file, &tx).await }
    });
    assert!(v.unwrap().ok);
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    let plan = backup::plan_restore(&job, &l, Some(&evil_file), chrono::Utc::now()).unwrap();
    let (report, events) = with_events(&fx.rt, |tx| {
        let (s, job, ctx, plan) = (&s, &job, fx.ctx(), &plan);
        async move { backup::restore(s, job, plan, &ctx, &RestoreOptions::default(), &tx).await }
    });
    let report = report.unwrap();
    assert_eq!(report.outcome, RestoreOutcome::Restored, "{report:?}\n{}", steps(&events));
    assert_eq!(std::fs::read_to_string(dir.join("restored.txt")).unwrap(), "payload");
    assert!(steps(&events).contains(&format!("out: restored {evil_job} 2")), "{}", steps(&events));
    let l = fx.rt.block_on(backup::list_job(&s, &job)).unwrap();
    let plan = backup::plan_prune(&job, &l);
    assert_eq!(plan.delete.len(), 1, "{plan:?}");
    let (report, _) = with_events(&fx.rt, |tx| {
        let (s, job, ctx, plan) = (&s, &job, fx.ctx(), &plan);
        async move { backup::prune(s, job, plan, &ctx, &tx).await }
    });
    assert_eq!(report.unwrap().deleted, vec![evil_file.clone()]);
    assert!(!dir.join(&evil_file).exists());

    // Nothing ran: no PWNED in the job's directory (the commands' working directory), in the
    // sessions' home, or anywhere else in the test's directories.
    let hits = pwned(fx.tmp.path());
    assert!(hits.is_empty(), "a value ran as code: {hits:?}");
    assert!(fx.sb.dir.join("home").is_dir(), "the sessions' home is inside the scanned directory");
    for d in [PathBuf::from("/"), PathBuf::from("/root"), PathBuf::from("/tmp"), std::env::current_dir().unwrap()] {
        assert!(!d.join("PWNED").exists() && !d.join("PWNED.gz").exists(), "a value ran as code in {}", d.display());
    }
}
