//! GraphQL over HTTP, transport only: content negotiation, reading a POST's body (within
//! its limit) or a GET's parameters, GraphiQL for browsers, and the response an
//! executor's `Outcome` maps to (status, `data` or not, request ids on internal errors,
//! caching headers, metrics). What runs the request is `executor::Executor::run`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::executor::persisted::PersistedQueryError;
use crate::executor::{CacheOutcome, GetParams, GraphqlRequest, Outcome, PersistedUse, Reply};
use crate::metrics::{PersistedQuery, ResponseCacheLookup};

use super::variants::{Coding, Variants};
use super::*;

/// The response formats a client may accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// `application/json`: every well-formed GraphQL response is a 200.
    Json,
    /// `application/graphql-response+json`: requests that fail before execution are 4xx
    /// and carry no `data`.
    GraphqlResponseJson,
}

pub(super) const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

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
pub(super) fn preferred<T>(accept: &str, choose: impl Fn(&str) -> Option<T>) -> Option<T> {
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
pub(super) fn prefers_html(headers: &HeaderMap) -> bool {
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

pub(super) fn not_acceptable() -> Response {
    error_response(
        StatusCode::NOT_ACCEPTABLE,
        "the Accept header allows neither application/graphql-response+json nor application/json",
        "NOT_ACCEPTABLE",
        None,
    )
}

pub(super) fn bad_request(message: String) -> Response {
    error_response(StatusCode::BAD_REQUEST, &message, "BAD_REQUEST", None)
}

/// GraphQL over HTTP POST: a JSON body `{query, operationName, variables, extensions}`,
/// read within the body limit and handed to the executor unparsed. Never cached.
pub(super) async fn graphql_post(State(state): State<AppState>, request: Request) -> Response {
    graphql_headers(post_response(&state, request).await)
}

pub(super) async fn post_response(state: &AppState, request: Request) -> Response {
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
    let coding = Coding::negotiate(request.headers());
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
    let outcome = state.executor.run(GraphqlRequest::Post(body)).await;
    respond(state, outcome, format, id.as_ref(), None, coding)
}

/// GraphQL over HTTP GET: queries only; mutations and subscriptions get 405. A successful
/// answer may be cached for `cache_max_age`. A browser asking for a page without a query
/// gets GraphiQL, when it is on.
pub(super) async fn graphql_get(
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

pub(super) async fn get_response(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<&RequestId>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let Some(format) = Format::negotiate(headers) else {
        return not_acceptable();
    };
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return bad_request(format!("invalid query string: {}", rejection.body_text()))
        }
    };
    let outcome = state.executor.run(GraphqlRequest::Get(params)).await;
    let coding = Coding::negotiate(headers);
    respond(
        state,
        outcome,
        format,
        id,
        Some(state.config.cache_max_age),
        coding,
    )
}

/// The headers every `/graphql` response carries: the answer depends on `Accept` and is
/// compressed by `Accept-Encoding`; anything not marked cacheable must not be stored.
pub(super) fn graphql_headers(mut response: Response) -> Response {
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

/// The response to a request, from what running it came to: an answer shaped for the
/// negotiated format, or a refusal. Internal errors get the request id, so a report can be
/// matched with the log. An answer without errors may be cached for `max_age` when one is
/// given. An answer the response cache holds is sent in `coding`, from its variants made
/// once (`variants`), tagged when shareable.
fn respond(
    state: &AppState,
    outcome: Outcome,
    format: Format,
    id: Option<&RequestId>,
    max_age: Option<Duration>,
    coding: Coding,
) -> Response {
    match outcome.persisted {
        PersistedUse::Hit => state.metrics.record_persisted_query(PersistedQuery::Hit),
        PersistedUse::Registered => state
            .metrics
            .record_persisted_query(PersistedQuery::Registered),
        PersistedUse::None => {}
    }
    match outcome.cache {
        CacheOutcome::Hit => state
            .metrics
            .record_response_cache(ResponseCacheLookup::Hit),
        CacheOutcome::Miss => state
            .metrics
            .record_response_cache(ResponseCacheLookup::Miss),
        CacheOutcome::Off | CacheOutcome::Bypass => {}
    }
    match outcome.reply {
        Reply::Body(body) => match outcome
            .derived
            .as_ref()
            .and_then(|derived| derived.get_or_init(|| Variants::new(body.clone())))
        {
            Some(variants) => {
                let variant = variants.get(coding);
                let mut response = answered(format, max_age, StatusCode::OK, variant.body.clone());
                let headers = response.headers_mut();
                if let Some(encoding) = &variant.encoding {
                    headers.insert(header::CONTENT_ENCODING, encoding.clone());
                }
                if max_age.is_some() {
                    headers.insert(header::ETAG, variant.tag.clone());
                }
                response
            }
            None => answered(format, max_age, StatusCode::OK, body),
        },
        Reply::Errors {
            response,
            before_execution,
        } => match errors_body(state, response, before_execution, format, id) {
            Ok((status, body)) => answered(format, None, status, Bytes::from(body)),
            Err(error) => {
                tracing::error!(%error, "cannot serialize a response");
                internal_error(id)
            }
        },
        Reply::BadRequest(message) => bad_request(message),
        Reply::PersistedQuery(error) => persisted_query_refusal(state, &error, format),
        Reply::MethodNotAllowed => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "only queries may be sent with GET; send mutations and subscriptions with POST",
                "METHOD_NOT_ALLOWED",
                None,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        Reply::Failed(error) => {
            tracing::error!(%error, "cannot answer a request");
            internal_error(id)
        }
    }
}

fn internal_error(id: Option<&RequestId>) -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        "INTERNAL",
        id,
    )
}

/// An answer's response: `body` with `status`, shareable for `max_age` when one is given
/// (only answers without errors are).
fn answered(
    format: Format,
    max_age: Option<Duration>,
    status: StatusCode,
    body: Bytes,
) -> Response {
    let mut http = (status, body).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let cache_control = match max_age {
        Some(max_age) => HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
            .expect("digits are a header value"),
        _ => HeaderValue::from_static("no-store"),
    };
    http.headers_mut()
        .insert(header::CACHE_CONTROL, cache_control);
    http
}

/// The status and body of a response with errors: counted by code, internal ones given
/// the request id. Under `application/graphql-response+json` a request that failed before
/// execution is a 400 without `data`.
fn errors_body(
    state: &AppState,
    mut response: async_graphql::Response,
    failed_before_execution: bool,
    format: Format,
    id: Option<&RequestId>,
) -> Result<(StatusCode, Vec<u8>), serde_json::Error> {
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
                extensions.set("requestId", id.as_str());
            }
        }
    }
    // Serialized straight from the response, so fields keep the order of the selection set.
    Ok(match format {
        Format::GraphqlResponseJson if failed_before_execution => (
            StatusCode::BAD_REQUEST,
            serde_json::to_vec(&ErrorsOnly {
                errors: &response.errors,
                extensions: &response.extensions,
            })?,
        ),
        _ => (StatusCode::OK, serde_json::to_vec(&response)?),
    })
}

/// A response that failed before execution, under `application/graphql-response+json`:
/// the spec leaves out `data` entirely.
#[derive(serde::Serialize)]
pub(super) struct ErrorsOnly<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
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
}
