//! What the deploy wizard shows and runs: fleetdeck's own plan for a service's containers,
//! or, for a Swarm service, the engine's update planned through its manager. Both report the
//! same `DeployEvent`s, so the wizard's progress and outcome screens serve both.

use crate::deploy::journal::ReleaseKind;
use crate::deploy::plan::Plan;
use crate::deploy::swarm::SwarmPlan;

#[derive(Clone)]
pub enum WizardPlan {
    Containers(Box<Plan>),
    Swarm(Box<SwarmPlan>),
}

impl WizardPlan {
    pub fn release_id(&self) -> &str {
        match self {
            WizardPlan::Containers(p) => &p.release_id,
            WizardPlan::Swarm(p) => &p.release_id,
        }
    }

    pub fn service(&self) -> &str {
        match self {
            WizardPlan::Containers(p) => &p.service,
            WizardPlan::Swarm(p) => &p.service,
        }
    }

    pub fn kind(&self) -> ReleaseKind {
        match self {
            WizardPlan::Containers(p) => p.kind,
            WizardPlan::Swarm(p) => p.kind,
        }
    }

    pub fn from_image(&self) -> &str {
        match self {
            WizardPlan::Containers(p) => &p.from_image,
            WizardPlan::Swarm(p) => &p.from_image,
        }
    }

    /// Where it goes: an image, or (Swarm) the engine's previous spec.
    pub fn to(&self) -> &str {
        match self {
            WizardPlan::Containers(p) => &p.to_image,
            WizardPlan::Swarm(p) => &p.to,
        }
    }

    /// The plan as a person reads it.
    pub fn to_text(&self) -> String {
        match self {
            WizardPlan::Containers(p) => p.to_text(),
            WizardPlan::Swarm(p) => p.to_text(),
        }
    }

    /// The replicas known before it starts (host, container), shown as pending. A Swarm
    /// service's tasks appear as the engine reports them.
    pub fn replicas(&self) -> Vec<(String, String)> {
        match self {
            WizardPlan::Containers(p) => p.replicas().map(|r| (r.host.clone(), r.container.clone())).collect(),
            WizardPlan::Swarm(_) => vec![],
        }
    }

    /// Pause has no meaning for the engine's update (only abort, which is its rollback).
    pub fn can_pause(&self) -> bool {
        matches!(self, WizardPlan::Containers(_))
    }
}
