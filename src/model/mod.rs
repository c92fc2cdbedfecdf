//! Plain records and value types: the stored shape of every record.
//!
//! Knows nothing of JSON seed files, sled, GraphQL or HTTP; serde derives only, so the
//! store's codec can encode these with any serde format. Enums name their variants as
//! the seed spells them (`BORDER_CLASH`); binary formats ignore the names.

mod date;
mod references;

use serde::{Deserialize, Serialize};

pub use date::{CalendarDate, DateError, DatePrecision, DateWindow, PartialDate};
pub use references::{Reference, References};

/// A record's readable, stable identifier within its type: lowercase ASCII letters,
/// digits and hyphens (`kant-air-base`).
pub type Slug = String;

/// The six kinds of record, in the order search results and global ids list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordKind {
    Country,
    Organization,
    Person,
    Agreement,
    Facility,
    Incident,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Country,
        RecordKind::Organization,
        RecordKind::Person,
        RecordKind::Agreement,
        RecordKind::Facility,
        RecordKind::Incident,
    ];

    /// The GraphQL type name, also the prefix of global ids.
    pub fn type_name(self) -> &'static str {
        match self {
            RecordKind::Country => "Country",
            RecordKind::Organization => "Organization",
            RecordKind::Person => "Person",
            RecordKind::Agreement => "Agreement",
            RecordKind::Facility => "Facility",
            RecordKind::Incident => "Incident",
        }
    }

    /// The name of the root collection of this kind, such as `countries`.
    pub fn collection_name(self) -> &'static str {
        match self {
            RecordKind::Country => "countries",
            RecordKind::Organization => "organizations",
            RecordKind::Person => "people",
            RecordKind::Agreement => "agreements",
            RecordKind::Facility => "facilities",
            RecordKind::Incident => "incidents",
        }
    }

    pub fn from_type_name(name: &str) -> Option<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .find(|kind| kind.type_name() == name)
    }
}

/// Where in the source material a record's facts come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub document: String,
    pub section: String,
    pub paragraph: u32,
}

/// How sure the source is of a fact; keeps its hedges ("reportedly", "promised") as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Certainty {
    Confirmed,
    Reported,
    Alleged,
    Claimed,
    Promised,
    Planned,
    Proposed,
}

/// A count or measure that may be exact, approximate or only bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantity {
    pub low: i32,
    /// `None` when the source states no upper bound ("at least one").
    pub high: Option<i32>,
    pub approximate: bool,
    /// How sure the source is of this one figure ("reportedly three squadrons"), apart
    /// from the record's own certainty.
    pub certainty: Certainty,
}

/// An amount of money in an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
    pub approximate: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CoordinateSource {
    GeneralKnowledge,
    SourceText,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
    pub source: CoordinateSource,
}

/// A named place, with the spellings the source uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub place: String,
    pub aliases: Vec<String>,
    pub district: Option<String>,
    pub province: Option<String>,
    pub coordinates: Option<Coordinates>,
}

/// On what a value of a record rests when the source does not state it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Basis {
    /// Worked out by the editors from what the source states.
    Derived,
    /// Not in the source: the editors' general knowledge.
    GeneralKnowledge,
    /// The source's words, read by the editors ("early 2012" as a date range).
    Interpreted,
}

/// A value of a record the source does not state, and its basis. A field without a note
/// is stated by the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldNote {
    /// The field's GraphQL name, with a dotted path into lists and objects where needed
    /// (`roles.title`, `location.coordinates`).
    pub field: String,
    pub basis: Basis,
    pub explanation: String,
}

/// What kind of thing a statement the source relates is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatementKind {
    Claim,
    Allegation,
    Position,
    Complaint,
    Demand,
    Reason,
    Risk,
    Benefit,
}

/// Who made a statement: a country, an organization or a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Speaker {
    Country(Slug),
    Organization(Slug),
    Person(Slug),
}

/// A claim, allegation, position, reason, risk or benefit the source attributes to
/// somebody (or to nobody it names), about the record that holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub kind: StatementKind,
    /// `None` when the source names nobody ("there were allegations").
    pub by: Option<Speaker>,
    pub text: String,
    pub certainty: Certainty,
    pub sources: Vec<SourceRef>,
}

