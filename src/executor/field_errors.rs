//! Field errors handled as the GraphQL specification says (§6.4.4, "Handling Field
//! Errors"): a field whose resolver fails is `null` in the response, and when the field is
//! non-null its nearest nullable ancestor is `null` instead, up to `data` itself.
//!
//! async-graphql 7.2 does neither: it leaves a failed field out of its object altogether,
//! so clients find a missing key (even for a non-null field) where the spec promises
//! `null` (async-graphql issues #1272 and #1549). The hooks here, called by the schema's
//! extension (`hooks`), restore the spec's behaviour around every field resolution:
//!
//! - a **nullable** field that fails resolves to `null`; its error is kept here and added
//!   to the response when execution ends;
//! - a **non-null** field that fails marks the object holding it as broken and passes its
//!   error on (async-graphql adds it to the response). The field that returned that object
//!   then nulls it: directly, or through the list items of its type, or, when its own type
//!   is non-null too, by marking its parent object in turn. A broken root makes `data`
//!   null.
//!
//! Every failed field yields exactly one error, as the spec requires. The fast path (no
//! failure anywhere) costs one relaxed atomic load per field.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_graphql::extensions::{ExtensionContext, NextExecute, NextResolve, ResolveInfo};
use async_graphql::{QueryPathNode, QueryPathSegment, Response, ServerError, ServerResult, Value};

/// One request's failures. A new one is created for every request, by the schema's
/// extension (`hooks`), which calls its hooks.
#[derive(Default)]
pub(super) struct RequestState {
    /// Set once anything is broken, so fields check `failures` only when it matters.
    any_broken: AtomicBool,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    /// Errors of nullable fields turned into `null` here; async-graphql never saw them.
    errors: Vec<ServerError>,
    /// Objects that lost a non-null field, by response path (empty: the root).
    broken: Vec<Vec<Segment>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Name(String),
    Index(usize),
}

/// The nullability of a GraphQL type reference such as `[Country!]!`.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    nullable: bool,
    /// The item shape, for a list.
    item: Option<Box<Shape>>,
}

impl Shape {
    fn parse(type_ref: &str) -> Shape {
        let (inner, nullable) = match type_ref.strip_suffix('!') {
            Some(inner) => (inner, false),
            None => (type_ref, true),
        };
        let item = inner
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .map(|item| Box::new(Shape::parse(item)));
        Shape { nullable, item }
    }
}

impl RequestState {
    fn failures(&self) -> MutexGuard<'_, Failures> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn mark_broken(&self, object: Vec<Segment>) {
        self.failures().broken.push(object);
        self.any_broken.store(true, Ordering::Relaxed);
    }
}

impl RequestState {
    /// The `execute` hook: adds the errors of nulled fields, and nulls `data` when the
    /// root is broken. A root that selects no field (`{ __typename @skip(if: true) }`)
    /// is `{}`: async-graphql answers `null` for it, as for any object it collected no
    /// field of (see `serial`), and without an error `data` is never null.
    pub(super) async fn execute_hook(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let mut failures = self.failures();
        response.errors.append(&mut failures.errors);
        if failures.broken.iter().any(Vec::is_empty) {
            response.data = Value::Null;
        }
        settle_empty_root(&mut response);
        response
    }

    /// The `resolve` hook, around every field.
    pub(super) async fn resolve_hook(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path_node = info.path_node;
        let shape = info.return_type;
        match next.run(ctx, info).await {
            Err(error) => {
                let shape = Shape::parse(shape);
                if shape.nullable {
                    self.failures().errors.push(error);
                    return Ok(Some(Value::Null));
                }
                let mut object = path_of(path_node);
                object.pop();
                self.mark_broken(object);
                Err(error)
            }
            Ok(value) if !self.any_broken.load(Ordering::Relaxed) => Ok(value),
            Ok(value) => Ok(self.settle(path_node, &Shape::parse(shape), value)),
        }
    }
}

