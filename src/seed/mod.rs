//! Seed loading: the embedded or `--seed-dir` JSON files in, validated records out.
//!
//! `SeedSource::read` streams: each file is parsed element by element and each valid
//! record handed on as soon as it is checked, so a seed of a million records is read in
//! memory proportional to its ids, not its size. Validation reports every problem at once
//! (file, record id, line and column for syntax errors); a reader of `read` must discard
//! what it was handed when the result is an error. `validate` collects a whole
//! `model::Dataset`, for tests and small seeds. Knows nothing of the store or GraphQL.
//!
//! Files: `source` (where the files are, the content hash and fingerprint), `split` (the
//! JSON array splitter), `pipeline` (the parser threads), `read` (the streaming
//! orchestration and `Sink`), `checks` (ids, codes, incident links, documents),
//! `references` (the reference checks, over `model::References`), `json` (the input
//! types and their conversion to `model`).

mod checks;
mod json;
mod pipeline;
mod read;
mod references;
mod source;
mod split;

use std::fmt;
use std::path::PathBuf;

use crate::model::{Agreement, Country, Facility, Incident, Organization, Person};
pub use json::{
    AGREEMENT_FIELDS, COUNTRY_FIELDS, FACILITY_FIELDS, INCIDENT_FIELDS, ORGANIZATION_FIELDS,
    PERSON_FIELDS,
};
use read::NotJson;
pub use read::{ReadIds, Sink};
pub use source::SeedSource;
use source::{hash_header, hex, HashingReader};
use split::{split_array, Split};

/// The seed files, in the order they are hashed: the six files of records, then the
/// source documents they cite (`documents.json`, read first: every source locator of the
/// others names one of its ids).
pub const FILES: [&str; 7] = [
    "countries.json",
    "organizations.json",
    "people.json",
    "agreements.json",
    "facilities.json",
    "incidents.json",
    "documents.json",
];

/// How many of `FILES` hold records (the first six); the last is `DOCUMENTS`.
const RECORD_FILES: usize = 6;

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

/// A valid record, as `SeedSource::read` hands it on.
#[derive(Clone, Debug)]
pub enum SeedRecord {
    Country(Country),
    Organization(Organization),
    Person(Person),
    Agreement(Agreement),
    Facility(Facility),
    Incident(Incident),
}

