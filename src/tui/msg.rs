//! What flows into `App::update` (`Msg`: keys, worker events, results of background work)
//! and out of it (`Effect`: what the event loop must carry out).

use super::action::Action;
use crate::fleet::model::FleetEvent;
use crate::ssh::Prompt;
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

pub enum Msg {
    Key(KeyEvent),
    Action(Action),
    Fleet(FleetEvent),
    Prompt(Prompt),
    Tick(DateTime<Utc>),
    /// The terminal's size (sent once at start and on every resize).
    Resize(u16, u16),
    /// New log entries, and the sources' current states when they changed.
    Logs {
        entries: Vec<crate::logs::line::Entry>,
        sources: Option<Vec<crate::logs::source::SourceInfo>>,
        dropped: u64,
    },
    /// A message for the log view's status line (e.g. the result of an export).
    LogNotice(String),
    /// Images present on the hosts of the service being deployed.
    DeployImages(Vec<String>),
    /// Progress of the running deploy.
    Deploy(crate::deploy::runner::DeployEvent),
    /// The deploy did not start (lock held, image missing, ...): nothing changed.
    DeployRefused(String),
    /// Whether a service is a Swarm service, and its manager (found when the wizard or the
    /// releases view opens).
    DeployTarget {
        service: String,
        manager: Option<String>,
    },
    /// A Swarm service's plan, read through its manager.
    SwarmPlanned(Result<Box<crate::deploy::swarm::SwarmPlan>, String>),
    /// A service's merged release journal.
    Releases(Result<Vec<crate::deploy::journal::Release>, String>),
    /// A backup job's files on its host (or why they could not be listed).
    BackupListing {
        job: String,
        result: Result<Box<crate::backup::JobListing>, String>,
    },
    /// Progress of the running backup operation.
    Backup(crate::backup::BackupEvent),
    /// The backup operation ended: whether it succeeded, and how, in a sentence.
    BackupDone {
        ok: bool,
        summary: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    RetryHost(usize),
    /// Start following these targets (replacing any log session).
    OpenLogs(Vec<crate::logs::source::Selector>),
    /// Stop the log session.
    CloseLogs,
    /// Write the visible log lines to this file.
    ExportLogs(String),
    /// The log view's time window starts here: read the older lines the session did not
    /// start with.
    BackfillLogs(i64),
    /// Find the images present on the hosts of this service.
    ListImages(String),
    /// Read this service's release journal from its hosts.
    LoadReleases(String),
    /// Plan a Swarm service's update (or rollback) to `image` through its manager.
    PlanSwarm {
        service: String,
        image: String,
        kind: crate::deploy::journal::ReleaseKind,
        message: Option<String>,
        release_id: String,
    },
    /// Run the plan of the wizard (named by its release id).
    StartDeploy(String),
    /// Pause, resume or abort the running deploy.
    DeployControl(crate::deploy::runner::Control),
    /// List the files of this backup job (`None`: of every job).
    LoadBackups(Option<String>),
    /// Take a backup of this job now.
    BackupRun(String),
    /// Verify this file of this job.
    BackupVerify(String, Box<crate::backup::BackupFile>),
    /// Restore as planned (and confirmed).
    BackupRestore(Box<crate::backup::RestorePlan>),
    /// Delete exactly the files of this plan.
    BackupPrune(Box<crate::backup::PrunePlan>),
}
