//! The import: writes a seed's records and every index, crash-safely, in bounded memory.
//!
//! Records arrive one at a time (`Importer::add`, straight from the seed reader). The
//! importer holds no store: it is handed one only to write (`Sorted::write`), after the
//! seed was read and checked, so an invalid seed changes nothing, and `app` need not even
//! open the store before the seed is known to be good. Meanwhile each record's encoded
//! value goes to a spool, a file without a name in the data directory (`Spool`), and only
//! compact facts stay in memory: ids and sort keys in byte arenas, relationships as pairs
//! of record numbers, search postings as numbers. `Importer::sort` sorts those numbers
//! and `Sorted::write` writes every tree in key order through `packed::Writer`, which is
//! what sled writes fastest, reading the values back from the spool.
//!
//! Crash safety: the completion marker (format version and seed hash in `meta`) is
//! removed and flushed before anything else is written, and written and flushed only after
//! everything else is. A store without the marker is `Incomplete` and is imported again
//! from scratch, so a reader never sees half a seed.

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::model::{
    Actor, Agreement, Country, Dataset, Facility, Incident, Organization, Person, RecordKind,
    SourceDocument,
};

use super::keys::{self, Link};
use super::packed::{self, MAX_CHUNK_ENTRIES};
use super::search::Tokenizer;
use super::{
    codec, packed_error, sled_error, CodecError, Manifest, Record, Store, StoreError,
    FORMAT_VERSION, META_DOCUMENTS, META_FORMAT, META_INDEX_ENTRIES, META_RECORDS, META_SEED_HASH,
};
use crate::arena::{Arena, ArenaIndex, FxHasher, GATHER};

/// The tree writers wait for sled to write out what they gave it after every this many
/// bytes (`packed::Throttle`). 8, 16 and 32 MiB held the 1M import's peak alike and took
/// no longer than no throttle; 16 it is.
const FLUSH_EVERY_BYTES: u64 = 16 << 20;

/// The name the spool had before it had none. A crashed import of an earlier version may
/// have left it behind; the next import that writes removes it.
const OLD_SPOOL_FILE: &str = "import.spool";

/// Whether `name` is a spool's: `Spool`'s named kind, or `OLD_SPOOL_FILE`.
pub(super) fn is_spool_file(name: &str) -> bool {
    name == OLD_SPOOL_FILE || (name.starts_with("import.") && name.ends_with(".spool"))
}

/// What an import wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub records: u64,
    pub index_entries: u64,
    /// The bytes of every key and value written, as if each were stored on its own.
    pub logical_bytes: u64,
}

impl Store {
    /// Replaces the store's contents with `dataset`, tagged with `seed_hash`.
    #[tracing::instrument(skip_all, fields(records = dataset.record_count()))]
    pub fn import(&self, dataset: &Dataset, seed_hash: &str) -> Result<ImportSummary, StoreError> {
        let mut importer = self.importer()?;
        importer.documents(&dataset.documents);
        dataset.countries.iter().for_each(|r| importer.add(r));
        dataset.organizations.iter().for_each(|r| importer.add(r));
        dataset.people.iter().for_each(|r| importer.add(r));
        dataset.agreements.iter().for_each(|r| importer.add(r));
        dataset.facilities.iter().for_each(|r| importer.add(r));
        dataset.incidents.iter().for_each(|r| importer.add(r));
        importer.finish(self, seed_hash)
    }

    /// An import into this store, to be fed records one by one, its spool in the store's
    /// directory. Nothing changes in the store until `finish`; dropping the importer
    /// leaves the store as it was.
    pub fn importer(&self) -> Result<Importer, StoreError> {
        Importer::new(&self.inner.path)
    }

    /// Every tree but `meta`.
    fn data_trees(&self) -> Vec<&sled::Tree> {
        let inner = &self.inner;
        let mut trees: Vec<&sled::Tree> = inner
            .records
            .values()
            .chain(inner.orders.values())
            .chain(inner.links.values())
            .collect();
        trees.extend([&inner.counts, &inner.country_codes, &inner.search]);
        trees
    }
}

fn spool_error(path: &std::path::Path, source: std::io::Error) -> StoreError {
    StoreError::Spool {
        path: path.to_owned(),
        source,
    }
}

/// What the import keeps of each record of one kind, by record number (arrival order).
#[derive(Default)]
struct Table {
    ids: Arena,
    sort_keys: Arena,
    /// Where the encoded value lies in the spool: `offset << 24 | length`.
    spooled: Vec<u64>,
}

/// A table's record numbers in id order, each record's rank in id order and in sort-key
/// order, and its ids and sort keys laid out in those orders. The writes read ids and
/// sort keys by rank, mostly in increasing order: from arenas in arrival order, each
/// read would be a cache miss.
struct Orders {
    by_id: Vec<u32>,
    id_rank: Vec<u32>,
    sort_rank: Vec<u32>,
    /// Ids by id rank.
    ids: Arena,
    /// Sort keys by sort rank. Each ends with its record's id (`keys::id_in_sort_key`),
    /// so the order and link trees store no value beside them.
    sort_keys: Arena,
}

