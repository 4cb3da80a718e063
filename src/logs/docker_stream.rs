//! Following one container's logs through the SSH-forwarded Docker socket, stdout and
//! stderr apart, with exact resumption: after the connection drops (or the container
//! restarts) the stream is re-opened from the last timestamp seen and the overlap is
//! skipped, so no line is lost or repeated.

use super::line::{parse_docker_timestamped, trim_eol, LogLine, SourceId, StreamKind};
use super::ring::SharedRing;
use super::source::{SourceState, READ_TO_THE_END};
use crate::docker::model;
use crate::fleet::worker::HostLink;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a stream task needs.
#[derive(Clone)]
pub struct StreamCtx {
    pub source: SourceId,
    pub link: HostLink,
    pub ring: SharedRing,
    pub states: mpsc::Sender<(SourceId, SourceState)>,
    /// Keep following (`-f`), or read what is there and end.
    pub follow: bool,
    /// Only lines at or after this time (unix nanos).
    pub since: Option<i64>,
    /// How many lines of history to start with (None: all).
    pub tail: Option<u64>,
}

impl StreamCtx {
    /// Reports the source's state and wakes the consumer, which applies it when it drains
    /// (a quiet source's "reconnecting" or "stopped" must show without waiting for a line).
    pub(crate) fn state(&self, s: SourceState) {
        let _ = self.states.try_send((self.source, s));
        self.ring.wake();
    }

