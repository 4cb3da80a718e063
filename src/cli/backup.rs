//! `fleetdeck backup list|run|verify|restore|prune`: the backups engine, headless.
//!
//! Exit codes: 0 done; 1 the thing checked is bad (`list`: an RPO is breached; `run`,
//! `verify`, `restore`, `prune`: it failed); 2 errors and refusals (nothing changed: bad
//! profile, unreachable host, not confirmed, read-only). `restore` and `prune` print their
//! plan first and need `--yes` (`--dry-run` prints the plan only); on a protected profile a
//! restore also needs `--confirm JOB`. With `--json` stdout holds only JSON and the progress
//! goes to stderr.

use super::status::connect_options;
use super::{block_on, ConnectArgs, UiArgs};
use crate::backup::{
    self, human_age, human_size, BackupContext, BackupError, BackupEvent, BackupFile, BackupJob, JobListing, RpoStatus,
};
use crate::config::duration::parse_duration;
use crate::config::hosts::resolve_hosts;
use crate::config::Profile;
use crate::ssh::SshSession;
use clap::{Args, Subcommand};
use std::collections::HashMap;
use tokio::sync::mpsc;

#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: BackupAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum BackupAction {
    /// The backups of a job (or of every job) with their age against the RPO. Exit 1 when
    /// an RPO is breached, 2 when a job could not be listed.
    List(ListArgs),
    /// Take a backup now.
    Run(RunArgs),
    /// Verify a backup file (default: the newest) against its checksum and the verify command.
    Verify(FileArgs),
    /// Restore a backup file (default: the newest), behind a verification and a safety backup.
    Restore(RestoreArgs),
    /// Delete the backups past the job's retention (shows exactly which first).
    Prune(PruneArgs),
}

#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// The job; default: every job of the profile.
    pub job: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    pub job: String,
    /// Record the backup as taken before this release.
    #[arg(long)]
    pub release: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct FileArgs {
    pub job: String,
    /// File name in the job's directory; default: the newest backup.
    pub file: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    pub job: String,
    /// File name in the job's directory; default: the newest backup.
    pub file: Option<String>,
    /// Restore (without it the plan is printed and nothing changes).
    #[arg(long)]
    pub yes: bool,
    /// On a protected profile: the job name, typed as confirmation.
    #[arg(long, value_name = "JOB")]
    pub confirm: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore even when the safety backup cannot be taken (e.g. the database is gone).
    #[arg(long)]
    pub without_safety_backup: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct PruneArgs {
    pub job: String,
    /// Delete (without it the files past retention are listed and nothing changes).
    #[arg(long)]
    pub yes: bool,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub fn run(ui: &UiArgs, a: &BackupArgs) -> i32 {
    block_on(async {
        match &a.action {
            BackupAction::List(l) => list(ui, l).await,
            BackupAction::Run(r) => run_now(ui, r).await,
            BackupAction::Verify(v) => verify(ui, v).await,
            BackupAction::Restore(r) => restore(ui, r).await,
            BackupAction::Prune(p) => prune(ui, p).await,
        }
    })
}

/// The profile and SSH sessions to the hosts of its backup jobs, opened on demand.
struct Hosts {
    profile: Profile,
    connect: ConnectArgs,
    sessions: HashMap<String, Result<std::sync::Arc<SshSession>, String>>,
}

impl Hosts {
    fn load(ui: &UiArgs, connect: &ConnectArgs) -> Result<Hosts, String> {
        let path = ui.profile.as_ref().ok_or("no profile: pass --profile FILE (or set FLEETDECK_PROFILE)")?;
        let profile = Profile::load(path).map_err(|e| e.to_string())?;
        Ok(Hosts { profile, connect: connect.clone(), sessions: HashMap::new() })
    }

    fn job(&self, name: &str) -> Result<BackupJob, String> {
        self.profile.backups.iter().find(|j| j.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = self.profile.backups.iter().map(|j| j.name.as_str()).collect();
            format!("no backup job {name:?} in profile {} (jobs: {})", self.profile.name, names.join(", "))
        })
    }

    async fn session(&mut self, host: &str) -> Result<std::sync::Arc<SshSession>, String> {
        if let Some(s) = self.sessions.get(host) {
            return s.clone();
        }
        let result = self.open(host).await.map(std::sync::Arc::new);
        self.sessions.insert(host.to_string(), result.clone());
        result
    }

    async fn open(&self, host: &str) -> Result<SshSession, String> {
        let resolved = resolve_hosts(&self.profile).map_err(|e| e.to_string())?;
        let h = resolved.into_iter().find(|h| h.name == host).ok_or_else(|| format!("no host {host:?}"))?;
        let timeout = parse_duration(&self.connect.timeout).map_err(|e| format!("--timeout: {e}"))?;
        match tokio::time::timeout(timeout, crate::ssh::connect(&h, &connect_options(&self.connect))).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("{host}: {e}")),
            Err(_) => Err(format!("{host}: unreachable (no connection within {})", self.connect.timeout)),
        }
    }

    fn refuse_if_read_only(&self, ui: &UiArgs, what: &str) -> Result<(), String> {
        if ui.read_only || self.profile.read_only {
            let flag = if ui.read_only { " (--read-only)" } else { "" };
            return Err(format!("{what} refused: profile {} is read-only{flag}", self.profile.name));
        }
        Ok(())
    }
}

