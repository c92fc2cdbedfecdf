//! Store reads on a store imported from the embedded seed and on one imported from a
//! generated seed of 10,000 incidents: point reads, one page of a link list, counts and
//! the country code lookup. Run with `cargo bench --bench store`.
//!
//! Both stores are set up once, before any measurement (a few seconds in release).

mod support;

use std::hint::black_box;

use criterion::{Criterion, SamplingMode, Throughput};
use kyrgyz_relations::model::{Country, Incident, RecordKind};
use kyrgyz_relations::store::{Entry, KeyRange, Link, List, Store};
use support::Fixture;

/// The page size of the nested connections in the benchmark's queries.
const PAGE: usize = 10;

fn main() {
    let fixtures = [Fixture::seed(), Fixture::generated()];
    let mut criterion = Criterion::default().configure_from_args();
    get(&mut criterion, &fixtures);
    scan_page(&mut criterion, &fixtures);
    count(&mut criterion, &fixtures);
    scan_all(&mut criterion, &fixtures);
    country_by_code(&mut criterion, &fixtures);
    criterion.final_summary();
}

/// `Store::get` of an incident, a different one each iteration in a fixed random order:
/// the read behind every node of a page.
fn get(criterion: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = criterion.benchmark_group("store/get-incident");
    for fixture in fixtures {
        let ids = shuffled(fixture.ids(RecordKind::Incident));
        let mut next = 0;
        group.bench_function(fixture.name, |bencher| {
            bencher.iter(|| {
                next = (next + 1) % ids.len();
                fixture
                    .store
                    .get::<Incident>(black_box(&ids[next]))
                    .expect("read an incident")
                    .expect("the incident exists")
            })
        });
    }
    group.finish();
}

/// `Store::scan` of the busiest country's incidents, taking the first `PAGE` entries: the
/// key walk of one page of a nested connection, before the records are read.
fn scan_page(criterion: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = criterion.benchmark_group("store/scan-first-10");
    for fixture in fixtures {
        let busiest = busiest_country(&fixture.store);
        eprintln!(
            "{}: the busiest country is {} ({})",
            fixture.name, busiest.id, busiest.code
        );
        let list = List::Linked(Link::CountryIncidents, busiest.id.clone());
        let page = |list: &List| -> Vec<Entry> {
            fixture
                .store
                .scan(list, KeyRange::ALL, false)
                .take(PAGE)
                .map(|entry| entry.expect("scan a country's incidents"))
                .collect()
        };
        let found = page(&list).len();
        assert_eq!(
            found, PAGE,
            "{}: country `{}` has only {found} incidents; the bench measures a full page",
            fixture.name, busiest.id
        );
        group.throughput(Throughput::Elements(PAGE as u64));
        group.bench_function(fixture.name, |bencher| {
            bencher.iter(|| page(black_box(&list)))
        });
    }
    group.finish();
}

/// `Store::count` of every incident: one read of the counts tree, what an unfiltered
/// `totalCount` costs.
fn count(criterion: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = criterion.benchmark_group("store/count-incidents");
    let list = List::All(RecordKind::Incident);
    for fixture in fixtures {
        group.bench_function(fixture.name, |bencher| {
            bencher.iter(|| {
                fixture
                    .store
                    .count(black_box(&list))
                    .expect("count the incidents")
            })
        });
    }
    group.finish();
}

/// Walking the keys of every incident: the least a filtered `totalCount` costs, since it
/// scans the whole list (and reads every record, which this leaves out).
fn scan_all(criterion: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = criterion.benchmark_group("store/scan-all-incidents");
    // Milliseconds per iteration on the generated store: linear sampling would take minutes.
    group.sampling_mode(SamplingMode::Flat);
    let list = List::All(RecordKind::Incident);
    for fixture in fixtures {
        let total = fixture.store.count(&list).expect("count the incidents");
        group.throughput(Throughput::Elements(total));
        group.bench_function(fixture.name, |bencher| {
            bencher.iter(|| {
                let mut scanned = 0u64;
                for entry in fixture.store.scan(black_box(&list), KeyRange::ALL, false) {
                    black_box(entry.expect("scan the incidents"));
                    scanned += 1;
                }
                assert_eq!(scanned, total, "the scan walks every incident");
                scanned
            })
        });
    }
    group.finish();
}

/// `Store::country_by_code`: the code index read plus the country's record.
fn country_by_code(criterion: &mut Criterion, fixtures: &[Fixture]) {
    let mut group = criterion.benchmark_group("store/country-by-code");
    for fixture in fixtures {
        let code = busiest_country(&fixture.store).code.clone();
        let code = code.as_str();
        group.bench_function(fixture.name, |bencher| {
            bencher.iter(|| {
                fixture
                    .store
                    .country_by_code(black_box(code))
                    .expect("look up a country code")
                    .expect("the country exists")
            })
        });
    }
    group.finish();
}

/// The country linked to the most incidents: the heaviest nested page.
fn busiest_country(store: &Store) -> std::sync::Arc<Country> {
    let mut busiest: Option<(u64, String)> = None;
    for entry in store.scan(&List::All(RecordKind::Country), KeyRange::ALL, false) {
        let id = entry.expect("scan the countries").id;
        let incidents = store
            .count(&List::Linked(Link::CountryIncidents, id.clone()))
            .expect("count a country's incidents");
        if busiest.as_ref().is_none_or(|(most, _)| incidents > *most) {
            busiest = Some((incidents, id));
        }
    }
    let (_, id) = busiest.expect("the benchmark store holds countries");
    store
        .get(&id)
        .expect("read the busiest country")
        .expect("the busiest country exists")
}

/// `ids` in a fixed pseudo-random order (Fisher-Yates over SplitMix64), so consecutive
/// reads do not walk the tree in key order.
fn shuffled(mut ids: Vec<String>) -> Vec<String> {
    let mut state: u64 = 0x5eed;
    for index in (1..ids.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ids.swap(index, (z % (index as u64 + 1)) as usize);
    }
    ids
}
