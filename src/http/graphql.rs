//! GraphQL over HTTP: content negotiation, POST and GET, persisted queries, the response
//! cache lookup, and the shape of a response (status, `data`, request ids on internal
//! errors, caching headers).

use std::time::Duration;

use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::metrics::{PersistedQuery, ResponseCacheLookup};
use crate::schema::executor::{Answer, CacheOutcome, Executed, Lookup};
use crate::schema::persisted::{Persisted, PersistedQueryError};

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

/// GraphQL over HTTP POST: a JSON body `{query, operationName, variables, extensions}`.
/// Never cached.
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
    // A body seen before, whose answer is cached: no parsing.
    if let Some(executed) = state.executor.lookup_body(&body) {
        return respond(state, executed, Persisted::No, format, id.as_ref(), None);
    }
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
    let lookup = state.executor.lookup_with_body(&request, &body);
    execute(state, request, lookup, persisted, format, id.as_ref(), None).await
}

pub(super) fn request_from_json(
    mut fields: serde_json::Map<String, Value>,
) -> Result<async_graphql::Request, String> {
    let query = match fields.remove("query") {
        Some(Value::String(query)) => Some(query),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`query` must be a string".to_owned()),
    };
    let has_query = query.is_some();
    let mut request = async_graphql::Request::new(query.unwrap_or_default());
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
    if !has_query && !request.extensions.contains_key(PERSISTED_QUERY) {
        return Err("the request has no `query`".to_owned());
    }
    Ok(request)
}

/// The request extension of automatic persisted queries.
pub(super) const PERSISTED_QUERY: &str = "persistedQuery";

/// The parameters of a GraphQL request over GET; `variables` and `extensions` are JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
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
    let lookup = state.executor.lookup(&request);
    // The cache stores only answers of documents whose operations are all queries, so a
    // hit needs no parse to know that GET may run it.
    let operation = match lookup {
        Lookup::Hit(_) => None,
        _ => state.executor.operation_type(&request),
    };
    if let Some(operation) = operation {
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
    execute(state, request, lookup, persisted, format, id, Some(max_age)).await
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

/// Applies the automatic persisted query rules to `request`, counting hits.
pub(super) fn persisted_query(
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
pub(super) fn persisted_query_refusal(
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

/// Answers a request (from the response cache when `lookup` found it there) and shapes
/// the response for the negotiated format. Internal errors get the request id, so a report
/// can be matched with the log. A persisted query is stored once it has passed the guard
/// and validation; a cached answer's query passed both when it was stored. An answer
/// without errors may be cached for `max_age` when one is given.
pub(super) async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    lookup: Lookup,
    persisted: Persisted,
    format: Format,
    id: Option<&RequestId>,
    max_age: Option<Duration>,
) -> Response {
    let executed = match state.executor.execute(request, lookup).await {
        Ok(executed) => executed,
        Err(error) => {
            tracing::error!(%error, "cannot answer a request");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
                "INTERNAL",
                id,
            );
        }
    };
    respond(state, executed, persisted, format, id, max_age)
}

/// The response to an executed request, shaped as `execute` says.
fn respond(
    state: &AppState,
    executed: Executed,
    persisted: Persisted,
    format: Format,
    id: Option<&RequestId>,
    max_age: Option<Duration>,
) -> Response {
    match executed.cache {
        CacheOutcome::Hit => state
            .metrics
            .record_response_cache(ResponseCacheLookup::Hit),
        CacheOutcome::Miss => state
            .metrics
            .record_response_cache(ResponseCacheLookup::Miss),
        CacheOutcome::Off | CacheOutcome::Bypass => {}
    }
    let (status, body, succeeded) = match executed.answer {
        Answer::Body(body) => {
            register_persisted_query(state, persisted);
            (StatusCode::OK, body, true)
        }
        Answer::Errors(response) => match errors_body(state, response, persisted, format, id) {
            Ok((status, body)) => (status, Bytes::from(body), false),
            Err(error) => {
                tracing::error!(%error, "cannot serialize a response");
                return error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    "INTERNAL",
                    id,
                );
            }
        },
    };
    let mut http = (status, body).into_response();
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let cache_control = match max_age {
        Some(max_age) if succeeded => {
            HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
                .expect("digits are a header value")
        }
        _ => HeaderValue::from_static("no-store"),
    };
    http.headers_mut()
        .insert(header::CACHE_CONTROL, cache_control);
    http
}

/// Stores a persisted query the rules accepted, once its query is known to be valid.
fn register_persisted_query(state: &AppState, persisted: Persisted) {
    if let Persisted::Register(registration) = persisted {
        state.config.persisted_queries.register(registration);
        state
            .metrics
            .record_persisted_query(PersistedQuery::Registered);
    }
}

/// The status and body of a response with errors: counted by code, internal ones given
/// the request id. Under `application/graphql-response+json` a request that failed before
/// execution is a 400 without `data`.
fn errors_body(
    state: &AppState,
    mut response: async_graphql::Response,
    persisted: Persisted,
    format: Format,
    id: Option<&RequestId>,
) -> Result<(StatusCode, Vec<u8>), serde_json::Error> {
    // Errors without a path happened before execution: parsing, validation, variables.
    let failed_before_execution = response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty());
    if !failed_before_execution {
        register_persisted_query(state, persisted);
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
