//! Per-stream bounded rings between a stream's reader task (producer) and the consumer that
//! merges into the store. Pushing never blocks and never grows a ring: when it is full the
//! line is dropped and counted into a pending [`Gap`], which enters the ring, in order, before
//! the next line that fits (or when the consumer has drained everything before it).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::logs::line::{Entry, Gap, GapReason, LogLine, SourceId};

/// Pending gaps beyond this many are merged into the last one (bounds memory when a stalled
/// consumer meets repeated reconnects).
const MAX_PENDING_GAPS: usize = 16;

/// A bounded FIFO of one stream's entries. Holds at most `capacity` entries (lines and gaps).
#[derive(Debug)]
pub struct StreamRing {
    source: SourceId,
    cap: usize,
    buf: VecDeque<Entry>,
    /// Gaps logically after everything in `buf`, waiting for room.
    pending: VecDeque<Gap>,
    dropped_total: u64,
}

impl StreamRing {
    /// A ring of `capacity` entries (at least 2: a gap and the line after it).
    pub fn new(source: SourceId, capacity: usize) -> Self {
        let cap = capacity.max(2);
        StreamRing {
            source,
            cap,
            buf: VecDeque::with_capacity(cap.min(4096)),
            pending: VecDeque::new(),
            dropped_total: 0,
        }
    }

    /// Queues `line`, or drops and counts it when the ring has no room for it (and for the
    /// pending gaps that must precede it). Returns whether it was accepted.
    pub fn push(&mut self, line: LogLine) -> bool {
        if self.buf.len() + self.pending.len() < self.cap {
            self.flush_pending();
            self.buf.push_back(Entry::Line(line));
            return true;
        }
        self.dropped_total += 1;
        let gap =
            Gap { source: self.source, count: 1, from_ts: line.ts, to_ts: line.ts, reason: GapReason::StreamOverflow };
        self.add_pending(gap);
        false
    }

    /// Queues a gap reported by the reader (e.g. [`GapReason::Reconnect`]); never dropped: when
    /// the ring is full it waits, in order, with the overflow gaps.
    pub fn push_gap(&mut self, gap: Gap) {
        if self.buf.len() + self.pending.len() < self.cap {
            self.flush_pending();
            self.buf.push_back(Entry::Gap(gap));
            return;
        }
        self.add_pending(gap);
    }

    /// Appends to the pending gaps, merging into the last one when the reason is the same (or
    /// when there are already [`MAX_PENDING_GAPS`]).
    fn add_pending(&mut self, gap: Gap) {
        let full = self.pending.len() >= MAX_PENDING_GAPS;
        match self.pending.back_mut() {
            Some(g) if g.reason == gap.reason || full => {
                g.count += gap.count;
                g.from_ts = g.from_ts.min(gap.from_ts);
                g.to_ts = g.to_ts.max(gap.to_ts);
            }
            _ => self.pending.push_back(gap),
        }
    }

    fn flush_pending(&mut self) {
        self.buf.extend(self.pending.drain(..).map(Entry::Gap));
    }

    /// Moves up to `max` entries, oldest first, into `out`; once the ring is empty the pending
    /// gaps follow. Returns how many were moved.
    pub fn drain_into(&mut self, out: &mut Vec<Entry>, max: usize) -> usize {
        let n = max.min(self.buf.len());
        out.extend(self.buf.drain(..n));
        let mut moved = n;
        while moved < max && self.buf.is_empty() {
            let Some(g) = self.pending.pop_front() else { break };
            out.push(Entry::Gap(g));
            moved += 1;
        }
        moved
    }

    /// Entries waiting in the ring (not counting pending gaps).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.pending.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    pub fn source(&self) -> SourceId {
        self.source
    }

    /// Gaps waiting for room in the ring.
    pub fn pending_gaps(&self) -> usize {
        self.pending.len()
    }

    /// Lines this ring dropped because it was full (gaps pushed by the reader not included).
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }
}

/// A [`StreamRing`] shared by its producer and the consumer: pushes take a short std lock and
/// wake the consumer through the [`Notify`] (one consumer per notify).
#[derive(Clone, Debug)]
pub struct SharedRing {
    ring: Arc<Mutex<StreamRing>>,
    notify: Arc<Notify>,
}

