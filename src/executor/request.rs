//! The executor's one entry point, `Executor::run`: a GraphQL request as it arrived, in
//! any transport's terms (a POST's raw body, a GET's parameters), run from start to end,
//! and an `Outcome` that says what to answer. `http` maps the outcome to a status,
//! headers and metrics, and does nothing else with GraphQL.

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Response};
use bytes::Bytes;
use serde_json::Value;

use super::persisted::{Persisted, PersistedQueryError};
use std::sync::Arc;

use super::{Answer, CacheOutcome, Derived, ExecuteError, Executed, Executor, Lookup};

/// The request extension of automatic persisted queries.
const PERSISTED_QUERY: &str = "persistedQuery";

/// A GraphQL request as it arrived, nothing of it parsed yet.
pub enum GraphqlRequest {
    /// The body of a POST: a JSON object `{query, operationName, variables,
    /// extensions}`. A body seen before whose answer is current is answered without
    /// parsing it.
    Post(Bytes),
    /// The parameters of a GET, which may run queries only.
    Get(GetParams),
}

/// The parameters of a GraphQL request over GET; `variables` and `extensions` are JSON.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    pub variables: Option<String>,
    pub extensions: Option<String>,
}

/// What `Executor::run` came to.
pub struct Outcome {
    pub reply: Reply,
    /// What the response cache did for the request; `Bypass` for a request refused
    /// before it was answered.
    pub cache: CacheOutcome,
    /// What the automatic persisted query rules did for it, for metrics.
    pub persisted: PersistedUse,
    /// For an answer the response cache holds: what the transport derives from its
    /// bytes, worked out once for every request it serves (see `response_cache::Derived`).
    pub derived: Option<Arc<Derived>>,
}

/// What to answer a request with.
pub enum Reply {
    /// A response without errors, serialized: the body to send.
    Body(Bytes),
    /// A response with errors, for the caller to count and shape (status, request ids).
    Errors {
        response: Response,
        /// Whether it failed before execution (parsing, validation, variables): it has no
        /// `data`, and errors without a path.
        before_execution: bool,
    },
    /// The request is not a GraphQL request (a body that is not a JSON object, a `query`
    /// that is not a string, no query at all): what is wrong with it.
    BadRequest(String),
    /// The automatic persisted query rules refused its `persistedQuery` extension.
    PersistedQuery(PersistedQueryError),
    /// A GET whose operation is not a query.
    MethodNotAllowed,
    /// No answer could be produced; not the request's fault.
    Failed(ExecuteError),
}

/// What the automatic persisted query rules did for a request that they did not refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistedUse {
    /// The request carries no persisted query, or one that was not registered (its
    /// request failed before execution).
    None,
    /// Its query text was filled in from the registered queries.
    Hit,
    /// Its query was registered: it passed the guard and validation.
    Registered,
}

impl Executor {
    /// Runs `request` from start to end: the response cache first (a POST body seen
    /// before, without parsing it), then the automatic persisted query rules, GET's
    /// refusal of anything but a query, the guard, validation, execution and caching; a
    /// persisted query is registered once its query has passed the guard and validation.
    pub async fn run(&self, request: GraphqlRequest) -> Outcome {
        match request {
            GraphqlRequest::Post(body) => self.run_post(&body).await,
            GraphqlRequest::Get(params) => self.run_get(params).await,
        }
    }

    async fn run_post(&self, body: &[u8]) -> Outcome {
        // A body seen before, whose answer is cached: no parsing.
        if let Some(executed) = self.lookup_body(body) {
            return self.outcome(Ok(executed), Persisted::No, PersistedUse::None);
        }
        let mut request = match request_from_body(body) {
            Ok(request) => request,
            Err(message) => return refused(Reply::BadRequest(message), PersistedUse::None),
        };
        let (persisted, used) = match self.persisted_query(&mut request) {
            Ok(persisted) => persisted,
            Err(error) => return refused(Reply::PersistedQuery(error), PersistedUse::None),
        };
        let lookup = self.lookup_with_body(&request, body);
        let executed = self.execute(request, lookup).await;
        self.outcome(executed, persisted, used)
    }

