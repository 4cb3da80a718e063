//! What a log view shows: include/exclude patterns, minimum level, time window and sources.
//! Patterns are matched against the ANSI-stripped text, case-insensitively unless asked.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use regex::{Regex, RegexBuilder};

use crate::logs::level::Level;
use crate::logs::line::{strip_ansi, Entry, LogLine, SourceId};

/// The user-facing description of a filter (what the filter bar and the CLI flags edit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// Regex a line must match; `None` or empty: every line.
    pub include: Option<String>,
    /// Regex a line must not match; `None` or empty: none excluded.
    pub exclude: Option<String>,
    pub case_sensitive: bool,
    /// Lines at or above this level (see `include_unleveled` for lines without one).
    pub min_level: Option<Level>,
    /// Unix nanos, inclusive.
    pub since: Option<i64>,
    /// Unix nanos, exclusive.
    pub until: Option<i64>,
    /// Only these sources; `None`: all.
    pub sources: Option<Vec<SourceId>>,
    /// Whether lines without a detected level pass a level filter (continuations such as stack
    /// traces have none). Default `true`.
    pub include_unleveled: bool,
}

impl Default for FilterSpec {
    fn default() -> Self {
        FilterSpec {
            include: None,
            exclude: None,
            case_sensitive: false,
            min_level: None,
            since: None,
            until: None,
            sources: None,
            include_unleveled: true,
        }
    }
}

/// A compiled [`FilterSpec`].
#[derive(Clone, Debug)]
pub struct LogFilter {
    spec: FilterSpec,
    include: Option<Regex>,
    exclude: Option<Regex>,
    /// Sorted and deduplicated.
    sources: Option<Vec<SourceId>>,
}

impl Default for LogFilter {
    /// The filter that lets everything through.
    fn default() -> Self {
        LogFilter { spec: FilterSpec::default(), include: None, exclude: None, sources: None }
    }
}

impl LogFilter {
    /// Compiles the patterns; the error names the pattern that failed and why.
    pub fn new(spec: &FilterSpec) -> Result<LogFilter, String> {
        let compile = |what: &str, pat: &Option<String>| -> Result<Option<Regex>, String> {
            match pat.as_deref() {
                None | Some("") => Ok(None),
                Some(p) => RegexBuilder::new(p)
                    .case_insensitive(!spec.case_sensitive)
                    .build()
                    .map(Some)
                    .map_err(|e| format!("invalid {what} pattern {p:?}: {e}")),
            }
        };
        let sources = spec.sources.as_ref().map(|s| {
            let mut s = s.clone();
            s.sort_unstable();
            s.dedup();
            s
        });
        Ok(LogFilter {
            include: compile("include", &spec.include)?,
            exclude: compile("exclude", &spec.exclude)?,
            sources,
            spec: spec.clone(),
        })
    }

    pub fn spec(&self) -> &FilterSpec {
        &self.spec
    }

    /// True when the filter lets every entry through.
    pub fn is_empty(&self) -> bool {
        self.include.is_none()
            && self.exclude.is_none()
            && self.spec.min_level.is_none()
            && self.spec.since.is_none()
            && self.spec.until.is_none()
            && self.sources.is_none()
    }

    fn source_passes(&self, source: SourceId) -> bool {
        self.sources.as_ref().is_none_or(|s| s.binary_search(&source).is_ok())
    }

    /// Cheap checks first (source, time, level), then the patterns on the stripped text.
    pub fn matches<T: AsRef<str>>(&self, line: &LogLine<T>) -> bool {
        if !self.source_passes(line.source)
            || self.spec.since.is_some_and(|s| line.ts < s)
            || self.spec.until.is_some_and(|u| line.ts >= u)
        {
            return false;
        }
        if let Some(min) = self.spec.min_level {
            match line.level {
                Some(l) if l < min => return false,
                None if !self.spec.include_unleveled => return false,
                _ => {}
            }
        }
        if self.include.is_none() && self.exclude.is_none() {
            return true;
        }
        let text = strip_ansi(line.text.as_ref());
        self.include.as_ref().is_none_or(|re| re.is_match(&text))
            && !self.exclude.as_ref().is_some_and(|re| re.is_match(&text))
    }

    /// Lines as [`matches`](Self::matches); gaps pass when their source passes and their time
    /// range overlaps the window, whatever the patterns and level (lost lines are never hidden).
    pub fn matches_entry<T: AsRef<str>>(&self, e: &Entry<T>) -> bool {
        match e {
            Entry::Line(l) => self.matches(l),
            Entry::Gap(g) => {
                self.source_passes(g.source)
                    && self.spec.since.is_none_or(|s| g.to_ts.max(g.from_ts) >= s)
                    && self.spec.until.is_none_or(|u| g.from_ts.min(g.to_ts) < u)
            }
        }
    }
}

