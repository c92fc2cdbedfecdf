//! Compiled plans: a query document compiled once into a tree of closures that read the
//! store and write the JSON answer, byte for byte what async-graphql would answer, without
//! a future, a context or a map of values per field.
//!
//! Why: async-graphql resolves every field through a boxed future and a context, builds
//! the answer as a tree of `Value` maps, then serializes and drops it. On a nested page
//! that machinery, not the store, was most of the CPU time (about half of a 1,111-record
//! page's). graphql-jit does for graphql-js what this does here: the document is known
//! and validated, so its selections, fragments and merged fields are settled once, and
//! each request only walks the records.
//!
//! What a plan covers, and what it leaves to async-graphql: `Plan::compile` takes a
//! query whose every selected field is one this module knows (the records' scalar
//! fields, their main connections, the root lookups and lists, `node` and `search`),
//! with fragments and aliases but no directive. Anything else (introspection, `@skip`,
//! a field not listed here) compiles to no plan, and the request runs on async-graphql as
//! before. A plan that meets any error while running (a bad argument, an unknown code,
//! a store failure) gives up, and the request runs again on async-graphql, which words
//! the error and shapes the nulls: a plan only ever answers without errors. So the
//! answer of a request never depends on whether a plan ran; the property test
//! `plan::compiled_and_async_graphql_answers_are_identical` checks it byte for byte.
//!
//! The arguments a plan reads are parsed by async-graphql's own `InputType::parse`, and
//! the lists are read by the resolvers' own functions (`list_page`, `incidents_page`,
//! `search_page`, the filters): a plan differs from the resolvers only in how it walks the
//! selections and writes the answer. Every field this module knows declares the arguments
//! it reads; a document passing one it does not declare compiles to no plan, and
//! `tests::declared_arguments_are_the_schemas` checks the declarations against the schema.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::resolver_utils::enum_value;
use async_graphql::{EnumType, InputType, Name, OutputType, Positioned, Value, Variables};
use async_graphql_value::Value as DocValue;

use super::agreement::{linked_agreements, Agreement, AgreementFilter, AgreementKind};
use super::country::Country;
use super::facility::{linked_facilities, Facility, FacilityKind};
use super::incident::{incidents_page, Incident, IncidentKind};
use super::organization::Organization;
use super::person::Person;
use super::query::{all_incidents, load_node, search_page, Node, SearchResult};
use super::relay::{global_id, parse_global_id, Connection, PageArgs, PageInfo};
use super::values::{AgreementOrder, DateFilter, IncidentOrder, NameOrder};
use super::{list_page, Result};
use crate::model::{self, RecordKind};
use crate::store::{Link, List, Store};

/// A plan gave up: the request runs on async-graphql, which answers it (see the module's
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp;

type Step = std::result::Result<(), GiveUp>;

/// Writes one value of the answer for `N`.
type Write<N> = Box<dyn Fn(&Run<'_>, &N, &mut Vec<u8>) -> Step + Send + Sync>;

/// A response key (JSON-encoded, with its colon) and how to write its value.
type Keyed<N> = (Box<[u8]>, Write<N>);

/// Compiles the records of a connection from the selections under `nodes` or `edges.node`.
type RecordPlan<'n, N> = dyn Fn(&Compiler<'_>, &[&SelectionSet]) -> Option<Write<N>> + 'n;

/// A query document's operation, compiled.
pub struct Plan {
    root: Fields<()>,
    /// The operation's variables and their defaults.
    defaults: Vec<(Name, Option<Value>)>,
    /// The size of the last answer: the next one's buffer starts that large, rather than
    /// growing (and copying) its way there.
    last_size: AtomicUsize,
}

impl Plan {
    /// The plan of `document`'s operation `operation_name` (its only one when `None`), or
    /// `None` when the plan would not cover it: not a query, or a field, argument or
    /// directive this module does not know. `document` must be valid.
    pub fn compile(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Plan> {
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => operation,
            (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                operations.values().next()?
            }
            _ => return None,
        };
        let operation = &operation.node;
        if operation.ty != OperationType::Query || !operation.directives.is_empty() {
            return None;
        }
        let mut defaults = Vec::with_capacity(operation.variable_definitions.len());
        for definition in &operation.variable_definitions {
            let definition = &definition.node;
            if !definition.directives.is_empty() {
                return None;
            }
            let default = definition
                .default_value
                .as_ref()
                .map(|value| value.node.clone());
            defaults.push((definition.name.node.clone(), default));
        }
        let compiler = Compiler {
            fragments: &document.fragments,
        };
        let root = compiler.fields::<()>(&[&operation.selection_set.node])?;
        Some(Plan {
            root,
            defaults,
            last_size: AtomicUsize::new(1024),
        })
    }

    /// The answer (`{"data":…}`) to the plan's operation with `variables`, read from
    /// `store`; `Err` when something failed and async-graphql must answer instead.
    pub fn run(
        &self,
        store: &Store,
        variables: &Variables,
    ) -> std::result::Result<Vec<u8>, GiveUp> {
        let run = Run {
            store,
            variables,
            defaults: &self.defaults,
        };
        let mut out = Vec::with_capacity(self.last_size.load(Ordering::Relaxed));
        out.extend_from_slice(b"{\"data\":");
        self.root.write(&run, &(), &mut out)?;
        out.push(b'}');
        self.last_size.store(out.len(), Ordering::Relaxed);
        Ok(out)
    }
}

