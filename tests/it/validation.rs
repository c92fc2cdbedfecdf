//! Validation agrees with the reference implementation: every request of a corpus is
//! judged by graphql-js (the npm package pinned in `tests/validation/package.json`, run by
//! `tests/validation/verdicts.mjs` with Node.js) and by the server, in-process, and the
//! two must say the same: refused before execution, or not.
//!
//! The corpus: graphql-js's own validation test cases adapted to this schema
//! (`validation/corpus.graphql`), the repository's documents (the snapshot queries,
//! GraphiQL's examples and introspection query, the benchmark's queries), and documents
//! generated from valid ones by the mutations that break the rules async-graphql missed:
//! colliding aliases, differing arguments, shapes across fragments, variables of every
//! nullability in every kind of position, repeated input fields and arguments, fragments
//! on types that cannot overlap.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use async_graphql::Variables;
use kyrgyz_relations::executor::Answer;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::{blocking, run_bounded, shown, NpmPackages, TestApp};

/// The version of `graphql` that `package.json` pins.
const GRAPHQL_JS_VERSION: &str = "16.15.0";

const VERDICTS_TIMEOUT: Duration = Duration::from_secs(120);

/// One request of the corpus.
#[derive(Debug, serde::Serialize)]
struct Case {
    /// Where it comes from, for the failure message.
    #[serde(skip)]
    label: String,
    query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variables: Option<Value>,
    #[serde(rename = "operationName", skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
}

impl Case {
    fn new(label: impl Into<String>, query: impl Into<String>) -> Case {
        Case {
            label: label.into(),
            query: query.into(),
            variables: None,
            operation: None,
        }
    }

    fn with_variables(mut self, variables: Value) -> Case {
        self.variables = Some(variables);
        self
    }
}

/// What `verdicts.mjs` prints.
#[derive(Debug, Deserialize)]
struct Report {
    version: String,
    verdicts: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    valid: bool,
    errors: Vec<String>,
}

/// The server's verdict on one request.
#[derive(Debug)]
enum Served {
    /// Executed (perhaps with errors of its fields: a data reason, not a refusal).
    Executed,
    /// Refused before execution: errors without a path, and no data.
    Refused(Vec<String>),
    /// Refused by the query guard (`QUERY_TOO_COMPLEX`). Its limits are nothing graphql-js
    /// knows of, and a valid document the guard refuses must stay out of the corpus; but it
    /// also refuses fragment cycles, which the spec's validation does too.
    Guarded(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_exactly_the_documents_graphql_js_refuses() {
    let dir = validation_dir();
    blocking(move || {
        NpmPackages {
            dir: &dir,
            package: "graphql",
            version: GRAPHQL_JS_VERSION,
            min_node: 18,
            needed_by: "the validation differential test",
        }
        .prepare()
    })
    .await;

    let adapted = corpus();
    let repository = repository_documents();
    let generated = generated();
    // The adapted cases cover every rule both ways; a corpus file that lost its entries (a
    // separator changed, say) would pass with nothing compared.
    assert!(adapted.len() >= 300, "{} adapted cases", adapted.len());
    let cases: Vec<Case> = adapted
        .into_iter()
        .chain(repository)
        .chain(generated)
        .collect();
    let references = reference_verdicts(&cases).await;

    let app = TestApp::new();
    let mut disagreements = Vec::new();
    let mut guarded = Vec::new();
    let mut refused_by_guard = 0;
    let (mut valid, mut invalid) = (0, 0);
    for (case, reference) in cases.iter().zip(&references) {
        if reference.valid {
            valid += 1;
        } else {
            invalid += 1;
        }
        match (serve(&app, case).await, reference.valid) {
            // The guard refuses fragment cycles itself, before validation: a spec rule,
            // so a refusal like any other when graphql-js refuses too.
            (Served::Guarded(_), false) => refused_by_guard += 1,
            (Served::Guarded(message), true) => guarded.push(format!(
                "{}: the query guard refused it ({message}):\n{}",
                case.label, case.query
            )),
            (Served::Executed, true) | (Served::Refused(_), false) => {}
            (Served::Executed, false) => disagreements.push(format!(
                "{}: executed, but graphql-js refuses it ({}):\n{}\nvariables: {}",
                case.label,
                reference.errors.join(" | "),
                case.query,
                case.variables.as_ref().unwrap_or(&Value::Null)
            )),
            (Served::Refused(errors), true) => disagreements.push(format!(
                "{}: refused ({}), but graphql-js accepts it:\n{}\nvariables: {}",
                case.label,
                errors.join(" | "),
                case.query,
                case.variables.as_ref().unwrap_or(&Value::Null)
            )),
        }
    }
    assert!(
        guarded.is_empty(),
        "{} cases graphql-js accepts trip the query guard's limits, which it does not \
         model; keep them out of the corpus:\n\n{}",
        guarded.len(),
        guarded.join("\n\n")
    );
    assert!(
        disagreements.is_empty(),
        "the server and graphql-js {GRAPHQL_JS_VERSION} disagree on {} of {} requests \
         ({valid} valid, {invalid} invalid for graphql-js):\n\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n\n")
    );
    // Both verdicts are well represented, so agreement is not trivial either way, and
    // validation, not the guard, refused nearly all of the invalid ones.
    assert!(
        valid >= 300 && invalid >= 300,
        "{valid} valid, {invalid} invalid"
    );
    assert!(
        refused_by_guard <= 10,
        "{refused_by_guard} refused by the guard"
    );
}

/// graphql-js's verdict on every case, in order.
async fn reference_verdicts(cases: &[Case]) -> Vec<Reference> {
    let requests = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(
        requests.path(),
        serde_json::to_vec(cases).expect("cases serialize"),
    )
    .expect("write the requests");
    let path = requests.path().to_owned();
    let output = blocking(move || {
        let mut node = Command::new("node");
        node.current_dir(validation_dir())
            .arg(validation_dir().join("verdicts.mjs"))
            .arg(repository_root().join("schema.graphql"))
            .arg(&path);
        run_bounded(node, VERDICTS_TIMEOUT)
    })
    .await
    .unwrap_or_else(|problem| panic!("`node verdicts.mjs` {problem}"));
    assert!(
        output.status.success(),
        "`node verdicts.mjs` failed ({}):\n{}",
        output.status,
        shown(&output)
    );
    let report: Report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`node verdicts.mjs` printed no report ({error}):\n{}",
            shown(&output)
        )
    });
    assert_eq!(
        report.version, GRAPHQL_JS_VERSION,
        "is the pin in tests/validation/package.json still {GRAPHQL_JS_VERSION}?"
    );
    assert_eq!(report.verdicts.len(), cases.len());
    report.verdicts
}

