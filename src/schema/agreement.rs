//! `Agreement`: treaties, leases, deals and commissions, with their life cycle.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, ID};

use super::country::Country;
use super::facility::{linked_facilities, Facility, FacilityKind};
use super::incident::{incidents_page, Incident, IncidentKind};
use super::query::lookup;
use super::relay::{global_id, Connection, PageArgs};
use super::serial::{Serial, SerialBoxed, Serials};
use super::source::{notes, statements, FieldNote, Statement, StatementKind};
use super::values::{
    bounds, date, money, quantity, sources, Certainty, DateBounds, DateFilter, DateMatch,
    IncidentOrder, Money, NameOrder, PartialDate, Quantity, SourceRef,
};
use super::{all_of, country_id_by_code, list_page, store, Filter, Predicate, Result};
use crate::model::{self, DateWindow, RecordKind};
use crate::store::{Link, List, Store};

#[derive(Clone)]
pub struct Agreement(pub Arc<model::Agreement>);

/// What an agreement is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::AgreementKind")]
pub enum AgreementKind {
    /// Stationing of foreign forces or use of a military facility, including leases.
    Basing,
    /// Settles where a border runs.
    BorderDelimitation,
    /// Sets up or restarts a commission to delimit and demarcate a border.
    BorderCommission,
    /// Cooperation on security, such as stationing border guards.
    SecurityCooperation,
    /// Settles or writes off debt.
    DebtSettlement,
    /// Supply of energy, such as natural gas.
    EnergySupply,
    /// Economic help, such as support for a dam project.
    EconomicAssistance,
    /// Joining an organization or union.
    Accession,
}

/// Where an agreement stood when the source was written: according to the source, as of
/// its date (`SourceDocument.asOf`), not necessarily today.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::AgreementStatus")]
pub enum AgreementStatus {
    /// Offered by one side, not agreed.
    Proposed,
    /// Intended, not yet concluded.
    Planned,
    /// Agreed or promised, not yet in force.
    Agreed,
    /// In force.
    InForce,
    /// Ran to its end.
    Expired,
    /// Ended early.
    Terminated,
    /// A one-off deal, carried out.
    Implemented,
}

/// An agreement or arrangement between countries: a basing lease, a border treaty or
/// commission, a debt settlement, a supply deal, an accession. Dates follow the life cycle:
/// `signed`, `inForceFrom`, `expires`, `ended`. `status` and the dates are according to the
/// source, as of its date (`SourceDocument.asOf`, on each of `sources`): a lease IN_FORCE
/// that expires in 2014 was in force when the source was written, late 2013. A date the
/// source does not state is listed in `notes` with its basis.
#[Object]
impl Agreement {
    /// The agreement's global id, for `node(id:)`.
    pub async fn id(&self) -> ID {
        global_id(RecordKind::Agreement, &self.0.id)
    }

    /// A readable, stable identifier, such as `kant-air-base-agreement`.
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

    /// What the agreement is about.
    async fn kind(&self) -> AgreementKind {
        self.0.kind.into()
    }

    /// Where the agreement stood when the source was written: according to the source, as
    /// of its date (`SourceDocument.asOf`), not necessarily today. A status the source does
    /// not state outright is listed in `notes`.
    async fn status(&self) -> AgreementStatus {
        self.0.status.into()
    }

    /// How sure the source is: CONFIRMED for a concluded lease, PROMISED for a promised
    /// extension, REPORTED for an apparent offer.
    async fn certainty(&self) -> Certainty {
        self.0.certainty.into()
    }

    /// What the agreement provides, in the editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// When it was signed or concluded, according to the source; null when the source
    /// does not say.
    async fn signed(&self) -> Option<PartialDate> {
        date(&self.0.signed)
    }

    /// The bounds and precision of `signed`.
    async fn signed_bounds(&self, ctx: &Context<'_>) -> Option<Serial<DateBounds>> {
        bounds(ctx, &self.0.signed)
    }

    /// When it entered into force, according to the source; null when the source does
    /// not say.
    async fn in_force_from(&self) -> Option<PartialDate> {
        date(&self.0.in_force_from)
    }

    /// When it is due to expire, according to the source, as of its date
    /// (`SourceDocument.asOf`); null when the source gives no term. A date worked out from
    /// a term is listed in `notes` as DERIVED.
    async fn expires(&self) -> Option<PartialDate> {
        date(&self.0.expires)
    }

    /// When it actually ended, if it ended before or at expiry; null while in force as of
    /// the source's date (`SourceDocument.asOf`) or when the source does not say.
    async fn ended(&self) -> Option<PartialDate> {
        date(&self.0.ended)
    }

    /// The term in years, such as 15 for a 15-year extension; null when not stated.
    async fn term_years(&self, ctx: &Context<'_>) -> Option<Serial<Quantity>> {
        quantity(ctx, &self.0.term_years)
    }

    /// The debt the agreement deals with; null when none.
    async fn debt(&self, ctx: &Context<'_>) -> Option<Serial<Money>> {
        money(ctx, self.0.debt.clone())
    }

