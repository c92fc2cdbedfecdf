//! Validating a request fast: what lets the executor run a query under async-graphql's
//! fast validation instead of its strict one.
//!
//! Why: strict validation walks the document with twenty-odd rules on every request: 15%
//! of the CPU time of a `search` with six inline fragments, 10% of a date range (perf,
//! 10,000 incidents, response cache off). And it gets some valid documents wrong: it
//! never visits `__typename`, so a variable used only in a directive on one is "unused".
//! All but one of its rules read only the document and the operation name, and the
//! document cache checks every new document once against every rule of the
//! specification (`spec_validation`). The one rule that reads the variables,
//! async-graphql's `ArgumentsOfCorrectType`, checks each argument with the variables'
//! values put in.
//!
//! So a document found valid by every rule (`HeldDocument::is_valid`) needs only a
//! request's variables checked: `VariableTypes::all_valid` checks each value against the
//! type its definition declares. The document's validity already proved each variable is
//! used only where a value of its type may go, so that is the check the rule makes. It
//! never passes a value async-graphql's check would refuse; where it cannot be sure (a
//! null, a type it does not know, a `@oneOf` input), it says no and the request is
//! validated strictly, so every refusal is worded by async-graphql itself.

use std::borrow::Borrow;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, Type,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{OutputType, ServerResult, Value, Variables};

use super::limits::CheckedText;
use super::spec_validation::{self, Verdict};
use crate::schema::plan::Plan;
use crate::schema::QueryRoot;

/// A parsed document as the document cache holds it, with what `spec_validation` found
/// of it, once known. Clones share it.
#[derive(Clone)]
pub(super) struct HeldDocument(Arc<Held>);

struct Held {
    document: ExecutableDocument,
    /// `spec_validation::check`'s verdict on the document, worked out once.
    rules: OnceLock<ServerResult<Verdict>>,
    /// The compiled plans of the operations run so far, by operation name (`None` where
    /// the plan does not cover the operation), compiled once each.
    plans: Mutex<Plans>,
}

/// Compiled plans by operation name; `None` where the plan does not cover the operation.
type Plans = Vec<(Option<String>, Option<Arc<Plan>>)>;

impl HeldDocument {
    pub(super) fn new(document: ExecutableDocument) -> HeldDocument {
        HeldDocument(Arc::new(Held {
            document,
            rules: OnceLock::new(),
            plans: Mutex::new(Vec::new()),
        }))
    }

    pub(super) fn document(&self) -> &ExecutableDocument {
        &self.0.document
    }

    /// Refuses the document if it breaks a rule of the specification async-graphql's
    /// validation misses (`spec_validation::check`, on its text, worked out the first
    /// time and kept).
    pub(super) fn check_rules(&self, text: CheckedText<'_>) -> ServerResult<()> {
        match self.0.rules.get_or_init(|| spec_validation::check(text)) {
            Ok(_) => Ok(()),
            Err(refusal) => Err(refusal.clone()),
        }
    }

    /// Whether the document is valid by every rule of the specification (as far as
    /// `check_rules` has found): then a request for it may be validated fast, when its
    /// variables pass `VariableTypes::all_valid`.
    pub(super) fn is_valid(&self) -> bool {
        matches!(self.0.rules.get(), Some(Ok(Verdict::Valid)))
    }
}

impl HeldDocument {
    /// The compiled plan of the operation `operation_name` selects (`schema::plan`),
    /// compiled the first time it is asked for; `None` when the plan does not cover it.
    /// Only for a document `is_valid` says is valid.
    pub(super) fn plan(&self, operation_name: Option<&str>) -> Option<Arc<Plan>> {
        let mut plans = self
            .0
            .plans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, plan)) = plans
            .iter()
            .find(|(name, _)| name.as_deref() == operation_name)
        {
            return plan.clone();
        }
        let plan = Plan::compile(&self.0.document, operation_name).map(Arc::new);
        // Names the document does not hold are not kept: a client sending many would
        // grow the list without bound.
        let named = operation_name.is_none_or(|name| {
            self.0
                .document
                .operations
                .iter()
                .any(|(held, _)| held.is_some_and(|held| held.as_str() == name))
        });
        if named {
            plans.push((operation_name.map(str::to_owned), plan.clone()));
        }
        plan
    }
}

impl Borrow<ExecutableDocument> for HeldDocument {
    fn borrow(&self) -> &ExecutableDocument {
        self.document()
    }
}

/// The schema's input types, to check variables' values against.
pub(super) struct VariableTypes {
    registry: Registry,
}

impl VariableTypes {
    pub(super) fn new() -> VariableTypes {
        let mut registry = Registry::default();
        <QueryRoot as OutputType>::create_type_info(&mut registry);
        VariableTypes { registry }
    }

    /// Whether every variable the request's operation declares and the request gives a
    /// value is valid for its declared type, as async-graphql's strict validation would
    /// find. `false` also when unsure: the operation cannot be picked, a value is null, or
    /// a type is one this check does not know.
    pub(super) fn all_valid(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> bool {
        let Some(operation) = pick_operation(document, operation_name) else {
            return false;
        };
        operation.variable_definitions.iter().all(|definition| {
            match variables.get(&definition.node.name.node) {
                // Not given: strict validation does not check the arguments it is in.
                None => true,
                // A nullable variable may stand where a null is refused, if a default is
                // there: whether it is, only strict validation finds out.
                Some(Value::Null) => false,
                Some(value) => self.is_valid(&definition.node.var_type.node, value),
            }
        })
    }

    fn is_valid(&self, ty: &Type, value: &Value) -> bool {
        if let Value::Null = value {
            return ty.nullable;
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => items.iter().all(|value| self.is_valid(item, value)),
                // A single value stands for a list of one.
                value => self.is_valid(item, value),
            },
            BaseType::Named(name) => self.is_valid_named(name, value),
        }
    }

