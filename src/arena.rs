//! Byte strings end to end in one buffer (`Arena`) and a hash index over them by content
//! (`ArenaIndex`): the compact sets and maps of ids and tokens that reading a large seed
//! (`seed`) and importing it (`store::import`) keep in memory, without a heap allocation
//! or a second copy per item.

/// The multiply-rotate hash rustc uses (FxHash): a few instructions per word, against
/// SipHash's dozens, for the millions of lookups of reading and importing a large seed
/// and of the store's read cache. It is not keyed: use it only where no client picks the
/// keys that go in (a seed's ids and tokens), or seed it (`SeededFx`).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        for &byte in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SEED);
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.write(&[byte]);
    }

    fn finish(&self) -> u64 {
        // Mix the top bits, FxHash's best, into the low ones (MurmurHash3's finalizer):
        // tables index by the low bits.
        let mut hash = self.0;
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^ (hash >> 33)
    }
}

/// Builds `FxHasher`s that start from a random state drawn once per builder, for maps on
/// a request's path (the store's read cache). What goes into those is store keys, but a
/// future writer will pick its ids: with a secret start, which keys collide depends on
/// it, so they cannot be made to collide in advance. (That is weaker than SipHash's
/// keyed guarantee, and costs a fraction of it.)
#[derive(Clone)]
pub(crate) struct SeededFx(u64);

impl Default for SeededFx {
    fn default() -> SeededFx {
        use std::hash::BuildHasher;
        SeededFx(std::collections::hash_map::RandomState::new().hash_one(0u64))
    }
}

impl std::hash::BuildHasher for SeededFx {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

/// Items `Arena::gather` locates before it copies any: enough for their cache misses to
/// overlap. Also the batch the import's tree writers take entries in.
pub(crate) const GATHER: usize = 64;

/// Byte strings end to end, with their ends: ids and sort keys without a heap
/// allocation each.
#[derive(Default)]
pub(crate) struct Arena {
    bytes: Vec<u8>,
    /// 4 bytes an item: a seed's ids, sort keys and tokens together stay far below 4 GiB.
    ends: Vec<u32>,
    /// Set when an item did not fit below 4 GiB (it was stored empty): its owner must
    /// refuse the data rather than misread it.
    pub(crate) full: bool,
}

impl Arena {
    pub(crate) fn push(&mut self, item: &[u8]) -> u32 {
        match u32::try_from(self.bytes.len() + item.len()) {
            Ok(end) => {
                self.bytes.extend_from_slice(item);
                self.ends.push(end);
            }
            Err(_) => {
                self.full = true;
                self.ends.push(self.bytes.len() as u32);
            }
        }
        (self.ends.len() - 1) as u32
    }

    pub(crate) fn get(&self, index: u32) -> &[u8] {
        self.at(self.bounds(index))
    }

    /// Where item `index` lies in the arena's bytes: reads only its ends.
    pub(crate) fn bounds(&self, index: u32) -> std::ops::Range<usize> {
        let index = index as usize;
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        start as usize..self.ends[index] as usize
    }

    /// The bytes at `bounds` (from `bounds`).
    pub(crate) fn at(&self, bounds: std::ops::Range<usize>) -> &[u8] {
        &self.bytes[bounds]
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The items at `order`'s indexes, in that order.
    pub(crate) fn reordered(&self, order: &[u32]) -> Arena {
        let mut reordered = Arena {
            bytes: Vec::with_capacity(self.bytes.len()),
            ends: Vec::with_capacity(order.len()),
            full: self.full,
        };
        reordered.gather(order.iter().map(|&index| (self, index)));
        reordered
    }

    /// Forgets every item, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.full = false;
    }

