//! Where the store keeps what an entry holds besides its timestamp: one *record* per entry
//! (a line's source, seq, stream, level and text; a gap's fields), appended to large chunks
//! (1 MiB) instead of one heap allocation per line, so a line costs its text plus ~7 bytes.
//!
//! A record is addressed by a [`Loc`]: the chunk's id (wrapping `u32`) and the byte offset in
//! it. Each chunk counts the bytes of its records the store still references; a chunk is freed
//! as soon as that count drops to zero (eviction is oldest first, and records are appended in
//! arrival order, so chunks empty mostly front to back; a late line is simply released from
//! its own chunk when it goes). Lines whose timestamps keep them in the store much longer than
//! the lines that arrived with them (a source with its clock ahead) pin their chunks: when the
//! chunks held exceed 1.5 × the bytes referenced plus 8 chunks, the store relocates the
//! records of every chunk less than 2/3 used ([`Arena::begin_compaction`]).
//!
//! Encoding: a flags byte, then numbers as ASCII varints (6 bits a byte, `0x40` = more
//! follow), then the text: every byte outside the texts is ASCII, so a chunk is a `String`
//! and texts are sliced out of it without `unsafe` or re-validation.
//! * line: flags = stream (bits 0-1) | level + 1 (bits 2-4, 0 = none); source, seq relative
//!   to the chunk's base (zigzag), text length, text;
//! * gap: flags = `0x40` | reason (bit 0); source, count, `to_ts - from_ts` (zigzag). Its
//!   `from_ts` is the entry's timestamp, kept by the store.

use std::collections::VecDeque;

use crate::logs::level::Level;
use crate::logs::line::{Entry, EntryRef, Gap, GapReason, LogLine, StreamKind};

/// Size of a regular chunk; a record larger than this gets a chunk of its own.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Where a record lives: chunk id in the high 32 bits, byte offset in the low 32.
pub type Loc = u64;

const GAP: u8 = 0x40;
const MORE: u8 = 0x40;

#[derive(Debug)]
struct Chunk {
    data: String,
    /// Bytes of records still referenced.
    live: usize,
    /// Line records store their seq relative to this.
    base_seq: u64,
    /// Chosen for relocation by the compaction in progress.
    victim: bool,
}

/// Chunks of records; see the module documentation.
#[derive(Debug)]
pub struct Arena {
    /// Chunk `first_id + i` at index `i`; `None` once freed.
    chunks: VecDeque<Option<Chunk>>,
    first_id: u32,
    /// Whether the last chunk takes more records (a chunk made for one large record does not).
    open: bool,
    chunk_bytes: usize,
    /// Bytes referenced, over all chunks.
    live: usize,
    /// Capacity of the chunks held.
    held: usize,
    /// Chunks held (not freed).
    held_chunks: usize,
    /// Seq of the last line appended: the base of a chunk a gap opens.
    last_seq: u64,
    /// Compactions started so far.
    compactions: u64,
    /// Copy of a record being relocated.
    scratch: String,
}

impl Default for Arena {
    fn default() -> Self {
        Arena::with_chunk_bytes(CHUNK_BYTES)
    }
}

