//! The HTTP conventions clients and operators expect, through real sockets: compression,
//! CORS, probes, Prometheus metrics, request ids in the logs, automatic persisted queries,
//! HTTP caching of GET answers, and GraphiQL for browsers at `GET /graphql`.

use std::collections::HashMap;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

use kyrgyz_relations::executor::{ExecutorConfig, Limits, PersistedQueries};
use kyrgyz_relations::http::{CorsOrigin, HttpConfig};
use kyrgyz_relations::store::{self, Store};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::TestApp;
use crate::support::{Running, TestServer, BINARY};

/// An answer of several KiB: worth compressing.
const LARGE: &str = "{ incidents(first: 40) { nodes { title summary occurred } } }";
const SMALL: &str = "{ __typename }";
const KANT: &str = r#"{ facility(slug: "kant-air-base") { name hostCountry { code } } }"#;
/// A `BAD_USER_INPUT` error: pages are at most 100 records.
const TOO_LONG_A_PAGE: &str = "{ incidents(first: 1000) { totalCount } }";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header"))
        .unwrap_or_default()
}

fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> String {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string()
}

#[tokio::test]
async fn answers_are_compressed_with_br_or_gzip_as_accept_encoding_asks() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let get = |encoding: Option<&'static str>, query: &'static str| {
        let mut request = client
            .get(server.url("/graphql"))
            .query(&[("query", query)]);
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.send()
    };
    let plain = get(None, LARGE).await.expect("GET");
    assert_eq!(plain.status(), 200);
    assert_eq!(header(plain.headers(), "content-encoding"), "");
    let plain = plain.bytes().await.expect("a body");
    assert!(plain.len() > 4096, "{} bytes", plain.len());
    let plain_json: Value = serde_json::from_slice(&plain).expect("JSON");
    assert!(plain_json.get("errors").is_none(), "{plain_json}");

    for (accept, expected) in [
        ("br", "br"),
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let response = get(Some(accept), LARGE).await.expect("GET");
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(header(&headers, "content-encoding"), expected, "{accept}");
        assert!(header(&headers, "vary").contains("accept-encoding"));
        let compressed = response.bytes().await.expect("a body");
        assert!(
            compressed.len() * 2 < plain.len(),
            "{accept}: {} bytes compressed, {} plain",
            compressed.len(),
            plain.len()
        );
        let mut decoded = Vec::new();
        match expected {
            "br" => brotli::Decompressor::new(&compressed[..], 4096).read_to_end(&mut decoded),
            _ => flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut decoded),
        }
        .expect("decodes");
        assert_eq!(decoded, plain, "{accept}");
    }

    let unsupported = get(Some("zstd"), LARGE).await.expect("GET");
    assert_eq!(header(unsupported.headers(), "content-encoding"), "");
    let tiny = get(Some("br, gzip"), SMALL).await.expect("GET");
    assert_eq!(
        header(tiny.headers(), "content-encoding"),
        "",
        "tiny bodies stay plain"
    );
    assert_eq!(
        tiny.text().await.expect("text"),
        r#"{"data":{"__typename":"Query"}}"#
    );

    let posted = client
        .post(server.url("/graphql"))
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": LARGE }))
        .send()
        .await
        .expect("POST");
    assert_eq!(header(posted.headers(), "content-encoding"), "gzip");
    server.shutdown().await;
}

