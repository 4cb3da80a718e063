//! The release journal: one JSON line per release event in `<state_dir>/releases/<service>.jsonl`
//! on every host of the service, so every operator sees the same history. A release is
//! written when it starts and again when it ends; readers merge by id (the last record of a
//! release wins) across hosts.

use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    Deploy,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    InProgress,
    Succeeded,
    /// A gate failed and every moved replica went back to the previous release.
    FailedRolledBack,
    /// Stopped by the operator; replicas went back to the previous release.
    Aborted,
    /// Failed, and going back failed too: needs a person.
    Failed,
}

impl ReleaseState {
    pub fn label(self) -> &'static str {
        match self {
            ReleaseState::InProgress => "in progress",
            ReleaseState::Succeeded => "succeeded",
            ReleaseState::FailedRolledBack => "failed, rolled back",
            ReleaseState::Aborted => "aborted, rolled back",
            ReleaseState::Failed => "FAILED",
        }
    }
}

/// What happened to one replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaOutcome {
    pub host: String,
    pub container: String,
    pub from_id: String,
    pub to_id: Option<String>,
    /// healthy | failed: … | rolled back | not started
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: String,
    pub service: String,
    pub kind: ReleaseKind,
    /// Image reference before (the most common one among replicas).
    pub from_image: String,
    pub from_digest: Option<String>,
    pub to_image: String,
    pub to_digest: Option<String>,
    /// local user@host
    pub who: String,
    pub message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub state: ReleaseState,
    pub replicas: Vec<ReplicaOutcome>,
    /// Why it failed, in a sentence.
    pub reason: Option<String>,
    /// Backups taken before the deploy (job and file), when a pre-deploy step made one.
    #[serde(default)]
    pub backups: Vec<String>,
}

/// `r20261130T041700Z-3fa2`
pub fn new_release_id(now: DateTime<Utc>) -> String {
    let mut buf = [0u8; 2];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut buf);
    }
    format!("r{}-{:02x}{:02x}", now.format("%Y%m%dT%H%M%S%.3fZ").to_string().replace('.', ""), buf[0], buf[1])
}

/// `local-user@local-host`
pub fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

fn journal_path(state_dir: &str, service: &str) -> String {
    format!("{}/releases/{}.jsonl", state_dir.trim_end_matches('/'), service)
}

/// Append a release record on one host.
pub async fn append(session: &SshSession, state_dir: &str, release: &Release) -> Result<(), String> {
    let path = journal_path(state_dir, &release.service);
    let dir = format!("{}/releases", state_dir.trim_end_matches('/'));
    let json = serde_json::to_string(release).map_err(|e| e.to_string())?;
    let cmd = format!("mkdir -p {} && printf '%s\\n' {} >> {}", sh_quote(&dir), sh_quote(&json), sh_quote(&path));
    let out = session.exec(&cmd).await.map_err(|e| format!("{}: {e}", session.addr))?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("{}: cannot write the release journal {path}: {}", session.addr, out.stderr_str().trim()))
    }
}

/// Read one host's journal records (oldest first).
pub async fn read(session: &SshSession, state_dir: &str, service: &str) -> Result<Vec<Release>, String> {
    let path = journal_path(state_dir, service);
    let out = session.exec(&format!("cat {} 2>/dev/null || true", sh_quote(&path))).await.map_err(|e| e.to_string())?;
    Ok(parse(&out.stdout_str()))
}

pub fn parse(text: &str) -> Vec<Release> {
    text.lines().filter_map(|l| serde_json::from_str::<Release>(l).ok()).collect()
}

/// Merge records from several hosts: one entry per release id, the most complete record
/// (ended beats in progress), ordered by start time, newest last.
pub fn merge(records: impl IntoIterator<Item = Release>) -> Vec<Release> {
    let mut by_id: BTreeMap<String, Release> = BTreeMap::new();
    for r in records {
        match by_id.get(&r.id) {
            Some(existing) if existing.ended_at.is_some() && r.ended_at.is_none() => {}
            _ => {
                by_id.insert(r.id.clone(), r);
            }
        }
    }
    let mut out: Vec<Release> = by_id.into_values().collect();
    out.sort_by_key(|r| r.started_at);
    out
}

