//! Crash safety of the real binary: killed with SIGKILL at points spread over its first-start
//! import, every restart serves the complete dataset.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{edit_seed, seed_copy, serve_command, BINARY};

fn serve(data: &Path, seed: &Path) -> Child {
    serve_command(data, "info")
        .arg("--seed-dir")
        .arg(seed)
        .spawn()
        .expect("the binary starts")
}

/// Waits until the server says it is serving, then stops it with SIGTERM. Returns its
/// whole log, read to the end so the server never writes into a closed pipe.
fn serve_until_ready_then_stop(data: &Path, seed: &Path) -> String {
    let mut child = serve(data, seed);
    let stderr = child.stderr.take().expect("piped stderr");
    let (lines, ready) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("serving GraphQL") {
                let _ = lines.send(line.clone());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let became_ready = ready.recv_timeout(Duration::from_secs(120)).is_ok();
    if became_ready {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    } else {
        let _ = child.kill();
    }
    let exit = child.wait().expect("the server exits");
    let log = reader.join().expect("the log reader finishes");
    assert!(became_ready, "the server never became ready:\n{log}");
    assert!(exit.success(), "the server exited with {exit}:\n{log}");
    log
}

fn manifest(data: &Path) -> Value {
    let text =
        std::fs::read_to_string(data.join("kyrgyz-relations.manifest.json")).expect("a manifest");
    serde_json::from_str(&text).expect("JSON")
}

/// A seed with thousands of extra incidents, so the import takes long enough to be killed
/// in the middle.
fn large_seed() -> tempfile::TempDir {
    let seed = seed_copy();
    edit_seed(seed.path(), "incidents.json", |incidents| {
        let list = incidents.as_array_mut().expect("an array");
        let template = list[0].clone();
        for n in 0..5_000 {
            let mut copy = template.clone();
            copy["id"] = format!("synthetic-incident-{n}").into();
            copy["title"] = format!("Synthetic incident {n}").into();
            list.push(copy);
        }
    });
    seed
}

#[test]
fn sigkill_during_the_first_import_never_loses_or_corrupts_data() {
    let seed = large_seed();
    let reference_dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    serve_until_ready_then_stop(reference_dir.path(), seed.path());
    let full_run = started.elapsed();
    let reference = manifest(reference_dir.path());

    // Kill points spread over the whole first start, import included.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..10 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let fraction = (state >> 33) as f64 / (1u64 << 31) as f64;
        let delay = full_run.mul_f64(fraction);
        let data = tempfile::tempdir().expect("a temporary directory");
        let mut child = serve(data.path(), seed.path());
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let _ = child.wait();

        let log = serve_until_ready_then_stop(data.path(), seed.path());
        assert!(
            !log.contains("panicked"),
            "round {round}: a panic after SIGKILL at {delay:?}:\n{log}"
        );
        assert_eq!(
            manifest(data.path()),
            reference,
            "round {round}: killed at {delay:?}"
        );
        let verify = Command::new(BINARY)
            .arg("verify")
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .expect("verify runs");
        assert!(
            verify.status.success(),
            "round {round}: killed at {delay:?}: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    assert!(full_run < Duration::from_secs(120));
}
