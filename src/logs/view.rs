//! A filtered, scrollable window onto a [`LogStore`]: the log pane's model, free of UI types.
//!
//! The view keeps the absolute positions of the entries its filter lets through, in order, and
//! is kept in sync incrementally: call [`FilteredView::on_insert`] right after every
//! [`LogStore::insert`] (before the next one), [`FilteredView::on_evict`] after
//! [`LogStore::set_budget`] or [`LogStore::clear`], and [`FilteredView::set_filter`] when the
//! filter changes (a full O(n) rebuild).

use std::collections::VecDeque;

use regex::Regex;

use crate::logs::filter::LogFilter;
use crate::logs::line::{strip_ansi, Entry, EntryRef};
use crate::logs::store::{BatchOutcome, InsertOutcome, LogStore};

mod follow;

pub use follow::Follow;

/// How one store change affected a view (feed it to [`Follow::on_change`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewChange {
    /// View index of the new entry when the filter let it through (after `removed_front`).
    pub inserted_at: Option<usize>,
    /// Whether the new entry went at the end of the view.
    pub appended: bool,
    /// Entries that left the front of the view through eviction.
    pub removed_front: usize,
}

/// How one [`LogStore::insert_batch`] affected a view (feed it to [`Follow::on_batch`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchChange {
    /// Final view indexes of the new entries the filter let through, ascending.
    pub inserted_at: Vec<usize>,
    /// How many of those went after every entry the view already had.
    pub appended: usize,
    /// Entries that left the front of the view through eviction.
    pub removed_front: usize,
}

#[derive(Clone, Debug)]
pub struct FilteredView {
    filter: LogFilter,
    /// Absolute store positions of matching entries, ascending.
    index: VecDeque<u64>,
}

impl FilteredView {
    /// An empty view; call [`rebuild`](Self::rebuild) if the store already holds entries.
    pub fn new(filter: LogFilter) -> Self {
        FilteredView { filter, index: VecDeque::new() }
    }

    pub fn filter(&self) -> &LogFilter {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: LogFilter, store: &LogStore) {
        self.filter = filter;
        self.rebuild(store);
    }

    /// Recomputes the index from the whole store.
    pub fn rebuild(&mut self, store: &LogStore) {
        self.index.clear();
        let first = store.first_abs();
        if self.filter.is_empty() {
            self.index.extend(first..store.end_abs());
        } else {
            let filter = &self.filter;
            self.index.extend(store.positions_where(|e| filter.matches_entry(e)));
        }
        if self.index.capacity() > 2 * self.index.len() + 1024 {
            self.index.shrink_to_fit();
        }
    }

    /// Follows one [`LogStore::insert`]; must run before the store changes again.
    pub fn on_insert(&mut self, store: &LogStore, outcome: &InsertOutcome) -> ViewChange {
        let matches = store.get(outcome.abs).is_some_and(|e| self.filter.matches_entry(&e));
        let mut change = ViewChange::default();
        if outcome.appended {
            if matches {
                self.index.push_back(outcome.abs);
                change.inserted_at = Some(self.index.len() - 1);
                change.appended = true;
            }
        } else {
            let pos = self.index.partition_point(|&a| a < outcome.abs);
            for a in self.index.range_mut(pos..) {
                *a += 1;
            }
            if matches {
                self.index.insert(pos, outcome.abs);
                change.inserted_at = Some(pos);
                change.appended = pos + 1 == self.index.len();
            }
        }
        change.removed_front = self.on_evict(store.first_abs());
        change.inserted_at = change.inserted_at.and_then(|i| i.checked_sub(change.removed_front));
        change
    }

