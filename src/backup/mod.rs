//! The backups engine: the `[[backups]]` jobs of a profile, run over SSH on their host.
//!
//! Every function takes the host's `SshSession` and a `BackupJob` (from `Profile::backups`),
//! returns typed results, and reports what happens as `BackupEvent`s on an `mpsc::Sender`
//! (front ends print or render them). Nothing here imports ratatui or crossterm.
//!
//! - [`list_job`]: the backup files on the host (name, size, age, verified, checksum) and the
//!   newest backup's age against the RPO, in one exec per job.
//! - [`run_job`]: take a backup now (streamed output, progress, a record in the index).
//! - [`verify_file`]: check a file against its recorded checksum and the verify command.
//! - [`plan_restore`] + [`restore`]: restore a file behind a verification and a safety
//!   backup of the current state; a failed restore is undone from the safety backup.
//! - [`plan_prune`] + [`prune`]: retention, previewed first; `prune` deletes exactly the plan.
//!
//! Records (checksum, verified flag and time, size, duration, release) live on the host next
//! to the files, in `<directory>/.fleetdeck-backups.jsonl` (one JSON record per line,
//! appended; the last record of a file wins), so every operator sees the same history.
//! User commands run in the job's directory, under `bash -o pipefail -c` when the host has
//! bash (a failing `pg_dump | gzip` is then a failure), else `sh -c`; every placeholder value
//! is shell-quoted (see [`template`]).

pub mod listing;
pub mod naming;
pub mod prune;
pub mod record;
mod remote;
pub mod restore;
pub mod run;
pub mod template;
pub mod verify;

pub use crate::config::backup::{jobs_before_deploy, BackupJob, Retention};
pub use listing::{human_age, list_job, BackupFile, JobListing, RpoStatus};
pub use prune::{plan_prune, prune, PruneItem, PrunePlan, PruneReport};
pub use record::{BackupRecord, RecordKind};
pub use restore::{
    check_confirmation, plan_restore, restore, RestoreOptions, RestoreOutcome, RestorePlan, RestoreReport,
};
pub use run::run_job;
pub use verify::{verify_file, ChecksumCheck, VerifyOutcome};

use crate::deploy::audit::{self, AuditEntry};
use std::time::Duration;

/// File name of the records index in a job's directory.
pub const INDEX_FILE: &str = ".fleetdeck-backups.jsonl";

/// What a running action reports.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupEvent {
    /// What happens next, in a sentence.
    Step(String),
    /// A line a command printed (`stderr`: it came on standard error).
    Output { line: String, stderr: bool },
    /// Bytes of the backup file written so far; `expected` is the previous backup's size.
    Progress { bytes: u64, expected: Option<u64>, elapsed: Duration },
    /// The safety backup taken before a restore is complete, here.
    SafetyBackup { path: String },
}

/// Why an action did not run, or could not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupError {
    /// The host could not be reached, or a command could not be started.
    Ssh(String),
    /// No such backup file of the job on the host.
    NotFound { job: String, file: String },
    /// Refused before anything changed (a corrupted file, no safety backup, ...).
    Refused(String),
    /// A command failed.
    Failed(String),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::Ssh(m) | BackupError::Failed(m) => write!(f, "{m}"),
            BackupError::NotFound { job, file } => write!(f, "backup job {job} has no file {file:?}"),
            BackupError::Refused(m) => write!(f, "refused: {m}"),
        }
    }
}

impl std::error::Error for BackupError {}

/// Who acts, in which profile, and for which release (recorded with backups and audited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupContext {
    pub profile: String,
    /// `user@host` of the operator.
    pub who: String,
    /// The release a pre-deploy backup precedes.
    pub release: Option<String>,
}

impl BackupContext {
    /// The local operator acting in `profile`.
    pub fn new(profile: &str) -> Self {
        BackupContext { profile: profile.to_string(), who: crate::deploy::journal::who(), release: None }
    }

    /// The same context, recording backups as taken before `release`.
    pub fn with_release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    pub(crate) fn audit(
        &self,
        action: &str,
        target: &str,
        phase: &str,
        outcome: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), String> {
        audit::write(&AuditEntry {
            at: chrono::Utc::now(),
            who: &self.who,
            profile: &self.profile,
            action,
            target,
            phase,
            outcome,
            detail,
        })
    }
}

/// Send an event; a receiver that went away is not an error.
pub(crate) async fn emit(tx: &tokio::sync::mpsc::Sender<BackupEvent>, ev: BackupEvent) {
    let _ = tx.send(ev).await;
}

pub(crate) async fn step(tx: &tokio::sync::mpsc::Sender<BackupEvent>, s: impl Into<String>) {
    emit(tx, BackupEvent::Step(s.into())).await;
}

/// `12.3 MiB`
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