impl RequestState {
    /// Nulls what must be null inside a field's value, given the objects broken within it.
    fn settle(
        &self,
        path_node: &QueryPathNode<'_>,
        shape: &Shape,
        value: Option<Value>,
    ) -> Option<Value> {
        let path = path_of(path_node);
        let inside: Vec<Vec<usize>> = {
            let mut failures = self.failures();
            let mut inside = Vec::new();
            failures
                .broken
                .retain(|object| match relative_indexes(&path, object) {
                    Some(indexes) => {
                        inside.push(indexes);
                        false
                    }
                    None => true,
                });
            inside
        };
        let mut value = value.unwrap_or_default();
        for indexes in inside {
            if !null_within(&mut value, shape, &indexes) {
                if shape.nullable {
                    return Some(Value::Null);
                }
                let mut parent = path.clone();
                parent.pop();
                self.mark_broken(parent);
                return Some(value);
            }
        }
        Some(value)
    }
}

/// Makes `data` `{}` when it is `null` without an error: async-graphql's answer for a
/// root that selects no field, which the spec answers with an empty object. With an
/// error, a null `data` is the spec's (a non-null root field failed) or the request's.
/// Both the hooks and the executor (for the plain twin, which has none) call it.
pub(super) fn settle_empty_root(response: &mut Response) {
    if response.data == Value::Null && response.errors.is_empty() {
        response.data = Value::Object(Default::default());
    }
}

/// Nulls the nearest nullable list item on the way to the broken object at `indexes`
/// within `value`. Returns false when nothing inside can be null, so the whole value
/// must be.
fn null_within(value: &mut Value, shape: &Shape, indexes: &[usize]) -> bool {
    let Some((&index, rest)) = indexes.split_first() else {
        return false;
    };
    let (Some(item_shape), Value::List(items)) = (&shape.item, value) else {
        return false;
    };
    let Some(item) = items.get_mut(index) else {
        return false;
    };
    if null_within(item, item_shape, rest) {
        return true;
    }
    if item_shape.nullable {
        *item = Value::Null;
        return true;
    }
    false
}

/// `object`'s position inside the value of the field at `field`: the list indexes
/// between them, or `None` when `object` is not directly inside that value.
fn relative_indexes(field: &[Segment], object: &[Segment]) -> Option<Vec<usize>> {
    let rest = object.strip_prefix(field)?;
    rest.iter()
        .map(|segment| match segment {
            Segment::Index(index) => Some(*index),
            Segment::Name(_) => None,
        })
        .collect()
}

fn path_of(node: &QueryPathNode<'_>) -> Vec<Segment> {
    let mut path = Vec::new();
    let mut current = Some(node);
    while let Some(node) = current {
        path.push(match node.segment {
            QueryPathSegment::Name(name) => Segment::Name(name.to_owned()),
            QueryPathSegment::Index(index) => Segment::Index(index),
        });
        current = node.parent;
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_nullability_at_every_level() {
        assert_eq!(
            Shape::parse("[Country!]!"),
            Shape {
                nullable: false,
                item: Some(Box::new(Shape {
                    nullable: false,
                    item: None
                }))
            }
        );
        assert_eq!(
            Shape::parse("[Node]!").item.map(|item| item.nullable),
            Some(true)
        );
        assert!(Shape::parse("Country").nullable);
    }

    #[test]
    fn a_broken_item_nulls_the_nearest_nullable_list_item() {
        let mut value = Value::List(vec![Value::from(1), Value::from(2)]);
        assert!(null_within(&mut value, &Shape::parse("[Node]!"), &[1]));
        assert_eq!(value, Value::List(vec![Value::from(1), Value::Null]));
        let mut value = Value::List(vec![Value::from(1)]);
        assert!(!null_within(&mut value, &Shape::parse("[Node!]"), &[0]));
        assert!(!null_within(&mut value, &Shape::parse("Node"), &[]));
    }

    #[test]
    fn only_objects_directly_inside_a_field_are_its_own() {
        let name = |name: &str| Segment::Name(name.to_owned());
        let field = [name("countries"), name("nodes")];
        assert_eq!(
            relative_indexes(
                &field,
                &[name("countries"), name("nodes"), Segment::Index(3)]
            ),
            Some(vec![3])
        );
        assert_eq!(relative_indexes(&field, &field), Some(vec![]));
        assert_eq!(
            relative_indexes(
                &field,
                &[
                    name("countries"),
                    name("nodes"),
                    Segment::Index(3),
                    name("x")
                ]
            ),
            None
        );
        assert_eq!(relative_indexes(&field, &[name("countries")]), None);
    }
}
