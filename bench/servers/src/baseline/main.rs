//! The baseline: the real server's schema, for the fields the benchmark's queries use, over
//! the seed held in plain in-memory Vecs with one resolver per field, behind the real
//! server's HTTP layers and accept loop. It is what the issue's "at least 1.5x the naive
//! in-memory server" is measured against; `bench/perf/run.sh` starts it.
//!
//! - `data.rs`: the seed in memory, with id maps and sorted adjacency lists built at start;
//! - `schema.rs`: the types, fields and arguments, resolved straight from that data.

mod data;
mod schema;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use clap::Parser;
use kyrgyz_relations::seed::SeedSource;
use kyrgyz_relations_bench::{error, graphql_response, init_logging, read_body, serve};

use schema::BaselineSchema;

/// Serves the seed from memory with naive resolvers, through the real server's HTTP stack.
#[derive(Parser)]
struct Cli {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// A directory of seed JSON files; the seed built into kyrgyz-relations when omitted.
    #[arg(long)]
    seed_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let started = Instant::now();
    let source = match &cli.seed_dir {
        Some(dir) => SeedSource::from_dir(dir)?,
        None => SeedSource::embedded(),
    };
    let dataset = source
        .validate()
        .with_context(|| format!("the seed {} is invalid", source.origin()))?;
    let records = dataset.record_count();
    let schema = schema::build(data::Db::new(dataset));
    tracing::info!(
        records,
        seconds = started.elapsed().as_secs_f64(),
        "loaded the seed into memory"
    );
    let routes = Router::new()
        .route("/graphql", post(graphql))
        .with_state(schema);
    serve(cli.listen, routes).await
}

/// POST /graphql: a JSON body `{query, operationName, variables}`, answered as JSON.
async fn graphql(State(schema): State<BaselineSchema>, request: Request) -> Response {
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(problem) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a GraphQL request: {problem}"),
            )
        }
    };
    let response = schema.execute(request).await;
    match serde_json::to_vec(&response) {
        Ok(body) => graphql_response(StatusCode::OK, body),
        Err(problem) => {
            tracing::error!(%problem, "cannot serialize a response");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
