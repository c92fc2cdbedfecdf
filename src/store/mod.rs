//! The store: records in sled, read at query time through typed gets and key-ordered scans.
//!
//! One tree per record kind keyed by id, one order tree per kind, one index tree per link
//! direction, search postings and list counts. Knows nothing of the seed's JSON, GraphQL
//! or HTTP; only `codec` names bincode.

mod cache;
pub mod codec;
mod dated;
mod import;
pub mod keys;
mod manifest;
mod matches;
pub mod packed;
pub mod search;
mod verify;

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{
    Agreement, Country, Facility, Incident, Organization, Person, RecordKind, References,
    SourceDocument,
};
pub use cache::ReadCacheUsage;
use cache::{Cached, ReadCache};
pub use codec::CodecError;
pub use dated::DateRange;
pub use import::{ImportSummary, Importer, Prepared, Sorted};
pub use keys::Link;
use keys::SortKey;
pub use manifest::Manifest;
pub use matches::SearchMatches;
use packed::MAX_CHUNK_ENTRIES;
use search::Searchable;
pub use verify::LogicalSize;

/// The layout of trees and keys plus the codec's value version. A store written in another
/// format is refused at start (see `StoreState::Ready`), never misread.
/// Version 2 packs every tree but `meta`, `counts` and `country-codes` into chunks
/// (`packed`). Version 3 leaves the values of the order and link trees empty: their keys
/// end with the id they held (`keys::id_in_sort_key`). Version 4 adds field notes and
/// statements to every record, links and casualties by side to incidents, a certainty to
/// every quantity, and the source documents (`META_DOCUMENTS`).
pub const FORMAT_VERSION: u32 = 4;

/// The default size of sled's page cache. sled's own default (1 GiB) dwarfs this dataset.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The default bound on decoded records and short lists held between reads (`cache`).
pub const DEFAULT_READ_CACHE_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data directory {path} is in use by another process (sled holds a lock on it)")]
    Locked { path: PathBuf },
    #[error("cannot open the store in {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("the store in {path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("the store manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("store operation on tree `{tree}` failed: {source}")]
    Sled { tree: String, source: sled::Error },
    #[error("corrupt value in tree `{tree}` under key {key:?}: {source}")]
    Corrupt {
        tree: String,
        key: String,
        source: CodecError,
    },
    #[error("damaged chunk under key {key:?} in tree `{tree}`: {reason}")]
    Chunk {
        tree: String,
        key: String,
        reason: &'static str,
    },
    #[error("the import's spool (in {path}): {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode record `{key}` for tree `{tree}`: {source}")]
    Encode {
        tree: String,
        key: String,
        source: CodecError,
    },
    #[error("the import cannot hold more than {limit} {what}")]
    TooLarge { what: String, limit: u64 },
    #[error("index tree `{tree}` names `{id}`, which is not in `{target}`")]
    Dangling {
        tree: String,
        id: String,
        target: String,
    },
}

/// A kind of record the store holds.
pub trait Record:
    Serialize + DeserializeOwned + SortKey + Searchable + References + Send + Sync + 'static
{
    const KIND: RecordKind;
    fn id(&self) -> &str;
}

macro_rules! record {
    ($type:ty, $kind:ident) => {
        impl Record for $type {
            const KIND: RecordKind = RecordKind::$kind;
            fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

record!(Country, Country);
record!(Organization, Organization);
record!(Person, Person);
record!(Agreement, Agreement);
record!(Facility, Facility);
record!(Incident, Incident);

/// What a store holds, as found at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreState {
    /// Nothing has been imported.
    Empty,
    /// An import started but never finished (the process died): records may be partial.
    Incomplete,
    /// An import finished.
    Ready { format: u32, seed_hash: String },
}

/// A list of records in its canonical order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum List {
    /// Every record of a kind.
    All(RecordKind),
    /// The records linked to an owner, by the owner's id.
    Linked(Link, String),
}

impl List {
    /// The kind of record the list holds.
    pub fn kind(&self) -> RecordKind {
        match self {
            List::All(kind) => *kind,
            List::Linked(link, _) => link.ends().1,
        }
    }
}

/// One entry of a scanned list: the record's sort key within the list, which is also its
/// cursor, and its id; for a list the read cache holds, the record itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub kind: RecordKind,
    pub id: String,
    /// The decoded record `id` names, when the entry comes from a list the read cache
    /// holds (read with it, under the same store generation), so that reading a page of
    /// it looks nothing up per record: on a nested page those lookups were a quarter of
    /// the CPU time.
    pub record: Loaded,
}

