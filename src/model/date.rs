//! `PartialDate`: a date as precise as the source is, in a subset of ISO 8601 / EDTF.
//!
//! Parsing, bounds and chronological order live here; the GraphQL scalar and the seed
//! loader only call `PartialDate::parse`.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A day of the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl CalendarDate {
    fn first_of(year: i32, month: u8) -> CalendarDate {
        CalendarDate {
            year,
            month,
            day: 1,
        }
    }

    fn last_of(year: i32, month: u8) -> CalendarDate {
        CalendarDate {
            year,
            month,
            day: days_in_month(year, month),
        }
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// How precisely a date is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DatePrecision {
    Day,
    Month,
    /// A season or a part of a year: quarter, third ("early", "mid", "late") or half.
    PartOfYear,
    Year,
    Decade,
}

/// Why a string is not a `PartialDate`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid date `{text}`: {reason}")]
pub struct DateError {
    pub text: String,
    pub reason: String,
}

/// A date or interval of dates at the precision the source gives.
///
/// Accepted forms (a subset of EDTF, the Library of Congress Extended Date/Time Format):
/// `2003` (year), `195X` (decade), `2012-09` (month), `2002-12-05` (day), `2012-37`
/// (a part of a year: 21-24 seasons, 33-36 quarters, 37-39 thirds, 40-41 halves), and
/// intervals of those, `2013-04/2013-05`, with `..` for an open end (`195X/..`).
/// House rule: "early 2012" is `2012-37` (January to April), "mid 2012" is `2012-38`,
/// "late 2012" and "the end of 2012" are `2012-39` (September to December).
#[derive(Clone, Debug)]
pub struct PartialDate {
    text: String,
    /// `None` for an interval open at its start.
    earliest: Option<CalendarDate>,
    /// `None` for an interval open at its end.
    latest: Option<CalendarDate>,
    precision: DatePrecision,
    interval: bool,
}

impl PartialDate {
    pub fn parse(text: &str) -> Result<PartialDate, DateError> {
        let error = |reason: &str| DateError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some((start, end)) = text.split_once('/') {
            let start = (start != "..").then(|| parse_single(start)).transpose();
            let end = (end != "..").then(|| parse_single(end)).transpose();
            let (start, end) = (start.map_err(|r| error(&r))?, end.map_err(|r| error(&r))?);
            let precision = match (&start, &end) {
                (None, None) => return Err(error("an interval needs at least one known end")),
                (Some(single), None) | (None, Some(single)) => single.precision,
                (Some(first), Some(second)) => first.precision.max(second.precision),
            };
            let earliest = start.map(|single| single.earliest);
            let latest = end.map(|single| single.latest);
            if let (Some(earliest), Some(latest)) = (earliest, latest) {
                if earliest > latest {
                    return Err(error("the interval ends before it starts"));
                }
            }
            Ok(PartialDate {
                text: text.to_owned(),
                earliest,
                latest,
                precision,
                interval: true,
            })
        } else {
            let single = parse_single(text).map_err(|r| error(&r))?;
            Ok(PartialDate {
                text: text.to_owned(),
                earliest: Some(single.earliest),
                latest: Some(single.latest),
                precision: single.precision,
                interval: false,
            })
        }
    }

    /// The form it was written in, which is also its canonical form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first day it may denote; `None` when open-ended at the start.
    pub fn earliest(&self) -> Option<CalendarDate> {
        self.earliest
    }

    /// The last day it may denote; `None` when open-ended at the end.
    pub fn latest(&self) -> Option<CalendarDate> {
        self.latest
    }

    pub fn precision(&self) -> DatePrecision {
        self.precision
    }

    pub fn is_interval(&self) -> bool {
        self.interval
    }

    /// Whether some day of `self` may fall within `window` ("possibly overlaps").
    pub fn possibly_overlaps(&self, window: &DateWindow) -> bool {
        let starts_before_window_ends = match (self.earliest, window.to) {
            (Some(earliest), Some(to)) => earliest <= to,
            _ => true,
        };
        let ends_after_window_starts = match (self.latest, window.from) {
            (Some(latest), Some(from)) => latest >= from,
            _ => true,
        };
        starts_before_window_ends && ends_after_window_starts
    }

    /// Whether every day `self` may denote lies within `window` ("certainly within").
    pub fn certainly_within(&self, window: &DateWindow) -> bool {
        let after_start = match window.from {
            None => true,
            Some(from) => self.earliest.is_some_and(|earliest| earliest >= from),
        };
        let before_end = match window.to {
            None => true,
            Some(to) => self.latest.is_some_and(|latest| latest <= to),
        };
        after_start && before_end
    }
}

