//! `Serial<N>` and `resolve`: an object resolved field after field in one future.
//!
//! async-graphql resolves an object's fields concurrently: one boxed future per field, all
//! polled through a `FuturesUnordered` (an `Arc`ed task each), and a context cloned for
//! each. Our resolvers never wait on anything (the store is read synchronously, from the
//! read cache or sled), so that concurrency buys nothing, and on a nested page of 600
//! records it was a large part of the answer's CPU time. `Serial` resolves the same
//! fields with the same generated resolvers, in selection order, awaiting each in turn,
//! and builds the same value. The objects resolved in large numbers are the records of
//! pages and the connections of the records above them, so `Connection` hands its nodes
//! out wrapped in `Serial` and resolves its own fields with `resolve`.
//!
//! It only takes the plain case, and leaves everything else to async-graphql:
//! - the schema carries `SerialFields` in its data, which `build_schema` gives only the
//!   twins without extensions: an extension wraps every field in its own hooks, which
//!   only async-graphql's path calls (so the schema with `SchemaHooks` takes that path,
//!   and shapes failed fields as before);
//! - every selection is a field (no fragment spread, no inline fragment);
//! - no field carries a directive (async-graphql removes the selections `@skip` and
//!   `@include` leave out before execution, but a field they keep still carries its
//!   directive, and custom directives wrap the field's resolver).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{
    ContainerType, Context, ContextBase, ContextSelectionSet, Name, OutputType, Positioned,
    ServerResult, Value,
};

/// In a schema's data: the schema has no extensions, so `Serial` may resolve fields itself.
pub struct SerialFields;

/// A record resolved field after field (see the module's documentation), when `serial`
/// says the schema allows it. To clients it is `N`: same type, same fields, same answers.
#[derive(Clone)]
pub struct Serial<N> {
    pub node: N,
    pub serial: bool,
}

impl<N> Serial<N> {
    /// Wraps `node`, to be resolved field after field if `ctx`'s schema allows it.
    pub fn new(ctx: &Context<'_>, node: N) -> Serial<N> {
        Serial {
            node,
            serial: allowed(ctx),
        }
    }
}

/// Whether `ctx`'s schema lets `Serial` resolve fields (it has no extensions).
pub fn allowed<T>(ctx: &ContextBase<'_, T>) -> bool {
    ctx.data_opt::<SerialFields>().is_some()
}

impl<N: ContainerType> OutputType for Serial<N> {
    fn type_name() -> Cow<'static, str> {
        N::type_name()
    }

    fn qualified_type_name() -> String {
        N::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        N::create_type_info(registry)
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.node.introspection_type_name()
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve(&self.node, self.serial, ctx, field).await
    }
}

/// Resolves `node`'s selection set field after field when `serial` (the schema allows it)
/// and the selections are plain, and as async-graphql does otherwise.
pub async fn resolve<N: ContainerType>(
    node: &N,
    serial: bool,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    if !(serial && is_plain(ctx)) {
        return node.resolve(ctx, field).await;
    }
    let mut results = IndexMap::with_capacity(ctx.item.node.items.len());
    for selection in &ctx.item.node.items {
        let Selection::Field(field) = &selection.node else {
            unreachable!("is_plain admits fields only");
        };
        let key = field.node.response_key().node.clone();
        let value = if field.node.name.node == "__typename" {
            Value::String(node.introspection_type_name().into_owned())
        } else {
            match node.resolve_field(&ctx.with_field(field)).await {
                Ok(value) => value.unwrap_or_default(),
                // As async-graphql does: the error is recorded, the field left out.
                Err(error) => {
                    ctx.add_error(error);
                    continue;
                }
            }
        };
        insert_value(&mut results, key, value);
    }
    Ok(if results.is_empty() {
        Value::Null
    } else {
        Value::Object(results)
    })
}

/// Whether this selection set holds only fields without directives.
fn is_plain(ctx: &ContextSelectionSet<'_>) -> bool {
    ctx.item
        .node
        .items
        .iter()
        .all(|selection| match &selection.node {
            Selection::Field(field) => field.node.directives.is_empty(),
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
        })
}

/// Adds a field's value under its response key, merging it into a value already there
/// (two selections of one key, such as `a: name` and `a: name`, or two selections of one
/// object field with different subfields): async-graphql's own rule
/// (`resolver_utils::container::insert_value`, which it does not export).
fn insert_value(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    let Some(previous) = target.get_mut(&name) else {
        target.insert(name, value);
        return;
    };
    match (previous, value) {
        (Value::Object(previous), Value::Object(object)) => {
            for (key, value) in object {
                insert_value(previous, key, value);
            }
        }
        (Value::List(previous), Value::List(list)) => {
            for (index, value) in list.into_iter().enumerate() {
                if let (Some(Value::Object(previous)), Value::Object(object)) =
                    (previous.get_mut(index), value)
                {
                    for (key, value) in object {
                        insert_value(previous, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}
