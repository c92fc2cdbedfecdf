//! The import's crash-safety sequence, as `Sorted::write` runs it: `begin` before the
//! first write, `commit` after the last. In between, neither the manifest (`manifest.rs`)
//! nor the completion marker (format version and seed hash in `meta`) claims a finished
//! import, so a crash leaves a store without either, which is `Incomplete` and imported
//! again from scratch: a reader never sees half a seed.

use super::spool;
use crate::store::{
    keys, sled_error, Manifest, Store, StoreError, FORMAT_VERSION, META_DOCUMENTS, META_FORMAT,
    META_INDEX_ENTRIES, META_RECORDS, META_SEED_HASH,
};

/// The first step: withdraws the claim of a finished import, durably, before anything is
/// written: removes the manifest, clears the marker (all of `meta`) and flushes; then
/// empties every other tree.
pub(super) fn begin(store: &Store) -> Result<(), StoreError> {
    let inner = &store.inner;
    // From here until `commit`, neither the manifest nor the marker claims a finished
    // import, so a crash leaves a store that the next start imports again.
    Manifest::remove(&inner.path)?;
    // An earlier version's spool, left by a crash: the directory changes now anyway.
    spool::remove_old(&inner.path);
    inner
        .meta
        .clear()
        .map_err(|source| sled_error(keys::META_TREE, source))?;
    store.flush()?;
    for tree in store.data_trees() {
        tree.clear()
            .map_err(|source| sled_error("(data)", source))?;
    }
    Ok(())
}

/// What the completion marker says of a finished import.
pub(super) struct Marker<'a> {
    pub(super) seed_hash: &'a str,
    pub(super) records: u64,
    pub(super) index_entries: u64,
    /// The source documents, encoded (`codec`); `None` when none were given.
    pub(super) documents: Option<Vec<u8>>,
}

/// The last step, once every other tree is written and flushed: sets the marker (format
/// version, seed hash, what was written, the source documents) in one batch and flushes,
/// then writes the manifest.
pub(super) fn commit(store: &Store, marker: Marker<'_>) -> Result<(), StoreError> {
    let inner = &store.inner;
    let Marker {
        seed_hash,
        records,
        index_entries,
        documents,
    } = marker;
    let mut batch = sled::Batch::default();
    batch.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
    batch.insert(META_SEED_HASH, seed_hash.as_bytes());
    batch.insert(META_RECORDS, &records.to_be_bytes());
    batch.insert(META_INDEX_ENTRIES, &index_entries.to_be_bytes());
    if let Some(documents) = documents {
        batch.insert(META_DOCUMENTS, documents);
    }
    inner
        .meta
        .apply_batch(batch)
        .map_err(|source| sled_error(keys::META_TREE, source))?;
    store.flush()?;
    Manifest {
        format_version: FORMAT_VERSION,
        seed_hash: seed_hash.to_owned(),
        records,
        index_entries,
    }
    .write(&inner.path)
}
