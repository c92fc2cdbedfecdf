//! The validation rules of the GraphQL specification that async-graphql 7 lacks or gets
//! wrong, run once per new document: what makes the server refuse the documents the
//! reference implementation (graphql-js) refuses.
//!
//! The differential test (`tests/it/validation.rs`) found these kinds of invalid document
//! executed by async-graphql 7.2.1:
//!
//! - fields under one response name with different shapes (5.3.2, `SameResponseShape`:
//!   `kind` as `FacilityKind!` in one fragment and as `IncidentKind!` in another), or
//!   different fields or arguments under one response name (5.3.2, `FieldsInSetCanMerge`:
//!   `nodes { name: code } nodes { name }` answered codes as names);
//! - a variable where its type may not go (5.8.5), when it stands in a list item or an
//!   input object field rather than as a whole argument (`kinds: [$k]` with a nullable
//!   `$k`), or as a whole argument, nullable in a non-null position;
//! - an input object with a field given twice (5.6.3: `{from: "2012", from: "2013"}`),
//!   which async-graphql's parser cannot see: it collapses an object's fields into a map;
//! - anything wrong with the directives on a `__typename` field (unknown ones, repeated
//!   ones, unknown, repeated, missing or mistyped arguments, undefined variables) or a
//!   selection below one: async-graphql's validation never visits `__typename`;
//! - a directive on a variable definition where it may not go (5.7.2), and the two texts
//!   its parser takes and the grammar does not: `query Q() {...}` and a fragment named `on`.
//!
//! apollo-compiler implements the specification's rules, with graphql-js's tests ported, so
//! it parses and validates each new document beside async-graphql; only its syntax errors
//! and its diagnostics of the kinds above (`REPORTED`) refuse a document, so every other
//! mistake is async-graphql's to word, as before (clients, tests and snapshots see the same
//! messages), or the query guard's (a fragment cycle is `QUERY_TOO_COMPLEX`). Two rules are
//! ours, on apollo-compiler's trees, because it gets them wrong as well: it checks a
//! variable only where it is a whole argument (and takes a `null` default for a value), and
//! it does not look for repeated input fields at all.
//!
//! `check` runs once per document, after the guard's checks have bounded its cost (text
//! length and depth, fields, fragments, aliases, directives): `HeldDocument::check_rules`
//! keeps its verdict, a refusal too, with the parsed document in the document cache, so
//! a repeated request pays nothing. It takes a `CheckedText`, so it never sees text the
//! guard has not admitted. apollo-compiler's parser has a recursion limit of its own (500)
//! and reports rather than overflows past it; its field merging check expands each
//! fragment once per selection set and stops at 128 levels of fields (16 KiB of repeated
//! fields or a fragment bomb took 5-26 ms in a debug build).
//!
//! A document `check` finds valid by every rule (`Verdict::Valid`) skips async-graphql's
//! strict validation whenever its variables pass their check (see `validation`): the
//! strict rules have nothing to add then, and get some valid documents wrong.

use std::sync::OnceLock;

use apollo_compiler::ast::{self, Definition, DirectiveList, Selection, Value};
use apollo_compiler::executable::{self, ExecutableDocument};
use apollo_compiler::parser::{LineColumn, SourceMap};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Node, Schema};
use async_graphql::{ErrorExtensionValues, Pos, ServerError, ServerResult};

use super::limits::CheckedText;

