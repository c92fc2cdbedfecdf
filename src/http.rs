//! HTTP: the axum router (`/graphql`, GraphiQL at `/`, probes, `/metrics`) and the server
//! loop, with the limits and conventions a public endpoint needs (compression, CORS, HTTP
//! caching, persisted queries, request ids). The only module that imports axum and hyper.
//!
//! GraphQL over HTTP follows the GraphQL-over-HTTP specification: POST takes
//! `application/json` bodies, GET takes query parameters and only queries, `Accept`
//! chooses between `application/json` and `application/graphql-response+json`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::FutureExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use crate::graphiql;
use crate::metrics::{self, Metrics, PersistedQuery};
use crate::schema::persisted::{Persisted, PersistedQueryError};
use crate::schema::{AppSchema, PersistedQueries};
use crate::store::{Store, StoreState};

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

/// How the HTTP layer behaves: limits, who may call it from a browser, the IDE, caching.
#[derive(Clone)]
pub struct HttpConfig {
    pub limits: HttpLimits,
    /// Origins whose pages may call the API from a browser (CORS). Empty: no CORS headers,
    /// so only pages served from the API's own origin can read its answers.
    pub cors_origins: Vec<CorsOrigin>,
    /// Serve GraphiQL at `/`, and at `GET /graphql` to browsers that send no query.
    pub graphiql: bool,
    /// How long shared caches and browsers may reuse a successful `GET /graphql` answer.
    pub cache_max_age: Duration,
    /// The automatic persisted query cache; clones share it.
    pub persisted_queries: PersistedQueries,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            limits: HttpLimits::default(),
            cors_origins: Vec::new(),
            graphiql: true,
            cache_max_age: Duration::from_secs(60),
            persisted_queries: PersistedQueries::default(),
        }
    }
}

/// An origin (`scheme://host[:port]`) whose pages may call the API from a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsOrigin(HeaderValue);

impl FromStr for CorsOrigin {
    type Err = String;

    /// Accepts what a browser sends in `Origin`: a scheme, `://`, a host and an optional
    /// port, without a path or a trailing slash (an origin written with one would never
    /// match). Scheme and host are lowercased, as browsers send them.
    fn from_str(text: &str) -> Result<CorsOrigin, String> {
        let origin = text.trim().to_ascii_lowercase();
        let refuse = || {
            format!(
                "`{text}` is not an origin: write scheme://host or scheme://host:port, such as \
                 https://example.org, without a path, a trailing slash or a wildcard"
            )
        };
        let (scheme, authority) = origin.split_once("://").ok_or_else(refuse)?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        let authority_ok = !authority.is_empty()
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !scheme_ok || !authority_ok {
            return Err(refuse());
        }
        HeaderValue::from_str(&origin)
            .map(CorsOrigin)
            .map_err(|_| refuse())
    }
}

/// The route templates, the labels of the request metrics; any other path is `other`.
const ROUTES: [&str; 7] = [
    "/graphql",
    "/",
    "/graphiql/{file}",
    "/health",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// The `extensions.code`s our GraphQL errors carry, the labels of the error metric.
const ERROR_CODES: [&str; 5] = [
    "BAD_USER_INPUT",
    "INTERNAL",
    "QUERY_TOO_COMPLEX",
    crate::schema::persisted::NOT_FOUND_CODE,
    "BAD_REQUEST",
];

/// Responses smaller than this are sent uncompressed: with its headers such a response fits
/// in one TCP segment either way, so compressing it would cost CPU and save nothing.
const MIN_COMPRESSED_BYTES: u16 = 1024;

/// How long a browser may reuse a CORS preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(600);

#[derive(Clone)]
struct AppState {
    schema: AppSchema,
    store: Store,
    config: Arc<HttpConfig>,
    metrics: Arc<Metrics>,
}

/// The application's routes over a schema and the store it reads.
///
/// Layers, outermost first: request id, access log and metrics; CORS; `ETag` and
/// `304 Not Modified` for shareable GET answers (on the bytes sent, so after
/// compression); compression; time limit and panic guard; the routes.
pub fn router(schema: AppSchema, store: Store, config: HttpConfig) -> Router {
    let metrics = Arc::new(Metrics::new(&ROUTES, &ERROR_CODES));
    let graphiql_on = config.graphiql;
    let mut routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/health", get(health))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text));
    if graphiql_on {
        routes = routes
            .route("/", get(graphiql))
            .route("/graphiql/{file}", get(graphiql_asset));
    }
    let limits = config.limits;
    let cors = cors_layer(&config.cors_origins);
    let routes = routes
        .fallback(move |method: Method| not_found(method, graphiql_on))
        .with_state(AppState {
            schema,
            store,
            config: Arc::new(config),
            metrics: metrics.clone(),
        })
        .layer(middleware::from_fn_with_state(limits, guard_request))
        .layer(
            CompressionLayer::new()
                .br(true)
                .gzip(true)
                .compress_when(SizeAbove::new(MIN_COMPRESSED_BYTES)),
        )
        .layer(middleware::from_fn(conditional_get));
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(middleware::from_fn_with_state(metrics, observe_request))
}

/// Gives every request of `routes` an id (logged, and returned in `x-request-id`), a time
/// limit, and turns a panic into a 500 that leaves the server serving.
pub fn with_request_guard(routes: Router, limits: HttpLimits) -> Router {
    let metrics = Arc::new(Metrics::new(&ROUTES, &ERROR_CODES));
    routes
        .layer(middleware::from_fn_with_state(limits, guard_request))
        .layer(middleware::from_fn_with_state(metrics, observe_request))
}

/// CORS for an allow-list of origins; `None` (no CORS headers at all) for an empty list.
fn cors_layer(origins: &[CorsOrigin]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let request_id = HeaderName::from_static(REQUEST_ID);
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(
                origins.iter().map(|origin| origin.0.clone()),
            ))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::ACCEPT, request_id.clone()])
            .expose_headers([request_id])
            .max_age(CORS_MAX_AGE),
    )
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

