//! Compiled plans against async-graphql: for every request, the answer with plans on
//! (`ExecutorConfig::compiled_plans`) is byte for byte the answer with plans off: data,
//! nulls, errors and the order of keys.
//!
//! The property generates valid query documents over the fields the plans cover (root
//! lookups and lists, `node`, `search`, the records' scalars and main connections), with
//! aliases, merged response keys, `__typename` anywhere, inline fragments and named
//! fragment spreads under every type condition that can apply, connections nested three
//! deep, arguments as literals or variables (with and without defaults, sent or not), and
//! a minority of documents that a plan must not answer: arguments that fail (negative or
//! oversized pages, `first` with `last`, garbage cursors and ids, unknown country codes,
//! invalid dates, empty search text) and fields or features the plans leave to
//! async-graphql (directives, introspection, fields not compiled). Each document runs on
//! two executors over one store, plans on and off, with no response cache.
//!
//! The generator draws every choice from a tape of numbers (the proptest value), zero
//! being the simplest choice each time: proptest shrinks the tape, so a failure shrinks to
//! a short document, which the failure prints with its variables and both answers. A
//! longer campaign runs a tenth of `PROPTEST_CASES` (at least the default 800 documents):
//! `PROPTEST_CASES=50000 cargo test --test it plan` runs 5,000, in under a minute in a
//! debug build.
//!
//! Requests with plans on must be byte for byte those with plans off, whoever answered;
//! the property also checks that it is not vacuous: plans answered at least half of the
//! documents, and async-graphql some.

use std::cell::Cell;
use std::collections::BTreeMap;

use async_graphql::{Request, Variables};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kyrgyz_relations::executor::{Answer, Executed, Executor, ExecutorConfig};
use kyrgyz_relations::store::Store;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

use crate::properties::{config, run};
use crate::support::{edit_seed, record, seed_copy, seed_dir, TestApp};

// ---------------------------------------------------------------------------------------
// Running a request both ways
// ---------------------------------------------------------------------------------------

/// An executor over `store` with plans on or off and no response cache (a cached answer
/// would hide the second run).
fn executor(store: &Store, compiled_plans: bool) -> Executor {
    Executor::new(
        store.clone(),
        ExecutorConfig {
            compiled_plans,
            response_cache_bytes: 0,
            ..ExecutorConfig::default()
        },
    )
}

/// The answer as the bytes HTTP would send: the body, or the error response serialized.
fn answer_text(executed: &Executed) -> String {
    match &executed.answer {
        Answer::Body(body) => String::from_utf8(body.to_vec()).expect("answers are UTF-8"),
        Answer::Errors(response) => serde_json::to_string(response).expect("responses serialize"),
    }
}

/// A request to run twice.
#[derive(Clone, Debug)]
struct Case {
    query: String,
    variables: Value,
    operation_name: Option<String>,
    mode: Mode,
}

impl Case {
    fn plain(query: &str, variables: Value) -> Case {
        Case {
            query: query.to_owned(),
            variables,
            operation_name: None,
            mode: Mode::Valid,
        }
    }

    fn request(&self) -> Request {
        let mut request = Request::new(self.query.clone())
            .variables(Variables::from_json(self.variables.clone()));
        if let Some(name) = &self.operation_name {
            request = request.operation_name(name.clone());
        }
        request
    }
}

/// What both executors answered.
struct Both {
    on: String,
    off: String,
    /// Whether a plan answered on the executor with plans on.
    compiled: bool,
    /// Whether a plan answered on the executor with plans off (it must not).
    off_compiled: bool,
    /// Whether the answer (with plans off) has errors.
    errors: bool,
}

async fn both(on: &Executor, off: &Executor, case: &Case) -> Both {
    let with = on.answer(case.request()).await.expect("answers serialize");
    let without = off.answer(case.request()).await.expect("answers serialize");
    Both {
        on: answer_text(&with),
        off: answer_text(&without),
        compiled: with.compiled,
        off_compiled: without.compiled,
        errors: matches!(without.answer, Answer::Errors(_)),
    }
}

/// The failure message for answers that differ: the request and a diff of the answers.
fn mismatch(case: &Case, both: &Both) -> String {
    let diff = similar::TextDiff::from_lines(&broken(&both.off), &broken(&both.on))
        .unified_diff()
        .context_radius(4)
        .header("plans off (async-graphql)", "plans on")
        .to_string();
    format!(
        "the answers differ (plan answered: {})\n--- query ---\n{}\n--- variables ---\n{}\n\
         --- operation ---\n{:?}\n--- plans off ---\n{}\n--- plans on ---\n{}\n--- diff ---\n{diff}",
        both.compiled,
        case.query,
        case.variables,
        case.operation_name,
        both.off,
        both.on
    )
}

/// JSON text with a line break after every `{`, `[` and `,` and before every `}` and `]`
/// outside strings: the same text, in the same order, in lines a diff can show.
fn broken(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' | ',' => {
                out.push(c);
                out.push('\n');
            }
            '}' | ']' => {
                out.push('\n');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------
// Configuration: `properties`' (`config`, `run`)
// ---------------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

// ---------------------------------------------------------------------------------------
// The schema, as far as the generator knows it
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rec {
    Country,
    Agreement,
    Facility,
    Incident,
    Organization,
    Person,
}

const RECS: [Rec; 6] = [
    Rec::Country,
    Rec::Agreement,
    Rec::Facility,
    Rec::Incident,
    Rec::Organization,
    Rec::Person,
];

impl Rec {
    fn name(self) -> &'static str {
        match self {
            Rec::Country => "Country",
            Rec::Agreement => "Agreement",
            Rec::Facility => "Facility",
            Rec::Incident => "Incident",
            Rec::Organization => "Organization",
            Rec::Person => "Person",
        }
    }

    /// The seed file of its records.
    fn file(self) -> &'static str {
        match self {
            Rec::Country => "countries.json",
            Rec::Agreement => "agreements.json",
            Rec::Facility => "facilities.json",
            Rec::Incident => "incidents.json",
            Rec::Organization => "organizations.json",
            Rec::Person => "people.json",
        }
    }

    /// The root field that looks one up by slug (`country` takes a code instead).
    fn lookup(self) -> &'static str {
        match self {
            Rec::Country => "country",
            Rec::Agreement => "agreement",
            Rec::Facility => "facility",
            Rec::Incident => "incident",
            Rec::Organization => "organization",
            Rec::Person => "person",
        }
    }

    /// The scalar fields the plans cover, with their types.
    fn leaves(self) -> &'static [(&'static str, &'static str)] {
        const COMMON: [(&str, &str); 2] = [("id", "ID!"), ("slug", "String!")];
        match self {
            Rec::Country => &[
                COMMON[0],
                COMMON[1],
                ("code", "String!"),
                ("name", "String!"),
                ("aliases", "[String!]!"),
                ("summary", "String!"),
            ],
            Rec::Agreement => &[
                COMMON[0],
                COMMON[1],
                ("title", "String!"),
                ("aliases", "[String!]!"),
                ("kind", "AgreementKind!"),
                ("status", "AgreementStatus!"),
                ("certainty", "Certainty!"),
                ("summary", "String!"),
                ("signed", "PartialDate"),
                ("inForceFrom", "PartialDate"),
                ("expires", "PartialDate"),
                ("ended", "PartialDate"),
                ("debtWriteOffFraction", "Float"),
            ],
            Rec::Facility => &[
                COMMON[0],
                COMMON[1],
                ("name", "String!"),
                ("aliases", "[String!]!"),
                ("kind", "FacilityKind!"),
                ("certainty", "Certainty!"),
                ("summary", "String!"),
                ("opened", "PartialDate"),
                ("closed", "PartialDate"),
                ("aircraftRoles", "[AircraftRole!]!"),
                ("resources", "[Resource!]!"),
            ],
            Rec::Incident => &[
                COMMON[0],
                COMMON[1],
                ("title", "String!"),
                ("aliases", "[String!]!"),
                ("kind", "IncidentKind!"),
                ("occurred", "PartialDate"),
                ("certainty", "Certainty!"),
                ("summary", "String!"),
            ],
            Rec::Organization => &[
                COMMON[0],
                COMMON[1],
                ("name", "String!"),
                ("aliases", "[String!]!"),
                ("kind", "OrganizationKind!"),
                ("summary", "String!"),
                ("founded", "PartialDate"),
            ],
            Rec::Person => &[
                COMMON[0],
                COMMON[1],
                ("name", "String!"),
                ("aliases", "[String!]!"),
                ("summary", "String!"),
            ],
        }
    }

    /// The connections the plans cover: field, arguments, item.
    fn connections(self) -> &'static [(&'static str, Args, Rec)] {
        match self {
            Rec::Country => &[
                ("agreements", Args::Agreements, Rec::Agreement),
                ("facilities", Args::Facilities, Rec::Facility),
                ("incidents", Args::Incidents, Rec::Incident),
            ],
            Rec::Agreement => &[
                ("facilities", Args::Facilities, Rec::Facility),
                ("incidents", Args::Incidents, Rec::Incident),
            ],
            Rec::Facility => &[
                ("incidents", Args::Incidents, Rec::Incident),
                ("agreements", Args::Agreements, Rec::Agreement),
            ],
            Rec::Incident | Rec::Organization | Rec::Person => &[],
        }
    }

    /// Fields the plans leave to async-graphql, whole: field name and text.
    fn unsupported(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Rec::Country => &[
                ("sources", "sources { document section paragraph }"),
                ("notes", "notes { field basis }"),
                ("statements", "statements { kind text }"),
                ("memberships", "memberships(first: 2) { totalCount }"),
                ("people", "people(first: 2) { nodes { name } }"),
            ],
            Rec::Agreement => &[
                ("parties", "parties(first: 2) { nodes { name } }"),
                ("signedBounds", "signedBounds { earliest latest }"),
                ("termYears", "termYears { low high }"),
                ("extends", "extends { slug }"),
                ("statements", "statements(kinds: [CLAIM]) { kind }"),
                ("debt", "debt { amount currency }"),
            ],
            Rec::Facility => &[
                ("hostCountry", "hostCountry { name }"),
                ("operator", "operator { __typename }"),
                ("location", "location { place }"),
                ("openedBounds", "openedBounds { precision }"),
                ("personnel", "personnel { low }"),
                ("countries", "countries(first: 2) { totalCount }"),
            ],
            Rec::Incident => &[
                ("occurredBounds", "occurredBounds { earliest }"),
                ("killed", "killed { low high }"),
                ("facility", "facility { name }"),
                ("links", "links { kind }"),
                ("countries", "countries(first: 2) { nodes { code } }"),
                ("agreements", "agreements { totalCount }"),
            ],
            Rec::Organization => &[
                ("country", "country { name }"),
                ("foundedBounds", "foundedBounds { earliest }"),
                ("members", "members(first: 2) { totalCount }"),
                ("incidents", "incidents(first: 2) { totalCount }"),
            ],
            Rec::Person => &[
                ("country", "country { code }"),
                ("roles", "roles { title }"),
                ("incidents", "incidents(first: 2) { totalCount }"),
            ],
        }
    }
}

