//! `kyrgyz-relations generate`: synthetic seeds that validate, repeat for the same seed
//! number, and serve nested queries like the real one.

use kyrgyz_relations::app::Options;
use kyrgyz_relations::generate::{generate, GenerateError, Scale};
use kyrgyz_relations::model::Dataset;
use kyrgyz_relations::schema::{parse_global_id, AppSchema};
use kyrgyz_relations::seed::{SeedSource, FILES};

use crate::support::open;

fn files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    FILES
        .iter()
        .map(|name| std::fs::read(dir.join(name)).expect("a generated file"))
        .collect()
}

/// A generated seed of `incidents` incidents from seed number `number`, and its records.
fn generated(incidents: u64, number: u64) -> (tempfile::TempDir, Dataset) {
    let seed = tempfile::tempdir().expect("a temporary directory");
    generate(seed.path(), &Scale::for_incidents(incidents), number).expect("generates");
    let dataset = SeedSource::from_dir(seed.path())
        .expect("reads")
        .validate()
        .unwrap_or_else(|error| panic!("{error}"));
    (seed, dataset)
}

/// `generated`, with every ninth incident's date made one the generator never writes: an
/// open start, an open end, a span of years or a decade, as the real seed has.
fn generated_with_open_dates(incidents: u64, number: u64) -> (tempfile::TempDir, Dataset) {
    let (seed, _) = generated(incidents, number);
    let path = seed.path().join("incidents.json");
    let text = std::fs::read_to_string(&path).expect("reads the incidents");
    let mut records: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
    for (at, record) in records.iter_mut().enumerate().step_by(9) {
        let year = 1992 + at % 30;
        record["occurred"] = serde_json::json!(match at / 9 % 4 {
            0 => format!("../{year}-04"),
            1 => format!("{year}/.."),
            2 => format!("{year}-05/{}-02", year + 2),
            _ => "199X".to_owned(),
        });
    }
    let text = serde_json::to_string_pretty(&records).expect("serializes");
    std::fs::write(&path, text).expect("writes the incidents");
    let dataset = SeedSource::from_dir(seed.path())
        .expect("reads")
        .validate()
        .unwrap_or_else(|error| panic!("{error}"));
    (seed, dataset)
}

/// The schema over a store seeded from `seed` with a read cache of `read_cache_bytes`,
/// and the directory that holds the store.
fn schema_over(seed: &std::path::Path, read_cache_bytes: usize) -> (AppSchema, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("a temporary directory");
    let store = open(&Options {
        seed_dir: Some(seed.to_owned()),
        read_cache_bytes,
        ..Options::new(data.path())
    })
    .store;
    (crate::support::executor(&store, 0).schema().clone(), data)
}

/// The `data` of `query` with `variables`, failing the test on any error.
async fn data_of(
    schema: &AppSchema,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let shown = variables.to_string();
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let response = schema.execute(request).await;
    assert!(
        response.errors.is_empty(),
        "{query} {shown}: {:?}",
        response.errors
    );
    response.data.into_json().expect("JSON")
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
    let (schema, _store) = schema_over(
        seed.path(),
        kyrgyz_relations::store::DEFAULT_READ_CACHE_BYTES,
    );
    let data = data_of(
        &schema,
        r#"{
            first: country(code: "AA") { incidents { totalCount } facilities { totalCount } }
            last: country(code: "AL") { incidents { totalCount } }
            countries(first: 1) { nodes { agreements(first: 5) { nodes {
                facilities(first: 5) { nodes { incidents(first: 5) { totalCount } } } } } } }
        }"#,
        serde_json::json!({}),
    )
    .await;
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

    let (seed, dataset) = generated(3_000, 5);
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

