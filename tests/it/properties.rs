//! Property tests: generated inputs against the public API (`PartialDate`, the query guard,
//! cursors and global ids through the schema, the seed parser, the response cache's normal
//! form of a document).
//!
//! The default run is short (a few hundred cases per property, the module in seconds). A
//! long campaign sets `PROPTEST_CASES`, which every property here honours:
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test --test it properties
//! ```
//!
//! The cheap properties then run that many cases; the ones that execute queries or parse
//! the whole seed per case run a fixed share of it (see `config`), so the campaign stays
//! bounded: about four to six minutes in a debug build. Failures print the shrunk input;
//! nothing is persisted (no `proptest-regressions` files), so copy a failing input into a
//! regular test.
//!
//! Documents whose raw bracket depth exceeds 200 are never handed to async-graphql's
//! parser here, whatever `check_text` says: past a few hundred levels it overflows a
//! 2 MiB stack and aborts the whole test binary instead of failing one test.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use async_graphql::{Request, Variables};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kyrgyz_relations::executor::limits::{check_document, check_text, check_variables, Limits};
use kyrgyz_relations::executor::normalize::{normalize, Unnormalizable};
use kyrgyz_relations::model::{CalendarDate, DateWindow, PartialDate};
use kyrgyz_relations::seed::{SeedError, SeedSource, FILES};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};

use crate::support::{seed_copy, TestApp};

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// The cases of a property: `default_cases` normally; under `PROPTEST_CASES=n` (read by
/// `ProptestConfig::default()`, which `with_cases` would override) `n * share_percent /
/// 100`, at least the default. Expensive properties take a smaller share of a campaign.
pub(crate) fn config(default_cases: u32, share_percent: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        (u64::from(base.cases) * u64::from(share_percent) / 100)
            .max(u64::from(default_cases))
            .min(u64::from(u32::MAX)) as u32
    } else {
        default_cases
    };
    ProptestConfig {
        cases,
        // Other engineers work in this tree: print failures, write no regression files.
        failure_persistence: None,
        ..base
    }
}

