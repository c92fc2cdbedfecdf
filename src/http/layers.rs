//! What wraps every request: its id and the span its log lines are written in, metrics,
//! the time limit and panic guard (`serve_request`), and `ETag` / `304 Not Modified` for
//! shareable answers (`conditional_get`).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::metrics::Metrics;

use super::*;

/// The id of one request: the client's `x-request-id` when it is a sane token, else ours.
/// Held as the header value it is sent back in, so that passing it around and answering
/// with it copies nothing.
#[derive(Clone, Debug)]
pub(super) struct RequestId(pub(super) HeaderValue);

pub(super) const REQUEST_ID: &str = "x-request-id";

impl RequestId {
    fn of(headers: &HeaderMap) -> RequestId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        static PROCESS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let given = headers.get(REQUEST_ID).filter(|id| {
            let id = id.as_bytes();
            !id.is_empty()
                && id.len() <= 64
                && id
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        });
        RequestId(match given {
            Some(id) => id.clone(),
            None => {
                let process = *PROCESS.get_or_init(std::process::id);
                let id = format!("{process:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
                HeaderValue::from_str(&id)
                    .expect("hexadecimal digits and a dash are a header value")
            }
        })
    }

    /// The id as text (every byte of it is ASCII).
    pub(super) fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// Every request: an id (returned in `x-request-id`, and a field of the span every log
/// line of the request is written in), an access log line and its metrics; a time limit,
/// and a panic turned into a 500 that keeps the server serving. One middleware rather
/// than two: each layer costs every request a boxed future and a clone of the service
/// below it.
pub(super) async fn serve_request(
    State((metrics, limits)): State<(Arc<Metrics>, HttpLimits)>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = RequestId::of(request.headers());
    request.extensions_mut().insert(id.clone());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let span = tracing::info_span!("request", id = %id.as_str(), method = %request.method(), path = %request.uri().path());
    let started = Instant::now();
    let mut response = guarded(limits, &id, next.run(request))
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    response.headers_mut().insert(REQUEST_ID, id.0);
    let status = response.status().as_u16();
    metrics.record_request(route.as_ref().map(MatchedPath::as_str), status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        )
    });
    response
}

/// `run` within `limits.request_timeout`, a panic in it turned into a 500.
async fn guarded(
    limits: HttpLimits,
    id: &RequestId,
    run: impl std::future::Future<Output = Response>,
) -> Response {
    let run = AssertUnwindSafe(run).catch_unwind();
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
                Some(id),
            )
        }
        Err(_) => {
            tracing::warn!(limit = ?limits.request_timeout, "request timed out");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request took too long and was stopped",
                "TIMEOUT",
                Some(id),
            )
        }
    }
}

/// Gives a shareable GET answer (a 200 marked `Cache-Control: public`) a strong `ETag`, the
/// SHA-256 of the bytes sent (compressed ones included, so each encoding has its own tag),
/// and answers `304 Not Modified` without a body when `If-None-Match` names it.
pub(super) async fn conditional_get(request: Request, next: Next) -> Response {
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
    // A cached answer comes tagged (`variants`): its tag is compared, its body not read.
    if let Some(tag) = response.headers().get(header::ETAG).cloned() {
        let matched = if_none_match
            .as_ref()
            .and_then(|value| value.to_str().ok())
            .zip(tag.to_str().ok())
            .is_some_and(|(value, tag)| etag_matches(value, tag));
        if !matched {
            return response;
        }
        let (mut parts, _) = response.into_parts();
        not_modified(&mut parts);
        return Response::from_parts(parts, Body::empty());
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
        not_modified(&mut parts);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(body))
}

/// Turns a tagged answer's head into a `304 Not Modified`'s, whose body is empty.
fn not_modified(parts: &mut axum::http::response::Parts) {
    parts.status = StatusCode::NOT_MODIFIED;
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
    ] {
        parts.headers.remove(name);
    }
}

/// Whether an `If-None-Match` value names `tag`: `*`, or a list of entity tags compared
/// weakly (a `W/` prefix is ignored), as RFC 9110 says for `If-None-Match`.
pub(super) fn etag_matches(if_none_match: &str, tag: &str) -> bool {
    if_none_match.trim() == "*"
        || if_none_match.split(',').any(|candidate| {
            let candidate = candidate.trim();
            candidate.strip_prefix("W/").unwrap_or(candidate) == tag
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
