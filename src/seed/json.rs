//! The seed's JSON format: serde input types and their conversion to `model` records.
//!
//! Field names are camelCase; unknown fields are rejected. Conversion reports every
//! problem it finds to a `Reporter` instead of stopping at the first.

use std::collections::HashSet;

use serde::Deserialize;

use crate::model::{
    self, AgreementKind, AgreementStatus, AircraftRole, Basis, Certainty, CoordinateSource,
    FacilityKind, IncidentKind, IncidentLinkKind, MemberRole, OrganizationKind, PartialDate,
    Resource, StatementKind,
};

/// Collects the problems of one record, naming its file and id.
pub struct Reporter<'a> {
    pub file: &'a str,
    pub record: &'a str,
    pub problems: &'a mut Vec<super::Problem>,
    /// The ids of `documents.json`, which every source locator must name; `None` when
    /// that file could not be read (its own problem is reported, and locators go
    /// unchecked rather than reported one by one).
    pub documents: Option<&'a HashSet<String>>,
}

/// The fields a `notes[].field` may name, per record type: the GraphQL fields of the
/// type (the first segment of a dotted path is checked against these).
pub const COUNTRY_FIELDS: &[&str] = &[
    "id",
    "slug",
    "code",
    "name",
    "aliases",
    "summary",
    "sources",
    "statements",
    "agreements",
    "facilities",
    "incidents",
    "memberships",
    "people",
];
pub const ORGANIZATION_FIELDS: &[&str] = &[
    "id",
    "slug",
    "name",
    "aliases",
    "kind",
    "summary",
    "country",
    "founded",
    "foundedBounds",
    "succeededBy",
    "sources",
    "statements",
    "members",
    "facilities",
    "incidents",
    "people",
];
pub const PERSON_FIELDS: &[&str] = &[
    "id",
    "slug",
    "name",
    "aliases",
    "summary",
    "country",
    "roles",
    "sources",
    "statements",
    "incidents",
];
pub const AGREEMENT_FIELDS: &[&str] = &[
    "id",
    "slug",
    "title",
    "aliases",
    "kind",
    "status",
    "certainty",
    "summary",
    "signed",
    "signedBounds",
    "inForceFrom",
    "expires",
    "ended",
    "termYears",
    "debt",
    "debtWriteOffFraction",
    "debtWrittenOff",
    "extends",
    "sources",
    "statements",
    "parties",
    "facilities",
    "incidents",
];
pub const FACILITY_FIELDS: &[&str] = &[
    "id",
    "slug",
    "name",
    "aliases",
    "kind",
    "certainty",
    "summary",
    "hostCountry",
    "operator",
    "partOf",
    "location",
    "opened",
    "openedBounds",
    "closed",
    "personnel",
    "aircraftSquadrons",
    "aircraftRoles",
    "agreedLengthKm",
    "disputedLengthKm",
    "disputedSegments",
    "deadlockedSegments",
    "resources",
    "sources",
    "statements",
    "countries",
    "agreements",
    "incidents",
];
pub const INCIDENT_FIELDS: &[&str] = &[
    "id",
    "slug",
    "title",
    "aliases",
    "kind",
    "occurred",
    "occurredBounds",
    "certainty",
    "summary",
    "location",
    "killed",
    "injured",
    "casualties",
    "participants",
    "vehiclesDamaged",
    "sources",
    "statements",
    "links",
    "casualtiesBySide",
    "facility",
    "facilities",
    "countries",
    "organizations",
    "people",
    "agreements",
];

