//! The GraphiQL page over a real socket: in the embedded build it names no other host and
//! every file it loads is served; `/health` says where GraphiQL comes from; the example
//! tabs answer against the seed; the pins in `graphiql/` are the versions the code names.

use std::path::Path;

use kyrgyz_relations::graphiql::{self, AssetSource};
use serde_json::Value;

use crate::support::TestApp;
use crate::support::TestServer;

/// Whether this build was asked to load GraphiQL from the CDN, read as `build.rs` reads it.
fn cdn_requested() -> bool {
    option_env!("KYRGYZ_RELATIONS_GRAPHIQL_CDN")
        .is_some_and(|value| !value.is_empty() && value != "0")
}

#[test]
fn graphiql_is_embedded_unless_the_cdn_was_asked_for() {
    match graphiql::SOURCE {
        AssetSource::Embedded => assert!(
            !cdn_requested(),
            "KYRGYZ_RELATIONS_GRAPHIQL_CDN is set, yet build.rs embedded GraphiQL"
        ),
        AssetSource::Cdn { reason } => assert!(
            cdn_requested(),
            "GraphiQL is not embedded in this build, because {reason}. Install Node.js 20+ \
             and npm (e.g. `apt-get install nodejs npm`), then rebuild (`touch build.rs`)."
        ),
    }
}

#[tokio::test]
async fn the_page_loads_only_files_this_server_serves() {
    let server = TestServer::spawn().await;
    let client = reqwest::Client::new();
    let page = client.get(server.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("text");
    let urls = attribute_urls(&html);
    assert_eq!(
        urls.len(),
        5,
        "an icon, a stylesheet and three scripts: {urls:?}"
    );

    match graphiql::SOURCE {
        AssetSource::Embedded => {
            for scheme in ["http://", "https://"] {
                assert!(
                    !html.contains(scheme),
                    "the embedded page names an outside URL ({scheme}):\n{html}"
                );
            }
            for url in urls.iter().filter(|url| url.as_str() != "data:,") {
                let name = url
                    .strip_prefix(graphiql::ASSET_PATH)
                    .unwrap_or_else(|| panic!("{url} is not under {}", graphiql::ASSET_PATH));
                let response = client.get(server.url(url)).send().await.expect("GET");
                assert_eq!(response.status(), 200, "{url}");
                let header =
                    |name: &str| response.headers()[name].to_str().expect("ascii").to_owned();
                let expected = if name.ends_with(".css") {
                    "text/css; charset=utf-8"
                } else {
                    "text/javascript; charset=utf-8"
                };
                assert_eq!(header("content-type"), expected, "{url}");
                assert_eq!(
                    header("cache-control"),
                    "public, max-age=31536000, immutable",
                    "{url}"
                );
                let bytes = response.bytes().await.expect("body");
                let asset = graphiql::asset(name).expect("the page names served files");
                assert!(bytes.len() > 1000 && bytes == asset.bytes, "{url}");
            }
        }
        AssetSource::Cdn { .. } => {
            for url in urls.iter().filter(|url| url.as_str() != "data:,") {
                assert!(url.starts_with("https://unpkg.com/"), "{url}");
                assert!(
                    html.contains(&format!("\"{url}\" integrity=\"sha384-")),
                    "{url} has no integrity hash"
                );
            }
            let name = format!("graphiql-{}.min.js", graphiql::GRAPHIQL_VERSION);
            assert!(graphiql::asset(&name).is_none());
        }
    }

    for missing in [
        "/graphiql/nope.js",
        "/graphiql/",
        "/graphiql/%2e%2e%2fCargo.toml",
    ] {
        let response = client.get(server.url(missing)).send().await.expect("GET");
        assert_eq!(response.status(), 404, "{missing}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn health_says_where_graphiql_comes_from() {
    let server = TestServer::spawn().await;
    let health: Value = reqwest::get(server.url("/health"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let expected = match graphiql::SOURCE {
        AssetSource::Embedded => "embedded",
        AssetSource::Cdn { .. } => "cdn",
    };
    assert_eq!(health["graphiql"], expected, "{health:#}");
    server.shutdown().await;
}

#[tokio::test]
async fn every_example_tab_answers_from_the_seed() {
    let app = TestApp::new();
    let mut answers = Vec::new();
    for example in graphiql::EXAMPLES {
        let mut request = async_graphql::Request::new(example.query);
        if let Some(variables) = example.variables {
            let variables: Value = serde_json::from_str(variables).expect("variables are JSON");
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        let response = serde_json::to_value(app.schema.execute(request).await).expect("JSON");
        assert!(
            response.get("errors").is_none(),
            "{}\nfailed: {response:#}",
            example.query
        );
        answers.push(response["data"].clone());
    }
    let names = |list: &Value, field: &str| -> Vec<String> {
        list["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| node[field].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    let facilities = &answers[0]["country"]["facilities"];
    assert!(names(facilities, "name").contains(&"Kant Air Base".to_owned()));
    let kant = &facilities["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|facility| facility["name"] == "Kant Air Base")
        .expect("Kant");
    assert!(!kant["agreements"]["nodes"]
        .as_array()
        .expect("list")
        .is_empty());
    assert!(!kant["incidents"]["nodes"]
        .as_array()
        .expect("list")
        .is_empty());

    let in_force = names(&answers[1]["agreements"], "title");
    assert!(
        in_force.contains(&"Kant air base agreement".to_owned())
            && in_force.contains(&"Manas lease".to_owned()),
        "{in_force:?}"
    );

    let clashes = answers[2]["incidents"]["nodes"].as_array().expect("nodes");
    assert!(clashes.len() >= 2, "{clashes:?}");
    for clash in clashes {
        assert!(clash["killed"]["low"].as_u64() > Some(0), "{clash}");
    }
    let dates: Vec<&str> = clashes
        .iter()
        .map(|clash| clash["occurred"].as_str().unwrap_or_default())
        .collect();
    assert!(dates.windows(2).all(|pair| pair[0] <= pair[1]), "{dates:?}");

    assert_eq!(names(&answers[3]["search"], "name"), ["Kurmanbek Bakiyev"]);
}

#[test]
fn graphiql_package_pins_the_versions_the_page_names() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphiql");
    let read = |file: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(file)).expect("graphiql/ is readable"))
            .expect("graphiql/ holds JSON")
    };
    let expected = [
        ("graphiql", graphiql::GRAPHIQL_VERSION),
        ("react", graphiql::REACT_VERSION),
        ("react-dom", graphiql::REACT_VERSION),
    ];
    let package = read("package.json");
    let lock = read("package-lock.json");
    assert_eq!(
        package["dependencies"]
            .as_object()
            .map(|dependencies| dependencies.len()),
        Some(expected.len())
    );
    for (name, version) in expected {
        assert_eq!(
            package["dependencies"][name], version,
            "package.json: {name}"
        );
        assert_eq!(
            lock["packages"][format!("node_modules/{name}")]["version"],
            version,
            "package-lock.json: {name}"
        );
    }
}

/// The values of the page's `src` and `href` attributes.
fn attribute_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in [" src=\"", " href=\""] {
        for (start, _) in html.match_indices(attribute) {
            let value = &html[start + attribute.len()..];
            urls.push(value[..value.find('"').unwrap_or(value.len())].to_owned());
        }
    }
    urls
}
