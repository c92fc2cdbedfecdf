//! The response cache: the serialized answers of successful queries, keyed by what
//! determines an answer (the document's normal form, the operation name, the variables),
//! bounded in bytes, and valid only for the store generation they were computed under.
//!
//! It also files the raw bodies of requests whose answers it holds, by their keys, so
//! that a repeated request is found before its body is parsed (`alias`).
//!
//! Knows nothing of HTTP, nor of which answers may be stored: `executor` decides that.

use std::any::Any;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::{Name, Value};
use bytes::Bytes;

use super::limits::CheckedText;
use super::normalize::{normalize, Unnormalizable};
use crate::lru::Lru;

/// The default bound: a few thousand typical answers, or a few hundred of the large
/// nested ones; small beside sled's page cache.
pub const DEFAULT_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// What an entry costs beyond its key and body: the index slot, the entry with its links
/// and generation, the key's `Arc` and the body's `Bytes` headers.
const ENTRY_OVERHEAD_BYTES: usize = 160;

/// Separates the parts of a key. Never in UTF-8, so never inside a part.
const SEPARATOR: u8 = 0xFF;

/// Serialized answers by `CacheKey`, and the keys of request bodies seen (`alias`);
/// shared by the requests of one executor.
pub struct ResponseCache {
    entries: Mutex<Lru<[u8], Cached>>,
    /// The key of each request body filed by `alias`, in a bound of its own: an eighth
    /// of the cache's. They are names of answers, not answers, so `usage` counts their
    /// bytes but not their entries.
    bodies: Mutex<Lru<[u8], std::sync::Arc<[u8]>>>,
}

struct Cached {
    answer: Stored,
    /// The store's generation when the answer was computed; see `Store::generation`.
    generation: u64,
}

/// A stored answer: its bytes, and what the transport derives from them.
#[derive(Clone, Debug)]
pub struct Stored {
    pub body: Bytes,
    pub derived: Arc<Derived>,
}

/// What a transport works out from a stored answer's bytes (its compressed variants, a
/// tag of each), kept with the answer so that every request it serves reuses the work:
/// worked out once per stored answer, on first need, not once per request. What it holds
/// is the transport's; the cache knows nothing of it, and counts it in its bound as
/// another copy of the body (compressed variants are smaller than the body).
#[derive(Default)]
pub struct Derived(OnceLock<Box<dyn Any + Send + Sync>>);

impl std::fmt::Debug for Derived {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(if self.0.get().is_some() {
            "Derived(made)"
        } else {
            "Derived(empty)"
        })
    }
}

impl Derived {
    /// What `init` works out, the first time it is asked for; `None` if a different type
    /// was stored first.
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Option<&T> {
        self.0.get_or_init(|| Box::new(init())).downcast_ref()
    }
}

/// What one cache holds, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    pub entries: usize,
    /// Keys, bodies and the per-entry overhead; at most the cache's bound.
    pub bytes: usize,
}

/// Everything an answer depends on besides the store: the normal form of the document,
/// the operation name, and the variables as canonical JSON (object keys sorted at every
/// level), in one buffer. The whole key is stored and compared, never only a hash of it,
/// so two requests share an answer only when they are the same request.
///
/// Not in the key, because our schema's answers do not depend on them: the request's
/// `extensions` (no extension of ours reads them) and its `data` (`http` adds none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey(Vec<u8>);

/// Why a request has no key; such requests are executed without the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Uncacheable {
    #[error("the document has no normal form: {0}")]
    Document(#[from] Unnormalizable),
    #[error("the variables hold an enum or binary value, which JSON has no form for")]
    Variables,
}

