//! Where the store keeps what an entry holds besides its timestamp: one *record* per entry
//! (a line's source and text; a gap's fields), appended to chunks (64 KiB) instead of one heap
//! allocation per line, and packed with LZ4 once a chunk is a few chunks behind the newest
//! ([`body`]): a line costs the store's 16-byte slot plus its record's packed share (for
//! typical log lines a quarter to a fifth of the text).
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
//! Reading: [`Arena::get`] (`&self`, a few entries: the view's window) unpacks a packed chunk
//! into a copy the chunk keeps, so the text it hands out can borrow it; the copies are
//! dropped again by the next change once more than [`CACHED_CHUNKS`] are held. Passes over
//! many entries use a [`Reader`] instead, which unpacks into its own buffer and keeps no copy.
//!
//! Encoding ([`codec`]): numbers as ASCII varints (6 bits a byte, `0x40` = more follow), then
//! the text: every byte outside the texts is ASCII, so a chunk is a `String` and texts are
//! sliced out of it without `unsafe`.
//! * line: source, the seq when the `Loc` cannot hold it, text length, text;
//! * gap: source, count, `to_ts - from_ts` (zigzag). Its `from_ts` is the entry's timestamp,
//!   kept by the store.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::logs::line::{Entry, EntryRef, Gap, LogLine};

mod body;
mod codec;

use body::{Body, Unpacked};
use codec::*;

/// The most a 20-bit offset addresses: a record larger than the arena's chunk size gets a
/// chunk of its own, at most this large.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Size of a regular chunk: LZ4 looks back at most 64 KiB, so larger chunks would pack no
/// better, and a reader unpacks a whole chunk to read one line of it.
pub const DEFAULT_CHUNK_BYTES: usize = 64 << 10;

/// Chunks kept plain at the end, the open one included (the live tail a following view reads
/// every frame).
const PLAIN_TAIL: usize = 8;

/// Unpacked copies made by [`Arena::get`] that the arena keeps before dropping the older ones.
pub const CACHED_CHUNKS: usize = 32;

/// Where a record lives and its entry's flags and seq: see the module documentation.
pub type Loc = u64;

#[derive(Debug)]
struct Chunk {
    body: Body,
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
    /// Whether chunks behind the tail are packed.
    packing: bool,
    /// Bytes referenced, over all chunks.
    live: usize,
    /// Memory of the chunks held (plain capacity or packed size; unpacked copies apart).
    held: usize,
    /// Plain bytes the chunks held span (what compaction weighs `live` against).
    extent: usize,
    /// Chunks held (not freed).
    held_chunks: usize,
    /// Seq of the last new line: the base of a chunk that a gap or a relocated line opens.
    last_seq: u64,
    /// Compactions started so far.
    compactions: u64,
    /// Chunks packed so far.
    packed: u64,
    /// Ids of the chunks whose unpacked copy is held, oldest first.
    cached: Mutex<Vec<u32>>,
    /// Copy of a record being relocated.
    scratch: String,
    /// Packed chunks (by id) unpacked by [`release`](Self::release) and
    /// [`relocate`](Self::relocate).
    unpacked: Unpacked,
}