impl Orders {
    /// Every table's orders: ids on this thread, sort keys on another.
    fn of_all(tables: &[Table; 6]) -> Vec<Orders> {
        let (by_id, by_sort_key) = std::thread::scope(|scope| {
            let by_sort_key = scope.spawn(|| {
                tables
                    .iter()
                    .zip(RecordKind::ALL)
                    .map(|(table, kind)| {
                        let order = table.sort_keys.sorted();
                        let sort_keys = table.sort_keys.reordered(&order);
                        debug_assert!(order.iter().zip(0..).all(|(&number, rank)| {
                            keys::id_in_sort_key(kind, sort_keys.get(rank))
                                == Some(table.ids.get(number))
                        }));
                        (order, sort_keys)
                    })
                    .collect::<Vec<_>>()
            });
            let by_id: Vec<(Vec<u32>, Arena)> = tables
                .iter()
                .map(|table| {
                    let order = table.ids.sorted();
                    let ids = table.ids.reordered(&order);
                    (order, ids)
                })
                .collect();
            let by_sort_key = by_sort_key
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (by_id, by_sort_key)
        });
        by_id
            .into_iter()
            .zip(by_sort_key)
            .map(|((by_id, ids), (by_sort_key, sort_keys))| Orders {
                id_rank: ranks(&by_id),
                sort_rank: ranks(&by_sort_key),
                by_id,
                ids,
                sort_keys,
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }
}

fn ranks(order: &[u32]) -> Vec<u32> {
    let mut rank = vec![0; order.len()];
    for (position, number) in order.iter().enumerate() {
        rank[*number as usize] = position as u32;
    }
    rank
}

fn kind_index(kind: RecordKind) -> usize {
    RecordKind::ALL
        .iter()
        .position(|candidate| *candidate == kind)
        .unwrap_or_default()
}

/// A record's relationships, as the forward links the seed states, and what else the
/// import indexes beside its sort key and search words.
pub trait Linked {
    fn links(&self) -> Vec<(Link, &str)>;

    /// The ISO code of a country, for `country-codes`; other records have none.
    fn country_code(&self) -> Option<&str> {
        None
    }
}

impl Linked for Country {
    fn links(&self) -> Vec<(Link, &str)> {
        Vec::new()
    }

    fn country_code(&self) -> Option<&str> {
        Some(&self.code)
    }
}

impl Linked for Organization {
    fn links(&self) -> Vec<(Link, &str)> {
        self.members
            .iter()
            .map(|member| (Link::OrganizationCountries, member.country.as_str()))
            .collect()
    }
}

impl Linked for Person {
    fn links(&self) -> Vec<(Link, &str)> {
        let countries = self
            .country
            .iter()
            .chain(self.roles.iter().flat_map(|role| &role.country))
            .map(|country| (Link::PersonCountries, country.as_str()));
        let organizations = self
            .roles
            .iter()
            .flat_map(|role| &role.organization)
            .map(|organization| (Link::PersonOrganizations, organization.as_str()));
        countries.chain(organizations).collect()
    }
}

impl Linked for Agreement {
    fn links(&self) -> Vec<(Link, &str)> {
        let parties = self
            .parties
            .iter()
            .map(|party| (Link::AgreementCountries, party.as_str()));
        let facilities = self
            .facilities
            .iter()
            .map(|facility| (Link::AgreementFacilities, facility.as_str()));
        parties.chain(facilities).collect()
    }
}

impl Linked for Facility {
    fn links(&self) -> Vec<(Link, &str)> {
        let mut links: Vec<(Link, &str)> = self
            .involved_countries()
            .into_iter()
            .map(|country| (Link::FacilityCountries, country.as_str()))
            .collect();
        if let Some(Actor::Organization(organization)) = &self.operator {
            links.push((Link::FacilityOrganizations, organization));
        }
        links
    }
}

impl Linked for Incident {
    fn links(&self) -> Vec<(Link, &str)> {
        let lists = [
            (Link::IncidentCountries, &self.countries),
            (Link::IncidentOrganizations, &self.organizations),
            (Link::IncidentPeople, &self.people),
            (Link::IncidentAgreements, &self.agreements),
            (Link::IncidentFacilities, &self.facilities),
        ];
        lists
            .into_iter()
            .flat_map(|(link, ids)| ids.iter().map(move |id| (link, id.as_str())))
            .collect()
    }
}

/// Record numbers take the low 29 bits of a posting (above them, 3 bits of kind).
const MAX_RECORDS_PER_KIND: u32 = 1 << 29;
const RECORD_MASK: u64 = (1 << 29) - 1;
/// A spooled record's length takes the low 24 bits of its place (16 MiB), its offset the
/// other 40 (1 TiB).
const SPOOL_LENGTH_BITS: u32 = 24;
/// Token numbers take the high 32 bits of a posting, and `ArenaIndex` stores them plus one
/// in 32 bits.
const MAX_TOKENS: usize = u32::MAX as usize - 1;

/// Numbers gathered in no order, in blocks of a fixed size: growing never copies the
/// numbers gathered so far nor holds them twice, as one `Vec` doubling would. Sorted
/// block by block, and read back merged.
#[derive(Default)]
struct Blocks {
    blocks: Vec<Vec<u64>>,
}

/// Numbers per block: 8 MiB.
const BLOCK: usize = 1 << 20;

impl Blocks {
    fn push(&mut self, number: u64) {
        match self.blocks.last_mut() {
            Some(block) if block.len() < BLOCK => block.push(number),
            _ => {
                // The first block grows from small, for the many short lists.
                let mut block = Vec::with_capacity(if self.blocks.is_empty() { 16 } else { BLOCK });
                block.push(number);
                self.blocks.push(block);
            }
        }
    }

    fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    fn for_each_mut(&mut self, mut change: impl FnMut(&mut u64)) {
        self.blocks.iter_mut().flatten().for_each(&mut change);
    }

    fn sort(&mut self) {
        self.blocks
            .iter_mut()
            .for_each(|block| block.sort_unstable());
    }

    /// Every distinct number in order; the blocks must be sorted.
    fn merged(&self) -> Merged<'_> {
        Merged {
            blocks: self.blocks.iter().map(|block| block.as_slice()).collect(),
            last: None,
        }
    }
}

/// A k-way merge of sorted blocks, without repeats. There are few blocks (a million
/// numbers each; a link has one or two, the postings six at 1M incidents), so the
/// smallest head is found by a scan, which costs less than a heap's upkeep.
struct Merged<'a> {
    /// What is left of each block.
    blocks: Vec<&'a [u64]>,
    last: Option<u64>,
}

impl Iterator for Merged<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        loop {
            let (smallest, number) = self
                .blocks
                .iter()
                .enumerate()
                .filter_map(|(index, block)| Some((index, *block.first()?)))
                .min_by_key(|&(_, number)| number)?;
            self.blocks[smallest] = &self.blocks[smallest][1..];
            if self.last != Some(number) {
                self.last = Some(number);
                return Some(number);
            }
        }
    }
}

/// The import's scratch file: records' encoded values in arrival order, read back by
/// `Sorted::write`. Where the system allows it, it never has a name (Linux's `O_TMPFILE`)
/// or loses it the moment it is created, so that whatever ends the import (a refused
/// seed, an error, a kill) leaves nothing of it in the data directory; where it must keep
/// a name, dropping the spool removes it.
struct Spool {
    /// What errors name: the directory, or the file while it has a name.
    path: PathBuf,
    file: BufWriter<File>,
    /// The file's name while it has one.
    named: Option<PathBuf>,
}

