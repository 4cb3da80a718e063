//! Verifying a backup file: its sha256 against the recorded one (a changed or truncated file
//! fails), then the job's verify command (`gzip -t`, `pg_restore --list`, ...). The result is
//! recorded in the index, so every operator sees when a file was last verified.

use super::listing::BackupFile;
use super::record::{self, BackupRecord, RecordKind};
use super::remote;
use super::{naming, step, BackupError, BackupEvent, BackupJob};
use crate::ssh::SshSession;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChecksumCheck {
    /// No checksum was recorded for the file (it was not taken by fleetdeck).
    NotRecorded {
        actual: String,
    },
    Matches {
        sha256: String,
    },
    Mismatch {
        recorded: String,
        actual: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyOutcome {
    pub job: String,
    pub file: String,
    pub path: String,
    pub ok: bool,
    pub checksum: ChecksumCheck,
    /// Exit status of the verify command (`None`: the job has none, or it was killed).
    pub command_status: Option<u32>,
    pub ran_command: bool,
    /// Why it failed, in a sentence.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// Verify `file` (from a listing of `job`) and record the outcome on the host.
pub async fn verify_file(
    session: &SshSession,
    job: &BackupJob,
    file: &BackupFile,
    events: &mpsc::Sender<BackupEvent>,
) -> Result<VerifyOutcome, BackupError> {
    step(events, format!("verifying {} on {}", file.path, job.host)).await;
    let (size, actual) = match remote::size_and_sha256(session, &file.path).await {
        Ok(x) => x,
        Err(BackupError::Failed(_)) => {
            return Err(BackupError::NotFound { job: job.name.clone(), file: file.name.clone() });
        }
        Err(e) => return Err(e),
    };
    let checksum = match file.sha256.clone() {
        None => ChecksumCheck::NotRecorded { actual: actual.clone() },
        Some(recorded) if recorded == actual => ChecksumCheck::Matches { sha256: actual.clone() },
        Some(recorded) => ChecksumCheck::Mismatch { recorded, actual: actual.clone() },
    };
    let mut errors = Vec::new();
    if let ChecksumCheck::Mismatch { recorded, actual } = &checksum {
        errors.push(format!(
            "the checksum changed since the backup was taken (recorded sha256 {}…, now {}…): the file was modified or corrupted",
            &recorded[..recorded.len().min(12)],
            &actual[..actual.len().min(12)]
        ));
    }
    if size == 0 {
        errors.push("the file is empty".into());
    }
    let mut command_status = None;
    let ran_command = job.verify.is_some();
    if let Some(verify) = &job.verify {
        let ts = naming::timestamp(Utc::now());
        let command = remote::render(job, verify, &file.path, &ts)?;
        let done = remote::stream(session, job, &command, events).await?;
        command_status = done.status;
        if !done.ok() {
            errors.push(format!("the verify command failed ({})", done.describe(job)));
        }
    }
    let at = Utc::now();
    let outcome = VerifyOutcome {
        job: job.name.clone(),
        file: file.name.clone(),
        path: file.path.clone(),
        ok: errors.is_empty(),
        checksum,
        command_status,
        ran_command,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        at,
    };
    step(
        events,
        match &outcome.error {
            None => format!("{} verified", file.name),
            Some(e) => format!("{} FAILED verification: {e}", file.name),
        },
    )
    .await;
    // Record it: the file's record with the verification, or a new one for a file fleetdeck
    // did not take (its checksum is recorded only when it passed).
    let mut rec = file.record.clone().unwrap_or_else(|| BackupRecord {
        job: job.name.clone(),
        host: job.host.clone(),
        file: file.name.clone(),
        path: file.path.clone(),
        kind: if file.safety { RecordKind::Safety } else { RecordKind::Backup },
        started_at: file.modified,
        duration_ms: 0,
        size: Some(size),
        sha256: None,
        verified: None,
        verified_at: None,
        verify_error: None,
        release: None,
        who: String::new(),
        error: None,
    });
    if rec.sha256.is_none() && outcome.ok {
        rec.sha256 = Some(actual);
    }
    rec.verified = Some(outcome.ok);
    rec.verified_at = Some(at);
    rec.verify_error = outcome.error.clone();
    if let Err(e) = record::append(session, job, &rec).await {
        step(events, format!("warning: the verification could not be recorded: {e}")).await;
    }
    Ok(outcome)
}
