//! A chunk's bytes: plain while it is filled and for a short tail behind it, then packed with
//! LZ4 (block format, `lz4_flex`), which logs take well: many lines share their fields and
//! words, so a packed chunk holds the same records in a fraction of the memory.
//!
//! A packed chunk is unpacked on demand in two ways:
//! * [`Body::cached`] / [`Body::unpack_cached`]: into the chunk's own copy, for readers
//!   holding `&Arena` that hand out texts borrowing it (the view's window, a single entry).
//!   The arena registers the copy and drops it again once more than a few dozen are held
//!   (only with `&mut`, so never while a borrowed text is alive).
//! * [`Body::unpack_into`]: into a reader's scratch buffer, for passes over many entries
//!   (filtering, search, export), which must not keep a copy of every chunk they read.

use std::sync::OnceLock;

/// A packed chunk is kept only when LZ4 makes it at most 7/8 of its plain size.
const WORTH_PACKING: (usize, usize) = (7, 8);

#[derive(Debug)]
pub(super) enum Body {
    Plain(String),
    Packed(Packed),
}

#[derive(Debug)]
pub(super) struct Packed {
    bytes: Box<[u8]>,
    /// Plain length.
    len: usize,
    /// Unpacked copy for borrowing readers (see the module documentation).
    plain: OnceLock<Box<str>>,
}

impl Body {
    /// Bytes of memory it holds for good (an unpacked copy not counted).
    pub(super) fn held(&self) -> usize {
        match self {
            Body::Plain(s) => s.capacity(),
            Body::Packed(p) => p.bytes.len(),
        }
    }

    /// Plain bytes it spans (capacity while plain): what compaction weighs records against.
    pub(super) fn extent(&self) -> usize {
        match self {
            Body::Plain(s) => s.capacity(),
            Body::Packed(p) => p.len,
        }
    }

    /// Bytes of its unpacked copy, if one is held.
    pub(super) fn cached_bytes(&self) -> usize {
        match self {
            Body::Packed(p) => p.plain.get().map_or(0, |s| s.len()),
            Body::Plain(_) => 0,
        }
    }

    pub(super) fn is_packed(&self) -> bool {
        matches!(self, Body::Packed(_))
    }

    /// The records, when readable without unpacking (plain, or packed with its copy held).
    pub(super) fn cached(&self) -> Option<&str> {
        match self {
            Body::Plain(s) => Some(s),
            Body::Packed(p) => p.plain.get().map(|s| &**s),
        }
    }

    /// The records, unpacking into the chunk's copy when needed; `true` when this call made
    /// the copy (the caller registers it).
    pub(super) fn unpack_cached(&self) -> (&str, bool) {
        match self {
            Body::Plain(s) => (s, false),
            Body::Packed(p) => {
                let mut made = false;
                let s = p.plain.get_or_init(|| {
                    made = true;
                    let mut out = String::new();
                    p.unpack_into(&mut out);
                    out.into_boxed_str()
                });
                (s, made)
            }
        }
    }

    /// Unpacks into `out` (replacing what it held); a plain body is returned as is.
    pub(super) fn unpack_into<'a>(&'a self, out: &'a mut String) -> &'a str {
        match self {
            Body::Plain(s) => s,
            Body::Packed(p) => {
                if let Some(s) = p.plain.get() {
                    return s;
                }
                p.unpack_into(out);
                out
            }
        }
    }

    /// Drops the unpacked copy; returns its size.
    pub(super) fn drop_cached(&mut self) -> usize {
        match self {
            Body::Packed(p) => p.plain.take().map_or(0, |s| s.len()),
            Body::Plain(_) => 0,
        }
    }

    /// The plain text to append to (`None` once packed).
    pub(super) fn plain_mut(&mut self) -> Option<&mut String> {
        match self {
            Body::Plain(s) => Some(s),
            Body::Packed(_) => None,
        }
    }

