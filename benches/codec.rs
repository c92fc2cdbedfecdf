//! The value codec (`store::codec`): encoding and decoding the largest country, agreement
//! and incident of the embedded seed, with throughput in bytes of encoded value.
//!
//! The records are read back from a store imported from the embedded seed, so they are
//! exactly what the store holds. Run with `cargo bench --bench codec`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use kyrgyz_relations::app::{self, Options};
use kyrgyz_relations::model::{Agreement, Country, Incident};
use kyrgyz_relations::store::{codec, KeyRange, List, Record, Store};

fn main() {
    let dir = tempfile::tempdir().expect("create a temporary directory for the seed store");
    let store = app::open_store(&Options::new(dir.path()))
        .unwrap_or_else(|error| panic!("open the seed store: {error}"))
        .store;
    let mut criterion = Criterion::default().configure_from_args();
    bench_record(&mut criterion, largest::<Country>(&store));
    bench_record(&mut criterion, largest::<Agreement>(&store));
    bench_record(&mut criterion, largest::<Incident>(&store));
    criterion.final_summary();
}

/// Encode and decode of one record, in the groups `codec/encode` and `codec/decode`, named
/// by kind and id.
fn bench_record<R: Record>(criterion: &mut Criterion, record: R) {
    let bytes = codec::encode(&record).expect("encode a seed record");
    let id = BenchmarkId::new(R::KIND.type_name(), record.id());
    eprintln!(
        "{} {}: {} bytes encoded",
        R::KIND.type_name(),
        record.id(),
        bytes.len()
    );

    let mut group = criterion.benchmark_group("codec/encode");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(id.clone(), |bencher| {
        bencher.iter(|| codec::encode(black_box(&record)).expect("encode a seed record"))
    });
    group.finish();

    let mut group = criterion.benchmark_group("codec/decode");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(id, |bencher| {
        bencher.iter(|| codec::decode::<R>(black_box(&bytes)).expect("decode a seed record"))
    });
    group.finish();
}

/// The record of kind `R` with the longest encoding in the store.
fn largest<R: Record + Clone>(store: &Store) -> R {
    store
        .scan(&List::All(R::KIND), KeyRange::ALL, false)
        .map(|entry| {
            let entry = entry.expect("scan the seed store");
            let record: std::sync::Arc<R> = store.get_listed(&entry).expect("read a seed record");
            let size = codec::encode(&*record).expect("encode a seed record").len();
            (size, record)
        })
        .max_by_key(|(size, _)| *size)
        .map(|(_, record)| std::sync::Arc::unwrap_or_clone(record))
        .unwrap_or_else(|| panic!("the seed holds no {}", R::KIND.type_name()))
}
