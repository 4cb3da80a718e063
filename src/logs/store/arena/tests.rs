//! Tests of the arena: records round trip, chunks are freed as they empty, ids wrap, relocation.

use super::*;
use crate::logs::level::Level;
use crate::logs::line::{GapReason, StreamKind};

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
fn locs_pack_and_unpack() {
    for (id, off, fl, seq) in [(0, 0, 0, 0), (ID_MASK, (1 << OFF_BITS) - 1, 0x3f, SEQ_ESCAPE), (5, 77, GAP | 1, 9)] {
        let loc = pack(id, off, fl, seq);
        assert_eq!((chunk_id(loc), offset(loc), flags(loc), seq_field(loc)), (id, off, fl, seq));
    }
}

#[test]
fn a_chunk_takes_at_most_16383_new_lines_and_gives_back_its_room() {
    let mut a = Arena::with_chunk_bytes(CHUNK_BYTES);
    let locs: Vec<Loc> =
        (0..40_000u64).map(|i| a.push(&line(i as i64, 0, StreamKind::Stdout, None, "tiny"), i)).collect();
    a.check();
    // 6-byte records: three chunks, two of them closed at 16,383 lines and shrunk to fit
    assert_eq!((a.held_chunks(), a.held_bytes()), (3, 2 * 16_383 * 6 + CHUNK_BYTES));
    for (i, &loc) in locs.iter().enumerate() {
        let l = a.get(i as i64, loc).into_line().unwrap();
        assert_eq!((l.seq, l.text), (i as u64, "tiny"));
        assert!(seq_field(loc) < SEQ_ESCAPE);
    }
}

#[test]
fn chunk_ids_wrap_around() {
    let mut a = Arena::with_first_id(64, ID_MASK - 2);
    let mut locs = std::collections::VecDeque::new();
    for i in 0..2_000u64 {
        locs.push_back((i, a.push(&line(i as i64, 9, StreamKind::File, None, &format!("wrap {i}")), i)));
        if locs.len() > 20 {
            a.release(locs.pop_front().unwrap().1);
        }
        for &(j, loc) in &locs {
            assert_eq!(a.get(0, loc).into_line().map(|l| (l.seq, l.source)), Some((j, 9)));
        }
    }
    assert!(a.chunk_slots() < 20);
    a.check();
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
        // 20-byte records, three to a chunk
        let e = line(i as i64, 2, StreamKind::Stderr, Some(Level::Warn), &format!("{i:>18}"));
        let loc = a.push(&e, i);
        if i % 3 == 0 {
            kept.push((i, loc));
        } else {
            a.release(loc);
        }
    }
    assert!(a.extent_bytes() > a.live_bytes() * 2 + 8 * 64, "every chunk is pinned by one line in three");
    assert!(a.begin_compaction());
    let mut moved = 0;
    for (i, loc) in kept.iter_mut() {
        if a.is_victim(*loc) {
            *loc = a.relocate(*i as i64, *loc);
            // older than the chunk it went to: its seq is in the record
            assert_eq!(seq_field(*loc), SEQ_ESCAPE);
            moved += 1;
        }
    }
    assert_eq!(moved, kept.len() - 1, "all but the one in the open chunk");
    a.end_compaction();
    a.check();
    assert!(a.extent_bytes() <= a.live_bytes() + a.live_bytes() / 2 + 64, "{} {}", a.extent_bytes(), a.live_bytes());
    assert!(!a.begin_compaction(), "nothing left to do");
    for (i, loc) in kept {
        let l = a.get(i as i64, loc).into_line().unwrap();
        assert_eq!(
            (l.text, l.seq, l.source, l.stream, l.level),
            (format!("{i:>18}").as_str(), i, 2, StreamKind::Stderr, Some(Level::Warn))
        );
    }
}

/// Lines like a web service's: fields and words shared between lines, numbers that are not.
fn service_line(i: u64) -> String {
    format!(
        "ts={i} level=info msg=\"request completed\" method=GET path=/api/v1/items/{} status=200 ms={}",
        i * 7919 % 100_003,
        i % 97
    )
}

