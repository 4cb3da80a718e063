//! The log view's absolute start ("from 14:05"): what a person types, read as a time in the
//! zone the view shows its timestamps in.

use crate::logs::filter::parse_time_window;
use chrono::{DateTime, Local, Offset, TimeZone};

/// Read `text` as the start of the log view's time window, in unix nanos: a duration ago
/// (`10m`), `now`, a time with an offset (`2026-11-30T14:05:00Z`), or a date and/or time
/// without one (`14:05`, `14:05:30`, `2026-11-30 14:05`), which is read in UTC when the view
/// shows UTC and in local time otherwise. An empty text clears it (`Ok(None)`).
pub fn parse_since(text: &str, now_nanos: i64, utc: bool) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let as_utc = parse_time_window(text, now_nanos)?;
    let naive = (text.contains(':') || text.contains('-')) && DateTime::parse_from_rfc3339(text).is_err();
    if utc || !naive {
        return Ok(Some(as_utc));
    }
    // the same wall-clock reading in local time
    let offset = Local.timestamp_nanos(as_utc).offset().fix().local_minus_utc() as i64;
    Ok(Some(as_utc - offset * 1_000_000_000))
}

/// How the view shows its start: `from 14:05:00` (today) or `from 2026-11-29 14:05:00`.
pub fn describe_since(nanos: i64, now_nanos: i64, utc: bool) -> String {
    let fmt = |t: i64| -> (String, String) {
        let d = DateTime::from_timestamp_nanos(t);
        if utc {
            (d.format("%Y-%m-%d").to_string(), d.format("%H:%M:%S").to_string())
        } else {
            let l = d.with_timezone(&Local);
            (l.format("%Y-%m-%d").to_string(), l.format("%H:%M:%S").to_string())
        }
    };
    let ((day, time), (today, _)) = (fmt(nanos), fmt(now_nanos));
    if day == today {
        format!("from {time}")
    } else {
        format!("from {day} {time}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap()
    }

    #[test]
    fn times_durations_and_clearing() {
        let now = at("2026-11-30T15:00:00Z");
        assert_eq!(parse_since("", now, true), Ok(None));
        assert_eq!(parse_since("10m", now, true), Ok(Some(at("2026-11-30T14:50:00Z"))));
        assert_eq!(parse_since("14:05", now, true), Ok(Some(at("2026-11-30T14:05:00Z"))));
        assert_eq!(parse_since("2026-11-29 23:59:30", now, true), Ok(Some(at("2026-11-29T23:59:30Z"))));
        // an explicit offset is what it says, whatever the view shows
        assert_eq!(parse_since("2026-11-30T16:05:00+02:00", now, false), Ok(Some(at("2026-11-30T14:05:00Z"))));
        assert!(parse_since("yesterday-ish", now, true).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn naive_times_follow_the_views_zone() {
        let now = at("2026-11-30T15:00:00Z");
        let utc = parse_since("14:05", now, true).unwrap().unwrap();
        let local = parse_since("14:05", now, false).unwrap().unwrap();
        let offset = Local.timestamp_nanos(utc).offset().fix().local_minus_utc() as i64;
        assert_eq!(utc - local, offset * 1_000_000_000);
        // and it reads back as typed
        assert_eq!(describe_since(local, local, false), "from 14:05:00");
        assert_eq!(describe_since(utc, now, true), "from 14:05:00");
        assert_eq!(describe_since(at("2026-11-29T08:00:00Z"), now, true), "from 2026-11-29 08:00:00");
    }
}