    /// Follows one [`LogStore::insert_batch`]: filters the new entries and shifts the
    /// positions after the earliest of them in one pass. Must run before the store changes
    /// again.
    pub fn on_insert_batch(&mut self, store: &LogStore, outcome: &BatchOutcome) -> BatchChange {
        let mut change = BatchChange::default();
        let pos = &outcome.positions;
        if let Some(&p0) = pos.first() {
            let mut r = store.reader();
            let matched: Vec<bool> =
                pos.iter().map(|&p| r.get(p).is_some_and(|e| self.filter.matches_entry(&e))).collect();
            let k = self.index.partition_point(|&a| a < p0);
            let old_tail: Vec<u64> = self.index.drain(k..).collect();
            let mut j = 0;
            for a in old_tail {
                // new entry j went before old entry a when its slot among the old ones is <= a
                while j < pos.len() && pos[j] - j as u64 <= a {
                    if matched[j] {
                        change.inserted_at.push(self.index.len());
                        self.index.push_back(pos[j]);
                    }
                    j += 1;
                }
                self.index.push_back(a + j as u64);
            }
            for (&p, _) in pos[j..].iter().zip(&matched[j..]).filter(|(_, &m)| m) {
                change.inserted_at.push(self.index.len());
                self.index.push_back(p);
                change.appended += 1;
            }
        }
        change.removed_front = self.on_evict(store.first_abs());
        let removed = change.removed_front;
        change.inserted_at.retain_mut(|i| match i.checked_sub(removed) {
            Some(v) => {
                *i = v;
                true
            }
            None => false,
        });
        change.appended = change.appended.min(change.inserted_at.len());
        change
    }

