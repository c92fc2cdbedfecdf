//! `Facility`: bases, ranges, stations, borders and their sectors, enclaves, offices.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Union, ID};

use super::agreement::{linked_agreements, Agreement, AgreementFilter, AgreementKind};
use super::country::Country;
use super::incident::{incidents_page, Incident, IncidentKind};
use super::organization::Organization;
use super::query::lookup;
use super::relay::{global_id, Connection, PageArgs};
use super::serial::{Serial, SerialBoxed, Serials};
use super::source::{notes, statements, FieldNote, Statement, StatementKind};
use super::values::{
    bounds, date, location, quantity, sources, AgreementOrder, Certainty, DateBounds, DateFilter,
    DateMatch, IncidentOrder, Location, NameOrder, PartialDate, Quantity, SourceRef,
};
use super::{all_of, country_id_by_code, internal, list_page, store, Filter, Predicate, Result};
use crate::model::{self, Actor, RecordKind};
use crate::store::{Link, List, Store};

#[derive(Clone)]
pub struct Facility(pub Arc<model::Facility>);

/// What kind of place a facility is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::FacilityKind")]
pub enum FacilityKind {
    /// A military air base or an airport used as one.
    AirBase,
    /// A weapons testing range, such as a torpedo range.
    TestRange,
    /// A military communications station.
    CommunicationsStation,
    /// A seismic monitoring station.
    SeismicStation,
    /// A whole international border between two countries.
    Border,
    /// A stretch or area of a border, often disputed or undemarcated.
    BorderSector,
    /// Territory of one country surrounded by another's, or leased to another.
    Enclave,
    /// Where foreign border guards are stationed.
    BorderGuardPost,
    /// An office of an international organization.
    Office,
    /// An educational and research institution.
    Academy,
    /// A hydroelectric dam project.
    HydropowerProject,
    /// An underground gas storage facility.
    GasStorage,
}

/// A role of aircraft stationed at a base.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::AircraftRole")]
pub enum AircraftRole {
    /// Ground-attack aircraft.
    GroundAttack,
    /// Fighter aircraft.
    Fighter,
    /// Transport aircraft.
    Transport,
    /// Helicopters.
    Helicopter,
    /// Training aircraft.
    Training,
}

/// A natural resource or installation found at a facility.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::Resource")]
pub enum Resource {
    /// Recoverable oil reserves.
    Oil,
    /// Recoverable natural gas reserves.
    NaturalGas,
    /// Underground gas storage.
    GasStorage,
}

/// Who operates a facility: a country or an organization.
#[derive(Union, Clone)]
pub enum Operator {
    /// A country, such as Russia at Kant.
    Country(Country),
    /// An organization, such as the OSCE for its offices.
    Organization(Organization),
}

/// A place with a role in Kyrgyzstan's foreign relations: a foreign air base or test
/// range, a border guard post, an international border or one of its disputed sectors,
/// an enclave, an international office or academy, a dam project.
#[Object]
impl Facility {
    /// The facility's global id, for `node(id:)`.
    pub async fn id(&self) -> ID {
        global_id(RecordKind::Facility, &self.0.id)
    }

    /// A readable, stable identifier, such as `kant-air-base`.
    async fn slug(&self) -> &str {
        &self.0.id
    }

    /// The facility's name in its normalized spelling, such as "Manas International Airport".
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Other names and spellings, including those the source uses.
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// What kind of place it is.
    async fn kind(&self) -> FacilityKind {
        self.0.kind.into()
    }

    /// How sure the source is of the facility's facts: REPORTED where it says "reportedly".
    async fn certainty(&self) -> Certainty {
        self.0.certainty.into()
    }

    /// What the facility is and why it matters, in the editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// The country whose territory the facility lies on.
    async fn host_country(&self, ctx: &Context<'_>) -> Result<Option<Serial<Country>>> {
        lookup(ctx, &self.0.host_country, Country)
    }

    /// Who operates the facility; null when no operator is recorded (as for a border).
    async fn operator(&self, ctx: &Context<'_>) -> Result<Option<Serial<Operator>>> {
        let store = store(ctx);
        let operator = match &self.0.operator {
            None => None,
            Some(Actor::Country(id)) => store
                .get(id)
                .map_err(internal)?
                .map(Country)
                .map(Operator::Country),
            Some(Actor::Organization(id)) => store
                .get(id)
                .map_err(internal)?
                .map(Organization)
                .map(Operator::Organization),
        };
        Ok(operator.map(|operator| Serial::new(ctx, operator)))
    }

    /// The larger facility this one is part of, such as the border a sector belongs to;
    /// null when none.
    async fn part_of(&self, ctx: &Context<'_>) -> Result<Option<SerialBoxed<Facility>>> {
        let Some(id) = &self.0.part_of else {
            return Ok(None);
        };
        Ok(lookup(ctx, id, Facility)?.map(SerialBoxed))
    }

    /// Where the facility is; null when not recorded.
    async fn location(&self, ctx: &Context<'_>) -> Option<Serial<Location>> {
        location(ctx, &self.0.location)
    }