/// The kinds of apollo-compiler's diagnostics (its `unstable_error_name`s) that refuse a
/// document: the rules async-graphql misses, in part or in whole. apollo-compiler is pinned
/// to one version in Cargo.toml, since it does not promise these names; the unit tests
/// below would notice a rename.
const REPORTED: [&str; 12] = [
    // FieldsInSetCanMerge and SameResponseShape (5.3.2): missed throughout.
    "ConflictingFieldType",
    "ConflictingFieldName",
    "ConflictingFieldArgument",
    // async-graphql's validation never visits a `__typename` field, so nothing about the
    // directives on one is checked: their names (5.7.1), places (5.7.2), repeats (5.7.3),
    // arguments (5.4.1, 5.4.2, 5.4.2.1), values (5.6.1) and variables (5.8.3).
    "UndefinedDirective",
    "UnsupportedLocation",
    "UniqueDirective",
    "UndefinedArgument",
    "UniqueArgument",
    "RequiredArgument",
    "UnsupportedValueType",
    "UndefinedVariable",
    // Nor a selection below one (5.3.3).
    "SubselectionOnScalarType",
];

/// The published schema, compiled once for apollo-compiler from `crate::schema::sdl()`. Every
/// schema `Executor::new` builds has this shape, so one compiled copy serves them all.
fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::parse_and_validate(crate::schema::sdl(), "schema.graphql")
            .unwrap_or_else(|invalid| panic!("the schema's own SDL is invalid: {}", invalid.errors))
    })
}

/// Refuses `text` (a document async-graphql has parsed) if it breaks one of the rules
/// async-graphql misses, with the mistake earliest in the text: its message, where it is,
/// and `BAD_USER_INPUT`, as a request error (no `data`). Otherwise says whether the
/// document broke no rule of the specification at all (`Valid`), or only rules
/// async-graphql's strict validation is left to report (`LeftToAsyncGraphql`).
pub(super) fn check(text: CheckedText<'_>) -> ServerResult<Verdict> {
    // async-graphql's parser takes two things the grammar does not (an empty list of
    // variable definitions, `()`, and a fragment named `on`), so apollo-compiler's syntax
    // errors refuse a document too. Its parser stops at 500 levels of nesting, which the
    // guard's bracket depth keeps texts far below.
    let document = match ast::Document::parse(text.as_str(), "query.graphql") {
        Ok(document) => document,
        Err(invalid) => {
            let first = invalid.errors.iter().next().map(|diagnostic| {
                let location = diagnostic.line_column_range().map(|range| pos(range.start));
                refusal(diagnostic.error.to_string(), location.into_iter())
            });
            return first.map_or(Ok(Verdict::LeftToAsyncGraphql), Err);
        }
    };
    let mut mistakes = Vec::new();
    // apollo-compiler does not check input object values for repeated fields (graphql-js's
    // `UniqueInputFieldNames`), but its syntax tree keeps them in order, repeats and all.
    for definition in &document.definitions {
        match definition {
            Definition::OperationDefinition(operation) => {
                for variable in &operation.variables {
                    if let Some(value) = &variable.default_value {
                        repeated_input_fields(value, &document.sources, &mut mistakes);
                    }
                    in_directives(&variable.directives, &document.sources, &mut mistakes);
                }
                in_directives(&operation.directives, &document.sources, &mut mistakes);
                in_selections(&operation.selection_set, &document.sources, &mut mistakes);
            }
            Definition::FragmentDefinition(fragment) => {
                in_directives(&fragment.directives, &document.sources, &mut mistakes);
                in_selections(&fragment.selection_set, &document.sources, &mut mistakes);
            }
            // Type system definitions: async-graphql's parser refuses them.
            _ => {}
        }
    }
    // apollo-compiler's own, after ours: at the same place, ours are the better worded.
    let mut diagnosed = Vec::new();
    let mut verdict = Verdict::Valid;
    let executable = match document.to_executable_validate(schema()) {
        Ok(valid) => valid.into_inner(),
        Err(invalid) => {
            verdict = Verdict::LeftToAsyncGraphql;
            for diagnostic in invalid.errors.iter() {
                let reported = diagnostic
                    .error
                    .unstable_error_name()
                    .is_some_and(|kind| REPORTED.contains(&kind));
                if reported {
                    let location = diagnostic.line_column_range().map(|range| pos(range.start));
                    diagnosed.push(refusal(diagnostic.error.to_string(), location.into_iter()));
                }
            }
            invalid.partial
        }
    };
    // Both async-graphql and apollo-compiler check a variable only where it is a whole
    // argument's value, and apollo-compiler takes a `null` default for a value.
    for operation in executable.operations.iter() {
        let mut usages = Usages {
            document: &executable,
            found: Vec::new(),
            fragments: Vec::new(),
        };
        usages.in_directives(&operation.directives);
        usages.in_selections(&operation.selection_set);
        for usage in usages.found {
            let Some(definition) = operation.variables.iter().find(|v| v.name == *usage.name)
            else {
                continue; // Undefined: apollo-compiler reports it.
            };
            if !is_usage_allowed(definition, &usage.ty, usage.has_default) {
                mistakes.push(refusal(
                    format!(
                        "Variable \"${}\" of type \"{}\" used in position expecting type \"{}\".",
                        usage.name, definition.ty, usage.ty
                    ),
                    usage
                        .value
                        .line_column_range(&executable.sources)
                        .map(|range| pos(range.start))
                        .into_iter(),
                ));
            }
        }
    }
    mistakes.append(&mut diagnosed);
    // The rules report in their own order; the client gets the mistake earliest in the text.
    match mistakes
        .into_iter()
        .min_by_key(|error| error.locations.first().copied())
    {
        Some(error) => Err(error),
        None => Ok(verdict),
    }
}

