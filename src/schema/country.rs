//! `Country`: a state in the knowledge base, and the lists that start from it.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};

use super::agreement::{linked_agreements, Agreement, AgreementFilter, AgreementKind};
use super::facility::{linked_facilities, Facility, FacilityKind};
use super::incident::{incidents_page, Incident, IncidentKind};
use super::organization::Membership;
use super::person::Person;
use super::relay::{global_id, Connection, PageArgs};
use super::serial::Serials;
use super::source::{notes, statements, FieldNote, Statement, StatementKind};
use super::values::{
    sources, AgreementOrder, DateFilter, DateMatch, IncidentOrder, NameOrder, PartialDate,
    SourceRef,
};
use super::{internal, list_page, relay, store, Result};
use crate::model::{self, RecordKind};
use crate::store::{Link, List};

#[derive(Clone)]
pub struct Country(pub Arc<model::Country>);

/// A country: Kyrgyzstan, its neighbours, and the other states the source names.
#[Object]
impl Country {
    /// The country's global id, for `node(id:)`.
    pub async fn id(&self) -> ID {
        global_id(RecordKind::Country, &self.0.id)
    }

    /// A readable, stable identifier, such as `kyrgyzstan`.
    async fn slug(&self) -> &str {
        &self.0.id
    }

    /// The ISO 3166-1 alpha-2 code, upper case, such as `KG`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The country's common English name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Other names and spellings, including those the source uses ("U.S.", "Kyrygz").
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// The country's relations with Kyrgyzstan as the source describes them, in the
    /// editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Where in the source these facts come from.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }

    /// Values of this country that the source does not state, each with its basis (derived
    /// by the editors, general knowledge, or the editors' reading of the source's words)
    /// and an explanation. A field not listed here is stated by the source.
    async fn notes(&self) -> Serials<Vec<FieldNote>> {
        notes(&self.0.notes)
    }

    /// What the source relates as somebody's claim, allegation, position, complaint,
    /// demand, reason, risk or benefit about this country, with who made it.
    async fn statements(
        &self,
        #[graphql(desc = "Only statements of these kinds; omit for all.")] kinds: Option<
            Vec<StatementKind>,
        >,
    ) -> Serials<Vec<Statement>> {
        statements(&self.0.statements, kinds)
    }

    /// Agreements and arrangements the country is a party to, oldest first.
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
        #[graphql(
            desc = "Only agreements another party to which has this ISO 3166-1 alpha-2 code."
        )]
        party: Option<String>,
        #[graphql(desc = "Only agreements signed within this range.")] signed: Option<DateFilter>,
        #[graphql(
            desc = "Only agreements in force on this date, according to the source, as of its date (`SourceDocument.asOf`); see `inForceMatch`."
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
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        let filter = AgreementFilter {
            kinds,
            party,
            signed,
            in_force_on,
            in_force_match,
        };
        linked_agreements(
            store(ctx),
            Link::CountryAgreements,
            &self.0.id,
            &args,
            filter,
        )
    }

    /// Facilities the country hosts, operates or borders, by name.
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
        #[graphql(desc = "The order of the list. Default: name, ascending.")] order_by: Option<
            NameOrder,
        >,
    ) -> Result<Connection<Facility>> {
        let args = PageArgs::new(
            first,
            after,
            last,
            before,
            order_by.unwrap_or_default().direction,
        );
        linked_facilities(
            store(ctx),
            Link::CountryFacilities,
            &self.0.id,
            &args,
            kinds,
        )
    }

    /// Incidents and events the country is involved in, oldest first.
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
            desc = "Only incidents also involving the country with this ISO 3166-1 alpha-2 code."
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
        let list = List::Linked(Link::CountryIncidents, self.0.id.clone());
        incidents_page(store(ctx), list, &args, kinds, country, occurred)
    }

    /// The country's memberships of organizations, by organization name.
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n memberships (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "Return memberships after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n memberships (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return memberships before this cursor.")] before: Option<String>,
    ) -> Result<Connection<Membership>> {
        let store = store(ctx);
        let list = List::Linked(Link::CountryOrganizations, self.0.id.clone());
        let args = PageArgs::new(first, after, last, before, Default::default());
        let country = self.0.id.clone();
        let scan = relay::list_scan(store, &list);
        let load = |entry: &_| {
            let organization: Arc<model::Organization> = store.get_listed(entry)?;
            Ok(Membership::of(organization, &country))
        };
        let count = {
            let (store, list) = (store.clone(), list.clone());
            std::sync::Arc::new(move || store.count(&list).map_err(internal))
        };
        relay::paginate(&args, scan, load, count)
    }

    /// People of this nationality or who held a role for this country, by name.
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
            List::Linked(Link::CountryPeople, self.0.id.clone()),
            &args,
            Person,
            None,
        )
    }
}
