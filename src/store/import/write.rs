//! The import's last step (`Sorted::write`): every tree written in key order through
//! `packed::Writer`, by two threads taking one tree each, largest first, with the values
//! read back from the spool; between the crash-safety sequence's `begin` and `commit`.

use super::crash_safety::{self, Marker};
use super::sort::{ranks, Blocks, Orders, Sorted};
use super::spool::{spool_error, SpoolReader, SPOOL_WINDOW_BYTES, SPOOL_WINDOW_RECORDS};
use super::{kind_index, utf8, ImportSummary, Importer, RECORD_MASK, SPOOL_LENGTH_BITS};
use crate::arena::{Arena, GATHER};
use crate::model::RecordKind;
use crate::store::keys::{self, Link};
use crate::store::packed::{self, MAX_CHUNK_ENTRIES};
use crate::store::{packed_error, sled_error, Store, StoreError};

/// The tree writers wait for sled to write out what they gave it after every this many
/// bytes (`packed::Throttle`). 8, 16 and 32 MiB held the 1M import's peak alike and took
/// no longer than no throttle; 16 it is.
const FLUSH_EVERY_BYTES: u64 = 16 << 20;

/// Where `Sorted::write` writes: the store, and what holds its tree writers back while
/// sled's unwritten buffers pile up.
struct Target<'s> {
    store: &'s Store,
    throttle: packed::Throttle,
}

impl Sorted {
    /// Writes everything taken in into `store`, replacing its contents, tagged
    /// `seed_hash`, in the crash-safe sequence (`crash_safety`): `begin`, the trees,
    /// `commit`.
    pub fn write(self, store: &Store, seed_hash: &str) -> Result<ImportSummary, StoreError> {
        let _changing = store.changing();
        crash_safety::begin(store)?;
        let (totals, documents) = self.write_trees(store)?;
        let (records, index_entries) = (totals.records, totals.index_entries);
        crash_safety::commit(
            store,
            Marker {
                seed_hash,
                records,
                index_entries,
                documents,
            },
        )?;
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

    /// Writes every tree but `meta` (the counts and country codes last) and flushes, then
    /// frees the spool. Returns what was written, and the encoded source documents for
    /// the marker.
    fn write_trees(self, store: &Store) -> Result<(Totals, Option<Vec<u8>>), StoreError> {
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
        Ok((totals, documents))
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
            |owner: u32| keys::count_key(name, Some(&utf8(owner_orders.ids.get(owner))));
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
                    .map_err(|source| packed_error(name, source))?;
            }
        }
        runs.finish(totals, count_key);
        let (entries, bytes) = writer
            .finish()
            .map_err(|source| packed_error(name, source))?;
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
            Job::Links(link, _) => link.tree().to_owned(),
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
