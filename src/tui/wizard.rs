//! The deploy wizard and the releases view: state and their part of `App::update`.
//! Pick an image → see the plan (typed confirmation on protected profiles) → watch each
//! replica go through the health gate, pause or abort → the outcome. Rollbacks go through
//! the same plan and progress screens.

use super::action::Action;
use super::app::{App, Effect, Screen};
use super::rows::Row;
use super::text::TextInput;
pub use super::wizard_plan::WizardPlan;
use crate::deploy::gate::GateFailure;
use crate::deploy::journal::{new_release_id, Release, ReleaseKind, ReleaseState};
use crate::deploy::plan::make_plan;
use crate::deploy::runner::{Control, DeployEvent, Phase};

pub enum Step {
    /// Images present on the service's hosts (newest first), or a typed reference.
    PickImage {
        choices: Vec<String>,
        selected: usize,
        typed: TextInput,
        loading: bool,
    },
    /// A Swarm service: the plan is being read from its manager.
    Planning,
    /// The plan; on protected profiles the service name must be typed.
    Plan {
        plan: WizardPlan,
        confirm: TextInput,
    },
    Running {
        plan: WizardPlan,
        paused: bool,
    },
    Done {
        plan: WizardPlan,
        release: Box<Release>,
    },
    Error(String),
}

pub struct Wizard {
    pub service: String,
    pub step: Step,
    /// Progress lines, oldest first.
    pub log: Vec<String>,
    pub replicas: Vec<(String, String, Phase)>,
    pub gate_failures: Vec<(String, String, GateFailure)>,
    pub scroll: usize,
    /// Whether the service is a Swarm service (`Some(manager)`), once known.
    pub swarm: Option<Option<String>>,
}

impl Wizard {
    fn new(service: &str, step: Step) -> Wizard {
        Wizard {
            service: service.to_string(),
            step,
            log: vec![],
            replicas: vec![],
            gate_failures: vec![],
            scroll: 0,
            swarm: None,
        }
    }

    /// Is the wizard waiting for typed text (image reference or confirmation)?
    pub fn typing(&self, protected: bool) -> bool {
        matches!(self.step, Step::PickImage { .. }) || (protected && matches!(self.step, Step::Plan { .. }))
    }

    pub fn text_mut(&mut self) -> Option<&mut TextInput> {
        match &mut self.step {
            Step::PickImage { typed, .. } => Some(typed),
            Step::Plan { confirm, .. } => Some(confirm),
            _ => None,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.step, Step::Running { .. })
    }
}

pub struct ReleasesView {
    pub service: String,
    /// Whether the service is a Swarm service (`Some(manager)`), once known.
    pub swarm: Option<Option<String>>,
    pub releases: Vec<Release>,
    pub selected: usize,
    pub loading: bool,
    pub error: Option<String>,
}

impl App {
    fn selected_service(&self, rows: &[Row]) -> Option<String> {
        match rows.get(self.selected)? {
            Row::Service(si) | Row::Replica(si, _) => {
                let s = &self.summaries[*si];
                s.configured.then(|| s.name.clone())
            }
        }
    }

    pub(super) fn open_deploy(&mut self, rows: &[Row]) -> Vec<Effect> {
        if self.wizard.as_ref().is_some_and(|w| w.is_running()) {
            self.screen = Screen::Deploy;
            return vec![];
        }
        let Some(service) = self.selected_service(rows) else {
            self.flash = Some("select a service of the profile to deploy".into());
            return vec![];
        };
        let step = Step::PickImage { choices: vec![], selected: 0, typed: TextInput::default(), loading: true };
        self.wizard = Some(Wizard::new(&service, step));
        self.screen = Screen::Deploy;
        vec![Effect::ListImages(service)]
    }

    pub(super) fn open_releases(&mut self, rows: &[Row]) -> Vec<Effect> {
        let Some(service) = self.selected_service(rows) else {
            self.flash = Some("select a service of the profile".into());
            return vec![];
        };
        self.releases = Some(ReleasesView {
            service: service.clone(),
            swarm: None,
            releases: vec![],
            selected: 0,
            loading: true,
            error: None,
        });
        self.screen = Screen::Releases;
        vec![Effect::LoadReleases(service)]
    }

