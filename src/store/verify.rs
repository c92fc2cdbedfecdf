//! Offline verification of a store: every value decodes, every index entry points at a
//! record and back, every count matches, and the manifest agrees.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::model::{Agreement, Country, Facility, Incident, Organization, Person, RecordKind};

use super::keys::{self, Link};
use super::{codec, packed, packed_error, List, Manifest, Record, Store, StoreError, StoreState};

/// Every entry of a packed tree, in key order.
fn all(tree: &sled::Tree) -> impl Iterator<Item = Result<packed::Item, packed::PackedError>> + '_ {
    packed::range(
        tree,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        false,
    )
}

impl Store {
    /// Reads the whole store and returns every inconsistency found, each naming its tree
    /// and key. An empty list means the store is sound.
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        match self.state()? {
            StoreState::Ready { .. } => {}
            state => problems.push(format!("the store holds no finished import ({state:?})")),
        }
        let mut totals: HashMap<RecordKind, u64> = HashMap::new();
        totals.insert(
            RecordKind::Country,
            self.verify_records::<Country>(&mut problems)?,
        );
        totals.insert(
            RecordKind::Organization,
            self.verify_records::<Organization>(&mut problems)?,
        );
        totals.insert(
            RecordKind::Person,
            self.verify_records::<Person>(&mut problems)?,
        );
        totals.insert(
            RecordKind::Agreement,
            self.verify_records::<Agreement>(&mut problems)?,
        );
        totals.insert(
            RecordKind::Facility,
            self.verify_records::<Facility>(&mut problems)?,
        );
        totals.insert(
            RecordKind::Incident,
            self.verify_records::<Incident>(&mut problems)?,
        );

