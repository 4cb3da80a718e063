//! `[[backups]]`: backup jobs in the profile, and their validation.
//!
//! A job takes a backup on one host with a command, keeps the files in one directory under a
//! name with a timestamp, can verify and restore a file with commands, and says how old the
//! newest backup may get (RPO) and how long files are kept. Commands use the placeholders
//! `{file}`, `{directory}`, `{timestamp}` and `{job}`, replaced by shell-quoted values (see
//! `crate::backup::template`); unsafe uses are refused here, with the file, line and column.

use super::diag::ConfigError;
use super::duration::ConfigDuration;
use super::profile::{HostSpec, Service};
use crate::backup::template;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// Unique name of the job.
    pub name: Spanned<String>,
    /// Host (profile host name) the commands run on and the files live on.
    pub host: Spanned<String>,
    /// Absolute directory of the backup files (and of the job's index).
    pub directory: Spanned<String>,
    /// File name with `{timestamp}` (and optionally `{job}`), e.g. "shop-{timestamp}.dump".
    pub file_name: Spanned<String>,
    /// Writes a backup to `{file}`.
    pub backup: Spanned<String>,
    /// Checks the backup `{file}` (exit 0: good). Optional.
    pub verify: Option<Spanned<String>>,
    /// Restores the backup `{file}`.
    pub restore: Spanned<String>,
    /// Recovery point objective: the newest backup may not be older. Optional.
    pub rpo: Option<ConfigDuration>,
    /// Retention: files older than this many days are pruned (beyond `keep_count`).
    pub keep_days: Option<Spanned<u32>>,
    /// Retention: the newest this many files are always kept.
    pub keep_count: Option<Spanned<u32>>,
    /// A profile service whose containers on the host are stopped during a restore.
    pub stop_service: Option<Spanned<String>>,
    /// Services whose deploys take this backup first (a pre-deploy step).
    #[serde(default)]
    pub before_deploy: Vec<Spanned<String>>,
}

/// How long backup files are kept. A file is pruned when it is beyond the newest
/// `keep_count` files AND older than `keep_days` (an unset rule does not hold a file back);
/// with neither set nothing is pruned; the newest file is never pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub keep_days: Option<u32>,
    pub keep_count: Option<u32>,
}

/// A validated backup job.
#[derive(Debug, Clone)]
pub struct BackupJob {
    pub name: String,
    pub host: String,
    /// Absolute, without a trailing `/`.
    pub directory: String,
    pub file_name: String,
    pub backup: String,
    pub verify: Option<String>,
    pub restore: String,
    pub rpo: Option<Duration>,
    pub retention: Retention,
    /// The service stopped (its containers on `host`) around a restore.
    pub stop_service: Option<Service>,
    /// Docker socket of `host` (to stop and start `stop_service`).
    pub docker_socket: String,
    /// Services whose deploys run this job first.
    pub before_deploy: Vec<String>,
}

impl BackupJob {
    /// Whether a deploy of `service` takes this backup first.
    pub fn runs_before_deploy_of(&self, service: &str) -> bool {
        self.before_deploy.iter().any(|s| s == service)
    }
}

/// The jobs a deploy of `service` runs before it changes anything.
pub fn jobs_before_deploy<'a>(jobs: &'a [BackupJob], service: &'a str) -> impl Iterator<Item = &'a BackupJob> + 'a {
    jobs.iter().filter(move |j| j.runs_before_deploy_of(service))
}