    /// Whether `value` (not null) is valid for the named type.
    fn is_valid_named(&self, name: &str, value: &Value) -> bool {
        match self.registry.types.get(name) {
            Some(MetaType::Scalar { is_valid, .. }) => {
                is_valid.as_ref().is_none_or(|is_valid| is_valid(value))
            }
            Some(MetaType::Enum { enum_values, .. }) => match value {
                Value::Enum(name) => enum_values.contains_key(name.as_str()),
                Value::String(name) => enum_values.contains_key(name.as_str()),
                _ => false,
            },
            Some(MetaType::InputObject {
                input_fields,
                oneof: false,
                ..
            }) => {
                let Value::Object(fields) = value else {
                    return false;
                };
                fields
                    .keys()
                    .all(|field| input_fields.contains_key(field.as_str()))
                    && input_fields
                        .values()
                        .all(|field| match fields.get(field.name.as_str()) {
                            Some(value) => match Type::new(&field.ty) {
                                Some(ty) => self.is_valid(&ty, value),
                                None => false,
                            },
                            None => Type::new(&field.ty)
                                .is_some_and(|ty| ty.nullable || field.default_value.is_some()),
                        })
            }
            _ => false,
        }
    }
}

/// The operation a request runs, as async-graphql picks it; `None` when it would refuse.
fn pick_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, variables: serde_json::Value) -> bool {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        VariableTypes::new().all_valid(&document, None, &Variables::from_json(variables))
    }

    const DATES: &str = "query($filter: DateFilter, $order: IncidentOrder, $first: Int) {
        incidents(occurred: $filter, orderBy: $order, first: $first) { totalCount } }";

    #[test]
    fn valid_values_of_every_kind_of_input_type_pass() {
        use serde_json::json;
        for variables in [
            json!({}),
            json!({ "first": 3 }),
            json!({ "filter": { "from": "1998", "to": "2001-03" } }),
            json!({ "filter": { "from": "1998", "match": "CERTAINLY_WITHIN" } }),
            json!({ "order": { "field": "OCCURRED", "direction": "DESC" } }),
            json!({ "order": { "direction": "DESC" }, "filter": {}, "first": 0 }),
        ] {
            assert!(check(DATES, variables.clone()), "{variables}");
        }
        assert!(check(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ["a", "b"] })
        ));
        assert!(check(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": "a" })
        ));
    }

    #[test]
    fn invalid_null_and_unknown_values_do_not_pass() {
        use serde_json::json;
        for variables in [
            // A built-in scalar's check (a date is checked as the argument is read), an enum.
            json!({ "first": "three" }),
            json!({ "first": 2.5 }),
            json!({ "filter": { "match": "SOMETIMES" } }),
            // An input object: an unknown field, a field of the wrong type, not an object.
            json!({ "filter": { "since": "1998" } }),
            json!({ "order": { "field": 3 } }),
            json!({ "order": "OCCURRED" }),
            // Nulls, at the top (unsure) and where refused.
            json!({ "filter": null }),
            json!({ "order": { "field": null } }),
        ] {
            assert!(!check(DATES, variables.clone()), "{variables}");
        }
        // A list's items, and a null item where none may be.
        let nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
        assert!(!check(nodes, json!({ "ids": [1.5] })));
        assert!(!check(nodes, json!({ "ids": ["a", null] })));
        // A type the schema does not have.
        assert!(!check(
            "query($x: Nothing) { __typename }",
            json!({ "x": 1 })
        ));
    }

    #[test]
    fn the_operation_is_picked_as_async_graphql_picks_it() {
        let document = async_graphql::parser::parse_query(
            "query A($first: Int) { countries(first: $first) { totalCount } }
             query B($text: String!) { search(text: $text) { totalCount } }",
        )
        .expect("parses");
        let types = VariableTypes::new();
        let variables = Variables::from_json(serde_json::json!({ "first": "x", "text": "kg" }));
        assert!(!types.all_valid(&document, Some("A"), &variables));
        assert!(types.all_valid(&document, Some("B"), &variables));
        // Two operations and no name, or a name the document lacks: refused, not picked.
        assert!(!types.all_valid(&document, None, &Variables::default()));
        assert!(!types.all_valid(&document, Some("C"), &Variables::default()));
    }

    #[test]
    fn a_document_is_valid_only_when_every_rule_passed() {
        let limits = super::super::limits::Limits::default();
        for (query, valid) in [
            ("{ __typename }", true),
            ("{ countries { nodes { population } } }", false),
        ] {
            let text = super::super::limits::check_text(query, &limits).expect("admitted");
            let held =
                HeldDocument::new(async_graphql::parser::parse_query(query).expect("parses"));
            // Unknown until checked.
            assert!(!held.is_valid());
            held.check_rules(text).expect("not refused by these rules");
            assert_eq!(held.is_valid(), valid, "{query}");
        }
        let refused = "{ countries { nodes { name: code name } } }";
        let text = super::super::limits::check_text(refused, &limits).expect("admitted");
        let held = HeldDocument::new(async_graphql::parser::parse_query(refused).expect("parses"));
        assert!(held.check_rules(text).is_err() && held.check_rules(text).is_err());
        assert!(!held.is_valid());
    }
}