/// The newest release that ended healthy, before the given index (exclusive) if any.
pub fn last_healthy(releases: &[Release], before: Option<usize>) -> Option<&Release> {
    let end = before.unwrap_or(releases.len());
    releases[..end.min(releases.len())].iter().rev().find(|r| r.state == ReleaseState::Succeeded)
}

/// The release `prefix` names: its id or a prefix of it that no other release shares.
pub fn find_release<'a>(releases: &'a [Release], service: &str, prefix: &str) -> Result<&'a Release, String> {
    let found: Vec<&Release> = releases.iter().filter(|r| r.id.starts_with(prefix)).collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no release {prefix:?} of {service} (see fleetdeck releases)")),
        _ => Err(format!("{prefix:?} names {} releases; give more of the id", found.len())),
    }
}

/// The release that brought `current`: the newest that ended healthy on it coming from another
/// image. Going back to its `from_image` undoes it.
pub fn brought<'a>(releases: &'a [Release], current: &str) -> Option<&'a Release> {
    releases.iter().rev().find(|r| {
        r.state == ReleaseState::Succeeded
            && r.to_image == current
            && !r.from_image.is_empty()
            && r.from_image != current
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(id: &str, state: ReleaseState, ended: bool, minute: u32) -> Release {
        let t = DateTime::parse_from_rfc3339(&format!("2026-11-30T04:{minute:02}:00Z")).unwrap().with_timezone(&Utc);
        Release {
            id: id.into(),
            service: "web".into(),
            kind: ReleaseKind::Deploy,
            from_image: "web:v1".into(),
            from_digest: None,
            to_image: "web:v2".into(),
            to_digest: None,
            who: "me@here".into(),
            message: None,
            started_at: t,
            ended_at: ended.then_some(t),
            state,
            replicas: vec![],
            reason: None,
            backups: vec![],
        }
    }

    #[test]
    fn merge_keeps_the_final_record_and_orders_by_start() {
        let merged = merge([
            rel("b", ReleaseState::InProgress, false, 5),
            rel("a", ReleaseState::InProgress, false, 1),
            rel("a", ReleaseState::Succeeded, true, 1),
            rel("b", ReleaseState::FailedRolledBack, true, 5),
            rel("a", ReleaseState::InProgress, false, 1), // another host's start record
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].id, "a");
        assert_eq!(merged[0].state, ReleaseState::Succeeded);
        assert_eq!(merged[1].state, ReleaseState::FailedRolledBack);
        assert_eq!(last_healthy(&merged, None).unwrap().id, "a");
        let json = serde_json::to_string(&merged[0]).unwrap();
        assert_eq!(parse(&format!("{json}\ngarbage\n")), vec![merged[0].clone()]);
    }

    #[test]
    fn finds_a_release_by_prefix_and_the_one_that_brought_an_image() {
        let mut a = rel("r1-aa", ReleaseState::Succeeded, true, 1);
        a.from_image = "web:v0".into();
        let b = rel("r1-ab", ReleaseState::FailedRolledBack, true, 2);
        let mut c = rel("r2-cc", ReleaseState::Succeeded, true, 3);
        c.to_image = "web:v3".into();
        let all = vec![a, b, c];
        assert_eq!(find_release(&all, "web", "r2").unwrap().id, "r2-cc");
        assert!(find_release(&all, "web", "r1").unwrap_err().contains("names 2 releases"));
        assert!(find_release(&all, "web", "r9").unwrap_err().contains("no release \"r9\" of web"));
        // v2 came with r1-aa (r1-ab failed): undoing it goes back to v0.
        assert_eq!(brought(&all, "web:v2").map(|r| (r.id.as_str(), r.from_image.as_str())), Some(("r1-aa", "web:v0")));
        assert_eq!(brought(&all, "web:v3").unwrap().id, "r2-cc");
        assert!(brought(&all, "web:v9").is_none());
    }

    #[test]
    fn release_ids_sort_by_time() {
        let a = new_release_id(DateTime::parse_from_rfc3339("2026-11-30T04:00:00Z").unwrap().with_timezone(&Utc));
        let b = new_release_id(DateTime::parse_from_rfc3339("2026-11-30T04:00:01Z").unwrap().with_timezone(&Utc));
        assert!(a < b, "{a} {b}");
        assert!(a.starts_with("r20261130T040000"), "{a}");
    }
}