/// A closed range of days, either end open, used by date filters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateWindow {
    pub from: Option<CalendarDate>,
    pub to: Option<CalendarDate>,
}

impl DateWindow {
    /// From the earliest day of `from` to the latest day of `to`.
    pub fn between(from: Option<&PartialDate>, to: Option<&PartialDate>) -> DateWindow {
        DateWindow {
            from: from.and_then(PartialDate::earliest),
            to: to.and_then(PartialDate::latest),
        }
    }

    /// Every day `date` may denote.
    pub fn of(date: &PartialDate) -> DateWindow {
        DateWindow {
            from: date.earliest,
            to: date.latest,
        }
    }
}

/// Chronological order: earliest bound (open start first), then latest bound (open end last).
/// Records break remaining ties by id.
impl Ord for PartialDate {
    fn cmp(&self, other: &Self) -> Ordering {
        let start = |date: &PartialDate| date.earliest.map_or((0, None), |day| (1, Some(day)));
        let end = |date: &PartialDate| date.latest.map_or((1, None), |day| (0, Some(day)));
        start(self)
            .cmp(&start(other))
            .then_with(|| end(self).cmp(&end(other)))
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for PartialDate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PartialDate {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PartialDate {}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PartialDate::parse(&text).map_err(serde::de::Error::custom)
    }
}

struct Single {
    earliest: CalendarDate,
    latest: CalendarDate,
    precision: DatePrecision,
}

fn parse_single(text: &str) -> Result<Single, String> {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [year] if year.len() == 4 && year.ends_with('X') => {
            let decade = digits(&year[..3], "decade")? * 10;
            Ok(Single {
                earliest: CalendarDate::first_of(decade, 1),
                latest: CalendarDate::last_of(decade + 9, 12),
                precision: DatePrecision::Decade,
            })
        }
        [year] => {
            let year = parse_year(year)?;
            Ok(Single {
                earliest: CalendarDate::first_of(year, 1),
                latest: CalendarDate::last_of(year, 12),
                precision: DatePrecision::Year,
            })
        }
        [year, month] => {
            let year = parse_year(year)?;
            let code = two_digits(month, "month")?;
            if (1..=12).contains(&code) {
                let month = code as u8;
                return Ok(Single {
                    earliest: CalendarDate::first_of(year, month),
                    latest: CalendarDate::last_of(year, month),
                    precision: DatePrecision::Month,
                });
            }
            let (first, last) = part_of_year(code).ok_or_else(|| {
                format!("`{month}` is neither a month (01-12) nor a part of a year (21-24, 33-41)")
            })?;
            // Winter (24) runs from December into the next year.
            let last_year = if last < first { year + 1 } else { year };
            Ok(Single {
                earliest: CalendarDate::first_of(year, first),
                latest: CalendarDate::last_of(last_year, last),
                precision: DatePrecision::PartOfYear,
            })
        }
        [year, month, day] => {
            let year = parse_year(year)?;
            let month = two_digits(month, "month")?;
            if !(1..=12).contains(&month) {
                return Err(format!("month `{month}` is not 01-12"));
            }
            let month = month as u8;
            let day = two_digits(day, "day")?;
            if day < 1 || day > i32::from(days_in_month(year, month)) {
                return Err(format!("day {day} does not exist in {year:04}-{month:02}"));
            }
            let date = CalendarDate {
                year,
                month,
                day: day as u8,
            };
            Ok(Single {
                earliest: date,
                latest: date,
                precision: DatePrecision::Day,
            })
        }
        _ => Err("expected YYYY, YYYX, YYYY-MM, YYYY-MM-DD or an interval A/B".to_owned()),
    }
}

/// First and last month of an EDTF sub-year grouping.
fn part_of_year(code: i32) -> Option<(u8, u8)> {
    Some(match code {
        21 => (3, 5),
        22 => (6, 8),
        23 => (9, 11),
        24 => (12, 2),
        33 => (1, 3),
        34 => (4, 6),
        35 => (7, 9),
        36 => (10, 12),
        37 => (1, 4),
        38 => (5, 8),
        39 => (9, 12),
        40 => (1, 6),
        41 => (7, 12),
        _ => return None,
    })
}

fn parse_year(text: &str) -> Result<i32, String> {
    if text.len() != 4 {
        return Err(format!("year `{text}` must have four digits"));
    }
    digits(text, "year")
}