/// Runs `case` through the executor, as HTTP does.
async fn serve(app: &TestApp, case: &Case) -> Served {
    let mut request = async_graphql::Request::new(case.query.clone());
    if let Some(variables) = &case.variables {
        request = request.variables(Variables::from_json(variables.clone()));
    }
    if let Some(operation) = &case.operation {
        request = request.operation_name(operation.clone());
    }
    let executed = app
        .executor
        .answer(request)
        .await
        .expect("answers serialize");
    let response: Value = match executed.answer {
        Answer::Body(body) => serde_json::from_slice(&body).expect("answers are JSON"),
        Answer::Errors(response) => serde_json::to_value(&response).expect("responses serialize"),
    };
    let errors = response["errors"].as_array().cloned().unwrap_or_default();
    if let Some(error) = errors
        .iter()
        .find(|error| error["extensions"]["code"] == "QUERY_TOO_COMPLEX")
    {
        return Served::Guarded(error["message"].to_string());
    }
    let before_execution = !errors.is_empty()
        && response["data"].is_null()
        && errors.iter().all(|error| error.get("path").is_none());
    if before_execution {
        Served::Refused(
            errors
                .iter()
                .map(|error| error["message"].as_str().unwrap_or_default().to_owned())
                .collect(),
        )
    } else {
        Served::Executed
    }
}

/// The adapted test cases: entries of `validation/corpus.graphql`, each starting with a
/// `# ---` line and a comment naming its rule and case, with optional `# variables:` (JSON)
/// and `# operation:` lines.
fn corpus() -> Vec<Case> {
    let text = include_str!("validation/corpus.graphql");
    text.split("\n# ---\n")
        .skip(1)
        .map(|entry| {
            let label = entry.lines().next().unwrap_or_default();
            let mut case = Case::new(
                format!("corpus.graphql, {}", label.trim_start_matches("# ")),
                entry,
            );
            for line in entry.lines() {
                if let Some(variables) = line.strip_prefix("# variables: ") {
                    case.variables =
                        Some(serde_json::from_str(variables).unwrap_or_else(|error| {
                            panic!("{label}: bad variables ({error}): {variables}")
                        }));
                }
                if let Some(operation) = line.strip_prefix("# operation: ") {
                    case.operation = Some(operation.to_owned());
                }
            }
            case
        })
        .collect()
}

