//! The ceiling: answers every request body it was given with the bytes the real server
//! answered it with, looked up in memory, through the real server's HTTP layers and
//! accept loop. No GraphQL runs, so its throughput bounds what any resolver design could
//! reach on this stack. `bench/perf/run.sh` captures the answers and starts it.

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use clap::Parser;
use kyrgyz_relations_bench::{error, graphql_response, init_logging, read_body, serve};

/// Serves captured answers by request body, through the real server's HTTP stack.
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

#[derive(serde::Deserialize)]
struct Captured {
    body: String,
    response: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let answers = load(&cli.responses)?;
    tracing::info!(answers = answers.len(), "loaded the captured answers");
    let routes = Router::new()
        .route("/graphql", post(answer))
        .with_state(answers);
    serve(cli.listen, routes).await
}

fn load(path: &Path) -> anyhow::Result<Answers> {
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
    Ok(Arc::new(answers))
}

async fn answer(State(answers): State<Answers>, request: Request) -> Response {
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    match answers.get(&body) {
        Some(answer) => graphql_response(StatusCode::OK, answer.clone()),
        None => error(
            StatusCode::NOT_FOUND,
            "the ceiling has no captured answer for this request body",
        ),
    }
}
