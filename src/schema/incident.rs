//! `Incident`: border clashes, riots, supply cut-offs, disputes, and other dated events.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, ID};

use super::agreement::Agreement;
use super::country::Country;
use super::facility::Facility;
use super::organization::Organization;
use super::person::Person;
use super::query::lookup;
use super::relay::{global_id, Connection, PageArgs};
use super::serial::{Serial, SerialBoxed, Serials};
use super::source::{notes, statements, FieldNote, Statement, StatementKind};
use super::values::{
    bounds, date, location, quantity, sources, AgreementOrder, Certainty, DateBounds, DateFilter,
    Location, NameOrder, PartialDate, Quantity, SourceRef,
};
use super::{
    all_of, country_id_by_code, internal, list_page, list_page_dated, store, Filter, Predicate,
    Result,
};
use crate::model::{self, RecordKind};
use crate::store::{DateRange, Link, List, Store, StoreError};

#[derive(Clone)]
pub struct Incident(pub Arc<model::Incident>);

/// What kind of incident or event.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::IncidentKind")]
pub enum IncidentKind {
    /// An exchange of fire or fighting between border guards or across a border.
    BorderClash,
    /// An armed group crossing a border.
    ArmedIncursion,
    /// Violence between ethnic groups.
    EthnicViolence,
    /// Rioting.
    Riot,
    /// Political unrest and its suppression.
    Unrest,
    /// A supply (such as gas) cut off.
    SupplyCutoff,
    /// A standing dispute between countries or parties.
    Dispute,
    /// A public statement or complaint.
    Statement,
    /// A proposal or request raised.
    Proposal,
    /// Forces or equipment deployed.
    Deployment,
    /// Forces withdrawn.
    Withdrawal,
    /// A joint military exercise.
    MilitaryExercise,
    /// A workshop, seminar or training course.
    Workshop,
    /// An official visit.
    OfficialVisit,
    /// A vote, bill or debate in a legislature.
    LegislativeAction,
    /// A government decision or policy.
    PolicyDecision,
    /// A request turned down.
    RequestDeclined,
    /// Allegations of corruption.
    CorruptionAllegation,
    /// Asylum granted to refugees.
    Asylum,
    /// Arrests and extraditions.
    Extradition,
}

/// How one incident relates to another. The kinds come in inverse pairs, and a link is
/// stated on both incidents: CAUSED_BY on one is CAUSED on the other.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::IncidentLinkKind")]
pub enum IncidentLinkKind {
    /// This incident was caused by the linked one (the source says it led to this one).
    CausedBy,
    /// This incident caused the linked one; the inverse of CAUSED_BY.
    Caused,
    /// This incident was a response to the linked one: a request, a refusal, a
    /// retaliation.
    ResponseTo,
    /// This incident prompted the linked one, a response to it; the inverse of
    /// RESPONSE_TO.
    Prompted,
    /// This incident is part of the linked, larger one.
    PartOf,
    /// The linked incident is part of this one; the inverse of PART_OF.
    Includes,
    /// This incident followed the linked one, as the source relates them in sequence,
    /// without saying that one caused the other.
    Follows,
    /// The linked incident followed this one; the inverse of FOLLOWS.
    FollowedBy,
}

pub struct IncidentLink(pub model::IncidentLink);

/// A link from one incident to another, as the source relates it.
#[Object]
impl IncidentLink {
    /// How this incident relates to the linked one.
    async fn kind(&self) -> IncidentLinkKind {
        self.0.kind.into()
    }

    /// The linked incident.
    async fn incident(&self, ctx: &Context<'_>) -> Result<SerialBoxed<Incident>> {
        match store(ctx).get(&self.0.incident).map_err(internal)? {
            Some(incident) => Ok(SerialBoxed(Serial::new(ctx, Incident(incident)))),
            None => Err(internal(StoreError::Dangling {
                tree: "records/incidents".to_owned(),
                id: self.0.incident.clone(),
                target: "incidents".to_owned(),
            })),
        }
    }
}

pub struct SideCasualties(pub model::SideCasualties);