/// Runs a property outside the `proptest!` macro, for properties that share state (an
/// app, a seed copy) across cases.
pub(crate) fn run<S: Strategy>(
    config: ProptestConfig,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(config);
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

// ---------------------------------------------------------------------------------------
// 1. PartialDate
// ---------------------------------------------------------------------------------------

fn is_leap(year: i32) -> bool {
    year % 400 == 0 || (year % 4 == 0 && year % 100 != 0)
}

fn month_length(year: i32, month: u8) -> u8 {
    const LENGTHS: [u8; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if month == 2 && is_leap(year) {
        29
    } else {
        LENGTHS[usize::from(month - 1)]
    }
}

fn cd(year: i32, month: u8, day: u8) -> CalendarDate {
    CalendarDate { year, month, day }
}

fn month_end(year: i32, month: u8) -> CalendarDate {
    cd(year, month, month_length(year, month))
}

/// EDTF sub-year groupings: code, first month, last month (winter ends the next year).
const PARTS_OF_YEAR: [(u8, u8, u8); 13] = [
    (21, 3, 5),  // spring
    (22, 6, 8),  // summer
    (23, 9, 11), // autumn
    (24, 12, 2), // winter, December to February
    (33, 1, 3),  // quarters
    (34, 4, 6),
    (35, 7, 9),
    (36, 10, 12),
    (37, 1, 4), // thirds ("early", "mid", "late")
    (38, 5, 8),
    (39, 9, 12),
    (40, 1, 6), // halves
    (41, 7, 12),
];

/// A generated valid date text with the bounds it must have.
#[derive(Clone, Debug)]
struct ExpectedDate {
    text: String,
    earliest: Option<CalendarDate>,
    latest: Option<CalendarDate>,
}

/// A generated single (non-interval) date: both bounds known.
fn single_date() -> impl Strategy<Value = ExpectedDate> {
    let closed = |text: String, earliest: CalendarDate, latest: CalendarDate| ExpectedDate {
        text,
        earliest: Some(earliest),
        latest: Some(latest),
    };
    prop_oneof![
        (1000i32..=2999).prop_map(move |y| closed(format!("{y:04}"), cd(y, 1, 1), cd(y, 12, 31))),
        (100i32..=299).prop_map(move |d| closed(
            format!("{d:03}X"),
            cd(d * 10, 1, 1),
            cd(d * 10 + 9, 12, 31)
        )),
        (1000i32..=2999, 1u8..=12).prop_map(move |(y, m)| closed(
            format!("{y:04}-{m:02}"),
            cd(y, m, 1),
            month_end(y, m)
        )),
        (1000i32..=2999, select(PARTS_OF_YEAR.to_vec())).prop_map(
            move |(y, (code, first, last))| {
                let last_year = if code == 24 { y + 1 } else { y };
                closed(
                    format!("{y:04}-{code}"),
                    cd(y, first, 1),
                    month_end(last_year, last),
                )
            }
        ),
        (1000i32..=2999, 1u8..=12, 1u8..=31).prop_map(move |(y, m, d)| {
            let d = d.min(month_length(y, m));
            closed(format!("{y:04}-{m:02}-{d:02}"), cd(y, m, d), cd(y, m, d))
        }),
    ]
}

/// A valid date with both bounds: a single date or a closed interval `A/B` (A's earliest
/// <= B's latest).
fn closed_date() -> impl Strategy<Value = ExpectedDate> {
    prop_oneof![
        single_date(),
        (single_date(), single_date()).prop_map(|(a, b)| {
            // If A starts after B ends, then B starts before A ends: swap.
            let (a, b) = if a.earliest > b.latest {
                (b, a)
            } else {
                (a, b)
            };
            ExpectedDate {
                text: format!("{}/{}", a.text, b.text),
                earliest: a.earliest,
                latest: b.latest,
            }
        }),
    ]
}

/// Any valid date: closed ones and intervals with an open end.
fn partial_date() -> impl Strategy<Value = ExpectedDate> {
    prop_oneof![
        6 => closed_date(),
        1 => single_date().prop_map(|a| ExpectedDate {
            text: format!("{}/..", a.text),
            earliest: a.earliest,
            latest: None,
        }),
        1 => single_date().prop_map(|b| ExpectedDate {
            text: format!("../{}", b.text),
            earliest: None,
            latest: b.latest,
        }),
    ]
}

/// A day between 1000 and 3000.
fn calendar_date() -> impl Strategy<Value = CalendarDate> {
    (1000i32..=3000, 1u8..=12, 1u8..=31).prop_map(|(y, m, d)| cd(y, m, d.min(month_length(y, m))))
}

/// A non-empty window: `from <= to` when both are given.
fn window() -> impl Strategy<Value = DateWindow> {
    (
        proptest::option::weighted(0.8, calendar_date()),
        proptest::option::weighted(0.8, calendar_date()),
    )
        .prop_map(|(from, to)| match (from, to) {
            (Some(from), Some(to)) if from > to => DateWindow {
                from: Some(to),
                to: Some(from),
            },
            (from, to) => DateWindow { from, to },
        })
}

fn parsed(date: &ExpectedDate) -> PartialDate {
    PartialDate::parse(&date.text)
        .unwrap_or_else(|error| panic!("generated valid date `{}`: {error}", date.text))
}

/// Open start sorts first, as `None < Some` does.
fn earliest_key(date: &PartialDate) -> Option<CalendarDate> {
    date.earliest()
}

/// Date-like text: fragments of valid dates in random order, for the parser's deep paths.
fn date_like_text() -> impl Strategy<Value = String> {
    let pieces = vec![
        "2012", "199X", "20XX", "-", "--", "/", "..", "X", "0", "00", "01", "02", "12", "13", "21",
        "24", "25", "29", "31", "32", "41", "42", "99", "9999", "0000", "+", " ", "é", "٣",
        "\u{0}", "-02-29", "/..", "../",
    ];
    vec(select(pieces), 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config(1000, 100))]

    #[test]
    fn every_valid_date_parses_round_trips_and_has_the_expected_bounds(date in partial_date()) {
        let parsed = PartialDate::parse(&date.text);
        prop_assert!(parsed.is_ok(), "`{}` rejected: {:?}", date.text, parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.as_str(), date.text.as_str());
        prop_assert_eq!(parsed.to_string(), date.text.clone());
        prop_assert_eq!(parsed.earliest(), date.earliest, "earliest of `{}`", date.text);
        prop_assert_eq!(parsed.latest(), date.latest, "latest of `{}`", date.text);
        if let (Some(earliest), Some(latest)) = (parsed.earliest(), parsed.latest()) {
            prop_assert!(earliest <= latest, "`{}`: {earliest} > {latest}", date.text);
        }
        prop_assert_eq!(parsed.is_interval(), date.text.contains('/'));
        // Serde goes through the same text.
        let json = serde_json::to_string(&parsed).expect("serializes");
        prop_assert_eq!(&json, &serde_json::to_string(&date.text).expect("serializes"));
        let back: PartialDate = serde_json::from_str(&json).expect("deserializes");
        prop_assert_eq!(back.earliest(), parsed.earliest());
        prop_assert_eq!(back.latest(), parsed.latest());
    }

    #[test]
    fn an_interval_parses_exactly_when_it_does_not_end_before_it_starts(
        a in single_date(),
        b in single_date(),
    ) {
        let text = format!("{}/{}", a.text, b.text);
        prop_assert_eq!(PartialDate::parse(&text).is_ok(), a.earliest <= b.latest, "`{}`", text);
    }

    #[test]
    fn part_of_year_codes_outside_21_24_and_33_41_are_rejected(
        year in 1000i32..=2999,
        // 00 and 13-99: every two-digit code that is not a month.
        code in (0u8..=87).prop_map(|code| if code == 0 { 0 } else { code + 12 }),
    ) {
        let text = format!("{year:04}-{code:02}");
        let valid = PARTS_OF_YEAR.iter().any(|(known, _, _)| *known == code);
        prop_assert_eq!(PartialDate::parse(&text).is_ok(), valid, "`{}`", text);
    }

    #[test]
    fn certainly_within_a_window_implies_possibly_overlapping_it(
        date in partial_date(),
        window in window(),
    ) {
        let date = parsed(&date);
        if date.certainly_within(&window) {
            prop_assert!(
                date.possibly_overlaps(&window),
                "`{}` certainly within {:?} but does not possibly overlap it", date, window
            );
        }
    }

    #[test]
    fn a_date_is_certainly_within_and_overlaps_its_own_window(date in partial_date()) {
        let date = parsed(&date);
        let own = DateWindow::of(&date);
        prop_assert!(date.certainly_within(&own), "`{}` not within {:?}", date, own);
        prop_assert!(date.possibly_overlaps(&own), "`{}` does not overlap {:?}", date, own);
    }

    #[test]
    fn possibly_overlapping_is_symmetric_for_closed_dates(
        a in closed_date(),
        b in closed_date(),
    ) {
        let (a, b) = (parsed(&a), parsed(&b));
        prop_assert_eq!(
            a.possibly_overlaps(&DateWindow::of(&b)),
            b.possibly_overlaps(&DateWindow::of(&a)),
            "`{}` vs `{}`", a, b
        );
    }

    #[test]
    fn possibly_overlaps_means_the_day_ranges_intersect(
        date in partial_date(),
        window in window(),
    ) {
        // Days as numbers, open ends as infinities: an independent formulation.
        let day = |d: CalendarDate| i64::from(d.year) * 10_000 + i64::from(d.month) * 100 + i64::from(d.day);
        let date = parsed(&date);
        let (lo, hi) = (
            date.earliest().map_or(i64::MIN, day),
            date.latest().map_or(i64::MAX, day),
        );
        let (from, to) = (
            window.from.map_or(i64::MIN, day),
            window.to.map_or(i64::MAX, day),
        );
        prop_assert_eq!(date.possibly_overlaps(&window), lo.max(from) <= hi.min(to), "`{}` {:?}", date, window);
        prop_assert_eq!(date.certainly_within(&window), from <= lo && hi <= to, "`{}` {:?}", date, window);
    }

    #[test]
    fn chronological_order_follows_the_earliest_bound(
        a in partial_date(),
        b in partial_date(),
    ) {
        let (a, b) = (parsed(&a), parsed(&b));
        if earliest_key(&a) < earliest_key(&b) {
            prop_assert!(a < b, "`{}` should sort before `{}`", a, b);
        }
        if earliest_key(&a) > earliest_key(&b) {
            prop_assert!(a > b, "`{}` should sort after `{}`", a, b);
        }
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&b) == std::cmp::Ordering::Equal, a.as_str() == b.as_str());
        prop_assert_eq!(a == b, a.as_str() == b.as_str());
    }

    #[test]
    fn sorting_dates_sorts_their_earliest_bounds(dates in vec(partial_date(), 0..12)) {
        let mut dates: Vec<PartialDate> = dates.iter().map(parsed).collect();
        dates.sort();
        for pair in dates.windows(2) {
            prop_assert!(earliest_key(&pair[0]) <= earliest_key(&pair[1]), "`{}` before `{}`", pair[0], pair[1]);
        }
    }

    #[test]
    fn parsing_any_string_never_panics_and_errors_quote_the_input(
        text in prop_oneof![any::<String>(), date_like_text(), "[0-9X./-]{0,16}"],
    ) {
        match PartialDate::parse(&text) {
            Ok(date) => {
                prop_assert_eq!(date.as_str(), text.as_str());
                if let (Some(earliest), Some(latest)) = (date.earliest(), date.latest()) {
                    prop_assert!(earliest <= latest, "`{}`", text);
                }
                let again = PartialDate::parse(date.as_str()).expect("a parsed date reparses");
                prop_assert_eq!(again.earliest(), date.earliest());
                prop_assert_eq!(again.latest(), date.latest());
            }
            Err(error) => {
                prop_assert_eq!(&error.text, &text);
                let quoted = format!("`{text}`");
                prop_assert!(error.to_string().contains(&quoted), "{}", error);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. The query guard
// ---------------------------------------------------------------------------------------

/// The deepest bracket nesting of `text`, counting every bracket, even in strings and
/// comments: an upper bound on how deep the GraphQL parser can recurse.
fn raw_bracket_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for byte in text.bytes() {
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Text made of GraphQL's troublesome pieces: brackets, quotes, block quotes, escapes,
/// comments, both line ends, multi-byte characters; and long runs of one bracket.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = vec![
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "\"\"\"",
        "\\",
        "\\\"\"\"",
        "#",
        "\n",
        "\r",
        "\r\n",
        " ",
        ",",
        "a",
        "query",
        "fragment F on Query",
        "...F",
        "$v",
        ":",
        "1",
        "é",
        "💥",
        "@skip",
    ];
    prop_oneof![
        4 => vec(select(pieces), 0..400).prop_map(|pieces| pieces.concat()),
        1 => (select(vec!["{", "[", "(", "{ a ", "[[", "\"\"\" ", "# \r"]), 0usize..20_000)
            .prop_map(|(piece, n)| piece.repeat(n)),
        1 => (0usize..3000, 0usize..3000).prop_map(|(open, close)| {
            format!("{{ a(x: {}1{}) }}", "[".repeat(open), "]".repeat(close))
        }),
        1 => any::<String>(),
        // Valid documents, as generated and with one hostile piece inserted.
        1 => generated_document(),
        1 => (generated_document(), any::<prop::sample::Index>(), select(insertable_pieces()))
            .prop_map(|(text, at, piece)| {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                format!("{}{piece}{}", &text[..at], &text[at..])
            }),
    ]
}

fn insertable_pieces() -> Vec<&'static str> {
    vec![
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\"",
        "\"\"\"",
        "#",
        "\r",
        "...F0",
        "@skip(if: true)",
        "x: ",
    ]
}

/// One token of a generated document, with what may separate tokens.
fn trivia() -> impl Strategy<Value = String> {
    let comment_text = "[^\r\n]{0,12}";
    prop_oneof![
        4 => select(vec!["", " ", ",", "\n", "\t", "\r\n", " \u{feff} "]).prop_map(str::to_owned),
        1 => (comment_text, select(vec!["\n", "\r\n", "\r"]))
            .prop_map(|(text, end)| format!("#{text}{end}")),
    ]
}

/// A GraphQL string value: single-line with escapes, or a block string.
fn string_value() -> impl Strategy<Value = String> {
    let line = vec(
        prop_oneof![
            "[^\"\\\\\r\n]",
            select(vec!["\\\"", "\\\\", "\\n", "\\u0041", "{", "[", "(", "#"])
                .prop_map(str::to_owned),
        ],
        0..8,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()));
    let block = vec(
        prop_oneof![
            "[^\"\\\\]",
            select(vec!["\\\"\"\"", "\n", "\r", "{", "[", "(", "#", "\" "]).prop_map(str::to_owned),
        ],
        0..8,
    )
    .prop_map(|parts| format!("\"\"\"{}\"\"\"", parts.concat()));
    prop_oneof![line, block]
}