/// The arguments of a connection field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Args {
    /// Paging and `orderBy: NameOrder` (`countries`).
    Names,
    /// Paging, `kinds: [FacilityKind!]`, `orderBy: NameOrder`.
    Facilities,
    /// Paging, `kinds: [IncidentKind!]`, `country`, `occurred`, `orderBy: IncidentOrder`.
    Incidents,
    /// Paging, `kinds: [AgreementKind!]`, `party`, `signed`, `inForceOn`, `inForceMatch`,
    /// `orderBy: AgreementOrder`.
    Agreements,
    /// `text: String!` and paging.
    Search,
}

/// What a list holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Item {
    Rec(Rec),
    Search,
}

impl Item {
    fn name(self) -> &'static str {
        match self {
            Item::Rec(rec) => rec.name(),
            Item::Search => "SearchResult",
        }
    }

    fn ty(self) -> Ty {
        match self {
            Item::Rec(rec) => Ty::Rec(rec),
            Item::Search => Ty::SearchResult,
        }
    }
}

/// The output types a selection set can be on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Query,
    Rec(Rec),
    Node,
    SearchResult,
    /// `Country | Organization`.
    Operator,
    /// `Country | Organization | Person`.
    Speaker,
    Conn(Item),
    Edge(Item),
    PageInfo,
}

impl Ty {
    fn name(self) -> String {
        match self {
            Ty::Query => "Query".to_owned(),
            Ty::Rec(rec) => rec.name().to_owned(),
            Ty::Node => "Node".to_owned(),
            Ty::SearchResult => "SearchResult".to_owned(),
            Ty::Operator => "Operator".to_owned(),
            Ty::Speaker => "Speaker".to_owned(),
            Ty::Conn(item) => format!("{}Connection", item.name()),
            Ty::Edge(item) => format!("{}Edge", item.name()),
            Ty::PageInfo => "PageInfo".to_owned(),
        }
    }

    /// The record types a value of this type can be; `None` for the other types.
    fn records(self) -> Option<Vec<Rec>> {
        match self {
            Ty::Rec(rec) => Some(vec![rec]),
            Ty::Node | Ty::SearchResult => Some(RECS.to_vec()),
            Ty::Operator => Some(vec![Rec::Country, Rec::Organization]),
            Ty::Speaker => Some(vec![Rec::Country, Rec::Organization, Rec::Person]),
            _ => None,
        }
    }

    /// The type conditions a fragment may have within a selection on this type: those
    /// whose possible types meet this type's.
    fn conditions(self) -> Vec<Ty> {
        let Some(records) = self.records() else {
            return vec![self];
        };
        let mut all: Vec<Ty> = RECS.iter().map(|&rec| Ty::Rec(rec)).collect();
        all.extend([Ty::Node, Ty::SearchResult, Ty::Operator, Ty::Speaker]);
        all.into_iter()
            .filter(|condition| {
                condition
                    .records()
                    .is_some_and(|theirs| theirs.iter().any(|rec| records.contains(rec)))
            })
            .collect()
    }

    fn applies(self, condition: Ty) -> bool {
        self.conditions().contains(&condition)
    }
}

/// A field the generator can select.
#[derive(Clone, Debug)]
struct Def {
    name: &'static str,
    /// Its type, as merging compares it.
    ty: String,
    args: ArgKind,
    /// The type of its selection set; `None` for a leaf (or a whole unsupported field).
    target: Option<Ty>,
    /// Whether it is a connection (nesting depth counts them).
    connection: bool,
    /// The whole text of a field the plans do not cover.
    raw: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArgKind {
    None,
    Code,
    Id,
    Slug(Rec),
    Page(Args),
}

impl Def {
    fn leaf(name: &'static str, ty: &str) -> Def {
        Def {
            name,
            ty: ty.to_owned(),
            args: ArgKind::None,
            target: None,
            connection: false,
            raw: None,
        }
    }

    fn object(name: &'static str, ty: String, args: ArgKind, target: Ty) -> Def {
        Def {
            name,
            ty,
            args,
            target: Some(target),
            connection: matches!(target, Ty::Conn(_)),
            raw: None,
        }
    }

    fn raw(name: &'static str, text: String) -> Def {
        Def {
            name,
            ty: "raw".to_owned(),
            args: ArgKind::None,
            target: None,
            connection: false,
            raw: Some(text),
        }
    }