/// Every document the repository keeps: all must be valid, and are compared like the rest.
fn repository_documents() -> Vec<Case> {
    let root = repository_root();
    let mut files: Vec<PathBuf> = vec![root.join("tests/it/introspection.graphql")];
    for dir in ["tests/it/queries", "graphiql/examples", "bench/queries"] {
        let entries = std::fs::read_dir(root.join(dir)).expect("the folder is readable");
        files.extend(
            entries
                .map(|entry| entry.expect("a folder entry").path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "graphql")),
        );
    }
    files.sort();
    // The values their variables take (the benchmark's and GraphiQL's, or alike).
    let values = json!({
        "code": "kg", "id": "Q291bnRyeTpreXJneXpzdGFu", "from": "2012", "to": "2013",
        "text": "manas", "year": "2012",
    });
    files
        .into_iter()
        .map(|path| {
            let query = std::fs::read_to_string(&path).expect("the document is readable");
            let label = path
                .strip_prefix(&root)
                .expect("under the repository")
                .display()
                .to_string();
            Case::new(label, query).with_variables(values.clone())
        })
        .map(|mut case| {
            // Only the variables the document declares: graphql-js refuses none for being
            // extra, and neither does the server, but keep the request honest.
            let declared: serde_json::Map<String, Value> = values
                .as_object()
                .expect("an object")
                .iter()
                .filter(|(name, _)| case.query.contains(&format!("${name}:")))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            case.variables = Some(Value::Object(declared));
            case
        })
        .collect()
}

/// Documents made from valid ones by the mutations that break the rules async-graphql
/// missed, each with every variant of a small space, so the same cases run every time.
fn generated() -> Vec<Case> {
    let mut cases = Vec::new();

    // Two fields under one response name: the same field merges, different ones conflict.
    let fields = [
        "name",
        "code",
        "slug",
        "aliases",
        "id",
        "__typename",
        "summary",
    ];
    for first in fields {
        for second in fields {
            cases.push(Case::new(
                format!("generated: x: {first} and x: {second}"),
                format!("{{ countries {{ nodes {{ x: {first} x: {second} }} }} }}"),
            ));
        }
    }

    // One response name on two object types: only the shapes must agree.
    let typed = [
        ("Country", "name"),
        ("Country", "aliases"),
        ("Country", "id"),
        ("Agreement", "title"),
        ("Agreement", "signed"),
        ("Agreement", "kind"),
        ("Facility", "kind"),
        ("Facility", "location { place }"),
        ("Facility", "personnel { low }"),
        ("Incident", "kind"),
        ("Incident", "occurred"),
        ("Incident", "location { place }"),
        ("Incident", "location { place: district }"),
        ("Incident", "killed { low: high }"),
        ("Organization", "kind"),
        ("Person", "name"),
        ("Person", "roles { title }"),
    ];
    for (index, (first_type, first)) in typed.iter().enumerate() {
        for (second_type, second) in &typed[index + 1..] {
            cases.push(
                Case::new(
                    format!("generated: x: {first} on {first_type}, x: {second} on {second_type}"),
                    format!(
                        "query($id: ID!) {{ node(id: $id) {{ ... on {first_type} {{ x: {first} }} \
                         ... on {second_type} {{ x: {second} }} }} }}"
                    ),
                )
                .with_variables(json!({ "id": "Q291bnRyeTpreXJneXpzdGFu" })),
            );
        }
    }

    // One field twice with arguments that agree or not.
    let arguments = [
        ("", ""),
        ("(first: 1)", ""),
        ("(first: 2)", ""),
        ("(last: 1)", ""),
        ("(first: $n)", "$n: Int"),
        ("(first: $m)", "$m: Int"),
        ("(first: 1, orderBy: {direction: DESC})", ""),
        ("(orderBy: {direction: DESC}, first: 1)", ""),
    ];
    for (first, first_variable) in arguments {
        for (second, second_variable) in arguments {
            let mut variables: Vec<&str> = [first_variable, second_variable]
                .into_iter()
                .filter(|variable| !variable.is_empty())
                .collect();
            variables.dedup();
            let definitions = if variables.is_empty() {
                String::new()
            } else {
                format!("({})", variables.join(", "))
            };
            cases.push(Case::new(
                format!("generated: countries{first} and countries{second} as x"),
                format!(
                    "query{definitions} {{ x: countries{first} {{ totalCount }} \
                     x: countries{second} {{ totalCount }} }}"
                ),
            ));
        }
    }

    cases.extend(variable_positions());

    // Input fields and arguments, repeated or not.
    let input_fields = ["from: \"2012\"", "to: \"2013\"", "match: CERTAINLY_WITHIN"];
    for length in 1..=3u32 {
        for mut number in 0..3usize.pow(length) {
            let mut picked = Vec::new();
            for _ in 0..length {
                picked.push(input_fields[number % 3]);
                number /= 3;
            }
            let object = picked.join(", ");
            cases.push(Case::new(
                format!("generated: occurred: {{{object}}}"),
                format!("{{ incidents(occurred: {{{object}}}) {{ totalCount }} }}"),
            ));
        }
    }
    let page_arguments = ["first: 1", "last: 1", "after: null"];
    for first in page_arguments {
        for second in page_arguments {
            cases.push(Case::new(
                format!("generated: countries({first}, {second})"),
                format!("{{ countries({first}, {second}) {{ totalCount }} }}"),
            ));
        }
    }

    // Fragments on types that may or may not overlap the parent's.
    let parents = [
        ("countries", "{ countries { nodes { SPREAD } } }"),
        ("people", "{ people { nodes { SPREAD } } }"),
        (
            "node",
            "{ node(id: \"Q291bnRyeTpreXJneXpzdGFu\") { SPREAD } }",
        ),
        ("search", "{ search(text: \"manas\") { nodes { SPREAD } } }"),
        (
            "operator",
            "{ facility(slug: \"kant-air-base\") { operator { SPREAD } } }",
        ),
        (
            "location",
            "{ facility(slug: \"kant-air-base\") { location { SPREAD } } }",
        ),
    ];
    let conditions = [
        "Country",
        "Person",
        "Facility",
        "Node",
        "Operator",
        "SearchResult",
        "Location",
        "Query",
    ];
    for (parent, template) in parents {
        for condition in conditions {
            cases.push(Case::new(
                format!("generated: ... on {condition} in {parent}"),
                template.replace("SPREAD", &format!("... on {condition} {{ __typename }}")),
            ));
            cases.push(Case::new(
                format!("generated: fragment on {condition} in {parent}"),
                format!(
                    "{}\nfragment F on {condition} {{ __typename }}",
                    template.replace("SPREAD", "...F")
                ),
            ));
        }
    }
    cases
}

