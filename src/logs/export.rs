//! Writing a view to a file, and JSON log lines made readable.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde_json::Value;

use crate::logs::line::{strip_ansi, Entry, Gap, SourceId};
use crate::logs::store::LogStore;
use crate::logs::view::FilteredView;

/// Writes the view's entries to `path` (created or truncated), one line each:
/// `2026-11-30T03:04:05.123Z host-1/web-1 [stderr] text`, gaps as
/// `--- 1234 lines dropped from host-1/web-1 (consumer too slow) ---`. When the store evicted
/// entries, a first line says so (`--- N older lines dropped (line budget B) ---`).
/// Timestamps are UTC (`Z`) or local time with its offset; `strip` removes ANSI sequences;
/// newlines inside a text are written as `\n`. Returns the number of lines written; errors
/// name the path. (All at once: [`Export`] does it a slice at a time.)
pub fn export(
    path: &Path,
    view: &FilteredView,
    store: &LogStore,
    label: impl Fn(SourceId) -> String,
    utc: bool,
    strip: bool,
) -> io::Result<usize> {
    let mut job = Export::start(path, view, store, label, utc, strip)?;
    loop {
        if let Some(n) = job.step(store, usize::MAX)? {
            return Ok(n);
        }
    }
}

/// An export in slices, so that a console can write a large view without stopping: the
/// positions of the view are taken at the start, and the store must not change until it is
/// done (the console holds new lines back meanwhile).
pub struct Export<L: Fn(SourceId) -> String> {
    path: std::path::PathBuf,
    w: BufWriter<File>,
    positions: Vec<u64>,
    next: usize,
    written: usize,
    label: L,
    utc: bool,
    strip: bool,
}

impl<L: Fn(SourceId) -> String> Export<L> {
    /// Creates the file and writes the eviction notice; `label` names a source.
    pub fn start(
        path: &Path,
        view: &FilteredView,
        store: &LogStore,
        label: L,
        utc: bool,
        strip: bool,
    ) -> io::Result<Self> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
        let mut w = BufWriter::new(File::create(path).map_err(named)?);
        let mut written = 0;
        if let Some(notice) = store.eviction_notice() {
            writeln!(w, "--- {notice} ---").map_err(named)?;
            written += 1;
        }
        let positions: Vec<u64> = (0..view.len()).filter_map(|i| view.abs_at(i)).collect();
        Ok(Export { path: path.to_path_buf(), w, positions, next: 0, written, label, utc, strip })
    }

    /// Writes up to `max` more lines; returns the number written in all once done.
    pub fn step(&mut self, store: &LogStore, max: usize) -> io::Result<Option<usize>> {
        let path = self.path.clone();
        let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
        let mut buf = String::new();
        let mut r = store.reader();
        let end = self.next.saturating_add(max).min(self.positions.len());
        for &abs in &self.positions[self.next..end] {
            let Some(e) = r.get(abs) else { continue };
            buf.clear();
            format_entry_into(&mut buf, &e, &self.label, self.utc, self.strip);
            buf.push('\n');
            self.w.write_all(buf.as_bytes()).map_err(named)?;
            self.written += 1;
        }
        self.next = end;
        if self.next < self.positions.len() {
            return Ok(None);
        }
        self.w.flush().map_err(named)?;
        Ok(Some(self.written))
    }

    /// Lines of the view written so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.positions.len())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One entry as [`export`] writes it, without the newline (also for copying to a clipboard).
pub fn format_entry<T: AsRef<str>>(e: &Entry<T>, label: &dyn Fn(SourceId) -> String, utc: bool, strip: bool) -> String {
    let mut s = String::new();
    format_entry_into(&mut s, e, label, utc, strip);
    s
}

fn format_entry_into<T: AsRef<str>>(
    out: &mut String,
    e: &Entry<T>,
    label: &dyn Fn(SourceId) -> String,
    utc: bool,
    strip: bool,
) {
    match e {
        Entry::Gap(g) => out.push_str(&gap_text(g, &label(g.source))),
        Entry::Line(l) => {
            out.push_str(&format_ts(l.ts, utc));
            out.push(' ');
            out.push_str(&label(l.source));
            out.push_str(" [");
            out.push_str(l.stream.as_str());
            out.push_str("] ");
            let text = if strip { strip_ansi(l.text.as_ref()) } else { Cow::Borrowed(l.text.as_ref()) };
            if text.contains(['\n', '\r']) {
                out.push_str(&text.replace('\n', "\\n").replace('\r', "\\r"));
            } else {
                out.push_str(&text);
            }
        }
    }
}

