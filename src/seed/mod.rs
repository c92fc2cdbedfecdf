//! Seed loading: the embedded or `--seed-dir` JSON files in, a validated `model::Dataset` out.
//!
//! Validation reports every problem at once (file, record id, line and column for syntax
//! errors) and never returns a partial dataset. Knows nothing of the store or GraphQL.

mod json;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::model::{Actor, Dataset};
use json::Reporter;

/// The seed files, in the order they are read and hashed.
pub const FILES: [&str; 6] = [
    "countries.json",
    "organizations.json",
    "people.json",
    "agreements.json",
    "facilities.json",
    "incidents.json",
];

/// The seed compiled into the binary, so it runs from any directory.
const EMBEDDED: [&str; 6] = [
    include_str!("../../seed/countries.json"),
    include_str!("../../seed/organizations.json"),
    include_str!("../../seed/people.json"),
    include_str!("../../seed/agreements.json"),
    include_str!("../../seed/facilities.json"),
    include_str!("../../seed/incidents.json"),
];

/// One problem found in a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// The id of the record at fault, when the problem is within one record.
    pub record: Option<String>,
    /// Line and column (1-based) of a JSON syntax error.
    pub line_column: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.line_column {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(record) = &self.record {
            write!(f, ": record `{record}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed directory {path} cannot be read: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("seed {origin} has {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The raw text of a seed's files, before validation.
#[derive(Clone, Debug)]
pub struct SeedSource {
    origin: String,
    /// `(file name, contents)`; `None` contents for a file that could not be read.
    files: Vec<(&'static str, Result<String, String>)>,
}

impl SeedSource {
    /// The seed compiled into this binary.
    pub fn embedded() -> SeedSource {
        SeedSource {
            origin: "(embedded)".to_owned(),
            files: FILES
                .iter()
                .zip(EMBEDDED)
                .map(|(name, text)| (*name, Ok(text.to_owned())))
                .collect(),
        }
    }

    /// The six seed files of `dir`. A missing or unreadable file is a problem reported by
    /// `validate`, alongside every other.
    pub fn from_dir(dir: &Path) -> Result<SeedSource, SeedError> {
        std::fs::metadata(dir).map_err(|source| SeedError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let files = FILES
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(dir.join(name))
                    .map_err(|error| format!("cannot be read: {error}"));
                (*name, text)
            })
            .collect();
        Ok(SeedSource {
            origin: dir.display().to_string(),
            files,
        })
    }

    /// Where the seed came from: a directory, or `(embedded)`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A SHA-256 over every file's name and contents, in hex: the seed's identity.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for (name, text) in &self.files {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            if let Ok(text) = text {
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
        }
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Parses and checks every file and record; all problems or a whole dataset.
    pub fn validate(&self) -> Result<Dataset, SeedError> {
        let mut problems = Vec::new();
        let text = |index: usize| &self.files[index];
        let countries = records(text(0), &mut problems, json::CountryInput::into_model);
        let organizations = records(text(1), &mut problems, json::OrganizationInput::into_model);
        let people = records(text(2), &mut problems, json::PersonInput::into_model);
        let agreements = records(text(3), &mut problems, json::AgreementInput::into_model);
        let facilities = records(text(4), &mut problems, json::FacilityInput::into_model);
        let incidents = records(text(5), &mut problems, json::IncidentInput::into_model);
        let known = KnownIds {
            countries: countries.ids,
            organizations: organizations.ids,
            people: people.ids,
            agreements: agreements.ids,
            facilities: facilities.ids,
        };
        let mut dataset = Dataset {
            countries: countries.records,
            organizations: organizations.records,
            people: people.records,
            agreements: agreements.records,
            facilities: facilities.records,
            incidents: incidents.records,
        };
        check_references(&dataset, &known, &mut problems);
        if problems.is_empty() {
            sort_by_id(&mut dataset);
            Ok(dataset)
        } else {
            Err(SeedError::Invalid {
                origin: self.origin.clone(),
                problems,
            })
        }
    }
}

fn sort_by_id(dataset: &mut Dataset) {
    dataset.countries.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.organizations.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.people.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.agreements.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.facilities.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.incidents.sort_by(|a, b| a.id.cmp(&b.id));
}

/// The valid records of one file, and the ids of all its records, valid or not.
struct Parsed<Record> {
    records: Vec<Record>,
    /// `None` when the file could not be read or parsed: references into it go unchecked
    /// rather than reported once per reference.
    ids: Option<HashSet<String>>,
}

/// The ids each file declares, for reference checks.
struct KnownIds {
    countries: Option<HashSet<String>>,
    organizations: Option<HashSet<String>>,
    people: Option<HashSet<String>>,
    agreements: Option<HashSet<String>>,
    facilities: Option<HashSet<String>>,
}

/// Parses one file into records, reporting syntax errors with their position and each
/// record's own problems with its id.
fn records<Input: DeserializeOwned, Record>(
    (file, text): &(&'static str, Result<String, String>),
    problems: &mut Vec<Problem>,
    convert: impl Fn(Input, &mut Reporter) -> Record,
) -> Parsed<Record> {
    let file_problem = |message: String, line_column: Option<(usize, usize)>| Problem {
        file: (*file).to_owned(),
        record: None,
        line_column,
        message,
    };
    let text = match text {
        Ok(text) => text,
        Err(message) => {
            problems.push(file_problem(message.clone(), None));
            return Parsed {
                records: Vec::new(),
                ids: None,
            };
        }
    };
    let values: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(values) => values,
        Err(error) => {
            let position = (error.line() > 0).then(|| (error.line(), error.column()));
            problems.push(file_problem(error.to_string(), position).without_position_suffix());
            return Parsed {
                records: Vec::new(),
                ids: None,
            };
        }
    };
    let mut records = Vec::with_capacity(values.len());
    let mut seen = HashSet::new();
    for (index, value) in values.into_iter().enumerate() {
        let record = match value.get("id").and_then(serde_json::Value::as_str) {
            Some(id) => id.to_owned(),
            None => format!("#{}", index + 1),
        };
        let mut reporter = Reporter {
            file,
            record: &record,
            problems,
        };
        if value.get("id").is_some() {
            if !is_slug(&record) {
                reporter.report(format!(
                    "field `id`: `{record}` is not a slug (lowercase letters, digits and single hyphens)"
                ));
            } else if !seen.insert(record.clone()) {
                reporter.report(format!("duplicate id `{record}`"));
            }
        }
        match serde_json::from_value::<Input>(value) {
            Ok(input) => records.push(convert(input, &mut reporter)),
            Err(error) => reporter.report(error.to_string()),
        }
    }
    Parsed {
        records,
        ids: Some(seen),
    }
}

impl Problem {
    /// serde_json appends " at line L column C" to syntax errors; the position is
    /// reported in its own field instead.
    fn without_position_suffix(mut self) -> Problem {
        if let Some(cut) = self.message.rfind(" at line ") {
            self.message.truncate(cut);
        }
        self
    }
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
}

/// Reports references to records that do not exist, and repeated country codes.
fn check_references(dataset: &Dataset, known: &KnownIds, problems: &mut Vec<Problem>) {
    let KnownIds {
        countries,
        organizations,
        people,
        agreements,
        facilities,
    } = known;

    let mut codes: HashMap<&str, &str> = HashMap::new();
    for country in &dataset.countries {
        if let Some(first) = codes.insert(&country.code, &country.id) {
            problems.push(Problem {
                file: FILES[0].to_owned(),
                record: Some(country.id.clone()),
                line_column: None,
                message: format!("code `{}` is already used by `{first}`", country.code),
            });
        }
    }

    let mut check = |file: &str,
                     record: &str,
                     field: &str,
                     target: &str,
                     known: &Option<HashSet<String>>,
                     what: &str| {
        if known.as_ref().is_some_and(|ids| !ids.contains(target)) {
            problems.push(Problem {
                file: file.to_owned(),
                record: Some(record.to_owned()),
                line_column: None,
                message: format!("field `{field}`: no {what} has id `{target}`"),
            });
        }
    };

    for organization in &dataset.organizations {
        let (file, id) = (FILES[1], organization.id.as_str());
        if let Some(country) = &organization.country {
            check(file, id, "country", country, countries, "country");
        }
        if let Some(successor) = &organization.succeeded_by {
            check(
                file,
                id,
                "succeededBy",
                successor,
                organizations,
                "organization",
            );
        }
        for member in &organization.members {
            check(
                file,
                id,
                "members.country",
                &member.country,
                countries,
                "country",
            );
        }
    }
    for person in &dataset.people {
        let (file, id) = (FILES[2], person.id.as_str());
        if let Some(country) = &person.country {
            check(file, id, "country", country, countries, "country");
        }
        for role in &person.roles {
            if let Some(country) = &role.country {
                check(file, id, "roles.country", country, countries, "country");
            }
            if let Some(organization) = &role.organization {
                check(
                    file,
                    id,
                    "roles.organization",
                    organization,
                    organizations,
                    "organization",
                );
            }
        }
    }
    for agreement in &dataset.agreements {
        let (file, id) = (FILES[3], agreement.id.as_str());
        for party in &agreement.parties {
            check(file, id, "parties", party, countries, "country");
        }
        for facility in &agreement.facilities {
            check(file, id, "facilities", facility, facilities, "facility");
        }
        if let Some(extended) = &agreement.extends {
            check(file, id, "extends", extended, agreements, "agreement");
        }
    }
    for facility in &dataset.facilities {
        let (file, id) = (FILES[4], facility.id.as_str());
        check(
            file,
            id,
            "hostCountry",
            &facility.host_country,
            countries,
            "country",
        );
        match &facility.operator {
            Some(Actor::Country(country)) => {
                check(file, id, "operator.country", country, countries, "country")
            }
            Some(Actor::Organization(organization)) => check(
                file,
                id,
                "operator.organization",
                organization,
                organizations,
                "organization",
            ),
            None => {}
        }
        for country in &facility.countries {
            check(file, id, "countries", country, countries, "country");
        }
        if let Some(parent) = &facility.part_of {
            check(file, id, "partOf", parent, facilities, "facility");
        }
    }
    for incident in &dataset.incidents {
        let (file, id) = (FILES[5], incident.id.as_str());
        for country in &incident.countries {
            check(file, id, "countries", country, countries, "country");
        }
        for facility in &incident.facilities {
            check(file, id, "facilities", facility, facilities, "facility");
        }
        for organization in &incident.organizations {
            check(
                file,
                id,
                "organizations",
                organization,
                organizations,
                "organization",
            );
        }
        for person in &incident.people {
            check(file, id, "people", person, people, "person");
        }
        for agreement in &incident.agreements {
            check(file, id, "agreements", agreement, agreements, "agreement");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_seed_is_valid() {
        let dataset = SeedSource::embedded()
            .validate()
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(dataset.countries.iter().any(|country| country.code == "KG"));
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_single_hyphens() {
        assert!(is_slug("kant-air-base"));
        assert!(is_slug("kambarata-1"));
        for bad in [
            "",
            "Kant",
            "kant_air",
            "-kant",
            "kant-",
            "kant--base",
            "kant base",
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn the_hash_changes_with_any_byte() {
        let seed = SeedSource::embedded();
        let mut changed = seed.clone();
        if let Ok(text) = &mut changed.files[5].1 {
            text.push(' ');
        }
        assert_ne!(seed.content_hash(), changed.content_hash());
        assert_eq!(seed.content_hash(), SeedSource::embedded().content_hash());
    }
}