#[tokio::test]
async fn cors_answers_only_the_origins_configured() {
    const ALLOWED: &str = "https://app.example.org";
    let config = HttpConfig {
        cors_origins: vec![
            ALLOWED.parse::<CorsOrigin>().expect("an origin"),
            "http://localhost:5173".parse().expect("an origin"),
        ],
        ..HttpConfig::default()
    };
    let server = TestServer::spawn_with(|app| app.http = config).await;
    let client = reqwest::Client::new();

    let allowed = client
        .post(server.url("/graphql"))
        .header("origin", ALLOWED)
        .json(&json!({ "query": SMALL }))
        .send()
        .await
        .expect("POST");
    assert_eq!(allowed.status(), 200);
    let headers = allowed.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), ALLOWED);
    assert_eq!(
        header(headers, "access-control-expose-headers"),
        "x-request-id"
    );
    assert!(headers
        .get_all("vary")
        .iter()
        .any(|value| value.to_str().expect("ascii").contains("origin")));
    assert_eq!(header(headers, "access-control-allow-credentials"), "");

    let foreign = client
        .get(server.url("/graphql"))
        .query(&[("query", SMALL)])
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        foreign.status(),
        200,
        "the request itself is still answered"
    );
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, server.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-request-id",
            )
            .send()
    };
    let answered = preflight(ALLOWED).await.expect("OPTIONS");
    assert_eq!(answered.status(), 200);
    let headers = answered.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), ALLOWED);
    let methods = header(headers, "access-control-allow-methods");
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let allowed_headers = header(headers, "access-control-allow-headers");
    for name in ["content-type", "accept", "x-request-id"] {
        assert!(allowed_headers.contains(name), "{allowed_headers}");
    }
    assert_eq!(header(headers, "access-control-max-age"), "600");
    let refused = preflight("https://evil.example.com")
        .await
        .expect("OPTIONS");
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    server.shutdown().await;

    // Without configured origins there is no CORS at all: same-origin pages only.
    let server = TestServer::spawn().await;
    let plain = client
        .post(server.url("/graphql"))
        .header("origin", ALLOWED)
        .json(&json!({ "query": SMALL }))
        .send()
        .await
        .expect("POST");
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("access-control-allow-origin").is_none());
    let preflight = client
        .request(reqwest::Method::OPTIONS, server.url("/graphql"))
        .header("origin", ALLOWED)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(preflight.status(), 405);
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn probes_tell_liveness_and_readiness() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready"), ("/health", "ok")] {
        let response = client.get(server.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], status, "{path}");
    }
    server.shutdown().await;

    // A store that was never seeded: alive, but not ready to answer queries.
    let data = tempfile::tempdir().expect("a temporary directory");
    let empty = Store::open(data.path(), store::DEFAULT_CACHE_BYTES).expect("opens");
    let server = TestServer::spawn_store(
        empty,
        ExecutorConfig::default(),
        HttpConfig::default(),
        Box::new(data),
    )
    .await;
    let alive = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET");
    assert_eq!(alive.status(), 200);
    for path in ["/readyz", "/health"] {
        let response = client.get(server.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), 503, "{path}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], "unavailable", "{path}");
    }
    server.shutdown().await;
}

/// The samples of a text exposition, by series (name and labels).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

