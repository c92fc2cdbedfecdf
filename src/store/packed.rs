//! Packed sorted maps: a sorted map of byte keys to byte values, kept in a sled tree as
//! chunks of consecutive entries, each chunk stored under its first key.
//!
//! Why: sled costs about the same per key whatever the key's size (on this machine class
//! about 130k-200k inserts per second, and several times the logical bytes on disk for
//! small keys), and a million-incident seed has some twenty million index entries. Packing
//! up to `MAX_CHUNK_ENTRIES` entries into one sled value makes the import write a few
//! hundred thousand values instead, and a page of a nested list (ten entries) one or two
//! chunk reads instead of ten key reads.
//!
//! A chunk is `CHUNK_VERSION`, then per entry: the length of the prefix it shares with
//! the previous key (varint), the length and bytes of the rest of the key, the length and
//! bytes of the value. Every length is checked when decoding, so a damaged chunk is an
//! error, never a panic or a huge allocation.
//!
//! Finding a key: the chunk holding it is the one with the greatest first key not after
//! it (`range(..=key).next_back()`). Writing: entries arrive in key order (`Writer`);
//! a later write path changes a chunk by reading, editing and re-writing it.

use std::ops::{Bound, Range};

use sled::IVec;

use crate::arena::common_prefix_len;

/// The first byte of every chunk.
pub const CHUNK_VERSION: u8 = 1;
/// A chunk is cut after this many entries...
pub const MAX_CHUNK_ENTRIES: usize = 64;
/// ...or once it holds this many bytes.
const MAX_CHUNK_BYTES: usize = 8 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PackedError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("damaged chunk under key {key:?}: {reason}")]
    Damaged { key: String, reason: &'static str },
}

fn damaged(chunk_key: &[u8], reason: &'static str) -> PackedError {
    PackedError::Damaged {
        key: String::from_utf8_lossy(chunk_key).into_owned(),
        reason,
    }
}

/// One decoded chunk: its keys in one buffer, and where each value lies in the chunk.
pub struct Chunk {
    bytes: IVec,
    keys: Vec<u8>,
    /// Per entry: the end of its key in `keys`, and its value's range in `bytes`.
    entries: Vec<(usize, Range<usize>)>,
}

impl Chunk {
    pub fn decode(chunk_key: &[u8], bytes: IVec) -> Result<Chunk, PackedError> {
        let mut keys: Vec<u8> = Vec::with_capacity(bytes.len());
        let mut entries = Vec::with_capacity(MAX_CHUNK_ENTRIES);
        let mut reader = Reader::new(chunk_key, &bytes)?;
        let mut previous = 0..0;
        while let Some((shared, suffix, value)) = reader.next_entry()? {
            if shared > previous.len() {
                return Err(damaged(
                    chunk_key,
                    "an entry shares more than its predecessor",
                ));
            }
            let start = keys.len();
            keys.extend_from_within(previous.start..previous.start + shared);
            keys.extend_from_slice(&bytes[suffix]);
            previous = start..keys.len();
            entries.push((keys.len(), value));
        }
        if entries.is_empty() {
            return Err(damaged(chunk_key, "no entries"));
        }
        if keys[..entries[0].0] != *chunk_key {
            return Err(damaged(chunk_key, "its first entry is not its key"));
        }
        Ok(Chunk {
            bytes,
            keys,
            entries,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a chunk without entries does not decode.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn key(&self, index: usize) -> &[u8] {
        let start = index
            .checked_sub(1)
            .map_or(0, |before| self.entries[before].0);
        &self.keys[start..self.entries[index].0]
    }

    pub fn value(&self, index: usize) -> &[u8] {
        &self.bytes[self.entries[index].1.clone()]
    }

    /// The value of `index` as a slice of the chunk, shared rather than copied.
    pub fn value_ref(&self, index: usize) -> ValueRef {
        ValueRef {
            chunk: self.bytes.clone(),
            range: self.entries[index].1.clone(),
        }
    }
}

/// A value inside a chunk; derefs to its bytes.
#[derive(Clone)]
pub struct ValueRef {
    chunk: IVec,
    range: Range<usize>,
}

impl std::ops::Deref for ValueRef {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.chunk[self.range.clone()]
    }
}

/// Walks a chunk's entries without allocating.
struct Reader<'a> {
    chunk_key: &'a [u8],
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(chunk_key: &'a [u8], bytes: &'a [u8]) -> Result<Reader<'a>, PackedError> {
        match bytes.first() {
            Some(&CHUNK_VERSION) => Ok(Reader {
                chunk_key,
                bytes,
                at: 1,
            }),
            Some(_) => Err(damaged(chunk_key, "unknown chunk version")),
            None => Err(damaged(chunk_key, "empty chunk")),
        }
    }