/// Casualties on one side of an incident, or of one nationality, as the source gives
/// them.
#[Object]
impl SideCasualties {
    /// The side: the country whose forces or citizens the figures count.
    async fn country(&self, ctx: &Context<'_>) -> Result<Serial<Country>> {
        match store(ctx).get(&self.0.country).map_err(internal)? {
            Some(country) => Ok(Serial::new(ctx, Country(country))),
            None => Err(internal(StoreError::Dangling {
                tree: "records/countries".to_owned(),
                id: self.0.country.clone(),
                target: "countries".to_owned(),
            })),
        }
    }

    /// People of this side killed; null when the source gives no figure.
    async fn killed(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.killed)
    }

    /// People of this side injured; null when the source gives no figure.
    async fn injured(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.injured)
    }

    /// Who the figures count, in the editors' words ("border guards", "villagers");
    /// null when there is nothing to add.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

/// An incident or event in Kyrgyzstan's foreign relations: a border clash, a riot, a gas
/// cut-off, a dispute, a deployment, a vote, a visit. Casualty fields are null when the
/// source gives no figure, never 0 for "unknown".
#[Object]
impl Incident {
    /// The incident's global id, for `node(id:)`.
    pub async fn id(&self) -> ID {
        global_id(RecordKind::Incident, &self.0.id)
    }

    /// A readable, stable identifier, such as `bulak-bashi-shooting-2012`.
    async fn slug(&self) -> &str {
        &self.0.id
    }

    /// A descriptive title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Other names, including the source's wording.
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// What kind of incident or event.
    async fn kind(&self) -> IncidentKind {
        self.0.kind.into()
    }

    /// When it occurred, as precisely as the source says; null when the source gives no date.
    async fn occurred(&self) -> Option<PartialDate> {
        date(&self.0.occurred)
    }

    /// The bounds and precision of `occurred`.
    async fn occurred_bounds(&self, ctx: &Context<'_>) -> Option<Serial<DateBounds>> {
        bounds(ctx, &self.0.occurred)
    }

    /// How sure the source is: ALLEGED for allegations, CLAIMED for one side's claim.
    async fn certainty(&self) -> Certainty {
        self.0.certainty.into()
    }

    /// What happened, in the editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Where it happened; null when not recorded (see also `facility`).
    async fn location(&self, ctx: &Context<'_>) -> Option<Serial<Location>> {
        location(ctx, &self.0.location)
    }