/// How one incident relates to another. Every kind has an inverse, which the other
/// incident states (`CausedBy` on one, `Caused` on the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentLinkKind {
    CausedBy,
    Caused,
    ResponseTo,
    Prompted,
    PartOf,
    Includes,
    Follows,
    FollowedBy,
}

impl IncidentLinkKind {
    /// The kind the linked incident states back: `CausedBy` for `Caused`, and so on.
    pub fn inverse(self) -> IncidentLinkKind {
        match self {
            Self::CausedBy => Self::Caused,
            Self::Caused => Self::CausedBy,
            Self::ResponseTo => Self::Prompted,
            Self::Prompted => Self::ResponseTo,
            Self::PartOf => Self::Includes,
            Self::Includes => Self::PartOf,
            Self::Follows => Self::FollowedBy,
            Self::FollowedBy => Self::Follows,
        }
    }
}

/// A chain the source relates from one incident to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentLink {
    pub kind: IncidentLinkKind,
    pub incident: Slug,
}

/// Casualties on one side, or of one nationality, as the source gives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideCasualties {
    pub country: Slug,
    pub killed: Option<Quantity>,
    pub injured: Option<Quantity>,
    pub note: Option<String>,
}

/// A source document the records cite: what it is, the span of events it describes and
/// the date it speaks from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceDocument {
    pub id: Slug,
    pub title: String,
    pub period: PartialDate,
    pub as_of: PartialDate,
    pub summary: String,
    /// The document's section headings, in order.
    pub sections: Vec<String>,
}