/// Every request: an id (returned in `x-request-id`, and a field of the span every log
/// line of the request is written in), an access log line, and its metrics.
async fn observe_request(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = RequestId::of(request.headers());
    request.extensions_mut().insert(id.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let span = tracing::info_span!("request", id = %id.0, method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    metrics.record_request(route.as_deref(), status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        )
    });
    response
}

/// Every request: a time limit, and a panic turned into a 500 that keeps the server
/// serving. Runs inside `observe_request`, so its log lines carry the request id.
async fn guard_request(State(limits): State<HttpLimits>, request: Request, next: Next) -> Response {
    let id = request.extensions().get::<RequestId>().cloned();
    let run = AssertUnwindSafe(next.run(request)).catch_unwind();
    match tokio::time::timeout(limits.request_timeout, run).await {
        Ok(Ok(response)) => response,
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %message, "a request handler panicked");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the request could not be completed",
                "INTERNAL",
                id.as_ref(),
            )
        }
        Err(_) => {
            tracing::warn!(limit = ?limits.request_timeout, "request timed out");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request took too long and was stopped",
                "TIMEOUT",
                id.as_ref(),
            )
        }
    }
}

/// Gives a shareable GET answer (a 200 marked `Cache-Control: public`) a strong `ETag`, the
/// SHA-256 of the bytes sent (compressed ones included, so each encoding has its own tag),
/// and answers `304 Not Modified` without a body when `If-None-Match` names it.
async fn conditional_get(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    let shareable = response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("public"));
    if !shareable {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot read a response body to tag it");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
                "INTERNAL",
                None,
            );
        }
    };
    let tag = format!("\"{:x}\"", Sha256::digest(&body));
    parts.headers.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("hexadecimal digits in quotes are a header value"),
    );
    let matched = if_none_match
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| etag_matches(value, &tag));
    if matched {
        parts.status = StatusCode::NOT_MODIFIED;
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
        ] {
            parts.headers.remove(name);
        }
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(body))
}