    /// Appends the items `items` names (an arena and an index each), in that order.
    /// Taken in an order other than their arenas', nearly every item is a cache miss:
    /// finding `GATHER` items' bounds first and then copying them lets the processor
    /// wait on those misses together rather than one after another.
    pub(crate) fn gather<'a>(&mut self, items: impl IntoIterator<Item = (&'a Arena, u32)>) {
        let mut items = items.into_iter();
        let mut bounds = Vec::with_capacity(GATHER);
        loop {
            bounds.extend(
                items
                    .by_ref()
                    .take(GATHER)
                    .map(|(arena, index)| (arena, arena.bounds(index))),
            );
            if bounds.is_empty() {
                return;
            }
            for (arena, item) in bounds.drain(..) {
                self.push(arena.at(item));
            }
        }
    }

    /// Indexes in the byte order of their items.
    ///
    /// Sorted as numbers, not by their bytes: each item's first 4 bytes after the prefix
    /// all items share (a sort key's leading zero, an id's `incident-`) above its index,
    /// in an array that sorts in place. Only items whose bytes tie that far are then
    /// compared byte by byte, one run of them at a time, while the run's items are in the
    /// cache. Comparing the items themselves throughout made two cache misses of nearly
    /// every comparison and was most of a million-incident import's sorting time; and 8
    /// bytes a number keep the sort within the memory that import's peak allows.
    pub(crate) fn sorted(&self) -> Vec<u32> {
        let shared = self.shared_prefix_len();
        let suffix = |index: u32| &self.get(index)[shared..];
        let mut keyed: Vec<u64> = (0..self.len() as u32)
            .map(|index| u64::from(leading_word(suffix(index))) << 32 | u64::from(index))
            .collect();
        keyed.sort_unstable();
        let mut order: Vec<u32> = Vec::with_capacity(keyed.len());
        for run in keyed.chunk_by(|a, b| a >> 32 == b >> 32) {
            let start = order.len();
            order.extend(run.iter().map(|&keyed| keyed as u32));
            if run.len() > 1 {
                order[start..].sort_unstable_by(|a, b| suffix(*a).cmp(suffix(*b)));
            }
        }
        order
    }

    /// The length of the longest prefix every item starts with (0 for no items).
    fn shared_prefix_len(&self) -> usize {
        if self.len() == 0 {
            return 0;
        }
        let first = self.get(0);
        let mut shared = first.len();
        for index in 1..self.len() as u32 {
            shared = common_prefix_len(&first[..shared], self.get(index));
            if shared == 0 {
                break;
            }
        }
        shared
    }
}

/// The length of the longest prefix `a` and `b` share, compared 8 bytes at a time: the
/// import asks it of every key it writes.
pub(crate) fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut shared = 0;
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let word = |bytes: &[u8]| {
            u64::from_le_bytes(bytes.try_into().expect("chunks_exact yields 8 bytes"))
        };
        let difference = word(a) ^ word(b);
        if difference != 0 {
            // Little-endian: the first differing byte holds the lowest set bit.
            return shared + (difference.trailing_zeros() / 8) as usize;
        }
        shared += 8;
    }
    shared
        + a[shared..]
            .iter()
            .zip(&b[shared..])
            .take_while(|(a, b)| a == b)
            .count()
}

/// `bytes`' first 4 bytes as a big-endian number, zero-padded: numbers that differ order
/// as the bytes do (a shorter item, padded with zeros, is below any longer item it
/// begins), and equal numbers leave the order to the bytes after them.
fn leading_word(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    let len = bytes.len().min(4);
    word[..len].copy_from_slice(&bytes[..len]);
    u32::from_be_bytes(word)
}

/// Keys `ArenaIndex::warm` reads ahead at a time: about as many cache misses as a core
/// keeps in flight.
const WARM: usize = 16;

/// A hash index over an arena's items, by content: finds an item's number without a
/// second copy of its bytes (a `HashMap<Box<str>, u32>` costs a heap allocation and a
/// 24-byte slot per item; this, 8 bytes: the number and 32 bits of the hash, so a probe
/// rarely reads the arena). Open addressing, linear probing, at most half full. The slot
/// an item starts from is taken from the 32 bits of its hash that its slot holds, so
/// growing moves the slots without reading an item or hashing it again.
#[derive(Default)]
pub(crate) struct ArenaIndex {
    /// `hash >> 32 << 32 | (number + 1)`, or 0 for an empty slot; the length is a power
    /// of two (or zero).
    slots: Vec<u64>,
    len: usize,
}

impl ArenaIndex {
    /// The hash the index files `bytes` under: `find_hashed` and `find_or_push_hashed`
    /// take it computed elsewhere (on another thread, or once for `warm` and the lookup).
    pub(crate) fn hash(bytes: &[u8]) -> u64 {
        let mut hasher = FxHasher::default();
        std::hash::Hasher::write(&mut hasher, bytes);
        std::hash::Hasher::finish(&hasher)
    }

