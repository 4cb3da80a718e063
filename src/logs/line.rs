//! One log line, the entries of the merged buffer (lines and gaps), and parsing of Docker's
//! `timestamps=true` lines. ANSI handling lives in `line/ansi.rs` and is re-exported here.

mod ansi;

pub use ansi::{ansi_spans, strip_ansi, AnsiColor, AnsiStyle};

use crate::logs::level::{detect_level, Level};

/// Index into a sources table owned by the caller (host/container labels live there).
pub type SourceId = u32;

/// Which stream of a source a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StreamKind {
    Stdout,
    Stderr,
    File,
    Journal,
}

impl StreamKind {
    /// Lower-case name, as shown in exports (`[stderr]`).
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
            StreamKind::File => "file",
            StreamKind::Journal => "journal",
        }
    }
}

/// One line of one stream: owned (`LogLine`, what the stream readers make) or borrowed from
/// the store ([`LineRef`], its text in the store's arena). 40 bytes on 64-bit targets either
/// way (plus, when owned, the text's heap allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLine<T = Box<str>> {
    /// Unix time in nanoseconds (the source's timestamp, or arrival time when it has none).
    pub ts: i64,
    /// Global arrival order, assigned by [`crate::logs::store::LogStore::insert`].
    pub seq: u64,
    pub source: SourceId,
    pub stream: StreamKind,
    pub level: Option<Level>,
    /// Raw text without the trailing newline; may contain ANSI escape sequences.
    pub text: T,
}

/// A line as the store hands it out, borrowing its text.
pub type LineRef<'a> = LogLine<&'a str>;

impl LogLine {
    /// A line with `seq` 0 (the store assigns it) and the level detected from the text.
    pub fn new(ts: i64, source: SourceId, stream: StreamKind, text: &str) -> LogLine {
        LogLine { ts, seq: 0, source, stream, level: detect_level(text), text: text.into() }
    }

    /// A line from a Docker `timestamps=true` stream. Lines without a parseable timestamp keep
    /// their whole text and get `fallback_ts` (usually the arrival time).
    pub fn from_docker(raw: &str, source: SourceId, stream: StreamKind, fallback_ts: i64) -> LogLine {
        match parse_docker_timestamped(raw) {
            Some((ts, text)) => LogLine::new(ts, source, stream, text),
            None => LogLine::new(fallback_ts, source, stream, trim_eol(raw)),
        }
    }
}

impl<T: AsRef<str>> LogLine<T> {
    /// The same line, borrowing the text.
    pub fn borrowed(&self) -> LineRef<'_> {
        let LogLine { ts, seq, source, stream, level, .. } = *self;
        LogLine { ts, seq, source, stream, level, text: self.text.as_ref() }
    }
}

impl LineRef<'_> {
    /// The same line with its own copy of the text.
    pub fn into_owned(self) -> LogLine {
        let LogLine { ts, seq, source, stream, level, text } = self;
        LogLine { ts, seq, source, stream, level, text: text.into() }
    }
}

/// Why lines are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GapReason {
    /// The stream's ring was full: the consumer did not keep up.
    StreamOverflow,
    /// The stream was interrupted and these lines could not be recovered.
    Reconnect,
}

impl GapReason {
    /// Short explanation shown in the view and in exports.
    pub fn describe(self) -> &'static str {
        match self {
            GapReason::StreamOverflow => "consumer too slow",
            GapReason::Reconnect => "lost during reconnect",
        }
    }
}

/// A run of lines of one source that were lost, kept in the buffer where they would have been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub source: SourceId,
    /// Number of lines lost (0 when unknown, e.g. a reconnect that cannot count them).
    pub count: u64,
    /// Timestamp of the first and last lost line (for a reconnect: the interruption window).
    pub from_ts: i64,
    pub to_ts: i64,
    pub reason: GapReason,
}

/// An entry of the merged buffer: owned (`Entry`, what the rings hold and the store takes)
/// or borrowed from the store ([`EntryRef`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry<T = Box<str>> {
    Line(LogLine<T>),
    Gap(Gap),
}

/// An entry as the store hands it out, borrowing a line's text.
pub type EntryRef<'a> = Entry<&'a str>;

impl<T> Entry<T> {
    /// Sort key: the line's timestamp, or the first missing line's timestamp for a gap.
    pub fn ts(&self) -> i64 {
        match self {
            Entry::Line(l) => l.ts,
            Entry::Gap(g) => g.from_ts,
        }
    }