    /// Build the plan of a container deploy from what is known now (pure: no I/O); a Swarm
    /// service's plan is read from its manager (`PlanSwarm`).
    fn plan_for(
        &self,
        service: &str,
        image: &str,
        kind: ReleaseKind,
        message: Option<String>,
        swarm: bool,
    ) -> (Step, Vec<Effect>) {
        let id = new_release_id(self.now);
        if swarm {
            let e = Effect::PlanSwarm { service: service.into(), image: image.into(), kind, message, release_id: id };
            return (Step::Planning, vec![e]);
        }
        match make_plan(&self.profile, &self.fleet, service, image, kind, id, message) {
            Ok(plan) => {
                (Step::Plan { plan: WizardPlan::Containers(Box::new(plan)), confirm: TextInput::default() }, vec![])
            }
            Err(e) => (Step::Error(e), vec![]),
        }
    }

    /// Whether `service` is a Swarm service (`Some(manager)`), as found by the event loop.
    pub(super) fn on_deploy_target(&mut self, service: String, manager: Option<String>) {
        if let Some(w) = self.wizard.as_mut().filter(|w| w.service == service) {
            if let Some(m) = &manager {
                w.log.push(format!("{service} is a Swarm service: the engine updates it, through the manager {m}"));
            }
            w.swarm = Some(manager.clone());
        }
        if let Some(v) = self.releases.as_mut().filter(|v| v.service == service) {
            v.swarm = Some(manager);
        }
    }

    /// The Swarm plan read from the manager (or why it could not be made).
    pub(super) fn on_swarm_planned(&mut self, result: Result<Box<crate::deploy::swarm::SwarmPlan>, String>) {
        let Some(w) = self.wizard.as_mut().filter(|w| matches!(w.step, Step::Planning)) else { return };
        w.step = match result {
            Ok(plan) => Step::Plan { plan: WizardPlan::Swarm(plan), confirm: TextInput::default() },
            Err(e) => Step::Error(e),
        };
    }

    pub(super) fn act_wizard(&mut self, a: Action) -> Vec<Effect> {
        let protected = self.profile.protected;
        let Some(w) = self.wizard.as_mut() else {
            self.screen = Screen::Dashboard;
            return vec![];
        };
        match (&mut w.step, a) {
            (Step::PickImage { choices, selected, .. }, Action::Up) => {
                *selected = selected.saturating_sub(1).min(choices.len())
            }
            (Step::PickImage { choices, selected, .. }, Action::Down) => {
                *selected = (*selected + 1).min(choices.len().saturating_sub(1))
            }
            (Step::PickImage { choices, selected, typed, loading }, Action::Confirm) => {
                let image = if typed.value.trim().is_empty() {
                    choices.get(*selected).cloned()
                } else {
                    Some(typed.value.trim().to_string())
                };
                let Some(image) = image else { return vec![] };
                // The event loop says whether it is a Swarm service before it lists images.
                if w.swarm.is_none() && *loading {
                    self.flash = Some(format!("still asking the hosts about {}: a moment", w.service));
                    return vec![];
                }
                let (service, swarm) = (w.service.clone(), w.swarm.clone().flatten().is_some());
                let (step, effects) = self.plan_for(&service, &image, ReleaseKind::Deploy, None, swarm);
                if let Some(w) = self.wizard.as_mut() {
                    w.step = step;
                }
                return effects;
            }
            (Step::Plan { plan, confirm }, Action::Confirm) => {
                if protected && confirm.value.trim() != plan.service() {
                    self.flash = Some(format!("protected profile: type {} to confirm", plan.service()));
                    return vec![];
                }
                let plan = plan.clone();
                w.log.push(format!("starting release {}", plan.release_id()));
                w.replicas = plan.replicas().into_iter().map(|(h, c)| (h, c, Phase::Pending)).collect();
                let id = plan.release_id().to_string();
                w.step = Step::Running { plan, paused: false };
                return vec![Effect::StartDeploy(id)];
            }
            (Step::Running { plan, .. }, Action::DeployPause) if !plan.can_pause() => {
                self.flash = Some("Swarm cannot pause an update: abort asks the engine to roll back".into());
            }
            (Step::Running { paused, .. }, Action::DeployPause) => {
                *paused = !*paused;
                let c = if *paused { Control::Pause } else { Control::Run };
                w.log.push(if *paused { "pause requested (takes effect between batches)" } else { "resumed" }.into());
                return vec![Effect::DeployControl(c)];
            }
            (Step::Running { .. }, Action::DeployAbort) => {
                w.log.push("abort requested: moved replicas go back".into());
                return vec![Effect::DeployControl(Control::Abort)];
            }
            (_, Action::Up) => w.scroll = w.scroll.saturating_sub(1),
            (_, Action::Down) => w.scroll = w.scroll.saturating_add(1),
            (Step::Running { .. }, Action::Back | Action::Cancel) => {
                // the deploy goes on; the wizard can be reopened from the dashboard
                self.screen = Screen::Dashboard;
                self.flash = Some("the deploy continues: press the deploy key to watch it".into());
            }
            (_, Action::Back | Action::Cancel) => {
                self.wizard = None;
                self.screen = Screen::Dashboard;
            }
            (Step::Done { .. } | Step::Error(_), Action::Confirm) => {
                self.wizard = None;
                self.screen = Screen::Dashboard;
            }
            (_, Action::Quit) => self.should_quit = true,
            (_, Action::Help) => self.open_help(),
            _ => {}
        }
        vec![]
    }