/// How a generated document nests: selection sets, then optionally an argument whose
/// value nests lists and objects, with strings beside the nesting.
#[derive(Clone, Debug)]
struct Nesting {
    selections: usize,
    /// `None`: no argument. `Some(layers)`: `true` for a list layer, `false` for an object.
    value: Option<Vec<(bool, Option<String>)>>,
}

impl Nesting {
    /// The bracket depth the GraphQL lexer sees.
    fn depth(&self) -> usize {
        self.selections + self.value.as_ref().map_or(0, |layers| 1 + layers.len())
    }

    fn tokens(&self) -> Vec<String> {
        let mut tokens = Vec::new();
        for _ in 0..self.selections {
            tokens.extend(["{".to_owned(), "f".to_owned()]);
        }
        if let Some(layers) = &self.value {
            tokens.extend(["(".to_owned(), "a".to_owned(), ":".to_owned()]);
            for (list, string) in layers {
                if *list {
                    tokens.push("[".to_owned());
                    if let Some(string) = string {
                        tokens.push(string.clone());
                    }
                } else {
                    tokens.push("{".to_owned());
                    if let Some(string) = string {
                        tokens.extend(["s".to_owned(), ":".to_owned(), string.clone()]);
                    }
                    tokens.extend(["k".to_owned(), ":".to_owned()]);
                }
            }
            tokens.push("1".to_owned());
            for (list, _) in layers.iter().rev() {
                tokens.push(if *list { "]" } else { "}" }.to_owned());
            }
            tokens.push(")".to_owned());
        }
        tokens.extend(std::iter::repeat_n("}".to_owned(), self.selections));
        tokens
    }
}

/// Nestings up to about `max_depth` deep, deepened to at least `min_depth` by adding
/// selection sets (a plain mapping, so failures shrink to the shallowest case).
fn nesting(min_depth: usize, max_depth: usize) -> impl Strategy<Value = Nesting> {
    let layer = (
        any::<bool>(),
        proptest::option::weighted(0.2, string_value()),
    );
    (
        1..=max_depth,
        proptest::option::weighted(0.7, vec(layer, 0..max_depth)),
    )
        .prop_map(move |(selections, value)| {
            let mut nesting = Nesting { selections, value };
            nesting.selections += min_depth.saturating_sub(nesting.depth());
            nesting
        })
}

/// A document of known bracket depth, its tokens separated by generated trivia. The
/// trivia are drawn independently of the nesting (a fixed supply, cycled), so both shrink.
fn nested_document(min_depth: usize, max_depth: usize) -> impl Strategy<Value = (Nesting, String)> {
    (nesting(min_depth, max_depth), vec(trivia(), 1..64)).prop_map(|(nesting, trivia)| {
        let mut text = String::new();
        for (token, trivia) in nesting.tokens().iter().zip(trivia.iter().cycle()) {
            text.push_str(token);
            text.push_str(trivia);
        }
        (nesting, text)
    })
}

/// A generated selection, for documents async-graphql parses.
#[derive(Clone, Debug)]
enum Sel {
    Field {
        alias: bool,
        name: &'static str,
        arguments: Vec<String>,
        directives: usize,
        children: Vec<Sel>,
    },
    Spread(usize),
    Inline(Vec<Sel>),
}

/// Writes a selection set; spreads of fragments numbered below `min_spread` become
/// `__typename`, so that most generated documents are acyclic.
fn render(selections: &[Sel], min_spread: usize, out: &mut String) {
    out.push_str("{ ");
    if selections.is_empty() {
        out.push_str("__typename ");
    }
    for selection in selections {
        match selection {
            Sel::Field {
                alias,
                name,
                arguments,
                directives,
                children,
            } => {
                if *alias {
                    out.push_str("x: ");
                }
                out.push_str(name);
                if !arguments.is_empty() {
                    out.push('(');
                    out.push_str(&arguments.join(", "));
                    out.push(')');
                }
                for _ in 0..*directives {
                    out.push_str(" @skip(if: false)");
                }
                out.push(' ');
                if !children.is_empty() {
                    render(children, min_spread, out);
                }
            }
            Sel::Spread(index) if *index < min_spread => out.push_str("__typename "),
            Sel::Spread(index) => out.push_str(&format!("...F{index} ")),
            Sel::Inline(children) => {
                out.push_str("... on Query ");
                render(children, min_spread, out);
            }
        }
    }
    out.push_str("} ");
}

fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        (select(vec!["first", "last"]), 0u32..1000).prop_map(|(name, n)| format!("{name}: {n}")),
        (select(vec!["first", "last"])).prop_map(|name| format!("{name}: $n")),
        prop_oneof![30 => 0usize..8, 1 => 95usize..130]
            .prop_map(|n| format!("ids: [{}]", vec!["\"x\""; n].join(", "))),
        string_value().prop_map(|s| format!("after: {s}")),
        Just("occurred: {from: \"2012\", to: [[1]]}".to_owned()),
    ]
}

fn selections(fragments: usize) -> impl Strategy<Value = Vec<Sel>> {
    let names = vec![
        "countries",
        "nodes",
        "edges",
        "node",
        "agreements",
        "facilities",
        "incidents",
        "search",
        "members",
        "id",
        "name",
        "__typename",
        "code",
    ];
    let leaf = (
        any::<bool>(),
        select(names.clone()),
        vec(argument(), 0..2),
        0usize..3,
    )
        .prop_map(|(alias, name, arguments, directives)| Sel::Field {
            alias,
            name,
            arguments,
            directives,
            children: Vec::new(),
        });
    let spread = (0..fragments.max(1)).prop_map(Sel::Spread);
    let base = prop_oneof![4 => leaf, 1 => spread];
    base.prop_recursive(6, 64, 5, move |inner| {
        prop_oneof![
            4 => (any::<bool>(), select(names.clone()), vec(argument(), 0..2), 0usize..2, vec(inner.clone(), 1..5))
                .prop_map(|(alias, name, arguments, directives, children)| Sel::Field {
                    alias,
                    name,
                    arguments,
                    directives,
                    children,
                }),
            1 => vec(inner, 1..4).prop_map(Sel::Inline),
        ]
    })
    .prop_map(|selection| vec![selection])
    .boxed()
}

/// A document async-graphql parses: operations and fragments spreading each other,
/// mostly forward (acyclic), sometimes backward too (possibly cyclic).
fn generated_document() -> impl Strategy<Value = String> {
    (0usize..5, 1usize..4).prop_flat_map(|(fragments, operations)| {
        (
            vec(vec(selections(fragments), 1..3), operations),
            vec(vec(selections(fragments), 1..3), fragments),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(operations, fragments, back_spreads)| {
                let mut text = String::new();
                for (index, operation) in operations.iter().enumerate() {
                    text.push_str(&format!("query Q{index}($n: Int) "));
                    render(&operation.concat(), 0, &mut text);
                }
                for (index, fragment) in fragments.iter().enumerate() {
                    text.push_str(&format!("fragment F{index} on Query "));
                    let min_spread = if back_spreads { 0 } else { index + 1 };
                    render(&fragment.concat(), min_spread, &mut text);
                }
                text
            })
    })
}