    /// People killed; null when the source gives no figure.
    async fn killed(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.killed)
    }

    /// People injured; null when the source gives no figure.
    async fn injured(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.injured)
    }

    /// Casualties (killed or injured) where the source reports them only as a whole:
    /// "casualties occurred" is at least 1 with no upper bound; null when not stated.
    async fn casualties(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.casualties)
    }

    /// People involved: "hundreds" is 200 to 999; null when not stated.
    async fn participants(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.participants)
    }

    /// Vehicles damaged: "numerous" is at least 3; null when not stated.
    async fn vehicles_damaged(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.vehicles_damaged)
    }

    /// Where in the source these facts come from.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }

    /// The incidents the source relates this one to, with how: what caused it, what it
    /// prompted, what it is part of, what followed it. Every link is stated on both
    /// incidents with the inverse kind (CAUSED_BY here, CAUSED there), so a chain can be
    /// walked either way: the asylum given to refugees from Andijon, the Uzbek gas
    /// cut-off it prompted, the supply from Kazakhstan that followed.
    async fn links(
        &self,
        #[graphql(desc = "Only links of these kinds; omit for all.")] kinds: Option<
            Vec<IncidentLinkKind>,
        >,
    ) -> Serials<Vec<IncidentLink>> {
        let kinds: Option<Vec<model::IncidentLinkKind>> =
            kinds.map(|kinds| kinds.into_iter().map(Into::into).collect());
        Serials(
            self.0
                .links
                .iter()
                .filter(|link| {
                    kinds
                        .as_ref()
                        .is_none_or(|kinds| kinds.contains(&link.kind))
                })
                .cloned()
                .map(IncidentLink)
                .collect(),
        )
    }

    /// Casualties by side or nationality, where the source gives them ("two Uzbeks
    /// dead"): one entry per country, in the source's order. Empty when the source gives
    /// no breakdown; `killed` and `injured` are the totals.
    async fn casualties_by_side(&self) -> Serials<Vec<SideCasualties>> {
        Serials(
            self.0
                .casualties_by_side
                .iter()
                .cloned()
                .map(SideCasualties)
                .collect(),
        )
    }

    /// Values of this incident that the source does not state, each with its basis (derived
    /// by the editors, general knowledge, or the editors' reading of the source's words)
    /// and an explanation. A field not listed here is stated by the source.
    async fn notes(&self) -> Serials<Vec<FieldNote>> {
        notes(&self.0.notes)
    }

    /// What the source relates as somebody's claim, allegation, position, complaint,
    /// demand, reason, risk or benefit about this incident, with who made it.
    async fn statements(
        &self,
        #[graphql(desc = "Only statements of these kinds; omit for all.")] kinds: Option<
            Vec<StatementKind>,
        >,
    ) -> Serials<Vec<Statement>> {
        statements(&self.0.statements, kinds)
    }

    /// The facility where it happened or that it concerns most; null when none.
    async fn facility(&self, ctx: &Context<'_>) -> Result<Option<Serial<Facility>>> {
        let Some(id) = self.0.facilities.first() else {
            return Ok(None);
        };
        lookup(ctx, id, Facility)
    }

    /// Every facility the incident concerns, by name.
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
        list_page(
            store(ctx),
            List::Linked(Link::IncidentFacilities, self.0.id.clone()),
            &args,
            Facility,
            None,
        )
    }

    /// The countries involved, by name.
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
            List::Linked(Link::IncidentCountries, self.0.id.clone()),
            &args,
            Country,
            None,
        )
    }

    /// The organizations involved, by name.
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n organizations (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "Return organizations after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n organizations (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return organizations before this cursor.")] before: Option<String>,
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
        let list = List::Linked(Link::IncidentOrganizations, self.0.id.clone());
        list_page(store(ctx), list, &args, Organization, None)
    }

    /// The people involved, by name.
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
            List::Linked(Link::IncidentPeople, self.0.id.clone()),
            &args,
            Person,
            None,
        )
    }

    /// The agreements the incident concerns, oldest first.
    async fn agreements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n agreements (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return agreements after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n agreements (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return agreements before this cursor.")] before: Option<String>,
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
        list_page(
            store(ctx),
            List::Linked(Link::IncidentAgreements, self.0.id.clone()),
            &args,
            Agreement,
            None,
        )
    }
}

/// One page of `list`, a list of incidents in date order, kept by the incident list
/// arguments. `occurred` also cuts the list to a date range (`store::DateRange`), so the
/// page and `totalCount` read only the entries whose dates may fall within it.
pub(super) fn incidents_page(
    store: &Store,
    list: List,
    args: &PageArgs,
    kinds: Option<Vec<IncidentKind>>,
    country: Option<String>,
    occurred: Option<DateFilter>,
) -> Result<Connection<Incident>> {
    let range = DateRange::new(list, occurred.as_ref().map(DateFilter::window));
    let filter = incident_filter(store, kinds, country, occurred)?;
    list_page_dated(store, range, args, Incident, filter)
}

/// The filter behind the incident list arguments.
fn incident_filter(
    store: &Store,
    kinds: Option<Vec<IncidentKind>>,
    country: Option<String>,
    occurred: Option<DateFilter>,
) -> Result<Filter<model::Incident>> {
    let mut filters: Vec<Predicate<model::Incident>> = Vec::new();
    if let Some(kinds) = kinds {
        let kinds: Vec<model::IncidentKind> = kinds.into_iter().map(Into::into).collect();
        filters.push(Box::new(move |incident| kinds.contains(&incident.kind)));
    }
    if let Some(code) = country {
        let country = country_id_by_code(store, &code, "country")?;
        filters.push(Box::new(move |incident| {
            incident.countries.contains(&country)
        }));
    }
    if let Some(occurred) = occurred {
        filters.push(Box::new(move |incident| {
            occurred.matches(incident.occurred.as_ref())
        }));
    }
    Ok(all_of(filters))
}