#[tokio::test]
async fn search_finds_exactly_the_records_holding_every_word_and_pages_both_ways() {
    use std::collections::BTreeSet;

    use kyrgyz_relations::model::RecordKind;
    use kyrgyz_relations::store::search::query_tokens;
    use kyrgyz_relations::store::Record;
    use serde_json::json;

    let (seed, dataset) = generated(3_000, 11);

    // Every record's kind, id and tokens, in the order search lists them: by kind
    // (countries first, incidents last), then id.
    fn searchable<R: Record>(
        records: &[R],
    ) -> impl Iterator<Item = (RecordKind, String, BTreeSet<String>)> + '_ {
        records
            .iter()
            .map(|record| (R::KIND, record.id().to_owned(), record.search_tokens()))
    }
    let mut records: Vec<_> = searchable(&dataset.countries)
        .chain(searchable(&dataset.organizations))
        .chain(searchable(&dataset.people))
        .chain(searchable(&dataset.agreements))
        .chain(searchable(&dataset.facilities))
        .chain(searchable(&dataset.incidents))
        .collect();
    records.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let expected = |text: &str| -> Vec<(String, String)> {
        let words = query_tokens(text);
        records
            .iter()
            .filter(|(_, _, tokens)| words.is_subset(tokens))
            .map(|(kind, id, _)| (kind.type_name().to_owned(), id.clone()))
            .collect()
    };

    // Words with a few postings (a number), with more than a chunk's (a type's name,
    // "synthetic"), and with none, alone and together: every way matches are found. Two
    // common words that no record has both of ("Agreement incident") must not be counted
    // by the postings of either.
    let texts = [
        "Incident 1234",
        "1234",
        "1234 12",
        "agreement",
        "Synthetic incident",
        "Agreement incident",
        "synthetic number 7",
        "Person 7",
        "incident zzzz",
        "zzzz",
    ];
    for read_cache_bytes in [kyrgyz_relations::store::DEFAULT_READ_CACHE_BYTES, 0] {
        let (schema, _store) = schema_over(seed.path(), read_cache_bytes);
        // `totalCount` is asked for on the first page only: a count of common words walks
        // every match.
        let query = r#"query($text: String!, $count: Boolean!, $first: Int, $after: String, $last: Int, $before: String) {
            search(text: $text, first: $first, after: $after, last: $last, before: $before) {
                totalCount @include(if: $count)
                pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                nodes { __typename ... on Node { id } }
            }
        }"#;
        let page = |variables: serde_json::Value| {
            let schema = &schema;
            async move { data_of(schema, query, variables).await["search"].clone() }
        };
        let listed = |page: &serde_json::Value| -> Vec<(String, String)> {
            page["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|node| {
                    let type_name = node["__typename"].as_str().expect("a type").to_owned();
                    let id = async_graphql::ID(node["id"].as_str().expect("an id").to_owned());
                    let (kind, slug) = parse_global_id(&id).expect("a global id");
                    assert_eq!(kind.type_name(), type_name);
                    (type_name, slug)
                })
                .collect()
        };
        for text in texts {
            let expected = expected(text);
            let context = format!("`{text}` with a read cache of {read_cache_bytes} bytes");
            // Forward, then backward, 61 at a time (not a multiple of a chunk's 64).
            let (mut forward, mut after) = (Vec::new(), None::<String>);
            loop {
                let count = after.is_none();
                let page =
                    page(json!({ "text": text, "count": count, "first": 61, "after": after }))
                        .await;
                if count {
                    assert_eq!(page["totalCount"], json!(expected.len()), "{context}");
                }
                forward.extend(listed(&page));
                if page["pageInfo"]["hasNextPage"] != json!(true) {
                    break;
                }
                after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
            }
            assert_eq!(forward, expected, "{context}, forward");
            let (mut backward, mut before) = (Vec::new(), None::<String>);
            loop {
                let count = before.is_none();
                let page =
                    page(json!({ "text": text, "count": count, "last": 61, "before": before }))
                        .await;
                if count {
                    assert_eq!(page["totalCount"], json!(expected.len()), "{context}");
                }
                backward.splice(0..0, listed(&page));
                if page["pageInfo"]["hasPreviousPage"] != json!(true) {
                    break;
                }
                before = page["pageInfo"]["startCursor"].as_str().map(str::to_owned);
            }
            assert_eq!(backward, expected, "{context}, backward");
        }
        // The texts cover every case: no match, a few, one chunk's worth and many.
        let sizes: Vec<usize> = texts.iter().map(|text| expected(text).len()).collect();
        assert!(sizes.contains(&0), "{sizes:?}");
        assert!(
            sizes.iter().any(|size| (1..=64).contains(size)),
            "{sizes:?}"
        );
        assert!(sizes.iter().any(|size| *size > 1_000), "{sizes:?}");
    }
}