/// Print events as they come (to stderr in JSON mode); returns the sender and the printer.
fn printer(json: bool) -> (mpsc::Sender<BackupEvent>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<BackupEvent>(4096);
    let task = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let line = match ev {
                BackupEvent::Step(s) => format!("{} {s}", chrono::Local::now().format("%H:%M:%S")),
                BackupEvent::Output { line, .. } => format!("    | {line}"),
                BackupEvent::Progress { bytes, expected, elapsed } => {
                    let pct = expected
                        .filter(|e| *e > 0)
                        .map(|e| format!(" (~{}% of the previous backup)", (bytes * 100 / e).min(999)))
                        .unwrap_or_default();
                    format!("    … {} written after {}s{pct}", human_size(bytes), elapsed.as_secs())
                }
                BackupEvent::SafetyBackup { path } => format!("safety backup of the current state: {path}"),
            };
            if json {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    });
    (tx, task)
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(v).map_err(|e| e.to_string())?);
    Ok(())
}

fn file_row(f: &BackupFile) -> String {
    let verified = match (f.verified, f.verified_at) {
        (Some(true), Some(at)) => format!("verified {}", at.format("%Y-%m-%d %H:%M")),
        (Some(true), None) => "verified".into(),
        (Some(false), _) => "VERIFY FAILED".into(),
        (None, _) => "not verified".into(),
    };
    let sum = f.sha256.as_deref().map(|s| &s[..s.len().min(12)]).unwrap_or("-");
    format!(
        "  {:<44} {:>10} {:>5}  {:<27} {:<12} {}{}",
        f.name,
        human_size(f.size),
        human_age(f.age_secs),
        verified,
        sum,
        f.release.as_deref().map(|r| format!("release {r}")).unwrap_or_default(),
        if f.safety { " (safety backup)" } else { "" }
    )
}

fn print_listing(l: &JobListing, files: bool) {
    println!("{} on {}  {}  {}", l.job, l.host, l.directory, RpoStatus::describe(&l.rpo));
    if !l.directory_exists {
        println!("  (the directory does not exist yet)");
    }
    if let Some(f) = &l.last_failure {
        println!(
            "  last run FAILED at {}: {}",
            f.started_at.format("%Y-%m-%d %H:%M:%S"),
            f.error.as_deref().unwrap_or("")
        );
    }
    if files {
        for f in &l.files {
            println!("{}", file_row(f));
        }
        if l.files.is_empty() {
            println!("  no backups");
        }
    }
}