    fn typename() -> Def {
        Def::leaf("__typename", "String!")
    }
}

/// Connections nest at most this deep.
const MAX_CONNECTION_DEPTH: usize = 3;
/// Past this many braces, only leaves: the guard refuses documents nested past 40.
const MAX_LEVEL: usize = 26;
/// Selections in one document, at most (then only `__typename`s close the sets).
const BUDGET: usize = 45;
const MAX_FRAGMENTS: usize = 6;

/// The fields of `ty` the plans cover (`__typename` aside), connections only above
/// `MAX_CONNECTION_DEPTH`.
fn defs(ty: Ty, depth: usize) -> Vec<Def> {
    let nest = depth < MAX_CONNECTION_DEPTH;
    let connection = |name, args, item: Item| {
        Def::object(
            name,
            format!("{}Connection!", item.name()),
            ArgKind::Page(args),
            Ty::Conn(item),
        )
    };
    match ty {
        Ty::Query => {
            let mut defs = vec![
                Def::object(
                    "country",
                    "Country".into(),
                    ArgKind::Code,
                    Ty::Rec(Rec::Country),
                ),
                Def::object("node", "Node".into(), ArgKind::Id, Ty::Node),
            ];
            if nest {
                defs.push(connection(
                    "countries",
                    Args::Names,
                    Item::Rec(Rec::Country),
                ));
                defs.push(connection(
                    "incidents",
                    Args::Incidents,
                    Item::Rec(Rec::Incident),
                ));
                defs.push(connection("search", Args::Search, Item::Search));
            }
            for rec in &RECS[1..] {
                defs.push(Def::object(
                    rec.lookup(),
                    rec.name().into(),
                    ArgKind::Slug(*rec),
                    Ty::Rec(*rec),
                ));
            }
            defs
        }
        Ty::Rec(rec) => {
            let mut defs: Vec<Def> = rec
                .leaves()
                .iter()
                .map(|(name, ty)| Def::leaf(name, ty))
                .collect();
            if nest {
                for (name, args, item) in rec.connections() {
                    defs.push(connection(name, *args, Item::Rec(*item)));
                }
            }
            defs
        }
        Ty::Node => vec![Def::leaf("id", "ID!")],
        Ty::SearchResult | Ty::Operator | Ty::Speaker => Vec::new(),
        Ty::Conn(item) => vec![
            Def::object(
                "nodes",
                format!("[{}!]!", item.name()),
                ArgKind::None,
                item.ty(),
            ),
            Def::object(
                "edges",
                format!("[{}Edge!]!", item.name()),
                ArgKind::None,
                Ty::Edge(item),
            ),
            Def::object("pageInfo", "PageInfo!".into(), ArgKind::None, Ty::PageInfo),
            Def::leaf("totalCount", "Int!"),
        ],
        Ty::Edge(item) => vec![
            Def::leaf("cursor", "String!"),
            Def::object(
                "node",
                format!("{}!", item.name()),
                ArgKind::None,
                item.ty(),
            ),
        ],
        Ty::PageInfo => vec![
            Def::leaf("hasNextPage", "Boolean!"),
            Def::leaf("hasPreviousPage", "Boolean!"),
            Def::leaf("startCursor", "String"),
            Def::leaf("endCursor", "String"),
        ],
    }
}

/// The fields of `ty` the plans do not cover.
fn unsupported(ty: Ty, world: &World, tape: &mut Tape) -> Vec<Def> {
    match ty {
        Ty::Query => {
            let ids = [
                tape.pick(&world.ids).clone(),
                tape.pick(&world.missing_ids).clone(),
            ];
            vec![
                Def::raw(
                    "nodes",
                    format!(
                        "nodes(ids: [\"{}\", \"{}\"]) {{ id __typename }}",
                        ids[0], ids[1]
                    ),
                ),
                Def::raw("facilities", "facilities(first: 2) { totalCount }".into()),
                Def::raw(
                    "agreements",
                    "agreements(first: 2) { nodes { title } }".into(),
                ),
                Def::raw(
                    "organizations",
                    "organizations(first: 2) { nodes { name } }".into(),
                ),
                Def::raw("people", "people { totalCount }".into()),
                Def::raw("sourceDocuments", "sourceDocuments { slug }".into()),
                Def::raw("__schema", "__schema { queryType { name } }".into()),
                Def::raw("__type", "__type(name: \"Country\") { name kind }".into()),
            ]
        }
        Ty::Rec(rec) => rec
            .unsupported()
            .iter()
            .map(|(name, text)| Def::raw(name, (*text).to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// What the generator picks from: the seed's records, and cursors the API returned
// ---------------------------------------------------------------------------------------

fn global_id(type_name: &str, slug: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{type_name}:{slug}"))
}

struct World {
    /// Global ids of records of every type.
    ids: Vec<String>,
    /// Well-formed global ids of records that do not exist.
    missing_ids: Vec<String>,
    /// Slugs by record type.
    slugs: Vec<(Rec, Vec<String>)>,
    /// The seed's country codes.
    codes: Vec<String>,
    /// Cursors from several lists.
    cursors: Vec<String>,
}

impl World {
    fn load(rt: &tokio::runtime::Runtime, executor: &Executor) -> World {
        let mut ids = Vec::new();
        let mut slugs = Vec::new();
        let mut codes = Vec::new();
        for rec in RECS {
            let text = std::fs::read_to_string(seed_dir().join(rec.file())).expect("seed reads");
            let records: Value = serde_json::from_str(&text).expect("seed parses");
            let records = records.as_array().expect("seed files hold arrays");
            let of_rec: Vec<String> = records
                .iter()
                .map(|record| record["id"].as_str().expect("ids").to_owned())
                .collect();
            ids.extend(of_rec.iter().map(|slug| global_id(rec.name(), slug)));
            if rec == Rec::Country {
                codes = records
                    .iter()
                    .map(|record| record["code"].as_str().expect("codes").to_owned())
                    .collect();
            }
            slugs.push((rec, of_rec));
        }
        let missing_ids = vec![
            global_id("Country", "atlantis"),
            global_id("Incident", "no-such-incident"),
            global_id("Person", "nobody"),
            global_id("Facility", "kyrgyzstan"),
        ];
        let query = r#"{
            countries(first: 100) { edges { cursor } }
            incidents(first: 100) { edges { cursor } }
            search(text: "border", first: 100) { edges { cursor } }
            country(code: "KG") {
                agreements(first: 100) { edges { cursor } }
                facilities(first: 100) { edges { cursor } }
            }
        }"#;
        let executed = rt
            .block_on(executor.answer(Request::new(query)))
            .expect("answers");
        let answer: Value = serde_json::from_str(&answer_text(&executed)).expect("JSON");
        let mut cursors = Vec::new();
        collect_cursors(&answer["data"], &mut cursors);
        assert!(cursors.len() > 50, "few cursors: {answer}");
        World {
            ids,
            missing_ids,
            slugs,
            codes,
            cursors,
        }
    }

    fn slugs(&self, rec: Rec) -> &[String] {
        &self
            .slugs
            .iter()
            .find(|(of, _)| *of == rec)
            .expect("every type")
            .1
    }
}

fn collect_cursors(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("cursor", Value::String(cursor)) => into.push(cursor.clone()),
                    _ => collect_cursors(value, into),
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|value| collect_cursors(value, into)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------

/// The choices of one document: each draw reads the next number, 0 past the end, and 0
/// always picks the simplest option.
struct Tape<'a> {
    choices: &'a [u32],
    at: usize,
}

impl Tape<'_> {
    fn draw(&mut self) -> u32 {
        let choice = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        choice
    }

    /// A number below `n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        self.draw() as usize % n.max(1)
    }

    /// True `percent` times in a hundred; false on a 0.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) >= 100 - percent
    }

    fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }

    fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len())]
    }

    /// The index of an option, drawn by weight; a 0 picks the first with a weight.
    fn weighted(&mut self, weights: &[usize]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (index, &weight) in weights.iter().enumerate() {
            if roll < weight {
                return index;
            }
            roll -= weight;
        }
        unreachable!("weights sum to more than the roll")
    }
}

/// What a document is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Every argument valid, every field covered: a plan should answer.
    Valid,
    /// Some arguments fail: async-graphql answers.
    Invalid,
    /// Some field or feature the plans leave to async-graphql.
    Unsupported,
}

