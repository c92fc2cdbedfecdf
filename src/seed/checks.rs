//! The checks a seed's records pass as they are read (`Checks`): ids unique slugs,
//! country codes unique, incident links stated both ways, the source documents valid,
//! each record's own problems kept in file order, and what a file that does not parse
//! added forgotten. The reference checks are in `references`.

use std::collections::{HashMap, HashSet};

use super::json::{self, Reporter};
use super::pipeline::Element;
use super::references::{file_of, PendingReferences};
use super::{Problem, SeedRecord, DOCUMENTS, FILES, INCIDENTS};
use crate::arena::{Arena, ArenaIndex};
use crate::model::{IncidentLinkKind, References, SourceDocument};

/// The problems found so far, the ids of each file read, and references waiting for
/// a file not read yet.
#[derive(Default)]
pub(super) struct Checks {
    /// Syntax errors and each record's own problems, in the order found.
    pub(super) problems: Vec<Problem>,
    /// Repeated country codes and dangling references, with `(file, record, check)`
    /// numbers, reported after every other problem in that order.
    pub(super) references: Vec<((usize, usize, usize), Problem)>,
    /// References to a file not read yet, checked at the end.
    pub(super) pending: PendingReferences,
    /// The ids of each file read, `None` for a file that could not be read or parsed:
    /// references into it go unchecked rather than reported once per reference.
    pub(super) ids: [Option<IdSet>; 6],
    /// Whether each file has been read, well or not.
    pub(super) read: [bool; 6],
    /// The links of the incidents read so far, each checked for its inverse on the
    /// linked incident once the whole file is read (`complete`).
    pub(super) links: Vec<LinkStated>,
    /// The ids of the incidents read so far that did not parse: their links are unknown,
    /// so links to them are not checked for an inverse (their own problem is reported).
    pub(super) unparsed_incidents: HashSet<Box<str>>,
    pub(super) codes: HashMap<String, Box<str>>,
    pub(super) counter: usize,
    /// The hashes `look_ahead` reads ahead: of the ids the records refer to, one list
    /// per file (as `ids`), then of their own ids; kept for its next call.
    pub(super) ahead: [Vec<u64>; 7],
}

/// One incident's link to another, as stated, for the check of its inverse.
pub(super) struct LinkStated {
    order: (usize, usize, usize),
    record: Box<str>,
    kind: IncidentLinkKind,
    target: Box<str>,
}

/// A set of ids, compact: a large seed holds a million incident ids while it is read.
/// Ids lie end to end in one buffer and a hash index holds their numbers (`arena`):
/// 8 bytes a slot, where a `HashSet<Box<str>>` costs 16 and a heap allocation per id.
#[derive(Default)]
pub(super) struct IdSet {
    pub(super) ids: Arena,
    pub(super) index: ArenaIndex,
}

impl IdSet {
    /// Reads ahead what lookups of ids hashed `hashes` will read (`ArenaIndex::warm`).
    pub(super) fn warm(&self, hashes: &[u64]) {
        self.index.warm(&self.ids, hashes);
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.number(id).is_some()
    }

    /// The number of `id`: how many ids were added before it.
    pub(super) fn number(&self, id: &str) -> Option<u32> {
        self.index.find(&self.ids, id.as_bytes())
    }

    /// Adds `id`; false when it was there already.
    pub(super) fn insert(&mut self, id: &str) -> bool {
        let (_, added) = self.index.find_or_push(&mut self.ids, id.as_bytes());
        // Past 4 GiB of ids, counted as a repeat: the seed is refused with a problem
        // rather than misread.
        added && !self.ids.full
    }
}

/// How far `Checks` had got, to forget a file that turns out not to parse.
pub(super) struct Mark {
    pub(super) problems: usize,
    pub(super) references: usize,
    pub(super) pending: usize,
    pub(super) links: usize,
    pub(super) codes: HashMap<String, Box<str>>,
}

impl Checks {
    pub(super) fn mark(&self) -> Mark {
        Mark {
            problems: self.problems.len(),
            references: self.references.len(),
            pending: self.pending.len(),
            links: self.links.len(),
            codes: self.codes.clone(),
        }
    }