impl Arena {
    /// An arena with chunks of `chunk_bytes` (small ones in tests).
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        Arena {
            chunks: VecDeque::new(),
            first_id: 0,
            open: false,
            chunk_bytes: chunk_bytes.max(16),
            live: 0,
            held: 0,
            held_chunks: 0,
            last_seq: 0,
            compactions: 0,
            scratch: String::new(),
        }
    }

    /// Appends `e`'s record (`seq`: the line's; ignored for a gap) and returns where.
    pub fn push(&mut self, e: &Entry, seq: u64) -> Loc {
        match e {
            Entry::Line(l) => {
                self.last_seq = seq;
                self.push_line(l.stream, l.level, l.source, seq, &l.text)
            }
            Entry::Gap(g) => self.push_gap(g),
        }
    }

    fn push_line(&mut self, stream: StreamKind, level: Option<Level>, source: u32, seq: u64, text: &str) -> Loc {
        let rel = |base: u64| zigzag(seq.wrapping_sub(base) as i64);
        let head = 1 + varint_len(u64::from(source)) + varint_len(text.len() as u64) + text.len();
        let (id, chunk) = self.room_for(seq, |base| head + varint_len(rel(base)));
        let off = chunk.data.len();
        chunk.data.push(char::from(stream_code(stream) | level_code(level) << 2));
        put_varint(&mut chunk.data, u64::from(source));
        put_varint(&mut chunk.data, rel(chunk.base_seq));
        put_varint(&mut chunk.data, text.len() as u64);
        chunk.data.push_str(text);
        self.added(id, off)
    }

    fn push_gap(&mut self, g: &Gap) -> Loc {
        let span = zigzag(g.to_ts.wrapping_sub(g.from_ts));
        let size = 1 + varint_len(u64::from(g.source)) + varint_len(g.count) + varint_len(span);
        let (id, chunk) = self.room_for(self.last_seq, |_| size);
        let off = chunk.data.len();
        chunk.data.push(char::from(GAP | reason_code(g.reason)));
        put_varint(&mut chunk.data, u64::from(g.source));
        put_varint(&mut chunk.data, g.count);
        put_varint(&mut chunk.data, span);
        self.added(id, off)
    }

    /// The open chunk when it has room for a record of `size(chunk's base seq)` bytes, else a
    /// new one with base `seq` (of its own for a record larger than a chunk).
    fn room_for(&mut self, seq: u64, size: impl Fn(u64) -> usize) -> (u32, &mut Chunk) {
        let has_room = self.open
            && matches!(self.chunks.back(), Some(Some(c)) if c.data.capacity() - c.data.len() >= size(c.base_seq));
        if !has_room {
            let need = size(seq);
            self.close_last();
            let data = String::with_capacity(self.chunk_bytes.max(need));
            self.held += data.capacity();
            self.held_chunks += 1;
            self.chunks.push_back(Some(Chunk { data, live: 0, base_seq: seq, victim: false }));
            self.open = need <= self.chunk_bytes;
        }
        let id = self.first_id.wrapping_add(self.chunks.len() as u32 - 1);
        (id, self.chunks.back_mut().and_then(Option::as_mut).expect("a chunk was just made"))
    }

    /// Stops appending to the last chunk, freeing it if nothing references it.
    fn close_last(&mut self) {
        self.open = false;
        if let Some(i) = self.chunks.len().checked_sub(1) {
            self.free_if_unused(i);
        }
    }

    /// Accounts for the record just written at `off` of chunk `id` (the last one).
    fn added(&mut self, id: u32, off: usize) -> Loc {
        let chunk = self.chunks.back_mut().and_then(Option::as_mut).expect("the record's chunk");
        let size = chunk.data.len() - off;
        debug_assert_eq!(size, record_end(chunk.data.as_bytes(), off) - off);
        chunk.live += size;
        self.live += size;
        if chunk.data.len() >= chunk.data.capacity() {
            self.open = false;
        }
        u64::from(id) << 32 | u64::try_from(off).expect("offsets fit in 32 bits")
    }

    fn index(&self, loc: Loc) -> usize {
        ((loc >> 32) as u32).wrapping_sub(self.first_id) as usize
    }

    fn chunk(&self, loc: Loc) -> &Chunk {
        self.chunks.get(self.index(loc)).and_then(Option::as_ref).expect("a record of a freed chunk")
    }

    /// The entry whose record is at `loc` (`ts` is kept by the store).
    pub fn get(&self, ts: i64, loc: Loc) -> EntryRef<'_> {
        let chunk = self.chunk(loc);
        decode(chunk, (loc & u64::from(u32::MAX)) as usize, ts).0
    }

    /// Forgets the record at `loc`; its chunk is freed when it was the last one referenced
    /// (unless more records may still be appended to it).
    pub fn release(&mut self, loc: Loc) {
        let i = self.index(loc);
        let chunk = self.chunks.get_mut(i).and_then(Option::as_mut).expect("a record of a freed chunk");
        let off = (loc & u64::from(u32::MAX)) as usize;
        let size = record_end(chunk.data.as_bytes(), off) - off;
        chunk.live -= size;
        self.live -= size;
        self.free_if_unused(i);
    }

    fn free_if_unused(&mut self, i: usize) {
        let last = i + 1 == self.chunks.len();
        let Some(slot) = self.chunks.get_mut(i) else { return };
        if slot.as_ref().is_some_and(|c| c.live == 0) && !(last && self.open) {
            let chunk = slot.take().expect("checked above");
            self.held -= chunk.data.capacity();
            self.held_chunks -= 1;
            if last {
                self.open = false;
            }
        }
        while matches!(self.chunks.front(), Some(None)) {
            self.chunks.pop_front();
            self.first_id = self.first_id.wrapping_add(1);
        }
    }

    /// Drops every record (the store was cleared).
    pub fn clear(&mut self) {
        *self = Arena::with_chunk_bytes(self.chunk_bytes);
    }

    /// Bytes referenced (records of entries in the store).
    pub fn live_bytes(&self) -> usize {
        self.live
    }

    /// Bytes of the chunks held (what the arena costs).
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    pub fn held_chunks(&self) -> usize {
        self.held_chunks
    }

    /// Compactions so far (see [`begin_compaction`](Self::begin_compaction)).
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// Chunk ids kept, freed ones between held ones included (tests).
    #[cfg(test)]
    pub fn chunks_len(&self) -> usize {
        self.chunks.len()
    }

    /// Panics unless the totals agree with the chunks (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let held: Vec<&Chunk> = self.chunks.iter().flatten().collect();
        assert_eq!(self.held, held.iter().map(|c| c.data.capacity()).sum::<usize>(), "a chunk grew");
        assert_eq!(self.held_chunks, held.len());
        assert_eq!(self.live, held.iter().map(|c| c.live).sum::<usize>());
        assert!(held.iter().all(|c| c.live <= c.data.len() && !c.victim));
        assert!(!matches!(self.chunks.front(), Some(None)));
    }

    /// Starts a compaction when pinned chunks waste too much, marking the chunks whose records
    /// are to be relocated; returns whether it did. Then [`relocate`](Self::relocate) every
    /// record of a marked chunk ([`is_victim`](Self::is_victim)) and call
    /// [`end_compaction`](Self::end_compaction).
    ///
    /// * the chunks held exceed 1.5 × the bytes referenced plus 8 chunks: every chunk (but the
    ///   open one) less than 2/3 referenced is marked, which brings them back under 1.5 × plus
    ///   one chunk, so the copying is paid for by at least 8 chunks of new waste;
    /// * or freed chunks pile up behind held ones (their ids stay allocated, 48 bytes each):
    ///   more than twice as many ids as chunks held, plus 64: every chunk before the last freed
    ///   one is marked, so that all the freed ids can be dropped.
    pub fn begin_compaction(&mut self) -> bool {
        let wasteful = self.held > self.live + self.live / 2 + 8 * self.chunk_bytes;
        let piled_up = self.chunks.len() > 2 * self.held_chunks + 64;
        if !wasteful && !piled_up {
            return false;
        }
        let n = self.chunks.len();
        let open = self.open;
        let last_freed = if piled_up { self.chunks.iter().rposition(Option::is_none).unwrap_or(0) } else { 0 };
        let mut marked = false;
        for (i, chunk) in self.chunks.iter_mut().enumerate() {
            if let Some(c) = chunk {
                c.victim = !(open && i + 1 == n) && (i < last_freed || c.live * 3 < c.data.capacity() * 2);
                marked |= c.victim;
            }
        }
        self.compactions += u64::from(marked);
        marked
    }

    /// Whether the record at `loc` is to be relocated.
    pub fn is_victim(&self, loc: Loc) -> bool {
        self.chunk(loc).victim
    }

    /// Copies the record at `loc` to the open chunk, releases the old one and returns the new
    /// place.
    pub fn relocate(&mut self, ts: i64, loc: Loc) -> Loc {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let new = match self.get(ts, loc) {
            Entry::Line(l) => {
                text.push_str(l.text);
                let (stream, level, source, seq) = (l.stream, l.level, l.source, l.seq);
                self.push_line(stream, level, source, seq, &text)
            }
            Entry::Gap(g) => self.push_gap(&g),
        };
        self.scratch = text;
        self.release(loc);
        new
    }

    /// Clears the marks of [`begin_compaction`](Self::begin_compaction).
    pub fn end_compaction(&mut self) {
        for c in self.chunks.iter_mut().flatten() {
            c.victim = false;
        }
    }
}

