//! The one extension the schema installs (the query guard's parse step, answered from a
//! cache of parsed documents when it can; the executor's record of operation types;
//! spec-conformant field errors; a code on every error). The executor also builds plain
//! twins of the schema, which install none.
//!
//! Why one: async-graphql calls every installed extension around every resolved field
//! (one boxed future each, plus two registry lookups for the field's type), whether or not
//! it has a `resolve` hook of its own. Three extensions cost three per field; folded into
//! one, the guard and the operation types cost nothing per field. (`limits::QueryGuard`
//! installs the guard alone, for the benchmark's baseline.)
//!
//! Why a plain twin: only the field-error hook needs to run around every field, and it
//! changes an answer only when a field fails. async-graphql skips its per-field extension
//! path altogether when a schema has no extension, so the executor answers queries with a
//! twin of the schema built without one: it runs the guard and the operation-type record
//! itself, before executing, and hands the twin the parsed document. An answer in which a
//! field failed is thrown away and the request run again on the schema with the hook,
//! which shapes the errors as the specification says; a failure is rare, and a query
//! changes nothing, so running it twice is safe. (A document holding a mutation never
//! takes the twin.)
//!
//! Why a document cache: parsing is most of the fixed cost of a small query (async-graphql's
//! parser is a pest grammar; about a third of the CPU time of a `node(id:)` lookup), and
//! clients send the same few documents with different variables. The cache holds parsed
//! documents by their exact text, so it changes nothing but the time: the guard's checks
//! and validation still run on every request, on the same document the parser would have
//! produced. It holds no data, so the store's changes do not concern it. Each document
//! also remembers the operations it passed strict validation for, so that the twin can
//! validate a later request for one of them fast (see `validation`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextResolve, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerResult, Value, Variables};

use async_graphql::parser::types::OperationType;

use super::field_errors::RequestState;
use super::limits::{self, parse_guarded_with, CheckedText, Limits};
use super::validation::HeldDocument;
use crate::lru::Lru;

/// The bound on the parsed-document cache, in bytes of estimated document size.
const DOCUMENT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// A parsed document takes about this many times its text's bytes (an estimate from the
/// sizes of the parser's nodes; the bound is approximate by as much).
const DOCUMENT_BYTES_PER_TEXT_BYTE: usize = 16;

/// The query guard's parse step under its `Limits`, through a cache of parsed
/// documents: what the hooks run inside async-graphql and the executor runs before the
/// plain twin. Clones share the cache.
#[derive(Clone)]
pub(super) struct GuardedParser {
    limits: Limits,
    documents: Arc<DocumentCache>,
}

impl GuardedParser {
    pub(super) fn new(limits: Limits) -> GuardedParser {
        GuardedParser {
            limits,
            documents: Arc::new(DocumentCache::new(DOCUMENT_CACHE_BYTES)),
        }
    }

    /// The guard's checks around a (cached) parse.
    pub(super) fn parse(
        &self,
        query: &str,
        variables: &Variables,
    ) -> ServerResult<ExecutableDocument> {
        self.parse_held(query, variables)
            .map(|held| held.document().clone())
    }

    /// `parse`, handing back the document as the cache holds it, with what it knows of
    /// its validity. After the guard's checks (which bound its cost), the document is
    /// checked against the rules of the specification async-graphql misses: once per
    /// document, the verdict kept with it (`HeldDocument::check_rules`).
    pub(super) fn parse_held(
        &self,
        query: &str,
        variables: &Variables,
    ) -> ServerResult<HeldDocument> {
        let (held, text) = parse_guarded_with(query, variables, &self.limits, |text| {
            self.documents.parse(text)
        })?;
        held.check_rules(text)?;
        Ok(held)
    }
}

/// Installs the guard, the operation-type record and field error nulls.
pub struct SchemaHooks {
    parser: GuardedParser,
}

impl SchemaHooks {
    pub(super) fn new(parser: GuardedParser) -> SchemaHooks {
        SchemaHooks { parser }
    }
}

impl ExtensionFactory for SchemaHooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestHooks {
            parser: self.parser.clone(),
            field_errors: RequestState::default(),
        })
    }
}

struct RequestHooks {
    parser: GuardedParser,
    field_errors: RequestState,
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestHooks {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // The rest of the parse chain is not run; see `limits::parse_guarded`.
        let _ = next;
        let document = self.parser.parse(query, variables)?;
        record_operation_types(ctx, &document);
        Ok(document)
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        code_client_errors(&mut response);
        response
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.field_errors
            .execute_hook(ctx, operation_name, next)
            .await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        self.field_errors.resolve_hook(ctx, info, next).await
    }
}

