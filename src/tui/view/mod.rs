//! Views: pure functions from state to a frame. No I/O, no locks, no time lookups (the
//! clock is `App::now`).

pub mod backups;
pub mod columns;
pub mod dashboard;
pub mod deploy;
pub mod detail;
pub mod format;
pub mod help;
pub mod logs;
pub mod overlay;

use super::action::{self, Action, Context};
use super::app::{App, Screen};
use super::theme::Theme;
use crate::fleet::health::Health;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

/// Rows taken by the banner and the log pane around the body.
fn chrome(app: &App, area: Rect) -> (u16, u16) {
    let banner = if app.protected { 1 } else { 0 };
    let log = if app.show_log { area.height / 3 } else { 0 };
    (banner, log)
}

/// The body area of a `width`×`height` screen (where dashboard, detail and help go).
pub fn body_area(app: &App, width: u16, height: u16) -> Rect {
    let [_, _, body, _, _] = areas(app, Rect::new(0, 0, width, height));
    body
}

/// The screen's rows: title, protected banner, body, fleetdeck's log pane, hints.
fn areas(app: &App, area: Rect) -> [Rect; 5] {
    let (banner, log) = chrome(app, area);
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Min(3),
        Constraint::Length(log),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The furthest a paragraph of `lines` wrapped into `inner` can scroll.
pub fn max_scroll(lines: &[Line], inner: Rect) -> u16 {
    let width = inner.width.max(1) as usize;
    let total: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    total.saturating_sub(inner.height as usize).min(u16::MAX as usize) as u16
}

/// How far the current scrollable screen (detail, help) can scroll on a screen this size.
pub fn scroll_limit(app: &App, width: u16, height: u16) -> u16 {
    static THEME: std::sync::OnceLock<Theme> = std::sync::OnceLock::new();
    let theme = THEME.get_or_init(Theme::default);
    let body = body_area(app, width, height);
    let inner = Rect::new(0, 0, body.width.saturating_sub(2), body.height.saturating_sub(2));
    match &app.screen {
        Screen::Detail { host, container } => max_scroll(&detail::lines(app, theme, *host, container), inner),
        Screen::Help => max_scroll(&help::lines(app, theme), inner),
        Screen::Dashboard | Screen::Logs | Screen::Deploy | Screen::Releases | Screen::Backups => 0,
    }
}

/// Draw the whole console.
pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    frame.render_widget(Block::default().style(theme.base), area);
    let [title, banner_area, body, log_area, hints] = areas(app, area);
    render_title(frame, title, app, theme);
    if app.protected {
        let text = format!(
            " PROTECTED · {} · changes need a typed confirmation{}",
            app.profile_name,
            if app.read_only { " · READ-ONLY" } else { "" }
        );
        frame.render_widget(Paragraph::new(text).style(theme.protected_banner), banner_area);
    }
    match &app.screen {
        Screen::Dashboard => dashboard::render(frame, body, app, theme),
        Screen::Detail { host, container } => detail::render(frame, body, app, theme, *host, container),
        Screen::Help => help::render(frame, body, app, theme),
        Screen::Logs => logs::render(frame, body, app, theme),
        Screen::Deploy => deploy::render_wizard(frame, body, app, theme),
        Screen::Releases => deploy::render_releases(frame, body, app, theme),
        Screen::Backups => backups::render(frame, body, app, theme),
    }
    if app.show_log {
        let widget = tui_logger::TuiLoggerWidget::default()
            .block(Block::default().borders(Borders::ALL).title(" fleetdeck log ").border_style(theme.border))
            .style(theme.base)
            .style_error(theme.error)
            .style_warn(theme.warning)
            .style_info(theme.muted)
            .output_target(false)
            .output_file(false)
            .output_line(false)
            .output_timestamp(Some("%H:%M:%S".into()));
        frame.render_widget(widget, log_area);
    }
    render_hints(frame, hints, app, theme);
    if app.palette.is_some() {
        overlay::render_palette(frame, area, app, theme);
    }
    if let Some(p) = app.prompts.front() {
        overlay::render_prompt(frame, area, p, app, theme);
    }
}