impl Spool {
    fn new(dir: &Path) -> Result<Spool, StoreError> {
        let file = |file: File, path: PathBuf, named| Spool {
            path,
            file: BufWriter::with_capacity(1 << 20, file),
            named,
        };
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Not every file system takes O_TMPFILE (EOPNOTSUPP, EISDIR on old kernels):
            // those get a named file.
            if let Ok(nameless) = File::options()
                .read(true)
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o600)
                .open(dir)
            {
                return Ok(file(nameless, dir.to_owned(), None));
            }
        }
        // The process id keeps another process's spool (a store open elsewhere fails
        // later, on sled's lock) and an old version's `import.spool` out of the way.
        let path = dir.join(format!("import.{}.spool", std::process::id()));
        let named = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| spool_error(&path, source))?;
        // An open file outlives its name on Unix; elsewhere `Drop` removes it.
        if cfg!(unix) && std::fs::remove_file(&path).is_ok() {
            return Ok(file(named, dir.to_owned(), None));
        }
        Ok(file(named, path.clone(), Some(path)))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(path) = self.named.take() {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "cannot remove the import spool");
            }
        }
    }
}

/// An import in progress; see the module documentation.
pub struct Importer {
    spool: Spool,
    spool_len: u64,
    tables: [Table; 6],
    /// Forward relationships as `owner number << 32 | linked number`.
    /// Looked up for every link of every record: hashed with `FxHasher`, as a `Link` is
    /// one of two dozen values the code names, never a client's.
    pairs: HashMap<Link, Blocks, BuildHasherDefault<FxHasher>>,
    /// Links the caller did not resolve (an agreement naming a facility, which comes
    /// later), resolved in `sort`: `(link, owner number)`, and the target ids, in the
    /// same order.
    pending: Vec<(Link, u32)>,
    pending_targets: Arena,
    /// Token text to token number, over `token_text`.
    tokens: ArenaIndex,
    /// The token hashes `look_ahead` reads ahead, kept for its next call.
    ahead: Vec<u64>,
    token_text: Arena,
    /// `token number << 32 | kind index << 29 | record number`.
    postings: Blocks,
    codes: Vec<(String, u32)>,
    /// The source documents, encoded (`codec`), for `meta`; `None` until given.
    documents: Option<Vec<u8>>,
    error: Option<StoreError>,
}

/// What `Importer` needs of a record that any thread can work out on its own: its encoded
/// value, its sort key and its distinct search tokens. The seed's parser threads prepare
/// records as they parse them (`Prepared::of`), so the one thread that takes records in
/// order (`Importer::add_prepared`) only numbers them.
pub struct Prepared {
    value: Result<Vec<u8>, CodecError>,
    sort_key: Vec<u8>,
    /// The record's distinct search tokens, end to end in `token_text`, sorted: each
    /// one's start, end and `ArenaIndex::hash`, worked out here on the parser's thread.
    token_text: String,
    token_spans: Vec<(u32, u32, u64)>,
}

/// A parser thread's buffers for `Prepared::of`, reused for every record it prepares.
#[derive(Default)]
struct TokenScratch {
    tokenizer: Tokenizer,
    /// Every token of the record, repeats included, end to end; `spans` marks them.
    text: String,
    spans: Vec<(u32, u32)>,
}

thread_local! {
    static TOKEN_SCRATCH: std::cell::RefCell<TokenScratch> =
        std::cell::RefCell::new(TokenScratch::default());
}

impl Prepared {
    pub fn of<R: Record>(record: &R) -> Prepared {
        let (token_text, token_spans) = TOKEN_SCRATCH.with_borrow_mut(|scratch| {
            let TokenScratch {
                tokenizer,
                text,
                spans,
            } = scratch;
            text.clear();
            spans.clear();
            for searched in record.search_texts() {
                tokenizer.tokens(searched, &mut |token| {
                    let start = text.len() as u32;
                    text.push_str(token);
                    spans.push((start, text.len() as u32));
                });
            }
            let token = |&(start, end): &(u32, u32)| &text[start as usize..end as usize];
            spans.sort_unstable_by(|a, b| token(a).cmp(token(b)));
            spans.dedup_by(|a, b| token(a) == token(b));
            // The distinct tokens alone, in buffers of their size: they wait in the batch
            // until the importer takes them.
            let mut token_text = String::with_capacity(
                spans
                    .iter()
                    .map(|(start, end)| (end - start) as usize)
                    .sum(),
            );
            let token_spans = spans
                .iter()
                .map(|span| {
                    let (start, token) = (token_text.len() as u32, token(span));
                    token_text.push_str(token);
                    (
                        start,
                        token_text.len() as u32,
                        ArenaIndex::hash(token.as_bytes()),
                    )
                })
                .collect();
            (token_text, token_spans)
        });
        Prepared {
            value: codec::encode(record),
            sort_key: record.sort_key(),
            token_text,
            token_spans,
        }
    }
}

impl Importer {
    /// An import to be fed records one by one and written into a store by `finish`, its
    /// spool in `dir` (the data directory: the spool is as large as the records, and
    /// belongs on the store's disk). Creates nothing there that outlives the importer.
    pub fn new(dir: &Path) -> Result<Importer, StoreError> {
        Ok(Importer {
            spool: Spool::new(dir)?,
            spool_len: 0,
            tables: Default::default(),
            pairs: HashMap::default(),
            pending: Vec::new(),
            pending_targets: Arena::default(),
            tokens: ArenaIndex::default(),
            ahead: Vec::new(),
            token_text: Arena::default(),
            postings: Blocks::default(),
            codes: Vec::new(),
            documents: None,
            error: None,
        })
    }

    /// Takes in the source documents the records cite, written with the completion
    /// marker.
    pub fn documents(&mut self, documents: &[SourceDocument]) {
        let mut documents = documents.to_vec();
        documents.sort_by(|a, b| a.id.cmp(&b.id));
        match codec::encode(&documents) {
            Ok(encoded) => self.documents = Some(encoded),
            Err(source) => {
                self.error.get_or_insert(StoreError::Encode {
                    tree: keys::META_TREE.to_owned(),
                    key: String::from_utf8_lossy(META_DOCUMENTS).into_owned(),
                    source,
                });
            }
        }
    }

    /// Takes in one record. Its references may name records that come later.
    pub fn add<R: Record + Linked>(&mut self, record: &R) {
        self.add_prepared(record, &Prepared::of(record), &|_, _| None);
    }

