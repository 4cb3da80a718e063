//! Retention: which files are past it (`plan_prune`, a preview computed from a listing) and
//! deleting exactly those (`prune` takes the plan, so what was shown is what is deleted).
//!
//! Backups and safety backups are pruned separately by the same rules: a file goes when it
//! is beyond the newest `keep_count` files AND older than `keep_days` (an unset rule holds
//! nothing back); with neither rule set nothing goes; the newest file of each kind stays.

use super::listing::{BackupFile, JobListing};
use super::record::BackupRecord;
use super::{naming, remote, step, BackupContext, BackupError, BackupEvent, BackupJob, Retention, INDEX_FILE};
use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use serde::Serialize;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneItem {
    pub file: BackupFile,
    /// Why it is past retention.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunePlan {
    pub job: String,
    pub host: String,
    pub directory: String,
    pub retention: Retention,
    /// Exactly the files `prune` deletes, oldest last.
    pub delete: Vec<PruneItem>,
    /// The files that stay.
    pub keep: Vec<String>,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub job: String,
    pub deleted: Vec<String>,
    /// (file, why) of files that could not be deleted.
    pub failed: Vec<(String, String)>,
    pub freed_bytes: u64,
}

/// The files of `listing` past the job's retention.
pub fn plan_prune(job: &BackupJob, listing: &JobListing) -> PrunePlan {
    let r = job.retention;
    let mut plan = PrunePlan {
        job: job.name.clone(),
        host: job.host.clone(),
        directory: job.directory.clone(),
        retention: r,
        delete: vec![],
        keep: vec![],
        bytes: 0,
    };
    for safety in [false, true] {
        // listing.files is newest first
        for (i, f) in listing.files.iter().filter(|f| f.safety == safety).enumerate() {
            let beyond_count = r.keep_count.is_none_or(|n| i >= n as usize);
            let too_old = r.keep_days.is_none_or(|d| f.age_secs > u64::from(d) * 86400);
            let any_rule = r.keep_count.is_some() || r.keep_days.is_some();
            if any_rule && i > 0 && beyond_count && too_old {
                let mut why = Vec::new();
                if let Some(n) = r.keep_count {
                    why.push(format!("beyond the newest {n}"));
                }
                if let Some(d) = r.keep_days {
                    why.push(format!("older than {d} days ({} days)", f.age_secs / 86400));
                }
                plan.bytes += f.size;
                plan.delete.push(PruneItem { file: f.clone(), reason: why.join(" and ") });
            } else {
                plan.keep.push(f.name.clone());
            }
        }
    }
    plan
}

