//! The fleet dashboard: hosts with their connection state and load/mem/disk, then services
//! with replica health at a glance, expandable to containers.

use super::conn_style;
use super::format::{age, bytes, clip};
use crate::fleet::model::ConnState;
use crate::tui::app::{App, Focus};
use crate::tui::rows::Row as VRow;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let host_rows = app.fleet.hosts.len() as u16;
    let hosts_height = (host_rows + 3).min(area.height / 2).max(4);
    let [hosts_area, services_area] =
        Layout::vertical([Constraint::Length(hosts_height), Constraint::Min(3)]).areas(area);
    render_hosts(frame, hosts_area, app, theme);
    render_services(frame, services_area, app, theme);
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

fn render_hosts(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let header = Row::new(["HOST", "STATE", "ADDRESS", "LOAD", "MEM", "DISK", "CTRS", "DETAIL"]).style(theme.muted);
    let rows: Vec<Row> = app
        .fleet
        .hosts
        .iter()
        .map(|h| {
            let (load, mem, disk) = match &h.metrics {
                Some(m) => (
                    format!("{:.2}", m.load1),
                    format!("{:.0}%", m.mem_used_percent()),
                    format!("{:.0}%", m.disk_used_percent()),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            let detail = match (h.conn.error(), &h.docker_error) {
                (Some(e), _) if !h.conn.is_connected() => Span::styled(e.to_string(), theme.error),
                (_, Some(e)) => Span::styled(format!("docker: {e}"), theme.error),
                _ => Span::styled(
                    h.docker_version.as_ref().map(|v| format!("docker {v}")).unwrap_or_default(),
                    theme.muted,
                ),
            };
            Row::new(vec![
                Cell::from(h.name.clone()),
                Cell::from(Span::styled(conn_text(&h.conn, app.now), conn_style(theme, &h.conn))),
                Cell::from(h.address.clone()),
                Cell::from(load),
                Cell::from(mem),
                Cell::from(disk),
                Cell::from(h.containers.len().to_string()),
                Cell::from(detail),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(14),
        Constraint::Length(20),
        Constraint::Length(24),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Min(10),
    ];
    let focused = app.focus == Focus::Hosts;
    let table = Table::new(rows, widths)
        .header(header)
        .block(block(format!(" Hosts ({}) ", app.fleet.hosts.len()), focused, theme))
        .row_highlight_style(if focused { theme.selection } else { ratatui::style::Style::default() });
    let mut state = TableState::default().with_selected(focused.then_some(app.host_selected));
    frame.render_stateful_widget(table, area, &mut state);
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
    let header = Row::new(["SERVICE / CONTAINER", "REPLICAS", "HEALTH", "IMAGE", "CPU", "MEM", "RST", "UP", "WHY"])
        .style(theme.muted);
    let table_rows: Vec<Row> = rows.iter().map(|r| service_row(app, theme, *r)).collect();
    let widths = [
        Constraint::Length(30),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(26),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Min(10),
    ];
    let table = Table::new(table_rows, widths)
        .header(header)
        .block(block(title, focused, theme))
        .row_highlight_style(if focused { theme.selection } else { ratatui::style::Style::default() });
    let mut state = TableState::default().with_selected(focused.then_some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn service_row<'a>(app: &'a App, theme: &Theme, row: VRow) -> Row<'a> {
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
                .find(|r| r.health != crate::fleet::health::Health::Healthy)
                .map(|r| format!("{}: {}", r.host, r.reason))
                .unwrap_or_default();
            let images: Vec<&str> = {
                let mut v: Vec<&str> = s.replicas.iter().map(|r| r.image.as_str()).collect();
                v.sort();
                v.dedup();
                v
            };
            Row::new(vec![
                Cell::from(Line::from(vec![Span::raw(format!("{marker} ")), Span::styled(s.name.clone(), name_style)])),
                Cell::from(Span::styled(format!("{}/{}", s.healthy, s.total), theme.health(s.health))),
                Cell::from(Span::styled(s.health.label(), theme.health(s.health))),
                Cell::from(clip(&images.join(", "), 26)),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
                Cell::from(Span::styled(why, theme.muted)),
            ])
        }
        VRow::Replica(si, ri) => {
            let r = &app.summaries[si].replicas[ri];
            let host = &app.fleet.hosts[r.host_index];
            let c = host.container(&r.container_id);
            let usage = host.usage.get(&r.container_id);
            let up = c
                .and_then(|c| c.started_at.filter(|_| c.is_running()))
                .map(|t| age(t, app.now))
                .unwrap_or_else(|| "-".into());
            Row::new(vec![
                Cell::from(format!("   {}/{}", r.host, clip(&r.container, 20))),
                Cell::from(Span::styled(c.map(|c| c.state.clone()).unwrap_or_default(), theme.muted)),
                Cell::from(Span::styled(r.health.label(), theme.health(r.health))),
                Cell::from(clip(&r.image, 26)),
                Cell::from(usage.map(|u| format!("{:.1}%", u.cpu_percent)).unwrap_or_else(|| "-".into())),
                Cell::from(usage.map(|u| bytes(u.mem_bytes)).unwrap_or_else(|| "-".into())),
                Cell::from(c.map(|c| c.restart_count.to_string()).unwrap_or_default()),
                Cell::from(up),
                Cell::from(Span::styled(r.reason.clone(), theme.health(r.health))),
            ])
        }
    }
}