/// Validate the `[[backups]]` tables; errors are appended to `errors`.
pub fn validate(
    path: &Path,
    source: &str,
    specs: Vec<BackupSpec>,
    hosts: &[HostSpec],
    services: &[Service],
    errors: &mut Vec<ConfigError>,
) -> Vec<BackupJob> {
    let err = |span: std::ops::Range<usize>, msg: String| ConfigError::at(path, source, Some(span), msg);
    let mut names = HashSet::new();
    let mut jobs = Vec::new();
    for b in specs {
        let name = b.name.get_ref().clone();
        if name.trim().is_empty() {
            errors.push(err(b.name.span(), "backup job name must not be empty".into()));
        } else if name.contains('/') || name.chars().any(char::is_control) {
            errors.push(err(
                b.name.span(),
                format!(
                    "backup job {name:?}: the name may not hold '/' or control characters (it is part of file names)"
                ),
            ));
        } else if !names.insert(name.clone()) {
            errors.push(err(b.name.span(), format!("duplicate backup job name {name:?}")));
        }
        let host = hosts.iter().find(|h| h.name.get_ref() == b.host.get_ref());
        if host.is_none() {
            let known: Vec<&str> = hosts.iter().map(|h| h.name.get_ref().as_str()).collect();
            errors.push(err(
                b.host.span(),
                format!("backup job {name:?} names unknown host {:?} (hosts: {})", b.host.get_ref(), known.join(", ")),
            ));
        }
        let dir = b.directory.get_ref();
        if !dir.starts_with('/') || dir.chars().any(char::is_control) {
            errors.push(err(
                b.directory.span(),
                format!("backup job {name:?}: directory {dir:?} must be an absolute path"),
            ));
        }
        let directory = if dir.len() > 1 { dir.trim_end_matches('/').to_string() } else { dir.clone() };

        let file_name = b.file_name.get_ref();
        for problem in check_file_name(file_name) {
            errors.push(err(b.file_name.span(), format!("backup job {name:?}: file_name {file_name:?}: {problem}")));
        }
        let mut command = |cmd: &Spanned<String>, what: &str| {
            for problem in template::check(cmd.get_ref(), &["file"]) {
                errors.push(err(cmd.span(), format!("backup job {name:?}: {what} command: {problem}")));
            }
            cmd.get_ref().clone()
        };
        let backup = command(&b.backup, "backup");
        let verify = b.verify.as_ref().map(|v| command(v, "verify"));
        let restore = command(&b.restore, "restore");

        for (v, what) in [(&b.keep_days, "keep_days"), (&b.keep_count, "keep_count")] {
            if let Some(v) = v.as_ref().filter(|v| *v.get_ref() == 0) {
                errors.push(err(v.span(), format!("backup job {name:?}: {what} must be at least 1")));
            }
        }
        let stop_service = match &b.stop_service {
            None => None,
            Some(s) => match services.iter().find(|svc| &svc.name == s.get_ref()) {
                None => {
                    errors.push(err(s.span(), format!("backup job {name:?}: unknown service {:?}", s.get_ref())));
                    None
                }
                Some(svc) => {
                    if svc.compose_project.is_none() && svc.compose_service.is_none() && svc.container_name.is_none() {
                        errors.push(err(
                            s.span(),
                            format!("backup job {name:?}: service {:?} has no containers to stop (it sets no compose_project, compose_service or container_name)", svc.name),
                        ));
                    } else if !svc.runs_on(b.host.get_ref()) {
                        errors.push(err(
                            s.span(),
                            format!(
                                "backup job {name:?}: service {:?} does not run on host {:?}",
                                svc.name,
                                b.host.get_ref()
                            ),
                        ));
                    }
                    Some(svc.clone())
                }
            },
        };
        for s in &b.before_deploy {
            if !services.iter().any(|svc| &svc.name == s.get_ref()) {
                errors.push(err(
                    s.span(),
                    format!("backup job {name:?}: before_deploy names unknown service {:?}", s.get_ref()),
                ));
            }
        }
        jobs.push(BackupJob {
            name,
            host: b.host.get_ref().clone(),
            directory,
            file_name: file_name.clone(),
            backup,
            verify,
            restore,
            rpo: b.rpo.map(|d| d.0),
            retention: Retention {
                keep_days: b.keep_days.as_ref().map(|v| *v.get_ref()),
                keep_count: b.keep_count.as_ref().map(|v| *v.get_ref()),
            },
            stop_service,
            docker_socket: host.and_then(|h| h.docker_socket.clone()).unwrap_or_else(|| "/var/run/docker.sock".into()),
            before_deploy: b.before_deploy.iter().map(|s| s.get_ref().clone()).collect(),
        });
    }
    jobs
}