/// Runs the guard's pipeline on `text`: text check, parse, document check. Returns the
/// document check's result when the text was admitted and parsed.
fn guard(text: &str) -> Option<Result<(), String>> {
    let limits = Limits::default();
    check_text(text, &limits).ok()?;
    // Parse only what cannot overflow the parser's stack whatever `check_text` says
    // (see `check_text_refuses_every_document_nested_deeper_than_the_limit`).
    if raw_bracket_depth(text) > 200 {
        return None;
    }
    let document = async_graphql::parser::parse_query(text).ok()?;
    Some(check_document(&document, &Variables::default(), &limits))
}

fn assert_fast(started: Instant, what: &str) -> Result<(), TestCaseError> {
    let elapsed = started.elapsed();
    // Linear work on at most 16 KiB; generous for a loaded debug build.
    prop_assert!(
        elapsed < Duration::from_secs(1),
        "{} took {:?}",
        what,
        elapsed
    );
    Ok(())
}

/// Text without strings or comments: every bracket in it is one the GraphQL lexer sees,
/// so `raw_bracket_depth` is its exact depth.
fn has_only_brackets_and_plain_tokens(text: &str) -> bool {
    !text.contains(['"', '#'])
}

proptest! {
    #![proptest_config(config(300, 100))]

    #[test]
    fn the_guard_pipeline_never_panics_and_stays_fast_on_hostile_text(text in hostile_text()) {
        let limits = Limits::default();
        let started = Instant::now();
        let verdict = check_text(&text, &limits);
        assert_fast(started, "check_text")?;
        if text.len() > limits.max_query_bytes {
            prop_assert!(verdict.is_err(), "{} bytes admitted", text.len());
        }
        let started = Instant::now();
        let _ = guard(&text);
        assert_fast(started, "parse and check_document")?;
    }

    #[test]
    fn check_text_on_bracket_only_text_refuses_exactly_what_nests_too_deep(
        text in prop_oneof![
            vec(select(vec!["{", "}", "[", "]", "(", ")", " ", "a", "1", ",", "\n", "\r"]), 0..200)
                .prop_map(|pieces| pieces.concat()),
            (1usize..80, 0usize..80).prop_map(|(open, close)| format!("{}{}", "{".repeat(open), "}".repeat(close))),
        ]
    ) {
        prop_assert!(has_only_brackets_and_plain_tokens(&text));
        let limits = Limits::default();
        let too_deep = raw_bracket_depth(&text) > limits.max_depth;
        prop_assert_eq!(check_text(&text, &limits).is_err(), too_deep, "{:?}", text);
    }

    #[test]
    fn check_text_admits_documents_within_the_depth_limit_whatever_their_strings_and_comments(
        (nesting, text) in nested_document(1, 20),
    ) {
        let limits = Limits::default();
        prop_assert!(nesting.depth() <= limits.max_depth);
        // The generator writes valid GraphQL: otherwise the depth property says nothing.
        let parsed = async_graphql::parser::parse_query(&text);
        prop_assert!(parsed.is_ok(), "generated document does not parse: {:?}\n{:?}", text, parsed.err());
        let verdict = check_text(&text, &limits);
        prop_assert!(verdict.is_ok(), "depth {} refused: {:?}\n{:?}", nesting.depth(), verdict, text);
    }

    #[test]
    fn check_text_refuses_every_document_nested_deeper_than_the_limit(
        (nesting, text) in nested_document(Limits::default().max_depth + 1, 45),
    ) {
        let limits = Limits::default();
        prop_assert!(nesting.depth() > limits.max_depth);
        // Never parsed here: a document this test finds admitted may overflow the stack.
        prop_assert!(
            check_text(&text, &limits).is_err(),
            "a document nested {} deep (limit {}) passes check_text: {:?}",
            nesting.depth(), limits.max_depth, text
        );
    }

    #[test]
    fn check_document_never_panics_on_parsed_documents(text in generated_document()) {
        let limits = Limits::default();
        let document = async_graphql::parser::parse_query(&text);
        prop_assert!(document.is_ok(), "generated document does not parse: {:?}\n{}", document.err(), text);
        let document = document.unwrap();
        let started = Instant::now();
        let verdict = check_document(&document, &Variables::default(), &limits);
        assert_fast(started, "check_document")?;
        // Two of the counted limits, checked independently.
        let aliases = text.matches("x: ").count();
        let directives = text.matches('@').count();
        if aliases <= limits.max_aliases && directives <= limits.max_directives {
            if let Err(message) = &verdict {
                prop_assert!(!message.contains("aliased") && !message.contains("directives"), "{}", message);
            }
        }
        if text.matches("ids: [").count() == 0 {
            if let Err(message) = &verdict {
                prop_assert!(!message.contains("list argument"), "{}", message);
            }
        }
    }
}

/// A spread graph: fragment `i` spreads fragment `j` when `edges[i][j]`; the operation
/// spreads the fragments in `roots`; `dangling` adds a spread of an undefined fragment.
#[derive(Clone, Debug)]
struct SpreadGraph {
    edges: Vec<Vec<bool>>,
    roots: Vec<bool>,
    dangling: bool,
}

impl SpreadGraph {
    fn document(&self) -> String {
        let spreads = |targets: &[bool]| -> String {
            targets
                .iter()
                .enumerate()
                .filter(|(_, spread)| **spread)
                .map(|(index, _)| format!("...F{index} "))
                .collect()
        };
        let mut text = format!(
            "query Q {{ __typename {}{}}}\n",
            spreads(&self.roots),
            if self.dangling { "...Missing " } else { "" }
        );
        for (index, targets) in self.edges.iter().enumerate() {
            text.push_str(&format!(
                "fragment F{index} on Query {{ __typename {}}}\n",
                spreads(targets)
            ));
        }
        text
    }

    /// Fragments reachable from `from` by one spread or more.
    fn reachable(&self, from: &[usize]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = from
            .iter()
            .flat_map(|&node| {
                self.edges[node]
                    .iter()
                    .enumerate()
                    .filter(|(_, edge)| **edge)
                    .map(|(target, _)| target)
            })
            .collect();
        while let Some(node) = stack.pop() {
            if seen.insert(node) {
                stack.extend(
                    self.edges[node]
                        .iter()
                        .enumerate()
                        .filter(|(_, edge)| **edge)
                        .map(|(target, _)| target),
                );
            }
        }
        seen
    }

    /// Fragments that lie on a cycle: those reachable from themselves.
    fn on_cycles(&self) -> BTreeSet<usize> {
        (0..self.edges.len())
            .filter(|&node| self.reachable(&[node]).contains(&node))
            .collect()
    }

    /// Fragments the operation uses.
    fn used(&self) -> BTreeSet<usize> {
        let roots: Vec<usize> = (0..self.roots.len()).filter(|&i| self.roots[i]).collect();
        let mut used = self.reachable(&roots);
        used.extend(roots);
        used
    }
}

fn spread_graph() -> impl Strategy<Value = SpreadGraph> {
    (1usize..=7).prop_flat_map(|n| {
        (
            vec(vec(proptest::bool::weighted(0.2), n), n),
            vec(proptest::bool::weighted(0.5), n),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(edges, roots, dangling)| SpreadGraph {
                edges,
                roots,
                dangling,
            })
    })
}