/// What a running plan reads: the store and the request's variables.
struct Run<'a> {
    store: &'a Store,
    variables: &'a Variables,
    defaults: &'a [(Name, Option<Value>)],
}

impl Run<'_> {
    /// A variable's value, as async-graphql takes it: the request's, else the
    /// definition's default.
    fn variable(&self, name: &Name) -> Option<Value> {
        if let Some(value) = self.variables.get(name) {
            return Some(value.clone());
        }
        self.defaults
            .iter()
            .find(|(defined, _)| defined == name)
            .and_then(|(_, default)| default.clone())
    }
}

/// The selections of one object type, compiled: the response keys in order, each with
/// how to write its value.
struct Fields<N> {
    fields: Vec<Keyed<N>>,
}

impl<N> Fields<N> {
    fn write(&self, run: &Run<'_>, node: &N, out: &mut Vec<u8>) -> Step {
        out.push(b'{');
        for (at, (key, write)) in self.fields.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            write(run, node, out)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// A GraphQL object type a plan can select from.
trait Object: Sized + 'static {
    /// Its name, as `__typename` answers it.
    fn type_name() -> String;
    /// Whether a fragment on `condition` applies to it: its own name, an interface it
    /// implements or a union it belongs to.
    fn applies(condition: &str) -> bool;
    /// How to write the field `name` with `arguments`, whose selections (merged) are
    /// `selections`; `None` for a field the plan does not know.
    fn field(
        compiler: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        selections: &[&SelectionSet],
    ) -> Option<Write<Self>>;
}

/// Compiles selections against the document's fragments.
struct Compiler<'d> {
    fragments: &'d HashMap<Name, Positioned<FragmentDefinition>>,
}

/// The fields selected under one response key, in document order.
type Group<'d> = (&'d Name, Vec<&'d Field>);

impl<'d> Compiler<'d> {
    /// The fields `sets` select on `N`, merged by response key (the specification's
    /// CollectFields and field merging), compiled.
    fn fields<N: Object>(&self, sets: &[&'d SelectionSet]) -> Option<Fields<N>> {
        self.keyed::<N, N>(sets, |field, selections| {
            if field.name.node == "__typename" {
                let name = N::type_name();
                return Some(leaf(move |_, out| string(out, &name)));
            }
            N::field(self, &field.name.node, Arguments::of(field)?, selections)
        })
    }

    /// The fields `sets` select on a type whose fragments apply as `A` says, merged by
    /// response key, each written as `compile` makes it from the key's first field and
    /// the merged selections of all its fields.
    fn keyed<A: Object, N>(
        &self,
        sets: &[&'d SelectionSet],
        mut compile: impl FnMut(&'d Field, &[&'d SelectionSet]) -> Option<Write<N>>,
    ) -> Option<Fields<N>> {
        let mut groups: Vec<Group<'d>> = Vec::new();
        for set in sets {
            self.collect::<A>(set, &mut groups)?;
        }
        let mut fields = Vec::with_capacity(groups.len());
        for (key, group) in groups {
            let mut encoded = serde_json::to_vec(key.as_str()).ok()?;
            encoded.push(b':');
            let selections: Vec<&SelectionSet> = group
                .iter()
                .map(|field| &field.selection_set.node)
                .collect();
            fields.push((encoded.into_boxed_slice(), compile(group[0], &selections)?));
        }
        Some(Fields { fields })
    }

    fn collect<N: Object>(&self, set: &'d SelectionSet, groups: &mut Vec<Group<'d>>) -> Option<()> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !field.directives.is_empty() {
                        return None;
                    }
                    let key = &field.response_key().node;
                    match groups.iter_mut().find(|(name, _)| *name == key) {
                        Some((_, group)) => group.push(field),
                        None => groups.push((key, vec![field])),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    if !fragment.directives.is_empty() {
                        return None;
                    }
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| N::applies(&condition.node.on.node));
                    if applies {
                        self.collect::<N>(&fragment.selection_set.node, groups)?;
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    if !spread.directives.is_empty() {
                        return None;
                    }
                    let fragment = &self.fragments.get(&spread.fragment_name.node)?.node;
                    if !fragment.directives.is_empty() {
                        return None;
                    }
                    if N::applies(&fragment.type_condition.node.on.node) {
                        self.collect::<N>(&fragment.selection_set.node, groups)?;
                    }
                }
            }
        }
        Some(())
    }
}

/// A field's arguments as the document gives them, read when the plan runs.
struct Arguments {
    given: Vec<(Name, DocValue)>,
}

impl Arguments {
    fn of(field: &Field) -> Option<Arguments> {
        Some(Arguments {
            given: field
                .arguments
                .iter()
                .map(|(name, value)| (name.node.clone(), value.node.clone()))
                .collect(),
        })
    }

    /// `Some` when every argument given is one of `declared` (the arguments the field's
    /// plan reads); a plan never ignores an argument.
    fn declared(self, declared: &'static [&'static str]) -> Option<Read> {
        self.given
            .iter()
            .all(|(name, _)| declared.contains(&name.as_str()))
            .then_some(Read {
                given: self
                    .given
                    .into_iter()
                    .map(|(name, value)| {
                        let constant = value.clone().into_const();
                        (name, value, constant)
                    })
                    .collect(),
            })
    }
}

/// The arguments of a compiled field: literal values resolved once, variables per run.
struct Read {
    given: Vec<(Name, DocValue, Option<Value>)>,
}

