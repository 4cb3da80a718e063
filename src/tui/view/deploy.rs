//! The deploy wizard (image choice, plan, progress per replica, outcome with the evidence of
//! a failed health gate) and the releases view.

use super::format::clip;
use crate::deploy::journal::ReleaseState;
use crate::deploy::runner::Phase;
use crate::fleet::health::Health;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::wizard::Step;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

fn block<'a>(title: String, theme: &Theme) -> Block<'a> {
    Block::default().borders(Borders::ALL).border_style(theme.border_focused).title(Span::styled(title, theme.title))
}

fn phase_style(theme: &Theme, p: Phase) -> (Style, &'static str) {
    match p {
        Phase::Pending => (theme.muted, "pending"),
        Phase::Replacing => (theme.starting, "replacing"),
        Phase::WaitingHealthy => (theme.starting, "health gate…"),
        Phase::Healthy => (theme.healthy, "healthy"),
        Phase::Failed => (theme.unhealthy, "FAILED"),
        Phase::RollingBack => (theme.degraded, "rolling back"),
        Phase::RolledBack => (theme.degraded, "rolled back"),
    }
}

fn state_style(theme: &Theme, s: ReleaseState) -> Style {
    match s {
        ReleaseState::Succeeded => theme.healthy,
        ReleaseState::InProgress => theme.starting,
        ReleaseState::FailedRolledBack | ReleaseState::Aborted => theme.degraded,
        ReleaseState::Failed => theme.unhealthy,
    }
}

