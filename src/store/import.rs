//! The import: writes a seed's records and every index, crash-safely, in bounded memory.
//!
//! Records arrive one at a time (`Importer::add`, straight from the seed reader) and
//! nothing is written to the store until `Importer::finish`, so an invalid seed changes
//! nothing. Meanwhile each record's encoded value goes to a spool file in the data
//! directory and only compact facts stay in memory: ids and sort keys in byte arenas,
//! relationships as pairs of record numbers, search postings as numbers. `finish` sorts
//! those numbers and writes every tree in key order through `packed::Writer`, which is
//! what sled writes fastest, reading the values back from the spool.
//!
//! Crash safety: the completion marker (format version and seed hash in `meta`) is
//! removed and flushed before anything else is written, and written and flushed only after
//! everything else is. A store without the marker is `Incomplete` and is imported again
//! from scratch, so a reader never sees half a seed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::model::{
    Actor, Agreement, Country, Dataset, Facility, Incident, Organization, Person, RecordKind,
};

use super::keys::{self, Link};
use super::packed::{self, MAX_CHUNK_ENTRIES};
use super::{
    codec, packed_error, sled_error, Manifest, Record, Store, StoreError, FORMAT_VERSION,
    META_FORMAT, META_INDEX_ENTRIES, META_RECORDS, META_SEED_HASH,
};

/// Hash maps keyed by ids and tokens the import itself made: no untrusted input picks
/// their keys adversarially at request time, so a fast non-keyed hash is safe here.
type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// The multiply-rotate hash rustc uses (FxHash): a few instructions per word, against
/// SipHash's dozens, for the millions of lookups of a large import.
#[derive(Default)]
struct FxHasher(u64);

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
        self.0
    }
}

/// The spool's name in the data directory; a crashed import may leave it behind, and the
/// next one truncates it.
const SPOOL_FILE: &str = "import.spool";

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
        dataset.countries.iter().for_each(|r| importer.add(r));
        dataset.organizations.iter().for_each(|r| importer.add(r));
        dataset.people.iter().for_each(|r| importer.add(r));
        dataset.agreements.iter().for_each(|r| importer.add(r));
        dataset.facilities.iter().for_each(|r| importer.add(r));
        dataset.incidents.iter().for_each(|r| importer.add(r));
        importer.finish(seed_hash)
    }

    /// An import into this store, to be fed records one by one. Nothing changes in the
    /// store until `finish`; dropping the importer leaves the store as it was.
    pub fn importer(&self) -> Result<Importer<'_>, StoreError> {
        let path = self.inner.path.join(SPOOL_FILE);
        let spool = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| spool_error(&path, source))?;
        Ok(Importer {
            store: self,
            spool_path: path,
            spool: BufWriter::with_capacity(1 << 20, spool),
            spool_len: 0,
            tables: Default::default(),
            numbers: Default::default(),
            pairs: HashMap::new(),
            pending: Vec::new(),
            tokens: FastMap::default(),
            token_text: Arena::default(),
            postings: Vec::new(),
            codes: Vec::new(),
            error: None,
        })
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

/// Byte strings end to end, with their ends: ids and sort keys without a heap
/// allocation each.
#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Arena {
    fn push(&mut self, item: &[u8]) -> u32 {
        self.bytes.extend_from_slice(item);
        self.ends.push(self.bytes.len());
        (self.ends.len() - 1) as u32
    }

    fn get(&self, index: u32) -> &[u8] {
        let index = index as usize;
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.bytes[start..self.ends[index]]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Indexes in the byte order of their items.
    fn sorted(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.get(*a).cmp(self.get(*b)));
        order
    }
}

/// What the import keeps of each record of one kind, by record number (arrival order).
#[derive(Default)]
struct Table {
    ids: Arena,
    sort_keys: Arena,
    /// Where the encoded value lies in the spool.
    spooled: Vec<(u64, u32)>,
}

