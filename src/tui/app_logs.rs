//! The log view's part of `App::update`: opening logs for what is selected, the log
//! actions, and editing the filter fields.

use super::action::Action;
use super::app::{App, Effect, Focus, Screen};
use super::logpane::{JsonMode, LogField, LogPane, WINDOWS};
use super::rows::Row;
use crate::logs::source::Selector;

impl App {
    /// Open the log view: for every marked row when rows are marked (the marks are then
    /// cleared), else for what is selected: a host (hosts pane), a service (all its replicas,
    /// joining new ones), a replica, or the container on the detail screen.
    pub(super) fn open_logs(&mut self, rows: &[Row]) -> Vec<Effect> {
        let (selectors, title) = match &self.screen {
            Screen::Detail { host, container } => {
                let h = &self.fleet.hosts[*host];
                let name = h.container(container).map(|c| c.name.clone()).unwrap_or_else(|| container.clone());
                (
                    vec![Selector::Container { host: Some(h.name.clone()), name: name.clone() }],
                    format!("{}/{name}", h.name),
                )
            }
            _ if !self.marked.is_empty() => {
                let marked = std::mem::take(&mut self.marked);
                let labels: Vec<&str> = marked.iter().map(|(_, l)| l.as_str()).collect();
                let title = match labels.len() {
                    1..=3 => labels.join(" + "),
                    n => format!("{} + {} more", labels[..2].join(" + "), n - 2),
                };
                (marked.iter().map(|(s, _)| s.clone()).collect(), title)
            }
            _ => match self.selection(rows) {
                Some((selector, title)) => (vec![selector], title),
                None => return vec![],
            },
        };
        let mut pane = LogPane::new(title, self.log_budget);
        pane.now = self.now.timestamp_nanos_opt().unwrap_or(0);
        self.logs = Some(pane);
        self.screen = Screen::Logs;
        self.layout_logs();
        vec![Effect::OpenLogs(selectors)]
    }

    /// What the selected row stands for, as a log target and its label: a host (hosts pane),
    /// a service (a group of containers no profile service takes included), a replica.
    fn selection(&self, rows: &[Row]) -> Option<(Selector, String)> {
        if self.focus == Focus::Hosts {
            let h = self.fleet.hosts.get(self.host_selected)?;
            return Some((Selector::Host(h.name.clone()), format!("host {}", h.name)));
        }
        match rows.get(self.selected)? {
            Row::Replica(si, ri) => {
                let r = &self.summaries[*si].replicas[*ri];
                let label = format!("{}/{}", r.host, r.container);
                Some((Selector::Container { host: Some(r.host.clone()), name: r.container.clone() }, label))
            }
            Row::Service(si) => {
                let s = &self.summaries[*si];
                if s.configured {
                    Some((Selector::Service(s.name.clone()), format!("service {}", s.name)))
                } else {
                    Some((Selector::Group(s.name.clone()), s.name.clone()))
                }
            }
        }
    }

    /// Marks the selected row for the log view, or unmarks it.
    pub(super) fn toggle_mark(&mut self, rows: &[Row]) {
        let Some((selector, label)) = self.selection(rows) else { return };
        match self.marked.iter().position(|(s, _)| *s == selector) {
            Some(i) => {
                self.marked.remove(i);
            }
            None => self.marked.push((selector, label)),
        }
        let logs_key = self.keymap.keys_for(super::action::Context::Dashboard, Action::OpenLogs).into_iter().next();
        self.flash = Some(match (self.marked.len(), logs_key) {
            (0, _) => "no rows marked".to_string(),
            (n, Some(k)) => format!("{n} marked: {k} opens their logs together"),
            (n, None) => format!("{n} marked: open_logs shows them together"),
        });
    }

    /// Whether `selector` is marked (the views show it).
    pub fn is_marked(&self, selector: &Selector) -> bool {
        self.marked.iter().any(|(s, _)| s == selector)
    }

