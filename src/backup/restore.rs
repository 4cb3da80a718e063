//! Restoring a backup, safely: the plan says what will happen; the file is verified first (a
//! corrupted file is refused); a safety backup of the current state is taken (its path is
//! reported); the job's service is stopped around the restore; and when the restore command
//! fails, the safety backup is restored with the same command and both errors are reported.
//! Every restore and its outcome go in the audit log.

use super::listing::{BackupFile, JobListing};
use super::record::RecordKind;
use super::{naming, remote, run, step, verify, BackupContext, BackupError, BackupEvent, BackupJob};
use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Instant;
use tokio::sync::mpsc;

/// What a restore will do, shown before it starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestorePlan {
    pub job: String,
    pub host: String,
    pub file: BackupFile,
    /// Where the safety backup goes if taken now; it is named with the time it is taken
    /// (the report and a `SafetyBackup` event give the actual path).
    pub safety_path: String,
    /// The service whose containers are stopped during the restore.
    pub stop_service: Option<String>,
    /// The restore command, as it will run.
    pub command: String,
    /// Every step, in a sentence each.
    pub steps: Vec<String>,
    /// What a person must type to confirm on a protected profile: the job name.
    pub confirm_word: String,
}

/// Plan restoring `file` (default: the newest backup) of `job`, from its listing.
pub fn plan_restore(
    job: &BackupJob,
    listing: &JobListing,
    file: Option<&str>,
    now: DateTime<Utc>,
) -> Result<RestorePlan, BackupError> {
    let chosen = match file {
        Some(name) => listing.file(name),
        None => listing.newest(),
    };
    let Some(chosen) = chosen.cloned() else {
        return Err(BackupError::NotFound {
            job: job.name.clone(),
            file: file.unwrap_or("(no backup yet)").to_string(),
        });
    };
    let ts = naming::timestamp(now);
    let command = remote::render(job, &job.restore, &chosen.path, &ts)?;
    let safety_path = naming::path(job, &naming::safety_name(job, &ts));
    let mut steps = vec![match &job.verify {
        Some(v) => format!("verify {} (recorded checksum, then `{v}`); a file that fails is not restored", chosen.path),
        None => format!("verify {} against its recorded checksum; a file that fails is not restored", chosen.path),
    }];
    let safety_pattern = naming::path(job, &naming::safety_name(job, "<time>"));
    steps.push(format!(
        "take a safety backup of the current state to {safety_pattern} (`{}`); if that fails, nothing is restored",
        job.backup
    ));
    if let Some(s) = &job.stop_service {
        steps.push(format!("stop the containers of service {} on {}", s.name, job.host));
    }
    steps.push(format!("restore on {}: {command}", job.host));
    steps.push("if the restore fails: restore the safety backup with the same command, and show both errors".into());
    if let Some(s) = &job.stop_service {
        steps.push(format!("start the containers of service {} again (also when the restore failed)", s.name));
    }
    Ok(RestorePlan {
        job: job.name.clone(),
        host: job.host.clone(),
        file: chosen,
        safety_path,
        stop_service: job.stop_service.as_ref().map(|s| s.name.clone()),
        command,
        steps,
        confirm_word: job.name.clone(),
    })
}