impl Read {
    /// Whether every argument is a literal: then they are parsed once, when compiled.
    fn constant(&self) -> bool {
        self.given.iter().all(|(_, _, constant)| constant.is_some())
    }

    /// The argument `name` as async-graphql parses it (absent: `parse(None)`), its
    /// variables from `run` (none while compiling).
    fn get<T: InputType>(
        &self,
        run: Option<&Run<'_>>,
        name: &str,
    ) -> std::result::Result<T, GiveUp> {
        let value = match self
            .given
            .iter()
            .find(|(given, _, _)| given.as_str() == name)
        {
            None => None,
            Some((_, _, Some(constant))) => Some(constant.clone()),
            Some((_, value, None)) => Some(value.clone().into_const_with(|variable| {
                run.and_then(|run| run.variable(&variable)).ok_or(GiveUp)
            })?),
        };
        T::parse(value).map_err(|_| GiveUp)
    }

    /// `get`, with the field's default when the argument is absent (`#[graphql(default)]`).
    fn get_or_default<T: InputType + Default>(
        &self,
        run: Option<&Run<'_>>,
        name: &str,
    ) -> std::result::Result<T, GiveUp> {
        if self
            .given
            .iter()
            .any(|(given, _, _)| given.as_str() == name)
        {
            self.get(run, name)
        } else {
            Ok(T::default())
        }
    }

    fn page(
        &self,
        run: Option<&Run<'_>>,
        direction: super::values::OrderDirection,
    ) -> std::result::Result<PageArgs, GiveUp> {
        Ok(PageArgs::new(
            self.get(run, "first")?,
            self.get(run, "after")?,
            self.get(run, "last")?,
            self.get(run, "before")?,
            direction,
        ))
    }
}

/// A field's arguments parsed into `T`: once, when compiled, if they are all literals
/// (a nested page asks for the same `first: 10` once per record of the level above);
/// else on each run, with its variables.
struct Parsed<T> {
    once: Option<T>,
    read: Read,
    parse: fn(&Read, Option<&Run<'_>>) -> std::result::Result<T, GiveUp>,
}

impl<T: Clone> Parsed<T> {
    fn new(
        read: Read,
        parse: fn(&Read, Option<&Run<'_>>) -> std::result::Result<T, GiveUp>,
    ) -> Parsed<T> {
        let once = if read.constant() {
            parse(&read, None).ok()
        } else {
            None
        };
        Parsed { once, read, parse }
    }

    fn get(&self, run: &Run<'_>) -> std::result::Result<T, GiveUp> {
        match &self.once {
            Some(parsed) => Ok(parsed.clone()),
            None => (self.parse)(&self.read, Some(run)),
        }
    }
}

/// The arguments of a list of incidents.
#[derive(Clone)]
struct IncidentArgs {
    page: PageArgs,
    kinds: Option<Vec<IncidentKind>>,
    country: Option<String>,
    occurred: Option<DateFilter>,
}

impl IncidentArgs {
    fn parse(read: &Read, run: Option<&Run<'_>>) -> std::result::Result<IncidentArgs, GiveUp> {
        let order: Option<IncidentOrder> = read.get(run, "orderBy")?;
        Ok(IncidentArgs {
            page: read.page(run, order.unwrap_or_default().direction)?,
            kinds: read.get(run, "kinds")?,
            country: read.get(run, "country")?,
            occurred: read.get(run, "occurred")?,
        })
    }
}

/// The arguments of a list of facilities within a record.
#[derive(Clone)]
struct FacilityArgs {
    page: PageArgs,
    kinds: Option<Vec<FacilityKind>>,
}

impl FacilityArgs {
    fn parse(read: &Read, run: Option<&Run<'_>>) -> std::result::Result<FacilityArgs, GiveUp> {
        let order: Option<NameOrder> = read.get(run, "orderBy")?;
        Ok(FacilityArgs {
            page: read.page(run, order.unwrap_or_default().direction)?,
            kinds: read.get(run, "kinds")?,
        })
    }
}

/// The arguments of a list of agreements within a record.
#[derive(Clone)]
struct AgreementArgs {
    page: PageArgs,
    filter: AgreementFilter,
}

impl AgreementArgs {
    fn parse(read: &Read, run: Option<&Run<'_>>) -> std::result::Result<AgreementArgs, GiveUp> {
        let order: Option<AgreementOrder> = read.get(run, "orderBy")?;
        Ok(AgreementArgs {
            page: read.page(run, order.unwrap_or_default().direction)?,
            filter: AgreementFilter {
                kinds: read.get(run, "kinds")?,
                party: read.get(run, "party")?,
                signed: read.get(run, "signed")?,
                in_force_on: read.get(run, "inForceOn")?,
                in_force_match: read.get_or_default(run, "inForceMatch")?,
            },
        })
    }
}

/// The arguments of `countries`.
fn name_page(read: &Read, run: Option<&Run<'_>>) -> std::result::Result<PageArgs, GiveUp> {
    let order: Option<NameOrder> = read.get(run, "orderBy")?;
    read.page(run, order.unwrap_or_default().direction)
}

/// The arguments of the connections, as each declares them.
const PAGE: &[&str] = &["first", "after", "last", "before", "orderBy"];
const SEARCH: &[&str] = &["text", "first", "after", "last", "before"];
const INCIDENTS: &[&str] = &[
    "first", "after", "last", "before", "kinds", "country", "occurred", "orderBy",
];
const ROOT_INCIDENTS: &[&str] = INCIDENTS;
const FACILITIES: &[&str] = &["first", "after", "last", "before", "kinds", "orderBy"];
const AGREEMENTS: &[&str] = &[
    "first",
    "after",
    "last",
    "before",
    "kinds",
    "party",
    "signed",
    "inForceOn",
    "inForceMatch",
    "orderBy",
];

fn given<T>(result: Result<T>) -> std::result::Result<T, GiveUp> {
    result.map_err(|_| GiveUp)
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it. Most text needs no
/// escape at all: it is copied whole after one pass that finds nothing to escape (a
/// quote, a backslash or a control character), and only text that has one goes through
/// serde_json.
fn string(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
    {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail, and a str is always valid JSON once escaped.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

fn value(out: &mut Vec<u8>, value: &Value) -> Step {
    serde_json::to_writer(&mut *out, value).map_err(|_| GiveUp)
}

/// Boxes a field's writer; the bound makes the closure's signature the one `Write` needs.
fn boxed<N>(
    write: impl Fn(&Run<'_>, &N, &mut Vec<u8>) -> Step + Send + Sync + 'static,
) -> Write<N> {
    Box::new(write)
}

fn leaf<N: 'static>(write: impl Fn(&N, &mut Vec<u8>) + Send + Sync + 'static) -> Write<N> {
    boxed(move |_, node, out| {
        write(node, out);
        Ok(())
    })
}

fn text<N: 'static>(read: impl Fn(&N) -> &str + Send + Sync + 'static) -> Write<N> {
    leaf(move |node, out| string(out, read(node)))
}

fn texts<N: 'static>(read: impl Fn(&N) -> &[String] + Send + Sync + 'static) -> Write<N> {
    boxed(move |_, node, out| {
        list(out, read(node), |item, out| {
            string(out, item);
            Ok(())
        })
    })
}

fn enumerated<N: 'static, E: EnumType>(read: impl Fn(&N) -> E + Send + Sync + 'static) -> Write<N> {
    boxed(move |_, node, out| value(out, &enum_value(read(node))))
}

fn enumerations<N: 'static, E: EnumType>(
    read: impl Fn(&N) -> Vec<E> + Send + Sync + 'static,
) -> Write<N> {
    boxed(move |_, node, out| {
        let items: Vec<Value> = read(node).into_iter().map(enum_value).collect();
        value(out, &Value::List(items))
    })
}

fn date<N: 'static>(
    read: impl Fn(&N) -> &Option<model::PartialDate> + Send + Sync + 'static,
) -> Write<N> {
    leaf(move |node, out| match read(node) {
        Some(date) => string(out, date.as_str()),
        None => out.extend_from_slice(b"null"),
    })
}