impl Entry {
    /// Whether the entry holds its record (see `record`).
    pub fn holds_record(&self) -> bool {
        self.record.0.is_some()
    }
}

/// A record held with its list entry (see `Entry::record`). It is what the entry's id
/// names, so it takes no part in comparing entries.
#[derive(Clone, Default)]
pub struct Loaded(Option<Arc<dyn Any + Send + Sync>>);

impl PartialEq for Loaded {
    fn eq(&self, _: &Loaded) -> bool {
        true
    }
}

impl Eq for Loaded {}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(if self.0.is_some() { "Loaded" } else { "-" })
    }
}

/// What a list is to the read cache: every entry of a list no longer than a chunk, or the
/// length of a longer one (which is always scanned in sled).
enum ListShape {
    Short(Arc<[Entry]>),
    Long(u64),
}

/// Bounds on the sort keys of a list's entries, in key order.
#[derive(Clone, Copy, Debug)]
pub struct KeyRange<'a> {
    pub lower: Bound<&'a [u8]>,
    pub upper: Bound<&'a [u8]>,
}

impl<'a> KeyRange<'a> {
    /// Every key.
    pub const ALL: KeyRange<'static> = KeyRange {
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
    };

    /// This range, cut to keys from `start` on.
    pub fn from_key(self, start: &'a [u8]) -> KeyRange<'a> {
        let lower = match self.lower {
            Bound::Included(key) | Bound::Excluded(key) if key >= start => self.lower,
            _ => Bound::Included(start),
        };
        KeyRange {
            lower,
            upper: self.upper,
        }
    }

    /// Whether `key` lies within this range.
    pub fn contains(&self, key: &[u8]) -> bool {
        let above_lower = match self.lower {
            Bound::Included(lower) => key >= lower,
            Bound::Excluded(lower) => key > lower,
            Bound::Unbounded => true,
        };
        let below_upper = match self.upper {
            Bound::Included(upper) => key <= upper,
            Bound::Excluded(upper) => key < upper,
            Bound::Unbounded => true,
        };
        above_lower && below_upper
    }

    /// This range, cut to keys before `end`.
    pub fn below(self, end: &'a [u8]) -> KeyRange<'a> {
        let upper = match self.upper {
            Bound::Included(key) | Bound::Excluded(key) if key < end => self.upper,
            _ => Bound::Excluded(end),
        };
        KeyRange {
            lower: self.lower,
            upper,
        }
    }
}

/// The entries of a list that `Store::scan` yields, in the order asked for.
pub struct Scan<'a>(Scanning<'a>);

enum Scanning<'a> {
    /// From a list held in the read cache: `entries[next..end]`.
    Held {
        entries: Arc<[Entry]>,
        next: usize,
        end: usize,
        reverse: bool,
    },
    /// Read from sled as the iterator is pulled.
    Stored(Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>),
    /// The list could not be read: yields this error, then ends.
    Failed(Option<StoreError>),
}

impl Scan<'_> {
    /// The entries of a held list within `range`.
    fn held(entries: Arc<[Entry]>, range: KeyRange<'_>, reverse: bool) -> Scan<'static> {
        let position = |bound: Bound<&[u8]>, at_end: bool| match bound {
            Bound::Included(key) if at_end => entries.partition_point(|entry| *entry.key <= *key),
            Bound::Excluded(key) if !at_end => entries.partition_point(|entry| *entry.key <= *key),
            Bound::Included(key) | Bound::Excluded(key) => {
                entries.partition_point(|entry| *entry.key < *key)
            }
            Bound::Unbounded if at_end => entries.len(),
            Bound::Unbounded => 0,
        };
        let next = position(range.lower, false);
        let end = position(range.upper, true).max(next);
        Scan(Scanning::Held {
            entries,
            next,
            end,
            reverse,
        })
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Scanning::Held {
                entries,
                next,
                end,
                reverse,
            } => {
                if next >= end {
                    return None;
                }
                let at = if *reverse {
                    *end -= 1;
                    *end
                } else {
                    *next += 1;
                    *next - 1
                };
                Some(Ok(entries[at].clone()))
            }
            Scanning::Stored(entries) => entries.next(),
            Scanning::Failed(error) => error.take().map(Err),
        }
    }
}

