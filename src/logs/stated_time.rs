//! The time a log file's line states for itself, so that lines of files merge with container
//! lines by when they happened rather than when they were read (the lines `tail` starts with
//! may be hours old). Only times that name their zone are taken; a time without one (nginx's
//! error log, syslog) would be a guess, and such lines keep the time they were read.

use chrono::{DateTime, NaiveDateTime};

/// Unix nanos of the time at the start of `line` (RFC 3339: `2026-11-30T08:00:00.5Z`,
/// `…+01:00`; `2026-11-30 08:00:00.123 UTC` or `… +0100`, as PostgreSQL writes), or in the
/// first brackets of an access log (`[30/Nov/2026:08:00:00 +0000]`, nginx and Apache).
pub fn stated_time(line: &str) -> Option<i64> {
    let head = crate::text::head(line, 200);
    leading(head).or_else(|| bracketed(head)).and_then(|t| t.timestamp_nanos_opt())
}

fn leading(head: &str) -> Option<DateTime<chrono::FixedOffset>> {
    if !head.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut words = head.split_ascii_whitespace();
    let first = words.next()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(first) {
        return Some(t);
    }
    let (time, zone) = (words.next()?, words.next()?);
    let date_time = format!("{first} {time}");
    match zone {
        "UTC" | "GMT" | "Z" => {
            NaiveDateTime::parse_from_str(&date_time, "%Y-%m-%d %H:%M:%S%.f").ok().map(|t| t.and_utc().fixed_offset())
        }
        _ => DateTime::parse_from_str(&format!("{date_time} {zone}"), "%Y-%m-%d %H:%M:%S%.f %z").ok(),
    }
}

fn bracketed(head: &str) -> Option<DateTime<chrono::FixedOffset>> {
    let open = head.find('[')?;
    let close = open + head[open..].find(']')?;
    DateTime::parse_from_str(&head[open + 1..close], "%d/%b/%Y:%H:%M:%S %z").ok()
}

/// How long after a line that states its time a line without one still counts as its
/// continuation.
const CONTINUATION: i64 = 2_000_000_000;

/// Timestamps for one file's lines: the time a line states, else the last stated one when
/// that line was read moments before (a continuation stays with the line it continues), else
/// the time it was read.
#[derive(Debug, Default)]
pub struct FileClock {
    /// The last stated time, and when its line was read.
    last: Option<(i64, i64)>,
}

impl FileClock {
    pub fn stamp(&mut self, line: &str, read_at: i64) -> i64 {
        match stated_time(line) {
            Some(t) => {
                self.last = Some((t, read_at));
                t
            }
            None => match self.last {
                Some((t, at)) if read_at - at < CONTINUATION => t,
                _ => read_at,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_796_025_600_000_000_000; // 2026-11-30T08:00:00Z

    #[test]
    fn times_that_name_their_zone() {
        let ms = 1_000_000;
        for (line, want) in [
            ("2026-11-30T08:00:00Z started", Some(T)),
            ("2026-11-30T08:00:00.250+00:00 level=info", Some(T + 250 * ms)),
            ("2026-11-30T09:00:00+01:00 x", Some(T)),
            ("2026-11-30 08:00:00.123 UTC [812] LOG:  checkpoint starting", Some(T + 123 * ms)),
            ("2026-11-30 09:00:00 +0100 something", Some(T)),
            (r#"127.0.0.1 - - [30/Nov/2026:08:00:00 +0000] "GET /health HTTP/1.1" 200 15"#, Some(T)),
            (r#"10.0.0.7 - bob [30/Nov/2026:03:00:00 -0500] "POST /api HTTP/2.0" 201 2"#, Some(T)),
            // no zone: not guessed
            ("2026/11/30 08:00:00 [error] 12#12: *1 connect() failed", None),
            ("2026-11-30 08:00:00 no zone here", None),
            ("Nov 30 08:00:00 host sshd[1]: Accepted", None),
            ("[30/Nov/2026:08:00:00] no zone", None),
            ("plain text", None),
            ("", None),
            ("1234", None),
            // a character across the 200th byte
            (&format!("{}é and more", "x".repeat(199)), None),
        ] {
            assert_eq!(stated_time(line), want, "{line}");
        }
    }

    #[test]
    fn the_clock_carries_a_stated_time_to_the_lines_after_it() {
        let mut c = FileClock::default();
        assert_eq!(c.stamp("no time yet", 42), 42);
        assert_eq!(c.stamp("2026-11-30T08:00:00Z ERROR boom", 99), T);
        assert_eq!(c.stamp("    at frame 1", 100), T);
        assert_eq!(c.stamp("2026-11-30T08:00:01Z next", 101), T + 1_000_000_000);
        // a line without a time read long after is not a continuation: it gets its read time
        let later = 101 + 60_000_000_000;
        assert_eq!(c.stamp("unrelated, a minute later", later), later);
    }
}
