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

/// Appends `item` to the list `field` of a record, creating the list when it is absent.
fn push(record: &mut serde_json::Value, field: &str, item: serde_json::Value) {
    let object = record.as_object_mut().expect("records are objects");
    object
        .entry(field)
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("a list")
        .push(item);
}

#[test]
fn a_note_on_a_field_the_record_type_lacks_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "agreements.json", |agreements| {
        push(
            record(agreements, "manas-lease"),
            "notes",
            json!({"field": "landingFees.amount", "basis": "DERIVED", "explanation": "made up"}),
        );
    });
    assert_one(
        &problems(dir.path()),
        "agreements.json",
        Some("manas-lease"),
        "`landingFees.amount` names no field of this record type",
    );
}

#[test]
fn a_note_without_an_explanation_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "people.json", |people| {
        push(
            record(people, "james-mattis"),
            "notes",
            json!({"field": "roles.title", "basis": "GENERAL_KNOWLEDGE", "explanation": " "}),
        );
    });
    assert_one(
        &problems(dir.path()),
        "people.json",
        Some("james-mattis"),
        "the note on `roles.title` has no explanation",
    );
}

#[test]
fn a_statement_by_a_record_that_does_not_exist_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "agreements.json", |agreements| {
        push(
            record(agreements, "manas-lease"),
            "statements",
            json!({
                "kind": "POSITION",
                "by": {"person": "nobody-at-all"},
                "text": "Wanted the base kept.",
                "sources": [{"document": "kyrgyzstan-foreign-relations", "section": "Military relations with other states", "paragraph": 4}]
            }),
        );
    });
    assert_one(
        &problems(dir.path()),
        "agreements.json",
        Some("manas-lease"),
        "field `statements.by.person`: no person has id `nobody-at-all`",
    );
}

#[test]
fn a_statement_without_a_source_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "countries.json", |countries| {
        push(
            record(countries, "russia"),
            "statements",
            json!({"kind": "CLAIM", "by": {"country": "russia"}, "text": "Said something."}),
        );
    });
    assert_one(
        &problems(dir.path()),
        "countries.json",
        Some("russia"),
        "every statement cites at least one source",
    );
}

#[test]
fn a_link_to_an_incident_that_does_not_exist_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "incidents.json", |incidents| {
        push(
            record(incidents, "osce-ethics-workshop-2012"),
            "links",
            json!({"kind": "CAUSED_BY", "incident": "no-such-incident"}),
        );
    });
    assert_one(
        &problems(dir.path()),
        "incidents.json",
        Some("osce-ethics-workshop-2012"),
        "field `links.incident`: no incident has id `no-such-incident`",
    );
}

#[test]
fn a_link_the_linked_incident_does_not_state_back_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "incidents.json", |incidents| {
        push(
            record(incidents, "osce-ethics-workshop-2012"),
            "links",
            json!({"kind": "PART_OF", "incident": "kozhara-central-asia-visit-2013"}),
        );
    });
    assert_one(
        &problems(dir.path()),
        "incidents.json",
        Some("osce-ethics-workshop-2012"),
        "`kozhara-central-asia-visit-2013` has no `INCLUDES` link back",
    );

    // Stated back with the inverse kind, it is valid.
    edit_seed(dir.path(), "incidents.json", |incidents| {
        push(
            record(incidents, "kozhara-central-asia-visit-2013"),
            "links",
            json!({"kind": "INCLUDES", "incident": "osce-ethics-workshop-2012"}),
        );
    });
    let dataset = SeedSource::from_dir(dir.path())
        .expect("the directory exists")
        .validate()
        .unwrap_or_else(|error| panic!("{error}"));
    let workshop = dataset
        .incidents
        .iter()
        .find(|incident| incident.id == "osce-ethics-workshop-2012")
        .expect("the workshop");
    assert!(workshop
        .links
        .iter()
        .any(|link| link.incident == "kozhara-central-asia-visit-2013"));
}

#[test]
fn a_link_of_an_incident_to_itself_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "incidents.json", |incidents| {
        let workshop = record(incidents, "osce-ethics-workshop-2012");
        push(
            workshop,
            "links",
            json!({"kind": "FOLLOWS", "incident": "osce-ethics-workshop-2012"}),
        );
        push(
            workshop,
            "links",
            json!({"kind": "FOLLOWED_BY", "incident": "osce-ethics-workshop-2012"}),
        );
    });
    let problems = problems(dir.path());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems
        .iter()
        .all(|problem| problem.message.contains("does not link to itself")));
}

#[test]
fn casualties_of_a_side_that_is_no_country_are_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "incidents.json", |incidents| {
        push(
            record(incidents, "osce-ethics-workshop-2012"),
            "casualtiesBySide",
            json!({"country": "atlantis", "killed": {"exact": 1, "certainty": "REPORTED"}, "injured": null}),
        );
    });
    assert_one(
        &problems(dir.path()),
        "incidents.json",
        Some("osce-ethics-workshop-2012"),
        "field `casualtiesBySide.country`: no country has id `atlantis`",
    );
}

