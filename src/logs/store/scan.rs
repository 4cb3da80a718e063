//! Passes over every entry that only need an answer per entry (a view's rebuild): entries are
//! visited grouped by the chunk holding their record, so each packed chunk is unpacked once
//! even when late lines (records far ahead of their neighbours in time) are spread through
//! the store.

use super::{EntryRef, LogStore};

impl LogStore {
    /// Absolute positions, in order, of the entries for which `pred` holds.
    pub fn positions_where(&self, mut pred: impl FnMut(&EntryRef<'_>) -> bool) -> Vec<u64> {
        let n = self.entries.len();
        // counting sort of the slots by their chunk's index
        let chunks = self.arena.chunk_slots();
        let mut start = vec![0usize; chunks + 1];
        for s in &self.entries {
            start[self.arena.chunk_index(s.loc) + 1] += 1;
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut order = vec![0usize; n];
        for (i, s) in self.entries.iter().enumerate() {
            let k = &mut start[self.arena.chunk_index(s.loc)];
            order[*k] = i;
            *k += 1;
        }
        let mut hit = vec![0u64; n.div_ceil(64)];
        let mut r = self.arena.reader();
        for i in order {
            let s = &self.entries[i];
            if pred(&r.get(s.ts, s.loc)) {
                hit[i / 64] |= 1 << (i % 64);
            }
        }
        let mut out = Vec::new();
        for (w, &bits) in hit.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                out.push(self.evicted + (w * 64) as u64 + u64::from(b.trailing_zeros()));
                b &= b - 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::logs::line::{Entry, LogLine, StreamKind};
    use crate::logs::store::LogStore;

    #[test]
    fn positions_where_matches_a_pass_in_order_with_late_lines_and_eviction() {
        let mut s = LogStore::new(30_000);
        let mut x: u64 = 7;
        for i in 0..50_000i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // one line in 50 arrives up to 20,000 lines late
            let ts = if x.is_multiple_of(50) { i - (x % 20_000) as i64 } else { i };
            let text = format!("n={i} level=info path=/items/{}", x % 1000);
            s.insert(Entry::Line(LogLine::new(ts, (x % 4) as u32, StreamKind::Stdout, &text)));
        }
        assert!(s.late_inserts() > 500 && s.evicted() == 20_000);
        let pred =
            |e: &crate::logs::line::EntryRef<'_>| e.as_line().is_some_and(|l| l.text.ends_with('7') || l.source == 3);
        let mut expected = Vec::new();
        s.for_each(|abs, e| {
            if pred(&e) {
                expected.push(abs);
            }
        });
        assert!(expected.len() > 5_000);
        assert_eq!(s.positions_where(pred), expected);
        assert_eq!(s.positions_where(|_| true), (s.first_abs()..s.end_abs()).collect::<Vec<_>>());
        assert_eq!(s.packing_stats().2, 0, "no copies kept");
    }
}