    pub fn source(&self) -> SourceId {
        match self {
            Entry::Line(l) => l.source,
            Entry::Gap(g) => g.source,
        }
    }

    pub fn as_line(&self) -> Option<&LogLine<T>> {
        match self {
            Entry::Line(l) => Some(l),
            Entry::Gap(_) => None,
        }
    }

    pub fn as_gap(&self) -> Option<&Gap> {
        match self {
            Entry::Line(_) => None,
            Entry::Gap(g) => Some(g),
        }
    }

    /// The line, by value (for an [`EntryRef`], a [`LineRef`] borrowing the store).
    pub fn into_line(self) -> Option<LogLine<T>> {
        match self {
            Entry::Line(l) => Some(l),
            Entry::Gap(_) => None,
        }
    }
}

impl<T: AsRef<str>> Entry<T> {
    /// The same entry, borrowing a line's text.
    pub fn borrowed(&self) -> EntryRef<'_> {
        match self {
            Entry::Line(l) => Entry::Line(l.borrowed()),
            Entry::Gap(g) => Entry::Gap(*g),
        }
    }
}

impl EntryRef<'_> {
    /// The same entry with its own copy of a line's text.
    pub fn into_owned(self) -> Entry {
        match self {
            Entry::Line(l) => Entry::Line(l.into_owned()),
            Entry::Gap(g) => Entry::Gap(g),
        }
    }
}