#[test]
fn a_source_naming_no_document_of_documents_json_is_reported() {
    for (file, id, field) in [
        ("countries.json", "russia", "sources"),
        ("people.json", "james-mattis", "roles.sources"),
        ("incidents.json", "june-2010-riots", "statements.sources"),
    ] {
        let dir = seed_copy();
        let locator = json!({"document": "some-other-book", "section": "Russia", "paragraph": 1});
        edit_seed(dir.path(), file, |records| {
            let record = record(records, id);
            match field {
                "sources" => record["sources"][0] = locator,
                "roles.sources" => {
                    record["roles"][0]["sources"] = json!([locator]);
                }
                _ => push(
                    record,
                    "statements",
                    json!({"kind": "REASON", "text": "A reason.", "sources": [locator]}),
                ),
            }
        });
        assert_one(
            &problems(dir.path()),
            file,
            Some(id),
            &format!("field `{field}`: no document of documents.json has id `some-other-book`"),
        );
    }
}

#[test]
fn an_invalid_source_document_is_reported() {
    let dir = seed_copy();
    edit_seed(dir.path(), "documents.json", |documents| {
        record(documents, "kyrgyzstan-foreign-relations")["asOf"] = json!("2013-13");
    });
    assert_one(
        &problems(dir.path()),
        "documents.json",
        Some("kyrgyzstan-foreign-relations"),
        "field `asOf`",
    );

    let dir = seed_copy();
    edit_seed(dir.path(), "documents.json", |documents| {
        let copy = documents[0].clone();
        documents.as_array_mut().expect("array").push(copy);
    });
    assert_one(
        &problems(dir.path()),
        "documents.json",
        Some("kyrgyzstan-foreign-relations"),
        "duplicate id",
    );
}

#[test]
fn a_missing_documents_file_is_reported_once() {
    let dir = seed_copy();
    std::fs::remove_file(dir.path().join("documents.json")).expect("removes");
    // Its locators go unchecked rather than reported one by one.
    assert_one(
        &problems(dir.path()),
        "documents.json",
        None,
        "cannot be read",
    );
}

#[test]
fn the_fields_notes_may_name_are_fields_of_the_record_types() {
    let sdl = kyrgyz_relations::schema::sdl();
    for (type_name, fields) in [
        ("Country", kyrgyz_relations::seed::COUNTRY_FIELDS),
        ("Organization", kyrgyz_relations::seed::ORGANIZATION_FIELDS),
        ("Person", kyrgyz_relations::seed::PERSON_FIELDS),
        ("Agreement", kyrgyz_relations::seed::AGREEMENT_FIELDS),
        ("Facility", kyrgyz_relations::seed::FACILITY_FIELDS),
        ("Incident", kyrgyz_relations::seed::INCIDENT_FIELDS),
    ] {
        let start = sdl
            .find(&format!("\ntype {type_name} implements Node"))
            .unwrap_or_else(|| panic!("no type {type_name}"));
        let body = &sdl[start..];
        let body = &body[..body.find("\n}").expect("the type ends")];
        // A field's line: one tab in, outside the descriptions' `"""` blocks.
        let mut in_description = false;
        let mut declared: Vec<&str> = Vec::new();
        for line in body.lines().skip(1) {
            if line.trim() == "\"\"\"" {
                in_description = !in_description;
                continue;
            }
            let Some(field) = line.strip_prefix('\t') else {
                continue;
            };
            if in_description || field.starts_with(['\t', '"', ' ', ')']) {
                continue;
            }
            if let Some(name) = field.split(['(', ':']).next() {
                declared.push(name);
            }
        }
        let mut expected: Vec<&str> = fields.to_vec();
        expected.sort_unstable();
        let mut declared_sorted: Vec<&str> = declared
            .into_iter()
            .filter(|name| *name != "notes")
            .collect();
        declared_sorted.sort_unstable();
        assert_eq!(expected, declared_sorted, "{type_name}");
    }
}

#[test]
fn the_source_documents_are_stored_and_every_locator_names_one() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let opened = crate::support::open(&kyrgyz_relations::app::Options::new(data.path()));
    let documents = opened.store.source_documents().expect("reads");
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(documents[0].id, "kyrgyzstan-foreign-relations");
    assert_eq!(documents[0].as_of.as_str(), "2013-39");
    assert_eq!(
        opened
            .store
            .source_document("kyrgyzstan-foreign-relations")
            .expect("reads")
            .map(|document| document.title),
        Some(documents[0].title.clone())
    );
    assert_eq!(opened.store.source_document("nope").expect("reads"), None);
    assert_eq!(
        opened.store.verify().expect("verifies"),
        Vec::<String>::new()
    );
}
