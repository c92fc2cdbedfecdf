//! Assembly: the one way the server is built and run. `Application::build` opens the
//! store in the data directory (`open_store`: seeding it at first start, and checking that
//! it holds this seed in this storage format), builds the executor over it and the HTTP
//! router around that; `Application::run` serves it on a listener until shutdown. `main`'s
//! `serve` and the tests' spawner (`tests/it/support.rs`) both go through here.

use std::collections::HashSet;
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

use crate::executor::{Executor, ExecutorConfig};
use crate::http::{self, HttpConfig};
use crate::seed::{ReadIds, SeedError, SeedRecord, SeedSource, Sink};
use crate::store::{
    self, ImportSummary, Importer, Manifest, Prepared, Sorted, Store, StoreError, StoreState,
};

/// Everything the server is built from, each setting given once.
#[derive(Clone)]
pub struct Config {
    /// Where the data lives and which seed it comes from.
    pub store: Options,
    /// How requests are run: the guard's limits, the response cache, persisted queries.
    pub executor: ExecutorConfig,
    /// How HTTP behaves: body and time limits, CORS, GraphiQL, HTTP caching.
    pub http: HttpConfig,
}

impl Config {
    /// The embedded seed in `data_dir`, with default settings.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            store: Options::new(data_dir),
            executor: ExecutorConfig::default(),
            http: HttpConfig::default(),
        }
    }
}

/// The server, built and ready to run.
pub struct Application {
    store: Store,
    executor: Executor,
    http: HttpConfig,
    /// What was imported, when this start imported the seed.
    pub imported: Option<ImportSummary>,
    /// The content hash of the seed the store holds; `None` for an application built over
    /// a store opened elsewhere (`Application::over`).
    pub seed_hash: Option<String>,
}

impl Application {
    /// Opens (or seeds) the store as `config.store` says (`open_store`), and builds the
    /// executor and the router over it.
    pub fn build(config: Config) -> Result<Application, AppError> {
        let Opened {
            store,
            imported,
            seed_hash,
        } = open_store(&config.store)?;
        let mut application = Application::over(store, config.executor, config.http);
        application.imported = imported;
        application.seed_hash = Some(seed_hash);
        Ok(application)
    }

    /// The application over a store that is already open (a test's damaged or unseeded
    /// store, say): what `build` does once it has opened the store.
    pub fn over(store: Store, executor: ExecutorConfig, http: HttpConfig) -> Application {
        Application {
            executor: Executor::new(store.clone(), executor),
            store,
            http,
            imported: None,
            seed_hash: None,
        }
    }

    /// The store the application reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What runs its GraphQL requests, for in-process callers.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Serves the application on `listener` until `shutdown` completes, then lets requests
    /// in flight finish and flushes the store.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let limits = self.http.limits;
        let router = http::router(self.executor, self.store.clone(), self.http);
        http::serve(listener, router, self.store, limits, shutdown).await
    }
}

/// Where the data lives and which seed it comes from.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sled store's directory; created if missing (and removed again if the start
    /// is refused).
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
///
/// A refused start (an invalid seed, a failed import, any error) leaves the data directory
/// as it found it: a directory it created is removed again, and so is what it added to a
/// directory that held no store. A store that was there is not opened before a `reseed`'s
/// seed is read and checked (`open_or_seed`).
pub fn open_store(options: &Options) -> Result<Opened, AppError> {
    let seed = match &options.seed_dir {
        Some(dir) => SeedSource::from_dir(dir)?,
        None => SeedSource::embedded(),
    };
    let data_dir = DataDir::create(&options.data_dir)?;
    let opened = open_or_seed(options, &seed, &data_dir);
    match &opened {
        // The store is another process's: nothing in it is this start's to remove.
        Err(AppError::Store(StoreError::Locked { .. })) => {}
        // `open_or_seed` has dropped its store, so sled's files are closed.
        Err(_) => data_dir.restore(),
        Ok(_) => {}
    }
    opened
}

/// What the data directory was before this start created or added anything, so that a
/// refused start can leave it as it was.
struct DataDir {
    path: PathBuf,
    /// The directories this start created, the data directory last: it and its missing
    /// ancestors, outermost first. Empty when the data directory existed.
    created: Vec<PathBuf>,
    /// The names the data directory held, when it existed, could be listed and held no
    /// store (`db`). Only then are the store's files in it this start's.
    names: Option<HashSet<OsString>>,
    /// Whether this start opened the store (`open`), and so may have written sled's
    /// files. Until it did, another process may have, and they are not its to remove.
    opened: std::cell::Cell<bool>,
}