fn id<N: 'static>(kind: RecordKind, slug: impl Fn(&N) -> &str + Send + Sync + 'static) -> Write<N> {
    leaf(move |node, out| string(out, global_id(kind, slug(node)).as_str()))
}

/// A connection's fields, compiled, for records written by `node`.
fn connection<N: 'static>(
    compiler: &Compiler<'_>,
    selections: &[&SelectionSet],
    node: impl Fn(&Compiler<'_>, &[&SelectionSet]) -> Option<Write<N>>,
) -> Option<Fields<Connection<N>>>
where
    Connection<N>: OutputType,
{
    let page = PageObject::<N> { node: &node };
    page.fields(compiler, selections)
}

/// Compiles the fields of `N`'s connection and edge types, which `Object` cannot
/// express (their records are written by a closure, not by a type of their own).
struct PageObject<'n, N> {
    node: &'n RecordPlan<'n, N>,
}

impl<N: 'static> PageObject<'_, N>
where
    Connection<N>: OutputType,
{
    fn fields(
        &self,
        compiler: &Compiler<'_>,
        selections: &[&SelectionSet],
    ) -> Option<Fields<Connection<N>>> {
        let connection_name = <Connection<N> as OutputType>::type_name().into_owned();
        let edge_name = connection_name
            .strip_suffix("Connection")
            .map(|stem| format!("{stem}Edge"))?;
        compiler.keyed::<Named, Connection<N>>(selections, |field, sub| {
            if !field.arguments.is_empty() {
                return None;
            }
            Some(match field.name.node.as_str() {
                "__typename" => {
                    let name = connection_name.clone();
                    leaf(move |_, out| string(out, &name))
                }
                "totalCount" => boxed(|_, page: &Connection<N>, out| {
                    let count = given(page.count())?;
                    out.extend_from_slice(count.to_string().as_bytes());
                    Ok(())
                }),
                "pageInfo" => {
                    let info = compiler.fields::<PageInfoObject>(sub)?;
                    boxed(move |run, page: &Connection<N>, out| {
                        info.write(run, &PageInfoObject(page.page_info_of().parts()), out)
                    })
                }
                "nodes" => {
                    let write = (self.node)(compiler, sub)?;
                    boxed(move |run, page: &Connection<N>, out| {
                        list(out, page.page_edges(), |edge, out| {
                            write(run, edge.record(), out)
                        })
                    })
                }
                "edges" => {
                    let edge = self.edge(compiler, sub, &edge_name)?;
                    boxed(move |run, page: &Connection<N>, out| {
                        list(out, page.page_edges(), |item, out| {
                            edge.write(run, item, out)
                        })
                    })
                }
                _ => return None,
            })
        })
    }

    fn edge(
        &self,
        compiler: &Compiler<'_>,
        selections: &[&SelectionSet],
        edge_name: &str,
    ) -> Option<Fields<super::relay::Edge<N>>> {
        compiler.keyed::<Named, super::relay::Edge<N>>(selections, |field, sub| {
            if !field.arguments.is_empty() {
                return None;
            }
            Some(match field.name.node.as_str() {
                "__typename" => {
                    let name = edge_name.to_owned();
                    leaf(move |_, out| string(out, &name))
                }
                "cursor" => {
                    leaf(|edge: &super::relay::Edge<N>, out| string(out, &edge.encoded_cursor()))
                }
                "node" => {
                    let write = (self.node)(compiler, sub)?;
                    boxed(move |run, edge: &super::relay::Edge<N>, out| {
                        write(run, edge.record(), out)
                    })
                }
                _ => return None,
            })
        })
    }
}