    pub(super) fn rewind(&mut self, mark: Mark) {
        self.problems.truncate(mark.problems);
        self.references.truncate(mark.references);
        self.pending.truncate(mark.pending);
        self.links.truncate(mark.links);
        self.codes = mark.codes;
    }

    pub(super) fn file_problem(
        &mut self,
        index: usize,
        message: String,
        line_column: Option<(usize, usize)>,
    ) {
        if let Some(read) = self.read.get_mut(index) {
            *read = true;
        }
        self.problems.push(Problem {
            file: FILES[index].to_owned(),
            record: None,
            line_column,
            message,
        });
    }

    pub(super) fn complete(&mut self, index: usize, ids: IdSet) {
        self.read[index] = true;
        if index == INCIDENTS {
            self.check_inverse_links(&ids);
        }
        self.ids[index] = Some(ids);
    }

    /// Checks that every incident link is stated back, with the inverse kind, by the
    /// incident it names (`ids`: every incident id). A link to an incident that does not
    /// exist is the reference check's to report.
    pub(super) fn check_inverse_links(&mut self, ids: &IdSet) {
        let links = std::mem::take(&mut self.links);
        let stated: HashSet<(&str, IncidentLinkKind, &str)> = links
            .iter()
            .map(|link| (&*link.record, link.kind, &*link.target))
            .collect();
        for link in &links {
            let message = if link.record == link.target {
                "field `links`: an incident does not link to itself".to_owned()
            } else if !ids.contains(&link.target)
                || self.unparsed_incidents.contains(&link.target)
                || stated.contains(&(&*link.target, link.kind.inverse(), &*link.record))
            {
                continue;
            } else {
                format!(
                    "field `links`: `{}` has no `{}` link back to this incident (a link is stated on both incidents)",
                    link.target,
                    enum_name(&link.kind.inverse()),
                )
            };
            self.references.push((
                link.order,
                Problem {
                    file: FILES[INCIDENTS].to_owned(),
                    record: Some(link.record.to_string()),
                    line_column: None,
                    message,
                },
            ));
        }
    }

