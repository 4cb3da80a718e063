//! Inserting many entries at once: one merge pass over the part of the store after the
//! earliest new entry, instead of one shift per late entry.

use super::{LogStore, Slot};
use crate::logs::line::Entry;

/// Where [`LogStore::insert_batch`] put a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Absolute positions of the new entries, ascending (their order in the store). An old
    /// entry moved up by the number of new entries whose position minus their rank in this
    /// list is at or before its old position. Positions below [`LogStore::first_abs`] were
    /// evicted at once.
    pub positions: Vec<u64>,
    /// How many of them went after every entry that was already there.
    pub appended: usize,
    /// How many entries this batch evicted from the front.
    pub evicted: u64,
}

impl LogStore {
    /// Inserts many entries at once, leaving `batch` empty: the same result as inserting them
    /// one by one in `batch` order (seq follows that order; equal timestamps keep it), but late
    /// entries cost one merge pass over the part of the store after the earliest of them,
    /// instead of one shift each. Views follow with
    /// [`FilteredView::on_insert_batch`](crate::logs::view::FilteredView::on_insert_batch).
    pub fn insert_batch(&mut self, batch: &mut Vec<Entry>) -> BatchOutcome {
        let mut slots: Vec<Slot> = batch.drain(..).map(|e| self.slot_for(e)).collect();
        slots.sort_by_key(|s| s.ts); // stable
        let (n, k, base) = (self.entries.len(), slots.len(), self.evicted);
        let mut positions = Vec::with_capacity(k);
        let mut appended = 0;
        self.reserve(k);
        if slots.first().is_some_and(|e| self.entries.back().is_none_or(|last| last.ts <= e.ts)) {
            positions.extend((n..n + k).map(|i| base + i as u64));
            self.entries.extend(slots.drain(..));
            appended = k;
        } else if k > 0 {
            // Merge from the back in place: slots [r, w) hold placeholders, one per batch entry
            // still to place; old entries later than the batch entry being placed move to w.
            const HOLE: Slot = Slot { ts: 0, loc: 0 };
            self.entries.extend(std::iter::repeat_n(HOLE, k));
            let (mut r, mut w) = (n, n + k);
            for e in slots.drain(..).rev() {
                let start = self.upper_bound_from_back(e.ts, r);
                self.move_run_right(start, r, w);
                w -= r - start;
                r = start;
                if r == n {
                    appended += 1;
                }
                w -= 1;
                positions.push(base + w as u64);
                self.entries[w] = e;
            }
            positions.reverse();
        }
        self.late_inserts += (k - appended) as u64;
        let evicted = self.evict_over_budget();
        BatchOutcome { positions, appended, evicted }
    }

    /// Moves entries `[start, r)` to `[w - (r - start), w)`, where `[r, w)` holds placeholders:
    /// on a slice when the range does not cross the ring buffer's wrap point, by deque swaps
    /// otherwise.
    fn move_run_right(&mut self, start: usize, r: usize, w: usize) {
        if start == r {
            return;
        }
        let (a, b) = self.entries.as_mut_slices();
        let la = a.len();
        if w <= la {
            shift_run_right(&mut a[start..w], r - start);
        } else if start >= la {
            shift_run_right(&mut b[start - la..w - la], r - start);
        } else {
            let shift = w - r;
            for i in (start..r).rev() {
                self.entries.swap(i, i + shift);
            }
        }
    }
}

/// `[run entries | placeholders]` → `[placeholders | run entries]`: every entry moves once,
/// by swaps in a tight loop, or block swaps when there are many placeholders (std's
/// `rotate_left` uses a cache-unfriendly cycle algorithm for elements of this size).
fn shift_run_right(s: &mut [Slot], run: usize) {
    let holes = s.len() - run;
    if holes < 16 {
        for i in (0..run).rev() {
            s.swap(i, i + holes);
        }
        return;
    }
    let mut hs = run; // the placeholders occupy [hs, hs + holes)
    while hs > 0 {
        let m = holes.min(hs);
        let (left, right) = s.split_at_mut(hs);
        left[hs - m..].swap_with_slice(&mut right[holes - m..holes]);
        hs -= m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::store::tests::{line, texts};

    #[test]
    fn batch_insert_equals_one_by_one() {
        let mut rng = 99u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let (mut one, mut many) = (LogStore::new(500), LogStore::new(500));
        let mut ts = 0i64;
        for round in 0..300 {
            let mut batch: Vec<Entry> = (0..next(40))
                .map(|i| {
                    ts += next(3) as i64;
                    let t = if next(10) == 0 { ts - next(300) as i64 } else { ts };
                    line(t, &format!("{round}.{i}"))
                })
                .collect();
            let mut positions = Vec::new();
            let evicted_before = one.evicted();
            for e in batch.clone() {
                let o = one.insert(e);
                // a later insert before it moves it up by one
                for p in positions.iter_mut().filter(|p| **p >= o.abs) {
                    *p += 1;
                }
                positions.push(o.abs);
            }
            positions.sort_unstable();
            let outcome = many.insert_batch(&mut batch);
            assert!(batch.is_empty());
            assert_eq!(outcome.positions, positions, "round {round}");
            assert_eq!(outcome.evicted, one.evicted() - evicted_before);
            assert_eq!(texts(&many), texts(&one), "round {round}");
            let seqs = |s: &LogStore| s.iter().map(|e| e.into_line().unwrap().seq).collect::<Vec<_>>();
            assert_eq!(seqs(&many), seqs(&one));
            assert_eq!(many.first_abs(), one.first_abs());
        }
        // late = before an entry already stored; a batch sorts itself first, so it counts fewer
        assert!(many.late_inserts() > 100 && many.late_inserts() < one.late_inserts() && one.evicted() > 1000);
    }

    #[test]
    fn shifting_a_run_over_placeholders() {
        for (run, holes) in [(0, 3), (5, 0), (1, 1), (7, 3), (3, 7), (6, 3), (10, 1)] {
            let mut v: Vec<Slot> = (0..run).map(|i| Slot { ts: i as i64, loc: 0 }).collect();
            v.extend((0..holes).map(|i| Slot { ts: -1 - i as i64, loc: 0 }));
            shift_run_right(&mut v, run);
            let ts: Vec<i64> = v.iter().map(|s| s.ts).collect();
            assert!(ts[..holes].iter().all(|&t| t < 0), "{run} {holes}: {ts:?}");
            assert_eq!(ts[holes..], (0..run as i64).collect::<Vec<_>>()[..], "{run} {holes}");
        }
    }

    #[test]
    fn batch_outcome_counts_appends() {
        let mut s = LogStore::new(10);
        let mut b = vec![line(10, "a"), line(20, "b")];
        assert_eq!(s.insert_batch(&mut b), BatchOutcome { positions: vec![0, 1], appended: 2, evicted: 0 });
        let mut b = vec![line(30, "d"), line(15, "late"), line(20, "tie"), line(40, "e")];
        // "tie" goes after the stored "b" (same ts): like "d" and "e" it is after every old entry
        assert_eq!(s.insert_batch(&mut b), BatchOutcome { positions: vec![1, 3, 4, 5], appended: 3, evicted: 0 });
        assert_eq!(texts(&s), ["a", "late", "b", "tie", "d", "e"]);
        assert_eq!(s.late_inserts(), 1);
        assert_eq!(s.insert_batch(&mut Vec::new()), BatchOutcome::default());
    }
}
