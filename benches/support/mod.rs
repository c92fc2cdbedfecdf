//! Setup shared by the store and query benches: a store imported from the embedded seed
//! and one imported from a generated seed, each in its own temporary directory.
//!
//! Setup runs once per bench binary, before any measurement, and is never timed.

use std::time::Instant;

use kyrgyz_relations::app::{self, Options};
use kyrgyz_relations::generate::{self, Scale};
use kyrgyz_relations::model::RecordKind;
use kyrgyz_relations::store::{KeyRange, List, Store};
use tempfile::TempDir;

/// Incidents in the generated seed: about 13,000 records with a tenth as many
/// agreements and a fifth as many facilities, generated and imported in about 3 s in
/// release.
pub const GENERATED_INCIDENTS: u64 = 10_000;

/// The generated seed's pseudo-random sequence; fixed so every run measures the same data.
const GENERATED_SEED: u64 = 1;

/// An open store and the directory it lives in.
pub struct Fixture {
    /// The label of the store in benchmark ids: `seed` or `generated-10k`.
    pub name: &'static str,
    pub store: Store,
    /// Keeps the seed and data directories until the fixture is dropped.
    _dir: TempDir,
}

impl Fixture {
    /// The embedded seed, imported into a fresh directory.
    pub fn seed() -> Fixture {
        let dir = tempfile::tempdir().expect("create a temporary directory for the seed store");
        let store = open(&Options::new(dir.path().join("data")));
        Fixture::new("seed", store, dir)
    }

    /// A seed of `GENERATED_INCIDENTS` incidents from `kyrgyz_relations::generate`,
    /// imported into a fresh directory.
    pub fn generated() -> Fixture {
        let started = Instant::now();
        let dir =
            tempfile::tempdir().expect("create a temporary directory for the generated store");
        let seed_dir = dir.path().join("seed");
        generate::generate(
            &seed_dir,
            &Scale::for_incidents(GENERATED_INCIDENTS),
            GENERATED_SEED,
        )
        .unwrap_or_else(|error| panic!("generate the benchmark seed: {error}"));
        let mut options = Options::new(dir.path().join("data"));
        options.seed_dir = Some(seed_dir);
        let store = open(&options);
        eprintln!(
            "setup: generated and imported {GENERATED_INCIDENTS} incidents in {:.1?}",
            started.elapsed()
        );
        Fixture::new("generated-10k", store, dir)
    }

    fn new(name: &'static str, store: Store, dir: TempDir) -> Fixture {
        Fixture {
            name,
            store,
            _dir: dir,
        }
    }

    /// The ids of every record of `kind`, in list order.
    pub fn ids(&self, kind: RecordKind) -> Vec<String> {
        self.store
            .scan(&List::All(kind), KeyRange::ALL, false)
            .map(|entry| entry.expect("scan a list of the benchmark store").id)
            .collect()
    }
}

fn open(options: &Options) -> Store {
    app::open_store(options)
        .unwrap_or_else(|error| panic!("open the benchmark store: {error}"))
        .store
}
