//! The log view's state inside the console: the merged store, the filtered view, follow /
//! pause, the filter fields being edited, and display options. Pure state; the log session
//! (the tasks that read the streams) lives in the event loop.

use super::text::TextInput;
use crate::logs::filter::{FilterSpec, LogFilter};
use crate::logs::level::Level;
use crate::logs::line::Entry;
use crate::logs::source::SourceInfo;
use crate::logs::store::LogStore;
use crate::logs::view::{FilteredView, Follow};
use regex::{Regex, RegexBuilder};

/// Which text field of the log view is being edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogField {
    Include,
    Exclude,
    Highlight,
    Search,
    Fields,
    Export,
}

impl LogField {
    pub fn prompt(self) -> &'static str {
        match self {
            LogField::Include => "show only /regex/",
            LogField::Exclude => "hide /regex/",
            LogField::Highlight => "highlight /regex/",
            LogField::Search => "search /regex/",
            LogField::Fields => "JSON fields (comma separated)",
            LogField::Export => "export visible lines to file",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonMode {
    Raw,
    Pretty,
    Fields,
}

/// Time windows offered by the `w` key.
pub const WINDOWS: [(Option<i64>, &str); 5] =
    [(None, "all"), (Some(60), "last 1m"), (Some(300), "last 5m"), (Some(900), "last 15m"), (Some(3600), "last 1h")];

pub struct LogPane {
    /// What is followed, for the title ("service web", "host-1/demo-web-1").
    pub title: String,
    pub store: LogStore,
    pub view: FilteredView,
    pub follow: Follow,
    pub sources: Vec<SourceInfo>,
    /// Lines the streams dropped because the console could not keep up.
    pub dropped: u64,
    pub include: String,
    pub exclude: String,
    pub highlight: Option<Regex>,
    pub highlight_text: String,
    pub search: Option<Regex>,
    pub search_text: String,
    /// View index of the current search match.
    pub search_hit: Option<usize>,
    pub case_sensitive: bool,
    pub min_level: Option<Level>,
    pub window: usize,
    pub timestamps: bool,
    pub utc: bool,
    pub wrap: bool,
    pub json: JsonMode,
    pub fields: Vec<String>,
    pub ansi: bool,
    pub editing: Option<(LogField, TextInput)>,
    /// Rows of the text area at the last layout (for paging and follow).
    pub height: usize,
    pub message: Option<String>,
    /// Unix nanos "now" for the time window (set by the update loop, never read from a clock
    /// while rendering).
    pub now: i64,
}

impl LogPane {
    pub fn new(title: String, budget: usize) -> LogPane {
        LogPane {
            title,
            store: LogStore::new(budget),
            view: FilteredView::new(LogFilter::default()),
            follow: Follow::new(),
            sources: Vec::new(),
            dropped: 0,
            include: String::new(),
            exclude: String::new(),
            highlight: None,
            highlight_text: String::new(),
            search: None,
            search_text: String::new(),
            search_hit: None,
            case_sensitive: false,
            min_level: None,
            window: 0,
            timestamps: true,
            utc: true,
            wrap: false,
            json: JsonMode::Raw,
            fields: ["level", "msg", "message", "error"].map(String::from).to_vec(),
            ansi: true,
            editing: None,
            height: 20,
            message: None,
            now: 0,
        }
    }

    /// Take new entries from the streams.
    pub fn ingest(&mut self, entries: Vec<Entry>) {
        let mut appended = 0u64;
        for e in entries {
            let outcome = self.store.insert(e);
            let change = self.view.on_insert(&self.store, &outcome);
            if change.appended && change.removed_front == 0 && change.inserted_at.is_some() {
                appended += 1;
                continue;
            }
            if appended > 0 {
                self.follow.on_appended(appended, self.view.len(), self.height);
                appended = 0;
            }
            self.follow.on_change(&change, self.view.len(), self.height);
        }
        if appended > 0 {
            self.follow.on_appended(appended, self.view.len(), self.height);
        }
    }

    fn regex(&self, pattern: &str) -> Result<Option<Regex>, String> {
        if pattern.is_empty() {
            return Ok(None);
        }
        RegexBuilder::new(pattern)
            .case_insensitive(!self.case_sensitive)
            .build()
            .map(Some)
            .map_err(|e| format!("invalid regex {pattern:?}: {}", e.to_string().lines().last().unwrap_or("")))
    }

    /// Rebuild the filtered view from the current filter fields.
    pub fn refilter(&mut self) {
        let since = WINDOWS[self.window].0.map(|secs| self.now - secs * 1_000_000_000);
        let spec = FilterSpec {
            include: (!self.include.is_empty()).then(|| self.include.clone()),
            exclude: (!self.exclude.is_empty()).then(|| self.exclude.clone()),
            case_sensitive: self.case_sensitive,
            min_level: self.min_level,
            since,
            include_unleveled: self.min_level.is_none(),
            ..Default::default()
        };
        match LogFilter::new(&spec) {
            Ok(f) => {
                self.view.set_filter(f, &self.store);
                self.search_hit = None;
                self.follow.resume(self.view.len(), self.height);
            }
            Err(e) => self.message = Some(e),
        }
        self.highlight = self.regex(&self.highlight_text).unwrap_or(None);
        self.search = self.regex(&self.search_text).unwrap_or(None);
    }

    /// Start editing a field, pre-filled with its current value.
    pub fn edit(&mut self, field: LogField) {
        let value = match field {
            LogField::Include => self.include.clone(),
            LogField::Exclude => self.exclude.clone(),
            LogField::Highlight => self.highlight_text.clone(),
            LogField::Search => self.search_text.clone(),
            LogField::Fields => self.fields.join(","),
            LogField::Export => format!(
                "fleetdeck-logs-{}.log",
                chrono::DateTime::from_timestamp_nanos(self.now).format("%Y%m%d-%H%M%S")
            ),
        };
        self.editing = Some((field, TextInput { value }));
    }

    /// Finish editing; returns a path to export to when the field was the export path.
    pub fn commit_edit(&mut self) -> Option<String> {
        let (field, input) = self.editing.take()?;
        let v = input.value.trim().to_string();
        match field {
            LogField::Include => self.include = v,
            LogField::Exclude => self.exclude = v,
            LogField::Highlight => self.highlight_text = v,
            LogField::Search => {
                self.search_text = v;
                self.refilter();
                self.find(true);
                return None;
            }
            LogField::Fields => {
                self.fields = v.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect()
            }
            LogField::Export => return (!v.is_empty()).then_some(v),
        }
        self.refilter();
        None
    }

    /// Jump to the next (or previous) search match.
    pub fn find(&mut self, forward: bool) {
        let Some(re) = &self.search else {
            self.message = Some("no search: press the search key first".into());
            return;
        };
        let from = match self.search_hit {
            Some(i) if forward => i + 1,
            Some(i) => i.saturating_sub(1),
            None if forward => self.follow.top,
            None => self.follow.top + self.height,
        };
        match self.view.find(&self.store, re, from.min(self.view.len().saturating_sub(1)), forward) {
            Some(i) => {
                self.search_hit = Some(i);
                self.follow.pause();
                let half = self.height / 2;
                self.follow.top = i.saturating_sub(half).min(self.view.len().saturating_sub(self.height));
                self.message = None;
            }
            None => self.message = Some(format!("no match for /{}/", self.search_text)),
        }
    }

    pub fn cycle_level(&mut self) {
        self.min_level = match self.min_level {
            None => Some(Level::Debug),
            Some(Level::Trace) | Some(Level::Debug) => Some(Level::Info),
            Some(Level::Info) => Some(Level::Warn),
            Some(Level::Warn) => Some(Level::Error),
            Some(Level::Error) => None,
        };
        self.refilter();
    }

    pub fn scroll(&mut self, delta: isize) {
        self.follow.scroll(delta, self.view.len(), self.height);
    }

    pub fn label(&self, source: u32) -> &str {
        self.sources.get(source as usize).map(|s| s.label.as_str()).unwrap_or("?")
    }
}
