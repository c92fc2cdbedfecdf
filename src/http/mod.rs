//! HTTP: the axum router (`/graphql`, GraphiQL at `/`, probes, `/metrics`) and the server
//! loop, with the limits and conventions a public endpoint needs (body limits,
//! compression, CORS, HTTP caching, request ids). Transport only: a GraphQL request is
//! run by the `executor`, whose outcome this module maps to a status, headers and
//! metrics. The only module that imports axum, hyper and tower-http.
//!
//! - this file: configuration (`HttpLimits`, `HttpConfig`, `CorsOrigin`), the router and
//!   its layers, and the error shape every non-GraphQL refusal shares;
//! - `graphql.rs`: GraphQL over HTTP: negotiation, POST's body and GET's parameters, and
//!   the response an executor's outcome maps to;
//! - `layers.rs`: what wraps every request: its id and log span, metrics, time limit,
//!   panic guard, `ETag` and `304`;
//! - `pages.rs`: GraphiQL and its files, `/health`, `/healthz`, `/readyz`, `/metrics`;
//! - `server.rs`: the accept loop and graceful shutdown.

mod graphql;
mod layers;
mod pages;
mod server;
mod variants;

pub use server::{serve, serve_connections, shutdown_signal};

use graphql::*;
use layers::*;
use pages::*;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::executor::Executor;
use crate::metrics::Metrics;
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

/// How the HTTP layer behaves: limits, who may call it from a browser, the IDE, HTTP
/// caching. (The guard's limits, the response cache and persisted queries are the
/// executor's: `executor::ExecutorConfig`.)
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
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            limits: HttpLimits::default(),
            cors_origins: Vec::new(),
            graphiql: true,
            cache_max_age: Duration::from_secs(60),
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
    crate::executor::persisted::NOT_FOUND_CODE,
    "BAD_REQUEST",
];

/// Responses smaller than this are sent uncompressed: with its headers such a response fits
/// in one TCP segment either way, so compressing it would cost CPU and save nothing.
const MIN_COMPRESSED_BYTES: u16 = 1024;

/// How long a browser may reuse a CORS preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// What the handlers share; axum clones it for every request, so it is one `Arc`.
#[derive(Clone)]
struct AppState(Arc<Shared>);

struct Shared {
    /// What runs GraphQL requests.
    executor: Executor,
    store: Store,
    config: HttpConfig,
    metrics: Arc<Metrics>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The application's routes: GraphQL requests run by `executor`, probes on `store` (the
/// store the executor reads).
///
/// Layers, outermost first: request id, access log and metrics, time limit and panic
/// guard (one middleware); CORS; `ETag` and `304 Not Modified` for shareable GET answers
/// (on the bytes sent, so after compression); compression; the routes.
pub fn router(executor: Executor, store: Store, config: HttpConfig) -> Router {
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
        .with_state(AppState(Arc::new(Shared {
            executor,
            store,
            config,
            metrics: metrics.clone(),
        })));
    layered(routes, limits, cors, metrics)
}

/// Wraps `routes` in the layers `router` puts around the API's routes, configured by
/// `config` (limits, CORS), with metrics of their own. The benchmark's reference servers
/// (`bench/servers`) answer through it, so they pay for the same stack as the API.
pub fn with_layers(routes: Router, config: &HttpConfig) -> Router {
    let metrics = Arc::new(Metrics::new(&ROUTES, &ERROR_CODES));
    layered(
        routes,
        config.limits,
        cors_layer(&config.cors_origins),
        metrics,
    )
}

/// The layers of `router` (its doc comment lists them) around `routes`.
fn layered(
    routes: Router,
    limits: HttpLimits,
    cors: Option<CorsLayer>,
    metrics: Arc<Metrics>,
) -> Router {
    let routes = routes
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
    routes.layer(middleware::from_fn_with_state(
        (metrics, limits),
        serve_request,
    ))
}

/// Gives every request of `routes` an id (logged, and returned in `x-request-id`), a time
/// limit, and turns a panic into a 500 that leaves the server serving.
pub fn with_request_guard(routes: Router, limits: HttpLimits) -> Router {
    let metrics = Arc::new(Metrics::new(&ROUTES, &ERROR_CODES));
    routes.layer(middleware::from_fn_with_state(
        (metrics, limits),
        serve_request,
    ))
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

/// A JSON body in the shape of a GraphQL response with one error and no data.
fn error_response(
    status: StatusCode,
    message: &str,
    code: &str,
    id: Option<&RequestId>,
) -> Response {
    let mut extensions = json!({ "code": code });
    if let Some(id) = id {
        extensions["requestId"] = json!(id.as_str());
    }
    (
        status,
        Json(json!({ "errors": [{ "message": message, "extensions": extensions }] })),
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