/// Writes `items` as a JSON list, each as `write` writes it.
fn list<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut write: impl FnMut(&T, &mut Vec<u8>) -> Step,
) -> Step {
    out.push(b'[');
    for (at, item) in items.iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        write(item, out)?;
    }
    out.push(b']');
    Ok(())
}

/// For collecting the selections of the connection and edge types, which no fragment
/// narrows: a fragment on them names the type itself.
struct Named;

impl Object for Named {
    fn type_name() -> String {
        String::new()
    }

    fn applies(_: &str) -> bool {
        // Validation lets a fragment inside a connection's selections name only the
        // connection's (or edge's) own type: it applies.
        true
    }

    fn field(_: &Compiler<'_>, _: &str, _: Arguments, _: &[&SelectionSet]) -> Option<Write<Self>> {
        None
    }
}

/// `PageInfo`'s values, for its compiled fields.
struct PageInfoObject((bool, bool, Option<String>, Option<String>));

impl Object for PageInfoObject {
    fn type_name() -> String {
        <PageInfo as OutputType>::type_name().into_owned()
    }

    fn applies(condition: &str) -> bool {
        condition == "PageInfo"
    }

    fn field(
        _: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        _: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        arguments.declared(&[])?;
        let boolean = |out: &mut Vec<u8>, value: bool| {
            out.extend_from_slice(if value { b"true" } else { b"false" })
        };
        let cursor = |out: &mut Vec<u8>, value: &Option<String>| match value {
            Some(cursor) => string(out, cursor),
            None => out.extend_from_slice(b"null"),
        };
        Some(match name {
            "hasNextPage" => leaf(move |info: &PageInfoObject, out| boolean(out, info.0 .0)),
            "hasPreviousPage" => leaf(move |info: &PageInfoObject, out| boolean(out, info.0 .1)),
            "startCursor" => leaf(move |info: &PageInfoObject, out| cursor(out, &info.0 .2)),
            "endCursor" => leaf(move |info: &PageInfoObject, out| cursor(out, &info.0 .3)),
            _ => return None,
        })
    }
}

