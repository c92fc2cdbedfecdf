//! In-process execution of the benchmark's query set (`bench/queries/*.graphql`) through
//! the executor the server runs (response cache off, so every iteration executes, on the
//! schema's plain twin, and serializes the answer), on the embedded seed and on a
//! generated seed of 10,000 incidents; and the fixed cost of a request: parsing and
//! guarding a query, and a trivial query end to end. Run with `cargo bench --bench query`.
//!
//! Every query is run once before it is measured and must answer without errors and with
//! data: a benchmark of an error path measures nothing.

mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use async_graphql::{Request, Variables};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{BenchmarkId, Criterion, SamplingMode};
use kyrgyz_relations::executor::{limits, Answer, Executor, ExecutorConfig, Limits};
use kyrgyz_relations::model::RecordKind;
use serde_json::{json, Value};
use support::Fixture;
use tokio::runtime::Runtime;

/// One query of the set on one store, with the variables it is sent with.
struct Case {
    /// The query's file name without `.graphql`, such as `c-page`.
    query: &'static str,
    /// A label for variants of the same query on the same store, such as `broad`.
    variant: Option<&'static str>,
    variables: Value,
    /// A JSON pointer into `data` that must be non-null and, if a list, non-empty: proof
    /// the query found something rather than an empty answer.
    must_find: &'static str,
}

/// A query slower than this once is sampled flat (the same number of iterations per
/// sample): criterion's default linear sampling needs 5,050 iterations for 100 samples,
/// over a minute for a query of 15 ms.
const SLOW: Duration = Duration::from_millis(1);

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("build a tokio runtime for the queries");
    let seed = Fixture::seed();
    let generated = Fixture::generated();
    let mut criterion = Criterion::default().configure_from_args();

    fixed_cost(&mut criterion, &runtime, &seed);
    for (fixture, cases) in [
        (&seed, seed_cases(&seed)),
        (&generated, generated_cases(&generated)),
    ] {
        let executor = executor(fixture);
        for case in cases {
            bench_case(&mut criterion, &runtime, &executor, fixture, &case);
        }
    }
    criterion.final_summary();
}

/// The set on the embedded seed.
fn seed_cases(seed: &Fixture) -> Vec<Case> {
    vec![
        Case {
            query: "a-seed-tree",
            variant: None,
            variables: json!({}),
            must_find: "/countries/nodes",
        },
        Case {
            query: "b-node",
            variant: None,
            variables: json!({ "id": middle_incident_id(seed) }),
            must_find: "/node/title",
        },
        Case {
            query: "c-page",
            variant: None,
            variables: json!({ "code": "RU" }),
            must_find: "/country/agreements/nodes",
        },
        Case {
            query: "d-date-range",
            variant: None,
            variables: json!({ "from": "2010", "to": "2012" }),
            must_find: "/incidents/nodes",
        },
        Case {
            query: "e-search",
            variant: None,
            variables: json!({ "text": "Kant" }),
            must_find: "/search/edges",
        },
    ]
}

/// The set on the generated seed; (a) is left out: it is written for the seed's short
/// lists, and (c) covers the nested path with full pages.
fn generated_cases(generated: &Fixture) -> Vec<Case> {
    vec![
        Case {
            query: "b-node",
            variant: None,
            variables: json!({ "id": middle_incident_id(generated) }),
            must_find: "/node/title",
        },
        Case {
            query: "c-page",
            variant: None,
            // Country 0: the generator's skew gives it the most agreements and incidents.
            variables: json!({ "code": "AA" }),
            must_find: "/country/agreements/nodes",
        },
        Case {
            query: "d-date-range",
            variant: None,
            variables: json!({ "from": "2010", "to": "2012" }),
            must_find: "/incidents/nodes",
        },
        Case {
            query: "e-search",
            variant: None,
            // A number: one incident, one facility and one facility's place.
            variables: json!({ "text": "1234" }),
            must_find: "/search/edges",
        },
        Case {
            query: "e-search",
            variant: Some("broad"),
            // Every record's summary says "Synthetic": `totalCount` walks every posting.
            variables: json!({ "text": "synthetic" }),
            must_find: "/search/edges",
        },
    ]
}

