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
use std::sync::atomic::{AtomicU64, Ordering};
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
type Shard = Lru<[u8], Slot, SeededFx>;

pub(super) struct ReadCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: SeededFx,
    max_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ReadCache {
    /// A cache holding at most about `max_bytes` of decoded data.
    pub(super) fn new(max_bytes: usize) -> ReadCache {
        let per_shard = max_bytes / SHARDS;
        let hasher = SeededFx::default();
        ReadCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Lru::with_hasher(per_shard, hasher.clone())))
                .collect(),
            hasher,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
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
        let found = self
            .shard(key)
            .get(key)
            .filter(|slot| slot.generation == generation)
            .map(|slot| slot.value.clone());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Holds `value`, read under `generation`, which costs about `bytes` of memory.
    pub(super) fn insert(&self, key: &[u8], value: Cached, generation: u64, bytes: usize) {
        if self.max_bytes == 0 {
            return;
        }
        let slot = Slot { generation, value };
        self.shard(key)
            .insert(Arc::from(key), slot, bytes + key.len() + ENTRY_OVERHEAD);
    }

    pub(super) fn usage(&self) -> ReadCacheUsage {
        let (mut entries, mut bytes) = (0, 0);
        for shard in self.shards.iter() {
            let shard = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            entries += shard.len();
            bytes += shard.bytes();
        }
        ReadCacheUsage {
            entries,
            bytes,
            max_bytes: self.max_bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// The cache key of a record: a tag, its kind's tree, and its id.
pub(super) fn record_key(tree: &str, id: &str) -> Vec<u8> {
    tagged_key(b'r', tree, id)
}

/// The cache key of a list: a tag, its tree, and its owner (empty for a whole kind).
pub(super) fn list_key(tree: &str, owner: &str) -> Vec<u8> {
    tagged_key(b'l', tree, owner)
}

/// The cache key of what `Store::scan_dated` holds of a date-ordered list.
pub(super) fn dated_key(tree: &str, owner: &str) -> Vec<u8> {
    tagged_key(b'd', tree, owner)
}

fn tagged_key(tag: u8, tree: &str, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + tree.len() + name.len());
    key.push(tag);
    key.extend_from_slice(tree.as_bytes());
    // Tree names never hold a NUL byte, so the tree ends unambiguously here.
    key.push(0);
    key.extend_from_slice(name.as_bytes());
    key
}

/// What a list's entries cost in the cache.
pub(super) fn list_cost(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|entry| entry.key.len() + entry.id.len() + std::mem::size_of::<Entry>())
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
