//! The bare ceiling: the real server's captured answers, looked up by request body and
//! served by plain axum (`axum::serve` on a tokio listener, the multi-thread runtime the
//! real server runs), with none of `kyrgyz_relations::http`'s layers, no log subscriber,
//! no request ids and no metrics. No GraphQL runs and nothing is allocated per request
//! but what axum and hyper need: the answer is a clone of a precomputed `Bytes`, the
//! headers static values. Its throughput is what the machine allows one core for these
//! bytes over HTTP/1.1 keep-alive; `bench/perf/run.sh` captures the answers and starts it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Parser;
use kyrgyz_relations_bench::load_answers;

/// Serves captured answers by request body from plain axum, without the real server's layers.
#[derive(Parser)]
struct Cli {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// The answers: JSON lines `{"body": "<request body>", "response": "<answer body>"}`.
    #[arg(long)]
    responses: PathBuf,
}

/// Answer bytes by the exact bytes of the request body.
type Answers = Arc<HashMap<Bytes, Bytes>>;

/// The headers the real server's `/graphql` handler gives a JSON answer (its layers add
/// only a request id), as static values.
const HEADERS: [(header::HeaderName, HeaderValue); 3] = [
    (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    ),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let answers: Answers = Arc::new(load_answers(&cli.responses)?);
    let routes = Router::new()
        .route("/graphql", post(answer))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::clone(&answers));
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // No log subscriber: one line at start, straight to stderr.
    eprintln!(
        "bench-bare: {} captured answers on http://{address}/graphql",
        answers.len()
    );
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown_signal()?)
        .await
        .context("server failed")
}

/// POST /graphql: the captured answer to exactly this body, or a 404.
async fn answer(State(answers): State<Answers>, body: Bytes) -> Response {
    match answers.get(&body) {
        Some(answer) => (HEADERS, answer.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no captured answer for this request body",
        )
            .into_response(),
    }
}

/// Completes on SIGINT or SIGTERM; the handlers are installed before it is polled.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
