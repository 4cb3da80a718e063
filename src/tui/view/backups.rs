//! The backups view: the profile's jobs (newest backup's age against the RPO, clearly marked
//! when breached), the selected job's files, the running or last operation with its output,
//! and the confirmations (restore plan with a typed job name on protected profiles, prune
//! preview of exactly what is deleted).

use crate::backup::{human_age, human_size, BackupFile, JobListing, RpoStatus};
use crate::tui::action::{Action, Context};
use crate::tui::app::App;
use crate::tui::backups::{BackupFocus, BackupsView, Confirm, JobRow, Operation};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

fn block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { theme.border_focused } else { theme.border })
        .title(Span::styled(title, theme.title))
}

/// The RPO cell: text and style.
pub fn rpo_cell(theme: &Theme, rpo: &RpoStatus) -> (String, Style) {
    match rpo {
        RpoStatus::NotSet => ("no RPO".into(), theme.muted),
        RpoStatus::Met { age_secs, rpo_secs } => {
            (format!("ok · {} of {}", human_age(*age_secs), human_age(*rpo_secs)), theme.healthy)
        }
        RpoStatus::Breached { age_secs: Some(a), rpo_secs } => {
            (format!("BREACHED · {} > {}", human_age(*a), human_age(*rpo_secs)), theme.unhealthy)
        }
        RpoStatus::Breached { age_secs: None, rpo_secs } => {
            (format!("BREACHED · no backup (RPO {})", human_age(*rpo_secs)), theme.unhealthy)
        }
    }
}

/// The cursor marks only the name cell, so the status cells keep their colours.
fn name_cell<'a>(theme: &Theme, name: String, selected: bool, style: Style) -> Cell<'a> {
    if selected {
        Cell::from(format!("▶ {name}")).style(theme.selection)
    } else {
        Cell::from(format!("  {name}")).style(style)
    }
}

fn job_row<'a>(theme: &Theme, row: &JobRow, selected: bool) -> Row<'a> {
    let (count, newest, rpo, note) = match &row.listing {
        None => ("".into(), "".into(), ("listing…".to_string(), theme.muted), String::new()),
        Some(Err(e)) => ("".into(), "".into(), ("ERROR".to_string(), theme.error), e.clone()),
        Some(Ok(l)) => {
            let note = match &l.last_failure {
                Some(f) => format!("last run FAILED: {}", f.error.clone().unwrap_or_default()),
                None if !l.directory_exists => "no directory yet".into(),
                None => l.directory.clone(),
            };
            (
                l.backups().count().to_string(),
                l.newest().map(|f| human_age(f.age_secs)).unwrap_or_else(|| "–".into()),
                rpo_cell(theme, &l.rpo),
                note,
            )
        }
    };
    let note_style =
        if note.contains("FAILED") || matches!(row.listing, Some(Err(_))) { theme.error } else { theme.muted };
    Row::new(vec![
        name_cell(theme, row.job.clone(), selected, theme.accent),
        Cell::from(row.host.clone()),
        Cell::from(count),
        Cell::from(newest),
        Cell::from(rpo.0).style(rpo.1),
        Cell::from(note).style(note_style),
    ])
}

fn file_row<'a>(theme: &Theme, f: &BackupFile, selected: bool) -> Row<'a> {
    let (verified, vstyle) = match f.verified {
        Some(true) => ("✓ verified".to_string(), theme.healthy),
        Some(false) => ("✗ FAILED".to_string(), theme.unhealthy),
        None => ("not verified".to_string(), theme.muted),
    };
    let note = match (&f.release, f.safety) {
        (_, true) => "safety (taken before a restore)".to_string(),
        (Some(r), false) => format!("before {r}"),
        (None, false) => String::new(),
    };
    Row::new(vec![
        name_cell(theme, f.name.clone(), selected, if f.safety { theme.muted } else { theme.base }),
        Cell::from(human_size(f.size)),
        Cell::from(human_age(f.age_secs)),
        Cell::from(verified).style(vstyle),
        Cell::from(f.sha256.as_deref().map(|s| s.chars().take(8).collect::<String>()).unwrap_or_else(|| "–".into()))
            .style(theme.muted),
        Cell::from(note).style(theme.muted),
    ])
}