pub async fn scrape(client: &reqwest::Client, server: &TestServer) -> HashMap<String, f64> {
    let response = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    samples(&response.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_count_requests_latency_errors_and_persisted_queries() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let before = scrape(&client, &server).await;

    let get = |query: &str| {
        client
            .get(server.url("/graphql"))
            .query(&[("query", query)])
            .send()
    };
    for _ in 0..3 {
        assert_eq!(get(KANT).await.expect("GET").status(), 200);
    }
    get(TOO_LONG_A_PAGE).await.expect("GET");
    get("{ noSuchField }").await.expect("GET");
    get(&format!("{}{}", "{".repeat(60), "}".repeat(60)))
        .await
        .expect("GET");
    assert_eq!(get("").await.expect("GET").status(), 200);
    let unknown = client
        .get(server.url("/wp-admin/setup.php"))
        .send()
        .await
        .expect("GET");
    assert_eq!(unknown.status(), 404);
    let miss = client
        .get(server.url("/graphql"))
        .query(&[("extensions", persisted(&sha256_hex("{ unknown }")))])
        .send()
        .await
        .expect("GET");
    assert_eq!(miss.status(), 200);

    let after = scrape(&client, &server).await;
    let delta = |series: &str| {
        after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
    };
    let requests = "kyrgyz_relations_http_requests_total";
    // Three Kant queries, the too-long page, the unknown field, the deep query, the empty
    // query (a GraphQL error, still a 200 under application/json) and the miss.
    assert_eq!(
        delta(&format!("{requests}{{route=\"/graphql\",status=\"200\"}}")),
        8.0
    );
    assert_eq!(
        delta(&format!("{requests}{{route=\"other\",status=\"404\"}}")),
        1.0
    );
    assert_eq!(
        delta(&format!("{requests}{{route=\"/metrics\",status=\"200\"}}")),
        1.0
    );
    assert!(
        !after.keys().any(|series| series.contains("wp-admin")),
        "unknown paths must not become labels"
    );

    let duration = "kyrgyz_relations_http_request_duration_seconds";
    let count = after[&format!("{duration}_count{{route=\"/graphql\"}}")];
    assert_eq!(count, 8.0);
    assert_eq!(
        after[&format!("{duration}_bucket{{route=\"/graphql\",le=\"+Inf\"}}")],
        count
    );
    let mut previous = 0.0;
    for le in [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
        "10",
    ] {
        let bucket = after[&format!("{duration}_bucket{{route=\"/graphql\",le=\"{le}\"}}")];
        assert!(bucket >= previous, "buckets are cumulative: le={le}");
        previous = bucket;
    }
    assert_eq!(previous, count, "every answer took less than 10 s");
    assert!(after[&format!("{duration}_sum{{route=\"/graphql\"}}")] > 0.0);

    let errors = "kyrgyz_relations_graphql_errors_total";
    // The too-long page, the unknown field and the empty query: the client's mistakes.
    assert_eq!(delta(&format!("{errors}{{code=\"BAD_USER_INPUT\"}}")), 3.0);
    assert_eq!(
        delta(&format!("{errors}{{code=\"QUERY_TOO_COMPLEX\"}}")),
        1.0
    );
    assert_eq!(
        delta(&format!("{errors}{{code=\"PERSISTED_QUERY_NOT_FOUND\"}}")),
        1.0
    );
    // Every error has a code.
    assert_eq!(delta(&format!("{errors}{{code=\"none\"}}")), 0.0);
    assert_eq!(delta("kyrgyz_relations_apq_misses_total"), 1.0);
    assert_eq!(delta("kyrgyz_relations_apq_hits_total"), 0.0);
    server.shutdown().await;
}

#[tokio::test]
async fn persisted_queries_follow_apollos_protocol() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let hash = sha256_hex(KANT);
    let get = |params: Vec<(&'static str, String)>| {
        client
            .get(server.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .query(&params)
            .send()
    };

    // An unknown hash: the error Apollo clients retry on, as a 200 that is never cached.
    let miss = get(vec![("extensions", persisted(&hash))])
        .await
        .expect("GET");
    assert_eq!(miss.status(), 200);
    assert_eq!(header(miss.headers(), "cache-control"), "no-store");
    let miss: Value = miss.json().await.expect("JSON");
    assert_eq!(
        miss,
        json!({ "errors": [{
            "message": "PersistedQueryNotFound",
            "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" },
        }] })
    );

    // The retry with the query registers it...
    let registered = get(vec![
        ("query", KANT.to_owned()),
        ("extensions", persisted(&hash)),
    ])
    .await
    .expect("GET");
    assert_eq!(registered.status(), 200);
    let registered: Value = registered.json().await.expect("JSON");
    assert_eq!(registered["data"]["facility"]["name"], "Kant Air Base");

    // ...and the hash alone now runs it, over GET and POST.
    let hit = get(vec![("extensions", persisted(&hash))])
        .await
        .expect("GET");
    assert_eq!(hit.status(), 200);
    assert_eq!(hit.json::<Value>().await.expect("JSON"), registered);
    let posted: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(posted, registered);

    // A query that is not what the hash says is refused, and not stored.
    let other = r#"{ country(code: "KG") { name } }"#;
    let wrong_hash = sha256_hex("{ something else }");
    let mismatch = get(vec![
        ("query", other.to_owned()),
        ("extensions", persisted(&wrong_hash)),
    ])
    .await
    .expect("GET");
    assert_eq!(mismatch.status(), 400);
    let mismatch: Value = mismatch.json().await.expect("JSON");
    assert_eq!(
        mismatch["errors"][0]["message"],
        "provided sha does not match query"
    );
    assert_eq!(mismatch["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let still_unknown: Value = get(vec![("extensions", persisted(&wrong_hash))])
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        still_unknown["errors"][0]["message"],
        "PersistedQueryNotFound"
    );

    let version_2 = json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } });
    let unsupported = get(vec![("extensions", version_2.to_string())])
        .await
        .expect("GET");
    assert_eq!(unsupported.status(), 400);
    let no_query = get(vec![("extensions", "{}".to_owned())])
        .await
        .expect("GET");
    assert_eq!(
        no_query.status(),
        400,
        "without persistedQuery a query is needed"
    );

    // A hostile query with its correct hash is refused by the guard, and never stored.
    let bomb = fragment_bomb();
    let refused = get(vec![
        ("query", bomb.clone()),
        ("extensions", persisted(&sha256_hex(&bomb))),
    ])
    .await
    .expect("GET");
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.expect("JSON");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
    let never_stored: Value = get(vec![("extensions", persisted(&sha256_hex(&bomb)))])
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        never_stored["errors"][0]["message"],
        "PersistedQueryNotFound"
    );

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    let metrics = samples(&metrics);
    assert_eq!(metrics["kyrgyz_relations_apq_hits_total"], 2.0);
    assert_eq!(metrics["kyrgyz_relations_apq_misses_total"], 3.0);
    assert_eq!(metrics["kyrgyz_relations_apq_registrations_total"], 1.0);
    server.shutdown().await;
}