    /// Reads ahead what adding the records `prepared` comes from will look up (their
    /// search tokens), so that their cache misses overlap: see `ArenaIndex::warm`. Only
    /// how fast those records are then added depends on it.
    pub fn look_ahead<'p>(&mut self, prepared: impl IntoIterator<Item = &'p Prepared>) {
        self.ahead.clear();
        for prepared in prepared {
            self.ahead
                .extend(prepared.token_spans.iter().map(|&(_, _, hash)| hash));
        }
        self.tokens.warm(&self.token_text, &self.ahead);
    }

    /// `add`, for a record whose `Prepared::of` was worked out already. `known` gives
    /// the number of a record added earlier, by kind and id, or `None`: the importer
    /// numbers each kind's records from 0 in the order they are added. The links it
    /// does not resolve are looked up in `sort`.
    pub fn add_prepared<R: Record + Linked>(
        &mut self,
        record: &R,
        prepared: &Prepared,
        known: &impl Fn(RecordKind, &str) -> Option<u32>,
    ) {
        if self.error.is_some() {
            return;
        }
        if let Err(error) = self.try_add(record, prepared, known) {
            self.error = Some(error);
        }
    }

    fn try_add<R: Record + Linked>(
        &mut self,
        record: &R,
        prepared: &Prepared,
        known: &impl Fn(RecordKind, &str) -> Option<u32>,
    ) -> Result<(), StoreError> {
        let kind = kind_index(R::KIND);
        let value = prepared
            .value
            .as_ref()
            .map_err(|source| StoreError::Encode {
                tree: keys::record_tree(R::KIND).to_owned(),
                key: record.id().to_owned(),
                source: source.clone(),
            })?;
        self.spool
            .file
            .write_all(value)
            .map_err(|source| spool_error(&self.spool.path, source))?;
        let table = &mut self.tables[kind];
        let number = table.ids.push(record.id().as_bytes());
        if number >= MAX_RECORDS_PER_KIND {
            return Err(StoreError::TooLarge {
                what: format!("records in `{}`", keys::record_tree(R::KIND)),
                limit: u64::from(MAX_RECORDS_PER_KIND),
            });
        }
        if value.len() >= 1 << SPOOL_LENGTH_BITS || self.spool_len >= 1 << (64 - SPOOL_LENGTH_BITS)
        {
            return Err(StoreError::TooLarge {
                what: "bytes in one record, or 1 TiB of records".to_owned(),
                limit: 1 << SPOOL_LENGTH_BITS,
            });
        }
        table
            .spooled
            .push(self.spool_len << SPOOL_LENGTH_BITS | value.len() as u64);
        self.spool_len += value.len() as u64;
        table.sort_keys.push(&prepared.sort_key);
        if let Some(code) = record.country_code() {
            self.codes.push((code.to_owned(), number));
        }
        for (link, target) in record.links() {
            let target_kind = link.ends().1;
            let targets = &self.tables[kind_index(target_kind)].ids;
            // A number past the records added would be the caller's mistake: looked up
            // again in `sort`, where a missing record is an error.
            match known(target_kind, target).filter(|&linked| linked < targets.len() as u32) {
                Some(linked) => {
                    debug_assert_eq!(targets.get(linked), target.as_bytes(), "{link:?}");
                    self.pairs
                        .entry(link)
                        .or_default()
                        .push(u64::from(number) << 32 | u64::from(linked));
                }
                None => {
                    self.pending.push((link, number));
                    self.pending_targets.push(target.as_bytes());
                }
            }
        }
        // Each distinct token once (`Prepared` holds them deduplicated): the set
        // `Searchable::search_tokens` names, without a `String` per token.
        for &(start, end, hash) in &prepared.token_spans {
            let token = &prepared.token_text[start as usize..end as usize];
            let (token, _) =
                self.tokens
                    .find_or_push_hashed(&mut self.token_text, token.as_bytes(), hash);
            self.postings
                .push(u64::from(token) << 32 | (kind as u64) << 29 | u64::from(number));
        }
        if self.tables[kind].ids.full
            || self.tables[kind].sort_keys.full
            || self.token_text.full
            || self.pending_targets.full
        {
            return Err(StoreError::TooLarge {
                what: "bytes of ids, sort keys or search tokens".to_owned(),
                limit: u64::from(u32::MAX),
            });
        }
        if self.token_text.len() >= MAX_TOKENS {
            return Err(StoreError::TooLarge {
                what: "distinct search tokens".to_owned(),
                limit: MAX_TOKENS as u64,
            });
        }
        Ok(())
    }

    /// Writes everything taken in into `store`, replacing its contents, tagged
    /// `seed_hash`: `sort`, then `Sorted::write`.
    pub fn finish(self, store: &Store, seed_hash: &str) -> Result<ImportSummary, StoreError> {
        self.sort()?.write(store, seed_hash)
    }

    /// Everything the import does before it writes: fails on any record it could not take
    /// in, or a link to a record that never came; sorts ids and sort keys. Touches no
    /// store, so a caller may open the store only once this succeeded.
    pub fn sort(mut self) -> Result<Sorted, StoreError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        tracing::debug!(
            records = self
                .tables
                .iter()
                .map(|table| table.ids.len())
                .sum::<usize>(),
            pairs = self.pairs.values().map(Blocks::len).sum::<usize>(),
            postings = self.postings.len(),
            tokens = self.token_text.len(),
            "read the seed; writing"
        );
        self.spool
            .file
            .flush()
            .map_err(|source| spool_error(&self.spool.path, source))?;
        let started = std::time::Instant::now();
        // The token index is only needed while reading: free it before sorting.
        self.tokens = ArenaIndex::default();
        // The links to records that came later are looked up on a thread of their own,
        // beside the two that sort ids and sort keys: neither needs the other.
        let pending = std::mem::take(&mut self.pending);
        let targets = std::mem::take(&mut self.pending_targets);
        let (orders, resolved) = std::thread::scope(|scope| {
            let resolving = scope.spawn(|| resolve_pending(pending, &targets, &self.tables));
            let orders = Orders::of_all(&self.tables);
            let resolved = resolving
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (orders, resolved)
        });
        for (link, pair) in resolved? {
            self.pairs.entry(link).or_default().push(pair);
        }
        // From here on, ids and sort keys are read from `orders`, and the id indexes are
        // not needed: free them before writing.
        for table in &mut self.tables {
            table.ids = Arena::default();
            table.sort_keys = Arena::default();
        }
        tracing::debug!(elapsed = ?started.elapsed(), "sorted ids and sort keys; looked up later links");
        Ok(Sorted {
            importer: self,
            orders,
            started,
        })
    }
}

