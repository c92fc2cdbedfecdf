//! A least-recently-used map bounded in bytes, shared by the caches: the store's decoded
//! records and short lists, the schema's persisted queries and responses. Not
//! thread-safe: each cache puts it behind its own lock.
//!
//! Knows nothing of what it holds: the caller says what an entry costs. Lookups and
//! insertions are O(1) and a lookup allocates nothing: entries live in one `Vec` linked
//! into a recency list by index, and the key is stored once, shared by the index and its
//! entry.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// A map from `K` to `V` holding at most `max_bytes` of entries, by the costs given to
/// `insert`; inserting past the bound forgets the least recently used entries first.
/// Keys are hashed by `S`: SipHash unless the owner knows its keys are not a client's to
/// pick.
pub struct Lru<K: ?Sized, V, S = RandomState> {
    /// Key → position of its entry in `entries`.
    index: HashMap<Arc<K>, usize, S>,
    /// The entries, in no particular order; `newest` and `oldest` thread the recency list
    /// through them.
    entries: Vec<Entry<K, V>>,
    /// The most recently used entry.
    newest: Option<usize>,
    /// The least recently used entry, the next to be evicted.
    oldest: Option<usize>,
    /// The sum of the costs of the entries held.
    bytes: usize,
    max_bytes: usize,
    /// How many insertions the map has seen (see `get_lazily`).
    insertions: u64,
}

struct Entry<K: ?Sized, V> {
    key: Arc<K>,
    value: V,
    cost: usize,
    /// The entry used just after this one (towards `newest`).
    newer: Option<usize>,
    /// The entry used just before this one (towards `oldest`).
    older: Option<usize>,
    /// `insertions` when the entry last became the newest (see `get_lazily`).
    moved_at: u64,
}

impl<K: Hash + Eq + ?Sized, V> Lru<K, V> {
    /// An empty map that will hold at most `max_bytes` of entries. With 0 it holds nothing.
    pub fn new(max_bytes: usize) -> Lru<K, V> {
        Lru::with_hasher(max_bytes, RandomState::new())
    }
}

impl<K: Hash + Eq + ?Sized, V, S: BuildHasher> Lru<K, V, S> {
    /// `new`, hashing keys with `hasher`.
    pub fn with_hasher(max_bytes: usize, hasher: S) -> Lru<K, V, S> {
        Lru {
            index: HashMap::with_hasher(hasher),
            entries: Vec::new(),
            newest: None,
            oldest: None,
            bytes: 0,
            max_bytes,
            insertions: 0,
        }
    }