/// Set by the hooks when every operation of a request's document is a query, if the
/// executor asked by putting one in the request's data.
#[derive(Default)]
pub(super) struct OnlyQueries(AtomicBool);

impl OnlyQueries {
    /// Whether the hooks recorded a document of queries alone.
    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Tells the executor (when it asked, through the request's data) whether `document`
/// holds only queries.
fn record_operation_types(ctx: &ExtensionContext<'_>, document: &ExecutableDocument) {
    if let Some(recorded) = ctx.data_opt::<Arc<OnlyQueries>>() {
        recorded.0.store(only_queries(document), Ordering::Release);
    }
}

/// Whether every operation of `document` is a query.
pub(super) fn only_queries(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .all(|(_, operation)| operation.node.ty == OperationType::Query)
}

/// Gives `BAD_USER_INPUT` to every error of `response` without a code. Our resolvers and
/// the guard code each error they raise (`INTERNAL` for the server's failures); the ones
/// left without are async-graphql's own, and all of those are about the request: a
/// syntax error, a validation rule, a value that does not coerce to its type (a literal
/// argument, a variable, a scalar such as `PartialDate`). Clients tell them apart from
/// failures of the server by the code. The executor does the same for the twins' answers,
/// so its answers are the hooked schema's own.
pub(super) fn code_client_errors(response: &mut Response) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
}

/// Parsed documents by their text, least recently used first out.
struct DocumentCache {
    documents: Mutex<Lru<str, HeldDocument>>,
    hits: AtomicU64,
}

impl DocumentCache {
    fn new(max_bytes: usize) -> DocumentCache {
        DocumentCache {
            documents: Mutex::new(Lru::new(max_bytes)),
            hits: AtomicU64::new(0),
        }
    }

    /// `text` parsed: the document parsed before, or parsed now and kept. A query that
    /// fails to parse is not kept; it fails again the same way.
    fn parse(&self, text: CheckedText<'_>) -> ServerResult<HeldDocument> {
        let query = text.as_str();
        let held = self.lock().get(query).cloned();
        if let Some(held) = held {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(held);
        }
        let held = HeldDocument::new(limits::parse(text)?);
        let cost = query.len().saturating_mul(DOCUMENT_BYTES_PER_TEXT_BYTE);
        self.lock().insert(Arc::from(query), held.clone(), cost);
        Ok(held)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<str, HeldDocument>> {
        // A panic while holding the lock leaves a consistent map behind; keep using it.
        self.documents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn sum(&self, numbers: Vec<i32>) -> i32 {
            numbers.iter().sum()
        }
    }

    #[tokio::test]
    async fn a_cached_document_is_still_checked_against_each_request() {
        let limits = Limits {
            max_list_items: 3,
            ..Limits::default()
        };
        let hooks = SchemaHooks::new(GuardedParser::new(limits));
        let documents = hooks.parser.documents.clone();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(hooks)
            .finish();
        let query = "query Sum($numbers: [Int!]!) { sum(numbers: $numbers) }";
        let run = |numbers: serde_json::Value| {
            let request = Request::new(query).variables(Variables::from_json(
                serde_json::json!({ "numbers": numbers }),
            ));
            schema.execute(request)
        };

        let first = run(serde_json::json!([1, 2])).await;
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        // The same text again, with a variable the guard refuses (before parsing): refused
        // although its document is held.
        let refused = run(serde_json::json!([1, 2, 3, 4])).await;
        assert_eq!(refused.errors.len(), 1, "{:?}", refused.errors);
        assert!(
            refused.errors[0].message.contains("limit is 3"),
            "{:?}",
            refused.errors
        );
        // And validated all the same, from the held document: a variable of the wrong type.
        let invalid = run(serde_json::json!(["one"])).await;
        assert_eq!(invalid.errors.len(), 1, "{:?}", invalid.errors);
        let again = run(serde_json::json!([3, 4])).await;
        assert_eq!(
            again.data.into_json().expect("JSON"),
            serde_json::json!({ "sum": 7 })
        );
        // Parsed once; the last two requests were answered from the cache.
        assert_eq!(documents.hits.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_document_that_fails_to_parse_is_not_kept() {
        let hooks = SchemaHooks::new(GuardedParser::new(Limits::default()));
        let documents = hooks.parser.documents.clone();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(hooks)
            .finish();
        for _ in 0..2 {
            let response = schema.execute("{ sum(numbers: [1, 2) }").await;
            assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        }
        assert_eq!(documents.hits.load(Ordering::Relaxed), 0);
        assert_eq!(documents.lock().len(), 0);
    }
}
