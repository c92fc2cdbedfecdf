//! GraphiQL in a real browser, offline: `tests/browser/browser.mjs` drives Debian's
//! Chromium with `playwright-core` (pinned in `tests/browser/package.json`) against the real
//! router on an ephemeral port, with every host but 127.0.0.1 blocked. Needs Node.js 20+,
//! npm and `/usr/bin/chromium` (or `CHROMIUM`); fails saying what to install without them.
//!
//! A system browser is more than the README's `cargo test` asks of a newcomer's machine,
//! so the test is `#[ignore]`d there and runs as its own step, which `.ci/run` always takes:
//! `cargo test --test it -- --ignored browser`. Run that way, it fails (never skips)
//! without Chromium.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kyrgyz_relations::graphiql::{self, AssetSource};
use serde::Deserialize;

use crate::support::TestServer;
use crate::support::{blocking, run_bounded, shown, NpmPackages};

/// The version of `playwright-core` that `package.json` pins.
///
/// It drives Debian's Chromium 156, and runs on any Node.js from 18 on (so on the 20+
/// that the other npm tools need).
const PLAYWRIGHT_VERSION: &str = "1.61.1";

/// Each step of the script has 30 s; Chromium's start on a loaded machine is the rest.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

/// The one line of JSON that `browser.mjs` prints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    /// Every step finished.
    ok: bool,
    /// The step that failed and why.
    error: Option<String>,
    /// Requests to any host but 127.0.0.1, which the script refused.
    blocked: Vec<String>,
    /// Requests that failed or were answered with 4xx or 5xx.
    failed: Vec<String>,
    console_errors: Vec<String>,
    /// The titles of GraphiQL's tabs.
    tabs: Vec<String>,
    /// The whole answer in the result editor.
    result: String,
    /// The part of the answer on screen.
    shown_result: String,
    /// The text of the Docs pane.
    docs: String,
    /// The page's text when a step failed.
    page_text: String,
    millis: serde_json::Map<String, serde_json::Value>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium; its own step: cargo test --test it -- --ignored browser"]
async fn graphiql_runs_an_example_in_chromium_offline() {
    let dir = browser_dir();
    let chromium = blocking(move || prepare(&dir)).await;

    let server = TestServer::spawn().await;
    let url = server.url("/");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/artifacts");
    std::fs::create_dir_all(&artifacts).expect("tests/it/artifacts can be created");
    let screenshot = artifacts.join("graphiql.png");
    let _ = std::fs::remove_file(&screenshot);
    let started = Instant::now();
    // Node runs on a blocking thread so that both workers stay free to serve the browser.
    let output = {
        let screenshot = screenshot.clone();
        blocking(move || {
            let mut node = Command::new("node");
            node.current_dir(browser_dir())
                .env("CHROMIUM", &chromium)
                .arg(browser_dir().join("browser.mjs"))
                .arg(&url)
                .arg(&screenshot);
            run_bounded(node, BROWSER_TIMEOUT)
        })
        .await
    };
    let elapsed = started.elapsed();
    server.shutdown().await;

    let output = output.unwrap_or_else(|problem| panic!("`node browser.mjs` {problem}"));
    assert!(
        output.status.success(),
        "`node browser.mjs` failed ({}):\n{}",
        output.status,
        shown(&output)
    );
    let report: Report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`node browser.mjs` printed no report ({error}):\n{}",
            shown(&output)
        )
    });
    eprintln!(
        "browser test: {elapsed:.1?} in all, steps (ms since start) {:?}; screenshot {}",
        report.millis,
        screenshot.display()
    );
    let context = format!(
        "{report:#?}\nscreenshot: {}\n{}",
        screenshot.display(),
        shown(&output)
    );

    match graphiql::SOURCE {
        AssetSource::Embedded => assert!(
            report.blocked.is_empty(),
            "the page tried to load outside URLs: {:?}\n{context}",
            report.blocked
        ),
        // This build's page is meant to load from the CDN (tests/it/graphiql.rs fails
        // unless that was asked for); offline, it may ask for those four files and no more.
        AssetSource::Cdn { reason } => {
            assert!(
                report.blocked.len() == 4
                    && report
                        .blocked
                        .iter()
                        .all(|url| url.starts_with("https://unpkg.com/")),
                "the CDN page ({reason}) asked for unexpected URLs: {:?}\n{context}",
                report.blocked
            );
            assert!(
                !report.ok
                    && report
                        .page_text
                        .contains("could not load its scripts from unpkg.com"),
                "offline, the CDN page should say that GraphiQL could not load:\n{context}"
            );
            return;
        }
    }
    assert!(
        report.ok,
        "the page did not work: {:?}\n{context}",
        report.error
    );
    assert!(
        report.failed.is_empty(),
        "requests failed: {:?}\n{context}",
        report.failed
    );
    assert!(
        report.console_errors.is_empty(),
        "the page logged errors: {:?}\n{context}",
        report.console_errors
    );
    // A tab's title is its operation's name: one per example, in order.
    let names: Vec<&str> = graphiql::EXAMPLES
        .iter()
        .map(|example| {
            let after = example
                .query
                .lines()
                .find_map(|line| line.strip_prefix("query "))
                .expect("a named query");
            after
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .expect("a name")
        })
        .collect();
    assert_eq!(report.tabs, names, "{context}");
    let answer: serde_json::Value = serde_json::from_str(&report.result)
        .unwrap_or_else(|error| panic!("the result pane holds no JSON ({error}):\n{context}"));
    assert!(answer.get("errors").is_none(), "{context}");
    assert_eq!(answer["data"]["country"]["name"], "Russia", "{context}");
    assert!(report.result.contains("Kant Air Base"), "{context}");
    assert!(report.shown_result.contains("\"Russia\""), "{context}");
    assert!(
        report.docs.contains("Root Types") && report.docs.contains("Incident"),
        "the Docs pane shows no schema:\n{context}"
    );
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|file| file.len() > 10_000),
        "no screenshot at {}",
        screenshot.display()
    );
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Installs the pinned playwright-core and finds Chromium; fails saying what to install.
fn prepare(dir: &Path) -> PathBuf {
    NpmPackages {
        dir,
        package: "playwright-core",
        version: PLAYWRIGHT_VERSION,
        min_node: 20,
        needed_by: "the browser test",
    }
    .prepare();
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "the browser test drives Chromium, and there is none at {} (set CHROMIUM to \
         another path); install it (e.g. `apt-get install chromium`).",
        chromium.display()
    );
    chromium
}
