//! Taking a backup: the job's backup command writes a hidden partial file, which is checked
//! (not empty), checksummed, verified with the job's verify command, and only then renamed
//! to its final name and recorded in the index. A failed run leaves no file behind and is
//! recorded too (every operator sees it in the listing).

use super::listing::list_job;
use super::record::{self, BackupRecord, RecordKind};
use super::remote::{self, exec_ok};
use super::{naming, step, BackupContext, BackupError, BackupEvent, BackupJob};
use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use chrono::Utc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Run the job's backup now, on `session` (the job's host). Streams the command's output
/// and progress into `events`, records the result in the index on the host (failed runs
/// too), audits it, and returns the record: `record.ok()` tells whether a backup was taken.
///
/// A deploy runner calls it for each `jobs_before_deploy(&profile.backups, service)` with
/// `BackupContext::new(profile).with_release(release_id)`: the record (and the index on the
/// host) then name the release the backup preceded.
pub async fn run_job(
    session: &SshSession,
    job: &BackupJob,
    ctx: &BackupContext,
    events: &mpsc::Sender<BackupEvent>,
) -> BackupRecord {
    let target = format!("{} on {}", job.name, job.host);
    if let Err(e) = ctx.audit("backup", &target, "begin", None, ctx.release.as_deref()) {
        log::error!("{e}");
    }
    let record = take(session, job, RecordKind::Backup, ctx, events).await;
    let outcome = if record.ok() { "ok" } else { "failed" };
    let detail = record.error.clone().unwrap_or_else(|| record.path.clone());
    if let Err(e) = ctx.audit("backup", &target, "end", Some(outcome), Some(&detail)) {
        log::error!("{e}");
    }
    record
}

/// Take a backup (or a safety backup) and record it; never returns without a record.
pub(crate) async fn take(
    session: &SshSession,
    job: &BackupJob,
    kind: RecordKind,
    ctx: &BackupContext,
    tx: &mpsc::Sender<BackupEvent>,
) -> BackupRecord {
    let started = Instant::now();
    let mut at = Utc::now();
    // The previous backup's size gives the progress an estimate; a name taken in this very
    // second waits for the next one.
    let listing = list_job(session, job).await.ok();
    let name_for = |ts: &str| match kind {
        RecordKind::Backup => naming::file_name(job, ts),
        RecordKind::Safety => naming::safety_name(job, ts),
    };
    let mut name = name_for(&naming::timestamp(at));
    for _ in 0..3 {
        if listing.as_ref().is_none_or(|l| l.file(&name).is_none()) {
            break;
        }
        let rest_of_second = 1000 - u64::from(at.timestamp_subsec_millis().min(999));
        tokio::time::sleep(std::time::Duration::from_millis(rest_of_second)).await;
        at = Utc::now();
        name = name_for(&naming::timestamp(at));
    }
    let expected = listing.as_ref().and_then(|l| l.files.iter().find(|f| f.safety == (kind == RecordKind::Safety)));
    let expected = expected.map(|f| f.size);
    let mut record = BackupRecord {
        job: job.name.clone(),
        host: job.host.clone(),
        path: naming::path(job, &name),
        file: name,
        kind,
        started_at: at,
        duration_ms: 0,
        size: None,
        sha256: None,
        verified: None,
        verified_at: None,
        verify_error: None,
        release: ctx.release.clone(),
        who: ctx.who.clone(),
        error: None,
    };
    let result = attempt(session, job, &mut record, &naming::timestamp(at), expected, tx).await;
    record.duration_ms = started.elapsed().as_millis() as u64;
    let partial = naming::partial_path(job, &record.file);
    match result {
        Ok(()) => {
            // Publish: rename the complete file to its name and record it, in one exec.
            let cmd = format!(
                "if [ -e {f} ]; then echo {f}' exists already' >&2; exit 17; fi; mv -f -- {p} {f} && {append}",
                f = sh_quote(&record.path),
                p = sh_quote(&partial),
                append = record::append_command(job, &record)
            );
            if let Err(e) = exec_ok(session, &cmd, "cannot publish the backup").await {
                record.error = Some(e.to_string());
            }
        }
        Err(e) => record.error = Some(e.to_string()),
    }
    match &record.error {
        None => {
            let verified = if record.verified == Some(true) { ", verified" } else { "" };
            let size = super::human_size(record.size.unwrap_or(0));
            let secs = record.duration_ms as f64 / 1000.0;
            step(tx, format!("backup {} complete: {size} in {secs:.1}s{verified}", record.path)).await;
        }
        Some(e) => {
            step(tx, format!("backup failed: {e}")).await;
            let _ = session.exec(&format!("rm -f -- {}", sh_quote(&partial))).await;
            if let Err(e2) = record::append(session, job, &record).await {
                log::warn!("{}: the failed run could not be recorded: {e2}", job.name);
            }
        }
    }
    record
}

async fn attempt(
    session: &SshSession,
    job: &BackupJob,
    record: &mut BackupRecord,
    ts: &str,
    expected: Option<u64>,
    tx: &mpsc::Sender<BackupEvent>,
) -> Result<(), BackupError> {
    let partial = naming::partial_path(job, &record.file);
    let command = remote::render(job, &job.backup, &partial, ts)?;
    exec_ok(
        session,
        &format!("mkdir -p -- {} && rm -f -- {}", sh_quote(&job.directory), sh_quote(&partial)),
        &format!("cannot create {}", job.directory),
    )
    .await?;
    step(tx, format!("backing up {} on {} to {}", job.name, job.host, record.path)).await;
    let done =
        remote::with_progress(session, &partial, expected, tx, remote::stream(session, job, &command, tx)).await?;
    if !done.ok() {
        return Err(BackupError::Failed(format!("the backup command failed ({})", done.describe(job))));
    }
    let (size, sum) = remote::size_and_sha256(session, &partial).await?;
    if size == 0 {
        return Err(BackupError::Failed("the backup command succeeded but wrote an empty file".into()));
    }
    record.size = Some(size);
    record.sha256 = Some(sum);
    if let Some(verify) = &job.verify {
        step(tx, "verifying the new backup").await;
        let command = remote::render(job, verify, &partial, ts)?;
        let v = remote::stream(session, job, &command, tx).await?;
        if !v.ok() {
            return Err(BackupError::Failed(format!("the new backup failed verification ({})", v.describe(job))));
        }
        record.verified = Some(true);
        record.verified_at = Some(Utc::now());
    }
    Ok(())
}
