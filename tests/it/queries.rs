//! Query behaviour: one `.graphql` file per case under `queries/`, its whole response
//! (data and errors) pinned as a JSON snapshot; and paging walked end to end.

use kyrgyz_relations::executor::CacheOutcome;
use serde_json::Value;

use crate::support::{execute, execute_text, TestApp};

/// Each query runs three times through the executor HTTP uses: twice with the response
/// cache on (the second answer, served from the cache when the first had no errors, is
/// the one pinned) and once with it off, and all three answers are the same.
#[test]
fn query_files_match_their_snapshots() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = TestApp::new();
    let uncached = crate::support::executor(&app.store, 0);
    let mut hits = 0;
    insta::glob!("queries/*.graphql", |path| {
        let query = std::fs::read_to_string(path).expect("query file reads");
        let (first, first_cache) = runtime.block_on(execute(&app.executor, &query));
        let (response, cache) = runtime.block_on(execute(&app.executor, &query));
        let (without_cache, off) = runtime.block_on(execute(&uncached, &query));
        let succeeded = first.get("errors").is_none();
        assert_eq!(first_cache, CacheOutcome::Miss, "{}", path.display());
        let expected = if succeeded {
            CacheOutcome::Hit
        } else {
            CacheOutcome::Miss
        };
        assert_eq!(cache, expected, "{}", path.display());
        assert_eq!(off, CacheOutcome::Off);
        assert_eq!(response, first, "{}: the cached answer", path.display());
        assert_eq!(
            response,
            without_cache,
            "{}: without the cache",
            path.display()
        );
        hits += usize::from(cache == CacheOutcome::Hit);
        // Whatever the snapshot says, the answer must fit the schema's types.
        crate::response_shape::check_answer(&query, &response);
        // Every error says whose mistake it is (`BAD_USER_INPUT`, `INTERNAL`, ...).
        for error in response["errors"].as_array().into_iter().flatten() {
            assert!(
                error["extensions"]["code"].is_string(),
                "{}: an error without a code: {error}",
                path.display()
            );
        }
        insta::assert_json_snapshot!(response);
    });
    assert!(
        hits >= 10,
        "only {hits} snapshot queries were answered from the cache"
    );
}

/// Pages through a root list with `first`/`after` (or `last`/`before`), returning the
/// values of `field` in the order the pages present them.
async fn walk(app: &TestApp, list: &str, field: &str, backward: bool, extra: &str) -> Vec<String> {
    let mut cursor: Option<String> = None;
    let mut pages: Vec<Vec<String>> = Vec::new();
    loop {
        let (size, position) = if backward {
            ("last", "before")
        } else {
            ("first", "after")
        };
        let from = cursor
            .as_ref()
            .map(|c| format!(", {position}: \"{c}\""))
            .unwrap_or_default();
        let query = format!(
            "{{ {list}({size}: 3{from}{extra}) {{ nodes {{ {field} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
        );
        let data = app.query(&query).await;
        let page = &data[list];
        let values: Vec<String> = page["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| node[field].as_str().expect("a string field").to_owned())
            .collect();
        let info = &page["pageInfo"];
        assert!(values.len() <= 3);
        let (more, continue_from, has_before) = if backward {
            (
                info["hasPreviousPage"] == true,
                &info["startCursor"],
                info["hasNextPage"] == true,
            )
        } else {
            (
                info["hasNextPage"] == true,
                &info["endCursor"],
                info["hasPreviousPage"] == true,
            )
        };
        assert_eq!(has_before, cursor.is_some(), "pageInfo on {query}: {info}");
        pages.push(values);
        if !more {
            break;
        }
        cursor = Some(continue_from.as_str().expect("a cursor").to_owned());
    }
    if backward {
        pages.reverse();
    }
    pages.concat()
}

async fn whole(app: &TestApp, list: &str, field: &str, extra: &str) -> Vec<String> {
    let data = app
        .query(&format!(
            "{{ {list}(first: 100{extra}) {{ totalCount nodes {{ {field} }} }} }}"
        ))
        .await;
    let nodes: Vec<String> = data[list]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node[field].as_str().expect("a string").to_owned())
        .collect();
    assert_eq!(data[list]["totalCount"], Value::from(nodes.len()));
    nodes
}

