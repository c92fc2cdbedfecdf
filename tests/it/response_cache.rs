//! The response cache through real sockets: repeated queries are answered from it with
//! every HTTP convention intact, never after the store changed, and never when it is off.
//! Hits and misses are read from `/metrics`, as an operator would.

use std::collections::HashMap;

use kyrgyz_relations::executor::{ExecutorConfig, Limits};
use kyrgyz_relations::seed::SeedSource;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::http_conventions::{header, scrape};
use crate::support::Running;
use crate::support::{blocking, edit_seed, record, seed_copy, TestServer};

const KANT: &str = r#"{ facility(slug: "kant-air-base") { name hostCountry { code } } }"#;
/// `KANT` spelled differently: the same tokens.
const KANT_RESPELLED: &str =
    "# the same query\n{\n  facility(slug: \"kant-air-base\") {\n    name,\n    hostCountry { code }\n  }\n}\n";
const HITS: &str = "kyrgyz_relations_response_cache_hits_total";
const MISSES: &str = "kyrgyz_relations_response_cache_misses_total";
const ENTRIES: &str = "kyrgyz_relations_response_cache_entries";
const BYTES: &str = "kyrgyz_relations_response_cache_bytes";

/// Reads `/metrics` before and after some requests.
struct Counters<'a> {
    client: &'a reqwest::Client,
    server: &'a TestServer,
    before: HashMap<String, f64>,
}

impl<'a> Counters<'a> {
    async fn start(client: &'a reqwest::Client, server: &'a TestServer) -> Counters<'a> {
        let before = scrape(client, server).await;
        Counters {
            client,
            server,
            before,
        }
    }

    /// (hits, misses) since the last call, and the samples now.
    async fn lookups(&mut self) -> ((f64, f64), HashMap<String, f64>) {
        let now = scrape(self.client, self.server).await;
        let delta = |series: &str| now[series] - self.before[series];
        let lookups = (delta(HITS), delta(MISSES));
        self.before = now.clone();
        (lookups, now)
    }
}

async fn post(client: &reqwest::Client, server: &TestServer, body: Value) -> reqwest::Response {
    client
        .post(server.url("/graphql"))
        .json(&body)
        .send()
        .await
        .expect("POST")
}

/// A server over a store the test keeps a handle on.
async fn serve(config: ExecutorConfig) -> (TestServer, kyrgyz_relations::store::Store) {
    let server = TestServer::spawn_with(|app| app.executor = config).await;
    let store = server.store.clone();
    (server, store)
}