/// Reads a time bound for `--since`/`--until` or the filter bar, in unix nanos:
/// durations ago (`30s`, `5m`, `1h30m`, `2d`, `1w`, `500ms`), `now`, RFC 3339
/// (`2026-11-30T03:00:00Z`, `…+01:00`), a UTC date and time (`2026-11-30 03:00[:05[.123]]`,
/// also with `T`), a UTC date (`2026-11-30`, midnight) or a UTC time of today (`03:00[:05]`).
pub fn parse_time_window(s: &str, now_nanos: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "cannot read {s:?} as a time: use a duration ago (30s, 5m, 1h, 2d), \
             2026-11-30T03:00:00Z, 2026-11-30 03:00 (UTC) or 03:00 (today, UTC)"
        )
    };
    if s.eq_ignore_ascii_case("now") {
        return Ok(now_nanos);
    }
    if let Some(d) = parse_duration_nanos(s) {
        return Ok(now_nanos.saturating_sub(d));
    }
    let nanos = |dt: DateTime<Utc>| dt.timestamp_nanos_opt().ok_or_else(|| format!("{s:?} is out of range"));
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return nanos(dt.with_timezone(&Utc));
    }
    let today = DateTime::from_timestamp_nanos(now_nanos).date_naive();
    match parse_wall_clock(s, today) {
        Some(dt) => nanos(Utc.from_utc_datetime(&dt)),
        None => Err(bad()),
    }
}

/// A date and/or time without a zone, as a wall-clock reading: `2026-11-30 03:00[:05[.123]]`
/// (also with `T`), a date (midnight), or a time of `today`.
pub fn parse_wall_clock(s: &str, today: NaiveDate) -> Option<NaiveDateTime> {
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN));
    }
    ["%H:%M:%S%.f", "%H:%M"].iter().find_map(|fmt| NaiveTime::parse_from_str(s, fmt).ok()).map(|t| today.and_time(t))
}