/// The entry at `off` of `chunk` and the offset after its record.
fn decode(chunk: &Chunk, off: usize, ts: i64) -> (EntryRef<'_>, usize) {
    let b = chunk.data.as_bytes();
    let flags = b[off];
    let mut pos = off + 1;
    let source = get_varint(b, &mut pos) as u32;
    if flags & GAP != 0 {
        let count = get_varint(b, &mut pos);
        let to_ts = ts.wrapping_add(unzigzag(get_varint(b, &mut pos)));
        let reason = if flags & 1 == 0 { GapReason::StreamOverflow } else { GapReason::Reconnect };
        return (Entry::Gap(Gap { source, count, from_ts: ts, to_ts, reason }), pos);
    }
    let seq = chunk.base_seq.wrapping_add(unzigzag(get_varint(b, &mut pos)) as u64);
    let len = get_varint(b, &mut pos) as usize;
    let text = &chunk.data[pos..pos + len];
    let line = LogLine { ts, seq, source, stream: stream_of(flags & 3), level: level_of(flags >> 2 & 7), text };
    (Entry::Line(line), pos + len)
}

/// The offset after the record at `off`.
fn record_end(b: &[u8], off: usize) -> usize {
    let mut pos = off + 1;
    get_varint(b, &mut pos); // source
    if b[off] & GAP != 0 {
        get_varint(b, &mut pos); // count
        get_varint(b, &mut pos); // to_ts - from_ts
        return pos;
    }
    get_varint(b, &mut pos); // seq
    let len = get_varint(b, &mut pos) as usize;
    pos + len
}

