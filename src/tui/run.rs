//! The console's event loop: terminal setup and restore (on every exit path, panics
//! included), crossterm's async EventStream, worker events and prompts in, redraw only when
//! something changed.

use super::app::{App, Effect, Msg};
use super::keymap::{user_config_dir, Keymap};
use super::theme::Theme;
use super::view;
use crate::cli::UiArgs;
use crate::config::hosts::resolve_hosts;
use crate::config::Profile;
use crate::fleet::worker::WorkerConfig;
use crate::fleet::Fleet;
use crate::logs::export::Export;
use crate::logs::session::{LogOptions, LogSession};
use crate::ssh::ConnectOptions;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// Lines an export writes per turn of the event loop (~25 ms): a large export never stops the
/// console; new log lines wait in their buffers until it is done.
const EXPORT_SLICE: usize = 50_000;

type Exporting = Export<Box<dyn Fn(u32) -> String>>;

/// At most this often a redraw (about 30 frames a second) while data streams in.
const FRAME: Duration = Duration::from_millis(33);

/// Log entries taken into the view per turn of the event loop, all sources together: a key
/// pressed during a burst waits for at most one such batch (a few ms of filtering and
/// merging) before it is handled.
pub const LOG_BATCH: usize = 4096;

fn log_msg(session: &LogSession, entries: Vec<crate::logs::line::Entry>, sources_changed: bool) -> Msg {
    Msg::Logs { entries, sources: sources_changed.then(|| session.sources().to_vec()), dropped: session.dropped() }
}

/// Ends an export whose log view went away (its positions belong to that view's store).
fn stop_export(exporting: &mut Option<Exporting>, app: &mut App) {
    if let Some(job) = exporting.take() {
        let (done, all) = job.progress();
        let notice =
            format!("export to {} stopped after {done} of {all} lines: the log view closed", job.path().display());
        app.update(Msg::LogNotice(notice));
    }
}

/// Restores the terminal when dropped, whatever the reason.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Run the console on `profile_path`; returns the exit code.
pub fn run_console(profile_path: &Path, ui: &UiArgs) -> i32 {
    let profile = match Profile::load(profile_path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let hosts = match resolve_hosts(&profile) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let overlay = user_config_dir();
    let keymap = match Keymap::load(ui.keymap.as_deref(), overlay.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = match Theme::load(ui.theme.as_deref(), overlay.as_deref(), no_color) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    super::applog::install();
    let _ = color_eyre::install();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fleetdeck: cannot start the runtime: {e}");
            return 2;
        }
    };
    let code = rt.block_on(event_loop(profile, hosts, keymap, theme, ui.read_only, ui.log_budget));
    rt.shutdown_timeout(Duration::from_millis(300));
    match code {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fleetdeck: {e}");
            1
        }
    }
}

