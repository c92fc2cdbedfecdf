//! Response shapes: answers checked against the published contract, `schema.graphql`.
//!
//! Typed clients (Apollo, Relay, generated code) trust the schema's types: a `null` where
//! it says non-null, a missing or extra key, a list where it says an object or an enum
//! value it does not list breaks them, whatever the answer's data. `problems` walks an
//! answer along its operation's selection sets, as the spec's `CollectFields` does
//! (fragments and inline fragments whose type condition applies, aliases, merged
//! selections, `@skip` and `@include`), and checks at every position:
//!
//! - a non-null position never holds `null` (the spec's propagation puts the null of a
//!   failed non-null field on its nearest nullable ancestor instead, up to `data`);
//! - lists are lists, objects are objects holding exactly the selected response keys,
//!   and `__typename` names the object's type;
//! - scalars have their JSON kind (`Int` an integer in 32 bits, `Float` a number,
//!   `String`, `ID` and our custom scalars strings, `Boolean` a boolean) and enum values
//!   are members of their enum;
//! - every field error's `path` leads through the data to a `null`: at the failed
//!   field's nearest nullable position (itself, or an ancestor when it is non-null), or
//!   above it where another error's propagation stopped. A `null` `data` needs an error.
//!
//! The concrete type of an object at a union or interface position is the one its
//! `__typename` names, when selected; otherwise every possible type is tried, and the
//! object must fit one of them.
//!
//! Every snapshot query's answer is checked by `queries.rs` (`check_answer`); the tests
//! below pin the answers of objects whose selection set selects nothing, which
//! async-graphql answers `null`, check every object field of the schema for it (the
//! guard, derived from the SDL), and show that the checker catches what it claims to.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, Field, FieldDefinition, OperationDefinition,
    Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::Positioned;
use async_graphql::Name;
use async_graphql_value::Value as GraphqlValue;
use serde_json::{json, Map, Value};

use crate::support::{execute, TestApp};

/// The types of `schema.graphql`, as the checker needs them.
struct Schema {
    types: HashMap<String, Kind>,
}

enum Kind {
    Scalar,
    Enum(HashSet<String>),
    /// An object type: its fields' types.
    Object(HashMap<String, Type>),
    /// An interface or a union: the object types it may be.
    Abstract(Vec<String>),
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    Schema::parse(&std::fs::read_to_string(path).expect("schema.graphql reads"))
});

impl Schema {
    fn parse(sdl: &str) -> Schema {
        let document = async_graphql::parser::parse_schema(sdl).expect("the schema parses");
        let mut types = HashMap::new();
        let mut implementations: HashMap<String, Vec<String>> = HashMap::new();
        for scalar in ["Int", "Float", "String", "Boolean", "ID"] {
            types.insert(scalar.to_owned(), Kind::Scalar);
        }
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let name = definition.node.name.node.to_string();
            let fields = |fields: Vec<Positioned<FieldDefinition>>| {
                fields
                    .into_iter()
                    .map(|field| (field.node.name.node.to_string(), field.node.ty.node))
                    .collect()
            };
            let kind = match definition.node.kind {
                TypeKind::Scalar => Kind::Scalar,
                TypeKind::Enum(enumeration) => Kind::Enum(
                    enumeration
                        .values
                        .into_iter()
                        .map(|value| value.node.value.node.to_string())
                        .collect(),
                ),
                TypeKind::Object(object) => {
                    for interface in &object.implements {
                        implementations
                            .entry(interface.node.to_string())
                            .or_default()
                            .push(name.clone());
                    }
                    Kind::Object(fields(object.fields))
                }
                // Filled in below, once every object has said what it implements.
                TypeKind::Interface(_) => Kind::Abstract(Vec::new()),
                TypeKind::Union(union) => Kind::Abstract(
                    union
                        .members
                        .into_iter()
                        .map(|member| member.node.to_string())
                        .collect(),
                ),
                TypeKind::InputObject(_) => continue,
            };
            types.insert(name, kind);
        }
        for (interface, objects) in implementations {
            if let Some(Kind::Abstract(possible)) = types.get_mut(&interface) {
                *possible = objects;
            }
        }
        Schema { types }
    }

    /// The object types a value of type `name` may have.
    fn possible_types<'s>(&'s self, name: &'s str) -> Vec<&'s str> {
        match self.types.get(name) {
            Some(Kind::Abstract(possible)) => possible.iter().map(String::as_str).collect(),
            _ => vec![name],
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `object` (the
    /// spec's `DoesFragmentTypeApply`).
    fn applies(&self, object: &str, condition: &str) -> bool {
        object == condition
            || match self.types.get(condition) {
                Some(Kind::Abstract(possible)) => possible.iter().any(|member| member == object),
                _ => false,
            }
    }
}

/// Panics with every problem `problems` finds in `answer`, the response to `query`
/// (without variables or an operation name) against `schema.graphql`.
pub fn check_answer(query: &str, answer: &Value) {
    let found = problems(&SCHEMA, query, None, &json!({}), answer);
    assert!(
        found.is_empty(),
        "the answer does not fit the schema:\n- {}\nquery: {query}\nanswer: {answer:#}",
        found.join("\n- ")
    );
}

/// What is wrong with `answer`, the response (`data` and `errors`) to the operation
/// `operation` of `query` with `variables`: empty when nothing is.
fn problems(
    schema: &Schema,
    query: &str,
    operation: Option<&str>,
    variables: &Value,
    answer: &Value,
) -> Vec<String> {
    let mut problems = Vec::new();
    let errors = match answer.get("errors") {
        None => &[][..],
        Some(Value::Array(errors)) if !errors.is_empty() => &errors[..],
        Some(other) => return vec![format!("`errors` is not a non-empty list: {other}")],
    };
    for error in errors {
        if !error.get("message").is_some_and(Value::is_string) {
            problems.push(format!("an error without a message: {error}"));
        }
    }
    let data = answer.get("data").unwrap_or(&Value::Null);
    let request_error = errors.iter().any(|error| error.get("path").is_none());
    if data.is_null() {
        if errors.is_empty() {
            problems.push("`data` is null without an error".to_owned());
        }
        if request_error {
            // Refused before execution (syntax, validation, variables, the guard).
            return problems;
        }
    } else if request_error {
        problems.push("an error without a `path` beside data".to_owned());
    }
    let document = match async_graphql::parser::parse_query(query) {
        Ok(document) => document,
        Err(error) => {
            problems.push(format!("answered, but the query does not parse: {error}"));
            return problems;
        }
    };
    let Some(operation_definition) = pick_operation(&document, operation) else {
        problems.push("answered, but the document has no such operation".to_owned());
        return problems;
    };
    let mut walk = Walk {
        schema,
        document: &document,
        variables: variables_with_defaults(operation_definition, variables),
        problems,
    };
    let root = [&operation_definition.selection_set.node];
    if !data.is_null() {
        walk.object(&mut Vec::new(), "Query", &root, data);
    }
    walk.errors(&root, data, errors);
    walk.problems
}

fn pick_operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    let mut operations = document.operations.iter();
    match name {
        Some(name) => operations
            .find(|(operation, _)| operation.is_some_and(|operation| operation.as_str() == name))
            .map(|(_, operation)| &operation.node),
        None => {
            let (_, operation) = operations.next()?;
            operations.next().is_none().then_some(&operation.node)
        }
    }
}

/// `variables` with the operation's defaults for those it leaves out.
fn variables_with_defaults(
    operation: &OperationDefinition,
    variables: &Value,
) -> Map<String, Value> {
    let mut all = variables.as_object().cloned().unwrap_or_default();
    for definition in &operation.variable_definitions {
        let name = definition.node.name.node.to_string();
        if let (false, Some(default)) = (all.contains_key(&name), &definition.node.default_value) {
            let default = default.node.clone().into_json().expect("a default is JSON");
            all.insert(name, default);
        }
    }
    all
}

/// The fields a selection set collects for one object type: the merged selections of
/// each response key, in order.
type Collected<'d> = Vec<(String, Vec<&'d Field>)>;