    /// `(shared prefix length, key suffix range, value range)`, or `None` at the end.
    #[allow(clippy::type_complexity)]
    fn next_entry(&mut self) -> Result<Option<(usize, Range<usize>, Range<usize>)>, PackedError> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let shared = self.varint()?;
        let suffix = self.slice()?;
        let value = self.slice()?;
        Ok(Some((shared, suffix, value)))
    }

    fn slice(&mut self) -> Result<Range<usize>, PackedError> {
        let len = self.varint()?;
        let start = self.at;
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| damaged(self.chunk_key, "a length runs past the end"))?;
        self.at = end;
        Ok(start..end)
    }

    fn varint(&mut self) -> Result<usize, PackedError> {
        let mut value: usize = 0;
        for shift in (0..35).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or_else(|| damaged(self.chunk_key, "truncated"))?;
            self.at += 1;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(damaged(self.chunk_key, "an overlong length"))
    }
}

fn push_varint(buffer: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        buffer.push((value as u8) | 0x80);
        value >>= 7;
    }
    buffer.push(value as u8);
}

/// The value stored under `key`, if any.
pub fn get(tree: &sled::Tree, key: &[u8]) -> Result<Option<ValueRef>, PackedError> {
    let Some((chunk_key, bytes)) = tree.range(..=key).next_back().transpose()? else {
        return Ok(None);
    };
    let mut reader = Reader::new(&chunk_key, &bytes)?;
    // Compare as we decode: keys are sorted, so stop at the first one past `key`.
    let mut previous: Vec<u8> = Vec::with_capacity(key.len() + 16);
    while let Some((shared, suffix, value)) = reader.next_entry()? {
        if shared > previous.len() {
            return Err(damaged(
                &chunk_key,
                "an entry shares more than its predecessor",
            ));
        }
        previous.truncate(shared);
        previous.extend_from_slice(&bytes[suffix]);
        match previous.as_slice().cmp(key) {
            std::cmp::Ordering::Less => continue,
            std::cmp::Ordering::Equal => {
                return Ok(Some(ValueRef {
                    chunk: bytes.clone(),
                    range: value,
                }))
            }
            std::cmp::Ordering::Greater => return Ok(None),
        }
    }
    Ok(None)
}

/// One entry met by `range`: its key and its value.
pub type Item = (Vec<u8>, ValueRef);

/// The entries whose keys lie within `(lower, upper)`, in key order or reversed.
/// Reads chunk by chunk as the iterator is pulled.
pub fn range(
    tree: &sled::Tree,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
) -> impl Iterator<Item = Result<Item, PackedError>> + '_ {
    Scan {
        tree,
        lower,
        upper,
        reverse,
        chunks: None,
        current: None,
        done: false,
    }
}

type Chunks = Box<dyn Iterator<Item = sled::Result<(IVec, IVec)>>>;

struct Scan<'a> {
    tree: &'a sled::Tree,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    /// The chunks still to read, in scan order; `None` until the first pull.
    chunks: Option<Chunks>,
    /// The chunk being read and the index of the next entry to yield from it.
    current: Option<(Chunk, usize)>,
    done: bool,
}