/// The fields of one merged selection set by response key: fields sharing a key must be
/// the same field with the same arguments and type (stricter than the specification,
/// which lets fields of disjoint object types differ), their selections merged.
#[derive(Clone, Default, Debug)]
struct Scope(BTreeMap<String, Entry>);

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    args: String,
    ty: String,
    children: Scope,
}

impl Entry {
    fn same_field(&self, other: &Entry) -> bool {
        self.name == other.name && self.args == other.args && self.ty == other.ty
    }
}

impl Scope {
    /// Adds `other`'s fields; false when one conflicts (then `self` is half merged).
    fn merge(&mut self, other: &Scope) -> bool {
        for (key, entry) in &other.0 {
            match self.0.get_mut(key) {
                None => {
                    self.0.insert(key.clone(), entry.clone());
                }
                Some(mine) => {
                    if !mine.same_field(entry) || !mine.children.merge(&entry.children) {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn accepts(&self, other: &Scope) -> bool {
        self.clone().merge(other)
    }
}

/// A variable of the operation.
struct Var {
    name: String,
    ty: String,
    default: Option<String>,
    /// What the request sends; `None`: nothing.
    value: Option<Value>,
}

/// A named fragment.
struct Fragment {
    name: String,
    on: Ty,
    body: String,
    /// Its fields by response key, to tell where it can be spread.
    own: Scope,
    /// False while its body is being generated: it cannot be spread within itself.
    complete: bool,
}

/// An argument value.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Str(String),
    Enum(&'static str),
    List(Vec<Val>),
    Object(Vec<(&'static str, Val)>),
    Var(String),
}

impl Val {
    fn literal(&self) -> String {
        match self {
            Val::Null => "null".to_owned(),
            Val::Int(n) => n.to_string(),
            Val::Str(text) => serde_json::to_string(text).expect("strings serialize"),
            Val::Enum(name) => (*name).to_owned(),
            Val::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(Val::literal)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Val::Object(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(name, value)| format!("{name}: {}", value.literal()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Val::Var(name) => format!("${name}"),
        }
    }

    fn json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Int(n) => json!(n),
            Val::Str(text) => json!(text),
            Val::Enum(name) => json!(name),
            Val::List(items) => Value::Array(items.iter().map(Val::json).collect()),
            Val::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), value.json()))
                    .collect(),
            ),
            Val::Var(_) => unreachable!("a variable's value holds no variable"),
        }
    }

    fn has_var(&self) -> bool {
        match self {
            Val::Var(_) => true,
            Val::List(items) => items.iter().any(Val::has_var),
            Val::Object(fields) => fields.iter().any(|(_, value)| value.has_var()),
            _ => false,
        }
    }
}

const INCIDENT_KINDS: [&str; 20] = [
    "BORDER_CLASH",
    "ARMED_INCURSION",
    "ETHNIC_VIOLENCE",
    "RIOT",
    "UNREST",
    "SUPPLY_CUTOFF",
    "DISPUTE",
    "STATEMENT",
    "PROPOSAL",
    "DEPLOYMENT",
    "WITHDRAWAL",
    "MILITARY_EXERCISE",
    "WORKSHOP",
    "OFFICIAL_VISIT",
    "LEGISLATIVE_ACTION",
    "POLICY_DECISION",
    "REQUEST_DECLINED",
    "CORRUPTION_ALLEGATION",
    "ASYLUM",
    "EXTRADITION",
];
const FACILITY_KINDS: [&str; 12] = [
    "AIR_BASE",
    "TEST_RANGE",
    "COMMUNICATIONS_STATION",
    "SEISMIC_STATION",
    "BORDER",
    "BORDER_SECTOR",
    "ENCLAVE",
    "BORDER_GUARD_POST",
    "OFFICE",
    "ACADEMY",
    "HYDROPOWER_PROJECT",
    "GAS_STORAGE",
];
const AGREEMENT_KINDS: [&str; 8] = [
    "BASING",
    "BORDER_DELIMITATION",
    "BORDER_COMMISSION",
    "SECURITY_COOPERATION",
    "DEBT_SETTLEMENT",
    "ENERGY_SUPPLY",
    "ECONOMIC_ASSISTANCE",
    "ACCESSION",
];
const DATES: [&str; 14] = [
    "2010",
    "2013",
    "2012",
    "2012-06",
    "195X",
    "199X",
    "2012-37",
    "2013-04/2013-05",
    "2000/..",
    "../2005",
    "2002-12-05",
    "2010-24",
    "1991",
    "2005-33",
];
const BAD_DATES: [&str; 5] = ["2012-13", "soon", "", "20x2", "2012-02-30"];
const TEXTS: [&str; 12] = [
    "manas",
    "Kant",
    "border",
    "russia",
    "Jalal-Abad",
    "gas",
    "Kyrgyz Republic",
    "xyzzy",
    "osh",
    "AIR base",
    "Кыргызстан",
    "«Манас» base",
];
const BAD_TEXTS: [&str; 4] = ["", "a", "!!", "  "];
const BAD_CURSORS: [&str; 4] = ["not a cursor!", "", "@@@", "%%"];
/// Response keys that are other fields' names, for aliases that shadow them.
const SHADOW_KEYS: [&str; 9] = [
    "name",
    "id",
    "title",
    "kind",
    "nodes",
    "node",
    "totalCount",
    "code",
    "cursor",
];

struct Gen<'a> {
    tape: Tape<'a>,
    world: &'a World,
    mode: Mode,
    vars: Vec<Var>,
    fragments: Vec<Fragment>,
    aliases: usize,
    budget: usize,
}

/// Where a selection set sits.
#[derive(Clone, Copy)]
struct At {
    /// Connections above it.
    depth: usize,
    /// Braces around it.
    level: usize,
}

impl At {
    fn inside(self, def: &Def) -> At {
        At {
            depth: self.depth + usize::from(def.connection),
            level: self.level + 1,
        }
    }
}

impl<'a> Gen<'a> {
    fn generate(world: &'a World, choices: &'a [u32]) -> Case {
        let mut tape = Tape { choices, at: 0 };
        let mode = match tape.below(100) {
            0..=69 => Mode::Valid,
            70..=84 => Mode::Invalid,
            _ => Mode::Unsupported,
        };
        let mut gen = Gen {
            tape,
            world,
            mode,
            vars: Vec::new(),
            fragments: Vec::new(),
            aliases: 0,
            budget: BUDGET,
        };
        gen.document()
    }

    fn document(&mut self) -> Case {
        let (mut ctx, mut own) = (Scope::default(), Scope::default());
        let at = At { depth: 0, level: 1 };
        let mut parts = Vec::new();
        if self.mode == Mode::Unsupported {
            // At least one thing a plan does not cover: a field, or a directive.
            if self.tape.chance(70) {
                let defs = unsupported(Ty::Query, self.world, &mut self.tape);
                let def = self.tape.pick(&defs).clone();
                parts.push(self.field(&def, &mut ctx, &mut own, at, None));
            } else {
                let defs = defs(Ty::Query, 0);
                let def = self.tape.pick(&defs).clone();
                let field = self.field(&def, &mut ctx, &mut own, at, None);
                let (head, body) = split_selection(&field);
                if head.contains('@') {
                    // `field` put a directive there already: one is enough (and
                    // `@include` and `@skip` may not repeat).
                    parts.push(field);
                } else {
                    let directive = self.directive();
                    parts.push(format!("{head}{directive}{body}"));
                }
            }
        }
        let count = 1 + self.tape.below(3);
        for _ in 0..count {
            parts.push(self.selection(Ty::Query, &mut ctx, &mut own, at));
        }
        let body = format!("{{ {} }}", parts.join(" "));

        let declarations: Vec<String> = self
            .vars
            .iter()
            .map(|var| match &var.default {
                Some(default) => format!("${}: {} = {default}", var.name, var.ty),
                None => format!("${}: {}", var.name, var.ty),
            })
            .collect();
        let mut variables = Map::new();
        for var in &self.vars {
            if let Some(value) = &var.value {
                variables.insert(var.name.clone(), value.clone());
            }
        }
        let extra_operation = self.tape.chance(6);
        let operation_name = extra_operation || self.tape.chance(5);
        let operation = if declarations.is_empty() && !operation_name && self.tape.below(2) == 0 {
            body
        } else {
            let name = if operation_name || self.tape.below(2) == 0 {
                "Main"
            } else {
                ""
            };
            if declarations.is_empty() {
                format!("query {name} {body}")
            } else {
                format!("query {name}({}) {body}", declarations.join(", "))
            }
        };
        let mut definitions = vec![operation];
        for fragment in &self.fragments {
            definitions.push(format!(
                "fragment {} on {} {}",
                fragment.name,
                fragment.on.name(),
                fragment.body
            ));
        }
        if extra_operation {
            let other = "query Other { __typename countries(first: 1) { totalCount } }";
            let at = self.tape.below(definitions.len() + 1);
            definitions.insert(at, other.to_owned());
        }
        if self.tape.chance(20) {
            definitions.reverse();
        }
        Case {
            query: definitions.join("\n"),
            variables: Value::Object(variables),
            operation_name: operation_name.then(|| "Main".to_owned()),
            mode: self.mode,
        }
    }

    fn fresh_alias(&mut self) -> String {
        self.aliases += 1;
        format!("a{}", self.aliases)
    }

    /// Whether this argument should fail.
    fn bad(&mut self) -> bool {
        self.mode == Mode::Invalid && self.tape.chance(22)
    }

    /// A directive a plan leaves to async-graphql, keeping or dropping what it is on.
    fn directive(&mut self) -> String {
        match self.tape.below(5) {
            0 => " @include(if: true)".to_owned(),
            1 => " @skip(if: false)".to_owned(),
            2 => " @skip(if: true)".to_owned(),
            3 => " @include(if: false)".to_owned(),
            _ => {
                let value = self.tape.below(2) == 0;
                let name = self.declare("Boolean!", None, Some(json!(value)));
                format!(" @include(if: ${name})")
            }
        }
    }

    fn declare(&mut self, ty: &str, default: Option<String>, value: Option<Value>) -> String {
        let name = format!("v{}", self.vars.len());
        self.vars.push(Var {
            name: name.clone(),
            ty: ty.to_owned(),
            default,
            value,
        });
        name
    }

    /// One selection of a set on `ty`.
    fn selection(&mut self, ty: Ty, ctx: &mut Scope, own: &mut Scope, at: At) -> String {
        if self.budget == 0 || at.level > MAX_LEVEL {
            return self.field(&Def::typename(), ctx, own, at, None);
        }
        self.budget -= 1;
        let defs = defs(ty, at.depth);
        let unsupported = if self.mode == Mode::Unsupported {
            unsupported(ty, self.world, &mut self.tape)
        } else {
            Vec::new()
        };
        let spreadable = ty.records().is_some() || matches!(ty, Ty::Conn(_) | Ty::Query);
        let choice = self.tape.weighted(&[
            if defs.is_empty() { 0 } else { 60 }, // a field
            8,                                    // `__typename`
            8,                                    // an inline fragment
            if spreadable { 7 } else { 0 },       // a named fragment
            8,                                    // a key already selected, again
            if unsupported.is_empty() { 0 } else { 5 },
        ]);
        match choice {
            0 => {
                let def = self.tape.pick(&defs).clone();
                self.field(&def, ctx, own, at, None)
            }
            1 => self.field(&Def::typename(), ctx, own, at, None),
            2 => self.inline_fragment(ty, ctx, own, at),
            3 => self.spread(ty, ctx, own, at),
            4 => {
                let mut known = defs.clone();
                known.extend(unsupported.iter().cloned());
                known.push(Def::typename());
                let again: Vec<(String, Def)> = ctx
                    .0
                    .iter()
                    .filter_map(|(key, entry)| {
                        known
                            .iter()
                            .find(|def| def.name == entry.name && def.ty == entry.ty)
                            .map(|def| (key.clone(), def.clone()))
                    })
                    .collect();
                if again.is_empty() {
                    return self.field(&Def::typename(), ctx, own, at, None);
                }
                let (key, def) = self.tape.pick(&again).clone();
                self.field(&def, ctx, own, at, Some(key))
            }
            _ => {
                let def = self.tape.pick(&unsupported).clone();
                self.field(&def, ctx, own, at, None)
            }
        }
    }

    fn selection_set(&mut self, ty: Ty, ctx: &mut Scope, own: &mut Scope, at: At) -> String {
        let count = 1 + self.tape.below(4);
        let parts: Vec<String> = (0..count)
            .map(|_| self.selection(ty, ctx, own, at))
            .collect();
        format!("{{ {} }}", parts.join(" "))
    }

    /// A field `def` of `ty` under a response key: `key` (already in `ctx`), or one drawn
    /// here. Records it in `ctx` and `own`.
    fn field(
        &mut self,
        def: &Def,
        ctx: &mut Scope,
        own: &mut Scope,
        at: At,
        key: Option<String>,
    ) -> String {
        let (key, args) = match key {
            Some(key) => {
                let args = ctx.0[&key].args.clone();
                (key, args)
            }
            None => {
                let roll = self.tape.below(100);
                let mut key = if roll >= 86 {
                    self.fresh_alias()
                } else if roll >= 82 {
                    (*self.tape.pick(&SHADOW_KEYS)).to_owned()
                } else {
                    def.name.to_owned()
                };
                match ctx.0.get(&key) {
                    Some(entry) if entry.name == def.name && entry.ty == def.ty => {
                        let args = entry.args.clone();
                        (key, args)
                    }
                    Some(_) => {
                        key = self.fresh_alias();
                        (key, self.arguments(def, at))
                    }
                    None => (key, self.arguments(def, at)),
                }
            }
        };
        let prefix = if key == def.name {
            String::new()
        } else {
            format!("{key}: ")
        };
        let entry = || Entry {
            name: def.name.to_owned(),
            args: args.clone(),
            ty: def.ty.clone(),
            children: Scope::default(),
        };
        ctx.0.entry(key.clone()).or_insert_with(entry);
        own.0.entry(key.clone()).or_insert_with(entry);
        if def.raw.is_some() {
            return format!("{prefix}{args}");
        }
        let Some(target) = def.target else {
            return format!("{prefix}{}{args}", def.name);
        };
        let mut ctx_child = ctx.0[&key].children.clone();
        let mut own_child = Scope::default();
        let body = self.selection_set(target, &mut ctx_child, &mut own_child, at.inside(def));
        ctx.0.get_mut(&key).expect("recorded").children = ctx_child;
        let merged = own
            .0
            .get_mut(&key)
            .expect("recorded")
            .children
            .merge(&own_child);
        assert!(
            merged,
            "a field's selections merge with its own earlier ones"
        );
        format!("{prefix}{}{args} {body}", def.name)
    }

    fn inline_fragment(&mut self, ty: Ty, ctx: &mut Scope, own: &mut Scope, at: At) -> String {
        let conditions = ty.conditions();
        let condition = if self.tape.chance(15) {
            None
        } else {
            Some(*self.tape.pick(&conditions))
        };
        let directive = if self.mode == Mode::Unsupported && self.tape.chance(15) {
            self.directive()
        } else {
            String::new()
        };
        let inner = At {
            level: at.level + 1,
            ..at
        };
        let body = self.selection_set(condition.unwrap_or(ty), ctx, own, inner);
        match condition {
            Some(condition) => format!("... on {}{directive} {body}", condition.name()),
            None => format!("...{directive} {body}"),
        }
    }

    fn spread(&mut self, ty: Ty, ctx: &mut Scope, own: &mut Scope, at: At) -> String {
        let reusable: Vec<usize> = (0..self.fragments.len())
            .filter(|&index| {
                let fragment = &self.fragments[index];
                fragment.complete && ty.applies(fragment.on) && ctx.accepts(&fragment.own)
            })
            .collect();
        let directive = if self.mode == Mode::Unsupported && self.tape.chance(15) {
            self.directive()
        } else {
            String::new()
        };
        let reuse = !reusable.is_empty()
            && (self.fragments.len() >= MAX_FRAGMENTS || self.tape.below(2) == 0);
        if reuse {
            let index = *self.tape.pick(&reusable);
            let fragment = &self.fragments[index];
            assert!(ctx.merge(&fragment.own) && own.merge(&fragment.own));
            return format!("...{}{directive}", fragment.name);
        }
        if self.fragments.len() >= MAX_FRAGMENTS {
            return self.field(&Def::typename(), ctx, own, at, None);
        }
        let conditions = ty.conditions();
        let on = *self.tape.pick(&conditions);
        let index = self.fragments.len();
        let name = format!("F{index}");
        self.fragments.push(Fragment {
            name: name.clone(),
            on,
            body: String::new(),
            own: Scope::default(),
            complete: false,
        });
        let mut fragment_own = Scope::default();
        let inner = At {
            level: at.level + 1,
            ..at
        };
        let body = self.selection_set(on, ctx, &mut fragment_own, inner);
        assert!(
            own.merge(&fragment_own),
            "a fragment merges where it was made"
        );
        let fragment = &mut self.fragments[index];
        fragment.body = body;
        fragment.own = fragment_own;
        fragment.complete = true;
        format!("...{name}{directive}")
    }

    // -- Arguments ------------------------------------------------------------------------

    /// The argument list of a field (with a directive, sometimes, when plans must not
    /// answer).
    fn arguments(&mut self, def: &Def, at: At) -> String {
        if let Some(raw) = &def.raw {
            return raw.clone();
        }
        let mut args: Vec<(&'static str, Val)> = match def.args {
            ArgKind::None => Vec::new(),
            ArgKind::Code => {
                let code = self.code_lookup();
                vec![("code", self.maybe_var(code, "String!"))]
            }
            ArgKind::Id => {
                let id = self.id();
                vec![("id", self.maybe_var(id, "ID!"))]
            }
            ArgKind::Slug(rec) => {
                let slug = self.slug(rec);
                vec![("slug", self.maybe_var(slug, "String!"))]
            }
            ArgKind::Page(kind) => self.page(kind, at),
        };
        if !args.is_empty() {
            let turn = self.tape.below(args.len());
            args.rotate_left(turn);
        }
        let mut text = if args.is_empty() {
            String::new()
        } else {
            format!(
                "({})",
                args.iter()
                    .map(|(name, value)| format!("{name}: {}", value.literal()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if self.mode == Mode::Unsupported && self.tape.chance(8) {
            text.push_str(&self.directive());
        }
        text
    }

    /// `value` as it is, or through a variable of type `ty` (sent, defaulted or left out).
    fn maybe_var(&mut self, value: Val, ty: &str) -> Val {
        if value.has_var() || !self.tape.chance(20) {
            return value;
        }
        let nullable = !ty.ends_with('!');
        let name = match self.tape.below(10) {
            6 | 7 if nullable && value != Val::Null => {
                self.declare(ty, Some(value.literal()), None)
            }
            8 if nullable && value == Val::Null => self.declare(ty, None, None),
            5 if nullable && value != Val::Null => {
                self.declare(&format!("{ty}!"), None, Some(value.json()))
            }
            9 if nullable && value != Val::Null => {
                // A default the request overrides.
                self.declare(ty, Some("null".to_owned()), Some(value.json()))
            }
            _ => self.declare(ty, None, Some(value.json())),
        };
        Val::Var(name)
    }

    fn code_lookup(&mut self) -> Val {
        let code = self.tape.pick(&self.world.codes).clone();
        Val::Str(match self.tape.below(8) {
            0..=3 => code,
            4 => code.to_lowercase(),
            5 => format!(" {code} "),
            6 => "ZZ".to_owned(),
            _ => String::new(),
        })
    }

    /// A code for a filter (`country`, `party`): an unknown one fails.
    fn code_filter(&mut self) -> Val {
        if self.bad() {
            return Val::Str((*self.tape.pick(&["ZZ", "", "KGZ", "Kyrgyzstan"])).to_owned());
        }
        let code = self.tape.pick(&self.world.codes).clone();
        Val::Str(if self.tape.chance(25) {
            code.to_lowercase()
        } else {
            code
        })
    }

    fn id(&mut self) -> Val {
        if self.bad() {
            let bad = [
                "nope".to_owned(),
                String::new(),
                "!!!".to_owned(),
                global_id("Bogus", "x"),
                global_id("Country", ""),
                URL_SAFE_NO_PAD.encode("kyrgyzstan"),
                global_id("SourceDocument", "kyrgyzstan-foreign-relations"),
            ];
            return Val::Str(self.tape.pick(&bad).clone());
        }
        Val::Str(if self.tape.chance(15) {
            self.tape.pick(&self.world.missing_ids).clone()
        } else {
            self.tape.pick(&self.world.ids).clone()
        })
    }

    fn slug(&mut self, rec: Rec) -> Val {
        Val::Str(match self.tape.below(10) {
            0..=6 => self.tape.pick(self.world.slugs(rec)).clone(),
            7 => {
                let other = *self.tape.pick(&RECS);
                self.tape.pick(self.world.slugs(other)).clone()
            }
            8 => "no-such-record".to_owned(),
            _ => String::new(),
        })
    }

    fn cursor(&mut self) -> Val {
        if self.bad() {
            return Val::Str((*self.tape.pick(&BAD_CURSORS)).to_owned());
        }
        Val::Str(self.tape.pick(&self.world.cursors).clone())
    }

    fn date(&mut self) -> Val {
        if self.bad() {
            return Val::Str((*self.tape.pick(&BAD_DATES)).to_owned());
        }
        Val::Str((*self.tape.pick(&DATES)).to_owned())
    }

    /// A page size: small, nested deeper; a failing one sometimes.
    fn size(&mut self, at: At) -> Val {
        if self.bad() {
            return Val::Int(*self.tape.pick(&[-1, 101, -100, 1000]));
        }
        if at.depth == 0 {
            Val::Int(*self.tape.pick(&[2, 0, 1, 3, 5, 10, 100]))
        } else {
            Val::Int(*self.tape.pick(&[2, 0, 1, 3]))
        }
    }

    fn date_filter(&mut self) -> Val {
        let mut fields = Vec::new();
        for bound in ["from", "to"] {
            if self.tape.chance(60) {
                let date = self.date();
                let date = if self.tape.chance(15) {
                    let ty = if self.tape.below(2) == 0 {
                        "PartialDate"
                    } else {
                        "PartialDate!"
                    };
                    let name = self.declare(ty, None, Some(date.json()));
                    Val::Var(name)
                } else {
                    date
                };
                fields.push((bound, date));
            }
        }
        if self.tape.chance(30) {
            let matching = *self.tape.pick(&["POSSIBLY_OVERLAPS", "CERTAINLY_WITHIN"]);
            fields.push(("match", Val::Enum(matching)));
        }
        if self.tape.chance(10) {
            fields.reverse();
        }
        Val::Object(fields)
    }

    fn kinds(&mut self, all: &'static [&'static str], ty: &str) -> Val {
        match self.tape.below(10) {
            0..=6 => {
                let count = self.tape.below(4);
                let mut kinds: Vec<Val> =
                    (0..count).map(|_| Val::Enum(self.tape.word(all))).collect();
                if !kinds.is_empty() && self.tape.chance(10) {
                    // One item through a variable of the item type.
                    let item = ty.trim_start_matches('[').trim_end_matches(']');
                    let json = kinds[0].json();
                    kinds[0] = Val::Var(self.declare(item, None, Some(json)));
                }
                Val::List(kinds)
            }
            // A single value where a list is expected: coerced to a list of one.
            7 | 8 => Val::Enum(self.tape.word(all)),
            _ => Val::Null,
        }
    }

    fn page(&mut self, kind: Args, at: At) -> Vec<(&'static str, Val)> {
        let mut args = Vec::new();
        if kind == Args::Search {
            let text = if self.bad() {
                (*self.tape.pick(&BAD_TEXTS)).to_owned()
            } else {
                (*self.tape.pick(&TEXTS)).to_owned()
            };
            args.push(("text", self.maybe_var(Val::Str(text), "String!")));
        }
        // Nested lists take `first` more often: the default page is 20.
        let none = if at.depth == 0 { 30 } else { 10 };
        match self.tape.weighted(&[none, 45, 20, 5]) {
            0 => {}
            1 => {
                let size = self.size(at);
                args.push(("first", self.maybe_var(size, "Int")));
            }
            2 => {
                let size = self.size(at);
                args.push(("last", self.maybe_var(size, "Int")));
            }
            _ => {
                args.push(("first", self.maybe_var(Val::Null, "Int")));
                if self.tape.below(2) == 0 {
                    args.push(("last", Val::Null));
                }
            }
        }
        if self.bad() {
            // `first` with `last`.
            for (name, size) in [("first", 1), ("last", 2)] {
                if !args.iter().any(|(arg, _)| *arg == name) {
                    args.push((name, Val::Int(size)));
                }
            }
        }
        for (name, percent) in [("after", 15), ("before", 10)] {
            if self.tape.chance(percent) {
                let cursor = self.cursor();
                args.push((name, self.maybe_var(cursor, "String")));
            } else if self.tape.chance(3) {
                args.push((name, Val::Null));
            }
        }
        let (kinds, kinds_ty, code, date, order, order_field): (
            &'static [&'static str],
            &str,
            Option<&'static str>,
            Option<&'static str>,
            &str,
            &'static str,
        ) = match kind {
            Args::Names => (&[], "", None, None, "NameOrder", "NAME"),
            Args::Search => return args,
            Args::Facilities => (
                &FACILITY_KINDS,
                "[FacilityKind!]",
                None,
                None,
                "NameOrder",
                "NAME",
            ),
            Args::Incidents => (
                &INCIDENT_KINDS,
                "[IncidentKind!]",
                Some("country"),
                Some("occurred"),
                "IncidentOrder",
                "OCCURRED",
            ),
            Args::Agreements => (
                &AGREEMENT_KINDS,
                "[AgreementKind!]",
                Some("party"),
                Some("signed"),
                "AgreementOrder",
                "SIGNED",
            ),
        };
        if !kinds.is_empty() && self.tape.chance(20) {
            let value = self.kinds(kinds, kinds_ty);
            args.push(("kinds", self.maybe_var(value, kinds_ty)));
        }
        if let Some(name) = code {
            if self.tape.chance(12) {
                let value = self.code_filter();
                args.push((name, self.maybe_var(value, "String")));
            }
        }
        if let Some(name) = date {
            if self.tape.chance(15) {
                let value = self.date_filter();
                args.push((name, self.maybe_var(value, "DateFilter")));
            }
        }
        if kind == Args::Agreements {
            if self.tape.chance(10) {
                let value = self.date();
                args.push(("inForceOn", self.maybe_var(value, "PartialDate")));
            }
            if self.tape.chance(8) {
                let value = Val::Enum(self.tape.word(&["POSSIBLY_OVERLAPS", "CERTAINLY_WITHIN"]));
                args.push(("inForceMatch", self.maybe_var(value, "DateMatch!")));
            }
        }
        if self.tape.chance(15) {
            let value = match self.tape.below(8) {
                0 => Val::Null,
                1 => Val::Object(Vec::new()),
                2 => Val::Object(vec![("field", Val::Enum(order_field))]),
                3 | 4 => Val::Object(vec![(
                    "direction",
                    Val::Enum(self.tape.word(&["DESC", "ASC"])),
                )]),
                _ => Val::Object(vec![
                    ("field", Val::Enum(order_field)),
                    ("direction", Val::Enum(self.tape.word(&["DESC", "ASC"]))),
                ]),
            };
            args.push(("orderBy", self.maybe_var(value, order)));
        }
        args
    }
}

/// A field's text split before its selection set (`"name(args)"`, `" { … }"`).
fn split_selection(field: &str) -> (&str, &str) {
    // A selection set opens at the first `{` outside the arguments' parentheses (an
    // input object's braces are inside them).
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, c) in field.char_indices() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            '{' if depth == 0 => return (field[..index].trim_end(), &field[index - 1..]),
            _ => {}
        }
    }
    (field, "")
}

// ---------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------

/// Documents per run by default: about six seconds in a debug build.
const CASES: u32 = 800;

#[test]
fn compiled_and_async_graphql_answers_are_identical() {
    compare_generated(&TestApp::new(), config(CASES, 10));
}

/// The same over a seed whose strings and numbers are hard to write: quotes, backslashes,
/// control characters, line separators, non-ASCII and astral characters, floats that
/// print in exponent form (`awkward_seed`).
#[test]
fn compiled_and_async_graphql_answers_are_identical_on_awkward_strings() {
    let seed = awkward_seed();
    compare_generated(&TestApp::seeded(Some(seed.path())), config(CASES / 4, 3));
}

/// Generates documents and runs each with plans on and off over `app`'s store; fails on
/// the first difference, or when too few were answered by a plan to mean much.
fn compare_generated(app: &TestApp, config: proptest::test_runner::Config) {
    let rt = runtime();
    let (on, off) = (executor(&app.store, true), executor(&app.store, false));
    let world = World::load(&rt, &off);
    let tally = Tally::default();
    run(
        config,
        vec(any::<u32>(), 0..500).prop_map(Choices),
        |choices| {
            let case = Gen::generate(&world, &choices.0);
            let both = rt.block_on(both(&on, &off, &case));
            if both.off_compiled {
                return Err(TestCaseError::fail(format!(
                    "a plan answered with plans off:\n{}",
                    case.query
                )));
            }
            if both.on != both.off {
                return Err(TestCaseError::fail(mismatch(&case, &both)));
            }
            tally.count(&case, &both);
            Ok(())
        },
    );
    tally.check();
}

/// A document's choices, shown without the zeros at their end (the same choices).
#[derive(Clone)]
struct Choices(Vec<u32>);

impl std::fmt::Debug for Choices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = self
            .0
            .iter()
            .rposition(|&choice| choice != 0)
            .map_or(0, |at| at + 1);
        write!(f, "choices {:?}", &self.0[..end])
    }
}

