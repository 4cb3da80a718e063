//! The backup effects of the console, carried out by the backups engine: each one runs as a
//! task of its own on the job's host connection (the fleet worker's live SSH session) and
//! reports back as messages (`BackupListing`, `Backup` events, `BackupDone`).

use super::msg::{Effect, Msg};
use crate::backup::{self, human_size, BackupContext, BackupEvent, BackupJob, RestoreOptions, RestoreOutcome};
use crate::config::Profile;
use crate::fleet::worker::HostLink;
use crate::ssh::SshSession;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The hosts of the profile (name and live link), to find a job's host by name.
pub(super) type Links = Vec<(String, HostLink)>;

fn session(links: &Links, host: &str) -> Result<Arc<SshSession>, String> {
    let (_, link) =
        links.iter().find(|(name, _)| name == host).ok_or_else(|| format!("no host {host} in the profile"))?;
    link.current().map(|(s, _)| s).ok_or_else(|| format!("{host} is not connected"))
}

/// Start the work of a backup effect; returns false for other effects.
pub(super) fn start(effect: &Effect, profile: &Profile, links: &Links, tx: &mpsc::Sender<Msg>) -> bool {
    let ours = matches!(
        effect,
        Effect::LoadBackups(_)
            | Effect::BackupRun(_)
            | Effect::BackupVerify(..)
            | Effect::BackupRestore(_)
            | Effect::BackupPrune(_)
    );
    if !ours {
        return false;
    }
    let job = |name: &str| profile.backups.iter().find(|j| j.name == name).cloned();
    let ctx = BackupContext::new(&profile.name);
    match effect {
        Effect::LoadBackups(which) => {
            let jobs: Vec<BackupJob> =
                profile.backups.iter().filter(|j| which.as_ref().is_none_or(|w| *w == j.name)).cloned().collect();
            for j in jobs {
                let (tx, links) = (tx.clone(), links.clone());
                tokio::spawn(async move {
                    let result = match session(&links, &j.host) {
                        Ok(s) => backup::list_job(&s, &j).await.map(Box::new).map_err(|e| e.to_string()),
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::BackupListing { job: j.name.clone(), result }).await;
                });
            }
        }
        Effect::BackupRun(name) => {
            let Some(j) = job(name) else { return true };
            spawn_op(tx, links, j, move |s, j, events| async move {
                let rec = backup::run_job(&s, &j, &ctx, &events).await;
                match &rec.error {
                    None => {
                        (true, format!("backup {} taken: {}, verified", rec.file, human_size(rec.size.unwrap_or(0))))
                    }
                    Some(e) => (false, format!("backup FAILED: {e}")),
                }
            });
        }
        Effect::BackupVerify(name, file) => {
            let Some(j) = job(name) else { return true };
            let file = (**file).clone();
            spawn_op(tx, links, j, move |s, j, events| async move {
                match backup::verify_file(&s, &j, &file, &events).await {
                    Ok(o) if o.ok => (true, format!("{} verified: sound", o.file)),
                    Ok(o) => (false, format!("{} FAILED verification: {}", o.file, o.error.unwrap_or_default())),
                    Err(e) => (false, format!("verify failed: {e}")),
                }
            });
        }
        Effect::BackupRestore(plan) => {
            let Some(j) = job(&plan.job) else { return true };
            let plan = (**plan).clone();
            spawn_op(tx, links, j, move |s, j, events| async move {
                let opts = RestoreOptions::default();
                match backup::restore(&s, &j, &plan, &ctx, &opts, &events).await {
                    Ok(r) => {
                        let mut msg = match &r.safety_path {
                            Some(p) => format!("{}: {} (the state before it: {p})", r.file, r.outcome.label()),
                            None => format!("{}: {}", r.file, r.outcome.label()),
                        };
                        for e in [&r.error, &r.rollback_error, &r.restart_error].into_iter().flatten() {
                            msg.push_str(&format!(" — {e}"));
                        }
                        (r.outcome == RestoreOutcome::Restored && r.restart_error.is_none(), msg)
                    }
                    Err(e) => (false, format!("restore not done, nothing changed: {e}")),
                }
            });
        }
        Effect::BackupPrune(plan) => {
            let Some(j) = job(&plan.job) else { return true };
            let plan = (**plan).clone();
            spawn_op(tx, links, j, move |s, j, events| async move {
                match backup::prune(&s, &j, &plan, &ctx, &events).await {
                    Ok(r) if r.failed.is_empty() => {
                        (true, format!("deleted {} files, freed {}", r.deleted.len(), human_size(r.freed_bytes)))
                    }
                    Ok(r) => {
                        let failed: Vec<String> = r.failed.iter().map(|(f, why)| format!("{f}: {why}")).collect();
                        (false, format!("deleted {} files; NOT deleted: {}", r.deleted.len(), failed.join("; ")))
                    }
                    Err(e) => (false, format!("prune not done: {e}")),
                }
            });
        }
        _ => return false,
    }
    true
}

/// Run one operation on the job's host: its events are forwarded as they come, then its
/// outcome.
fn spawn_op<F, Fut>(tx: &mpsc::Sender<Msg>, links: &Links, job: BackupJob, op: F)
where
    F: FnOnce(Arc<SshSession>, BackupJob, mpsc::Sender<BackupEvent>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = (bool, String)> + Send,
{
    let (tx, links) = (tx.clone(), links.clone());
    tokio::spawn(async move {
        let s = match session(&links, &job.host) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Msg::BackupDone { ok: false, summary: format!("{}: {e}", job.name) }).await;
                return;
            }
        };
        let (ev_tx, mut ev_rx) = mpsc::channel(256);
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = ev_rx.recv().await {
                    let _ = tx.send(Msg::Backup(ev)).await;
                }
            })
        };
        let (ok, summary) = op(s, job, ev_tx).await;
        // every event arrives before the outcome
        let _ = forward.await;
        let _ = tx.send(Msg::BackupDone { ok, summary }).await;
    });
}