impl Reporter<'_> {
    pub fn report(&mut self, message: String) {
        self.problems.push(super::Problem {
            file: self.file.to_owned(),
            record: Some(self.record.to_owned()),
            line_column: None,
            message,
        });
    }

    fn date(&mut self, field: &str, text: Option<String>) -> Option<PartialDate> {
        let text = text?;
        match PartialDate::parse(&text) {
            Ok(date) => Some(date),
            Err(error) => {
                self.report(format!("field `{field}`: {error}"));
                None
            }
        }
    }

    fn quantity(&mut self, field: &str, input: Option<QuantityInput>) -> Option<model::Quantity> {
        let input = input?;
        let (low, high) = match (input.exact, input.low, input.high) {
            (Some(exact), None, None) => (exact, Some(exact)),
            (None, Some(low), high) => (low, high),
            _ => {
                self.report(format!(
                    "field `{field}`: give either `exact` or `low` (with an optional `high`)"
                ));
                return None;
            }
        };
        let in_range = |value: i64| (0..=i64::from(i32::MAX)).contains(&value);
        if !in_range(low) || high.is_some_and(|high| high < low || !in_range(high)) {
            self.report(format!(
                "field `{field}`: bounds must satisfy 0 <= low <= high <= {}, got {low}..{high:?}",
                i32::MAX
            ));
            return None;
        }
        Some(model::Quantity {
            low: low as i32,
            high: high.map(|high| high as i32),
            approximate: input.approximate,
            certainty: input.certainty,
        })
    }

    fn sources(&mut self, sources: Vec<SourceInput>) -> Vec<model::SourceRef> {
        if sources.is_empty() {
            self.report("field `sources`: every record cites at least one source".to_owned());
        }
        self.locators("sources", sources)
    }

    /// Source locators, each checked: a paragraph from 1, a document of `documents.json`.
    fn locators(&mut self, field: &str, sources: Vec<SourceInput>) -> Vec<model::SourceRef> {
        sources
            .into_iter()
            .map(|source| {
                if source.paragraph == 0 {
                    self.report(format!("field `{field}`: paragraphs are numbered from 1"));
                }
                if let Some(documents) = self.documents {
                    if !documents.contains(&source.document) {
                        self.report(format!(
                            "field `{field}`: no document of documents.json has id `{}`",
                            source.document
                        ));
                    }
                }
                model::SourceRef {
                    document: source.document,
                    section: source.section,
                    paragraph: source.paragraph,
                }
            })
            .collect()
    }

    /// The record's field notes, each naming a field of the record type (`fields`) and
    /// explaining itself.
    fn notes(&mut self, fields: &[&str], notes: Vec<NoteInput>) -> Vec<model::FieldNote> {
        notes
            .into_iter()
            .map(|note| {
                let first = note.field.split('.').next().unwrap_or_default();
                if !fields.contains(&first) {
                    self.report(format!(
                        "field `notes`: `{}` names no field of this record type",
                        note.field
                    ));
                }
                if note.explanation.trim().is_empty() {
                    self.report(format!(
                        "field `notes`: the note on `{}` has no explanation",
                        note.field
                    ));
                }
                model::FieldNote {
                    field: note.field,
                    basis: note.basis,
                    explanation: note.explanation,
                }
            })
            .collect()
    }

    /// The record's statements, each with text and at least one source.
    fn statements(&mut self, statements: Vec<StatementInput>) -> Vec<model::Statement> {
        statements
            .into_iter()
            .map(|statement| {
                if statement.text.trim().is_empty() {
                    self.report("field `statements.text`: a statement has text".to_owned());
                }
                if statement.sources.is_empty() {
                    self.report(
                        "field `statements.sources`: every statement cites at least one source"
                            .to_owned(),
                    );
                }
                model::Statement {
                    kind: statement.kind,
                    by: statement.by.map(|by| match by {
                        SpeakerInput::Country(id) => model::Speaker::Country(id),
                        SpeakerInput::Organization(id) => model::Speaker::Organization(id),
                        SpeakerInput::Person(id) => model::Speaker::Person(id),
                    }),
                    text: statement.text,
                    certainty: statement.certainty,
                    sources: self.locators("statements.sources", statement.sources),
                }
            })
            .collect()
    }

    fn location(&mut self, input: Option<LocationInput>) -> Option<model::Location> {
        let input = input?;
        let coordinates = input.coordinates.and_then(|coordinates| {
            let valid = (-90.0..=90.0).contains(&coordinates.latitude)
                && (-180.0..=180.0).contains(&coordinates.longitude);
            if !valid {
                self.report(format!(
                    "field `location.coordinates`: ({}, {}) is not a latitude and longitude",
                    coordinates.latitude, coordinates.longitude
                ));
            }
            valid.then_some(model::Coordinates {
                latitude: coordinates.latitude,
                longitude: coordinates.longitude,
                source: coordinates.source,
            })
        });
        Some(model::Location {
            place: input.place,
            aliases: input.aliases,
            district: input.district,
            province: input.province,
            coordinates,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    document: String,
    section: String,
    paragraph: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityInput {
    exact: Option<i64>,
    low: Option<i64>,
    high: Option<i64>,
    #[serde(default)]
    approximate: bool,
    #[serde(default = "confirmed")]
    certainty: Certainty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    field: String,
    basis: Basis,
    explanation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub enum SpeakerInput {
    #[serde(rename = "country")]
    Country(String),
    #[serde(rename = "organization")]
    Organization(String),
    #[serde(rename = "person")]
    Person(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementInput {
    kind: StatementKind,
    #[serde(default)]
    by: Option<SpeakerInput>,
    text: String,
    #[serde(default = "confirmed")]
    certainty: Certainty,
    #[serde(default)]
    sources: Vec<SourceInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    kind: IncidentLinkKind,
    incident: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideCasualtiesInput {
    country: String,
    killed: Option<QuantityInput>,
    injured: Option<QuantityInput>,
    note: Option<String>,
}

/// A record of `documents.json`: a source document the other files cite.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentInput {
    pub id: String,
    title: String,
    period: String,
    as_of: String,
    summary: String,
    #[serde(default)]
    sections: Vec<String>,
}

impl DocumentInput {
    /// The document, or `None` when a date is invalid (reported).
    pub fn into_model(self, reporter: &mut Reporter) -> Option<model::SourceDocument> {
        if self.title.trim().is_empty() {
            reporter.report("field `title`: a document has a title".to_owned());
        }
        let period = reporter.date("period", Some(self.period));
        let as_of = reporter.date("asOf", Some(self.as_of));
        Some(model::SourceDocument {
            id: self.id,
            title: self.title,
            period: period?,
            as_of: as_of?,
            summary: self.summary,
            sections: self.sections,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    amount: f64,
    currency: String,
    #[serde(default)]
    approximate: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatesInput {
    latitude: f64,
    longitude: f64,
    source: CoordinateSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    place: String,
    #[serde(default)]
    aliases: Vec<String>,
    district: Option<String>,
    province: Option<String>,
    coordinates: Option<CoordinatesInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryInput {
    id: String,
    code: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    notes: Vec<NoteInput>,
    #[serde(default)]
    statements: Vec<StatementInput>,
    summary: String,
    sources: Vec<SourceInput>,
}

impl CountryInput {
    pub fn into_model(self, reporter: &mut Reporter) -> model::Country {
        let code_is_valid =
            self.code.len() == 2 && self.code.bytes().all(|b| b.is_ascii_alphabetic());
        if !code_is_valid {
            reporter.report(format!(
                "field `code`: `{}` is not an ISO 3166-1 alpha-2 code (two letters)",
                self.code
            ));
        }
        model::Country {
            id: self.id,
            code: self.code.to_ascii_uppercase(),
            name: self.name,
            aliases: self.aliases,
            notes: reporter.notes(COUNTRY_FIELDS, self.notes),
            statements: reporter.statements(self.statements),
            summary: self.summary,
            sources: reporter.sources(self.sources),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    country: String,
    role: MemberRole,
    since: Option<String>,
    #[serde(default = "confirmed")]
    certainty: Certainty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrganizationInput {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    kind: OrganizationKind,
    country: Option<String>,
    founded: Option<String>,
    succeeded_by: Option<String>,
    #[serde(default)]
    members: Vec<MembershipInput>,
    #[serde(default)]
    notes: Vec<NoteInput>,
    #[serde(default)]
    statements: Vec<StatementInput>,
    summary: String,
    sources: Vec<SourceInput>,
}

impl OrganizationInput {
    pub fn into_model(self, reporter: &mut Reporter) -> model::Organization {
        let members = self
            .members
            .into_iter()
            .map(|member| model::Membership {
                country: member.country,
                role: member.role,
                since: reporter.date("members.since", member.since),
                certainty: member.certainty,
            })
            .collect();
        model::Organization {
            id: self.id,
            name: self.name,
            aliases: self.aliases,
            kind: self.kind,
            country: self.country,
            founded: reporter.date("founded", self.founded),
            succeeded_by: self.succeeded_by,
            members,
            notes: reporter.notes(ORGANIZATION_FIELDS, self.notes),
            statements: reporter.statements(self.statements),
            summary: self.summary,
            sources: reporter.sources(self.sources),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    title: String,
    country: Option<String>,
    organization: Option<String>,
    during: Option<String>,
    #[serde(default = "confirmed")]
    certainty: Certainty,
    #[serde(default)]
    sources: Vec<SourceInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    country: Option<String>,
    #[serde(default)]
    roles: Vec<RoleInput>,
    #[serde(default)]
    notes: Vec<NoteInput>,
    #[serde(default)]
    statements: Vec<StatementInput>,
    summary: String,
    sources: Vec<SourceInput>,
}

impl PersonInput {
    pub fn into_model(self, reporter: &mut Reporter) -> model::Person {
        let roles = self
            .roles
            .into_iter()
            .map(|role| model::Role {
                title: role.title,
                country: role.country,
                organization: role.organization,
                during: reporter.date("roles.during", role.during),
                certainty: role.certainty,
                sources: reporter.locators("roles.sources", role.sources),
            })
            .collect();
        model::Person {
            id: self.id,
            name: self.name,
            aliases: self.aliases,
            country: self.country,
            roles,
            notes: reporter.notes(PERSON_FIELDS, self.notes),
            statements: reporter.statements(self.statements),
            summary: self.summary,
            sources: reporter.sources(self.sources),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgreementInput {
    id: String,
    title: String,
    #[serde(default)]
    aliases: Vec<String>,
    kind: AgreementKind,
    status: AgreementStatus,
    #[serde(default = "confirmed")]
    certainty: Certainty,
    parties: Vec<String>,
    #[serde(default)]
    facilities: Vec<String>,
    signed: Option<String>,
    in_force_from: Option<String>,
    expires: Option<String>,
    ended: Option<String>,
    term_years: Option<QuantityInput>,
    debt: Option<MoneyInput>,
    debt_write_off_fraction: Option<f64>,
    extends: Option<String>,
    #[serde(default)]
    notes: Vec<NoteInput>,
    #[serde(default)]
    statements: Vec<StatementInput>,
    summary: String,
    sources: Vec<SourceInput>,
}

impl AgreementInput {
    pub fn into_model(self, reporter: &mut Reporter) -> model::Agreement {
        if self.parties.len() < 2 {
            reporter.report("field `parties`: an agreement has at least two parties".to_owned());
        }
        let fraction = self.debt_write_off_fraction.filter(|fraction| {
            let valid = *fraction > 0.0 && *fraction <= 1.0;
            if !valid {
                reporter.report(format!(
                    "field `debtWriteOffFraction`: {fraction} is not in (0, 1]"
                ));
            }
            valid
        });
        let debt = self.debt.map(|debt| {
            let valid_currency =
                debt.currency.len() == 3 && debt.currency.bytes().all(|b| b.is_ascii_uppercase());
            if !valid_currency {
                reporter.report(format!(
                    "field `debt.currency`: `{}` is not an ISO 4217 code such as USD",
                    debt.currency
                ));
            }
            model::Money {
                amount: debt.amount,
                currency: debt.currency,
                approximate: debt.approximate,
            }
        });
        model::Agreement {
            id: self.id,
            title: self.title,
            aliases: self.aliases,
            kind: self.kind,
            status: self.status,
            certainty: self.certainty,
            parties: self.parties,
            facilities: self.facilities,
            signed: reporter.date("signed", self.signed),
            in_force_from: reporter.date("inForceFrom", self.in_force_from),
            expires: reporter.date("expires", self.expires),
            ended: reporter.date("ended", self.ended),
            term_years: reporter.quantity("termYears", self.term_years),
            debt,
            debt_write_off_fraction: fraction,
            extends: self.extends,
            notes: reporter.notes(AGREEMENT_FIELDS, self.notes),
            statements: reporter.statements(self.statements),
            summary: self.summary,
            sources: reporter.sources(self.sources),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub enum OperatorInput {
    #[serde(rename = "country")]
    Country(String),
    #[serde(rename = "organization")]
    Organization(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FacilityInput {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    kind: FacilityKind,
    host_country: String,
    operator: Option<OperatorInput>,
    #[serde(default)]
    countries: Vec<String>,
    part_of: Option<String>,
    location: Option<LocationInput>,
    opened: Option<String>,
    closed: Option<String>,
    personnel: Option<QuantityInput>,
    aircraft_squadrons: Option<QuantityInput>,
    #[serde(default)]
    aircraft_roles: Vec<AircraftRole>,
    agreed_length_km: Option<QuantityInput>,
    disputed_length_km: Option<QuantityInput>,
    disputed_segments: Option<QuantityInput>,
    deadlocked_segments: Option<QuantityInput>,
    #[serde(default)]
    resources: Vec<Resource>,
    #[serde(default = "confirmed")]
    certainty: Certainty,
    #[serde(default)]
    notes: Vec<NoteInput>,
    #[serde(default)]
    statements: Vec<StatementInput>,
    summary: String,
    sources: Vec<SourceInput>,
}

impl FacilityInput {
    pub fn into_model(self, reporter: &mut Reporter) -> model::Facility {
        model::Facility {
            id: self.id,
            name: self.name,
            aliases: self.aliases,
            kind: self.kind,
            host_country: self.host_country,
            operator: self.operator.map(|operator| match operator {
                OperatorInput::Country(id) => model::Actor::Country(id),
                OperatorInput::Organization(id) => model::Actor::Organization(id),
            }),
            countries: self.countries,
            part_of: self.part_of,
            location: reporter.location(self.location),
            opened: reporter.date("opened", self.opened),
            closed: reporter.date("closed", self.closed),
            personnel: reporter.quantity("personnel", self.personnel),
            aircraft_squadrons: reporter.quantity("aircraftSquadrons", self.aircraft_squadrons),
            aircraft_roles: self.aircraft_roles,
            agreed_length_km: reporter.quantity("agreedLengthKm", self.agreed_length_km),
            disputed_length_km: reporter.quantity("disputedLengthKm", self.disputed_length_km),
            disputed_segments: reporter.quantity("disputedSegments", self.disputed_segments),
            deadlocked_segments: reporter.quantity("deadlockedSegments", self.deadlocked_segments),
            resources: self.resources,
            certainty: self.certainty,
            notes: reporter.notes(FACILITY_FIELDS, self.notes),
            statements: reporter.statements(self.statements),
            summary: self.summary,
            sources: reporter.sources(self.sources),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IncidentInput {
    id: String,
    title: String,
    #[serde(default)]
    aliases: Vec<String>,
    kind: IncidentKind,
    occurred: Option<String>,
    #[serde(default = "confirmed")]
    certainty: Certainty,
    countries: Vec<String>,
    #[serde(default)]
    facilities: Vec<String>,
    #[serde(default)]
    organizations: Vec<String>,
    #[serde(default)]
    people: Vec<String>,
    #[serde(default)]
    agreements: Vec<String>,
    location: Option<LocationInput>,
    killed: Option<QuantityInput>,
    injured: Option<QuantityInput>,
    casualties: Option<QuantityInput>,
    participants: Option<QuantityInput>,
    vehicles_damaged: Option<QuantityInput>,
    #[serde(default)]
    links: Vec<LinkInput>,
    #[serde(default, rename = "casualtiesBySide")]
    casualties_by_side: Vec<SideCasualtiesInput>,
    #[serde(default)]
    notes: Vec<NoteInput>,
    #[serde(default)]
    statements: Vec<StatementInput>,
    summary: String,
    sources: Vec<SourceInput>,
}

impl IncidentInput {
    pub fn into_model(self, reporter: &mut Reporter) -> model::Incident {
        if self.countries.is_empty() {
            reporter
                .report("field `countries`: an incident involves at least one country".to_owned());
        }
        let casualties_by_side = self
            .casualties_by_side
            .into_iter()
            .map(|side| model::SideCasualties {
                country: side.country,
                killed: reporter.quantity("casualtiesBySide.killed", side.killed),
                injured: reporter.quantity("casualtiesBySide.injured", side.injured),
                note: side.note,
            })
            .collect();
        model::Incident {
            id: self.id,
            title: self.title,
            aliases: self.aliases,
            kind: self.kind,
            occurred: reporter.date("occurred", self.occurred),
            certainty: self.certainty,
            countries: self.countries,
            facilities: self.facilities,
            organizations: self.organizations,
            people: self.people,
            agreements: self.agreements,
            location: reporter.location(self.location),
            killed: reporter.quantity("killed", self.killed),
            injured: reporter.quantity("injured", self.injured),
            casualties: reporter.quantity("casualties", self.casualties),
            participants: reporter.quantity("participants", self.participants),
            vehicles_damaged: reporter.quantity("vehiclesDamaged", self.vehicles_damaged),
            links: self
                .links
                .into_iter()
                .map(|link| model::IncidentLink {
                    kind: link.kind,
                    incident: link.incident,
                })
                .collect(),
            casualties_by_side,
            notes: reporter.notes(INCIDENT_FIELDS, self.notes),
            statements: reporter.statements(self.statements),
            summary: self.summary,
            sources: reporter.sources(self.sources),
        }
    }
}

fn confirmed() -> Certainty {
    Certainty::Confirmed
}

/// What reading a seed file needs of its input type.
pub trait Input: serde::de::DeserializeOwned {
    type Record;
    fn id(&self) -> &str;
    fn into_record(self, reporter: &mut Reporter) -> Self::Record;
}

macro_rules! input {
    ($input:ty, $record:ty) => {
        impl Input for $input {
            type Record = $record;
            fn id(&self) -> &str {
                &self.id
            }
            fn into_record(self, reporter: &mut Reporter) -> $record {
                self.into_model(reporter)
            }
        }
    };
}

input!(CountryInput, model::Country);
input!(OrganizationInput, model::Organization);
input!(PersonInput, model::Person);
input!(AgreementInput, model::Agreement);
input!(FacilityInput, model::Facility);
input!(IncidentInput, model::Incident);
