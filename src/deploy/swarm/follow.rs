//! Following an update (or rollback) the engine carries out, to the engine's verdict: what
//! its update states mean for the release, the operator's controls (abort asks the engine to
//! roll back; pause is explained, Swarm has none), timeouts and lost contact.

use super::follower::Follower;
use super::spec::{spec_image, spec_replicas};
use super::task::{explain_failure, settled, TaskView};
use super::update::{inspect, request_rollback};
use super::POLL_EVERY;
use crate::deploy::journal::ReleaseState;
use crate::deploy::runner::{Control, DeployEvent};
use bollard::models::{Service, ServiceUpdateStatus};
use bollard::Docker;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long API errors in a row are tolerated while following (a dropped connection).
const API_ERRORS_FOR: Duration = Duration::from_secs(30);
/// How long the engine may report no update status at all before the update counts as one
/// with nothing to replace (no replicas).
const NO_STATUS_GRACE: Duration = Duration::from_secs(5);

/// How an update (or rollback) ended, as the engine reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmOutcome {
    /// Succeeded (completed), FailedRolledBack (the engine rolled back on failure), Aborted
    /// (rolled back at the operator's request), Failed (paused, timed out or lost).
    pub state: ReleaseState,
    /// The engine's last `UpdateStatus.State` (`completed`, `rollback_completed`, ...).
    pub engine_state: Option<String>,
    /// The engine's message, the failure's when there was one.
    pub engine_message: Option<String>,
    /// Why it did not succeed, in a sentence.
    pub reason: Option<String>,
    pub from_image: String,
    pub to_image: String,
    /// The image the service's spec names at the end.
    pub image_now: String,
    /// The tasks that should run at the end (desired state running).
    pub tasks: Vec<TaskView>,
    pub took: Duration,
}

/// What fleetdeck follows: an update it asked for, or a rollback it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Following {
    Update,
    Rollback,
}

/// Whether the engine's update status ends what fleetdeck follows, and how.
/// `aborted`: the operator asked for the rollback in the middle of an update.
/// `failure`: the engine's message when it started rolling back on its own.
pub fn verdict(
    following: Following,
    status: &ServiceUpdateStatus,
    aborted: bool,
    failure: Option<&str>,
) -> Option<(ReleaseState, Option<String>)> {
    let state = status.state.map(|s| s.to_string()).unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    match (following, state.as_str()) {
        (Following::Update, "completed") => Some((ReleaseState::Succeeded, None)),
        (Following::Update, "rollback_completed") if aborted => {
            Some((ReleaseState::Aborted, Some("aborted by the operator; the engine rolled back".into())))
        }
        (Following::Update, "rollback_completed") => Some((
            ReleaseState::FailedRolledBack,
            Some(format!("the engine rolled back: {}", failure.unwrap_or(&message))),
        )),
        (Following::Rollback, "rollback_completed") => Some((ReleaseState::Succeeded, None)),
        // A rollback the engine was asked for is never "completed"; an update is.
        (Following::Rollback, "completed") => {
            Some((ReleaseState::Failed, Some(format!("the engine completed an update instead: {message}"))))
        }
        (_, "paused") => Some((
            ReleaseState::Failed,
            Some(format!("the engine paused the update: {message} (resume or roll back with docker service update)")),
        )),
        (_, "rollback_paused") => Some((
            ReleaseState::Failed,
            Some(format!("the engine's rollback paused: {message} (the service needs a person)")),
        )),
        _ => None,
    }
}

pub(super) fn status_key(s: Option<&ServiceUpdateStatus>) -> Option<(String, String)> {
    s.map(|s| {
        (
            s.state.map(|x| x.to_string()).unwrap_or_default(),
            s.started_at.as_ref().map(|t| format!("{t:?}")).unwrap_or_default(),
        )
    })
}

pub(super) struct FollowArgs<'a> {
    pub(super) docker: &'a Docker,
    pub(super) service: Service,
    pub(super) following: Following,
    /// The image the service leaves, and the one it moves to (for a rollback: the previous
    /// spec's).
    pub(super) from: String,
    pub(super) to: String,
    /// The update status before fleetdeck's request (a status equal to it is not ours).
    pub(super) before: Option<(String, String)>,
    /// The tasks before the request (reported only when they change).
    pub(super) known: Vec<TaskView>,
    pub(super) timeout: Duration,
    pub(super) started: Instant,
}

