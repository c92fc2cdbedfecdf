//! The integration tests: one binary, one module per boundary.

mod cli;
mod contract;
mod http;
mod queries;
mod seed;
mod store;
mod support;
mod tidy;