/// 8^8 fields once expanded, in a few hundred bytes.
fn fragment_bomb() -> String {
    let mut bomb = String::from("query { ...F0 }\n");
    for level in 0..8 {
        let spreads = format!("...F{} ", level + 1).repeat(8);
        bomb.push_str(&format!("fragment F{level} on Query {{ {spreads} }}\n"));
    }
    bomb.push_str("fragment F8 on Query { __typename }\n");
    bomb
}

#[tokio::test]
async fn a_persisted_query_is_checked_by_the_guard_each_time_it_runs() {
    // Two servers share one cache; the second refuses queries nested deeper than 4.
    let app = TestApp::new();
    let shared = PersistedQueries::default();
    let config = |limits| ExecutorConfig {
        limits,
        persisted_queries: shared.clone(),
        ..ExecutorConfig::default()
    };
    let lenient = TestServer::spawn_store(
        app.store.clone(),
        config(Limits::default()),
        HttpConfig::default(),
        Box::new(()),
    )
    .await;
    let strict = TestServer::spawn_store(
        app.store.clone(),
        config(Limits {
            max_depth: 4,
            ..Limits::default()
        }),
        HttpConfig::default(),
        Box::new(()),
    )
    .await;
    let nested =
        r#"{ country(code: "RU") { agreements { nodes { facilities { nodes { name } } } } } }"#;
    let hash = sha256_hex(nested);
    let client = reqwest::Client::new();
    let registered: Value = client
        .get(lenient.url("/graphql"))
        .query(&[
            ("query", nested.to_owned()),
            ("extensions", persisted(&hash)),
        ])
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert!(registered.get("errors").is_none(), "{registered}");
    assert_eq!(shared.len(), 1);

    let refused: Value = client
        .get(strict.url("/graphql"))
        .query(&[("extensions", persisted(&hash))])
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{refused}"
    );
    assert!(refused["data"].is_null());

    let answered: Value = client
        .get(lenient.url("/graphql"))
        .query(&[("extensions", persisted(&hash))])
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answered, registered);

    // Text that fails validation, or the guard, is never stored.
    for query in [
        "{ country(code: \"RU\") { noSuchField } }",
        nested, // refused by the strict server's guard
    ] {
        let refused: Value = client
            .get(strict.url("/graphql"))
            .query(&[
                ("query", query.to_owned()),
                ("extensions", persisted(&sha256_hex(query))),
            ])
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        assert!(refused["data"].is_null(), "{refused}");
    }
    let invalid = "{ country(code: \"RU\") { noSuchField } }";
    let unknown: Value = client
        .get(lenient.url("/graphql"))
        .query(&[("extensions", persisted(&sha256_hex(invalid)))])
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(shared.len(), 1);
    strict.shutdown().await;
    lenient.shutdown().await;
}

