//! kyrgyz-relations: a GraphQL API over a curated knowledge base of Kyrgyzstan's foreign
//! relations.
//!
//! Layout, in the order data flows:
//! - `model`: plain records and value types (`PartialDate`, `Quantity`, kinds).
//! - `seed`: the JSON seed files in, a validated `model::Dataset` out.
//! - `store`: sled trees written by a crash-safe import and read at query time.
//! - `schema`: the async-graphql schema, what clients can ask; resolvers read the store.
//! - `executor`: how a request is run: the guard, document cache, validation, field
//!   errors, persisted queries, response cache; one entry point, `Executor::run`.
//! - `graphiql`: the GraphiQL page and the files it loads, embedded by `build.rs`.
//! - `http`: transport only: the axum router (`/graphql`, GraphiQL, probes, `/metrics`),
//!   body limits, negotiation, status codes and headers; graceful shutdown.
//! - `metrics`: Prometheus counters and histogram in atomics, rendered for `/metrics`.
//! - `logging`: the batching, non-blocking writer that takes log lines off the request
//!   path.
//! - `arena`: compact byte-string sets and maps for reading and importing large seeds.
//! - `lru`: the byte-bounded least-recently-used map behind every cache.
//! - `generate`: synthetic seeds of any size, for benchmarks and scale tests.
//! - `app`: `Application`, the one way to build and run the server (opens or seeds the
//!   store, builds the executor and the router), for `main` and the tests.

pub mod app;
mod arena;
pub mod executor;
pub mod generate;
pub mod graphiql;
pub mod http;
pub mod logging;
mod lru;
pub mod metrics;
pub mod model;
pub mod schema;
pub mod seed;
pub mod store;
