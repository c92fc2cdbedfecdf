//! The real schema's types, fields and arguments that the benchmark's queries use, in
//! the naive async-graphql style (as async-graphql's Star Wars example): each object is a
//! reference to the in-memory data and a position, and every field has its own resolver
//! that reads the Vecs. No DataLoader, no caching, no precomputed answers.
//!
//! Lists take `first` only (no `after`, `last` or `before`); everything else the queries
//! ask for answers as the real server does, global ids and cursors included.

use std::borrow::Cow;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Interface, Object, OutputType, Schema, TypeName,
    Union, ID,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kyrgyz_relations::executor::limits::QueryGuard;
use kyrgyz_relations::executor::Limits;
use kyrgyz_relations::model::{self, RecordKind};
// The schema's own scalar, input and enum types: the baseline differs in its resolvers.
use kyrgyz_relations::schema::{
    global_id, parse_global_id, DateFilter, FacilityKind, IncidentKind, IncidentOrder,
    OrderDirection, PartialDate, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
use kyrgyz_relations::store::keys::{posting_suffix, SortKey};

use super::data::Db;

pub type BaselineSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

type Result<T> = async_graphql::Result<T>;

/// The schema over `db`, behind the real server's query guard with its default limits:
/// any public endpoint needs one, and it is linear in the query text.
pub fn build(db: Db) -> BaselineSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .data(db)
        .extension(QueryGuard(Limits::default()))
        .finish()
}

fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    async fn node<'a>(&self, ctx: &Context<'a>, id: ID) -> Result<Option<Node<'a>>> {
        let (kind, slug) = parse_global_id(&id)?;
        let db = db(ctx);
        let ids = &db.ids;
        let found = match kind {
            RecordKind::Country => ids
                .countries
                .get(&slug)
                .map(|&i| Node::Country(Country { db, i })),
            RecordKind::Organization => ids
                .organizations
                .get(&slug)
                .map(|&i| Node::Organization(Organization { db, i })),
            RecordKind::Person => ids
                .people
                .get(&slug)
                .map(|&i| Node::Person(Person { db, i })),
            RecordKind::Agreement => ids
                .agreements
                .get(&slug)
                .map(|&i| Node::Agreement(Agreement { db, i })),
            RecordKind::Facility => ids
                .facilities
                .get(&slug)
                .map(|&i| Node::Facility(Facility { db, i })),
            RecordKind::Incident => ids
                .incidents
                .get(&slug)
                .map(|&i| Node::Incident(Incident { db, i })),
        };
        Ok(found)
    }

    async fn country<'a>(&self, ctx: &Context<'a>, code: String) -> Option<Country<'a>> {
        let db = db(ctx);
        db.country_by_code
            .get(&code.trim().to_ascii_uppercase())
            .map(|&i| Country { db, i })
    }

    async fn countries<'a>(
        &self,
        ctx: &Context<'a>,
        first: Option<i32>,
    ) -> Result<Connection<'a, Country<'a>>> {
        let db = db(ctx);
        let list = &db.countries_in_order;
        page(
            list.iter().map(|&i| Country { db, i }),
            first,
            Box::new(move || list.len() as u64),
        )
    }

    async fn incidents<'a>(
        &self,
        ctx: &Context<'a>,
        first: Option<i32>,
        occurred: Option<DateFilter>,
        order_by: Option<IncidentOrder>,
    ) -> Result<Connection<'a, Incident<'a>>> {
        let db = db(ctx);
        let descending = order_by.is_some_and(|order| order.direction == OrderDirection::Desc);
        let keep = move |&i: &usize| {
            occurred
                .as_ref()
                .is_none_or(|filter| filter.matches(db.data.incidents[i].occurred.as_ref()))
        };
        let list = &db.incidents_in_order;
        let total = {
            let keep = keep.clone();
            Box::new(move || list.iter().filter(|i| keep(i)).count() as u64)
        };
        let matching = |items: Box<dyn Iterator<Item = &'a usize> + 'a>| {
            items
                .filter(move |i| keep(i))
                .map(move |&i| Incident { db, i })
        };
        if descending {
            page(matching(Box::new(list.iter().rev())), first, total)
        } else {
            page(matching(Box::new(list.iter())), first, total)
        }
    }

    async fn search<'a>(
        &self,
        ctx: &Context<'a>,
        text: String,
        first: Option<i32>,
    ) -> Result<Connection<'a, SearchResult<'a>>> {
        let db = db(ctx);
        let Some(found) = db.search.find(&text) else {
            return Err(bad_input(
                "`text` has no words to search for (words have at least two letters or digits)",
            ));
        };
        let total = found.len() as u64;
        let results = found.into_iter().map(|position| {
            let (kind, i) = db.search.entries[position as usize];
            match kind {
                RecordKind::Country => SearchResult::Country(Country { db, i }),
                RecordKind::Organization => SearchResult::Organization(Organization { db, i }),
                RecordKind::Person => SearchResult::Person(Person { db, i }),
                RecordKind::Agreement => SearchResult::Agreement(Agreement { db, i }),
                RecordKind::Facility => SearchResult::Facility(Facility { db, i }),
                RecordKind::Incident => SearchResult::Incident(Incident { db, i }),
            }
        });
        page(results, first, Box::new(move || total))
    }
}

