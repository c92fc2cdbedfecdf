//! Relay conventions: opaque global ids, key-based cursors and bounded connections.
//!
//! `paginate` walks a store list (or search postings) from a cursor and stops one entry
//! past the page, so a page costs a range scan of the page, not of the list.

use std::borrow::Cow;
use std::ops::Bound;
use std::sync::Arc;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, Object, OutputType, Positioned, ServerResult,
    TypeName, Value, ID,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::serial::{self, Serial, Serials};
use super::values::OrderDirection;
use super::{bad_input, internal, Result};
use crate::model::RecordKind;
use crate::store::{Entry, KeyRange, List, SearchMatches, Store, StoreError};

/// `first`/`last` when neither is given.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest `first`/`last` accepted.
pub const MAX_PAGE_SIZE: usize = 100;

/// The global id of a record: opaque to clients, stable across restarts and reseeds.
pub fn global_id(kind: RecordKind, slug: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{slug}", kind.type_name())))
}

/// The kind and slug a global id names, or a user error.
pub fn parse_global_id(id: &ID) -> Result<(RecordKind, String)> {
    let invalid = || bad_input(format!("`{}` is not a global id of this API", id.as_str()));
    let bytes = URL_SAFE_NO_PAD.decode(id.as_str()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (type_name, slug) = text.split_once(':').ok_or_else(invalid)?;
    let kind = RecordKind::from_type_name(type_name).ok_or_else(invalid)?;
    if slug.is_empty() {
        return Err(invalid());
    }
    Ok((kind, slug.to_owned()))
}

/// The paging arguments of a connection field.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
    pub direction: OrderDirection,
}

/// A page of a list, as resolvers return it: to clients the `...Connection` type of
/// `Page`, whose few fields are resolved field after field like the records
/// (`serial::resolve`; a nested page has a connection for every record of the level
/// above).
pub struct Connection<N>(Page<N>);

/// A connection's fields.
pub struct Page<N> {
    edges: Vec<Edge<N>>,
    page_info: PageInfo,
    total_count: Arc<dyn Fn() -> Result<u64> + Send + Sync>,
}

/// Cursors are encoded only when a client asks for one: most queries select `nodes`.
pub struct Edge<N> {
    /// The record's key in its list, which its cursor encodes.
    key: Vec<u8>,
    node: N,
}

pub struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    /// The keys of the page's first and last records.
    start_key: Option<Vec<u8>>,
    end_key: Option<Vec<u8>>,
}

/// A page of records from a list, in the list's order, with cursors to continue from.
#[Object(name_type)]
impl<N: ContainerType + Clone> Page<N> {
    /// The records of this page with their cursors.
    async fn edges(&self) -> Serials<&[Edge<N>]> {
        Serials(&self.edges)
    }

    /// The records of this page, without cursors.
    async fn nodes(&self, ctx: &Context<'_>) -> Vec<Serial<N>> {
        let serial = serial::allowed(ctx);
        self.edges
            .iter()
            .map(|edge| Serial {
                node: edge.node.clone(),
                serial,
            })
            .collect()
    }

    /// Where this page sits within the list.
    async fn page_info(&self, ctx: &Context<'_>) -> Serial<&PageInfo> {
        Serial::new(ctx, &self.page_info)
    }

    /// The number of records in the whole list (all pages), filters applied.
    async fn total_count(&self) -> Result<u64> {
        (self.total_count)()
    }
}

impl<N: OutputType> TypeName for Page<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

impl<N: ContainerType + Clone> OutputType for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        <Page<N> as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Page<N> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // Boxed: a connection's records hold connections (async-graphql's own path boxes
        // each field).
        serial::resolve_boxed(&self.0, serial::allowed(ctx), ctx, field).await
    }
}

/// One record of a page and its cursor.
#[Object(name_type)]
impl<N: ContainerType + Clone> Edge<N> {
    /// An opaque cursor for this record; pass it as `after` or `before` to page from here.
    /// Cursors come from record keys, not offsets, so they stay valid as records are added.
    async fn cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.key)
    }

    /// The record.
    async fn node(&self, ctx: &Context<'_>) -> Serial<N> {
        Serial::new(ctx, self.node.clone())
    }
}

impl<N: OutputType> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

/// Where a page sits within its list.
#[Object]
impl PageInfo {
    /// Whether more records follow this page (paging forward with `first`), or follow the
    /// `before` cursor (paging backward with `last`).
    async fn has_next_page(&self) -> bool {
        self.has_next_page
    }

    /// Whether more records precede this page (paging backward with `last`), or precede
    /// the `after` cursor (paging forward with `first`).
    async fn has_previous_page(&self) -> bool {
        self.has_previous_page
    }

    /// The cursor of the first record of the page; null when the page is empty.
    async fn start_cursor(&self) -> Option<String> {
        self.start_key
            .as_ref()
            .map(|key| URL_SAFE_NO_PAD.encode(key))
    }

    /// The cursor of the last record of the page; null when the page is empty.
    async fn end_cursor(&self) -> Option<String> {
        self.end_key.as_ref().map(|key| URL_SAFE_NO_PAD.encode(key))
    }
}

/// The entries of a list within a key range, in key order or reversed.
pub type Entries<'s> = Box<dyn Iterator<Item = std::result::Result<Entry, StoreError>> + 's>;

/// Scans a store list, for `paginate`.
pub fn list_scan<'s>(
    store: &'s Store,
    list: &'s List,
) -> impl Fn(KeyRange<'_>, bool) -> Entries<'s> + 's {
    move |range, reverse| Box::new(store.scan(list, range, reverse))
}