impl SharedRing {
    /// A ring with its own notify (see [`RingSet::add`] for rings sharing one).
    pub fn new(source: SourceId, capacity: usize) -> Self {
        Self::with_notify(source, capacity, Arc::new(Notify::new()))
    }

    fn with_notify(source: SourceId, capacity: usize, notify: Arc<Notify>) -> Self {
        SharedRing { ring: Arc::new(Mutex::new(StreamRing::new(source, capacity))), notify }
    }

    /// The ring itself; a panic while it was locked does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, StreamRing> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, line: LogLine) -> bool {
        let accepted = self.lock().push(line);
        self.notify.notify_one();
        accepted
    }

    /// Pushes many lines under one lock; returns how many were accepted.
    pub fn push_batch(&self, lines: impl IntoIterator<Item = LogLine>) -> usize {
        let accepted = {
            let mut ring = self.lock();
            lines.into_iter().map(|l| ring.push(l)).filter(|&ok| ok).count()
        };
        self.notify.notify_one();
        accepted
    }

    pub fn push_gap(&self, gap: Gap) {
        self.lock().push_gap(gap);
        self.notify.notify_one();
    }

    pub fn drain_into(&self, out: &mut Vec<Entry>, max: usize) -> usize {
        self.lock().drain_into(out, max)
    }

    /// Wakes the consumer without a new entry (its source changed state).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub fn source(&self) -> SourceId {
        self.lock().source()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn dropped_total(&self) -> u64 {
        self.lock().dropped_total()
    }

    /// Whether both handles are the same ring.
    pub fn same_ring(&self, other: &SharedRing) -> bool {
        Arc::ptr_eq(&self.ring, &other.ring)
    }
}

/// All rings feeding one store, with one notify so the consumer can await any of them.
#[derive(Debug, Default)]
pub struct RingSet {
    rings: Mutex<Vec<SharedRing>>,
    notify: Arc<Notify>,
}

impl RingSet {
    pub fn new() -> Self {
        Self::default()
    }

    fn rings(&self) -> MutexGuard<'_, Vec<SharedRing>> {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new ring for one stream of `source` (several streams may share a source); hand the
    /// returned handle to the stream's reader.
    pub fn add(&self, source: SourceId, capacity: usize) -> SharedRing {
        let ring = SharedRing::with_notify(source, capacity, self.notify.clone());
        self.rings().push(ring.clone());
        ring
    }

    /// Removes a ring (its stream ended), moving everything it still holds, pending gaps
    /// included, into `out`. Returns false when the ring was not in the set.
    pub fn remove(&self, ring: &SharedRing, out: &mut Vec<Entry>) -> bool {
        let mut rings = self.rings();
        let Some(i) = rings.iter().position(|r| r.same_ring(ring)) else { return false };
        rings.swap_remove(i).drain_into(out, usize::MAX);
        true
    }

    pub fn len(&self) -> usize {
        self.rings().len()
    }

    pub fn is_empty(&self) -> bool {
        self.rings().is_empty()
    }

    /// Resolves when a producer pushed since the last call returned (possibly spuriously).
    /// One consumer only.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    /// Moves up to `max` entries in all into `out`, the rings sharing it evenly (a ring with
    /// less than its share leaves the rest to the others), then orders what was added by
    /// timestamp (stable: a ring's entries with equal timestamps keep their order), so that
    /// inserting them into the store appends instead of shifting. When entries are left
    /// behind, the consumer is woken again for them. Returns the number moved.
    pub fn drain_all(&self, out: &mut Vec<Entry>, max: usize) -> usize {
        let start = out.len();
        let rings = self.rings().clone();
        let mut pending: Vec<&SharedRing> = rings.iter().collect();
        let mut left = max;
        while left > 0 && !pending.is_empty() {
            let share = (left / pending.len()).max(1);
            pending.retain(|r| {
                let n = r.drain_into(out, share.min(left));
                left -= n;
                n == share && left > 0
            });
        }
        out[start..].sort_by_key(Entry::ts);
        if rings.iter().any(|r| !r.is_empty()) {
            self.notify.notify_one();
        }
        out.len() - start
    }

