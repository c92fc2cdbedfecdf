//! How a GraphQL request is run: the guard (`limits`), the cache of parsed documents and
//! the one extension the schema gets (`hooks`), validation (`validation`,
//! `spec_validation`), spec-conformant field errors (`field_errors`), automatic persisted
//! queries (`persisted`) and the response cache (`response_cache`, keyed by `normalize`).
//! `schema` says what clients can ask; this module builds that schema with its extension
//! and twins (`Executor::new`) and runs requests on it. It imports `schema`, never the
//! other way round.
//!
//! One entry point, `Executor::run` (in `request.rs`): a request as it arrived (a POST's
//! raw body or a GET's parameters) in, an `Outcome` out, which `http` maps to a status,
//! headers and metrics. Everything between is here: the raw body's lookup in the response
//! cache, the persisted query rules and registration, GET's refusal of anything but a
//! query, the guard, validation, execution (by a compiled plan, `schema::plan`, when one
//! covers the query) and caching. `Executor::answer` runs a request already built, for
//! in-process callers (tests, benches) that want its `Executed`.
//!
//! Knows nothing of HTTP: it hands back a successful answer as the bytes of its body, and
//! any other response for the caller to shape.

mod field_errors;
mod hooks;
pub mod limits;
pub mod normalize;
pub mod persisted;
mod request;
pub mod response_cache;
mod spec_validation;
mod validation;

pub use limits::Limits;
pub use persisted::PersistedQueries;
pub use request::{GetParams, GraphqlRequest, Outcome, PersistedUse, Reply};

use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response};
use bytes::Bytes;

use async_graphql::ValidationMode;

use crate::schema::{build_plain_schema, build_schema, AppSchema};
use crate::store::Store;
use hooks::{code_client_errors, only_queries, GuardedParser, OnlyQueries, SchemaHooks};
pub use response_cache::Derived;
use response_cache::{CacheKey, CacheUsage, ResponseCache, Stored};
use validation::VariableTypes;

/// Runs requests against one schema, with or without a response cache of its own.
///
/// Why a cache hit may skip the query guard and validation: an answer is stored only
/// after its request passed both in this executor's schema, whose limits never change,
/// and the cache belongs to this executor alone (it is never shared with a schema of
/// other limits). What they check is determined by the key: validation and the guard's
/// document checks read the parsed document, the operation name and the variables, and
/// two requests with one key have the same tokens (see `normalize`), hence the same
/// document, the same operation name and equal variables; the guard's bracket depth
/// skips strings and comments, so it counts tokens too. The one check on the raw text is
/// its length, which whitespace and comments change. `lookup` runs the guard's checks
/// before parsing (`limits::admit`, which `CacheKey::of` requires) first, so a padded
/// copy of a cached query is refused exactly as it would be without the cache.
#[derive(Clone)]
pub struct Executor {
    /// The schema with its hooks (see `hooks`), validating strictly.
    schema: AppSchema,
    /// The schema's twins without extensions, which answer queries (see `hooks`).
    plain: Twins,
    /// Whose generation says whether a stored answer is still current.
    store: Store,
    /// `None` when the cache is off: then no key is computed and nothing is looked up.
    cache: Option<Arc<ResponseCache>>,
    /// The guard's limits, whose checks before parsing a request passes before it is
    /// looked up; see the type's documentation.
    limits: Limits,
    /// The automatic persisted queries; clones share them.
    persisted: PersistedQueries,
    /// Whether queries the compiled plans cover are answered by them (`schema::plan`).
    compiled_plans: bool,
}

/// What an `Executor` is built with.
#[derive(Clone)]
pub struct ExecutorConfig {
    /// The query guard's limits.
    pub limits: Limits,
    /// The bound of the response cache, in bytes; 0 turns it off. Each executor gets a
    /// cache of its own, bound to its limits.
    pub response_cache_bytes: usize,
    /// The automatic persisted query cache; clones share it (with executors of other
    /// limits too: a persisted query passes the guard each time it runs).
    pub persisted_queries: PersistedQueries,
    /// Answer the queries the compiled plans cover with them (`schema::plan`): the same
    /// bytes as async-graphql's, in a fraction of the time. Off only to compare the two.
    pub compiled_plans: bool,
}

