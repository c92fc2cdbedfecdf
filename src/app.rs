//! Assembly: opens the store in the data directory, seeding it at first start, and checks
//! that it holds this seed in this storage format.
//!
//! The one way the server is put together; `main` and the tests both call `open_store`.

use std::path::PathBuf;

use crate::seed::{ReadIds, SeedError, SeedRecord, SeedSource, Sink};
use crate::store::{
    self, ImportSummary, Importer, Manifest, Prepared, Store, StoreError, StoreState,
};

/// Where the data lives and which seed it comes from.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sled store's directory; created if missing.
    pub data_dir: PathBuf,
    /// A directory of seed JSON files; `None` for the seed compiled into the binary.
    pub seed_dir: Option<PathBuf>,
    /// Replace the store's contents with the seed even if it holds another seed or format.
    pub reseed: bool,
    /// sled's page cache size, in bytes.
    pub cache_bytes: u64,
    /// The bound on decoded records and short lists held between reads, in bytes.
    pub read_cache_bytes: usize,
}

impl Options {
    /// The embedded seed in `data_dir`, with default settings.
    pub fn new(data_dir: impl Into<PathBuf>) -> Options {
        Options {
            data_dir: data_dir.into(),
            seed_dir: None,
            reseed: false,
            cache_bytes: store::DEFAULT_CACHE_BYTES,
            read_cache_bytes: store::DEFAULT_READ_CACHE_BYTES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the store in {data_dir} was imported from another seed (stored seed hash {stored}, \
         seed {origin} has hash {current}); nothing was changed. Start with --reseed to replace \
         the store's contents with this seed, or point --data-dir elsewhere"
    )]
    SeedChanged {
        data_dir: PathBuf,
        stored: String,
        current: String,
        origin: String,
    },
    #[error("cannot import the seed into the store in {data_dir}: {source}")]
    Import {
        data_dir: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error(
        "the store in {data_dir} uses storage format {found}, and this binary reads format \
         {expected}; nothing was changed. Start with --reseed to rebuild it from the seed"
    )]
    FormatChanged {
        data_dir: PathBuf,
        found: u32,
        expected: u32,
    },
}

/// An open store ready to serve, and what opening it did.
pub struct Opened {
    pub store: Store,
    /// What was imported, when this start imported the seed.
    pub imported: Option<ImportSummary>,
    /// The content hash of the seed the store holds.
    pub seed_hash: String,
}