        for kind in RecordKind::ALL {
            let tree = keys::order_tree(kind);
            let mut entries = 0;
            for entry in self.scan(&List::All(kind), super::KeyRange::ALL, false) {
                let entry = entry?;
                entries += 1;
                if !self.contains(kind, &entry.id)? {
                    problems.push(format!(
                        "`{tree}` lists `{}`, which is not a record",
                        entry.id
                    ));
                }
            }
            let counted = self.count(&List::All(kind))?;
            let records = totals[&kind];
            if entries != records || counted != records {
                problems.push(format!(
                    "`{tree}` has {entries} entries and a count of {counted} for {records} records"
                ));
            }
        }
        for link in Link::ALL {
            self.verify_link(link, &mut problems)?;
        }
        if let Err(error) = self.source_documents() {
            problems.push(format!("the source documents: {error}"));
        }
        let total: u64 = totals.values().sum();
        match Manifest::read(self.path())? {
            Some(manifest) if manifest.records != total => problems.push(format!(
                "the manifest says {} records, the store holds {total}",
                manifest.records
            )),
            Some(_) => {}
            None => problems.push("there is no manifest".to_owned()),
        }
        Ok(problems)
    }

    /// The logical size of the store: how many entries its trees hold (sled's own default
    /// tree and `meta` included) and the bytes of their keys and values, counting each
    /// entry of a packed tree as if it were stored on its own. What the files on disk
    /// are compared with: the rest is sled's overhead, less what packing saves.
    pub fn logical_size(&self) -> Result<LogicalSize, StoreError> {
        let mut size = LogicalSize::default();
        for name in self.inner.db.tree_names() {
            let tree_name = String::from_utf8_lossy(&name).into_owned();
            let tree = self
                .inner
                .db
                .open_tree(&name)
                .map_err(|source| super::sled_error(&tree_name, source))?;
            let packed = tree_name.starts_with("records/")
                || tree_name.starts_with("order/")
                || tree_name.starts_with("link/")
                || tree_name == keys::SEARCH_TREE;
            if packed {
                for item in all(&tree) {
                    let (key, value) = item.map_err(|source| packed_error(&tree_name, source))?;
                    size.entries += 1;
                    size.key_bytes += key.len() as u64;
                    size.value_bytes += value.len() as u64;
                }
            } else {
                for item in tree.iter() {
                    let (key, value) =
                        item.map_err(|source| super::sled_error(&tree_name, source))?;
                    size.entries += 1;
                    size.key_bytes += key.len() as u64;
                    size.value_bytes += value.len() as u64;
                }
            }
        }
        Ok(size)
    }

    /// Decodes every record of kind `R`, checking its key; returns how many there are.
    fn verify_records<R: Record>(&self, problems: &mut Vec<String>) -> Result<u64, StoreError> {
        let tree_name = keys::record_tree(R::KIND);
        let mut count = 0;
        for item in all(&self.inner.records[&R::KIND]) {
            let (key, value) = match item {
                Ok(item) => item,
                Err(packed::PackedError::Sled(source)) => {
                    return Err(super::sled_error(tree_name, source))
                }
                Err(error) => {
                    problems.push(format!(
                        "`{tree_name}`: {error}; the rest of the tree is unread"
                    ));
                    break;
                }
            };
            count += 1;
            let key = String::from_utf8_lossy(&key).into_owned();
            match codec::decode::<R>(&value) {
                Ok(record) if record.id() == key => {}
                Ok(record) => problems.push(format!(
                    "`{tree_name}` holds `{}` under key `{key}`",
                    record.id()
                )),
                Err(error) => problems.push(format!("`{tree_name}` key `{key}`: {error}")),
            }
        }
        Ok(count)
    }

    /// Every entry of a link tree names two records, appears reversed in the reverse tree,
    /// and is counted. Linear in the size of the two trees: the reverse tree is read once
    /// into a set of pair fingerprints, then every forward entry is one set lookup.
    fn verify_link(&self, link: Link, problems: &mut Vec<String>) -> Result<(), StoreError> {
        let tree_name = link.tree();
        let (owner_kind, linked_kind) = link.ends();
        let mut reversed = HashSet::new();
        // The reverse tree's own malformed keys are reported when it is verified itself.
        self.for_each_link_entry(link.reverse(), &mut Vec::new(), |owner, linked| {
            reversed.insert(pair_fingerprint(linked, owner));
            Ok(())
        })?;
        let mut per_owner: HashMap<String, u64> = HashMap::new();
        let mut found = Vec::new();
        self.for_each_link_entry(link, problems, |owner, linked| {
            match per_owner.get_mut(owner) {
                Some(entries) => *entries += 1,
                None => {
                    per_owner.insert(owner.to_owned(), 1);
                    if !self.contains(owner_kind, owner)? {
                        found.push(format!(
                            "`{tree_name}` has an entry for missing owner `{owner}`"
                        ));
                    }
                }
            }
            if !self.contains(linked_kind, linked)? {
                found.push(format!(
                    "`{tree_name}` links `{owner}` to missing `{linked}`"
                ));
            }
            if !reversed.contains(&pair_fingerprint(owner, linked)) {
                found.push(format!(
                    "`{tree_name}` links `{owner}` to `{linked}`, but `{}` does not link back",
                    link.reverse().tree()
                ));
            }
            Ok(())
        })?;
        problems.append(&mut found);
        for (owner, entries) in per_owner {
            let counted = self.count(&List::Linked(link, owner.clone()))?;
            if counted != entries {
                problems.push(format!(
                    "`{tree_name}` has {entries} entries for `{owner}` but a count of {counted}"
                ));
            }
        }
        Ok(())
    }

    /// Calls `visit(owner, linked)` for every well-formed entry of a link tree, reporting
    /// malformed keys as problems.
    fn for_each_link_entry(
        &self,
        link: Link,
        problems: &mut Vec<String>,
        mut visit: impl FnMut(&str, &str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tree_name = link.tree();
        let linked_kind = link.ends().1;
        for item in all(&self.inner.links[&link]) {
            let (key, _) = match item {
                Ok(item) => item,
                Err(packed::PackedError::Sled(source)) => {
                    return Err(super::sled_error(tree_name, source))
                }
                Err(error) => {
                    problems.push(format!(
                        "`{tree_name}`: {error}; the rest of the tree is unread"
                    ));
                    break;
                }
            };
            let Some(split) = key.iter().position(|byte| *byte == keys::SEPARATOR) else {
                problems.push(format!("`{tree_name}` has a key without an owner: {key:?}"));
                continue;
            };
            let Some(linked) = keys::id_in_sort_key(linked_kind, &key[split + 1..]) else {
                problems.push(format!(
                    "`{tree_name}` has a key without the linked record's id: {key:?}"
                ));
                continue;
            };
            let owner = String::from_utf8_lossy(&key[..split]);
            visit(&owner, &String::from_utf8_lossy(linked))?;
        }
        Ok(())
    }

    fn contains(&self, kind: RecordKind, id: &str) -> Result<bool, StoreError> {
        packed::get(&self.inner.records[&kind], id.as_bytes())
            .map(|value| value.is_some())
            .map_err(|source| packed_error(keys::record_tree(kind), source))
    }
}

/// Entries and bytes of keys and values in every tree of a store; see `logical_size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogicalSize {
    pub entries: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
}

/// A 64-bit fingerprint of an (owner, linked) pair. Keeping fingerprints instead of the
/// strings bounds memory at 8 bytes an entry, so a million-record store verifies in a few
/// hundred MiB; a collision could hide one missing back-link with odds of about 2^-64
/// per pair, which is acceptable for a diagnostic.
fn pair_fingerprint(owner: &str, linked: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (owner, linked).hash(&mut hasher);
    hasher.finish()
}
