//! A full disk and a read-only data directory, on real file systems: each test runs the
//! binary inside a private user and mount namespace (`unshare -Urm`) where it may mount a
//! small or read-only tmpfs over its own temporary directory. Nothing outside the test
//! sees these mounts; they vanish with the namespace.

use std::process::Command;

use crate::support::{run_bounded, shown};

const BINARY: &str = env!("CARGO_BIN_EXE_kyrgyz-relations");

/// Runs `script` with `sh` in a new user and mount namespace, with `BIN` set to the
/// binary, `MOUNT` to an empty directory to mount over, and `LOG` to a file outside it.
/// Returns the script's stdout and the log.
fn in_namespace(script: &str) -> (String, String) {
    let probe = Command::new("unshare").args(["-Urm", "true"]).output();
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "the disk tests need user namespaces (`unshare -Urm true` failed: {}); enable \
             them (sysctl kernel.unprivileged_userns_clone=1) or run as root",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => {
            panic!("the disk tests need `unshare` from util-linux (apt-get install util-linux): {error}")
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mount = dir.path().join("mnt");
    let log = dir.path().join("server.log");
    std::fs::create_dir(&mount).expect("creates the mount point");
    let mut command = Command::new("unshare");
    command
        .args(["-Urm", "sh", "-eu", "-c", script])
        .env("BIN", BINARY)
        .env("MOUNT", &mount)
        .env("LOG", &log)
        .env("RUST_LOG", "info");
    let output = run_bounded(command, std::time::Duration::from_secs(180))
        .unwrap_or_else(|problem| panic!("`unshare sh` {problem}"));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        output.status.success(),
        "the script failed ({}):\n{}\n--- log ---\n{log}",
        output.status,
        shown(&output)
    );
    (String::from_utf8_lossy(&output.stdout).into_owned(), log)
}

/// The value of `name=...` in the script's output.
fn reported<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("the script did not report `{name}`:\n{stdout}"))
}

#[test]
fn a_full_disk_stops_the_import_with_a_clear_error_and_the_next_start_finishes_it() {
    let (stdout, log) = in_namespace(
        r#"
        # Smaller than the seed's store (about 370 KiB with its import spool).
        mount -t tmpfs -o size=128k tmpfs "$MOUNT"
        status=0; "$BIN" --listen 127.0.0.1:0 --data-dir "$MOUNT/store" 2>"$LOG" || status=$?
        echo "full=$status"
        if [ -e "$MOUNT/store/kyrgyz-relations.manifest.json" ]; then echo manifest=yes; else echo manifest=no; fi

        mount -o remount,size=64m "$MOUNT"
        "$BIN" --listen 127.0.0.1:0 --data-dir "$MOUNT/store" 2>"$LOG.second" & pid=$!
        for _ in $(seq 600); do
            grep -q "serving GraphQL" "$LOG.second" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$pid" 2>/dev/null || true
        status=0; wait "$pid" || status=$?
        echo "second=$status"
        status=0; "$BIN" verify --data-dir "$MOUNT/store" || status=$?
        echo "verify=$status"
        "#,
    );
    assert_ne!(
        reported(&stdout, "full"),
        "0",
        "the import succeeded on a full disk:\n{log}"
    );
    assert!(
        log.contains("No space left on device") && log.contains("/store"),
        "the error names neither the cause nor the data directory:\n{log}"
    );
    let error = log
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_else(|| panic!("no `error:` line:\n{log}"));
    assert!(
        error.contains("cannot import the seed into the store in") && error.contains("/store"),
        "{error}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(
        reported(&stdout, "manifest"),
        "no",
        "a failed import left a manifest"
    );
    assert_eq!(
        reported(&stdout, "second"),
        "0",
        "the restart with room did not serve"
    );
    assert_eq!(
        reported(&stdout, "verify"),
        "0",
        "the store imported after the full disk is not sound:\n{stdout}"
    );
}

#[test]
fn a_read_only_data_directory_is_refused_naming_the_path() {
    let (stdout, log) = in_namespace(
        r#"
        mount -t tmpfs -o size=8m tmpfs "$MOUNT"
        mkdir "$MOUNT/store"
        mount -o remount,ro "$MOUNT"
        status=0; "$BIN" --listen 127.0.0.1:0 --data-dir "$MOUNT/store" 2>"$LOG" || status=$?
        echo "status=$status"
        "#,
    );
    assert_ne!(reported(&stdout, "status"), "0");
    let error = log
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_else(|| panic!("no `error:` line:\n{log}"));
    assert!(
        error.contains("/store") && error.contains("Read-only file system"),
        "{error}"
    );
    assert_eq!(
        error.matches("Read-only file system").count(),
        1,
        "the cause is repeated: {error}"
    );
    assert!(!log.contains("panicked"), "{log}");
}