/// What the cases came to, by mode.
#[derive(Default)]
struct Tally {
    cases: Cell<u32>,
    compiled: Cell<u32>,
    fell_back: Cell<u32>,
    /// Valid documents a plan did not answer.
    valid_fell_back: Cell<u32>,
    with_errors: Cell<u32>,
    unsupported_compiled: Cell<u32>,
}

impl Tally {
    fn count(&self, case: &Case, both: &Both) {
        let add = |cell: &Cell<u32>| cell.set(cell.get() + 1);
        add(&self.cases);
        if both.compiled {
            add(&self.compiled);
        } else {
            add(&self.fell_back);
        }
        if both.errors {
            add(&self.with_errors);
        }
        match case.mode {
            Mode::Valid if !both.compiled => add(&self.valid_fell_back),
            Mode::Unsupported if both.compiled => add(&self.unsupported_compiled),
            _ => {}
        }
    }

    fn check(&self) {
        let (cases, compiled, fell_back) =
            (self.cases.get(), self.compiled.get(), self.fell_back.get());
        let summary = format!(
            "{cases} cases: {compiled} answered by a plan, {fell_back} by async-graphql \
             ({} of them valid documents), {} with errors, {} unsupported ones by a plan",
            self.valid_fell_back.get(),
            self.with_errors.get(),
            self.unsupported_compiled.get()
        );
        eprintln!("{summary}");
        assert!(
            compiled * 2 >= cases,
            "plans answered fewer than half of the cases, so the comparison says little: {summary}"
        );
        assert!(
            fell_back >= 1,
            "no case fell back to async-graphql: {summary}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A seed that is hard to write
// ---------------------------------------------------------------------------------------

/// Strings a JSON writer can get wrong: what must be escaped, what may be, and what must
/// not be (non-ASCII text stays as it is in serde_json's output).
const AWKWARD: [&str; 5] = [
    "Quote \" backslash \\ slash / </script> &amp; 'single'",
    "tab\tnewline\ncarriage\rform\u{c}backspace\u{8} \u{1} \u{1f} del\u{7f}",
    "Кыргызстан — «Манас» 中文 é ñ 🇰🇬 😀",
    "separators \u{2028} \u{2029} nbsp\u{a0} bom\u{feff} zero\u{200b}width",
    "\\u0041 is not A; \\\\ \\n \"\\\"",
];

/// The embedded seed with one record of every type renamed, aliased and summarized in
/// `AWKWARD` strings, and write-off fractions that print in every float form.
fn awkward_seed() -> tempfile::TempDir {
    let dir = seed_copy();
    let records = [
        ("countries.json", "kyrgyzstan", "name"),
        ("agreements.json", "manas-lease", "title"),
        ("facilities.json", "kant-air-base", "name"),
        ("incidents.json", "su-27-deployment-kant-2002", "title"),
        ("organizations.json", "csto", "name"),
        ("people.json", "almazbek-atambayev", "name"),
    ];
    for (index, (file, id, name)) in records.into_iter().enumerate() {
        edit_seed(dir.path(), file, |records| {
            let record = record(records, id);
            record[name] = json!(format!("{} {}", AWKWARD[index % AWKWARD.len()], AWKWARD[2]));
            record["summary"] = json!(AWKWARD.join(" | "));
            record["aliases"] = json!(AWKWARD);
        });
    }
    let fractions = [
        ("industry-stake-for-debt-relief", 1.0),
        ("kant-air-base-agreement", 1e-7),
        ("russian-military-facilities-lease", 0.1 + 0.2),
        ("kambarata-1-assistance-2012", 2.5e-5),
        ("manas-lease", 0.999_999_999_999_999_9),
        ("customs-union-accession", 0.5),
        ("kazakhstan-gas-supply", f64::MIN_POSITIVE),
        ("osh-border-guards-agreement-2010", 1.0 / 3.0),
    ];
    edit_seed(dir.path(), "agreements.json", |records| {
        for (id, fraction) in fractions {
            record(records, id)["debtWriteOffFraction"] = json!(fraction);
        }
    });
    dir
}

#[tokio::test]
async fn plans_write_awkward_strings_and_numbers_as_async_graphql_does() {
    let seed = awkward_seed();
    let app = TestApp::seeded(Some(seed.path()));
    let (on, off) = (executor(&app.store, true), executor(&app.store, false));
    let everything = "{ countries(first: 100) { nodes { __typename id slug code name aliases summary \
        agreements(first: 100) { nodes { id slug title aliases kind status certainty summary signed \
        inForceFrom expires ended debtWriteOffFraction } } facilities(first: 100) { nodes { id slug \
        name aliases kind certainty summary opened closed aircraftRoles resources } } \
        incidents(first: 100) { nodes { id slug title aliases kind occurred certainty summary } } } } }";
    let mut cases = vec![Case::plain(everything, json!({}))];
    for text in [
        "Кыргызстан",
        "«Манас»",
        "quote backslash",
        "script amp",
        "zero width",
    ] {
        cases.push(Case::plain(
            "query ($text: String!) { search(text: $text, first: 100) { totalCount edges { cursor \
             node { __typename ... on Node { id } ... on Country { name aliases summary } \
             ... on Agreement { title aliases summary debtWriteOffFraction } \
             ... on Facility { name aliases summary } ... on Incident { title aliases summary } \
             ... on Organization { name aliases summary founded kind } \
             ... on Person { name aliases summary } } } } }",
            json!({ "text": text }),
        ));
    }
    for (type_name, slug) in [("Organization", "csto"), ("Person", "almazbek-atambayev")] {
        cases.push(Case::plain(
            "query ($id: ID!) { node(id: $id) { id ... on Organization { name aliases summary } \
             ... on Person { name aliases summary } } }",
            json!({ "id": global_id(type_name, slug) }),
        ));
    }
    for case in &cases {
        let both = same_both_ways(&on, &off, case).await;
        assert!(
            both.compiled,
            "no plan answered {}: {}",
            case.query, both.on
        );
    }
    // The strings are there, not dropped by a seed check.
    let answer = same_both_ways(&on, &off, &cases[0]).await.on;
    assert!(
        answer.contains("🇰🇬") && answer.contains("\\u0001"),
        "{answer}"
    );
}

// ---------------------------------------------------------------------------------------
// Hand-written requests
// ---------------------------------------------------------------------------------------

fn bench_query(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench/queries")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Runs `case` both ways, fails on any difference, and returns what came back.
async fn same_both_ways(on: &Executor, off: &Executor, case: &Case) -> Both {
    let both = both(on, off, case).await;
    assert!(
        !both.off_compiled,
        "a plan answered with plans off: {}",
        case.query
    );
    assert!(both.on == both.off, "{}", mismatch(case, &both));
    both
}

#[tokio::test]
async fn plans_answer_the_benchmark_queries_as_async_graphql_does() {
    let app = TestApp::new();
    let (on, off) = (executor(&app.store, true), executor(&app.store, false));
    let mut cases = vec![
        ("a-seed-tree.graphql", json!({})),
        ("c-page.graphql", json!({"code": "KG"})),
        (
            "d-date-range.graphql",
            json!({"from": "2010", "to": "2013"}),
        ),
        ("e-search.graphql", json!({"text": "manas"})),
    ];
    for (type_name, slug) in [
        ("Country", "kyrgyzstan"),
        ("Agreement", "manas-lease"),
        ("Facility", "manas-international-airport"),
        ("Incident", "su-27-deployment-kant-2002"),
        ("Organization", "csto"),
        ("Person", "almazbek-atambayev"),
    ] {
        cases.push(("b-node.graphql", json!({"id": global_id(type_name, slug)})));
    }
    for (file, variables) in cases {
        let case = Case::plain(&bench_query(file), variables.clone());
        let both = same_both_ways(&on, &off, &case).await;
        assert!(
            both.compiled,
            "no plan answered {file} with {variables}: {}",
            both.on
        );
        assert!(
            both.on.starts_with("{\"data\":{") && !both.on.contains("\"errors\""),
            "{file}: {}",
            both.on
        );
        assert!(both.on.len() > 40, "{file} answered little: {}", both.on);
    }
}

#[tokio::test]
async fn a_plan_answers_an_unknown_country_with_null() {
    let app = TestApp::new();
    let (on, off) = (executor(&app.store, true), executor(&app.store, false));
    let case = Case::plain(r#"{ country(code: "ZZ") { name } }"#, json!({}));
    let both = same_both_ways(&on, &off, &case).await;
    assert!(both.compiled, "no plan answered: {}", both.on);
    assert_eq!(both.on, r#"{"data":{"country":null}}"#);
}

#[tokio::test]
async fn a_failing_argument_is_answered_by_async_graphql() {
    let app = TestApp::new();
    let (on, off) = (executor(&app.store, true), executor(&app.store, false));
    let case = Case::plain("{ countries(first: -1) { totalCount } }", json!({}));
    let both = same_both_ways(&on, &off, &case).await;
    assert!(!both.compiled, "a plan answered an error: {}", both.on);
    assert!(both.on.contains("\"errors\""), "{}", both.on);
    assert!(both.on.contains("must not be negative"), "{}", both.on);
}

#[tokio::test]
async fn introspection_is_answered_by_async_graphql() {
    let app = TestApp::new();
    let (on, off) = (executor(&app.store, true), executor(&app.store, false));
    let case = Case::plain("{ __schema { queryType { name } } }", json!({}));
    let both = same_both_ways(&on, &off, &case).await;
    assert!(!both.compiled, "a plan answered introspection: {}", both.on);
    assert_eq!(
        both.on,
        r#"{"data":{"__schema":{"queryType":{"name":"Query"}}}}"#
    );
}
