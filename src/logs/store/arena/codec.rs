//! The arena's encoding: a [`Loc`]'s bit fields, ASCII varints, and reading a record back
//! (see the arena's module documentation for the layout).

use crate::logs::level::Level;
use crate::logs::line::{Entry, EntryRef, Gap, GapReason, LogLine, StreamKind};

use super::Loc;

pub(super) const SEQ_BITS: u32 = 14;
pub(super) const FLAG_BITS: u32 = 6;
pub(super) const OFF_BITS: u32 = 20;
pub(super) const ID_BITS: u32 = 24;
pub(super) const ID_MASK: u32 = (1 << ID_BITS) - 1;
/// In a `Loc`'s seq field: the seq is in the record.
pub(super) const SEQ_ESCAPE: u64 = (1 << SEQ_BITS) - 1;
/// Flags of a gap (bit 0: the reason); a line's are its stream (bits 0-1) and level (2-4).
pub(super) const GAP: u8 = 0x20;
pub(super) const MORE: u8 = 0x40;

pub(super) fn pack(id: u32, off: usize, flags: u8, seq: u64) -> Loc {
    debug_assert!(off < 1 << OFF_BITS && flags < 1 << FLAG_BITS && seq <= SEQ_ESCAPE);
    u64::from(id & ID_MASK) << (OFF_BITS + FLAG_BITS + SEQ_BITS)
        | (off as u64) << (FLAG_BITS + SEQ_BITS)
        | u64::from(flags) << SEQ_BITS
        | seq
}

pub(super) fn chunk_id(loc: Loc) -> u32 {
    (loc >> (OFF_BITS + FLAG_BITS + SEQ_BITS)) as u32
}

pub(super) fn offset(loc: Loc) -> usize {
    (loc >> (FLAG_BITS + SEQ_BITS)) as usize & ((1 << OFF_BITS) - 1)
}

pub(super) fn flags(loc: Loc) -> u8 {
    (loc >> SEQ_BITS) as u8 & ((1 << FLAG_BITS) - 1)
}

pub(super) fn seq_field(loc: Loc) -> u64 {
    loc & SEQ_ESCAPE
}

/// The entry whose record is at `loc` in `records` (its chunk's plain bytes; lines' seqs are
/// relative to `base_seq`).
pub(super) fn decode(records: &str, base_seq: u64, loc: Loc, ts: i64) -> EntryRef<'_> {
    let b = records.as_bytes();
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
        rel => base_seq.wrapping_add(rel),
    };
    let len = get_varint(b, &mut pos) as usize;
    let text = &records[pos..pos + len];
    Entry::Line(LogLine { ts, seq, source, stream: stream_of(flags & 3), level: level_of(flags >> 2 & 7), text })
}

/// The offset after the record at `loc`, in its chunk's bytes `b`.
pub(super) fn record_end(b: &[u8], loc: Loc) -> usize {
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

pub(super) fn put_varint(out: &mut String, mut v: u64) {
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
pub(super) fn varint_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(6).max(1)
}

pub(super) fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
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

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(super) fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

pub(super) fn stream_code(s: StreamKind) -> u8 {
    match s {
        StreamKind::Stdout => 0,
        StreamKind::Stderr => 1,
        StreamKind::File => 2,
        StreamKind::Journal => 3,
    }
}

pub(super) fn stream_of(code: u8) -> StreamKind {
    match code {
        0 => StreamKind::Stdout,
        1 => StreamKind::Stderr,
        2 => StreamKind::File,
        _ => StreamKind::Journal,
    }
}

pub(super) fn level_code(l: Option<Level>) -> u8 {
    match l {
        None => 0,
        Some(Level::Trace) => 1,
        Some(Level::Debug) => 2,
        Some(Level::Info) => 3,
        Some(Level::Warn) => 4,
        Some(Level::Error) => 5,
    }
}

pub(super) fn level_of(code: u8) -> Option<Level> {
    match code {
        1 => Some(Level::Trace),
        2 => Some(Level::Debug),
        3 => Some(Level::Info),
        4 => Some(Level::Warn),
        5 => Some(Level::Error),
        _ => None,
    }
}

pub(super) fn reason_code(r: GapReason) -> u8 {
    match r {
        GapReason::StreamOverflow => 0,
        GapReason::Reconnect => 1,
    }
}
