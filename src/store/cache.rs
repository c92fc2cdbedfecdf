//! Decoded records and the entries of short lists, kept in memory between reads so that a
//! record or list read again is neither looked up in sled nor decoded again.
//!
//! Bounded in bytes: the least recently used entries are forgotten first. Never stale:
//! every entry carries the store generation it was read under (read before the sled
//! read, see `Store::generation`), and an entry is served only while that generation is
//! still current, so anything read before or during a write is a miss once the write
//! has begun. A cache with a bound of 0 holds nothing and every read goes to sled.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Entry;
use crate::arena::SeededFx;
use crate::lru::Lru;

/// Locks are taken per shard, so concurrent readers rarely wait on one another.
const SHARDS: usize = 16;

/// What an entry costs beyond its bytes: the LRU's bookkeeping, the key's and the value's
/// headers. An estimate; the bound is approximate by that much per entry.
const ENTRY_OVERHEAD: usize = 96;

/// What the cache holds for a key.
#[derive(Clone)]
pub(super) enum Cached {
    /// A decoded record; the key says its kind.
    Record(Arc<dyn Any + Send + Sync>),
    /// Every entry of a list no longer than a chunk, in key order.
    List(Arc<[Entry]>),
    /// The list is longer than a chunk, with this many entries: it is read from sled,
    /// never held here.
    Long(u64),
    /// The entries of a date-ordered list that no date bound can skip, and the reach of
    /// its short dates.
    Dated(Arc<super::dated::DatedList>),
}

struct Slot {
    generation: u64,
    value: Cached,
}

/// What the cache holds and how it has done since the server started, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCacheUsage {
    pub entries: usize,
    pub bytes: usize,
    pub max_bytes: usize,
    pub hits: u64,
    pub misses: u64,
}

/// Hashed with a seeded FxHash (`SeededFx`): SipHash, twice a lookup (the shard, then
/// the key within it), was a tenth of the CPU time of a nested page.
type Entries = Lru<[u8], Slot, SeededFx>;

/// One lock's share of the cache, with its counts: counted under the lock already held,
/// a lookup updates no shared counter.
struct Shard {
    entries: Entries,
    hits: u64,
    misses: u64,
}

pub(super) struct ReadCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: SeededFx,
    max_bytes: usize,
}

impl ReadCache {
    /// A cache holding at most about `max_bytes` of decoded data.
    pub(super) fn new(max_bytes: usize) -> ReadCache {
        let per_shard = max_bytes / SHARDS;
        let hasher = SeededFx::default();
        ReadCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: Lru::with_hasher(per_shard, hasher.clone()),
                        hits: 0,
                        misses: 0,
                    })
                })
                .collect(),
            hasher,
            max_bytes,
        }
    }

    /// Whether the cache holds nothing, ever (its bound is 0).
    pub(super) fn is_off(&self) -> bool {
        self.max_bytes == 0
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        // The middle bits pick the shard: the map within it indexes by the low bits and
        // tags by the top ones, which must stay varied among one shard's keys.
        let shard = &self.shards[(self.hasher.hash_one(key) >> 32) as usize % SHARDS];
        // A panic while holding the lock leaves a consistent map behind (`Lru` finishes
        // every change before it can panic); keep using it.
        shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What is held under `key`, if it was read under `generation`.
    pub(super) fn get(&self, key: &[u8], generation: u64) -> Option<Cached> {
        if self.max_bytes == 0 {
            return None;
        }
        let mut shard = self.shard(key);
        let found = shard
            .entries
            .get_lazily(key)
            .filter(|slot| slot.generation == generation)
            .map(|slot| slot.value.clone());
        if found.is_some() {
            shard.hits += 1;
        } else {
            shard.misses += 1;
        }
        found
    }

    /// Holds `value`, read under `generation`, which costs about `bytes` of memory.
    pub(super) fn insert(&self, key: &[u8], value: Cached, generation: u64, bytes: usize) {
        if self.max_bytes == 0 {
            return;
        }
        let slot = Slot { generation, value };
        self.shard(key)
            .entries
            .insert(Arc::from(key), slot, bytes + key.len() + ENTRY_OVERHEAD);
    }

    pub(super) fn usage(&self) -> ReadCacheUsage {
        let mut usage = ReadCacheUsage {
            max_bytes: self.max_bytes,
            ..ReadCacheUsage::default()
        };
        for shard in self.shards.iter() {
            let shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            usage.entries += shard.entries.len();
            usage.bytes += shard.entries.bytes();
            usage.hits += shard.hits;
            usage.misses += shard.misses;
        }
        usage
    }
}

