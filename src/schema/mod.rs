//! The GraphQL schema: thin objects over `model` records whose relations page through the
//! store's indexes at query time.
//!
//! Knows nothing of HTTP, sled or bincode. Store failures are logged here and reach
//! clients only as a generic `INTERNAL` error; user mistakes get `BAD_USER_INPUT`.

mod agreement;
mod country;
mod facility;
mod incident;
mod organization;
mod person;
pub mod plan;
mod query;
mod relay;
mod serial;
mod source;
mod values;

use std::sync::Arc;

use async_graphql::{EmptyMutation, EmptySubscription, Error, ErrorExtensions, Schema};

pub use agreement::Agreement;
pub use country::Country;
pub use facility::{Facility, FacilityKind};
pub use incident::{Incident, IncidentKind};
pub use organization::Organization;
pub use person::Person;
pub use query::{Node, QueryRoot, SearchResult};
pub use relay::{global_id, parse_global_id, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use values::{
    DateFilter, DateMatch, IncidentOrder, IncidentOrderField, OrderDirection, PartialDate,
};

use crate::store::{DateRange, List, Record, Store, StoreError};
use relay::{Connection, PageArgs};

/// The executable schema. `executor` builds and runs it: this module says what clients
/// can ask, `executor` how a request is run (guard, validation, caches).
pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// A schema over a store, yet to be finished with the executor's extension and settings.
pub type AppSchemaBuilder =
    async_graphql::SchemaBuilder<QueryRoot, EmptyMutation, EmptySubscription>;

type Result<T, E = Error> = std::result::Result<T, E>;

/// The schema over an open, seeded store, for `executor` to finish: its resolvers read
/// `store`. Objects are resolved by async-graphql, field by field through any extension
/// the executor installs.
pub fn build_schema(store: Store) -> AppSchemaBuilder {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription).data(store)
}

/// `build_schema` for a schema that will carry no extension: its objects resolve their
/// fields one after another in one future (`serial`), which only a schema without
/// extensions may do. The executor answers queries with it.
pub fn build_plain_schema(store: Store) -> AppSchemaBuilder {
    build_schema(store).data(serial::SerialFields)
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
    list_page_dated(store, DateRange::new(list, None), args, wrap, filter)
}

/// `list_page` over a list cut to a date range (`store::DateRange`), whose filter keeps
/// only dates within the range's window: the store decides which entries the page and
/// `totalCount` read.
fn list_page_dated<R, N>(
    store: &Store,
    range: DateRange,
    args: &PageArgs,
    wrap: fn(Arc<R>) -> N,
    filter: Filter<R>,
) -> Result<Connection<N>>
where
    R: Record + 'static,
{
    let range = Arc::new(range);
    let scan = |keys: crate::store::KeyRange<'_>, reverse| range.entries(store, keys, reverse);
    let load = |entry: &_| {
        let record: Arc<R> = store.get_listed(entry)?;
        Ok(match &filter {
            Some(keep) if !keep(&record) => None,
            _ => Some(wrap(record)),
        })
    };
    let count: Arc<dyn Fn() -> Result<u64> + Send + Sync> = {
        let (store, range, filter) = (store.clone(), range.clone(), filter.clone());
        Arc::new(move || {
            let keep = filter.as_deref().map(|keep| keep as &dyn Fn(&R) -> bool);
            range.count(&store, keep).map_err(internal)
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
