//! `QueryRoot`: lookups by global id, code and slug, the root collections, and search.
//!
//! The lookups hand out their records (and `Node`s) as `Serial`, as pages do, so that
//! they pass through `serial::resolve`: a record found is never `null` but `{}` when the
//! selection set selects none of its fields (`node(id:) { ... on Country { name } }` for a
//! facility, or every field skipped), where async-graphql's own resolution of objects,
//! unions and interfaces answers `null` (see `serial`). `SearchResult` needs nothing
//! here: it only appears in pages.

use std::sync::Arc;

use async_graphql::{Context, Interface, Object, Union, ID};

use super::agreement::{agreement_filter, Agreement, AgreementKind};
use super::country::Country;
use super::facility::{facility_filter, Facility, FacilityKind};
use super::incident::{incidents_page, Incident, IncidentKind};
use super::organization::{Organization, OrganizationKind};
use super::person::Person;
use super::relay::{parse_global_id, Connection, PageArgs, MAX_PAGE_SIZE};
use super::serial::{self, Serial, Serials};
use super::source::SourceDocument;
use super::values::{AgreementOrder, DateFilter, DateMatch, IncidentOrder, NameOrder, PartialDate};
use super::{bad_input, country_id_by_code, internal, list_page, relay, store, Result};
use crate::model::{self, RecordKind};
use crate::store::{Entry, Link, List, Record, Store, StoreError};

/// A record with a global id. Every record type implements it; fetch any record by id
/// with `node(id:)`.
#[derive(Interface, Clone)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The record's global id: opaque, stable, unique across types."
))]
pub enum Node {
    Country(Country),
    Organization(Organization),
    Person(Person),
    Agreement(Agreement),
    Facility(Facility),
    Incident(Incident),
}

/// A record found by `search`: any record type.
#[derive(Union, Clone)]
pub enum SearchResult {
    Country(Country),
    Organization(Organization),
    Person(Person),
    Agreement(Agreement),
    Facility(Facility),
    Incident(Incident),
}

pub struct QueryRoot;