fn put_varint(out: &mut String, mut v: u64) {
    loop {
        let digit = (v & 0x3f) as u8;
        v >>= 6;
        if v == 0 {
            out.push(char::from(digit));
            return;
        }
        out.push(char::from(digit | MORE));
    }
}

/// Bytes [`put_varint`] writes for `v`.
fn varint_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(6).max(1)
}

fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x3f) << shift;
        if byte & MORE == 0 {
            return v;
        }
        shift += 6;
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn stream_code(s: StreamKind) -> u8 {
    match s {
        StreamKind::Stdout => 0,
        StreamKind::Stderr => 1,
        StreamKind::File => 2,
        StreamKind::Journal => 3,
    }
}

fn stream_of(code: u8) -> StreamKind {
    match code {
        0 => StreamKind::Stdout,
        1 => StreamKind::Stderr,
        2 => StreamKind::File,
        _ => StreamKind::Journal,
    }
}

fn level_code(l: Option<Level>) -> u8 {
    match l {
        None => 0,
        Some(Level::Trace) => 1,
        Some(Level::Debug) => 2,
        Some(Level::Info) => 3,
        Some(Level::Warn) => 4,
        Some(Level::Error) => 5,
    }
}

fn level_of(code: u8) -> Option<Level> {
    match code {
        1 => Some(Level::Trace),
        2 => Some(Level::Debug),
        3 => Some(Level::Info),
        4 => Some(Level::Warn),
        5 => Some(Level::Error),
        _ => None,
    }
}

