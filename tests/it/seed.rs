//! Seed validation: one broken copy of the real seed per class of error, each reported
//! with its file and record, all problems of a seed at once.

use kyrgyz_relations::seed::{Problem, SeedError, SeedSource};
use serde_json::json;

use crate::support::{edit_seed, record, seed_copy};

fn problems(dir: &std::path::Path) -> Vec<Problem> {
    match SeedSource::from_dir(dir)
        .expect("the directory exists")
        .validate()
    {
        Ok(_) => panic!("the broken seed was accepted"),
        Err(SeedError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Asserts exactly one problem, in `file`, for `record`, whose message contains `text`.
fn assert_one(problems: &[Problem], file: &str, record: Option<&str>, text: &str) {
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = &problems[0];
    assert_eq!(problem.file, file);
    assert_eq!(problem.record.as_deref(), record);
    assert!(
        problem.message.contains(text),
        "`{}` lacks `{text}`",
        problem.message
    );
    let shown = problem.to_string();
    assert!(shown.starts_with(file), "{shown}");
    if let Some(record) = record {
        assert!(shown.contains(record), "{shown}");
    }
}

#[test]
fn the_repository_seed_is_valid() {
    let dataset = SeedSource::from_dir(&crate::support::seed_dir())
        .expect("seed dir")
        .validate()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(dataset.record_count() > 100);
}

#[test]
fn malformed_json_is_reported_with_line_and_column() {
    let dir = seed_copy();
    let path = dir.path().join("facilities.json");
    let text = std::fs::read_to_string(&path).expect("reads");
    let broken = text.replacen("\"kind\": \"AIR_BASE\",", "\"kind\": \"AIR_BASE\"", 1);
    std::fs::write(&path, broken).expect("writes");
    let problems = problems(dir.path());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let (line, column) = problems[0].line_column.expect("a position");
    assert!(line > 1 && column > 0);
    assert!(
        problems[0]
            .to_string()
            .starts_with(&format!("facilities.json:{line}:{column}: ")),
        "{}",
        problems[0]
    );
}

#[test]
fn an_unknown_field_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "countries.json", |countries| {
        record(countries, "russia")["population"] = json!(144);
    });
    assert_one(
        &problems(dir.path()),
        "countries.json",
        Some("russia"),
        "unknown field `population`",
    );
}

#[test]
fn a_missing_field_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "agreements.json", |agreements| {
        record(agreements, "manas-lease")
            .as_object_mut()
            .expect("object")
            .remove("status");
    });
    assert_one(
        &problems(dir.path()),
        "agreements.json",
        Some("manas-lease"),
        "missing field `status`",
    );
}

#[test]
fn a_duplicate_id_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "people.json", |people| {
        let copy = record(people, "james-mattis").clone();
        people.as_array_mut().expect("array").push(copy);
    });
    assert_one(
        &problems(dir.path()),
        "people.json",
        Some("james-mattis"),
        "duplicate id",
    );
}

#[test]
fn a_dangling_reference_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "agreements.json", |agreements| {
        record(agreements, "manas-lease")["parties"] = json!(["kyrgyzstan", "atlantis"]);
    });
    assert_one(
        &problems(dir.path()),
        "agreements.json",
        Some("manas-lease"),
        "no country has id `atlantis`",
    );
}

#[test]
fn an_invalid_date_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "incidents.json", |incidents| {
        record(incidents, "aksay-border-incident-2013")["occurred"] = json!("2013-02-30");
    });
    assert_one(
        &problems(dir.path()),
        "incidents.json",
        Some("aksay-border-incident-2013"),
        "field `occurred`: invalid date `2013-02-30`",
    );
}

#[test]
fn an_unknown_enum_value_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "facilities.json", |facilities| {
        record(facilities, "kant-air-base")["kind"] = json!("SPACEPORT");
    });
    assert_one(
        &problems(dir.path()),
        "facilities.json",
        Some("kant-air-base"),
        "unknown variant `SPACEPORT`",
    );
}

#[test]
fn a_missing_file_is_reported() {
    let dir = seed_copy();
    std::fs::remove_file(dir.path().join("people.json")).expect("removes");
    let problems = problems(dir.path());
    // Without people.json, the incidents and roles that name people also dangle.
    assert!(problems.iter().any(|p| p.file == "people.json"
        && p.record.is_none()
        && p.message.contains("cannot be read")));
}

#[test]
fn every_problem_is_listed_at_once() {
    let dir = seed_copy();
    edit_seed(dir.path(), "countries.json", |countries| {
        record(countries, "russia")["code"] = json!("RUS");
    });
    edit_seed(dir.path(), "incidents.json", |incidents| {
        record(incidents, "ferghana-clashes-2013")["participants"] =
            json!({"low": 999, "high": 200});
        record(incidents, "june-2010-riots")["kind"] = json!("PARTY");
    });
    edit_seed(dir.path(), "facilities.json", |facilities| {
        record(facilities, "kant-air-base")["partOf"] = json!("nowhere");
    });
    let problems = problems(dir.path());
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 4, "{shown:#?}");
    for (file, record) in [
        ("countries.json", "russia"),
        ("incidents.json", "ferghana-clashes-2013"),
        ("incidents.json", "june-2010-riots"),
        ("facilities.json", "kant-air-base"),
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.file == file && p.record.as_deref() == Some(record)),
            "no problem for {file} {record}: {shown:#?}"
        );
    }
}