pub fn render_wizard(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(w) = &app.wizard else { return };
    let mut lines: Vec<Line> = Vec::new();
    let title = match &w.step {
        Step::PickImage { choices, selected, typed, loading } => {
            if let Some(Some(manager)) = &w.swarm {
                lines.push(Line::styled(
                    format!("{} is a Swarm service: the engine updates it, through the manager {manager}", w.service),
                    theme.accent,
                ));
            }
            lines.push(Line::raw("Pick the image to deploy (images present on the service's hosts), or type one:"));
            lines.push(Line::from(vec![
                Span::styled("image: ", theme.accent),
                Span::raw(typed.value.clone()),
                Span::styled("▏", theme.accent),
            ]));
            lines.push(Line::raw(""));
            if *loading {
                lines.push(Line::styled("looking for images on the hosts…", theme.muted));
            }
            for (i, c) in choices.iter().enumerate() {
                let style = if i == *selected && typed.value.is_empty() { theme.selection } else { theme.base };
                lines.push(Line::styled(format!("  {c}"), style));
            }
            format!(" Deploy {} · choose an image ", w.service)
        }
        Step::Plan { plan, confirm } => {
            for l in plan.to_text().lines() {
                let style = if l.starts_with("warning:") { theme.warning } else { theme.base };
                lines.push(Line::styled(l.to_string(), style));
            }
            lines.push(Line::raw(""));
            if app.profile.protected {
                lines.push(super::overlay::typed_confirmation(theme, plan.service(), "enter", "start", &confirm.value));
            } else {
                lines.push(Line::styled(
                    "enter: start the deploy · esc: cancel (nothing has changed yet)",
                    theme.accent,
                ));
            }
            format!(
                " {} {} · plan ",
                if plan.kind() == crate::deploy::journal::ReleaseKind::Rollback { "Rollback" } else { "Deploy" },
                w.service
            )
        }
        Step::Running { plan, paused } => {
            lines.push(Line::from(vec![
                Span::raw(format!("{} -> {}  ", plan.from_image(), plan.to())),
                if *paused {
                    Span::styled(" PAUSE REQUESTED ", theme.degraded)
                } else {
                    Span::styled(" RUNNING ", theme.starting)
                },
            ]));
            format!(" Deploying {} · release {} ", w.service, plan.release_id())
        }
        Step::Done { plan, release } => {
            lines.push(Line::from(vec![
                Span::raw(format!("{} -> {}: ", plan.from_image(), plan.to())),
                Span::styled(release.state.label().to_uppercase(), state_style(theme, release.state)),
            ]));
            if let Some(r) = &release.reason {
                lines.push(Line::styled(r.clone(), theme.error));
            }
            lines.push(Line::styled("enter or esc: back to the dashboard", theme.muted));
            format!(" {} · release {} ", w.service, release.id)
        }
        Step::Planning => {
            let manager = w.swarm.clone().flatten().unwrap_or_default();
            lines.push(Line::styled(
                format!("{} is a Swarm service: reading its spec and tasks through the manager {manager}…", w.service),
                theme.muted,
            ));
            format!(" Deploy {} · plan ", w.service)
        }
        Step::Error(e) => {
            lines.push(Line::styled(e.clone(), theme.error));
            lines.push(Line::styled("esc: back", theme.muted));
            format!(" Deploy {} ", w.service)
        }
    };
    let outer = block(title, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let show_progress = matches!(w.step, Step::Running { .. } | Step::Done { .. });
    if !show_progress {
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        return;
    }
    let replica_rows = w.replicas.len() as u16 + 1;
    let [head, reps, body] = Layout::vertical([
        Constraint::Length(lines.len() as u16),
        Constraint::Length(replica_rows),
        Constraint::Min(3),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(lines), head);
    let mut rep_lines = vec![Line::styled("replicas", theme.title)];
    for (host, container, phase) in &w.replicas {
        let (style, label) = phase_style(theme, *phase);
        rep_lines.push(Line::from(vec![
            Span::raw(format!("  {:<40} ", clip(&format!("{host}/{container}"), 40))),
            Span::styled(label, style),
        ]));
    }
    frame.render_widget(Paragraph::new(rep_lines), reps);
    // Progress, then the evidence of a failed gate: probe answers and the last log lines.
    let mut log: Vec<Line> = w
        .log
        .iter()
        .map(|l| Line::styled(l.clone(), if l.contains("FAILED") { theme.error } else { theme.base }))
        .collect();
    for (host, container, f) in &w.gate_failures {
        log.push(Line::styled(format!("why {host}/{container} failed: {}", f.reason), theme.unhealthy));
        for p in &f.probes {
            let answer = p.http_status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no answer".into());
            log.push(Line::styled(
                format!(
                    "  probe {} {} -> {answer} {}",
                    p.probe,
                    p.url,
                    p.error.clone().unwrap_or_else(|| p.body.clone())
                ),
                theme.muted,
            ));
        }
        if !f.logs.is_empty() {
            log.push(Line::styled(format!("  last log lines of {container}:"), theme.muted));
            log.extend(f.logs.iter().map(|l| Line::styled(format!("  | {l}"), theme.muted)));
        }
    }
    let height = body.height as usize;
    let max_start = log.len().saturating_sub(height);
    let start = if matches!(w.step, Step::Running { .. }) { max_start } else { w.scroll.min(max_start) };
    let visible: Vec<Line> = log.into_iter().skip(start).collect();
    frame.render_widget(Paragraph::new(visible).wrap(Wrap { trim: false }), body);
}

pub fn render_releases(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(v) = &app.releases else { return };
    let outer = block(format!(" Releases · {} ", v.service), theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    if v.loading {
        frame.render_widget(
            Paragraph::new("reading the release journal on the service's hosts…").style(theme.muted),
            inner,
        );
        return;
    }
    if let Some(e) = &v.error {
        frame.render_widget(Paragraph::new(e.clone()).style(theme.error), inner);
        return;
    }
    if v.releases.is_empty() {
        frame.render_widget(Paragraph::new(format!("no releases of {} yet", v.service)).style(theme.muted), inner);
        return;
    }
    let [list_area, detail_area] = Layout::vertical([Constraint::Min(3), Constraint::Length(6)]).areas(inner);
    let items: Vec<ListItem> = v
        .releases
        .iter()
        .rev()
        .map(|r| {
            let took =
                r.ended_at.map(|e| format!("{}s", (e - r.started_at).num_seconds())).unwrap_or_else(|| "…".into());
            let healthy = r.replicas.iter().filter(|o| o.outcome == "healthy").count();
            ListItem::new(Line::from(vec![
                Span::styled(format!("{} ", r.started_at.format("%m-%d %H:%M:%S")), theme.muted),
                Span::raw(format!("{:<8} ", format!("{:?}", r.kind).to_lowercase())),
                Span::raw(format!("{:<24} -> {:<24} ", clip(&r.from_image, 24), clip(&r.to_image, 24))),
                Span::styled(format!("{:<20}", r.state.label()), state_style(theme, r.state)),
                Span::styled(
                    format!(" {healthy}/{} healthy ", r.replicas.len()),
                    theme.health(if healthy == r.replicas.len() { Health::Healthy } else { Health::Degraded }),
                ),
                Span::styled(format!("{took:>5} {}", r.who), theme.muted),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(v.selected));
    frame.render_stateful_widget(List::new(items).highlight_style(theme.selection), list_area, &mut state);
    if let Some(r) = v.releases.iter().rev().nth(v.selected) {
        let mut lines = vec![Line::from(vec![
            Span::styled(r.id.clone(), theme.accent),
            Span::raw(format!("  by {}", r.who)),
            Span::styled(r.message.as_ref().map(|m| format!("  \"{m}\"")).unwrap_or_default(), theme.muted),
        ])];
        if let Some(reason) = &r.reason {
            lines.push(Line::styled(reason.clone(), theme.error));
        }
        if !r.backups.is_empty() {
            lines.push(Line::styled(format!("  backups taken before it: {}", r.backups.join(", ")), theme.muted));
        }
        for o in &r.replicas {
            lines.push(Line::styled(format!("  {}/{}: {}", o.host, o.container, o.outcome), theme.muted));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), detail_area);
    }
}