    /// Drops the entries before `first_abs` (the store's new front); returns how many.
    pub fn on_evict(&mut self, first_abs: u64) -> usize {
        let n = self.index.partition_point(|&a| a < first_abs);
        self.index.drain(..n);
        n
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Absolute store position of the view's `i`-th entry.
    pub fn abs_at(&self, i: usize) -> Option<u64> {
        self.index.get(i).copied()
    }

    /// View index of the first entry at or after absolute position `abs` (keeps a cursor on
    /// the same spot across filter changes).
    pub fn index_of_abs(&self, abs: u64) -> usize {
        self.index.partition_point(|&a| a < abs)
    }

    pub fn entry_at<'a>(&self, store: &'a LogStore, i: usize) -> Option<EntryRef<'a>> {
        store.get(*self.index.get(i)?)
    }

    /// Up to `height` entries starting at view index `first`.
    pub fn window<'a>(&self, store: &'a LogStore, first: usize, height: usize) -> Vec<EntryRef<'a>> {
        let start = first.min(self.index.len());
        let end = first.saturating_add(height).min(self.index.len());
        self.index.range(start..end).filter_map(|&a| store.get(a)).collect()
    }

    /// The next (or previous) line after `from` whose ANSI-stripped text matches `re`,
    /// wrapping around; `from` itself is tried last. Gaps never match.
    pub fn find(&self, store: &LogStore, re: &Regex, from: usize, forward: bool) -> Option<usize> {
        let n = self.index.len();
        if n == 0 {
            return None;
        }
        let from = from.min(n - 1);
        let mut r = store.reader();
        (1..=n).map(|k| if forward { (from + k) % n } else { (from + n - k % n) % n }).find(|&i| {
            r.get(self.index[i]).and_then(Entry::into_line).is_some_and(|l| re.is_match(&strip_ansi(l.text)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::filter::FilterSpec;
    use crate::logs::line::{Gap, GapReason, LogLine, StreamKind};

    fn filter(include: &str) -> LogFilter {
        LogFilter::new(&FilterSpec { include: Some(include.into()), ..Default::default() }).unwrap()
    }

    fn line(ts: i64, source: u32, text: &str) -> Entry {
        Entry::Line(LogLine::new(ts, source, StreamKind::Stdout, text))
    }

    fn text(e: EntryRef<'_>) -> &str {
        e.into_line().map_or("<gap>", |l| l.text)
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn incremental_index_equals_rebuild() {
        for seed in [1u64, 2, 3, 0xdead_beef] {
            let mut rng = Rng(seed);
            let mut store = LogStore::new(60);
            let specs = [
                FilterSpec { include: Some("[ab]".into()), ..Default::default() },
                FilterSpec { sources: Some(vec![1]), exclude: Some("c".into()), ..Default::default() },
                FilterSpec::default(),
            ];
            let mut views: Vec<FilteredView> =
                specs.iter().map(|s| FilteredView::new(LogFilter::new(s).unwrap())).collect();
            let mut ts = 0i64;
            let mut pending = Vec::new();
            for step in 0..3000 {
                let e = match rng.next(20) {
                    0 => {
                        let from_ts = ts - rng.next(30) as i64;
                        let count = 1 + rng.next(9);
                        Entry::Gap(Gap { source: 1, count, from_ts, to_ts: ts, reason: GapReason::Reconnect })
                    }
                    1..=4 => line(ts - rng.next(80) as i64, rng.next(3) as u32, ["a", "b", "c", "ab"][step % 4]),
                    _ => {
                        ts += rng.next(3) as i64;
                        line(ts, rng.next(3) as u32, ["a", "bc", "c", "d", "x"][rng.next(5) as usize])
                    }
                };
                if step % 2 == 0 {
                    pending.push(e);
                } else {
                    let outcome = store.insert(e);
                    for v in &mut views {
                        let before = v.len();
                        let change = v.on_insert(&store, &outcome);
                        assert_eq!(v.len(), before + usize::from(change.inserted_at.is_some()) - change.removed_front);
                    }
                }
                if step % 2 == 0 && (rng.next(8) == 0 || pending.len() > 30) {
                    let outcome = store.insert_batch(&mut pending);
                    for v in &mut views {
                        let before = v.len();
                        let change = v.on_insert_batch(&store, &outcome);
                        assert_eq!(v.len(), before + change.inserted_at.len() - change.removed_front);
                        assert!(change.inserted_at.windows(2).all(|w| w[0] < w[1]));
                        for &i in &change.inserted_at {
                            let abs = v.abs_at(i).unwrap();
                            assert!(outcome.positions.contains(&abs), "seed {seed} step {step}");
                        }
                    }
                }
                if rng.next(200) == 0 {
                    store.set_budget(20 + rng.next(80) as usize);
                    for v in &mut views {
                        v.on_evict(store.first_abs());
                    }
                }
                for v in &views {
                    let mut fresh = FilteredView::new(v.filter().clone());
                    fresh.rebuild(&store);
                    assert_eq!(v.index, fresh.index, "seed {seed} step {step}");
                }
            }
            assert!(store.evicted() > 0 && store.late_inserts() > 0);
        }
    }

    fn sample() -> (LogStore, FilteredView) {
        let mut store = LogStore::new(100);
        let mut view = FilteredView::new(filter("hit|gap"));
        for (i, t) in ["hit 0", "miss", "hit 1", "\x1b[1mhit\x1b[0m 2", "miss", "hit 3"].iter().enumerate() {
            let o = store.insert(line(i as i64, 0, t));
            view.on_insert(&store, &o);
        }
        let gap = Gap { source: 0, count: 2, from_ts: 10, to_ts: 11, reason: GapReason::StreamOverflow };
        let o = store.insert(Entry::Gap(gap));
        view.on_insert(&store, &o);
        (store, view)
    }

    #[test]
    fn window_and_entry_at() {
        let (store, view) = sample();
        assert_eq!(view.len(), 5);
        let w: Vec<&str> = view.window(&store, 1, 3).into_iter().map(text).collect();
        assert_eq!(w, ["hit 1", "\x1b[1mhit\x1b[0m 2", "hit 3"]);
        let w: Vec<&str> = view.window(&store, 3, 50).into_iter().map(text).collect();
        assert_eq!(w, ["hit 3", "<gap>"]);
        assert!(view.window(&store, 9, 5).is_empty());
        assert_eq!(view.entry_at(&store, 0).map(text), Some("hit 0"));
        assert_eq!(view.entry_at(&store, 5), None);
        assert_eq!((view.abs_at(2), view.index_of_abs(2), view.index_of_abs(4)), (Some(3), 1, 3));
    }

    #[test]
    fn find_wraps_both_ways_and_skips_gaps() {
        let (store, view) = sample();
        let re = Regex::new(r"hit [23]").unwrap();
        assert_eq!(view.find(&store, &re, 0, true), Some(2), "matches the ANSI-stripped text");
        assert_eq!(view.find(&store, &re, 2, true), Some(3));
        assert_eq!(view.find(&store, &re, 3, true), Some(2), "wraps past the end");
        assert_eq!(view.find(&store, &re, 3, false), Some(2));
        assert_eq!(view.find(&store, &re, 2, false), Some(3), "wraps past the start");
        assert_eq!(view.find(&store, &re, 99, false), Some(3), "from is clamped");
        let only = Regex::new("hit 0").unwrap();
        assert_eq!(view.find(&store, &only, 0, true), Some(0), "from itself is tried last");
        assert_eq!(view.find(&store, &Regex::new("gap").unwrap(), 0, true), None);
        assert_eq!(FilteredView::new(filter("x")).find(&store, &re, 0, true), None);
    }

    #[test]
    fn set_filter_rebuilds() {
        let (store, mut view) = sample();
        view.set_filter(filter("miss"), &store);
        assert_eq!(view.len(), 3, "two misses and the gap");
        view.set_filter(LogFilter::default(), &store);
        assert_eq!(view.len(), store.len());
    }
}

/// Passes over the whole buffer (rebuild, search, export) read packed chunks without keeping
/// copies of them; only the rows on screen are unpacked into kept copies.
#[cfg(test)]
mod packed_tests {
    use super::*;
    use crate::logs::filter::FilterSpec;
    use crate::logs::line::{LogLine, StreamKind};

    #[test]
    fn passes_over_a_packed_store_keep_no_copies() {
        let mut store = LogStore::new(100_000);
        let mut batch: Vec<Entry> = (0..60_000i64)
            .map(|i| {
                let text = format!("i={i} level=info msg=\"request completed\" path=/api/v1/items/{}", i * 31 % 977);
                Entry::Line(LogLine::new(i, (i % 3) as u32, StreamKind::Stdout, &text))
            })
            .collect();
        store.insert_batch(&mut batch);
        let (_, packed, cached) = store.packing_stats();
        assert!(packed > 50 && cached == 0, "{packed} chunks packed, {cached} bytes of copies");
        assert!(store.bytes_held() < 60_000 * 40, "{} bytes held for 60,000 lines of ~70 bytes", store.bytes_held());

        let spec = FilterSpec { include: Some(r"i=\d*7\b".into()), ..Default::default() };
        let mut view = FilteredView::new(LogFilter::new(&FilterSpec::default()).unwrap());
        view.set_filter(LogFilter::new(&spec).unwrap(), &store);
        assert_eq!(view.len(), 6_000);
        assert_eq!(store.packing_stats().2, 0, "rebuild");
        let re = Regex::new("i=17 ").unwrap();
        assert_eq!(view.find(&store, &re, view.len() - 1, true), Some(1));
        assert_eq!(store.packing_stats().2, 0, "search");
        let path = std::env::temp_dir().join(format!("fleetdeck-packed-export-{}.log", std::process::id()));
        let n = crate::logs::export::export(&path, &view, &store, |s| format!("s{s}"), true, true).unwrap();
        let exported = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((n, exported.lines().count()), (6_000, 6_000));
        assert!(exported.lines().nth(1).unwrap().contains("i=17 level=info"));
        assert_eq!(store.packing_stats().2, 0, "export");

        // the rows on screen: a copy of the one chunk they are in
        let rows: Vec<String> =
            view.window(&store, 10, 5).iter().filter_map(|e| e.as_line()).map(|l| l.text.to_string()).collect();
        assert_eq!(rows[0].split(' ').next(), Some("i=107"));
        let cached = store.packing_stats().2;
        assert!(cached > 0 && cached <= 2 * crate::logs::store::arena::DEFAULT_CHUNK_BYTES, "{cached}");
        view.set_filter(LogFilter::new(&FilterSpec::default()).unwrap(), &store);
        assert_eq!(view.len(), 60_000);

        // scrolling through the whole buffer while nothing arrives: copies pile up until the
        // owner trims them between frames
        for first in (0..60_000).step_by(500) {
            assert_eq!(view.window(&store, first, 3).len(), 3);
        }
        assert!(store.packing_stats().2 > 40 * crate::logs::store::arena::DEFAULT_CHUNK_BYTES);
        store.trim_cache();
        let kept = store.packing_stats().2;
        assert!(
            kept <= crate::logs::store::arena::CACHED_CHUNKS / 2 * crate::logs::store::arena::DEFAULT_CHUNK_BYTES,
            "{kept}"
        );
    }
}
