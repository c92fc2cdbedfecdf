//! The store's life cycle: first start imports, later starts do not, an interrupted import
//! is redone, a changed seed or format is refused untouched, damage is reported cleanly.

use kyrgyz_relations::app::{self, AppError, Options};
use kyrgyz_relations::model::RecordKind;
use kyrgyz_relations::store::{Manifest, Store, StoreError, StoreState};

use crate::support::{
    edit_packed, edit_seed, open, raw_sled, record, retry_locked, seed_copy, try_open,
};

fn total(store: &Store) -> u64 {
    store.record_counts().expect("counts").values().sum()
}

#[test]
fn the_first_start_imports_and_the_second_does_not() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let options = Options::new(data.path());
    let first = open(&options);
    let summary = first.imported.expect("the first start imports");
    assert_eq!(summary.records, total(&first.store));
    assert!(summary.index_entries > summary.records);
    drop(first);

    let second = open(&options);
    assert!(second.imported.is_none(), "the second start imported again");
    assert_eq!(total(&second.store), summary.records);
}

#[test]
fn the_logical_size_counts_every_entry_the_import_wrote() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let opened = open(&Options::new(data.path()));
    let summary = opened.imported.expect("the first start imports");
    let size = opened.store.logical_size().expect("reads every tree");
    // Records and index entries, plus the few `meta` entries of the completion marker.
    let written = summary.records + summary.index_entries;
    assert!(
        (written..written + 8).contains(&size.entries),
        "{size:?} for {written} entries written"
    );
    // Every key is at least one byte; records' values (and links' ids) are counted too.
    assert!(size.key_bytes >= size.entries, "{size:?}");
    assert!(size.value_bytes >= summary.records, "{size:?}");
}

#[test]
fn an_interrupted_import_is_finished_by_the_next_start() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let options = Options::new(data.path());
    let complete = total(&open(&options).store);

    // What a kill -9 before the completion marker leaves: the manifest removed (the
    // import's first step), some trees written, no marker.
    std::fs::remove_file(Manifest::path(data.path())).expect("removes the manifest");
    {
        let db = raw_sled(data.path());
        db.open_tree("meta").expect("meta").clear().expect("clears");
        let incidents = db.open_tree("records/incidents").expect("tree");
        let first = incidents.first().expect("reads").expect("an incident").0;
        incidents.remove(first).expect("removes");
        db.flush().expect("flushes");
    }
    let store = retry_locked(|| Store::open(data.path(), 1 << 20));
    assert_eq!(store.state().expect("state"), StoreState::Incomplete);
    drop(store);

    let reopened = open(&options);
    assert!(
        reopened.imported.is_some(),
        "the unfinished import was not redone"
    );
    assert_eq!(total(&reopened.store), complete);
    assert!(matches!(
        reopened.store.state().expect("state"),
        StoreState::Ready { .. }
    ));
}

#[test]
fn a_changed_seed_is_refused_until_reseed() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let before = total(&open(&Options::new(data.path())).store);

    let seed = seed_copy();
    edit_seed(seed.path(), "incidents.json", |incidents| {
        incidents
            .as_array_mut()
            .expect("array")
            .retain(|incident| incident["id"] != "june-2010-riots");
        // Links are stated on both incidents: those to the removed one go with it.
        for incident in incidents.as_array_mut().expect("array") {
            if let Some(links) = incident
                .get_mut("links")
                .and_then(|links| links.as_array_mut())
            {
                links.retain(|link| link["incident"] != "june-2010-riots");
            }
        }
        record(incidents, "aksay-border-incident-2013")["title"] = "renamed".into();
    });
    let mut options = Options::new(data.path());
    options.seed_dir = Some(seed.path().to_owned());
    let error = try_open(&options).err().expect("a changed seed is refused");
    assert!(matches!(error, AppError::SeedChanged { .. }));
    assert!(error.to_string().contains("--reseed"), "{error}");

    let unchanged = open(&Options::new(data.path()));
    assert!(unchanged.imported.is_none());
    assert_eq!(total(&unchanged.store), before);
    drop(unchanged);

    options.reseed = true;
    let reseeded = open(&options);
    assert!(reseeded.imported.is_some());
    assert_eq!(total(&reseeded.store), before - 1);
    let aksay: std::sync::Arc<kyrgyz_relations::model::Incident> = reseeded
        .store
        .get("aksay-border-incident-2013")
        .expect("reads")
        .expect("exists");
    assert_eq!(aksay.title, "renamed");
}

