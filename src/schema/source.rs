//! What the source says and how the records say it: `SourceDocument`, the field notes
//! that mark values the source does not state (`FieldNote`, `Basis`), and the claims,
//! reasons and risks it attributes to somebody (`Statement`, `Speaker`).

use async_graphql::{Context, Enum, Object, Union, ID};

use super::country::Country;
use super::organization::Organization;
use super::person::Person;
use super::serial::{Serial, SerialBoxed, Serials};
use super::values::{sources, Certainty, DateBounds, PartialDate, SourceRef};
use super::{internal, store, Result};
use crate::model;

/// On what a value of a record rests when the source does not state it. A value without
/// a note (see `notes` on every record) is stated by the source.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::Basis")]
pub enum Basis {
    /// Worked out by the editors from what the source states; the explanation says how
    /// ("2017 plus the 15-year term the source gives").
    Derived,
    /// Not in the source at all: added by the editors from general knowledge (first
    /// names, titles, long names, coordinates, a member inferred from "the five
    /// countries"); the explanation says what.
    GeneralKnowledge,
    /// The source's own words, read by the editors: "early 2012" as a date range,
    /// "hundreds" as 200 to 999; the explanation gives the reading.
    Interpreted,
}

pub struct FieldNote(pub model::FieldNote);

/// A value of a record that the source does not state, and what it rests on. The API
/// says only what the source says: where a record holds more (a computed date, a name
/// from general knowledge, a reading of vague words), a note names the field and gives
/// its basis.
#[Object]
impl FieldNote {
    /// The field the note is about, by its GraphQL name (`expires`), with a dotted path
    /// into a list or object where needed (`roles.title`, `members.since`,
    /// `location.coordinates`). A path names every item of the list, not one.
    async fn field(&self) -> &str {
        &self.0.field
    }

    /// What the value rests on, instead of the source's statement.
    async fn basis(&self) -> Basis {
        self.0.basis.into()
    }

    /// How the value was worked out, what it adds, or how the source's words were read,
    /// in the editors' words.
    async fn explanation(&self) -> &str {
        &self.0.explanation
    }
}

/// A record's field notes, handed out through `serial`.
pub fn notes(notes: &[model::FieldNote]) -> Serials<Vec<FieldNote>> {
    Serials(notes.iter().cloned().map(FieldNote).collect())
}

/// What kind of statement the source relates.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::StatementKind")]
pub enum StatementKind {
    /// Something a party asserts as fact ("the government claimed that its budget was too
    /// small").
    Claim,
    /// An accusation of wrongdoing ("there were allegations of corruption").
    Allegation,
    /// A stance a party takes ("Bishkek was prepared to let the U.S. stay").
    Position,
    /// A grievance a party voices.
    Complaint,
    /// Something a party asks or insists on.
    Demand,
    /// A reason given for a decision or an event.
    Reason,
    /// A risk or cost the source attributes to a decision ("a sharp rise in prices").
    Risk,
    /// A benefit the source attributes to a decision ("lower customs duties").
    Benefit,
}

/// Who made a statement: a country (its government), an organization or a person.
#[derive(Union, Clone)]
pub enum Speaker {
    /// A country, speaking through its government or officials the source does not name.
    Country(Country),
    /// An organization, such as a parliament or the OSCE.
    Organization(Organization),
    /// A person, such as a president or a minister.
    Person(Person),
}

pub struct Statement(pub model::Statement);

/// A claim, allegation, position, complaint, demand, reason, risk or benefit that the
/// source attributes to somebody (or to nobody it names), about the record that holds it:
/// the reasons a president gave against a base, the risks of joining a customs union,
/// which side claims an enclave. What was said is a fact of the source; whether it is
/// true is not: `certainty` says how sure the source is that it was said.
#[Object]
impl Statement {
    /// What kind of statement it is.
    async fn kind(&self) -> StatementKind {
        self.0.kind.into()
    }