/// What `check` found of a document it did not refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Valid by every rule of the specification: async-graphql's strict validation has
    /// nothing to add, and gets some documents wrong (it never visits `__typename`, so a
    /// variable used only in a directive on one is "unused"). Such a document's requests
    /// are validated fast whenever their variables pass their check (`validation`).
    Valid,
    /// Broke a rule async-graphql reports itself: its strict validation words the refusal.
    LeftToAsyncGraphql,
}

/// Where an operation uses its variables (All Variable Usages Are Allowed, 5.8.5): every
/// argument, input object field and list item that holds one, with the type expected
/// there, through the fragments the operation spreads (each once).
struct Usages<'a> {
    document: &'a ExecutableDocument,
    found: Vec<Usage<'a>>,
    fragments: Vec<&'a Name>,
}

struct Usage<'a> {
    name: &'a Name,
    value: &'a Node<Value>,
    /// The type expected where the variable stands.
    ty: ast::Type,
    /// Whether that argument or input field has a default value.
    has_default: bool,
}

impl<'a> Usages<'a> {
    fn in_selections(&mut self, set: &'a executable::SelectionSet) {
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(field) => {
                    for argument in &field.arguments {
                        if let Some(definition) = field.definition.argument_by_name(&argument.name)
                        {
                            let has_default = definition.default_value.is_some();
                            self.in_value(&argument.value, &definition.ty, has_default);
                        }
                    }
                    self.in_directives(&field.directives);
                    self.in_selections(&field.selection_set);
                }
                executable::Selection::FragmentSpread(spread) => {
                    self.in_directives(&spread.directives);
                    if self.fragments.contains(&&spread.fragment_name) {
                        continue;
                    }
                    self.fragments.push(&spread.fragment_name);
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        self.in_directives(&fragment.directives);
                        self.in_selections(&fragment.selection_set);
                    }
                }
                executable::Selection::InlineFragment(inline) => {
                    self.in_directives(&inline.directives);
                    self.in_selections(&inline.selection_set);
                }
            }
        }
    }

    fn in_directives(&mut self, directives: &'a DirectiveList) {
        for directive in directives.iter() {
            let Some(definition) = schema().directive_definitions.get(&directive.name) else {
                continue;
            };
            for argument in &directive.arguments {
                if let Some(expected) = definition.argument_by_name(&argument.name) {
                    let has_default = expected.default_value.is_some();
                    self.in_value(&argument.value, &expected.ty, has_default);
                }
            }
        }
    }

    fn in_value(&mut self, value: &'a Node<Value>, ty: &ast::Type, has_default: bool) {
        match value.as_ref() {
            Value::Variable(name) => self.found.push(Usage {
                name,
                value,
                ty: ty.clone(),
                has_default,
            }),
            Value::List(items) if ty.is_list() => {
                for item in items {
                    self.in_value(item, ty.item_type(), false);
                }
            }
            Value::Object(fields) if !ty.is_list() => {
                let Some(ExtendedType::InputObject(input)) =
                    schema().types.get(ty.inner_named_type())
                else {
                    return;
                };
                for (name, value) in fields {
                    if let Some(field) = input.fields.get(name) {
                        self.in_value(value, &field.ty, field.default_value.is_some());
                    }
                }
            }
            // Anything else is a value of the wrong type, which other rules report.
            _ => {}
        }
    }
}