    /// Packs a plain body when that saves enough (see [`WORTH_PACKING`]); returns whether it
    /// did.
    pub(super) fn pack(&mut self) -> bool {
        let Body::Plain(s) = self else { return false };
        let bytes = lz4_flex::block::compress(s.as_bytes());
        if bytes.len() * WORTH_PACKING.1 > s.len() * WORTH_PACKING.0 {
            return false;
        }
        *self = Body::Packed(Packed { bytes: bytes.into_boxed_slice(), len: s.len(), plain: OnceLock::new() });
        true
    }
}

impl Packed {
    fn unpack_into(&self, out: &mut String) {
        let mut buf = std::mem::take(out).into_bytes();
        buf.clear();
        buf.resize(self.len, 0);
        let n = lz4_flex::block::decompress_into(&self.bytes, &mut buf).expect("a chunk this arena packed unpacks");
        assert_eq!(n, self.len, "a packed chunk unpacks to its own length");
        *out = String::from_utf8(buf).expect("a packed chunk holds the UTF-8 it was packed from");
    }
}

/// A few chunks unpacked into buffers of their own, the least recently used one replaced:
/// for a [`Reader`](super::Reader)'s pass and for the arena's eviction and relocation, which go
/// through entries in time order while records lie in arrival order (a late line, or a source
/// lagging behind the others, sends them a few chunks ahead and back again).
#[derive(Debug, Default)]
pub(super) struct Unpacked {
    /// Key (chunk id or index), last use, records.
    bufs: Vec<(u32, u64, String)>,
    uses: u64,
}

impl Unpacked {
    pub(super) const BUFFERS: usize = 4;

    /// The records of `body` (the chunk `key`): plain or already unpacked, as they are; else
    /// unpacked into a buffer.
    pub(super) fn records<'a>(&'a mut self, key: u32, body: &'a Body) -> &'a str {
        if let Some(records) = body.cached() {
            return records;
        }
        self.uses += 1;
        let k = match self.bufs.iter().position(|b| b.0 == key) {
            Some(k) => k,
            None => {
                let k = if self.bufs.len() < Self::BUFFERS {
                    self.bufs.push((key, 0, String::new()));
                    self.bufs.len() - 1
                } else {
                    (0..self.bufs.len()).min_by_key(|&k| self.bufs[k].1).expect("BUFFERS > 0")
                };
                self.bufs[k].0 = key;
                body.unpack_into(&mut self.bufs[k].2);
                k
            }
        };
        self.bufs[k].1 = self.uses;
        &self.bufs[k].2
    }

    /// Forgets the chunk `key` (it was freed; its key may be used again).
    pub(super) fn forget(&mut self, key: u32) {
        self.bufs.retain(|b| b.0 != key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_text_that_repeats_and_keeps_text_that_does_not() {
        let text: String =
            (0..500).map(|i| format!("i={i} level=info msg=\"request completed\" path=/api/{i}\n")).collect();
        let mut b = Body::Plain(text.clone());
        assert!(b.pack());
        assert!(b.is_packed() && b.held() * 3 < text.len(), "{} of {}", b.held(), text.len());
        assert_eq!(b.extent(), text.len());
        assert_eq!(b.cached(), None);
        let mut scratch = String::from("left over");
        assert_eq!(b.unpack_into(&mut scratch), text);
        assert_eq!((b.cached(), b.cached_bytes()), (None, 0), "a scratch unpack keeps no copy");
        assert_eq!(b.unpack_cached(), (text.as_str(), true));
        assert_eq!(b.unpack_cached(), (text.as_str(), false));
        assert_eq!((b.cached(), b.cached_bytes()), (Some(text.as_str()), text.len()));
        assert_eq!(b.drop_cached(), text.len());
        assert_eq!(b.cached(), None);
        assert!(b.plain_mut().is_none() && !b.pack());

        // bytes that do not repeat stay plain
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: String = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x % 90) as u8)
            })
            .collect();
        let mut b = Body::Plain(noise.clone());
        assert!(!b.pack());
        assert_eq!(b.cached(), Some(noise.as_str()));
    }
}