    /// When it opened or was established, according to the source; null when the source
    /// does not say.
    async fn opened(&self) -> Option<PartialDate> {
        date(&self.0.opened)
    }

    /// The bounds and precision of `opened`.
    async fn opened_bounds(&self, ctx: &Context<'_>) -> Option<Serial<DateBounds>> {
        bounds(ctx, &self.0.opened)
    }

    /// When it closed; null while open as of the source's date (`SourceDocument.asOf`)
    /// or when the source does not say.
    async fn closed(&self) -> Option<PartialDate> {
        date(&self.0.closed)
    }

    /// Personnel stationed there, such as border guards; null when not stated.
    async fn personnel(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.personnel)
    }

    /// Aircraft squadrons based there; null when not stated.
    async fn aircraft_squadrons(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.aircraft_squadrons)
    }

    /// The roles of aircraft based there; empty when none are stated.
    async fn aircraft_roles(&self) -> Vec<AircraftRole> {
        self.0
            .aircraft_roles
            .iter()
            .map(|role| (*role).into())
            .collect()
    }

    /// For a border: the length both sides recognize, in kilometres; null when not stated.
    async fn agreed_length_km(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.agreed_length_km)
    }

    /// For a border: the length in dispute, in kilometres; null when not stated.
    async fn disputed_length_km(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.disputed_length_km)
    }

    /// For a border: the number of disputed segments; null when not stated.
    async fn disputed_segments(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.disputed_segments)
    }

    /// For a border: the number of disputed segments on which talks are deadlocked;
    /// null when not stated.
    async fn deadlocked_segments(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.deadlocked_segments)
    }

    /// Natural resources and installations there; empty when none are stated.
    async fn resources(&self) -> Vec<Resource> {
        self.0
            .resources
            .iter()
            .map(|resource| (*resource).into())
            .collect()
    }

    /// Where in the source these facts come from.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }

    /// Values of this facility that the source does not state, each with its basis (derived
    /// by the editors, general knowledge, or the editors' reading of the source's words)
    /// and an explanation. A field not listed here is stated by the source.
    async fn notes(&self) -> Serials<Vec<FieldNote>> {
        notes(&self.0.notes)
    }

    /// What the source relates as somebody's claim, allegation, position, complaint,
    /// demand, reason, risk or benefit about this facility, with who made it.
    async fn statements(
        &self,
        #[graphql(desc = "Only statements of these kinds; omit for all.")] kinds: Option<
            Vec<StatementKind>,
        >,
    ) -> Serials<Vec<Statement>> {
        statements(&self.0.statements, kinds)
    }

    /// Every country involved: the host, an operating country, and others such as the
    /// neighbour across a border; by name.
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
            List::Linked(Link::FacilityCountries, self.0.id.clone()),
            &args,
            Country,
            None,
        )
    }

    /// Agreements covering the facility, oldest first.
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
            desc = "Only agreements in force on this date, according to the source, as of its date (`SourceDocument.asOf`); see `inForceMatch`."
        )]
        in_force_on: Option<PartialDate>,
        #[graphql(
            desc = "How `inForceOn` matches: POSSIBLY_OVERLAPS (default) or CERTAINLY_WITHIN.",
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
            Link::FacilityAgreements,
            &self.0.id,
            &args,
            filter,
        )
    }

    /// Incidents and events at or concerning the facility, oldest first.
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
        let list = List::Linked(Link::FacilityIncidents, self.0.id.clone());
        incidents_page(store(ctx), list, &args, kinds, country, occurred)
    }
}

/// One page of `owner`'s facilities through `link`, kept by `kinds`: every record's
/// `facilities` connection, and the compiled plans' (`plan`).
pub(super) fn linked_facilities(
    store: &Store,
    link: Link,
    owner: &str,
    args: &PageArgs,
    kinds: Option<Vec<FacilityKind>>,
) -> Result<Connection<Facility>> {
    let filter = facility_filter(store, kinds, None, None)?;
    list_page(
        store,
        List::Linked(link, owner.to_owned()),
        args,
        Facility,
        filter,
    )
}

/// The filter behind the facility list arguments.
pub(super) fn facility_filter(
    store: &Store,
    kinds: Option<Vec<FacilityKind>>,
    host_country: Option<String>,
    operator_country: Option<String>,
) -> Result<Filter<model::Facility>> {
    let mut filters: Vec<Predicate<model::Facility>> = Vec::new();
    if let Some(kinds) = kinds {
        let kinds: Vec<model::FacilityKind> = kinds.into_iter().map(Into::into).collect();
        filters.push(Box::new(move |facility| kinds.contains(&facility.kind)));
    }
    if let Some(code) = host_country {
        let host = country_id_by_code(store, &code, "hostCountry")?;
        filters.push(Box::new(move |facility| facility.host_country == host));
    }
    if let Some(code) = operator_country {
        let operator = Actor::Country(country_id_by_code(store, &code, "operatorCountry")?);
        filters.push(Box::new(move |facility| {
            facility.operator.as_ref() == Some(&operator)
        }));
    }
    Ok(all_of(filters))
}