/// A write in progress: bumps the store's generation when it begins and when it ends.
struct Changing<'a>(&'a Store);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.inner.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A cheap-to-clone handle on an open store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    path: PathBuf,
    records: HashMap<RecordKind, sled::Tree>,
    orders: HashMap<RecordKind, sled::Tree>,
    links: HashMap<Link, sled::Tree>,
    meta: sled::Tree,
    counts: sled::Tree,
    country_codes: sled::Tree,
    search: sled::Tree,
    /// Bumped before and after every write to the store; see `Store::generation`.
    generation: AtomicU64,
    /// Decoded records and short lists, valid for the generation they were read under.
    cache: ReadCache,
}

const META_FORMAT: &[u8] = b"format";
const META_SEED_HASH: &[u8] = b"seed-hash";
const META_RECORDS: &[u8] = b"records";
const META_INDEX_ENTRIES: &[u8] = b"index-entries";
const META_SEED_FINGERPRINT: &[u8] = b"seed-fingerprint";
/// The source documents the records cite, as one encoded list (`codec`): a seed has a
/// handful.
const META_DOCUMENTS: &[u8] = b"source-documents";

impl Store {
    /// Opens (creating if needed) the store in `dir`, with sled's page cache of
    /// `cache_bytes` and the default read cache. Fails clearly if another process has it
    /// open.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        Store::open_with_read_cache(dir, cache_bytes, DEFAULT_READ_CACHE_BYTES)
    }

    /// `open`, holding at most about `read_cache_bytes` of decoded records and short
    /// lists between reads (0: none; every read goes to sled and is decoded).
    #[tracing::instrument]
    pub fn open_with_read_cache(
        dir: &Path,
        cache_bytes: u64,
        read_cache_bytes: usize,
    ) -> Result<Store, StoreError> {
        let db = open_catching_panics(dir, cache_bytes)?.map_err(|source| match &source {
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                StoreError::Locked {
                    path: dir.to_owned(),
                }
            }
            _ => StoreError::Open {
                path: dir.to_owned(),
                source,
            },
        })?;
        let open = |name: &str| {
            db.open_tree(name).map_err(|source| StoreError::Open {
                path: dir.to_owned(),
                source,
            })
        };
        let mut records = HashMap::new();
        let mut orders = HashMap::new();
        for kind in RecordKind::ALL {
            records.insert(kind, open(keys::record_tree(kind))?);
            orders.insert(kind, open(keys::order_tree(kind))?);
        }
        let mut links = HashMap::new();
        for link in Link::ALL {
            links.insert(link, open(link.tree())?);
        }
        let inner = Inner {
            meta: open(keys::META_TREE)?,
            counts: open(keys::COUNTS_TREE)?,
            country_codes: open(keys::COUNTRY_CODES_TREE)?,
            search: open(keys::SEARCH_TREE)?,
            records,
            orders,
            links,
            path: dir.to_owned(),
            db,
            generation: AtomicU64::new(0),
            cache: ReadCache::new(read_cache_bytes),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Fails with `Locked` when another process has the store in `dir` open, without
    /// opening it: sled rewrites some of its files merely by opening a store, and a start
    /// that may yet be refused (its seed read after this) must leave them as they were.
    /// sled locks its `db` file with `flock` (through fs2) on Linux and macOS; a
    /// directory without one holds no store to lock. The real test stays `open`'s: this
    /// one only spares reading a whole seed to learn the directory is in use.
    pub fn check_unlocked(dir: &Path) -> Result<(), StoreError> {
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        {
            use std::os::fd::AsRawFd;
            let Ok(db) = std::fs::File::open(dir.join("db")) else {
                return Ok(());
            };
            // SAFETY: flock takes a descriptor `db` keeps open and plain flags. The lock,
            // if it was granted, goes with `db`.
            let refused =
                unsafe { libc::flock(db.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0;
            if refused && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock {
                return Err(StoreError::Locked {
                    path: dir.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A number that changes whenever the store's contents may have changed: every write
    /// bumps it before its first change and again after its last. Anything derived from
    /// the store (a cached answer) is valid only while the generation it was computed
    /// under, read before and after computing it, is still current.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// What the read cache holds and how often it answered.
    pub fn read_cache_usage(&self) -> ReadCacheUsage {
        self.inner.cache.usage()
    }

    /// Marks the store as changing until the guard is dropped, however the write ends
    /// (finished, failed or unwinding); see `generation`.
    fn changing(&self) -> Changing<'_> {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        Changing(self)
    }

    /// Whether the store holds a finished import, and of which seed and format.
    pub fn state(&self) -> Result<StoreState, StoreError> {
        let meta = &self.inner.meta;
        let read = |key: &[u8]| {
            meta.get(key)
                .map_err(|source| sled_error(keys::META_TREE, source))
        };
        if let (Some(format), Some(hash)) = (read(META_FORMAT)?, read(META_SEED_HASH)?) {
            let format = <[u8; 4]>::try_from(format.as_ref()).map_or(0, u32::from_be_bytes);
            return Ok(StoreState::Ready {
                format,
                seed_hash: String::from_utf8_lossy(&hash).into_owned(),
            });
        }
        let holds_anything = self.inner.records.values().any(|tree| !tree.is_empty())
            || !self.inner.counts.is_empty()
            || !meta.is_empty();
        Ok(if holds_anything {
            StoreState::Incomplete
        } else {
            StoreState::Empty
        })
    }

    /// The record of kind `R` with this id, if any: from the read cache, else read and
    /// decoded (and then cached).
    pub fn get<R: Record>(&self, id: &str) -> Result<Option<Arc<R>>, StoreError> {
        let tree_name = keys::record_tree(R::KIND);
        let generation = self.generation();
        let key = cache::record_key(tree_name, id);
        if let Some(Cached::Record(record)) = self.inner.cache.get(&key, generation) {
            if let Ok(record) = record.downcast::<R>() {
                return Ok(Some(record));
            }
        }
        let tree = &self.inner.records[&R::KIND];
        let Some(bytes) =
            packed::get(tree, id.as_bytes()).map_err(|source| packed_error(tree_name, source))?
        else {
            return Ok(None);
        };
        let record: Arc<R> =
            Arc::new(codec::decode(&bytes).map_err(|source| StoreError::Corrupt {
                tree: tree_name.to_owned(),
                key: id.to_owned(),
                source,
            })?);
        // Decoded strings and vectors take about twice their encoded bytes.
        let cost = bytes.len() * 2 + std::mem::size_of::<R>();
        let cached = Cached::Record(record.clone());
        self.inner.cache.insert(&key, cached, generation, cost);
        Ok(Some(record))
    }

    /// Like `get`, for an id an index named: its absence means the store is inconsistent.
    pub fn get_listed<R: Record>(&self, entry: &Entry) -> Result<Arc<R>, StoreError> {
        if let Some(record) = &entry.record.0 {
            if let Ok(record) = record.clone().downcast::<R>() {
                return Ok(record);
            }
        }
        self.get(&entry.id)?.ok_or_else(|| StoreError::Dangling {
            tree: "an index".to_owned(),
            id: entry.id.clone(),
            target: keys::record_tree(R::KIND).to_owned(),
        })
    }

    /// The country with this ISO 3166-1 alpha-2 code, in any case.
    pub fn country_by_code(&self, code: &str) -> Result<Option<Arc<Country>>, StoreError> {
        let id = self
            .inner
            .country_codes
            .get(keys::country_code_key(code))
            .map_err(|source| sled_error(keys::COUNTRY_CODES_TREE, source))?;
        match id {
            Some(id) => self.get(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// The entries of a list within `range`, in key order or reversed. Reads keys only:
    /// a list no longer than a chunk from the read cache (reading all of it into the
    /// cache on a miss), a longer one from sled.
    pub fn scan<'a>(&'a self, list: &List, range: KeyRange<'_>, reverse: bool) -> Scan<'a> {
        match self.short_list(list) {
            Ok(Some(entries)) => Scan::held(entries, range, reverse),
            Ok(None) => Scan(Scanning::Stored(Box::new(
                self.scan_stored(list, range, reverse),
            ))),
            Err(error) => Scan(Scanning::Failed(Some(error))),
        }
    }

    /// Every entry of `list` if it is no longer than a chunk; `None` for a longer one.
    /// Never reads with the read cache off (a scan then goes to sled anyway).
    fn short_list(&self, list: &List) -> Result<Option<Arc<[Entry]>>, StoreError> {
        if self.inner.cache.is_off() {
            return Ok(None);
        }
        Ok(match self.list_shape(list)? {
            ListShape::Short(entries) => Some(entries),
            ListShape::Long(_) => None,
        })
    }

    /// `list`'s shape (see `held_shape`).
    fn list_shape(&self, list: &List) -> Result<ListShape, StoreError> {
        self.held_shape(
            list_cache_key(list, cache::list_key),
            || list_count_key(list),
            || self.scan_stored(list, KeyRange::ALL, false),
            true,
        )
    }

    /// The record `entry` names, decoded (from the read cache or sled), to hold with it.
    fn load(&self, entry: &Entry) -> Result<Loaded, StoreError> {
        fn any<R: Record>(record: Option<Arc<R>>) -> Option<Arc<dyn Any + Send + Sync>> {
            record.map(|record| record as Arc<dyn Any + Send + Sync>)
        }
        let id = &entry.id;
        Ok(Loaded(match entry.kind {
            RecordKind::Country => any(self.get::<Country>(id)?),
            RecordKind::Organization => any(self.get::<Organization>(id)?),
            RecordKind::Person => any(self.get::<Person>(id)?),
            RecordKind::Agreement => any(self.get::<Agreement>(id)?),
            RecordKind::Facility => any(self.get::<Facility>(id)?),
            RecordKind::Incident => any(self.get::<Incident>(id)?),
        }))
    }

    /// A list's shape, from the read cache under `cache_key`, else read and cached: its
    /// entries up to one past a chunk, and for a longer list the count stored under
    /// `count_key` (or, should that be missing, a walk of every entry). With `records`,
    /// a short list's entries hold their records (`Entry::record`).
    fn held_shape<I: Iterator<Item = Result<Entry, StoreError>>>(
        &self,
        cache_key: cache::Key,
        count_key: impl FnOnce() -> Vec<u8>,
        entries: impl Fn() -> I,
        records: bool,
    ) -> Result<ListShape, StoreError> {
        let generation = self.generation();
        match self.inner.cache.get(&cache_key, generation) {
            Some(Cached::List(entries)) => return Ok(ListShape::Short(entries)),
            Some(Cached::Long(count)) => return Ok(ListShape::Long(count)),
            Some(Cached::Record(_) | Cached::Dated(_)) | None => {}
        }
        let mut held = Vec::new();
        for entry in entries().take(MAX_CHUNK_ENTRIES + 1) {
            held.push(entry?);
        }
        if held.len() > MAX_CHUNK_ENTRIES {
            let count = match self.stored_count(&count_key())? {
                Some(count) => count,
                // The import stores the count of every list longer than a chunk; count
                // the entries rather than fail if it is missing.
                None => entries().try_fold(0, |count, entry| entry.map(|_| count + 1))?,
            };
            let cached = Cached::Long(count);
            self.inner.cache.insert(&cache_key, cached, generation, 0);
            return Ok(ListShape::Long(count));
        }
        if records {
            for entry in &mut held {
                // A record that cannot be read is left out: reading it through the
                // entry reports the failure then, for that record only, as before.
                entry.record = self.load(entry).unwrap_or_default();
            }
        }
        let held: Arc<[Entry]> = held.into();
        let cost = cache::list_cost(&held);
        let cached = Cached::List(held.clone());
        self.inner
            .cache
            .insert(&cache_key, cached, generation, cost);
        Ok(ListShape::Short(held))
    }

    /// `scan`, always from sled.
    fn scan_stored<'a>(
        &'a self,
        list: &List,
        range: KeyRange<'_>,
        reverse: bool,
    ) -> impl Iterator<Item = Result<Entry, StoreError>> + 'a {
        let (tree, tree_name, prefix) = match list {
            List::All(kind) => (
                &self.inner.orders[kind],
                keys::order_tree(*kind),
                Vec::new(),
            ),
            List::Linked(link, owner) => (
                &self.inner.links[link],
                link.tree(),
                keys::link_prefix(owner),
            ),
        };
        let kind = list.kind();
        let prefix_len = prefix.len();
        let (lower, upper) = bounds(&prefix, range);
        packed::range(tree, lower, upper, reverse).map(move |item| {
            let (mut key, _) = item.map_err(|source| packed_error(tree_name, source))?;
            let id = keys::id_in_sort_key(kind, &key[prefix_len..])
                .map(|id| String::from_utf8_lossy(id).into_owned())
                .ok_or_else(|| StoreError::Chunk {
                    tree: tree_name.to_owned(),
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: "a key that does not end with a record id",
                })?;
            // The entry keeps the sort key: the owner's prefix goes, in place.
            key.drain(..prefix_len);
            Ok(Entry {
                key,
                kind,
                id,
                record: Loaded::default(),
            })
        })
    }

    /// The number of entries in a list: its shape's, from the read cache (one read of
    /// `counts` for a list longer than a chunk, whose count the import stored, the first
    /// time); with the read cache off, that read, or a scan of at most two chunks.
    pub fn count(&self, list: &List) -> Result<u64, StoreError> {
        if !self.inner.cache.is_off() {
            return Ok(match self.list_shape(list)? {
                ListShape::Short(entries) => entries.len() as u64,
                ListShape::Long(count) => count,
            });
        }
        let key = list_count_key(list);
        match self.stored_count(&key)? {
            Some(count) => Ok(count),
            None => self
                .scan(list, KeyRange::ALL, false)
                .try_fold(0, |count, entry| entry.map(|_| count + 1)),
        }
    }

    /// The manifest of the finished import this store holds, rebuilt from sled's own
    /// marker; `None` when no import finished.
    pub fn marker_manifest(&self) -> Result<Option<Manifest>, StoreError> {
        let StoreState::Ready { format, seed_hash } = self.state()? else {
            return Ok(None);
        };
        let number = |key: &[u8]| -> Result<u64, StoreError> {
            let value = self
                .inner
                .meta
                .get(key)
                .map_err(|source| sled_error(keys::META_TREE, source))?;
            Ok(value
                .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
                .map_or(0, u64::from_be_bytes))
        };
        Ok(Some(Manifest {
            format_version: format,
            seed_hash,
            records: number(META_RECORDS)?,
            index_entries: number(META_INDEX_ENTRIES)?,
        }))
    }

    /// Records the cheap fingerprint of the seed the store was just imported from (see
    /// `seed::SeedSource::fingerprint`), so a restart can recognise it without hashing.
    pub fn remember_seed_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        self.inner
            .meta
            .insert(META_SEED_FINGERPRINT, fingerprint.as_bytes())
            .map_err(|source| sled_error(keys::META_TREE, source))?;
        self.flush()
    }

    /// The source documents of the imported seed (`documents.json`), in id order; empty
    /// for a store without an import.
    pub fn source_documents(&self) -> Result<Vec<SourceDocument>, StoreError> {
        let Some(bytes) = self
            .inner
            .meta
            .get(META_DOCUMENTS)
            .map_err(|source| sled_error(keys::META_TREE, source))?
        else {
            return Ok(Vec::new());
        };
        codec::decode(&bytes).map_err(|source| StoreError::Corrupt {
            tree: keys::META_TREE.to_owned(),
            key: String::from_utf8_lossy(META_DOCUMENTS).into_owned(),
            source,
        })
    }

    /// The source document with id `id`, if the imported seed has it.
    pub fn source_document(&self, id: &str) -> Result<Option<SourceDocument>, StoreError> {
        Ok(self
            .source_documents()?
            .into_iter()
            .find(|document| document.id == id))
    }

    /// The fingerprint `remember_seed_fingerprint` recorded, if any.
    pub fn seed_fingerprint(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .inner
            .meta
            .get(META_SEED_FINGERPRINT)
            .map_err(|source| sled_error(keys::META_TREE, source))?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The number of records of all kinds together, from the counts the import wrote.
    pub fn total_records(&self) -> Result<u64, StoreError> {
        Ok(self.record_counts()?.values().sum())
    }

    /// The number of records of each kind.
    pub fn record_counts(&self) -> Result<BTreeMap<RecordKind, u64>, StoreError> {
        RecordKind::ALL
            .into_iter()
            .map(|kind| Ok((kind, self.count(&List::All(kind))?)))
            .collect()
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner
            .db
            .flush()
            .map(drop)
            .map_err(|source| sled_error("(all)", source))
    }

    /// The count the import stored for a list longer than a chunk.
    fn stored_count(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        let value = self
            .inner
            .counts
            .get(key)
            .map_err(|source| sled_error(keys::COUNTS_TREE, source))?;
        Ok(value
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(u64::from_be_bytes))
    }
}

/// Whether an entry of a data directory named `name` is one a store puts there: sled's
/// files (`conf`, `db`, `blobs`, `snap.*`), the manifest or its temporary copy, or an
/// import's spool. What else a data directory holds is someone else's.
pub fn is_store_file(name: &std::ffi::OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    matches!(name, "conf" | "db" | "blobs")
        || name.starts_with("snap.")
        || manifest::is_manifest_file(name)
        || import::is_spool_file(name)
}

/// The key of `list`'s count in `counts` (stored for lists longer than a chunk).
fn list_count_key(list: &List) -> Vec<u8> {
    match list {
        List::All(kind) => keys::count_key(keys::order_tree(*kind), None),
        List::Linked(link, owner) => keys::count_key(link.tree(), Some(owner)),
    }
}

/// The read-cache key `key` (one of `cache`'s key makers) gives `list`: its tree and its
/// owner (none for a whole kind).
fn list_cache_key(list: &List, key: fn(&str, &str) -> cache::Key) -> cache::Key {
    match list {
        List::All(kind) => key(keys::order_tree(*kind), ""),
        List::Linked(link, owner) => key(link.tree(), owner),
    }
}

/// Opens sled, turning the panics some damaged files cause into an error.
///
/// The panic hook is process-wide: while sled opens, a panic on another thread would go
/// unprinted. Stores open at start-up, before the server runs anything else.
fn open_catching_panics(
    dir: &Path,
    cache_bytes: u64,
) -> Result<sled::Result<sled::Db>, StoreError> {
    let config = sled::Config::new().path(dir).cache_capacity(cache_bytes);
    // The default hook would print the panic and its location; the error says it instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || config.open()));
    std::panic::set_hook(hook);
    opened.map_err(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "sled could not read its files".to_owned());
        StoreError::Damaged {
            path: dir.to_owned(),
            reason: format!(
                "sled failed while opening it ({detail}). Nothing was changed. Restore the \
                 directory from a backup, or move it aside and start again to re-seed"
            ),
        }
    })
}

/// The bounds of `range` within the keys starting with `prefix`.
fn bounds(prefix: &[u8], range: KeyRange<'_>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with_prefix = |suffix: &[u8]| [prefix, suffix].concat();
    let lower = match range.lower {
        Bound::Included(key) => Bound::Included(with_prefix(key)),
        Bound::Excluded(key) => Bound::Excluded(with_prefix(key)),
        Bound::Unbounded => Bound::Included(prefix.to_vec()),
    };
    let upper = match (range.upper, keys::prefix_end(prefix)) {
        (Bound::Included(key), _) => Bound::Included(with_prefix(key)),
        (Bound::Excluded(key), _) => Bound::Excluded(with_prefix(key)),
        (Bound::Unbounded, Some(end)) => Bound::Excluded(end),
        (Bound::Unbounded, None) => Bound::Unbounded,
    };
    (lower, upper)
}

fn packed_error(tree: &str, source: packed::PackedError) -> StoreError {
    match source {
        packed::PackedError::Sled(source) => sled_error(tree, source),
        packed::PackedError::Damaged { key, reason } => StoreError::Chunk {
            tree: tree.to_owned(),
            key,
            reason,
        },
    }
}

fn sled_error(tree: &str, source: sled::Error) -> StoreError {
    StoreError::Sled {
        tree: tree.to_owned(),
        source,
    }
}
