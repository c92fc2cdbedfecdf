//! Embeds GraphiQL: installs the npm packages pinned in `graphiql/` (GraphiQL and React)
//! with `npm ci` in a copy of that folder under `OUT_DIR`, and writes
//! `OUT_DIR/graphiql_assets.rs`, which `src/graphiql.rs` includes: the four files the page
//! loads, as `include_bytes!`, or empty files and the reason GraphiQL will load from the CDN.
//!
//! The build never fails for GraphiQL's sake: without Node.js and npm, when `npm ci`
//! fails, or when `KYRGYZ_RELATIONS_GRAPHIQL_CDN=1` asks for it, the page loads the same
//! pinned versions from a CDN and a `cargo:warning` says why. Nothing is written to the
//! source tree.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set to anything but `0` or nothing at build time, the page loads GraphiQL from the CDN
/// and npm is not run: for offline builders, and to test the fallback.
const CDN_VARIABLE: &str = "KYRGYZ_RELATIONS_GRAPHIQL_CDN";

/// The package files `npm ci` needs; the lock pins every package with its hash.
const PACKAGE_FILES: [&str; 2] = ["package.json", "package-lock.json"];

/// The constant `src/graphiql.rs` reads for each file, and the file under `node_modules/`.
const ASSETS: [(&str, &str); 4] = [
    ("GRAPHIQL_JS", "graphiql/graphiql.min.js"),
    ("GRAPHIQL_CSS", "graphiql/graphiql.min.css"),
    ("REACT_JS", "react/umd/react.production.min.js"),
    ("REACT_DOM_JS", "react-dom/umd/react-dom.production.min.js"),
];

/// Longer than a cold install takes on a slow link (about 15 s for 111 packages, 117 MB
/// unpacked); a hung npm must not hang the build.
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for file in PACKAGE_FILES {
        println!("cargo:rerun-if-changed=graphiql/{file}");
    }
    println!("cargo:rerun-if-env-changed={CDN_VARIABLE}");

    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        // Cargo always sets OUT_DIR for build scripts; without it there is nowhere to write.
        panic!("OUT_DIR is not set: build.rs must run under cargo");
    };
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let generated = if cdn_requested() {
        let reason = format!("{CDN_VARIABLE} was set when building");
        println!("cargo:warning=GraphiQL will load from the CDN (unpkg.com) at the pinned versions, because {reason}; build without it to serve GraphiQL from the binary.");
        cdn_source(&reason)
    } else {
        match embedded_assets(&manifest_dir.join("graphiql"), &out_dir) {
            Ok(node_modules) => embedded_source(&node_modules),
            Err(reason) => {
                println!("cargo:warning=GraphiQL will load from the CDN (unpkg.com) at the pinned versions, because {reason}. Install Node.js 20+ and npm (or let npm reach its registry) and rebuild (`touch build.rs`) to serve GraphiQL from the binary.");
                cdn_source(&reason)
            }
        }
    };
    let target = out_dir.join("graphiql_assets.rs");
    if let Err(error) = write_if_changed(&target, &generated) {
        panic!("cannot write {}: {error}", target.display());
    }
}