/// Opens the store, importing the seed when the store is empty, was left half-imported,
/// or `reseed` is set. A store holding another seed or format is refused, untouched; so is
/// one that lost data its manifest says it had.
pub fn open_store(options: &Options) -> Result<Opened, AppError> {
    let seed = match &options.seed_dir {
        Some(dir) => SeedSource::from_dir(dir)?,
        None => SeedSource::embedded(),
    };
    let fingerprint = seed.fingerprint();
    let dir = &options.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
        path: dir.clone(),
        source: source.into(),
    })?;
    let manifest = Manifest::read(dir)?;
    let store = Store::open_with_read_cache(dir, options.cache_bytes, options.read_cache_bytes)?;
    let damaged = |reason: String| {
        AppError::Store(StoreError::Damaged {
            path: dir.clone(),
            reason: format!(
                "{reason}. Nothing was changed. Restore the data directory from a backup, or \
                 start with --reseed to rebuild it from the seed"
            ),
        })
    };
    // The seed's hash when the store holds this seed already; `None` when it must be
    // imported.
    let checked_hash: Option<String> = match (store.state()?, &manifest) {
        _ if options.reseed => None,
        (StoreState::Empty, None) => None,
        (StoreState::Incomplete, None) => {
            tracing::warn!(data_dir = %dir.display(), "found an unfinished import; importing again");
            None
        }
        (StoreState::Empty, Some(manifest)) => {
            return Err(damaged(format!(
                "it is empty, but its manifest says an import wrote {} records: its files were \
                 deleted or damaged",
                manifest.records
            )));
        }
        (StoreState::Incomplete, Some(_)) => {
            return Err(damaged(
                "its manifest says an import finished, but the store's own completion marker is \
                 missing"
                    .to_owned(),
            ));
        }
        (StoreState::Ready { format, .. }, _) if format != store::FORMAT_VERSION => {
            return Err(AppError::FormatChanged {
                data_dir: dir.clone(),
                found: format,
                expected: store::FORMAT_VERSION,
            });
        }
        (
            StoreState::Ready {
                seed_hash: stored, ..
            },
            manifest,
        ) => {
            // Hashing a large seed means reading all of it: skip that when the seed's
            // files are exactly as they were when this store imported them.
            let current = if store.seed_fingerprint()?.as_deref() == Some(fingerprint.as_str()) {
                stored.clone()
            } else {
                seed.content_hash()
            };
            if stored != current {
                return Err(AppError::SeedChanged {
                    data_dir: dir.clone(),
                    stored,
                    current,
                    origin: seed.origin(),
                });
            }
            let marker = store
                .marker_manifest()?
                .ok_or_else(|| damaged("its completion marker vanished".to_owned()))?;
            let held = store.total_records()?;
            match manifest {
                Some(manifest) if *manifest != marker || held != manifest.records => {
                    return Err(damaged(format!(
                        "its manifest ({} records, seed {}) disagrees with the store ({held} records, seed {})",
                        manifest.records, manifest.seed_hash, marker.seed_hash
                    )));
                }
                Some(_) => {}
                // The process stopped between finishing the import and writing the manifest.
                None => marker.write(dir)?,
            }
            Some(current)
        }
    };
    let import_error = |source| AppError::Import {
        data_dir: dir.clone(),
        source,
    };
    let (imported, seed_hash) = match checked_hash {
        Some(seed_hash) => (None, seed_hash),
        None => {
            // The importer writes nothing until `finish`, and `read` fails before that
            // on any problem: an invalid seed changes nothing.
            let importer = store.importer().map_err(import_error)?;
            let (seed_hash, importer) = read_into(&seed, importer);
            let seed_hash = seed_hash?;
            let summary = importer.finish(&seed_hash).map_err(import_error)?;
            store
                .remember_seed_fingerprint(&fingerprint)
                .map_err(import_error)?;
            (Some(summary), seed_hash)
        }
    };
    Ok(Opened {
        store,
        imported,
        seed_hash,
    })
}

/// The importer, as the seed reader's sink.
struct Importing<'i, 's>(&'i mut Importer<'s>);

impl Sink<Prepared> for Importing<'_, '_> {
    fn look_ahead<'p>(&mut self, prepared: impl Iterator<Item = &'p Prepared>) {
        self.0.look_ahead(prepared);
    }

    fn take(&mut self, record: &SeedRecord, prepared: &Prepared, ids: &ReadIds<'_>) {
        // The importer numbers records as the seed reader does: it resolves links with
        // the reader's ids, which the reader has just looked them up in.
        let known = &|kind, id: &str| ids.number(kind, id);
        let importer = &mut *self.0;
        match record {
            SeedRecord::Country(record) => importer.add_prepared(record, prepared, known),
            SeedRecord::Organization(record) => importer.add_prepared(record, prepared, known),
            SeedRecord::Person(record) => importer.add_prepared(record, prepared, known),
            SeedRecord::Agreement(record) => importer.add_prepared(record, prepared, known),
            SeedRecord::Facility(record) => importer.add_prepared(record, prepared, known),
            SeedRecord::Incident(record) => importer.add_prepared(record, prepared, known),
        }
    }
}

/// Reads the seed into the importer. The seed reader parses on every core, and there
/// prepares each record for the import (encodes it, works out its sort key and search
/// tokens); it hands the records on here, in order, as they are checked. Returns the
/// seed's hash (or its problems) and the importer.
fn read_into<'s>(
    seed: &SeedSource,
    mut importer: Importer<'s>,
) -> (Result<String, SeedError>, Importer<'s>) {
    let started = std::time::Instant::now();
    let prepare = |record: &SeedRecord| match record {
        SeedRecord::Country(record) => Prepared::of(record),
        SeedRecord::Organization(record) => Prepared::of(record),
        SeedRecord::Person(record) => Prepared::of(record),
        SeedRecord::Agreement(record) => Prepared::of(record),
        SeedRecord::Facility(record) => Prepared::of(record),
        SeedRecord::Incident(record) => Prepared::of(record),
    };
    let hash = seed.read_to(prepare, Importing(&mut importer));
    tracing::debug!(elapsed = ?started.elapsed(), "read the seed");
    (hash, importer)
}