    /// The slot an item whose hash is `hash` (or a stored slot, which keeps the same bits)
    /// starts from.
    fn home(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.slots.len() - 1)
    }

    /// The slot holding `key` (of hash `hash`), or the empty slot where it would go.
    fn slot(&self, arena: &Arena, key: &[u8], hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let tag = hash >> 32 << 32;
        let mut slot = self.home(hash);
        loop {
            match self.slots[slot] {
                0 => return slot,
                stored if stored >> 32 << 32 == tag && arena.get(stored as u32 - 1) == key => {
                    return slot
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn find(&self, arena: &Arena, key: &[u8]) -> Option<u32> {
        self.find_hashed(arena, key, Self::hash(key))
    }

    /// `find`, with `key`'s `hash` given.
    pub(crate) fn find_hashed(&self, arena: &Arena, key: &[u8], hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        match self.slots[self.slot(arena, key, hash)] {
            0 => None,
            stored => Some(stored as u32 - 1),
        }
    }

    /// Indexes item `number` of `arena`; an equal item indexed before is replaced.
    pub(crate) fn insert(&mut self, arena: &Arena, number: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = arena.get(number);
        let hash = Self::hash(key);
        let slot = self.slot(arena, key, hash);
        if self.slots[slot] == 0 {
            self.len += 1;
        }
        self.slots[slot] = hash >> 32 << 32 | (u64::from(number) + 1);
    }

    /// The number of the item equal to `key`, or else `key` pushed onto `arena` and
    /// indexed: `(number, whether it was pushed)`, hashing and probing once. An item that
    /// did not fit (`arena.full`) is pushed but not indexed.
    pub(crate) fn find_or_push(&mut self, arena: &mut Arena, key: &[u8]) -> (u32, bool) {
        self.find_or_push_hashed(arena, key, Self::hash(key))
    }

    /// `find_or_push`, with `key`'s `hash` given.
    pub(crate) fn find_or_push_hashed(
        &mut self,
        arena: &mut Arena,
        key: &[u8],
        hash: u64,
    ) -> (u32, bool) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let slot = self.slot(arena, key, hash);
        match self.slots[slot] {
            0 => {
                let number = arena.push(key);
                if !arena.full {
                    self.slots[slot] = hash >> 32 << 32 | (u64::from(number) + 1);
                    self.len += 1;
                }
                (number, true)
            }
            stored => (stored as u32 - 1, false),
        }
    }

    /// Reads what lookups of the keys hashed `hashes` read first, and drops it: their
    /// home slots, then the items in those slots whose hash matches. In a large index
    /// nearly every one of those reads is a cache miss, and a lookup waits for each of
    /// its own in turn; here no read waits for another key's, so the processor has the
    /// misses of many keys in flight together, and the lookups that follow find their
    /// memory in the cache. Only the speed of later lookups depends on it.
    pub(crate) fn warm(&self, arena: &Arena, hashes: &[u64]) {
        if self.slots.is_empty() {
            return;
        }
        for hashes in hashes.chunks(WARM) {
            let mut stored = [0u64; WARM];
            for (stored, &hash) in stored.iter_mut().zip(hashes) {
                *stored = self.slots[self.home(hash)];
            }
            let mut items = [(0, 0); WARM];
            for ((item, &stored), &hash) in items.iter_mut().zip(&stored).zip(hashes) {
                if stored != 0 && stored >> 32 == hash >> 32 {
                    let bounds = arena.bounds(stored as u32 - 1);
                    *item = (bounds.start, bounds.end);
                }
            }
            for &(start, end) in &items[..hashes.len()] {
                std::hint::black_box(arena.at(start..end).first());
            }
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        let mask = size - 1;
        for stored in old.into_iter().filter(|stored| *stored != 0) {
            let mut slot = (stored >> 32) as usize & mask;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = stored;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_prefix_is_the_bytes_both_start_with() {
        let base: Vec<u8> = (0..40u8).collect();
        for len in 0..=base.len() {
            for differ in 0..len {
                let mut other = base[..len].to_vec();
                other[differ] ^= 0x80;
                assert_eq!(common_prefix_len(&base[..len], &other), differ);
            }
            // One a prefix of the other, either way round.
            assert_eq!(common_prefix_len(&base[..len], &base), len);
            assert_eq!(common_prefix_len(&base, &base[..len]), len);
        }
    }

    #[test]
    fn the_arena_index_finds_every_item_and_no_other() {
        let mut arena = Arena::default();
        let mut index = ArenaIndex::default();
        assert_eq!(index.find(&arena, b"x"), None);
        for n in 0..10_000u32 {
            let number = arena.push(format!("id-{n}").as_bytes());
            index.insert(&arena, number);
        }
        for n in 0..10_000u32 {
            assert_eq!(index.find(&arena, format!("id-{n}").as_bytes()), Some(n));
        }
        assert_eq!(index.find(&arena, b"id-10000"), None);
        assert_eq!(index.find(&arena, b""), None);
        // An equal item indexed again replaces the first, as a map's insert does.
        let again = arena.push(b"id-7");
        index.insert(&arena, again);
        assert_eq!(index.find(&arena, b"id-7"), Some(again));
        assert_eq!(index.len, 10_000);
    }

    #[test]
    fn warming_reads_ahead_without_changing_what_lookups_find() {
        let mut arena = Arena::default();
        let mut index = ArenaIndex::default();
        // An empty index has no slots to read.
        index.warm(&arena, &[ArenaIndex::hash(b"id-1")]);
        for n in 0..1_000u32 {
            index.find_or_push(&mut arena, format!("id-{n}").as_bytes());
        }
        // Items there and not, more than one group of them, and a key of no bytes.
        let keys: Vec<String> = (900..1_100u32).map(|n| format!("id-{n}")).collect();
        let mut hashes: Vec<u64> = keys
            .iter()
            .map(|key| ArenaIndex::hash(key.as_bytes()))
            .collect();
        hashes.push(ArenaIndex::hash(b""));
        index.warm(&arena, &hashes);
        for (n, key) in (900..1_100u32).zip(&keys) {
            let hash = ArenaIndex::hash(key.as_bytes());
            let expected = (n < 1_000).then_some(n);
            assert_eq!(index.find_hashed(&arena, key.as_bytes(), hash), expected);
        }
        assert_eq!(
            index.find_or_push_hashed(&mut arena, b"id-1100", ArenaIndex::hash(b"id-1100")),
            (1_000, true)
        );
        assert_eq!(index.find(&arena, b"id-1100"), Some(1_000));
    }

    #[test]
    fn find_or_push_adds_each_item_once() {
        let mut arena = Arena::default();
        let mut index = ArenaIndex::default();
        for n in 0..5_000u32 {
            assert_eq!(
                index.find_or_push(&mut arena, format!("id-{n}").as_bytes()),
                (n, true)
            );
        }
        for n in (0..5_000u32).rev() {
            let key = format!("id-{n}");
            assert_eq!(index.find_or_push(&mut arena, key.as_bytes()), (n, false));
            assert_eq!(index.find(&arena, key.as_bytes()), Some(n));
        }
        assert_eq!((arena.len(), index.len), (5_000, 5_000));
    }

    /// Items that share prefixes, end where others go on with zero bytes, repeat, and
    /// tie in their first 4 bytes after the shared prefix, in a scrambled order.
    fn awkward_items(shared: &[u8]) -> Vec<Vec<u8>> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..3_000)
            .map(|_| {
                let mut item = shared.to_vec();
                let len = (next() % 20) as usize;
                // Few distinct bytes, zero among them, so items tie often.
                item.extend((0..len).map(|_| [0u8, 1, b'a', 0xff][(next() % 4) as usize]));
                item
            })
            .collect()
    }

    #[test]
    fn sorted_orders_items_as_their_bytes_do() {
        for shared in [&b""[..], b"incident-", b"\0"] {
            let items = awkward_items(shared);
            let mut arena = Arena::default();
            for item in &items {
                arena.push(item);
            }
            let order = arena.sorted();
            let mut expected = items.clone();
            expected.sort();
            let got: Vec<&[u8]> = order.iter().map(|&index| arena.get(index)).collect();
            assert_eq!(got, expected, "shared prefix {shared:?}");
            let mut indexes = order.clone();
            indexes.sort_unstable();
            assert!(indexes.iter().copied().eq(0..items.len() as u32));
            let reordered = arena.reordered(&order);
            assert!((0..reordered.len() as u32)
                .map(|index| reordered.get(index))
                .eq(got));
        }
        assert_eq!(Arena::default().sorted(), Vec::<u32>::new());
    }
}