async fn event_loop(
    profile: Profile,
    hosts: Vec<crate::config::hosts::ResolvedHost>,
    keymap: Keymap,
    theme: Theme,
    read_only: bool,
    log_budget: usize,
) -> std::io::Result<()> {
    let (prompt_tx, mut prompt_rx) = mpsc::channel(16);
    let opts = ConnectOptions {
        accept_new_host_keys: false,
        prompts: Some(prompt_tx),
        passphrase: std::env::var("FLEETDECK_KEY_PASSPHRASE").ok(),
    };
    let host_info: Vec<(String, String)> = hosts.iter().map(|h| (h.name.clone(), h.state_dir.clone())).collect();
    let (mut fleet, state) = Fleet::start(&profile, hosts, opts, WorkerConfig::default());
    // Results of background work (image lists, journals, deploy progress) come back here.
    let (bg_tx, mut bg_rx) = mpsc::channel::<Msg>(256);
    let mut deploys = super::run_deploy::Deploys::new(host_info.clone());
    let backup_links: super::run_backups::Links = host_info
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), fleet.link(i).cloned().unwrap_or_default()))
        .collect();
    let mut app = App::new(&profile, read_only, state, keymap);
    app.log_budget = log_budget.max(1000);

    // ratatui::init installs a panic hook that restores the terminal before the panic report.
    let mut terminal = ratatui::try_init()?;
    let _guard = TerminalGuard;
    let size = terminal.size()?;
    app.update(Msg::Resize(size.width, size.height));
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut term_signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup_signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;

    let mut logs: Option<LogSession> = None;
    let mut exporting: Option<Exporting> = None;
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    let mut urgent = true;
    while !app.should_quit {
        // Draw when something changed, at most once a frame, except right after a key.
        if app.dirty && (urgent || last_draw.elapsed() >= FRAME) {
            if app.show_log {
                super::applog::flush();
            }
            terminal.draw(|f| view::render(f, f.area(), &app, &theme))?;
            app.dirty = false;
            last_draw = tokio::time::Instant::now();
        }
        urgent = false;
        let next_frame = last_draw + FRAME;
        // biased, in this order: signals, then a key that is ready before anything else, then
        // the fleet, prompts, background work and the tick, and log lines last (while lines
        // flood in they are always ready; each turn takes at most LOG_BATCH of them)
        let effects = tokio::select! {
            biased;
            _ = term_signal.recv() => break,
            _ = hup_signal.recv() => break,
            ev = input.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => {
                    urgent = true;
                    app.update(Msg::Key(k))
                }
                Some(Ok(Event::Resize(w, h))) => app.update(Msg::Resize(w, h)),
                Some(Ok(_)) => vec![],
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(ev) = fleet.events.recv() => {
                let mut effects = app.update(Msg::Fleet(ev));
                // take whatever else is already queued before drawing once
                while let Ok(ev) = fleet.events.try_recv() {
                    effects.extend(app.update(Msg::Fleet(ev)));
                }
                // new replicas of a followed service join the log stream
                if let Some(session) = logs.as_mut() {
                    if session.sync(&app.fleet, &fleet) {
                        effects.extend(app.update(log_msg(session, Vec::new(), true)));
                    }
                }
                effects
            }
            Some(p) = prompt_rx.recv() => app.update(Msg::Prompt(p)),
            Some(m) = bg_rx.recv() => app.update(m),
            _ = tick.tick() => {
                super::applog::flush();
                app.update(Msg::Tick(chrono::Utc::now()))
            }
            // an export in progress: one slice a turn, the store unchanged meanwhile
            _ = std::future::ready(()), if exporting.is_some() => {
                let job = exporting.as_mut().expect("checked by the guard");
                let step = match app.logs.as_ref() {
                    Some(p) => job.step(&p.store, EXPORT_SLICE),
                    None => Err(std::io::Error::other("the log view was closed")),
                };
                let finished = !matches!(step, Ok(None));
                let notice = match step {
                    Ok(None) => {
                        let (done, all) = job.progress();
                        format!("exporting to {}: {done} of {all} lines…", job.path().display())
                    }
                    Ok(Some(n)) => format!("exported {n} lines to {}", job.path().display()),
                    Err(e) => format!("export stopped: {e}"),
                };
                if finished {
                    exporting = None;
                }
                app.update(Msg::LogNotice(notice))
            }
            _ = async {
                match logs.as_mut() {
                    Some(s) => s.changed().await,
                    None => std::future::pending().await,
                }
            }, if exporting.is_none() => {
                let session = logs.as_mut().expect("only polled with a session");
                let mut entries = Vec::new();
                let changed = session.drain(&mut entries, LOG_BATCH);
                let report = session.backfill_report();
                let mut effects = app.update(log_msg(session, entries, changed));
                if let Some(report) = report {
                    effects.extend(app.update(Msg::LogNotice(report)));
                }
                effects
            }
            _ = tokio::time::sleep_until(next_frame), if app.dirty => vec![],
        };
        for effect in effects {
            if super::run_backups::start(&effect, &profile, &backup_links, &bg_tx)
                || deploys.start(&effect, &app, &fleet, &bg_tx)
            {
                continue;
            }
            match effect {
                Effect::RetryHost(h) => fleet.retry(h),
                Effect::OpenLogs(selectors) => {
                    stop_export(&mut exporting, &mut app);
                    let mut session = LogSession::new(&profile, selectors, LogOptions::default());
                    session.sync(&app.fleet, &fleet);
                    app.update(log_msg(&session, Vec::new(), true));
                    logs = Some(session);
                }
                Effect::CloseLogs => {
                    logs = None;
                    stop_export(&mut exporting, &mut app);
                }
                Effect::BackfillLogs(since) => {
                    let (Some(session), Some(p)) = (logs.as_mut(), app.logs.as_ref()) else { continue };
                    let room = p.store.budget().saturating_sub(p.store.len());
                    let notice = if room == 0 {
                        Some("the line budget is full: older lines would not be kept (--log-budget)".to_string())
                    } else {
                        let n = session.backfill(&fleet, since, room);
                        (n > 0).then(|| format!("reading older lines of {n} container(s)…"))
                    };
                    if let Some(notice) = notice {
                        app.update(Msg::LogNotice(notice));
                    }
                }
                Effect::ExportLogs(path) => {
                    let Some(p) = app.logs.as_ref() else { continue };
                    if let Some(job) = &exporting {
                        let notice = format!("an export to {} is still running", job.path().display());
                        app.update(Msg::LogNotice(notice));
                        continue;
                    }
                    let labels: Vec<String> = p.sources.iter().map(|s| s.label.clone()).collect();
                    let label: Box<dyn Fn(u32) -> String> =
                        Box::new(move |id| labels.get(id as usize).cloned().unwrap_or_else(|| "?".into()));
                    match Export::start(Path::new(&path), &p.view, &p.store, label, p.utc, true) {
                        Ok(job) => exporting = Some(job),
                        Err(e) => {
                            app.update(Msg::LogNotice(e.to_string()));
                        }
                    }
                }
                // started above
                Effect::ListImages(_)
                | Effect::LoadReleases(_)
                | Effect::PlanSwarm { .. }
                | Effect::StartDeploy(_)
                | Effect::DeployControl(_)
                | Effect::LoadBackups(_)
                | Effect::BackupRun(_)
                | Effect::BackupVerify(..)
                | Effect::BackupRestore(_)
                | Effect::BackupPrune(_) => {}
            }
        }
    }
    drop(fleet);
    Ok(())
}
