//! Architecture invariants, checked by reading the source: which module may import what.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// `(file, line)` for every line of `src/` that mentions `needle` in a `use` or path.
fn mentions(needle: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        let relative = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        for line in text.lines() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if code.contains(needle) {
                found.push(relative.clone());
                break;
            }
        }
    }
    found.sort();
    found
}

fn only_in(needle: &str, allowed: &[&str]) {
    let offenders: Vec<String> = mentions(needle)
        .into_iter()
        .filter(|file| !allowed.iter().any(|allowed| file.starts_with(allowed)))
        .collect();
    assert!(
        offenders.is_empty(),
        "`{needle}` is used outside {allowed:?}: {offenders:?}"
    );
}

#[test]
fn imports_flow_one_way() {
    only_in("bincode::", &["store/codec.rs"]);
    only_in("sled::", &["store/"]);
    only_in("store::keys", &["store/"]);
    only_in("axum", &["http/"]);
    only_in("tower_http", &["http/"]);
    only_in("anyhow", &["main.rs"]);
    // http names async-graphql's `Response` only, to shape an answer with errors.
    only_in("async_graphql", &["schema/", "executor/", "http/"]);
    only_in("crate::seed", &["app.rs", "generate.rs"]);
    // The graph runs one way: model <- store <- schema <- executor <- http <- app <- main.
    only_in("crate::schema", &["executor/"]);
    only_in("crate::executor", &["http/", "app.rs"]);
    only_in(
        "crate::store",
        &["schema/", "executor/", "http/", "app.rs", "store/"],
    );
    only_in("crate::http", &["app.rs"]);
    only_in("crate::graphiql", &["http/"]);
    only_in("crate::metrics", &["http/"]);
    only_in("crate::app", &[]);
}

/// The files of `src/` whose code outside their `#[cfg(test)]` module mentions `needle`.
fn mentions_outside_tests(needle: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        if code
            .lines()
            .any(|line| !line.trim_start().starts_with("//") && line.contains(needle))
        {
            let relative = file.strip_prefix(&src).expect("under src");
            found.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    found.sort();
    found
}

/// Nothing parses a GraphQL document the guard has not checked: the parser recurses per
/// nested bracket, so a document it reads before `check_text` can overflow the stack
/// (a GET request once did, through a parse that looked for the operation's type). The
/// guard's `parse`, which takes only a `CheckedText`, is the one caller of a parser.
#[test]
fn only_the_guard_calls_a_document_parser() {
    // async-graphql's parser, only in the guard's `parse`.
    assert_eq!(
        mentions_outside_tests("parser::parse_query"),
        ["executor/limits.rs"]
    );
    // apollo-compiler's, only in `spec_validation::check`, which takes a `CheckedText`.
    assert_eq!(
        mentions_outside_tests("Document::parse"),
        ["executor/spec_validation.rs"]
    );
    assert!(mentions_outside_tests("fn check(text: CheckedText")
        .iter()
        .any(|file| file == "executor/spec_validation.rs"));
    for parser in ["parse_executable", "parse_mixed", "Parser::new()"] {
        assert_eq!(
            mentions_outside_tests(parser),
            Vec::<String>::new(),
            "`{parser}` is called outside the guard"
        );
    }
}

#[test]
fn the_model_imports_no_framework() {
    for file in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model")) {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        for line in text
            .lines()
            .filter(|line| line.trim_start().starts_with("use "))
        {
            let allowed = [
                "use std::",
                "use serde::",
                "use super::",
                "use crate::model",
                "use date::",
            ];
            assert!(
                allowed
                    .iter()
                    .any(|prefix| line.trim_start().starts_with(prefix)),
                "{}: the model imports `{line}`",
                file.display()
            );
        }
    }
}

#[test]
fn no_unwrap_in_the_library() {
    let offenders: Vec<String> = mentions(".unwrap()")
        .into_iter()
        .filter(|file| file != "main.rs")
        .collect();
    assert!(
        offenders.is_empty(),
        "`.unwrap()` in {offenders:?}: map the error or state the invariant with `expect`"
    );
}
