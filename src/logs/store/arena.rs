//! Where the store keeps what an entry holds besides its timestamp: one *record* per entry
//! (a line's source and text; a gap's fields), appended to large chunks (1 MiB) instead of
//! one heap allocation per line, so a line costs its text plus ~3 bytes here and the store's
//! 16-byte slot.
//!
//! A record is addressed by a [`Loc`], which also carries what fits in a few bits: the chunk's
//! id (24 bits, wrapping), the byte offset in it (20 bits), the entry's flags (6 bits: a
//! line's stream and level, or a gap and its reason) and a line's seq relative to the chunk's
//! first line (14 bits; lines are appended in seq order, so a chunk takes at most 16,383 new
//! lines; a relocated line whose seq falls outside its new chunk's range keeps it in the
//! record instead).
//!
//! Each chunk counts the bytes of its records the store still references; a chunk is freed as
//! soon as that count drops to zero (eviction is oldest first, and records are appended in
//! arrival order, so chunks empty mostly front to back; a late line is simply released from
//! its own chunk when it goes). Lines whose timestamps keep them in the store much longer than
//! the lines that arrived with them (a source with its clock ahead) pin their chunks; the
//! store then relocates their records ([`Arena::begin_compaction`]).
//!
//! Encoding: numbers as ASCII varints (6 bits a byte, `0x40` = more follow), then the text:
//! every byte outside the texts is ASCII, so a chunk is a `String` and texts are sliced out of
//! it without `unsafe` or re-validation.
//! * line: source, the seq when the `Loc` cannot hold it, text length, text;
//! * gap: source, count, `to_ts - from_ts` (zigzag). Its `from_ts` is the entry's timestamp,
//!   kept by the store.

use std::collections::VecDeque;

use crate::logs::level::Level;
use crate::logs::line::{Entry, EntryRef, Gap, GapReason, LogLine, StreamKind};

/// Size of a regular chunk (the most a 20-bit offset addresses); a record larger than this
/// gets a chunk of its own.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Where a record lives and its entry's flags and seq: see the module documentation.
pub type Loc = u64;

const SEQ_BITS: u32 = 14;
const FLAG_BITS: u32 = 6;
const OFF_BITS: u32 = 20;
const ID_BITS: u32 = 24;
const ID_MASK: u32 = (1 << ID_BITS) - 1;
/// In a `Loc`'s seq field: the seq is in the record.
const SEQ_ESCAPE: u64 = (1 << SEQ_BITS) - 1;
/// Flags of a gap (bit 0: the reason); a line's are its stream (bits 0-1) and level (2-4).
const GAP: u8 = 0x20;
const MORE: u8 = 0x40;

fn pack(id: u32, off: usize, flags: u8, seq: u64) -> Loc {
    debug_assert!(off < 1 << OFF_BITS && flags < 1 << FLAG_BITS && seq <= SEQ_ESCAPE);
    u64::from(id & ID_MASK) << (OFF_BITS + FLAG_BITS + SEQ_BITS)
        | (off as u64) << (FLAG_BITS + SEQ_BITS)
        | u64::from(flags) << SEQ_BITS
        | seq
}

fn chunk_id(loc: Loc) -> u32 {
    (loc >> (OFF_BITS + FLAG_BITS + SEQ_BITS)) as u32
}

fn offset(loc: Loc) -> usize {
    (loc >> (FLAG_BITS + SEQ_BITS)) as usize & ((1 << OFF_BITS) - 1)
}

fn flags(loc: Loc) -> u8 {
    (loc >> SEQ_BITS) as u8 & ((1 << FLAG_BITS) - 1)
}

fn seq_field(loc: Loc) -> u64 {
    loc & SEQ_ESCAPE
}

#[derive(Debug)]
struct Chunk {
    data: String,
    /// Bytes of records still referenced.
    live: usize,
    /// Seqs of the lines in it are relative to this (the first new line's).
    base_seq: u64,
    /// Chosen for relocation by the compaction in progress.
    victim: bool,
}