/// Delete exactly the files of `plan` (and their records), nothing else.
pub async fn prune(
    session: &SshSession,
    job: &BackupJob,
    plan: &PrunePlan,
    ctx: &BackupContext,
    events: &mpsc::Sender<BackupEvent>,
) -> Result<PruneReport, BackupError> {
    let mut report = PruneReport { job: job.name.clone(), deleted: vec![], failed: vec![], freed_bytes: 0 };
    if plan.delete.is_empty() {
        step(events, format!("{}: nothing is past retention", job.name)).await;
        return Ok(report);
    }
    let target = format!("{} on {}", job.name, job.host);
    let names: Vec<&str> = plan.delete.iter().map(|d| d.file.name.as_str()).collect();
    ctx.audit("prune", &target, "begin", None, Some(&names.join(", ")))
        .map_err(|e| BackupError::Refused(format!("the audit log cannot be written: {e}")))?;
    step(events, format!("deleting {} files of {} on {}", names.len(), job.name, job.host)).await;
    // Names are arguments (data); each result is NUL-terminated (names may hold newlines).
    let script = "cd -- \"$1\" || exit 111\nshift\nfor f in \"$@\"; do\n\
                  if [ ! -f \"$f\" ]; then printf 'G%s\\0' \"$f\"; elif rm -f -- \"$f\" 2>/dev/null && [ ! -e \"$f\" ]; \
                  then printf 'D%s\\0' \"$f\"; else printf 'F%s\\0' \"$f\"; fi\ndone";
    let args: Vec<String> = names.iter().map(|n| sh_quote(n)).collect();
    let cmd = format!("sh -c {} fleetdeck {} {}", sh_quote(script), sh_quote(&job.directory), args.join(" "));
    let out = remote::exec_ok(session, &cmd, &format!("cannot delete in {}", job.directory)).await?;
    for item in out.split('\0').filter(|s| !s.is_empty()) {
        let (tag, name) = item.split_at(1);
        let size = plan.delete.iter().find(|d| d.file.name == name).map(|d| d.file.size).unwrap_or(0);
        match tag {
            "D" => {
                report.freed_bytes += size;
                report.deleted.push(name.to_string());
                super::emit(events, BackupEvent::Output { line: format!("deleted {name}"), stderr: false }).await;
            }
            "G" => report.failed.push((name.to_string(), "already gone".into())),
            _ => report.failed.push((name.to_string(), "could not be deleted".into())),
        }
    }
    // Drop the deleted files' records from the index (a grep on each record's key prefix).
    if !report.deleted.is_empty() {
        let patterns: Vec<String> = report
            .deleted
            .iter()
            .map(|f| format!("-e {}", sh_quote(&BackupRecord::key_prefix(&job.name, &job.host, f))))
            .collect();
        let index = naming::index_path(job);
        let tmp = naming::path(job, &format!("{INDEX_FILE}.tmp"));
        let cmd = format!(
            "[ -f {i} ] || exit 0; grep -v -F {} {i} > {t}; [ $? -le 1 ] && mv -f -- {t} {i}",
            patterns.join(" "),
            i = sh_quote(&index),
            t = sh_quote(&tmp)
        );
        if let Err(e) = remote::exec_ok(session, &cmd, "cannot compact the backup index").await {
            step(events, format!("warning: {e}")).await;
        }
    }
    let outcome = if report.failed.is_empty() { "ok" } else { "partial" };
    let detail = format!("deleted {}; failed {}", report.deleted.join(", "), report.failed.len());
    if let Err(e) = ctx.audit("prune", &target, "end", Some(outcome), Some(&detail)) {
        step(events, format!("warning: {e}")).await;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::listing::parse_listing;
    use crate::backup::naming::test_job;

    #[test]
    fn retention_keeps_the_newest_and_deletes_only_what_both_rules_allow() {
        let day = 86400u64;
        let now = 100 * day;
        let mut out = format!("{now}\nFILES\n").into_bytes();
        for age in [1, 2, 5, 9, 20, 40] {
            out.extend(format!("1\t{}\tdb-{age}.gz\0", now - age * day).bytes());
        }
        out.extend(format!("1\t{}\tsafety-x-db.gz\0", now - 50 * day).bytes());
        out.extend(b"\nINDEX\n");
        let mut job = test_job("db", "db-{timestamp}.gz");
        let names = |p: &PrunePlan| p.delete.iter().map(|d| d.file.name.clone()).collect::<Vec<_>>();
        let listing = |job: &BackupJob| parse_listing(job, &out).unwrap();

        assert!(plan_prune(&job, &listing(&job)).delete.is_empty(), "no rule: nothing goes");
        job.retention = Retention { keep_days: Some(7), keep_count: None };
        assert_eq!(names(&plan_prune(&job, &listing(&job))), ["db-9.gz", "db-20.gz", "db-40.gz"]);
        job.retention = Retention { keep_days: None, keep_count: Some(2) };
        assert_eq!(names(&plan_prune(&job, &listing(&job))), ["db-5.gz", "db-9.gz", "db-20.gz", "db-40.gz"]);
        job.retention = Retention { keep_days: Some(7), keep_count: Some(5) };
        let p = plan_prune(&job, &listing(&job));
        assert_eq!(names(&p), ["db-40.gz"]);
        assert_eq!(p.keep.len(), 6, "the only safety backup is the newest of its kind: {:?}", p.keep);
        job.retention = Retention { keep_days: Some(1), keep_count: None };
        // even when every file is old, the newest stays
        let mut old = format!("{now}\nFILES\n").into_bytes();
        old.extend(format!("1\t{}\tdb-a.gz\0", now - 30 * day).bytes());
        assert!(plan_prune(&job, &parse_listing(&job, &old).unwrap()).delete.is_empty());
    }
}