/// A country or an organization, for relations that may point at either.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    Country(Slug),
    Organization(Slug),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Country {
    pub id: Slug,
    /// ISO 3166-1 alpha-2, upper case.
    pub code: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub notes: Vec<FieldNote>,
    pub statements: Vec<Statement>,
    pub summary: String,
    pub sources: Vec<SourceRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganizationKind {
    Intergovernmental,
    EconomicUnion,
    MilitaryAlliance,
    GovernmentAgency,
    Legislature,
    MilitaryCommand,
    Ngo,
    ArmedGroup,
    Media,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberRole {
    FoundingMember,
    Member,
    ProspectiveMember,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub country: Slug,
    pub role: MemberRole,
    pub since: Option<PartialDate>,
    pub certainty: Certainty,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Slug,
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: OrganizationKind,
    pub country: Option<Slug>,
    pub founded: Option<PartialDate>,
    pub succeeded_by: Option<Slug>,
    pub members: Vec<Membership>,
    pub notes: Vec<FieldNote>,
    pub statements: Vec<Statement>,
    pub summary: String,
    pub sources: Vec<SourceRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub title: String,
    pub country: Option<Slug>,
    pub organization: Option<Slug>,
    pub during: Option<PartialDate>,
    pub certainty: Certainty,
    pub sources: Vec<SourceRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: Slug,
    pub name: String,
    pub aliases: Vec<String>,
    pub country: Option<Slug>,
    pub roles: Vec<Role>,
    pub notes: Vec<FieldNote>,
    pub statements: Vec<Statement>,
    pub summary: String,
    pub sources: Vec<SourceRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgreementKind {
    Basing,
    BorderDelimitation,
    BorderCommission,
    SecurityCooperation,
    DebtSettlement,
    EnergySupply,
    EconomicAssistance,
    Accession,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgreementStatus {
    Proposed,
    Planned,
    Agreed,
    InForce,
    Expired,
    Terminated,
    Implemented,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub id: Slug,
    pub title: String,
    pub aliases: Vec<String>,
    pub kind: AgreementKind,
    pub status: AgreementStatus,
    pub certainty: Certainty,
    pub parties: Vec<Slug>,
    pub facilities: Vec<Slug>,
    pub signed: Option<PartialDate>,
    pub in_force_from: Option<PartialDate>,
    pub expires: Option<PartialDate>,
    pub ended: Option<PartialDate>,
    pub term_years: Option<Quantity>,
    pub debt: Option<Money>,
    pub debt_write_off_fraction: Option<f64>,
    pub extends: Option<Slug>,
    pub notes: Vec<FieldNote>,
    pub statements: Vec<Statement>,
    pub summary: String,
    pub sources: Vec<SourceRef>,
}

impl Agreement {
    /// The date the agreement's span starts: when it entered into force, else when signed.
    pub fn span_start(&self) -> Option<&PartialDate> {
        self.in_force_from.as_ref().or(self.signed.as_ref())
    }

    /// The date the agreement's span ends: when it actually ended, else when it expires.
    pub fn span_end(&self) -> Option<&PartialDate> {
        self.ended.as_ref().or(self.expires.as_ref())
    }

    /// Whether the agreement may have been in force at some time within `window`. An
    /// unknown start or end leaves that side open; an agreement with neither, or one only
    /// proposed or planned, is never placed in time.
    pub fn possibly_in_force(&self, window: &DateWindow) -> bool {
        if !self.may_be_in_force() {
            return false;
        }
        let (start, end) = (self.span_start(), self.span_end());
        if start.is_none() && end.is_none() {
            return false;
        }
        let started_by_window_end = match (start.and_then(PartialDate::earliest), window.to) {
            (Some(earliest), Some(to)) => earliest <= to,
            _ => true,
        };
        let ended_after_window_start = match (end.and_then(PartialDate::latest), window.from) {
            (Some(latest), Some(from)) => latest >= from,
            _ => true,
        };
        started_by_window_end && ended_after_window_start
    }

    /// Whether the agreement was certainly in force throughout `window`: it certainly
    /// started before the window and certainly ended after it.
    pub fn certainly_in_force(&self, window: &DateWindow) -> bool {
        if !self.may_be_in_force() {
            return false;
        }
        let started = match (self.span_start().and_then(PartialDate::latest), window.from) {
            (Some(latest_start), Some(from)) => latest_start <= from,
            _ => false,
        };
        let lasted = match (self.span_end().and_then(PartialDate::earliest), window.to) {
            (Some(earliest_end), Some(to)) => earliest_end >= to,
            _ => false,
        };
        started && lasted
    }

    fn may_be_in_force(&self) -> bool {
        !matches!(
            self.status,
            AgreementStatus::Proposed | AgreementStatus::Planned
        )
    }

    /// The date the agreement sorts by: signed, else in force from.
    pub fn chronology(&self) -> Option<&PartialDate> {
        self.signed.as_ref().or(self.in_force_from.as_ref())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FacilityKind {
    AirBase,
    TestRange,
    CommunicationsStation,
    SeismicStation,
    Border,
    BorderSector,
    Enclave,
    BorderGuardPost,
    Office,
    Academy,
    HydropowerProject,
    GasStorage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AircraftRole {
    GroundAttack,
    Fighter,
    Transport,
    Helicopter,
    Training,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resource {
    Oil,
    NaturalGas,
    GasStorage,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Facility {
    pub id: Slug,
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: FacilityKind,
    pub host_country: Slug,
    pub operator: Option<Actor>,
    /// Other countries involved, such as the neighbour across a border.
    pub countries: Vec<Slug>,
    pub part_of: Option<Slug>,
    pub location: Option<Location>,
    pub opened: Option<PartialDate>,
    pub closed: Option<PartialDate>,
    pub personnel: Option<Quantity>,
    pub aircraft_squadrons: Option<Quantity>,
    pub aircraft_roles: Vec<AircraftRole>,
    pub agreed_length_km: Option<Quantity>,
    pub disputed_length_km: Option<Quantity>,
    pub disputed_segments: Option<Quantity>,
    pub deadlocked_segments: Option<Quantity>,
    pub resources: Vec<Resource>,
    pub certainty: Certainty,
    pub notes: Vec<FieldNote>,
    pub statements: Vec<Statement>,
    pub summary: String,
    pub sources: Vec<SourceRef>,
}

impl Facility {
    /// Every country the facility involves: host, operating country, others; no repeats.
    pub fn involved_countries(&self) -> Vec<&Slug> {
        let mut countries = vec![&self.host_country];
        if let Some(Actor::Country(operator)) = &self.operator {
            countries.push(operator);
        }
        countries.extend(self.countries.iter());
        let mut seen = std::collections::HashSet::new();
        countries.retain(|country| seen.insert(*country));
        countries
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentKind {
    BorderClash,
    ArmedIncursion,
    EthnicViolence,
    Riot,
    Unrest,
    SupplyCutoff,
    Dispute,
    Statement,
    Proposal,
    Deployment,
    Withdrawal,
    MilitaryExercise,
    Workshop,
    OfficialVisit,
    LegislativeAction,
    PolicyDecision,
    RequestDeclined,
    CorruptionAllegation,
    Asylum,
    Extradition,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: Slug,
    pub title: String,
    pub aliases: Vec<String>,
    pub kind: IncidentKind,
    pub occurred: Option<PartialDate>,
    pub certainty: Certainty,
    pub countries: Vec<Slug>,
    /// The first is the primary place of the incident.
    pub facilities: Vec<Slug>,
    pub organizations: Vec<Slug>,
    pub people: Vec<Slug>,
    pub agreements: Vec<Slug>,
    pub location: Option<Location>,
    pub killed: Option<Quantity>,
    pub injured: Option<Quantity>,
    pub casualties: Option<Quantity>,
    pub participants: Option<Quantity>,
    pub vehicles_damaged: Option<Quantity>,
    pub links: Vec<IncidentLink>,
    pub casualties_by_side: Vec<SideCasualties>,
    pub notes: Vec<FieldNote>,
    pub statements: Vec<Statement>,
    pub summary: String,
    pub sources: Vec<SourceRef>,
}

#[cfg(test)]
impl Agreement {
    /// A confirmed basing agreement in force with `id` (its title too) and nothing else,
    /// for tests to fill in.
    pub(crate) fn bare(id: &str) -> Agreement {
        Agreement {
            id: id.to_owned(),
            title: id.to_owned(),
            aliases: Vec::new(),
            kind: AgreementKind::Basing,
            status: AgreementStatus::InForce,
            certainty: Certainty::Confirmed,
            parties: Vec::new(),
            facilities: Vec::new(),
            signed: None,
            in_force_from: None,
            expires: None,
            ended: None,
            term_years: None,
            debt: None,
            debt_write_off_fraction: None,
            extends: None,
            notes: Vec::new(),
            statements: Vec::new(),
            summary: String::new(),
            sources: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreement(status: AgreementStatus, start: Option<&str>, end: Option<&str>) -> Agreement {
        let date = |text: &str| PartialDate::parse(text).expect("valid");
        Agreement {
            status,
            signed: start.map(date),
            expires: end.map(date),
            ..Agreement::bare("a")
        }
    }

    fn window(text: &str) -> DateWindow {
        DateWindow::of(&PartialDate::parse(text).expect("valid"))
    }

    #[test]
    fn every_link_kind_has_another_kind_as_its_inverse_and_back() {
        use super::IncidentLinkKind::*;
        let kinds = [
            CausedBy, Caused, ResponseTo, Prompted, PartOf, Includes, Follows, FollowedBy,
        ];
        for kind in kinds {
            assert_ne!(kind.inverse(), kind);
            assert_eq!(kind.inverse().inverse(), kind);
        }
        assert_eq!(CausedBy.inverse(), Caused);
        assert_eq!(ResponseTo.inverse(), Prompted);
        assert_eq!(PartOf.inverse(), Includes);
        assert_eq!(Follows.inverse(), FollowedBy);
    }

    #[test]
    fn in_force_possibly_and_certainly() {
        let kant = agreement(AgreementStatus::InForce, Some("2003"), Some("2017"));
        assert!(kant.possibly_in_force(&window("2012")));
        assert!(kant.certainly_in_force(&window("2012")));
        assert!(kant.possibly_in_force(&window("2003-06")));
        assert!(!kant.certainly_in_force(&window("2003-06")));
        assert!(!kant.possibly_in_force(&window("2018")));

        let open_start = agreement(AgreementStatus::InForce, None, Some("2014"));
        assert!(open_start.possibly_in_force(&window("2012")));
        assert!(!open_start.certainly_in_force(&window("2012")));
        assert!(!open_start.possibly_in_force(&window("2015")));

        let undated = agreement(AgreementStatus::Implemented, None, None);
        assert!(!undated.possibly_in_force(&window("2012")));
        let proposal = agreement(AgreementStatus::Proposed, Some("2014"), None);
        assert!(!proposal.possibly_in_force(&window("2015")));
    }
}

/// A whole validated seed, ready to be written to a store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub countries: Vec<Country>,
    pub organizations: Vec<Organization>,
    pub people: Vec<Person>,
    pub agreements: Vec<Agreement>,
    pub facilities: Vec<Facility>,
    pub incidents: Vec<Incident>,
    pub documents: Vec<SourceDocument>,
}

impl Dataset {
    pub fn record_count(&self) -> usize {
        self.countries.len()
            + self.organizations.len()
            + self.people.len()
            + self.agreements.len()
            + self.facilities.len()
            + self.incidents.len()
    }
}
