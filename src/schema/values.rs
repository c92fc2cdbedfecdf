//! Value types of the schema: the `PartialDate` scalar, enums, and small objects that are
//! parts of records (quantities, money, places, source locators).
//!
//! Each is a thin GraphQL face over a `model` type; parsing and rules stay in `model`.

use async_graphql::{
    Context, Enum, InputObject, InputValueError, InputValueResult, Object, Scalar, ScalarType,
    Value,
};

use super::serial::{Serial, Serials};
use super::source::SourceDocument;
use super::{internal, store, Result};
use crate::store::StoreError;

use crate::model;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialDate(pub model::PartialDate);

/// A date at the precision the source gives it, as a string in a subset of ISO 8601 /
/// EDTF (Extended Date/Time Format): `"2003"` (a year), `"195X"` (a decade),
/// `"2012-09"` (a month), `"2002-12-05"` (a day), `"2012-37"` (a part of a year: 21-24
/// spring, summer, autumn, winter; 33-36 quarters; 37-39 thirds; 40-41 halves), or an
/// interval of those, `"2013-04/2013-05"` ("April and May 2013"), with `..` for an open
/// end: `"195X/.."` is "since the 1950s". House rule for vague phrases: "early 2012" is
/// `"2012-37"` (January to April), "mid 2012" is `"2012-38"`, "late 2012" and "the end of
/// 2012" are `"2012-39"` (September to December). As an argument, an invalid date is an
/// input error. Chronological order compares the earliest bound, then the latest.
#[Scalar(
    name = "PartialDate",
    specified_by_url = "https://www.loc.gov/standards/datetime/"
)]
impl ScalarType for PartialDate {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => model::PartialDate::parse(text)
                .map(PartialDate)
                .map_err(|error| InputValueError::custom(error.to_string())),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.as_str().to_owned())
    }
}

pub struct DateBounds(pub model::PartialDate);

/// The bounds and precision of a `PartialDate`.
#[Object]
impl DateBounds {
    /// The date itself, as stored.
    async fn value(&self) -> PartialDate {
        PartialDate(self.0.clone())
    }

    /// The first day the date may denote, as `YYYY-MM-DD`; null when the interval is open
    /// at its start (`"../2013-04"`).
    async fn earliest(&self) -> Option<String> {
        self.0.earliest().map(|day| day.to_string())
    }

    /// The last day the date may denote, as `YYYY-MM-DD`; null when the interval is open
    /// at its end (`"195X/.."`, still ongoing when the source was written).
    async fn latest(&self) -> Option<String> {
        self.0.latest().map(|day| day.to_string())
    }

    /// How precisely the date is known; for an interval, the coarser of its two ends.
    async fn precision(&self) -> DatePrecision {
        self.0.precision().into()
    }

    /// Whether the date is an interval (`A/B`) rather than a single day, month, year...
    async fn is_interval(&self) -> bool {
        self.0.is_interval()
    }
}

/// How precisely a date is known.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::DatePrecision")]
pub enum DatePrecision {
    /// A single day: `"2002-12-05"`.
    Day,
    /// A month: `"2012-09"`.
    Month,
    /// A season or part of a year, such as "early 2012": `"2012-37"`.
    PartOfYear,
    /// A year: `"2003"`.
    Year,
    /// A decade: `"195X"`.
    Decade,
}

/// How a date filter treats records whose date is less precise than the filter.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateMatch {
    /// The record's date could fall within the filter's range: a record dated `"2012"`
    /// matches a filter for June 2012.
    #[default]
    PossiblyOverlaps,
    /// Every day the record's date may denote lies within the filter's range: a record
    /// dated `"2012"` does not match a filter for June 2012, but one dated `"2012-06-10"`
    /// does.
    CertainlyWithin,
}

/// A range of dates to filter by. Records without a date never match.
#[derive(InputObject, Clone)]
pub struct DateFilter {
    /// The range starts on the earliest day of this date; omit for no lower bound.
    pub from: Option<PartialDate>,
    /// The range ends on the latest day of this date; omit for no upper bound. To filter
    /// for one year, pass the year as both `from` and `to`.
    pub to: Option<PartialDate>,
    /// How to treat records dated less precisely than the range. Default: possibly overlaps.
    #[graphql(name = "match", default)]
    pub matching: DateMatch,
}

