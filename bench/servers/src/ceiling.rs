//! The ceiling: answers every request body it was given with the bytes the real server
//! answered it with, looked up in memory, through the real server's HTTP layers and
//! accept loop. No GraphQL runs, so its throughput bounds what any resolver design could
//! reach on this stack. `bench/perf/run.sh` captures the answers and starts it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use clap::Parser;
use kyrgyz_relations_bench::{
    error, graphql_response, init_logging, load_answers, read_body, serve,
};

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let answers = Arc::new(load_answers(&cli.responses)?);
    tracing::info!(answers = answers.len(), "loaded the captured answers");
    let routes = Router::new()
        .route("/graphql", post(answer))
        .with_state(answers);
    serve(cli.listen, routes).await
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