#[tokio::test]
async fn a_cached_answer_is_never_served_after_the_store_changed() {
    let (server, store) = serve(ExecutorConfig::default()).await;
    let client = reqwest::Client::new();
    let mut counters = Counters::start(&client, &server).await;

    let first = post(&client, &server, json!({ "query": KANT })).await;
    assert_eq!(first.status(), 200);
    let first = first.bytes().await.expect("a body");
    assert_eq!(
        counters.lookups().await.0,
        (0.0, 1.0),
        "the first is a miss"
    );
    let again = post(&client, &server, json!({ "query": KANT_RESPELLED })).await;
    assert_eq!(again.bytes().await.expect("a body"), first);
    let ((hits, misses), now) = counters.lookups().await;
    assert_eq!((hits, misses), (1.0, 0.0), "the second is a hit");
    assert_eq!(now[ENTRIES], 1.0);

    // Rename Kant Air Base and import the change into the very store being served.
    let seed = seed_copy();
    edit_seed(seed.path(), "facilities.json", |facilities| {
        record(facilities, "kant-air-base")["name"] = "Kant Air Base (renamed)".into();
    });
    let source = SeedSource::from_dir(seed.path()).expect("the seed copy reads");
    let dataset = source.validate().expect("the edited seed is valid");
    let importing = store.clone();
    blocking(move || {
        importing
            .import(&dataset, &source.content_hash())
            .expect("the import succeeds")
    })
    .await;

    let changed: Value = post(&client, &server, json!({ "query": KANT }))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        changed["data"]["facility"]["name"], "Kant Air Base (renamed)",
        "{changed}"
    );
    let ((hits, misses), now) = counters.lookups().await;
    assert_eq!(
        (hits, misses),
        (0.0, 1.0),
        "the stale answer was not served"
    );
    assert_eq!(
        now[ENTRIES], 1.0,
        "the stale answer made way for the new one"
    );
    let cached: Value = post(&client, &server, json!({ "query": KANT }))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(cached, changed);
    assert_eq!(counters.lookups().await.0, (1.0, 0.0));
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_show_hits_misses_and_what_the_cache_holds() {
    let bound = 64 * 1024;
    let (server, _store) = serve(ExecutorConfig {
        response_cache_bytes: bound,
        ..ExecutorConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut counters = Counters::start(&client, &server).await;
    let (_, empty) = counters.lookups().await;
    assert_eq!((empty[ENTRIES], empty[BYTES]), (0.0, 0.0));

    let by_code = "query ($code: String!, $first: Int) { country(code: $code) { name agreements(first: $first) { totalCount } } }";
    for variables in [
        r#"{"code": "KG", "first": 2}"#,
        r#"{"first": 2, "code": "KG"}"#,
        r#"{ "first" : 2 , "code" : "KG" }"#,
        r#"{"code": "TJ", "first": 2}"#,
    ] {
        let answer = client
            .get(server.url("/graphql"))
            .query(&[("query", by_code), ("variables", variables)])
            .send()
            .await
            .expect("GET");
        assert_eq!(answer.status(), 200);
    }
    // An answer with errors is never stored: both are misses.
    for _ in 0..2 {
        post(
            &client,
            &server,
            json!({ "query": "{ incidents(first: 1000) { totalCount } }" }),
        )
        .await;
    }
    let ((hits, misses), now) = counters.lookups().await;
    assert_eq!((hits, misses), (2.0, 4.0), "{now:?}");
    assert_eq!(now[ENTRIES], 2.0, "KG and TJ");
    assert!(
        now[BYTES] > 0.0 && now[BYTES] <= bound as f64,
        "{}",
        now[BYTES]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn with_the_cache_off_no_request_is_ever_a_hit() {
    let (server, _store) = serve(ExecutorConfig {
        response_cache_bytes: 0,
        ..ExecutorConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut counters = Counters::start(&client, &server).await;
    let mut answers = Vec::new();
    for query in [KANT, KANT, KANT_RESPELLED] {
        answers.push(
            post(&client, &server, json!({ "query": query }))
                .await
                .bytes()
                .await
                .expect("a body"),
        );
    }
    assert!(answers.iter().all(|answer| *answer == answers[0]));
    let ((hits, misses), now) = counters.lookups().await;
    assert_eq!((hits, misses), (0.0, 0.0), "nothing is even looked up");
    assert_eq!((now[ENTRIES], now[BYTES]), (0.0, 0.0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_cached_answer_keeps_every_http_convention_of_its_request() {
    let (server, _store) = serve(ExecutorConfig::default()).await;
    let client = reqwest::Client::new();
    let mut counters = Counters::start(&client, &server).await;
    let fresh = post(&client, &server, json!({ "query": KANT })).await;
    assert_eq!(header(fresh.headers(), "cache-control"), "no-store");
    let fresh = fresh.bytes().await.expect("a body");

    // GET of the cached query: shareable, tagged, conditional, negotiated, with an id.
    let get = |if_none_match: Option<&str>| {
        let mut request = client
            .get(server.url("/graphql"))
            .query(&[("query", KANT_RESPELLED)])
            .header("accept", "application/graphql-response+json")
            .header("x-request-id", "cached-get-1");
        if let Some(tag) = if_none_match {
            request = request.header("if-none-match", tag);
        }
        request.send()
    };
    let cached = get(None).await.expect("GET");
    assert_eq!(cached.status(), 200);
    let headers = cached.headers().clone();
    assert_eq!(header(&headers, "cache-control"), "public, max-age=60");
    assert!(header(&headers, "content-type").starts_with("application/graphql-response+json"));
    assert_eq!(header(&headers, "x-request-id"), "cached-get-1");
    assert_eq!(header(&headers, "vary"), "accept, accept-encoding");
    let tag = header(&headers, "etag").to_owned();
    assert!(tag.starts_with('"'), "{tag:?}");
    assert_eq!(cached.bytes().await.expect("a body"), fresh);
    let revalidated = get(Some(&tag)).await.expect("GET");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        counters.lookups().await.0,
        (2.0, 1.0),
        "a miss, then two hits"
    );

    // Mutations over GET are still refused, cache or no cache.
    let mutation = client
        .get(server.url("/graphql"))
        .query(&[("query", "mutation { facility }")])
        .send()
        .await
        .expect("GET");
    assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(mutation.headers(), "allow"), "POST");

    // A persisted query sent with its text is registered even when its answer is cached,
    // and its hash alone then finds the cached answer.
    let hash = kyrgyz_relations::executor::persisted::sha256_hex(KANT);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let registered = post(
        &client,
        &server,
        json!({ "query": KANT, "extensions": extensions }),
    )
    .await;
    assert_eq!(registered.bytes().await.expect("a body"), fresh);
    let by_hash = client
        .get(server.url("/graphql"))
        .query(&[("extensions", extensions.to_string())])
        .send()
        .await
        .expect("GET");
    assert_eq!(by_hash.status(), 200);
    assert_eq!(by_hash.bytes().await.expect("a body"), fresh);
    let ((hits, misses), now) = counters.lookups().await;
    assert_eq!((hits, misses), (2.0, 0.0));
    assert_eq!(now["kyrgyz_relations_apq_registrations_total"], 1.0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_padded_copy_of_a_cached_query_is_refused_as_it_would_be_without_the_cache() {
    let (server, _store) = serve(ExecutorConfig::default()).await;
    let client = reqwest::Client::new();
    let mut counters = Counters::start(&client, &server).await;
    post(&client, &server, json!({ "query": KANT })).await;
    let padded = format!("{KANT}{}", " ".repeat(Limits::default().max_query_bytes));
    let refused: Value = post(&client, &server, json!({ "query": padded }))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{refused}"
    );
    assert_eq!(
        counters.lookups().await.0,
        (0.0, 1.0),
        "the padded copy was not looked up"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_debug_log_of_a_request_says_whether_the_cache_answered_it() {
    // The real binary: an in-process subscriber misses events of callsites other test
    // threads registered first.
    let server = Running::start_logging(&[], "info,kyrgyz_relations::executor=debug");
    let client = reqwest::Client::new();
    for id in ["log-miss", "log-hit"] {
        let answer = client
            .post(format!("http://{}/graphql", server.address))
            .header("x-request-id", id)
            .json(&json!({ "query": KANT }))
            .send()
            .await
            .expect("POST");
        assert_eq!(answer.status(), 200);
    }
    let log = server.stop();
    for (id, outcome) in [("log-miss", "miss"), ("log-hit", "hit")] {
        assert!(
            log.lines()
                .any(|line| line.contains(&format!("request{{id={id}"))
                    && line.contains("DEBUG")
                    && line.contains(&format!("response_cache=\"{outcome}\""))),
            "no debug line of {id} says {outcome}:\n{log}"
        );
    }
}