    pub(super) fn act_releases(&mut self, a: Action) -> Vec<Effect> {
        let Some(v) = self.releases.as_mut() else {
            self.screen = Screen::Dashboard;
            return vec![];
        };
        let n = v.releases.len();
        match a {
            Action::Up => v.selected = v.selected.saturating_sub(1),
            Action::Down => v.selected = (v.selected + 1).min(n.saturating_sub(1)),
            Action::Back | Action::Cancel => {
                self.releases = None;
                self.screen = Screen::Dashboard;
            }
            Action::Rollback => {
                // Newest first on screen; the selected release is the one to go back to.
                let Some(target) = v.releases.iter().rev().nth(v.selected).cloned() else { return vec![] };
                if target.state != ReleaseState::Succeeded {
                    self.flash = Some(format!("release {} did not end healthy: pick another", target.id));
                    return vec![];
                }
                let service = v.service.clone();
                if v.swarm.clone().flatten().is_some() {
                    // What runs now is what the newest healthy release brought.
                    let current = v.releases.iter().rev().find(|r| r.state == ReleaseState::Succeeded);
                    let (image, message) = match current {
                        Some(c) if c.id == target.id => (target.from_image.clone(), format!("undo {}", target.id)),
                        _ => (target.to_image.clone(), format!("rollback to {}", target.id)),
                    };
                    let (step, effects) = self.plan_for(&service, &image, ReleaseKind::Rollback, Some(message), true);
                    let mut w = Wizard::new(&service, step);
                    w.swarm = Some(self.releases.as_ref().and_then(|v| v.swarm.clone().flatten()));
                    self.wizard = Some(w);
                    self.screen = Screen::Deploy;
                    return effects;
                }
                // Rolling back to the release that runs now means undoing it: back to what
                // ran before it.
                let current = match make_plan(
                    &self.profile,
                    &self.fleet,
                    &service,
                    "-",
                    ReleaseKind::Rollback,
                    String::new(),
                    None,
                ) {
                    Ok(p) => p.from_image,
                    Err(e) => {
                        self.flash = Some(e);
                        return vec![];
                    }
                };
                let (image, message) = if target.to_image == current {
                    (target.from_image.clone(), format!("undo {}", target.id))
                } else {
                    (target.to_image.clone(), format!("rollback to {}", target.id))
                };
                let (step, effects) = self.plan_for(&service, &image, ReleaseKind::Rollback, Some(message), false);
                let mut w = Wizard::new(&service, step);
                w.swarm = Some(None);
                self.wizard = Some(w);
                self.screen = Screen::Deploy;
                return effects;
            }
            Action::Quit => self.should_quit = true,
            _ => {}
        }
        vec![]
    }

    /// Progress from the running deploy.
    pub(super) fn on_deploy_event(&mut self, ev: DeployEvent) {
        let Some(w) = self.wizard.as_mut() else { return };
        let t = self.now.format("%H:%M:%S");
        match ev {
            DeployEvent::Note(s) => w.log.push(format!("{t} {s}")),
            DeployEvent::Replica { host, container, phase } => {
                match w.replicas.iter_mut().find(|r| r.0 == host && r.1 == container) {
                    Some(r) => r.2 = phase,
                    // a Swarm service's tasks appear as the engine reports them
                    None => w.replicas.push((host, container, phase)),
                }
            }
            DeployEvent::GateFailed { host, container, failure } => {
                w.log.push(format!("{t} {host}/{container}: HEALTH GATE FAILED: {}", failure.reason));
                w.gate_failures.push((host, container, failure));
            }
            DeployEvent::Finished(release) => {
                if let Step::Running { plan, .. } = &w.step {
                    let plan = plan.clone();
                    w.step = Step::Done { plan, release };
                }
            }
        }
    }

    /// The deploy could not start (lock held, image missing): nothing changed.
    pub(super) fn on_deploy_refused(&mut self, why: String) {
        if let Some(w) = self.wizard.as_mut() {
            w.log.push(why.clone());
            w.step = Step::Error(format!("{why} (nothing was changed)"));
        }
    }
}
