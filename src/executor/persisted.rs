//! Automatic persisted queries, as Apollo clients speak them: a bounded cache from a
//! query's SHA-256 to its text, and the rules for a request's `persistedQuery` extension.
//!
//! The cache keeps query *text*, so a persisted query is parsed and checked by the query
//! guard on every use. Knows nothing of HTTP: `http` applies these rules and picks statuses.

use std::sync::{Arc, Mutex};

use async_graphql::Value;
use sha2::{Digest, Sha256};

use crate::lru::Lru;

/// The error message Apollo clients look for before retrying with the query.
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

/// The `extensions.code` of `NOT_FOUND_MESSAGE`, which newer Apollo clients look for.
pub const NOT_FOUND_CODE: &str = "PERSISTED_QUERY_NOT_FOUND";

/// The default bound on the cache: with queries of a few hundred bytes, thousands of them.
pub const DEFAULT_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// What an entry costs beyond its hash and text: the index slot, the entry and its links,
/// and the two `Arc` headers.
const ENTRY_OVERHEAD_BYTES: usize = 128;

/// The persisted query cache: a cheap-to-clone handle, bounded in bytes of queries held,
/// which forgets the least recently used queries first.
#[derive(Clone)]
pub struct PersistedQueries {
    /// Hash → query text.
    cache: Arc<Mutex<Lru<str, Arc<str>>>>,
}

/// What a request's `persistedQuery` extension asked for, once the rules accepted it.
#[derive(Debug)]
pub enum Persisted {
    /// The request has no `persistedQuery` extension.
    No,
    /// The hash was known: the request now carries its query.
    Hit,
    /// The request carries a query and its correct hash: `register` it once the query has
    /// been found valid, so the cache only ever holds queries that passed the guard.
    Register(Registration),
}

/// A query to store under its hash.
#[derive(Debug)]
pub struct Registration {
    hash: String,
    query: Arc<str>,
}

/// A `persistedQuery` extension the rules refuse.
#[derive(Debug, PartialEq, Eq)]
pub enum PersistedQueryError {
    /// Only a hash was sent and the cache does not hold it: the client should send the
    /// query with the hash. Not the client's mistake.
    NotFound,
    /// The query's SHA-256 is not the hash sent.
    HashMismatch,
    /// A `version` other than 1.
    UnsupportedVersion,
    /// Not an object with a numeric `version` and a 64-digit hexadecimal `sha256Hash`.
    Malformed(String),
}

impl PersistedQueryError {
    /// The message for the client: for `NotFound`, the exact text Apollo clients expect.
    pub fn message(&self) -> String {
        match self {
            PersistedQueryError::NotFound => NOT_FOUND_MESSAGE.to_owned(),
            // Apollo Server's wording.
            PersistedQueryError::HashMismatch => "provided sha does not match query".to_owned(),
            PersistedQueryError::UnsupportedVersion => {
                "Unsupported persisted query version: only version 1 is supported".to_owned()
            }
            PersistedQueryError::Malformed(problem) => {
                format!("the `persistedQuery` extension is invalid: {problem}")
            }
        }
    }

    /// The `extensions.code`: `PERSISTED_QUERY_NOT_FOUND` or `BAD_REQUEST`, as Apollo Server.
    pub fn code(&self) -> &'static str {
        match self {
            PersistedQueryError::NotFound => NOT_FOUND_CODE,
            _ => "BAD_REQUEST",
        }
    }
}

impl Default for PersistedQueries {
    fn default() -> PersistedQueries {
        PersistedQueries::new(DEFAULT_CACHE_BYTES)
    }
}

impl PersistedQueries {
    /// A cache holding at most `max_bytes` of hashes and queries (plus a small overhead per
    /// entry). With 0 it holds nothing, and every hash-only request is a miss.
    pub fn new(max_bytes: usize) -> PersistedQueries {
        PersistedQueries {
            cache: Arc::new(Mutex::new(Lru::new(max_bytes))),
        }
    }

    /// Applies the protocol to `request`, whose `query` is empty when the client sent none:
    /// a known hash fills in the query; a query with a hash must match it. Removes the
    /// `persistedQuery` extension from the request.
    pub fn prepare(
        &self,
        request: &mut async_graphql::Request,
    ) -> Result<Persisted, PersistedQueryError> {
        let Some(extension) = request.extensions.remove("persistedQuery") else {
            return Ok(Persisted::No);
        };
        let hash = requested_hash(&extension)?;
        if request.query.is_empty() {
            let query = self
                .lock()
                .get(hash.as_str())
                .cloned()
                .ok_or(PersistedQueryError::NotFound)?;
            request.query = query.to_string();
            Ok(Persisted::Hit)
        } else if sha256_hex(&request.query) == hash {
            Ok(Persisted::Register(Registration {
                hash,
                query: Arc::from(request.query.as_str()),
            }))
        } else {
            Err(PersistedQueryError::HashMismatch)
        }
    }

