//! Assembly: opens the store in the data directory, seeding it at first start, and checks
//! that it holds this seed in this storage format.
//!
//! The one way the server is put together; `main` and the tests both call `open_store`.

use std::path::PathBuf;

use crate::seed::{SeedError, SeedSource};
use crate::store::{self, ImportSummary, Store, StoreError, StoreState};

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
}

impl Options {
    /// The embedded seed in `data_dir`, with default settings.
    pub fn new(data_dir: impl Into<PathBuf>) -> Options {
        Options {
            data_dir: data_dir.into(),
            seed_dir: None,
            reseed: false,
            cache_bytes: store::DEFAULT_CACHE_BYTES,
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
/// or `reseed` is set. A store holding another seed or format is refused, untouched.
pub fn open_store(options: &Options) -> Result<Opened, AppError> {
    let seed = match &options.seed_dir {
        Some(dir) => SeedSource::from_dir(dir)?,
        None => SeedSource::embedded(),
    };
    let seed_hash = seed.content_hash();
    std::fs::create_dir_all(&options.data_dir).map_err(|source| StoreError::Open {
        path: options.data_dir.clone(),
        source: source.into(),
    })?;
    let store = Store::open(&options.data_dir, options.cache_bytes)?;
    let state = store.state()?;
    let needs_import = match &state {
        _ if options.reseed => true,
        StoreState::Empty => true,
        StoreState::Incomplete => {
            tracing::warn!(data_dir = %options.data_dir.display(), "found an unfinished import; importing again");
            true
        }
        StoreState::Ready { format, .. } if *format != store::FORMAT_VERSION => {
            return Err(AppError::FormatChanged {
                data_dir: options.data_dir.clone(),
                found: *format,
                expected: store::FORMAT_VERSION,
            });
        }
        StoreState::Ready {
            seed_hash: stored, ..
        } if *stored != seed_hash => {
            return Err(AppError::SeedChanged {
                data_dir: options.data_dir.clone(),
                stored: stored.clone(),
                current: seed_hash,
                origin: seed.origin().to_owned(),
            });
        }
        StoreState::Ready { .. } => false,
    };
    let imported = if needs_import {
        // Validation happens before the store is touched: an invalid seed writes nothing.
        let dataset = seed.validate()?;
        Some(store.import(&dataset, &seed_hash)?)
    } else {
        None
    };
    Ok(Opened {
        store,
        imported,
        seed_hash,
    })
}