impl DataDir {
    /// Creates the data directory and any missing ancestor, noting what was there.
    fn create(path: &Path) -> Result<DataDir, AppError> {
        let mut created = Vec::new();
        let mut missing = Some(path);
        while let Some(dir) = missing.filter(|dir| !dir.as_os_str().is_empty() && !dir.exists()) {
            created.push(dir.to_owned());
            missing = dir.parent();
        }
        created.reverse();
        let names = if created.is_empty() {
            std::fs::read_dir(path)
                .and_then(|entries| {
                    entries
                        .map(|entry| entry.map(|entry| entry.file_name()))
                        .collect::<std::io::Result<HashSet<_>>>()
                })
                .ok()
                .filter(|names| !names.contains(std::ffi::OsStr::new("db")))
        } else {
            None
        };
        std::fs::create_dir_all(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source: source.into(),
        })?;
        Ok(DataDir {
            path: path.to_owned(),
            created,
            names,
            opened: std::cell::Cell::new(false),
        })
    }

    /// Opens (creating if needed) the store in the data directory.
    fn open(&self, options: &Options) -> Result<Store, StoreError> {
        self.opened.set(true);
        Store::open_with_read_cache(&self.path, options.cache_bytes, options.read_cache_bytes)
    }

    /// Removes what this start created. The import's spool has no name (`Importer`), so
    /// until the store was opened that is only the directories it made, each removed if
    /// still empty. Once it was opened: the directories it made, with everything in them;
    /// else, in a directory that held no store, the store's files it added
    /// (`store::is_store_file`), and nothing else. A directory that held a store keeps
    /// whatever it holds now: a start opens that store before reading the seed only
    /// without `reseed`, to learn whether to read it at all.
    fn restore(self) {
        let removed = |path: &Path, result: std::io::Result<()>| {
            if let Err(error) = result {
                tracing::warn!(path = %path.display(), %error, "cannot remove what a refused start created");
            }
        };
        if let Some(data_dir) = self.created.last() {
            if self.opened.get() {
                removed(data_dir, std::fs::remove_dir_all(data_dir));
            }
            // Each only while empty: anything another process put there meanwhile stays.
            for dir in self.created.iter().rev() {
                match std::fs::remove_dir(dir) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => break,
                    _ => {}
                }
            }
            tracing::debug!(path = %self.path.display(), "removed the data directory this start created");
            return;
        }
        let (Some(names), true) = (&self.names, self.opened.get()) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if names.contains(&name) || !store::is_store_file(&name) {
                continue;
            }
            let path = entry.path();
            let result = match entry.file_type() {
                Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
            removed(&path, result);
        }
        tracing::debug!(path = %self.path.display(), "removed the store files this start added");
    }
}

/// `open_store` in a data directory that exists.
fn open_or_seed(
    options: &Options,
    seed: &SeedSource,
    data_dir: &DataDir,
) -> Result<Opened, AppError> {
    let fingerprint = seed.fingerprint();
    let dir = &options.data_dir;
    let manifest = Manifest::read(dir)?;
    let open = || data_dir.open(options);
    if options.reseed {
        // The store's contents are replaced whatever they are: read and check the seed
        // before opening the store at all, since sled rewrites files (a snapshot, the
        // log's tail) merely by opening a store, and a refused seed must leave it as it
        // was. That a store in use elsewhere is refused need not wait for the seed.
        Store::check_unlocked(dir)?;
        let (sorted, seed_hash) = read_seed(seed, dir)?;
        return write(open()?, sorted, seed_hash, &fingerprint, dir);
    }
    let store = open()?;
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
    match checked_hash {
        Some(seed_hash) => Ok(Opened {
            store,
            imported: None,
            seed_hash,
        }),
        None => {
            let (sorted, seed_hash) = read_seed(seed, dir)?;
            write(store, sorted, seed_hash, &fingerprint, dir)
        }
    }
}

fn import_error(data_dir: &Path) -> impl Fn(StoreError) -> AppError + '_ {
    |source| AppError::Import {
        data_dir: data_dir.to_owned(),
        source,
    }
}

/// Reads and checks the seed into an importer spooling in `dir`, and sorts what it took
/// in: everything of an import but its writes, so any problem with the seed is found
/// before the store is touched. The seed's problems come first; then the importer's.
fn read_seed(seed: &SeedSource, dir: &Path) -> Result<(Sorted, String), AppError> {
    let mut importer = Importer::new(dir).map_err(import_error(dir))?;
    let seed_hash = read_into(seed, &mut importer)?;
    let sorted = importer.sort().map_err(import_error(dir))?;
    Ok((sorted, seed_hash))
}

/// Writes a sorted import into `store` and remembers the seed's fingerprint.
fn write(
    store: Store,
    sorted: Sorted,
    seed_hash: String,
    fingerprint: &str,
    dir: &Path,
) -> Result<Opened, AppError> {
    let summary = sorted
        .write(&store, &seed_hash)
        .map_err(import_error(dir))?;
    store
        .remember_seed_fingerprint(fingerprint)
        .map_err(import_error(dir))?;
    Ok(Opened {
        store,
        imported: Some(summary),
        seed_hash,
    })
}

/// The importer, as the seed reader's sink.
struct Importing<'i>(&'i mut Importer);

impl Sink<Prepared> for Importing<'_> {
    fn look_ahead<'p>(&mut self, prepared: impl Iterator<Item = &'p Prepared>) {
        self.0.look_ahead(prepared);
    }

    fn documents(&mut self, documents: &[crate::model::SourceDocument]) {
        self.0.documents(documents);
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
/// seed's hash, or its problems.
fn read_into(seed: &SeedSource, importer: &mut Importer) -> Result<String, SeedError> {
    let started = std::time::Instant::now();
    let prepare = |record: &SeedRecord| match record {
        SeedRecord::Country(record) => Prepared::of(record),
        SeedRecord::Organization(record) => Prepared::of(record),
        SeedRecord::Person(record) => Prepared::of(record),
        SeedRecord::Agreement(record) => Prepared::of(record),
        SeedRecord::Facility(record) => Prepared::of(record),
        SeedRecord::Incident(record) => Prepared::of(record),
    };
    let hash = seed.read_to(prepare, Importing(importer));
    tracing::debug!(elapsed = ?started.elapsed(), "read the seed");
    hash
}