#[derive(Interface, Clone, Copy)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node<'a> {
    Country(Country<'a>),
    Organization(Organization<'a>),
    Person(Person<'a>),
    Agreement(Agreement<'a>),
    Facility(Facility<'a>),
    Incident(Incident<'a>),
}

#[derive(Union, Clone, Copy)]
pub enum SearchResult<'a> {
    Country(Country<'a>),
    Organization(Organization<'a>),
    Person(Person<'a>),
    Agreement(Agreement<'a>),
    Facility(Facility<'a>),
    Incident(Incident<'a>),
}

/// A record of the data: where it is in its kind's Vec.
macro_rules! record_object {
    ($name:ident, $field:ident, $model:ty) => {
        #[derive(Clone, Copy)]
        pub struct $name<'a> {
            db: &'a Db,
            i: usize,
        }

        impl<'a> $name<'a> {
            fn record(&self) -> &'a $model {
                &self.db.data.$field[self.i]
            }
        }
    };
}

record_object!(Country, countries, model::Country);
record_object!(Organization, organizations, model::Organization);
record_object!(Person, people, model::Person);
record_object!(Agreement, agreements, model::Agreement);
record_object!(Facility, facilities, model::Facility);
record_object!(Incident, incidents, model::Incident);

#[Object]
impl<'a> Country<'a> {
    async fn id(&self) -> ID {
        global_id(RecordKind::Country, &self.record().id)
    }

    async fn slug(&self) -> &'a str {
        &self.record().id
    }

    async fn code(&self) -> &'a str {
        &self.record().code
    }

    async fn name(&self) -> &'a str {
        &self.record().name
    }

    async fn agreements(&self, first: Option<i32>) -> Result<Connection<'a, Agreement<'a>>> {
        let db = self.db;
        let list = &db.country_agreements[self.i];
        page(
            list.iter().map(|&i| Agreement { db, i }),
            first,
            Box::new(move || list.len() as u64),
        )
    }
}

#[Object]
impl<'a> Organization<'a> {
    async fn id(&self) -> ID {
        global_id(RecordKind::Organization, &self.record().id)
    }

    async fn name(&self) -> &'a str {
        &self.record().name
    }
}

#[Object]
impl<'a> Person<'a> {
    async fn id(&self) -> ID {
        global_id(RecordKind::Person, &self.record().id)
    }

    async fn name(&self) -> &'a str {
        &self.record().name
    }
}

#[Object]
impl<'a> Agreement<'a> {
    async fn id(&self) -> ID {
        global_id(RecordKind::Agreement, &self.record().id)
    }

    async fn title(&self) -> &'a str {
        &self.record().title
    }

    async fn signed(&self) -> Option<PartialDate> {
        self.record().signed.clone().map(PartialDate)
    }

    async fn facilities(&self, first: Option<i32>) -> Result<Connection<'a, Facility<'a>>> {
        let db = self.db;
        let list = &db.agreement_facilities[self.i];
        page(
            list.iter().map(|&i| Facility { db, i }),
            first,
            Box::new(move || list.len() as u64),
        )
    }
}

#[Object]
impl<'a> Facility<'a> {
    async fn id(&self) -> ID {
        global_id(RecordKind::Facility, &self.record().id)
    }

    async fn name(&self) -> &'a str {
        &self.record().name
    }

    async fn kind(&self) -> FacilityKind {
        self.record().kind.into()
    }

    async fn incidents(&self, first: Option<i32>) -> Result<Connection<'a, Incident<'a>>> {
        let db = self.db;
        let list = &db.facility_incidents[self.i];
        page(
            list.iter().map(|&i| Incident { db, i }),
            first,
            Box::new(move || list.len() as u64),
        )
    }
}

#[Object]
impl<'a> Incident<'a> {
    async fn id(&self) -> ID {
        global_id(RecordKind::Incident, &self.record().id)
    }

    async fn title(&self) -> &'a str {
        &self.record().title
    }

    async fn occurred(&self) -> Option<PartialDate> {
        self.record().occurred.clone().map(PartialDate)
    }

    async fn kind(&self) -> IncidentKind {
        self.record().kind.into()
    }
}

