//! The published contract: `schema.graphql` is the generated SDL, and every type, field,
//! argument and enum value of ours carries a description.

use std::path::Path;

use kyrgyz_relations::schema::sdl;

use crate::support::TestApp;

#[test]
fn schema_graphql_is_the_generated_sdl() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let generated = sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("schema.graphql is writable");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let diff = similar::TextDiff::from_lines(&committed, &generated)
            .unified_diff()
            .header("schema.graphql", "generated")
            .to_string();
        panic!(
            "schema.graphql differs from the schema the code generates:\n{diff}\n\
             If the change is intended, regenerate it with\n    \
             cargo run -- schema > schema.graphql\n\
             (or UPDATE_SCHEMA=1 cargo test schema_graphql) and review the diff: clients rely on it."
        );
    }
}

const INTROSPECTION: &str = r#"{
  __schema {
    types {
      name kind description
      fields(includeDeprecated: true) { name description args { name description } }
      inputFields { name description }
      enumValues(includeDeprecated: true) { name description }
    }
  }
}"#;

#[tokio::test]
async fn every_type_field_argument_and_enum_value_is_described() {
    let app = TestApp::new();
    let data = app.query(INTROSPECTION).await;
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let mut missing = Vec::new();
    let described =
        |value: &serde_json::Value| value.as_str().is_some_and(|text| !text.trim().is_empty());
    for ty in data["__schema"]["types"].as_array().expect("types") {
        let name = ty["name"].as_str().expect("type name");
        if name.starts_with("__") || builtin.contains(&name) {
            continue;
        }
        if !described(&ty["description"]) {
            missing.push(format!("type {name}"));
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().expect("field name");
            if !described(&field["description"]) {
                missing.push(format!("field {name}.{field_name}"));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if !described(&arg["description"]) {
                    missing.push(format!("argument {name}.{field_name}({})", arg["name"]));
                }
            }
        }
        for input in ty["inputFields"].as_array().into_iter().flatten() {
            if !described(&input["description"]) {
                missing.push(format!("input field {name}.{}", input["name"]));
            }
        }
        for value in ty["enumValues"].as_array().into_iter().flatten() {
            if !described(&value["description"]) {
                missing.push(format!("enum value {name}.{}", value["name"]));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "undescribed schema elements:\n{}",
        missing.join("\n")
    );
}

/// Renders an introspected type reference as SDL, such as `[Country!]!`.
fn render(ty: &serde_json::Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", render(&ty["ofType"])),
        Some("LIST") => format!("[{}]", render(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap_or_default().to_owned(),
    }
}

#[tokio::test]
async fn the_names_clients_rely_on_are_there() {
    let app = TestApp::new();
    let data = app
        .query(
            r#"{ __schema { types { name fields { name type { ...T } args { name type { ...T } } } } } }
               fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#,
        )
        .await;
    let mut signatures = Vec::new();
    for ty in data["__schema"]["types"].as_array().expect("types") {
        for field in ty["fields"].as_array().into_iter().flatten() {
            let args: Vec<String> = field["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|arg| {
                    format!(
                        "{}: {}",
                        arg["name"].as_str().expect("name"),
                        render(&arg["type"])
                    )
                })
                .collect();
            signatures.push(format!(
                "{}.{}({}): {}",
                ty["name"].as_str().expect("name"),
                field["name"].as_str().expect("name"),
                args.join(", "),
                render(&field["type"])
            ));
        }
    }
    let has = |prefix: &str| {
        signatures
            .iter()
            .any(|signature| signature.starts_with(prefix))
    };
    for expected in [
        "Query.country(code: String!): Country",
        "Query.node(id: ID!): Node",
        "Query.nodes(ids: [ID!]!): [Node]!",
        "Query.search(text: String!",
        "Query.countries(first: Int, after: String, last: Int, before: String",
        "Query.organizations(first: Int",
        "Query.people(first: Int",
        "Query.agreements(first: Int",
        "Query.facilities(first: Int",
        "Query.incidents(first: Int",
        "Country.agreements(first: Int",
        "Agreement.title(): String!",
        "Agreement.facilities(first: Int",
        "Facility.name(): String!",
        "Facility.kind(): FacilityKind!",
        "Facility.incidents(first: Int",
        "Incident.title(): String!",
        "Incident.occurred(): PartialDate",
        "Incident.facility(): Facility",
        "AgreementConnection.nodes(): [Agreement!]!",
        "AgreementConnection.totalCount(): Int!",
        "PageInfo.hasNextPage(): Boolean!",
    ] {
        assert!(has(expected), "the schema lost `{expected}`");
    }
}
