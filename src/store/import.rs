//! The import: writes a validated dataset and every index, crash-safely.
//!
//! The completion marker (format version and seed hash in `meta`) is removed and flushed
//! before anything else is written, and written and flushed only after everything else is.
//! A store without the marker is `Incomplete` and is imported again from scratch, so a
//! reader never sees half a seed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Actor, Dataset, RecordKind};

use super::keys::{self, Link};
use super::{
    codec, sled_error, Manifest, Record, Store, StoreError, FORMAT_VERSION, META_FORMAT,
    META_INDEX_ENTRIES, META_RECORDS, META_SEED_HASH,
};

/// sled applies a batch atomically and holds it in memory; this bounds that memory.
const BATCH_ENTRIES: usize = 4096;

/// What an import wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub records: u64,
    pub index_entries: u64,
}

impl Store {
    /// Replaces the store's contents with `dataset`, tagged with `seed_hash`.
    #[tracing::instrument(skip_all, fields(records = dataset.record_count()))]
    pub fn import(&self, dataset: &Dataset, seed_hash: &str) -> Result<ImportSummary, StoreError> {
        let inner = &self.inner;
        let _changing = self.changing();
        // From here until the end, neither the manifest nor the marker claims a finished
        // import, so a crash leaves a store that the next start imports again.
        Manifest::remove(&inner.path)?;
        inner
            .meta
            .clear()
            .map_err(|source| sled_error(keys::META_TREE, source))?;
        self.flush()?;

        let mut writer = Writer::default();
        writer.records(&dataset.countries);
        writer.records(&dataset.organizations);
        writer.records(&dataset.people);
        writer.records(&dataset.agreements);
        writer.records(&dataset.facilities);
        writer.records(&dataset.incidents);
        for country in &dataset.countries {
            writer.put(
                keys::COUNTRY_CODES_TREE,
                keys::country_code_key(&country.code),
                country.id.as_bytes().to_vec(),
            );
        }
        writer.links(dataset);
        let writer = writer.finish();
        // An encoding error means a model value bincode cannot represent: a bug, but
        // reported, never written.
        if let Some(error) = writer.error {
            return Err(error);
        }
        for tree in self.data_trees() {
            tree.clear()
                .map_err(|source| sled_error("(data)", source))?;
        }

        let mut records = 0;
        let mut index_entries = 0;
        for (tree_name, entries) in &writer.trees {
            let tree = self.tree_named(tree_name)?;
            for chunk in entries.chunks(BATCH_ENTRIES) {
                let mut batch = sled::Batch::default();
                for (key, value) in chunk {
                    batch.insert(key.as_slice(), value.as_slice());
                }
                tree.apply_batch(batch)
                    .map_err(|source| sled_error(tree_name, source))?;
                tracing::debug!(tree = %tree_name, entries = chunk.len(), "wrote batch");
            }
            if tree_name.starts_with("records/") {
                records += entries.len() as u64;
            } else {
                index_entries += entries.len() as u64;
            }
        }
        self.flush()?;

        let mut marker = sled::Batch::default();
        marker.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
        marker.insert(META_SEED_HASH, seed_hash.as_bytes());
        marker.insert(META_RECORDS, &records.to_be_bytes());
        marker.insert(META_INDEX_ENTRIES, &index_entries.to_be_bytes());
        inner
            .meta
            .apply_batch(marker)
            .map_err(|source| sled_error(keys::META_TREE, source))?;
        self.flush()?;
        Manifest {
            format_version: FORMAT_VERSION,
            seed_hash: seed_hash.to_owned(),
            records,
            index_entries,
        }
        .write(&inner.path)?;
        tracing::info!(records, index_entries, "import complete");
        Ok(ImportSummary {
            records,
            index_entries,
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

    fn tree_named(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.inner
            .db
            .open_tree(name)
            .map_err(|source| sled_error(name, source))
    }
}

type KeyValue = (Vec<u8>, Vec<u8>);

/// Every entry of every tree, before anything is written.
#[derive(Default)]
struct Writer {
    trees: BTreeMap<String, Vec<KeyValue>>,
    sort_keys: HashMap<(RecordKind, String), Vec<u8>>,
    counts: BTreeMap<Vec<u8>, u64>,
    error: Option<StoreError>,
}

impl Writer {
    fn put(&mut self, tree: &str, key: Vec<u8>, value: Vec<u8>) {
        self.trees
            .entry(tree.to_owned())
            .or_default()
            .push((key, value));
    }

    fn records<R: Record>(&mut self, records: &[R]) {
        let tree = keys::record_tree(R::KIND);
        let order = keys::order_tree(R::KIND);
        let mut tokens: BTreeSet<(String, &str)> = BTreeSet::new();
        for record in records {
            match codec::encode(record) {
                Ok(value) => self.put(tree, record.id().as_bytes().to_vec(), value),
                Err(source) => {
                    self.error.get_or_insert(StoreError::Encode {
                        tree: tree.to_owned(),
                        key: record.id().to_owned(),
                        source,
                    });
                }
            }
            let sort_key = record.sort_key();
            self.put(order, sort_key.clone(), record.id().as_bytes().to_vec());
            self.sort_keys
                .insert((R::KIND, record.id().to_owned()), sort_key);
            tokens.extend(
                record
                    .search_tokens()
                    .into_iter()
                    .map(|token| (token, record.id())),
            );
        }
        self.counts
            .insert(keys::count_key(order, None), records.len() as u64);
        for (token, id) in tokens {
            *self
                .counts
                .entry(keys::count_key(keys::SEARCH_TREE, Some(&token)))
                .or_default() += 1;
            self.put(
                keys::SEARCH_TREE,
                keys::posting_key(&token, R::KIND, id),
                Vec::new(),
            );
        }
    }

    /// Both directions of every relationship, deduplicated, and every list's count.
    fn links(&mut self, dataset: &Dataset) {
        let mut forward: Vec<(Link, &str, &str)> = Vec::new();
        for organization in &dataset.organizations {
            for member in &organization.members {
                forward.push((
                    Link::OrganizationCountries,
                    &organization.id,
                    &member.country,
                ));
            }
        }
        for person in &dataset.people {
            let countries = person
                .country
                .iter()
                .chain(person.roles.iter().flat_map(|role| &role.country));
            for country in countries {
                forward.push((Link::PersonCountries, &person.id, country));
            }
            for organization in person.roles.iter().flat_map(|role| &role.organization) {
                forward.push((Link::PersonOrganizations, &person.id, organization));
            }
        }
        for agreement in &dataset.agreements {
            for party in &agreement.parties {
                forward.push((Link::AgreementCountries, &agreement.id, party));
            }
            for facility in &agreement.facilities {
                forward.push((Link::AgreementFacilities, &agreement.id, facility));
            }
        }
        for facility in &dataset.facilities {
            for country in facility.involved_countries() {
                forward.push((Link::FacilityCountries, &facility.id, country));
            }
            if let Some(Actor::Organization(organization)) = &facility.operator {
                forward.push((Link::FacilityOrganizations, &facility.id, organization));
            }
        }
        for incident in &dataset.incidents {
            let id = incident.id.as_str();
            let links = [
                (Link::IncidentCountries, &incident.countries),
                (Link::IncidentOrganizations, &incident.organizations),
                (Link::IncidentPeople, &incident.people),
                (Link::IncidentAgreements, &incident.agreements),
                (Link::IncidentFacilities, &incident.facilities),
            ];
            for (link, linked) in links {
                forward.extend(linked.iter().map(|linked| (link, id, linked.as_str())));
            }
        }
        let pairs: BTreeSet<(Link, &str, &str)> = forward
            .into_iter()
            .flat_map(|(link, owner, linked)| {
                [(link, owner, linked), (link.reverse(), linked, owner)]
            })
            .collect();

        for (link, owner, linked) in pairs {
            let tree = link.tree();
            let sort_key = self
                .sort_keys
                .get(&(link.ends().1, linked.to_owned()))
                .cloned()
                .expect("validated datasets have no dangling references, so every linked id has a sort key");
            let mut key = keys::link_prefix(owner);
            key.extend_from_slice(&sort_key);
            self.put(&tree, key, linked.as_bytes().to_vec());
            *self
                .counts
                .entry(keys::count_key(&tree, Some(owner)))
                .or_default() += 1;
        }
    }

    /// Moves the accumulated counts into the counts tree's entries.
    fn finish(mut self) -> Self {
        let counts = std::mem::take(&mut self.counts);
        for (key, count) in counts {
            self.put(keys::COUNTS_TREE, key, count.to_be_bytes().to_vec());
        }
        self
    }
}