    /// Stores a query the rules accepted and the schema found valid.
    pub fn register(&self, registration: Registration) {
        let cost = cost(&registration.hash, &registration.query);
        self.lock()
            .insert(Arc::from(registration.hash), registration.query, cost);
    }

    /// How many queries the cache holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no query.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<str, Arc<str>>> {
        // The cache is consistent after every statement that holds the lock, so a panic
        // elsewhere while it was held leaves nothing to repair.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The SHA-256 of `query` in lowercase hexadecimal, as Apollo clients compute it.
pub fn sha256_hex(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}

fn requested_hash(extension: &Value) -> Result<String, PersistedQueryError> {
    let malformed = |problem: &str| PersistedQueryError::Malformed(problem.to_owned());
    let Value::Object(fields) = extension else {
        return Err(malformed("it must be an object"));
    };
    match fields.get("version") {
        Some(Value::Number(version)) if version.as_i64() == Some(1) => {}
        Some(Value::Number(_)) => return Err(PersistedQueryError::UnsupportedVersion),
        _ => return Err(malformed("`version` must be a number")),
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(hash.to_ascii_lowercase())
        }
        _ => Err(malformed(
            "`sha256Hash` must be the query's SHA-256 in 64 hexadecimal digits",
        )),
    }
}

/// What an entry costs the cache's bound: its hash and text, and what holds them.
fn cost(hash: &str, query: &str) -> usize {
    hash.len() + query.len() + ENTRY_OVERHEAD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: &str) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        request.extensions.insert(
            "persistedQuery".to_owned(),
            async_graphql::value!({ "version": 1, "sha256Hash": hash }),
        );
        request
    }

    fn register(cache: &PersistedQueries, query: &str) {
        match cache.prepare(&mut request(query, &sha256_hex(query))) {
            Ok(Persisted::Register(registration)) => cache.register(registration),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn unknown_hash_misses_then_registration_makes_it_hit() {
        let cache = PersistedQueries::default();
        let query = "{ __typename }";
        let hash = sha256_hex(query);
        assert_eq!(
            hash,
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
        let mut only_hash = request("", &hash);
        assert_eq!(
            cache.prepare(&mut only_hash).map(|_| ()),
            Err(PersistedQueryError::NotFound)
        );
        register(&cache, query);
        let mut only_hash = request("", &hash.to_ascii_uppercase());
        assert!(matches!(cache.prepare(&mut only_hash), Ok(Persisted::Hit)));
        assert_eq!(only_hash.query, query);
        assert!(only_hash.extensions.is_empty());
    }

    #[test]
    fn mismatched_hashes_versions_and_shapes_are_refused() {
        let cache = PersistedQueries::default();
        let other = sha256_hex("{ other }");
        assert_eq!(
            cache
                .prepare(&mut request("{ __typename }", &other))
                .map(|_| ()),
            Err(PersistedQueryError::HashMismatch)
        );
        assert!(cache.is_empty());
        let mut version_2 = async_graphql::Request::new("");
        version_2.extensions.insert(
            "persistedQuery".to_owned(),
            async_graphql::value!({ "version": 2, "sha256Hash": other }),
        );
        assert_eq!(
            cache.prepare(&mut version_2).map(|_| ()),
            Err(PersistedQueryError::UnsupportedVersion)
        );
        for hash in ["", "abc", &"g".repeat(64)] {
            assert!(matches!(
                cache.prepare(&mut request("", hash)),
                Err(PersistedQueryError::Malformed(_))
            ));
        }
        let mut plain = async_graphql::Request::new("{ __typename }");
        assert!(matches!(cache.prepare(&mut plain), Ok(Persisted::No)));
    }

    #[test]
    fn the_cache_is_bounded_in_bytes_and_forgets_the_least_recently_used() {
        let query = |n: usize| format!("{{ country(code: \"{n:02}\") {{ name }} }}");
        let cost = cost(&sha256_hex(&query(0)), &query(0));
        let cache = PersistedQueries::new(3 * cost);
        for n in 0..3 {
            register(&cache, &query(n));
        }
        assert_eq!(cache.len(), 3);
        // Using query 0 makes query 1 the least recently used.
        assert!(cache
            .prepare(&mut request("", &sha256_hex(&query(0))))
            .is_ok());
        register(&cache, &query(3));
        assert_eq!(cache.len(), 3);
        let known = |n: usize| {
            cache
                .prepare(&mut request("", &sha256_hex(&query(n))))
                .is_ok()
        };
        assert!(known(0) && !known(1) && known(2) && known(3));
        assert!(cache.lock().bytes() <= 3 * cost);

        let nothing = PersistedQueries::new(0);
        register(&nothing, &query(0));
        assert!(nothing.is_empty());
    }
}