impl Scan<'_> {
    /// The chunks in scan order, starting with the one that may hold the first entry.
    fn chunks(&self) -> Result<Chunks, PackedError> {
        let tree = self.tree;
        if self.reverse {
            let start: Option<IVec> = match &self.upper {
                Bound::Included(key) | Bound::Excluded(key) => tree
                    .range(..=key.as_slice())
                    .next_back()
                    .transpose()?
                    .map(|(key, _)| key),
                Bound::Unbounded => None,
            };
            Ok(match start {
                Some(start) => Box::new(tree.range(..=start).rev()),
                None if matches!(self.upper, Bound::Unbounded) => Box::new(tree.iter().rev()),
                None => Box::new(std::iter::empty()),
            })
        } else {
            let start: Option<IVec> = match &self.lower {
                Bound::Included(key) | Bound::Excluded(key) => tree
                    .range(..=key.as_slice())
                    .next_back()
                    .transpose()?
                    .map(|(key, _)| key),
                Bound::Unbounded => None,
            };
            Ok(match (start, &self.lower) {
                (Some(start), _) => Box::new(tree.range(start..)),
                (None, Bound::Included(key) | Bound::Excluded(key)) => {
                    Box::new(tree.range(key.clone()..))
                }
                (None, Bound::Unbounded) => Box::new(tree.iter()),
            })
        }
    }
}

fn below_lower(lower: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match lower {
        Bound::Included(lower) => key < lower.as_slice(),
        Bound::Excluded(lower) => key <= lower.as_slice(),
        Bound::Unbounded => false,
    }
}

fn above_upper(upper: &Bound<Vec<u8>>, key: &[u8]) -> bool {
    match upper {
        Bound::Included(upper) => key > upper.as_slice(),
        Bound::Excluded(upper) => key >= upper.as_slice(),
        Bound::Unbounded => false,
    }
}