/// The entry points of the API.
#[Object(name = "Query")]
impl QueryRoot {
    /// The record with this global id; null when there is none.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, from any record's `id`.")] id: ID,
    ) -> Result<Option<Serial<Node>>> {
        let (kind, slug) = parse_global_id(&id)?;
        let node = load_node(store(ctx), kind, &slug).map_err(internal)?;
        Ok(node.map(|node| Serial::new(ctx, node)))
    }

    /// The records with these global ids, in the same order; null where there is none.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Serial<Node>>>> {
        if ids.len() > MAX_PAGE_SIZE {
            return Err(bad_input(format!(
                "`ids` has {} ids; at most {MAX_PAGE_SIZE} are accepted",
                ids.len()
            )));
        }
        let store = store(ctx);
        let serial = serial::allowed(ctx);
        ids.iter()
            .map(|id| {
                let (kind, slug) = parse_global_id(id)?;
                let node = load_node(store, kind, &slug).map_err(internal)?;
                Ok(node.map(|node| Serial { node, serial }))
            })
            .collect()
    }

    /// The country with this ISO 3166-1 alpha-2 code, in any case (`"kg"`, `"KG"`); null
    /// when there is none.
    async fn country(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An ISO 3166-1 alpha-2 code, such as `RU`; case-insensitive.")]
        code: String,
    ) -> Result<Option<Serial<Country>>> {
        let country = store(ctx).country_by_code(code.trim()).map_err(internal)?;
        Ok(country.map(|country| Serial::new(ctx, Country(country))))
    }

    /// The organization with this slug; null when there is none.
    async fn organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A slug, such as `osce`.")] slug: String,
    ) -> Result<Option<Serial<Organization>>> {
        lookup(ctx, &slug, Organization)
    }

    /// The person with this slug; null when there is none.
    async fn person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A slug, such as `almazbek-atambayev`.")] slug: String,
    ) -> Result<Option<Serial<Person>>> {
        lookup(ctx, &slug, Person)
    }

    /// The agreement with this slug; null when there is none.
    async fn agreement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A slug, such as `manas-lease`.")] slug: String,
    ) -> Result<Option<Serial<Agreement>>> {
        lookup(ctx, &slug, Agreement)
    }

    /// The facility with this slug; null when there is none.
    async fn facility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A slug, such as `kant-air-base`.")] slug: String,
    ) -> Result<Option<Serial<Facility>>> {
        lookup(ctx, &slug, Facility)
    }

    /// The incident with this slug; null when there is none.
    async fn incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A slug, such as `aksay-border-incident-2013`.")] slug: String,
    ) -> Result<Option<Serial<Incident>>> {
        lookup(ctx, &slug, Incident)
    }

    /// The source document with this slug, as `SourceRef.document` names it; null when
    /// there is none.
    async fn source_document(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A slug, such as `kyrgyzstan-foreign-relations`.")] slug: String,
    ) -> Result<Option<Serial<SourceDocument>>> {
        let document = store(ctx).source_document(&slug).map_err(internal)?;
        Ok(document.map(|document| Serial::new(ctx, SourceDocument(document))))
    }

    /// Every source document the records cite, by slug: what each is, the period it
    /// describes and the date it speaks from (`asOf`). Every status and date in the API is
    /// according to its source, as of that source's date.
    async fn source_documents(&self, ctx: &Context<'_>) -> Result<Serials<Vec<SourceDocument>>> {
        let documents = store(ctx).source_documents().map_err(internal)?;
        Ok(Serials(documents.into_iter().map(SourceDocument).collect()))
    }

    /// Every country, by name.
    async fn countries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n countries (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return countries after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n countries (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return countries before this cursor.")] before: Option<String>,
        #[graphql(desc = "The order of the list. Default: name, ascending.")] order_by: Option<
            NameOrder,
        >,
    ) -> Result<Connection<Country>> {
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        list_page(
            store(ctx),
            List::All(RecordKind::Country),
            &args,
            Country,
            None,
        )
    }

    /// Every organization, by name.
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n organizations (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "Return organizations after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n organizations (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return organizations before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only organizations of these kinds.")] kinds: Option<
            Vec<OrganizationKind>,
        >,
        #[graphql(desc = "The order of the list. Default: name, ascending.")] order_by: Option<
            NameOrder,
        >,
    ) -> Result<Connection<Organization>> {
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        let filter = kinds.map(|kinds| {
            let kinds: Vec<model::OrganizationKind> = kinds.into_iter().map(Into::into).collect();
            std::sync::Arc::new(move |organization: &model::Organization| {
                kinds.contains(&organization.kind)
            }) as std::sync::Arc<dyn Fn(&model::Organization) -> bool + Send + Sync>
        });
        list_page(
            store(ctx),
            List::All(RecordKind::Organization),
            &args,
            Organization,
            filter,
        )
    }

    /// Every person, by name.
    async fn people(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n people (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return people after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n people (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return people before this cursor.")] before: Option<String>,
        #[graphql(desc = "The order of the list. Default: name, ascending.")] order_by: Option<
            NameOrder,
        >,
    ) -> Result<Connection<Person>> {
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        list_page(
            store(ctx),
            List::All(RecordKind::Person),
            &args,
            Person,
            None,
        )
    }

    /// Every agreement, oldest first. `agreements(inForceOn: "2012", kinds: [BASING])`
    /// answers "which basing leases were in force in 2012?", according to the source, as
    /// of its date (`SourceDocument.asOf`).
    async fn agreements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n agreements (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return agreements after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n agreements (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return agreements before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only agreements of these kinds.")] kinds: Option<Vec<AgreementKind>>,
        #[graphql(desc = "Only agreements a party to which has this ISO 3166-1 alpha-2 code.")]
        party: Option<String>,
        #[graphql(desc = "Only agreements signed within this range.")] signed: Option<DateFilter>,
        #[graphql(
            desc = "Only agreements in force on this date, according to the source, as of its date (`SourceDocument.asOf`): an agreement the source gives as expiring later counts as running to its expiry. An agreement's span runs from `inForceFrom` (else `signed`) to `ended` (else `expires`); an unknown end leaves that side open. Agreements with neither end known, and proposed or planned ones, never match."
        )]
        in_force_on: Option<PartialDate>,
        #[graphql(
            desc = "How `inForceOn` matches: POSSIBLY_OVERLAPS (default) keeps agreements that may have been in force at some time within the date; CERTAINLY_WITHIN keeps those certainly in force throughout it.",
            default
        )]
        in_force_match: DateMatch,
        #[graphql(desc = "The order of the list. Default: signed, ascending.")] order_by: Option<
            AgreementOrder,
        >,
    ) -> Result<Connection<Agreement>> {
        let store = store(ctx);
        let list = match &party {
            Some(code) => List::Linked(
                Link::CountryAgreements,
                country_id_by_code(store, code, "party")?,
            ),
            None => List::All(RecordKind::Agreement),
        };
        let filter = agreement_filter(store, kinds, None, signed, in_force_on, in_force_match)?;
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        list_page(store, list, &args, Agreement, filter)
    }

    /// Every facility, by name.
    async fn facilities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n facilities (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return facilities after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n facilities (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return facilities before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only facilities of these kinds.")] kinds: Option<Vec<FacilityKind>>,
        #[graphql(
            desc = "Only facilities on the territory of the country with this ISO 3166-1 alpha-2 code."
        )]
        host_country: Option<String>,
        #[graphql(
            desc = "Only facilities operated by the country with this ISO 3166-1 alpha-2 code."
        )]
        operator_country: Option<String>,
        #[graphql(desc = "The order of the list. Default: name, ascending.")] order_by: Option<
            NameOrder,
        >,
    ) -> Result<Connection<Facility>> {
        let store = store(ctx);
        // Walk the named country's facilities rather than all of them; the filter checks
        // the country's role.
        let list = match (&host_country, &operator_country) {
            (Some(code), _) => List::Linked(
                Link::CountryFacilities,
                country_id_by_code(store, code, "hostCountry")?,
            ),
            (None, Some(code)) => List::Linked(
                Link::CountryFacilities,
                country_id_by_code(store, code, "operatorCountry")?,
            ),
            (None, None) => List::All(RecordKind::Facility),
        };
        let filter = facility_filter(store, kinds, host_country, operator_country)?;
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        list_page(store, list, &args, Facility, filter)
    }

    /// Every incident and event, oldest first. `incidents(kinds: [BORDER_CLASH], occurred:
    /// {from: "2012", to: "2013"})` lists the border clashes of 2012 and 2013.
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n incidents (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return incidents after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n incidents (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return incidents before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only incidents of these kinds.")] kinds: Option<Vec<IncidentKind>>,
        #[graphql(
            desc = "Only incidents involving the country with this ISO 3166-1 alpha-2 code."
        )]
        country: Option<String>,
        #[graphql(desc = "Only incidents that occurred within this range.")] occurred: Option<
            DateFilter,
        >,
        #[graphql(desc = "The order of the list. Default: occurred, ascending.")] order_by: Option<
            IncidentOrder,
        >,
    ) -> Result<Connection<Incident>> {
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        all_incidents(store(ctx), &args, kinds, country, occurred)
    }

    /// Records of every type whose name, aliases, code, places or summary contain every
    /// word of `text`, ignoring case and punctuation. Words are matched whole; hyphenated
    /// names match in parts or joined ("Jalal-Abad", "Jalalabad"), and the source's own
    /// spellings are kept as aliases ("Bakiev", "Jalabad"). Ordered by type (countries,
    /// organizations, people, agreements, facilities, incidents), then slug.
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The words to find, such as `Kant` or `Jalal-Abad`.")] text: String,
        #[graphql(desc = "Return the first n results (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return results after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n results (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return results before this cursor.")] before: Option<String>,
    ) -> Result<Connection<SearchResult>> {
        search_page(store(ctx), &text, first, after, last, before)
    }
}

