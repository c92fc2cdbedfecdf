//! The binary's command line: `check` exit codes and messages, `schema` output.

use std::process::Command;

use crate::support::{edit_seed, record, seed_copy};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kyrgyz-relations"))
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

#[test]
fn serve_refuses_an_invalid_seed_and_writes_nothing() {
    let dir = seed_copy();
    std::fs::write(dir.path().join("countries.json"), "[{").expect("writes");
    let data = tempfile::tempdir().expect("a temporary directory");
    let output = binary()
        .args(["--listen", "127.0.0.1:0", "--seed-dir"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("countries.json:1:"));
    let opened =
        crate::support::retry_locked(|| kyrgyz_relations::store::Store::open(data.path(), 1 << 20));
    assert_eq!(
        opened.state().expect("state"),
        kyrgyz_relations::store::StoreState::Empty
    );
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
