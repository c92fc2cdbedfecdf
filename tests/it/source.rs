//! The seed against its source document (`../shared/source/kyrgyzstan-foreign-relations.txt`,
//! beside the checkout): every locator points inside the source and names a document of
//! `seed/documents.json`, every paragraph that states a fact is cited, and no prose of the
//! seed copies eight or more consecutive words of the source.
//!
//! The source is split as the seed counts it: a heading opens a section, and every
//! non-blank line under it is a paragraph, numbered from 1 within the section, photo
//! captions and their credit lines included.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use serde_json::Value;

/// The one source document the seed is written from: its id in `seed/documents.json`.
pub const DOCUMENT: &str = "kyrgyzstan-foreign-relations";

/// The source's headings, in order. The text alone cannot tell them from a one-line photo
/// caption ("OSCE Centre in Bishkek (OSCE)" looks like a heading too), so they are listed.
/// The first is the document's title and the fifth a heading over the two that follow
/// it; neither has a paragraph of its own.
pub const HEADINGS: &[&str] = &[
    "Foreign relations",
    "Russia",
    "June 2010 riots an internal matter",
    "Military relations with other states",
    "Relations with central Asian neighbors strained",
    "Uzbekistan",
    "Tajikistan",
    "OSCE",
    "OSCE CiO visits in 2013",
];

/// The paragraphs that state no fact of their own, with the reason. Each is checked to be
/// what its reason says: a repetition of the paragraph before it (the source prints each
/// photo's caption twice), with at most a photo credit in parentheses added.
pub const NO_FACT: &[(&str, u32, &str)] = &[
    (
        "Military relations with other states",
        2,
        "the Su-27 photo caption of paragraph 1, printed a second time",
    ),
    (
        "OSCE",
        2,
        "the workshop photo caption of paragraph 1, printed a second time with a photo \
         credit (a credit line is about the picture, not about Kyrgyzstan's relations)",
    ),
    (
        "OSCE",
        4,
        "the caption of paragraph 3 (a photo of the OSCE Centre), printed a second time",
    ),
    (
        "OSCE",
        9,
        "the caption of paragraph 8 (a photo of the OSCE Academy), printed a second time",
    ),
];

/// One section of the source: its heading and its paragraphs (paragraph `n` is
/// `paragraphs[n - 1]`).
#[derive(Debug)]
pub struct Section {
    pub heading: &'static str,
    pub paragraphs: Vec<String>,
}

pub fn source_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join("source")
        .join("kyrgyzstan-foreign-relations.txt")
}

/// The source's text; fails (never skips) when it is not beside the checkout.
pub fn source_text() -> String {
    let path = source_path();
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the source document {}: {error}. The seed is checked against it: \
             put the shared folder (with source/kyrgyzstan-foreign-relations.txt) beside \
             the checkout, as CI does.",
            path.display()
        )
    })
}

/// The source split into sections, checking that every heading of [`HEADINGS`] is a line
/// of the source, once, in order, and that nothing comes before the first.
pub fn sections() -> Vec<Section> {
    let text = source_text();
    let mut sections: Vec<Section> = Vec::new();
    let mut next_heading = 0;
    for (index, line) in text.lines().enumerate() {
        // `trim` takes the no-break space of the source's otherwise blank line too.
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(position) = HEADINGS.iter().position(|heading| *heading == line) {
            assert_eq!(
                position,
                next_heading,
                "line {}: the heading {line:?} is out of order or repeated",
                index + 1
            );
            next_heading += 1;
            sections.push(Section {
                heading: HEADINGS[position],
                paragraphs: Vec::new(),
            });
            continue;
        }
        let section = sections.last_mut().unwrap_or_else(|| {
            panic!(
                "line {} comes before the first heading: {line:?}",
                index + 1
            )
        });
        section.paragraphs.push(line.to_owned());
    }
    assert_eq!(
        next_heading,
        HEADINGS.len(),
        "the heading {:?} is not a line of the source",
        HEADINGS.get(next_heading)
    );
    sections
}

