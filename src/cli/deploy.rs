//! `fleetdeck deploy`, `rollback`, `releases` and `lock`: the deploy engine, headless.
//! Progress is printed step by step; the exit code says how it ended. Whether a service is
//! deployed as containers or as a Swarm service is the engine's call
//! ([`find_target`]); both print the same events.

use super::status::connect_options;
use super::{block_on, ConnectArgs, UiArgs};
use crate::config::duration::parse_duration;
use crate::config::hosts::resolve_hosts;
use crate::config::Profile;
use crate::deploy::journal::{self, Release, ReleaseKind, ReleaseState};
use crate::deploy::lock;
use crate::deploy::plan::make_plan;
use crate::deploy::runner::{Control, DeployError, DeployEvent, HostHandle, Runner};
use crate::deploy::swarm::{plan_deploy, plan_rollback};
use crate::deploy::target::{find_target, Target};
use crate::fleet::model::FleetState;
use crate::fleet::worker::WorkerConfig;
use crate::fleet::Fleet;
use clap::{Args, Subcommand};
use tokio::sync::{mpsc, watch};

#[derive(Debug, Args, Clone)]
pub struct DeployArgs {
    /// The service to deploy.
    pub service: String,
    /// The image to deploy (it must be present on the service's hosts; for a Swarm service,
    /// on its nodes or pullable by them).
    #[arg(long)]
    pub image: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm a change on a protected profile.
    #[arg(long)]
    pub yes: bool,
    /// Why: recorded in the release journal and shown to whoever looks at the lock.
    #[arg(long, short)]
    pub message: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RollbackArgs {
    pub service: String,
    /// The release to go back to (id or unique prefix); default: the last release that
    /// ended healthy and runs another image than now (for a Swarm service: the engine's
    /// previous spec, else what ran before the release that brought what runs now).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub yes: bool,
    #[arg(long, short)]
    pub message: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args, Clone)]
pub struct ReleasesArgs {
    pub service: String,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Subcommand, Clone)]