#[test]
fn another_storage_format_is_refused() {
    let data = tempfile::tempdir().expect("a temporary directory");
    drop(open(&Options::new(data.path())));
    {
        let db = raw_sled(data.path());
        db.open_tree("meta")
            .expect("meta")
            .insert("format", &99u32.to_be_bytes())
            .expect("writes");
        db.flush().expect("flushes");
    }
    let error = try_open(&Options::new(data.path())).err().expect("refused");
    assert!(
        matches!(error, AppError::FormatChanged { found: 99, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("--reseed"));
}

#[test]
fn a_second_process_on_the_same_data_dir_gets_a_clear_error() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let _first = open(&Options::new(data.path()));
    let error = app::open_store(&Options::new(data.path()))
        .err()
        .expect("the lock holds");
    assert!(
        matches!(error, AppError::Store(StoreError::Locked { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("in use by another process"));
}

#[tokio::test]
async fn a_corrupted_record_is_an_internal_error_that_leaks_nothing() {
    let data = tempfile::tempdir().expect("a temporary directory");
    drop(open(&Options::new(data.path())));
    {
        let db = raw_sled(data.path());
        edit_packed(
            &db.open_tree("records/countries").expect("tree"),
            "russia",
            Some(&[1u8, 0xff, 0xff, 0xff, 0xff, 0xff]),
        );
        db.flush().expect("flushes");
    }
    let opened = open(&Options::new(data.path()));
    let schema_store = opened.store.clone();
    let executor = crate::support::executor(&opened.store, 0);
    let response = executor
        .schema()
        .execute(r#"{ country(code: "RU") { name } kg: country(code: "KG") { name } }"#)
        .await;
    let json = serde_json::to_value(&response).expect("json");
    assert_eq!(
        json["data"]["kg"]["name"], "Kyrgyzstan",
        "other fields still resolve"
    );
    assert_eq!(json["errors"][0]["extensions"]["code"], "INTERNAL");
    let message = json["errors"][0]["message"].as_str().expect("a message");
    assert!(
        !message.contains("russia") && !message.contains("records/") && !message.contains("decode"),
        "{message}"
    );

    // Over HTTP the error also carries the request id, to find the log line.
    let server = crate::support::TestServer::spawn_store(
        schema_store,
        Default::default(),
        Default::default(),
        Box::new(data),
    )
    .await;
    let body: serde_json::Value = reqwest::Client::new()
        .post(server.url("/graphql"))
        .header("x-request-id", "corrupt-7")
        .json(&serde_json::json!({ "query": r#"{ country(code: "RU") { name } }"# }))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "corrupt-7");
    server.shutdown().await;
}

/// Every kind's list holds each of its records once, in sort-key order, under the id the
/// store reads back from the key (the order trees store no ids of their own).
#[test]
fn every_record_kind_has_an_ordered_list_and_a_count() {
    use kyrgyz_relations::store::keys::SortKey;

    fn keyed<R: SortKey>(records: &[R], id: fn(&R) -> &str) -> Vec<(Vec<u8>, String)> {
        let mut keyed: Vec<_> = records
            .iter()
            .map(|record| (record.sort_key(), id(record).to_owned()))
            .collect();
        keyed.sort();
        keyed
    }
    let seed = kyrgyz_relations::seed::SeedSource::embedded()
        .validate()
        .expect("the embedded seed is valid");
    let app = crate::support::TestApp::new();
    for kind in RecordKind::ALL {
        let expected = match kind {
            RecordKind::Country => keyed(&seed.countries, |r| &r.id),
            RecordKind::Organization => keyed(&seed.organizations, |r| &r.id),
            RecordKind::Person => keyed(&seed.people, |r| &r.id),
            RecordKind::Agreement => keyed(&seed.agreements, |r| &r.id),
            RecordKind::Facility => keyed(&seed.facilities, |r| &r.id),
            RecordKind::Incident => keyed(&seed.incidents, |r| &r.id),
        };
        let list = kyrgyz_relations::store::List::All(kind);
        let entries: Vec<(Vec<u8>, String)> = app
            .store
            .scan(&list, kyrgyz_relations::store::KeyRange::ALL, false)
            .map(|entry| entry.map(|entry| (entry.key, entry.id)))
            .collect::<Result<_, _>>()
            .expect("scans");
        assert!(!entries.is_empty(), "{kind:?}");
        assert_eq!(entries, expected, "{kind:?}");
        assert_eq!(
            entries.len() as u64,
            app.store.count(&list).expect("counts"),
            "{kind:?}"
        );
    }
}

/// An order key that cannot end with an id (its date part has an unknown tag) is a
/// damaged store, named with its tree and key, not a record with a made-up id.
#[test]
fn a_list_key_without_an_id_is_damage_named_by_tree_and_key() {
    use kyrgyz_relations::store::packed::Writer;
    use kyrgyz_relations::store::{KeyRange, List};

    let data = seeded_dir();
    {
        let db = raw_sled(data.path());
        let tree = db.open_tree("order/incidents").expect("tree");
        let mut writer = Writer::new(&tree);
        writer.push(b"\x02damaged", &[]).expect("in order");
        writer.finish().expect("writes");
        db.flush().expect("flushes");
    }
    let store = retry_locked(|| Store::open(data.path(), 1 << 20));
    let error = store
        .scan(&List::All(RecordKind::Incident), KeyRange::ALL, false)
        .find_map(Result::err)
        .expect("the damaged key is an error");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Chunk { .. }), "{message}");
    assert!(message.contains("order/incidents"), "{message}");
    assert!(message.contains("damaged"), "{message}");
    assert!(
        message.contains("does not end with a record id"),
        "{message}"
    );
}

/// Imports the embedded seed into a new data directory and closes it.
fn seeded_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("a temporary directory");
    drop(open(&Options::new(data.path())));
    data
}

fn assert_refused_untouched(data: &std::path::Path, case: &str) {
    let manifest_before = std::fs::read(Manifest::path(data)).expect("the manifest exists");
    let result = std::panic::catch_unwind(|| try_open(&Options::new(data)));
    let outcome = result.unwrap_or_else(|_| panic!("{case}: opening a damaged store panicked"));
    let error = match outcome {
        Ok(_) => panic!("{case}: a damaged store was opened as if sound"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains(&data.display().to_string()),
        "{case}: the error does not name the data dir: {error}"
    );
    assert!(!error.contains("panicked at"), "{case}: {error}");
    assert_eq!(
        std::fs::read(Manifest::path(data)).expect("the manifest is still there"),
        manifest_before,
        "{case}: the store was re-seeded"
    );
}

/// Something done to a store's `db` file.
type Damage = fn(&std::path::Path);

#[test]
fn damaged_store_files_are_refused_not_reseeded() {
    let damages: [(&str, Damage); 4] = [
        ("truncated", |db| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(db)
                .expect("opens");
            let length = file.metadata().expect("metadata").len();
            file.set_len(length / 3).expect("truncates");
        }),
        ("zeroed", |db| {
            let length = std::fs::metadata(db).expect("metadata").len();
            std::fs::write(db, vec![0u8; length as usize]).expect("zeroes");
        }),
        ("overwritten", |db| {
            let mut bytes = std::fs::read(db).expect("reads");
            let start = bytes.len() / 4;
            for (offset, byte) in bytes[start..].iter_mut().enumerate() {
                *byte = (offset * 7 + 13) as u8;
            }
            std::fs::write(db, bytes).expect("overwrites");
        }),
        ("deleted", |db| std::fs::remove_file(db).expect("deletes")),
    ];
    for (case, damage) in damages {
        let data = seeded_dir();
        // Wait out this process's own lock on the directory before damaging it.
        drop(retry_locked(|| Store::open(data.path(), 1 << 20)));
        damage(&data.path().join("db"));
        assert_refused_untouched(data.path(), case);
    }
}

#[test]
fn a_lost_completion_marker_with_a_manifest_is_refused() {
    let data = seeded_dir();
    {
        let db = raw_sled(data.path());
        db.open_tree("meta").expect("meta").clear().expect("clears");
        db.flush().expect("flushes");
    }
    assert_refused_untouched(data.path(), "marker lost");
}

#[test]
fn a_missing_manifest_after_a_finished_import_is_rewritten() {
    let data = seeded_dir();
    let manifest = std::fs::read_to_string(Manifest::path(data.path())).expect("a manifest");
    std::fs::remove_file(Manifest::path(data.path())).expect("removes");
    let reopened = open(&Options::new(data.path()));
    assert!(
        reopened.imported.is_none(),
        "the finished import was redone"
    );
    assert_eq!(
        std::fs::read_to_string(Manifest::path(data.path())).expect("rewritten"),
        manifest
    );
}

#[test]
fn verify_finds_a_sound_store_sound_and_names_damage() {
    let data = seeded_dir();
    {
        let store = retry_locked(|| Store::open(data.path(), 1 << 20));
        assert_eq!(store.verify().expect("verifies"), Vec::<String>::new());
    }
    {
        let db = raw_sled(data.path());
        edit_packed(
            &db.open_tree("records/facilities").expect("tree"),
            "kant-air-base",
            Some(&[1u8, 9, 9]),
        );
        edit_packed(
            &db.open_tree("records/incidents").expect("tree"),
            "ferghana-clashes-2013",
            None,
        );
        db.flush().expect("flushes");
    }
    let store = retry_locked(|| Store::open(data.path(), 1 << 20));
    let problems = store.verify().expect("verifies");
    let all = problems.join("\n");
    assert!(
        all.contains("records/facilities` key `kant-air-base`"),
        "{all}"
    );
    assert!(all.contains("ferghana-clashes-2013"), "{all}");
    assert!(all.contains("manifest says"), "{all}");
}

/// The read cache holds decoded records and short lists between reads; a write must make
/// every one of them unreachable at once, on the same store handle that cached them.
#[test]
fn reads_after_a_change_never_see_what_the_read_cache_held() {
    use kyrgyz_relations::model::Incident;
    use kyrgyz_relations::store::{KeyRange, Link, List};

    let data = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(data.path(), 1024 * 1024).expect("opens");
    let before = kyrgyz_relations::seed::SeedSource::embedded()
        .validate()
        .expect("the embedded seed is valid");
    store.import(&before, "before").expect("imports");

    // An incident linked to a facility, and that facility's list of incidents.
    let incident = before
        .incidents
        .iter()
        .find(|incident| !incident.facilities.is_empty())
        .expect("an incident at a facility");
    let facility = incident.facilities[0].clone();
    let list = List::Linked(Link::FacilityIncidents, facility.clone());
    let listed = |store: &Store| -> Vec<String> {
        store
            .scan(&list, KeyRange::ALL, false)
            .map(|entry| entry.expect("scans").id)
            .collect()
    };
    let title = |store: &Store| -> String {
        let record: std::sync::Arc<Incident> =
            store.get(&incident.id).expect("reads").expect("exists");
        record.title.clone()
    };
    // Read twice: the second read of each is a hit.
    for _ in 0..2 {
        assert_eq!(title(&store), incident.title);
        assert!(listed(&store).contains(&incident.id));
    }
    let count_before = store.count(&list).expect("counts");
    assert!(
        store.read_cache_usage().hits >= 2,
        "{:?}",
        store.read_cache_usage()
    );

    let mut after = before.clone();
    let changed = after
        .incidents
        .iter_mut()
        .find(|changed| changed.id == incident.id)
        .expect("the incident");
    changed.title = format!("{} (renamed)", changed.title);
    changed.facilities.retain(|id| *id != facility);
    store.import(&after, "after").expect("imports again");

    assert_eq!(title(&store), format!("{} (renamed)", incident.title));
    assert!(!listed(&store).contains(&incident.id));
    assert_eq!(store.count(&list).expect("counts"), count_before - 1);
}

/// A directory's every entry, recursively, by path under it: each file with its bytes,
/// each directory with `None`. Shown as paths and sizes.
#[derive(PartialEq, Eq)]
struct Listing(std::collections::BTreeMap<std::path::PathBuf, Option<Vec<u8>>>);

impl std::fmt::Debug for Listing {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = formatter.debug_map();
        for (path, bytes) in &self.0 {
            match bytes {
                Some(bytes) => list.entry(path, &format!("{} bytes", bytes.len())),
                None => list.entry(path, &"directory"),
            };
        }
        list.finish()
    }
}

fn listing(dir: &std::path::Path) -> Listing {
    fn walk(root: &std::path::Path, dir: &std::path::Path, into: &mut Listing) {
        for entry in std::fs::read_dir(dir).expect("lists") {
            let path = entry.expect("an entry").path();
            let relative = path.strip_prefix(root).expect("under the root").to_owned();
            if path.is_dir() {
                into.0.insert(relative, None);
                walk(root, &path, into);
            } else {
                let bytes = std::fs::read(&path).expect("reads");
                into.0.insert(relative, Some(bytes));
            }
        }
    }
    let mut listed = Listing(Default::default());
    walk(dir, dir, &mut listed);
    listed
}

/// Seeds that are refused at different points of the import: before any record was
/// taken, after all but the last file's, and at the very end of the reading, each with a
/// word of the error it gives.
fn broken_seeds() -> Vec<(&'static str, tempfile::TempDir, &'static str)> {
    let invalid_json = seed_copy();
    std::fs::write(invalid_json.path().join("countries.json"), "[{").expect("writes");
    // Agreements come before facilities: a facility an agreement names is looked up
    // only once every file was read.
    let dangling_at_the_end = seed_copy();
    edit_seed(
        dangling_at_the_end.path(),
        "agreements.json",
        |agreements| {
            record(agreements, "manas-lease")["facilities"] = serde_json::json!(["nowhere"]);
        },
    );
    let last_record = seed_copy();
    edit_seed(last_record.path(), "incidents.json", |incidents| {
        let last = incidents
            .as_array_mut()
            .expect("an array")
            .last_mut()
            .expect("an incident");
        last["countries"] = serde_json::json!(["atlantis"]);
    });
    vec![
        (
            "invalid JSON in the first file",
            invalid_json,
            "countries.json:",
        ),
        (
            "a dangling reference found at the end",
            dangling_at_the_end,
            "nowhere",
        ),
        ("a bad last record", last_record, "atlantis"),
    ]
}

/// Opens `data` with the seed in `seed`, expecting the seed to be refused with `word` in
/// the error.
fn assert_seed_refused(data: &std::path::Path, seed: &std::path::Path, reseed: bool, word: &str) {
    let mut options = Options::new(data);
    options.seed_dir = Some(seed.to_owned());
    options.reseed = reseed;
    match try_open(&options) {
        Ok(_) => panic!("a broken seed was imported"),
        Err(error @ AppError::Seed(_)) => assert!(error.to_string().contains(word), "{error}"),
        Err(error) => panic!("refused, but not for its seed: {error}"),
    }
}

#[test]
fn a_refused_seed_does_not_create_the_data_directory() {
    for (case, seed, word) in broken_seeds() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let data = root.path().join("not/yet/data");
        assert_seed_refused(&data, seed.path(), false, word);
        // Neither the data directory nor the parents made for it are left.
        assert_eq!(listing(root.path()), Listing(Default::default()), "{case}");
    }
}

#[test]
fn a_refused_seed_leaves_an_existing_data_directory_as_it_was() {
    for (case, seed, word) in broken_seeds() {
        let empty = tempfile::tempdir().expect("a temporary directory");
        assert_seed_refused(empty.path(), seed.path(), false, word);
        assert_eq!(listing(empty.path()), Listing(Default::default()), "{case}");

        // Someone else's files: a refused start removes none of them.
        let used = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(used.path().join("notes.txt"), "kept").expect("writes");
        std::fs::create_dir(used.path().join("old")).expect("creates");
        std::fs::write(used.path().join("old/conf"), "kept too").expect("writes");
        let before = listing(used.path());
        assert_seed_refused(used.path(), seed.path(), false, word);
        assert_eq!(listing(used.path()), before, "{case}");
    }
}

/// A served store, restarted with `--reseed` and a broken seed: sled rewrites files when
/// it merely opens a store, so the store must not be opened before the seed is checked.
#[test]
fn a_refused_reseed_leaves_the_served_store_byte_for_byte() {
    // Not opened again after its import: the first start after one is when sled writes.
    let data = tempfile::tempdir().expect("a temporary directory");
    let imported = open(&Options::new(data.path())).imported;
    let records = imported.expect("the first start imports").records;
    // What this process's sled still holds of the store is written before the lock goes.
    retry_locked(|| Store::check_unlocked(data.path()));
    let before = listing(data.path());
    for (case, seed, word) in broken_seeds() {
        assert_seed_refused(data.path(), seed.path(), true, word);
        assert_eq!(listing(data.path()), before, "{case}");
    }

    let reopened = open(&Options::new(data.path()));
    assert!(reopened.imported.is_none(), "the store was imported again");
    assert_eq!(total(&reopened.store), records);
    assert_eq!(
        reopened.store.verify().expect("verifies"),
        Vec::<String>::new()
    );
}

/// The seed passes every check, but the import cannot take a record of 16 MiB (its
/// spool's limit): the import fails after reading the whole seed, in `Importer::sort`,
/// still before anything is written or the store opened.
#[test]
fn an_import_that_fails_after_the_seed_was_read_leaves_nothing_behind() {
    let seed = seed_copy();
    edit_seed(seed.path(), "incidents.json", |incidents| {
        let last = incidents
            .as_array_mut()
            .expect("an array")
            .last_mut()
            .expect("an incident");
        last["summary"] = "a".repeat(16 << 20).into();
    });
    let refused = |data: &std::path::Path, reseed: bool| {
        let mut options = Options::new(data);
        options.seed_dir = Some(seed.path().to_owned());
        options.reseed = reseed;
        match try_open(&options) {
            Err(error @ AppError::Import { .. }) => {
                assert!(error.to_string().contains("cannot hold more"), "{error}")
            }
            Err(error) => panic!("refused, but not by the import: {error}"),
            Ok(_) => panic!("a record larger than the spool allows was imported"),
        }
    };

    let root = tempfile::tempdir().expect("a temporary directory");
    refused(&root.path().join("data"), false);
    assert_eq!(listing(root.path()), Listing(Default::default()));

    let data = seeded_dir();
    retry_locked(|| Store::check_unlocked(data.path()));
    let before = listing(data.path());
    refused(data.path(), true);
    assert_eq!(listing(data.path()), before);
}

/// A store in use by another process is refused before a `--reseed`'s seed is read: the
/// error is the lock, not the broken seed, and the directory keeps every file.
#[test]
fn a_reseed_of_a_store_in_use_is_refused_before_reading_the_seed() {
    let data = seeded_dir();
    let held = retry_locked(|| Store::open(data.path(), 1 << 20));
    let names = |dir: &std::path::Path| listing(dir).0.into_keys().collect::<Vec<_>>();
    let before = names(data.path());
    let (_, seed, _) = broken_seeds().remove(0);
    let mut options = Options::new(data.path());
    options.seed_dir = Some(seed.path().to_owned());
    options.reseed = true;
    let error = app::open_store(&options).err().expect("the lock holds");
    assert!(
        matches!(error, AppError::Store(StoreError::Locked { .. })),
        "{error}"
    );
    assert_eq!(names(data.path()), before);
    drop(held);
}