fn two_digits(text: &str, what: &str) -> Result<i32, String> {
    if text.len() != 2 {
        return Err(format!("{what} `{text}` must have two digits"));
    }
    digits(text, what)
}

fn digits(text: &str, what: &str) -> Result<i32, String> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("{what} `{text}` is not a number"));
    }
    text.parse()
        .map_err(|_| format!("{what} `{text}` is not a number"))
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> CalendarDate {
        let date = PartialDate::parse(text).expect("test dates are valid");
        assert_eq!(date.precision(), DatePrecision::Day);
        date.earliest().expect("a day has bounds")
    }

    fn bounds(text: &str) -> (Option<String>, Option<String>) {
        let date = PartialDate::parse(text).expect("test dates are valid");
        (
            date.earliest().map(|d| d.to_string()),
            date.latest().map(|d| d.to_string()),
        )
    }

    fn some(a: &str, b: &str) -> (Option<String>, Option<String>) {
        (Some(a.to_owned()), Some(b.to_owned()))
    }

    #[test]
    fn bounds_follow_the_precision() {
        assert_eq!(bounds("2003"), some("2003-01-01", "2003-12-31"));
        assert_eq!(bounds("2012-09"), some("2012-09-01", "2012-09-30"));
        assert_eq!(bounds("2012-02"), some("2012-02-01", "2012-02-29"));
        assert_eq!(bounds("2013-02"), some("2013-02-01", "2013-02-28"));
        assert_eq!(bounds("2002-12-05"), some("2002-12-05", "2002-12-05"));
        assert_eq!(bounds("195X"), some("1950-01-01", "1959-12-31"));
        assert_eq!(bounds("2012-37"), some("2012-01-01", "2012-04-30"));
        assert_eq!(bounds("2002-39"), some("2002-09-01", "2002-12-31"));
        assert_eq!(bounds("2011-24"), some("2011-12-01", "2012-02-29"));
        assert_eq!(bounds("2013-04/2013-05"), some("2013-04-01", "2013-05-31"));
        assert_eq!(bounds("195X/.."), (Some("1950-01-01".into()), None));
        assert_eq!(bounds("../2013-04"), (None, Some("2013-04-30".into())));
    }

    #[test]
    fn interval_precision_is_the_coarser_end() {
        let date = PartialDate::parse("1999/2000-05").expect("valid");
        assert_eq!(date.precision(), DatePrecision::Year);
        assert!(date.is_interval());
        assert!(!PartialDate::parse("1999").expect("valid").is_interval());
    }

    #[test]
    fn rejects_invalid_dates_with_a_reason() {
        for text in [
            "",
            "12",
            "2012-13",
            "2012-00",
            "2013-02-29",
            "2012-9",
            "2012-20",
            "20XX",
            "2012-01-01-01",
            "../..",
            "2014/2013",
            "abcd",
            "2012/",
            "+2012",
        ] {
            let error = PartialDate::parse(text).expect_err(text);
            assert!(error.to_string().contains(&format!("`{text}`")), "{error}");
        }
    }

    #[test]
    fn chronological_order_is_earliest_then_latest() {
        let mut dates: Vec<PartialDate> = [
            "2012-07-06",
            "2012",
            "../2013-04",
            "2012-37",
            "195X/..",
            "2012-09",
        ]
        .iter()
        .map(|text| PartialDate::parse(text).expect("valid"))
        .collect();
        dates.sort();
        let order: Vec<&str> = dates.iter().map(PartialDate::as_str).collect();
        assert_eq!(
            order,
            [
                "../2013-04",
                "195X/..",
                "2012-37",
                "2012",
                "2012-07-06",
                "2012-09"
            ]
        );
    }

    #[test]
    fn possibly_overlaps_and_certainly_within() {
        let year = PartialDate::parse("2012").expect("valid");
        let june = DateWindow::of(&PartialDate::parse("2012-06").expect("valid"));
        assert!(year.possibly_overlaps(&june));
        assert!(!year.certainly_within(&june));
        let whole = DateWindow::of(&PartialDate::parse("2011/2013").expect("valid"));
        assert!(year.certainly_within(&whole));
        let since = PartialDate::parse("195X/..").expect("valid");
        assert!(since.possibly_overlaps(&june));
        assert!(!since.certainly_within(&whole));
        let before = DateWindow::of(&PartialDate::parse("1940").expect("valid"));
        assert!(!since.possibly_overlaps(&before));
        assert_eq!(day("2002-12-05").to_string(), "2002-12-05");
    }
}
