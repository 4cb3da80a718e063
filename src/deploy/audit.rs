//! The local audit log: one JSON line per mutating action, written before it starts and
//! after it ends, in `$FLEETDECK_AUDIT_LOG` or `$XDG_STATE_HOME/fleetdeck/audit.jsonl`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub who: &'a str,
    pub profile: &'a str,
    /// deploy | rollback | lock-break | restore | backup | prune ...
    pub action: &'a str,
    pub target: &'a str,
    /// begin | end
    pub phase: &'a str,
    pub outcome: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub fn audit_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FLEETDECK_AUDIT_LOG") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("fleetdeck").join("audit.jsonl")
}

/// Append an entry; a failure to write the audit log is reported, never ignored.
pub fn write(entry: &AuditEntry) -> Result<(), String> {
    let path = audit_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let line = serde_json::to_string(entry).map_err(|e| e.to_string())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| format!("cannot write the audit log {}: {e}", path.display()))
}