#[tokio::test]
async fn paging_forward_and_backward_visits_every_record_once_in_order() {
    let app = TestApp::new();
    for (list, field) in [
        ("countries", "name"),
        ("incidents", "slug"),
        ("facilities", "name"),
        ("agreements", "slug"),
    ] {
        for extra in ["", ", orderBy: {direction: DESC}"] {
            let all = whole(&app, list, field, extra).await;
            assert!(
                all.len() > 3,
                "{list} needs more than one page for this test"
            );
            assert_eq!(
                walk(&app, list, field, false, extra).await,
                all,
                "{list}{extra} forward"
            );
            assert_eq!(
                walk(&app, list, field, true, extra).await,
                all,
                "{list}{extra} backward"
            );
        }
    }
}

#[tokio::test]
async fn lists_are_in_their_documented_order() {
    let app = TestApp::new();
    let names = whole(&app, "countries", "name", "").await;
    let mut sorted = names.clone();
    sorted.sort_by_key(|name| name.to_lowercase());
    assert_eq!(names, sorted);
    let descending = whole(&app, "countries", "name", ", orderBy: {direction: DESC}").await;
    assert_eq!(descending, names.iter().rev().cloned().collect::<Vec<_>>());

    let data = app
        .query("{ incidents(first: 100) { nodes { occurredBounds { earliest latest } } } }")
        .await;
    let bounds: Vec<(String, String)> = data["incidents"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            let bounds = &node["occurredBounds"];
            // Undated incidents sort last; open bounds sort first (start) and last (end).
            let earliest =
                bounds["earliest"]
                    .as_str()
                    .unwrap_or(if bounds.is_null() { "~" } else { "" });
            let latest = bounds["latest"].as_str().unwrap_or("9999");
            (earliest.to_owned(), latest.to_owned())
        })
        .collect();
    let mut chronological = bounds.clone();
    chronological.sort();
    assert_eq!(
        bounds, chronological,
        "incidents are not in chronological order"
    );
}