fn cdn_requested() -> bool {
    std::env::var(CDN_VARIABLE).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// The `node_modules` directory holding every asset, installing it first if needed, or why
/// the assets cannot be embedded.
fn embedded_assets(package_dir: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let install_dir = out_dir.join("graphiql-npm");
    let node_modules = install_dir.join("node_modules");
    // The lock copied last time, if it still matches, means node_modules is this lock's.
    let installed = PACKAGE_FILES.iter().all(|file| {
        let source = fs::read(package_dir.join(file));
        source.is_ok() && source.ok() == fs::read(install_dir.join(file)).ok()
    }) && missing_assets(&node_modules).is_empty();
    if !installed {
        npm_ci(package_dir, &install_dir)?;
    }
    let missing = missing_assets(&node_modules);
    if !missing.is_empty() {
        return Err(format!(
            "`npm ci` installed no {} in {}",
            missing.join(", "),
            node_modules.display()
        ));
    }
    Ok(node_modules)
}

/// Copies the package files into `install_dir` and runs `npm ci` there, bounded in time.
fn npm_ci(package_dir: &Path, install_dir: &Path) -> Result<(), String> {
    fs::create_dir_all(install_dir)
        .map_err(|error| format!("{} cannot be created ({error})", install_dir.display()))?;
    for file in PACKAGE_FILES {
        // Removed first, so a failed copy never leaves an old lock that looks installed.
        let _ = fs::remove_file(install_dir.join(file));
    }
    for file in PACKAGE_FILES {
        fs::copy(package_dir.join(file), install_dir.join(file))
            .map_err(|error| format!("graphiql/{file} cannot be copied to OUT_DIR ({error})"))?;
    }
    let log_path = install_dir.join("npm-ci.log");
    let log = fs::File::create(&log_path)
        .map_err(|error| format!("{} cannot be created ({error})", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|error| format!("{} cannot be opened twice ({error})", log_path.display()))?;
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let started = Instant::now();
    let mut child = Command::new(npm)
        .current_dir(install_dir)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => format!("`{npm}` is not on PATH"),
            _ => format!("`{npm}` cannot be run ({error})"),
        })?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < NPM_CI_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`npm ci` took longer than {} s and was stopped (log: {})",
                    NPM_CI_TIMEOUT.as_secs(),
                    log_path.display()
                ));
            }
            Err(error) => {
                let _ = child.kill();
                return Err(format!("`npm ci` cannot be waited for ({error})"));
            }
        }
    };
    if !status.success() {
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        return Err(format!(
            "`npm ci` failed ({status}): {} (log: {})",
            npm_error_summary(&log),
            log_path.display()
        ));
    }
    // The time goes to the log rather than a warning: a build that works stays quiet.
    if let Ok(mut log) = fs::OpenOptions::new().append(true).open(&log_path) {
        use std::io::Write as _;
        let _ = writeln!(
            log,
            "npm ci finished in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The line of npm's output that says what went wrong: its first error message that is
/// not an error code, a stack frame or a pointer to its log, else its last line.
fn npm_error_summary(log: &str) -> &str {
    let details = [
        "code ",
        "syscall ",
        "errno ",
        "path ",
        "at ",
        "A complete log ",
    ];
    log.lines()
        .filter_map(|line| {
            line.strip_prefix("npm error ")
                .or(line.strip_prefix("npm ERR! "))
        })
        .map(str::trim)
        .find(|message| {
            !message.is_empty() && !details.iter().any(|detail| message.starts_with(detail))
        })
        .or_else(|| log.lines().map(str::trim).rfind(|line| !line.is_empty()))
        .unwrap_or("no output")
}

/// The assets `node_modules` lacks.
fn missing_assets(node_modules: &Path) -> Vec<&'static str> {
    ASSETS
        .iter()
        .filter(|(_, path)| !node_modules.join(path).is_file())
        .map(|&(_, path)| path)
        .collect()
}

fn embedded_source(node_modules: &Path) -> String {
    let mut code = String::from(
        "// Generated by build.rs: GraphiQL's files, embedded from the pinned npm packages.\n\
         pub(super) const SOURCE: super::AssetSource = super::AssetSource::Embedded;\n",
    );
    for (name, path) in ASSETS {
        let path = node_modules.join(path);
        let _ = writeln!(
            code,
            "pub(super) const {name}: &[u8] = include_bytes!({:?});",
            path.display().to_string()
        );
    }
    code
}

fn cdn_source(reason: &str) -> String {
    let mut code = format!(
        "// Generated by build.rs: GraphiQL loads from the CDN; nothing is embedded.\n\
         pub(super) const SOURCE: super::AssetSource = super::AssetSource::Cdn {{ reason: {reason:?} }};\n"
    );
    for (name, _) in ASSETS {
        let _ = writeln!(code, "pub(super) const {name}: &[u8] = &[];");
    }
    code
}

/// Writes `contents` unless the file already holds them, leaving an unchanged file alone.
fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<()> {
    if fs::read_to_string(path).is_ok_and(|existing| existing == contents) {
        return Ok(());
    }
    fs::write(path, contents)
}