/// What is wrong with a `file_name` pattern (empty: nothing).
fn check_file_name(pattern: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if pattern.matches("{timestamp}").count() != 1 {
        problems.push("must hold {timestamp} exactly once".to_string());
    }
    let rest = pattern.replace("{timestamp}", "").replace("{job}", "");
    if rest.contains(['{', '}']) {
        problems.push("only {timestamp} and {job} may be used in a file name".into());
    }
    if pattern.contains('/') || pattern.chars().any(char::is_control) {
        problems.push("must be a plain file name (no '/', no control characters)".into());
    }
    if pattern.starts_with('.') || pattern.starts_with("safety-") {
        problems.push("may not start with '.' or 'safety-' (names fleetdeck keeps for itself)".into());
    }
    if rest.contains(['*', '?', '[']) {
        problems.push("may not hold the wildcard characters * ? [".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use crate::config::Profile;
    use std::path::Path;

    const BASE: &str = "name = \"p\"\n[[hosts]]\nname = \"db-1\"\naddress = \"10.0.0.1\"\n[[services]]\nname = \"web\"\ncompose_service = \"web\"\n";

    fn parse(backups: &str) -> Result<Profile, String> {
        Profile::parse(Path::new("p.toml"), &format!("{BASE}{backups}")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_job_parses() {
        let p = parse(
            "[[backups]]\nname = \"shop-db\"\nhost = \"db-1\"\ndirectory = \"/var/backups/shop/\"\nfile_name = \"{job}-{timestamp}.dump\"\nbackup = \"pg_dump -Fc shop > {file}\"\nverify = \"pg_restore --list {file} > /dev/null\"\nrestore = \"pg_restore --clean --if-exists -d shop {file}\"\nrpo = \"24h\"\nkeep_days = 14\nkeep_count = 7\nstop_service = \"web\"\nbefore_deploy = [\"web\"]\n",
        )
        .unwrap();
        let j = &p.backups[0];
        assert_eq!(j.directory, "/var/backups/shop");
        assert_eq!(j.rpo, Some(std::time::Duration::from_secs(86400)));
        assert_eq!((j.retention.keep_days, j.retention.keep_count), (Some(14), Some(7)));
        assert_eq!(j.stop_service.as_ref().unwrap().name, "web");
        assert_eq!(super::jobs_before_deploy(&p.backups, "web").count(), 1);
        assert_eq!(j.docker_socket, "/var/run/docker.sock");
    }

    #[test]
    fn errors_are_located_and_explained() {
        let e = parse(
            "[[backups]]\nname = \"a\"\nhost = \"db-9\"\ndirectory = \"rel\"\nfile_name = \"a.dump\"\nbackup = \"pg_dump > '{file}'\"\nrestore = \"psql < {fil}\"\nkeep_count = 0\nstop_service = \"nope\"\n",
        )
        .unwrap_err();
        for want in [
            "p.toml:10:8: backup job \"a\" names unknown host \"db-9\"",
            "p.toml:11:13: backup job \"a\": directory \"rel\" must be an absolute path",
            "p.toml:12:13: backup job \"a\": file_name \"a.dump\": must hold {timestamp} exactly once",
            "p.toml:13:10: backup job \"a\": backup command: placeholder {file} is inside '...'",
            "p.toml:14:11: backup job \"a\": restore command: unknown placeholder {fil}",
            "p.toml:15:14: backup job \"a\": keep_count must be at least 1",
            "p.toml:16:16: backup job \"a\": unknown service \"nope\"",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        let e = parse("[[backups]]\nname = \"a\"\nhost = \"db-1\"\n").unwrap_err();
        assert!(e.contains("missing field `directory`"), "{e}");
        let e = parse("[[backups]]\nname = \"a\"\nhost = \"db-1\"\ndirectory = \"/b\"\nfile_name = \"x{timestamp}\"\nbackup = \"b > {file}\"\nrestore = \"r < {file}\"\nbogus = 1\n").unwrap_err();
        assert!(e.contains("p.toml:15:1: unknown field `bogus`"), "{e}");
    }
}