#[tokio::test]
async fn a_cursor_stays_valid_when_records_are_added_before_it() {
    // The same list over a seed with one more country sorting before the cursor: the page
    // after the cursor is unchanged.
    let app = TestApp::new();
    let first = app
        .query("{ countries(first: 4) { pageInfo { endCursor } } }")
        .await;
    let cursor = first["countries"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let after = format!("{{ countries(first: 3, after: \"{cursor}\") {{ nodes {{ code }} }} }}");
    let before_change = app.query(&after).await;

    let seed = crate::support::seed_copy();
    crate::support::edit_seed(seed.path(), "countries.json", |countries| {
        let mut extra = countries[0].clone();
        extra["id"] = "aaland".into();
        extra["code"] = "AX".into();
        extra["name"] = "Aaland".into();
        countries.as_array_mut().expect("array").push(extra);
    });
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut options = kyrgyz_relations::app::Options::new(data_dir.path());
    options.seed_dir = Some(seed.path().to_owned());
    let opened = crate::support::open(&options);
    let grown = crate::support::executor(&opened.store, 0).schema().clone();
    let after_change = serde_json::to_value(grown.execute(after.as_str()).await).expect("json");
    assert_eq!(after_change["data"], before_change);
}

/// The `path`s of a response's errors, sorted.
fn error_paths(response: &Value) -> Vec<String> {
    let mut paths: Vec<String> = response["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["path"].to_string())
        .collect();
    paths.sort();
    paths
}

#[tokio::test]
async fn a_failed_field_is_null_and_a_non_null_one_nulls_its_nearest_nullable_parent() {
    let app = TestApp::new();
    let response = app
        .execute(
            r#"{
                a: node(id: "x") { id }
                kg: country(code: "KG") { name agreements(first: 1000) { totalCount } }
                tj: country(code: "TJ") { name }
            }"#,
        )
        .await;
    assert_eq!(
        response["data"],
        serde_json::json!({ "a": null, "kg": null, "tj": { "name": "Tajikistan" } }),
        "{response:#}"
    );
    assert_eq!(
        error_paths(&response),
        [r#"["a"]"#, r#"["kg","agreements"]"#],
        "one error per failed field: {response:#}"
    );

    // A non-null root field that fails leaves nothing to return: `data` is null.
    let response = app
        .execute(r#"{ countries(first: 101) { totalCount } kg: country(code: "KG") { name } }"#)
        .await;
    assert_eq!(response["data"], Value::Null, "{response:#}");
    assert_eq!(error_paths(&response), [r#"["countries"]"#]);

    // Deeper: a failure inside a list item nulls up to the nullable `country`.
    let response = app
        .execute(
            r#"{ country(code: "RU") { code agreements(first: 2) { nodes { title facilities(first: 500) { totalCount } } } } }"#,
        )
        .await;
    assert_eq!(
        response["data"],
        serde_json::json!({ "country": null }),
        "{response:#}"
    );
    assert_eq!(
        error_paths(&response),
        [
            r#"["country","agreements","nodes",0,"facilities"]"#,
            r#"["country","agreements","nodes",1,"facilities"]"#
        ]
    );
}

/// The executor answers queries on a twin of the schema without extensions, and runs a
/// request again on the schema itself when a field failed (`executor::hooks`): whatever
/// the request, clients must get what the schema itself answers. The twin also resolves
/// the records of pages field after field (`schema::serial`), which the schema with its
/// extension never does: aliases, repeated and merged selections, `__typename`,
/// fragments and directives on page records must come out as async-graphql's own path
/// gives them.
#[tokio::test]
async fn the_executor_answers_exactly_as_the_schema_does() {
    let app = TestApp::new();
    let nested = |levels: usize| {
        format!(
            "{{ {}__typename{} }}",
            "... on Query { ".repeat(levels),
            " }".repeat(levels)
        )
    };
    let documents = [
        // Data, with cursors (encoded when asked for).
        r#"{ country(code: "KG") { name agreements(first: 2) { nodes { title } edges { cursor } pageInfo { endCursor hasNextPage } } } }"#.to_owned(),
        // Nested deeper than async-graphql's own default check (32), within the guard's.
        nested(36),
        // Refused by the guard.
        nested(60),
        // Field errors, nulled as the spec says.
        r#"{ a: node(id: "x") { id } tj: country(code: "TJ") { name } }"#.to_owned(),
        r#"{ countries(first: 101) { totalCount } }"#.to_owned(),
        // Validation and syntax errors.
        "{ nope }".to_owned(),
        r#"{ country(code: "KG") { name }"#.to_owned(),
        // Page records: aliases, a key selected twice, one connection selected twice
        // with different fields (merged), `__typename`, in nodes and in edges.
        r#"{ country(code: "KG") { agreements(first: 3) {
            nodes { t: title title __typename title slug: id
                facilities(first: 2) { nodes { name slug } }
                facilities(first: 2) { nodes { kind name } totalCount } }
            edges { node { __typename n: title } cursor } } } }"#
            .to_owned(),
        // Fragments and directives on page records (async-graphql's own path), beside
        // plain ones.
        r#"query Q($yes: Boolean = true) { incidents(first: 4) { nodes {
            title ... on Incident { occurred kind } ...Parts
            summary @include(if: $yes) certainty @skip(if: $yes)
            facility { name } } } }
            fragment Parts on Incident { t: title countries(first: 2) { nodes { code } } }"#
            .to_owned(),
        // Unions and interfaces in pages.
        r#"{ search(text: "manas", first: 5) { nodes { __typename ... on Facility { name } ... on Agreement { title } } } }"#
            .to_owned(),
    ];
    let snapshot_queries = std::fs::read_dir("tests/it/queries")
        .expect("the snapshot queries")
        .map(|entry| std::fs::read_to_string(entry.expect("an entry").path()).expect("a query"));
    for document in documents.into_iter().chain(snapshot_queries) {
        // As text: the order of an object's keys is the order of its selections.
        let executed = execute_text(&app.executor, &document).await;
        let direct = serde_json::to_string(&app.schema.execute(document.as_str()).await)
            .expect("responses serialize");
        assert_eq!(executed, direct, "{document}");
    }
    // The deep document is answered, not refused.
    assert_eq!(
        app.query(&nested(36)).await,
        serde_json::json!({ "__typename": "Query" })
    );
}