/// A table's record numbers in id order and in sort-key order, and the inverse (ranks).
struct Orders {
    by_id: Vec<u32>,
    by_sort_key: Vec<u32>,
    id_rank: Vec<u32>,
    sort_rank: Vec<u32>,
}

impl Orders {
    fn of(table: &Table) -> Orders {
        let by_id = table.ids.sorted();
        let by_sort_key = table.sort_keys.sorted();
        Orders {
            id_rank: ranks(&by_id),
            sort_rank: ranks(&by_sort_key),
            by_id,
            by_sort_key,
        }
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

/// An import in progress; see the module documentation.
pub struct Importer<'s> {
    store: &'s Store,
    spool_path: PathBuf,
    spool: BufWriter<File>,
    spool_len: u64,
    tables: [Table; 6],
    /// Id to record number, for every kind another record can link to.
    numbers: [FastMap<Box<str>, u32>; 6],
    /// Forward relationships as `owner number << 32 | linked number`.
    pairs: HashMap<Link, Vec<u64>>,
    /// Links to records not seen yet (an agreement naming a facility): resolved in
    /// `finish`.
    pending: Vec<(Link, u32, Box<str>)>,
    tokens: FastMap<Box<str>, u32>,
    token_text: Arena,
    /// `(token number, kind index, record number)`.
    postings: Vec<(u32, u8, u32)>,
    codes: Vec<(String, u32)>,
    error: Option<StoreError>,
}

impl Importer<'_> {
    /// Takes in one record. Its references may name records that come later.
    pub fn add<R: Record + Linked>(&mut self, record: &R) {
        if self.error.is_some() {
            return;
        }
        if let Err(error) = self.try_add(record) {
            self.error = Some(error);
        }
    }

    fn try_add<R: Record + Linked>(&mut self, record: &R) -> Result<(), StoreError> {
        let kind = kind_index(R::KIND);
        let value = codec::encode(record).map_err(|source| StoreError::Encode {
            tree: keys::record_tree(R::KIND).to_owned(),
            key: record.id().to_owned(),
            source,
        })?;
        self.spool
            .write_all(&value)
            .map_err(|source| spool_error(&self.spool_path, source))?;
        let table = &mut self.tables[kind];
        table.spooled.push((self.spool_len, value.len() as u32));
        self.spool_len += value.len() as u64;
        let number = table.ids.push(record.id().as_bytes());
        table.sort_keys.push(&record.sort_key());
        if R::KIND != RecordKind::Incident {
            // Incidents are never the target of a stated link.
            self.numbers[kind].insert(record.id().into(), number);
        }
        if let Some(code) = record.country_code() {
            self.codes.push((code.to_owned(), number));
        }
        for (link, target) in record.links() {
            let target_kind = kind_index(link.ends().1);
            match self.numbers[target_kind].get(target) {
                Some(&linked) => self
                    .pairs
                    .entry(link)
                    .or_default()
                    .push(u64::from(number) << 32 | u64::from(linked)),
                None => self.pending.push((link, number, target.into())),
            }
        }
        for token in record.search_tokens() {
            // Most tokens were seen before: look up without allocating a key.
            let token_number = match self.tokens.get(token.as_str()) {
                Some(&known) => known,
                None => {
                    let added = self.token_text.push(token.as_bytes());
                    self.tokens.insert(token.into_boxed_str(), added);
                    added
                }
            };
            self.postings.push((token_number, kind as u8, number));
        }
        Ok(())
    }