    /// Reads and checks `documents.json` (its bytes, or why it cannot be read): every
    /// record's id a unique slug, its fields and dates valid. Returns the ids locators
    /// may name (`None` when the file is unreadable or not a JSON array) and the valid
    /// documents.
    pub(super) fn documents(
        &mut self,
        bytes: &Result<Vec<u8>, String>,
    ) -> (Option<HashSet<String>>, Vec<SourceDocument>) {
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(message) => {
                self.file_problem(DOCUMENTS, message.clone(), None);
                return (None, Vec::new());
            }
        };
        let elements: Vec<serde_json::Value> = match serde_json::from_slice(bytes) {
            Ok(elements) => elements,
            Err(error) => {
                let position = (error.line() > 0).then(|| (error.line(), error.column()));
                self.file_problem(DOCUMENTS, without_position(error.to_string()), position);
                return (None, Vec::new());
            }
        };
        let mut ids = HashSet::new();
        let mut documents = Vec::new();
        for (position, element) in elements.into_iter().enumerate() {
            let id = element.get("id").and_then(serde_json::Value::as_str);
            let has_id = id.is_some();
            let record = id.map_or_else(|| format!("#{}", position + 1), ToOwned::to_owned);
            let mut reporter = Reporter {
                file: FILES[DOCUMENTS],
                record: &record,
                problems: &mut self.problems,
                documents: None,
            };
            if has_id {
                if !is_slug(&record) {
                    reporter.report(format!(
                        "field `id`: `{record}` is not a slug (lowercase letters, digits and single hyphens)"
                    ));
                } else if !ids.insert(record.clone()) {
                    reporter.report(format!("duplicate id `{record}`"));
                }
            }
            match serde_json::from_value::<json::DocumentInput>(element) {
                Ok(input) => {
                    if let Some(document) = input.into_model(&mut reporter) {
                        documents.push(document);
                    }
                }
                Err(error) => reporter.report(error.to_string()),
            }
        }
        (Some(ids), documents)
    }

    /// Reads ahead what taking `elements` will look up: each one's id in `seen` (the
    /// ids of the file being read), and the ids it refers to in the files read.
    pub(super) fn look_ahead<'e, P: 'e>(
        &mut self,
        elements: impl Iterator<Item = &'e Element<P>>,
        seen: &IdSet,
    ) {
        let [ahead @ .., seen_ahead] = &mut self.ahead;
        seen_ahead.clear();
        ahead.iter_mut().for_each(Vec::clear);
        for element in elements {
            if element.has_id {
                seen_ahead.push(ArenaIndex::hash(element.id.as_bytes()));
            }
            if let Some(record) = &element.record {
                record.references(&mut |reference, target| {
                    ahead[file_of(reference.target)].push(ArenaIndex::hash(target.as_bytes()));
                });
            }
        }
        seen.warm(seen_ahead);
        for (ids, hashes) in self.ids.iter().zip(ahead.iter()) {
            if let Some(ids) = ids {
                ids.warm(hashes);
            }
        }
    }

    /// Checks one parsed element, at `position` in file `index`, against what came
    /// before it, and takes its problems.
    pub(super) fn take<P>(
        &mut self,
        index: usize,
        position: usize,
        element: &mut Element<P>,
        seen: &mut IdSet,
    ) {
        let Element {
            id: record,
            has_id,
            record: converted,
            problems,
            ..
        } = element;
        let file = FILES[index];
        if *has_id {
            let mut reporter = Reporter {
                file,
                record,
                problems: &mut self.problems,
                documents: None,
            };
            if !is_slug(record) {
                reporter.report(format!(
                    "field `id`: `{record}` is not a slug (lowercase letters, digits and single hyphens)"
                ));
            } else if !seen.insert(record) {
                reporter.report(format!("duplicate id `{record}`"));
            }
        }
        self.problems.append(problems);
        let Some(converted) = converted else {
            if index == INCIDENTS && *has_id {
                self.unparsed_incidents.insert(record.as_str().into());
            }
            return;
        };
        if let Some(code) = converted.country_code() {
            let order = self.next_order(index, position);
            if let Some(first) = self.codes.get(code) {
                self.references.push((
                    order,
                    Problem {
                        file: file.to_owned(),
                        record: Some(record.clone()),
                        line_column: None,
                        message: format!("code `{code}` is already used by `{first}`"),
                    },
                ));
            } else {
                self.codes.insert(code.to_owned(), record.as_str().into());
            }
        }
        if let SeedRecord::Incident(incident) = converted {
            for link in &incident.links {
                let order = self.next_order(index, position);
                self.links.push(LinkStated {
                    order,
                    record: record.as_str().into(),
                    kind: link.kind,
                    target: link.incident.as_str().into(),
                });
            }
        }
        converted.references(&mut |reference, target| {
            let (field, target_file) = (reference.field, file_of(reference.target));
            let order = self.next_order(index, position);
            if self.read[target_file] {
                self.check(order, index, record, field, target, target_file);
            } else {
                self.pending.push(order, record, field, target, target_file);
            }
        });
    }

    pub(super) fn next_order(&mut self, index: usize, position: usize) -> (usize, usize, usize) {
        self.counter += 1;
        (index, position, self.counter)
    }

    /// Every problem: each file's own, then repeated codes and dangling references.
    pub(super) fn finish(mut self) -> Vec<Problem> {
        let pending = std::mem::take(&mut self.pending);
        for reference in &pending.references {
            let (index, position, record) = &pending.records[reference.record];
            self.check(
                (*index, *position, reference.counter),
                *index,
                &pending.text[record.clone()],
                reference.field,
                &pending.text[reference.target.clone()],
                reference.target_file,
            );
        }
        self.references.sort_by_key(|(order, _)| *order);
        let mut problems = self.problems;
        problems.extend(self.references.into_iter().map(|(_, problem)| problem));
        problems
    }
}

/// An enum value as the seed spells it (`CAUSED_BY`).
fn enum_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// serde_json appends " at line L column C" to syntax errors; the position is reported
/// in its own field instead.
pub(super) fn without_position(mut message: String) -> String {
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    message
}

pub(super) fn is_slug(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Byte by byte: every id is checked, and `str::contains` sets up a substring search
    // each time (1% of reading a large seed).
    !text.is_empty()
        && bytes
            .iter()
            .all(|&byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !bytes
            .windows(2)
            .any(|pair| pair[0] == b'-' && pair[1] == b'-')
}