/// On a protected profile a restore needs the job's name typed as confirmation.
pub fn check_confirmation(protected: bool, job: &BackupJob, typed: Option<&str>) -> Result<(), String> {
    if !protected || typed == Some(job.name.as_str()) {
        return Ok(());
    }
    Err(match typed {
        None => format!("the profile is protected: confirm the restore by typing the job name {:?}", job.name),
        Some(t) => format!("the profile is protected: {t:?} is not the job name {:?}", job.name),
    })
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore even when the safety backup cannot be taken (e.g. the database is gone).
    pub without_safety_backup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreOutcome {
    /// The backup was restored.
    Restored,
    /// The restore failed; the safety backup was restored: the data is as before.
    RolledBack,
    /// The restore failed, and restoring the safety backup failed too: needs a person.
    RollbackFailed,
    /// The restore failed and there was no safety backup to go back to.
    Failed,
}

impl RestoreOutcome {
    /// `restored`, `rolled_back`, `rollback_failed`, `failed` (as in JSON and the audit log).
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreOutcome::Restored => "restored",
            RestoreOutcome::RolledBack => "rolled_back",
            RestoreOutcome::RollbackFailed => "rollback_failed",
            RestoreOutcome::Failed => "failed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RestoreOutcome::Restored => "restored",
            RestoreOutcome::RolledBack => "failed, put back from the safety backup",
            RestoreOutcome::RollbackFailed => "FAILED, and putting back the safety backup failed too",
            RestoreOutcome::Failed => "FAILED (no safety backup to put back)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub job: String,
    pub file: String,
    pub path: String,
    pub outcome: RestoreOutcome,
    pub safety_path: Option<String>,
    /// Why the restore command failed.
    pub error: Option<String>,
    /// Why restoring the safety backup failed.
    pub rollback_error: Option<String>,
    /// Containers stopped for the restore (and started again).
    pub stopped: Vec<String>,
    pub restart_error: Option<String>,
    pub duration_ms: u64,
}

/// Restore `plan.file` on the job's host (see the module docs for the steps). `Err` means
/// nothing was changed (refused, or the host could not be reached before any change).
pub async fn restore(
    session: &SshSession,
    job: &BackupJob,
    plan: &RestorePlan,
    ctx: &BackupContext,
    opts: &RestoreOptions,
    events: &mpsc::Sender<BackupEvent>,
) -> Result<RestoreReport, BackupError> {
    let started = Instant::now();
    let target = format!("{} on {}: {}", job.name, job.host, plan.file.name);
    ctx.audit("restore", &target, "begin", None, Some(&plan.file.path))
        .map_err(|e| BackupError::Refused(format!("the audit log cannot be written: {e}")))?;
    let refuse = |msg: String| {
        let _ = ctx.audit("restore", &target, "end", Some("refused"), Some(&msg));
        BackupError::Refused(msg)
    };
    // 1. Verify.
    match verify::verify_file(session, job, &plan.file, events).await {
        Ok(v) if v.ok => {}
        Ok(v) => {
            return Err(refuse(format!(
                "{} failed verification, it is not restored: {}",
                plan.file.name,
                v.error.unwrap_or_default()
            )))
        }
        Err(e) => return Err(refuse(format!("{} could not be verified: {e}", plan.file.name))),
    }
    // 2. Safety backup of the current state.
    step(events, "taking a safety backup of the current state first").await;
    let safety = run::take(session, job, RecordKind::Safety, ctx, events).await;
    let safety_path = match &safety.error {
        None => {
            super::emit(events, BackupEvent::SafetyBackup { path: safety.path.clone() }).await;
            Some(safety.path.clone())
        }
        Some(e) if opts.without_safety_backup => {
            step(events, format!("no safety backup ({e}); restoring anyway, as asked")).await;
            None
        }
        Some(e) => {
            return Err(refuse(format!(
                "the safety backup failed, so nothing was restored: {e} (to restore anyway, e.g. when the database is gone, restore without a safety backup)"
            )))
        }
    };
    // 3. Stop the service.
    let stopped = match stop_service(session, job, events).await {
        Ok(s) => s,
        Err(e) => return Err(refuse(format!("the service could not be stopped, nothing was restored: {e}"))),
    };
    // 4. Restore; 5. on failure, put the safety backup back.
    step(events, format!("restoring {} on {}", plan.file.path, job.host)).await;
    let ts = naming::timestamp(Utc::now());
    let (mut outcome, mut error, mut rollback_error) = (RestoreOutcome::Restored, None, None);
    if let Err(e) = run_restore(session, job, &plan.file.path, &ts, events).await {
        step(events, format!("the restore failed: {e}")).await;
        error = Some(e);
        outcome = match &safety_path {
            None => RestoreOutcome::Failed,
            Some(p) => {
                step(events, format!("putting the data back from the safety backup {p}")).await;
                match run_restore(session, job, p, &ts, events).await {
                    Ok(()) => RestoreOutcome::RolledBack,
                    Err(e2) => {
                        step(events, format!("restoring the safety backup failed too: {e2}")).await;
                        rollback_error = Some(e2);
                        RestoreOutcome::RollbackFailed
                    }
                }
            }
        };
    }
    // 6. Start the service again.
    let restart_error = start_service(session, job, &stopped, events).await.err().map(|e| e.to_string());
    step(events, format!("restore of {}: {}", plan.file.name, outcome.label())).await;
    let report = RestoreReport {
        job: job.name.clone(),
        file: plan.file.name.clone(),
        path: plan.file.path.clone(),
        outcome,
        safety_path,
        error,
        rollback_error,
        stopped: stopped.into_iter().map(|(_, name)| name).collect(),
        restart_error,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let detail = [
        report.safety_path.as_ref().map(|p| format!("safety backup {p}")),
        report.error.as_ref().map(|e| format!("restore error: {e}")),
        report.rollback_error.as_ref().map(|e| format!("rollback error: {e}")),
        report.restart_error.as_ref().map(|e| format!("restart error: {e}")),
    ];
    let detail: Vec<String> = detail.into_iter().flatten().collect();
    if let Err(e) = ctx.audit("restore", &target, "end", Some(report.outcome.as_str()), Some(&detail.join("; "))) {
        step(events, format!("warning: {e}")).await;
    }
    Ok(report)
}

async fn run_restore(
    session: &SshSession,
    job: &BackupJob,
    file: &str,
    ts: &str,
    events: &mpsc::Sender<BackupEvent>,
) -> Result<(), String> {
    let command = remote::render(job, &job.restore, file, ts).map_err(|e| e.to_string())?;
    let done = remote::stream(session, job, &command, events).await.map_err(|e| e.to_string())?;
    if done.ok() {
        Ok(())
    } else {
        Err(format!("the restore command failed ({})", done.describe(job)))
    }
}

fn docker(job: &BackupJob) -> String {
    let sock = &job.docker_socket;
    let host = if sock.contains("://") { sock.clone() } else { format!("unix://{sock}") };
    format!("docker -H {}", sh_quote(&host))
}

/// Stop the running containers of the job's service on its host: (id, name) of each.
async fn stop_service(
    session: &SshSession,
    job: &BackupJob,
    events: &mpsc::Sender<BackupEvent>,
) -> Result<Vec<(String, String)>, BackupError> {
    let Some(svc) = &job.stop_service else { return Ok(vec![]) };
    let format =
        "{{.ID}}\t{{.Names}}\t{{.Label \"com.docker.compose.project\"}}\t{{.Label \"com.docker.compose.service\"}}";
    let cmd = format!("{} ps --no-trunc --format {}", docker(job), sh_quote(format));
    let out = remote::exec_ok(session, &cmd, "docker ps").await?;
    let mut found = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        let label = |k: &str| match k {
            "com.docker.compose.project" => Some(f[2].to_string()).filter(|v| !v.is_empty()),
            "com.docker.compose.service" => Some(f[3].to_string()).filter(|v| !v.is_empty()),
            _ => None,
        };
        if svc.matches(f[1], label) {
            found.push((f[0].to_string(), f[1].to_string()));
        }
    }
    if found.is_empty() {
        step(events, format!("service {} has no running containers on {}", svc.name, job.host)).await;
        return Ok(found);
    }
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    step(events, format!("stopping {} ({})", svc.name, names.join(", "))).await;
    let ids: Vec<String> = found.iter().map(|(id, _)| sh_quote(id)).collect();
    if let Err(e) = remote::exec_ok(session, &format!("{} stop {}", docker(job), ids.join(" ")), "docker stop").await {
        let _ = start_service(session, job, &found, events).await;
        return Err(e);
    }
    Ok(found)
}

async fn start_service(
    session: &SshSession,
    job: &BackupJob,
    stopped: &[(String, String)],
    events: &mpsc::Sender<BackupEvent>,
) -> Result<(), BackupError> {
    if stopped.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = stopped.iter().map(|(_, n)| n.as_str()).collect();
    step(events, format!("starting {} again", names.join(", "))).await;
    let ids: Vec<String> = stopped.iter().map(|(id, _)| sh_quote(id)).collect();
    remote::exec_ok(session, &format!("{} start {}", docker(job), ids.join(" ")), "docker start").await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::listing::parse_listing;
    use crate::backup::naming::test_job;

    #[test]
    fn the_plan_names_every_step_and_the_confirmation() {
        let job = test_job("shop", "shop-{timestamp}.dump");
        let l =
            parse_listing(&job, "5000\nFILES\n1\t100\tshop-a.dump\u{0}2\t200\tshop-b.dump\u{0}\nINDEX\n".as_bytes())
                .unwrap();
        let now = DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let p = plan_restore(&job, &l, None, now).unwrap();
        assert_eq!(p.file.name, "shop-b.dump");
        assert_eq!(p.command, "r < /var/backups/shop-b.dump");
        assert!(p.safety_path.starts_with("/var/backups/safety-2026"), "{}", p.safety_path);
        assert!(p.steps.iter().any(|s| s.contains("safety backup")), "{:?}", p.steps);
        assert!(matches!(plan_restore(&job, &l, Some("nope"), now), Err(BackupError::NotFound { .. })));
        assert!(check_confirmation(false, &job, None).is_ok());
        assert!(check_confirmation(true, &job, None).unwrap_err().contains("\"shop\""));
        assert!(check_confirmation(true, &job, Some("shop ")).is_err());
        assert!(check_confirmation(true, &job, Some("shop")).is_ok());
    }
}
