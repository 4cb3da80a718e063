//! Deploys of Swarm services. fleetdeck does not replace a Swarm service's replicas itself:
//! it sets the service's update config (parallelism, delay, monitor, failure action
//! `rollback`, order), its rollback config and its image through the Docker API, then
//! follows the engine's progress task by task (reporting `DeployEvent`s like the container
//! runner does, so the same wizard and the same CLI printer show it), and rolls back with
//! the engine's own rollback (`rollback=previous`). [`SwarmRunner`] adds what every
//! fleetdeck release has: the deploy lock and the release journal on the manager host, and
//! the local audit log.
//!
//! Swarm has no API to pause an update: a `Control::Pause` is explained in a note and
//! ignored. `Control::Abort` asks the engine to roll back to the previous spec.
//!
//! The parts: [`spec`] (what fleetdeck asks of the engine: the update request, the service
//! it stands for, the update spec), [`task`] (a task as fleetdeck reports it, and what its
//! state means), [`follower`] (reads the tasks and reports what changed), [`follow`] (follows
//! an update or rollback to the engine's verdict), [`update`] (the update and rollback
//! requests), [`runner`] (a release: lock, journal, audit) and [`plan`] (what a deploy or rollback
//! would do, before it does it).

pub mod follow;
mod follower;
pub mod plan;
pub mod runner;
pub mod spec;
pub mod task;
#[cfg(test)]
mod tests;
pub mod update;

pub use follow::{verdict, Following, SwarmOutcome};
pub use plan::{plan_deploy, plan_rollback, SwarmPlan};
pub use runner::{SwarmChange, SwarmRunner};
pub use spec::{
    build_update_spec, find_swarm_service, pick_service, spec_image, spec_replicas, unpinned, SwarmDeploy,
    SwarmRollback, UpdateOrder,
};
pub use task::{phase_for, settled, task_view, TaskView};
pub use update::{follow_rollback, rollback, run, start_rollback, RollbackRefused, RollbackStarted};

use std::time::Duration;

/// How long fleetdeck follows an update (or rollback) before it reports a timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the service and its tasks are read while following.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Label that names the fleetdeck service a Swarm service belongs to, if its name differs.
pub const SERVICE_LABEL: &str = "fleetdeck.service";
/// Label `docker stack deploy` puts on the services of a stack (named `<stack>_<service>`).
pub const STACK_LABEL: &str = "com.docker.stack.namespace";