    /// Lines dropped by all current rings.
    pub fn dropped_total(&self) -> u64 {
        self.rings().iter().map(SharedRing::dropped_total).sum()
    }

    /// Entries waiting in all rings.
    pub fn buffered(&self) -> usize {
        self.rings().iter().map(SharedRing::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::StreamKind;

    fn line(ts: i64) -> LogLine {
        LogLine::new(ts, 1, StreamKind::Stdout, &format!("line {ts}"))
    }

    /// Compact rendering: `L<ts>` for lines, `G<count>:<from>-<to>` for gaps.
    fn show(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Line(l) => format!("L{}", l.ts),
                Entry::Gap(g) => {
                    let r = if g.reason == GapReason::Reconnect { "R" } else { "G" };
                    format!("{r}{}:{}-{}", g.count, g.from_ts, g.to_ts)
                }
            })
            .collect()
    }

    #[test]
    fn never_exceeds_capacity_and_counts_drops() {
        let mut r = StreamRing::new(1, 4);
        let accepted: Vec<bool> = (0..10).map(|i| r.push(line(i))).collect();
        assert_eq!(accepted, [true, true, true, true, false, false, false, false, false, false]);
        assert_eq!((r.len(), r.dropped_total(), r.pending_gaps()), (4, 6, 1));
        let mut out = Vec::new();
        assert_eq!(r.drain_into(&mut out, 100), 5);
        assert_eq!(show(&out), ["L0", "L1", "L2", "L3", "G6:4-9"]);
        assert!(r.is_empty());
        assert_eq!(StreamRing::new(1, 0).capacity(), 2);
    }

    #[test]
    fn gap_goes_before_the_next_line_that_fits() {
        let mut r = StreamRing::new(1, 3);
        for i in 0..5 {
            r.push(line(i)); // 0,1,2 kept; 3,4 dropped
        }
        let mut out = Vec::new();
        assert_eq!(r.drain_into(&mut out, 1), 1); // room for one: gap + line need two
        assert!(!r.push(line(5)));
        assert_eq!(r.drain_into(&mut out, 1), 1);
        assert!(r.push(line(6)), "two free slots: the gap and the line");
        assert!(!r.push(line(7)), "full again");
        for e in 8..10 {
            r.push(line(e));
        }
        assert_eq!(r.len(), 3);
        r.drain_into(&mut out, 100);
        assert_eq!(show(&out), ["L0", "L1", "L2", "G3:3-5", "L6", "G3:7-9"]);
        assert_eq!(r.dropped_total(), 6);
        let total_lines = out.iter().filter(|e| e.as_line().is_some()).count() as u64;
        let gap_lines: u64 = out.iter().filter_map(|e| e.as_gap()).map(|g| g.count).sum();
        assert_eq!(total_lines + gap_lines, 10, "every pushed line is accounted for");
    }

    #[test]
    fn reader_gaps_keep_their_place() {
        let mut r = StreamRing::new(1, 2);
        r.push(line(0));
        r.push_gap(Gap { source: 1, count: 0, from_ts: 1, to_ts: 2, reason: GapReason::Reconnect });
        assert!(!r.push(line(3)));
        r.push_gap(Gap { source: 1, count: 4, from_ts: 4, to_ts: 5, reason: GapReason::Reconnect });
        r.push_gap(Gap { source: 1, count: 1, from_ts: 6, to_ts: 6, reason: GapReason::Reconnect });
        let mut out = Vec::new();
        r.drain_into(&mut out, 10);
        assert!(r.push(line(7)));
        r.drain_into(&mut out, 10);
        assert_eq!(show(&out), ["L0", "R0:1-2", "G1:3-3", "R5:4-6", "L7"]);
    }