/// An import read and sorted (`Importer::sort`), ready to be written.
pub struct Sorted {
    importer: Importer,
    orders: Vec<Orders>,
    /// When the sorting began, for the debug log's timings.
    started: std::time::Instant,
}

/// Where `Sorted::write` writes: the store, and what holds its tree writers back while
/// sled's unwritten buffers pile up.
struct Target<'s> {
    store: &'s Store,
    throttle: packed::Throttle,
}

impl Sorted {
    /// Writes everything taken in into `store`, replacing its contents, tagged
    /// `seed_hash`.
    pub fn write(self, store: &Store, seed_hash: &str) -> Result<ImportSummary, StoreError> {
        let Sorted {
            mut importer,
            orders,
            started,
        } = self;
        let to = Target {
            store,
            throttle: packed::Throttle::new(store.inner.db.clone(), FLUSH_EVERY_BYTES),
        };
        let inner = &store.inner;
        let _changing = store.changing();
        // From here until the end, neither the manifest nor the marker claims a finished
        // import, so a crash leaves a store that the next start imports again.
        Manifest::remove(&inner.path)?;
        // An earlier version's spool, left by a crash: the directory changes now anyway.
        match std::fs::remove_file(inner.path.join(OLD_SPOOL_FILE)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(%error, "cannot remove an old import spool");
            }
            _ => {}
        }
        inner
            .meta
            .clear()
            .map_err(|source| sled_error(keys::META_TREE, source))?;
        store.flush()?;
        for tree in store.data_trees() {
            tree.clear()
                .map_err(|source| sled_error("(data)", source))?;
        }

        // Every tree is written by one job; two threads take the jobs, largest first.
        // They are different trees, which sled writes concurrently.
        let mut jobs: Vec<Job> = RecordKind::ALL
            .into_iter()
            .flat_map(|kind| [Job::Records(kind), Job::Orders(kind)])
            .collect();
        jobs.extend(
            std::mem::take(&mut importer.pairs)
                .into_iter()
                .map(|(link, pairs)| Job::Links(link, pairs)),
        );
        jobs.push(Job::Search(std::mem::take(&mut importer.postings)));
        jobs.sort_by_key(|job| job.cost(&orders));
        let queue = std::sync::Mutex::new(jobs);
        let (this, to, orders) = (&importer, &to, &orders);
        let work = || -> Result<Totals, StoreError> {
            let mut totals = Totals::default();
            loop {
                let job = match queue.lock() {
                    Ok(mut queue) => queue.pop(),
                    // A worker panicked while popping: the scope re-raises its panic.
                    Err(_) => None,
                };
                let Some(job) = job else {
                    return Ok(totals);
                };
                let name = job.name();
                let result = match job {
                    Job::Records(kind) => this.write_records(to, kind, orders, &mut totals),
                    Job::Orders(kind) => this.write_orders(to, kind, orders, &mut totals),
                    Job::Links(link, pairs) => {
                        this.write_links(to, link, pairs, orders, &mut totals)
                    }
                    Job::Search(postings) => this.write_search(to, postings, orders, &mut totals),
                };
                if let Err(error) = result {
                    // Stop the other worker too: the import failed.
                    if let Ok(mut queue) = queue.lock() {
                        queue.clear();
                    }
                    return Err(error);
                }
                tracing::debug!(elapsed = ?started.elapsed(), tree = %name, "wrote");
            }
        };
        let (first, second) = std::thread::scope(|scope| {
            let other = scope.spawn(work);
            let mine = work();
            let other = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (mine, other)
        });
        let mut totals = first?;
        totals.absorb(second?);
        let countries = &orders[kind_index(RecordKind::Country)];
        for (code, number) in &importer.codes {
            let id = countries.ids.get(countries.id_rank[*number as usize]);
            let key = keys::country_code_key(code);
            inner
                .country_codes
                .insert(key.as_slice(), id)
                .map_err(|source| sled_error(keys::COUNTRY_CODES_TREE, source))?;
            totals.index(1, (key.len() + id.len()) as u64);
        }
        for (key, count) in &totals.counts {
            inner
                .counts
                .insert(key.as_slice(), &count.to_be_bytes())
                .map_err(|source| sled_error(keys::COUNTS_TREE, source))?;
        }
        totals.index(
            totals.counts.len() as u64,
            totals
                .counts
                .iter()
                .map(|(key, _)| key.len() as u64 + 8)
                .sum(),
        );
        store.flush()?;
        tracing::debug!(
            elapsed = ?started.elapsed(),
            waits_for_the_disk = to.throttle.flushes(),
            "wrote counts and flushed"
        );
        // The spool is scratch: freed (or, with a name, removed) before the marker.
        let documents = importer.documents.take();
        drop(importer);

        let (records, index_entries) = (totals.records, totals.index_entries);
        let mut marker = sled::Batch::default();
        marker.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
        marker.insert(META_SEED_HASH, seed_hash.as_bytes());
        marker.insert(META_RECORDS, &records.to_be_bytes());
        marker.insert(META_INDEX_ENTRIES, &index_entries.to_be_bytes());
        if let Some(documents) = documents {
            marker.insert(META_DOCUMENTS, documents);
        }
        inner
            .meta
            .apply_batch(marker)
            .map_err(|source| sled_error(keys::META_TREE, source))?;
        store.flush()?;
        Manifest {
            format_version: FORMAT_VERSION,
            seed_hash: seed_hash.to_owned(),
            records,
            index_entries,
        }
        .write(&inner.path)?;
        tracing::info!(
            records,
            index_entries,
            logical_bytes = totals.logical_bytes,
            "import complete"
        );
        Ok(ImportSummary {
            records,
            index_entries,
            logical_bytes: totals.logical_bytes,
        })
    }
}