    /// The fraction of `debt` written off, between 0 and 1 (0.4 for two-fifths); null
    /// when none.
    async fn debt_write_off_fraction(&self) -> Option<f64> {
        self.0.debt_write_off_fraction
    }

    /// The amount written off: `debt` times `debtWriteOffFraction`, approximate when
    /// the debt is; null unless both are known.
    async fn debt_written_off(&self, ctx: &Context<'_>) -> Option<Serial<Money>> {
        let (debt, fraction) = (self.0.debt.as_ref()?, self.0.debt_write_off_fraction?);
        money(
            ctx,
            Some(model::Money {
                amount: (debt.amount * fraction).round(),
                currency: debt.currency.clone(),
                approximate: debt.approximate,
            }),
        )
    }

    /// The agreement this one extends or renews; null when none.
    async fn extends(&self, ctx: &Context<'_>) -> Result<Option<SerialBoxed<Agreement>>> {
        let Some(id) = &self.0.extends else {
            return Ok(None);
        };
        Ok(lookup(ctx, id, Agreement)?.map(SerialBoxed))
    }

    /// Where in the source these facts come from.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }

    /// Values of this agreement that the source does not state, each with its basis (derived
    /// by the editors, general knowledge, or the editors' reading of the source's words)
    /// and an explanation. A field not listed here is stated by the source.
    async fn notes(&self) -> Serials<Vec<FieldNote>> {
        notes(&self.0.notes)
    }

    /// What the source relates as somebody's claim, allegation, position, complaint,
    /// demand, reason, risk or benefit about this agreement, with who made it.
    async fn statements(
        &self,
        #[graphql(desc = "Only statements of these kinds; omit for all.")] kinds: Option<
            Vec<StatementKind>,
        >,
    ) -> Serials<Vec<Statement>> {
        statements(&self.0.statements, kinds)
    }

    /// The countries party to the agreement, by name.
    async fn parties(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first n parties (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return parties after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n parties (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return parties before this cursor.")] before: Option<String>,
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
            List::Linked(Link::AgreementCountries, self.0.id.clone()),
            &args,
            Country,
            None,
        )
    }

    /// The facilities the agreement covers, by name.
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
            Link::AgreementFacilities,
            &self.0.id,
            &args,
            kinds,
        )
    }

    /// Incidents and events that concern the agreement, oldest first.
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
        let list = List::Linked(Link::AgreementIncidents, self.0.id.clone());
        incidents_page(store(ctx), list, &args, kinds, country, occurred)
    }
}

/// The filter behind the agreement list arguments shared by every agreements field.
/// The filter arguments of a record's `agreements` connection.
#[derive(Clone)]
pub(super) struct AgreementFilter {
    pub(super) kinds: Option<Vec<AgreementKind>>,
    pub(super) party: Option<String>,
    pub(super) signed: Option<DateFilter>,
    pub(super) in_force_on: Option<PartialDate>,
    pub(super) in_force_match: DateMatch,
}

/// One page of `owner`'s agreements through `link`, kept by `filter`: every record's
/// `agreements` connection, and the compiled plans' (`plan`).
pub(super) fn linked_agreements(
    store: &Store,
    link: Link,
    owner: &str,
    args: &PageArgs,
    filter: AgreementFilter,
) -> Result<Connection<Agreement>> {
    let AgreementFilter {
        kinds,
        party,
        signed,
        in_force_on,
        in_force_match,
    } = filter;
    let filter = agreement_filter(store, kinds, party, signed, in_force_on, in_force_match)?;
    list_page(
        store,
        List::Linked(link, owner.to_owned()),
        args,
        Agreement,
        filter,
    )
}

pub(super) fn agreement_filter(
    store: &Store,
    kinds: Option<Vec<AgreementKind>>,
    party: Option<String>,
    signed: Option<DateFilter>,
    in_force_on: Option<PartialDate>,
    in_force_match: DateMatch,
) -> Result<Filter<model::Agreement>> {
    let mut filters: Vec<Predicate<model::Agreement>> = Vec::new();
    if let Some(kinds) = kinds {
        let kinds: Vec<model::AgreementKind> = kinds.into_iter().map(Into::into).collect();
        filters.push(Box::new(move |agreement| kinds.contains(&agreement.kind)));
    }
    if let Some(code) = party {
        let party = country_id_by_code(store, &code, "party")?;
        filters.push(Box::new(move |agreement| {
            agreement.parties.contains(&party)
        }));
    }
    if let Some(signed) = signed {
        filters.push(Box::new(move |agreement| {
            signed.matches(agreement.signed.as_ref())
        }));
    }
    if let Some(date) = in_force_on {
        let window = DateWindow::of(&date.0);
        filters.push(match in_force_match {
            DateMatch::PossiblyOverlaps => {
                Box::new(move |agreement| agreement.possibly_in_force(&window))
            }
            DateMatch::CertainlyWithin => {
                Box::new(move |agreement| agreement.certainly_in_force(&window))
            }
        });
    }
    Ok(all_of(filters))
}