/// Runs `case` once and checks its answer, then measures it.
fn bench_case(
    criterion: &mut Criterion,
    runtime: &Runtime,
    executor: &Executor,
    fixture: &Fixture,
    case: &Case,
) {
    let text = query_text(case.query);
    let variables = Variables::from_json(case.variables.clone());
    let request = || Request::new(text.clone()).variables(variables.clone());
    let label = match case.variant {
        Some(variant) => format!("{}/{variant}", fixture.name),
        None => fixture.name.to_owned(),
    };

    let started = Instant::now();
    let answered = answer(runtime, executor, request());
    let took = started.elapsed();
    let answer = match answered {
        Ok(answer) => answer,
        Err(errors) => panic!(
            "{} on {label} answered with errors; nothing would be measured:\n{errors:#}",
            case.query
        ),
    };
    let found = answer["data"].pointer(case.must_find);
    assert!(
        found.is_some_and(
            |value| !value.is_null() && value.as_array().is_none_or(|list| !list.is_empty())
        ),
        "{} on {label} found nothing at {}:\n{answer:#}",
        case.query,
        case.must_find
    );
    eprintln!(
        "{} on {label}: {} bytes of JSON",
        case.query,
        answer.to_string().len()
    );

    let mut group = criterion.benchmark_group(format!("query/{}", case.query));
    if took >= SLOW {
        group.sampling_mode(SamplingMode::Flat);
    }
    group.bench_function(BenchmarkId::from_parameter(&label), |bencher| {
        bencher
            .to_async(runtime)
            .iter(|| async { executor.answer(black_box(request())).await })
    });
    group.finish();
}

/// The executor over `fixture`'s store that the server would run, with no response cache.
fn executor(fixture: &Fixture) -> Executor {
    Executor::new(
        fixture.store.clone(),
        ExecutorConfig {
            response_cache_bytes: 0,
            ..ExecutorConfig::default()
        },
    )
}

/// `request`'s answer as JSON: `Ok` for data, `Err` for a response with errors.
fn answer(runtime: &Runtime, executor: &Executor, request: Request) -> Result<Value, Value> {
    let executed = runtime
        .block_on(executor.answer(request))
        .expect("answers serialize");
    match executed.answer {
        Answer::Body(body) => Ok(serde_json::from_slice(&body).expect("answers are JSON")),
        Answer::Errors(response) => {
            Err(serde_json::to_value(&response).expect("responses serialize"))
        }
    }
}

/// What every request pays before its resolvers run: parsing (a), the query guard on top,
/// and a query that resolves nothing (`{ __typename }`: guard, parse, validation and
/// execution with no store read).
fn fixed_cost(criterion: &mut Criterion, runtime: &Runtime, seed: &Fixture) {
    let text = query_text("a-seed-tree");
    let limits = Limits::default();
    let mut group = criterion.benchmark_group("query/fixed-cost");
    group.bench_function("parse a-seed-tree", |bencher| {
        bencher.iter(|| {
            async_graphql::parser::parse_query(black_box(&text)).expect("parse a-seed-tree")
        })
    });
    group.bench_function("parse and guard a-seed-tree", |bencher| {
        bencher.iter(|| {
            let text = black_box(&text);
            limits::check_text(text, &limits).expect("a-seed-tree is within the limits");
            let document = async_graphql::parser::parse_query(text).expect("parse a-seed-tree");
            limits::check_document(&document, &Variables::default(), &limits)
                .expect("a-seed-tree is within the limits");
            document
        })
    });
    let executor = executor(seed);
    if let Err(errors) = answer(runtime, &executor, Request::new("{ __typename }")) {
        panic!("{{ __typename }} failed: {errors:#}");
    }
    group.bench_function("execute { __typename }", |bencher| {
        bencher.to_async(runtime).iter(|| async {
            executor
                .answer(black_box(Request::new("{ __typename }")))
                .await
        })
    });
    group.finish();
}

/// The text of `bench/queries/<name>.graphql`, the files the load benchmark sends too.
fn query_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench/queries")
        .join(format!("{name}.graphql"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// The global id of the incident in the middle of the date order.
fn middle_incident_id(fixture: &Fixture) -> String {
    let ids = fixture.ids(RecordKind::Incident);
    let slug = &ids[ids.len() / 2];
    URL_SAFE_NO_PAD.encode(format!("{}:{slug}", RecordKind::Incident.type_name()))
}