/// Removes one trailing `\n` or `\r\n`.
pub fn trim_eol(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

/// Splits a Docker `timestamps=true` line, `2026-11-30T03:04:05.123456789Z text\n`, into the
/// timestamp (unix nanos) and the text without its trailing `\n`/`\r\n`. The timestamp is
/// RFC 3339 with 0–9 fraction digits and `Z` or a numeric offset; anything else gives `None`.
pub fn parse_docker_timestamped(raw: &str) -> Option<(i64, &str)> {
    // The longest accepted timestamp is 35 bytes (`…05.123456789+01:00`).
    let head = &raw.as_bytes()[..raw.len().min(36)];
    let (ts, text) = match head.iter().position(|&b| b == b' ') {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (trim_eol(raw), ""),
    };
    Some((parse_rfc3339_nanos(ts)?, trim_eol(text)))
}

/// Parses a strict RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM|±HHMM)`) into
/// unix nanoseconds; `None` for anything else or outside the i64 nanosecond range (1677–2262).
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])? as i64;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let min = digits(&b[14..16])?;
    let sec = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            frac = frac * 10 + i64::from(b[i] - b'0');
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return None;
        }
        frac *= 10i64.pow(9 - n as u32);
    }
    let offset_secs: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') => {
            let rest = &b[i + 1..];
            let (oh, om) = match rest.len() {
                5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?),
                4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec) - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// Value of a run of ASCII digits (at most 9).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: i64 = 1_796_007_845; // 2026-11-30T03:04:05Z

    fn ns(secs: i64, frac: i64) -> i64 {
        secs * 1_000_000_000 + frac
    }

    #[test]
    fn sizes_stay_compact() {
        assert_eq!(std::mem::size_of::<LogLine>(), 40);
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        assert_eq!(std::mem::size_of::<EntryRef>(), 40);
        assert_eq!(std::mem::size_of::<Gap>(), 32);
    }

    #[test]
    fn docker_timestamps_with_0_to_9_fraction_digits() {
        let cases = [
            ("2026-11-30T03:04:05Z hello", ns(BASE, 0)),
            ("2026-11-30T03:04:05.1Z hello", ns(BASE, 100_000_000)),
            ("2026-11-30T03:04:05.12Z hello", ns(BASE, 120_000_000)),
            ("2026-11-30T03:04:05.123Z hello", ns(BASE, 123_000_000)),
            ("2026-11-30T03:04:05.1234Z hello", ns(BASE, 123_400_000)),
            ("2026-11-30T03:04:05.12345Z hello", ns(BASE, 123_450_000)),
            ("2026-11-30T03:04:05.123456Z hello", ns(BASE, 123_456_000)),
            ("2026-11-30T03:04:05.1234567Z hello", ns(BASE, 123_456_700)),
            ("2026-11-30T03:04:05.12345678Z hello", ns(BASE, 123_456_780)),
            ("2026-11-30T03:04:05.123456789Z hello", ns(BASE, 123_456_789)),
            ("2026-11-30T03:04:05.000000001Z hello", ns(BASE, 1)),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_docker_timestamped(raw), Some((want, "hello")), "{raw}");
        }
    }

    #[test]
    fn docker_timestamps_with_offsets_and_line_endings() {
        let p = parse_docker_timestamped;
        assert_eq!(p("2026-11-30T04:04:05+01:00 x\n"), Some((ns(BASE, 0), "x")));
        assert_eq!(p("2026-11-29T21:34:05.5-05:30 x\r\n"), Some((ns(BASE, 500_000_000), "x")));
        assert_eq!(p("2026-11-30T04:04:05+0100 x"), Some((ns(BASE, 0), "x")));
        assert_eq!(p("2026-11-30t03:04:05z x"), Some((ns(BASE, 0), "x")));
        // empty text, with and without the separating space; spaces inside the text are kept
        assert_eq!(p("2026-11-30T03:04:05Z\n"), Some((ns(BASE, 0), "")));
        assert_eq!(p("2026-11-30T03:04:05Z "), Some((ns(BASE, 0), "")));
        assert_eq!(p("2026-11-30T03:04:05Z  two  spaces "), Some((ns(BASE, 0), " two  spaces ")));
        // epoch, leap day, before 1970
        assert_eq!(p("1970-01-01T00:00:00Z a"), Some((0, "a")));
        assert_eq!(p("2024-02-29T00:00:00Z a"), Some((ns(1_709_164_800, 0), "a")));
        assert_eq!(p("1969-12-31T23:59:59.5Z a"), Some((-500_000_000, "a")));
    }

    #[test]
    fn garbage_is_not_a_timestamp() {
        for raw in [
            "",
            "hello world",
            "2026-11-30 03:04:05Z x",             // space separator: not Docker's format
            "2026-11-30T03:04:05 x",              // no zone
            "2026-11-30T03:04:05.Z x",            // dot without digits
            "2026-11-30T03:04:05.1234567890Z x",  // 10 fraction digits
            "2026-13-30T03:04:05Z x",             // month 13
            "2026-02-29T03:04:05Z x",             // not a leap year
            "2026-11-31T03:04:05Z x",             // 31 November
            "2026-11-30T24:04:05Z x",             // hour 24
            "2026-11-30T03:04:05+1:00 x",         // short offset
            "2026-11-30T03:04:05Zjunk x",         // trailing junk
            "2026-11-3OT03:04:05Z x",             // letter O
            "3000-01-01T00:00:00Z beyond i64 ns", // out of range
            "€026-11-30T03:04:05Z x",
        ] {
            assert_eq!(parse_docker_timestamped(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn from_docker_falls_back_to_arrival_time() {
        let l = LogLine::from_docker("2026-11-30T03:04:05Z ERROR boom\n", 3, StreamKind::Stderr, 7);
        assert_eq!(
            (l.ts, l.source, l.stream, l.level, &*l.text),
            (ns(BASE, 0), 3, StreamKind::Stderr, Some(Level::Error), "ERROR boom")
        );
        let l = LogLine::from_docker("no timestamp here\r\n", 1, StreamKind::Stdout, 7);
        assert_eq!((l.ts, &*l.text, l.level), (7, "no timestamp here", None));
    }

    #[test]
    fn entry_accessors() {
        let g = Gap { source: 4, count: 9, from_ts: 10, to_ts: 20, reason: GapReason::Reconnect };
        let e: Entry = Entry::Gap(g);
        assert_eq!((e.ts(), e.source(), e.as_gap(), e.as_line()), (10, 4, Some(&g), None));
        assert_eq!((e.borrowed().into_owned(), e.borrowed().into_line()), (e.clone(), None));
        let e = Entry::Line(LogLine::new(5, 2, StreamKind::File, "x"));
        assert_eq!((e.ts(), e.source(), e.as_line().map(|l| &*l.text)), (5, 2, Some("x")));
        let r = e.borrowed();
        assert_eq!((r.ts(), r.into_line().map(|l| l.text)), (5, Some("x")));
        assert_eq!(r.into_owned(), e);
        assert_eq!(GapReason::StreamOverflow.describe(), "consumer too slow");
        assert_eq!(StreamKind::Journal.as_str(), "journal");
    }
}