/// `--- 1234 lines dropped from host-1/web-1 (consumer too slow) ---`
pub fn gap_text(g: &Gap, label: &str) -> String {
    let what = match g.count {
        0 => "lines".to_string(), // a reconnect that cannot count them
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    };
    format!("--- {what} dropped from {label} ({}) ---", g.reason.describe())
}

/// RFC 3339 with milliseconds: `2026-11-30T03:04:05.123Z`, or local time with its offset.
pub fn format_ts(nanos: i64, utc: bool) -> String {
    let dt = DateTime::<Utc>::from_timestamp_nanos(nanos);
    if utc {
        dt.to_rfc3339_opts(SecondsFormat::Millis, true)
    } else {
        dt.with_timezone(&Local).to_rfc3339_opts(SecondsFormat::Millis, false)
    }
}

/// A JSON log line made readable: pretty-printed over several lines in the original key order
/// (`fields` = `None`), or only the chosen fields as `level=warn msg="disk full"` (dotted
/// names reach into nested objects; missing fields are left out). `None` when the text is not
/// a JSON object.
pub fn format_json(text: &str, fields: Option<&[String]>) -> Option<String> {
    let t = text.trim();
    if !t.starts_with('{') {
        return None;
    }
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(t) else { return None };
    let Some(fields) = fields else { return pretty(t) };
    let mut parts = Vec::new();
    for f in fields {
        let v = map.get(f.as_str()).or_else(|| {
            let mut parts = f.split('.');
            let first = map.get(parts.next()?)?;
            parts.try_fold(first, |v, p| v.get(p))
        });
        if let Some(v) = v {
            parts.push(format!("{f}={}", logfmt_value(v)));
        }
    }
    Some(parts.join(" "))
}