/// Whether an `If-None-Match` value names `tag`: `*`, or a list of entity tags compared
/// weakly (a `W/` prefix is ignored), as RFC 9110 says for `If-None-Match`.
fn etag_matches(if_none_match: &str, tag: &str) -> bool {
    if_none_match.trim() == "*"
        || if_none_match.split(',').any(|candidate| {
            let candidate = candidate.trim();
            candidate.strip_prefix("W/").unwrap_or(candidate) == tag
        })
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
        preferred(accept, Format::from_media)
    }

    /// The format a media range of `Accept` stands for, if any.
    fn from_media(media: &str) -> Option<Format> {
        match media {
            GRAPHQL_RESPONSE_JSON => Some(Format::GraphqlResponseJson),
            "application/json" | "application/*" | "*/*" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The choice `Accept` prefers among the media ranges `choose` knows: by quality, then
/// order. Ranges with quality 0 are refusals.
fn preferred<T>(accept: &str, choose: impl Fn(&str) -> Option<T>) -> Option<T> {
    let mut best: Option<(f32, T)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|param| param.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let Some(choice) = choose(&media) else {
            continue;
        };
        if quality > 0.0
            && best
                .as_ref()
                .is_none_or(|(best_quality, _)| quality > *best_quality)
        {
            best = Some((quality, choice));
        }
    }
    best.map(|(_, choice)| choice)
}

/// Whether `Accept` prefers an HTML page to a GraphQL response, as browsers' `text/html,
/// …, */*;q=0.8` does: by quality, then order, `text/html` against the types `negotiate`
/// knows.
fn prefers_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    preferred(accept, |media| match media {
        "text/html" => Some(true),
        _ => Format::from_media(media).map(|_| false),
    })
    .unwrap_or(false)
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
/// Never cached.
async fn graphql_post(State(state): State<AppState>, request: Request) -> Response {
    graphql_headers(post_response(&state, request).await)
}

async fn post_response(state: &AppState, request: Request) -> Response {
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
    let limit = state.config.limits.max_body_bytes;
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
    let mut request = match parsed {
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
    let persisted = match persisted_query(state, &mut request) {
        Ok(persisted) => persisted,
        Err(error) => return persisted_query_refusal(state, &error, format),
    };
    execute(state, request, persisted, format, id.as_ref(), None).await
}

fn request_from_json(
    mut fields: serde_json::Map<String, Value>,
) -> Result<async_graphql::Request, String> {
    let query = match fields.remove("query") {
        Some(Value::String(query)) => Some(query),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`query` must be a string".to_owned()),
    };
    let mut request = async_graphql::Request::new(query.clone().unwrap_or_default());
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
    // A persisted query may leave out its text, which the cache then supplies.
    if query.is_none() && !request.extensions.contains_key(PERSISTED_QUERY) {
        return Err("the request has no `query`".to_owned());
    }
    Ok(request)
}

/// The request extension of automatic persisted queries.
const PERSISTED_QUERY: &str = "persistedQuery";

/// The parameters of a GraphQL request over GET; `variables` and `extensions` are JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// GraphQL over HTTP GET: queries only; mutations and subscriptions get 405. A successful
/// answer may be cached for `cache_max_age`. A browser asking for a page without a query
/// gets GraphiQL, when it is on.
async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Option<Extension<RequestId>>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let wants_ide = state.config.graphiql
        && prefers_html(&headers)
        && params
            .as_ref()
            .is_ok_and(|Query(params)| params.query.is_none() && params.extensions.is_none());
    let response = if wants_ide {
        graphiql().await.into_response()
    } else {
        get_response(&state, &headers, id.as_ref().map(|id| &id.0), params).await
    };
    graphql_headers(response)
}

async fn get_response(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<&RequestId>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let Some(format) = Format::negotiate(headers) else {
        return not_acceptable();
    };
    let request = params
        .map_err(|rejection| format!("invalid query string: {}", rejection.body_text()))
        .and_then(|Query(params)| params.into_request());
    let mut request = match request {
        Ok(request) => request,
        Err(message) => return bad_request(message),
    };
    let persisted = match persisted_query(state, &mut request) {
        Ok(persisted) => persisted,
        Err(error) => return persisted_query_refusal(state, &error, format),
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
    let max_age = state.config.cache_max_age;
    execute(state, request, persisted, format, id, Some(max_age)).await
}

/// The headers every `/graphql` response carries: the answer depends on `Accept` and is
/// compressed by `Accept-Encoding`; anything not marked cacheable must not be stored.
fn graphql_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
    response
}

/// Applies the automatic persisted query rules to `request`, counting hits.
fn persisted_query(
    state: &AppState,
    request: &mut async_graphql::Request,
) -> Result<Persisted, PersistedQueryError> {
    let persisted = state.config.persisted_queries.prepare(request)?;
    if matches!(persisted, Persisted::Hit) {
        state.metrics.record_persisted_query(PersistedQuery::Hit);
    }
    Ok(persisted)
}

/// The answer to a `persistedQuery` extension the rules refused. `PersistedQueryNotFound`
/// is a 200, as Apollo Server sends it, so that no client takes the invitation to send the
/// query for a failure; the other refusals are the client's mistakes, 400s.
fn persisted_query_refusal(
    state: &AppState,
    error: &PersistedQueryError,
    format: Format,
) -> Response {
    let status = if *error == PersistedQueryError::NotFound {
        state.metrics.record_persisted_query(PersistedQuery::Miss);
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    state.metrics.record_graphql_error(Some(error.code()));
    let body = json!({ "errors": [{
        "message": error.message(),
        "extensions": { "code": error.code() },
    }] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
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
        let has_query = self.query.is_some();
        let mut request = async_graphql::Request::new(self.query.unwrap_or_default());
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
        // A persisted query may leave out its text, which the cache then supplies.
        if !has_query && !request.extensions.contains_key(PERSISTED_QUERY) {
            return Err("the request has no `query` parameter".to_owned());
        }
        Ok(request)
    }
}

/// Runs a request and shapes the response for the negotiated format. Internal errors get
/// the request id, so a report can be matched with the log. A persisted query is stored
/// once it has passed the guard and validation. An answer without errors may be cached
/// for `max_age` when one is given.
async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    persisted: Persisted,
    format: Format,
    id: Option<&RequestId>,
    max_age: Option<Duration>,
) -> Response {
    let mut response = state.schema.execute(request).await;
    // Errors without a path happened before execution: parsing, validation, variables.
    let failed_before_execution = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    if let Persisted::Register(registration) = persisted {
        if !failed_before_execution {
            state.config.persisted_queries.register(registration);
            state
                .metrics
                .record_persisted_query(PersistedQuery::Registered);
        }
    }
    for error in &mut response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| match extensions.get("code") {
                Some(async_graphql::Value::String(code)) => Some(code.as_str()),
                _ => None,
            });
        state.metrics.record_graphql_error(code);
        if let Some(id) = id {
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
    let cache_control = match max_age {
        Some(max_age) if response.errors.is_empty() => {
            HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
                .expect("digits are a header value")
        }
        _ => HeaderValue::from_static("no-store"),
    };
    http.headers_mut()
        .insert(header::CACHE_CONTROL, cache_control);
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
        None => not_found(method, true).await,
    }
}

/// The store's format and seed hash when it is open and seeded; `None` (after logging
/// why) otherwise. The check behind `/health` and `/readyz`.
fn ready_store(store: &Store, probe: &str) -> Option<(u32, String)> {
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

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable" })),
    )
        .into_response()
}