/// The cache key of a record: a tag, its kind's tree, and its id.
pub(super) fn record_key(tree: &str, id: &str) -> Key {
    tagged_key(b'r', tree, id)
}

/// The cache key of a list: a tag, its tree, and its owner (empty for a whole kind).
pub(super) fn list_key(tree: &str, owner: &str) -> Key {
    tagged_key(b'l', tree, owner)
}

/// The cache key of what `Store::scan_dated` holds of a date-ordered list.
pub(super) fn dated_key(tree: &str, owner: &str) -> Key {
    tagged_key(b'd', tree, owner)
}

fn tagged_key(tag: u8, tree: &str, name: &str) -> Key {
    // Tree names never hold a NUL byte, so the tree ends unambiguously at the 0.
    let parts: [&[u8]; 4] = [&[tag], tree.as_bytes(), &[0], name.as_bytes()];
    let len: usize = parts.iter().map(|part| part.len()).sum();
    if len > INLINE_KEY_BYTES {
        return Key::Heap(parts.concat());
    }
    let mut bytes = [0; INLINE_KEY_BYTES];
    let mut at = 0;
    for part in parts {
        bytes[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Key::Inline {
        len: len as u8,
        bytes,
    }
}

/// The longest key a lookup builds without allocating: a tag, a tree name and a slug.
const INLINE_KEY_BYTES: usize = 110;

/// A read-cache key, on the stack when it is short (every key but those of unusually
/// long slugs), so that a lookup allocates nothing: a page of records looks up each.
#[derive(Clone, Debug)]
pub(super) enum Key {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_BYTES],
    },
    Heap(Vec<u8>),
}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Heap(bytes) => bytes,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        **self == **other
    }
}

/// What a record held with a list entry (`Entry::record`) is counted as: an estimate
/// above most records' decoded size. It is the record the cache may also hold under its
/// own key (one copy, counted twice), which keeps the bound conservative.
const HELD_RECORD_BYTES: usize = 2048;

/// What a list's entries, and the records they hold, cost in the cache.
pub(super) fn list_cost(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|entry| {
            let record = if entry.holds_record() {
                HELD_RECORD_BYTES
            } else {
                0
            };
            entry.key.len() + entry.id.len() + std::mem::size_of::<Entry>() + record
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: u32) -> Cached {
        Cached::Record(Arc::new(value))
    }

    fn held(cache: &ReadCache, key: &[u8], generation: u64) -> Option<u32> {
        match cache.get(key, generation)? {
            Cached::Record(value) => value.downcast_ref::<u32>().copied(),
            _ => None,
        }
    }

    #[test]
    fn an_entry_is_served_only_under_the_generation_it_was_read_under() {
        let cache = ReadCache::new(1 << 20);
        let key = record_key("incidents", "a");
        cache.insert(&key, record(7), 4, 4);
        assert_eq!(held(&cache, &key, 4), Some(7));
        assert_eq!(held(&cache, &key, 5), None);
        assert_eq!(held(&cache, &key, 3), None);
        let usage = cache.usage();
        assert_eq!((usage.hits, usage.misses, usage.entries), (1, 2, 1));
    }

    #[test]
    fn keys_of_records_and_lists_never_collide() {
        assert_ne!(record_key("a", "b"), list_key("a", "b"));
        assert_ne!(list_key("a", "b"), dated_key("a", "b"));
        assert_ne!(record_key("ab", ""), record_key("a", "b"));
        let long = "x".repeat(200);
        assert_eq!(
            &record_key("t", &long)[..],
            [b"rt\0", long.as_bytes()].concat()
        );
        assert_eq!(&record_key("t", "ab")[..], b"rt\0ab");
    }

    #[test]
    fn a_cache_of_zero_bytes_holds_nothing() {
        let cache = ReadCache::new(0);
        let key = record_key("incidents", "a");
        cache.insert(&key, record(7), 1, 4);
        assert_eq!(held(&cache, &key, 1), None);
        assert_eq!(cache.usage().entries, 0);
        assert_eq!(
            cache.usage().misses,
            0,
            "a cache that is off counts nothing"
        );
    }

    #[test]
    fn the_bound_holds_as_entries_are_added() {
        let cache = ReadCache::new(64 * 1024);
        for n in 0..10_000u32 {
            cache.insert(&record_key("t", &n.to_string()), record(n), 1, 100);
        }
        let usage = cache.usage();
        assert!(usage.bytes <= 64 * 1024, "{usage:?}");
        assert!(usage.entries > 100, "{usage:?}");
        assert_eq!(held(&cache, &record_key("t", "9999"), 1), Some(9999));
    }
}
