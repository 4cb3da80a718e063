//! A log session: the sources chosen by the user's selectors, one owned stream task per
//! source feeding its own bounded ring, new replicas joining as they appear (like stern) and
//! removed ones marked. The front end drains the rings into a `LogStore`.

use super::docker_stream::{backfill_container, follow_container, StreamCtx};
use super::exec_stream::{follow_file, follow_journal};
use super::line::{Entry, SourceId};
use super::ring::{RingSet, SharedRing};
use super::source::{Selector, SourceInfo, SourceKind, SourceState};
use crate::config::Profile;
use crate::fleet::model::FleetState;
use crate::fleet::worker::AbortOnDrop;
use crate::fleet::Fleet;
use std::collections::HashMap;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub follow: bool,
    /// Only lines at or after this time (unix nanos).
    pub since: Option<i64>,
    /// Lines of history per source to start with (None: all, or everything since `since`).
    pub tail: Option<u64>,
    /// Lines each source may buffer before the consumer takes them; beyond that lines are
    /// dropped and counted (never blocking the SSH connection).
    pub ring_capacity: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions { follow: true, since: None, tail: Some(200), ring_capacity: 65_536 }
    }
}

struct Backfill {
    /// Held to abort the read with the session.
    _task: AbortOnDrop<()>,
    /// What the read brought, set after its lines are in the ring.
    result: std::sync::Arc<std::sync::Mutex<Option<Result<usize, String>>>>,
    ring: SharedRing,
    source: usize,
    read_from_before: Option<i64>,
}

pub struct LogSession {
    profile: Profile,
    pub selectors: Vec<Selector>,
    opts: LogOptions,
    sources: Vec<SourceInfo>,
    by_key: HashMap<(usize, SourceKind), SourceId>,
    rings: RingSet,
    states_tx: mpsc::Sender<(SourceId, SourceState)>,
    states_rx: mpsc::Receiver<(SourceId, SourceState)>,
    tasks: Vec<AbortOnDrop<()>>,
    /// Per source: the earliest timestamp drained, and how far back its history was read.
    earliest: Vec<Option<i64>>,
    read_from: Vec<Option<i64>>,
    /// Reads of older lines in progress: the task, the ring it fills, its source and what that
    /// source's `read_from` was before (restored when the read fails).
    backfills: Vec<Backfill>,
    /// Lines read back and failures since the reads started, for [`backfill_report`].
    ///
    /// [`backfill_report`]: LogSession::backfill_report
    backfill_done: (usize, usize, Vec<String>),
}

impl LogSession {
    pub fn new(profile: &Profile, selectors: Vec<Selector>, opts: LogOptions) -> LogSession {
        let (states_tx, states_rx) = mpsc::channel(1024);
        LogSession {
            profile: profile.clone(),
            selectors,
            opts,
            sources: Vec::new(),
            by_key: HashMap::new(),
            rings: RingSet::new(),
            states_tx,
            states_rx,
            tasks: Vec::new(),
            earliest: Vec::new(),
            read_from: Vec::new(),
            backfills: Vec::new(),
            backfill_done: (0, 0, Vec::new()),
        }
    }

    pub fn sources(&self) -> &[SourceInfo] {
        &self.sources
    }

    pub fn label(&self, id: SourceId) -> &str {
        self.sources.get(id as usize).map(|s| s.label.as_str()).unwrap_or("?")
    }

    /// Start streams for every source the selectors now take (new replicas join), and mark
    /// containers that disappeared from a connected host as removed. Returns whether the
    /// source list changed.
    pub fn sync(&mut self, state: &FleetState, fleet: &Fleet) -> bool {
        let mut changed = false;
        for (hi, host) in state.hosts.iter().enumerate() {
            let Some(link) = fleet.link(hi) else { continue };
            let mut wanted: Vec<SourceKind> = host
                .containers
                .iter()
                .filter(|c| self.selectors.iter().any(|s| s.takes_container(&self.profile, &host.name, c)))
                .map(|c| SourceKind::Container { id: c.id.clone(), name: c.name.clone() })
                .collect();
            for s in &self.selectors {
                wanted.extend(s.host_sources(&self.profile, &host.name));
            }
            for kind in wanted {
                if self.by_key.contains_key(&(hi, kind.clone())) {
                    continue;
                }
                let id = self.sources.len() as SourceId;
                self.sources.push(SourceInfo::new(hi, &host.name, kind.clone()));
                self.earliest.push(None);
                self.read_from.push(self.opts.since);
                self.by_key.insert((hi, kind.clone()), id);
                let ctx = StreamCtx {
                    source: id,
                    link: link.clone(),
                    ring: self.rings.add(id, self.opts.ring_capacity),
                    states: self.states_tx.clone(),
                    follow: self.opts.follow,
                    since: self.opts.since,
                    tail: self.opts.tail,
                };
                let task = match kind {
                    SourceKind::Container { id, .. } => tokio::spawn(follow_container(ctx, id)),
                    SourceKind::File { path } => tokio::spawn(follow_file(ctx, path)),
                    SourceKind::Journal { unit } => tokio::spawn(follow_journal(ctx, unit)),
                };
                self.tasks.push(AbortOnDrop(task));
                changed = true;
            }
            if host.ready && host.conn.is_connected() {
                for src in self.sources.iter_mut().filter(|s| s.host == hi) {
                    if let SourceKind::Container { id, .. } = &src.kind {
                        if host.container(id).is_none() && src.state != SourceState::Removed {
                            src.state = SourceState::Removed;
                            changed = true;
                        }
                    }
                }
            }
        }
        changed
    }

