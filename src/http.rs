//! HTTP: the axum router (`/graphql`, GraphiQL at `/`, `/health`) and the server loop,
//! with the limits a public endpoint needs. The only module that imports axum and hyper.
//!
//! GraphQL over HTTP follows the GraphQL-over-HTTP specification: POST takes
//! `application/json` bodies, GET takes query parameters and only queries, `Accept`
//! chooses between `application/json` and `application/graphql-response+json`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::FutureExt;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::graphiql;
use crate::schema::AppSchema;
use crate::store::Store;

/// Limits on HTTP requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body read, in bytes; larger bodies get 413 without being read.
    pub max_body_bytes: usize,
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long a request may take from headers read to response.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            max_body_bytes: 32 * 1024,
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
struct AppState {
    schema: AppSchema,
    store: Store,
    limits: HttpLimits,
}

/// The application's routes over a schema and the store it reads.
pub fn router(schema: AppSchema, store: Store, limits: HttpLimits) -> Router {
    let routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/", get(graphiql))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/health", get(health))
        .fallback(not_found)
        .with_state(AppState {
            schema,
            store,
            limits,
        });
    with_request_guard(routes, limits)
}

/// Gives every request of `routes` an id (logged, and returned in `x-request-id`), a time
/// limit, and turns a panic into a 500 that leaves the server serving.
pub fn with_request_guard(routes: Router, limits: HttpLimits) -> Router {
    routes.layer(middleware::from_fn_with_state(limits, guard_request))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish and flushes the store. Connections that do not send their headers within the
/// limit are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    store: Store,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection closed with an error");
            }
        });
    }
    tracing::info!("shutting down: finishing requests in flight");
    graceful.shutdown().await;
    tracing::info!("server stopped; flushing the store");
    store
        .flush()
        .map_err(|error| std::io::Error::other(error.to_string()))
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed
/// when this is called, so a signal that arrives before the future is first polled is not
/// lost. Must be called within the runtime.
#[cfg(unix)]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
        }
    })
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received; shutting down");
        }
    })
}

/// The id of one request: the client's `x-request-id` when it is a sane token, else ours.
#[derive(Clone, Debug)]
struct RequestId(String);

const REQUEST_ID: &str = "x-request-id";

impl RequestId {
    fn of(headers: &HeaderMap) -> RequestId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let given = headers
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            });
        RequestId(match given {
            Some(id) => id.to_owned(),
            None => format!(
                "{:x}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        })
    }
}

/// Every request: an id (logged and returned), a time limit, and a panic turned into a
/// 500 that keeps the server serving.
async fn guard_request(
    State(limits): State<HttpLimits>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = RequestId::of(request.headers());
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", id = %id.0, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let run = AssertUnwindSafe(next.run(request)).catch_unwind();
    let mut response = match tokio::time::timeout(limits.request_timeout, run)
        .instrument(span.clone())
        .await
    {
        Ok(Ok(response)) => response,
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            span.in_scope(|| tracing::error!(panic = %message, "a request handler panicked"));
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the request could not be completed",
                "INTERNAL",
                Some(&id),
            )
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!(limit = ?limits.request_timeout, "request timed out"));
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request took too long and was stopped",
                "TIMEOUT",
                Some(&id),
            )
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request"
        )
    });
    response
}

/// A JSON body in the shape of a GraphQL response with one error and no data.
fn error_response(
    status: StatusCode,
    message: &str,
    code: &str,
    id: Option<&RequestId>,
) -> Response {
    let mut extensions = json!({ "code": code });
    if let Some(id) = id {
        extensions["requestId"] = json!(id.0);
    }
    (
        status,
        Json(json!({ "errors": [{ "message": message, "extensions": extensions }] })),
    )
        .into_response()
}