    #[test]
    fn interleaved_push_and_drain_loses_nothing_unaccounted() {
        let mut r = StreamRing::new(1, 8);
        let mut out = Vec::new();
        let mut seed = 42u64;
        let mut ts = 0;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            for _ in 0..(seed >> 60) {
                r.push(line(ts));
                ts += 1;
                assert!(r.len() <= 8);
            }
            r.drain_into(&mut out, ((seed >> 40) % 6) as usize);
        }
        r.drain_into(&mut out, usize::MAX);
        let mut next = 0;
        for e in &out {
            match e {
                Entry::Line(l) => {
                    assert_eq!(l.ts, next);
                    next += 1;
                }
                Entry::Gap(g) => {
                    assert_eq!((g.from_ts, g.to_ts - g.from_ts + 1), (next, g.count as i64));
                    next += g.count as i64;
                }
            }
        }
        assert_eq!(next, ts);
        assert!(r.dropped_total() > 0, "the test should overflow sometimes");
    }

    #[test]
    fn drain_all_orders_across_rings() {
        let set = RingSet::new();
        let (a, b) = (set.add(1, 10), set.add(2, 10));
        for ts in [1, 4, 4, 9] {
            a.push(LogLine::new(ts, 1, StreamKind::Stdout, "a"));
        }
        for ts in [0, 4, 5] {
            b.push(LogLine::new(ts, 2, StreamKind::Stdout, "b"));
        }
        let mut out = vec![Entry::Line(line(100))];
        assert_eq!(set.drain_all(&mut out, 10), 7);
        let got: Vec<(i64, u32)> = out.iter().map(|e| (e.ts(), e.source())).collect();
        assert_eq!(got, [(100, 1), (0, 2), (1, 1), (4, 1), (4, 1), (4, 2), (5, 2), (9, 1)]);
    }

    #[tokio::test]
    async fn ring_set_wakes_the_consumer_and_drains_all() {
        let set = Arc::new(RingSet::new());
        let a = set.add(1, 100);
        let b = set.add(2, 2);
        assert_eq!(set.len(), 2);
        let producer = tokio::spawn(async move {
            a.push_batch((0..3).map(line));
            for i in 10..14 {
                b.push(LogLine::new(i, 2, StreamKind::Stderr, "x"));
            }
            (a, b)
        });
        set.changed().await;
        let (a, b) = producer.await.unwrap();
        let mut out = Vec::new();
        assert_eq!(set.drain_all(&mut out, 4), 4);
        assert_eq!(show(&out), ["L0", "L1", "L10", "L11"]);
        assert_eq!((set.buffered(), set.dropped_total()), (1, 2));
        out.clear();
        assert!(set.remove(&b, &mut out));
        assert_eq!(show(&out), ["G2:12-13"]);
        assert!(!set.remove(&b, &mut out));
        set.drain_all(&mut out, 10);
        assert_eq!(show(&out), ["G2:12-13", "L2"]);
        assert!(a.is_empty());
        // a push while nobody waits is remembered
        a.push(line(5));
        tokio::time::timeout(std::time::Duration::from_secs(1), set.changed()).await.unwrap();
    }

    #[tokio::test]
    async fn drain_all_caps_the_total_shares_it_and_wakes_again_for_what_is_left() {
        let set = RingSet::new();
        let (a, b, c) = (set.add(1, 100), set.add(2, 100), set.add(3, 100));
        a.push_batch((0..50).map(line));
        b.push(LogLine::new(7, 2, StreamKind::Stdout, "b"));
        c.push_batch((100..130).map(|ts| LogLine::new(ts, 3, StreamKind::Stdout, "c")));
        set.changed().await;
        let mut out = Vec::new();
        // 30 in all: b's one line, then the rest split between a and c
        assert_eq!(set.drain_all(&mut out, 30), 30);
        let per = |s: u32| out.iter().filter(|e| e.source() == s).count();
        assert_eq!((per(1), per(2), per(3)), (15, 1, 14));
        // lines were left: the consumer is woken again without a new push
        tokio::time::timeout(std::time::Duration::from_secs(1), set.changed()).await.expect("woken for the rest");
        out.clear();
        assert_eq!(set.drain_all(&mut out, usize::MAX), 51);
        assert_eq!(set.buffered(), 0);
        // nothing left: no wake-up
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), set.changed()).await.is_err());
        // a source's state change wakes the consumer without an entry
        c.wake();
        tokio::time::timeout(std::time::Duration::from_secs(1), set.changed()).await.expect("woken by wake()");
    }
}
