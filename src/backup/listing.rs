//! Listing a job's backups: one exec per job prints the host's clock, every matching file
//! (`find -printf`, NUL-separated so any file name is safe) and the records index; ages are
//! measured against the host's clock, so a skewed local clock cannot hide an RPO breach.

use super::record::{parse_index, BackupRecord, RecordKind};
use super::{naming, BackupError, BackupJob, INDEX_FILE};
use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One backup file on the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupFile {
    pub name: String,
    pub path: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// Age on the host's clock, in seconds.
    pub age_secs: u64,
    /// A safety backup taken before a restore.
    pub safety: bool,
    pub sha256: Option<String>,
    pub verified: Option<bool>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verify_error: Option<String>,
    pub release: Option<String>,
    pub duration_ms: Option<u64>,
    pub who: Option<String>,
    /// The file's record in the index (none for files fleetdeck did not take).
    #[serde(skip)]
    pub record: Option<BackupRecord>,
}

/// The newest backup's age against the RPO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RpoStatus {
    /// The job sets no RPO.
    NotSet,
    Met {
        age_secs: u64,
        rpo_secs: u64,
    },
    /// The newest backup is older than the RPO (`age_secs: None`: there is no backup at all).
    Breached {
        age_secs: Option<u64>,
        rpo_secs: u64,
    },
}

impl RpoStatus {
    pub fn breached(&self) -> bool {
        matches!(self, RpoStatus::Breached { .. })
    }

    /// `RPO 24h ok (newest 2h old)`, `RPO BREACHED: newest backup is 30h old, RPO 24h`, ...
    pub fn describe(&self) -> String {
        match self {
            RpoStatus::NotSet => "no RPO set".into(),
            RpoStatus::Met { age_secs, rpo_secs } => {
                format!("RPO {} ok (newest {} old)", human_age(*rpo_secs), human_age(*age_secs))
            }
            RpoStatus::Breached { age_secs: Some(a), rpo_secs } => {
                format!("RPO BREACHED: newest backup is {} old, RPO {}", human_age(*a), human_age(*rpo_secs))
            }
            RpoStatus::Breached { age_secs: None, rpo_secs } => {
                format!("RPO BREACHED: no backup at all, RPO {}", human_age(*rpo_secs))
            }
        }
    }
}

/// `45s`, `12m`, `1h`, `29h59m`, `3d`, `3d4h`
pub fn human_age(secs: u64) -> String {
    let (d, h, m) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{m}m"),
        3600..172800 if m == 0 => format!("{}h", secs / 3600),
        3600..172800 => format!("{}h{m:02}m", secs / 3600),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d{h}h"),
    }
}

/// A job's backups on its host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobListing {
    pub job: String,
    pub host: String,
    pub directory: String,
    pub directory_exists: bool,
    /// The host's clock when listed.
    pub checked_at: DateTime<Utc>,
    /// Every backup and safety backup, newest first.
    pub files: Vec<BackupFile>,
    pub rpo: RpoStatus,
    /// The latest failed run, when it is newer than the newest backup.
    pub last_failure: Option<BackupRecord>,
}

impl JobListing {
    /// The job's backups (not safety backups), newest first.
    pub fn backups(&self) -> impl Iterator<Item = &BackupFile> {
        self.files.iter().filter(|f| !f.safety)
    }

    /// Safety backups, newest first.
    pub fn safety_backups(&self) -> impl Iterator<Item = &BackupFile> {
        self.files.iter().filter(|f| f.safety)
    }

    pub fn newest(&self) -> Option<&BackupFile> {
        self.backups().next()
    }