impl Default for ExecutorConfig {
    fn default() -> ExecutorConfig {
        ExecutorConfig {
            limits: Limits::default(),
            response_cache_bytes: response_cache::DEFAULT_CACHE_BYTES,
            persisted_queries: PersistedQueries::default(),
            compiled_plans: true,
        }
    }
}

/// The schema without extensions, and the parse step its requests need before executing:
/// see `hooks`' documentation.
#[derive(Clone)]
struct Twins {
    /// Validates strictly, as the schema itself does.
    schema: AppSchema,
    /// The same, validating fast: for a request whose document is valid by every rule of
    /// the specification and whose variables pass `variables` (see `validation`).
    fast: AppSchema,
    /// The schema with its hooks, validating fast: for running again, to shape its field
    /// errors, a request the fast twin executed.
    hooked_fast: AppSchema,
    variables: Arc<VariableTypes>,
    parser: GuardedParser,
}

/// What the cache holds for a request, from `Executor::lookup`.
enum Lookup {
    /// The executor has no cache.
    Off,
    /// The request is not looked up: it has no key (see `response_cache::Uncacheable`) or
    /// the guard refuses it before parsing.
    Bypass,
    /// The stored answer.
    Hit(Stored),
    /// Nothing current is stored under this key; `execute` may store the answer there.
    Miss(CacheKey),
}

/// What the cache did for a request, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    Off,
    Bypass,
    Hit,
    Miss,
}

/// A request's answer and what the cache did for it.
pub struct Executed {
    pub answer: Answer,
    pub cache: CacheOutcome,
    /// Whether the answer was just stored in the cache.
    pub stored: bool,
    pub validation: Validation,
    /// Whether a compiled plan answered (`schema::plan`); async-graphql did otherwise.
    pub compiled: bool,
    /// For an answer the cache holds (served from it, or just stored): what the
    /// transport derives from its bytes, kept with it (see `response_cache::Derived`).
    pub derived: Option<Arc<Derived>>,
}

/// How a request was validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Not at all: the answer came from the response cache.
    Skipped,
    /// By async-graphql's strict rules: a document not valid by every rule of the
    /// specification (so that async-graphql words the refusal), a request whose variables
    /// did not pass their check, and anything but a query.
    Strict,
    /// Its document is valid by every rule of the specification; only its variables were
    /// checked (see `validation`).
    Fast,
}

/// A request's answer.
pub enum Answer {
    /// A response without errors, serialized: the body to send.
    Body(Bytes),
    /// A response with errors, for the caller to count and shape (status, request ids).
    Errors(Response),
}

/// A failure to produce an answer; the request's fault it is not.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("cannot serialize a response: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl Lookup {
    /// What the lookup came to.
    pub fn outcome(&self) -> CacheOutcome {
        match self {
            Lookup::Off => CacheOutcome::Off,
            Lookup::Bypass => CacheOutcome::Bypass,
            Lookup::Hit(_) => CacheOutcome::Hit,
            Lookup::Miss(_) => CacheOutcome::Miss,
        }
    }
}

impl CacheOutcome {
    /// The word logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Off => "off",
            CacheOutcome::Bypass => "bypass",
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
        }
    }
}

impl Executor {
    /// Builds the schema over `store` (`schema::build_schema`) with the guard under
    /// `config.limits`, and runs requests on it, with a response cache of at most
    /// `config.response_cache_bytes` (0: none).
    ///
    /// The schema is built four times, all parsing through one cache of documents: with
    /// the hooks, validating strictly (`schema`, which answers what the twins do not take)
    /// and fast (`hooked_fast`); and without extensions (the twins that answer queries,
    /// see `hooks`), validating strictly and fast (see `validation`).
    pub fn new(store: Store, config: ExecutorConfig) -> Executor {
        let ExecutorConfig {
            limits,
            response_cache_bytes,
            persisted_queries,
            compiled_plans,
        } = config;
        let parser = GuardedParser::new(limits);
        let twin = |validation| {
            build_plain_schema(store.clone())
                .validation_mode(validation)
                // async-graphql checks the nesting of a document handed to it parsed, as it
                // does after its own parse step; the hooks replace that step and the guard
                // bounds the nesting instead (`Limits::max_depth`), so the twin must not
                // check it again.
                .limit_recursive_depth(usize::MAX)
                .finish()
        };
        let hooked = |validation| {
            build_schema(store.clone())
                .validation_mode(validation)
                .extension(SchemaHooks::new(parser.clone()))
                .finish()
        };
        let plain = Twins {
            schema: twin(ValidationMode::Strict),
            fast: twin(ValidationMode::Fast),
            hooked_fast: hooked(ValidationMode::Fast),
            variables: Arc::new(VariableTypes::new()),
            parser: parser.clone(),
        };
        let cache =
            (response_cache_bytes > 0).then(|| Arc::new(ResponseCache::new(response_cache_bytes)));
        Executor {
            schema: hooked(ValidationMode::Strict),
            plain,
            store,
            cache,
            limits,
            persisted: persisted_queries,
            compiled_plans,
        }
    }

