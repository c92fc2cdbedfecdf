//! GraphQL over HTTP conformance: the server audits of the npm package `graphql-http`
//! (pinned in `tests/conformance/package.json`), run by `tests/conformance/audit.mjs`
//! against the real router on an ephemeral port. Needs Node.js 20+ and npm on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use crate::support::TestServer;
use crate::support::{blocking, run_bounded, shown, NpmPackages};

/// The version of `graphql-http` that `package.json` pins, and its number of server audits.
const GRAPHQL_HTTP_VERSION: &str = "1.23.1";
const AUDITS: usize = 61;

const AUDIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The one line of JSON that `audit.mjs` prints.
#[derive(Debug, Deserialize)]
struct Report {
    total: usize,
    results: Vec<Audit>,
}

#[derive(Debug, Deserialize)]
struct Audit {
    id: String,
    name: String,
    /// `ok`, or `error` (a MUST failed), `warn` (a SHOULD) or `notice` (a MAY).
    status: String,
    reason: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_over_http_server_audits_pass() {
    let dir = conformance_dir();
    blocking(move || {
        NpmPackages {
            dir: &dir,
            package: "graphql-http",
            version: GRAPHQL_HTTP_VERSION,
            min_node: 20,
            needed_by: "the GraphQL-over-HTTP conformance test",
        }
        .prepare()
    })
    .await;

    let server = TestServer::spawn().await;
    let url = server.url("/graphql");
    // Node runs on a blocking thread so that both workers stay free to serve its requests.
    let output = blocking(move || {
        let mut node = Command::new("node");
        node.current_dir(conformance_dir())
            .arg(conformance_dir().join("audit.mjs"))
            .arg(&url);
        run_bounded(node, AUDIT_TIMEOUT)
    })
    .await;
    server.shutdown().await;

    let output = output.unwrap_or_else(|problem| panic!("`node audit.mjs` {problem}"));
    assert!(
        output.status.success(),
        "`node audit.mjs` failed ({}):\n{}",
        output.status,
        shown(&output)
    );
    let report: Report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`node audit.mjs` printed no report ({error}):\n{}",
            shown(&output)
        )
    });
    assert_eq!(
        (report.total, report.results.len()),
        (AUDITS, AUDITS),
        "graphql-http {GRAPHQL_HTTP_VERSION} has {AUDITS} server audits; is the pin in \
         tests/conformance/package.json still {GRAPHQL_HTTP_VERSION}?"
    );
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|audit| audit.status != "ok")
        .map(|audit| {
            format!(
                "{} [{}] {}: {}",
                audit.id,
                audit.status,
                audit.name,
                audit.reason.as_deref().unwrap_or("(no reason given)")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {AUDITS} GraphQL-over-HTTP audits fail:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}
