//! The query guard: refuses hostile documents before async-graphql validates or executes
//! them, in time linear in the document's size.
//!
//! async-graphql's parser recurses on nested values and its post-parse depth check
//! expands fragment spreads without memoization, so depth and cost are checked here:
//! brackets on the raw text before parsing, then one memoized walk of the parsed document,
//! which the guard returns in place of async-graphql's own parse step.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::parser::Positioned;
use async_graphql::{ErrorExtensionValues, Name, ServerError, ServerResult, Value, Variables};
/// A value as written in a document: unlike `Value`, it may be a `$variable`.
use async_graphql_value::Value as DocumentValue;

use crate::schema::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The bounds a query must stay within. The defaults admit GraphiQL's introspection query
/// and the four-level Country → Agreements → Facilities → Incidents query with `first: 20`
/// at every level (168,420 estimated nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of query text.
    pub max_query_bytes: usize,
    /// Nesting of `{`, `[` and `(` in the query text, and of lists and objects in variables.
    /// The parser recurses once per level; this keeps it far from the stack's end.
    pub max_depth: usize,
    /// Fields the document expands to once every fragment spread is inlined.
    pub max_fields: u64,
    /// Records the query may return at most: each list multiplies its children by its page
    /// size, in the spirit of GitHub's 500,000-node limit.
    pub max_nodes: u64,
    /// Aliased fields, `__typename` ones included.
    pub max_aliases: usize,
    /// Directives anywhere in the document.
    pub max_directives: usize,
    /// Operations in one document.
    pub max_operations: usize,
    /// Fragment definitions in one document.
    pub max_fragments: usize,
    /// Items of one list argument or list variable.
    pub max_list_items: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_query_bytes: 16 * 1024,
            max_depth: 40,
            max_fields: 5_000,
            max_nodes: 500_000,
            max_aliases: 100,
            max_directives: 50,
            max_operations: 16,
            max_fragments: 64,
            max_list_items: MAX_PAGE_SIZE,
        }
    }
}

/// The fields whose values are lists of records paged by `first`/`last`: every field of
/// the schema whose type is a connection, and nothing else (the test
/// `list_fields_are_the_schemas_connections` checks it against the SDL, so a new
/// connection cannot escape `max_nodes`).
pub const LIST_FIELDS: [&str; 10] = [
    "agreements",
    "countries",
    "facilities",
    "incidents",
    "members",
    "memberships",
    "organizations",
    "parties",
    "people",
    "search",
];

/// Installs the guard on a schema.
pub struct QueryGuard(pub Limits);

impl ExtensionFactory for QueryGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard(self.0))
    }
}

struct Guard(Limits);

#[async_graphql::async_trait::async_trait]
impl Extension for Guard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // The rest of the parse chain is not run; see `parse_guarded`.
        let _ = (ctx, next);
        parse_guarded(query, variables, &self.0)
    }
}

/// The guard's parse step: the raw text's checks, the parse, then the document's checks.
/// It replaces async-graphql's own step (parse, then a recursion-depth walk that expands
/// fragment spreads without memoization), which is what a fragment bomb exploits; the
/// checks here cover what that walk guards against. An extension calling it must return
/// its document without running the rest of the parse chain.
pub(super) fn parse_guarded(
    query: &str,
    variables: &Variables,
    limits: &Limits,
) -> ServerResult<ExecutableDocument> {
    parse_guarded_with(query, variables, limits, parse).map(|(document, _)| document)
}

/// A document's text that passed the guard's checks on raw text (`check_text`): short
/// enough, and nested no deeper than the parser's stack can take. `check_text` is the
/// only way to make one, and `parse` (like the response cache's `CacheKey::of`) takes
/// nothing else, so no path can hand the parser
/// text the guard has not seen (`tests/it/tidy.rs` checks that `parse` is the only
/// caller of a document parser in `src/`).
#[derive(Clone, Copy, Debug)]
pub struct CheckedText<'a>(&'a str);

impl<'a> CheckedText<'a> {
    /// The text itself.
    pub fn as_str(self) -> &'a str {
        self.0
    }
}

/// Parses a document the guard has checked: the one place in `src/` that calls a GraphQL
/// document parser.
pub fn parse(text: CheckedText<'_>) -> ServerResult<ExecutableDocument> {
    async_graphql::parser::parse_query(text.0).map_err(ServerError::from)
}