    /// Wait until the host is connected; returns the session and Docker client.
    pub(crate) async fn live(&self) -> (Arc<crate::ssh::SshSession>, bollard::Docker) {
        loop {
            if let Some((s, d)) = self.link.current() {
                if !s.is_closed() {
                    return (s, d);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Exactly-once bookkeeping across re-opened streams. Docker's `since` has one-second
/// granularity, so a re-opened stream repeats the lines of the last second: lines before the
/// last timestamp are skipped, and at the last timestamp as many as were already taken.
#[derive(Debug, Default, Clone)]
pub struct Resume {
    last: Option<i64>,
    taken_at_last: u32,
    skip_at_last: u32,
    floor: Option<i64>,
}

impl Resume {
    pub fn new(since: Option<i64>) -> Resume {
        Resume { floor: since, ..Default::default() }
    }

    /// A new stream starts: lines already taken at the last timestamp will come again.
    pub fn reopen(&mut self) {
        self.skip_at_last = self.taken_at_last;
    }

    /// `since` for Docker, in whole seconds.
    pub fn since_secs(&self) -> i32 {
        match self.last.or(self.floor) {
            Some(ns) => (ns.div_euclid(1_000_000_000)) as i32,
            None => 0,
        }
    }

    pub fn started(&self) -> bool {
        self.last.is_some()
    }

    /// Should a line with timestamp `ts` be taken?
    pub fn accept(&mut self, ts: i64) -> bool {
        if self.floor.is_some_and(|f| ts < f) {
            return false;
        }
        match self.last {
            Some(last) if ts < last => false,
            Some(last) if ts == last => {
                if self.skip_at_last > 0 {
                    self.skip_at_last -= 1;
                    false
                } else {
                    self.taken_at_last += 1;
                    true
                }
            }
            _ => {
                self.last = Some(ts);
                self.taken_at_last = 1;
                self.skip_at_last = 0;
                true
            }
        }
    }
}

/// [`Resume`] per stream of a container. Docker stamps stdout and stderr lines in separate
/// copiers, so the two interleave slightly out of time order: one shared bookkeeping would take
/// a stderr line a few µs older than the stdout line before it for a replay and drop it.
#[derive(Debug, Clone)]
pub struct StreamsResume {
    by_stream: [Resume; 2],
}

impl StreamsResume {
    pub fn new(since: Option<i64>) -> StreamsResume {
        StreamsResume { by_stream: [Resume::new(since), Resume::new(since)] }
    }

    pub fn reopen(&mut self) {
        self.by_stream.iter_mut().for_each(Resume::reopen);
    }

    /// `since` for Docker: the earlier of the streams' last lines (a stream that has had no line
    /// yet has nothing to resume from: lines of it at or after that point are all new).
    pub fn since_secs(&self) -> i32 {
        let started = self.by_stream.iter().filter(|r| r.started());
        started.map(Resume::since_secs).min().unwrap_or_else(|| self.by_stream[0].since_secs())
    }

    pub fn started(&self) -> bool {
        self.by_stream.iter().any(Resume::started)
    }

    pub fn accept(&mut self, stream: StreamKind, ts: i64) -> bool {
        self.by_stream[usize::from(stream == StreamKind::Stderr)].accept(ts)
    }
}

/// Reassembles lines from Docker log frames (a long line arrives in several frames; a TTY
/// container's frames are arbitrary chunks).
#[derive(Default)]
struct Frames {
    partial: [Option<(i64, String)>; 2],
}

impl Frames {
    fn feed(&mut self, stream: StreamKind, bytes: &[u8], mut emit: impl FnMut(i64, &str)) {
        let slot = usize::from(stream == StreamKind::Stderr);
        let text = String::from_utf8_lossy(bytes);
        for piece in text.split_inclusive('\n') {
            let complete = piece.ends_with('\n');
            let parsed = parse_docker_timestamped(piece);
            match self.partial[slot].take() {
                Some((ts, mut buf)) => {
                    buf.push_str(parsed.map(|(_, t)| t).unwrap_or_else(|| trim_eol(piece)));
                    if complete {
                        emit(ts, &buf);
                    } else {
                        self.partial[slot] = Some((ts, buf));
                    }
                }
                None => {
                    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                    let (ts, body) = parsed.unwrap_or((now, trim_eol(piece)));
                    if complete {
                        emit(ts, body);
                    } else {
                        self.partial[slot] = Some((ts, body.to_string()));
                    }
                }
            }
        }
    }
}

/// Follow container `id` until it is removed (or, without `follow`, until its logs are read).
pub async fn follow_container(ctx: StreamCtx, id: String) {
    let mut resume = StreamsResume::new(ctx.since);
    loop {
        let (session, docker) = ctx.live().await;
        let tail = match (resume.started(), ctx.tail, ctx.since) {
            (false, Some(n), None) => n.to_string(),
            _ => "all".to_string(),
        };
        let opts = LogsOptions {
            follow: ctx.follow,
            stdout: true,
            stderr: true,
            timestamps: true,
            since: resume.since_secs(),
            until: 0,
            tail,
        };
        resume.reopen();
        ctx.state(SourceState::Live);
        let mut frames = Frames::default();
        let mut stream = docker.logs(&id, Some(opts));
        let mut failed = None;
        while let Some(item) = stream.next().await {
            let (kind, bytes) = match item {
                Ok(LogOutput::StdErr { message }) => (StreamKind::Stderr, message),
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => (StreamKind::Stdout, message),
                Ok(LogOutput::StdIn { .. }) => continue,
                Err(e) => {
                    failed = Some(crate::docker::error_chain(&e));
                    break;
                }
            };
            frames.feed(kind, &bytes, |ts, text| {
                if resume.accept(kind, ts) {
                    ctx.ring.push(LogLine::new(ts, ctx.source, kind, text));
                }
            });
        }
        drop(stream);
        if session.is_closed() {
            ctx.state(SourceState::Reconnecting);
            wait_new_session(&ctx, &session).await;
            continue;
        }
        if !ctx.follow && failed.is_none() {
            ctx.state(SourceState::Ended { reason: READ_TO_THE_END.into() });
            return;
        }
        // The stream ended with the connection still up: the container stopped or is gone.
        match model::inspect(&docker, &id).await {
            Ok(None) => {
                ctx.state(SourceState::Removed);
                return;
            }
            Ok(Some(c)) if c.is_running() => {
                if let Some(e) = failed {
                    log::warn!("logs of {id}: {e}; re-opening");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            Ok(Some(_)) => {
                ctx.state(SourceState::Stopped);
                if !ctx.follow {
                    return;
                }
                wait_running(&ctx, &id).await;
            }
            Err(e) => {
                log::warn!("logs of {id}: {}", crate::docker::error_chain(&e));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Reads container `id`'s lines from `from` up to (not including) `until` (unix nanos) and
/// keeps the newest `max` of them: the history before what a session started with, when the
/// user asks for a longer time window. Returns them, or why it could not read them.
pub async fn backfill_container(
    ctx: &StreamCtx,
    id: &str,
    from: i64,
    until: i64,
    max: usize,
) -> Result<std::collections::VecDeque<LogLine>, String> {
    let (_, docker) = ctx.link.current().ok_or("not connected")?;
    let opts = LogsOptions {
        follow: false,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: from.div_euclid(1_000_000_000) as i32,
        // whole seconds, inclusive: lines of `until`'s second are read and dropped below
        until: until.div_euclid(1_000_000_000) as i32 + 1,
        // Docker applies a tail before the time range: take the range and keep the newest here
        tail: "all".into(),
    };
    let mut frames = Frames::default();
    let mut lines = std::collections::VecDeque::new();
    let mut stream = docker.logs(id, Some(opts));
    while let Some(item) = stream.next().await {
        let (kind, bytes) = match item {
            Ok(LogOutput::StdErr { message }) => (StreamKind::Stderr, message),
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => (StreamKind::Stdout, message),
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(e) => return Err(crate::docker::error_chain(&e)),
        };
        frames.feed(kind, &bytes, |ts, text| {
            if ts >= from && ts < until {
                if lines.len() == max {
                    lines.pop_front();
                }
                lines.push_back(LogLine::new(ts, ctx.source, kind, text));
            }
        });
    }
    Ok(lines)
}

/// Wait until the host has a connection other than `old`.
pub(crate) async fn wait_new_session(ctx: &StreamCtx, old: &Arc<crate::ssh::SshSession>) {
    loop {
        if let Some((s, _)) = ctx.link.current() {
            if !Arc::ptr_eq(&s, old) && !s.is_closed() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wait until container `id` runs again (or is removed, or the connection changes).
async fn wait_running(ctx: &StreamCtx, id: &str) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some((session, docker)) = ctx.link.current() else { continue };
        if session.is_closed() {
            return;
        }
        match model::inspect(&docker, id).await {
            Ok(Some(c)) if !c.is_running() => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_skips_exactly_the_overlap() {
        let mut r = Resume::new(None);
        let first: Vec<bool> = [10, 20, 20, 30, 30].iter().map(|&t| r.accept(t)).collect();
        assert_eq!(first, [true; 5]);
        assert_eq!(r.since_secs(), 0);
        // re-opened: Docker repeats from the start of the second: 20, 20, 30, 30, then new 30, 40
        r.reopen();
        let again: Vec<bool> = [20, 20, 30, 30, 30, 40].iter().map(|&t| r.accept(t)).collect();
        assert_eq!(again, [false, false, false, false, true, true]);
    }

    #[test]
    fn stdout_and_stderr_are_resumed_apart() {
        let (out, err) = (StreamKind::Stdout, StreamKind::Stderr);
        let mut r = StreamsResume::new(None);
        // Docker's two copiers: a stderr line stamped just before the stdout line ahead of it
        let first: Vec<bool> = [(out, 1_000), (err, 999), (out, 2_000_000_000), (err, 2_000_000_500)]
            .iter()
            .map(|&(k, t)| r.accept(k, t))
            .collect();
        assert_eq!(first, [true; 4], "nothing is taken for a replay without a reconnect");
        assert_eq!(r.since_secs(), 2);
        r.reopen();
        let again: Vec<bool> = [(out, 2_000_000_000), (err, 2_000_000_500), (err, 2_000_000_700), (out, 2_000_000_600)]
            .iter()
            .map(|&(k, t)| r.accept(k, t))
            .collect();
        assert_eq!(again, [false, false, true, true]);

        // a stream without lines yet does not pull `since` back to the start
        let mut r = StreamsResume::new(None);
        assert!(!r.started());
        r.accept(out, 5_000_000_000);
        assert_eq!(r.since_secs(), 5);
        r.reopen();
        assert!(r.accept(err, 5_000_000_001), "stderr lines after the point are new");
        r.accept(err, 7_000_000_000);
        r.accept(out, 9_000_000_000);
        assert_eq!(r.since_secs(), 7, "the earlier of the two streams");
    }

    #[test]
    fn since_floor_drops_older_lines() {
        let mut r = Resume::new(Some(2_500_000_000));
        assert_eq!(r.since_secs(), 2);
        assert!(!r.accept(2_000_000_000));
        assert!(r.accept(2_500_000_000));
    }

    #[test]
    fn frames_join_partial_lines() {
        let mut f = Frames::default();
        let mut got = Vec::new();
        f.feed(StreamKind::Stdout, b"2026-11-30T03:04:05.000000001Z hello wo", |t, s| got.push((t, s.to_string())));
        assert!(got.is_empty());
        f.feed(StreamKind::Stdout, b"2026-11-30T03:04:05.000000002Z rld\n", |t, s| got.push((t, s.to_string())));
        f.feed(StreamKind::Stderr, b"2026-11-30T03:04:06Z oops\n", |t, s| got.push((t, s.to_string())));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, "hello world");
        assert_eq!(got[1].1, "oops");
        assert!(got[0].0 < got[1].0);
    }
}