fn render_title(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let connected = app.fleet.hosts.iter().filter(|h| h.conn.is_connected()).count();
    let total = app.fleet.hosts.len();
    // services that run outside Docker (log files only) have no health to count
    let with_health = app.summaries.iter().filter(|s| !s.logs_only).count();
    let healthy = app.summaries.iter().filter(|s| s.health == Health::Healthy).count();
    let mut spans = vec![
        Span::styled(" fleetdeck ", theme.title),
        Span::styled(format!("· {} ", app.profile_name), theme.accent),
        Span::styled(
            format!("· {connected}/{total} hosts "),
            if connected == total { theme.healthy } else { theme.degraded },
        ),
        Span::styled(
            format!("· {healthy}/{with_health} services healthy "),
            if healthy == with_health { theme.healthy } else { theme.degraded },
        ),
    ];
    if app.read_only {
        spans.push(Span::styled("· READ-ONLY ", theme.warning));
    }
    if !app.filter.value.is_empty() || app.filter_editing {
        spans.push(Span::styled(format!("· filter: {} ", app.filter.value), theme.filter_match));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The bottom line: keys of the hint-worthy actions of the current context, from the registry
/// and the keymap. A flash message replaces it for one draw.
fn render_hints(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(msg) = &app.flash {
        frame.render_widget(Paragraph::new(format!(" {msg}")).style(theme.warning), area);
        return;
    }
    let ctx = app.context();
    let mut spans = Vec::new();
    for info in action::REGISTRY.iter().filter(|i| i.hint) {
        let applies =
            info.contexts.contains(&ctx) || (info.contexts.contains(&Context::Global) && ctx_allows_global(ctx));
        if !applies {
            continue;
        }
        let keys = app.keys(ctx, info.action);
        let Some(key) = keys.first() else { continue };
        let style = if info.mutating && app.read_only { theme.muted } else { theme.hint_desc };
        spans.push(Span::styled(format!(" {key} "), theme.hint_key));
        spans.push(Span::styled(format!(" {} ", short_desc(info.action)), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Text-entry contexts hide global hints (typing "q" there types a q).
fn ctx_allows_global(ctx: Context) -> bool {
    !matches!(ctx, Context::Filter | Context::Palette | Context::Prompt)
}

fn short_desc(a: Action) -> &'static str {
    match a {
        Action::Quit => "quit",
        Action::Help => "help",
        Action::Palette => "commands",
        Action::Filter => "filter",
        Action::ToggleExpand => "expand",
        Action::Open => "open",
        Action::Back => "back",
        Action::SortNext => "sort",
        Action::ToggleLog => "app log",
        Action::Confirm => "ok",
        Action::Cancel => "cancel",
        Action::OpenLogs => "logs",
        Action::OpenDeploy => "deploy",
        Action::OpenReleases => "releases",
        Action::Rollback => "rollback",
        Action::DeployPause => "pause",
        Action::DeployAbort => "abort",
        Action::LogPause => "pause",
        Action::LogInclude => "show",
        Action::LogExclude => "hide",
        Action::LogSearch => "search",
        Action::LogLevel => "level",
        Action::LogExport => "export",
        Action::OpenBackups => "backups",
        Action::BackupRun => "run backup",
        Action::BackupVerify => "verify",
        Action::BackupRestore => "restore",
        Action::BackupPrune => "prune",
        Action::FocusNext => "jobs/files",
        other => action::info(other).name,
    }
}

/// Style for a host connection state.
pub fn conn_style(theme: &Theme, conn: &crate::fleet::model::ConnState) -> ratatui::style::Style {
    use crate::fleet::model::ConnState::*;
    match conn {
        Connected { .. } => theme.healthy,
        Connecting { .. } => theme.starting,
        Reconnecting { .. } => theme.degraded,
        AuthFailed { .. } | HostKeyChanged { .. } | HostKeyUnknown { .. } | Unreachable { .. } => theme.unhealthy,
    }
}
