//! The deploy effects of the console, carried out by the deploy engine: images on a
//! service's hosts, whether it is a Swarm service, its release journal, a Swarm plan read
//! through the manager, and running the wizard's plan (fleetdeck's own runner or the Swarm
//! runner) with its progress forwarded as messages. Each is a task of its own.

use super::app::App;
use super::msg::{Effect, Msg};
use super::wizard::{Step, WizardPlan};
use crate::config::Profile;
use crate::deploy::runner::{Control, HostHandle, Runner};
use crate::deploy::target::{find_target, Target};
use crate::fleet::Fleet;
use tokio::sync::{mpsc, watch};

/// What the event loop keeps for deploys: the hosts (name, state dir) and the control of
/// the running deploy.
pub(super) struct Deploys {
    hosts: Vec<(String, String)>,
    control: Option<watch::Sender<Control>>,
}

/// The hosts a service runs on, as deploy handles.
fn host_handles(info: &[(String, String)], fleet: &Fleet, profile: &Profile, service: &str) -> Vec<HostHandle> {
    let svc = profile.services.iter().find(|s| s.name == service);
    info.iter()
        .enumerate()
        .filter(|(_, (name, _))| svc.is_some_and(|s| s.runs_on(name)))
        .map(|(i, (name, dir))| HostHandle {
            name: name.clone(),
            state_dir: dir.clone(),
            link: fleet.link(i).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Image references present on the hosts (newest first, no dangling images).
async fn list_images(hosts: &[HostHandle]) -> Vec<String> {
    let mut found: Vec<(i64, String)> = Vec::new();
    for h in hosts {
        let Some((_, docker)) = h.link.current() else { continue };
        if let Ok(images) = docker.list_images(None::<bollard::query_parameters::ListImagesOptions>).await {
            for img in images {
                for tag in img.repo_tags.iter().filter(|t| !t.contains("<none>")) {
                    if !found.iter().any(|(_, t)| t == tag) {
                        found.push((img.created, tag.clone()));
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    found.into_iter().map(|(_, t)| t).collect()
}

async fn load_releases(hosts: &[HostHandle], service: &str) -> Result<Vec<crate::deploy::journal::Release>, String> {
    let mut all = Vec::new();
    let mut read = 0;
    for h in hosts {
        let Some((s, _)) = h.link.current() else { continue };
        match crate::deploy::journal::read(&s, &h.state_dir, service).await {
            Ok(r) => {
                read += 1;
                all.extend(r);
            }
            Err(e) => log::warn!("{}: {e}", h.name),
        }
    }
    if read == 0 {
        return Err(format!("could not read the release journal of {service} on any host"));
    }
    Ok(crate::deploy::journal::merge(all))
}

/// Every host of the profile, as deploy handles.
fn all_handles(info: &[(String, String)], fleet: &Fleet) -> Vec<HostHandle> {
    info.iter()
        .enumerate()
        .map(|(i, (name, dir))| HostHandle {
            name: name.clone(),
            state_dir: dir.clone(),
            link: fleet.link(i).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Tell the app whether `service` is a Swarm service.
async fn send_target(tx: &mpsc::Sender<Msg>, profile: &Profile, hosts: &[HostHandle], service: &str) {
    let manager = match find_target(profile, hosts, service).await {
        Ok(Target::Swarm(t)) => Some(t.manager.name.clone()),
        Ok(Target::Containers) => None,
        Err(e) => {
            log::warn!("{service}: {e}");
            None
        }
    };
    let _ = tx.send(Msg::DeployTarget { service: service.to_string(), manager }).await;
}

impl Deploys {
    pub(super) fn new(hosts: Vec<(String, String)>) -> Deploys {
        Deploys { hosts, control: None }
    }

    /// Start the work of a deploy effect; returns false for other effects.
    pub(super) fn start(&mut self, effect: &Effect, app: &App, fleet: &Fleet, tx: &mpsc::Sender<Msg>) -> bool {
        let ours = matches!(
            effect,
            Effect::ListImages(_)
                | Effect::LoadReleases(_)
                | Effect::PlanSwarm { .. }
                | Effect::StartDeploy(_)
                | Effect::DeployControl(_)
        );
        if !ours {
            return false;
        }
        let profile = app.profile.clone();
        let tx = tx.clone();
        match effect {
            Effect::ListImages(service) => {
                let (all, service) = (all_handles(&self.hosts, fleet), service.clone());
                let handles = host_handles(&self.hosts, fleet, &profile, &service);
                tokio::spawn(async move {
                    // whether it is a Swarm service first: the wizard plans accordingly
                    send_target(&tx, &profile, &all, &service).await;
                    let _ = tx.send(Msg::DeployImages(list_images(&handles).await)).await;
                });
            }
            Effect::LoadReleases(service) => {
                let (all, service) = (all_handles(&self.hosts, fleet), service.clone());
                let handles = host_handles(&self.hosts, fleet, &profile, &service);
                tokio::spawn(async move {
                    send_target(&tx, &profile, &all, &service).await;
                    let _ = tx.send(Msg::Releases(load_releases(&handles, &service).await)).await;
                });
            }
            Effect::PlanSwarm { service, image, kind, message, release_id } => {
                let all = all_handles(&self.hosts, fleet);
                let state = app.fleet.clone();
                let (service, image, kind) = (service.clone(), image.clone(), *kind);
                let (message, id) = (message.clone(), release_id.clone());
                tokio::spawn(async move {
                    let plan = match find_target(&profile, &all, &service).await {
                        Ok(Target::Swarm(t)) => {
                            crate::deploy::swarm::plan_deploy(&profile, &state, &t, &service, &image, kind, id, message)
                                .await
                                .map(Box::new)
                        }
                        Ok(Target::Containers) => Err(format!("{service} is no longer a Swarm service: plan again")),
                        Err(e) => Err(e),
                    };
                    let _ = tx.send(Msg::SwarmPlanned(plan)).await;
                });
            }
            Effect::StartDeploy(id) => {
                let plan = match app.wizard.as_ref().map(|w| &w.step) {
                    Some(Step::Running { plan, .. }) if plan.release_id() == id => plan.clone(),
                    _ => return true,
                };
                let (control_tx, control) = watch::channel(Control::Run);
                self.control = Some(control_tx);
                let (ev_tx, mut ev_rx) = mpsc::channel(256);
                let forward = tx.clone();
                tokio::spawn(async move {
                    while let Some(ev) = ev_rx.recv().await {
                        let _ = forward.send(Msg::Deploy(ev)).await;
                    }
                });
                let (who, hosts) = (crate::deploy::journal::who(), all_handles(&self.hosts, fleet));
                tokio::spawn(async move {
                    let result = match plan {
                        WizardPlan::Containers(plan) => {
                            Runner { plan: *plan, hosts, events: ev_tx, control, who }.execute().await
                        }
                        WizardPlan::Swarm(plan) => plan.into_runner(ev_tx, control, who).execute().await,
                    };
                    if let Err(e) = result {
                        let _ = tx.send(Msg::DeployRefused(e.to_string())).await;
                    }
                });
            }
            Effect::DeployControl(c) => {
                if let Some(ctl) = &self.control {
                    let _ = ctl.send(*c);
                }
            }
            _ => return false,
        }
        true
    }
}