/// A nullable record, written as its object or `null`.
fn optional<N: 'static>(write: Fields<N>) -> impl Fn(&Run<'_>, Option<N>, &mut Vec<u8>) -> Step {
    move |run, node, out| match node {
        Some(node) => write.write(run, &node, out),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A record type's plan: its fields by name.
fn object<N: Object>(compiler: &Compiler<'_>, selections: &[&SelectionSet]) -> Option<Write<N>> {
    let fields = compiler.fields::<N>(selections)?;
    Some(boxed(move |run, node, out| fields.write(run, node, out)))
}

/// The six record types behind `Node` and `SearchResult`, each with its fields compiled.
struct AnyRecord {
    country: Fields<Country>,
    organization: Fields<Organization>,
    person: Fields<Person>,
    agreement: Fields<Agreement>,
    facility: Fields<Facility>,
    incident: Fields<Incident>,
}

impl AnyRecord {
    fn compile(compiler: &Compiler<'_>, selections: &[&SelectionSet]) -> Option<AnyRecord> {
        Some(AnyRecord {
            country: compiler.fields(selections)?,
            organization: compiler.fields(selections)?,
            person: compiler.fields(selections)?,
            agreement: compiler.fields(selections)?,
            facility: compiler.fields(selections)?,
            incident: compiler.fields(selections)?,
        })
    }

    fn node(&self, run: &Run<'_>, node: &Node, out: &mut Vec<u8>) -> Step {
        match node {
            Node::Country(record) => self.country.write(run, record, out),
            Node::Organization(record) => self.organization.write(run, record, out),
            Node::Person(record) => self.person.write(run, record, out),
            Node::Agreement(record) => self.agreement.write(run, record, out),
            Node::Facility(record) => self.facility.write(run, record, out),
            Node::Incident(record) => self.incident.write(run, record, out),
        }
    }

    fn result(&self, run: &Run<'_>, result: &SearchResult, out: &mut Vec<u8>) -> Step {
        match result {
            SearchResult::Country(record) => self.country.write(run, record, out),
            SearchResult::Organization(record) => self.organization.write(run, record, out),
            SearchResult::Person(record) => self.person.write(run, record, out),
            SearchResult::Agreement(record) => self.agreement.write(run, record, out),
            SearchResult::Facility(record) => self.facility.write(run, record, out),
            SearchResult::Incident(record) => self.incident.write(run, record, out),
        }
    }
}

/// The root: `Query`.
impl Object for () {
    fn type_name() -> String {
        "Query".to_owned()
    }

    fn applies(condition: &str) -> bool {
        condition == "Query"
    }

    fn field(
        compiler: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        selections: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        Some(match name {
            "country" => {
                let read = arguments.declared(&["code"])?;
                let write = optional(compiler.fields::<Country>(selections)?);
                boxed(move |run, _, out| {
                    let code: String = read.get(Some(run), "code")?;
                    let country = run.store.country_by_code(code.trim()).map_err(|_| GiveUp)?;
                    write(run, country.map(Country), out)
                })
            }
            "agreement" => by_slug(compiler, arguments, selections, Agreement)?,
            "facility" => by_slug(compiler, arguments, selections, Facility)?,
            "incident" => by_slug(compiler, arguments, selections, Incident)?,
            "organization" => by_slug(compiler, arguments, selections, Organization)?,
            "person" => by_slug(compiler, arguments, selections, Person)?,
            "node" => {
                let read = arguments.declared(&["id"])?;
                let records = AnyRecord::compile(compiler, selections)?;
                boxed(move |run, _, out| {
                    let id: async_graphql::ID = read.get(Some(run), "id")?;
                    let (kind, slug) = given(parse_global_id(&id))?;
                    match load_node(run.store, kind, &slug).map_err(|_| GiveUp)? {
                        Some(node) => records.node(run, &node, out),
                        None => {
                            out.extend_from_slice(b"null");
                            Ok(())
                        }
                    }
                })
            }
            "countries" => {
                let args = Parsed::new(arguments.declared(PAGE)?, name_page);
                let page = connection(compiler, selections, object::<Country>)?;
                boxed(move |run, _, out| {
                    let args = args.get(run)?;
                    let list = List::All(RecordKind::Country);
                    let found = given(list_page(run.store, list, &args, Country, None))?;
                    page.write(run, &found, out)
                })
            }
            "incidents" => {
                let args = Parsed::new(arguments.declared(ROOT_INCIDENTS)?, IncidentArgs::parse);
                let page = connection(compiler, selections, object::<Incident>)?;
                boxed(move |run, _, out| {
                    let IncidentArgs {
                        page: args,
                        kinds,
                        country,
                        occurred,
                    } = args.get(run)?;
                    let found = given(all_incidents(run.store, &args, kinds, country, occurred))?;
                    page.write(run, &found, out)
                })
            }
            "search" => {
                let read = arguments.declared(SEARCH)?;
                let page = connection(compiler, selections, |compiler, sub| {
                    let records = AnyRecord::compile(compiler, sub)?;
                    Some(boxed(
                        move |run: &Run<'_>, result: &SearchResult, out: &mut Vec<u8>| {
                            records.result(run, result, out)
                        },
                    ))
                })?;
                boxed(move |run, _, out| {
                    let with = Some(run);
                    let text: String = read.get(with, "text")?;
                    let found = given(search_page(
                        run.store,
                        &text,
                        read.get(with, "first")?,
                        read.get(with, "after")?,
                        read.get(with, "last")?,
                        read.get(with, "before")?,
                    ))?;
                    page.write(run, &found, out)
                })
            }
            _ => return None,
        })
    }
}

/// A lookup by slug (`agreement(slug:)`, …).
fn by_slug<R: crate::store::Record + 'static, N: Object>(
    compiler: &Compiler<'_>,
    arguments: Arguments,
    selections: &[&SelectionSet],
    wrap: fn(Arc<R>) -> N,
) -> Option<Write<()>> {
    let read = arguments.declared(&["slug"])?;
    let write = optional(compiler.fields::<N>(selections)?);
    Some(boxed(move |run, _, out| {
        let slug: String = read.get(Some(run), "slug")?;
        let record = run.store.get::<R>(&slug).map_err(|_| GiveUp)?;
        write(run, record.map(wrap), out)
    }))
}

/// The connections of the records, as their resolvers read them.
fn incidents_of<N: 'static>(
    compiler: &Compiler<'_>,
    arguments: Arguments,
    selections: &[&SelectionSet],
    link: Link,
    owner: fn(&N) -> &str,
) -> Option<Write<N>> {
    let args = Parsed::new(arguments.declared(INCIDENTS)?, IncidentArgs::parse);
    let page = connection(compiler, selections, object::<Incident>)?;
    Some(boxed(move |run, node, out| {
        let IncidentArgs {
            page: paging,
            kinds,
            country,
            occurred,
        } = args.get(run)?;
        let list = List::Linked(link, owner(node).to_owned());
        let found = given(incidents_page(
            run.store, list, &paging, kinds, country, occurred,
        ))?;
        page.write(run, &found, out)
    }))
}

fn facilities_of<N: 'static>(
    compiler: &Compiler<'_>,
    arguments: Arguments,
    selections: &[&SelectionSet],
    link: Link,
    owner: fn(&N) -> &str,
) -> Option<Write<N>> {
    let args = Parsed::new(arguments.declared(FACILITIES)?, FacilityArgs::parse);
    let page = connection(compiler, selections, object::<Facility>)?;
    Some(boxed(move |run, node, out| {
        let FacilityArgs {
            page: paging,
            kinds,
        } = args.get(run)?;
        let found = given(linked_facilities(
            run.store,
            link,
            owner(node),
            &paging,
            kinds,
        ))?;
        page.write(run, &found, out)
    }))
}