impl CacheKey {
    /// The key of `request`, whose document text is `text` (so the guard's checks before
    /// parsing passed: see `limits::admit`), in one buffer sized for it.
    pub fn of(
        text: CheckedText<'_>,
        request: &async_graphql::Request,
    ) -> Result<CacheKey, Uncacheable> {
        let mut key = Vec::with_capacity(text.as_str().len() + 64);
        normalize(text.as_str(), &mut key)?;
        key.push(SEPARATOR);
        match &request.operation_name {
            None => key.push(0),
            Some(name) => {
                key.push(1);
                key.extend_from_slice(name.as_bytes());
            }
        }
        key.push(SEPARATOR);
        // `Variables` is a `BTreeMap`: its names are already in order.
        key.push(b'{');
        for (index, (name, value)) in request.variables.iter().enumerate() {
            if index > 0 {
                key.push(b',');
            }
            write_field(name, value, &mut key)?;
        }
        key.push(b'}');
        Ok(CacheKey(key))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of keys, answers, filed bodies and per-entry
    /// overhead.
    pub fn new(max_bytes: usize) -> ResponseCache {
        let bodies = max_bytes / 8;
        ResponseCache::with_bounds(max_bytes - bodies, bodies)
    }

    /// A cache of at most `answers` bytes of answers and `bodies` of filed bodies.
    fn with_bounds(answers: usize, bodies: usize) -> ResponseCache {
        ResponseCache {
            entries: Mutex::new(Lru::new(answers)),
            bodies: Mutex::new(Lru::new(bodies)),
        }
    }

    /// The answer stored under `key` if it was computed under `generation`, the store's
    /// current one. An answer from an older generation is removed and not returned.
    pub fn get(&self, key: &CacheKey, generation: u64) -> Option<Stored> {
        self.get_current(key.as_bytes(), generation)
    }

    /// `get`, for the request whose whole HTTP body was `body`, when `alias` filed it.
    pub fn get_by_body(&self, body: &[u8], generation: u64) -> Option<Stored> {
        let key = lock(&self.bodies).get(body)?.clone();
        self.get_current(&key, generation)
    }

    fn get_current(&self, key: &[u8], generation: u64) -> Option<Stored> {
        let mut entries = lock(&self.entries);
        let current = entries
            .get(key)
            .map(|cached| (cached.generation == generation).then(|| cached.answer.clone()));
        match current {
            Some(Some(body)) => Some(body),
            Some(None) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `body`, computed under the store's `generation`, under `key`; hands back
    /// the stored answer, whose `derived` the request that computed it may fill.
    pub fn insert(&self, key: CacheKey, body: Bytes, generation: u64) -> Stored {
        // The body, and room for what the transport derives from it (see `Derived`).
        let cost = key.0.len() + 2 * body.len() + ENTRY_OVERHEAD_BYTES;
        let key: std::sync::Arc<[u8]> = key.0.into();
        let answer = Stored {
            body,
            derived: Arc::default(),
        };
        let cached = Cached {
            answer: answer.clone(),
            generation,
        };
        lock(&self.entries).insert(key, cached, cost);
        answer
    }

    /// Files `body`, the whole HTTP body of a request whose key is `key`, so that
    /// `get_by_body` finds the request's answer without parsing the body. A request
    /// whose answer depends on more than its key (a persisted query's depends on what is
    /// registered) must not be filed.
    pub fn alias(&self, body: &[u8], key: &CacheKey) {
        let cost = body.len() + key.0.len() + ENTRY_OVERHEAD_BYTES;
        lock(&self.bodies).insert(body.into(), key.0.as_slice().into(), cost);
    }

    /// How many answers the cache holds and what they and the filed bodies cost.
    pub fn usage(&self) -> CacheUsage {
        let entries = lock(&self.entries);
        CacheUsage {
            entries: entries.len(),
            bytes: entries.bytes() + lock(&self.bodies).bytes(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps are consistent after every statement that holds the lock, so a panic
    // elsewhere while one was held leaves nothing to repair.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `"name":value`, with the value in canonical JSON.
fn write_field(name: &Name, value: &Value, out: &mut Vec<u8>) -> Result<(), Uncacheable> {
    write_string(name.as_str(), out);
    out.push(b':');
    write_canonical(value, out)
}

/// `value` as JSON with every object's keys sorted, so that two spellings of the same
/// variables (`{"a":1,"b":2}`, `{"b":2,"a":1}`) write the same bytes.
fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), Uncacheable> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            write!(out, "{number}").expect("writing to a Vec cannot fail");
        }
        Value::String(text) => write_string(text, out),
        Value::List(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            let mut sorted: Vec<(&Name, &Value)> = fields.iter().collect();
            sorted.sort_unstable_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
            out.push(b'{');
            for (index, (name, value)) in sorted.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_field(name, value, out)?;
            }
            out.push(b'}');
        }
        // Variables read from JSON never hold these.
        Value::Enum(_) | Value::Binary(_) => return Err(Uncacheable::Variables),
    }
    Ok(())
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(out, text).expect("a string serializes into a Vec");
}

#[cfg(test)]
mod tests {
    use super::super::limits::{check_text, Limits};
    use super::*;

    /// `CacheKey::of`, past the guard's check of the text.
    fn key_of(request: &async_graphql::Request) -> Result<CacheKey, Uncacheable> {
        let text = check_text(&request.query, &Limits::default()).expect("within the limits");
        CacheKey::of(text, request)
    }

    fn key(query: &str, operation: Option<&str>, variables: serde_json::Value) -> CacheKey {
        let mut request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        if let Some(operation) = operation {
            request = request.operation_name(operation);
        }
        key_of(&request).expect("a key")
    }

    #[test]
    fn variables_are_canonical_json_whatever_the_order_of_their_keys() {
        let query = "query Q($a: Int, $b: Int) { x }";
        let key_of = |variables: &str| {
            key(
                query,
                None,
                serde_json::from_str(variables).expect("JSON variables"),
            )
        };
        assert_eq!(key_of(r#"{"a":1,"b":2}"#), key_of(r#"{ "b": 2, "a": 1 }"#));
        assert_eq!(
            key_of(r#"{"b":{"y":[{"q":1,"p":"\u00e9\""}],"x":null},"a":1}"#),
            key_of(r#"{"a":1,"b":{"x":null,"y":[{"p":"é\"","q":1}]}}"#)
        );
        let written = key_of(r#"{"b":{"y":[{"q":1,"p":"é\""}],"x":null},"a":1.5}"#);
        let variables = written
            .as_bytes()
            .rsplit(|byte| *byte == SEPARATOR)
            .next()
            .expect("three parts");
        assert_eq!(
            std::str::from_utf8(variables),
            Ok(r#"{"a":1.5,"b":{"x":null,"y":[{"p":"é\"","q":1}]}}"#)
        );

        for (a, b) in [
            (r#"{"a":1}"#, r#"{"a":2}"#),
            (r#"{"a":1}"#, r#"{"a":"1"}"#),
            (r#"{"a":1}"#, r#"{"a":1.0}"#),
            (r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":[1,2]}"#, r#"{"a":[2,1]}"#),
            (r#"{"a":{"b":1}}"#, r#"{"a":{"c":1}}"#),
            (r#"{"a":"x\",\"b\":\"y"}"#, r#"{"a":"x","b":"y"}"#),
        ] {
            assert_ne!(key_of(a), key_of(b), "{a} and {b}");
        }
    }

    #[test]
    fn the_key_holds_the_normal_form_and_the_operation_name() {
        assert_eq!(
            key("{ a, b }", None, serde_json::json!({})),
            key("{a b} # same", None, serde_json::json!({}))
        );
        assert_ne!(
            key("{ a b }", None, serde_json::json!({})),
            key("{ ab }", None, serde_json::json!({}))
        );
        let document = "query A { a } query B { b }";
        assert_ne!(
            key(document, Some("A"), serde_json::json!({})),
            key(document, Some("B"), serde_json::json!({}))
        );
        assert_ne!(
            key(document, None, serde_json::json!({})),
            key(document, Some(""), serde_json::json!({}))
        );
        let mut variables = async_graphql::Variables::default();
        variables.insert(Name::new("e"), Value::Enum(Name::new("E")));
        let enum_variable = async_graphql::Request::new("{ a }").variables(variables);
        assert_eq!(key_of(&enum_variable), Err(Uncacheable::Variables));
        assert_eq!(
            key_of(&async_graphql::Request::new("{ a(x: \"open) }")),
            Err(Uncacheable::Document(Unnormalizable::UnterminatedString))
        );
    }

    #[test]
    fn an_answer_serves_only_its_own_key_and_generation() {
        let cache = ResponseCache::new(DEFAULT_CACHE_BYTES);
        let kg = key(
            "{ country(code: \"KG\") { name } }",
            None,
            serde_json::json!({}),
        );
        let body = Bytes::from_static(br#"{"data":{"country":{"name":"Kyrgyzstan"}}}"#);
        cache.insert(kg.clone(), body.clone(), 7);
        assert_eq!(cache.get(&kg, 7).map(|stored| stored.body), Some(body));
        let tj = key(
            "{ country(code: \"TJ\") { name } }",
            None,
            serde_json::json!({}),
        );
        assert_eq!(cache.get(&tj, 7).map(|stored| stored.body), None);

        // A newer generation: the entry is stale, and gone for good.
        assert_eq!(cache.get(&kg, 8).map(|stored| stored.body), None);
        assert_eq!(cache.usage(), CacheUsage::default());
        assert_eq!(cache.get(&kg, 7).map(|stored| stored.body), None);
    }

    #[test]
    fn the_cache_is_bounded_by_keys_bodies_what_is_derived_and_overhead() {
        let body = Bytes::from(vec![b' '; 1000]);
        let first = key("{ a }", None, serde_json::json!({}));
        // The body twice: once for itself, once for what the transport derives (`Derived`).
        let cost = first.as_bytes().len() + 2 * body.len() + ENTRY_OVERHEAD_BYTES;
        let cache = ResponseCache::with_bounds(2 * cost, 0);
        cache.insert(first.clone(), body.clone(), 0);
        cache.insert(key("{ b }", None, serde_json::json!({})), body.clone(), 0);
        assert_eq!(
            cache.usage(),
            CacheUsage {
                entries: 2,
                bytes: 2 * cost
            }
        );
        cache.insert(key("{ c }", None, serde_json::json!({})), body.clone(), 0);
        assert_eq!(cache.usage().entries, 2);
        assert_eq!(
            cache.get(&first, 0).map(|stored| stored.body),
            None,
            "the oldest answer was evicted"
        );
    }

    #[test]
    fn filed_bodies_are_bounded_apart_and_name_only_their_answers() {
        let answer = Bytes::from_static(b"{\"data\":{\"a\":1}}");
        let (a, b) = (
            key("{ a }", None, serde_json::json!({})),
            key("{ b }", None, serde_json::json!({})),
        );
        let body = |name: &str| format!("{{\"query\": \"{{ {name} }}\"}}").into_bytes();
        let filed = body("a").len() + a.as_bytes().len() + ENTRY_OVERHEAD_BYTES;
        let cache = ResponseCache::with_bounds(1 << 20, 2 * filed);
        cache.insert(a.clone(), answer.clone(), 3);
        cache.alias(&body("a"), &a);
        assert_eq!(
            cache.get_by_body(&body("a"), 3).map(|stored| stored.body),
            Some(answer.clone())
        );
        // Only what was filed, and only while its answer is current.
        assert_eq!(
            cache.get_by_body(&body("b"), 3).map(|stored| stored.body),
            None
        );
        assert_eq!(
            cache.get_by_body(a.as_bytes(), 3).map(|stored| stored.body),
            None,
            "a key is not a body"
        );
        cache.alias(&body("b"), &b);
        assert_eq!(
            cache.get_by_body(&body("b"), 3).map(|stored| stored.body),
            None,
            "b has no answer"
        );
        let usage = cache.usage();
        assert_eq!(usage.entries, 1, "bodies are not answers");
        assert_eq!(
            usage.bytes,
            a.as_bytes().len() + 2 * answer.len() + ENTRY_OVERHEAD_BYTES + 2 * filed
        );
        // A third body evicts the oldest filed, not an answer.
        cache.alias(&body("c"), &a);
        assert_eq!(
            cache.get_by_body(&body("a"), 3).map(|stored| stored.body),
            None
        );
        assert_eq!(
            cache.get_by_body(&body("c"), 3).map(|stored| stored.body),
            Some(answer)
        );
        assert_eq!(
            cache.get_by_body(&body("c"), 4).map(|stored| stored.body),
            None,
            "a newer generation"
        );
    }
}