/// Scans search results, for `paginate`.
pub fn search_scan<'s>(
    store: &'s Store,
    matches: &'s SearchMatches,
) -> impl Fn(KeyRange<'_>, bool) -> Entries<'s> + 's {
    move |range, reverse| matches.entries(store, range, reverse)
}

/// Builds one page of a list.
///
/// `load` turns an entry into the node to show, or `None` when a filter rejects it.
/// `count` gives the list's total, called only if a client asks for `totalCount`.
pub fn paginate<'s, N>(
    args: &PageArgs,
    scan: impl Fn(KeyRange<'_>, bool) -> Entries<'s>,
    load: impl Fn(&Entry) -> std::result::Result<Option<N>, StoreError>,
    count: Arc<dyn Fn() -> Result<u64> + Send + Sync>,
) -> Result<Connection<N>> {
    let size = |value: Option<i32>, name: &str| -> Result<Option<usize>> {
        match value {
            None => Ok(None),
            Some(value) if value < 0 => Err(bad_input(format!("`{name}` must not be negative, got {value}"))),
            Some(value) if value as usize > MAX_PAGE_SIZE => Err(bad_input(format!(
                "`{name}` is {value}, above the maximum page size of {MAX_PAGE_SIZE}; page with `after`/`before`"
            ))),
            Some(value) => Ok(Some(value as usize)),
        }
    };
    let (first, last) = (size(args.first, "first")?, size(args.last, "last")?);
    if first.is_some() && last.is_some() {
        return Err(bad_input("pass `first` or `last`, not both".to_owned()));
    }
    let after = args
        .after
        .as_deref()
        .map(|cursor| decode_cursor(cursor, "after"))
        .transpose()?;
    let before = args
        .before
        .as_deref()
        .map(|cursor| decode_cursor(cursor, "before"))
        .transpose()?;
    let backward = last.is_some();
    let limit = last.or(first).unwrap_or(DEFAULT_PAGE_SIZE);
    let descending = args.direction == OrderDirection::Desc;

    // In list order `after` bounds the start and `before` the end; descending lists run
    // against key order.
    let (key_low, key_high) = if descending {
        (&before, &after)
    } else {
        (&after, &before)
    };
    let range = KeyRange {
        lower: key_low.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        upper: key_high
            .as_deref()
            .map_or(Bound::Unbounded, Bound::Excluded),
    };
    let mut edges = Vec::new();
    let mut has_more = false;
    for entry in scan(range, backward != descending) {
        let entry = entry.map_err(internal)?;
        if edges.len() == limit {
            if load(&entry).map_err(internal)?.is_some() {
                has_more = true;
                break;
            }
            continue;
        }
        if let Some(node) = load(&entry).map_err(internal)? {
            edges.push(Edge {
                key: entry.key,
                node,
            });
        }
    }
    if backward {
        edges.reverse();
    }

    // Whether anything matching lies beyond the cursor the page started from.
    let beyond = |cursor: &Option<Vec<u8>>, toward_start: bool| -> Result<bool> {
        let Some(cursor) = cursor else {
            return Ok(false);
        };
        let toward_low_keys = toward_start != descending;
        let range = if toward_low_keys {
            KeyRange {
                lower: Bound::Unbounded,
                upper: Bound::Included(cursor.as_slice()),
            }
        } else {
            KeyRange {
                lower: Bound::Included(cursor.as_slice()),
                upper: Bound::Unbounded,
            }
        };
        for entry in scan(range, toward_low_keys) {
            if load(&entry.map_err(internal)?).map_err(internal)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    };
    let (has_next_page, has_previous_page) = if backward {
        (beyond(&before, false)?, has_more)
    } else {
        (has_more, beyond(&after, true)?)
    };
    let page_info = PageInfo {
        has_next_page,
        has_previous_page,
        start_key: edges.first().map(|edge| edge.key.clone()),
        end_key: edges.last().map(|edge| edge.key.clone()),
    };
    Ok(Connection(Page {
        edges,
        page_info,
        total_count: count,
    }))
}

fn decode_cursor(cursor: &str, name: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            bad_input(format!(
                "`{name}` is not a cursor returned by this API: `{cursor}`"
            ))
        })
}

impl PageArgs {
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        direction: OrderDirection,
    ) -> PageArgs {
        PageArgs {
            first,
            after,
            last,
            before,
            direction,
        }
    }
}

/// What the compiled plans (`plan`) read of a page: its parts without async-graphql.
impl<N> Connection<N> {
    pub(super) fn page_edges(&self) -> &[Edge<N>] {
        &self.0.edges
    }

    pub(super) fn page_info_of(&self) -> &PageInfo {
        &self.0.page_info
    }

    pub(super) fn count(&self) -> Result<u64> {
        (self.0.total_count)()
    }
}

impl<N> Edge<N> {
    /// The record's cursor, as `cursor` answers it.
    pub(super) fn encoded_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.key)
    }

    pub(super) fn record(&self) -> &N {
        &self.node
    }
}

impl PageInfo {
    /// `hasNextPage`, `hasPreviousPage`, and the cursors of `startCursor` and `endCursor`.
    pub(super) fn parts(&self) -> (bool, bool, Option<String>, Option<String>) {
        let encode = |key: &Option<Vec<u8>>| key.as_ref().map(|key| URL_SAFE_NO_PAD.encode(key));
        (
            self.has_next_page,
            self.has_previous_page,
            encode(&self.start_key),
            encode(&self.end_key),
        )
    }
}
