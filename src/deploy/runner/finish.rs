//! The end of a release and the steps around replicas: hooks run on a host, the journal
//! written on every host of the service, the lock released, the audit entry and the final
//! event.

use super::{DeployEvent, Runner};
use crate::deploy::hooks::Vars;
use crate::deploy::journal::{self, Release};
use crate::deploy::lock;
use chrono::Utc;

impl Runner {
    pub(super) async fn run_hook(&self, host: &str, command: &str, vars: &Vars) -> Result<(), String> {
        let (session, _) = self.live(host).await?;
        let cmd = vars.render(command)?;
        let out = session.exec(&cmd).await.map_err(|e| e.to_string())?;
        if out.success() {
            Ok(())
        } else {
            Err(format!("`{command}` exited with {:?}: {}", out.status, out.stderr_str().trim()))
        }
    }

    pub(super) async fn record(&self, release: &Release) {
        for host in &self.plan.hosts {
            let Some(h) = self.host(host) else { continue };
            match self.live(host).await {
                Ok((s, _)) => {
                    if let Err(e) = journal::append(&s, &h.state_dir, release).await {
                        self.note(format!("journal: {e}")).await;
                    }
                }
                Err(e) => self.note(format!("journal on {host}: {e}")).await,
            }
        }
    }

    pub(super) async fn unlock(&self, hosts: &[String]) {
        for host in hosts {
            let Some(h) = self.host(host) else { continue };
            if let Ok((s, _)) = self.live(host).await {
                if let Err(e) = lock::release(&s, &h.state_dir, &self.plan.service, Some(&self.plan.release_id)).await {
                    self.note(format!("{host}: could not release the lock: {e}")).await;
                }
            }
        }
    }

    pub(super) async fn finish(&self, mut release: Release, locked: &[String]) -> Release {
        release.ended_at = Some(Utc::now());
        self.record(&release).await;
        self.unlock(locked).await;
        self.audit("end", Some(release.state.label()), release.reason.as_deref());
        self.note(format!("release {} {}", release.id, release.state.label())).await;
        let _ = self.events.send(DeployEvent::Finished(Box::new(release.clone()))).await;
        release
    }
}