/// A document valid by every rule of the specification has only its variables checked
/// (`executor::validation`), from the first request; variables the check is unsure of, or
/// refuses, go through async-graphql's strict validation. Whatever the variables, clients
/// must get what strict validation answers (for documents it gets right: the `validation`
/// module covers the ones it refuses wrongly).
#[tokio::test]
async fn requests_validated_fast_are_answered_as_strict_validation_answers_them() {
    use kyrgyz_relations::executor::{Answer, Validation};
    use serde_json::json;

    let app = TestApp::new();
    // The response cache off, so every request is validated.
    let executor = crate::support::executor(&app.store, 0);
    let run = |query: &'static str, operation: Option<&'static str>, variables: Value| {
        let (executor, schema) = (&executor, &app.schema);
        async move {
            let request = || {
                let mut request = async_graphql::Request::new(query)
                    .variables(async_graphql::Variables::from_json(variables.clone()));
                request.operation_name = operation.map(str::to_owned);
                request
            };
            let executed = executor.answer(request()).await.expect("answers serialize");
            let answer = match executed.answer {
                Answer::Body(body) => serde_json::from_slice(&body).expect("JSON"),
                Answer::Errors(response) => serde_json::to_value(&response).expect("JSON"),
            };
            let strict = serde_json::to_value(schema.execute(request()).await).expect("JSON");
            assert_eq!(answer, strict, "{query} {operation:?} {variables}");
            (answer, executed.validation)
        }
    };
    let dates = "query Dates($from: PartialDate, $to: PartialDate, $match: DateMatch!, $first: Int) {
        incidents(occurred: { from: $from, to: $to, match: $match }, first: $first) { totalCount nodes { slug } } }";
    let search = "query($text: String!) { search(text: $text, first: 3) { totalCount
        nodes { __typename ... on Country { name } ... on Incident { title } } } }";
    let two = "query A($code: String!) { country(code: $code) { name } }
        query B($id: ID!) { node(id: $id) { id } }";
    let defaulted = r#"query($text: String = "Manas") { search(text: $text) { totalCount } }"#;

    // A valid document with variables that pass their check: fast from the first request.
    let good = json!({ "from": "2005", "to": "2010", "match": "POSSIBLY_OVERLAPS", "first": 3 });
    assert_eq!(run(dates, None, good.clone()).await.1, Validation::Fast);
    assert_eq!(run(dates, None, good.clone()).await.1, Validation::Fast);
    assert_eq!(
        run(dates, Some("Dates"), good.clone()).await.1,
        Validation::Fast
    );
    // A null the check is unsure of: strict.
    assert_eq!(
        run(
            dates,
            None,
            json!({ "match": "CERTAINLY_WITHIN", "first": null })
        )
        .await
        .1,
        Validation::Strict
    );
    // Variables that strict validation refuses, or that fail as the argument is read,
    // after the document passed: each answered as strict validation answers it.
    for (variables, refused) in [
        (json!({ "match": "SOMETIMES" }), true),
        (
            json!({ "match": "CERTAINLY_WITHIN", "first": "three" }),
            true,
        ),
        (json!({ "match": "CERTAINLY_WITHIN", "first": 2.5 }), true),
        (json!({ "match": null }), true),
        (json!({ "from": "2005" }), true),
        (json!({ "match": "CERTAINLY_WITHIN", "from": "19x8" }), true),
        (json!({ "match": "CERTAINLY_WITHIN", "from": 1998 }), true),
        (json!({ "match": "CERTAINLY_WITHIN", "first": null }), false),
        (
            json!({ "match": "CERTAINLY_WITHIN", "unused": [1, 2] }),
            false,
        ),
    ] {
        let (answer, _) = run(dates, None, variables.clone()).await;
        assert_eq!(
            answer.get("errors").is_some(),
            refused,
            "{variables}: {answer}"
        );
    }
    assert_eq!(run(dates, None, good).await.1, Validation::Fast);
    // A bad variable in a field that is never resolved (its parent is null): only the
    // variables' check stands between it and an answer.
    let nested = "query($code: String!, $first: Int) {
        country(code: $code) { agreements(first: $first) { totalCount } } }";
    let (answer, _) = run(nested, None, json!({ "code": "KG", "first": 2 })).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let (answer, _) = run(nested, None, json!({ "code": "XX", "first": 2 })).await;
    assert_eq!(answer["data"], json!({ "country": null }), "{answer}");
    let (answer, validation) = run(nested, None, json!({ "code": "XX", "first": "two" })).await;
    assert!(answer.get("errors").is_some(), "{answer}");
    assert_eq!(validation, Validation::Strict);

    let (answer, validation) = run(search, None, json!({ "text": "kyrgyzstan" })).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(validation, Validation::Fast);
    assert_eq!(
        run(search, None, json!({ "text": "manas" })).await.1,
        Validation::Fast
    );
    let (answer, _) = run(search, None, json!({ "text": 5 })).await;
    assert!(answer.get("errors").is_some(), "{answer}");
    let (answer, _) = run(search, None, json!({ "text": null })).await;
    assert!(answer.get("errors").is_some(), "{answer}");

    // Operations by name, each fast with good variables; a request that picks none, or
    // one the document lacks, is refused as before.
    let (answer, _) = run(two, Some("A"), json!({ "code": "KG" })).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        run(two, Some("A"), json!({ "code": "KZ" })).await.1,
        Validation::Fast
    );
    assert_eq!(
        run(two, Some("B"), json!({ "id": "x" })).await.1,
        Validation::Fast
    );
    run(two, Some("B"), json!({ "id": null })).await;
    run(two, None, json!({ "code": "KG" })).await;
    run(two, Some("C"), json!({ "code": "KG" })).await;

    // A nullable variable with a default, where a null is refused: strict.
    run(defaulted, None, json!({})).await;
    assert_eq!(run(defaulted, None, json!({})).await.1, Validation::Fast);
    let (answer, validation) = run(defaulted, None, json!({ "text": null })).await;
    assert_eq!(validation, Validation::Strict, "{answer}");
}

