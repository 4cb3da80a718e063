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
    Since,
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
            LogField::Since => "from (14:05, 2026-11-30 14:05, 10m; empty: all)",
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
    /// Absolute store position of the current search match (shifted by late inserts in
    /// [`ingest`](Self::ingest); resolve it with [`search_hit`](Self::search_hit)).
    search_hit_abs: Option<u64>,
    pub case_sensitive: bool,
    pub min_level: Option<Level>,
    pub window: usize,
    /// An absolute start (unix nanos) typed by the user; replaces the sliding window.
    pub since: Option<i64>,
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
    /// The `now` the time window was last applied at (see [`tick`](Self::tick)).
    window_at: i64,
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
            search_hit_abs: None,
            case_sensitive: false,
            min_level: None,
            window: 0,
            since: None,
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
            window_at: 0,
        }
    }

    /// Take new entries from the streams, all at once: one merge into the store and the view
    /// (`insert_batch`, `on_insert_batch`, `on_batch`: the consumer path `benches/log_store.rs`
    /// measures, ~1.7x the entry-by-entry one; late entries cost one shift per batch).
    pub fn ingest(&mut self, mut entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let outcome = self.store.insert_batch(&mut entries);
        if let Some(hit) = self.search_hit_abs.as_mut() {
            *hit += moved_up_by(&outcome.positions, *hit);
        }
        let change = self.view.on_insert_batch(&self.store, &outcome);
        let counted = self.follow.new_since_pause;
        self.follow.on_batch(&change, self.view.len(), self.height);
        if !self.follow.following {
            // only what lands below the window is news; lines arriving inside it are seen
            let window_end = self.follow.top + self.height;
            let below = change.inserted_at.iter().filter(|&&i| i >= window_end).count();
            self.follow.new_since_pause = counted + below as u64;
        }
        if self.search_hit_abs.is_some_and(|hit| hit < self.store.first_abs()) {
            self.search_hit_abs = None;
        }
    }

    /// View index of the current search match (`None` when it was evicted or filtered out).
    pub fn search_hit(&self) -> Option<usize> {
        let abs = self.search_hit_abs?;
        let i = self.view.index_of_abs(abs);
        (self.view.abs_at(i) == Some(abs)).then_some(i)
    }

    fn regex(&self, what: &str, pattern: &str) -> Result<Option<Regex>, String> {
        if pattern.is_empty() {
            return Ok(None);
        }
        RegexBuilder::new(pattern)
            .case_insensitive(!self.case_sensitive)
            .build()
            .map(Some)
            .map_err(|e| one_line(&format!("invalid {what} pattern {pattern:?}: {e}")))
    }

    /// The filter of the current fields, with `include` and `exclude` as given.
    fn spec(&self, include: &str, exclude: &str) -> FilterSpec {
        FilterSpec {
            include: (!include.is_empty()).then(|| include.to_string()),
            exclude: (!exclude.is_empty()).then(|| exclude.to_string()),
            case_sensitive: self.case_sensitive,
            min_level: self.min_level,
            since: self.window_start(),
            // lines without a level (stack-trace continuations) stay under a level filter
            include_unleveled: true,
            ..Default::default()
        }
    }

    /// Shows `filter`'s lines: following stays following, a paused window keeps its first
    /// line (or the next one the filter lets through).
    fn apply(&mut self, filter: LogFilter) {
        let anchor = if self.follow.following { None } else { self.view.abs_at(self.follow.top) };
        self.view.set_filter(filter, &self.store);
        self.window_at = self.now;
        let len = self.view.len();
        if self.follow.following {
            self.follow.resume(len, self.height);
        } else {
            let top = anchor.map_or(self.follow.top, |abs| self.view.index_of_abs(abs));
            self.follow.top = top.min(len.saturating_sub(self.height));
        }
    }

    /// Rebuilds the view from the filter fields (level, time window, case).
    fn reapply(&mut self) {
        match LogFilter::new(&self.spec(&self.include, &self.exclude)) {
            Ok(f) => self.apply(f),
            Err(e) => self.message = Some(one_line(&e)),
        }
    }

    /// Compiles the highlight and search patterns again (after a case change).
    fn recompile(&mut self) {
        match self.regex("highlight", &self.highlight_text) {
            Ok(re) => self.highlight = re,
            Err(e) => self.message = Some(e),
        }
        match self.regex("search", &self.search_text) {
            Ok(re) => self.search = re,
            Err(e) => self.message = Some(e),
        }
    }

    /// Rebuild the filtered view from the current filter fields, and the highlight and search
    /// patterns (they follow the case setting).
    pub fn refilter(&mut self) {
        self.reapply();
        self.recompile();
    }

    /// Where the time window starts (an absolute start, or now minus the sliding window).
    pub fn window_start(&self) -> Option<i64> {
        self.since.or(WINDOWS[self.window].0.map(|secs| self.now - secs * 1_000_000_000))
    }

    /// The clock moved to `now_nanos`: a time window slides along, re-applied at most once a
    /// second. Returns whether it was re-applied (the screen may have changed).
    pub fn tick(&mut self, now_nanos: i64) -> bool {
        self.now = now_nanos;
        if self.window == 0 || (now_nanos - self.window_at).abs() < 1_000_000_000 {
            return false;
        }
        self.reapply();
        true
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
            LogField::Since => self
                .since
                .map(|t| {
                    let d = chrono::DateTime::from_timestamp_nanos(t);
                    if self.utc {
                        d.format("%Y-%m-%d %H:%M:%S").to_string()
                    } else {
                        d.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string()
                    }
                })
                .unwrap_or_default(),
        };
        self.editing = Some((field, TextInput { value }));
    }

    /// Finish editing; returns a path to export to when the field was the export path. An
    /// invalid pattern is not taken: the old one stays and `message` says why.
    pub fn commit_edit(&mut self) -> Option<String> {
        let (field, input) = self.editing.take()?;
        let v = input.value.trim().to_string();
        match field {
            LogField::Include | LogField::Exclude => {
                let spec = if field == LogField::Include {
                    self.spec(&v, &self.exclude)
                } else {
                    self.spec(&self.include, &v)
                };
                match LogFilter::new(&spec) {
                    Ok(f) => {
                        if field == LogField::Include {
                            self.include = v;
                        } else {
                            self.exclude = v;
                        }
                        self.apply(f);
                    }
                    Err(e) => self.message = Some(one_line(&e)),
                }
            }
            LogField::Highlight => match self.regex("highlight", &v) {
                Ok(re) => {
                    self.highlight = re;
                    self.highlight_text = v;
                }
                Err(e) => self.message = Some(e),
            },
            LogField::Search => match self.regex("search", &v) {
                Ok(re) => {
                    self.search = re;
                    self.search_text = v;
                    self.search_hit_abs = None;
                    if self.search.is_some() {
                        self.find(true);
                    }
                }
                Err(e) => self.message = Some(e),
            },
            LogField::Fields => {
                self.fields = v.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect()
            }
            LogField::Export => return (!v.is_empty()).then_some(v),
            LogField::Since => match super::log_since::parse_since(&v, self.now, self.utc) {
                Ok(since) => {
                    self.since = since;
                    self.window = 0;
                    self.refilter();
                }
                Err(e) => self.message = Some(one_line(&e)),
            },
        }
        None
    }

    /// Jump to the next (or previous) search match. Without a current match the search starts
    /// at the window: forward from its first row, backward from its last.
    pub fn find(&mut self, forward: bool) {
        let Some(re) = &self.search else {
            self.message = Some("no search: press the search key first".into());
            return;
        };
        let n = self.view.len();
        // `view.find` tries the row after (before) `from` first and `from` itself last
        let from = match self.search_hit() {
            Some(i) => i,
            None if forward => match self.follow.top.min(n.saturating_sub(1)) {
                0 => n.saturating_sub(1),
                top => top - 1,
            },
            None => Some(self.follow.top + self.height).filter(|&b| b < n).unwrap_or(0),
        };
        match self.view.find(&self.store, re, from, forward) {
            Some(i) => {
                self.search_hit_abs = self.view.abs_at(i);
                self.follow.pause();
                let half = self.height / 2;
                self.follow.top = i.saturating_sub(half).min(n.saturating_sub(self.height));
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

    /// The label in a line's prefix ([`SourceInfo::short_label`]).
    ///
    /// [`SourceInfo::short_label`]: crate::logs::source::SourceInfo::short_label
    pub fn short_label(&self, source: u32) -> std::borrow::Cow<'_, str> {
        self.sources.get(source as usize).map_or("?".into(), |s| s.short_label())
    }
}

/// How far the entry that was at absolute position `abs` moved up when a batch went in at
/// `positions` (ascending): by the number of new entries whose slot among the old ones
/// (position minus rank) is at or before it. Those slots never decrease, hence the binary
/// search.
fn moved_up_by(positions: &[u64], abs: u64) -> u64 {
    let (mut lo, mut hi) = (0, positions.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if positions[mid] - mid as u64 <= abs {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo as u64
}

/// A filter or regex error on one line: `invalid include pattern "[": unclosed character class`
/// (the regex crate's errors draw the pattern and a caret over several lines).
fn one_line(e: &str) -> String {
    let mut lines = e.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    match lines.next_back() {
        Some(last) => {
            let head = first.trim_end_matches("regex parse error:").trim_end();
            format!("{head} {}", last.trim_start_matches("error: "))
        }
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{LogLine, StreamKind};

    fn line(ts: i64, source: u32, text: &str) -> Entry {
        Entry::Line(LogLine::new(ts, source, StreamKind::Stdout, text))
    }

    fn all_texts(p: &LogPane) -> Vec<String> {
        p.store.iter().filter_map(Entry::into_line).map(|l| l.text.to_string()).collect()
    }

    fn view_texts(p: &LogPane) -> Vec<String> {
        let rows = p.view.window(&p.store, 0, p.view.len());
        rows.iter().filter_map(|e| e.as_line()).map(|l| l.text.to_string()).collect()
    }

    /// Batches with many late entries: each source's lines in time order, one source after
    /// another, the sources' clocks interleaved (`LogSession::drain` sorts its batches by time,
    /// so real batches are mostly in order; these exercise the late paths).
    fn drained_batches(batches: usize, sources: u32) -> Vec<Vec<Entry>> {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut clocks = vec![0i64; sources as usize];
        let mut n = 0;
        (0..batches)
            .map(|_| {
                let mut batch = Vec::new();
                for s in 0..sources {
                    for _ in 0..next(12) {
                        clocks[s as usize] += 1 + next(20) as i64;
                        n += 1;
                        let word = if next(3) == 0 { "keep" } else { "skip" };
                        let needle = if next(7) == 0 { " needle" } else { "" };
                        batch.push(line(clocks[s as usize], s, &format!("s{s} n{n} {word}{needle}")));
                    }
                }
                batch
            })
            .collect()
    }

    fn pane(budget: usize) -> LogPane {
        let mut p = LogPane::new("test".into(), budget);
        p.height = 10;
        p.include = "keep".into();
        p.refilter();
        p
    }

    /// The previous `ingest`: store, view and follow updated entry by entry (the reference).
    fn ingest_entry_by_entry(p: &mut LogPane, entries: Vec<Entry>) {
        for e in entries {
            let outcome = p.store.insert(e);
            if let Some(hit) = p.search_hit_abs.as_mut() {
                if outcome.abs <= *hit {
                    *hit += 1;
                }
            }
            let change = p.view.on_insert(&p.store, &outcome);
            p.follow.on_change(&change, p.view.len(), p.height);
        }
        if p.search_hit_abs.is_some_and(|hit| hit < p.store.first_abs()) {
            p.search_hit_abs = None;
        }
    }

    fn search(p: &mut LogPane, pattern: &str) {
        p.edit(LogField::Search);
        p.editing.as_mut().expect("editing").1.value = pattern.into();
        assert_eq!(p.commit_edit(), None);
    }

    #[test]
    fn batch_ingest_equals_entry_by_entry() {
        for budget in [1_000_000, 150] {
            let (mut batched, mut single) = (pane(budget), pane(budget));
            for (i, batch) in drained_batches(120, 5).into_iter().enumerate() {
                if i == 40 {
                    // a search pauses the view on a match: both must keep it on the same line
                    search(&mut batched, "needle");
                    search(&mut single, "needle");
                    assert!(!batched.follow.following);
                }
                ingest_entry_by_entry(&mut single, batch.clone());
                batched.ingest(batch);
                let ctx = format!("budget {budget}, batch {i}");
                assert_eq!(all_texts(&batched), all_texts(&single), "{ctx}");
                assert_eq!(view_texts(&batched), view_texts(&single), "{ctx}");
                assert_eq!(
                    (batched.follow.following, batched.follow.top),
                    (single.follow.following, single.follow.top),
                    "{ctx}"
                );
                assert_eq!(batched.search_hit(), single.search_hit(), "{ctx}");
                if let Some(hit) = batched.search_hit() {
                    let text = batched.view.entry_at(&batched.store, hit).and_then(Entry::into_line).unwrap();
                    assert!(text.text.contains("needle"), "{ctx}: the hit left its line: {:?}", text.text);
                }
            }
            assert!(batched.store.late_inserts() > 100, "the batches were interleaved");
        }
    }

    #[test]
    fn new_lines_are_counted_below_the_window_as_drawn_after_the_batch() {
        let mut p = LogPane::new("test".into(), 1000);
        p.height = 3;
        p.ingest((0..10).map(|t| line(t * 10, 0, &format!("t{t}"))).collect());
        p.follow.pause();
        p.follow.top = 4; // rows t4, t5, t6
                          // t55 lands on the last row, then t45 (same batch) pushes it below the window; t95
                          // arrives below it
        p.ingest(vec![line(55, 1, "t55"), line(45, 1, "t45"), line(95, 1, "t95")]);
        assert_eq!(p.follow.top, 4);
        let window: Vec<&str> = p
            .view
            .window(&p.store, p.follow.top, p.height)
            .into_iter()
            .filter_map(Entry::into_line)
            .map(|l| l.text)
            .collect();
        assert_eq!(window, ["t4", "t45", "t5"]);
        assert_eq!(p.follow.new_since_pause, 2, "t55 and t95 are not on screen; t45 is");
        // lines above the window move it down and are not news
        p.ingest(vec![line(5, 1, "t05")]);
        assert_eq!((p.follow.top, p.follow.new_since_pause), (5, 2));
    }

    #[test]
    fn search_hit_moves_with_lines_inserted_before_it() {
        assert_eq!(moved_up_by(&[], 5), 0);
        // old entries 0..=9; new ones went before old 2, before old 2 again, and after old 9
        let positions = [2, 3, 12];
        assert_eq!(moved_up_by(&positions, 1), 0);
        assert_eq!(moved_up_by(&positions, 2), 2);
        assert_eq!(moved_up_by(&positions, 9), 2);
        assert_eq!(moved_up_by(&positions, 10), 3);
    }
}