/// The specification's IsVariableUsageAllowed: a nullable variable may stand where a
/// non-null value is expected only with a default that is not null, its own or the
/// position's.
fn is_usage_allowed(
    definition: &ast::VariableDefinition,
    expected: &ast::Type,
    has_default: bool,
) -> bool {
    if expected.is_non_null() && !definition.ty.is_non_null() {
        let non_null_default = definition
            .default_value
            .as_ref()
            .is_some_and(|value| !value.is_null());
        if !non_null_default && !has_default {
            return false;
        }
        return is_subtype(&definition.ty, &expected.clone().nullable());
    }
    is_subtype(&definition.ty, expected)
}

/// Whether a value of type `variable` may go where `expected` is (AreTypesCompatible).
fn is_subtype(variable: &ast::Type, expected: &ast::Type) -> bool {
    use ast::Type::{List, Named, NonNullList, NonNullNamed};
    match (variable, expected) {
        (NonNullNamed(variable), NonNullNamed(expected)) => variable == expected,
        (NonNullList(variable), NonNullList(expected)) => is_subtype(variable, expected),
        (_, NonNullNamed(_) | NonNullList(_)) => false,
        (NonNullNamed(variable), Named(expected)) => variable == expected,
        (NonNullList(variable), List(expected)) => is_subtype(variable, expected),
        (Named(variable), Named(expected)) => variable == expected,
        (List(variable), List(expected)) => is_subtype(variable, expected),
        _ => false,
    }
}

fn in_selections(selections: &[Selection], sources: &SourceMap, mistakes: &mut Vec<ServerError>) {
    for selection in selections {
        match selection {
            Selection::Field(field) => {
                for argument in &field.arguments {
                    repeated_input_fields(&argument.value, sources, mistakes);
                }
                in_directives(&field.directives, sources, mistakes);
                in_selections(&field.selection_set, sources, mistakes);
            }
            Selection::FragmentSpread(spread) => {
                in_directives(&spread.directives, sources, mistakes)
            }
            Selection::InlineFragment(inline) => {
                in_directives(&inline.directives, sources, mistakes);
                in_selections(&inline.selection_set, sources, mistakes);
            }
        }
    }
}

fn in_directives(directives: &DirectiveList, sources: &SourceMap, mistakes: &mut Vec<ServerError>) {
    for directive in directives.iter() {
        for argument in &directive.arguments {
            repeated_input_fields(&argument.value, sources, mistakes);
        }
    }
}

/// Input Object Field Uniqueness (5.6.3) in `value` and the values within it, worded as
/// graphql-js words it, at the field's first and repeated name.
fn repeated_input_fields(
    value: &Node<Value>,
    sources: &SourceMap,
    mistakes: &mut Vec<ServerError>,
) {
    match value.as_ref() {
        Value::Object(fields) => {
            for (index, (name, value)) in fields.iter().enumerate() {
                let first = fields[..index].iter().find(|(seen, _)| seen == name);
                if let Some((first, _)) = first {
                    mistakes.push(refusal(
                        format!("There can be only one input field named \"{name}\"."),
                        [first, name]
                            .into_iter()
                            .filter_map(|name| located(name, sources)),
                    ));
                }
                repeated_input_fields(value, sources, mistakes);
            }
        }
        Value::List(items) => {
            for item in items {
                repeated_input_fields(item, sources, mistakes);
            }
        }
        _ => {}
    }
}