proptest! {
    #![proptest_config(config(500, 100))]

    /// A cycle among the fragments the operation uses is always reported, naming a
    /// fragment on it; an acyclic graph always passes. A cycle among unused fragments is
    /// reported too: the guard walks every fragment, used or not, as the GraphQL spec's
    /// "fragments must not form cycles" rule (which covers all fragments) asks.
    #[test]
    fn check_document_reports_a_fragment_cycle_exactly_when_the_spread_graph_has_one(
        graph in spread_graph(),
    ) {
        let text = graph.document();
        let document = async_graphql::parser::parse_query(&text).expect("generated documents parse");
        let started = Instant::now();
        let verdict = check_document(&document, &Variables::default(), &Limits::default());
        assert_fast(started, "check_document")?;
        let cyclic = graph.on_cycles();
        let reachable_cycle = graph.used().iter().any(|node| cyclic.contains(node));
        match verdict {
            Ok(()) => prop_assert!(
                cyclic.is_empty(),
                "cycle through {:?} (reachable: {}) not reported:\n{}", cyclic, reachable_cycle, text
            ),
            Err(message) => {
                prop_assert!(!cyclic.is_empty(), "acyclic graph refused: {}\n{}", message, text);
                prop_assert!(message.contains("cycle"), "{}", message);
                let named = cyclic.iter().any(|node| message.contains(&format!("`F{node}`")));
                prop_assert!(named, "`{}` names no fragment of {:?}", message, cyclic);
            }
        }
    }
}

/// Variables as JSON: a spine of nested lists and objects with random siblings.
fn variables_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
    ];
    let tree = leaf.clone().prop_recursive(8, 128, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(("[a-z]{1,3}", inner), 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    });
    let spine = (vec(any::<bool>(), 0..50), tree.clone()).prop_map(|(layers, mut value)| {
        for list in layers {
            value = if list {
                json!([value])
            } else {
                json!({ "k": value })
            };
        }
        value
    });
    let long_list = (90usize..110, leaf).prop_map(|(n, item)| Value::Array(vec![item; n]));
    let value = prop_oneof![3 => tree, 2 => spine, 1 => long_list];
    vec(("[a-z]{1,3}", value), 0..3).prop_map(|fields| Value::Object(fields.into_iter().collect()))
}

/// The deepest node of a JSON value (the value itself at depth `at`) and its longest list.
fn json_shape(value: &Value, at: usize) -> (usize, usize) {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| json_shape(item, at + 1))
            .fold((at, items.len()), |(d, l), (d2, l2)| (d.max(d2), l.max(l2))),
        Value::Object(fields) => fields
            .values()
            .map(|field| json_shape(field, at + 1))
            .fold((at, 0), |(d, l), (d2, l2)| (d.max(d2), l.max(l2))),
        _ => (at, 0),
    }
}

proptest! {
    #![proptest_config(config(300, 100))]

    #[test]
    fn check_variables_refuses_exactly_too_deep_or_too_long_variables(json in variables_json()) {
        let limits = Limits::default();
        let (depth, longest) = json
            .as_object()
            .expect("an object")
            .values()
            .map(|value| json_shape(value, 1))
            .fold((0, 0), |(d, l), (d2, l2)| (d.max(d2), l.max(l2)));
        let variables = Variables::from_json(json);
        let refused = depth > limits.max_depth || longest > limits.max_list_items;
        prop_assert_eq!(
            check_variables(&variables, &limits).is_err(),
            refused,
            "depth {}, longest list {}", depth, longest
        );
    }
}

// ---------------------------------------------------------------------------------------
// 3. Cursors and global ids through the schema
// ---------------------------------------------------------------------------------------

