//! The published contract: `schema.graphql` is the generated SDL, every type, field,
//! argument and enum value of ours carries a description, and every deprecation says when
//! the element will be removed.

use std::path::Path;

use async_graphql::parser::types::{
    ConstDirective, InputValueDefinition, InterfaceType, ObjectType, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Positioned, Value};
use kyrgyz_relations::model::{DatePrecision, PartialDate};
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

#[test]
fn every_deprecation_in_schema_graphql_names_its_removal_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let sdl = std::fs::read_to_string(&path).expect("schema.graphql is readable");
    let undated = deprecations_without_removal_date(&sdl);
    assert!(
        undated.is_empty(),
        "every deprecation must say when the element goes, as GitHub's API does: \
         `#[graphql(deprecation = \"`X` will be removed. Use `Y` instead. Removal on \
         2026-01-01 UTC.\")]` (see CHANGELOG.md). These do not:\n{}",
        undated.join("\n")
    );
}

#[test]
fn the_deprecation_check_reports_reasons_without_a_removal_date() {
    let sdl = r#"
type Query {
  dated: Int @deprecated(reason: "`dated` will be removed. Use `current` instead. Removal on 2026-01-01 UTC.")
  undated: Int @deprecated(reason: "Use `current` instead.")
  bare: Int @deprecated
  current(limit: Int @deprecated(reason: "Removal on 2026-02-30."), first: Int): Int
}
input Filter {
  kind: Kind @deprecated(reason: "Removal on 2026-04-01 UTC.")
  text: String @deprecated(reason: "Removal on 2026-04.")
}
enum Kind {
  A
  B @deprecated(reason: "`B` will be removed. Removal on 2026-07-01 UTC.")
  C @deprecated(reason: "Removal soon.")
}
"#;
    assert_eq!(
        deprecations_without_removal_date(sdl),
        [
            "field Query.undated (line 4): \"Use `current` instead.\"",
            "field Query.bare (line 5): no reason",
            "argument Query.current(limit:) (line 6): \"Removal on 2026-02-30.\"",
            "input field Filter.text (line 10): \"Removal on 2026-04.\"",
            "enum value Kind.C (line 15): \"Removal soon.\"",
        ]
    );
}

/// Every `@deprecated` field, argument, input field and enum value in the SDL `sdl` whose
/// reason does not name a removal date, with its line and reason.
fn deprecations_without_removal_date(sdl: &str) -> Vec<String> {
    let document = async_graphql::parser::parse_schema(sdl)
        .unwrap_or_else(|error| panic!("the SDL does not parse: {error}"));
    // Every element that can be deprecated, named as the failure message shows it.
    let mut elements: Vec<(String, &[Positioned<ConstDirective>])> = Vec::new();
    for definition in &document.definitions {
        let ty = match definition {
            TypeSystemDefinition::Type(ty) => &ty.node,
            TypeSystemDefinition::Directive(directive) => {
                let owner = format!("@{}", directive.node.name.node);
                push_arguments(&mut elements, &owner, &directive.node.arguments);
                continue;
            }
            TypeSystemDefinition::Schema(_) => continue,
        };
        let type_name = ty.name.node.as_str();
        match &ty.kind {
            TypeKind::Object(ObjectType { fields, .. })
            | TypeKind::Interface(InterfaceType { fields, .. }) => {
                for field in fields {
                    let owner = format!("{type_name}.{}", field.node.name.node);
                    elements.push((format!("field {owner}"), &field.node.directives[..]));
                    push_arguments(&mut elements, &owner, &field.node.arguments);
                }
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    let name = format!("input field {type_name}.{}", field.node.name.node);
                    elements.push((name, &field.node.directives[..]));
                }
            }
            TypeKind::Enum(enumeration) => {
                for value in &enumeration.values {
                    let name = format!("enum value {type_name}.{}", value.node.value.node);
                    elements.push((name, &value.node.directives[..]));
                }
            }
            TypeKind::Scalar | TypeKind::Union(_) => {}
        }
    }

    let mut undated = Vec::new();
    for (element, directives) in elements {
        for directive in directives {
            if directive.node.name.node != "deprecated" {
                continue;
            }
            let reason = match directive
                .node
                .get_argument("reason")
                .map(|value| &value.node)
            {
                Some(Value::String(reason)) => Some(reason.as_str()),
                _ => None,
            };
            if !reason.is_some_and(names_removal_date) {
                let shown = reason.map_or("no reason".to_owned(), |reason| format!("{reason:?}"));
                undated.push(format!("{element} (line {}): {shown}", directive.pos.line));
            }
        }
    }
    undated
}

/// Adds the arguments of `owner` (a field or a directive) to `elements`.
fn push_arguments<'a>(
    elements: &mut Vec<(String, &'a [Positioned<ConstDirective>])>,
    owner: &str,
    arguments: &'a [Positioned<InputValueDefinition>],
) {
    for argument in arguments {
        let name = format!("argument {owner}({}:)", argument.node.name.node);
        elements.push((name, &argument.node.directives[..]));
    }
}

/// Whether a deprecation reason says when the element goes, as GitHub's API does:
/// "Removal on 2026-01-01 UTC." (any text around it; the date must be a real day).
fn names_removal_date(reason: &str) -> bool {
    const MARKER: &str = "Removal on ";
    reason.match_indices(MARKER).any(|(start, _)| {
        let date = reason[start + MARKER.len()..].get(..10).unwrap_or_default();
        PartialDate::parse(date)
            .is_ok_and(|date| date.precision() == DatePrecision::Day && !date.is_interval())
    })
}