impl DateFilter {
    pub fn window(&self) -> model::DateWindow {
        model::DateWindow::between(
            self.from.as_ref().map(|d| &d.0),
            self.to.as_ref().map(|d| &d.0),
        )
    }

    pub fn matches(&self, date: Option<&model::PartialDate>) -> bool {
        let Some(date) = date else {
            return false;
        };
        let window = self.window();
        match self.matching {
            DateMatch::PossiblyOverlaps => date.possibly_overlaps(&window),
            DateMatch::CertainlyWithin => date.certainly_within(&window),
        }
    }
}

/// Which way a list is ordered.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Ascending: A to Z, oldest first.
    #[default]
    Asc,
    /// Descending: Z to A, newest first.
    Desc,
}

/// How sure the source is of a fact. The source's hedges are kept as data, so a confirmed
/// lease can be told from a promised extension.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::Certainty")]
pub enum Certainty {
    /// Stated as fact.
    Confirmed,
    /// Stated as reported or apparent ("reportedly", "apparently").
    Reported,
    /// Stated as an allegation ("there were allegations").
    Alleged,
    /// One party's claim ("the government claimed").
    Claimed,
    /// Promised by a party, not yet delivered.
    Promised,
    /// Planned or intended, not yet carried out.
    Planned,
    /// Offered or proposed, not agreed.
    Proposed,
}

pub struct Quantity(pub model::Quantity);

/// A count or measure as the source gives it: exact (`low` = `high`), approximate
/// ("about 900"), a range ("hundreds": 200 to 999) or a lower bound only ("casualties
/// occurred": at least 1). A field of this type is null when the source gives no figure.
#[Object]
impl Quantity {
    /// The lower bound.
    async fn low(&self) -> i32 {
        self.0.low
    }

    /// The upper bound; null when the source sets none ("at least ...").
    async fn high(&self) -> Option<i32> {
        self.0.high
    }

    /// The figure when the source gives a single one (`low` = `high`), else null.
    async fn exact(&self) -> Option<i32> {
        (self.0.high == Some(self.0.low)).then_some(self.0.low)
    }

    /// Whether the source hedges the figure ("about", "some", "roughly").
    async fn approximate(&self) -> bool {
        self.0.approximate
    }

    /// How sure the source is of this one figure: REPORTED for "reportedly three
    /// squadrons". A hedge on a figure is carried here, not by the record's own
    /// `certainty`, which says how sure the source is of the record.
    async fn certainty(&self) -> Certainty {
        self.0.certainty.into()
    }
}

pub struct Money(pub model::Money);

/// An amount of money.
#[Object]
impl Money {
    /// The amount, in units of `currency` (dollars, not cents).
    async fn amount(&self) -> f64 {
        self.0.amount
    }

    /// The ISO 4217 currency code, such as `USD`.
    async fn currency(&self) -> &str {
        &self.0.currency
    }

    /// Whether the source hedges the amount ("roughly $500 million").
    async fn approximate(&self) -> bool {
        self.0.approximate
    }
}

/// Where a coordinate pair comes from.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "model::CoordinateSource")]
pub enum CoordinateSource {
    /// Added by the editors from general knowledge; the source text gives no coordinates.
    GeneralKnowledge,
    /// Stated in the source text.
    SourceText,
}

pub struct Coordinates(pub model::Coordinates);

/// A point on the map, in WGS 84 decimal degrees.
#[Object]
impl Coordinates {
    /// Degrees north of the equator (negative: south).
    async fn latitude(&self) -> f64 {
        self.0.latitude
    }

    /// Degrees east of Greenwich (negative: west).
    async fn longitude(&self) -> f64 {
        self.0.longitude
    }

    /// Whether the coordinates come from the source or from general knowledge.
    async fn source(&self) -> CoordinateSource {
        self.0.source.into()
    }
}

pub struct Location(pub model::Location);

/// A named place.
#[Object]
impl Location {
    /// The place's name in its normalized spelling, such as `Jalal-Abad`.
    async fn place(&self) -> &str {
        &self.0.place
    }

    /// Other spellings, including those the source uses.
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// The district the place lies in; null when not known.
    async fn district(&self) -> Option<&str> {
        self.0.district.as_deref()
    }