pub enum LockAction {
    /// Who holds the deploy lock, on each host.
    Status,
    /// Break the lock (audited), e.g. after a crashed deploy.
    Release {
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    pub service: String,
    #[command(subcommand)]
    pub action: LockAction,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

struct Connected {
    profile: Profile,
    fleet: Fleet,
    state: FleetState,
    hosts: Vec<HostHandle>,
}

async fn connect(ui: &UiArgs, args: &ConnectArgs) -> Result<Connected, String> {
    let path = ui.profile.as_ref().ok_or("no profile: pass --profile FILE (or set FLEETDECK_PROFILE)")?;
    let profile = Profile::load(path).map_err(|e| e.to_string())?;
    let resolved = resolve_hosts(&profile).map_err(|e| e.to_string())?;
    let timeout = parse_duration(&args.timeout).map_err(|e| format!("--timeout: {e}"))?;
    let (mut fleet, mut state) =
        Fleet::start(&profile, resolved.clone(), connect_options(args), WorkerConfig::default());
    fleet.settle(&mut state, timeout, FleetState::all_settled).await;
    let hosts = resolved
        .iter()
        .enumerate()
        .map(|(i, h)| HostHandle {
            name: h.name.clone(),
            state_dir: h.state_dir.clone(),
            link: fleet.link(i).cloned().unwrap_or_default(),
        })
        .collect();
    Ok(Connected { profile, fleet, state, hosts })
}

fn refuse_if_unsafe(profile: &Profile, ui: &UiArgs, yes: bool, what: &str) -> Result<(), String> {
    if ui.read_only || profile.read_only {
        return Err(format!(
            "{what} refused: profile {} is read-only{}",
            profile.name,
            if ui.read_only { " (--read-only)" } else { "" }
        ));
    }
    if profile.protected && !yes {
        return Err(format!("{what} refused: profile {} is protected; pass --yes to confirm", profile.name));
    }
    Ok(())
}

pub fn run_deploy(ui: &UiArgs, a: &DeployArgs) -> i32 {
    block_on(async {
        let c = connect(ui, &a.connect).await?;
        if !a.dry_run {
            refuse_if_unsafe(&c.profile, ui, a.yes, "deploy")?;
        }
        let id = journal::new_release_id(chrono::Utc::now());
        if let Target::Swarm(t) = find_target(&c.profile, &c.hosts, &a.service).await? {
            let (kind, message) = (ReleaseKind::Deploy, a.message.clone());
            let plan = plan_deploy(&c.profile, &c.state, &t, &a.service, &a.image, kind, id, message).await?;
            return run_swarm_plan(c, plan, a.dry_run).await;
        }
        let plan = make_plan(&c.profile, &c.state, &a.service, &a.image, ReleaseKind::Deploy, id, a.message.clone())?;
        print!("{}", plan.to_text());
        if a.dry_run {
            println!("dry run: nothing changed");
            return Ok(0);
        }
        run_plan(c, plan).await
    })
}

const SWARM_ABORT: &str = "aborting: asking the engine to roll back…";

/// Print a Swarm plan, then (unless it is a dry run) carry it out (see [`execute`]).
async fn run_swarm_plan(c: Connected, plan: crate::deploy::swarm::SwarmPlan, dry_run: bool) -> Result<i32, String> {
    print!("{}", plan.to_text());
    if dry_run {
        println!("dry run: nothing changed");
        return Ok(0);
    }
    execute(c, SWARM_ABORT, |tx, control| plan.into_runner(tx, control, journal::who()).execute()).await
}

/// Run a container plan (see [`execute`]).
async fn run_plan(c: Connected, plan: crate::deploy::plan::Plan) -> Result<i32, String> {
    let hosts = c.hosts.clone();
    execute(c, "aborting: rolling back what was moved…", |events, control| {
        Runner { plan, hosts, events, control, who: journal::who() }.execute()
    })
    .await
}

/// Run a release (a container runner's or a Swarm runner's), printing progress; exit 0 on
/// success, 1 when it failed (after rollback), 3 when the lock is held, 2 on other errors.
async fn execute<F, Fut>(c: Connected, abort_note: &'static str, start: F) -> Result<i32, String>
where
    F: FnOnce(mpsc::Sender<DeployEvent>, watch::Receiver<Control>) -> Fut,
    Fut: std::future::Future<Output = Result<Release, DeployError>>,
{
    let (tx, mut rx) = mpsc::channel(256);
    let (control_tx, control) = watch::channel(Control::Run);
    let printer = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            print_event(&ev);
        }
    });
    // Ctrl-C aborts cleanly: the runner rolls back what it moved (the engine, for Swarm).
    let abort = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("{abort_note}");
            let _ = control_tx.send(Control::Abort);
        }
    });
    let result = start(tx, control).await;
    let _ = printer.await;
    abort.abort();
    drop(c.fleet);
    match result {
        Ok(r) if r.state == ReleaseState::Succeeded => Ok(0),
        Ok(r) => {
            eprintln!("release {} {}: {}", r.id, r.state.label(), r.reason.unwrap_or_default());
            Ok(1)
        }
        Err(e @ DeployError::LockHeld { .. }) => {
            eprintln!("fleetdeck: {e}");
            Ok(3)
        }
        Err(e) => Err(e.to_string()),
    }
}

fn print_event(ev: &DeployEvent) {
    let t = chrono::Utc::now().format("%H:%M:%S");
    match ev {
        DeployEvent::Note(s) => println!("{t} {s}"),
        DeployEvent::Replica { host, container, phase } => println!("{t} {host}/{container}: {phase:?}"),
        DeployEvent::GateFailed { host, container, failure } => {
            println!("{t} {host}/{container}: HEALTH GATE FAILED: {}", failure.reason);
            for p in &failure.probes {
                println!(
                    "    probe {} {} -> {} {}",
                    p.probe,
                    p.url,
                    p.http_status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into()),
                    p.error.clone().unwrap_or_else(|| p.body.clone())
                );
            }
            if !failure.logs.is_empty() {
                println!("    last log lines of {container}:");
                for l in &failure.logs {
                    println!("    | {l}");
                }
            }
        }
        DeployEvent::Finished(r) => println!("{t} finished: {} {}", r.id, r.state.label()),
    }
}

async fn read_releases(c: &Connected, service: &str) -> Result<Vec<Release>, String> {
    let svc = c.profile.services.iter().find(|s| s.name == service).ok_or_else(|| format!("no service {service:?}"))?;
    let mut all = Vec::new();
    let mut read_any = false;
    for h in &c.hosts {
        if !svc.runs_on(&h.name) {
            continue;
        }
        if let Some((s, _)) = h.link.current() {
            match journal::read(&s, &h.state_dir, service).await {
                Ok(r) => {
                    read_any = true;
                    all.extend(r);
                }
                Err(e) => eprintln!("fleetdeck: {}: {e}", h.name),
            }
        }
    }
    if !read_any {
        return Err(format!("could not read the release journal of {service} on any host"));
    }
    Ok(journal::merge(all))
}

