//! Following log files (`tail -F`) and journald units (`journalctl -f -o json`) on a host
//! over SSH, resuming after a reconnect from the byte offset (files) or the journal cursor.

use super::docker_stream::{wait_new_session, StreamCtx};
use super::level::Level;
use super::line::{Gap, GapReason, LogLine, StreamKind};
use super::source::{SourceState, READ_TO_THE_END};
use super::stated_time::FileClock;
use crate::ssh::quote::sh_quote;
use std::ops::ControlFlow;
use std::time::Duration;

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// Follow `path` with `tail -F` (or, without `ctx.follow`, read it to its end), from
/// `ctx.tail` lines before the end (default 100). Lines are stamped with the time they state
/// ([`FileClock`]); with `ctx.since`, older ones are skipped. After a reconnect the file is
/// read on from the byte after the last line taken.
pub async fn follow_file(ctx: StreamCtx, path: String) {
    let quoted = sh_quote(&path);
    // Absolute byte offset of the next unread byte, once known.
    let mut offset: Option<u64> = None;
    let mut clock = FileClock::default();
    loop {
        let (session, _) = ctx.live().await;
        // Where to start: N lines before the end at first, else where we stopped. A file
        // shorter than our offset was truncated or rotated while we were away.
        let probe = format!(
            "s=$(stat -c %s -- {quoted} 2>/dev/null || echo -1); t=$(tail -n {} -- {quoted} 2>/dev/null | wc -c); echo \"$s $t\"",
            ctx.tail.unwrap_or(100)
        );
        let (size, tail_bytes) = match session.exec(&probe).await {
            Ok(out) => {
                let text = out.stdout_str();
                let mut it = text.split_whitespace().map(|v| v.parse::<i64>().unwrap_or(-1));
                (it.next().unwrap_or(-1), it.next().unwrap_or(0).max(0) as u64)
            }
            Err(e) => {
                if session.is_closed() {
                    ctx.state(SourceState::Reconnecting);
                    wait_new_session(&ctx, &session).await;
                } else {
                    log::warn!("{path}: {e}; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        if size < 0 && offset.is_none() {
            if !ctx.follow {
                ctx.state(SourceState::Ended { reason: "no such file".into() });
                return;
            }
            ctx.state(SourceState::Ended { reason: "no such file (tail -F keeps watching for it)".into() });
        }
        // with --since and no tail, the whole file: the times the lines state decide
        let from_start = ctx.since.is_some() && ctx.tail.is_none();
        let start = match offset {
            Some(o) if size >= 0 && (o as i64) > size => {
                ctx.ring.push_gap(Gap {
                    source: ctx.source,
                    count: 0,
                    from_ts: now_nanos(),
                    to_ts: now_nanos(),
                    reason: GapReason::Reconnect,
                });
                0
            }
            Some(o) => o,
            None if from_start => 0,
            None => (size.max(0) as u64).saturating_sub(tail_bytes),
        };
        let mut consumed = start;
        if size >= 0 {
            ctx.state(SourceState::Live);
        }
        let follow = if ctx.follow { " -F" } else { "" };
        let cmd = format!("exec tail -c +{}{follow} -- {quoted}", start + 1);
        let (source, since) = (ctx.source, ctx.since);
        let ring = ctx.ring.clone();
        let result = session
            .follow_each_sized(
                &cmd,
                !ctx.follow,
                |q| {
                    if q {
                        ctx.state(SourceState::Queued)
                    } else if size >= 0 {
                        ctx.state(SourceState::Live)
                    }
                },
                |line, bytes, stderr| {
                    if stderr {
                        // tail's own notices ("has been replaced; following new file")
                        if line.contains("following new file") || line.contains("file truncated") {
                            consumed = 0;
                        }
                        log::info!("{line}");
                    } else {
                        consumed += bytes as u64;
                        let ts = clock.stamp(line, now_nanos());
                        if since.is_none_or(|s| ts >= s) {
                            ring.push(LogLine::new(ts, source, StreamKind::File, line));
                        }
                    }
                    ControlFlow::Continue(())
                },
            )
            .await;
        offset = Some(consumed);
        if session.is_closed() || result.is_err() {
            ctx.state(SourceState::Reconnecting);
            wait_new_session(&ctx, &session).await;
            continue;
        }
        if !ctx.follow {
            let reason = match result {
                Ok(Some(0)) => READ_TO_THE_END.to_string(),
                Ok(Some(code)) => format!("tail exited with status {code} (see the console log)"),
                _ => "tail ended without an exit status".to_string(),
            };
            ctx.state(SourceState::Ended { reason });
            return;
        }
        // tail exited by itself (killed on the host?): try again shortly.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One journald JSON record → (timestamp ns, cursor, message, level from PRIORITY).
pub fn parse_journal_json(line: &str) -> Option<(i64, String, String, Option<Level>)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let ts = v.get("__REALTIME_TIMESTAMP")?.as_str()?.parse::<i64>().ok()? * 1000;
    let cursor = v.get("__CURSOR")?.as_str()?.to_string();
    let message = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        // non-UTF-8 messages come as byte arrays
        serde_json::Value::Array(bytes) => {
            String::from_utf8_lossy(&bytes.iter().filter_map(|b| b.as_u64().map(|b| b as u8)).collect::<Vec<u8>>())
                .into_owned()
        }
        other => other.to_string(),
    };
    let level = v.get("PRIORITY").and_then(|p| p.as_str()).and_then(|p| p.parse::<u8>().ok()).map(|p| match p {
        0..=3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    });
    Some((ts, cursor, message, level))
}

/// Follow a systemd unit's journal; resumes after the last cursor seen.
pub async fn follow_journal(ctx: StreamCtx, unit: String) {
    let mut cursor: Option<String> = None;
    loop {
        let (session, _) = ctx.live().await;
        let from = match (&cursor, ctx.since) {
            (Some(c), _) => format!("--after-cursor={}", sh_quote(c)),
            (None, Some(ns)) => format!("--since=@{}", ns.div_euclid(1_000_000_000)),
            (None, None) => format!("-n {}", ctx.tail.unwrap_or(100)),
        };
        let follow = if ctx.follow { "-f" } else { "" };
        let cmd = format!("exec journalctl {follow} -o json --no-pager {from} -u {}", sh_quote(&unit));
        ctx.state(SourceState::Live);
        let source = ctx.source;
        let ring = ctx.ring.clone();
        let mut last_cursor = cursor.clone();
        let result = session
            .follow_each_sized(
                &cmd,
                false,
                |q| ctx.state(if q { SourceState::Queued } else { SourceState::Live }),
                |line, _, stderr| {
                    if stderr {
                        log::warn!("journalctl {unit}: {line}");
                    } else if let Some((ts, cur, msg, level)) = parse_journal_json(line) {
                        let mut l = LogLine::new(ts, source, StreamKind::Journal, &msg);
                        if level.is_some() {
                            l.level = level;
                        }
                        ring.push(l);
                        last_cursor = Some(cur);
                    }
                    ControlFlow::Continue(())
                },
            )
            .await;
        cursor = last_cursor;
        if session.is_closed() || result.is_err() {
            ctx.state(SourceState::Reconnecting);
            wait_new_session(&ctx, &session).await;
            continue;
        }
        if !ctx.follow {
            ctx.state(SourceState::Ended { reason: READ_TO_THE_END.into() });
            return;
        }
        match result {
            Ok(Some(0)) | Ok(None) => {}
            Ok(Some(code)) => {
                ctx.state(SourceState::Ended { reason: format!("journalctl exited with status {code}") });
                return;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_records() {
        let line = r#"{"__CURSOR":"s=abc;i=1","__REALTIME_TIMESTAMP":"1764471845123456","PRIORITY":"3","MESSAGE":"upstream timed out"}"#;
        let (ts, cur, msg, level) = parse_journal_json(line).unwrap();
        assert_eq!(ts, 1_764_471_845_123_456_000);
        assert_eq!(cur, "s=abc;i=1");
        assert_eq!(msg, "upstream timed out");
        assert_eq!(level, Some(Level::Error));
        let bytes = r#"{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105]}"#;
        assert_eq!(parse_journal_json(bytes).unwrap().2, "hi");
        assert!(parse_journal_json("not json").is_none());
    }
}