/// Every paragraph of the source as (section, paragraph number, text).
pub fn paragraphs() -> Vec<(&'static str, u32, String)> {
    sections()
        .into_iter()
        .flat_map(|section| {
            let heading = section.heading;
            section
                .paragraphs
                .into_iter()
                .enumerate()
                .map(move |(index, text)| (heading, index as u32 + 1, text))
        })
        .collect()
}

/// The paragraphs that state a fact: every paragraph but those of [`NO_FACT`].
pub fn fact_paragraphs() -> Vec<(&'static str, u32)> {
    paragraphs()
        .into_iter()
        .filter(|(section, number, _)| {
            !NO_FACT
                .iter()
                .any(|(no_section, no_number, _)| no_section == section && no_number == number)
        })
        .map(|(section, number, _)| (section, number))
        .collect()
}

/// The seed's files, parsed, by file name (`documents.json` included when it exists).
pub fn seed_files() -> BTreeMap<String, Value> {
    let dir = crate::support::seed_dir();
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("the seed directory reads") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|extension| extension.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a UTF-8 name")
            .to_owned();
        let text = std::fs::read_to_string(&path).expect("a seed file reads");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("seed/{name} does not parse: {error}"));
        files.insert(name, value);
    }
    files
}

/// A locator found in the seed, with where it was found.
#[derive(Debug)]
struct Locator {
    at: String,
    document: Option<String>,
    section: Option<String>,
    paragraph: Option<u64>,
}