/// The tree writers of `Sorted::write`, each reading what the importer took in.
impl Importer {
    fn write_records(
        &self,
        to: &Target<'_>,
        kind: RecordKind,
        orders: &[Orders],
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let index = kind_index(kind);
        let name = keys::record_tree(kind);
        let (table, order) = (&self.tables[index], &orders[index]);
        let mut writer = packed::Writer::throttled(&to.store.inner.records[&kind], &to.throttle);
        let mut reader = SpoolReader::default();
        let mut first_rank = 0;
        while first_rank < order.len() {
            // The next records in id order, up to a window's worth.
            let mut window = Vec::new();
            let mut bytes = 0;
            for &number in &order.by_id[first_rank..] {
                if window.len() == SPOOL_WINDOW_RECORDS || bytes >= SPOOL_WINDOW_BYTES {
                    break;
                }
                let spooled = table.spooled[number as usize];
                let extent = (
                    spooled >> SPOOL_LENGTH_BITS,
                    spooled & ((1 << SPOOL_LENGTH_BITS) - 1),
                );
                bytes += extent.1;
                window.push(extent);
            }
            reader
                .read(self.spool.file.get_ref(), &window)
                .map_err(|source| spool_error(&self.spool.path, source))?;
            for slot in 0..window.len() {
                writer
                    .push(order.ids.get((first_rank + slot) as u32), reader.get(slot))
                    .map_err(|source| packed_error(name, source))?;
            }
            first_rank += window.len();
        }
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(name, source))?;
        totals.records += entries;
        totals.logical_bytes += bytes;
        Ok(())
    }

    fn write_orders(
        &self,
        to: &Target<'_>,
        kind: RecordKind,
        orders: &[Orders],
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let name = keys::order_tree(kind);
        let order = &orders[kind_index(kind)];
        let mut writer = packed::Writer::throttled(&to.store.inner.orders[&kind], &to.throttle);
        for rank in 0..order.len() as u32 {
            writer
                .push(order.sort_keys.get(rank), &[])
                .map_err(|source| packed_error(name, source))?;
        }
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(name, source))?;
        totals.count(|| keys::count_key(name, None), entries);
        totals.index(entries, bytes);
        Ok(())
    }

    /// Both directions of one relationship, deduplicated, with the counts of long lists.
    fn write_links(
        &self,
        to: &Target<'_>,
        link: Link,
        mut pairs: Blocks,
        orders: &[Orders],
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let (owner_kind, linked_kind) = link.ends();
        let (owner_orders, linked_orders) = (
            &orders[kind_index(owner_kind)],
            &orders[kind_index(linked_kind)],
        );
        // Rewrite each pair as `owner id rank << 32 | linked sort rank`, and the other
        // way round for the reverse direction, in one pass: sorting the numbers sorts
        // the keys.
        let mut reverse = Blocks::default();
        pairs.for_each_mut(|pair| {
            let (owner, linked) = ((*pair >> 32) as usize, *pair as u32 as usize);
            reverse.push(
                u64::from(linked_orders.id_rank[linked]) << 32
                    | u64::from(owner_orders.sort_rank[owner]),
            );
            *pair = u64::from(owner_orders.id_rank[owner]) << 32
                | u64::from(linked_orders.sort_rank[linked]);
        });
        pairs.sort();
        self.write_link_tree(to, link, &pairs, owner_orders, linked_orders, totals)?;
        drop(pairs);
        reverse.sort();
        self.write_link_tree(
            to,
            link.reverse(),
            &reverse,
            linked_orders,
            owner_orders,
            totals,
        )
    }

    fn write_link_tree(
        &self,
        to: &Target<'_>,
        link: Link,
        pairs: &Blocks,
        owner_orders: &Orders,
        linked_orders: &Orders,
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let name = link.tree();
        let mut writer = packed::Writer::throttled(&to.store.inner.links[&link], &to.throttle);
        let mut key = Vec::new();
        let mut runs = Runs::default();
        let count_key =
            |owner: u32| keys::count_key(&name, Some(&utf8(owner_orders.ids.get(owner))));
        let mut merged = pairs.merged();
        let mut batch = Vec::with_capacity(GATHER);
        let mut gathered = Arena::default();
        loop {
            // The owner's id rank and the linked record's sort rank.
            batch.clear();
            batch.extend(
                merged
                    .by_ref()
                    .take(GATHER)
                    .map(|pair| ((pair >> 32) as u32, pair as u32)),
            );
            if batch.is_empty() {
                break;
            }
            // Each entry's linked sort key, which ends with its id.
            gathered.clear();
            gathered.gather(
                batch
                    .iter()
                    .map(|&(_, linked)| (&linked_orders.sort_keys, linked)),
            );
            for (entry, &(owner, _)) in batch.iter().enumerate() {
                let sort_key = gathered.get(entry as u32);
                if runs.starts(owner, totals, count_key) {
                    // A new owner: the key starts afresh.
                    key.clear();
                    key.extend_from_slice(owner_orders.ids.get(owner));
                    key.push(keys::SEPARATOR);
                }
                let prefix = owner_orders.ids.get(owner).len() + 1;
                key.truncate(prefix);
                key.extend_from_slice(sort_key);
                writer
                    .push(&key, &[])
                    .map_err(|source| packed_error(&name, source))?;
            }
        }
        runs.finish(totals, count_key);
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(&name, source))?;
        totals.index(entries, bytes);
        Ok(())
    }

    fn write_search(
        &self,
        to: &Target<'_>,
        mut postings: Blocks,
        orders: &[Orders],
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let token_order = self.token_text.sorted();
        let token_rank = ranks(&token_order);
        let tags: Vec<u8> = RecordKind::ALL
            .iter()
            .map(|kind| keys::kind_tag(*kind))
            .collect();
        // Posting keys sort by token, kind tag, then id: rewrite each posting's token and
        // record numbers as ranks. Kind tags follow `RecordKind::ALL`'s order.
        postings.for_each_mut(|posting| {
            let token = (*posting >> 32) as usize;
            let kind = ((*posting >> 29) & 0b111) as usize;
            let number = (*posting & RECORD_MASK) as usize;
            *posting = u64::from(token_rank[token]) << 32
                | (kind as u64) << 29
                | u64::from(orders[kind].id_rank[number]);
        });
        drop(token_rank);
        postings.sort();
        let mut writer = packed::Writer::throttled(&to.store.inner.search, &to.throttle);
        let mut key = Vec::new();
        let mut runs = Runs::default();
        let count_key = |token: u32| {
            keys::count_key(keys::SEARCH_TREE, Some(&utf8(self.token_text.get(token))))
        };
        let mut prefix = 0;
        let mut merged = postings.merged();
        let mut batch = Vec::with_capacity(GATHER);
        let mut gathered = Arena::default();
        loop {
            // The token's number, and the record's kind and id rank.
            batch.clear();
            batch.extend(merged.by_ref().take(GATHER).map(|posting| {
                (
                    token_order[(posting >> 32) as usize],
                    ((posting >> 29) & 0b111) as usize,
                    (posting & RECORD_MASK) as u32,
                )
            }));
            if batch.is_empty() {
                break;
            }
            gathered.clear();
            gathered.gather(
                batch
                    .iter()
                    .map(|&(_, kind, rank)| (&orders[kind].ids, rank)),
            );
            for (entry, &(token, kind, _)) in batch.iter().enumerate() {
                if runs.starts(token, totals, count_key) {
                    // A new token: the key starts afresh.
                    key.clear();
                    key.extend_from_slice(self.token_text.get(token));
                    key.push(keys::SEPARATOR);
                    prefix = key.len();
                }
                key.truncate(prefix);
                key.push(tags[kind]);
                key.extend_from_slice(gathered.get(entry as u32));
                writer
                    .push(&key, &[])
                    .map_err(|source| packed_error(keys::SEARCH_TREE, source))?;
            }
        }
        runs.finish(totals, count_key);
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(keys::SEARCH_TREE, source))?;
        totals.index(entries, bytes);
        Ok(())
    }
}