/// Chunks of records; see the module documentation.
#[derive(Debug)]
pub struct Arena {
    /// Chunk `first_id + i` (modulo 2^24) at index `i`; `None` once freed.
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
    /// Seq of the last new line: the base of a chunk that a gap or a relocated line opens.
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
    /// An arena with chunks of `chunk_bytes` (at most [`CHUNK_BYTES`]; small ones in tests).
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        Arena {
            chunks: VecDeque::new(),
            first_id: 0,
            open: false,
            chunk_bytes: chunk_bytes.clamp(16, CHUNK_BYTES),
            live: 0,
            held: 0,
            held_chunks: 0,
            last_seq: 0,
            compactions: 0,
            scratch: String::new(),
        }
    }

    /// Appends `e`'s record and returns where. `seq` is a line's (the store's next one: lines
    /// come in seq order); ignored for a gap.
    pub fn push(&mut self, e: &Entry, seq: u64) -> Loc {
        match e {
            Entry::Line(l) => {
                self.last_seq = seq;
                self.push_line(l.borrowed(), seq, true)
            }
            Entry::Gap(g) => self.push_gap(g),
        }
    }

    /// A new line (`fresh`) starts a new chunk when the open one cannot hold its seq; a
    /// relocated one then keeps its seq in the record.
    fn push_line(&mut self, l: LogLine<&str>, seq: u64, fresh: bool) -> Loc {
        let body = varint_len(u64::from(l.source)) + varint_len(l.text.len() as u64) + l.text.len();
        let in_range = |base: u64| seq.wrapping_sub(base) < SEQ_ESCAPE;
        let size = |base: u64| match (in_range(base), fresh) {
            (true, _) => Some(body),
            (false, false) => Some(body + varint_len(seq)),
            (false, true) => None,
        };
        let (id, chunk) = self.room_for(if fresh { seq } else { self.last_seq }, size);
        let off = chunk.data.len();
        let rel = if in_range(chunk.base_seq) { seq.wrapping_sub(chunk.base_seq) } else { SEQ_ESCAPE };
        put_varint(&mut chunk.data, u64::from(l.source));
        if rel == SEQ_ESCAPE {
            put_varint(&mut chunk.data, seq);
        }
        put_varint(&mut chunk.data, l.text.len() as u64);
        chunk.data.push_str(l.text);
        self.added(id, off, stream_code(l.stream) | level_code(l.level) << 2, rel)
    }

    fn push_gap(&mut self, g: &Gap) -> Loc {
        let span = zigzag(g.to_ts.wrapping_sub(g.from_ts));
        let size = varint_len(u64::from(g.source)) + varint_len(g.count) + varint_len(span);
        let (id, chunk) = self.room_for(self.last_seq, |_| Some(size));
        let off = chunk.data.len();
        put_varint(&mut chunk.data, u64::from(g.source));
        put_varint(&mut chunk.data, g.count);
        put_varint(&mut chunk.data, span);
        self.added(id, off, GAP | reason_code(g.reason), 0)
    }

    /// The open chunk when it has room for a record of `size(chunk's base seq)` bytes (`None`:
    /// it does not belong there), else a new chunk with base `base` (of its own for a record
    /// larger than a chunk).
    fn room_for(&mut self, base: u64, size: impl Fn(u64) -> Option<usize>) -> (u32, &mut Chunk) {
        let fits = |c: &Chunk| size(c.base_seq).is_some_and(|n| c.data.capacity() - c.data.len() >= n);
        if !(self.open && matches!(self.chunks.back(), Some(Some(c)) if fits(c))) {
            let need = size(base).expect("a record fits a chunk based on it");
            self.close_last();
            assert!(self.chunks.len() < ID_MASK as usize, "more chunk ids than a Loc holds");
            let data = String::with_capacity(self.chunk_bytes.max(need));
            self.held += data.capacity();
            self.held_chunks += 1;
            self.chunks.push_back(Some(Chunk { data, live: 0, base_seq: base, victim: false }));
            self.open = need <= self.chunk_bytes;
        }
        let id = self.first_id.wrapping_add(self.chunks.len() as u32 - 1) & ID_MASK;
        (id, self.chunks.back_mut().and_then(Option::as_mut).expect("a chunk was just made"))
    }

    /// Stops appending to the last chunk: frees it if nothing references it, or gives back
    /// its unused room when that is more than an eighth of it (a chunk closed by its seq range
    /// or by a large record).
    fn close_last(&mut self) {
        self.open = false;
        let Some(i) = self.chunks.len().checked_sub(1) else { return };
        if let Some(Some(c)) = self.chunks.get_mut(i) {
            let cap = c.data.capacity();
            if c.live > 0 && cap - c.data.len() > cap / 8 {
                c.data.shrink_to_fit();
                self.held -= cap - c.data.capacity();
            }
        }
        self.free_if_unused(i);
    }

    /// Accounts for the record just written at `off` of the last chunk, `id`.
    fn added(&mut self, id: u32, off: usize, flags: u8, seq: u64) -> Loc {
        let loc = pack(id, off, flags, seq);
        let chunk = self.chunks.back_mut().and_then(Option::as_mut).expect("the record's chunk");
        let size = chunk.data.len() - off;
        debug_assert_eq!(size, record_end(chunk.data.as_bytes(), loc) - off);
        chunk.live += size;
        self.live += size;
        if chunk.data.len() >= chunk.data.capacity() {
            self.open = false;
        }
        loc
    }

    fn index(&self, loc: Loc) -> usize {
        (chunk_id(loc).wrapping_sub(self.first_id) & ID_MASK) as usize
    }

    fn chunk(&self, loc: Loc) -> &Chunk {
        self.chunks.get(self.index(loc)).and_then(Option::as_ref).expect("a record of a freed chunk")
    }

    /// The entry whose record is at `loc` (`ts` is kept by the store).
    pub fn get(&self, ts: i64, loc: Loc) -> EntryRef<'_> {
        decode(self.chunk(loc), loc, ts)
    }

    /// Forgets the record at `loc`; its chunk is freed when it was the last one referenced
    /// (unless more records may still be appended to it).
    pub fn release(&mut self, loc: Loc) {
        let i = self.index(loc);
        let chunk = self.chunks.get_mut(i).and_then(Option::as_mut).expect("a record of a freed chunk");
        let size = record_end(chunk.data.as_bytes(), loc) - offset(loc);
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
            self.first_id = self.first_id.wrapping_add(1) & ID_MASK;
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

    /// An arena whose chunk ids start at `first_id` (tests: ids wrap around).
    #[cfg(test)]
    pub fn with_first_id(chunk_bytes: usize, first_id: u32) -> Self {
        Arena { first_id: first_id & ID_MASK, ..Arena::with_chunk_bytes(chunk_bytes) }
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
                let seq = l.seq;
                self.push_line(LogLine { text: text.as_str(), ..l }, seq, false)
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

/// The entry whose record is at `loc` in `chunk`.
fn decode(chunk: &Chunk, loc: Loc, ts: i64) -> EntryRef<'_> {
    let b = chunk.data.as_bytes();
    let (flags, mut pos) = (flags(loc), offset(loc));
    let source = get_varint(b, &mut pos) as u32;
    if flags & GAP != 0 {
        let count = get_varint(b, &mut pos);
        let to_ts = ts.wrapping_add(unzigzag(get_varint(b, &mut pos)));
        let reason = if flags & 1 == 0 { GapReason::StreamOverflow } else { GapReason::Reconnect };
        return Entry::Gap(Gap { source, count, from_ts: ts, to_ts, reason });
    }
    let seq = match seq_field(loc) {
        SEQ_ESCAPE => get_varint(b, &mut pos),
        rel => chunk.base_seq.wrapping_add(rel),
    };
    let len = get_varint(b, &mut pos) as usize;
    let text = &chunk.data[pos..pos + len];
    Entry::Line(LogLine { ts, seq, source, stream: stream_of(flags & 3), level: level_of(flags >> 2 & 7), text })
}

/// The offset after the record at `loc`, in its chunk's bytes `b`.
fn record_end(b: &[u8], loc: Loc) -> usize {
    let mut pos = offset(loc);
    get_varint(b, &mut pos); // source
    if flags(loc) & GAP != 0 {
        get_varint(b, &mut pos); // count
        get_varint(b, &mut pos); // to_ts - from_ts
        return pos;
    }
    if seq_field(loc) == SEQ_ESCAPE {
        get_varint(b, &mut pos);
    }
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
mod tests;