/// Every root list field (with its fixed arguments), and whether it takes `orderBy`.
const ROOT_LISTS: [(&str, bool); 7] = [
    ("countries", true),
    ("organizations", true),
    ("people", true),
    ("agreements", true),
    ("facilities", true),
    ("incidents", true),
    ("search(text: \"kyrgyzstan\")", false),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The field call for a list with extra arguments.
fn list_call(list: &str, arguments: &str) -> String {
    match list.strip_suffix(')') {
        Some(open) => format!("{open}, {arguments})"),
        None => format!("{list}({arguments})"),
    }
}

/// `(cursor, id, typename)` of every edge of a list, in its order.
fn all_edges(
    rt: &tokio::runtime::Runtime,
    app: &TestApp,
    list: &str,
    order: &str,
) -> Vec<(String, String, String)> {
    let mut edges = Vec::new();
    let mut after = String::new();
    loop {
        let query = format!(
            "{{ list: {} {{ edges {{ cursor node {{ ... on Node {{ id __typename }} }} }} pageInfo {{ hasNextPage }} }} }}",
            list_call(list, &format!("first: 100{order}{after}"))
        );
        let data = rt.block_on(app.query(&query));
        for edge in data["list"]["edges"].as_array().expect("edges") {
            edges.push((
                edge["cursor"].as_str().expect("a cursor").to_owned(),
                edge["node"]["id"].as_str().expect("an id").to_owned(),
                edge["node"]["__typename"]
                    .as_str()
                    .expect("a type")
                    .to_owned(),
            ));
        }
        if data["list"]["pageInfo"]["hasNextPage"] != true {
            return edges;
        }
        let last = &edges.last().expect("a page before more").0;
        after = format!(", after: \"{last}\"");
    }
}

/// Every root list in both orders, with its edges.
#[allow(clippy::type_complexity)]
fn every_list(
    rt: &tokio::runtime::Runtime,
    app: &TestApp,
) -> Vec<(String, String, Vec<(String, String, String)>)> {
    let mut lists = Vec::new();
    for (list, orderable) in ROOT_LISTS {
        let orders: &[&str] = if orderable {
            &["", ", orderBy: {direction: DESC}"]
        } else {
            &[""]
        };
        for order in orders {
            let edges = all_edges(rt, app, list, order);
            assert!(!edges.is_empty(), "{list} is empty");
            lists.push((list.to_owned(), (*order).to_owned(), edges));
        }
    }
    lists
}

/// Pages `first: k` after edge `i` or `last: k` before it, as `(ids, hasNext, hasPrevious)`.
fn page_from(
    rt: &tokio::runtime::Runtime,
    app: &TestApp,
    list: &str,
    order: &str,
    cursor: &str,
    k: usize,
    forward: bool,
) -> (Vec<String>, bool, bool) {
    let paging = if forward {
        format!("first: {k}, after: \"{cursor}\"{order}")
    } else {
        format!("last: {k}, before: \"{cursor}\"{order}")
    };
    let query = format!(
        "{{ list: {} {{ edges {{ cursor node {{ ... on Node {{ id }} }} }} pageInfo {{ hasNextPage hasPreviousPage }} }} }}",
        list_call(list, &paging)
    );
    let data = rt.block_on(app.query(&query));
    let ids = data["list"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["id"].as_str().expect("an id").to_owned())
        .collect();
    let info = &data["list"]["pageInfo"];
    (
        ids,
        info["hasNextPage"] == true,
        info["hasPreviousPage"] == true,
    )
}

#[test]
fn every_edge_cursor_resumes_its_list_at_the_next_and_previous_edge() {
    let (rt, app) = (runtime(), TestApp::new());
    for (list, order, edges) in every_list(&rt, &app) {
        let ids: Vec<&String> = edges.iter().map(|(_, id, _)| id).collect();
        let unique: HashSet<&&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{list}{order} repeats a record");
        for (index, (cursor, _, _)) in edges.iter().enumerate() {
            let (after, has_next, has_previous) =
                page_from(&rt, &app, &list, &order, cursor, 1, true);
            let expected: Vec<String> = edges
                .get(index + 1)
                .map(|e| e.1.clone())
                .into_iter()
                .collect();
            assert_eq!(
                after, expected,
                "{list}{order}: first: 1 after edge {index}"
            );
            assert_eq!(
                has_next,
                index + 2 < edges.len(),
                "{list}{order}: hasNextPage after edge {index}"
            );
            assert!(
                has_previous,
                "{list}{order}: hasPreviousPage after edge {index}"
            );

            let (before, has_next, has_previous) =
                page_from(&rt, &app, &list, &order, cursor, 1, false);
            let expected: Vec<String> = index
                .checked_sub(1)
                .map(|i| edges[i].1.clone())
                .into_iter()
                .collect();
            assert_eq!(
                before, expected,
                "{list}{order}: last: 1 before edge {index}"
            );
            assert_eq!(
                has_previous,
                index >= 2,
                "{list}{order}: hasPreviousPage before edge {index}"
            );
            assert!(has_next, "{list}{order}: hasNextPage before edge {index}");
        }
    }
}

#[test]
fn a_page_of_any_size_from_any_cursor_is_the_matching_slice_of_the_list() {
    let (rt, app) = (runtime(), TestApp::new());
    let lists = every_list(&rt, &app);
    let cases = (
        0..lists.len(),
        any::<prop::sample::Index>(),
        1usize..=12,
        any::<bool>(),
    );
    run(config(150, 5), cases, |(list, index, k, forward)| {
        let (name, order, edges) = &lists[list];
        let i = index.index(edges.len());
        let (ids, has_next, has_previous) =
            page_from(&rt, &app, name, order, &edges[i].0, k, forward);
        let all: Vec<&String> = edges.iter().map(|(_, id, _)| id).collect();
        let (expected, next, previous) = if forward {
            let end = (i + 1 + k).min(all.len());
            (&all[i + 1..end], end < all.len(), true)
        } else {
            let start = i.saturating_sub(k);
            (&all[start..i], true, start > 0)
        };
        let expected: Vec<String> = expected.iter().map(|id| (*id).clone()).collect();
        prop_assert_eq!(
            &ids,
            &expected,
            "{}{} k={} from edge {} forward={}",
            name,
            order,
            k,
            i,
            forward
        );
        prop_assert_eq!(
            (has_next, has_previous),
            (next, previous),
            "{}{} pageInfo",
            name,
            order
        );
        Ok(())
    });
}

#[test]
fn every_global_id_fetches_the_record_it_came_from() {
    let (rt, app) = (runtime(), TestApp::new());
    let mut all = Vec::new();
    for (list, order, edges) in every_list(&rt, &app) {
        if !order.is_empty() {
            continue;
        }
        for (_, id, typename) in edges {
            let data =
                rt.block_on(app.query(&format!("{{ node(id: \"{id}\") {{ id __typename }} }}")));
            assert_eq!(data["node"]["id"], id.as_str(), "{list}: node({id})");
            assert_eq!(
                data["node"]["__typename"],
                typename.as_str(),
                "{list}: node({id})"
            );
            all.push(id);
        }
    }
    // And in bulk, in order, duplicates kept.
    let mut ids = all.clone();
    ids.extend(all.iter().take(5).cloned());
    for chunk in ids.chunks(100) {
        let list = serde_json::to_string(chunk).expect("serializes");
        let data = rt.block_on(app.query(&format!("{{ nodes(ids: {list}) {{ id }} }}")));
        let got: Vec<&str> = data["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| node["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(got, chunk.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// Strings to pass as cursors and ids: arbitrary text, base64 of arbitrary bytes, global
/// ids of real and unknown kinds with arbitrary slugs, and damaged real cursors.
fn cursor_or_id(real: Vec<String>) -> impl Strategy<Value = String> {
    let kinds = vec![
        "Country",
        "Organization",
        "Person",
        "Agreement",
        "Facility",
        "Incident",
        "Query",
        "country",
        "",
        "Node",
    ];
    prop_oneof![
        2 => any::<String>(),
        1 => "[A-Za-z0-9_=+/-]{0,40}",
        2 => vec(any::<u8>(), 0..40).prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
        2 => (select(kinds), prop_oneof![any::<String>(), "[a-z0-9-]{0,20}"], select(vec![":", "", "::"]))
            .prop_map(|(kind, slug, colon)| URL_SAFE_NO_PAD.encode(format!("{kind}{colon}{slug}"))),
        2 => (select(real), any::<prop::sample::Index>(), any::<u8>(), 0u8..3).prop_map(
            |(cursor, at, byte, how)| {
                let mut key = URL_SAFE_NO_PAD.decode(&cursor).expect("real cursors decode");
                let at = at.index(key.len() + 1);
                match how {
                    0 => key.truncate(at),
                    1 if at < key.len() => key[at] = byte,
                    _ => key.insert(at, byte),
                }
                URL_SAFE_NO_PAD.encode(key)
            }
        ),
    ]
}

/// Every error in a response is a user error: none `INTERNAL`, none without a code.
fn only_user_errors(response: &Value, input: &str) -> Result<(), TestCaseError> {
    for error in response["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str();
        prop_assert_eq!(
            code,
            Some("BAD_USER_INPUT"),
            "input {:?} gave {}",
            input,
            error
        );
    }
    Ok(())
}

#[test]
fn arbitrary_cursors_and_ids_give_data_or_user_errors_never_internal_ones() {
    let (rt, app) = (runtime(), TestApp::new());
    let real: Vec<String> = every_list(&rt, &app)
        .into_iter()
        .flat_map(|(_, _, edges)| edges.into_iter().flat_map(|(cursor, id, _)| [cursor, id]))
        .collect();
    let query = r#"query ($s: String!, $id: ID!) {
        a: countries(after: $s) { nodes { code } }
        b: countries(last: 2, before: $s, orderBy: {direction: DESC}) { nodes { code } pageInfo { hasNextPage } }
        c: search(text: "kyrgyzstan", after: $s) { totalCount nodes { ... on Node { id } } }
        d: country(code: "KG") { agreements(first: 3, before: $s) { nodes { id } } }
        e: incidents(after: $s, first: 3, orderBy: {direction: DESC}) { nodes { id } }
        f: node(id: $id) { id }
        g: nodes(ids: [$id]) { id }
    }"#;
    run(config(200, 5), cursor_or_id(real), |s| {
        // Through variables.
        let variables = Variables::from_json(json!({ "s": s, "id": s }));
        let response = rt.block_on(app.schema.execute(Request::new(query).variables(variables)));
        let by_variables = serde_json::to_value(&response).expect("serializes");
        only_user_errors(&by_variables, &s)?;
        // Through literals, escaped as JSON strings (valid GraphQL strings); the two must
        // agree.
        let literal = serde_json::to_string(&s).expect("serializes");
        let inline = query
            .replacen("query ($s: String!, $id: ID!)", "", 1)
            .replace("$s", &literal)
            .replace("$id", &literal);
        let by_literals = rt.block_on(app.execute(&inline));
        only_user_errors(&by_literals, &s)?;
        prop_assert_eq!(&by_literals["data"], &by_variables["data"], "input {:?}", s);
        // The two simple forms the brief names, alone.
        for field in [
            format!("{{ countries(after: {literal}) {{ nodes {{ code }} }} }}"),
            format!("{{ node(id: {literal}) {{ id }} }}"),
        ] {
            let response = rt.block_on(app.execute(&field));
            only_user_errors(&response, &s)?;
            prop_assert!(
                response.get("errors").is_some() || !response["data"].is_null(),
                "neither data nor errors for {:?}",
                s
            );
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// 4. The seed parser
// ---------------------------------------------------------------------------------------

/// How to damage one seed file.
#[derive(Clone, Debug)]
enum Damage {
    /// Replace the whole file with these bytes.
    Bytes(Vec<u8>),
    /// Keep only the first `n` bytes (of the file's length + 1).
    Truncate(prop::sample::Index),
    /// Set one byte.
    Replace(prop::sample::Index, u8),
    /// Insert one byte.
    Insert(prop::sample::Index, u8),
    /// Remove a run of bytes.
    Remove(prop::sample::Index, usize),
    /// Replace one byte with a JSON-significant one.
    Punctuate(prop::sample::Index, u8),
}

impl Damage {
    fn apply(&self, original: &[u8]) -> Vec<u8> {
        let mut bytes = original.to_vec();
        match self {
            Damage::Bytes(new) => bytes = new.clone(),
            Damage::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
            Damage::Replace(at, byte) | Damage::Punctuate(at, byte) => {
                let at = at.index(bytes.len());
                bytes[at] = *byte;
            }
            Damage::Insert(at, byte) => {
                let at = at.index(bytes.len() + 1);
                bytes.insert(at, *byte);
            }
            Damage::Remove(at, n) => {
                let at = at.index(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
        }
        bytes
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    let index = any::<prop::sample::Index>();
    let json_bytes = select(b"{}[]\",:0-nulltrue\\ \n\x00\xff".to_vec());
    prop_oneof![
        1 => prop_oneof![
            vec(any::<u8>(), 0..300),
            "\\PC{0,100}".prop_map(String::into_bytes),
            select(vec!["", "[]", "[{}]", "{}", "null", "[null]", "[1, 2]", "[{\"id\": 1}]", "[{\"id\": \"x\"}]"])
                .prop_map(|s| s.as_bytes().to_vec()),
        ]
        .prop_map(Damage::Bytes),
        2 => index.clone().prop_map(Damage::Truncate),
        2 => (index.clone(), any::<u8>()).prop_map(|(at, byte)| Damage::Replace(at, byte)),
        1 => (index.clone(), any::<u8>()).prop_map(|(at, byte)| Damage::Insert(at, byte)),
        1 => (index.clone(), 1usize..200).prop_map(|(at, n)| Damage::Remove(at, n)),
        2 => (index, json_bytes).prop_map(|(at, byte)| Damage::Punctuate(at, byte)),
    ]
}

/// Validates `dir`: `Ok(None)` for a valid seed, `Ok(Some(problems))` for an invalid one.
fn validate(dir: &Path) -> Result<Option<Vec<kyrgyz_relations::seed::Problem>>, TestCaseError> {
    let source = SeedSource::from_dir(dir);
    prop_assert!(source.is_ok(), "the directory exists: {:?}", source.err());
    match source.unwrap().validate() {
        Ok(_) => Ok(None),
        Err(SeedError::Invalid { problems, .. }) => Ok(Some(problems)),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error: {other}"))),
    }
}

/// Every problem names a seed file; at least one exists.
fn problems_name_files(problems: &[kyrgyz_relations::seed::Problem]) -> Result<(), TestCaseError> {
    prop_assert!(!problems.is_empty(), "Invalid without problems");
    for problem in problems {
        prop_assert!(
            FILES.contains(&problem.file.as_str()),
            "problem names no seed file: {}",
            problem
        );
    }
    Ok(())
}

#[test]
fn a_damaged_seed_file_is_accepted_or_reported_by_file_never_a_panic() {
    let dir = seed_copy();
    let originals: Vec<Vec<u8>> = FILES
        .iter()
        .map(|name| std::fs::read(dir.path().join(name)).expect("seed files read"))
        .collect();
    run(
        config(48, 2),
        (0..FILES.len(), damage()),
        |(file, damage)| {
            let path = dir.path().join(FILES[file]);
            let bytes = damage.apply(&originals[file]);
            std::fs::write(&path, &bytes).expect("writes");
            let outcome = std::panic::catch_unwind(|| validate(dir.path()));
            std::fs::write(&path, &originals[file]).expect("restores");
            let outcome = match outcome {
                Ok(outcome) => outcome?,
                Err(_) => return Err(TestCaseError::fail("validation panicked")),
            };
            let Some(problems) = outcome else {
                return Ok(());
            };
            problems_name_files(&problems)?;
            // A file that is not UTF-8, or not a JSON array, is itself reported.
            let whole_file_problem = match std::str::from_utf8(&bytes) {
                Err(_) => true,
                Ok(text) => serde_json::from_str::<Vec<Value>>(text).is_err(),
            };
            if whole_file_problem {
                prop_assert!(
                    problems
                        .iter()
                        .any(|problem| problem.file == FILES[file] && problem.record.is_none()),
                    "{} unreadable, but no problem names it: {:?}",
                    FILES[file],
                    problems
                );
            }
            Ok(())
        },
    );
}

/// A change to one record of a seed file, made on its JSON.
#[derive(Clone, Debug)]
enum FieldEdit {
    /// Add a field no record type has.
    Add(String),
    /// Remove a field.
    Remove(prop::sample::Index),
    /// Replace a field's value.
    Replace(prop::sample::Index, Value),
}

fn edit() -> impl Strategy<Value = FieldEdit> {
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[0-9X./-]{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{}])),
        Just(json!({"exact": -1})),
        Just(json!({"low": 5, "high": 1})),
    ];
    prop_oneof![
        "zz[a-z]{0,6}".prop_map(FieldEdit::Add),
        any::<prop::sample::Index>().prop_map(FieldEdit::Remove),
        (any::<prop::sample::Index>(), value).prop_map(|(at, value)| FieldEdit::Replace(at, value)),
    ]
}

#[test]
fn an_edited_seed_record_is_accepted_or_reported_never_a_panic() {
    let dir = seed_copy();
    let originals: Vec<Vec<Value>> = FILES
        .iter()
        .map(|name| {
            serde_json::from_slice(&std::fs::read(dir.path().join(name)).expect("reads"))
                .expect("the seed parses")
        })
        .collect();
    let texts: Vec<Vec<u8>> = FILES
        .iter()
        .map(|name| std::fs::read(dir.path().join(name)).expect("reads"))
        .collect();
    let cases = (0..FILES.len(), any::<prop::sample::Index>(), edit());
    run(config(48, 2), cases, |(file, record, edit)| {
        let mut records = originals[file].clone();
        let at = record.index(records.len());
        let id = records[at]["id"]
            .as_str()
            .expect("seed records have ids")
            .to_owned();
        let fields = records[at].as_object_mut().expect("records are objects");
        let keys: Vec<String> = fields.keys().cloned().collect();
        match &edit {
            FieldEdit::Add(name) => {
                fields.insert(name.clone(), json!(1));
            }
            FieldEdit::Remove(which) => {
                fields.remove(&keys[which.index(keys.len())]);
            }
            FieldEdit::Replace(which, value) => {
                fields.insert(keys[which.index(keys.len())].clone(), value.clone());
            }
        }
        let path = dir.path().join(FILES[file]);
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&records).expect("serializes"),
        )
        .expect("writes");
        let outcome = std::panic::catch_unwind(|| validate(dir.path()));
        std::fs::write(&path, &texts[file]).expect("restores");
        let outcome = match outcome {
            Ok(outcome) => outcome?,
            Err(_) => return Err(TestCaseError::fail("validation panicked")),
        };
        if let Some(problems) = &outcome {
            problems_name_files(problems)?;
        }
        if let FieldEdit::Add(name) = &edit {
            let problems = outcome.unwrap_or_default();
            prop_assert!(
                problems.iter().any(|problem| problem.file == FILES[file]
                    && problem.record.as_deref() == Some(id.as_str())
                    && problem.message.contains(name.as_str())),
                "unknown field `{}` in {} record `{}` not reported: {:?}",
                name,
                FILES[file],
                id,
                problems
            );
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// 5. The response cache's normal form of a document
// ---------------------------------------------------------------------------------------

/// What may separate a token of a generated document from the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gap {
    /// Any ignored tokens, or none.
    Any,
    /// No comment: between `on` and a type condition's name, or after a variable `on`.
    NoComment,
    /// Nothing: inside a type reference, which async-graphql reads as one token.
    Nothing,
}

/// Documents as space-separated tokens. `^` before a token: nothing may come before it;
/// `~`: no comment may. `S` stands for a string value, `N` for a number.
const TOKENIZED_DOCUMENTS: [&str; 5] = [
    "query Q ( $ v : [ ^Int ^! ^] ^! $ w : String = S $ on ~: ^Int ) @ skip ( if : false ) \
     { a ( x : $ v y : [ N N S ] z : { k : S l : N } ) { ... on ~T { b } ... F } } \
     fragment F on ~T { c ( s : S ) }",
    "{ n1 : node ( id : S ) { id ... on ~Country { name } } }",
    "query { search ( text : S ) { nodes { __typename ... @ include ( if : true ) { id } } } }",
    "mutation M ( $ ids : [ ^[ ^ID ^! ^] ^] = [ [ S ] ] ) { x ( n : N ) }",
    "{ a ( x : S y : S z : [ S S ] ) b : c ( n : N ) }",
];

/// The bytes the normal form keeps no space beside.
fn is_punctuator(token: &str) -> bool {
    token == "..." || (token.len() == 1 && "!$&():=@[]{|}".contains(token))
}

/// A document's tokens with the gap before each; `S` and `N` filled in.
fn tokenized_document() -> impl Strategy<Value = Vec<(Gap, String)>> {
    (
        select(TOKENIZED_DOCUMENTS.to_vec()),
        vec(string_value(), 12),
        vec(
            select(vec!["0", "1", "-2", "3.25", "-4.5e-3", "6E+2", "70"]),
            12,
        ),
    )
        .prop_map(|(document, strings, numbers)| {
            let (mut strings, mut numbers) =
                (strings.into_iter().cycle(), numbers.into_iter().cycle());
            document
                .split_whitespace()
                .map(|token| {
                    let (gap, token) = match token.as_bytes()[0] {
                        b'^' => (Gap::Nothing, &token[1..]),
                        b'~' => (Gap::NoComment, &token[1..]),
                        _ => (Gap::Any, token),
                    };
                    let token = match token {
                        "S" => strings.next().unwrap_or_default(),
                        "N" => numbers.next().unwrap_or_default().to_owned(),
                        token => token.to_owned(),
                    };
                    (gap, token)
                })
                .collect()
        })
}

/// Any sequence of tokens and near-tokens (`.`, `..`, a lone `-`), valid or not.
fn token_soup() -> impl Strategy<Value = Vec<(Gap, String)>> {
    let token = prop_oneof![
        4 => select(vec![
            "{", "}", "(", ")", "[", "]", "!", "$", ":", "=", "@", "|", "&", "...", ".", "..",
            "-", "a", "on", "query", "fragment", "Int", "T", "1", "-2", "3.5", "e5", "\"\"",
        ])
        .prop_map(str::to_owned),
        1 => string_value(),
    ];
    vec(token.prop_map(|token| (Gap::Any, token)), 1..24)
}

/// The tokens written out: before each, ignored tokens its gap allows (`None`: the least
/// the tokens need, a space between two that are not punctuators).
fn write_tokens(tokens: &[(Gap, String)], gaps: Option<&[String]>) -> String {
    let mut text = String::new();
    let mut previous: Option<&str> = None;
    for (index, (gap, token)) in tokens.iter().enumerate() {
        let mut between = match (gap, gaps) {
            (_, None) | (Gap::Nothing, _) => String::new(),
            (Gap::NoComment, Some(gaps)) => match &gaps[index % gaps.len()] {
                gap if gap.contains('#') => " ".to_owned(),
                gap => gap.clone(),
            },
            (Gap::Any, Some(gaps)) => gaps[index % gaps.len()].clone(),
        };
        // Two names, numbers or strings need something between them, or they run together.
        if between.is_empty()
            && previous.is_some_and(|previous| !is_punctuator(previous))
            && !is_punctuator(token)
        {
            between = " ".to_owned();
        }
        text.push_str(&between);
        text.push_str(token);
        previous = Some(token);
    }
    if let Some(gaps) = gaps {
        text.push_str(&gaps[tokens.len() % gaps.len()]);
    }
    text
}

fn normal_form(document: &str) -> Result<String, Unnormalizable> {
    let mut out = Vec::new();
    normalize(document, &mut out)?;
    Ok(String::from_utf8(out).expect("the normal form of text is text"))
}

proptest! {
    #![proptest_config(config(300, 100))]

    #[test]
    fn ignored_tokens_between_the_tokens_of_a_document_never_change_its_normal_form(
        tokens in tokenized_document(),
        gaps in vec(trivia(), 1..16),
    ) {
        let tight = write_tokens(&tokens, None);
        let spread = write_tokens(&tokens, Some(&gaps));
        // The least a document needs between its tokens is its normal form.
        prop_assert_eq!(normal_form(&tight), Ok(tight.clone()));
        prop_assert_eq!(normal_form(&spread), Ok(tight.clone()), "{:?}", spread);
        prop_assert!(async_graphql::parser::parse_query(&tight).is_ok(), "{:?}", tight);
    }

    #[test]
    fn documents_with_one_normal_form_parse_alike(
        tokens in prop_oneof![token_soup(), tokenized_document()],
        first in vec(trivia(), 1..16),
        second in vec(trivia(), 1..16),
    ) {
        // Gaps anywhere, inside type references and after `on` too.
        let anywhere = |tokens: &[(Gap, String)]| -> Vec<(Gap, String)> {
            tokens.iter().map(|(_, token)| (Gap::Any, token.clone())).collect()
        };
        let tokens = anywhere(&tokens);
        let (first, second) = (write_tokens(&tokens, Some(&first)), write_tokens(&tokens, Some(&second)));
        if let (Ok(a), Ok(b)) = (normal_form(&first), normal_form(&second)) {
            if a == b {
                prop_assert_eq!(
                    async_graphql::parser::parse_query(&first).is_ok(),
                    async_graphql::parser::parse_query(&second).is_ok(),
                    "{:?} and {:?} share the normal form {:?}", first, second, a
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The guard over HTTP: GET and POST alike
// ---------------------------------------------------------------------------------------

/// The first error code of an answer, or `"none"` when it has no error or no code.
fn first_code(answer: &Value) -> String {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

proptest! {
    #![proptest_config(config(64, 5))]

    /// Hostile text sent by POST and by GET to the router `main` serves: neither fails
    /// the server (which runs in this process, so a stack overflow would abort the test
    /// binary), and both come to the same verdict. A GET once parsed its document before
    /// the guard had checked it.
    #[test]
    fn get_and_post_come_to_the_same_verdict_on_hostile_text(text in hostile_text()) {
        let rt = runtime();
        let url = http_server();
        let client = reqwest::Client::new();
        let Some((post, get)) = rt.block_on(async {
            let post = client
                .post(url)
                .json(&json!({ "query": text }))
                .send()
                .await
                .expect("POST answered");
            let get = client
                .get(url)
                .query(&[("query", &text)])
                .build()
                .expect("a request");
            // Past the longest URI hyper parses, it refuses the request (414) and closes
            // the connection while the client still writes: then POST alone is compared.
            let long = get.url().as_str().len() > 65_534;
            let get = match client.execute(get).await {
                Ok(get) => get,
                Err(_) if long => return None,
                Err(error) => panic!("GET {text:?}: {error}"),
            };
            let status = (post.status(), get.status());
            let bodies = (
                post.json::<Value>().await.unwrap_or(Value::Null),
                get.json::<Value>().await.unwrap_or(Value::Null),
            );
            Some(((status.0, bodies.0), (status.1, bodies.1)))
        })
        else {
            return Ok(());
        };
        prop_assert_eq!(get.0, 200, "GET {:?}: {}", text, get.1);
        if post.0 == 413 {
            // Over the body limit by POST; over the guard's length limit by GET.
            prop_assert!(text.len() > Limits::default().max_query_bytes, "{:?}", text);
            prop_assert_eq!(first_code(&get.1), "QUERY_TOO_COMPLEX", "{:?}", text);
            return Ok(());
        }
        prop_assert_eq!(post.0, 200, "POST {:?}: {}", text, post.1);
        prop_assert_eq!(first_code(&post.1), first_code(&get.1), "{:?}", text);
        prop_assert_eq!(post.1["data"].is_null(), get.1["data"].is_null(), "{:?}", text);
    }
}

/// The address of one server for every case: the router `main` serves, over a seeded
/// store, on a runtime of its own thread, for as long as the test binary runs.
fn http_server() -> &'static str {
    static ADDRESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ADDRESS.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let server = crate::support::TestServer::spawn().await;
                sender.send(server.url("/graphql")).expect("the test waits");
                std::future::pending::<()>().await;
            });
        });
        receiver.recv().expect("the server starts")
    })
}