/// Collects every entry of every `sources` array anywhere in `value`, and any other object
/// shaped like a locator (with `section` and `paragraph`), wherever it sits.
fn collect_locators(value: &Value, at: &str, found: &mut Vec<Locator>) {
    match value {
        Value::Object(object) => {
            let here = match object.get("id").and_then(Value::as_str) {
                Some(id) => format!("{at}[{id}]"),
                None => at.to_owned(),
            };
            if object.contains_key("section") && object.contains_key("paragraph") {
                found.push(locator(value, &here));
            }
            for (key, child) in object {
                if key == "sources" {
                    let entries = child.as_array().unwrap_or_else(|| {
                        panic!("{here}.sources is not an array: {child}");
                    });
                    for entry in entries {
                        if !(entry.get("section").is_some() && entry.get("paragraph").is_some()) {
                            found.push(locator(entry, &format!("{here}.sources")));
                        }
                    }
                }
                collect_locators(child, &format!("{here}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let at = match item.get("id").and_then(Value::as_str) {
                    Some(_) => at.to_owned(),
                    None => format!("{at}[{index}]"),
                };
                collect_locators(item, &at, found);
            }
        }
        _ => {}
    }
}

fn locator(value: &Value, at: &str) -> Locator {
    Locator {
        at: at.to_owned(),
        document: value
            .get("document")
            .and_then(Value::as_str)
            .map(str::to_owned),
        section: value
            .get("section")
            .and_then(Value::as_str)
            .map(str::to_owned),
        paragraph: value.get("paragraph").and_then(Value::as_u64),
    }
}

/// The ids of `seed/documents.json`.
fn document_ids(files: &BTreeMap<String, Value>) -> BTreeSet<String> {
    let documents = files.get("documents.json").unwrap_or_else(|| {
        panic!("seed/documents.json is missing: every locator must name a document of it")
    });
    documents
        .as_array()
        .expect("seed/documents.json holds an array")
        .iter()
        .map(|document| {
            document["id"]
                .as_str()
                .expect("every document has an id")
                .to_owned()
        })
        .collect()
}

#[test]
fn the_source_splits_into_the_sections_the_seed_counts() {
    let sections = sections();
    let counts: Vec<(&str, usize)> = sections
        .iter()
        .map(|section| (section.heading, section.paragraphs.len()))
        .collect();
    // Counted by hand: under Russia 7 paragraphs (the line holding only a no-break space
    // after the seventh is blank); under the military heading a caption printed twice
    // and 3 paragraphs; under OSCE 9 lines: two captions each printed twice, 3
    // paragraphs, and a caption printed twice.
    assert_eq!(
        counts,
        [
            ("Foreign relations", 0),
            ("Russia", 7),
            ("June 2010 riots an internal matter", 1),
            ("Military relations with other states", 5),
            ("Relations with central Asian neighbors strained", 0),
            ("Uzbekistan", 7),
            ("Tajikistan", 2),
            ("OSCE", 9),
            ("OSCE CiO visits in 2013", 1),
        ]
    );
    // Spot checks that the numbering is the seed's: captions count.
    let paragraph = |heading: &str, number: usize| {
        sections
            .iter()
            .find(|section| section.heading == heading)
            .map(|section| section.paragraphs[number - 1].clone())
            .expect("the section exists")
    };
    assert!(paragraph("Military relations with other states", 4).starts_with("The U.S. has"));
    assert!(paragraph("OSCE", 5).starts_with("The OSCE Centre in Bishkek opened in 1999"));
    assert!(paragraph("Uzbekistan", 6).starts_with("Also in 2012"));
}

/// The paragraphs excused from citation are what their reasons say: repetitions of the
/// paragraph before them, with at most a credit in parentheses added.
#[test]
fn the_paragraphs_stating_no_fact_repeat_the_one_before() {
    let sections = sections();
    for (heading, number, reason) in NO_FACT {
        assert!(!reason.is_empty());
        let section = sections
            .iter()
            .find(|section| section.heading == *heading)
            .unwrap_or_else(|| panic!("NO_FACT names a section {heading:?} the source lacks"));
        let index = *number as usize - 1;
        assert!(
            index >= 1 && index < section.paragraphs.len(),
            "NO_FACT names {heading} ¶{number}, which the source lacks or which has no \
             paragraph before it"
        );
        let this = &section.paragraphs[index];
        let before = &section.paragraphs[index - 1];
        let rest = this.strip_prefix(before.as_str()).unwrap_or_else(|| {
            panic!("{heading} ¶{number} does not repeat ¶{index}: {this:?} vs {before:?}")
        });
        let rest = rest.trim();
        assert!(
            rest.is_empty() || (rest.starts_with('(') && rest.ends_with(')')),
            "{heading} ¶{number} adds more than a credit to ¶{index}: {rest:?}"
        );
    }
}

/// Every locator of `files`, with where it was found.
fn all_locators(files: &BTreeMap<String, Value>) -> Vec<Locator> {
    let mut locators = Vec::new();
    for (name, value) in files {
        collect_locators(value, name, &mut locators);
    }
    locators
}

/// What is wrong with each locator of `files` that does not point inside the source or
/// names no document of `documents`.
fn misplaced_locators(
    files: &BTreeMap<String, Value>,
    documents: &BTreeSet<String>,
    sections: &[Section],
) -> Vec<String> {
    let mut wrong = Vec::new();
    for locator in all_locators(files) {
        let problem = match (&locator.document, &locator.section, locator.paragraph) {
            (Some(document), Some(section), Some(paragraph)) => {
                if !documents.contains(document) {
                    Some(format!(
                        "document {document:?} is not in seed/documents.json"
                    ))
                } else if document != DOCUMENT {
                    // Only one source exists today; another would need its own text.
                    Some(format!("document {document:?} has no source text to check"))
                } else {
                    match sections.iter().find(|s| s.heading == section) {
                        None => Some(format!(
                            "section {section:?} is not a heading of the source"
                        )),
                        Some(found)
                            if paragraph == 0 || paragraph as usize > found.paragraphs.len() =>
                        {
                            Some(format!(
                                "{section} has {} paragraphs, not a ¶{paragraph}",
                                found.paragraphs.len()
                            ))
                        }
                        Some(_) => None,
                    }
                }
            }
            _ => Some("a locator needs a document, a section and a positive paragraph".to_owned()),
        };
        if let Some(problem) = problem {
            wrong.push(format!("{}: {problem}", locator.at));
        }
    }
    wrong
}

/// The fact-stating paragraphs of the source no locator of `files` cites.
fn uncited_paragraphs(files: &BTreeMap<String, Value>) -> Vec<String> {
    let cited: HashSet<(String, u64)> = all_locators(files)
        .into_iter()
        .filter(|locator| locator.document.as_deref() == Some(DOCUMENT))
        .filter_map(|locator| Some((locator.section?, locator.paragraph?)))
        .collect();
    let stating = fact_paragraphs();
    paragraphs()
        .into_iter()
        .filter(|(section, number, _)| {
            stating.contains(&(section, *number))
                && !cited.contains(&(section.to_string(), u64::from(*number)))
        })
        .map(|(section, number, text)| format!("{section} ¶{number}: {text}"))
        .collect()
}

#[test]
fn every_locator_points_inside_the_source_and_names_a_document() {
    let files = seed_files();
    let documents = document_ids(&files);
    assert!(
        documents.contains(DOCUMENT),
        "seed/documents.json has no record `{DOCUMENT}`: {documents:?}"
    );
    let locators = all_locators(&files).len();
    assert!(locators > 200, "only {locators} locators found in the seed");
    let wrong = misplaced_locators(&files, &documents, &sections());
    assert!(
        wrong.is_empty(),
        "locators outside the source:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_paragraph_stating_a_fact_is_cited() {
    let uncited = uncited_paragraphs(&seed_files());
    assert!(
        uncited.is_empty(),
        "paragraphs that state a fact but no record cites:\n{}",
        uncited.join("\n")
    );
}

/// The two checks above on a made-up seed: locators are found wherever they sit (a
/// record's, a role's, a statement's), and each kind of misplacement is reported.
#[test]
fn the_locator_checks_find_what_is_wrong() {
    let at = |section: &str, paragraph: u64| serde_json::json!({"document": DOCUMENT, "section": section, "paragraph": paragraph});
    let files: BTreeMap<String, Value> = [(
        "people.json".to_owned(),
        serde_json::json!([{
            "id": "someone",
            "sources": [at("Russia", 7)],
            "roles": [{"title": "x", "sources": [at("Russia", 8)]}],
            "statements": [{"text": "y", "sources": [
                at("Tajikistan", 2),
                at("Foreign relations", 1),
                {"document": "elsewhere", "section": "Russia", "paragraph": 1},
                {"document": DOCUMENT, "section": "Russia"},
            ]}],
        }]),
    )]
    .into();
    let documents: BTreeSet<String> = [DOCUMENT.to_owned()].into();
    let wrong = misplaced_locators(&files, &documents, &sections());
    assert_eq!(wrong.len(), 4, "{wrong:#?}");
    for expected in [
        "people.json[someone].roles[0].sources[0]: Russia has 7 paragraphs, not a ¶8",
        "statements[0].sources[1]: Foreign relations has 0 paragraphs, not a ¶1",
        "statements[0].sources[2]: document \"elsewhere\" is not in seed/documents.json",
        "statements[0].sources: a locator needs a document, a section and a positive paragraph",
    ] {
        assert!(
            wrong.iter().any(|problem| problem.ends_with(expected)),
            "{expected:?} not in {wrong:#?}"
        );
    }
    let uncited = uncited_paragraphs(&files);
    assert!(uncited.iter().any(|text| text.starts_with("Russia ¶1:")));
    assert!(!uncited.iter().any(|text| text.starts_with("Russia ¶7:")));
    assert!(!uncited
        .iter()
        .any(|text| text.starts_with("Tajikistan ¶2:")));
    // A paragraph stating no fact is never required.
    assert!(!uncited.iter().any(|text| text.starts_with("OSCE ¶4:")));
}

/// The words of a text, lowercase, punctuation stripped: apostrophes vanish
/// ("Kyrgyzstan’s" is one word), every other mark separates words ("post-Soviet" is two).
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\'', '’', '‘'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How many consecutive words of the source a text may repeat.
const MAX_COPIED_WORDS: usize = 7;

/// The runs of `MAX_COPIED_WORDS + 1` or more consecutive words that `text` shares with a
/// paragraph of the source (longest runs, as text).
pub fn copied_runs(text: &str, source_grams: &HashSet<Vec<String>>) -> Vec<String> {
    let n = MAX_COPIED_WORDS + 1;
    let words = words(text);
    let mut runs = Vec::new();
    let mut start = 0;
    while start + n <= words.len() {
        if source_grams.contains(&words[start..start + n]) {
            let mut end = start + n;
            while end < words.len() && source_grams.contains(&words[end + 1 - n..=end]) {
                end += 1;
            }
            runs.push(words[start..end].join(" "));
            start = end;
        } else {
            start += 1;
        }
    }
    runs
}

/// Every string of editors' prose in the seed: summaries, statement texts, note
/// explanations and casualty notes, with where each was found.
fn prose(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            let here = match object.get("id").and_then(Value::as_str) {
                Some(id) => format!("{at}[{id}]"),
                None => at.to_owned(),
            };
            for (key, child) in object {
                match (key.as_str(), child) {
                    ("summary" | "text" | "explanation" | "note", Value::String(text)) => {
                        found.push((format!("{here}.{key}"), text.clone()));
                    }
                    _ => prose(child, &format!("{here}.{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let at = match item.get("id").and_then(Value::as_str) {
                    Some(_) => at.to_owned(),
                    None => format!("{at}[{index}]"),
                };
                prose(item, &at, found);
            }
        }
        _ => {}
    }
}

pub fn source_grams() -> HashSet<Vec<String>> {
    let n = MAX_COPIED_WORDS + 1;
    let mut grams = HashSet::new();
    for (_, _, text) in paragraphs() {
        let words = words(&text);
        for window in words.windows(n) {
            grams.insert(window.to_vec());
        }
    }
    grams
}

#[test]
fn the_copy_check_finds_a_copied_run_and_passes_a_paraphrase() {
    let grams = source_grams();
    // Eight words of Russia ¶4, case and punctuation changed, inside other words.
    let copied = "As it says: RUSSIA was allowed to establish an airbase... at Kant, near Bishkek!";
    assert_eq!(
        copied_runs(copied, &grams),
        ["russia was allowed to establish an airbase at kant near bishkek"]
    );
    // Seven words of it are allowed.
    let seven = "Russia was allowed to establish an airbase here";
    assert!(copied_runs(seven, &grams).is_empty());
    assert_eq!(
        words("Kyrgyzstan’s post-Soviet $500"),
        ["kyrgyzstans", "post", "soviet", "500"]
    );
}

#[test]
fn no_prose_of_the_seed_copies_eight_words_of_the_source() {
    let grams = source_grams();
    let mut texts = Vec::new();
    for (name, value) in seed_files() {
        prose(&value, &name, &mut texts);
    }
    assert!(texts.len() > 100, "only {} texts found", texts.len());
    let copies: Vec<String> = texts
        .iter()
        .flat_map(|(at, text)| {
            copied_runs(text, &grams)
                .into_iter()
                .map(move |run| format!("{at} copies {} words: \"{run}\"", run.split(' ').count()))
        })
        .collect();
    assert!(
        copies.is_empty(),
        "the seed's prose copies the source (say it in the editors' own words):\n{}",
        copies.join("\n")
    );
}

/// `seed/documents.json` lists the source's sections as the source has them: every
/// heading but the document's title, in order.
#[test]
fn the_document_record_lists_the_sections_of_the_source() {
    let files = seed_files();
    let documents = files
        .get("documents.json")
        .and_then(Value::as_array)
        .expect("seed/documents.json holds an array");
    let document = documents
        .iter()
        .find(|document| document["id"] == DOCUMENT)
        .unwrap_or_else(|| panic!("seed/documents.json has no `{DOCUMENT}`"));
    let sections: Vec<&str> = document["sections"]
        .as_array()
        .expect("a document lists its sections")
        .iter()
        .map(|section| section.as_str().expect("a section is a heading"))
        .collect();
    assert_eq!(sections, HEADINGS[1..]);
}
