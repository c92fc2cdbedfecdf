//! GraphiQL, the in-browser IDE at `/`: our page, its example tabs, and the pinned GraphiQL
//! and React files it loads, embedded in the binary by `build.rs` (or, when the build could
//! not install them, loaded from a CDN at the same pinned versions).
//!
//! Knows nothing of HTTP: `http` routes to `page` and `asset`.

use serde_json::json;

/// The GraphiQL release the page loads, as pinned in `graphiql/package.json`. It is the last
/// with a script-tag build; later releases ship only ES modules.
pub const GRAPHIQL_VERSION: &str = "4.1.2";

/// The React and ReactDOM release the page loads, as pinned in `graphiql/package.json`. It is
/// the last React with UMD builds.
pub const REACT_VERSION: &str = "18.3.1";

/// The URL path under which `asset` files are served: `/graphiql/{name}`.
pub const ASSET_PATH: &str = "/graphiql/";

/// Where this build's page loads GraphiQL and React from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetSource {
    /// From this server (`ASSET_PATH`): the page works offline.
    Embedded,
    /// From unpkg.com, checked against pinned hashes, because the build could not embed the
    /// files (`reason` says why: no npm, a failed `npm ci`, or
    /// `KYRGYZ_RELATIONS_GRAPHIQL_CDN=1`).
    Cdn { reason: &'static str },
}

impl AssetSource {
    /// `"embedded"` or `"cdn"`, as `/health` reports it.
    pub fn name(self) -> &'static str {
        match self {
            AssetSource::Embedded => "embedded",
            AssetSource::Cdn { .. } => "cdn",
        }
    }
}

/// Where this build's page loads GraphiQL from, decided by `build.rs`.
pub const SOURCE: AssetSource = files::SOURCE;

/// A file the page loads, as served under `ASSET_PATH`.
#[derive(Clone, Copy)]
pub struct Asset {
    /// The file, exactly as the pinned npm package ships it.
    pub bytes: &'static [u8],
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
}

/// One tab GraphiQL opens with: a question an analyst asks of the data.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// A named operation (the tab's title is its name), with comments saying what it shows.
    pub query: &'static str,
    /// The JSON of the Variables pane, if the operation takes any.
    pub variables: Option<&'static str>,
}

/// The example tabs, in order; the first is open when the page loads.
pub const EXAMPLES: [Example; 5] = [
    Example {
        query: include_str!("../graphiql/examples/russian-facilities.graphql"),
        variables: None,
    },
    Example {
        query: include_str!("../graphiql/examples/agreements-in-force.graphql"),
        variables: Some("{\n  \"year\": \"2012\"\n}\n"),
    },
    Example {
        query: include_str!("../graphiql/examples/border-clashes.graphql"),
        variables: None,
    },
    Example {
        query: include_str!("../graphiql/examples/search-bakiev.graphql"),
        variables: None,
    },
    Example {
        query: include_str!("../graphiql/examples/what-the-source-says.graphql"),
        variables: None,
    },
];

/// The GraphiQL page, querying `endpoint` (a URL or a path such as `/graphql`).
///
/// In the embedded build it names no other host: every file comes from `ASSET_PATH`.
pub fn page(endpoint: &str) -> String {
    let url = |file: &Pinned| match SOURCE {
        AssetSource::Embedded => format!("{ASSET_PATH}{}", file.name),
        AssetSource::Cdn { .. } => file.cdn_url.to_owned(),
    };
    // The CDN's copies must be the very files the lock pins, or the browser refuses them.
    let integrity = |file: &Pinned| match SOURCE {
        AssetSource::Embedded => String::new(),
        AssetSource::Cdn { .. } => format!(
            " integrity=\"{}\" crossorigin=\"anonymous\"",
            file.integrity
        ),
    };
    let styles = format!(
        "<link rel=\"stylesheet\" href=\"{}\"{}>",
        url(&GRAPHIQL_CSS),
        integrity(&GRAPHIQL_CSS)
    );
    let scripts: Vec<String> = [&REACT_JS, &REACT_DOM_JS, &GRAPHIQL_JS]
        .into_iter()
        .map(|file| format!("<script src=\"{}\"{}></script>", url(file), integrity(file)))
        .collect();
    let not_loaded = match SOURCE {
        AssetSource::Embedded => {
            "GraphiQL could not load its scripts from this server. Reload the page to try again."
        }
        AssetSource::Cdn { .. } => {
            "GraphiQL could not load its scripts from unpkg.com: this server was built without \
             them, so the page needs internet access."
        }
    };
    let tabs: Vec<serde_json::Value> = EXAMPLES
        .iter()
        .map(|example| json!({ "query": example.query, "variables": example.variables }))
        .collect();
    let config = json!({ "endpoint": endpoint, "tabs": tabs, "notLoaded": not_loaded });
    TEMPLATE
        .replacen("{{STYLES}}", &styles, 1)
        .replacen("{{SCRIPTS}}", &scripts.join("\n    "), 1)
        .replacen("{{CONFIG}}", &script_safe_json(&config), 1)
}