/// `1 job`, `3 jobs`
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn files(n: usize) -> String {
    plural(n, "file")
}

fn files_title(v: &BackupsView, l: Option<&JobListing>) -> String {
    match (v.job(), l) {
        (Some(j), Some(l)) => format!(" {} · {} in {} on {} ", j.job, files(l.files.len()), l.directory, j.host),
        (Some(j), None) => format!(" {} · files ", j.job),
        _ => " files ".into(),
    }
}

fn op_lines<'a>(theme: &Theme, op: &Operation, height: usize) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> =
        op.lines.iter().map(|(l, bad)| Line::styled(l.clone(), if *bad { theme.error } else { theme.base })).collect();
    if op.result.is_none() {
        if let Some((bytes, expected)) = op.progress {
            let of = expected.map(|e| format!(" of about {}", human_size(e))).unwrap_or_default();
            lines.push(Line::styled(format!("written {}{of}", human_size(bytes)), theme.starting));
        }
    }
    let skip = lines.len().saturating_sub(height);
    lines.into_iter().skip(skip).collect()
}

fn op_title(theme: &Theme, op: &Operation) -> (String, Style) {
    match &op.result {
        None => (format!(" {} {} · running… ", op.kind.label(), op.job), theme.starting),
        Some((true, _)) => (format!(" {} {} · done ", op.kind.label(), op.job), theme.healthy),
        Some((false, _)) => (format!(" {} {} · FAILED ", op.kind.label(), op.job), theme.unhealthy),
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(v) = &app.backups else { return };
    let jobs_h = v.jobs.len() as u16 + 3;
    let op_h = if v.op.is_some() { (area.height / 3).max(6) } else { 0 };
    let [jobs_area, files_area, op_area] =
        Layout::vertical([Constraint::Length(jobs_h), Constraint::Min(4), Constraint::Length(op_h)]).areas(area);

    let header = Row::new(["  JOB", "HOST", "BACKUPS", "NEWEST", "RPO", ""]).style(theme.title);
    let focused = v.focus == BackupFocus::Jobs && v.confirm.is_none();
    let rows: Vec<Row> =
        v.jobs.iter().enumerate().map(|(i, r)| job_row(theme, r, focused && i == v.selected_job)).collect();
    let widths = [
        Constraint::Length(20),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(30),
        Constraint::Min(10),
    ];
    let table = Table::new(rows, widths).header(header).block(block(
        format!(" Backups · {} ", plural(v.jobs.len(), "job")),
        focused,
        theme,
    ));
    let mut state = TableState::default().with_selected(Some(v.selected_job));
    frame.render_stateful_widget(table, jobs_area, &mut state);

    let listing = v.listing();
    let focused = v.focus == BackupFocus::Files && v.confirm.is_none();
    let files_block = block(files_title(v, listing), focused, theme);
    match (v.job(), listing) {
        (Some(row), None) => {
            let text = match &row.listing {
                Some(Err(e)) => Line::styled(e.clone(), theme.error),
                _ => Line::styled("listing the backup files on the host…", theme.muted),
            };
            frame.render_widget(Paragraph::new(text).block(files_block).wrap(Wrap { trim: true }), files_area);
        }
        (_, Some(l)) if l.files.is_empty() => {
            let key = app.keys(Context::Backups, Action::BackupRun).first().cloned().unwrap_or_default();
            let text = Line::styled(format!("no backups yet: press {key} to take one"), theme.muted);
            frame.render_widget(Paragraph::new(text).block(files_block), files_area);
        }
        (_, Some(l)) => {
            let header = Row::new(["  FILE", "SIZE", "AGE", "VERIFIED", "SHA256", "NOTE"]).style(theme.title);
            let name_w = l.files.iter().map(|f| f.name.chars().count()).max().unwrap_or(10).clamp(10, 48) as u16 + 2;
            let widths = [
                Constraint::Length(name_w),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Length(12),
                Constraint::Length(8),
                Constraint::Min(10),
            ];
            let rows: Vec<Row> =
                l.files.iter().enumerate().map(|(i, f)| file_row(theme, f, focused && i == v.selected_file)).collect();
            let table = Table::new(rows, widths).header(header).block(files_block);
            // keep the cursor's row in view
            let selected = if v.focus == BackupFocus::Files { v.selected_file } else { 0 };
            let mut state = TableState::default().with_selected(Some(selected));
            frame.render_stateful_widget(table, files_area, &mut state);
        }
        _ => frame.render_widget(files_block, files_area),
    }

    if let Some(op) = &v.op {
        let (title, style) = op_title(theme, op);
        let b = Block::default().borders(Borders::ALL).border_style(style).title(Span::styled(title, style));
        let inner = b.inner(op_area);
        frame.render_widget(b, op_area);
        frame.render_widget(Paragraph::new(op_lines(theme, op, inner.height as usize)), inner);
    }
    if let Some(c) = &v.confirm {
        render_confirm(frame, area, app, theme, c);
    }
}

fn render_confirm(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, c: &Confirm) {
    let keys = |ctx: Context, a: Action| app.keys(ctx, a).first().cloned().unwrap_or_default();
    let mut lines: Vec<Line> = Vec::new();
    let title = match c {
        Confirm::Restore { plan, typed } => {
            lines.push(Line::from(vec![
                Span::raw("Restore "),
                Span::styled(plan.file.name.clone(), theme.accent),
                Span::raw(format!(
                    " ({}, {} old) of job {} on {}:",
                    human_size(plan.file.size),
                    human_age(plan.file.age_secs),
                    plan.job,
                    plan.host
                )),
            ]));
            for (i, s) in plan.steps.iter().enumerate() {
                lines.push(Line::raw(format!(" {}. {s}", i + 1)));
            }
            lines.push(Line::raw(""));
            if app.profile.protected {
                let (ok, no) = (keys(Context::Filter, Action::Confirm), keys(Context::Filter, Action::Cancel));
                lines.push(super::overlay::typed_confirmation(theme, &plan.confirm_word, &ok, "restore", &typed.value));
                lines.push(Line::styled(format!("{no}: cancel (nothing has changed)"), theme.muted));
            } else {
                let (ok, no) = (keys(Context::Prompt, Action::Confirm), keys(Context::Prompt, Action::Cancel));
                lines.push(Line::styled(format!("{ok}: restore · {no}: cancel (nothing has changed)"), theme.accent));
            }
            " Restore · what will happen "
        }
        Confirm::Prune { plan } => {
            let (ok, no) = (keys(Context::Prompt, Action::Confirm), keys(Context::Prompt, Action::Cancel));
            if plan.delete.is_empty() {
                lines.push(Line::raw(format!(
                    "{}: nothing is past retention ({} kept).",
                    plan.job,
                    files(plan.keep.len())
                )));
                lines.push(Line::styled(format!("{ok} or {no}: close"), theme.muted));
            } else {
                lines.push(Line::raw(format!(
                    "Delete exactly {} of {} on {} ({}); {} stay:",
                    if plan.delete.len() == 1 {
                        "this file".to_string()
                    } else {
                        format!("these {} files", plan.delete.len())
                    },
                    plan.job,
                    plan.host,
                    human_size(plan.bytes),
                    files(plan.keep.len())
                )));
                for d in &plan.delete {
                    lines.push(Line::from(vec![
                        Span::styled(format!("  delete {}", d.file.name), theme.warning),
                        Span::styled(
                            format!(
                                "  {} · {} old · {}",
                                human_size(d.file.size),
                                human_age(d.file.age_secs),
                                d.reason
                            ),
                            theme.muted,
                        ),
                    ]));
                }
                lines.push(Line::raw(""));
                lines.push(Line::styled(format!("{ok}: delete · {no}: cancel (nothing is deleted)"), theme.accent));
            }
            " Prune · past retention "
        }
    };
    let width = area.width.saturating_sub(8).clamp(20, 110);
    let inner_w = width.saturating_sub(2).max(1) as usize;
    let height: u16 = lines.iter().map(|l| l.width().div_ceil(inner_w).max(1) as u16).sum::<u16>() + 2;
    let rect = super::overlay::centered(area, width, height);
    frame.render_widget(Clear, rect);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(title, theme.title))
        .style(theme.base);
    frame.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: false }), rect);
}
