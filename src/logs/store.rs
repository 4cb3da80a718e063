//! The merged log buffer: entries of all streams ordered by timestamp (arrival order among
//! equal timestamps), bounded by a line budget that evicts the oldest entries and counts them.
//!
//! Entries are addressed by *absolute positions* (`index + evicted`), which stay valid when the
//! front is evicted. A late entry (backfill after a reconnect) inserted before the end shifts
//! the absolute positions after it by one; views follow through
//! [`FilteredView::on_insert`](crate::logs::view::FilteredView::on_insert).
//!
//! Memory: the store keeps a 16-byte slot per entry (its timestamp, and a [`Loc`]: where its
//! record is, its stream and level, its seq) and the rest (source and text; a gap's fields) as
//! one record in 64 KiB append-only chunks, LZ4-packed once they are a few chunks behind the
//! newest ([`arena`]): a line costs the slot plus its packed record (typically a quarter of
//! its text; text that does not compress stays plain at its length plus ~4 bytes). [`LogStore::get`] and
//! [`LogStore::iter`] hand out [`EntryRef`]s borrowing the text.
//!
//! Cost: appending is O(1); a late entry d places before the end costs O(log d) to find and
//! O(min(d, len - d)) to shift. [`LogStore::insert_batch`] (in `store/batch.rs`) pays that
//! shift once per batch instead of once per late entry.

use std::collections::VecDeque;

use crate::logs::line::{Entry, EntryRef};

pub mod arena;
mod batch;
mod scan;

use arena::{Arena, Loc};
pub use batch::BatchOutcome;

/// Where [`LogStore::insert`] put an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsertOutcome {
    /// Absolute position of the new entry; entries at or after it (before the insert) moved up
    /// by one. Below [`LogStore::first_abs`] when it was evicted at once (older than anything
    /// kept while the store was full).
    pub abs: u64,
    /// Whether it went at the end (the common case: nothing shifted).
    pub appended: bool,
    /// How many entries this insert evicted from the front.
    pub evicted: u64,
}

/// One entry in the store: its sort key and its record in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    ts: i64,
    loc: Loc,
}

/// Entries ordered by `(ts, arrival)`, at most `budget` of them.
#[derive(Debug)]
pub struct LogStore {
    entries: VecDeque<Slot>,
    arena: Arena,
    budget: usize,
    evicted: u64,
    next_seq: u64,
    late_inserts: u64,
}

impl LogStore {
    /// A store keeping at most `budget` entries (at least 1).
    pub fn new(budget: usize) -> Self {
        Self::with_arena(budget, Arena::default())
    }

    fn with_arena(budget: usize, arena: Arena) -> Self {
        LogStore { entries: VecDeque::new(), arena, budget: budget.max(1), evicted: 0, next_seq: 0, late_inserts: 0 }
    }

    /// Inserts after every entry with a timestamp at or before the new one's (so equal
    /// timestamps keep arrival order), assigns the line's `seq`, then evicts over budget.
    pub fn insert(&mut self, e: Entry) -> InsertOutcome {
        let slot = self.slot_for(e);
        let idx = self.upper_bound_from_back(slot.ts, self.entries.len());
        let appended = idx == self.entries.len();
        self.reserve(1);
        if appended {
            self.entries.push_back(slot);
        } else {
            self.entries.insert(idx, slot);
            self.late_inserts += 1;
        }
        let abs = self.evicted + idx as u64;
        let evicted = self.evict_over_budget();
        InsertOutcome { abs, appended, evicted }
    }

    /// Copies `e` into the arena (assigning a line's `seq`) and returns its slot.
    fn slot_for(&mut self, e: Entry) -> Slot {
        let seq = self.next_seq;
        if let Entry::Line(_) = e {
            self.next_seq += 1;
        }
        Slot { ts: e.ts(), loc: self.arena.push(&e, seq) }
    }

    /// Room for `extra` more entries: doubling, but not past the budget plus what is about to
    /// be evicted, so a full store holds no more than ~`budget` slots.
    fn reserve(&mut self, extra: usize) {
        let len = self.entries.len();
        if len + extra > self.entries.capacity() {
            let limit = self.budget.saturating_add(extra).max(len + extra);
            let want = (2 * len).max(len + extra).max(16).min(limit);
            self.entries.reserve_exact(want - len);
        }
    }