/// The pairs of the links left unresolved when their owner came (`owner number << 32 |
/// linked number`, as `Importer::pairs` holds them), through an index of the ids of
/// each kind they name.
fn resolve_pending(
    pending: Vec<(Link, u32)>,
    targets: &Arena,
    tables: &[Table; 6],
) -> Result<Vec<(Link, u64)>, StoreError> {
    let mut numbers: [ArenaIndex; 6] = Default::default();
    for &(link, _) in &pending {
        let target_index = kind_index(link.ends().1);
        let (index, ids) = (&mut numbers[target_index], &tables[target_index].ids);
        if index.is_empty() && ids.len() > 0 {
            (0..ids.len() as u32).for_each(|number| index.insert(ids, number));
        }
    }
    pending
        .into_iter()
        .enumerate()
        .map(|(at, (link, owner))| {
            let (owner_kind, target_kind) = link.ends();
            let target_index = kind_index(target_kind);
            let target = targets.get(at as u32);
            let linked = numbers[target_index]
                .find(&tables[target_index].ids, target)
                .ok_or_else(|| StoreError::Dangling {
                    tree: link.tree(),
                    id: utf8(target).into_owned(),
                    target: keys::record_tree(target_kind).to_owned(),
                })?;
            debug_assert!(owner_kind != target_kind || owner != linked);
            Ok((link, u64::from(owner) << 32 | u64::from(linked)))
        })
        .collect()
}

/// The entries of a sorted tree, in runs of one owner (a link's owner record, a search
/// token): each run's length is counted in `Totals` when it ends.
#[derive(Default)]
struct Runs {
    /// The current run's owner and length.
    current: Option<(u32, u64)>,
}

impl Runs {
    /// Takes in an entry of `owner`; true when it starts a new run. `count_key` names
    /// a finished run's list.
    fn starts(
        &mut self,
        owner: u32,
        totals: &mut Totals,
        count_key: impl Fn(u32) -> Vec<u8>,
    ) -> bool {
        match &mut self.current {
            Some((current, length)) if *current == owner => {
                *length += 1;
                false
            }
            _ => {
                self.finish(totals, count_key);
                self.current = Some((owner, 1));
                true
            }
        }
    }

    /// Ends the current run, if any.
    fn finish(&mut self, totals: &mut Totals, count_key: impl Fn(u32) -> Vec<u8>) {
        if let Some((owner, length)) = self.current.take() {
            totals.count(|| count_key(owner), length);
        }
    }
}

/// Records read back from the spool together, at most: `SpoolReader`.
const SPOOL_WINDOW_RECORDS: usize = 4096;
const SPOOL_WINDOW_BYTES: u64 = 4 << 20;
/// Spooled records at most this far apart are read in one call, with what lies between.
const SPOOL_GAP: u64 = 1024;

/// Reads records back from the spool a window at a time. They are written to their
/// tree in id order but lie in the spool in arrival order; a read per record was a
/// system call each (1.3 million for the 1M seed). The window's records are read in
/// spool order instead, neighbours in one call: arrival order and id order usually
/// agree in long runs (a generator's `incident-100010` to `incident-100019`), so a
/// window takes a few calls, and one in no order at all costs what it did before.
#[derive(Default)]
struct SpoolReader {
    /// `(offset, length, slot)` of each record of the window, in spool order.
    extents: Vec<(u64, u64, usize)>,
    bytes: Vec<u8>,
    /// Where each slot's record lies in `bytes`.
    placed: Vec<std::ops::Range<usize>>,
}

impl SpoolReader {
    /// Reads the records at `window`'s `(offset, length)`s; `get(slot)` then holds the
    /// record at `window[slot]`.
    fn read(&mut self, spool: &File, window: &[(u64, u64)]) -> std::io::Result<()> {
        self.extents.clear();
        self.extents.extend(
            window
                .iter()
                .enumerate()
                .map(|(slot, &(offset, length))| (offset, length, slot)),
        );
        self.extents.sort_unstable();
        self.bytes.clear();
        self.placed.clear();
        self.placed.resize(window.len(), 0..0);
        let mut first = 0;
        while first < self.extents.len() {
            let start = self.extents[first].0;
            let mut end = start + self.extents[first].1;
            let mut last = first + 1;
            while last < self.extents.len() && self.extents[last].0 <= end + SPOOL_GAP {
                end = end.max(self.extents[last].0 + self.extents[last].1);
                last += 1;
            }
            let base = self.bytes.len();
            self.bytes.resize(base + (end - start) as usize, 0);
            read_at(spool, &mut self.bytes[base..], start)?;
            for &(offset, length, slot) in &self.extents[first..last] {
                let at = base + (offset - start) as usize;
                self.placed[slot] = at..at + length as usize;
            }
            first = last;
        }
        Ok(())
    }

    fn get(&self, slot: usize) -> &[u8] {
        &self.bytes[self.placed[slot].clone()]
    }
}

/// One tree (or both directions of one relationship) for a writer thread.
enum Job {
    Records(RecordKind),
    Orders(RecordKind),
    Links(Link, Blocks),
    Search(Blocks),
}

impl Job {
    fn name(&self) -> String {
        match self {
            Job::Records(kind) => keys::record_tree(*kind).to_owned(),
            Job::Orders(kind) => keys::order_tree(*kind).to_owned(),
            Job::Links(link, _) => link.tree(),
            Job::Search(_) => keys::SEARCH_TREE.to_owned(),
        }
    }