#[tokio::test]
async fn get_answers_are_cacheable_with_etags_and_posts_are_not() {
    let server = TestServer::spawn_with(|app| {
        app.http = HttpConfig {
            cache_max_age: Duration::from_secs(120),
            ..HttpConfig::default()
        }
    })
    .await;
    let client = reqwest::Client::new();
    let get = |query: &'static str, if_none_match: Option<&str>, encoding: Option<&str>| {
        let mut request = client
            .get(server.url("/graphql"))
            .query(&[("query", query)]);
        if let Some(tag) = if_none_match {
            request = request.header("if-none-match", tag);
        }
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.send()
    };

    let first = get(KANT, None, None).await.expect("GET");
    assert_eq!(first.status(), 200);
    let headers = first.headers().clone();
    assert_eq!(header(&headers, "cache-control"), "public, max-age=120");
    let vary = header(&headers, "vary");
    assert!(
        vary.contains("accept") && vary.contains("accept-encoding"),
        "{vary}"
    );
    let tag = header(&headers, "etag").to_owned();
    assert!(
        tag.len() == 66 && tag.starts_with('"') && tag.ends_with('"'),
        "a strong tag: {tag}"
    );
    let body = first.bytes().await.expect("a body");
    assert_eq!(tag, format!("\"{:x}\"", Sha256::digest(&body)));

    for if_none_match in [tag.clone(), format!("W/{tag}"), format!("\"other\", {tag}")] {
        let revalidated = get(KANT, Some(&if_none_match), None).await.expect("GET");
        assert_eq!(
            revalidated.status(),
            StatusCode::NOT_MODIFIED,
            "{if_none_match}"
        );
        let headers = revalidated.headers().clone();
        assert_eq!(header(&headers, "etag"), tag);
        assert_eq!(header(&headers, "cache-control"), "public, max-age=120");
        assert!(revalidated.bytes().await.expect("a body").is_empty());
    }
    let changed = get(KANT, Some("\"stale\""), None).await.expect("GET");
    assert_eq!(changed.status(), 200);
    assert_eq!(header(changed.headers(), "etag"), tag);

    let other = get(SMALL, None, None).await.expect("GET");
    assert_ne!(header(other.headers(), "etag"), tag);

    // Compressed bytes are another representation, with their own tag.
    let plain_tag = get(LARGE, None, None).await.expect("GET");
    let plain_tag = header(plain_tag.headers(), "etag").to_owned();
    let gzipped = get(LARGE, None, Some("gzip")).await.expect("GET");
    assert_eq!(header(gzipped.headers(), "content-encoding"), "gzip");
    let gzip_tag = header(gzipped.headers(), "etag").to_owned();
    assert!(!gzip_tag.is_empty() && gzip_tag != plain_tag);
    let revalidated = get(LARGE, Some(&gzip_tag), Some("gzip"))
        .await
        .expect("GET");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(revalidated.headers(), "content-encoding"), "");

    // Answers with errors, requests without a query and POSTs are never stored.
    let failed = get(TOO_LONG_A_PAGE, None, None).await.expect("GET");
    assert_eq!(failed.status(), 200);
    assert_eq!(header(failed.headers(), "cache-control"), "no-store");
    assert!(failed.headers().get("etag").is_none());
    let no_query = client
        .get(server.url("/graphql"))
        .send()
        .await
        .expect("GET");
    assert_eq!(no_query.status(), 400);
    assert_eq!(header(no_query.headers(), "cache-control"), "no-store");
    let posted = client
        .post(server.url("/graphql"))
        .header("if-none-match", &tag)
        .json(&json!({ "query": KANT }))
        .send()
        .await
        .expect("POST");
    assert_eq!(posted.status(), 200);
    assert_eq!(header(posted.headers(), "cache-control"), "no-store");
    assert!(posted.headers().get("etag").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn browsers_get_graphiql_at_get_graphql_unless_it_is_off() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let playground = client
        .get(server.url("/"))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("text");
    let page = client
        .get(server.url("/graphql"))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), 200);
    assert!(header(page.headers(), "content-type").starts_with("text/html"));
    assert!(header(page.headers(), "vary").contains("accept"));
    assert_eq!(page.text().await.expect("text"), playground);

    // API clients, and browsers that send a query, get GraphQL.
    let api = client
        .get(server.url("/graphql"))
        .send()
        .await
        .expect("GET");
    assert_eq!(api.status(), 400);
    let query = client
        .get(server.url("/graphql"))
        .header("accept", BROWSER_ACCEPT)
        .query(&[("query", SMALL)])
        .send()
        .await
        .expect("GET");
    assert_eq!(query.status(), 200);
    assert!(header(query.headers(), "content-type").starts_with("application/json"));
    server.shutdown().await;

    let server = TestServer::spawn_with(|app| {
        app.http = HttpConfig {
            graphiql: false,
            ..HttpConfig::default()
        }
    })
    .await;
    let root = client.get(server.url("/")).send().await.expect("GET /");
    assert_eq!(root.status(), 404);
    let page = client
        .get(server.url("/graphql"))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), 400);
    assert!(header(page.headers(), "content-type").starts_with("application/json"));
    server.shutdown().await;
}