    /// The schema with its hooks (the guard, field errors as the specification says),
    /// validating strictly: what every request would run on without the executor's fast
    /// paths, for tests that compare the two.
    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// Looks `request` up in the cache: its normal form, operation name and variables,
    /// for an answer computed under the store's current generation.
    fn lookup(&self, request: &Request) -> Lookup {
        self.lookup_filing(request, None)
    }

    /// `lookup`, for a request that came as the HTTP body `body`: on a hit, `body` is
    /// filed under the request's key, so that the same body comes to `lookup_body` next
    /// time. A request with extensions is not filed: a persisted query's answer depends
    /// on what is registered, and its request must be seen whole to register it.
    fn lookup_with_body(&self, request: &Request, body: &[u8]) -> Lookup {
        self.lookup_filing(request, request.extensions.is_empty().then_some(body))
    }

    /// The current answer to a request whose HTTP body is exactly `body`, when
    /// `lookup_with_body` filed it: found without parsing the body, building a request or
    /// normalizing its query. A filed body passed every check a hit skips (see the type's
    /// documentation): its request was a hit, and the same bytes make the same request.
    fn lookup_body(&self, body: &[u8]) -> Option<Executed> {
        let cache = self.cache.as_ref()?;
        let stored = cache.get_by_body(body, self.store.generation())?;
        Some(self.hit(stored))
    }

    fn lookup_filing(&self, request: &Request, body: Option<&[u8]>) -> Lookup {
        let Some(cache) = &self.cache else {
            return Lookup::Off;
        };
        // Refused by the guard: execution refuses it in the schema's own words.
        let Ok(text) = limits::admit(&request.query, &request.variables, &self.limits) else {
            return Lookup::Bypass;
        };
        let key = match CacheKey::of(text, request) {
            Ok(key) => key,
            Err(why) => {
                tracing::debug!(%why, "the request cannot be cached");
                return Lookup::Bypass;
            }
        };
        match cache.get(&key, self.store.generation()) {
            Some(answer) => {
                if let Some(body) = body {
                    cache.alias(body, &key);
                }
                Lookup::Hit(answer)
            }
            None => Lookup::Miss(key),
        }
    }

    /// Answers `request`, whose `lookup` this is: a hit at once, anything else by
    /// executing it. After a miss the answer is stored when it has no errors, every
    /// operation of its document is a query, and the store's generation did not move
    /// while it was computed (an answer read from a store being changed may mix both
    /// states, and one computed before a change is stale). An answer computed wholly
    /// between a write's two bumps is stored under the write's first, so it is served
    /// only until the write ends: what any uncached request would read meanwhile.
    async fn execute(&self, request: Request, lookup: Lookup) -> Result<Executed, ExecuteError> {
        match self.prepare(lookup) {
            Err(stored) => Ok(self.hit(stored)),
            Ok(pending) => {
                let responded = self.respond(request, pending.key.is_some()).await;
                self.finish(pending, responded)
            }
        }
    }

    /// The hit's body, or what `finish` needs to store the answer of a miss (reading
    /// the store's generation, so call it just before executing).
    fn prepare(&self, lookup: Lookup) -> Result<Pending, Stored> {
        let cache = lookup.outcome();
        let key = match lookup {
            Lookup::Hit(stored) => return Err(stored),
            Lookup::Miss(key) => Some(key),
            Lookup::Off | Lookup::Bypass => None,
        };
        Ok(Pending {
            cache,
            key,
            generation: self.store.generation(),
        })
    }