/// `1h30m`, `500ms`, `2d` → nanoseconds; `None` unless the whole string is number+unit groups.
fn parse_duration_nanos(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (mut i, mut total) = (0usize, 0i64);
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit: i64 = match &s[ustart..i] {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "w" => 7 * 86_400 * 1_000_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{Gap, GapReason, StreamKind};

    const SEC: i64 = 1_000_000_000;
    const NOW: i64 = 1_796_007_845 * SEC; // 2026-11-30T03:04:05Z

    fn line(ts: i64, source: SourceId, text: &str) -> LogLine {
        LogLine::new(ts, source, StreamKind::Stdout, text)
    }

    fn filter(f: impl FnOnce(&mut FilterSpec)) -> LogFilter {
        let mut spec = FilterSpec::default();
        f(&mut spec);
        LogFilter::new(&spec).unwrap()
    }

    #[test]
    fn empty_filter_passes_everything() {
        let f = LogFilter::new(&FilterSpec::default()).unwrap();
        assert!(f.is_empty());
        assert!(f.matches(&line(0, 9, "anything")));
        let f = filter(|s| s.include = Some(String::new()));
        assert!(f.is_empty(), "an empty pattern is no pattern");
        assert!(!filter(|s| s.min_level = Some(Level::Info)).is_empty());
    }

    #[test]
    fn include_exclude_and_case() {
        let f = filter(|s| {
            s.include = Some("time(out|d out)".into());
            s.exclude = Some("healthz".into());
        });
        assert!(f.matches(&line(0, 0, "upstream TIMEOUT after 5s")));
        assert!(f.matches(&line(0, 0, "request timed out")));
        assert!(!f.matches(&line(0, 0, "GET /healthz timeout")));
        assert!(!f.matches(&line(0, 0, "all good")));
        let f = filter(|s| {
            s.include = Some("Timeout".into());
            s.case_sensitive = true;
        });
        assert!(f.matches(&line(0, 0, "Timeout")));
        assert!(!f.matches(&line(0, 0, "timeout")));
        // matching sees the text without ANSI sequences
        let f = filter(|s| s.include = Some("^ERROR boom$".into()));
        assert!(f.matches(&line(0, 0, "\x1b[31mERROR\x1b[0m boom")));
    }

    #[test]
    fn level_filter_and_unleveled_lines() {
        let f = filter(|s| s.min_level = Some(Level::Warn));
        assert!(f.matches(&line(0, 0, "ERROR x")));
        assert!(f.matches(&line(0, 0, "WARN x")));
        assert!(!f.matches(&line(0, 0, "INFO x")));
        assert!(f.matches(&line(0, 0, "\tat Foo.bar(Foo.java:1)")), "unleveled lines pass by default");
        let f = filter(|s| {
            s.min_level = Some(Level::Warn);
            s.include_unleveled = false;
        });
        assert!(!f.matches(&line(0, 0, "\tat Foo.bar(Foo.java:1)")));
        assert!(f.matches(&line(0, 0, "ERROR x")));
    }

    #[test]
    fn time_window_and_sources() {
        let f = filter(|s| {
            s.since = Some(100);
            s.until = Some(200);
            s.sources = Some(vec![7, 3, 7]);
        });
        assert!(f.matches(&line(100, 3, "x")), "since is inclusive");
        assert!(f.matches(&line(199, 7, "x")));
        assert!(!f.matches(&line(200, 3, "x")), "until is exclusive");
        assert!(!f.matches(&line(99, 3, "x")));
        assert!(!f.matches(&line(150, 4, "x")));
    }

    #[test]
    fn gaps_pass_when_source_and_window_overlap() {
        let gap = |source, from_ts, to_ts| -> Entry {
            Entry::Gap(Gap { source, count: 5, from_ts, to_ts, reason: GapReason::StreamOverflow })
        };
        let f = filter(|s| {
            s.include = Some("never matches anything".into());
            s.min_level = Some(Level::Error);
            s.since = Some(100);
            s.until = Some(200);
            s.sources = Some(vec![1]);
        });
        assert!(f.matches_entry(&gap(1, 50, 100)), "touches since");
        assert!(f.matches_entry(&gap(1, 150, 160)));
        assert!(f.matches_entry(&gap(1, 199, 500)));
        assert!(!f.matches_entry(&gap(1, 10, 99)));
        assert!(!f.matches_entry(&gap(1, 200, 300)));
        assert!(!f.matches_entry(&gap(2, 150, 160)), "other source");
        assert!(!f.matches_entry(&Entry::Line(line(150, 1, "x"))));
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        let err = LogFilter::new(&FilterSpec { include: Some("foo(".into()), ..Default::default() }).unwrap_err();
        assert!(err.starts_with("invalid include pattern \"foo(\": "), "{err}");
        assert!(err.contains("unclosed group"), "{err}");
        let err = LogFilter::new(&FilterSpec { exclude: Some("[z-a]".into()), ..Default::default() }).unwrap_err();
        assert!(err.starts_with("invalid exclude pattern \"[z-a]\": "), "{err}");
    }

    #[test]
    fn time_windows() {
        let p = |s| parse_time_window(s, NOW);
        assert_eq!(p("30s"), Ok(NOW - 30 * SEC));
        assert_eq!(p("5m"), Ok(NOW - 300 * SEC));
        assert_eq!(p("15m"), Ok(NOW - 900 * SEC));
        assert_eq!(p("1h"), Ok(NOW - 3600 * SEC));
        assert_eq!(p(" 2d "), Ok(NOW - 2 * 86_400 * SEC));
        assert_eq!(p("1h30m"), Ok(NOW - 5400 * SEC));
        assert_eq!(p("500ms"), Ok(NOW - SEC / 2));
        assert_eq!(p("now"), Ok(NOW));
        let day = 1_795_996_800 * SEC; // 2026-11-30T00:00:00Z
        assert_eq!(p("2026-11-30T03:00:00Z"), Ok(day + 3 * 3600 * SEC));
        assert_eq!(p("2026-11-30T04:00:00+01:00"), Ok(day + 3 * 3600 * SEC));
        assert_eq!(p("2026-11-30T03:00:00.25Z"), Ok(day + 3 * 3600 * SEC + SEC / 4));
        assert_eq!(p("2026-11-30 03:00"), Ok(day + 3 * 3600 * SEC));
        assert_eq!(p("2026-11-30 03:00:07"), Ok(day + 3 * 3600 * SEC + 7 * SEC));
        assert_eq!(p("2026-11-30T03:00"), Ok(day + 3 * 3600 * SEC));
        assert_eq!(p("2026-11-30"), Ok(day));
        assert_eq!(p("03:00"), Ok(day + 3 * 3600 * SEC));
        assert_eq!(p("23:59:30"), Ok(day + 86_370 * SEC), "today, even when later than now");
        for bad in ["", "yesterday", "5x", "m5", "25:00", "2026-13-01", "1h-5m"] {
            let err = p(bad).unwrap_err();
            assert!(err.starts_with(&format!("cannot read {bad:?} as a time")), "{err}");
        }
    }
}
