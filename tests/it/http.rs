//! HTTP through a real socket: the application `main` serves (`TestServer`), on an
//! ephemeral port.

use kyrgyz_relations::store;
use serde_json::{json, Value};

use crate::support::TestServer;

const KANT: &str = r#"{ facility(slug: "kant-air-base") { name hostCountry { code } } }"#;

#[tokio::test]
async fn post_and_get_answer_queries() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let posted: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": KANT }))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(posted["data"]["facility"]["name"], "Kant Air Base");
    assert_eq!(posted["data"]["facility"]["hostCountry"]["code"], "KG");

    let got = client
        .get(server.url("/graphql"))
        .query(&[("query", KANT)])
        .send()
        .await
        .expect("GET");
    assert_eq!(got.status(), 200);
    let got: Value = got.json().await.expect("JSON");
    assert_eq!(got, posted);

    let document = "query A { country(code: \"KG\") { code } } query B($code: String!) { country(code: $code) { name } }";
    let chosen: Value = client
        .get(server.url("/graphql"))
        .query(&[
            ("query", document),
            ("operationName", "B"),
            ("variables", r#"{"code": "tj"}"#),
        ])
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        chosen,
        json!({ "data": { "country": { "name": "Tajikistan" } } })
    );

    let bad = client
        .get(server.url("/graphql"))
        .query(&[("query", KANT), ("variables", "{not json")])
        .send()
        .await
        .expect("GET");
    assert_eq!(bad.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn response_fields_keep_the_order_of_the_selection_set() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    for (query, expected) in [
        (
            r#"{ country(code: "RU") { name code slug } }"#,
            r#"{"data":{"country":{"name":"Russia","code":"RU","slug":"russia"}}}"#,
        ),
        (
            r#"{ country(code: "RU") { slug code name } }"#,
            r#"{"data":{"country":{"slug":"russia","code":"RU","name":"Russia"}}}"#,
        ),
    ] {
        let body = client
            .post(server.url("/graphql"))
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("POST")
            .text()
            .await
            .expect("a body");
        assert_eq!(body, expected, "{query}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn graphiql_health_and_unknown_paths() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let page = client.get(server.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let html = page.text().await.expect("text");
    assert!(html.contains("graphiql") && html.contains("/graphql"));

    let health: Value = client
        .get(server.url("/health"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"]["formatVersion"], store::FORMAT_VERSION);
    assert_eq!(
        health["store"]["seedHash"].as_str().expect("hash").len(),
        64
    );
    assert!(health["records"]["incidents"].as_u64().expect("a count") > 0);

    let missing = client.get(server.url("/nope")).send().await.expect("GET");
    assert_eq!(missing.status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_a_400_and_the_server_keeps_serving() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    for body in [
        "{",
        "{\"query\": 5}",
        "",
        "{\"query\": \"{ countries\"}",
        "[]",
    ] {
        let response = client
            .post(server.url("/graphql"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        let status = response.status();
        let text = response.text().await.expect("text");
        // Unparseable requests are refused with 400; a well-formed request holding an
        // unparseable document is a GraphQL response with errors and no data.
        let refused = status == 400;
        let answered_with_errors = status == 200
            && serde_json::from_str::<Value>(&text)
                .is_ok_and(|json| json["data"].is_null() && json["errors"].is_array());
        assert!(
            refused || answered_with_errors,
            "body {body:?}: {status} {text}"
        );
        assert!(
            !text.contains("/src/") && !text.contains("panicked") && !text.contains(".rs:"),
            "{text}"
        );
    }
    let still: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": KANT }))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(still["data"]["facility"]["name"], "Kant Air Base");
    server.shutdown().await;
}