/// One page of `incidents`, walking the named country's incidents rather than all of
/// them when `country` is given: for the resolver and the compiled plans.
pub(super) fn all_incidents(
    store: &Store,
    args: &PageArgs,
    kinds: Option<Vec<IncidentKind>>,
    country: Option<String>,
    occurred: Option<DateFilter>,
) -> Result<Connection<Incident>> {
    let list = match &country {
        Some(code) => List::Linked(
            Link::CountryIncidents,
            country_id_by_code(store, code, "country")?,
        ),
        None => List::All(RecordKind::Incident),
    };
    incidents_page(store, list, args, kinds, None, occurred)
}

/// One page of `search`'s results, for the resolver and the compiled plans.
pub(super) fn search_page(
    store: &Store,
    text: &str,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<Connection<SearchResult>> {
    if crate::store::search::query_tokens(text).is_empty() {
        return Err(bad_input(
            "`text` has no words to search for (words have at least two letters or digits)"
                .to_owned(),
        ));
    }
    let args = PageArgs::new(first, after, last, before, Default::default());
    let matches = Arc::new(store.search_matches(text).map_err(internal)?);
    let scan = relay::search_scan(store, &matches);
    let load = |entry: &Entry| load_search_result(store, entry).map(Some);
    let count = {
        let (store, matches) = (store.clone(), matches.clone());
        Arc::new(move || matches.count(&store).map_err(internal))
    };
    relay::paginate(&args, scan, load, count)
}

/// The record with `slug`, as `wrap` shows it, for the lookups by slug and the fields
/// that name another record.
pub(super) fn lookup<R: Record + 'static, N>(
    ctx: &Context<'_>,
    slug: &str,
    wrap: fn(Arc<R>) -> N,
) -> Result<Option<Serial<N>>> {
    let record = store(ctx).get(slug).map_err(internal)?;
    Ok(record.map(|record| Serial::new(ctx, wrap(record))))
}

pub(super) fn load_node(
    store: &Store,
    kind: RecordKind,
    slug: &str,
) -> Result<Option<Node>, StoreError> {
    Ok(match kind {
        RecordKind::Country => store.get(slug)?.map(Country).map(Node::Country),
        RecordKind::Organization => store.get(slug)?.map(Organization).map(Node::Organization),
        RecordKind::Person => store.get(slug)?.map(Person).map(Node::Person),
        RecordKind::Agreement => store.get(slug)?.map(Agreement).map(Node::Agreement),
        RecordKind::Facility => store.get(slug)?.map(Facility).map(Node::Facility),
        RecordKind::Incident => store.get(slug)?.map(Incident).map(Node::Incident),
    })
}

pub(super) fn load_search_result(store: &Store, entry: &Entry) -> Result<SearchResult, StoreError> {
    Ok(match entry.kind {
        RecordKind::Country => SearchResult::Country(Country(store.get_listed(entry)?)),
        RecordKind::Organization => {
            SearchResult::Organization(Organization(store.get_listed(entry)?))
        }
        RecordKind::Person => SearchResult::Person(Person(store.get_listed(entry)?)),
        RecordKind::Agreement => SearchResult::Agreement(Agreement(store.get_listed(entry)?)),
        RecordKind::Facility => SearchResult::Facility(Facility(store.get_listed(entry)?)),
        RecordKind::Incident => SearchResult::Incident(Incident(store.get_listed(entry)?)),
    })
}