    /// First index below `n` whose entry is later than `ts` (entries before `n` being sorted),
    /// galloping from `n` down: O(log d) for an entry that belongs d places before `n`.
    fn upper_bound_from_back(&self, ts: i64, n: usize) -> usize {
        if n == 0 || self.entries[n - 1].ts <= ts {
            return n;
        }
        let mut hi = n - 1; // entries[hi] is later than ts
        let mut step = 1;
        let mut lo = loop {
            if step > hi {
                break 0;
            }
            let cand = hi - step;
            if self.entries[cand].ts <= ts {
                break cand + 1;
            }
            hi = cand;
            step *= 2;
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entries[mid].ts <= ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Evicts the oldest entries over the budget, releasing their records.
    fn evict_over_budget(&mut self) -> u64 {
        let over = self.entries.len().saturating_sub(self.budget);
        for s in self.entries.drain(..over) {
            self.arena.release(s.loc);
        }
        self.evicted += over as u64;
        self.compact();
        over as u64
    }

    /// Relocates the records of chunks that entries kept long after their neighbours pin
    /// (see [`Arena::begin_compaction`]): one pass over the slots, only when the arena wastes
    /// half as much as it holds.
    fn compact(&mut self) {
        if self.arena.begin_compaction() {
            for s in self.entries.iter_mut() {
                if self.arena.is_victim(s.loc) {
                    s.loc = self.arena.relocate(s.ts, s.loc);
                }
            }
            self.arena.end_compaction();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Changes the budget (at least 1), evicting at once if over it; returns how many were
    /// evicted (views then need `on_evict(first_abs())`).
    pub fn set_budget(&mut self, budget: usize) -> u64 {
        self.budget = budget.max(1);
        let n = self.evict_over_budget();
        if self.entries.capacity() > 2 * self.budget.max(self.entries.len()) {
            self.entries.shrink_to(self.budget);
        }
        n
    }

    /// Entries evicted from the front so far (budget and [`clear`](Self::clear)).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries that were inserted before an entry already stored (late arrivals).
    pub fn late_inserts(&self) -> u64 {
        self.late_inserts
    }

    /// `N older lines dropped (line budget B)` once anything was evicted.
    pub fn eviction_notice(&self) -> Option<String> {
        (self.evicted > 0).then(|| format!("{} older lines dropped (line budget {})", self.evicted, self.budget))
    }

    /// The entry at absolute position `abs`. A packed chunk is unpacked into a copy kept until
    /// the store next changes (once more than a few dozen are held): for a few entries, such as
    /// the rows on screen; passes over many use [`reader`](Self::reader).
    pub fn get(&self, abs: u64) -> Option<EntryRef<'_>> {
        let s = self.slot(abs)?;
        Some(self.arena.get(s.ts, s.loc))
    }

    fn slot(&self, abs: u64) -> Option<&Slot> {
        self.entries.get(usize::try_from(abs.checked_sub(self.evicted)?).ok()?)
    }

    /// Absolute position of the oldest entry kept.
    pub fn first_abs(&self) -> u64 {
        self.evicted
    }

    /// One past the absolute position of the newest entry.
    pub fn end_abs(&self) -> u64 {
        self.evicted + self.entries.len() as u64
    }

    /// All entries kept, oldest first (the first is at [`first_abs`](Self::first_abs)). Like
    /// [`get`](Self::get), it unpacks packed chunks into copies kept until the store next
    /// changes: for tests and small stores; passes over many entries use
    /// [`reader`](Self::reader) or [`for_each`](Self::for_each).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = EntryRef<'_>> + ExactSizeIterator {
        self.entries.iter().map(|s| self.arena.get(s.ts, s.loc))
    }

    /// A reader for passes over many entries: packed chunks are unpacked into its own buffer
    /// one at a time, and no copy is kept (see [`arena`]).
    pub fn reader(&self) -> StoreReader<'_> {
        StoreReader { store: self, arena: self.arena.reader() }
    }

    /// Calls `f` with every entry kept, oldest first, and its absolute position.
    pub fn for_each(&self, mut f: impl FnMut(u64, EntryRef<'_>)) {
        let mut r = self.arena.reader();
        for (i, s) in self.entries.iter().enumerate() {
            f(self.evicted + i as u64, r.get(s.ts, s.loc));
        }
    }

    /// Drops unpacked copies of packed chunks beyond a few dozen (see [`LogStore::get`]); call
    /// it between frames.
    pub fn trim_cache(&mut self) {
        self.arena.trim_cached();
    }

    /// What the arena holds: chunks packed so far and packed now, and bytes of unpacked copies.
    pub fn packing_stats(&self) -> (u64, usize, usize) {
        let (ever, now) = self.arena.packed_chunks();
        (ever, now, self.arena.cached_bytes())
    }

    /// Times the arena relocated records that pinned its chunks (see [`arena`]).
    pub fn compactions(&self) -> u64 {
        self.arena.compactions()
    }

    /// Bytes the store holds for its entries: the slots' deque and the arena's chunks (not
    /// counting the allocator's own overhead).
    pub fn bytes_held(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Slot>() + self.arena.held_bytes()
    }

    /// Absolute position of the first entry at or after `ts` (`end_abs()` if none): "jump to
    /// time".
    pub fn seek_ts(&self, ts: i64) -> u64 {
        self.evicted + self.entries.partition_point(|e| e.ts < ts) as u64
    }

    /// Drops every entry, counting them as evicted (absolute positions keep increasing).
    pub fn clear(&mut self) -> u64 {
        let n = self.entries.len() as u64;
        self.entries.clear();
        self.arena.clear();
        self.evicted += n;
        n
    }
}

/// Reads entries of a [`LogStore`] for a pass over many of them ([`LogStore::reader`]).
pub struct StoreReader<'a> {
    store: &'a LogStore,
    arena: arena::Reader<'a>,
}

impl StoreReader<'_> {
    /// The entry at absolute position `abs`, borrowing the reader until the next call.
    pub fn get(&mut self, abs: u64) -> Option<EntryRef<'_>> {
        let s = self.store.slot(abs)?;
        Some(self.arena.get(s.ts, s.loc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{Gap, GapReason, LogLine, StreamKind};

    pub(super) fn line(ts: i64, text: &str) -> Entry {
        Entry::Line(LogLine::new(ts, 0, StreamKind::Stdout, text))
    }

    pub(super) fn texts(s: &LogStore) -> Vec<String> {
        s.iter()
            .map(|e| match e {
                Entry::Line(l) => l.text.to_string(),
                Entry::Gap(g) => format!("gap{}", g.count),
            })
            .collect()
    }

    #[test]
    fn late_entries_land_in_place() {
        let mut s = LogStore::new(100);
        for (ts, t) in [(10, "a"), (20, "b"), (30, "c"), (40, "d"), (50, "e")] {
            let o = s.insert(line(ts, t));
            assert!(o.appended);
        }
        let o = s.insert(line(25, "late"));
        assert_eq!(o, InsertOutcome { abs: 2, appended: false, evicted: 0 });
        let o = s.insert(line(5, "oldest"));
        assert_eq!(o, InsertOutcome { abs: 0, appended: false, evicted: 0 });
        let o = s.insert(line(50, "tie"));
        assert_eq!(o, InsertOutcome { abs: 7, appended: true, evicted: 0 });
        let gap = Gap { source: 0, count: 3, from_ts: 41, to_ts: 45, reason: GapReason::StreamOverflow };
        assert_eq!(s.insert(Entry::Gap(gap)).abs, 6);
        assert_eq!(texts(&s), ["oldest", "a", "b", "late", "c", "d", "gap3", "e", "tie"]);
        assert_eq!(s.late_inserts(), 3);
    }

    #[test]
    fn equal_timestamps_keep_arrival_order_and_seq() {
        let mut s = LogStore::new(100);
        for t in ["1", "2", "3"] {
            s.insert(line(7, t));
        }
        s.insert(line(9, "later"));
        s.insert(line(7, "4"));
        assert_eq!(texts(&s), ["1", "2", "3", "4", "later"]);
        let seqs: Vec<u64> = s.iter().map(|e| e.into_line().unwrap().seq).collect();
        assert_eq!(seqs, [0, 1, 2, 4, 3]);
    }

    #[test]
    fn galloping_search_matches_linear_search() {
        let mut s = LogStore::new(10_000);
        let mut seed = 7u64;
        let mut model: Vec<(i64, usize)> = Vec::new();
        for i in 0..3000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let ts = if seed >> 62 == 0 { i as i64 - (seed >> 50) as i64 % 500 } else { i as i64 };
            let pos = model.iter().position(|&(t, _)| t > ts).unwrap_or(model.len());
            model.insert(pos, (ts, i));
            assert_eq!(s.insert(line(ts, &i.to_string())).abs, pos as u64);
        }
        let got: Vec<String> = texts(&s);
        let want: Vec<String> = model.iter().map(|&(_, i)| i.to_string()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn budget_eviction_counts_and_keeps_absolute_positions() {
        let mut s = LogStore::new(3);
        for ts in 0..3 {
            s.insert(line(ts, &format!("l{ts}")));
        }
        assert_eq!(s.eviction_notice(), None);
        let o = s.insert(line(3, "l3"));
        assert_eq!(o, InsertOutcome { abs: 3, appended: true, evicted: 1 });
        assert_eq!((s.len(), s.evicted(), s.first_abs(), s.end_abs()), (3, 1, 1, 4));
        assert_eq!(s.get(0), None);
        assert_eq!(s.get(3).and_then(Entry::into_line).map(|l| l.text), Some("l3"));
        assert_eq!(s.get(1).and_then(Entry::into_line).map(|l| l.text), Some("l1"));
        assert_eq!(s.get(4), None);
        // older than everything kept while full: inserted at the front and evicted at once
        let o = s.insert(line(-5, "too old"));
        assert_eq!(o, InsertOutcome { abs: 1, appended: false, evicted: 1 });
        assert!(o.abs < s.first_abs());
        assert_eq!(texts(&s), ["l1", "l2", "l3"]);
        assert_eq!(s.get(2).and_then(Entry::into_line).map(|l| l.text), Some("l1"));
        assert_eq!(s.set_budget(1), 2);
        assert_eq!((texts(&s), s.first_abs()), (vec!["l3".to_string()], 4));
        assert_eq!(s.eviction_notice().as_deref(), Some("4 older lines dropped (line budget 1)"));
        assert_eq!(s.clear(), 1);
        assert_eq!((s.len(), s.first_abs(), s.end_abs()), (0, 5, 5));
        assert_eq!(s.insert(line(0, "fresh")).abs, 5);
    }

    /// What the store must hold: `(ts, seq, text or gap count)` in order, the budget applied.
    struct Model {
        entries: Vec<(i64, u64, String)>,
        budget: usize,
        next_seq: u64,
    }

    impl Model {
        fn insert(&mut self, e: &Entry) {
            let (ts, seq, what) = match e {
                Entry::Line(l) => {
                    self.next_seq += 1;
                    (l.ts, self.next_seq - 1, l.text.to_string())
                }
                Entry::Gap(g) => (g.from_ts, 0, format!("gap {} {} {:?}", g.count, g.to_ts, g.reason)),
            };
            let at = self.entries.partition_point(|&(t, ..)| t <= ts);
            self.entries.insert(at, (ts, seq, what));
            let over = self.entries.len().saturating_sub(self.budget);
            self.entries.drain(..over);
        }
    }

    fn contents(s: &LogStore) -> Vec<(i64, u64, String)> {
        s.iter()
            .map(|e| match e {
                Entry::Line(l) => (l.ts, l.seq, l.text.to_string()),
                Entry::Gap(g) => (g.from_ts, 0, format!("gap {} {} {:?}", g.count, g.to_ts, g.reason)),
            })
            .collect()
    }

    /// Feeds `next_entry(i)` for `0..n` to a store with small chunks, one by one and in
    /// batches, and checks it against the model and the arena's bound after every step.
    fn run_against_model(n: usize, budget: usize, mut next_entry: impl FnMut(usize) -> Entry) -> LogStore {
        const CHUNK: usize = 512;
        let mut s = LogStore::with_arena(budget, Arena::with_chunk_bytes(CHUNK));
        let mut model = Model { entries: Vec::new(), budget, next_seq: 0 };
        let mut i = 0;
        while i < n {
            let k = [1, 1, 7, 30][i % 4];
            let mut batch: Vec<Entry> = (i..(i + k).min(n)).map(&mut next_entry).collect();
            i += batch.len();
            batch.iter().for_each(|e| model.insert(e));
            if batch.len() == 1 {
                s.insert(batch.pop().unwrap());
            } else {
                s.insert_batch(&mut batch);
            }
            assert_eq!(contents(&s), model.entries, "after {i} entries");
            s.arena.check();
            let (extent, live) = (s.arena.extent_bytes(), s.arena.live_bytes());
            assert!(extent <= live + live / 2 + 10 * CHUNK, "after {i} entries: {extent} bytes held for {live}");
        }
        s
    }

    fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut x = seed;
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        }
    }

    #[test]
    fn texts_stay_intact_through_evictions_and_late_lines() {
        let mut next = rng(0x5eed);
        let s = run_against_model(20_000, 300, |i| {
            let ts = i as i64 * 10;
            match next(100) {
                0 => line(ts - 5_000 - next(5_000) as i64, &format!("very late {i}")), // mostly evicted at once
                1..=5 => line(ts - next(500) as i64, &format!("late {i} ünï")),
                6 => Entry::Gap(Gap {
                    source: 1,
                    count: next(1000),
                    from_ts: ts - 3,
                    to_ts: ts,
                    reason: GapReason::Reconnect,
                }),
                _ => line(ts, &format!("line {i} {}", "x".repeat(next(120) as usize))),
            }
        });
        assert!(s.late_inserts() > 1000 && s.evicted() > 19_000);
        assert!(s.arena.held_chunks() <= 2 * 300 * 140 / 512 + 4, "{} chunks", s.arena.held_chunks());
        assert_eq!(s.arena.compactions(), 0, "late lines alone never need relocating");
    }

    #[test]
    fn lines_far_ahead_do_not_pin_their_chunks() {
        // one source's clock is far ahead: its lines outlive the lines that arrived with them,
        // one or two per chunk; relocation keeps the arena within 1.5x of what it references
        let mut next = rng(42);
        let s = run_against_model(30_000, 1_000, |i| {
            let ts = i as i64 * 10;
            if next(40) == 0 {
                line(ts + 200_000, &format!("ahead {i}"))
            } else {
                line(ts, &format!("line {i} {}", "y".repeat(40)))
            }
        });
        assert!(s.iter().any(|e| e.into_line().is_some_and(|l| l.text.starts_with("ahead"))));
        assert!(s.arena.compactions() > 0);
        // a single line far ahead pins one chunk while the rest come and go: the freed ids
        // behind it are dropped by relocating it
        let mut next = rng(7);
        let s = run_against_model(40_000, 50, |i| {
            if i == 0 {
                line(i64::MAX, "forever")
            } else {
                line(i as i64, &format!("line {i} {}", "z".repeat(next(60) as usize)))
            }
        });
        assert!(s.arena.held_chunks() < 20 && s.arena.chunk_slots() < 2 * 20 + 64, "{}", s.arena.chunk_slots());
        assert!(s.arena.compactions() > 0);
        assert_eq!(s.iter().last().and_then(Entry::into_line).map(|l| (l.text, l.seq)), Some(("forever", 0)));
    }

    #[test]
    fn clear_and_shrinking_the_budget_release_the_arena() {
        let mut s = LogStore::with_arena(10_000, Arena::with_chunk_bytes(1024).without_packing());
        for i in 0..5_000 {
            s.insert(line(i, &format!("{i:>60}")));
        }
        let before = s.arena.held_bytes();
        s.set_budget(100);
        assert!(s.arena.held_bytes() < before / 20, "{} of {before}", s.arena.held_bytes());
        assert_eq!(s.get(4_999).and_then(Entry::into_line).map(|l| l.text.trim_start()), Some("4999"));
        s.clear();
        assert_eq!((s.arena.held_bytes(), s.bytes_held() > 0), (0, true));
        s.insert(line(1, "after"));
        assert_eq!(texts(&s), ["after"]);
    }

    #[test]
    fn seek_by_time() {
        let mut s = LogStore::new(2);
        for ts in [10, 20, 30] {
            s.insert(line(ts, "x"));
        }
        assert_eq!((s.seek_ts(0), s.seek_ts(20), s.seek_ts(25), s.seek_ts(99)), (1, 1, 2, 3));
    }
}