/// Follow the engine until it ends the update (or rollback), the timeout passes or contact
/// is lost; honour the operator's controls.
pub(super) async fn follow(
    a: FollowArgs<'_>,
    events: &mpsc::Sender<DeployEvent>,
    mut control: watch::Receiver<Control>,
) -> SwarmOutcome {
    let service_id = a.service.id.clone().unwrap_or_default();
    let label = a.service.spec.as_ref().and_then(|s| s.name.clone()).unwrap_or_else(|| service_id.clone());
    let mut f = Follower::new(a.docker, service_id.clone(), label.clone(), events);
    f.seen = a.known.iter().map(|t| (t.id.clone(), t.clone())).collect();
    let deadline = a.started + a.timeout;
    let mut rolling_back = a.following == Following::Rollback;
    let mut aborted = false;
    let mut pause_told = false;
    let mut abort_told = false;
    let mut control_open = true;
    let mut failure: Option<String> = None;
    let mut last_state = String::new();
    let mut last_ok = Instant::now();
    let mut api_error_told = false;
    let mut last_tasks: Vec<TaskView> = Vec::new();
    let mut image_now = a.from.clone();
    let mut engine_message: Option<String> = None;
    let mut ended: Option<(ReleaseState, Option<String>, Option<String>)> = None;
    let mut settle_told = false;
    let outcome = |state, reason, engine_state: &str, engine_message, tasks: Vec<TaskView>, image_now| SwarmOutcome {
        state,
        engine_state: (!engine_state.is_empty()).then(|| engine_state.to_string()),
        engine_message,
        reason,
        from_image: a.from.clone(),
        to_image: a.to.clone(),
        image_now,
        tasks: tasks.into_iter().filter(|t| t.desired == "running").collect(),
        took: a.started.elapsed(),
    };
    loop {
        // Controls first: an abort asks the engine to roll back.
        let c = *control.borrow_and_update();
        match c {
            Control::Abort if !aborted && !rolling_back && a.following == Following::Update => {
                aborted = true;
                f.note("abort: asking the engine to roll back to the previous spec").await;
                match request_rollback(a.docker, &service_id).await {
                    Ok(warnings) => {
                        for w in warnings {
                            f.note(format!("engine: {w}")).await;
                        }
                    }
                    Err(e) => f.note(format!("abort: the engine refused the rollback: {e}")).await,
                }
            }
            // Already going back (on its own, or a rollback fleetdeck follows): the release
            // ends as the engine's rollback ends.
            Control::Abort if !aborted && !abort_told => {
                abort_told = true;
                f.note("abort: the engine is already rolling back; following it").await;
            }
            Control::Pause if !pause_told => {
                pause_told = true;
                f.note("pause: Swarm has no way to pause an update through its API; the engine goes on (abort asks it to roll back)").await;
            }
            _ => {}
        }
        let polled = async {
            let svc = inspect(a.docker, &service_id).await?;
            let tasks = f.tasks().await?;
            Ok::<_, String>((svc, tasks))
        }
        .await;
        match polled {
            Ok((svc, tasks)) => {
                last_ok = Instant::now();
                if api_error_told {
                    api_error_told = false;
                    f.note("the engine answers again").await;
                }
                if let Some(img) = svc.spec.as_ref().and_then(spec_image) {
                    image_now = img;
                }
                let status = svc.update_status.clone();
                let ours = status.is_some() && status_key(status.as_ref()) != a.before;
                let state = if ours {
                    status.as_ref().and_then(|s| s.state).map(|s| s.to_string()).unwrap_or_default()
                } else {
                    String::new()
                };
                if ours && state != last_state {
                    let msg = status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
                    f.note(format!("engine: {} {state}: {msg}", label)).await;
                    // rollback_started may come and go between two looks.
                    if state.starts_with("rollback_") {
                        rolling_back = true;
                    }
                    if state == "rollback_started" && a.following == Following::Update && !aborted {
                        failure = Some(msg.clone());
                    }
                    engine_message = Some(msg);
                    last_state = state.clone();
                }
                // The image the engine moves to now: back to `from` when an update rolls back.
                let target = if rolling_back && a.following == Following::Update { &a.from } else { &a.to };
                let forward = if a.following == Following::Update { a.to.as_str() } else { "" };
                f.report(&tasks, target, rolling_back, forward, failure.as_deref()).await;
                let replicas = svc.spec.as_ref().and_then(spec_replicas);
                if ours && ended.is_none() {
                    let st = status.clone().unwrap_or_default();
                    // The engine's rollback message names the failed task; if fleetdeck saw
                    // rollback_completed without it (both between two looks), what it saw fail.
                    let failed_task = match failure.as_deref() {
                        Some(m) => Some(explain_failure(m, &tasks, &f.explained)),
                        None if !f.explained.is_empty() => {
                            let mut said: Vec<&str> = f.explained.values().map(String::as_str).collect();
                            said.sort();
                            Some(format!("{} ({})", engine_message.clone().unwrap_or_default(), said.join("; ")))
                        }
                        None => None,
                    };
                    if let Some((state, reason)) = verdict(a.following, &st, aborted, failed_task.as_deref()) {
                        let message = if state == ReleaseState::FailedRolledBack {
                            failure.clone().or(failed_task)
                        } else {
                            engine_message.clone()
                        };
                        if state == ReleaseState::Failed {
                            return outcome(state, reason, &last_state, message, tasks, image_now);
                        }
                        ended = Some((state, reason, message));
                    }
                }
                // "completed" means the engine updated every slot, not that every task runs
                // yet (a failed task's restart can stand in for a slot's rollback): wait for
                // the tasks too.
                if let Some((state, reason, message)) = &ended {
                    if settled(&tasks, &image_now, replicas) {
                        return outcome(*state, reason.clone(), &last_state, message.clone(), tasks, image_now);
                    }
                    if !settle_told {
                        settle_told = true;
                        f.note(format!("engine: {label} {last_state}; waiting for every task to run {image_now}"))
                            .await;
                    }
                } else if status.is_none()
                    && a.started.elapsed() > NO_STATUS_GRACE
                    && tasks
                        .iter()
                        .filter(|t| t.desired == "running")
                        .all(|t| t.image == *target && t.state == "running")
                {
                    f.note("engine: nothing to replace").await;
                    return outcome(ReleaseState::Succeeded, None, "", None, tasks, image_now);
                }
                last_tasks = tasks;
            }
            Err(e) => {
                if !api_error_told {
                    api_error_told = true;
                    f.note(format!("cannot read the service's progress: {e}")).await;
                }
                if last_ok.elapsed() > API_ERRORS_FOR {
                    let reason = format!(
                        "lost contact with the engine for {}s ({e}); the engine's update goes on without fleetdeck watching: check `docker service ps {label}`",
                        API_ERRORS_FOR.as_secs()
                    );
                    return outcome(
                        ReleaseState::Failed,
                        Some(reason),
                        &last_state,
                        engine_message,
                        last_tasks,
                        image_now,
                    );
                }
            }
        }
        if Instant::now() >= deadline {
            if let Some((state, reason, message)) = ended {
                let not_running = format!(
                    "the engine reports {last_state}, but not every task runs {image_now} after {}s: check `docker service ps {label}`",
                    a.timeout.as_secs()
                );
                let (state, reason) = match state {
                    ReleaseState::Succeeded => (ReleaseState::Failed, not_running),
                    other => (other, format!("{}; {not_running}", reason.unwrap_or_default())),
                };
                return outcome(state, Some(reason), &last_state, message, last_tasks, image_now);
            }
            let reason = format!(
                "the engine still reports {} after {}s; fleetdeck stopped following, the engine goes on: check `docker service ps {label}`",
                if last_state.is_empty() { "no progress".to_string() } else { last_state.clone() },
                a.timeout.as_secs()
            );
            return outcome(ReleaseState::Failed, Some(reason), &last_state, engine_message, last_tasks, image_now);
        }
        if control_open {
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                r = control.changed() => if r.is_err() { control_open = false },
            }
        } else {
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}