    /// Tell the log pane how many rows it has (for paging and following).
    pub(super) fn layout_logs(&mut self) {
        let body = super::view::body_area(self, self.viewport.0, self.viewport.1);
        if let Some(p) = self.logs.as_mut() {
            // borders (2), the status line and the sources line
            p.height = body.height.saturating_sub(4).max(1) as usize;
        }
    }

    pub(super) fn act_logs(&mut self, a: Action) -> Vec<Effect> {
        let Some(p) = self.logs.as_mut() else {
            self.screen = Screen::Dashboard;
            return vec![];
        };
        p.message = None;
        p.now = self.now.timestamp_nanos_opt().unwrap_or(0);
        let page = p.height.max(1) as isize;
        match a {
            Action::Back | Action::Cancel => {
                self.logs = None;
                self.screen = Screen::Dashboard;
                return vec![Effect::CloseLogs];
            }
            Action::Up => p.scroll(-1),
            Action::Down => p.scroll(1),
            Action::PageUp => p.scroll(-page),
            Action::PageDown => p.scroll(page),
            Action::Top => {
                p.follow.pause();
                p.follow.top = 0;
            }
            Action::Bottom => p.follow.resume(p.view.len(), p.height),
            Action::LogPause => {
                if p.follow.following {
                    p.follow.pause();
                } else {
                    p.follow.resume(p.view.len(), p.height);
                }
            }
            Action::LogInclude => p.edit(LogField::Include),
            Action::LogExclude => p.edit(LogField::Exclude),
            Action::LogHighlight => p.edit(LogField::Highlight),
            Action::LogSearch => p.edit(LogField::Search),
            Action::LogFields => p.edit(LogField::Fields),
            Action::LogExport => p.edit(LogField::Export),
            Action::LogNext => p.find(true),
            Action::LogPrev => p.find(false),
            Action::LogCase => {
                p.case_sensitive = !p.case_sensitive;
                p.refilter();
            }
            Action::LogLevel => p.cycle_level(),
            Action::LogWindow => {
                // from an absolute start back to the sliding windows
                p.window = if p.since.take().is_some() { 0 } else { (p.window + 1) % WINDOWS.len() };
                p.refilter();
                return p.window_start().map(Effect::BackfillLogs).into_iter().collect();
            }
            Action::LogSince => p.edit(LogField::Since),
            Action::LogTimestamps => p.timestamps = !p.timestamps,
            Action::LogUtc => p.utc = !p.utc,
            Action::LogWrap => p.wrap = !p.wrap,
            Action::LogAnsi => p.ansi = !p.ansi,
            Action::LogJson => {
                p.json = match p.json {
                    JsonMode::Raw => JsonMode::Pretty,
                    JsonMode::Pretty => JsonMode::Fields,
                    JsonMode::Fields => JsonMode::Raw,
                }
            }
            other => return self.act_global_in_logs(other),
        }
        vec![]
    }

    fn act_global_in_logs(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::Quit => self.should_quit = true,
            // the session keeps streaming into the pane behind help
            Action::Help => self.open_help(),
            Action::Palette => self.palette = Some(Default::default()),
            Action::ToggleLog => self.show_log = !self.show_log,
            _ => {}
        }
        vec![]
    }

    /// Keys while a log field is being typed: confirm applies it, cancel drops the edit.
    pub(super) fn act_log_edit(&mut self, a: Action) -> Vec<Effect> {
        let Some(p) = self.logs.as_mut() else { return vec![] };
        match a {
            Action::Confirm => {
                let field = p.editing.as_ref().map(|(f, _)| *f);
                if let Some(path) = p.commit_edit() {
                    return vec![Effect::ExportLogs(path)];
                }
                if field == Some(LogField::Since) && p.message.is_none() {
                    return p.window_start().map(Effect::BackfillLogs).into_iter().collect();
                }
            }
            Action::Cancel => p.editing = None,
            Action::ClearFilter => {
                if let Some((_, input)) = p.editing.as_mut() {
                    input.clear();
                }
            }
            _ => {}
        }
        vec![]
    }
}