/// How a list item's cursor is made: the real server's cursor is its index key there.
pub trait Cursor {
    fn cursor(&self) -> String;
}

macro_rules! sort_key_cursor {
    ($name:ident) => {
        impl Cursor for $name<'_> {
            fn cursor(&self) -> String {
                URL_SAFE_NO_PAD.encode(self.record().sort_key())
            }
        }
    };
}

sort_key_cursor!(Country);
sort_key_cursor!(Agreement);
sort_key_cursor!(Facility);
sort_key_cursor!(Incident);

impl Cursor for SearchResult<'_> {
    fn cursor(&self) -> String {
        let (kind, id) = match self {
            SearchResult::Country(record) => (RecordKind::Country, &record.record().id),
            SearchResult::Organization(record) => (RecordKind::Organization, &record.record().id),
            SearchResult::Person(record) => (RecordKind::Person, &record.record().id),
            SearchResult::Agreement(record) => (RecordKind::Agreement, &record.record().id),
            SearchResult::Facility(record) => (RecordKind::Facility, &record.record().id),
            SearchResult::Incident(record) => (RecordKind::Incident, &record.record().id),
        };
        URL_SAFE_NO_PAD.encode(posting_suffix(kind, id))
    }
}

/// One page of a list: the first `first` (default 20, at most 100) items.
pub struct Connection<'a, N> {
    nodes: Vec<N>,
    has_next_page: bool,
    total_count: Box<dyn Fn() -> u64 + Send + Sync + 'a>,
}

fn page<'a, N>(
    mut items: impl Iterator<Item = N>,
    first: Option<i32>,
    total_count: Box<dyn Fn() -> u64 + Send + Sync + 'a>,
) -> Result<Connection<'a, N>> {
    let limit = match first {
        None => DEFAULT_PAGE_SIZE,
        Some(first) if first < 0 => {
            return Err(bad_input(&format!(
                "`first` must not be negative, got {first}"
            )))
        }
        Some(first) if first as usize > MAX_PAGE_SIZE => {
            return Err(bad_input(&format!(
                "`first` is {first}, above the maximum page size of {MAX_PAGE_SIZE}; page with `after`/`before`"
            )))
        }
        Some(first) => first as usize,
    };
    let nodes: Vec<N> = items.by_ref().take(limit).collect();
    let has_next_page = items.next().is_some();
    Ok(Connection {
        nodes,
        has_next_page,
        total_count,
    })
}

#[Object(name_type)]
impl<'a, N: OutputType + Cursor + Clone> Connection<'a, N> {
    async fn edges(&self) -> Vec<Edge<N>> {
        self.nodes
            .iter()
            .map(|node| Edge { node: node.clone() })
            .collect()
    }

    async fn nodes(&self) -> &[N] {
        &self.nodes
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            start_cursor: self.nodes.first().map(Cursor::cursor),
            end_cursor: self.nodes.last().map(Cursor::cursor),
        }
    }

    async fn total_count(&self) -> u64 {
        (self.total_count)()
    }
}

impl<N: OutputType> TypeName for Connection<'_, N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

pub struct Edge<N> {
    node: N,
}

#[Object(name_type)]
impl<N: OutputType + Cursor + Clone> Edge<N> {
    async fn cursor(&self) -> String {
        self.node.cursor()
    }

    async fn node(&self) -> &N {
        &self.node
    }
}

impl<N: OutputType> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

pub struct PageInfo {
    has_next_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

#[Object]
impl PageInfo {
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }

    /// Always false: lists here start at their beginning (there is no `after`).
    async fn has_previous_page(&self) -> bool {
        false
    }

    async fn start_cursor(&self) -> Option<&str> {
        self.start_cursor.as_deref()
    }

    async fn end_cursor(&self) -> Option<&str> {
        self.end_cursor.as_deref()
    }
}

fn bad_input(message: &str) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", "BAD_USER_INPUT");
    })
}