    /// Executes `request`: a query validated fast by its compiled plan when one covers it
    /// (`schema::plan`; a plan that gives up leaves the query to the twin), else on the
    /// plain twin when it can take it, anything else (and a query in which a field
    /// failed, again) on the schema itself. Also says
    /// whether every operation of the request's document is a query: always known when
    /// the twin answered; from the schema itself only when `wants_types` (else `false`).
    async fn respond(&self, mut request: Request, wants_types: bool) -> Responded {
        // The twin takes requests that carry nothing a second run could not be given:
        // no uploads, no data of their own.
        if !(request.uploads.is_empty() && request.data.is_empty()) {
            return self.respond_with_hooks(request, wants_types, None).await;
        }
        let plain = &self.plain;
        let held = match plain.parser.parse_held(&request.query, &request.variables) {
            Ok(held) => held,
            // Refused or malformed: the hooks word the error, in the schema's own way.
            Err(_) => return self.respond_with_hooks(request, wants_types, None).await,
        };
        if !only_queries(held.document()) {
            return self.respond_with_hooks(request, wants_types, None).await;
        }
        // Validated fast when the document is valid by every rule of the specification
        // and the variables pass their check (see `validation`).
        let operation_name = request.operation_name.clone();
        let fast = held.is_valid()
            && plain.variables.all_valid(
                held.document(),
                operation_name.as_deref(),
                &request.variables,
            );
        if fast && self.compiled_plans {
            if let Some(plan) = held.plan(operation_name.as_deref()) {
                if let Ok(body) = plan.run(&self.store, &request.variables) {
                    return Responded {
                        response: Computed::Compiled(Bytes::from(body)),
                        only_queries: true,
                        validation: Validation::Fast,
                    };
                }
                // Something failed: async-graphql answers, and words the error.
                tracing::debug!("the compiled plan gave up; async-graphql answers");
            }
        }
        let mut again = Request::new(request.query.clone()).variables(request.variables.clone());
        again.operation_name = operation_name.clone();
        again.extensions = request.extensions.clone();
        again.introspection_mode = request.introspection_mode;
        request.set_parsed_query(held.document().clone());
        let schema = if fast { &plain.fast } else { &plain.schema };
        let response = schema.execute(request).await;
        if response.errors.iter().any(|error| !error.path.is_empty()) {
            // A field failed: its error and nulls are the hooks' to shape. Validated as the
            // twin validated it (strict validation refuses some valid documents).
            let hooked = fast.then_some(&plain.hooked_fast);
            return self.respond_with_hooks(again, wants_types, hooked).await;
        }
        Responded {
            response: Computed::Response(response),
            only_queries: true,
            validation: if fast {
                Validation::Fast
            } else {
                Validation::Strict
            },
        }
    }

    /// Executes `request` on the schema with its hooks (or on `hooked`, its twin that
    /// validates fast), which record whether the document holds only queries when
    /// `wants_types`.
    async fn respond_with_hooks(
        &self,
        mut request: Request,
        wants_types: bool,
        hooked: Option<&AppSchema>,
    ) -> Responded {
        let recorded = wants_types.then(|| {
            let recorded = Arc::new(OnlyQueries::default());
            request.data.insert(recorded.clone());
            recorded
        });
        let response = hooked.unwrap_or(&self.schema).execute(request).await;
        let only_queries = recorded.is_some_and(|recorded| recorded.get());
        Responded {
            response: Computed::Response(response),
            only_queries,
            validation: if hooked.is_some() {
                Validation::Fast
            } else {
                Validation::Strict
            },
        }
    }

    /// The executed request's answer, stored when it may be.
    fn finish(&self, pending: Pending, responded: Responded) -> Result<Executed, ExecuteError> {
        let Responded {
            response,
            only_queries,
            validation,
        } = responded;
        let (body, plain, compiled) = match response {
            // A plan answers without errors, extensions or headers.
            Computed::Compiled(body) => (body, true, true),
            Computed::Response(mut response) => {
                // The plain twin has no hooks to answer `{}` for a root that selects nothing.
                field_errors::settle_empty_root(&mut response);
                if !response.errors.is_empty() {
                    code_client_errors(&mut response);
                    let mut executed =
                        self.executed(Answer::Errors(response), pending.cache, false, validation);
                    executed.compiled = false;
                    return Ok(executed);
                }
                let body = Bytes::from(serde_json::to_vec(&response)?);
                // Answers carrying response extensions or HTTP headers are not plain data;
                // none of ours do today, and a cached body would lose the headers.
                let plain = response.extensions.is_empty() && response.http_headers.is_empty();
                (body, plain, false)
            }
        };
        let mut derived = None;
        if let (Some(key), Some(cache)) = (pending.key, &self.cache) {
            if only_queries && plain && self.store.generation() == pending.generation {
                derived = Some(cache.insert(key, body.clone(), pending.generation).derived);
            }
        }
        if compiled {
            tracing::debug!("answered by a compiled plan");
        }
        let stored = derived.is_some();
        let mut executed = self.executed(Answer::Body(body), pending.cache, stored, validation);
        executed.compiled = compiled;
        executed.derived = derived;
        Ok(executed)
    }