/// A variable of every nullability and list wrapping, of the position's own type and of
/// another, in each kind of position: arguments, list items, input fields, directives,
/// with and without a default. The variable is given a value of its declared type, or
/// left to its default, so only where it stands decides.
fn variable_positions() -> Vec<Case> {
    // The position (`$v` where the variable goes), its own type and another one.
    let positions = [
        ("country(code: $v) { name }", "String", "ID"),
        ("countries(first: $v) { totalCount }", "Int", "String"),
        (
            "incidents(kinds: $v) { totalCount }",
            "IncidentKind",
            "FacilityKind",
        ),
        (
            "incidents(kinds: [$v]) { totalCount }",
            "IncidentKind",
            "String",
        ),
        ("nodes(ids: $v) { id }", "ID", "String"),
        ("__typename @include(if: $v)", "Boolean", "String"),
        (
            "incidents(occurred: {from: $v}) { totalCount }",
            "PartialDate",
            "String",
        ),
        (
            "incidents(orderBy: {direction: $v}) { totalCount }",
            "OrderDirection",
            "DateMatch",
        ),
        (
            "agreements(inForceMatch: $v) { totalCount }",
            "DateMatch",
            "OrderDirection",
        ),
        ("node(id: $v) { id }", "ID", "Int"),
    ];
    // A value of each named type, as JSON and as a literal.
    let value = |name: &str| -> (Value, &'static str) {
        match name {
            "String" => (json!("kg"), "\"kg\""),
            "ID" => (
                json!("Q291bnRyeTpreXJneXpzdGFu"),
                "\"Q291bnRyeTpreXJneXpzdGFu\"",
            ),
            "Int" => (json!(1), "1"),
            "Boolean" => (json!(true), "true"),
            "PartialDate" => (json!("2012"), "\"2012\""),
            "IncidentKind" => (json!("RIOT"), "RIOT"),
            "FacilityKind" => (json!("AIR_BASE"), "AIR_BASE"),
            "OrderDirection" => (json!("DESC"), "DESC"),
            "DateMatch" => (json!("CERTAINLY_WITHIN"), "CERTAINLY_WITHIN"),
            other => panic!("no value for {other}"),
        }
    };
    let wrappers = ["T", "T!", "[T]", "[T!]", "[T]!", "[T!]!"];
    let mut cases = Vec::new();
    for (position, own, other) in positions {
        for named in [own, other] {
            let (json_value, literal) = value(named);
            for wrapper in wrappers {
                let declared = wrapper.replace('T', named);
                let list = wrapper.starts_with('[');
                let given = if list {
                    json!([json_value])
                } else {
                    json_value.clone()
                };
                let default = if list {
                    format!("[{literal}]")
                } else {
                    literal.to_owned()
                };
                let document =
                    |definition: &str| format!("query($v: {definition}) {{ {position} }}");
                cases.push(
                    Case::new(
                        format!("generated: $v: {declared} given, in {position}"),
                        document(&declared),
                    )
                    .with_variables(json!({ "v": given })),
                );
                cases.push(Case::new(
                    format!("generated: $v: {declared} = {default}, in {position}"),
                    document(&format!("{declared} = {default}")),
                ));
            }
        }
    }
    cases
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validation_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validation")
}