async fn list(ui: &UiArgs, a: &ListArgs) -> Result<i32, String> {
    let mut hosts = Hosts::load(ui, &a.connect)?;
    let jobs: Vec<BackupJob> = match &a.job {
        Some(j) => vec![hosts.job(j)?],
        None => hosts.profile.backups.clone(),
    };
    if jobs.is_empty() {
        return Err(format!("profile {} has no [[backups]] jobs", hosts.profile.name));
    }
    let (mut breached, mut failed) = (false, false);
    let mut out = Vec::new();
    for job in &jobs {
        let listed = match hosts.session(&job.host).await {
            Ok(s) => backup::list_job(&s, job).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match listed {
            Ok(l) => {
                breached |= l.rpo.breached();
                if a.json {
                    let mut v = serde_json::to_value(&l).map_err(|e| e.to_string())?;
                    v["error"] = serde_json::Value::Null;
                    out.push(v);
                } else {
                    print_listing(&l, true);
                }
            }
            Err(e) => {
                failed = true;
                if a.json {
                    out.push(serde_json::json!({ "job": job.name, "host": job.host, "error": e }));
                } else {
                    println!("{} on {}  ERROR: {e}", job.name, job.host);
                }
            }
        }
    }
    if a.json {
        print_json(&out)?;
    }
    Ok(if failed {
        2
    } else if breached {
        1
    } else {
        0
    })
}

async fn run_now(ui: &UiArgs, a: &RunArgs) -> Result<i32, String> {
    let mut hosts = Hosts::load(ui, &a.connect)?;
    let job = hosts.job(&a.job)?;
    hosts.refuse_if_read_only(ui, "backup")?;
    let session = hosts.session(&job.host).await?;
    let mut ctx = BackupContext::new(&hosts.profile.name);
    ctx.release = a.release.clone();
    let (tx, printer) = printer(a.json);
    let record = backup::run_job(&session, &job, &ctx, &tx).await;
    drop(tx);
    let _ = printer.await;
    if a.json {
        print_json(&record)?;
    }
    Ok(if record.ok() { 0 } else { 1 })
}

/// The job's listing and the chosen file (default: the newest backup).
async fn find_file(
    session: &SshSession,
    job: &BackupJob,
    file: Option<&str>,
) -> Result<(JobListing, BackupFile), String> {
    let listing = backup::list_job(session, job).await.map_err(|e| e.to_string())?;
    let chosen = match file {
        Some(name) => listing.file(name),
        None => listing.newest(),
    };
    let chosen = chosen.cloned().ok_or_else(|| {
        BackupError::NotFound { job: job.name.clone(), file: file.unwrap_or("(no backup yet)").into() }.to_string()
    })?;
    Ok((listing, chosen))
}

async fn verify(ui: &UiArgs, a: &FileArgs) -> Result<i32, String> {
    let mut hosts = Hosts::load(ui, &a.connect)?;
    let job = hosts.job(&a.job)?;
    let session = hosts.session(&job.host).await?;
    let (_, file) = find_file(&session, &job, a.file.as_deref()).await?;
    let (tx, printer) = printer(a.json);
    let outcome = backup::verify_file(&session, &job, &file, &tx).await;
    drop(tx);
    let _ = printer.await;
    let outcome = outcome.map_err(|e| e.to_string())?;
    if a.json {
        print_json(&outcome)?;
    }
    Ok(if outcome.ok { 0 } else { 1 })
}

async fn restore(ui: &UiArgs, a: &RestoreArgs) -> Result<i32, String> {
    let mut hosts = Hosts::load(ui, &a.connect)?;
    let job = hosts.job(&a.job)?;
    let session = hosts.session(&job.host).await?;
    let (listing, file) = find_file(&session, &job, a.file.as_deref()).await?;
    let plan = backup::plan_restore(&job, &listing, Some(&file.name), chrono::Utc::now()).map_err(|e| e.to_string())?;
    let say = |s: String| if a.json { eprintln!("{s}") } else { println!("{s}") };
    say(format!(
        "restore {} ({}, {} old) of job {} on {}:",
        plan.file.name,
        human_size(plan.file.size),
        human_age(plan.file.age_secs),
        job.name,
        job.host
    ));
    for (i, s) in plan.steps.iter().enumerate() {
        say(format!("  {}. {s}", i + 1));
    }
    if a.dry_run {
        if a.json {
            print_json(&plan)?;
        }
        say("dry run: nothing changed".into());
        return Ok(0);
    }
    hosts.refuse_if_read_only(ui, "restore")?;
    if !a.yes {
        return Err("restore not confirmed: nothing changed (pass --yes to restore)".into());
    }
    backup::check_confirmation(hosts.profile.protected, &job, a.confirm.as_deref())
        .map_err(|e| format!("restore refused: {e} (pass --confirm {})", job.name))?;
    let ctx = BackupContext::new(&hosts.profile.name);
    let opts = backup::RestoreOptions { without_safety_backup: a.without_safety_backup };
    let (tx, printer) = printer(a.json);
    let report = backup::restore(&session, &job, &plan, &ctx, &opts, &tx).await;
    drop(tx);
    let _ = printer.await;
    let report = report.map_err(|e| e.to_string())?;
    if a.json {
        print_json(&report)?;
    } else {
        println!("restore of {}: {}", report.file, report.outcome.label());
        if let Some(p) = &report.safety_path {
            println!("safety backup of the state before the restore: {p}");
        }
    }
    if let Some(e) = &report.error {
        eprintln!("restore error: {e}");
    }
    if let Some(e) = &report.rollback_error {
        eprintln!("error putting back the safety backup: {e}");
    }
    if let Some(e) = &report.restart_error {
        eprintln!("error starting the service again: {e}");
    }
    Ok(if report.outcome == backup::RestoreOutcome::Restored && report.restart_error.is_none() { 0 } else { 1 })
}

async fn prune(ui: &UiArgs, a: &PruneArgs) -> Result<i32, String> {
    let mut hosts = Hosts::load(ui, &a.connect)?;
    let job = hosts.job(&a.job)?;
    let session = hosts.session(&job.host).await?;
    let listing = backup::list_job(&session, &job).await.map_err(|e| e.to_string())?;
    let plan = backup::plan_prune(&job, &listing);
    let say = |s: String| if a.json { eprintln!("{s}") } else { println!("{s}") };
    if plan.delete.is_empty() {
        say(format!("{}: nothing is past retention ({} files kept)", job.name, plan.keep.len()));
    } else {
        say(format!(
            "{}: {} files past retention ({}), {} kept:",
            job.name,
            plan.delete.len(),
            human_size(plan.bytes),
            plan.keep.len()
        ));
        for d in &plan.delete {
            say(format!(
                "  delete {}  ({}, {} old: {})",
                d.file.name,
                human_size(d.file.size),
                human_age(d.file.age_secs),
                d.reason
            ));
        }
    }
    if a.dry_run || plan.delete.is_empty() {
        if a.json {
            print_json(&serde_json::json!({ "plan": plan, "report": null }))?;
        }
        if a.dry_run {
            say("dry run: nothing changed".into());
        }
        return Ok(0);
    }
    hosts.refuse_if_read_only(ui, "prune")?;
    if !a.yes {
        return Err("prune not confirmed: nothing changed (pass --yes to delete these files)".into());
    }
    let ctx = BackupContext::new(&hosts.profile.name);
    let (tx, printer) = printer(a.json);
    let report = backup::prune(&session, &job, &plan, &ctx, &tx).await;
    drop(tx);
    let _ = printer.await;
    let report = report.map_err(|e| e.to_string())?;
    if a.json {
        print_json(&serde_json::json!({ "plan": plan, "report": report }))?;
    } else {
        println!("deleted {} files, freed {}", report.deleted.len(), human_size(report.freed_bytes));
    }
    for (f, why) in &report.failed {
        eprintln!("not deleted: {f}: {why}");
    }
    Ok(if report.failed.is_empty() { 0 } else { 1 })
}