    /// Who made the statement or gave the reason; null when the source names nobody
    /// ("there were allegations").
    async fn by(&self, ctx: &Context<'_>) -> Result<Option<SerialBoxed<Speaker>>> {
        let store = store(ctx);
        let speaker = match &self.0.by {
            None => None,
            Some(model::Speaker::Country(id)) => store
                .get(id)
                .map_err(internal)?
                .map(Country)
                .map(Speaker::Country),
            Some(model::Speaker::Organization(id)) => store
                .get(id)
                .map_err(internal)?
                .map(Organization)
                .map(Speaker::Organization),
            Some(model::Speaker::Person(id)) => store
                .get(id)
                .map_err(internal)?
                .map(Person)
                .map(Speaker::Person),
        };
        Ok(speaker.map(|speaker| SerialBoxed(Serial::new(ctx, speaker))))
    }

    /// What was said, in the editors' words.
    async fn text(&self) -> &str {
        &self.0.text
    }

    /// How sure the source is that this was said (CONFIRMED: the source states it was
    /// said; REPORTED: "reportedly"), not whether what was said is true.
    async fn certainty(&self) -> Certainty {
        self.0.certainty.into()
    }

    /// Where in the source the statement is related.
    async fn sources(&self) -> Serials<Vec<SourceRef>> {
        sources(&self.0.sources)
    }
}

/// A record's statements, of the given kinds only when `kinds` is given, handed out
/// through `serial`.
pub fn statements(
    statements: &[model::Statement],
    kinds: Option<Vec<StatementKind>>,
) -> Serials<Vec<Statement>> {
    let kinds: Option<Vec<model::StatementKind>> =
        kinds.map(|kinds| kinds.into_iter().map(Into::into).collect());
    Serials(
        statements
            .iter()
            .filter(|statement| {
                kinds
                    .as_ref()
                    .is_none_or(|kinds| kinds.contains(&statement.kind))
            })
            .cloned()
            .map(Statement)
            .collect(),
    )
}

pub struct SourceDocument(pub model::SourceDocument);

/// A source document the records cite: what it is, the span of events it describes, and
/// the date it speaks from. Every status and date of the API is according to the source,
/// as of its date (`asOf`): an agreement IN_FORCE that "expires in 2014" was in force
/// when the document was written, late 2013, not necessarily today.
#[Object]
impl SourceDocument {
    /// The document's id: its slug, as `SourceRef.document` names it. Source documents
    /// are not records (`Node`): fetch one with `sourceDocument(slug:)`.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// A readable, stable identifier, such as `kyrgyzstan-foreign-relations`: what
    /// `SourceRef.document` holds.
    async fn slug(&self) -> &str {
        &self.0.id
    }

    /// The document's title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The span of the events the document describes, from the earliest to the latest
    /// (`"195X/2013-10"`).
    async fn period(&self) -> PartialDate {
        PartialDate(self.0.period.clone())
    }

    /// The bounds and precision of `period`.
    async fn period_bounds(&self, ctx: &Context<'_>) -> Serial<DateBounds> {
        Serial::new(ctx, DateBounds(self.0.period.clone()))
    }

    /// The date the document speaks from: when it was written, as far as its latest
    /// event tells (`"2013-39"`, late 2013). Statuses, "in force" and "expires" are as of
    /// this date; what happened after it is not in the source.
    async fn as_of(&self) -> PartialDate {
        PartialDate(self.0.as_of.clone())
    }

    /// The bounds and precision of `asOf`.
    async fn as_of_bounds(&self, ctx: &Context<'_>) -> Serial<DateBounds> {
        Serial::new(ctx, DateBounds(self.0.as_of.clone()))
    }

    /// What the document covers, in the editors' words.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// The document's section headings, in order: what `SourceRef.section` names.
    async fn sections(&self) -> &[String] {
        &self.0.sections
    }
}