/// Liveness and what the store holds: format, seed hash, record counts.
async fn health(State(state): State<AppState>) -> Response {
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
async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Readiness: 200 while the store is open and seeded, 503 otherwise.
async fn readyz(State(state): State<AppState>) -> Response {
    match ready_store(&state.store, "/readyz") {
        Some(_) => Json(json!({ "status": "ready" })).into_response(),
        None => unavailable(),
    }
}

/// The metrics in Prometheus' text exposition format.
async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found(method: Method, graphiql: bool) -> Response {
    let message = if graphiql {
        format!("no route for this {method} request: the API is at /graphql, the playground at /")
    } else {
        format!("no route for this {method} request: the API is at /graphql")
    };
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

    #[test]
    fn browsers_prefer_html_and_api_clients_do_not() {
        let prefers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).expect("ascii"));
            prefers_html(&headers)
        };
        assert!(prefers(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(prefers("text/html"));
        assert!(prefers("application/json;q=0.5, text/html"));
        assert!(!prefers("*/*"));
        assert!(!prefers("application/json, text/html"));
        assert!(!prefers(
            "application/graphql-response+json, application/json;q=0.9"
        ));
        assert!(!prefers("text/html;q=0, */*"));
        assert!(!prefers_html(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_a_star() {
        let tag = "\"abc\"";
        assert!(etag_matches("\"abc\"", tag));
        assert!(etag_matches("W/\"abc\"", tag));
        assert!(etag_matches("\"x\", \"abc\"", tag));
        assert!(etag_matches(" * ", tag));
        assert!(!etag_matches("\"abcd\"", tag));
        assert!(!etag_matches("abc", tag));
    }

    #[test]
    fn cors_origins_are_scheme_host_and_port_only() {
        let origin = |text: &str| text.parse::<CorsOrigin>().map(|origin| origin.0);
        assert_eq!(
            origin("https://Example.org"),
            Ok(HeaderValue::from_static("https://example.org"))
        );
        assert!(origin("http://localhost:5173").is_ok());
        assert!(origin("http://[::1]:8080").is_ok());
        for bad in [
            "https://example.org/",
            "https://example.org/app",
            "example.org",
            "*",
            "https://*.example.org",
            "null",
            "https://",
            "://example.org",
        ] {
            let error = origin(bad).expect_err(bad);
            assert!(error.contains("is not an origin"), "{error}");
        }
    }
}
