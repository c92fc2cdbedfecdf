//! The GraphQL schema: thin objects over `model` records whose relations page through the
//! store's indexes at query time.
//!
//! Knows nothing of HTTP, sled or bincode. Store failures are logged here and reach
//! clients only as a generic `INTERNAL` error; user mistakes get `BAD_USER_INPUT`.

mod agreement;
mod country;
pub mod executor;
mod facility;
mod field_errors;
mod hooks;
mod incident;
pub mod limits;
pub mod normalize;
mod organization;
pub mod persisted;
mod person;
mod query;
mod relay;
pub mod response_cache;
mod serial;
mod source;
mod spec_validation;
mod validation;
mod values;

use std::sync::Arc;

use async_graphql::{
    EmptyMutation, EmptySubscription, Error, ErrorExtensions, Schema, ValidationMode,
};

pub use agreement::Agreement;
pub use country::Country;
pub use executor::Executor;
pub use facility::{Facility, FacilityKind};
pub use incident::{Incident, IncidentKind};
pub use limits::Limits;
pub use organization::Organization;
pub use persisted::PersistedQueries;
pub use person::Person;
pub use query::{Node, QueryRoot, SearchResult};
pub use relay::{global_id, parse_global_id, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use values::{
    DateFilter, DateMatch, IncidentOrder, IncidentOrderField, OrderDirection, PartialDate,
};

use crate::store::{List, Record, Store, StoreError};
use relay::{Connection, PageArgs};

/// The executable schema served over HTTP.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds the schema over an open, seeded store, refusing queries beyond `limits`. Run
/// requests through an `Executor` over it, which may answer them from its cache.
///
/// The schema carries a twin without extensions (see `hooks`), which the executor runs
/// queries on, built twice: validating strictly, and fast for a document that passed
/// strict validation before (see `validation`). All parse through one cache of documents.
pub fn build_schema(store: Store, limits: Limits) -> AppSchema {
    let parser = hooks::GuardedParser::new(limits);
    let twin = |validation| {
        Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
            .data(store.clone())
            .data(limits)
            .data(serial::SerialFields)
            .validation_mode(validation)
            // async-graphql checks the nesting of a document handed to it parsed, as it does
            // after its own parse step; the hooks replace that step and the guard bounds the
            // nesting instead (`Limits::max_depth`), so the twin must not check it again.
            .limit_recursive_depth(usize::MAX)
            .finish()
    };
    let hooked = |validation| {
        Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
            .data(store.clone())
            .data(limits)
            .validation_mode(validation)
            .extension(hooks::SchemaHooks::new(parser.clone()))
    };
    let plain = hooks::PlainTwin {
        schema: twin(ValidationMode::Strict),
        fast: twin(ValidationMode::Fast),
        hooked_fast: hooked(ValidationMode::Fast).finish(),
        variables: Arc::new(validation::VariableTypes::new()),
        parser: parser.clone(),
    };
    // The data `limits` is for the executor, which runs the guard's checks before a cache
    // lookup.
    hooked(ValidationMode::Strict).data(plain).finish()
}

/// The schema in GraphQL SDL: the published contract, `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// The store, put into the schema once by `build_schema`.
fn store<'a>(ctx: &async_graphql::Context<'a>) -> &'a Store {
    ctx.data_unchecked::<Store>()
}

/// Logs a store failure in full and gives the client only a generic error.
fn internal(error: StoreError) -> Error {
    tracing::error!(%error, "store failure while resolving a query");
    Error::new("internal error: the request could not be completed").extend_with(|_, extensions| {
        extensions.set("code", "INTERNAL");
    })
}

/// A mistake in the request that the client can fix.
fn bad_input(message: String) -> Error {
    Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", "BAD_USER_INPUT");
    })
}

/// One condition a record must meet.
type Predicate<R> = Box<dyn Fn(&R) -> bool + Send + Sync>;

/// A filter over records of kind `R`; `None` keeps every record.
type Filter<R> = Option<Arc<dyn Fn(&R) -> bool + Send + Sync>>;

