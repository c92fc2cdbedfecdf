//! The integration tests: one binary, one module per boundary.

mod browser;
mod cli;
mod conformance;
mod contract;
mod crash;
mod disk;
mod facts;
mod generate;
mod graphiql;
mod hostile;
mod http;
mod http_conventions;
mod http_limits;
mod plan;
mod properties;
mod queries;
mod response_cache;
mod response_shape;
mod review;
mod schema_check;
mod seed;
mod source;
mod store;
mod support;
mod tidy;
mod validation;
