//! `kyrgyz-relations generate`: synthetic seeds that validate, repeat for the same seed
//! number, and serve nested queries like the real one.

use kyrgyz_relations::app::Options;
use kyrgyz_relations::generate::{generate, GenerateError, Scale};
use kyrgyz_relations::schema::build_schema;
use kyrgyz_relations::seed::{SeedSource, FILES};

use crate::support::open;

fn files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|name| std::fs::read(dir.join(name)).expect("a generated file"))
        .collect()
}

#[test]
fn a_generated_seed_is_valid_and_the_same_for_the_same_seed_number() {
    let scale = Scale::for_incidents(3_000);
    let first = tempfile::tempdir().expect("a temporary directory");
    generate(first.path(), &scale, 42).expect("generates");
    let dataset = SeedSource::from_dir(first.path())
        .expect("reads")
        .validate()
        .unwrap_or_else(|error| panic!("the generated seed is invalid:\n{error}"));
    assert_eq!(
        (
            dataset.countries.len(),
            dataset.organizations.len(),
            dataset.people.len(),
            dataset.agreements.len(),
            dataset.facilities.len(),
            dataset.incidents.len(),
        ),
        (12, 4, 30, 300, 600, 3_000)
    );
    assert_eq!(dataset.record_count() as u64, scale.records());

    let again = tempfile::tempdir().expect("a temporary directory");
    generate(again.path(), &scale, 42).expect("generates");
    assert!(
        files(first.path()) == files(again.path()),
        "seed 42 twice differs"
    );

    let other = tempfile::tempdir().expect("a temporary directory");
    generate(other.path(), &scale, 43).expect("generates");
    assert!(
        files(first.path()) != files(other.path()),
        "seeds 42 and 43 agree"
    );

    match generate(first.path(), &scale, 42) {
        Err(GenerateError::Exists { path }) => assert!(path.starts_with(first.path())),
        other => panic!("overwrote a seed: {other:?}"),
    }
}

#[tokio::test]
async fn a_generated_store_answers_the_nested_path_with_skewed_fan_out() {
    let seed = tempfile::tempdir().expect("a temporary directory");
    generate(seed.path(), &Scale::for_incidents(2_000), 7).expect("generates");
    let data = tempfile::tempdir().expect("a temporary directory");
    let opened = open(&Options {
        seed_dir: Some(seed.path().to_owned()),
        ..Options::new(data.path())
    });
    let schema = build_schema(opened.store, Default::default());
    let response = schema
        .execute(
            r#"{
                first: country(code: "AA") { incidents { totalCount } facilities { totalCount } }
                last: country(code: "AL") { incidents { totalCount } }
                countries(first: 1) { nodes { agreements(first: 5) { nodes {
                    facilities(first: 5) { nodes { incidents(first: 5) { totalCount } } } } } } }
            }"#,
        )
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("JSON");
    let first = data["first"]["incidents"]["totalCount"]
        .as_u64()
        .expect("a count");
    let last = data["last"]["incidents"]["totalCount"]
        .as_u64()
        .expect("a count");
    assert!(
        first > 4 * last.max(1),
        "the first country should take part in far more incidents than the last: {first} vs {last}"
    );
    assert!(data["first"]["facilities"]["totalCount"].as_u64() > Some(0));
}

#[test]
fn a_generated_import_holds_every_record_and_link_both_ways_in_list_order() {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use kyrgyz_relations::model::{Agreement, Incident, RecordKind};
    use kyrgyz_relations::store::{KeyRange, Link, List};

    let seed = tempfile::tempdir().expect("a temporary directory");
    generate(seed.path(), &Scale::for_incidents(3_000), 5).expect("generates");
    let dataset = SeedSource::from_dir(seed.path())
        .expect("reads")
        .validate()
        .unwrap_or_else(|error| panic!("{error}"));
    let data = tempfile::tempdir().expect("a temporary directory");
    let store = open(&Options {
        seed_dir: Some(seed.path().to_owned()),
        ..Options::new(data.path())
    })
    .store;

    // What the records state, in both directions.
    let mut stated: BTreeMap<(Link, String), BTreeSet<String>> = BTreeMap::new();
    let mut state = |link: Link, owner: &str, linked: &[String]| {
        for linked in linked {
            stated
                .entry((link, owner.to_owned()))
                .or_default()
                .insert(linked.clone());
            stated
                .entry((link.reverse(), linked.clone()))
                .or_default()
                .insert(owner.to_owned());
        }
    };
    for incident in &dataset.incidents {
        state(Link::IncidentCountries, &incident.id, &incident.countries);
        state(Link::IncidentFacilities, &incident.id, &incident.facilities);
        state(Link::IncidentAgreements, &incident.id, &incident.agreements);
    }
    for agreement in &dataset.agreements {
        state(Link::AgreementCountries, &agreement.id, &agreement.parties);
        state(
            Link::AgreementFacilities,
            &agreement.id,
            &agreement.facilities,
        );
    }
    assert!(stated.len() > 1_000, "the seed states few links");

    // Every record reads back as it was stated.
    for incident in &dataset.incidents {
        let stored = store.get::<Incident>(&incident.id).expect("reads");
        assert_eq!(stored.as_deref(), Some(incident));
    }
    for agreement in &dataset.agreements {
        let stored = store.get::<Agreement>(&agreement.id).expect("reads");
        assert_eq!(stored.as_deref(), Some(agreement));
    }

    // Each kind's canonical order, to check each linked list is in it.
    let position: HashMap<RecordKind, HashMap<String, usize>> = RecordKind::ALL
        .into_iter()
        .map(|kind| {
            let ids = store
                .scan(&List::All(kind), KeyRange::ALL, false)
                .enumerate()
                .map(|(at, entry)| (entry.expect("reads").id, at))
                .collect();
            (kind, ids)
        })
        .collect();
    for ((link, owner), expected) in &stated {
        let list = List::Linked(*link, owner.clone());
        let listed: Vec<String> = store
            .scan(&list, KeyRange::ALL, false)
            .map(|entry| entry.expect("reads").id)
            .collect();
        assert_eq!(
            listed.iter().cloned().collect::<BTreeSet<_>>(),
            *expected,
            "{link:?} of `{owner}`"
        );
        let order = &position[&link.ends().1];
        assert!(
            listed
                .windows(2)
                .all(|pair| order[&pair[0]] < order[&pair[1]]),
            "{link:?} of `{owner}` is not in the list order of its kind: {listed:?}"
        );
        assert_eq!(
            store.count(&list).expect("counts"),
            expected.len() as u64,
            "{link:?} of `{owner}`"
        );
    }
}