    async fn run_get(&self, params: GetParams) -> Outcome {
        let mut request = match params.into_request() {
            Ok(request) => request,
            Err(message) => return refused(Reply::BadRequest(message), PersistedUse::None),
        };
        let (persisted, used) = match self.persisted_query(&mut request) {
            Ok(persisted) => persisted,
            Err(error) => return refused(Reply::PersistedQuery(error), PersistedUse::None),
        };
        let lookup = self.lookup(&request);
        // The cache stores only answers of documents whose operations are all queries, so a
        // hit needs no parse to know that GET may run it.
        let operation = match lookup {
            Lookup::Hit(_) => None,
            _ => self.operation_type(&request),
        };
        if operation.is_some_and(|operation| operation != OperationType::Query) {
            return refused(Reply::MethodNotAllowed, used);
        }
        let executed = self.execute(request, lookup).await;
        self.outcome(executed, persisted, used)
    }

    /// Applies the automatic persisted query rules to `request`.
    fn persisted_query(
        &self,
        request: &mut Request,
    ) -> Result<(Persisted, PersistedUse), PersistedQueryError> {
        let persisted = self.persisted.prepare(request)?;
        let used = match persisted {
            Persisted::Hit => PersistedUse::Hit,
            Persisted::No | Persisted::Register(_) => PersistedUse::None,
        };
        Ok((persisted, used))
    }

    /// The outcome of an executed request, registering its persisted query when its
    /// query passed the guard and validation (it did not fail before execution; a cached
    /// answer's query passed both when it was stored).
    fn outcome(
        &self,
        executed: Result<Executed, ExecuteError>,
        persisted: Persisted,
        mut used: PersistedUse,
    ) -> Outcome {
        let executed = match executed {
            Ok(executed) => executed,
            Err(error) => return refused(Reply::Failed(error), used),
        };
        let reply = match executed.answer {
            Answer::Body(body) => Reply::Body(body),
            Answer::Errors(response) => {
                // Errors without a path happened before execution: parsing, validation,
                // variables.
                let before_execution = response.data == async_graphql::Value::Null
                    && response.errors.iter().all(|error| error.path.is_empty());
                Reply::Errors {
                    response,
                    before_execution,
                }
            }
        };
        let valid = !matches!(
            reply,
            Reply::Errors {
                before_execution: true,
                ..
            }
        );
        if let (Persisted::Register(registration), true) = (persisted, valid) {
            self.persisted.register(registration);
            used = PersistedUse::Registered;
        }
        Outcome {
            reply,
            cache: executed.cache,
            persisted: used,
            derived: executed.derived,
        }
    }
}

/// A request answered without being looked up in the cache or executed.
fn refused(reply: Reply, persisted: PersistedUse) -> Outcome {
    Outcome {
        reply,
        cache: CacheOutcome::Bypass,
        persisted,
        derived: None,
    }
}

/// The request a POST body holds, or what is wrong with the body.
fn request_from_body(body: &[u8]) -> Result<Request, String> {
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|error| format!("the body is not valid JSON: {error}"))?;
    match parsed {
        Value::Object(fields) => request_from_json(fields),
        Value::Array(_) => {
            Err("batched requests are not supported: send one operation per request".to_owned())
        }
        _ => Err("the body must be a JSON object with a `query`".to_owned()),
    }
}

fn request_from_json(mut fields: serde_json::Map<String, Value>) -> Result<Request, String> {
    let query = match fields.remove("query") {
        Some(Value::String(query)) => Some(query),
        None | Some(Value::Null) => None,
        Some(_) => return Err("`query` must be a string".to_owned()),
    };
    let has_query = query.is_some();
    let mut request = Request::new(query.unwrap_or_default());
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

impl GetParams {
    fn into_request(self) -> Result<Request, String> {
        let has_query = self.query.is_some();
        let mut request = Request::new(self.query.unwrap_or_default());
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
