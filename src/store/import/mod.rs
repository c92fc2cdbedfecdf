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
//!
//! Files: `spool` (the scratch file of values), `sort` (ids, sort keys and later links
//! sorted before any write), `write` (the trees), `crash_safety` (the sequence around the
//! writes: `begin`, `commit`).

mod crash_safety;
mod sort;
mod spool;
mod write;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::Write;
use std::path::Path;

use crate::model::{Dataset, RecordKind, SourceDocument};

use super::keys::{self, Link};
use super::search::Tokenizer;
use super::{codec, CodecError, Record, Store, StoreError, META_DOCUMENTS};
use crate::arena::{Arena, ArenaIndex, FxHasher};
use sort::Blocks;
pub use sort::Sorted;
pub(super) use spool::is_spool_file;
use spool::{spool_error, Spool};

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

/// What the import keeps of each record of one kind, by record number (arrival order).
#[derive(Default)]
struct Table {
    ids: Arena,
    sort_keys: Arena,
    /// Where the encoded value lies in the spool: `offset << 24 | length`.
    spooled: Vec<u64>,
}

fn kind_index(kind: RecordKind) -> usize {
    RecordKind::ALL
        .iter()
        .position(|candidate| *candidate == kind)
        .unwrap_or_default()
}

fn utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
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
    pub fn add<R: Record>(&mut self, record: &R) {
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
    pub fn add_prepared<R: Record>(
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

    fn try_add<R: Record>(
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
        // The references the store lists both ways (`model::References`), each as a pair
        // of record numbers in the tree of the link the record states.
        let (tables, pairs) = (&self.tables, &mut self.pairs);
        let (pending, pending_targets) = (&mut self.pending, &mut self.pending_targets);
        record.references(&mut |reference, target| {
            if !reference.linked {
                return;
            }
            let link = Link::stated(R::KIND, reference.target)
                .expect("a linked reference names a kind a link tree lists: see Link::stated");
            let targets = &tables[kind_index(reference.target)].ids;
            // A number past the records added would be the caller's mistake: looked up
            // again in `sort`, where a missing record is an error.
            match known(reference.target, target).filter(|&linked| linked < targets.len() as u32) {
                Some(linked) => {
                    debug_assert_eq!(targets.get(linked), target.as_bytes(), "{link:?}");
                    pairs
                        .entry(link)
                        .or_default()
                        .push(u64::from(number) << 32 | u64::from(linked));
                }
                None => {
                    pending.push((link, number));
                    pending_targets.push(target.as_bytes());
                }
            }
        });
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Agreement;
    use crate::store::search::Searchable;

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
}