fn located(name: &Name, sources: &SourceMap) -> Option<Pos> {
    name.line_column_range(sources)
        .map(|range| pos(range.start))
}

fn pos(at: LineColumn) -> Pos {
    Pos {
        line: at.line,
        column: at.column,
    }
}

fn refusal(message: String, locations: impl Iterator<Item = Pos>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.locations = locations.collect();
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use super::super::limits::{check_text, Limits};
    use super::*;

    fn checked(query: &str) -> ServerResult<Verdict> {
        let limits = Limits::default();
        let text = check_text(query, &limits).expect("the guard admits the text");
        check(text)
    }

    /// Asserts `query` is refused at `locations` (line, column) with a message containing
    /// `words`.
    fn assert_refused(query: &str, locations: &[(usize, usize)], words: &str) {
        let error = checked(query).expect_err(query);
        assert!(error.message.contains(words), "{}: {query}", error.message);
        let expected: Vec<Pos> = locations
            .iter()
            .map(|&(line, column)| Pos { line, column })
            .collect();
        assert_eq!(error.locations, expected, "{query}");
        assert!(error.path.is_empty());
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
    }

    #[test]
    fn the_published_schema_compiles() {
        assert!(schema().types.contains_key("Incident"));
        assert!(schema().get_interface("Node").is_some());
    }

    #[test]
    fn one_response_name_with_two_shapes_is_refused() {
        let query = "query($id: ID!) { node(id: $id) {
            ... on Facility { kind }
            ... on Incident { kind } } }";
        assert_refused(query, &[(3, 31)], "kind");
        // Told apart by aliases, the same selections are valid.
        let aliased = "query($id: ID!) { node(id: $id) {
            ... on Facility { facilityKind: kind }
            ... on Incident { incidentKind: kind } } }";
        checked(aliased).expect("aliased kinds are valid");
        // The same field on different object types merges when the shapes agree.
        checked(
            "query($id: ID!) { node(id: $id) { ... on Country { name } ... on Person { name } } }",
        )
        .expect("one shape is valid");
    }

    #[test]
    fn two_fields_under_one_response_name_are_refused() {
        assert_refused(
            "{ countries { nodes { name: code } nodes { name } } }",
            &[(1, 44)],
            "name",
        );
        assert_refused(
            "{ a: countries(first: 1) { totalCount } a: countries(first: 2) { totalCount } }",
            &[(1, 41)],
            "conflicting field arguments",
        );
        // The same field twice, or with the same arguments, merges.
        checked("{ countries { nodes { name } nodes { name code } } }").expect("valid");
        checked("{ a: countries(first: 1) { totalCount } a: countries(first: 1) { pageInfo { hasNextPage } } }")
            .expect("valid");
    }

    #[test]
    fn a_nullable_variable_in_a_non_null_position_is_refused() {
        assert_refused(
            "query($c: String) { country(code: $c) { name } }",
            &[(1, 35)],
            "$c",
        );
        // Non-null, or nullable with a default: both allowed (the spec's rule for defaults).
        checked("query($c: String!) { country(code: $c) { name } }").expect("valid");
        checked("query($c: String = \"kg\") { country(code: $c) { name } }").expect("valid");
        // A nullable list item where the argument wants non-null items.
        assert_refused(
            "query($k: [IncidentKind]) { incidents(kinds: $k) { totalCount } }",
            &[(1, 46)],
            "$k",
        );
    }

    #[test]
    fn a_variable_inside_a_list_or_an_input_object_is_checked_where_it_stands() {
        // A list item that must not be null.
        assert_refused(
            "query($k: IncidentKind) { incidents(kinds: [$k]) { totalCount } }",
            &[(1, 45)],
            "expecting type \"IncidentKind!\"",
        );
        checked("query($k: IncidentKind!) { incidents(kinds: [$k, RIOT]) { totalCount } }")
            .expect("valid");
        // An input field of another type.
        assert_refused(
            "query($d: String) { incidents(occurred: {from: $d}) { totalCount } }",
            &[(1, 48)],
            "expecting type \"PartialDate\"",
        );
        // A non-null input field with a default takes a nullable variable.
        checked("query($m: DateMatch) { incidents(occurred: {match: $m}) { totalCount } }")
            .expect("valid");
        // A null default is no default (the spec's hasNonNullVariableDefaultValue).
        assert_refused(
            "query($c: String = null) { country(code: $c) { name } }",
            &[(1, 42)],
            "$c",
        );
        // Through a fragment, in a directive.
        assert_refused(
            "query($b: Boolean) { ...F } fragment F on Query { __typename @include(if: $b) }",
            &[(1, 75)],
            "expecting type \"Boolean!\"",
        );
    }

    #[test]
    fn the_directives_on_a_typename_are_checked() {
        // async-graphql's validation never visits `__typename`.
        for query in [
            "{ __typename @skip(unless: true) }",
            "{ __typename @include(if: true) @include(if: false) }",
            "{ __typename @include(if: \"yes\") }",
            "{ __typename @unknown }",
            "{ __typename @include(if: $undefined) }",
            "{ __typename { name } }",
        ] {
            let error = checked(query).expect_err(query);
            assert!(error.locations.len() == 1, "{query}: {:?}", error.locations);
        }
        checked("{ __typename @include(if: true) @skip(if: false) }").expect("valid");
    }

    #[test]
    fn an_input_field_given_twice_is_refused() {
        assert_refused(
            "{ incidents(occurred: {from: \"2012\", from: \"2013\"}) { totalCount } }",
            &[(1, 24), (1, 38)],
            "from",
        );
        checked("{ incidents(occurred: {from: \"2012\", to: \"2013\"}) { totalCount } }")
            .expect("valid");
    }

    #[test]
    fn the_mistakes_async_graphql_reports_are_left_to_it() {
        // An unknown field, an unused fragment, a fragment cycle (the guard's): async-graphql
        // words these; apollo-compiler's diagnostics for them do not refuse the document.
        for query in [
            "{ countries { nodes { population } } }",
            "{ __typename } fragment F on Country { name }",
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        ] {
            let verdict =
                checked(query).unwrap_or_else(|error| panic!("{query}: {}", error.message));
            assert_eq!(verdict, Verdict::LeftToAsyncGraphql, "{query}");
        }
        // A valid document is said to be, so that async-graphql's mistakes can be skipped.
        for query in [
            "{ countries { nodes { name } } }",
            "query($b: Boolean!) { __typename @include(if: $b) }",
        ] {
            assert_eq!(checked(query).expect(query), Verdict::Valid, "{query}");
        }
    }

    #[test]
    fn what_the_grammar_refuses_is_refused() {
        for query in [
            "query Countries() { countries { totalCount } }",
            "{ ...on }\nfragment on on Query { __typename }",
        ] {
            // async-graphql's parser takes both.
            async_graphql::parser::parse_query(query).expect(query);
            let error = checked(query).expect_err(query);
            assert!(error.message.contains("syntax error"), "{}", error.message);
        }
    }

    #[test]
    fn the_earliest_mistake_is_the_one_reported() {
        let query = "query($c: String) {
            incidents(occurred: {from: \"2012\", from: \"2013\"}) { totalCount }
            country(code: $c) { name } }";
        assert_refused(query, &[(2, 34), (2, 48)], "from");
    }
}