    /// The province (oblast) the place lies in; null when not known.
    async fn province(&self) -> Option<&str> {
        self.0.province.as_deref()
    }

    /// Where the place is; null when not recorded.
    async fn coordinates(&self, ctx: &Context<'_>) -> Option<Serial<Coordinates>> {
        let coordinates = self.0.coordinates.clone()?;
        Some(Serial::new(ctx, Coordinates(coordinates)))
    }
}

pub struct SourceRef(pub model::SourceRef);

/// Where in the source material a record's facts come from: a document, a section and a
/// paragraph.
#[Object]
impl SourceRef {
    /// The source document's slug (`SourceDocument.slug`); `sourceDocument` is the
    /// document itself.
    async fn document(&self) -> &str {
        &self.0.document
    }

    /// The source document: its title, the period it describes and the date it speaks
    /// from (`asOf`), which every status and date taken from it is as of.
    async fn source_document(&self, ctx: &Context<'_>) -> Result<Serial<SourceDocument>> {
        match store(ctx)
            .source_document(&self.0.document)
            .map_err(internal)?
        {
            Some(document) => Ok(Serial::new(ctx, SourceDocument(document))),
            None => Err(internal(StoreError::Dangling {
                tree: "meta".to_owned(),
                id: self.0.document.clone(),
                target: "source documents".to_owned(),
            })),
        }
    }

    /// The heading of the section within the document.
    async fn section(&self) -> &str {
        &self.0.section
    }

    /// The paragraph within the section, counting from 1; photo captions count as paragraphs.
    async fn paragraph(&self) -> u32 {
        self.0.paragraph
    }
}

/// Objects of the schema are handed out as `Serial` (or `Serials`, for lists), so that an
/// object is never `null` without an error (see `serial`); these build the value objects
/// records share.
pub fn sources(sources: &[model::SourceRef]) -> Serials<Vec<SourceRef>> {
    Serials(sources.iter().cloned().map(SourceRef).collect())
}

pub fn date(date: &Option<model::PartialDate>) -> Option<PartialDate> {
    date.clone().map(PartialDate)
}

pub fn bounds(ctx: &Context<'_>, date: &Option<model::PartialDate>) -> Option<Serial<DateBounds>> {
    Some(Serial::new(ctx, DateBounds(date.clone()?)))
}

pub fn quantity(ctx: &Context<'_>, quantity: &Option<model::Quantity>) -> Option<Serial<Quantity>> {
    Some(Serial::new(ctx, Quantity((*quantity)?)))
}

pub fn money(ctx: &Context<'_>, money: Option<model::Money>) -> Option<Serial<Money>> {
    Some(Serial::new(ctx, Money(money?)))
}

pub fn location(ctx: &Context<'_>, location: &Option<model::Location>) -> Option<Serial<Location>> {
    Some(Serial::new(ctx, Location(location.clone()?)))
}

/// The order of a list of named records (countries, organizations, people, facilities).
#[derive(InputObject, Clone, Copy, Default)]
pub struct NameOrder {
    /// What to order by. Default: `NAME`.
    #[graphql(default)]
    pub field: NameOrderField,
    /// Which way. Default: `ASC`.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What a list of named records can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameOrderField {
    /// By name, ignoring case, then by slug.
    #[default]
    Name,
}

/// The order of a list of agreements.
#[derive(InputObject, Clone, Copy, Default)]
pub struct AgreementOrder {
    /// What to order by. Default: `SIGNED`.
    #[graphql(default)]
    pub field: AgreementOrderField,
    /// Which way. Default: `ASC` (oldest first).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What a list of agreements can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgreementOrderField {
    /// By the date signed (the date in force from when the signing date is unknown), in
    /// chronological order: earliest bound, then latest bound, then slug. Agreements with
    /// neither date come last in ascending order.
    #[default]
    Signed,
}

/// The order of a list of incidents.
#[derive(InputObject, Clone, Copy, Default)]
pub struct IncidentOrder {
    /// What to order by. Default: `OCCURRED`.
    #[graphql(default)]
    pub field: IncidentOrderField,
    /// Which way. Default: `ASC` (oldest first).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// What a list of incidents can be ordered by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncidentOrderField {
    /// By when the incident occurred, in chronological order: earliest bound, then latest
    /// bound, then slug. Undated incidents come last in ascending order.
    #[default]
    Occurred,
}