/// A date range reads a date-ordered list from near its start (`Store::scan_dated`); on a
/// store of thousands of incidents at every precision, open starts and ends and spans of
/// years among them, it must keep exactly what filtering every incident by its date keeps,
/// in order, page by page, both ways.
#[tokio::test]
async fn date_ranges_on_a_large_store_keep_exactly_the_matching_incidents_in_date_order() {
    use kyrgyz_relations::model::{DateWindow, PartialDate};
    use kyrgyz_relations::store::keys::{self, date_sort_key};
    use serde_json::json;

    let (seed, dataset) = generated_with_open_dates(3_000, 5);
    let mut incidents: Vec<(Vec<u8>, &PartialDate)> = dataset
        .incidents
        .iter()
        .filter_map(|incident| {
            let date = incident.occurred.as_ref()?;
            Some((date_sort_key(Some(date), incident.id.as_str()), date))
        })
        .collect();
    incidents.sort();
    let expected = |from: Option<&str>, to: Option<&str>, certainly: bool| -> Vec<String> {
        let parse = |text: &str| PartialDate::parse(text).expect("a valid date");
        let window = DateWindow::between(from.map(parse).as_ref(), to.map(parse).as_ref());
        incidents
            .iter()
            .filter(|(_, date)| {
                if certainly {
                    date.certainly_within(&window)
                } else {
                    date.possibly_overlaps(&window)
                }
            })
            .map(|(key, _)| String::from_utf8_lossy(&key[9..]).into_owned())
            .collect()
    };

    // Windows that begin on a year's first day, within a year, on a day, and not at all.
    let windows = [
        (Some("1998"), Some("1998")),
        (Some("1998-06-15"), Some("1998-07")),
        (Some("2005-03-10"), Some("2005-03-10")),
        (Some("2012-08"), None),
        (None, Some("1993")),
    ];
    let query = r#"query($from: PartialDate, $to: PartialDate, $match: DateMatch!, $direction: OrderDirection!, $count: Boolean!, $after: String) {
        incidents(occurred: { from: $from, to: $to, match: $match }, orderBy: { field: OCCURRED, direction: $direction }, first: 61, after: $after) {
            totalCount @include(if: $count)
            pageInfo { hasNextPage endCursor }
            nodes { slug }
        }
    }"#;
    for read_cache_bytes in [kyrgyz_relations::store::DEFAULT_READ_CACHE_BYTES, 0] {
        let (schema, _store) = schema_over(seed.path(), read_cache_bytes);
        for (from, to) in windows {
            for (mode, certainly) in [("POSSIBLY_OVERLAPS", false), ("CERTAINLY_WITHIN", true)] {
                let mut expected = expected(from, to, certainly);
                for direction in ["ASC", "DESC"] {
                    if direction == "DESC" {
                        expected.reverse();
                    }
                    let context = format!(
                        "{from:?}..{to:?} {mode} {direction}, read cache of {read_cache_bytes} bytes"
                    );
                    let (mut found, mut after) = (Vec::new(), None::<String>);
                    loop {
                        let count = after.is_none();
                        let variables = json!({ "from": from, "to": to, "match": mode,
                            "direction": direction, "count": count, "after": after });
                        let page = data_of(&schema, query, variables).await["incidents"].clone();
                        if count {
                            assert_eq!(page["totalCount"], json!(expected.len()), "{context}");
                        }
                        found.extend(
                            page["nodes"]
                                .as_array()
                                .expect("nodes")
                                .iter()
                                .map(|node| node["slug"].as_str().expect("a slug").to_owned()),
                        );
                        if page["pageInfo"]["hasNextPage"] != json!(true) {
                            break;
                        }
                        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
                    }
                    assert_eq!(found, expected, "{context}");
                }
            }
        }
    }
    // The windows find more than a page, and a window matches dates a year long.
    assert!(expected(Some("1998"), Some("1998"), false).len() > 61);
    assert!(expected(Some("2005-03-10"), Some("2005-03-10"), false)
        .iter()
        .any(|id| dataset
            .incidents
            .iter()
            .any(|incident| incident.id.as_str() == id
                && incident
                    .occurred
                    .as_ref()
                    .is_some_and(|date| date.as_str().len() == 4))));
    // Every window with a start matches dates that no short-date bound can skip: an open
    // start, an open end, or a span of a year or more.
    let unskippable = |id: &String| {
        incidents
            .iter()
            .any(|(key, _)| key[9..] == *id.as_bytes() && keys::short_date_key_days(key).is_none())
    };
    for (from, to) in windows.into_iter().filter(|(from, _)| from.is_some()) {
        let found = expected(from, to, false);
        assert!(found.iter().any(unskippable), "{from:?}..{to:?}");
    }
}
