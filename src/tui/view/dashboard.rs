//! The fleet dashboard: hosts with their connection state and load/mem/disk, then services
//! with replica health at a glance, expandable to containers. Columns give way by priority
//! on narrow terminals; the last column (the reason) takes what is left.

use super::columns::{constraints, fit, Col};
use super::conn_style;
use super::format::{age, clip, container_usage};
use crate::fleet::health::Health;
use crate::fleet::model::{ConnState, HostState};
use crate::logs::source::Selector;
use crate::tui::app::{App, Focus};
use crate::tui::rows::Row as VRow;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

const HOST_COLS: [Col; 7] = [
    Col { title: "HOST", width: 14, priority: u8::MAX },
    Col { title: "STATE", width: 20, priority: u8::MAX },
    Col { title: "ADDRESS", width: 22, priority: 1 },
    Col { title: "LOAD", width: 5, priority: 4 },
    Col { title: "MEM", width: 4, priority: 5 },
    Col { title: "DISK", width: 4, priority: 3 },
    Col { title: "CTRS", width: 4, priority: 2 },
];

const SERVICE_COLS: [Col; 8] = [
    Col { title: "SERVICE / CONTAINER", width: 30, priority: u8::MAX },
    Col { title: "REPLICAS", width: 8, priority: 7 },
    Col { title: "HEALTH", width: 9, priority: u8::MAX },
    Col { title: "IMAGE", width: 24, priority: 2 },
    Col { title: "CPU", width: 6, priority: 4 },
    Col { title: "MEM", width: 6, priority: 5 },
    Col { title: "RST", width: 3, priority: 1 },
    Col { title: "UP", width: 4, priority: 3 },
];

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let host_rows = app.fleet.hosts.len() as u16;
    let detail_lines = if selected_host_error(app).is_some() { 3 } else { 0 };
    let hosts_height = (host_rows + 3 + detail_lines).min(area.height / 2).max(4);
    let [hosts_area, services_area] =
        Layout::vertical([Constraint::Length(hosts_height), Constraint::Min(3)]).areas(area);
    render_hosts(frame, hosts_area, app, theme);
    render_services(frame, services_area, app, theme);
}

/// With the hosts pane focused, the selected host's whole error is shown under the table.
fn selected_host_error(app: &App) -> Option<(&HostState, String)> {
    if app.focus != Focus::Hosts {
        return None;
    }
    let h = app.fleet.hosts.get(app.host_selected)?;
    let err = match (h.conn.error(), &h.docker_error) {
        (Some(e), _) if !h.conn.is_connected() => e.to_string(),
        (_, Some(e)) => format!("docker: {e}"),
        _ => return None,
    };
    Some((h, err))
}

fn block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title)).border_style(if focused {
        theme.border_focused
    } else {
        theme.border
    })
}

fn conn_text(conn: &ConnState, now: chrono::DateTime<chrono::Utc>) -> String {
    match conn {
        ConnState::Connecting { .. } => "connecting…".into(),
        ConnState::Connected { .. } => "connected".into(),
        ConnState::Reconnecting { since, attempt, .. } => format!("reconnecting #{attempt} {}", age(*since, now)),
        ConnState::Unreachable { since, attempt, .. } => format!("unreachable #{attempt} {}", age(*since, now)),
        other => other.label().into(),
    }
}

fn header<'a>(cols: &[Col], keep: &[usize], last: &'a str, theme: &Theme) -> Row<'a> {
    let mut cells: Vec<Cell> = keep.iter().map(|&i| Cell::from(cols[i].title)).collect();
    cells.push(Cell::from(last));
    Row::new(cells).style(theme.muted)
}

fn pick<'a>(mut cells: Vec<Cell<'a>>, keep: &[usize], last: Cell<'a>) -> Row<'a> {
    let mut out = Vec::with_capacity(keep.len() + 1);
    for (i, c) in cells.drain(..).enumerate() {
        if keep.contains(&i) {
            out.push(c);
        }
    }
    out.push(last);
    Row::new(out)
}