/// `parse_guarded`, with the parse itself done by `parse` (which may answer from a cache
/// of documents parsed before: every check here still runs on every request).
/// Hands back the checked text with the document, for checks that come after the guard's.
pub(super) fn parse_guarded_with<'q, D: std::borrow::Borrow<ExecutableDocument>>(
    query: &'q str,
    variables: &Variables,
    limits: &Limits,
    parse: impl FnOnce(CheckedText<'q>) -> ServerResult<D>,
) -> ServerResult<(D, CheckedText<'q>)> {
    let text = admit(query, variables, limits).map_err(refusal)?;
    let document = parse(text)?;
    check_document(document.borrow(), variables, limits).map_err(refusal)?;
    Ok((document, text))
}

fn refusal(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "QUERY_TOO_COMPLEX");
    error.extensions = Some(extensions);
    error
}

/// The guard's checks before parsing: the raw text's (`check_text`) and the variables'
/// (`check_variables`). What must pass before a request's document is parsed, normalized
/// or looked up.
pub fn admit<'a>(
    query: &'a str,
    variables: &Variables,
    limits: &Limits,
) -> Result<CheckedText<'a>, String> {
    let text = check_text(query, limits)?;
    check_variables(variables, limits)?;
    Ok(text)
}

/// Length and bracket depth of the raw text, skipping strings and comments: what must
/// hold before anything parses it.
pub fn check_text<'a>(query: &'a str, limits: &Limits) -> Result<CheckedText<'a>, String> {
    if query.len() > limits.max_query_bytes {
        return Err(format!(
            "the query is {} bytes long; the limit is {}",
            query.len(),
            limits.max_query_bytes
        ));
    }
    let bytes = query.as_bytes();
    let (mut depth, mut index) = (0usize, 0usize);
    while index < bytes.len() {
        match bytes[index] {
            b'#' => {
                // A comment runs to the end of the line; GraphQL ends lines at `\n` or `\r`.
                while index < bytes.len() && !matches!(bytes[index], b'\n' | b'\r') {
                    index += 1;
                }
            }
            b'"' if bytes[index..].starts_with(b"\"\"\"") => {
                index += 3;
                // A block string's only escape is `\"""`; any other backslash is literal.
                while index < bytes.len() && !bytes[index..].starts_with(b"\"\"\"") {
                    index += if bytes[index..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                index += 2;
            }
            b'"' => {
                index += 1;
                while index < bytes.len() && !matches!(bytes[index], b'"' | b'\n' | b'\r') {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(format!(
                        "the query nests brackets more than {} deep",
                        limits.max_depth
                    ));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        index += 1;
    }
    Ok(CheckedText(query))
}

/// Depth and list lengths of the variables.
pub fn check_variables(variables: &Variables, limits: &Limits) -> Result<(), String> {
    let mut stack: Vec<(&Value, usize)> = variables.values().map(|value| (value, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        if depth > limits.max_depth {
            return Err(format!(
                "variables nest more than {} deep",
                limits.max_depth
            ));
        }
        match value {
            Value::List(items) => {
                if items.len() > limits.max_list_items {
                    return Err(format!(
                        "a list in the variables has {} items; the limit is {}",
                        items.len(),
                        limits.max_list_items
                    ));
                }
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(fields) => stack.extend(fields.values().map(|field| (field, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// Operations, fragments, aliases, directives, list arguments, and the expanded cost.
pub fn check_document(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Result<(), String> {
    let operations = document.operations.iter().count();
    if operations > limits.max_operations {
        return Err(format!(
            "the document has {operations} operations; the limit is {}",
            limits.max_operations
        ));
    }
    if document.fragments.len() > limits.max_fragments {
        return Err(format!(
            "the document has {} fragments; the limit is {}",
            document.fragments.len(),
            limits.max_fragments
        ));
    }
    let mut walk = Walk {
        document,
        variables,
        limits,
        memo: HashMap::new(),
        visiting: HashSet::new(),
        aliases: 0,
        directives: 0,
    };
    // Every fragment is walked (and so counted) once, used or not.
    for name in document.fragments.keys() {
        walk.fragment(name)?;
    }
    let mut cost = Cost::default();
    for (_, operation) in document.operations.iter() {
        walk.directives += operation.node.directives.len();
        cost = cost.plus(walk.selection_set(&operation.node.selection_set)?);
    }
    walk.check_counts()?;
    if cost.fields > limits.max_fields {
        return Err(format!(
            "the query expands to {} fields once fragments are inlined; the limit is {}",
            cost.fields, limits.max_fields
        ));
    }
    if cost.nodes > limits.max_nodes {
        return Err(format!(
            "the query could return up to {} records (page sizes multiply down nested lists); \
             the limit is {}: ask for smaller pages",
            cost.nodes, limits.max_nodes
        ));
    }
    Ok(())
}

/// What a selection set costs once expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cost {
    fields: u64,
    nodes: u64,
}

impl Cost {
    fn plus(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            nodes: self.nodes.saturating_add(other.nodes),
        }
    }
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a Limits,
    /// The cost of each fragment, computed once: what keeps bombs linear.
    memo: HashMap<&'a Name, Cost>,
    /// Fragments being walked, to find cycles.
    visiting: HashSet<&'a Name>,
    aliases: usize,
    directives: usize,
}

impl<'a> Walk<'a> {
    fn fragment(&mut self, name: &'a Name) -> Result<Cost, String> {
        if let Some(cost) = self.memo.get(name) {
            return Ok(*cost);
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            // An unknown fragment is validation's to report.
            return Ok(Cost::default());
        };
        if !self.visiting.insert(name) {
            return Err(format!(
                "fragment `{name}` spreads itself (a fragment cycle)"
            ));
        }
        self.directives += fragment.node.directives.len();
        let cost = self.selection_set(&fragment.node.selection_set)?;
        self.visiting.remove(name);
        self.memo.insert(name, cost);
        Ok(cost)
    }

    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<Cost, String> {
        let mut cost = Cost::default();
        for selection in &set.node.items {
            self.directives += selection.node.directives().len();
            let item = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.alias.is_some() {
                        self.aliases += 1;
                    }
                    for (_, value) in &field.arguments {
                        self.check_list_argument(&value.node)?;
                    }
                    let children = self.selection_set(&field.selection_set)?;
                    if LIST_FIELDS.contains(&field.name.node.as_str()) {
                        let page = self.page_size(field);
                        Cost {
                            fields: children.fields.saturating_add(1),
                            nodes: page.saturating_mul(children.nodes.saturating_add(1)),
                        }
                    } else {
                        Cost {
                            fields: children.fields.saturating_add(1),
                            nodes: children.nodes,
                        }
                    }
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set)?
                }
            };
            cost = cost.plus(item);
            // Stop early: a bomb's count grows past any budget long before it ends.
            if cost.fields > self.limits.max_fields.saturating_mul(2) {
                return Ok(cost);
            }
        }
        self.check_counts()?;
        Ok(cost)
    }

    /// The page size a list field asks for: `first` or `last`, literal or variable.
    fn page_size(&self, field: &async_graphql::parser::types::Field) -> u64 {
        let requested = ["first", "last"].iter().find_map(|name| {
            let value = &field.get_argument(name)?.node;
            match value {
                DocumentValue::Number(number) => number.as_u64(),
                DocumentValue::Variable(variable) => match self.variables.get(variable) {
                    Some(Value::Number(number)) => number.as_u64(),
                    _ => None,
                },
                _ => None,
            }
        });
        requested.unwrap_or(DEFAULT_PAGE_SIZE as u64)
    }

    fn check_list_argument(&self, value: &DocumentValue) -> Result<(), String> {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                DocumentValue::List(items) => {
                    if items.len() > self.limits.max_list_items {
                        return Err(format!(
                            "a list argument has {} items; the limit is {}",
                            items.len(),
                            self.limits.max_list_items
                        ));
                    }
                    stack.extend(items.iter());
                }
                DocumentValue::Object(fields) => stack.extend(fields.values()),
                _ => {}
            }
        }
        Ok(())
    }

    fn check_counts(&self) -> Result<(), String> {
        if self.aliases > self.limits.max_aliases {
            return Err(format!(
                "the document has more than {} aliased fields",
                self.limits.max_aliases
            ));
        }
        if self.directives > self.limits.max_directives {
            return Err(format!(
                "the document has more than {} directives",
                self.limits.max_directives
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), String> {
        let limits = Limits::default();
        let text = check_text(query, &limits)?;
        let document = parse(text).map_err(|error| error.message)?;
        check_document(&document, &Variables::default(), &limits)
    }

    #[test]
    fn list_fields_are_the_schemas_connections() {
        use apollo_compiler::schema::ExtendedType;
        let schema = apollo_compiler::Schema::parse(crate::schema::sdl(), "schema.graphql")
            .expect("the SDL parses");
        let mut connections = std::collections::BTreeSet::new();
        for ty in schema.types.values() {
            let fields = match ty {
                ExtendedType::Object(object) => &object.fields,
                ExtendedType::Interface(interface) => &interface.fields,
                _ => continue,
            };
            for (name, field) in fields {
                if field.ty.inner_named_type().as_str().ends_with("Connection") {
                    connections.insert(name.as_str().to_owned());
                }
            }
        }
        let listed: std::collections::BTreeSet<String> =
            LIST_FIELDS.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(
            listed, connections,
            "`LIST_FIELDS` must name exactly the fields whose type is a connection"
        );
    }

    #[test]
    fn bracket_depth_ignores_strings_and_comments() {
        let limits = Limits::default();
        let deep = format!("{{ a(x: {}1{}) }}", "[".repeat(60), "]".repeat(60));
        assert!(check_text(&deep, &limits).is_err());
        let quoted = format!("{{ a(x: \"{}\") }} # {}", "[".repeat(60), "{".repeat(60));
        assert!(check_text(&quoted, &limits).is_ok());
        let block = format!("{{ a(x: \"\"\"{}\"\"\") }}", "(".repeat(60));
        assert!(check_text(&block, &limits).is_ok());
        // A carriage return ends a comment too (found by the `properties` test).
        let after_comment = format!("{{ a # \r(x: {}1{}) }}", "[".repeat(60), "]".repeat(60));
        assert!(check_text(&after_comment, &limits).is_err());
        // In a block string `\"""` is escaped but `\"` is not (found by `properties` too).
        let escaped = format!(
            "{{ a(x: \"\"\"\\\"\"\"\" \"\"\" k: {}1{}) }}",
            "[".repeat(60),
            "]".repeat(60)
        );
        assert!(check_text(&escaped, &limits).is_err());
        let inside = format!("{{ a(x: \"\"\"\\\"\"\"{}\"\"\") }}", "[".repeat(60));
        assert!(check_text(&inside, &limits).is_ok());
    }

    #[test]
    fn the_four_level_path_with_pages_of_twenty_is_admitted() {
        let query = "{ countries(first: 20) { nodes { agreements(first: 20) { nodes { facilities(first: 20) { nodes { incidents(first: 20) { nodes { title } } } } } } } } }";
        assert_eq!(check(query), Ok(()));
        let query = query.replace("20", "100");
        assert!(check(&query)
            .expect_err("too many nodes")
            .contains("records"));
    }

    #[test]
    fn fragment_bombs_cycles_and_floods_are_refused() {
        let mut bomb = String::from("query { ...F0 }\n");
        for level in 0..10 {
            let spreads = format!("...F{} ", level + 1).repeat(8);
            bomb.push_str(&format!("fragment F{level} on Query {{ {spreads} }}\n"));
        }
        bomb.push_str("fragment F10 on Query { __typename }\n");
        assert!(check(&bomb).expect_err("a bomb").contains("expands"));

        let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert!(check(cycle).expect_err("a cycle").contains("cycle"));

        let aliases = format!(
            "{{ {} }}",
            (0..200)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(check(&aliases).expect_err("aliases").contains("aliased"));

        let directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(60));
        assert!(check(&directives)
            .expect_err("directives")
            .contains("directives"));

        let operations = (0..20)
            .map(|i| format!("query Q{i} {{ __typename }}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(check(&operations)
            .expect_err("operations")
            .contains("operations"));

        let list = format!(
            "{{ nodes(ids: [{}]) {{ id }} }}",
            vec!["\"x\""; 500].join(",")
        );
        assert!(check(&list)
            .expect_err("a long list")
            .contains("list argument"));
    }
}