fn reason_code(r: GapReason) -> u8 {
    match r {
        GapReason::StreamOverflow => 0,
        GapReason::Reconnect => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: i64, source: u32, stream: StreamKind, level: Option<Level>, text: &str) -> Entry {
        Entry::Line(LogLine { ts, seq: 0, source, stream, level, text: text.into() })
    }

    /// `e` as the arena gives it back: with `seq` for a line.
    fn with_seq(e: &Entry, seq: u64) -> EntryRef<'_> {
        match e.borrowed() {
            Entry::Line(l) => Entry::Line(LogLine { seq, ..l }),
            g => g,
        }
    }

    #[test]
    fn records_round_trip() {
        let big = "x".repeat(300);
        let entries = [
            line(5, 0, StreamKind::Stdout, None, ""),
            line(-7, 63, StreamKind::Stderr, Some(Level::Trace), "ünïcödé ✓ \u{1F600} 😀"),
            line(i64::MAX, 64, StreamKind::File, Some(Level::Debug), "\x1b[31mERROR\x1b[0m boom"),
            line(i64::MIN, u32::MAX, StreamKind::Journal, Some(Level::Info), "@@@\x7f\0\n\r\tA"),
            line(0, 1, StreamKind::Stdout, Some(Level::Warn), &big),
            line(1, 2, StreamKind::Stdout, Some(Level::Error), "WARN x"),
            Entry::Gap(Gap { source: 3, count: 0, from_ts: 10, to_ts: 20, reason: GapReason::Reconnect }),
            Entry::Gap(Gap { source: 9, count: u64::MAX, from_ts: 20, to_ts: 10, reason: GapReason::StreamOverflow }),
            Entry::Gap(Gap { source: 0, count: 1, from_ts: i64::MIN, to_ts: i64::MAX, reason: GapReason::Reconnect }),
            Entry::Gap(Gap { source: 0, count: 1, from_ts: i64::MAX, to_ts: i64::MIN, reason: GapReason::Reconnect }),
        ];
        for chunk_bytes in [16, 64, CHUNK_BYTES] {
            let mut a = Arena::with_chunk_bytes(chunk_bytes);
            // seqs far apart (relative to a chunk's base, both ways) and near u64::MAX
            let seqs = [0, 1, 1 << 40, 3, u64::MAX, u64::MAX - 1, 7, 8, 9, 10];
            let locs: Vec<Loc> = entries.iter().zip(seqs).map(|(e, seq)| a.push(e, seq)).collect();
            for ((e, seq), &loc) in entries.iter().zip(seqs).zip(&locs) {
                assert_eq!(a.get(e.ts(), loc), with_seq(e, seq), "chunks of {chunk_bytes}");
            }
            // a record larger than a chunk gets one of its own, closed at once
            assert!(a.held_chunks() > 1 || chunk_bytes == CHUNK_BYTES);
            for &loc in &locs {
                a.release(loc);
            }
            a.check();
            assert_eq!(a.live_bytes(), 0);
            assert!(a.held_chunks() <= 1, "only the open chunk is kept");
        }
    }

    #[test]
    fn varints_are_ascii_and_round_trip() {
        for v in [0, 1, 63, 64, 4095, 4096, 1 << 40, u64::MAX - 1, u64::MAX] {
            let mut s = String::new();
            put_varint(&mut s, v);
            assert!(s.is_ascii() && s.len() == varint_len(v) && s.len() <= 11, "{v}: {s:?}");
            let mut pos = 0;
            assert_eq!((get_varint(s.as_bytes(), &mut pos), pos), (v, s.len()));
        }
        for v in [0, 1, -1, i64::MAX, i64::MIN, 12345, -12345] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn releasing_in_arrival_order_frees_chunks_as_they_empty() {
        let mut a = Arena::with_chunk_bytes(256);
        let mut locs = std::collections::VecDeque::new();
        for i in 0..10_000u64 {
            let text = format!("line {i} {}", "y".repeat((i % 50) as usize));
            locs.push_back((i, text.clone(), a.push(&line(i as i64, 1, StreamKind::Stdout, None, &text), i)));
            if locs.len() > 100 {
                let (_, _, loc) = locs.pop_front().unwrap();
                a.release(loc);
            }
            // 100 lines of at most ~70 bytes: 28 chunks of 256, plus the open one and the
            // partly released oldest
            assert!(a.held_chunks() <= 32, "{i}: {} chunks held", a.held_chunks());
            assert!(a.held_bytes() <= 32 * 256);
        }
        a.check();
        for (i, text, loc) in &locs {
            let got = a.get(*i as i64, *loc).into_line().unwrap();
            assert_eq!((got.text, got.seq), (text.as_str(), *i));
        }
        assert!(a.chunks.len() <= 32, "freed chunks at the front are forgotten");
        for (_, _, loc) in locs {
            a.release(loc);
        }
        assert_eq!((a.live_bytes(), a.held_chunks()), (0, 1));
        a.clear();
        assert_eq!((a.held_bytes(), a.held_chunks(), a.chunks.len()), (0, 0, 0));
    }

    #[test]
    fn a_late_release_keeps_only_its_own_chunk() {
        let mut a = Arena::with_chunk_bytes(64);
        let first = a.push(&line(0, 0, StreamKind::Stdout, None, "pinned"), 0);
        let mut rest: Vec<Loc> =
            (1..200).map(|i| a.push(&line(i, 0, StreamKind::Stdout, None, "abcdefghij"), i as u64)).collect();
        let last = rest.pop().unwrap();
        for loc in rest {
            a.release(loc);
        }
        // the first chunk (pinned) and the open one; the freed ids between them are kept
        assert_eq!(a.held_chunks(), 2);
        assert_eq!(a.get(0, first).into_line().unwrap().text, "pinned");
        a.release(first);
        assert_eq!(a.held_chunks(), 1);
        assert_eq!(a.chunks.len(), 1, "the ids before the open chunk are forgotten");
        assert_eq!(a.get(199, last).into_line().unwrap().seq, 199);
    }

    #[test]
    fn compaction_relocates_records_of_sparse_chunks() {
        let mut a = Arena::with_chunk_bytes(64);
        let mut kept = Vec::new();
        for i in 0..400u64 {
            let e = line(i as i64, 2, StreamKind::Stderr, Some(Level::Warn), &format!("{i:>20}"));
            let loc = a.push(&e, i);
            if i % 5 == 0 {
                kept.push((i, loc));
            } else {
                a.release(loc);
            }
        }
        assert!(a.held_bytes() > a.live_bytes() * 2 + 8 * 64, "every chunk is pinned by one line in five");
        assert!(a.begin_compaction());
        for (i, loc) in kept.iter_mut() {
            if a.is_victim(*loc) {
                *loc = a.relocate(*i as i64, *loc);
            }
        }
        a.end_compaction();
        a.check();
        assert!(a.held_bytes() <= a.live_bytes() + a.live_bytes() / 2 + 64, "{} {}", a.held_bytes(), a.live_bytes());
        assert!(!a.begin_compaction(), "nothing left to do");
        for (i, loc) in kept {
            let l = a.get(i as i64, loc).into_line().unwrap();
            assert_eq!(
                (l.text, l.seq, l.source, l.stream, l.level),
                (format!("{i:>20}").as_str(), i, 2, StreamKind::Stderr, Some(Level::Warn))
            );
        }
    }
}