pub fn run_releases(ui: &UiArgs, a: &ReleasesArgs) -> i32 {
    block_on(async {
        let c = connect(ui, &a.connect).await?;
        let releases = read_releases(&c, &a.service).await?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&releases).map_err(|e| e.to_string())?);
        } else if releases.is_empty() {
            println!("no releases of {} yet", a.service);
        } else {
            for r in &releases {
                let took =
                    r.ended_at.map(|e| format!("{}s", (e - r.started_at).num_seconds())).unwrap_or_else(|| "…".into());
                println!(
                    "{}  {}  {:<8} {} -> {}  {:<20} {:>5}  {}{}",
                    r.id,
                    r.started_at.format("%Y-%m-%d %H:%M:%S"),
                    format!("{:?}", r.kind).to_lowercase(),
                    r.from_image,
                    r.to_image,
                    r.state.label(),
                    took,
                    r.who,
                    r.message.as_ref().map(|m| format!(" \"{m}\"")).unwrap_or_default()
                );
                if let Some(reason) = &r.reason {
                    println!("    {reason}");
                }
            }
        }
        Ok(0)
    })
}

pub fn run_rollback(ui: &UiArgs, a: &RollbackArgs) -> i32 {
    block_on(async {
        let c = connect(ui, &a.connect).await?;
        if !a.dry_run {
            refuse_if_unsafe(&c.profile, ui, a.yes, "rollback")?;
        }
        let releases = read_releases(&c, &a.service).await?;
        let id = journal::new_release_id(chrono::Utc::now());
        if let Target::Swarm(t) = find_target(&c.profile, &c.hosts, &a.service).await? {
            let (to, message) = (a.to.as_deref(), a.message.clone());
            let plan = plan_rollback(&c.profile, &c.state, &t, &a.service, &releases, to, id, message).await?;
            return run_swarm_plan(c, plan, a.dry_run).await;
        }
        // What runs now, to find the release to go back to.
        let current =
            make_plan(&c.profile, &c.state, &a.service, "-", ReleaseKind::Rollback, id.clone(), None)?.from_image;
        let target = match &a.to {
            Some(prefix) => journal::find_release(&releases, &a.service, prefix)?,
            None => {
                releases.iter().rev().find(|r| r.state == ReleaseState::Succeeded && r.to_image != current).ok_or_else(
                    || format!("no earlier healthy release of {} to go back to (now on {current})", a.service),
                )?
            }
        };
        if target.state != ReleaseState::Succeeded {
            eprintln!("warning: release {} ended {}", target.id, target.state.label());
        }
        let message = a.message.clone().or_else(|| Some(format!("rollback to {}", target.id)));
        let plan = make_plan(&c.profile, &c.state, &a.service, &target.to_image, ReleaseKind::Rollback, id, message)?;
        print!("{}", plan.to_text());
        if a.dry_run {
            println!("dry run: nothing changed");
            return Ok(0);
        }
        run_plan(c, plan).await
    })
}

pub fn run_lock(ui: &UiArgs, a: &LockArgs) -> i32 {
    block_on(async {
        let c = connect(ui, &a.connect).await?;
        let svc = c
            .profile
            .services
            .iter()
            .find(|s| s.name == a.service)
            .ok_or_else(|| format!("no service {:?}", a.service))?
            .clone();
        if let LockAction::Release { yes } = a.action {
            refuse_if_unsafe(&c.profile, ui, yes, "lock release")?;
        }
        let mut held = false;
        for h in c.hosts.iter().filter(|h| svc.runs_on(&h.name)) {
            let Some((s, _)) = h.link.current() else {
                println!("{:<12} unreachable", h.name);
                continue;
            };
            match &a.action {
                LockAction::Status => match lock::status(&s, &h.state_dir, &a.service).await? {
                    Some(holder) => {
                        held = true;
                        println!("{:<12} held by {holder}", h.name);
                    }
                    None => println!("{:<12} free", h.name),
                },
                LockAction::Release { .. } => {
                    let before = lock::status(&s, &h.state_dir, &a.service).await?;
                    let released = lock::release(&s, &h.state_dir, &a.service, None).await?;
                    let detail = before.map(|b| b.to_string());
                    let _ = crate::deploy::audit::write(&crate::deploy::audit::AuditEntry {
                        at: chrono::Utc::now(),
                        who: &journal::who(),
                        profile: &c.profile.name,
                        action: "lock-break",
                        target: &format!("{} on {}", a.service, h.name),
                        phase: "end",
                        outcome: Some(if released { "released" } else { "was free" }),
                        detail: detail.as_deref(),
                    });
                    println!("{:<12} {}", h.name, if released { "released" } else { "was free" });
                }
            }
        }
        Ok(if held { 1 } else { 0 })
    })
}
