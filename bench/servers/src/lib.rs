//! What the benchmark's reference servers share with each other and with the real server:
//! its log format, the headers of its `/graphql` answers, its body limit, and its HTTP
//! layers and accept loop (`kyrgyz_relations::http::with_layers` and `serve_connections`),
//! so that a difference in throughput is a difference in the handlers alone; and the
//! captured answers that the ceiling and the bare server replay.
//!
//! - `bench-ceiling` (`ceiling.rs`): the real server's answers, by request body, from
//!   memory, through the real server's layers (a diagnostic: the layers' own cost).
//! - `bench-bare` (`bare.rs`): the same answers from plain axum, none of those layers,
//!   no logging: the bare ceiling, what the machine allows for these bytes over HTTP/1.1.
//! - `bench-baseline` (`baseline/`): the schema over plain in-memory Vecs, naive resolvers.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kyrgyz_relations::http::{self, HttpConfig};
use tracing_subscriber::EnvFilter;

/// Logs to stderr as the real server does by default (text, `RUST_LOG`, default `info`),
/// so every server of a comparison writes the same access log.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// A captured answer: one JSON line of the file `bench/perf/perf.py check --capture` writes.
#[derive(serde::Deserialize)]
struct Captured {
    body: String,
    response: String,
}

/// The answers of a captured file, JSON lines `{"body": "<request body>", "response":
/// "<answer body>"}`, by the exact bytes of the request body.
pub fn load_answers(path: &Path) -> anyhow::Result<HashMap<Bytes, Bytes>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut answers = HashMap::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let captured: Captured = serde_json::from_str(&line).with_context(|| {
            format!(
                "{} line {}: not a captured answer",
                path.display(),
                number + 1
            )
        })?;
        answers.insert(Bytes::from(captured.body), Bytes::from(captured.response));
    }
    anyhow::ensure!(!answers.is_empty(), "{} holds no answers", path.display());
    Ok(answers)
}

/// Reads a request body up to the real server's limit; a larger one is a 413, as there.
pub async fn read_body(request: Request) -> Result<Bytes, Response> {
    let limit = HttpConfig::default().limits.max_body_bytes;
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than {limit} bytes"),
            )
        })
}

/// A `/graphql` answer with the headers the real server sends with a POST answer.
pub fn graphql_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
    response
}

/// A GraphQL-shaped error answer.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message }] });
    graphql_response(status, body.to_string())
}

/// Serves `routes` (plus `/healthz`) on `listen` through the real server's layers and
/// accept loop, with its default configuration, until SIGINT or SIGTERM.
pub async fn serve(listen: SocketAddr, routes: Router) -> anyhow::Result<()> {
    let config = HttpConfig::default();
    let routes = routes.route(
        "/healthz",
        get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
    );
    let router = http::with_layers(routes, &config);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let shutdown =
        http::shutdown_signal().context("cannot install the SIGINT and SIGTERM handlers")?;
    tracing::info!("serving GraphQL on http://{address}/graphql");
    http::serve_connections(listener, router, config.limits, shutdown)
        .await
        .context("server failed")
}
