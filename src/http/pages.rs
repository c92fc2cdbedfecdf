//! The routes that are not GraphQL: the GraphiQL page and its files, the probes
//! (`/health`, `/healthz`, `/readyz`) and `/metrics`.

use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::graphiql;
use crate::metrics;
use crate::store::{Store, StoreState};

use super::*;

/// The GraphiQL page; its scripts come from `graphiql_asset`, or from a CDN when the build
/// could not embed them.
pub(super) async fn graphiql() -> Html<String> {
    Html(graphiql::page("/graphql"))
}

/// GraphiQL's pinned files. Their names carry their versions, so they never change and
/// browsers may keep them for a year without asking again.
pub(super) async fn graphiql_asset(Path(file): Path<String>, method: Method) -> Response {
    match graphiql::asset(&file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => not_found(method, true).await,
    }
}

/// The store's format and seed hash when it is open and seeded; `None` (after logging
/// why) otherwise. The check behind `/health` and `/readyz`.
pub(super) fn ready_store(store: &Store, probe: &str) -> Option<(u32, String)> {
    match store.state() {
        Ok(StoreState::Ready { format, seed_hash }) => Some((format, seed_hash)),
        Ok(state) => {
            tracing::error!(?state, probe, "the store is not ready");
            None
        }
        Err(error) => {
            tracing::error!(%error, probe, "cannot read the store");
            None
        }
    }
}

pub(super) fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable" })),
    )
        .into_response()
}

/// Liveness and what the store holds: format, seed hash, record counts.
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let store = &state.store;
    let Some((format, seed_hash)) = ready_store(store, "/health") else {
        return unavailable();
    };
    match store.record_counts() {
        Ok(counts) => {
            let records: serde_json::Map<String, Value> = counts
                .into_iter()
                .map(|(kind, count)| (kind.collection_name().to_owned(), json!(count)))
                .collect();
            Json(json!({
                "status": "ok",
                "store": { "formatVersion": format, "seedHash": seed_hash },
                "records": records,
                "graphiql": graphiql::SOURCE.name(),
            }))
            .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "health check cannot read the store");
            unavailable()
        }
    }
}

/// Liveness: the process answers requests. Reads nothing, so it stays cheap to poll.
pub(super) async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: 200 while the store is open and seeded, 503 otherwise.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    match ready_store(&state.store, "/readyz") {
        Some(_) => Json(json!({ "status": "ready" })).into_response(),
        None => unavailable(),
    }
}

/// The metrics in Prometheus' text exposition format.
pub(super) async fn metrics_text(State(state): State<AppState>) -> Response {
    let usage = state.executor.cache_usage().unwrap_or_default();
    let response_cache = metrics::ResponseCacheSize {
        entries: u64::try_from(usage.entries).unwrap_or(u64::MAX),
        bytes: u64::try_from(usage.bytes).unwrap_or(u64::MAX),
    };
    let usage = state.store.read_cache_usage();
    let read_cache = metrics::ReadCacheSize {
        entries: u64::try_from(usage.entries).unwrap_or(u64::MAX),
        bytes: u64::try_from(usage.bytes).unwrap_or(u64::MAX),
        hits: usage.hits,
        misses: usage.misses,
    };
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(response_cache, read_cache),
    )
        .into_response()
}