#[test]
fn chunks_behind_the_tail_are_packed_and_read_back_every_way() {
    let mut a = Arena::with_chunk_bytes(4096);
    let locs: Vec<Loc> = (0..20_000u64)
        .map(|i| a.push(&line(i as i64, (i % 5) as u32, StreamKind::Stdout, None, &service_line(i)), i))
        .collect();
    a.check();
    let (ever, now) = a.packed_chunks();
    assert!(ever > 100 && now as u64 == ever, "{ever} packed, {now} held packed");
    assert_eq!(now, a.held_chunks() - PLAIN_TAIL, "all but the tail, the open chunk included");
    // what packing saved: the chunks hold a third of the records or less
    assert!(a.held_bytes() * 3 < a.live_bytes(), "held {} for {} bytes of records", a.held_bytes(), a.live_bytes());
    assert!(a.extent_bytes() >= a.live_bytes());

    // a reader keeps no copies
    let mut r = a.reader();
    for (i, &loc) in locs.iter().enumerate() {
        let l = r.get(i as i64, loc).into_line().unwrap();
        assert_eq!((l.text, l.seq, l.source), (service_line(i as u64).as_str(), i as u64, (i % 5) as u32));
    }
    assert_eq!(a.cached_bytes(), 0);

    // get() keeps copies, which the next change trims to CACHED_CHUNKS / 2
    for (i, &loc) in locs.iter().enumerate().step_by(50) {
        assert_eq!(a.get(i as i64, loc).into_line().unwrap().text, service_line(i as u64));
    }
    a.check();
    assert!(a.cached_bytes() > CACHED_CHUNKS * 4096 / 2, "one copy per chunk read");
    let held_with_copies = a.held_bytes();
    a.push(&line(20_000, 0, StreamKind::Stdout, None, "next"), 20_000);
    a.check();
    assert!(a.cached_bytes() <= CACHED_CHUNKS / 2 * 4096, "{} bytes of copies kept", a.cached_bytes());
    assert!(a.held_bytes() < held_with_copies);
    for (i, &loc) in locs.iter().enumerate().rev().step_by(333) {
        assert_eq!(a.get(i as i64, loc).into_line().unwrap().text, service_line(i as u64), "read again after the trim");
    }

    // releasing everything in arrival order frees the packed chunks and their copies
    for &loc in &locs {
        a.release(loc);
    }
    a.push(&line(20_001, 0, StreamKind::Stdout, None, "last"), 20_001);
    a.check();
    assert_eq!(a.held_chunks(), 1);
    assert_eq!(a.cached_bytes(), 0);
}

#[test]
fn records_of_packed_chunks_are_relocated_intact() {
    let mut a = Arena::with_chunk_bytes(1024);
    let mut kept = Vec::new();
    for i in 0..6_000u64 {
        let text = service_line(i);
        let loc = a.push(&line(i as i64, 3, StreamKind::Stderr, Some(Level::Error), &text), i);
        if i % 10 == 0 {
            kept.push((i, loc));
        } else {
            a.release(loc);
        }
    }
    assert!(a.packed_chunks().0 > 0);
    assert!(a.begin_compaction(), "chunks one tenth referenced");
    for (i, loc) in kept.iter_mut() {
        if a.is_victim(*loc) {
            *loc = a.relocate(*i as i64, *loc);
        }
    }
    a.end_compaction();
    a.check();
    assert!(a.extent_bytes() <= a.live_bytes() + a.live_bytes() / 2 + 1024);
    for (i, loc) in kept {
        let l = a.get(i as i64, loc).into_line().unwrap();
        assert_eq!((l.text, l.seq, l.level), (service_line(i).as_str(), i, Some(Level::Error)));
    }
}

#[test]
fn an_arena_without_packing_keeps_chunks_plain() {
    let mut a = Arena::with_chunk_bytes(1024).without_packing();
    for i in 0..2_000u64 {
        a.push(&line(i as i64, 0, StreamKind::Stdout, None, &service_line(i)), i);
    }
    assert_eq!(a.packed_chunks(), (0, 0));
    assert_eq!(a.held_bytes(), a.extent_bytes());
    a.clear();
    for i in 0..2_000u64 {
        a.push(&line(i as i64, 0, StreamKind::Stdout, None, &service_line(i)), i);
    }
    assert_eq!(a.packed_chunks(), (0, 0), "clear keeps the setting");
}
