//! `Organization` and `Membership`: unions, alliances, agencies, NGOs, and who belongs.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, ID};

use super::country::Country;
use super::facility::Facility;
use super::incident::{incidents_page, Incident, IncidentKind};
use super::person::Person;
use super::query::lookup;
use super::relay::{global_id, Connection, PageArgs};
use super::serial::{Serial, SerialBoxed, Serials};
use super::source::{notes, statements, FieldNote, Statement, StatementKind};
use super::values::{
    bounds, date, sources, Certainty, DateBounds, DateFilter, IncidentOrder, NameOrder,
    PartialDate, SourceRef,
};
use super::{internal, list_page, relay, store, Result};
use crate::model::{self, RecordKind};
use crate::store::{Link, List};

#[derive(Clone)]
pub struct Organization(pub Arc<model::Organization>);

/// What kind of organization.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::OrganizationKind")]
pub enum OrganizationKind {
    /// An intergovernmental organization, such as the OSCE or the UN.
    Intergovernmental,
    /// An economic or customs union.
    EconomicUnion,
    /// A military alliance, such as the CSTO.
    MilitaryAlliance,
    /// A government agency, such as a border guard service.
    GovernmentAgency,
    /// A parliament.
    Legislature,
    /// A military command, such as U.S. Central Command.
    MilitaryCommand,
    /// A non-governmental organization.
    Ngo,
    /// A non-state armed group.
    ArmedGroup,
    /// A news or photo agency.
    Media,
}

/// A country's standing in an organization.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::MemberRole")]
pub enum MemberRole {
    /// A founding member.
    FoundingMember,
    /// A member.
    Member,
    /// A country that has decided or plans to join.
    ProspectiveMember,
}

#[derive(Clone)]
pub struct Membership {
    organization: Arc<model::Organization>,
    membership: model::Membership,
}

impl Membership {
    /// The membership of `country` in `organization`, if it has one.
    pub fn of(organization: Arc<model::Organization>, country: &str) -> Option<Membership> {
        let membership = organization
            .members
            .iter()
            .find(|member| member.country == country)?
            .clone();
        Some(Membership {
            organization,
            membership,
        })
    }
}

/// A country's membership of an organization.
#[Object]
impl Membership {
    /// The organization.
    async fn organization(&self, ctx: &Context<'_>) -> Serial<Organization> {
        Serial::new(ctx, Organization(self.organization.clone()))
    }

    /// The member country.
    async fn country(&self, ctx: &Context<'_>) -> Result<Option<Serial<Country>>> {
        lookup(ctx, &self.membership.country, Country)
    }

    /// The country's standing: founding member, member, or prospective member.
    async fn role(&self) -> MemberRole {
        self.membership.role.into()
    }

    /// Since when; null when the source does not say.
    async fn since(&self) -> Option<PartialDate> {
        date(&self.membership.since)
    }

    /// How sure the source is: PLANNED for an intended accession.
    async fn certainty(&self) -> Certainty {
        self.membership.certainty.into()
    }
}

/// An organization: an economic union or military alliance, an intergovernmental body,
/// a government agency or legislature, a military command, an NGO, an armed group.
#[Object]
impl Organization {
    /// The organization's global id, for `node(id:)`.
    pub async fn id(&self) -> ID {
        global_id(RecordKind::Organization, &self.0.id)
    }

    /// A readable, stable identifier, such as `osce`.
    async fn slug(&self) -> &str {
        &self.0.id
    }

    /// The organization's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Abbreviations and other names, including the source's.
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// What kind of organization.
    async fn kind(&self) -> OrganizationKind {
        self.0.kind.into()
    }

    /// What it is and does, in the editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// The country a national body belongs to; null for international ones.
    async fn country(&self, ctx: &Context<'_>) -> Result<Option<Serial<Country>>> {
        let Some(id) = &self.0.country else {
            return Ok(None);
        };
        lookup(ctx, id, Country)
    }

    /// When it was founded; null when the source does not say.
    async fn founded(&self) -> Option<PartialDate> {
        date(&self.0.founded)
    }

    /// The bounds and precision of `founded`.
    async fn founded_bounds(&self, ctx: &Context<'_>) -> Option<Serial<DateBounds>> {
        bounds(ctx, &self.0.founded)
    }

    /// The organization this one became or led to; null when none.
    async fn succeeded_by(&self, ctx: &Context<'_>) -> Result<Option<SerialBoxed<Organization>>> {
        let Some(id) = &self.0.succeeded_by else {
            return Ok(None);
        };
        Ok(lookup(ctx, id, Organization)?.map(SerialBoxed))
    }

    /// Where in the source these facts come from.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }

    /// Values of this organization that the source does not state, each with its basis (derived
    /// by the editors, general knowledge, or the editors' reading of the source's words)
    /// and an explanation. A field not listed here is stated by the source.
    async fn notes(&self) -> Serials<Vec<FieldNote>> {
        notes(&self.0.notes)
    }

    /// What the source relates as somebody's claim, allegation, position, complaint,
    /// demand, reason, risk or benefit about this organization, with who made it.
    async fn statements(
        &self,
        #[graphql(desc = "Only statements of these kinds; omit for all.")] kinds: Option<
            Vec<StatementKind>,
        >,
    ) -> Serials<Vec<Statement>> {
        statements(&self.0.statements, kinds)
    }

    /// Member countries and their standing, by country name.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n members (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return members after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n members (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return members before this cursor.")] before: Option<String>,
    ) -> Result<Connection<Membership>> {
        let store = store(ctx);
        let list = List::Linked(Link::OrganizationCountries, self.0.id.clone());
        let args = PageArgs::new(first, after, last, before, Default::default());
        let scan = relay::list_scan(store, &list);
        let load = |entry: &crate::store::Entry| Ok(Membership::of(self.0.clone(), &entry.id));
        let count = {
            let (store, list) = (store.clone(), list.clone());
            std::sync::Arc::new(move || store.count(&list).map_err(internal))
        };
        relay::paginate(&args, scan, load, count)
    }

    /// Facilities the organization operates, by name.
    async fn facilities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n facilities (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return facilities after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n facilities (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return facilities before this cursor.")] before: Option<String>,
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
        let list = List::Linked(Link::OrganizationFacilities, self.0.id.clone());
        list_page(store(ctx), list, &args, Facility, None)
    }

    /// Incidents and events the organization took part in, oldest first.
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
        let list = List::Linked(Link::OrganizationIncidents, self.0.id.clone());
        incidents_page(store(ctx), list, &args, kinds, country, occurred)
    }

    /// People who held a role in the organization, by name.
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
            List::Linked(Link::OrganizationPeople, self.0.id.clone()),
            &args,
            Person,
            None,
        )
    }
}