    /// The type of the operation `request` would run, when its document passes the
    /// guard, parses and names one operation unambiguously; `None` otherwise, and
    /// executing the request then says why. Parsed through the guard (and the cache of
    /// parsed documents), like every document.
    fn operation_type(&self, request: &Request) -> Option<OperationType> {
        let held = self
            .plain
            .parser
            .parse_held(&request.query, &request.variables)
            .ok()?;
        selected_operation_type(held.document(), request.operation_name.as_deref())
    }

    /// Runs a request already built, in-process (tests, benches): `lookup`, then
    /// `execute`. Clients' requests come through `run`, which also applies the persisted
    /// query rules and GET's.
    pub async fn answer(&self, request: Request) -> Result<Executed, ExecuteError> {
        let lookup = self.lookup(&request);
        self.execute(request, lookup).await
    }

    /// What the cache holds; `None` when it is off.
    pub fn cache_usage(&self) -> Option<CacheUsage> {
        self.cache.as_ref().map(|cache| cache.usage())
    }

    fn executed(
        &self,
        answer: Answer,
        cache: CacheOutcome,
        stored: bool,
        validation: Validation,
    ) -> Executed {
        tracing::debug!(
            response_cache = cache.as_str(),
            stored,
            ?validation,
            "graphql request answered"
        );
        Executed {
            answer,
            cache,
            stored,
            validation,
            compiled: false,
            derived: None,
        }
    }

    /// The answer to a request the cache held.
    fn hit(&self, stored: Stored) -> Executed {
        let mut executed = self.executed(
            Answer::Body(stored.body),
            CacheOutcome::Hit,
            false,
            Validation::Skipped,
        );
        executed.derived = Some(stored.derived);
        executed
    }
}

/// A request's response, with what `finish` needs to know of how it was computed.
struct Responded {
    response: Computed,
    /// Whether every operation of the request's document is a query (see `respond`).
    only_queries: bool,
    validation: Validation,
}

/// What answered a request.
enum Computed {
    /// async-graphql, with or without errors.
    Response(Response),
    /// A compiled plan: the serialized answer, without errors.
    Compiled(Bytes),
}

/// A request being executed after a miss (or without the cache).
struct Pending {
    cache: CacheOutcome,
    /// Where to store the answer; `None` when it must not be.
    key: Option<CacheKey>,
    /// The store's generation just before executing.
    generation: u64,
}