    /// Writes everything taken in, replacing the store's contents, tagged `seed_hash`.
    pub fn finish(mut self, seed_hash: &str) -> Result<ImportSummary, StoreError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        tracing::debug!(
            records = self
                .tables
                .iter()
                .map(|table| table.ids.len())
                .sum::<usize>(),
            pairs = self.pairs.values().map(Vec::len).sum::<usize>(),
            postings = self.postings.len(),
            tokens = self.tokens.len(),
            "read the seed; writing"
        );
        self.spool
            .flush()
            .map_err(|source| spool_error(&self.spool_path, source))?;
        self.resolve_pending()?;
        let store = self.store;
        let inner = &store.inner;
        let _changing = store.changing();
        // From here until the end, neither the manifest nor the marker claims a finished
        // import, so a crash leaves a store that the next start imports again.
        Manifest::remove(&inner.path)?;
        inner
            .meta
            .clear()
            .map_err(|source| sled_error(keys::META_TREE, source))?;
        store.flush()?;
        for tree in store.data_trees() {
            tree.clear()
                .map_err(|source| sled_error("(data)", source))?;
        }

        let started = std::time::Instant::now();
        let orders: Vec<Orders> = self.tables.iter().map(Orders::of).collect();
        tracing::debug!(elapsed = ?started.elapsed(), "sorted ids and sort keys");
        // Records and orders on one thread, relationships and search on another: they
        // are different trees, which sled writes concurrently.
        let pairs = std::mem::take(&mut self.pairs);
        let postings = std::mem::take(&mut self.postings);
        let this = &self;
        let (first, second) = std::thread::scope(|scope| {
            let records = scope.spawn(|| -> Result<Totals, StoreError> {
                let mut totals = Totals::default();
                this.write_records(&orders, &mut totals)?;
                tracing::debug!(elapsed = ?started.elapsed(), "wrote records");
                this.write_orders(&orders, &mut totals)?;
                tracing::debug!(elapsed = ?started.elapsed(), "wrote orders");
                Ok(totals)
            });
            let mut totals = Totals::default();
            let indexes = this
                .write_links(pairs, &orders, &mut totals)
                .and_then(|()| {
                    tracing::debug!(elapsed = ?started.elapsed(), "wrote links");
                    this.write_search(postings, &orders, &mut totals)
                })
                .map(|()| totals);
            tracing::debug!(elapsed = ?started.elapsed(), "wrote search postings");
            let records = records
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (records, indexes)
        });
        let mut totals = first?;
        totals.absorb(second?);
        for (code, number) in &self.codes {
            let id = self.tables[kind_index(RecordKind::Country)]
                .ids
                .get(*number);
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
        tracing::debug!(elapsed = ?started.elapsed(), "wrote counts and flushed");
        drop(self.spool);
        // The spool is scratch: failing to remove it loses nothing.
        if let Err(error) = std::fs::remove_file(&self.spool_path) {
            tracing::warn!(path = %self.spool_path.display(), %error, "cannot remove the import spool");
        }

        let (records, index_entries) = (totals.records, totals.index_entries);
        let mut marker = sled::Batch::default();
        marker.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
        marker.insert(META_SEED_HASH, seed_hash.as_bytes());
        marker.insert(META_RECORDS, &records.to_be_bytes());
        marker.insert(META_INDEX_ENTRIES, &index_entries.to_be_bytes());
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

    fn resolve_pending(&mut self) -> Result<(), StoreError> {
        for (link, owner, target) in std::mem::take(&mut self.pending) {
            let (owner_kind, target_kind) = link.ends();
            let linked = *self.numbers[kind_index(target_kind)]
                .get(&target)
                .ok_or_else(|| StoreError::Dangling {
                    tree: link.tree(),
                    id: target.to_string(),
                    target: keys::record_tree(target_kind).to_owned(),
                })?;
            debug_assert!(owner_kind != target_kind || owner != linked);
            self.pairs
                .entry(link)
                .or_default()
                .push(u64::from(owner) << 32 | u64::from(linked));
        }
        // The id maps are only needed to resolve links; free them before writing.
        self.numbers = Default::default();
        self.tokens = FastMap::default();
        Ok(())
    }

    fn value(&self, kind: usize, number: u32) -> Result<Vec<u8>, StoreError> {
        let (offset, len) = self.tables[kind].spooled[number as usize];
        let mut value = vec![0; len as usize];
        read_at(self.spool.get_ref(), &mut value, offset)
            .map_err(|source| spool_error(&self.spool_path, source))?;
        Ok(value)
    }

    fn write_records(&self, orders: &[Orders], totals: &mut Totals) -> Result<(), StoreError> {
        for kind in RecordKind::ALL {
            let index = kind_index(kind);
            let name = keys::record_tree(kind);
            let mut writer = packed::Writer::new(&self.store.inner.records[&kind]);
            for &number in &orders[index].by_id {
                let value = self.value(index, number)?;
                writer
                    .push(self.tables[index].ids.get(number), &value)
                    .map_err(|source| packed_error(name, source))?;
            }
            let (entries, bytes) = writer
                .finish()
                .map_err(|source| packed_error(name, source))?;
            totals.records += entries;
            totals.logical_bytes += bytes;
        }
        Ok(())
    }

    fn write_orders(&self, orders: &[Orders], totals: &mut Totals) -> Result<(), StoreError> {
        for kind in RecordKind::ALL {
            let index = kind_index(kind);
            let name = keys::order_tree(kind);
            let table = &self.tables[index];
            let mut writer = packed::Writer::new(&self.store.inner.orders[&kind]);
            for &number in &orders[index].by_sort_key {
                writer
                    .push(table.sort_keys.get(number), table.ids.get(number))
                    .map_err(|source| packed_error(name, source))?;
            }
            let (entries, bytes) = writer
                .finish()
                .map_err(|source| packed_error(name, source))?;
            totals.count(keys::count_key(name, None), entries);
            totals.index(entries, bytes);
        }
        Ok(())
    }

    /// Both directions of every relationship, deduplicated, with the counts of long lists.
    fn write_links(
        &self,
        mut all_pairs: HashMap<Link, Vec<u64>>,
        orders: &[Orders],
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let mut forward: Vec<Link> = all_pairs.keys().copied().collect();
        forward.sort();
        for link in forward {
            let mut pairs = all_pairs.remove(&link).unwrap_or_default();
            for (direction, swapped) in [(link, false), (link.reverse(), true)] {
                let (owner_kind, linked_kind) = direction.ends();
                let (owner_orders, linked_orders) = (
                    &orders[kind_index(owner_kind)],
                    &orders[kind_index(linked_kind)],
                );
                // Rewrite each pair as `owner id rank << 32 | linked sort rank`: sorting
                // the numbers sorts the keys.
                for pair in pairs.iter_mut() {
                    let (first, second) = ((*pair >> 32) as u32, *pair as u32);
                    let (owner, linked) = if swapped {
                        (second, first)
                    } else {
                        (first, second)
                    };
                    *pair = u64::from(owner_orders.id_rank[owner as usize]) << 32
                        | u64::from(linked_orders.sort_rank[linked as usize]);
                }
                pairs.sort_unstable();
                pairs.dedup();
                self.write_link_tree(direction, &pairs, owner_orders, linked_orders, totals)?;
                // Back to record numbers, in the stated direction, for the reverse pass.
                for pair in pairs.iter_mut() {
                    let owner = owner_orders.by_id[(*pair >> 32) as usize];
                    let linked = linked_orders.by_sort_key[*pair as u32 as usize];
                    let (first, second) = if swapped {
                        (linked, owner)
                    } else {
                        (owner, linked)
                    };
                    *pair = u64::from(first) << 32 | u64::from(second);
                }
            }
        }
        Ok(())
    }

    fn write_link_tree(
        &self,
        link: Link,
        pairs: &[u64],
        owner_orders: &Orders,
        linked_orders: &Orders,
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let name = link.tree();
        let (owner_kind, linked_kind) = link.ends();
        let (owners, linked_table) = (
            &self.tables[kind_index(owner_kind)],
            &self.tables[kind_index(linked_kind)],
        );
        let mut writer = packed::Writer::new(&self.store.inner.links[&link]);
        let mut key = Vec::new();
        let mut run: Option<(u32, u64)> = None;
        for &pair in pairs {
            let owner = owner_orders.by_id[(pair >> 32) as usize];
            let linked = linked_orders.by_sort_key[pair as u32 as usize];
            match &mut run {
                Some((current, length)) if *current == owner => *length += 1,
                _ => {
                    if let Some((previous, length)) = run {
                        totals.count(
                            keys::count_key(&name, Some(&utf8(owners.ids.get(previous)))),
                            length,
                        );
                    }
                    run = Some((owner, 1));
                }
            }
            key.clear();
            key.extend_from_slice(owners.ids.get(owner));
            key.push(keys::SEPARATOR);
            key.extend_from_slice(linked_table.sort_keys.get(linked));
            writer
                .push(&key, linked_table.ids.get(linked))
                .map_err(|source| packed_error(&name, source))?;
        }
        if let Some((previous, length)) = run {
            totals.count(
                keys::count_key(&name, Some(&utf8(owners.ids.get(previous)))),
                length,
            );
        }
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(&name, source))?;
        totals.index(entries, bytes);
        Ok(())
    }