impl Scan<'_> {
    fn pull(&mut self) -> Result<Option<Item>, PackedError> {
        loop {
            if let Some((chunk, next)) = &mut self.current {
                while *next < chunk.len() {
                    let index = if self.reverse {
                        chunk.len() - 1 - *next
                    } else {
                        *next
                    };
                    *next += 1;
                    let key = chunk.key(index);
                    let (before, past) = if self.reverse {
                        (above_upper(&self.upper, key), below_lower(&self.lower, key))
                    } else {
                        (below_lower(&self.lower, key), above_upper(&self.upper, key))
                    };
                    if past {
                        return Ok(None);
                    }
                    if !before {
                        return Ok(Some((key.to_vec(), chunk.value_ref(index))));
                    }
                }
            }
            if self.chunks.is_none() {
                self.chunks = Some(self.chunks()?);
            }
            let Some(chunks) = &mut self.chunks else {
                return Ok(None);
            };
            match chunks.next().transpose()? {
                Some((key, bytes)) => self.current = Some((Chunk::decode(&key, bytes)?, 0)),
                None => return Ok(None),
            }
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Item, PackedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.pull().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// Backpressure for writers that outpace the disk. sled queues the buffers it has yet to
/// write in memory, so writing faster than the disk takes grows the process by as much as
/// the disk lags behind: a first-start import of a million incidents peaked at 480-500 MB
/// with its data directory on tmpfs and at 530-785 MB on a slow disk. Every `every`
/// bytes written by the writers sharing it, the one that crosses the mark flushes the
/// database, waiting for the disk to catch up.
pub struct Throttle {
    db: sled::Db,
    every: u64,
    written: std::sync::atomic::AtomicU64,
    flushes: std::sync::atomic::AtomicU64,
}

impl Throttle {
    pub fn new(db: sled::Db, every: u64) -> Throttle {
        Throttle {
            db,
            every: every.max(1),
            written: std::sync::atomic::AtomicU64::new(0),
            flushes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many times a writer waited for the disk.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn wrote(&self, bytes: usize) -> Result<(), PackedError> {
        let bytes = bytes as u64;
        let before = self
            .written
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        if before / self.every != (before + bytes) / self.every {
            self.db.flush()?;
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Writes a packed map whose entries arrive in strictly increasing key order.
pub struct Writer<'a> {
    tree: &'a sled::Tree,
    throttle: Option<&'a Throttle>,
    chunk: Vec<u8>,
    first: Vec<u8>,
    previous: Vec<u8>,
    in_chunk: usize,
    /// Entries written, and the bytes of their keys and values as if stored one by one.
    pub entries: u64,
    pub logical_bytes: u64,
}

impl<'a> Writer<'a> {
    pub fn new(tree: &'a sled::Tree) -> Writer<'a> {
        Writer {
            tree,
            throttle: None,
            chunk: Vec::with_capacity(MAX_CHUNK_BYTES + 256),
            first: Vec::new(),
            previous: Vec::new(),
            in_chunk: 0,
            entries: 0,
            logical_bytes: 0,
        }
    }

    /// A writer that reports what it writes to `throttle`.
    pub fn throttled(tree: &'a sled::Tree, throttle: &'a Throttle) -> Writer<'a> {
        Writer {
            throttle: Some(throttle),
            ..Writer::new(tree)
        }
    }

    /// Adds an entry. Keys must be strictly increasing: a key out of order is a bug in
    /// the caller, reported as an error rather than written.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), PackedError> {
        let mut shared = common_prefix_len(&self.previous, key);
        // After their shared prefix, `key` must go on where `previous` ends, or differ
        // with a greater byte.
        let follows = shared < key.len()
            && (shared == self.previous.len() || key[shared] > self.previous[shared]);
        if self.entries > 0 && !follows {
            return Err(damaged(
                key,
                "keys written out of order (a bug in the import)",
            ));
        }
        if self.in_chunk == 0 {
            self.chunk.clear();
            self.chunk.push(CHUNK_VERSION);
            self.first.clear();
            self.first.extend_from_slice(key);
            // A chunk's first key is whole.
            shared = 0;
        }
        push_varint(&mut self.chunk, shared);
        push_varint(&mut self.chunk, key.len() - shared);
        self.chunk.extend_from_slice(&key[shared..]);
        push_varint(&mut self.chunk, value.len());
        self.chunk.extend_from_slice(value);
        self.previous.truncate(shared);
        self.previous.extend_from_slice(&key[shared..]);
        self.in_chunk += 1;
        self.entries += 1;
        self.logical_bytes += (key.len() + value.len()) as u64;
        if self.in_chunk >= MAX_CHUNK_ENTRIES || self.chunk.len() >= MAX_CHUNK_BYTES {
            self.cut()?;
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<(), PackedError> {
        if self.in_chunk > 0 {
            self.tree
                .insert(self.first.as_slice(), self.chunk.as_slice())?;
            self.in_chunk = 0;
            if let Some(throttle) = self.throttle {
                throttle.wrote(self.first.len() + self.chunk.len())?;
            }
        }
        Ok(())
    }

    /// Writes the last chunk.
    pub fn finish(mut self) -> Result<(u64, u64), PackedError> {
        self.cut()?;
        Ok((self.entries, self.logical_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary_tree() -> (sled::Db, sled::Tree) {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("a temporary db");
        let tree = db.open_tree("t").expect("a tree");
        (db, tree)
    }

    fn tree_with(entries: &[(Vec<u8>, Vec<u8>)]) -> sled::Tree {
        let (_db, tree) = temporary_tree();
        let mut writer = Writer::new(&tree);
        for (key, value) in entries {
            writer.push(key, value).expect("in order");
        }
        writer.finish().expect("written");
        tree
    }

    fn sample(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    format!("owner-{:03}\0key-{i:05}", i / 7).into_bytes(),
                    format!("value {i}").into_bytes(),
                )
            })
            .collect()
    }

    fn collect(
        tree: &sled::Tree,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        reverse: bool,
    ) -> Vec<Vec<u8>> {
        range(tree, lower, upper, reverse)
            .map(|item| item.expect("reads").0)
            .collect()
    }

    #[test]
    fn every_key_is_found_and_no_other() {
        let entries = sample(1000);
        let tree = tree_with(&entries);
        assert!(tree.len() > 1000 / MAX_CHUNK_ENTRIES, "chunks were cut");
        for (key, value) in &entries {
            let found = get(&tree, key).expect("reads").expect("present");
            assert_eq!(&*found, value.as_slice());
            let mut missing = key.clone();
            missing.push(b'x');
            assert!(get(&tree, &missing).expect("reads").is_none());
        }
        assert!(get(&tree, b"").expect("reads").is_none());
        assert!(get(&tree, b"zzz").expect("reads").is_none());
    }

    #[test]
    fn ranges_match_a_btreemap_in_both_directions() {
        let entries = sample(500);
        let tree = tree_with(&entries);
        let keys: Vec<Vec<u8>> = entries.iter().map(|(key, _)| key.clone()).collect();
        let probes = [0usize, 1, 63, 64, 65, 200, 498, 499];
        let bound = |i: usize, kind: u8| match kind {
            0 => Bound::Included(keys[i].clone()),
            1 => Bound::Excluded(keys[i].clone()),
            _ => Bound::Unbounded,
        };
        for &low in &probes {
            for &high in &probes {
                for low_kind in 0..3 {
                    for high_kind in 0..3 {
                        let (lower, upper) = (bound(low, low_kind), bound(high, high_kind));
                        let expected: Vec<Vec<u8>> = keys
                            .iter()
                            .filter(|key| {
                                let key = key.as_slice();
                                (match &lower {
                                    Bound::Included(l) => key >= l.as_slice(),
                                    Bound::Excluded(l) => key > l.as_slice(),
                                    Bound::Unbounded => true,
                                }) && (match &upper {
                                    Bound::Included(u) => key <= u.as_slice(),
                                    Bound::Excluded(u) => key < u.as_slice(),
                                    Bound::Unbounded => true,
                                })
                            })
                            .cloned()
                            .collect();
                        assert_eq!(
                            collect(&tree, lower.clone(), upper.clone(), false),
                            expected
                        );
                        let mut reversed = expected.clone();
                        reversed.reverse();
                        assert_eq!(collect(&tree, lower, upper, true), reversed);
                    }
                }
            }
        }
        // Bounds between keys and outside every key.
        assert_eq!(
            collect(
                &tree,
                Bound::Included(b"owner-003".to_vec()),
                Bound::Excluded(b"owner-004".to_vec()),
                false
            )
            .len(),
            7
        );
        assert!(collect(
            &tree,
            Bound::Included(b"p".to_vec()),
            Bound::Unbounded,
            false
        )
        .is_empty());
        assert!(collect(
            &tree,
            Bound::Unbounded,
            Bound::Excluded(b"a".to_vec()),
            true
        )
        .is_empty());
    }

    #[test]
    fn a_throttled_writer_waits_for_the_disk_once_per_mark_crossed() {
        let (db, tree) = temporary_tree();
        let throttle = Throttle::new(db.clone(), 4096);
        let entries = sample(2000);
        let mut writer = Writer::throttled(&tree, &throttle);
        for (key, value) in &entries {
            writer.push(key, value).expect("in order");
        }
        writer.finish().expect("written");
        let written: u64 = tree
            .iter()
            .map(|chunk| {
                let (key, value) = chunk.expect("reads");
                (key.len() + value.len()) as u64
            })
            .sum();
        assert!(
            written > 4 * 4096,
            "too little written to cross marks: {written}"
        );
        assert_eq!(throttle.flushes(), written / 4096);
        for (key, value) in &entries {
            assert_eq!(
                get(&tree, key).expect("reads").as_deref(),
                Some(value.as_slice())
            );
        }
    }

    #[test]
    fn keys_out_of_order_are_refused() {
        let (_db, tree) = temporary_tree();
        let mut writer = Writer::new(&tree);
        writer.push(b"b", b"").expect("first");
        assert!(writer.push(b"a", b"").is_err());
        assert!(writer.push(b"b", b"").is_err());
        // A key that extends the previous one follows it; a prefix of it does not.
        let long = b"owner-0000000001\0key-0000000001";
        writer.push(long, b"").expect("extends `b`");
        assert!(writer.push(&long[..long.len() - 1], b"").is_err());
        assert!(writer
            .push(b"owner-0000000001\0key-0000000000", b"")
            .is_err());
        writer
            .push(b"owner-0000000001\0key-0000000002", b"")
            .expect("a greater last byte");
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let tree = tree_with(&sample(10));
        let (key, bytes) = tree.iter().next().expect("a chunk").expect("reads");
        for cut in 0..bytes.len() {
            tree.insert(&key, &bytes[..cut]).expect("writes");
            let _ = get(&tree, &key);
            let _ = range(&tree, Bound::Unbounded, Bound::Unbounded, false).count();
        }
        tree.insert(
            &key,
            &[CHUNK_VERSION, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01][..],
        )
        .expect("writes");
        assert!(get(&tree, &key).is_err());
        tree.insert(&key, &[9u8][..]).expect("writes");
        assert!(matches!(get(&tree, &key), Err(PackedError::Damaged { .. })));
    }
}
