//! The source's facts (in the test's own words: never eight consecutive words of the
//! source), reached through the API's fields and filters rather than through
//! `summary` prose: `facts/facts.json` lists them paragraph by paragraph, each with its
//! locator, a query and what the answer must hold; the facts that are prose by nature are
//! listed there as exceptions, each with its reason.
//!
//! An expectation is `{"at": JSON pointer into data, OP: value}` with OP one of
//! - `equals`: the value at `at` is exactly this;
//! - `matches`: the value at `at` matches this pattern;
//! - `contains`: the value at `at` is a list with an element matching this pattern;
//! - `lacks`: the value at `at` is a list with no element matching this pattern.
//!
//! A pattern matches a value when: an object pattern's every key matches the value's
//! (other keys of the value are ignored); a list pattern's elements match the value's
//! one to one; a string pattern starting with `~` is a case-insensitive piece of the
//! value's string (for the editors' wording of a statement: a key word, never more);
//! anything else is equal. A query may spread `...Speaker` inside `by { }`: the fragment
//! selecting the speaker's `__typename` and `code` or `slug` is added.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::source::{copied_runs, fact_paragraphs, paragraphs, source_grams};
use crate::support::TestApp;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactFile {
    /// What the file is, for its readers.
    about: String,
    facts: Vec<Fact>,
    exceptions: Vec<Exception>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Locator {
    section: String,
    paragraph: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fact {
    id: String,
    source: Locator,
    /// The fact, in the test's own words.
    fact: String,
    query: String,
    expect: Vec<Expectation>,
}

/// What to check at a place of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Equals,
    Matches,
    Contains,
    Lacks,
}

/// One expectation: `at` and exactly one operation with its value (`null` included,
/// which is why this is not a plain derived struct of options).
#[derive(Debug, Deserialize)]
#[serde(try_from = "serde_json::Map<String, Value>")]
struct Expectation {
    at: String,
    operation: Operation,
    value: Value,
}

impl TryFrom<serde_json::Map<String, Value>> for Expectation {
    type Error = String;

    fn try_from(mut map: serde_json::Map<String, Value>) -> Result<Self, String> {
        let at = match map.remove("at") {
            Some(Value::String(at)) => at,
            _ => return Err(format!("an expectation needs `at`: {map:?}")),
        };
        let mut operations = map.into_iter();
        let (Some((name, value)), None) = (operations.next(), operations.next()) else {
            return Err(format!(
                "the expectation at {at} needs exactly one of equals, matches, contains, lacks"
            ));
        };
        let operation = match name.as_str() {
            "equals" => Operation::Equals,
            "matches" => Operation::Matches,
            "contains" => Operation::Contains,
            "lacks" => Operation::Lacks,
            other => {
                return Err(format!(
                    "the expectation at {at}: unknown operation `{other}`"
                ))
            }
        };
        Ok(Expectation {
            at,
            operation,
            value,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exception {
    id: String,
    source: Locator,
    fact: String,
    reason: String,
}

const SPEAKER: &str = "fragment Speaker on Speaker { __typename \
     ... on Country { code } ... on Organization { slug } ... on Person { slug } }";

fn load() -> FactFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/facts/facts.json");
    let text = std::fs::read_to_string(&path).expect("tests/it/facts/facts.json reads");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("facts.json: {error}"))
}

/// Whether `value` matches `pattern` (see the module's documentation).
fn matches(value: &Value, pattern: &Value) -> bool {
    match (pattern, value) {
        (Value::Object(pattern), Value::Object(value)) => pattern
            .iter()
            .all(|(key, pattern)| matches(value.get(key).unwrap_or(&Value::Null), pattern)),
        (Value::Array(pattern), Value::Array(value)) => {
            pattern.len() == value.len()
                && pattern
                    .iter()
                    .zip(value)
                    .all(|(pattern, value)| matches(value, pattern))
        }
        (Value::String(pattern), Value::String(value)) if pattern.starts_with('~') => {
            value.to_lowercase().contains(&pattern[1..].to_lowercase())
        }
        (pattern, value) => pattern == value,
    }
}

/// What is wrong with `data` by `expectation`, if anything.
fn check(data: &Value, expectation: &Expectation) -> Option<String> {
    let at = &expectation.at;
    let Some(value) = data.pointer(at) else {
        return Some(format!("nothing at {at}"));
    };
    let expected = &expectation.value;
    let shown = serde_json::to_string(value).unwrap_or_default();
    let any = |value: &Value| {
        value
            .as_array()
            .map(|items| items.iter().any(|item| matches(item, expected)))
    };
    match expectation.operation {
        Operation::Equals if value != expected => {
            Some(format!("{at} is {shown} instead of {expected}"))
        }
        Operation::Matches if !matches(value, expected) => {
            Some(format!("{at} is {shown}, not matching {expected}"))
        }
        Operation::Contains if any(value) != Some(true) => {
            Some(format!("{at} is {shown}, without {expected}"))
        }
        Operation::Lacks if any(value) != Some(false) => {
            Some(format!("{at} is {shown}, with {expected}"))
        }
        _ => None,
    }
}

#[test]
fn the_matcher_reads_patterns_as_documented() {
    let value = serde_json::json!({"a": [{"kind": "REASON", "text": "No Rent paid", "x": 1}]});
    assert!(matches(
        &value,
        &serde_json::json!({"a": [{"kind": "REASON"}]})
    ));
    assert!(matches(
        &value,
        &serde_json::json!({"a": [{"text": "~rent"}]})
    ));
    assert!(!matches(
        &value,
        &serde_json::json!({"a": [{"text": "rent"}]})
    ));
    assert!(!matches(&value, &serde_json::json!({"a": []})));
    assert!(!matches(&value, &serde_json::json!({"a": [{"y": 1}]})));
    assert!(matches(&value, &serde_json::json!({"a": [{"y": null}]})));
    let at = |op: &str, pattern: Value| -> Expectation {
        let mut expectation = serde_json::json!({"at": "/a"});
        expectation[op] = pattern;
        serde_json::from_value(expectation).expect("an expectation")
    };
    assert!(check(&value, &at("contains", serde_json::json!({"x": 1}))).is_none());
    assert!(check(&value, &at("contains", serde_json::json!({"x": 2}))).is_some());
    assert!(check(&value, &at("lacks", serde_json::json!({"x": 2}))).is_none());
    assert!(check(&value, &at("lacks", serde_json::json!({"x": 1}))).is_some());
    assert!(check(&value, &at("equals", serde_json::json!([]))).is_some());
    assert!(check(&serde_json::json!({}), &at("matches", Value::Null)).is_some());
    assert!(check(&serde_json::json!({"a": null}), &at("equals", Value::Null)).is_none());
    assert!(check(&serde_json::json!({"a": 1}), &at("equals", Value::Null)).is_some());
    let two: Result<Expectation, _> =
        serde_json::from_value(serde_json::json!({"at": "/a", "equals": 1, "lacks": 2}));
    assert!(two.is_err());
}

/// The file's own rules: unique ids, locators of fact-stating paragraphs, queries that
/// do not lean on `summary`, a reason for every exception, and every fact-stating
/// paragraph of the source holding at least one fact or exception.
#[test]
fn the_facts_cover_every_paragraph_stating_a_fact() {
    let file = load();
    let stating: BTreeSet<(String, u32)> = fact_paragraphs()
        .into_iter()
        .map(|(section, number)| (section.to_owned(), number))
        .collect();
    let all: BTreeSet<(String, u32)> = paragraphs()
        .into_iter()
        .map(|(section, number, _)| (section.to_owned(), number))
        .collect();
    let grams = source_grams();
    let mut ids = BTreeSet::new();
    let mut covered = BTreeSet::new();
    let mut problems = Vec::new();
    let mut locate = |id: &str, source: &Locator, problems: &mut Vec<String>| {
        let key = (source.section.clone(), source.paragraph);
        if !all.contains(&key) {
            problems.push(format!("{id}: {} ¶{} is not in the source", key.0, key.1));
        } else if !stating.contains(&key) {
            problems.push(format!(
                "{id}: {} ¶{} states no fact (source::NO_FACT)",
                key.0, key.1
            ));
        }
        covered.insert(key);
    };
    for fact in &file.facts {
        if !ids.insert(fact.id.clone()) {
            problems.push(format!("{}: the id is repeated", fact.id));
        }
        locate(&fact.id, &fact.source, &mut problems);
        if fact.fact.trim().is_empty() || fact.expect.is_empty() {
            problems.push(format!("{}: needs its wording and an expectation", fact.id));
        }
        for run in copied_runs(&fact.fact, &grams) {
            problems.push(format!(
                "{}: copies the source (\"{run}\"): say it in other words",
                fact.id
            ));
        }
        if fact.query.contains("summary") {
            problems.push(format!(
                "{}: a fact is reached by a field, not `summary`",
                fact.id
            ));
        }
    }
    for exception in &file.exceptions {
        if !ids.insert(exception.id.clone()) {
            problems.push(format!("{}: the id is repeated", exception.id));
        }
        locate(&exception.id, &exception.source, &mut problems);
        for run in copied_runs(&exception.fact, &grams) {
            problems.push(format!(
                "{}: copies the source (\"{run}\"): say it in other words",
                exception.id
            ));
        }
        if exception.fact.trim().is_empty() || exception.reason.trim().len() < 20 {
            problems.push(format!(
                "{}: an exception needs its fact and a reason",
                exception.id
            ));
        }
    }
    for (section, number) in &stating {
        if !covered.contains(&(section.clone(), *number)) {
            problems.push(format!(
                "{section} ¶{number} states a fact, but no fact or exception cites it"
            ));
        }
    }
    if file.about.trim().is_empty() {
        problems.push("`about` says what the file is".to_owned());
    }
    assert!(problems.is_empty(), "facts.json:\n{}", problems.join("\n"));
    assert!(
        file.facts.len() >= 100,
        "only {} facts are reached by fields (at least 100 must be)",
        file.facts.len()
    );
    assert!(
        file.exceptions.len() * 5 <= file.facts.len(),
        "{} exceptions for {} facts: prose by nature should be the exception",
        file.exceptions.len(),
        file.facts.len()
    );
}

/// Runs every fact's query and checks every expectation, reporting all failures at once.
#[test]
fn every_fact_is_reached_by_a_field_or_a_filter() {
    let file = load();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = TestApp::new();
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for fact in &file.facts {
        let mut query = fact.query.clone();
        if query.contains("...Speaker") {
            query.push(' ');
            query.push_str(SPEAKER);
        }
        let response = runtime.block_on(app.execute(&query));
        let label = format!(
            "{} ({} ¶{}: {})",
            fact.id, fact.source.section, fact.source.paragraph, fact.fact
        );
        if let Some(errors) = response.get("errors") {
            failures
                .entry(label)
                .or_default()
                .push(format!("the query fails: {errors}"));
            continue;
        }
        let data = &response["data"];
        for expectation in &fact.expect {
            if let Some(problem) = check(data, expectation) {
                failures.entry(label.clone()).or_default().push(problem);
            }
        }
    }
    let shown: Vec<String> = failures
        .iter()
        .map(|(fact, problems)| format!("{fact}\n    {}", problems.join("\n    ")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} facts are not reached as the source states them:\n{}",
        failures.len(),
        file.facts.len(),
        shown.join("\n")
    );
}
