//! The HTTP rules of a public endpoint: media types, methods, body size, timeouts,
//! panics, request ids; through a real socket.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use kyrgyz_relations::http::{self, HttpLimits};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestServer;

const QUERY: &str = r#"{ country(code: "KG") { name } }"#;

#[tokio::test]
async fn post_needs_json_and_a_single_operation() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let post = |content_type: Option<&str>, body: String| {
        let mut request = client.post(server.url("/graphql")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let body = json!({ "query": QUERY }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let response = post(content_type, body.clone()).await.expect("POST");
        assert_eq!(response.status(), 415, "{content_type:?}");
    }
    let ok = post(Some("application/json; charset=utf-8"), body.clone())
        .await
        .expect("POST");
    assert_eq!(ok.status(), 200);

    let batch = post(
        Some("application/json"),
        json!([{ "query": QUERY }, { "query": QUERY }]).to_string(),
    )
    .await
    .expect("POST");
    assert_eq!(batch.status(), 400);
    let text = batch.text().await.expect("text");
    assert!(
        text.contains("batched requests are not supported"),
        "{text}"
    );

    for (body, text) in [
        (json!({}), "no `query`"),
        (json!({ "query": 1 }), "`query` must be a string"),
        (
            json!({ "query": QUERY, "variables": [] }),
            "`variables` must be an object",
        ),
    ] {
        let response = post(Some("application/json"), body.to_string())
            .await
            .expect("POST");
        assert_eq!(response.status(), 400);
        assert!(response.text().await.expect("text").contains(text));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn accept_is_negotiated_and_request_errors_are_400_in_graphql_response_json() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let send = |accept: &'static str, query: &'static str| {
        client
            .post(server.url("/graphql"))
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
    };
    let json_response = send("application/json", "{ nope }").await.expect("POST");
    assert_eq!(json_response.status(), 200);
    assert!(json_response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    let body: Value = json_response.json().await.expect("JSON");
    assert!(body.get("data").is_some() && body["errors"].is_array());

    let strict = send("application/graphql-response+json", "{ nope }")
        .await
        .expect("POST");
    assert_eq!(strict.status(), 400);
    assert!(strict.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/graphql-response+json"));
    let body: Value = strict.json().await.expect("JSON");
    assert!(
        body.get("data").is_none() && body["errors"].is_array(),
        "{body}"
    );

    let fine = send("application/graphql-response+json", QUERY)
        .await
        .expect("POST");
    assert_eq!(fine.status(), 200);

    let refused = send("text/html", QUERY).await.expect("POST");
    assert_eq!(refused.status(), 406);
    server.shutdown().await;
}

#[tokio::test]
async fn mutations_over_get_are_405_with_allow_post() {
    let server = TestServer::spawn().await;
    let response = reqwest::Client::new()
        .get(server.url("/graphql"))
        .query(&[("query", "mutation { anything }")])
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let missing = reqwest::Client::new()
        .get(server.url("/graphql"))
        .send()
        .await
        .expect("GET");
    assert_eq!(missing.status(), 400);
    server.shutdown().await;
}

/// Writes a raw HTTP/1.1 request and returns the status line of the answer.
async fn raw_request(address: std::net::SocketAddr, head: &str, chunks: &[Vec<u8>]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    stream.write_all(head.as_bytes()).await.expect("writes");
    for chunk in chunks {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break; // The server may stop reading once the limit is passed.
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answers in time")
        .expect("reads");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_chunked_or_not() {
    let server = TestServer::spawn().await;
    let limit = HttpLimits::default().max_body_bytes;
    let big = json!({ "query": format!("{{ __typename }} #{}", "x".repeat(limit)) }).to_string();
    let declared = reqwest::Client::new()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("POST");
    assert_eq!(declared.status(), 413);

    let head = "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunks = vec![vec![b' '; 8 * 1024]; 64]; // 512 KiB, far over the limit, never declared
    let status = raw_request(server.address, head, &chunks).await;
    assert!(status.contains(" 413 "), "{status}");
    server.shutdown().await;
}

async fn serve_routes(
    routes: Router,
    limits: HttpLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = crate::support::TestApp::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = http::with_request_guard(routes, limits);
    tokio::spawn(async move {
        let _app = &app;
        http::serve(listener, router, app.store.clone(), limits, async {
            let _ = stopped.await;
        })
        .await
    });
    (address, stop)
}

#[tokio::test]
async fn a_panic_is_a_500_with_a_request_id_and_the_next_request_is_served() {
    let routes = Router::new()
        .route("/boom", get(|| async { panic!("a resolver bug") as &str }))
        .route("/fine", get(|| async { "fine" }));
    let (address, stop) = serve_routes(routes, HttpLimits::default()).await;
    let client = reqwest::Client::new();
    let boom = client
        .get(format!("http://{address}/boom"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .expect("GET");
    assert_eq!(boom.status(), 500);
    assert_eq!(boom.headers()["x-request-id"], "trace-42");
    let body: Value = boom.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "trace-42");
    assert!(!body.to_string().contains("a resolver bug"));

    let fine = client
        .get(format!("http://{address}/fine"))
        .send()
        .await
        .expect("GET");
    assert_eq!(fine.status(), 200);
    assert!(fine.headers().contains_key("x-request-id"));
    let _ = stop.send(());
}

#[tokio::test]
async fn slow_requests_time_out_and_half_sent_headers_are_dropped() {
    let limits = HttpLimits {
        request_timeout: Duration::from_millis(200),
        header_read_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let (address, stop) = serve_routes(routes, limits).await;
    let slow = reqwest::Client::new()
        .get(format!("http://{address}/slow"))
        .send()
        .await
        .expect("GET");
    assert_eq!(slow.status(), 503);

    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: te")
        .await
        .expect("writes");
    let mut buffer = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
    // Closed (0 bytes, or a 408 before closing) well before the 5 s bound.
    assert!(
        closed.is_ok(),
        "a half-sent header held the connection open"
    );
    let _ = stop.send(());
}
