//! The log view's absolute start ("from 14:05"): what a person types, read as a time in the
//! zone the view shows its timestamps in.

use crate::logs::filter::{parse_time_window, parse_wall_clock};
use chrono::{DateTime, Local, TimeZone};

/// Read `text` as the start of the log view's time window, in unix nanos: a duration ago
/// (`10m`), `now`, a time with an offset (`2026-11-30T14:05:00Z`), or a date and/or time
/// without one (`14:05`, `14:05:30`, `2026-11-30 14:05`), which is read in UTC when the view
/// shows UTC and in local time otherwise. An empty text clears it (`Ok(None)`).
pub fn parse_since(text: &str, now_nanos: i64, utc: bool) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if utc {
        return Ok(Some(parse_time_window(text, now_nanos)?));
    }
    parse_in_zone(text, now_nanos, &Local).map(Some)
}

/// [`parse_since`] with a date and/or time without an offset read in `zone` (a bare time is
/// of `zone`'s today).
fn parse_in_zone<Tz: TimeZone>(text: &str, now_nanos: i64, zone: &Tz) -> Result<i64, String> {
    let as_utc = parse_time_window(text, now_nanos)?;
    let naive = (text.contains(':') || text.contains('-')) && DateTime::parse_from_rfc3339(text).is_err();
    if !naive {
        return Ok(as_utc);
    }
    let today = DateTime::from_timestamp_nanos(now_nanos).with_timezone(zone).date_naive();
    let wall = parse_wall_clock(text, today).ok_or_else(|| format!("cannot read {text:?} as a time"))?;
    // a reading skipped by a DST change is taken an hour on; a repeated one, its first time
    let at = zone
        .from_local_datetime(&wall)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(wall + chrono::Duration::hours(1))).earliest());
    at.and_then(|t| t.timestamp_nanos_opt()).ok_or_else(|| format!("{text:?} does not exist in local time"))
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
    fn naive_times_are_read_in_the_views_zone_on_its_own_date() {
        let now = at("2026-11-30T15:00:00Z");
        let east = chrono::FixedOffset::east_opt(10 * 3600).unwrap(); // 01:00 on Dec 1 there
        let west = chrono::FixedOffset::west_opt(8 * 3600).unwrap(); // 07:00 on Nov 30 there
        assert_eq!(parse_in_zone("00:30", now, &east), Ok(at("2026-11-30T14:30:00Z")), "today there is Dec 1");
        assert_eq!(parse_in_zone("06:00", now, &west), Ok(at("2026-11-30T14:00:00Z")));
        assert_eq!(parse_in_zone("2026-11-30 23:00", now, &east), Ok(at("2026-11-30T13:00:00Z")));
        assert_eq!(parse_in_zone("2026-11-30T16:05:00+02:00", now, &east), Ok(at("2026-11-30T14:05:00Z")));
        assert_eq!(parse_in_zone("10m", now, &west), Ok(at("2026-11-30T14:50:00Z")));
        // the machine's own zone
        let local = parse_since("14:05", now, false).unwrap().unwrap();
        let today = DateTime::from_timestamp_nanos(now).with_timezone(&Local).date_naive();
        let wall = today.and_hms_opt(14, 5, 0).unwrap();
        assert_eq!(local, Local.from_local_datetime(&wall).earliest().unwrap().timestamp_nanos_opt().unwrap());
        // and it reads back as typed
        assert_eq!(describe_since(local, local, false), "from 14:05:00");
        assert_eq!(describe_since(parse_since("14:05", now, true).unwrap().unwrap(), now, true), "from 14:05:00");
        assert_eq!(describe_since(at("2026-11-29T08:00:00Z"), now, true), "from 2026-11-29 08:00:00");
    }
}