    /// A rough cost, in entries written: jobs are taken largest first.
    fn cost(&self, orders: &[Orders]) -> usize {
        match self {
            // A record is a larger value, read back from the spool.
            Job::Records(kind) => 3 * orders[kind_index(*kind)].len(),
            Job::Orders(kind) => orders[kind_index(*kind)].len(),
            Job::Links(_, pairs) => 2 * pairs.len(),
            Job::Search(postings) => postings.len(),
        }
    }
}

fn utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(not(unix))]
fn read_at(mut file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buffer)
}

/// What the writes added up to, and the counts of lists longer than a chunk.
#[derive(Default)]
struct Totals {
    records: u64,
    index_entries: u64,
    logical_bytes: u64,
    counts: Vec<(Vec<u8>, u64)>,
}

impl Totals {
    fn absorb(&mut self, other: Totals) {
        self.records += other.records;
        self.index_entries += other.index_entries;
        self.logical_bytes += other.logical_bytes;
        self.counts.extend(other.counts);
    }

    fn index(&mut self, entries: u64, bytes: u64) {
        self.index_entries += entries;
        self.logical_bytes += bytes;
    }

    /// Lists that fit in a chunk are counted by reading them; longer ones get a count,
    /// under the key `key` builds (only for those).
    fn count(&mut self, key: impl FnOnce() -> Vec<u8>, length: u64) {
        if length > MAX_CHUNK_ENTRIES as u64 {
            self.counts.push((key(), length));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::Searchable;
    use crate::store::StoreState;

    fn agreement(id: &str, facilities: &[&str]) -> Agreement {
        Agreement {
            facilities: facilities.iter().map(|id| (*id).to_owned()).collect(),
            ..Agreement::bare(id)
        }
    }

    #[test]
    fn prepared_tokens_are_the_records_distinct_search_tokens_in_order() {
        let record = Agreement {
            title: "Kant Air Base AGREEMENT on the Kant air base".to_owned(),
            aliases: vec!["Su-27 at Kant".to_owned(), "ΣΑΣ kant-Σας".to_owned()],
            summary: "Agreement 7, agreement 2003; kant 7 x".to_owned(),
            ..Agreement::bare("kant-agreement")
        };
        // Twice: the second record reuses the first one's scratch buffers.
        for _ in 0..2 {
            let prepared = Prepared::of(&record);
            let tokens: Vec<&str> = prepared
                .token_spans
                .iter()
                .map(|&(start, end, hash)| {
                    let token = &prepared.token_text[start as usize..end as usize];
                    assert_eq!(hash, ArenaIndex::hash(token.as_bytes()), "{token}");
                    token
                })
                .collect();
            let expected = record.search_tokens();
            assert_eq!(
                tokens,
                expected.iter().map(String::as_str).collect::<Vec<_>>()
            );
            assert!(tokens.contains(&"kantσας") && tokens.contains(&"2003"));
            assert_eq!(
                prepared.token_text.len(),
                tokens.iter().map(|token| token.len()).sum::<usize>(),
                "each distinct token once"
            );
        }
    }

    #[test]
    fn a_link_to_a_record_that_never_came_fails_the_import_before_it_writes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path(), 8 << 20).expect("opens");
        let mut importer = store.importer().expect("starts");
        importer.add(&agreement("first", &[]));
        importer.finish(&store, "one").expect("imports");

        let mut importer = store.importer().expect("starts");
        importer.add(&agreement("second", &["nowhere"]));
        let error = importer.finish(&store, "two").expect_err("a dangling link");
        assert!(
            matches!(&error, StoreError::Dangling { id, .. } if id == "nowhere"),
            "{error}"
        );
        // Nothing was written: the first import's record and marker stand.
        assert!(store.get::<Agreement>("first").expect("reads").is_some());
        assert!(store.get::<Agreement>("second").expect("reads").is_none());
        assert!(
            matches!(store.state().expect("reads"), StoreState::Ready { seed_hash, .. } if seed_hash == "one")
        );
    }

    #[test]
    fn the_spool_has_no_name_in_the_directory_and_the_import_reads_it_back() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let names = || std::fs::read_dir(dir.path()).expect("lists").count();
        let mut importer = Importer::new(dir.path()).expect("starts");
        importer.add(&agreement("first", &[]));
        importer.add(&Agreement {
            title: "read back".to_owned(),
            ..Agreement::bare("second")
        });
        importer.spool.file.flush().expect("flushes");
        assert!(importer.spool_len > 0);
        // Dropped here, or killed, the import would leave nothing in the directory.
        assert_eq!(names(), 0, "the spool has a name");
        let sorted = importer.sort().expect("sorts");
        assert_eq!(names(), 0);

        // The records written come back from the nameless spool.
        let store = Store::open(&dir.path().join("store"), 8 << 20).expect("opens");
        sorted.write(&store, "one").expect("imports");
        let second = store.get::<Agreement>("second").expect("reads");
        assert_eq!(second.expect("imported").title, "read back");
    }

    #[test]
    fn the_spool_reader_reads_each_record_of_a_window_in_any_order() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("spool");
        let bytes: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("writes");
        let spool = File::open(&path).expect("opens");
        // Neighbours, records a little and far apart, repeats, an empty one, in no order.
        let window: Vec<(u64, u64)> = vec![
            (500, 20),
            (0, 10),
            (10, 30),
            (90_000, 9_999),
            (40, 1),
            (1_500, 7),
            (0, 10),
            (50_000, 0),
            (41, 400),
        ];
        let mut reader = SpoolReader::default();
        for _ in 0..2 {
            reader.read(&spool, &window).expect("reads");
            for (slot, &(offset, length)) in window.iter().enumerate() {
                let at = offset as usize;
                assert_eq!(
                    reader.get(slot),
                    &bytes[at..at + length as usize],
                    "slot {slot}"
                );
            }
        }
        assert!(
            reader.read(&spool, &[(99_990, 20)]).is_err(),
            "past the end"
        );
    }

    #[test]
    fn blocks_merge_sorted_without_repeats() {
        let mut blocks = Blocks::default();
        let mut expected = Vec::new();
        let mut state = 7u64;
        for _ in 0..(BLOCK * 2 + 1000) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let number = state >> 44;
            blocks.push(number);
            expected.push(number);
        }
        assert_eq!(blocks.blocks.len(), 3);
        assert_eq!(blocks.len(), expected.len());
        blocks.for_each_mut(|number| *number += 1);
        blocks.sort();
        expected.iter_mut().for_each(|number| *number += 1);
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(blocks.merged().collect::<Vec<_>>(), expected);
        assert_eq!(Blocks::default().merged().next(), None);
    }
}