    fn write_search(
        &self,
        postings: Vec<(u32, u8, u32)>,
        orders: &[Orders],
        totals: &mut Totals,
    ) -> Result<(), StoreError> {
        let token_order = self.token_text.sorted();
        let token_rank = ranks(&token_order);
        let tags: Vec<u8> = RecordKind::ALL
            .iter()
            .map(|kind| keys::kind_tag(*kind))
            .collect();
        // Posting keys sort by token, kind tag, then id: pack the three ranks into one
        // number. Kind tags follow `RecordKind::ALL`'s order.
        let mut postings: Vec<u64> = postings
            .into_iter()
            .map(|(token, kind, number)| {
                u64::from(token_rank[token as usize]) << 32
                    | u64::from(kind) << 29
                    | u64::from(orders[kind as usize].id_rank[number as usize])
            })
            .collect();
        postings.sort_unstable();
        postings.dedup();
        let mut writer = packed::Writer::new(&self.store.inner.search);
        let mut key = Vec::new();
        let mut run: Option<(u32, u64)> = None;
        for posting in postings {
            let token = token_order[(posting >> 32) as usize];
            let kind = ((posting >> 29) & 0b111) as usize;
            let number = orders[kind].by_id[(posting & ((1 << 29) - 1)) as usize];
            match &mut run {
                Some((current, length)) if *current == token => *length += 1,
                _ => {
                    if let Some((previous, length)) = run {
                        totals.count(
                            keys::count_key(
                                keys::SEARCH_TREE,
                                Some(&utf8(self.token_text.get(previous))),
                            ),
                            length,
                        );
                    }
                    run = Some((token, 1));
                }
            }
            key.clear();
            key.extend_from_slice(self.token_text.get(token));
            key.push(keys::SEPARATOR);
            key.push(tags[kind]);
            key.extend_from_slice(self.tables[kind].ids.get(number));
            writer
                .push(&key, &[])
                .map_err(|source| packed_error(keys::SEARCH_TREE, source))?;
        }
        if let Some((previous, length)) = run {
            totals.count(
                keys::count_key(
                    keys::SEARCH_TREE,
                    Some(&utf8(self.token_text.get(previous))),
                ),
                length,
            );
        }
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(keys::SEARCH_TREE, source))?;
        totals.index(entries, bytes);
        Ok(())
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

    /// Lists that fit in a chunk are counted by reading them; longer ones get a count.
    fn count(&mut self, key: Vec<u8>, length: u64) {
        if length > MAX_CHUNK_ENTRIES as u64 {
            self.counts.push((key, length));
        }
    }
}
