//! The binary's command line: `check` exit codes and messages, `schema` output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{edit_seed, record, seed_copy};

fn binary() -> Command {
    Command::new(crate::support::BINARY)
}

#[test]
fn check_accepts_the_embedded_seed() {
    let output = binary().arg("check").output().expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("is valid"));
}

#[test]
fn check_rejects_a_bad_seed_listing_file_and_record() {
    let dir = seed_copy();
    edit_seed(dir.path(), "facilities.json", |facilities| {
        record(facilities, "kant-air-base")["hostCountry"] = "narnia".into();
    });
    let output = binary()
        .args(["check", "--seed-dir"])
        .arg(dir.path())
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("facilities.json: record `kant-air-base`: field `hostCountry`: no country has id `narnia`"),
        "{stderr}"
    );
}

/// The names under `dir`, recursively.
fn names(dir: &Path) -> Vec<PathBuf> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("lists") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            names.extend(self::names(&path));
        }
        names.push(path);
    }
    names.sort();
    names
}

#[test]
fn serve_refuses_an_invalid_seed_and_writes_nothing() {
    let dir = seed_copy();
    std::fs::write(dir.path().join("countries.json"), "[{").expect("writes");
    let serve = |data: &Path| {
        let output = binary()
            .args(["--listen", "127.0.0.1:0", "--seed-dir"])
            .arg(dir.path())
            .arg("--data-dir")
            .arg(data)
            .output()
            .expect("the binary runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("countries.json:1:"), "{stderr}");
    };
    // An empty data directory stays empty.
    let data = tempfile::tempdir().expect("a temporary directory");
    serve(data.path());
    assert_eq!(names(data.path()), Vec::<PathBuf>::new());
    // One that is not there is not made, nor its parents.
    let root = tempfile::tempdir().expect("a temporary directory");
    serve(&root.path().join("new/data"));
    assert_eq!(names(root.path()), Vec::<PathBuf>::new());
}

/// `check` reads the seed and nothing else: it creates no data directory (`./data` by
/// default for `serve`) and changes no seed file, whether the seed is good or not.
#[test]
fn check_writes_nothing() {
    let good = seed_copy();
    let broken = seed_copy();
    std::fs::write(broken.path().join("countries.json"), "[{").expect("writes");
    for (seed, succeeds) in [(&good, true), (&broken, false)] {
        let cwd = tempfile::tempdir().expect("a temporary directory");
        let seed_files = names(seed.path())
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).expect("reads");
                (path, bytes)
            })
            .collect::<Vec<_>>();
        let output = binary()
            .current_dir(cwd.path())
            .env_remove("KYRGYZ_RELATIONS_DATA_DIR")
            .args(["check", "--seed-dir"])
            .arg(seed.path())
            .output()
            .expect("the binary runs");
        assert_eq!(output.status.success(), succeeds);
        assert_eq!(names(cwd.path()), Vec::<PathBuf>::new());
        for (path, bytes) in seed_files {
            assert_eq!(
                std::fs::read(&path).expect("reads"),
                bytes,
                "{}",
                path.display()
            );
        }
        assert_eq!(
            names(seed.path()).len(),
            kyrgyz_relations::seed::FILES.len()
        );
    }
}

#[test]
fn schema_prints_the_sdl() {
    let output = binary().arg("schema").output().expect("the binary runs");
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        kyrgyz_relations::schema::sdl()
    );
}