struct Walk<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    variables: Map<String, Value>,
    problems: Vec<String>,
}

impl<'a> Walk<'a> {
    /// Whether `@skip` or `@include` leave a selection out.
    fn skipped(&mut self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().any(|directive| {
            let include = match directive.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => return false,
            };
            let condition = match directive.node.get_argument("if").map(|value| &value.node) {
                Some(GraphqlValue::Boolean(condition)) => Some(*condition),
                Some(GraphqlValue::Variable(name)) => {
                    self.variables.get(name.as_str()).and_then(Value::as_bool)
                }
                _ => None,
            };
            let Some(condition) = condition else {
                self.problems.push(format!(
                    "a `@{}` without a boolean `if`",
                    directive.node.name.node
                ));
                return false;
            };
            condition != include
        })
    }

    /// The spec's `CollectFields` for an object of type `object` over `sets`.
    fn collect(&mut self, object: &str, sets: &[&'a SelectionSet]) -> Collected<'a> {
        let mut collected = Collected::new();
        let mut visited = HashSet::new();
        for set in sets {
            self.collect_into(object, set, &mut collected, &mut visited);
        }
        collected
    }

    fn collect_into(
        &mut self,
        object: &str,
        set: &'a SelectionSet,
        collected: &mut Collected<'a>,
        visited: &mut HashSet<&'a str>,
    ) {
        for selection in &set.items {
            if self.skipped(selection.node.directives()) {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.to_string();
                    match collected.iter_mut().find(|(existing, _)| *existing == key) {
                        Some((_, fields)) => fields.push(&field.node),
                        None => collected.push((key, vec![&field.node])),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if !visited.insert(name) {
                        continue;
                    }
                    let Some(fragment) = self.document.fragments.get(name) else {
                        self.problems.push(format!("no fragment `{name}`"));
                        continue;
                    };
                    if self
                        .schema
                        .applies(object, &fragment.node.type_condition.node.on.node)
                    {
                        self.collect_into(
                            object,
                            &fragment.node.selection_set.node,
                            collected,
                            visited,
                        );
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let applies = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| {
                            self.schema.applies(object, &condition.node.on.node)
                        });
                    if applies {
                        self.collect_into(
                            object,
                            &fragment.node.selection_set.node,
                            collected,
                            visited,
                        );
                    }
                }
            }
        }
    }

    /// Checks `value`, at `path`, against the field type `ty`, whose selections (for
    /// objects) are those of `fields`.
    fn value(&mut self, path: &mut Vec<Value>, ty: &Type, fields: &[&'a Field], value: &Value) {
        if value.is_null() {
            if !ty.nullable {
                self.problems.push(format!(
                    "null at {} of non-null type {ty}",
                    Value::from(path.clone())
                ));
            }
            return;
        }
        match &ty.base {
            BaseType::List(item) => {
                let Value::Array(items) = value else {
                    self.problems.push(format!(
                        "{} of type {ty} is not a list: {value}",
                        Value::from(path.clone())
                    ));
                    return;
                };
                for (index, item_value) in items.iter().enumerate() {
                    path.push(Value::from(index));
                    self.value(path, item, fields, item_value);
                    path.pop();
                }
            }
            BaseType::Named(name) => {
                let at = || Value::from(path.clone());
                match self.schema.types.get(name.as_str()) {
                    Some(Kind::Scalar) => {
                        let fits = match name.as_str() {
                            "Int" => value.as_i64().is_some_and(|int| i32::try_from(int).is_ok()),
                            "Float" => value.is_number(),
                            "Boolean" => value.is_boolean(),
                            // String, ID, and our custom scalars (PartialDate).
                            _ => value.is_string(),
                        };
                        if !fits {
                            self.problems
                                .push(format!("{} is not a {name}: {value}", at()));
                        }
                    }
                    Some(Kind::Enum(values)) => {
                        if !value.as_str().is_some_and(|value| values.contains(value)) {
                            self.problems
                                .push(format!("{} is not a value of enum {name}: {value}", at()));
                        }
                    }
                    Some(Kind::Object(_) | Kind::Abstract(_)) => {
                        let sets: Vec<&'a SelectionSet> = fields
                            .iter()
                            .map(|field| &field.selection_set.node)
                            .collect();
                        self.object(path, name, &sets, value);
                    }
                    None => self.problems.push(format!("{}: no type {name}", at())),
                }
            }
        }
    }

    /// Checks `value`, an object at `path` of the object, interface or union type `ty`
    /// selected by `sets`.
    fn object(
        &mut self,
        path: &mut Vec<Value>,
        ty: &str,
        sets: &[&'a SelectionSet],
        value: &Value,
    ) {
        let Value::Object(object) = value else {
            self.problems.push(format!(
                "{} of type {ty} is not an object: {value}",
                Value::from(path.clone())
            ));
            return;
        };
        let possible = self.schema.possible_types(ty);
        let mut first_failure = None;
        for candidate in &possible {
            let before = self.problems.len();
            self.object_of_type(path, candidate, sets, object);
            if self.problems.len() == before {
                return;
            }
            let found = self.problems.split_off(before);
            first_failure.get_or_insert(found);
        }
        if possible.len() > 1 {
            self.problems.push(format!(
                "{} fits none of {ty}'s types ({}); as the first:",
                Value::from(path.clone()),
                possible.join(", ")
            ));
        }
        self.problems.extend(first_failure.unwrap_or_default());
    }

    fn object_of_type(
        &mut self,
        path: &mut Vec<Value>,
        ty: &str,
        sets: &[&'a SelectionSet],
        object: &Map<String, Value>,
    ) {
        let at = Value::from(path.clone());
        let collected = self.collect(ty, sets);
        for key in object.keys() {
            if !collected.iter().any(|(selected, _)| selected == key) {
                self.problems
                    .push(format!("{at} holds `{key}`, which is not selected on {ty}"));
            }
        }
        for (key, fields) in collected {
            let Some(value) = object.get(&key) else {
                self.problems
                    .push(format!("{at} lacks `{key}`, selected on {ty}"));
                continue;
            };
            let name = fields[0].name.node.as_str();
            if name == "__typename" {
                if value != ty {
                    self.problems
                        .push(format!("{at}.{key} is {value}, on an object of type {ty}"));
                }
                continue;
            }
            if name.starts_with("__") {
                // Introspection (`__schema`, `__type`), not part of schema.graphql.
                continue;
            }
            let Some(Kind::Object(field_types)) = self.schema.types.get(ty) else {
                self.problems.push(format!("{ty} is not an object type"));
                return;
            };
            let Some(field_type) = field_types.get(name).cloned() else {
                self.problems
                    .push(format!("{at}.{key}: {ty} has no field `{name}`"));
                continue;
            };
            path.push(Value::from(key));
            self.value(path, &field_type, &fields, value);
            path.pop();
        }
    }

    /// Checks that every error's path leads through `data` to the null its failure
    /// leaves: at its nearest nullable position (or higher, where another error's
    /// propagation stopped), and that a null `data` has an error propagated to it.
    fn errors(&mut self, root: &[&'a SelectionSet], data: &Value, errors: &[Value]) {
        // Per error with a path: the depth of the first null on its path, and of its
        // nearest nullable position (0 is `data` itself).
        let mut stops = Vec::new();
        for error in errors {
            let Some(path) = error.get("path") else {
                continue;
            };
            let Some(path) = path.as_array() else {
                self.problems
                    .push(format!("an error's path is not a list: {error}"));
                continue;
            };
            let Some(nullable) = self.nearest_nullable(root, path) else {
                continue;
            };
            let mut first_null = None;
            let mut value = data;
            for depth in 0..=path.len() {
                if value.is_null() {
                    first_null = Some(depth);
                    break;
                }
                let Some(segment) = path.get(depth) else {
                    break;
                };
                let next = match segment {
                    Value::String(key) => value.get(key.as_str()),
                    Value::Number(index) => {
                        index.as_u64().and_then(|index| value.get(index as usize))
                    }
                    _ => None,
                };
                let Some(next) = next else {
                    self.problems.push(format!(
                        "the error at {} leads nowhere in the data",
                        Value::from(path.clone())
                    ));
                    break;
                };
                value = next;
            }
            match first_null {
                Some(depth) => stops.push((path.clone(), depth, nullable)),
                None => self.problems.push(format!(
                    "the error at {} left a value where its propagation must leave null",
                    Value::from(path.clone())
                )),
            }
        }
        // A null above an error's nearest nullable position is the stop of another.
        for (path, depth, nullable) in &stops {
            let explained = stops.iter().any(|(other, other_depth, other_nullable)| {
                other_depth == other_nullable
                    && other_depth == depth
                    && other[..*other_depth] == path[..*depth]
            });
            if depth < nullable && !explained {
                self.problems.push(format!(
                    "the error at {} nulled {}, above its nearest nullable position {}",
                    Value::from(path.clone()),
                    Value::from(path[..*depth].to_vec()),
                    Value::from(path[..*nullable].to_vec()),
                ));
            }
        }
        if data.is_null() && !stops.iter().any(|(_, _, nullable)| *nullable == 0) {
            self.problems
                .push("`data` is null, but no error propagates to it".to_owned());
        }
    }

    /// The depth on `path` of its nearest nullable position: `path` itself when its type
    /// is nullable, else its nearest ancestor whose type is, else 0 (`data`). Found by
    /// the selections' types alone, so that it holds below a null too.
    fn nearest_nullable(&mut self, root: &[&'a SelectionSet], path: &[Value]) -> Option<usize> {
        let mut nullable_at = 0;
        let mut ty = Type {
            base: BaseType::Named(Name::new("Query")),
            nullable: true,
        };
        let mut sets: Vec<&'a SelectionSet> = root.to_vec();
        for (depth, segment) in path.iter().enumerate() {
            match segment {
                Value::Number(_) => {
                    let BaseType::List(item) = ty.base else {
                        self.problems.push(format!(
                            "the error path {} indexes a non-list",
                            Value::from(path.to_vec())
                        ));
                        return None;
                    };
                    ty = *item;
                }
                Value::String(key) => {
                    let BaseType::Named(name) = &ty.base else {
                        self.problems.push(format!(
                            "the error path {} names a key in a list",
                            Value::from(path.to_vec())
                        ));
                        return None;
                    };
                    let mut found = None;
                    for object in self.schema.possible_types(name) {
                        let collected = self.collect(object, &sets);
                        let Some((_, fields)) = collected.into_iter().find(|(k, _)| k == key)
                        else {
                            continue;
                        };
                        let field_type = match self.schema.types.get(object) {
                            Some(Kind::Object(types)) => {
                                types.get(fields[0].name.node.as_str()).cloned()
                            }
                            _ => None,
                        };
                        if let Some(field_type) = field_type {
                            found = Some((field_type, fields));
                            break;
                        }
                    }
                    let Some((field_type, fields)) = found else {
                        self.problems.push(format!(
                            "the error path {} names no selected field",
                            Value::from(path.to_vec())
                        ));
                        return None;
                    };
                    ty = field_type;
                    sets = fields
                        .iter()
                        .map(|field| &field.selection_set.node)
                        .collect();
                }
                _ => {
                    self.problems.push(format!(
                        "the error path {} holds {segment}",
                        Value::from(path.to_vec())
                    ));
                    return None;
                }
            }
            if ty.nullable {
                nullable_at = depth + 1;
            }
        }
        Some(nullable_at)
    }
}

/// Objects whose selection set selects none of their fields are `{}`, never `null`:
/// union members no fragment matches, a `Node` of another type than its fragments',
/// records and connections whose fields are all skipped, and the root. Each document
/// runs through the executor with the response cache (a miss, then a hit) and without
/// it, and on the schema with its hooks directly; all four answer the same, and fit the
/// schema.
#[tokio::test]
async fn objects_that_select_nothing_are_empty_objects_not_null() {
    let app = TestApp::new();
    let uncached = crate::support::executor(&app.store, 0);
    let cases = [
        (
            r#"{ search(text: "Kant") { nodes { ... on Facility { name } } } }"#,
            json!({ "search": { "nodes": [{}, {}, {}, {}, {}, { "name": "Kant Air Base" }, {}] } }),
        ),
        (
            // Through edges too, and with a named fragment.
            r#"{ search(text: "Kant", first: 2) { edges { node { ...F } } } }
               fragment F on Person { name }"#,
            json!({ "search": { "edges": [{ "node": {} }, { "node": {} }] } }),
        ),
        (
            r#"{ node(id: "Q291bnRyeTpydXNzaWE") { ... on Facility { name } }
                 nodes(ids: ["Q291bnRyeTpydXNzaWE", "RmFjaWxpdHk6a2FudC1haXItYmFzZQ", "Q291bnRyeTpub3doZXJl"]) {
                   ... on Country { code } } }"#,
            json!({ "node": {}, "nodes": [{ "code": "RU" }, {}, null] }),
        ),
        (
            r#"{ country(code: "RU") { name @skip(if: true) }
                 nowhere: country(code: "XX") { name @skip(if: true) }
                 facility(slug: "kant-air-base") { name @include(if: false) }
                 countries(first: 2) { totalCount @skip(if: true) nodes { code @skip(if: true) } } }"#,
            json!({
                "country": {},
                "nowhere": null,
                "facility": {},
                "countries": { "nodes": [{}, {}] }
            }),
        ),
        (
            r#"{ countries(first: 2) { totalCount @skip(if: true) } }"#,
            json!({ "countries": {} }),
        ),
        (r#"{ __typename @skip(if: true) }"#, json!({})),
    ];
    for (query, data) in cases {
        let (missed, first) = execute(&app.executor, query).await;
        let (hit, second) = execute(&app.executor, query).await;
        let (off, _) = execute(&uncached, query).await;
        let direct = serde_json::to_value(app.schema.execute(query).await).expect("json");
        assert_eq!(missed, json!({ "data": data }), "{query}");
        assert_eq!(
            (first, second),
            (
                kyrgyz_relations::executor::CacheOutcome::Miss,
                kyrgyz_relations::executor::CacheOutcome::Hit
            ),
            "{query}"
        );
        assert_eq!(hit, missed, "{query}: from the cache");
        assert_eq!(off, missed, "{query}: without the cache");
        assert_eq!(direct, missed, "{query}: on the schema with its hooks");
        check_answer(query, &missed);
    }
}

/// An object whose selected fields failed is still null as the spec's propagation says:
/// `{}` is only for objects that selected nothing.
#[tokio::test]
async fn an_object_whose_selected_fields_failed_is_still_null() {
    let app = TestApp::new();
    let query = r#"{
        russia: node(id: "Q291bnRyeTpydXNzaWE") { ... on Country { agreements(first: 1000) { totalCount } } }
        kant: node(id: "RmFjaWxpdHk6a2FudC1haXItYmFzZQ") { ... on Country { agreements(first: 1000) { totalCount } } } }"#;
    let (answer, _) = execute(&app.executor, query).await;
    assert_eq!(
        answer["data"],
        json!({ "russia": null, "kant": {} }),
        "{answer:#}"
    );
    let paths: Vec<&Value> = answer["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| &error["path"])
        .collect();
    assert_eq!(paths, [&json!(["russia", "agreements"])], "{answer:#}");
    check_answer(query, &answer);
}

/// The same, with `@skip` and `@include` given by variables: the second request of each
/// pair is validated fast (`executor::validation`), and the cache keys them apart.
#[tokio::test]
async fn objects_whose_fields_variables_skip_are_empty_objects() {
    let app = TestApp::new();
    let query = r#"query($skip: Boolean!) {
        country(code: "KG") { name @skip(if: $skip) code @skip(if: $skip) }
        incidents(first: 1) { nodes { title @include(if: false) ... on Incident @skip(if: $skip) { slug } } } }"#;
    for (skip, data) in [
        (
            true,
            json!({ "country": {}, "incidents": { "nodes": [{}] } }),
        ),
        (
            false,
            json!({ "country": { "name": "Kyrgyzstan", "code": "KG" },
                    "incidents": { "nodes": [{ "slug": "satybaldiyev-informs-russia-customs-union" }] } }),
        ),
        (
            true,
            json!({ "country": {}, "incidents": { "nodes": [{}] } }),
        ),
    ] {
        let variables = json!({ "skip": skip });
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables.clone()));
        let executed = app
            .executor
            .answer(request)
            .await
            .expect("answers serialize");
        let answer: Value = match executed.answer {
            kyrgyz_relations::executor::Answer::Body(body) => {
                serde_json::from_slice(&body).expect("JSON")
            }
            kyrgyz_relations::executor::Answer::Errors(response) => {
                serde_json::to_value(response).expect("JSON")
            }
        };
        assert_eq!(answer, json!({ "data": data }), "skip: {skip}");
        assert_eq!(
            problems(&SCHEMA, query, None, &variables, &answer),
            Vec::<String>::new()
        );
    }
}

/// Runs the checker on `answer` to `query` (no variables) and returns its findings.
fn check(query: &str, answer: Value) -> Vec<String> {
    problems(&SCHEMA, query, None, &json!({}), &answer)
}

#[test]
fn the_checker_catches_a_null_in_a_non_null_position() {
    let query = r#"{ search(text: "Kant") { nodes { ... on Facility { name } } } }"#;
    let fits = json!({ "data": { "search": { "nodes": [{}, { "name": "Kant Air Base" }] } } });
    assert_eq!(check(query, fits), Vec::<String>::new());
    let found = check(
        query,
        json!({ "data": { "search": { "nodes": [null, { "name": "Kant Air Base" }] } } }),
    );
    assert_eq!(
        found,
        [r#"null at ["search","nodes",0] of non-null type SearchResult!"#]
    );
    // And a null where a list must be, and `data` null without an error.
    let found = check(
        r#"{ country(code: "RU") { aliases } }"#,
        json!({ "data": { "country": { "aliases": null } } }),
    );
    assert_eq!(
        found,
        [r#"null at ["country","aliases"] of non-null type [String!]!"#]
    );
    let found = check("{ __typename }", json!({ "data": null }));
    assert_eq!(
        found,
        [
            "`data` is null without an error",
            "`data` is null, but no error propagates to it"
        ]
    );
}

#[test]
fn the_checker_catches_a_value_outside_its_enum_or_scalar() {
    let query = r#"{ facility(slug: "kant-air-base") { kind openedBounds { isInterval } } }"#;
    let answer = |kind: Value, interval: Value| {
        json!({ "data": { "facility": {
            "kind": kind, "openedBounds": { "isInterval": interval } } } })
    };
    assert_eq!(
        check(query, answer(json!("AIR_BASE"), json!(false))),
        Vec::<String>::new()
    );
    assert_eq!(
        check(query, answer(json!("SPACEPORT"), json!(false))),
        [r#"["facility","kind"] is not a value of enum FacilityKind: "SPACEPORT""#]
    );
    assert_eq!(
        check(query, answer(json!("AIR_BASE"), json!("no"))),
        [r#"["facility","openedBounds","isInterval"] is not a Boolean: "no""#]
    );
    assert_eq!(
        check(
            r#"{ countries(first: 1) { totalCount } }"#,
            json!({ "data": { "countries": { "totalCount": 5_000_000_000_i64 } } })
        ),
        [r#"["countries","totalCount"] is not a Int: 5000000000"#]
    );
}

#[test]
fn the_checker_catches_a_missing_key_an_extra_one_and_a_wrong_shape() {
    let query = r#"{ country(code: "RU") { n: name code ... on Country { __typename } } }"#;
    let fits =
        json!({ "data": { "country": { "n": "Russia", "code": "RU", "__typename": "Country" } } });
    assert_eq!(check(query, fits), Vec::<String>::new());
    assert_eq!(
        check(
            query,
            json!({ "data": { "country": { "n": "Russia", "__typename": "Country" } } })
        ),
        [r#"["country"] lacks `code`, selected on Country"#]
    );
    assert_eq!(
        check(
            query,
            json!({ "data": { "country": {
                "n": "Russia", "name": "Russia", "code": "RU", "__typename": "Country" } } })
        ),
        [r#"["country"] holds `name`, which is not selected on Country"#]
    );
    assert_eq!(
        check(query, json!({ "data": { "country": [{ "n": "Russia" }] } })),
        [r#"["country"] of type Country is not an object: [{"n":"Russia"}]"#]
    );
    assert_eq!(
        check(
            r#"{ country(code: "RU") { aliases } }"#,
            json!({ "data": { "country": { "aliases": "Rossiya" } } })
        ),
        [r#"["country","aliases"] of type [String!]! is not a list: "Rossiya""#]
    );
    // A member of a union must fit one of its types; `__typename` picks which.
    let search = r#"{ search(text: "Kant") { nodes { __typename ... on Facility { name } } } }"#;
    assert_eq!(
        check(
            search,
            json!({ "data": { "search": { "nodes": [
                { "__typename": "Country", "name": "Russia" }] } } })
        ),
        [
            r#"["search","nodes",0] fits none of SearchResult's types (Country, Organization, Person, Agreement, Facility, Incident); as the first:"#,
            r#"["search","nodes",0] holds `name`, which is not selected on Country"#,
        ]
    );
}

#[test]
fn the_checker_follows_skip_include_and_fragments_by_variables() {
    let query = r#"query($skip: Boolean!, $with: Boolean = true) {
        country(code: "RU") { name @skip(if: $skip) ...Code @include(if: $with) } }
        fragment Code on Country { code }"#;
    let run = |variables: Value, country: Value| {
        problems(
            &SCHEMA,
            query,
            None,
            &variables,
            &json!({ "data": { "country": country } }),
        )
    };
    assert_eq!(
        run(json!({ "skip": true }), json!({ "code": "RU" })),
        Vec::<String>::new()
    );
    assert_eq!(
        run(
            json!({ "skip": false, "with": false }),
            json!({ "name": "Russia" })
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        run(json!({ "skip": false }), json!({ "code": "RU" })),
        [r#"["country"] lacks `name`, selected on Country"#]
    );
}

#[test]
fn the_checker_holds_field_errors_to_the_specs_propagation() {
    let query = r#"{ country(code: "KG") { name agreements(first: 1000) { totalCount } } }"#;
    let error = json!({ "message": "too many", "path": ["country", "agreements"] });
    let answer = |data: Value| json!({ "data": data, "errors": [error.clone()] });
    // The connection is non-null: its null goes to the nullable country.
    assert_eq!(
        check(query, answer(json!({ "country": null }))),
        Vec::<String>::new()
    );
    assert_eq!(
        check(
            query,
            answer(json!({ "country": { "name": "Kyrgyzstan", "agreements": null } }))
        ),
        [r#"null at ["country","agreements"] of non-null type AgreementConnection!"#]
    );
    assert_eq!(
        check(query, answer(Value::Null)),
        [
            r#"the error at ["country","agreements"] nulled [], above its nearest nullable position ["country"]"#,
            "`data` is null, but no error propagates to it"
        ]
    );
    assert_eq!(
        check(
            query,
            answer(
                json!({ "country": { "name": "Kyrgyzstan", "agreements": { "totalCount": 3 } } })
            )
        ),
        [
            r#"the error at ["country","agreements"] left a value where its propagation must leave null"#
        ]
    );
    // Under a union, through a fragment's type: every position up to the failed field
    // is non-null, so the null goes up to `data`.
    let query = r#"{ search(text: "Kant") { nodes { ... on Country { agreements(first: 1000) { totalCount } } } } }"#;
    let error = json!({ "message": "too many", "path": ["search", "nodes", 0, "agreements"] });
    assert_eq!(
        check(query, json!({ "data": null, "errors": [error.clone()] })),
        Vec::<String>::new()
    );
    assert_eq!(
        check(
            query,
            json!({ "data": { "search": null }, "errors": [error] })
        ),
        [r#"null at ["search"] of non-null type SearchResultConnection!"#]
    );
}

/// The guard behind "an object is never null without an error": every field of the
/// schema whose type is an object, an interface or a union (in a list or not), found by
/// walking the schema's own SDL (`schema::sdl()`, so a field added tomorrow is covered
/// without touching this test), is selected where the seeded store has objects for it,
/// and must answer:
///
/// - with every field skipped (`{ __typename @skip(if: true) }`): `{}` for each object,
///   `null` only where the control (`{ __typename }`) is `null`;
/// - with a fragment on each type the field's objects may belong to (`... on T {
///   __typename }` for the object types, interfaces and unions that overlap the field's
///   type): `{"__typename": t}` when `t` belongs to `T` as the spec says, else `{}`. This
///   holds fragments on a union at an object or interface position (`node { ... on
///   SearchResult }`), which async-graphql alone leaves out.
///
/// Each query runs on the executor without its cache (the plain twin, where `serial`
/// resolves fields itself) and on the schema with its hooks (async-graphql's own path);
/// both must answer alike. A field whose objects the seed never holds (on any path the
/// walk tries) fails the test: the guard could not check it. So that the guard does not
/// depend on where the knowledge base happens to record statements, it runs on a copy of
/// the seed that gives one, by a person, to each record the walk starts from.
#[tokio::test]
async fn every_object_field_answers_an_object_for_an_object_that_selects_nothing() {
    let seed = crate::support::seed_copy();
    let statement = json!({
        "kind": "POSITION",
        "by": { "person": "marat-sultanov" },
        "text": "A statement the guard's seed adds, so that every statements field has one.",
        "sources": [{ "document": "kyrgyzstan-foreign-relations", "section": "Russia", "paragraph": 3 }],
    });
    for (file, id) in [
        ("countries.json", "russia"),
        ("organizations.json", "osce"),
        ("people.json", "marat-sultanov"),
    ] {
        crate::support::edit_seed(seed.path(), file, |records| {
            let record = crate::support::record(records, id);
            record["statements"] = json!([statement.clone()]);
        });
    }
    let app = TestApp::seeded(Some(seed.path()));
    let plain = crate::support::executor(&app.store, 0);
    let guard = Guard::new(&kyrgyz_relations::schema::sdl());
    let targets = guard.targets();
    assert!(
        targets.len() > 60,
        "only {} object fields found in the SDL",
        targets.len()
    );
    let paths = guard.paths();
    let run = |query: String| {
        let (plain, app) = (&plain, &app);
        async move {
            let (answer, _) = execute(plain, &query).await;
            let hooked = serde_json::to_value(app.schema.execute(query.as_str()).await)
                .expect("responses serialize");
            assert_eq!(answer, hooked, "{query}: the two paths differ");
            assert!(answer.get("errors").is_none(), "{query}: {answer:#}");
            (query, answer)
        }
    };
    let mut unchecked = Vec::new();
    for (owner, field) in &targets {
        let call = guard.call(owner, field);
        let mut found = None;
        for path in paths.get(owner.as_str()).into_iter().flatten() {
            let (query, control) = run(path.query(&call, "__typename")).await;
            let objects = compare(&control["data"], &control["data"], &|_| None)
                .unwrap_or_else(|problem| panic!("{query}: {problem}"));
            if objects > 0 {
                found = Some((path, control));
                break;
            }
        }
        let Some((path, control)) = found else {
            unchecked.push(format!("{owner}.{}", field.name.node));
            continue;
        };
        let (query, answer) = run(path.query(&call, "__typename @skip(if: true)")).await;
        compare(&control["data"], &answer["data"], &|_| Some(json!({})))
            .unwrap_or_else(|problem| panic!("{query}: {problem}\n{answer:#}"));
        check_answer(&query, &answer);
        let field_type = base_name(&field.ty.node);
        for condition in guard.overlapping(field_type) {
            let selection = format!("... on {condition} {{ __typename }}");
            let (query, answer) = run(path.query(&call, &selection)).await;
            let expected = |typename: &str| {
                Some(if guard.possible[condition].iter().any(|t| t == typename) {
                    json!({ "__typename": typename })
                } else {
                    json!({})
                })
            };
            compare(&control["data"], &answer["data"], &expected)
                .unwrap_or_else(|problem| panic!("{query}: {problem}\n{answer:#}"));
            check_answer(&query, &answer);
        }
    }
    assert!(
        unchecked.is_empty(),
        "the seed has no object for these fields on any path tried, so the guard cannot \
         check them: {unchecked:?}"
    );
}

/// Compares `answer` to `control`, the same query with `{ __typename }` as the tested
/// field's selection: alike down to the tested field's objects (`{"__typename": t}` in
/// `control`), each of which must be `leaf(t)` in `answer` (`None`: anything). Returns
/// how many such objects there are.
fn compare(
    control: &Value,
    answer: &Value,
    leaf: &dyn Fn(&str) -> Option<Value>,
) -> Result<usize, String> {
    match (control, answer) {
        (Value::Null, Value::Null) => Ok(0),
        (Value::Array(control), Value::Array(answer)) if control.len() == answer.len() => control
            .iter()
            .zip(answer)
            .map(|(control, answer)| compare(control, answer, leaf))
            .sum(),
        (Value::Object(object), _) if object.len() == 1 && object.contains_key("__typename") => {
            let typename = object["__typename"]
                .as_str()
                .ok_or("a __typename not a string")?;
            match leaf(typename) {
                Some(expected) if &expected != answer => Err(format!(
                    "an object of type {typename} answers {answer}, not {expected} (control: {control})"
                )),
                _ => Ok(1),
            }
        }
        (Value::Object(control), Value::Object(answer)) if control.len() == answer.len() => {
            let mut objects = 0;
            for (key, value) in control {
                let Some(other) = answer.get(key) else {
                    return Err(format!("`{key}` missing from {answer:?}"));
                };
                objects += compare(value, other, leaf)?;
            }
            Ok(objects)
        }
        _ => Err(format!("{answer} where the control has {control}")),
    }
}

/// The schema's types, read from its SDL, as the guard needs them.
struct Guard {
    /// The object types and their fields, in the SDL's order.
    objects: Vec<(String, Vec<FieldDefinition>)>,
    /// For each object, interface and union type, the object types it may be.
    possible: HashMap<String, Vec<String>>,
}

/// One way from the root to objects of a type: fields, and inline fragments where a
/// field's type is an interface or a union.
#[derive(Clone)]
struct Path {
    steps: Vec<String>,
    end: String,
    /// Types on the way, so none repeats.
    types: Vec<String>,
    /// Paged lists on the way: the limit on nodes allows two of 100 records nested.
    connections: usize,
}

/// The values of required arguments, by `Type.field.argument`: a field that takes one
/// the table lacks fails the guard, which then names it.
const ARGUMENTS: [(&str, &str); 10] = [
    ("Query.node.id", r#""Q291bnRyeTpydXNzaWE""#),
    (
        "Query.nodes.ids",
        r#"["Q291bnRyeTpydXNzaWE", "RmFjaWxpdHk6a2FudC1haXItYmFzZQ", "Q291bnRyeTphdGxhbnRpcw"]"#,
    ),
    ("Query.country.code", r#""RU""#),
    ("Query.organization.slug", r#""osce""#),
    ("Query.person.slug", r#""marat-sultanov""#),
    (
        "Query.agreement.slug",
        r#""russian-bases-15-year-extension""#,
    ),
    ("Query.facility.slug", r#""aksay-border-sector""#),
    ("Query.incident.slug", r#""aksay-border-incident-2013""#),
    ("Query.search.text", r#""Kant""#),
    (
        "Query.sourceDocument.slug",
        r#""kyrgyzstan-foreign-relations""#,
    ),
];

/// How many fields deep the walk looks for objects of a type, and how many ways to each
/// it keeps (the shortest first).
const MAX_DEPTH: usize = 4;
const MAX_PATHS: usize = 40;

fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => base_name(item),
    }
}

impl Guard {
    fn new(sdl: &str) -> Guard {
        let document = async_graphql::parser::parse_schema(sdl).expect("the SDL parses");
        let mut objects = Vec::new();
        let mut possible: HashMap<String, Vec<String>> = HashMap::new();
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let name = definition.node.name.node.to_string();
            match definition.node.kind {
                TypeKind::Object(object) => {
                    for interface in &object.implements {
                        possible
                            .entry(interface.node.to_string())
                            .or_default()
                            .push(name.clone());
                    }
                    possible.entry(name.clone()).or_default().push(name.clone());
                    let fields = object.fields.into_iter().map(|field| field.node).collect();
                    objects.push((name, fields));
                }
                TypeKind::Interface(_) => {
                    possible.entry(name).or_default();
                }
                TypeKind::Union(union) => {
                    let members = union.members.iter().map(|member| member.node.to_string());
                    possible.entry(name).or_default().extend(members);
                }
                _ => {}
            }
        }
        Guard { objects, possible }
    }

    fn fields(&self, object: &str) -> &[FieldDefinition] {
        self.objects
            .iter()
            .find(|(name, _)| name == object)
            .map_or(&[], |(_, fields)| fields)
    }

    /// Every field whose type (unwrapped) is an object, interface or union type.
    fn targets(&self) -> Vec<(String, FieldDefinition)> {
        let mut targets = Vec::new();
        for (object, fields) in &self.objects {
            for field in fields {
                if self.possible.contains_key(base_name(&field.ty.node)) {
                    targets.push((object.clone(), field.clone()));
                }
            }
        }
        targets
    }

    /// The types whose fragments may apply to objects of type `ty`: every object,
    /// interface and union type sharing a possible type with it, by name.
    fn overlapping(&self, ty: &str) -> Vec<&str> {
        let mine = &self.possible[ty];
        let mut overlapping: Vec<&str> = self
            .possible
            .iter()
            .filter(|(_, theirs)| theirs.iter().any(|object| mine.contains(object)))
            .map(|(name, _)| name.as_str())
            .collect();
        overlapping.sort_unstable();
        overlapping
    }

    /// `field` of `owner` as selected: its name and arguments (required ones from
    /// `ARGUMENTS`; `first: 100` for a paged list).
    fn call(&self, owner: &str, field: &FieldDefinition) -> String {
        let mut arguments = Vec::new();
        for argument in &field.arguments {
            let argument = &argument.node;
            let key = format!("{owner}.{}.{}", field.name.node, argument.name.node);
            if argument.name.node == "first" {
                arguments.push("first: 100".to_owned());
            } else if !argument.ty.node.nullable && argument.default_value.is_none() {
                let value = ARGUMENTS
                    .iter()
                    .find(|(name, _)| *name == key)
                    .unwrap_or_else(|| panic!("the guard needs a value for `{key}` in ARGUMENTS"))
                    .1;
                arguments.push(format!("{}: {value}", argument.name.node));
            }
        }
        if arguments.is_empty() {
            field.name.node.to_string()
        } else {
            format!("{}({})", field.name.node, arguments.join(", "))
        }
    }

    /// The ways from the root to objects of each object type, up to `MAX_DEPTH` fields
    /// deep, shortest first.
    fn paths(&self) -> HashMap<&str, Vec<Path>> {
        let root = Path {
            steps: Vec::new(),
            end: "Query".to_owned(),
            types: vec!["Query".to_owned()],
            connections: 0,
        };
        let mut found: HashMap<&str, Vec<Path>> = HashMap::from([("Query", vec![root.clone()])]);
        let mut frontier = vec![root];
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for path in &frontier {
                for field in self.fields(&path.end) {
                    let ty = base_name(&field.ty.node);
                    let Some(objects) = self.possible.get(ty) else {
                        continue;
                    };
                    let paged = field
                        .arguments
                        .iter()
                        .any(|argument| argument.node.name.node == "first");
                    if paged && path.connections == 2 {
                        continue;
                    }
                    for object in objects {
                        if path.types.contains(object) {
                            continue;
                        }
                        let mut steps = path.steps.clone();
                        steps.push(self.call(&path.end, field));
                        if object != ty {
                            steps.push(format!("... on {object}"));
                        }
                        let mut types = path.types.clone();
                        types.push(object.clone());
                        let extended = Path {
                            steps,
                            end: object.clone(),
                            types,
                            connections: path.connections + usize::from(paged),
                        };
                        let (name, _) = self
                            .objects
                            .iter()
                            .find(|(name, _)| name == object)
                            .expect("possible types are objects");
                        let ways = found.entry(name.as_str()).or_default();
                        if ways.len() < MAX_PATHS {
                            ways.push(extended.clone());
                        }
                        next.push(extended);
                    }
                }
            }
            frontier = next;
        }
        found
    }
}

impl Path {
    /// The query selecting `call` on this path's objects, with `selection` below it.
    fn query(&self, call: &str, selection: &str) -> String {
        let mut query = format!("{call} {{ {selection} }}");
        for step in self.steps.iter().rev() {
            query = format!("{step} {{ {query} }}");
        }
        format!("{{ {query} }}")
    }
}
