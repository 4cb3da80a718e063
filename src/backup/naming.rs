//! Names of backup files: the job's `file_name` pattern with a timestamp, the glob that finds
//! them, and safety backups (`safety-<timestamp>-<job><ext>`, taken before a restore).

use super::BackupJob;
use chrono::{DateTime, Utc};

/// `20261130T041700Z`
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Split a pattern into literal text and placeholders, expanding `{job}` and `{timestamp}`
/// with `job` and `ts` in one pass (a job name holding "{timestamp}" stays as it is).
fn expand(pattern: &str, job: &str, ts: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{job}") {
            out.push_str(job);
            rest = t;
        } else if let Some(t) = tail.strip_prefix("{timestamp}") {
            out.push_str(ts);
            rest = t;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Escape glob characters for `find -name`.
pub fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The file name of the job's backup taken at `ts`.
pub fn file_name(job: &BackupJob, ts: &str) -> String {
    expand(&job.file_name, &job.name, ts)
}

/// The `find -name` glob matching the job's backups.
pub fn glob(job: &BackupJob) -> String {
    let (before, after) = job.file_name.split_once("{timestamp}").unwrap_or((&job.file_name, ""));
    format!("{}*{}", glob_escape(&expand(before, &job.name, "")), glob_escape(&expand(after, &job.name, "")))
}

/// The extension of the job's files: what follows `{timestamp}` from its first `.`
/// (`.sql.gz` for `shop-{timestamp}.sql.gz`), or nothing.
pub fn extension(job: &BackupJob) -> String {
    let after = job.file_name.split_once("{timestamp}").map(|(_, a)| a).unwrap_or("");
    let after = expand(after, &job.name, "");
    after.find('.').map(|i| after[i..].to_string()).unwrap_or_default()
}

/// `safety-<ts>-<job><ext>`
pub fn safety_name(job: &BackupJob, ts: &str) -> String {
    format!("safety-{ts}-{}{}", job.name, extension(job))
}

/// The `find -name` glob matching the job's safety backups.
pub fn safety_glob(job: &BackupJob) -> String {
    format!("safety-*-{}{}", glob_escape(&job.name), glob_escape(&extension(job)))
}

/// Whether `name` is one of the job's safety backups.
pub fn is_safety(job: &BackupJob, name: &str) -> bool {
    let suffix = format!("-{}{}", job.name, extension(job));
    name.starts_with("safety-") && name.ends_with(&suffix) && name.len() > "safety-".len() + suffix.len()
}

/// Absolute path of a file in the job's directory.
pub fn path(job: &BackupJob, name: &str) -> String {
    format!("{}/{name}", job.directory.trim_end_matches('/'))
}

/// Where a backup is written until it is complete (a hidden name, never listed).
pub fn partial_path(job: &BackupJob, name: &str) -> String {
    path(job, &format!(".{name}.partial"))
}

/// Path of the job's records index.
pub fn index_path(job: &BackupJob) -> String {
    path(job, super::INDEX_FILE)
}

#[cfg(test)]
pub(crate) fn test_job(name: &str, pattern: &str) -> BackupJob {
    BackupJob {
        name: name.into(),
        host: "db-1".into(),
        directory: "/var/backups".into(),
        file_name: pattern.into(),
        backup: "b > {file}".into(),
        verify: None,
        restore: "r < {file}".into(),
        rpo: None,
        retention: Default::default(),
        stop_service: None,
        docker_socket: "/var/run/docker.sock".into(),
        before_deploy: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_globs_and_safety_files() {
        let j = test_job("shop*db", "{job}-{timestamp}.sql.gz");
        assert_eq!(file_name(&j, "20261130T041700Z"), "shop*db-20261130T041700Z.sql.gz");
        assert_eq!(glob(&j), "shop\\*db-*.sql.gz");
        assert_eq!(extension(&j), ".sql.gz");
        assert_eq!(safety_name(&j, "T1"), "safety-T1-shop*db.sql.gz");
        assert_eq!(safety_glob(&j), "safety-*-shop\\*db.sql.gz");
        assert!(is_safety(&j, "safety-T1-shop*db.sql.gz"));
        assert!(!is_safety(&j, "shop*db-T1.sql.gz"));
        assert_eq!(partial_path(&j, "a.gz"), "/var/backups/.a.gz.partial");
        let odd = test_job("{timestamp}", "{job}{timestamp}");
        assert_eq!(file_name(&odd, "T"), "{timestamp}T");
        assert_eq!(extension(&odd), "");
    }
}