/// The date-range filter skips records by their sort keys; it must keep exactly what
/// filtering every record by its date keeps, in both directions and both matching modes.
#[tokio::test]
async fn date_ranges_keep_exactly_the_incidents_whose_dates_match() {
    use kyrgyz_relations::model::{DateWindow, PartialDate};
    let app = TestApp::new();
    let all = app
        .query("{ incidents(first: 100) { nodes { slug occurred } } }")
        .await;
    let all: Vec<(String, Option<PartialDate>)> = all["incidents"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            let date = node["occurred"]
                .as_str()
                .map(|text| PartialDate::parse(text).expect("a stored date parses"));
            (node["slug"].as_str().expect("slug").to_owned(), date)
        })
        .collect();
    assert!(all.len() > 20, "the seed has the incidents this test needs");
    let windows = [
        (Some("2010"), Some("2010")),
        (Some("2005"), Some("2012-06")),
        (None, Some("2001")),
        (Some("2013-05"), None),
        (Some("1990"), Some("2030")),
    ];
    for (from, to) in windows {
        for (mode, certainly) in [("POSSIBLY_OVERLAPS", false), ("CERTAINLY_WITHIN", true)] {
            let window = DateWindow::between(
                from.map(|d| PartialDate::parse(d).expect("valid")).as_ref(),
                to.map(|d| PartialDate::parse(d).expect("valid")).as_ref(),
            );
            let expected: Vec<&str> = all
                .iter()
                .filter(|(_, date)| {
                    date.as_ref().is_some_and(|date| {
                        if certainly {
                            date.certainly_within(&window)
                        } else {
                            date.possibly_overlaps(&window)
                        }
                    })
                })
                .map(|(slug, _)| slug.as_str())
                .collect();
            let bound = |name: &str, value: Option<&str>| {
                value.map_or(String::new(), |value| format!("{name}: \"{value}\", "))
            };
            let range = format!("{}{}match: {mode}", bound("from", from), bound("to", to));
            for direction in ["ASC", "DESC"] {
                let data = app
                    .query(&format!(
                        "{{ incidents(first: 100, occurred: {{ {range} }}, orderBy: {{ field: OCCURRED, direction: {direction} }}) {{ totalCount nodes {{ slug }} }} }}"
                    ))
                    .await;
                let mut found: Vec<&str> = data["incidents"]["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .map(|node| node["slug"].as_str().expect("slug"))
                    .collect();
                // The same list two at a time, following the cursors: the pages' seams fall
                // inside and between the parts a date range is read in.
                let mut paged: Vec<String> = Vec::new();
                let mut after = String::new();
                loop {
                    let page = app
                        .query(&format!(
                            "{{ incidents(first: 2, {after}occurred: {{ {range} }}, orderBy: {{ field: OCCURRED, direction: {direction} }}) {{ nodes {{ slug }} pageInfo {{ hasNextPage endCursor }} }} }}"
                        ))
                        .await;
                    let connection = &page["incidents"];
                    paged.extend(
                        connection["nodes"]
                            .as_array()
                            .expect("nodes")
                            .iter()
                            .map(|node| node["slug"].as_str().expect("slug").to_owned()),
                    );
                    if connection["pageInfo"]["hasNextPage"] != true {
                        break;
                    }
                    let cursor = connection["pageInfo"]["endCursor"]
                        .as_str()
                        .expect("cursor");
                    after = format!("after: \"{cursor}\", ");
                }
                assert_eq!(paged, found, "{range} {direction}, by pages of two");
                if direction == "DESC" {
                    found.reverse();
                }
                assert_eq!(found, expected, "{range} {direction}");
                assert_eq!(data["incidents"]["totalCount"], expected.len(), "{range}");
            }
        }
    }
}
