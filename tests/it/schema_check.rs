//! The CI check of schema changes, `tools/schema-check/check.sh`, run in throwaway git
//! repositories: a new field passes, a removed field fails unless the same commit records it
//! in CHANGELOG.md, and a first commit has nothing to compare. Needs git, Node.js 20+ and
//! npm on `PATH`; the pinned `@graphql-inspector/cli` is installed with `npm ci` once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::{run_bounded, shown, NpmPackages};

/// The npm package that `tools/schema-check/package.json` pins.
const CLI: &str = "@graphql-inspector/cli";

const CHECK_TIMEOUT: Duration = Duration::from_secs(60);
const GIT_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "type Query {\n  name: String\n  population: Int\n}\n";
const SCHEMA_WITH_CAPITAL: &str =
    "type Query {\n  name: String\n  population: Int\n  capital: String\n}\n";
const SCHEMA_WITHOUT_POPULATION: &str = "type Query {\n  name: String\n}\n";
const CHANGELOG: &str = "# Changelog\n\n## Unreleased\n\n- The API as first published.\n";
const CHANGELOG_WITH_BREAK: &str = "# Changelog\n\n## Unreleased\n\n\
    - BREAKING: `Query.population` was removed.\n- The API as first published.\n";

#[test]
fn a_new_field_passes_the_schema_check() {
    let repo = Repo::with_first_commit();
    repo.commit(
        &[("schema.graphql", SCHEMA_WITH_CAPITAL)],
        "Add Query.capital",
    );
    let output = repo.check();
    assert!(
        output.status.success(),
        "check.sh failed:\n{}",
        shown(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Field capital was added to object type Query")
            && stdout.contains("No breaking changes detected"),
        "check.sh did not report the new field:\n{}",
        shown(&output)
    );
}

#[test]
fn a_removed_field_fails_the_schema_check_and_says_what_to_add() {
    let repo = Repo::with_first_commit();
    repo.commit(
        &[("schema.graphql", SCHEMA_WITHOUT_POPULATION)],
        "Remove Query.population",
    );
    let output = repo.check();
    assert_eq!(
        output.status.code(),
        Some(1),
        "check.sh passed a breaking change:\n{}",
        shown(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("under the '## Unreleased' heading of CHANGELOG.md")
            && stderr.contains("- BREAKING: Field population was removed from object type Query."),
        "check.sh did not say what to add to CHANGELOG.md:\n{}",
        shown(&output)
    );
}

#[test]
fn a_removed_field_recorded_in_the_changelog_passes_the_schema_check() {
    let repo = Repo::with_first_commit();
    repo.commit(
        &[
            ("schema.graphql", SCHEMA_WITHOUT_POPULATION),
            ("CHANGELOG.md", CHANGELOG_WITH_BREAK),
        ],
        "Remove Query.population",
    );
    let output = repo.check();
    assert!(
        output.status.success(),
        "check.sh failed although CHANGELOG.md records the break:\n{}",
        shown(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("- BREAKING: `Query.population` was removed."),
        "check.sh did not name the CHANGELOG entry it accepted:\n{}",
        shown(&output)
    );
}

#[test]
fn a_first_commit_has_nothing_to_compare() {
    let repo = Repo::with_first_commit();
    let output = repo.check();
    assert!(
        output.status.success(),
        "check.sh failed:\n{}",
        shown(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("nothing to compare"),
        "check.sh did not say why it compared nothing:\n{}",
        shown(&output)
    );
}

/// A git repository in a temporary directory, isolated from the user's git configuration.
struct Repo {
    dir: TempDir,
}

impl Repo {
    /// A repository whose one commit holds `SCHEMA` and `CHANGELOG`.
    fn with_first_commit() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.git(&["config", "user.name", "Schema Check Test"]);
        repo.git(&["config", "user.email", "schema-check@example.com"]);
        repo.commit(
            &[("schema.graphql", SCHEMA), ("CHANGELOG.md", CHANGELOG)],
            "Publish the API",
        );
        repo
    }

    /// Writes `files` and commits them.
    fn commit(&self, files: &[(&str, &str)], message: &str) {
        for (name, text) in files {
            std::fs::write(self.dir.path().join(name), text).expect("the repository is writable");
            self.git(&["add", name]);
        }
        self.git(&["commit", "--quiet", "--message", message]);
    }

    fn git(&self, args: &[&str]) {
        let mut git = self.command("git");
        git.args(args);
        let output = run_bounded(git, GIT_TIMEOUT)
            .unwrap_or_else(|problem| panic!("`git {}` {problem}", args.join(" ")));
        assert!(
            output.status.success(),
            "`git {}` failed ({}); the schema check tests need git on PATH:\n{}",
            args.join(" "),
            output.status,
            shown(&output)
        );
    }

    /// Runs `tools/schema-check/check.sh` here, as CI runs it, after installing its packages.
    fn check(&self) -> Output {
        prepare_node();
        let mut check = self.command("bash");
        check
            .arg(tool_dir().join("check.sh"))
            .env_remove("SCHEMA_BASE");
        run_bounded(check, CHECK_TIMEOUT).unwrap_or_else(|problem| panic!("check.sh {problem}"))
    }

    /// A command in the repository that sees no git configuration but the repository's.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        for inherited in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_CEILING_DIRECTORIES",
        ] {
            command.env_remove(inherited);
        }
        command
    }
}

fn tool_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/schema-check")
}

/// Installs the locked npm packages once, so that the tests running in parallel never run
/// `npm ci` at the same time.
fn prepare_node() {
    static PREPARED: OnceLock<()> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let dir = tool_dir();
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("package.json")).expect("tools/schema-check/package.json"),
        )
        .expect("package.json is JSON");
        let pinned = manifest["dependencies"][CLI]
            .as_str()
            .unwrap_or_else(|| panic!("{} pins no {CLI}", dir.join("package.json").display()));
        NpmPackages {
            dir: &dir,
            package: CLI,
            version: pinned,
            min_node: 20,
            needed_by: "the schema check",
        }
        .prepare();
    });
}
