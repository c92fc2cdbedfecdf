//! Hostile queries: each class is refused quickly with a clear error, and normal queries
//! are still answered meanwhile.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::TestApp;

/// Asserts the query is refused by the guard with a message containing `text`.
async fn assert_refused(app: &TestApp, query: &str, text: &str) {
    let started = Instant::now();
    let response = app.execute(query).await;
    let elapsed = started.elapsed();
    assert!(
        response["data"].is_null(),
        "not refused: {}",
        &response.to_string()[..200.min(response.to_string().len())]
    );
    let error = &response["errors"][0];
    let message = error["message"].as_str().expect("a message");
    assert!(message.contains(text), "`{message}` lacks `{text}`");
    assert_eq!(error["extensions"]["code"], "QUERY_TOO_COMPLEX", "{error}");
    // Generous for a debug build on a loaded machine; a bomb left unchecked takes minutes.
    assert!(elapsed < Duration::from_secs(2), "refusal took {elapsed:?}");
}

fn fragment_bomb(levels: usize, fan_out: usize) -> String {
    let mut bomb = String::from("query Bomb { ...F0 }\n");
    for level in 0..levels {
        let spreads = format!("...F{} ", level + 1).repeat(fan_out);
        bomb.push_str(&format!("fragment F{level} on Query {{ {spreads} }}\n"));
    }
    bomb.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    bomb
}

#[tokio::test]
async fn each_class_of_hostile_query_is_refused() {
    let app = TestApp::new();
    let nest = |open: &str, close: &str, n: usize| format!("{}{}", open.repeat(n), close.repeat(n));
    let deep_selection = format!("{{ countries {{ nodes {} }} }}", nest("{ a ", "}", 60));
    assert_refused(&app, &deep_selection, "nests brackets").await;
    let deep_list = format!("{{ nodes(ids: {}) {{ id }} }}", nest("[", "]", 2000));
    assert_refused(&app, &deep_list, "nests brackets").await;
    let deep_object = format!(
        "{{ incidents(occurred: {}) {{ totalCount }} }}",
        nest("{a: ", "}", 1500)
    );
    assert_refused(&app, &deep_object, "nests brackets").await;
    let aliases = format!(
        "{{ {} }}",
        (0..500)
            .map(|i| format!("t{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_refused(&app, &aliases, "aliased").await;
    assert_refused(
        &app,
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "cycle",
    )
    .await;
    let chain: String = (0..100)
        .map(|i| format!("fragment C{i} on Query {{ ...C{} }}\n", i + 1))
        .collect();
    assert_refused(
        &app,
        &format!("query {{ ...C0 }}\n{chain}fragment C100 on Query {{ __typename }}"),
        "fragments",
    )
    .await;
    assert_refused(&app, &fragment_bomb(10, 8), "expands").await;
    assert_refused(
        &app,
        &format!("{{ __typename {} }}", "@include(if: true) ".repeat(100)),
        "directives",
    )
    .await;
    let ids = vec!["\"x\""; 1000].join(",");
    assert_refused(
        &app,
        &format!("{{ nodes(ids: [{ids}]) {{ id }} }}"),
        "list argument",
    )
    .await;
    let operations: String = (0..50)
        .map(|i| format!("query Q{i} {{ __typename }} "))
        .collect();
    assert_refused(&app, &operations, "operations").await;
    let huge_pages = "{ countries(first: 100) { nodes { agreements(first: 100) { nodes { facilities(first: 100) { nodes { incidents(first: 100) { nodes { title } } } } } } } } }";
    assert_refused(&app, huge_pages, "records").await;

    let request = async_graphql::Request::new("query($v: [String!]) { __typename }").variables(
        async_graphql::Variables::from_json(serde_json::json!({ "v": vec!["x"; 5000] })),
    );
    let response = serde_json::to_value(app.schema.execute(request).await).expect("json");
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );

    let mut nested = serde_json::json!(1);
    for _ in 0..100 {
        nested = serde_json::json!([nested]);
    }
    let request = async_graphql::Request::new("query($v: Int) { __typename }").variables(
        async_graphql::Variables::from_json(serde_json::json!({ "v": nested })),
    );
    let response = serde_json::to_value(app.schema.execute(request).await).expect("json");
    assert!(response["errors"][0]["message"]
        .as_str()
        .expect("message")
        .contains("variables nest"));
}

#[tokio::test]
async fn realistic_queries_and_graphiql_introspection_are_admitted() {
    let app = TestApp::new();
    let introspection = include_str!("introspection.graphql");
    let data = app.query(introspection).await;
    assert!(data["__schema"]["types"].as_array().expect("types").len() > 40);
    let path = "{ countries(first: 20) { nodes { name agreements(first: 20) { nodes { title facilities(first: 20) { nodes { name incidents(first: 20) { nodes { title occurred } } } } } } } } }";
    let data = app.query(path).await;
    assert!(data.to_string().contains("Kant Air Base"));
}

#[test]
fn a_normal_query_is_answered_promptly_while_bombs_are_refused() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = std::sync::Arc::new(TestApp::new());
    runtime.block_on(async {
        let bombs: Vec<_> = (0..2)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move {
                    for _ in 0..20 {
                        let response = app.execute(&fragment_bomb(12, 4)).await;
                        assert_eq!(
                            response["errors"][0]["extensions"]["code"],
                            "QUERY_TOO_COMPLEX"
                        );
                    }
                })
            })
            .collect();
        let started = Instant::now();
        let data = app
            .query(r#"{ country(code: "RU") { agreements { nodes { title } } } }"#)
            .await;
        let elapsed = started.elapsed();
        assert!(data["country"]["agreements"]["nodes"]
            .as_array()
            .is_some_and(|nodes| !nodes.is_empty()));
        assert!(
            elapsed < Duration::from_secs(2),
            "a normal query took {elapsed:?} beside two bombs"
        );
        for bomb in bombs {
            bomb.await.expect("the bomb task finishes");
        }
    });
    let _: Value = Value::Null;
}