fn agreements_of<N: 'static>(
    compiler: &Compiler<'_>,
    arguments: Arguments,
    selections: &[&SelectionSet],
    link: Link,
    owner: fn(&N) -> &str,
) -> Option<Write<N>> {
    let args = Parsed::new(arguments.declared(AGREEMENTS)?, AgreementArgs::parse);
    let page = connection(compiler, selections, object::<Agreement>)?;
    Some(boxed(move |run, node, out| {
        let AgreementArgs {
            page: paging,
            filter,
        } = args.get(run)?;
        let found = given(linked_agreements(
            run.store,
            link,
            owner(node),
            &paging,
            filter,
        ))?;
        page.write(run, &found, out)
    }))
}

/// The fields every record type has, read alike.
trait Shown: Sized + 'static {
    const KIND: RecordKind;
    fn slug(&self) -> &str;
    fn aliases(&self) -> &[String];
    fn summary(&self) -> &str;
}

macro_rules! shown {
    ($($record:ident),*) => {$(
        impl Shown for $record {
            const KIND: RecordKind = RecordKind::$record;

            fn slug(&self) -> &str {
                &self.0.id
            }

            fn aliases(&self) -> &[String] {
                &self.0.aliases
            }

            fn summary(&self) -> &str {
                &self.0.summary
            }
        }
    )*};
}

shown!(Country, Organization, Person, Agreement, Facility, Incident);

/// `id`, `slug`, `aliases` and `summary`, which every record type has.
fn shared<N: Shown>(name: &str) -> Option<Write<N>> {
    Some(match name {
        "id" => id(N::KIND, N::slug),
        "slug" => text(N::slug),
        "aliases" => texts(N::aliases),
        "summary" => text(N::summary),
        _ => return None,
    })
}

/// The record types. Each field mirrors its resolver in the type's own module.
impl Object for Country {
    fn type_name() -> String {
        "Country".to_owned()
    }

    fn applies(condition: &str) -> bool {
        matches!(
            condition,
            "Country" | "Node" | "SearchResult" | "Operator" | "Speaker"
        )
    }

    fn field(
        compiler: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        selections: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        let owner: fn(&Country) -> &str = |country| &country.0.id;
        if matches!(name, "agreements" | "facilities" | "incidents") {
            return match name {
                "agreements" => agreements_of(
                    compiler,
                    arguments,
                    selections,
                    Link::CountryAgreements,
                    owner,
                ),
                "facilities" => facilities_of(
                    compiler,
                    arguments,
                    selections,
                    Link::CountryFacilities,
                    owner,
                ),
                _ => incidents_of(
                    compiler,
                    arguments,
                    selections,
                    Link::CountryIncidents,
                    owner,
                ),
            };
        }
        arguments.declared(&[])?;
        Some(match name {
            "code" => text(|country: &Country| &country.0.code),
            "name" => text(|country: &Country| &country.0.name),
            _ => return shared(name),
        })
    }
}

impl Object for Agreement {
    fn type_name() -> String {
        "Agreement".to_owned()
    }

    fn applies(condition: &str) -> bool {
        matches!(condition, "Agreement" | "Node" | "SearchResult")
    }

    fn field(
        compiler: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        selections: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        let owner: fn(&Agreement) -> &str = |agreement| &agreement.0.id;
        match name {
            "facilities" => {
                return facilities_of(
                    compiler,
                    arguments,
                    selections,
                    Link::AgreementFacilities,
                    owner,
                )
            }
            "incidents" => {
                return incidents_of(
                    compiler,
                    arguments,
                    selections,
                    Link::AgreementIncidents,
                    owner,
                )
            }
            _ => {}
        }
        arguments.declared(&[])?;
        Some(match name {
            "title" => text(|agreement: &Agreement| &agreement.0.title),
            "kind" => enumerated(|agreement: &Agreement| AgreementKind::from(agreement.0.kind)),
            "status" => enumerated(|agreement: &Agreement| {
                super::agreement::AgreementStatus::from(agreement.0.status)
            }),
            "certainty" => enumerated(|agreement: &Agreement| {
                super::values::Certainty::from(agreement.0.certainty)
            }),
            "signed" => date(|agreement: &Agreement| &agreement.0.signed),
            "inForceFrom" => date(|agreement: &Agreement| &agreement.0.in_force_from),
            "expires" => date(|agreement: &Agreement| &agreement.0.expires),
            "ended" => date(|agreement: &Agreement| &agreement.0.ended),
            "debtWriteOffFraction" => boxed(|_, agreement: &Agreement, out| {
                let fraction = agreement.0.debt_write_off_fraction;
                value(
                    out,
                    &fraction.map_or(Value::Null, |fraction| {
                        async_graphql::Number::from_f64(fraction).map_or(Value::Null, Value::Number)
                    }),
                )
            }),
            _ => return shared(name),
        })
    }
}

impl Object for Facility {
    fn type_name() -> String {
        "Facility".to_owned()
    }

    fn applies(condition: &str) -> bool {
        matches!(condition, "Facility" | "Node" | "SearchResult")
    }