/// The file served at `ASSET_PATH` + `name`; `None` for other names, and for every name
/// when GraphiQL loads from the CDN.
pub fn asset(name: &str) -> Option<Asset> {
    if SOURCE != AssetSource::Embedded {
        return None;
    }
    [&GRAPHIQL_JS, &GRAPHIQL_CSS, &REACT_JS, &REACT_DOM_JS]
        .into_iter()
        .find(|file| file.name == name)
        .map(|file| Asset {
            bytes: file.bytes,
            content_type: file.content_type,
        })
}

/// What `build.rs` generated: `SOURCE`, and each file's bytes (empty for the CDN).
mod files {
    include!(concat!(env!("OUT_DIR"), "/graphiql_assets.rs"));
}

/// `graphiql/index.html`, with `{{STYLES}}`, `{{SCRIPTS}}` and `{{CONFIG}}` to fill in. A
/// file rather than a Rust string, so that it reads, and is edited, as the HTML it is.
const TEMPLATE: &str = include_str!("../graphiql/index.html");

/// A pinned file of the page.
struct Pinned {
    /// Its name under `ASSET_PATH`. It carries the version, so that a browser holding an
    /// old copy (served `immutable` for a year) fetches the new one after an upgrade.
    name: &'static str,
    /// The same file on the CDN, for builds that could not embed it.
    cdn_url: &'static str,
    /// Its Subresource Integrity hash (SHA-384); a test checks it against `bytes`.
    integrity: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

const GRAPHIQL_JS: Pinned = Pinned {
    name: "graphiql-4.1.2.min.js",
    cdn_url: "https://unpkg.com/graphiql@4.1.2/graphiql.min.js",
    integrity: "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
    content_type: JAVASCRIPT,
    bytes: files::GRAPHIQL_JS,
};

const GRAPHIQL_CSS: Pinned = Pinned {
    name: "graphiql-4.1.2.min.css",
    cdn_url: "https://unpkg.com/graphiql@4.1.2/graphiql.min.css",
    integrity: "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
    content_type: "text/css; charset=utf-8",
    bytes: files::GRAPHIQL_CSS,
};

const REACT_JS: Pinned = Pinned {
    name: "react-18.3.1.production.min.js",
    cdn_url: "https://unpkg.com/react@18.3.1/umd/react.production.min.js",
    integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    content_type: JAVASCRIPT,
    bytes: files::REACT_JS,
};

const REACT_DOM_JS: Pinned = Pinned {
    name: "react-dom-18.3.1.production.min.js",
    cdn_url: "https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js",
    integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    content_type: JAVASCRIPT,
    bytes: files::REACT_DOM_JS,
};

/// JSON that can sit inside a `<script>` element: `<` is escaped, so no string in it can
/// close the element (`</script>`) or open a comment.
fn script_safe_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use sha2::{Digest, Sha384};

    const ALL: [&Pinned; 4] = [&GRAPHIQL_JS, &GRAPHIQL_CSS, &REACT_JS, &REACT_DOM_JS];

    #[test]
    fn each_file_names_its_pinned_version() {
        for file in ALL {
            let version = if file.name.starts_with("graphiql") {
                GRAPHIQL_VERSION
            } else {
                REACT_VERSION
            };
            assert!(file.name.contains(version), "{}", file.name);
            assert!(
                file.cdn_url.contains(&format!("@{version}/")),
                "{}",
                file.cdn_url
            );
        }
    }

    #[test]
    fn the_cdn_hashes_are_those_of_the_embedded_files() {
        if let AssetSource::Cdn { reason } = SOURCE {
            // Nothing to hash in this build; `tests/it/graphiql.rs` fails unless the CDN
            // was asked for.
            eprintln!("GraphiQL is not embedded ({reason}): the hashes are not checked");
            return;
        }
        for file in ALL {
            let hash = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(file.bytes));
            assert_eq!(
                file.integrity,
                format!("sha384-{hash}"),
                "{}: update its integrity hash to the file npm installs",
                file.name
            );
        }
    }

    #[test]
    fn config_json_cannot_close_its_script_element() {
        let json = script_safe_json(&json!({ "query": "</script><script>alert(1)</script>" }));
        assert!(!json.contains('<'), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).expect("still JSON");
        assert_eq!(back["query"], "</script><script>alert(1)</script>");
    }

    #[test]
    fn the_page_fills_every_placeholder() {
        let html = page("/graphql?x=\"</script>");
        for placeholder in ["{{STYLES}}", "{{SCRIPTS}}", "{{CONFIG}}"] {
            assert!(
                !html.contains(placeholder),
                "{placeholder} is left in:\n{html}"
            );
        }
        assert!(html.contains(r#""endpoint":"/graphql?x=\"\u003c/script>""#));
    }
}