fn render_hosts(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Hosts;
    let outer = block(format!(" Hosts ({}) ", app.fleet.hosts.len()), focused, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let (table_area, detail_area) = match selected_host_error(app) {
        Some(_) => {
            let [t, d] = Layout::vertical([Constraint::Min(2), Constraint::Length(3)]).areas(inner);
            (t, Some(d))
        }
        None => (inner, None),
    };
    let (keep, detail_width) = fit(&HOST_COLS, table_area.width, 24);
    let rows: Vec<Row> = app
        .fleet
        .hosts
        .iter()
        .map(|h| {
            let [load, mem, disk] = match &h.metrics {
                Some(m) => super::format::host_metrics(m),
                None => ["-".into(), "-".into(), "-".into()],
            };
            let detail = match (h.conn.error(), &h.docker_error) {
                (Some(e), _) if !h.conn.is_connected() => Span::styled(clip(e, detail_width as usize), theme.error),
                (_, Some(e)) => Span::styled(clip(&format!("docker: {e}"), detail_width as usize), theme.error),
                _ => Span::styled(
                    h.docker_version.as_ref().map(|v| format!("docker {v}")).unwrap_or_default(),
                    theme.muted,
                ),
            };
            let marked = app.is_marked(&Selector::Host(h.name.clone()));
            let cells = vec![
                Cell::from(mark_line(marked, h.name.clone(), Style::default(), theme)),
                Cell::from(Span::styled(conn_text(&h.conn, app.now), conn_style(theme, &h.conn))),
                Cell::from(clip(&h.address, HOST_COLS[2].width as usize)),
                Cell::from(load),
                Cell::from(mem),
                Cell::from(disk),
                Cell::from(h.containers.len().to_string()),
            ];
            pick(cells, &keep, Cell::from(detail))
        })
        .collect();
    let table = Table::new(rows, constraints(&HOST_COLS, &keep))
        .header(header(&HOST_COLS, &keep, "DETAIL", theme))
        .row_highlight_style(if focused { theme.selection } else { Style::default() });
    let mut state = TableState::default().with_selected(focused.then_some(app.host_selected));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let (Some(area), Some((h, err))) = (detail_area, selected_host_error(app)) {
        let text = Line::from(vec![Span::styled(format!("{}: ", h.name), theme.title), Span::styled(err, theme.error)]);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
    }
}

fn render_services(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows = app.rows();
    let focused = app.focus == Focus::Services;
    let title = format!(" Services ({}) · sort: {} ", app.summaries.len(), app.sort.label());
    if rows.is_empty() {
        let msg = if app.filter.value.is_empty() {
            "no containers yet".to_string()
        } else {
            format!("nothing matches \"{}\"", app.filter.value)
        };
        frame.render_widget(Paragraph::new(msg).style(theme.muted).block(block(title, focused, theme)), area);
        return;
    }
    let outer = block(title, focused, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let (keep, why_width) = fit(&SERVICE_COLS, inner.width, 24);
    let table_rows: Vec<Row> = rows.iter().map(|r| service_row(app, theme, *r, &keep, why_width as usize)).collect();
    let table = Table::new(table_rows, constraints(&SERVICE_COLS, &keep))
        .header(header(&SERVICE_COLS, &keep, "WHY", theme))
        .row_highlight_style(if focused { theme.selection } else { Style::default() });
    let mut state = TableState::default().with_selected(focused.then_some(app.selected));
    frame.render_stateful_widget(table, inner, &mut state);
}

fn service_row<'a>(app: &'a App, theme: &Theme, row: VRow, keep: &[usize], why_width: usize) -> Row<'a> {
    let name_width = SERVICE_COLS[0].width as usize;
    let image_width = SERVICE_COLS[3].width as usize;
    match row {
        VRow::Service(si) => {
            let s = &app.summaries[si];
            let open = app.expanded.contains(&s.name) || !app.filter.value.is_empty();
            let marker = if s.replicas.is_empty() {
                " "
            } else if open {
                "▾"
            } else {
                "▸"
            };
            let name_style = if s.configured { theme.base } else { theme.muted };
            let why = s
                .replicas
                .iter()
                .find(|r| r.health != Health::Healthy)
                .map(|r| format!("{}: {}", r.host, r.reason))
                .unwrap_or_default();
            let mut images: Vec<&str> = s.replicas.iter().map(|r| r.image.as_str()).collect();
            images.sort();
            images.dedup();
            let selector =
                if s.configured { Selector::Service(s.name.clone()) } else { Selector::Group(s.name.clone()) };
            let marked = app.is_marked(&selector);
            let cells = vec![
                Cell::from(Line::from(vec![
                    Span::raw(format!("{marker} ")),
                    mark_span(marked, theme),
                    Span::styled(clip(&s.name, name_width - 2 - usize::from(marked) * 2), name_style),
                ])),
                Cell::from(match s.logs_only {
                    true => Span::styled("logs", theme.muted),
                    false => Span::styled(format!("{}/{}", s.healthy, s.total), theme.health(s.health)),
                }),
                Cell::from(match s.logs_only {
                    true => Span::styled("-", theme.muted),
                    false => Span::styled(s.health.label(), theme.health(s.health)),
                }),
                Cell::from(clip(&images.join(", "), image_width)),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
            ];
            pick(cells, keep, Cell::from(Span::styled(clip(&why, why_width), theme.muted)))
        }
        VRow::Replica(si, ri) => {
            let r = &app.summaries[si].replicas[ri];
            let host = &app.fleet.hosts[r.host_index];
            let stale = !host.conn.is_connected();
            let c = host.container(&r.container_id);
            let [cpu, mem] = match host.usage.get(&r.container_id).filter(|_| !stale) {
                Some(u) => container_usage(u),
                None => ["-".into(), "-".into()],
            };
            let up = c
                .and_then(|c| c.started_at.filter(|_| c.is_running() && !stale))
                .map(|t| age(t, app.now))
                .unwrap_or_else(|| "-".into());
            // Stale values (host unreachable) are shown, but in the "unknown" style.
            let value_style = if stale { theme.unknown } else { theme.base };
            let label = format!("{}/{}", r.host, r.container);
            let marked = app.is_marked(&Selector::Container { host: Some(r.host.clone()), name: r.container.clone() });
            let cells = vec![
                Cell::from(Line::from(vec![
                    Span::raw("  "),
                    mark_span(marked, theme),
                    Span::styled(
                        format!(
                            "{}{}",
                            if marked { "" } else { " " },
                            clip(&label, name_width - 3 - usize::from(marked))
                        ),
                        value_style,
                    ),
                ])),
                Cell::from(Span::styled(c.map(|c| c.state.clone()).unwrap_or_default(), theme.muted)),
                Cell::from(Span::styled(r.health.label(), theme.health(r.health))),
                Cell::from(Span::styled(clip(&r.image, image_width), value_style)),
                Cell::from(cpu),
                Cell::from(mem),
                Cell::from(Span::styled(c.map(|c| c.restart_count.to_string()).unwrap_or_default(), value_style)),
                Cell::from(up),
            ];
            pick(cells, keep, Cell::from(Span::styled(clip(&r.reason, why_width), theme.health(r.health))))
        }
    }
}

/// `✓ ` before a row marked for the log view (nothing otherwise).
fn mark_span(marked: bool, theme: &Theme) -> Span<'static> {
    if marked {
        Span::styled("✓ ", theme.filter_match.add_modifier(Modifier::BOLD))
    } else {
        Span::raw("")
    }
}

fn mark_line(marked: bool, text: String, style: Style, theme: &Theme) -> Line<'static> {
    Line::from(vec![mark_span(marked, theme), Span::styled(text, style)])
}