    pub fn file(&self, name: &str) -> Option<&BackupFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// The listing command of a job.
pub(crate) fn list_command(job: &BackupJob) -> String {
    let script = "date +%s\ncd -- \"$1\" 2>/dev/null || { echo NODIR; exit 0; }\necho FILES\n\
                  find . -maxdepth 1 -type f \\( -name \"$2\" -o -name \"$3\" \\) ! -name '.*' -printf '%s\\t%T@\\t%f\\0'\n\
                  printf '\\nINDEX\\n'\ncat -- \"$4\" 2>/dev/null\nexit 0";
    format!(
        "sh -c {} fleetdeck {} {} {} {}",
        sh_quote(script),
        sh_quote(&job.directory),
        sh_quote(&naming::glob(job)),
        sh_quote(&naming::safety_glob(job)),
        INDEX_FILE
    )
}

/// List the job's backups on its host (one exec).
pub async fn list_job(session: &SshSession, job: &BackupJob) -> Result<JobListing, BackupError> {
    let out = session
        .exec(&list_command(job))
        .await
        .map_err(|e| BackupError::Ssh(format!("{}: cannot list backups: {e}", session.addr)))?;
    if !out.success() {
        return Err(BackupError::Failed(format!(
            "listing {} on {} failed: {}",
            job.directory,
            job.host,
            out.stderr_str().trim()
        )));
    }
    parse_listing(job, &out.stdout)
}

/// Parse the output of [`list_command`].
pub fn parse_listing(job: &BackupJob, out: &[u8]) -> Result<JobListing, BackupError> {
    let bad = |what: &str| BackupError::Failed(format!("unexpected listing output from {}: {what}", job.host));
    let nl = out.iter().position(|&b| b == b'\n').ok_or_else(|| bad("no clock"))?;
    let now_secs: i64 = String::from_utf8_lossy(&out[..nl]).trim().parse().map_err(|_| bad("clock"))?;
    let now = DateTime::from_timestamp(now_secs, 0).ok_or_else(|| bad("clock"))?;
    let mut rest = &out[nl + 1..];
    let mut listing = JobListing {
        job: job.name.clone(),
        host: job.host.clone(),
        directory: job.directory.clone(),
        directory_exists: false,
        checked_at: now,
        files: vec![],
        rpo: RpoStatus::NotSet,
        last_failure: None,
    };
    let mut index_text = String::new();
    if let Some(r) = rest.strip_prefix(b"FILES\n") {
        listing.directory_exists = true;
        rest = r;
        // Records start with a digit (the size); the index marker starts with a newline.
        while !rest.is_empty() && !rest.starts_with(b"\nINDEX\n") {
            let end = rest.iter().position(|&b| b == 0).ok_or_else(|| bad("unterminated file record"))?;
            let rec = &rest[..end];
            rest = &rest[end + 1..];
            let mut parts = rec.splitn(3, |&b| b == b'\t');
            let (Some(size), Some(mtime), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("file record"));
            };
            let size: u64 = String::from_utf8_lossy(size).parse().map_err(|_| bad("size"))?;
            let mtime: f64 = String::from_utf8_lossy(mtime).parse().map_err(|_| bad("mtime"))?;
            let modified = DateTime::from_timestamp(mtime.floor() as i64, ((mtime.fract()) * 1e9) as u32)
                .ok_or_else(|| bad("mtime"))?;
            let name = String::from_utf8_lossy(name).into_owned();
            listing.files.push(BackupFile {
                path: naming::path(job, &name),
                safety: naming::is_safety(job, &name),
                size,
                modified,
                age_secs: (now - modified).num_seconds().max(0) as u64,
                sha256: None,
                verified: None,
                verified_at: None,
                verify_error: None,
                release: None,
                duration_ms: None,
                who: None,
                record: None,
                name,
            });
        }
        if let Some(idx) = rest.strip_prefix(b"\nINDEX\n") {
            index_text = String::from_utf8_lossy(idx).into_owned();
        }
    }
    let (records, failures) = parse_index(&index_text, &job.name);
    for f in &mut listing.files {
        if let Some(r) = records.get(&f.name) {
            f.sha256 = r.sha256.clone();
            f.verified = r.verified;
            f.verified_at = r.verified_at;
            f.verify_error = r.verify_error.clone();
            f.release = r.release.clone();
            f.duration_ms = Some(r.duration_ms);
            f.who = Some(r.who.clone());
            f.safety |= r.kind == RecordKind::Safety;
            f.record = Some(r.clone());
        }
    }
    listing.files.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.name.cmp(&a.name)));
    let newest = listing.newest().map(|f| (f.age_secs, f.modified));
    listing.rpo = match job.rpo {
        None => RpoStatus::NotSet,
        Some(rpo) => {
            let rpo_secs = rpo.as_secs();
            match newest {
                Some((age, _)) if age <= rpo_secs => RpoStatus::Met { age_secs: age, rpo_secs },
                Some((age, _)) => RpoStatus::Breached { age_secs: Some(age), rpo_secs },
                None => RpoStatus::Breached { age_secs: None, rpo_secs },
            }
        }
    };
    listing.last_failure = failures
        .into_iter()
        .filter(|r| r.kind == RecordKind::Backup && newest.is_none_or(|(_, m)| r.started_at > m))
        .max_by_key(|r| r.started_at);
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::naming::test_job;
    use std::time::Duration;

    #[test]
    fn parses_files_ages_records_and_the_rpo() {
        let mut job = test_job("db", "db-{timestamp}.dump");
        job.rpo = Some(Duration::from_secs(3600));
        let rec = BackupRecord {
            job: "db".into(),
            host: "db-1".into(),
            file: "db-2.dump".into(),
            path: "/var/backups/db-2.dump".into(),
            kind: RecordKind::Backup,
            started_at: DateTime::from_timestamp(1000, 0).unwrap(),
            duration_ms: 42,
            size: Some(10),
            sha256: Some("abc".into()),
            verified: Some(true),
            verified_at: None,
            verify_error: None,
            release: Some("r1".into()),
            who: "me".into(),
            error: None,
        };
        let mut out = b"10000\nFILES\n".to_vec();
        out.extend_from_slice(b"10\t5000.5\tdb-2.dump\0");
        out.extend_from_slice(b"7\t9000.0\tdb-\ttab\nnewline.dump\0");
        out.extend_from_slice(b"9\t9500.0\tsafety-T-db.dump\0");
        out.extend_from_slice(b"\nINDEX\n");
        out.extend_from_slice(serde_json::to_string(&rec).unwrap().as_bytes());
        let l = parse_listing(&job, &out).unwrap();
        let names: Vec<&str> = l.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["safety-T-db.dump", "db-\ttab\nnewline.dump", "db-2.dump"]);
        assert!(l.files[0].safety);
        assert_eq!(l.newest().unwrap().age_secs, 1000);
        assert_eq!(l.rpo, RpoStatus::Met { age_secs: 1000, rpo_secs: 3600 });
        let old = l.file("db-2.dump").unwrap();
        assert_eq!((old.age_secs, old.verified, old.release.as_deref()), (4999, Some(true), Some("r1")));

        job.rpo = Some(Duration::from_secs(600));
        assert!(parse_listing(&job, &out).unwrap().rpo.breached());
        let empty = parse_listing(&job, b"10000\nNODIR\n").unwrap();
        assert!(!empty.directory_exists);
        assert_eq!(empty.rpo, RpoStatus::Breached { age_secs: None, rpo_secs: 600 });
    }
}
