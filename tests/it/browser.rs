//! GraphiQL in a real browser, offline: `tests/browser/browser.mjs` drives Debian's
//! Chromium with `playwright-core` (pinned in `tests/browser/package.json`) against the real
//! router on an ephemeral port, with every host but 127.0.0.1 blocked. Needs Node.js 18+,
//! npm and `/usr/bin/chromium` (or `CHROMIUM`); fails saying what to install without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kyrgyz_relations::graphiql::{self, AssetSource};
use serde::Deserialize;

use crate::http::Server;
use crate::support::{run_bounded, shown};

/// The version of `playwright-core` that `package.json` pins.
///
/// The newest release that still runs on Node.js 18, the version Debian 12 ships (and
/// `.ci/run` installs); it drives Debian's Chromium 156.
const PLAYWRIGHT_VERSION: &str = "1.61.1";

/// Each step of the script has 30 s; Chromium's start on a loaded machine is the rest.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

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
async fn graphiql_runs_an_example_in_chromium_offline() {
    let dir = browser_dir();
    let chromium = blocking(move || prepare(&dir)).await;

    let server = Server::spawn().await;
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
    assert_eq!(
        report.tabs,
        [
            "RussianFacilities",
            "AgreementsInForce",
            "BorderClashes",
            "SearchBakiev"
        ],
        "{context}"
    );
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

/// Runs `work` on tokio's blocking pool, passing its panic on unchanged.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("the blocking task did not finish: {error}"),
    }
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Checks for Node.js 18+, npm and Chromium, installs the locked npm packages if they are
/// missing, and returns the browser to drive.
fn prepare(dir: &Path) -> PathBuf {
    let install = "The browser test needs Node.js 18+ and npm on PATH and Chromium \
                   (e.g. `apt-get install nodejs npm chromium`).";
    let version = tool_output(Command::new("node").arg("--version"), "node", install);
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    assert!(
        major.is_some_and(|major| major >= 18),
        "the browser test needs Node.js 18 or later (for playwright-core \
         {PLAYWRIGHT_VERSION}); `node --version` says {version:?}. {install}"
    );
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    tool_output(Command::new(npm).arg("--version"), "npm", install);
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "the browser test drives Chromium, and there is none at {} (set CHROMIUM to \
         another path). {install}",
        chromium.display()
    );

    if installed_version(dir).as_deref() != Some(PLAYWRIGHT_VERSION) {
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
            Some(PLAYWRIGHT_VERSION),
            "`npm ci` did not install playwright-core {PLAYWRIGHT_VERSION}:\n{}",
            shown(&output)
        );
    }
    chromium
}

/// The version of `node_modules/playwright-core`, if it is installed.
fn installed_version(dir: &Path) -> Option<String> {
    let manifest = std::fs::read(dir.join("node_modules/playwright-core/package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).ok()?;
    Some(manifest["version"].as_str()?.to_owned())
}

/// The stdout of `--version`-like `command`; panics if `tool` is missing or fails.
fn tool_output(command: &mut Command, tool: &str, install: &str) -> String {
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