/// The type of the operation named `name` in `document`, or of its only operation when no
/// name is given.
fn selected_operation_type(
    document: &ExecutableDocument,
    name: Option<&str>,
) -> Option<OperationType> {
    let mut operations = document.operations.iter();
    match name {
        Some(name) => operations
            .find(|(operation_name, _)| operation_name.is_some_and(|n| n.as_str() == name))
            .map(|(_, operation)| operation.node.ty),
        None => {
            let (_, operation) = operations.next()?;
            operations.next().is_none().then_some(operation.node.ty)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn value(&self) -> i32 {
            1
        }
    }

    struct Mutation;

    #[Object]
    impl Mutation {
        async fn change(&self) -> i32 {
            2
        }
    }

    /// Runs `document` in a schema with a mutation root, returning what the extension
    /// recorded.
    async fn recorded(document: &str, operation: &str) -> bool {
        let schema = Schema::build(Query, Mutation, EmptySubscription)
            .extension(SchemaHooks::new(GuardedParser::new(Limits::default())))
            .finish();
        let only_queries = Arc::new(OnlyQueries::default());
        let request = Request::new(document)
            .operation_name(operation)
            .data(only_queries.clone());
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        only_queries.get()
    }

    /// An executor over an empty store in a temporary directory. The one unit test that
    /// opens a store: only from inside can an import be staged in the middle of a request.
    fn empty_store_executor() -> (Executor, Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path(), 1024 * 1024).expect("a store opens");
        store
            .import(&crate::model::Dataset::default(), "empty")
            .expect("an empty import");
        let executor = Executor::new(
            store.clone(),
            ExecutorConfig {
                response_cache_bytes: 1024 * 1024,
                ..ExecutorConfig::default()
            },
        );
        (executor, store, dir)
    }

    #[tokio::test]
    async fn an_answer_computed_while_the_store_changed_is_not_stored() {
        let (executor, store, _dir) = empty_store_executor();
        let request = || Request::new("{ __typename }");
        for change_midway in [true, false] {
            let midway = request();
            let lookup = executor.lookup(&midway);
            assert_eq!(lookup.outcome(), CacheOutcome::Miss);
            let pending = executor.prepare(lookup).expect("a miss");
            let responded = executor.respond(midway, true).await;
            assert!(responded.only_queries);
            if change_midway {
                store
                    .import(&crate::model::Dataset::default(), "changed")
                    .expect("an import");
            }
            let executed = executor.finish(pending, responded).expect("an answer");
            assert!(matches!(executed.answer, Answer::Body(_)));
            assert_eq!(executed.stored, !change_midway);
            let next = executor.lookup(&request()).outcome();
            let expected = if change_midway {
                CacheOutcome::Miss
            } else {
                CacheOutcome::Hit
            };
            assert_eq!(next, expected, "change midway: {change_midway}");
        }
        // And a stored answer is dropped as soon as the store changes.
        store
            .import(&crate::model::Dataset::default(), "again")
            .expect("an import");
        assert_eq!(executor.lookup(&request()).outcome(), CacheOutcome::Miss);
        assert_eq!(executor.cache_usage().map(|usage| usage.entries), Some(0));
    }

    #[tokio::test]
    async fn a_filed_body_finds_its_answer_only_while_it_is_current() {
        let (executor, store, _dir) = empty_store_executor();
        let body = br#"{"query": "{ __typename }"}"#;
        let request = || Request::new("{ __typename }");
        let body_answer = |executor: &Executor| {
            executor
                .lookup_body(body)
                .map(|executed| match executed.answer {
                    Answer::Body(answer) => (answer, executed.cache, executed.validation),
                    Answer::Errors(response) => panic!("{:?}", response.errors),
                })
        };
        // A miss files nothing; the hit after it files the body.
        let lookup = executor.lookup_with_body(&request(), body);
        let stored = executor
            .execute(request(), lookup)
            .await
            .expect("an answer");
        let Answer::Body(answer) = stored.answer else {
            panic!("no answer")
        };
        assert!(stored.stored && body_answer(&executor).is_none());
        let lookup = executor.lookup_with_body(&request(), body);
        assert_eq!(lookup.outcome(), CacheOutcome::Hit);
        assert_eq!(
            body_answer(&executor),
            Some((answer, CacheOutcome::Hit, Validation::Skipped))
        );
        // Filed bodies are names, not answers.
        assert_eq!(executor.cache_usage().map(|usage| usage.entries), Some(1));

        // Once the store changes, the body finds nothing until a new answer is stored.
        store
            .import(&crate::model::Dataset::default(), "changed")
            .expect("an import");
        assert!(body_answer(&executor).is_none());
        executor.answer(request()).await.expect("an answer");
        assert!(body_answer(&executor).is_some());

        // A request with extensions is never filed, even on a hit.
        let other = br#"{"query": "{ __typename }", "extensions": {"x": 1}}"#;
        let mut with_extensions = request();
        with_extensions
            .extensions
            .insert("x".to_owned(), async_graphql::Value::from(1));
        let lookup = executor.lookup_with_body(&with_extensions, other);
        assert_eq!(lookup.outcome(), CacheOutcome::Hit);
        assert!(executor.lookup_body(other).is_none());
    }

    #[tokio::test]
    async fn only_documents_of_queries_alone_are_recorded_as_such() {
        assert!(recorded("query A { value }", "A").await);
        assert!(recorded("query A { value } query B { value }", "B").await);
        assert!(!recorded("mutation M { change }", "M").await);
        // A query beside a mutation is not cached either: simpler, and rare.
        assert!(!recorded("query A { value } mutation M { change }", "A").await);
    }
}