impl Default for Arena {
    fn default() -> Self {
        Arena::with_chunk_bytes(DEFAULT_CHUNK_BYTES)
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
            packing: true,
            live: 0,
            held: 0,
            extent: 0,
            held_chunks: 0,
            last_seq: 0,
            compactions: 0,
            packed: 0,
            cached: Mutex::new(Vec::new()),
            scratch: String::new(),
            unpacked: Unpacked::default(),
        }
    }

    /// The same arena keeping every chunk plain (tests and comparisons).
    pub fn without_packing(self) -> Self {
        Arena { packing: false, ..self }
    }

    /// Appends `e`'s record and returns where. `seq` is a line's (the store's next one: lines
    /// come in seq order); ignored for a gap.
    pub fn push(&mut self, e: &Entry, seq: u64) -> Loc {
        self.trim_cached();
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
        let (id, base_seq, data) = self.room_for(if fresh { seq } else { self.last_seq }, size);
        let off = data.len();
        let rel = if in_range(base_seq) { seq.wrapping_sub(base_seq) } else { SEQ_ESCAPE };
        put_varint(data, u64::from(l.source));
        if rel == SEQ_ESCAPE {
            put_varint(data, seq);
        }
        put_varint(data, l.text.len() as u64);
        data.push_str(l.text);
        self.added(id, off, stream_code(l.stream) | level_code(l.level) << 2, rel)
    }

    fn push_gap(&mut self, g: &Gap) -> Loc {
        let span = zigzag(g.to_ts.wrapping_sub(g.from_ts));
        let size = varint_len(u64::from(g.source)) + varint_len(g.count) + varint_len(span);
        let (id, _, data) = self.room_for(self.last_seq, |_| Some(size));
        let off = data.len();
        put_varint(data, u64::from(g.source));
        put_varint(data, g.count);
        put_varint(data, span);
        self.added(id, off, GAP | reason_code(g.reason), 0)
    }

    /// The open chunk when it has room for a record of `size(chunk's base seq)` bytes (`None`:
    /// it does not belong there), else a new chunk with base `base` (of its own for a record
    /// larger than a chunk): its id, base seq and text to append to.
    fn room_for(&mut self, base: u64, size: impl Fn(u64) -> Option<usize>) -> (u32, u64, &mut String) {
        let fits = |c: &Chunk| match &c.body {
            Body::Plain(s) => size(c.base_seq).is_some_and(|n| s.capacity() - s.len() >= n),
            Body::Packed(_) => false,
        };
        if !(self.open && matches!(self.chunks.back(), Some(Some(c)) if fits(c))) {
            let need = size(base).expect("a record fits a chunk based on it");
            self.close_last();
            assert!(self.chunks.len() < ID_MASK as usize, "more chunk ids than a Loc holds");
            let data = String::with_capacity(self.chunk_bytes.max(need));
            self.held += data.capacity();
            self.extent += data.capacity();
            self.held_chunks += 1;
            self.chunks.push_back(Some(Chunk { body: Body::Plain(data), live: 0, base_seq: base, victim: false }));
            self.open = need <= self.chunk_bytes;
            self.pack_behind_tail();
        }
        let id = self.first_id.wrapping_add(self.chunks.len() as u32 - 1) & ID_MASK;
        let chunk = self.chunks.back_mut().and_then(Option::as_mut).expect("a chunk was just made");
        (id, chunk.base_seq, chunk.body.plain_mut().expect("the open chunk is plain"))
    }

    /// Packs the chunk just out of the plain tail (chunks are made one at a time, so every
    /// chunk passes this spot once).
    fn pack_behind_tail(&mut self) {
        let Some(i) = self.chunks.len().checked_sub(PLAIN_TAIL + 1) else { return };
        if !self.packing {
            return;
        }
        if let Some(Some(c)) = self.chunks.get_mut(i) {
            let before = c.body.held();
            if c.body.pack() {
                self.held = self.held - before + c.body.held();
                self.extent = self.extent - before + c.body.extent();
                self.packed += 1;
            }
        }
    }

    /// Stops appending to the last chunk: frees it if nothing references it, or gives back
    /// its unused room when that is more than an eighth of it (a chunk closed by its seq range
    /// or by a large record).
    fn close_last(&mut self) {
        self.open = false;
        let Some(i) = self.chunks.len().checked_sub(1) else { return };
        if let Some(Some(c)) = self.chunks.get_mut(i) {
            if let (Some(data), true) = (c.body.plain_mut(), c.live > 0) {
                let cap = data.capacity();
                if cap - data.len() > cap / 8 {
                    data.shrink_to_fit();
                    self.held -= cap - data.capacity();
                    self.extent -= cap - data.capacity();
                }
            }
        }
        self.free_if_unused(i);
    }

    /// Accounts for the record just written at `off` of the last chunk, `id`.
    fn added(&mut self, id: u32, off: usize, flags: u8, seq: u64) -> Loc {
        let loc = pack(id, off, flags, seq);
        let chunk = self.chunks.back_mut().and_then(Option::as_mut).expect("the record's chunk");
        let data = chunk.body.plain_mut().expect("the open chunk is plain");
        let size = data.len() - off;
        debug_assert_eq!(size, record_end(data.as_bytes(), loc) - off);
        let full = data.len() >= data.capacity();
        chunk.live += size;
        self.live += size;
        if full {
            self.open = false;
        }
        loc
    }

    fn index(&self, loc: Loc) -> usize {
        (chunk_id(loc).wrapping_sub(self.first_id) & ID_MASK) as usize
    }

    /// Index of the chunk holding the record at `loc`, below [`chunk_slots`](Self::chunk_slots)
    /// (records in one chunk share it).
    pub fn chunk_index(&self, loc: Loc) -> usize {
        self.index(loc)
    }

    /// Chunk indexes in use (freed ones between held ones included).
    pub fn chunk_slots(&self) -> usize {
        self.chunks.len()
    }

    fn chunk(&self, loc: Loc) -> &Chunk {
        self.chunks.get(self.index(loc)).and_then(Option::as_ref).expect("a record of a freed chunk")
    }

    /// The entry whose record is at `loc` (`ts` is kept by the store). Unpacks its chunk into
    /// a copy the chunk keeps when it is packed: for a few entries at a time (see the module
    /// documentation); passes over many use [`reader`](Self::reader).
    pub fn get(&self, ts: i64, loc: Loc) -> EntryRef<'_> {
        let chunk = self.chunk(loc);
        let (records, made) = chunk.body.unpack_cached();
        if made {
            self.cached.lock().unwrap_or_else(|e| e.into_inner()).push(chunk_id(loc));
        }
        decode(records, chunk.base_seq, loc, ts)
    }

    /// A reader for passes over many entries: keeps no unpacked copies.
    pub fn reader(&self) -> Reader<'_> {
        Reader { arena: self, unpacked: Unpacked::default() }
    }

    /// Forgets the record at `loc`; its chunk is freed when it was the last one referenced
    /// (unless more records may still be appended to it).
    pub fn release(&mut self, loc: Loc) {
        let i = self.index(loc);
        let chunk = self.chunks.get(i).and_then(Option::as_ref).expect("a record of a freed chunk");
        // eviction goes through a chunk's records one after another: a packed chunk is
        // unpacked once into one of the arena's buffers for all of them
        let records = self.unpacked.records(chunk_id(loc), &chunk.body);
        let size = record_end(records.as_bytes(), loc) - offset(loc);
        let chunk = self.chunks.get_mut(i).and_then(Option::as_mut).expect("checked above");
        chunk.live -= size;
        self.live -= size;
        self.free_if_unused(i);
    }

    fn free_if_unused(&mut self, i: usize) {
        let last = i + 1 == self.chunks.len();
        let id = self.first_id.wrapping_add(i as u32) & ID_MASK;
        let Some(slot) = self.chunks.get_mut(i) else { return };
        if slot.as_ref().is_some_and(|c| c.live == 0) && !(last && self.open) {
            let chunk = slot.take().expect("checked above");
            self.held -= chunk.body.held();
            self.extent -= chunk.body.extent();
            self.held_chunks -= 1;
            self.unpacked.forget(id);
            if chunk.body.cached_bytes() > 0 {
                self.cached.get_mut().unwrap_or_else(|e| e.into_inner()).retain(|&c| c != id);
            }
            if last {
                self.open = false;
            }
        }
        while matches!(self.chunks.front(), Some(None)) {
            self.chunks.pop_front();
            self.first_id = self.first_id.wrapping_add(1) & ID_MASK;
        }
    }

    /// Drops the oldest unpacked copies made by [`get`](Self::get) once more than
    /// [`CACHED_CHUNKS`] are held, down to half of that. Runs with every new record; the
    /// store's owner also calls it between frames ([`LogStore::trim_cache`]), so that reading
    /// while nothing arrives (scrolling back, searching) does not pile up copies.
    ///
    /// [`LogStore::trim_cache`]: crate::logs::store::LogStore::trim_cache
    pub fn trim_cached(&mut self) {
        let cached = self.cached.get_mut().unwrap_or_else(|e| e.into_inner());
        if cached.len() <= CACHED_CHUNKS {
            return;
        }
        let old: Vec<u32> = cached.drain(..cached.len() - CACHED_CHUNKS / 2).collect();
        for id in old {
            let i = (id.wrapping_sub(self.first_id) & ID_MASK) as usize;
            if let Some(Some(c)) = self.chunks.get_mut(i) {
                c.body.drop_cached();
            }
        }
    }

    /// Drops every record (the store was cleared).
    pub fn clear(&mut self) {
        *self = Arena { packing: self.packing, ..Arena::with_chunk_bytes(self.chunk_bytes) };
    }

    /// Bytes referenced (records of entries in the store), unpacked.
    pub fn live_bytes(&self) -> usize {
        self.live
    }

    /// Bytes of memory the chunks hold (what the arena costs), unpacked copies included.
    pub fn held_bytes(&self) -> usize {
        self.held + self.cached_bytes()
    }

    /// Bytes of the unpacked copies held.
    pub fn cached_bytes(&self) -> usize {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached.iter().filter_map(|&id| self.chunk_by_id(id)).map(|c| c.body.cached_bytes()).sum()
    }

    fn chunk_by_id(&self, id: u32) -> Option<&Chunk> {
        self.chunks.get((id.wrapping_sub(self.first_id) & ID_MASK) as usize)?.as_ref()
    }

    /// Plain bytes the chunks held span (capacity of plain ones).
    pub fn extent_bytes(&self) -> usize {
        self.extent
    }

    pub fn held_chunks(&self) -> usize {
        self.held_chunks
    }

    /// Chunks packed so far, and of those held, how many are packed.
    pub fn packed_chunks(&self) -> (u64, usize) {
        (self.packed, self.chunks.iter().flatten().filter(|c| c.body.is_packed()).count())
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

    /// Panics unless the totals agree with the chunks (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let held: Vec<&Chunk> = self.chunks.iter().flatten().collect();
        assert_eq!(self.held, held.iter().map(|c| c.body.held()).sum::<usize>(), "a chunk grew");
        assert_eq!(self.extent, held.iter().map(|c| c.body.extent()).sum::<usize>());
        assert_eq!(self.held_chunks, held.len());
        assert_eq!(self.live, held.iter().map(|c| c.live).sum::<usize>());
        assert!(held.iter().all(|c| c.live <= c.body.extent() && !c.victim));
        assert!(!matches!(self.chunks.front(), Some(None)));
        let cached = self.cached.lock().unwrap();
        let with_copy = held.iter().filter(|c| c.body.cached_bytes() > 0).count();
        assert_eq!(cached.len(), with_copy, "every unpacked copy is registered once");
    }

    /// Starts a compaction when pinned chunks waste too much, marking the chunks whose records
    /// are to be relocated; returns whether it did. Then [`relocate`](Self::relocate) every
    /// record of a marked chunk ([`is_victim`](Self::is_victim)) and call
    /// [`end_compaction`](Self::end_compaction). Measured in plain bytes (a packed chunk
    /// pinned by a few records wastes in proportion):
    ///
    /// * the chunks held span more than 1.5 × the bytes referenced plus 8 chunks: every chunk
    ///   (but the open one) less than 2/3 referenced is marked, which brings them back under
    ///   1.5 × plus one chunk, so the copying is paid for by at least 8 chunks of new waste;
    /// * or freed chunks pile up behind held ones (their ids stay allocated, 48 bytes each):
    ///   more than twice as many ids as chunks held, plus 64: every chunk before the last freed
    ///   one is marked, so that all the freed ids can be dropped.
    pub fn begin_compaction(&mut self) -> bool {
        let wasteful = self.extent > self.live + self.live / 2 + 8 * self.chunk_bytes;
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
                c.victim = !(open && i + 1 == n) && (i < last_freed || c.live * 3 < c.body.extent() * 2);
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
        let entry: Entry<()> = {
            let chunk = self.chunks.get(self.index(loc)).and_then(Option::as_ref).expect("a record of a freed chunk");
            match decode(self.unpacked.records(chunk_id(loc), &chunk.body), chunk.base_seq, loc, ts) {
                Entry::Line(l) => {
                    text.push_str(l.text);
                    let LogLine { ts, seq, source, stream, level, .. } = l;
                    Entry::Line(LogLine { ts, seq, source, stream, level, text: () })
                }
                Entry::Gap(g) => Entry::Gap(g),
            }
        };
        let new = match entry {
            Entry::Line(l) => {
                let LogLine { ts, seq, source, stream, level, .. } = l;
                self.push_line(LogLine { ts, seq, source, stream, level, text: text.as_str() }, seq, false)
            }
            Entry::Gap(g) => self.push_gap(&g),
        };
        self.scratch = text;
        self.release(loc);
        new
    }

    /// Clears the marks of [`begin_compaction`](Self::begin_compaction) and trims the copies
    /// kept for readers (see [`trim_cached`](Self::trim_cached)).
    pub fn end_compaction(&mut self) {
        for c in self.chunks.iter_mut().flatten() {
            c.victim = false;
        }
        self.trim_cached();
    }
}

/// Reads entries for a pass over many of them ([`Arena::reader`]): a packed chunk is unpacked
/// into one of the reader's few buffers (the least recently used one), never into a copy the
/// arena keeps.
pub struct Reader<'a> {
    arena: &'a Arena,
    /// Keyed by chunk index (the arena does not change while it is borrowed).
    unpacked: Unpacked,
}

impl Reader<'_> {
    /// The entry at `loc`, borrowing the reader until the next call.
    pub fn get(&mut self, ts: i64, loc: Loc) -> EntryRef<'_> {
        let i = self.arena.index(loc) as u32;
        let chunk = self.arena.chunk(loc);
        decode(self.unpacked.records(i, &chunk.body), chunk.base_seq, loc, ts)
    }
}

#[cfg(test)]
mod tests;
