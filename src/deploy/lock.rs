//! The deploy lock of a service: an atomic `mkdir` of `<state_dir>/locks/<service>.lock` on
//! every host of the service (in a fixed order), with the holder written inside so others
//! can see who holds it, since when and why. Breaking a lock is explicit and audited.

use crate::ssh::quote::sh_quote;
use crate::ssh::SshSession;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    /// Unique per acquisition (the release id).
    pub id: String,
    pub who: String,
    pub since: DateTime<Utc>,
    pub message: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} since {} ({})", self.who, self.since.format("%Y-%m-%d %H:%M:%S UTC"), self.id)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

fn lock_dir(state_dir: &str, service: &str) -> String {
    format!("{}/locks/{}.lock", state_dir.trim_end_matches('/'), service)
}

#[derive(Debug, Clone, PartialEq)]
pub enum LockResult {
    Acquired,
    /// Someone else holds it (None: the holder file could not be read).
    Held(Option<Holder>),
}

/// Try to take the lock on one host.
pub async fn try_acquire(
    session: &SshSession,
    state_dir: &str,
    service: &str,
    me: &Holder,
) -> Result<LockResult, String> {
    let dir = lock_dir(state_dir, service);
    let parent = format!("{}/locks", state_dir.trim_end_matches('/'));
    let json = serde_json::to_string(me).map_err(|e| e.to_string())?;
    let (d, h) = (sh_quote(&dir), sh_quote(&format!("{dir}/holder.json")));
    let cmd = format!(
        "mkdir -p {p} && if mkdir {d} 2>/dev/null; then printf '%s' {j} > {h} && echo ACQUIRED; else echo HELD; cat {h} 2>/dev/null; fi",
        p = sh_quote(&parent),
        j = sh_quote(&json),
    );
    let out = session.exec(&cmd).await.map_err(|e| format!("{}: {e}", session.addr))?;
    let text = out.stdout_str();
    let mut lines = text.lines();
    match lines.next() {
        Some("ACQUIRED") => Ok(LockResult::Acquired),
        Some("HELD") => {
            let holder: Option<Holder> = serde_json::from_str(lines.collect::<Vec<_>>().join("\n").trim()).ok();
            // Our own earlier acquisition (a retry after a dropped connection) counts as ours.
            if holder.as_ref().is_some_and(|h| h.id == me.id) {
                Ok(LockResult::Acquired)
            } else {
                Ok(LockResult::Held(holder))
            }
        }
        _ => Err(format!("{}: cannot take the deploy lock {dir}: {}", session.addr, out.stderr_str().trim())),
    }
}

/// Who holds the lock on this host, if anyone.
pub async fn status(session: &SshSession, state_dir: &str, service: &str) -> Result<Option<Holder>, String> {
    let dir = lock_dir(state_dir, service);
    let cmd = format!("test -d {d} && (cat {d}/holder.json 2>/dev/null; echo) || echo FREE", d = sh_quote(&dir));
    let out = session.exec(&cmd).await.map_err(|e| e.to_string())?;
    let text = out.stdout_str();
    if text.trim() == "FREE" {
        return Ok(None);
    }
    Ok(Some(serde_json::from_str(text.trim()).unwrap_or(Holder {
        id: "?".into(),
        who: "unknown (holder file unreadable)".into(),
        since: Utc::now(),
        message: None,
    })))
}

/// Release the lock if `holder_id` holds it (None: break it whoever holds it).
pub async fn release(
    session: &SshSession,
    state_dir: &str,
    service: &str,
    holder_id: Option<&str>,
) -> Result<bool, String> {
    let dir = lock_dir(state_dir, service);
    let d = sh_quote(&dir);
    let cmd = match holder_id {
        Some(id) => format!(
            "grep -qF {} {d}/holder.json 2>/dev/null && rm -rf {d} && echo RELEASED || echo NOT-OURS",
            sh_quote(&format!("\"id\":\"{id}\""))
        ),
        None => format!("test -d {d} && rm -rf {d} && echo RELEASED || echo NOT-OURS"),
    };
    let out = session.exec(&cmd).await.map_err(|e| e.to_string())?;
    Ok(out.stdout_str().trim() == "RELEASED")
}
