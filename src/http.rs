//! HTTP: the axum router (`/graphql`, GraphiQL at `/`, `/health`) and the server loop
//! with graceful shutdown. The only module that imports axum.

use std::future::Future;
use std::time::Instant;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::schema::AppSchema;
use crate::store::Store;

#[derive(Clone)]
struct AppState {
    schema: AppSchema,
    store: Store,
}

/// The application's routes over a schema and the store it reads.
pub fn router(schema: AppSchema, store: Store) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/", get(graphiql))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(AppState { schema, store })
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish and flushes the store.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("server stopped; flushing the store");
    store
        .flush()
        .map_err(|error| std::io::Error::other(error.to_string()))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received; shutting down"),
        _ = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}

/// GraphQL over HTTP POST: a JSON body `{query, operationName, variables, extensions}`.
async fn graphql_post(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    state.schema.execute(request.into_inner()).await.into()
}

/// The parameters of a GraphQL request over GET; `variables` and `extensions` are JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    #[serde(default)]
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// GraphQL over HTTP GET, parsed here because async-graphql-axum's GET parsing ignores
/// `operationName`.
async fn graphql_get(
    State(state): State<AppState>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let request = params
        .map_err(|rejection| format!("invalid query string: {}", rejection.body_text()))
        .and_then(|Query(params)| params.into_request());
    match request {
        Ok(request) => GraphQLResponse::from(state.schema.execute(request).await).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "errors": [{ "message": message }] })),
        )
            .into_response(),
    }
}

impl GetParams {
    fn into_request(self) -> Result<async_graphql::Request, String> {
        let mut request = async_graphql::Request::new(self.query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            let variables: serde_json::Value = serde_json::from_str(&variables)
                .map_err(|error| format!("`variables` is not valid JSON: {error}"))?;
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        if let Some(extensions) = self.extensions {
            request.extensions = serde_json::from_str(&extensions)
                .map_err(|error| format!("`extensions` is not a JSON object: {error}"))?;
        }
        Ok(request)
    }
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("kyrgyz-relations: Kyrgyzstan's foreign relations")
            .finish(),
    )
}

/// Liveness and what the store holds: format, seed hash, record counts.
async fn health(State(state): State<AppState>) -> Response {
    let store = &state.store;
    let status = store
        .state()
        .and_then(|state| Ok((state, store.record_counts()?)));
    match status {
        Ok((crate::store::StoreState::Ready { format, seed_hash }, counts)) => {
            let records: serde_json::Map<String, serde_json::Value> = counts
                .into_iter()
                .map(|(kind, count)| (kind.collection_name().to_owned(), json!(count)))
                .collect();
            Json(json!({
                "status": "ok",
                "store": { "formatVersion": format, "seedHash": seed_hash },
                "records": records,
            }))
            .into_response()
        }
        Ok((state, _)) => {
            tracing::error!(?state, "health check found the store not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "health check cannot read the store");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": "not found: the API is at /graphql, the playground at /" }).to_string(),
    )
        .into_response()
}

/// One log line per request: method, path, status, duration.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
