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

/// A document and its variables (as JSON text) nesting `depth` deep in one of the ways a
/// parser recurses on: lists, objects, selections and list types in the document, lists
/// in the variables. Built as text: a `serde_json::Value` that deep would overflow this
/// test's own stack when it is written or dropped.
fn nested_inputs(depth: usize) -> Vec<(&'static str, String, String)> {
    let nest = |open: &str, close: &str| format!("{}{}", open.repeat(depth), close.repeat(depth));
    let none = "{}".to_owned();
    vec![
        (
            "lists",
            format!("query Q {{ __type(name: {}) {{ name }} }}", nest("[", "1]")),
            none.clone(),
        ),
        (
            "lists in a mutation",
            format!("mutation Q {{ change(to: {}) }}", nest("[", "1]")),
            none.clone(),
        ),
        (
            "objects",
            format!(
                "query Q {{ incidents(occurred: {}) {{ totalCount }} }}",
                nest("{a: ", "1}")
            ),
            none.clone(),
        ),
        (
            "selections",
            format!("query Q {{ countries {{ nodes {} }} }}", nest("{ a ", "}")),
            none.clone(),
        ),
        (
            "list types",
            format!("query Q($v: {}) {{ __typename }}", nest("[", "Int]")),
            none,
        ),
        (
            "variables",
            "query Q($v: Int) { __typename }".to_owned(),
            format!("{{\"v\": {}}}", nest("[", "1]")),
        ),
    ]
}

/// The ways a document reaches the server: POST and GET, GET as a browser sends it (which
/// the GraphiQL page is chosen by), with an operation name, and as an automatic persisted
/// query with its text or by its hash alone.
fn entry_points() -> Vec<&'static str> {
    vec![
        "POST",
        "GET",
        "GET from a browser",
        "POST with operationName",
        "GET with operationName",
        "POST persisted with text",
        "GET persisted with text",
        "POST persisted by hash",
        "GET persisted by hash",
    ]
}

fn hostile_request(
    client: &reqwest::Client,
    url: &str,
    entry: &str,
    query: &str,
    variables: &str,
) -> reqwest::RequestBuilder {
    use sha2::Digest;
    let hash = format!("{:x}", sha2::Sha256::digest(query.as_bytes()));
    let mut params: Vec<(&str, String)> = vec![("variables", variables.to_owned())];
    if !entry.contains("by hash") {
        params.push(("query", query.to_owned()));
    }
    if entry.contains("operationName") {
        params.push(("operationName", "Q".to_owned()));
    }
    if entry.contains("persisted") {
        let extensions =
            format!(r#"{{"persistedQuery": {{"version": 1, "sha256Hash": "{hash}"}}}}"#);
        params.push(("extensions", extensions));
    }
    if entry.starts_with("POST") {
        // Written by hand: `variables` and `extensions` are JSON already.
        let fields: Vec<String> = params
            .iter()
            .map(|(name, value)| match *name {
                "variables" | "extensions" => format!("\"{name}\": {value}"),
                _ => format!("\"{name}\": {}", Value::from(value.as_str())),
            })
            .collect();
        return client
            .post(url)
            .header("content-type", "application/json")
            .body(format!("{{{}}}", fields.join(", ")));
    }
    let request = client.get(url).query(&params);
    if entry == "GET from a browser" {
        request.header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
    } else {
        request
    }
}

/// The longest URI the `http` crate parses (`u16::MAX - 1` bytes).
const MAX_URI_LENGTH: usize = 65_534;

async fn assert_alive(client: &reqwest::Client, address: &str, what: &str) {
    let alive = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("after {what}: the server is gone: {error}"));
    assert_eq!(alive.status(), 200, "after {what}");
}

/// Every class of document that could overflow the parser's stack, at 500 to 100k
/// levels, through every entry point of the real binary, with the response cache on and
/// off: each is refused promptly (a 4xx, or a GraphQL error without data), and the server
/// keeps serving. A GET once parsed its document to find the operation's type before the
/// guard had looked at it, and one 4 KiB request aborted the process.
#[tokio::test]
async fn deep_documents_are_refused_through_every_entry_point_of_the_binary() {
    use crate::support::Running;
    let client = reqwest::Client::builder()
        // Well under the server's own 10 s request timeout: a refusal is prompt or fails.
        .timeout(Duration::from_secs(5))
        // A connection per request: the server closes one after refusing a body unread.
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    for args in [&[][..], &["--response-cache-mib", "0"][..]] {
        let server = Running::start_logging(args, "info");
        let url = format!("http://{}/graphql", server.address);
        // 500 and 1,000 too: pest, under async-graphql's parser, stops itself short of
        // the stack's end, so past a depth that depends on the build only async-graphql's
        // own recursion after it can overflow (500 deep did, in a debug build, before
        // the guard came first on every path).
        for depth in [500, 1_000, 2_000, 10_000, 100_000] {
            for (class, query, variables) in nested_inputs(depth) {
                for entry in entry_points() {
                    let what = format!("{class} {depth} deep, {entry}, server {args:?}");
                    let request = hostile_request(&client, &url, entry, &query, &variables)
                        .build()
                        .expect("a request");
                    let uri_length = request.url().as_str().len();
                    let response = match client.execute(request).await {
                        Ok(response) => response,
                        // hyper refuses a request line longer than the `http` crate's
                        // bound on a URI (414) and closes the connection while the client
                        // still writes it: the client sees only the closed connection.
                        Err(_) if uri_length > MAX_URI_LENGTH => {
                            assert_alive(&client, &server.address, &what).await;
                            continue;
                        }
                        Err(error) => panic!("{what}: no answer: {error}"),
                    };
                    let status = response.status();
                    assert!(
                        status.is_client_error() || status == reqwest::StatusCode::OK,
                        "{what}: {status}"
                    );
                    if status == reqwest::StatusCode::OK {
                        let body: Value = response.json().await.expect("a JSON answer");
                        assert!(body["data"].is_null(), "{what}: answered {body}");
                        let code = &body["errors"][0]["extensions"]["code"];
                        assert!(
                            ["QUERY_TOO_COMPLEX", "PERSISTED_QUERY_NOT_FOUND"]
                                .contains(&code.as_str().unwrap_or_default()),
                            "{what}: {body}"
                        );
                    }
                    assert_alive(&client, &server.address, &what).await;
                }
            }
        }
        let answer: Value = client
            .get(&url)
            .query(&[("query", "{ country(code: \"KG\") { name } }")])
            .send()
            .await
            .expect("a query after the attack")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["data"]["country"]["name"], "Kyrgyzstan");
        // `stop` asserts that the server exits cleanly on SIGTERM.
        server.stop();
    }
}
