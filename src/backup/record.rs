//! Backup records: what fleetdeck knows about a backup file (checksum, verification, size,
//! duration, release), kept on the host in `<directory>/.fleetdeck-backups.jsonl`. Records are
//! appended (a small append is atomic, so operators never lose each other's records); the last
//! record of a file wins when reading.

use super::{naming, BackupError, BackupJob};
use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A backup taken by the job (run now, scheduled, or before a deploy).
    #[default]
    Backup,
    /// The state before a restore, taken by the restore itself.
    Safety,
}

/// One backup (or one failed attempt), as recorded on the host. Field order matters: the
/// index is compacted by the `{"job":…,"host":…,"file":…,` prefix of its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub job: String,
    pub host: String,
    /// File name in the job's directory.
    pub file: String,
    /// Absolute path on the host.
    pub path: String,
    #[serde(default)]
    pub kind: RecordKind,
    pub started_at: DateTime<Utc>,
    /// How long taking the backup took (command, checksum and verification).
    pub duration_ms: u64,
    pub size: Option<u64>,
    /// sha256 of the file, hex.
    pub sha256: Option<String>,
    /// `Some(true)`: passed its last verification; `Some(false)`: failed it; `None`: never.
    pub verified: Option<bool>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verify_error: Option<String>,
    /// The release this backup was taken before (pre-deploy backups).
    pub release: Option<String>,
    /// `user@host` of the operator.
    pub who: String,
    /// Why the run failed; `None` for a backup that exists.
    pub error: Option<String>,
}

impl BackupRecord {
    /// Whether the backup was taken (the file exists and is complete).
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// `job:file`, as listed in a release's `backups`.
    pub fn release_entry(&self) -> String {
        format!("{}:{}", self.job, self.file)
    }

    /// The start of this record's JSON line, which identifies its file.
    pub(crate) fn key_prefix(job: &str, host: &str, file: &str) -> String {
        let j = |s: &str| serde_json::to_string(s).unwrap_or_default();
        format!("{{\"job\":{},\"host\":{},\"file\":{},", j(job), j(host), j(file))
    }
}

/// Parse an index: the last record per file of `job`, and every failed attempt (oldest
/// first). Lines that are not records are skipped.
pub fn parse_index(text: &str, job: &str) -> (HashMap<String, BackupRecord>, Vec<BackupRecord>) {
    let mut by_file = HashMap::new();
    let mut failures = Vec::new();
    for line in text.lines() {
        let Ok(r) = serde_json::from_str::<BackupRecord>(line) else { continue };
        if r.job != job {
            continue;
        }
        if r.ok() {
            by_file.insert(r.file.clone(), r);
        } else {
            failures.push(r);
        }
    }
    (by_file, failures)
}

/// The shell command appending `record` to the job's index.
pub(crate) fn append_command(job: &BackupJob, record: &BackupRecord) -> String {
    let json = serde_json::to_string(record).unwrap_or_default();
    format!("printf '%s\\n' {} >> {}", sh_quote(&json), sh_quote(&naming::index_path(job)))
}

/// Append a record to the job's index on the host.
pub async fn append(session: &SshSession, job: &BackupJob, record: &BackupRecord) -> Result<(), BackupError> {
    let cmd = format!("mkdir -p -- {} && {}", sh_quote(&job.directory), append_command(job, record));
    let out = session.exec(&cmd).await.map_err(|e| BackupError::Ssh(format!("{}: {e}", session.addr)))?;
    if out.success() {
        Ok(())
    } else {
        Err(BackupError::Failed(format!(
            "cannot write the backup index {}: {}",
            naming::index_path(job),
            out.stderr_str().trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(file: &str, verified: Option<bool>, error: Option<&str>) -> BackupRecord {
        BackupRecord {
            job: "db".into(),
            host: "h".into(),
            file: file.into(),
            path: format!("/b/{file}"),
            kind: RecordKind::Backup,
            started_at: DateTime::parse_from_rfc3339("2026-11-30T04:17:00Z").unwrap().with_timezone(&Utc),
            duration_ms: 5,
            size: Some(3),
            sha256: Some("ab".into()),
            verified,
            verified_at: None,
            verify_error: None,
            release: None,
            who: "me@here".into(),
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn the_last_record_of_a_file_wins_and_failures_are_kept() {
        let lines = [rec("a", None, None), rec("b", None, Some("disk full")), rec("a", Some(true), None)]
            .map(|r| serde_json::to_string(&r).unwrap());
        let mut other = rec("a", Some(false), None);
        other.job = "other".into();
        let text = format!("{}\nnot json\n{}\n", lines.join("\n"), serde_json::to_string(&other).unwrap());
        let (by_file, failures) = parse_index(&text, "db");
        assert_eq!(by_file["a"].verified, Some(true));
        assert_eq!(failures.len(), 1);
        assert!(lines[0].starts_with(&BackupRecord::key_prefix("db", "h", "a")), "{}", lines[0]);
    }
}