async fn query_with_id(address: &str, id: &str) {
    let response = reqwest::Client::new()
        .get(format!("http://{address}/graphql"))
        .query(&[("query", TOO_LONG_A_PAGE)])
        .header("x-request-id", id)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(header(response.headers(), "x-request-id"), id);
}

#[tokio::test]
async fn json_logs_carry_the_request_id_in_every_line_of_a_request() {
    let server = Running::start(&["--log-format", "json"]);
    query_with_id(&server.address, "json-log-probe-7").await;
    // Lines are written off the request path; none was dropped, and /metrics says so.
    let metrics = reqwest::get(format!("http://{}/metrics", server.address))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line == "kyrgyz_relations_log_lines_dropped_total 0"),
        "{metrics}"
    );
    let log = server.stop();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["id"] == "json-log-probe-7")
        .collect();
    let access = of_request
        .iter()
        .find(|line| line["fields"]["message"] == "request")
        .unwrap_or_else(|| panic!("no access log line for the request:\n{log}"));
    assert_eq!(access["fields"]["status"], 200);
    assert_eq!(access["span"]["name"], "request");
    assert_eq!(access["span"]["method"], "GET");
    assert_eq!(access["span"]["path"], "/graphql");
    assert_eq!(access["spans"][0]["id"], "json-log-probe-7");
    assert_eq!(access["level"], "INFO");
    // Every access line names its request.
    for line in lines
        .iter()
        .filter(|line| line["fields"]["message"] == "request")
    {
        assert!(line["span"]["id"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn text_logs_carry_the_request_id_and_bad_origins_are_refused_at_start() {
    let server = Running::start(&[]);
    query_with_id(&server.address, "text-log-probe-9").await;
    let log = server.stop();
    let access = log
        .lines()
        .find(|line| line.contains("request{id=text-log-probe-9"))
        .unwrap_or_else(|| panic!("no line names the request:\n{log}"));
    assert!(access.contains("status=200"), "{access}");

    let output = Command::new(BINARY)
        .args([
            "--cors-origin",
            "https://example.org/app",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not an origin"), "{stderr}");
}

#[tokio::test]
async fn a_cached_answer_is_compressed_once_and_each_variant_tagged_by_its_bytes() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let get = |encoding: &'static str| {
        client
            .get(server.url("/graphql"))
            .query(&[("query", LARGE)])
            .header("accept-encoding", encoding)
            .send()
    };
    let plain = get("identity").await.expect("GET");
    let plain = plain.bytes().await.expect("a body");
    for encoding in ["br", "gzip"] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let response = get(encoding).await.expect("GET");
            assert_eq!(header(response.headers(), "content-encoding"), encoding);
            let tag = header(response.headers(), "etag").to_owned();
            let body = response.bytes().await.expect("a body");
            assert_eq!(
                tag,
                format!("\"{:x}\"", Sha256::digest(&body)),
                "{encoding}"
            );
            let mut decoded = Vec::new();
            match encoding {
                "br" => brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut decoded),
                _ => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded),
            }
            .expect("decodes");
            assert_eq!(decoded, plain, "{encoding}");
            seen.push(body);
        }
        assert!(seen.windows(2).all(|pair| pair[0] == pair[1]), "{encoding}");
    }
    // Served from the variant made once for the cached answer: brotli at quality 9,
    // which the compression layer, compressing each response, never spends.
    let mut once = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &plain[..], &mut once, &params).expect("compresses");
    let served = get("br").await.expect("GET").bytes().await.expect("a body");
    assert_eq!(served, once);
    server.shutdown().await;
}
