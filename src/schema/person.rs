//! `Person` and `Role`: presidents, ministers, commanders, and who they acted for.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};

use super::country::Country;
use super::incident::{incidents_page, Incident, IncidentKind};
use super::organization::Organization;
use super::query::lookup;
use super::relay::{global_id, Connection, PageArgs};
use super::serial::{Serial, Serials};
use super::source::{notes, statements, FieldNote, Statement, StatementKind};
use super::values::{
    bounds, date, sources, Certainty, DateBounds, DateFilter, IncidentOrder, PartialDate, SourceRef,
};
use super::{store, Result};
use crate::model::{self, RecordKind};
use crate::store::{Link, List};

#[derive(Clone)]
pub struct Person(pub Arc<model::Person>);

pub struct Role(model::Role);

/// A position a person held.
#[Object]
impl Role {
    /// The position, such as "President of Kyrgyzstan".
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The country the position served; null when none.
    async fn country(&self, ctx: &Context<'_>) -> Result<Option<Serial<Country>>> {
        let Some(id) = &self.0.country else {
            return Ok(None);
        };
        lookup(ctx, id, Country)
    }

    /// The organization the position belongs to; null when none.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Serial<Organization>>> {
        let Some(id) = &self.0.organization else {
            return Ok(None);
        };
        lookup(ctx, id, Organization)
    }

    /// When the source places the person in the role: not the full term of office, only
    /// the dates the source attests; null when it gives none.
    async fn during(&self) -> Option<PartialDate> {
        date(&self.0.during)
    }

    /// The bounds and precision of `during`.
    async fn during_bounds(&self, ctx: &Context<'_>) -> Option<Serial<DateBounds>> {
        bounds(ctx, &self.0.during)
    }

    /// How sure the source is of the role.
    async fn certainty(&self) -> Certainty {
        self.0.certainty.into()
    }

    /// Where in the source the role is stated; empty when it is the person's own sources.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }
}

/// A person the source names: a head of state or government, a minister, a speaker, a
/// commander, a photographer.
#[Object]
impl Person {
    /// The person's global id, for `node(id:)`.
    pub async fn id(&self) -> ID {
        global_id(RecordKind::Person, &self.0.id)
    }

    /// A readable, stable identifier, such as `almazbek-atambayev`.
    async fn slug(&self) -> &str {
        &self.0.id
    }

    /// The person's name in its normalized spelling. Where the source gives a surname
    /// alone, a first name from general knowledge may complete it: `notes` then says so
    /// (field `name`, basis `GENERAL_KNOWLEDGE`).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Other spellings, including the source's ("Bakiev", "President Almazbek").
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// Who the person is and what they did, in the editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// The person's nationality; null when not known.
    async fn country(&self, ctx: &Context<'_>) -> Result<Option<Serial<Country>>> {
        let Some(id) = &self.0.country else {
            return Ok(None);
        };
        lookup(ctx, id, Country)
    }

    /// Positions the person held, as the source states them.
    async fn roles(&self) -> Serials<Vec<Role>> {
        Serials(self.0.roles.iter().cloned().map(Role).collect())
    }

    /// Where in the source these facts come from.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }

    /// Values of this person that the source does not state, each with its basis (derived
    /// by the editors, general knowledge, or the editors' reading of the source's words)
    /// and an explanation. A field not listed here is stated by the source.
    async fn notes(&self) -> Serials<Vec<FieldNote>> {
        notes(&self.0.notes)
    }

    /// What the source relates as somebody's claim, allegation, position, complaint,
    /// demand, reason, risk or benefit about this person, with who made it.
    async fn statements(
        &self,
        #[graphql(desc = "Only statements of these kinds; omit for all.")] kinds: Option<
            Vec<StatementKind>,
        >,
    ) -> Serials<Vec<Statement>> {
        statements(&self.0.statements, kinds)
    }

    /// Incidents and events the person took part in, oldest first.
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
        let list = List::Linked(Link::PersonIncidents, self.0.id.clone());
        incidents_page(store(ctx), list, &args, kinds, country, occurred)
    }
}