/// One page of a store list of `R` records, each shown as `N`, keeping those `filter`
/// accepts. `totalCount` is one read without a filter, a scan of the list with one.
fn list_page<R, N>(
    store: &Store,
    list: List,
    args: &PageArgs,
    wrap: fn(Arc<R>) -> N,
    filter: Filter<R>,
) -> Result<Connection<N>>
where
    R: Record + 'static,
{
    list_page_dated(store, list, args, wrap, filter, None)
}

/// `list_page` over a list in date order whose filter keeps only dates within `window`:
/// the scan starts near the window's start (`Store::scan_dated`), stops past its end and
/// skips, by key alone, records that cannot match, so a date range costs about the
/// entries within it rather than a read of every entry before it.
fn list_page_dated<R, N>(
    store: &Store,
    list: List,
    args: &PageArgs,
    wrap: fn(Arc<R>) -> N,
    filter: Filter<R>,
    window: Option<crate::model::DateWindow>,
) -> Result<Connection<N>>
where
    R: Record + 'static,
{
    let end = window
        .as_ref()
        .and_then(|window| window.to)
        .map(crate::store::keys::date_key_end);
    let from = window.as_ref().and_then(|window| window.from);
    let may_match = move |key: &[u8]| match &window {
        Some(window) => crate::store::keys::date_key_may_match(key, window.from, window.to),
        None => true,
    };
    let scan = |range: crate::store::KeyRange<'_>, reverse| -> relay::Entries<'_> {
        let range = match &end {
            Some(end) => range.below(end),
            None => range,
        };
        let entries: relay::Entries<'_> = match from {
            Some(from) => store.scan_dated(&list, from, range, reverse),
            None => Box::new(store.scan(&list, range, reverse)),
        };
        Box::new(entries.filter(move |entry| match entry {
            Ok(entry) => may_match(&entry.key),
            Err(_) => true,
        }))
    };
    let load = |entry: &_| {
        let record: Arc<R> = store.get_listed(entry)?;
        Ok(match &filter {
            Some(keep) if !keep(&record) => None,
            _ => Some(wrap(record)),
        })
    };
    let count: Arc<dyn Fn() -> Result<u64> + Send + Sync> = {
        let (store, list, filter) = (store.clone(), list.clone(), filter.clone());
        let (end, may_match) = (end.clone(), may_match);
        Arc::new(move || match &filter {
            None => store.count(&list).map_err(internal),
            Some(keep) => {
                let mut count = 0;
                let range = match &end {
                    Some(end) => crate::store::KeyRange::ALL.below(end),
                    None => crate::store::KeyRange::ALL,
                };
                let entries: relay::Entries<'_> = match from {
                    Some(from) => store.scan_dated(&list, from, range, false),
                    None => Box::new(store.scan(&list, range, false)),
                };
                for entry in entries {
                    let entry = entry.map_err(internal)?;
                    if !may_match(&entry.key) {
                        continue;
                    }
                    let record: Arc<R> = store.get_listed(&entry).map_err(internal)?;
                    count += u64::from(keep(&record));
                }
                Ok(count)
            }
        })
    };
    relay::paginate(args, scan, load, count)
}

/// Looks up a country by its ISO code for a filter argument; an unknown code is a user error.
fn country_id_by_code(store: &Store, code: &str, argument: &str) -> Result<String> {
    match store.country_by_code(code).map_err(internal)? {
        Some(country) => Ok(country.id.clone()),
        None => Err(bad_input(format!(
            "`{argument}`: no country has the ISO 3166-1 alpha-2 code `{code}`"
        ))),
    }
}

/// Combines optional filters into one that keeps records all of them accept.
fn all_of<R: 'static>(filters: Vec<Predicate<R>>) -> Filter<R> {
    if filters.is_empty() {
        None
    } else {
        Some(Arc::new(move |record: &R| {
            filters.iter().all(|keep| keep(record))
        }))
    }
}