/// The response formats a client may accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `application/json`: every well-formed GraphQL response is a 200.
    Json,
    /// `application/graphql-response+json`: requests that fail before execution are 4xx
    /// and carry no `data`.
    GraphqlResponseJson,
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }

    /// The format `Accept` asks for: by quality, then order; `*/*`, `application/*` and a
    /// missing header mean `application/json`. `None` when nothing offered is acceptable.
    fn negotiate(headers: &HeaderMap) -> Option<Format> {
        let Some(accept) = headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
        else {
            return Some(Format::Json);
        };
        let mut best: Option<(f32, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|param| param.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = match media.as_str() {
                GRAPHQL_RESPONSE_JSON => Format::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => Format::Json,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(best_quality, _)| quality > best_quality) {
                best = Some((quality, format));
            }
        }
        best.map(|(_, format)| format)
    }
}

fn not_acceptable() -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        "the Accept header allows neither application/graphql-response+json nor application/json",
        "NOT_ACCEPTABLE",
        None,
    )
}

fn bad_request(message: String) -> Response {
    error_response(StatusCode::BAD_REQUEST, &message, "BAD_REQUEST", None)
}

/// GraphQL over HTTP POST: a JSON body `{query, operationName, variables, extensions}`.
async fn graphql_post(State(state): State<AppState>, request: Request) -> Response {
    let Some(format) = Format::negotiate(request.headers()) else {
        return not_acceptable();
    };
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST a JSON body with Content-Type: application/json",
            "UNSUPPORTED_MEDIA_TYPE",
            None,
        );
    }
    let id = request.extensions().get::<RequestId>().cloned();
    let limit = state.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {limit} bytes"),
            "PAYLOAD_TOO_LARGE",
            None,
        )
    };
    if declared.is_some_and(|length| length > limit) {
        return too_large();
    }
    // Reads at most `limit + 1` bytes of a chunked body, then stops.
    let Ok(body) = axum::body::to_bytes(request.into_body(), limit).await else {
        return too_large();
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(error) => return bad_request(format!("the body is not valid JSON: {error}")),
    };
    let request = match parsed {
        Value::Object(fields) => match request_from_json(fields) {
            Ok(request) => request,
            Err(message) => return bad_request(message),
        },
        Value::Array(_) => {
            return bad_request(
                "batched requests are not supported: send one operation per request".to_owned(),
            )
        }
        _ => return bad_request("the body must be a JSON object with a `query`".to_owned()),
    };
    execute(&state.schema, request, format, id.as_ref()).await
}

fn request_from_json(
    mut fields: serde_json::Map<String, Value>,
) -> Result<async_graphql::Request, String> {
    let query = match fields.remove("query") {
        Some(Value::String(query)) => query,
        Some(_) => return Err("`query` must be a string".to_owned()),
        None => return Err("the request has no `query`".to_owned()),
    };
    let mut request = async_graphql::Request::new(query);
    match fields.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err("`operationName` must be a string or null".to_owned()),
    }
    match fields.remove("variables") {
        None | Some(Value::Null) => {}
        Some(variables @ Value::Object(_)) => {
            request = request.variables(async_graphql::Variables::from_json(variables))
        }
        Some(_) => return Err("`variables` must be an object or null".to_owned()),
    }
    match fields.remove("extensions") {
        None | Some(Value::Null) => {}
        Some(extensions @ Value::Object(_)) => {
            request.extensions = serde_json::from_value(extensions)
                .map_err(|error| format!("`extensions` is invalid: {error}"))?;
        }
        Some(_) => return Err("`extensions` must be an object or null".to_owned()),
    }
    Ok(request)
}

