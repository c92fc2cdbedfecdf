//! GraphQL over HTTP conformance: the server audits of the npm package `graphql-http`
//! (pinned in `tests/conformance/package.json`), run by `tests/conformance/audit.mjs`
//! against the real router on an ephemeral port. Needs Node.js 18+ and npm on `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use crate::http::Server;
use crate::support::{run_bounded, shown};

/// The version of `graphql-http` that `package.json` pins, and its number of server audits.
const GRAPHQL_HTTP_VERSION: &str = "1.23.1";
const AUDITS: usize = 61;

const AUDIT_TIMEOUT: Duration = Duration::from_secs(60);
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

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
    blocking(move || prepare_node(&dir)).await;

    let server = Server::spawn().await;
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

/// Runs `work` on tokio's blocking pool, passing its panic on unchanged.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("the blocking task did not finish: {error}"),
    }
}

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Checks for Node.js 18+ and npm, and installs the locked npm packages if they are missing.
fn prepare_node(dir: &Path) {
    let version = tool_output(Command::new("node").arg("--version"), "node");
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    assert!(
        major.is_some_and(|major| major >= 18),
        "the conformance audits need Node.js 18 or later (for `fetch`); `node --version` \
         says {version:?}. Install a newer Node.js and npm (e.g. from https://nodejs.org)."
    );
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    tool_output(Command::new(npm).arg("--version"), "npm");

    if installed_version(dir).as_deref() == Some(GRAPHQL_HTTP_VERSION) {
        return;
    }
    let mut ci = Command::new(npm);
    ci.current_dir(dir)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
    let output = run_bounded(ci, NPM_CI_TIMEOUT)
        .unwrap_or_else(|problem| panic!("`npm ci` in {} {problem}", dir.display()));
    assert!(
        output.status.success(),
        "`npm ci --ignore-scripts` in {} failed ({}):\n{}",
        dir.display(),
        output.status,
        shown(&output)
    );
    assert_eq!(
        installed_version(dir).as_deref(),
        Some(GRAPHQL_HTTP_VERSION),
        "`npm ci` did not install graphql-http {GRAPHQL_HTTP_VERSION}:\n{}",
        shown(&output)
    );
}

/// The version of `node_modules/graphql-http`, if it is installed.
fn installed_version(dir: &Path) -> Option<String> {
    let manifest = std::fs::read(dir.join("node_modules/graphql-http/package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).ok()?;
    Some(manifest["version"].as_str()?.to_owned())
}

/// The stdout of `--version`-like `command`; panics if `tool` is missing or fails.
fn tool_output(command: &mut Command, tool: &str) -> String {
    let install = "The GraphQL-over-HTTP conformance test needs Node.js 18+ and npm on PATH; \
                   install them (e.g. `apt-get install nodejs npm`, or from https://nodejs.org).";
    match command.stdin(Stdio::null()).output() {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        Ok(output) => panic!(
            "`{tool} --version` failed ({}):\n{}\n{install}",
            output.status,
            shown(&output)
        ),
        Err(error) => panic!("cannot run `{tool}`: {error}.\n{install}"),
    }
}