fn logfmt_value(v: &Value) -> String {
    match v {
        Value::String(s) if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// Re-indents valid JSON text (2 spaces), keeping key order and number spelling.
fn pretty(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() * 2);
    let mut depth = 0usize;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 2));
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        match c {
            b'"' => {
                let start = i - 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.extend_from_slice(&b[start..i.min(b.len())]);
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let next = i + b[i..].iter().take_while(|c| c.is_ascii_whitespace()).count();
                if b.get(next) == Some(&close) {
                    out.extend_from_slice(&[c, close]);
                    i = next + 1;
                } else {
                    out.push(c);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::filter::{FilterSpec, LogFilter};
    use crate::logs::line::{GapReason, LogLine, StreamKind};

    const T0: i64 = 1_796_007_845_123_456_789; // 2026-11-30T03:04:05.123456789Z

    fn label(s: SourceId) -> String {
        format!("host-{s}/web-{s}")
    }

    fn build(budget: usize, include: &str) -> (LogStore, FilteredView) {
        let mut store = LogStore::new(budget);
        let spec = FilterSpec { include: Some(include.into()), ..Default::default() };
        let mut view = FilteredView::new(LogFilter::new(&spec).unwrap());
        let entries = [
            Entry::Line(LogLine::new(T0, 1, StreamKind::Stderr, "\x1b[31mERROR\x1b[0m boom")),
            Entry::Line(LogLine::new(T0 + 1_000_000, 2, StreamKind::Stdout, "INFO ok")),
            Entry::Gap(Gap {
                source: 1,
                count: 1234,
                from_ts: T0 + 2,
                to_ts: T0 + 9,
                reason: GapReason::StreamOverflow,
            }),
            Entry::Line(LogLine::new(T0 + 5_000_000_000, 1, StreamKind::File, "WARN two\nlines")),
            Entry::Gap(Gap { source: 2, count: 0, from_ts: T0 + 6, to_ts: T0 + 7, reason: GapReason::Reconnect }),
        ];
        for e in entries {
            let o = store.insert(e);
            view.on_insert(&store, &o);
        }
        (store, view)
    }

    #[test]
    fn writes_exactly_the_filtered_entries_with_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        std::fs::write(&path, "old content that must go\n".repeat(10)).unwrap();
        let (store, view) = build(100, "error|warn");
        assert_eq!(export(&path, &view, &store, label, true, true).unwrap(), 4);
        let got = std::fs::read_to_string(&path).unwrap();
        // gaps sort by their first missing line: right after the line at T0; "INFO ok" is
        // filtered out; the embedded newline is escaped
        let want = "\
2026-11-30T03:04:05.123Z host-1/web-1 [stderr] ERROR boom
--- 1234 lines dropped from host-1/web-1 (consumer too slow) ---
--- lines dropped from host-2/web-2 (lost during reconnect) ---
2026-11-30T03:04:10.123Z host-1/web-1 [file] WARN two\\nlines
";
        assert_eq!(got, want);
        // ANSI kept when not stripping
        export(&path, &view, &store, label, true, false).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("2026-11-30T03:04:05.123Z host-1/web-1 [stderr] \x1b[31mERROR"));
    }

    #[test]
    fn eviction_is_announced_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evicted.log");
        let (store, view) = build(2, "");
        assert_eq!(export(&path, &view, &store, label, true, true).unwrap(), 3);
        let got = std::fs::read_to_string(&path).unwrap();
        assert_eq!(got.lines().next(), Some("--- 3 older lines dropped (line budget 2) ---"));
    }

    #[test]
    fn unwritable_path_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.log");
        let (store, view) = build(10, "");
        let err = export(&path, &view, &store, label, true, true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with(&format!("cannot write {}: ", path.display())), "{err}");
    }

    #[test]
    fn timestamps_and_gap_texts() {
        assert_eq!(format_ts(T0, true), "2026-11-30T03:04:05.123Z");
        let local = format_ts(T0, false);
        assert!(local.len() == 29 && local.contains(".123") && !local.ends_with('Z'), "{local}");
        let g = Gap { source: 3, count: 1, from_ts: 0, to_ts: 0, reason: GapReason::StreamOverflow };
        assert_eq!(gap_text(&g, "h/c"), "--- 1 line dropped from h/c (consumer too slow) ---");
        let e = Entry::Line(LogLine::new(0, 7, StreamKind::Journal, "hi\r"));
        assert_eq!(format_entry(&e, &label, true, false), "1970-01-01T00:00:00.000Z host-7/web-7 [journal] hi\\r");
    }

    #[test]
    fn json_pretty_and_fields() {
        let line = r#" {"level":"warn","msg":"disk full","n":1.50,"ctx":{"path":"/var","tags":[]},"e":{}} "#;
        let want = "{\n  \"level\": \"warn\",\n  \"msg\": \"disk full\",\n  \"n\": 1.50,\n  \"ctx\": {\n    \"path\": \"/var\",\n    \"tags\": []\n  },\n  \"e\": {}\n}";
        assert_eq!(format_json(line, None).as_deref(), Some(want));
        let fields: Vec<String> = ["level", "msg", "ctx.path", "missing", "n"].map(String::from).into();
        assert_eq!(
            format_json(line, Some(&fields)).as_deref(),
            Some(r#"level=warn msg="disk full" ctx.path=/var n=1.5"#)
        );
        let esc = r#"{"s":"a \"quoted\": {x}, [y]","u":"ü"}"#;
        assert_eq!(
            format_json(esc, None).as_deref(),
            Some("{\n  \"s\": \"a \\\"quoted\\\": {x}, [y]\",\n  \"u\": \"ü\"\n}")
        );
        assert_eq!(
            format_json(r#"{"log.level":"info"}"#, Some(&["log.level".to_string()])).as_deref(),
            Some("log.level=info")
        );
        for not_obj in ["plain text", "[1,2]", "{broken", "\"str\"", ""] {
            assert_eq!(format_json(not_obj, None), None, "{not_obj}");
        }
    }

    #[test]
    fn an_export_in_slices_writes_what_one_at_once_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (store, view) = build(3, "");
        let whole = dir.path().join("whole.log");
        let n = export(&whole, &view, &store, label, true, true).unwrap();
        let sliced = dir.path().join("sliced.log");
        let mut job = Export::start(&sliced, &view, &store, label, true, true).unwrap();
        let mut steps = 0;
        let total = loop {
            steps += 1;
            assert!(job.progress().0 <= job.progress().1);
            if let Some(total) = job.step(&store, 1).unwrap() {
                break total;
            }
        };
        assert_eq!((total, steps), (n, 3), "one line a step, the eviction notice at the start");
        assert_eq!(std::fs::read_to_string(&sliced).unwrap(), std::fs::read_to_string(&whole).unwrap());
        assert_eq!(job.path(), sliced.as_path());
    }
}