/// The parameters of a GraphQL request over GET; `variables` and `extensions` are JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// GraphQL over HTTP GET: queries only; mutations and subscriptions get 405.
async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Option<axum::Extension<RequestId>>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    let request = params
        .map_err(|rejection| format!("invalid query string: {}", rejection.body_text()))
        .and_then(|Query(params)| params.into_request());
    let request = match request {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    if let Some(operation) = selected_operation_type(&request) {
        if operation != OperationType::Query {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "only queries may be sent with GET; send mutations and subscriptions with POST",
                "METHOD_NOT_ALLOWED",
                None,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    execute(&state.schema, request, format, id.as_ref().map(|id| &id.0)).await
}

/// The type of the operation a request would run, when the document parses and names it
/// unambiguously; execution reports every other case.
fn selected_operation_type(request: &async_graphql::Request) -> Option<OperationType> {
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let mut operations = document.operations.iter();
    match &request.operation_name {
        Some(name) => operations
            .find(|(operation_name, _)| operation_name.is_some_and(|n| n.as_str() == name))
            .map(|(_, operation)| operation.node.ty),
        None => {
            let (_, operation) = operations.next()?;
            operations.next().is_none().then_some(operation.node.ty)
        }
    }
}

impl GetParams {
    fn into_request(self) -> Result<async_graphql::Request, String> {
        let query = self.query.ok_or("the request has no `query` parameter")?;
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            let variables: Value = serde_json::from_str(&variables)
                .map_err(|error| format!("`variables` is not valid JSON: {error}"))?;
            if !variables.is_object() && !variables.is_null() {
                return Err("`variables` must be a JSON object".to_owned());
            }
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        if let Some(extensions) = self.extensions {
            request.extensions = serde_json::from_str(&extensions)
                .map_err(|error| format!("`extensions` is not a JSON object: {error}"))?;
        }
        Ok(request)
    }
}

/// Runs a request and shapes the response for the negotiated format. Internal errors get
/// the request id, so a report can be matched with the log.
async fn execute(
    schema: &AppSchema,
    request: async_graphql::Request,
    format: Format,
    id: Option<&RequestId>,
) -> Response {
    let mut response = schema.execute(request).await;
    // Errors without a path happened before execution: parsing, validation, variables.
    let failed_before_execution = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    if let Some(id) = id {
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code") == Some(&async_graphql::Value::from("INTERNAL")) {
                extensions.set("requestId", id.0.clone());
            }
        }
    }
    // Serialized straight from the response, so fields keep the order of the selection set.
    let (status, body) = match format {
        Format::GraphqlResponseJson if failed_before_execution => (
            StatusCode::BAD_REQUEST,
            serde_json::to_vec(&ErrorsOnly {
                errors: &response.errors,
                extensions: &response.extensions,
            }),
        ),
        _ => (StatusCode::OK, serde_json::to_vec(&response)),
    };
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot serialize a response");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
                "INTERNAL",
                id,
            );
        }
    };
    let mut http = (status, body).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    http
}

/// A response that failed before execution, under `application/graphql-response+json`:
/// the spec leaves out `data` entirely.
#[derive(serde::Serialize)]
struct ErrorsOnly<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// The GraphiQL page; its scripts come from `graphiql_asset`, or from a CDN when the build
/// could not embed them.
async fn graphiql() -> Html<String> {
    Html(graphiql::page("/graphql"))
}

/// GraphiQL's pinned files. Their names carry their versions, so they never change and
/// browsers may keep them for a year without asking again.
async fn graphiql_asset(Path(file): Path<String>, method: Method) -> Response {
    match graphiql::asset(&file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => not_found(method).await,
    }
}

/// Liveness and what the store holds: format, seed hash, record counts.
async fn health(State(state): State<AppState>) -> Response {
    let store = &state.store;
    let status = store
        .state()
        .and_then(|state| Ok((state, store.record_counts()?)));
    match status {
        Ok((crate::store::StoreState::Ready { format, seed_hash }, counts)) => {
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

async fn not_found(method: Method) -> Response {
    let message =
        format!("no route for this {method} request: the API is at /graphql, the playground at /");
    error_response(StatusCode::NOT_FOUND, &message, "NOT_FOUND", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Format> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).expect("ascii"));
        Format::negotiate(&headers)
    }

    #[test]
    fn accept_is_negotiated_by_quality_then_order() {
        assert_eq!(Format::negotiate(&HeaderMap::new()), Some(Format::Json));
        assert_eq!(accept("*/*"), Some(Format::Json));
        assert_eq!(accept("application/json"), Some(Format::Json));
        assert_eq!(
            accept(GRAPHQL_RESPONSE_JSON),
            Some(Format::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(Format::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json;q=0.5, application/graphql-response+json"),
            Some(Format::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(Format::Json)
        );
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }
}