    /// The value under `key`, which becomes the most recently used entry unless it has
    /// become so since the last insertion: between two insertions an entry moves at most
    /// once. Eviction, which only an insertion causes, then finds every entry used since
    /// the last insertion nearer the newest end than every entry not used since; only the
    /// order among those used in between is approximate. For a cache whose lookups hit far
    /// more often than they insert (the store's read cache), this spares most lookups the
    /// writes to three entries that moving one costs.
    pub fn get_lazily<Q>(&mut self, key: &Q) -> Option<&V>
    where
        Arc<K>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let position = *self.index.get(key)?;
        if self.entries[position].moved_at != self.insertions {
            self.unlink(position);
            self.push_newest(position);
        }
        Some(&self.entries[position].value)
    }

    /// The value under `key`, which becomes the most recently used entry.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        Arc<K>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let position = *self.index.get(key)?;
        self.unlink(position);
        self.push_newest(position);
        Some(&self.entries[position].value)
    }

    /// Stores `value` under `key` as the most recently used entry, replacing any value the
    /// key had, and evicts the least recently used entries until the map is within its
    /// bound again. An entry that alone costs more than the bound is not stored.
    pub fn insert(&mut self, key: Arc<K>, value: V, cost: usize) {
        self.remove(&*key);
        if cost > self.max_bytes {
            return;
        }
        while self.bytes + cost > self.max_bytes {
            let Some(oldest) = self.oldest else {
                break;
            };
            self.remove_at(oldest);
        }
        self.insertions += 1;
        let position = self.entries.len();
        self.index.insert(key.clone(), position);
        self.entries.push(Entry {
            key,
            value,
            cost,
            newer: None,
            older: None,
            moved_at: 0,
        });
        self.push_newest(position);
        self.bytes += cost;
    }

    /// Removes the entry under `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        Arc<K>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let position = *self.index.get(key)?;
        Some(self.remove_at(position))
    }

    /// How many entries the map holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The sum of the costs of the entries held; never more than the bound.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes the entry at `position` out of the map. The last entry of `entries` moves
    /// into its place, so `entries` stays dense and the links to it are updated.
    fn remove_at(&mut self, position: usize) -> V {
        self.unlink(position);
        let last = self.entries.len() - 1;
        if position != last {
            self.entries.swap(position, last);
            // The entry that was last now lives at `position`: repoint its neighbours,
            // the ends of the list and the index at it.
            let (newer, older) = (self.entries[position].newer, self.entries[position].older);
            match newer {
                Some(newer) => self.entries[newer].older = Some(position),
                None => self.newest = Some(position),
            }
            match older {
                Some(older) => self.entries[older].newer = Some(position),
                None => self.oldest = Some(position),
            }
            let moved = self
                .index
                .get_mut(&*self.entries[position].key)
                .expect("every entry's key is in the index");
            *moved = position;
        }
        let entry = self
            .entries
            .pop()
            .expect("`position` is an entry, so there is a last one");
        self.index.remove(&*entry.key);
        self.bytes -= entry.cost;
        entry.value
    }

    /// Takes the entry at `position` out of the recency list (it stays in `entries`).
    fn unlink(&mut self, position: usize) {
        let (newer, older) = (self.entries[position].newer, self.entries[position].older);
        match newer {
            Some(newer) => self.entries[newer].older = older,
            None => self.newest = older,
        }
        match older {
            Some(older) => self.entries[older].newer = newer,
            None => self.oldest = newer,
        }
        self.entries[position].newer = None;
        self.entries[position].older = None;
    }

    /// Puts the unlinked entry at `position` at the newest end of the recency list.
    fn push_newest(&mut self, position: usize) {
        self.entries[position].moved_at = self.insertions;
        self.entries[position].older = self.newest;
        self.entries[position].newer = None;
        match self.newest {
            Some(newest) => self.entries[newest].newer = Some(position),
            None => self.oldest = Some(position),
        }
        self.newest = Some(position);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Arc<str> {
        Arc::from(text)
    }

    /// The keys from least to most recently used, checking the links both ways.
    fn order(lru: &Lru<str, u32>) -> Vec<String> {
        let mut keys = Vec::new();
        let mut previous = None;
        let mut at = lru.oldest;
        while let Some(position) = at {
            let entry = &lru.entries[position];
            assert_eq!(entry.older, previous, "links agree both ways");
            assert_eq!(
                lru.index[&*entry.key], position,
                "the index points at the entry"
            );
            keys.push(entry.key.to_string());
            previous = Some(position);
            at = entry.newer;
        }
        assert_eq!(lru.newest, previous);
        assert_eq!(keys.len(), lru.len(), "every entry is on the list");
        keys
    }

    #[test]
    fn lookups_make_an_entry_the_newest_and_eviction_takes_the_oldest() {
        let mut lru = Lru::new(30);
        for name in ["a", "b", "c"] {
            lru.insert(key(name), 1, 10);
        }
        assert_eq!(order(&lru), ["a", "b", "c"]);
        assert_eq!(lru.get("a"), Some(&1));
        assert_eq!(order(&lru), ["b", "c", "a"]);
        lru.insert(key("d"), 4, 10);
        assert_eq!(order(&lru), ["c", "a", "d"]);
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.bytes(), 30);

        // A large entry evicts as many as it needs.
        lru.insert(key("e"), 5, 25);
        assert_eq!(order(&lru), ["e"]);
        assert_eq!(lru.bytes(), 25);
    }

    #[test]
    fn inserting_a_key_again_replaces_its_value_and_cost() {
        let mut lru = Lru::new(100);
        lru.insert(key("a"), 1, 10);
        lru.insert(key("b"), 2, 10);
        lru.insert(key("a"), 3, 40);
        assert_eq!(order(&lru), ["b", "a"]);
        assert_eq!(lru.get("a"), Some(&3));
        assert_eq!(lru.bytes(), 50);
    }

    #[test]
    fn removal_keeps_the_list_and_the_index_consistent() {
        let mut lru = Lru::new(1000);
        for (n, name) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            lru.insert(key(name), n as u32, 10);
        }
        assert_eq!(lru.remove("b"), Some(1));
        assert_eq!(order(&lru), ["a", "c", "d", "e"]);
        assert_eq!(lru.remove("a"), Some(0));
        assert_eq!(lru.remove("e"), Some(4));
        assert_eq!(lru.remove("e"), None);
        assert_eq!(order(&lru), ["c", "d"]);
        assert_eq!(lru.bytes(), 20);
        lru.get("c");
        assert_eq!(order(&lru), ["d", "c"]);
    }

    #[test]
    fn entries_larger_than_the_bound_are_not_stored() {
        let mut lru = Lru::new(10);
        lru.insert(key("a"), 1, 5);
        lru.insert(key("big"), 2, 11);
        assert_eq!(order(&lru), ["a"]);
        let mut nothing: Lru<str, u32> = Lru::new(0);
        nothing.insert(key("a"), 1, 1);
        assert_eq!(nothing.len(), 0);
    }

    #[test]
    fn lazy_lookups_move_an_entry_once_between_insertions() {
        let mut lru = Lru::new(100);
        for name in ["a", "b", "c"] {
            lru.insert(key(name), 0, 10);
        }
        lru.get_lazily("a");
        assert_eq!(order(&lru), ["b", "c", "a"]);
        // `b` has not moved since the last insertion; `a` has, and stays.
        lru.get_lazily("b");
        lru.get_lazily("a");
        assert_eq!(order(&lru), ["c", "a", "b"]);
        // `c` was the last inserted, already newest then: it keeps its place until
        // an insertion.
        lru.get_lazily("c");
        assert_eq!(order(&lru), ["c", "a", "b"]);
        lru.insert(key("d"), 0, 10);
        lru.get_lazily("c");
        assert_eq!(order(&lru), ["a", "b", "d", "c"]);
        // Eviction takes what was not used since the last insertion first.
        lru.insert(key("e"), 0, 60);
        lru.insert(key("f"), 0, 10);
        assert_eq!(order(&lru), ["b", "d", "c", "e", "f"]);
    }

    #[test]
    fn a_random_workload_never_breaks_the_bound_or_the_links() {
        // A fixed SplitMix64 sequence: deterministic, no dependency.
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut lru = Lru::new(200);
        for _ in 0..5_000 {
            let name = format!("k{}", next() % 40);
            match next() % 4 {
                0 => {
                    lru.get(name.as_str());
                }
                3 => {
                    lru.get_lazily(name.as_str());
                }
                1 => lru.insert(key(&name), 0, (next() % 60) as usize),
                _ => {
                    lru.remove(name.as_str());
                }
            }
            assert!(lru.bytes() <= 200);
            let costs: usize = lru.entries.iter().map(|entry| entry.cost).sum();
            assert_eq!(costs, lru.bytes());
            order(&lru);
        }
    }
}