    /// Wait until some ring has lines or a source changed state.
    pub async fn changed(&mut self) {
        self.rings.changed().await
    }

    /// Move what is buffered into `out` (at most `max` entries, shared evenly by the sources;
    /// the consumer is woken again for the rest); apply state changes. Returns whether any
    /// source changed state.
    pub fn drain(&mut self, out: &mut Vec<Entry>, max: usize) -> bool {
        let start = out.len();
        self.rings.drain_all(out, max);
        for e in &out[start..] {
            if let Some(t) = self.earliest.get_mut(e.source() as usize) {
                *t = Some(t.map_or(e.ts(), |t| t.min(e.ts())));
            }
        }
        // finished reads of older lines give their (empty) rings back; a failed one can be
        // asked for again
        let (rings, read_from, done) = (&self.rings, &mut self.read_from, &mut self.backfill_done);
        self.backfills.retain_mut(|b| {
            let result = b.result.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let Some(result) = result.filter(|_| b.ring.is_empty()) else { return true };
            match result {
                Ok(n) => {
                    done.0 += n;
                    done.1 += 1;
                }
                Err(e) => {
                    log::warn!("older lines of source {}: {e}", b.source);
                    read_from[b.source] = b.read_from_before;
                    done.2.push(e);
                }
            }
            rings.remove(&b.ring, out);
            false
        });
        let mut changed = false;
        while let Ok((id, state)) = self.states_rx.try_recv() {
            if let Some(s) = self.sources.get_mut(id as usize) {
                if s.state != state && s.state != SourceState::Removed {
                    s.state = state;
                    changed = true;
                }
            }
        }
        changed
    }

    /// Reads the lines of every container source from `since` up to the earliest one it has
    /// delivered (at most the newest `max` of them per source), when the session did not
    /// start that far back: the user chose a longer time window. Lines arrive through
    /// [`drain`](Self::drain) like the others, older than what is there. Files and journald
    /// units are not read back. Returns how many sources are being read.
    pub fn backfill(&mut self, fleet: &Fleet, since: i64, max: usize) -> usize {
        let wanted: Vec<usize> = (0..self.sources.len())
            .filter(|&i| {
                let src = &self.sources[i];
                matches!(src.kind, SourceKind::Container { .. })
                    && src.state != SourceState::Removed
                    && fleet.link(src.host).is_some()
                    && self.earliest[i].is_some_and(|first| first > since)
                    && self.read_from[i].is_none_or(|f| f > since)
            })
            .collect();
        // the room the line budget has, shared by the sources read
        let per_source = (max / wanted.len().max(1)).max(1);
        for &i in &wanted {
            let (src, first) = (&self.sources[i], self.earliest[i].expect("filtered above"));
            let SourceKind::Container { id, .. } = &src.kind else { continue };
            let link = fleet.link(src.host).expect("filtered above");
            // what was read back before ends where this read starts
            let until = self.read_from[i].map_or(first, |f| f.min(first));
            let read_from_before = self.read_from[i].replace(since);
            let ring = self.rings.add(i as SourceId, per_source.max(2));
            let ctx = StreamCtx {
                source: i as SourceId,
                link: link.clone(),
                ring: ring.clone(),
                states: self.states_tx.clone(),
                follow: false,
                since: Some(since),
                tail: None,
            };
            let result = std::sync::Arc::new(std::sync::Mutex::new(None));
            let (id, slot) = (id.clone(), result.clone());
            let task = AbortOnDrop(tokio::spawn(async move {
                // the lines first, then the result: the session takes the ring back only once
                // it has both
                let read = backfill_container(&ctx, &id, since, until, per_source).await;
                let got = read.map(|lines| {
                    let n = lines.len();
                    ctx.ring.push_batch(lines);
                    n
                });
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(got);
                ctx.ring.wake();
            }));
            self.backfills.push(Backfill { _task: task, result, ring, source: i, read_from_before });
        }
        wanted.len()
    }

    /// Once every read of older lines has finished: what they brought (`read 120 older lines
    /// of 2 containers`, and any failure); `None` while one runs or after it was reported.
    pub fn backfill_report(&mut self) -> Option<String> {
        if !self.backfills.is_empty() || (self.backfill_done.1 == 0 && self.backfill_done.2.is_empty()) {
            return None;
        }
        let (lines, sources, errors) = std::mem::take(&mut self.backfill_done);
        let mut text = format!("read {lines} older lines of {sources} container(s)");
        if let Some(e) = errors.first() {
            text.push_str(&format!("; {} could not be read: {e}", errors.len()));
        }
        Some(text)
    }

    /// Reads of older lines still running.
    pub fn backfilling(&self) -> usize {
        self.backfills.len()
    }

    /// Every source has ended (one-shot reads).
    pub fn all_ended(&self) -> bool {
        !self.sources.is_empty()
            && self
                .sources
                .iter()
                .all(|s| matches!(s.state, SourceState::Ended { .. } | SourceState::Removed | SourceState::Stopped))
    }

    /// Lines dropped so far because the consumer was too slow (each drop is also marked in
    /// the stream where it happened).
    pub fn dropped(&self) -> u64 {
        self.rings.dropped_total()
    }
}