/// The index in `FILES` of each kind's file, and of `documents.json`.
const COUNTRIES: usize = 0;
const ORGANIZATIONS: usize = 1;
const PEOPLE: usize = 2;
const AGREEMENTS: usize = 3;
const FACILITIES: usize = 4;
const INCIDENTS: usize = 5;
const DOCUMENTS: usize = 6;

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::checks::{is_slug, without_position, IdSet};
    use super::read::syntax_error;
    use super::source::EMBEDDED;
    use super::split::{split_array_in_blocks, Split};
    use super::*;
    use crate::model::RecordKind;

    #[test]
    fn the_embedded_seed_is_valid() {
        let dataset = SeedSource::embedded()
            .validate()
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(dataset.countries.iter().any(|country| country.code == "KG"));
    }

    #[test]
    fn read_ids_number_the_records_of_files_read_in_full_in_file_order() {
        let mut countries: Vec<String> = Vec::new();
        let mut facilities: Vec<String> = Vec::new();
        let mut checked = 0;
        SeedSource::embedded()
            .read_prepared(
                |_| (),
                |record, (), ids| match record {
                    SeedRecord::Country(country) => {
                        // Its own file is still being read.
                        assert_eq!(ids.number(RecordKind::Country, &country.id), None);
                        countries.push(country.id.clone());
                    }
                    SeedRecord::Facility(facility) => facilities.push(facility.id.clone()),
                    SeedRecord::Incident(incident) => {
                        for (kind, ids_read, targets) in [
                            (RecordKind::Country, &countries, &incident.countries),
                            (RecordKind::Facility, &facilities, &incident.facilities),
                        ] {
                            for target in targets {
                                let position = ids_read.iter().position(|id| id == target);
                                let number = ids.number(kind, target).map(|n| n as usize);
                                assert_eq!(number, position, "{target}");
                                checked += 1;
                            }
                        }
                        assert_eq!(ids.number(RecordKind::Country, "no-such-country"), None);
                    }
                    _ => {}
                },
            )
            .expect("valid");
        assert!(checked > 10, "only {checked} references checked");
    }

    #[test]
    fn an_id_set_holds_each_id_once() {
        let mut set = IdSet::default();
        assert!(!set.contains("a"));
        for n in 0..5_000 {
            assert!(set.insert(&format!("incident-{n}")));
        }
        for n in 0..5_000 {
            assert!(set.contains(&format!("incident-{n}")));
            assert!(!set.insert(&format!("incident-{n}")));
        }
        assert!(!set.contains("incident-5000"));
        assert!(!set.contains(""));
        assert!(set.insert(""));
        assert!(set.contains(""));
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

    fn copy_of_embedded() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, text) in FILES.iter().zip(EMBEDDED) {
            std::fs::write(dir.path().join(name), text).expect("writes");
        }
        dir
    }

    #[test]
    fn the_hash_changes_with_any_byte_and_is_the_same_read_or_hashed() {
        let copy = copy_of_embedded();
        let seed = SeedSource::from_dir(copy.path()).expect("a directory");
        let hash = seed.content_hash();
        assert_eq!(hash, SeedSource::embedded().content_hash());
        assert_eq!(seed.read(|_| {}).expect("valid"), hash);
        let path = copy.path().join(FILES[5]);
        let mut text = std::fs::read_to_string(&path).expect("reads");
        text.push(' ');
        std::fs::write(&path, text).expect("writes");
        assert_ne!(seed.content_hash(), hash);
    }

    #[test]
    fn the_fingerprint_follows_size_and_modification_time() {
        let copy = copy_of_embedded();
        let seed = SeedSource::from_dir(copy.path()).expect("a directory");
        let before = seed.fingerprint();
        assert_eq!(seed.fingerprint(), before, "stable while nothing changes");
        let path = copy.path().join(FILES[0]);
        let file = File::options().append(true).open(&path).expect("opens");
        file.set_len(file.metadata().expect("metadata").len() + 1)
            .expect("grows");
        assert_ne!(seed.fingerprint(), before);
    }

    #[test]
    fn records_and_problems_keep_file_order_across_batches() {
        let copy = copy_of_embedded();
        let seed = SeedSource::from_dir(copy.path()).expect("a directory");
        let incidents: Vec<serde_json::Value> =
            serde_json::from_str(EMBEDDED[5]).expect("the embedded incidents");
        // Enough records for several batches on each parser.
        let count = 8 * pipeline::BATCH_ELEMENTS + 7;
        let mut many: Vec<serde_json::Value> = (0..count)
            .map(|n| {
                let mut incident = incidents[n % incidents.len()].clone();
                incident["id"] = serde_json::json!(format!("many-{n}"));
                // Links name the originals, and would dangle.
                if let Some(incident) = incident.as_object_mut() {
                    incident.remove("links");
                }
                incident
            })
            .collect();
        let path = copy.path().join(FILES[5]);
        let write = |many: &[serde_json::Value]| {
            std::fs::write(&path, serde_json::to_vec(many).expect("JSON")).expect("writes")
        };
        write(&many);
        let mut read = Vec::new();
        seed.read(|record| {
            if let SeedRecord::Incident(incident) = record {
                read.push(incident.id.clone());
            }
        })
        .expect("valid");
        let expected: Vec<String> = (0..count).map(|n| format!("many-{n}")).collect();
        assert_eq!(read, expected, "handed on in file order");

        let last = count - 1;
        many[1]["id"] = serde_json::json!("Not-A-Slug");
        many[300].as_object_mut().expect("an object").remove("id");
        many[700]["id"] = serde_json::json!("many-3");
        many[last]["unknown"] = serde_json::json!(true);
        write(&many);
        let Err(SeedError::Invalid { problems, .. }) = seed.read(|_| {}) else {
            panic!("an invalid seed was read");
        };
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|problem| {
                assert_eq!(problem.file, FILES[5]);
                (
                    problem.record.as_deref().unwrap_or_default(),
                    problem.message.as_str(),
                )
            })
            .collect();
        let last_id = format!("many-{last}");
        assert_eq!(found.len(), 4, "{found:#?}");
        assert_eq!(found[0].0, "Not-A-Slug");
        assert!(found[0].1.contains("not a slug"), "{found:#?}");
        assert_eq!(found[1], ("#301", "missing field `id`"));
        assert_eq!(found[2], ("many-3", "duplicate id `many-3`"));
        assert_eq!(found[3].0, last_id);
        assert!(found[3].1.contains("unknown field `unknown`"), "{found:#?}");
    }

    fn split(text: &str, block: usize) -> (Split, Vec<String>) {
        let mut elements = Vec::new();
        let split = split_array_in_blocks(&mut text.as_bytes(), block, |element| {
            elements.push(String::from_utf8_lossy(element).into_owned())
        })
        .expect("reads");
        (split, elements)
    }

    #[test]
    fn arrays_split_into_their_elements_across_any_block_boundary() {
        let text =
            " [ {\"a\": \"]\\\"},[\", \"b\": [1, {\"c\": []}]} ,\n[1,2],3 , \"x,]\" ,true\t, \"y\\\\\"]\r\n ";
        let expected = vec![
            "{\"a\": \"]\\\"},[\", \"b\": [1, {\"c\": []}]}".to_owned(),
            "[1,2]".to_owned(),
            "3".to_owned(),
            "\"x,]\"".to_owned(),
            "true".to_owned(),
            "\"y\\\\\"".to_owned(),
        ];
        for block in [1, 2, 3, 7, 64, 1 << 20] {
            assert_eq!(
                split(text, block),
                (Split::Whole, expected.clone()),
                "block {block}"
            );
        }
        assert_eq!(split("[]", 1), (Split::Whole, vec![]));
        assert_eq!(split(" [ ] ", 2), (Split::Whole, vec![]));
    }

    #[test]
    fn an_element_that_is_not_json_is_the_files_syntax_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, text) in FILES.iter().zip(EMBEDDED) {
            std::fs::write(dir.path().join(name), text).expect("writes");
        }
        // Brackets that balance in number but not in kind: the splitter passes it on as
        // one element, which does not parse.
        std::fs::write(dir.path().join(FILES[1]), "[[}]").expect("writes");
        let Err(SeedError::Invalid { problems, .. }) = SeedSource::from_dir(dir.path())
            .expect("a directory")
            .read(|_| {})
        else {
            panic!("an invalid seed was read");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, FILES[1]);
        assert_eq!(problems[0].line_column, Some((1, 3)), "{problems:?}");
    }

    #[test]
    fn anything_but_one_array_is_malformed() {
        for text in [
            "",
            " ",
            "[",
            "]",
            "{}",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[1,,2]",
            "[]x",
            "[] []",
            "[\"a]",
            "[{\"a\": 1]",
            "[{]",
            "x[]",
        ] {
            for block in [1, 3, 1 << 20] {
                assert_eq!(
                    split(text, block).0,
                    Split::Malformed,
                    "{text:?} in blocks of {block}"
                );
            }
            assert!(syntax_error(text.as_bytes()).is_some(), "{text:?}");
        }
    }

    #[test]
    fn syntax_errors_have_their_position_apart() {
        let message = without_position("expected value at line 3 column 4".to_owned());
        assert_eq!(message, "expected value");
    }
}
