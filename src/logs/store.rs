//! The merged log buffer: entries of all streams ordered by timestamp (arrival order among
//! equal timestamps), bounded by a line budget that evicts the oldest entries and counts them.
//!
//! Entries are addressed by *absolute positions* (`index + evicted`), which stay valid when the
//! front is evicted. A late entry (backfill after a reconnect) inserted before the end shifts
//! the absolute positions after it by one; views follow through
//! [`FilteredView::on_insert`](crate::logs::view::FilteredView::on_insert).
//!
//! Cost: appending is O(1); a late entry d places before the end costs O(log d) to find and
//! O(min(d, len - d)) to shift. [`LogStore::insert_batch`] (in `store/batch.rs`) pays that
//! shift once per batch instead of once per late entry.

use std::collections::VecDeque;

use crate::logs::line::Entry;

mod batch;

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

/// Entries ordered by `(ts, arrival)`, at most `budget` of them.
#[derive(Debug)]
pub struct LogStore {
    entries: VecDeque<Entry>,
    budget: usize,
    evicted: u64,
    next_seq: u64,
    late_inserts: u64,
}

impl LogStore {
    /// A store keeping at most `budget` entries (at least 1).
    pub fn new(budget: usize) -> Self {
        LogStore { entries: VecDeque::new(), budget: budget.max(1), evicted: 0, next_seq: 0, late_inserts: 0 }
    }

    /// Inserts after every entry with a timestamp at or before the new one's (so equal
    /// timestamps keep arrival order), assigns the line's `seq`, then evicts over budget.
    pub fn insert(&mut self, mut e: Entry) -> InsertOutcome {
        if let Entry::Line(l) = &mut e {
            l.seq = self.next_seq;
            self.next_seq += 1;
        }
        let idx = self.upper_bound_from_back(e.ts(), self.entries.len());
        let appended = idx == self.entries.len();
        self.reserve(1);
        if appended {
            self.entries.push_back(e);
        } else {
            self.entries.insert(idx, e);
            self.late_inserts += 1;
        }
        let abs = self.evicted + idx as u64;
        let evicted = self.evict_over_budget();
        InsertOutcome { abs, appended, evicted }
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
        if n == 0 || self.entries[n - 1].ts() <= ts {
            return n;
        }
        let mut hi = n - 1; // entries[hi] is later than ts
        let mut step = 1;
        let mut lo = loop {
            if step > hi {
                break 0;
            }
            let cand = hi - step;
            if self.entries[cand].ts() <= ts {
                break cand + 1;
            }
            hi = cand;
            step *= 2;
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entries[mid].ts() <= ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn evict_over_budget(&mut self) -> u64 {
        let over = self.entries.len().saturating_sub(self.budget);
        self.entries.drain(..over);
        self.evicted += over as u64;
        over as u64
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

    pub fn get(&self, abs: u64) -> Option<&Entry> {
        let idx = usize::try_from(abs.checked_sub(self.evicted)?).ok()?;
        self.entries.get(idx)
    }

    /// Absolute position of the oldest entry kept.
    pub fn first_abs(&self) -> u64 {
        self.evicted
    }

    /// One past the absolute position of the newest entry.
    pub fn end_abs(&self) -> u64 {
        self.evicted + self.entries.len() as u64
    }

    /// All entries kept, oldest first (the first is at [`first_abs`](Self::first_abs)).
    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Absolute position of the first entry at or after `ts` (`end_abs()` if none): "jump to
    /// time".
    pub fn seek_ts(&self, ts: i64) -> u64 {
        self.evicted + self.entries.partition_point(|e| e.ts() < ts) as u64
    }

    /// Drops every entry, counting them as evicted (absolute positions keep increasing).
    pub fn clear(&mut self) -> u64 {
        let n = self.entries.len() as u64;
        self.entries.clear();
        self.evicted += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{Gap, GapReason, LogLine, StreamKind};

    fn line(ts: i64, text: &str) -> Entry {
        Entry::Line(LogLine::new(ts, 0, StreamKind::Stdout, text))
    }

    fn texts(s: &LogStore) -> Vec<String> {
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
        let seqs: Vec<u64> = s.iter().map(|e| e.as_line().unwrap().seq).collect();
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
        assert_eq!(s.get(3).and_then(Entry::as_line).map(|l| &*l.text), Some("l3"));
        assert_eq!(s.get(1).and_then(Entry::as_line).map(|l| &*l.text), Some("l1"));
        assert_eq!(s.get(4), None);
        // older than everything kept while full: inserted at the front and evicted at once
        let o = s.insert(line(-5, "too old"));
        assert_eq!(o, InsertOutcome { abs: 1, appended: false, evicted: 1 });
        assert!(o.abs < s.first_abs());
        assert_eq!(texts(&s), ["l1", "l2", "l3"]);
        assert_eq!(s.get(2).and_then(Entry::as_line).map(|l| &*l.text), Some("l1"));
        assert_eq!(s.set_budget(1), 2);
        assert_eq!((texts(&s), s.first_abs()), (vec!["l3".to_string()], 4));
        assert_eq!(s.eviction_notice().as_deref(), Some("4 older lines dropped (line budget 1)"));
        assert_eq!(s.clear(), 1);
        assert_eq!((s.len(), s.first_abs(), s.end_abs()), (0, 5, 5));
        assert_eq!(s.insert(line(0, "fresh")).abs, 5);
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