    fn field(
        compiler: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        selections: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        let owner: fn(&Facility) -> &str = |facility| &facility.0.id;
        match name {
            "agreements" => {
                return agreements_of(
                    compiler,
                    arguments,
                    selections,
                    Link::FacilityAgreements,
                    owner,
                )
            }
            "incidents" => {
                return incidents_of(
                    compiler,
                    arguments,
                    selections,
                    Link::FacilityIncidents,
                    owner,
                )
            }
            _ => {}
        }
        arguments.declared(&[])?;
        Some(match name {
            "name" => text(|facility: &Facility| &facility.0.name),
            "kind" => enumerated(|facility: &Facility| FacilityKind::from(facility.0.kind)),
            "certainty" => enumerated(|facility: &Facility| {
                super::values::Certainty::from(facility.0.certainty)
            }),
            "opened" => date(|facility: &Facility| &facility.0.opened),
            "closed" => date(|facility: &Facility| &facility.0.closed),
            "aircraftRoles" => enumerations(|facility: &Facility| {
                facility
                    .0
                    .aircraft_roles
                    .iter()
                    .map(|role| super::facility::AircraftRole::from(*role))
                    .collect()
            }),
            "resources" => enumerations(|facility: &Facility| {
                facility
                    .0
                    .resources
                    .iter()
                    .map(|resource| super::facility::Resource::from(*resource))
                    .collect()
            }),
            _ => return shared(name),
        })
    }
}

impl Object for Incident {
    fn type_name() -> String {
        "Incident".to_owned()
    }

    fn applies(condition: &str) -> bool {
        matches!(condition, "Incident" | "Node" | "SearchResult")
    }

    fn field(
        _: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        _: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        arguments.declared(&[])?;
        Some(match name {
            "title" => text(|incident: &Incident| &incident.0.title),
            "kind" => enumerated(|incident: &Incident| IncidentKind::from(incident.0.kind)),
            "occurred" => date(|incident: &Incident| &incident.0.occurred),
            "certainty" => enumerated(|incident: &Incident| {
                super::values::Certainty::from(incident.0.certainty)
            }),
            _ => return shared(name),
        })
    }
}

impl Object for Organization {
    fn type_name() -> String {
        "Organization".to_owned()
    }

    fn applies(condition: &str) -> bool {
        matches!(
            condition,
            "Organization" | "Node" | "SearchResult" | "Operator" | "Speaker"
        )
    }

    fn field(
        _: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        _: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        arguments.declared(&[])?;
        Some(match name {
            "name" => text(|organization: &Organization| &organization.0.name),
            "kind" => enumerated(|organization: &Organization| {
                super::organization::OrganizationKind::from(organization.0.kind)
            }),
            "founded" => date(|organization: &Organization| &organization.0.founded),
            _ => return shared(name),
        })
    }
}

impl Object for Person {
    fn type_name() -> String {
        "Person".to_owned()
    }

    fn applies(condition: &str) -> bool {
        matches!(condition, "Person" | "Node" | "SearchResult" | "Speaker")
    }

    fn field(
        _: &Compiler<'_>,
        name: &str,
        arguments: Arguments,
        _: &[&SelectionSet],
    ) -> Option<Write<Self>> {
        arguments.declared(&[])?;
        Some(match name {
            "name" => text(|person: &Person| &person.0.name),
            _ => return shared(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    /// The arguments of a field of the published schema.
    fn schema_arguments(type_name: &str, field: &str) -> Vec<String> {
        let document =
            async_graphql::parser::parse_schema(super::super::sdl()).expect("the SDL parses");
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            if definition.node.name.node != type_name {
                continue;
            }
            let TypeKind::Object(object) = &definition.node.kind else {
                continue;
            };
            for candidate in &object.fields {
                if candidate.node.name.node == field {
                    return candidate
                        .node
                        .arguments
                        .iter()
                        .map(|argument| argument.node.name.node.to_string())
                        .collect();
                }
            }
        }
        panic!("no field {type_name}.{field} in the schema");
    }

    /// Every field a plan reads arguments of declares exactly the schema's: none is
    /// ignored (a plan refuses a document passing an argument it does not declare, so one
    /// missing here would only cost speed, and this test says which).
    #[test]
    fn declared_arguments_are_the_schemas() {
        let declared: [(&str, &str, &[&str]); 15] = [
            ("Query", "country", &["code"]),
            ("Query", "node", &["id"]),
            ("Query", "agreement", &["slug"]),
            ("Query", "facility", &["slug"]),
            ("Query", "incident", &["slug"]),
            ("Query", "organization", &["slug"]),
            ("Query", "person", &["slug"]),
            ("Query", "countries", PAGE),
            ("Query", "incidents", ROOT_INCIDENTS),
            ("Query", "search", SEARCH),
            ("Country", "incidents", INCIDENTS),
            ("Country", "facilities", FACILITIES),
            ("Country", "agreements", AGREEMENTS),
            ("Agreement", "facilities", FACILITIES),
            ("Facility", "agreements", AGREEMENTS),
        ];
        for (type_name, field, arguments) in declared {
            let mut ours: Vec<&str> = arguments.to_vec();
            let mut schemas = schema_arguments(type_name, field);
            ours.sort_unstable();
            schemas.sort_unstable();
            assert_eq!(ours, schemas, "{type_name}.{field}");
        }
        for (type_name, field) in [("Agreement", "incidents"), ("Facility", "incidents")] {
            let mut schemas = schema_arguments(type_name, field);
            schemas.sort_unstable();
            let mut ours = INCIDENTS.to_vec();
            ours.sort_unstable();
            assert_eq!(ours, schemas, "{type_name}.{field}");
        }
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "Manas",
            "Кыргызстан",
            "quote \" and \\ backslash",
            "tab\tnew\nline\u{0}\u{1f}\u{7f}",
            "\u{2028}\u{2029}\u{feff}🙂",
        ] {
            let mut ours = Vec::new();
            string(&mut ours, text);
            assert_eq!(
                ours,
                serde_json::to_vec(text).expect("a string"),
                "{text:?}"
            );
        }
    }
}
