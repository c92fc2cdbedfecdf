//! Seed loading: the embedded or `--seed-dir` JSON files in, validated records out.
//!
//! `SeedSource::read` streams: each file is parsed element by element and each valid
//! record handed on as soon as it is checked, so a seed of a million records is read in
//! memory proportional to its ids, not its size. Validation reports every problem at once
//! (file, record id, line and column for syntax errors); a reader of `read` must discard
//! what it was handed when the result is an error. `validate` collects a whole
//! `model::Dataset`, for tests and small seeds. Knows nothing of the store or GraphQL.

mod json;
mod pipeline;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::arena::{Arena, ArenaIndex};
use crate::model::{
    Actor, Agreement, Country, Dataset, Facility, Incident, IncidentLinkKind, Organization, Person,
    RecordKind, SourceDocument, Speaker, Statement,
};
use json::Reporter;
pub use json::{
    AGREEMENT_FIELDS, COUNTRY_FIELDS, FACILITY_FIELDS, INCIDENT_FIELDS, ORGANIZATION_FIELDS,
    PERSON_FIELDS,
};
use pipeline::{DocumentsRead, Element, FileOutcome, Parsed};

/// The seed files, in the order they are hashed: the six files of records, then the
/// source documents they cite (`documents.json`, read first: every source locator of the
/// others names one of its ids).
pub const FILES: [&str; 7] = [
    "countries.json",
    "organizations.json",
    "people.json",
    "agreements.json",
    "facilities.json",
    "incidents.json",
    "documents.json",
];

/// How many of `FILES` hold records (the first six); the last is `DOCUMENTS`.
const RECORD_FILES: usize = 6;

/// The seed compiled into the binary, so it runs from any directory.
const EMBEDDED: [&str; 7] = [
    include_str!("../../seed/countries.json"),
    include_str!("../../seed/organizations.json"),
    include_str!("../../seed/people.json"),
    include_str!("../../seed/agreements.json"),
    include_str!("../../seed/facilities.json"),
    include_str!("../../seed/incidents.json"),
    include_str!("../../seed/documents.json"),
];

/// One problem found in a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// The id of the record at fault, when the problem is within one record.
    pub record: Option<String>,
    /// Line and column (1-based) of a JSON syntax error.
    pub line_column: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.line_column {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(record) = &self.record {
            write!(f, ": record `{record}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed directory {path} cannot be read: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("seed {origin} has {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A valid record, as `SeedSource::read` hands it on.
#[derive(Clone, Debug)]
pub enum SeedRecord {
    Country(Country),
    Organization(Organization),
    Person(Person),
    Agreement(Agreement),
    Facility(Facility),
    Incident(Incident),
}

/// Where a seed's files are: compiled in, or a directory. Files are read when the seed
/// is read or hashed, one at a time and streamed, so a seed of any size is read in
/// bounded memory.
#[derive(Clone, Debug)]
pub struct SeedSource {
    dir: Option<PathBuf>,
}

impl SeedSource {
    /// The seed compiled into this binary.
    pub fn embedded() -> SeedSource {
        SeedSource { dir: None }
    }

    /// The seed files of `dir`. A missing or unreadable file is a problem reported by
    /// `read`, alongside every other.
    pub fn from_dir(dir: &Path) -> Result<SeedSource, SeedError> {
        std::fs::metadata(dir).map_err(|source| SeedError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        Ok(SeedSource {
            dir: Some(dir.to_owned()),
        })
    }

    /// Where the seed came from: a directory, or `(embedded)`.
    pub fn origin(&self) -> String {
        match &self.dir {
            Some(dir) => dir.display().to_string(),
            None => "(embedded)".to_owned(),
        }
    }

    /// One file's bytes and length, or why it cannot be read.
    fn open(&self, index: usize) -> Result<(Box<dyn Read + '_>, u64), String> {
        match &self.dir {
            None => Ok((
                Box::new(EMBEDDED[index].as_bytes()),
                EMBEDDED[index].len() as u64,
            )),
            Some(dir) => {
                let file = File::open(dir.join(FILES[index]))
                    .map_err(|error| format!("cannot be read: {error}"))?;
                let len = file
                    .metadata()
                    .map_err(|error| format!("cannot be read: {error}"))?
                    .len();
                Ok((Box::new(file), len))
            }
        }
    }

    /// One file's bytes, whole, or why it cannot be read.
    fn read_whole(&self, index: usize) -> Result<Vec<u8>, String> {
        let (mut file, len) = self.open(index)?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or_default());
        file.read_to_end(&mut bytes)
            .map_err(|error| format!("cannot be read: {error}"))?;
        Ok(bytes)
    }

    /// A SHA-256 over every file's name and contents, in hex: the seed's identity.
    /// Reads every file; see `fingerprint` for the cheap check.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for (index, name) in FILES.iter().enumerate() {
            let opened = self.open(index);
            hash_header(&mut hasher, name, &opened);
            if let Ok((file, _)) = opened {
                // A file that fails half-way hashes as far as it was read: it differs
                // from the whole file, which is all an identity needs.
                let _ = std::io::copy(
                    &mut HashingReader::new(&mut hasher, file),
                    &mut std::io::sink(),
                );
            }
        }
        hex(&hasher.finalize())
    }

    /// Names, sizes and modification times of the files (the embedded seed: its content
    /// hash): a stand-in for `content_hash` that costs no reading. A store remembers the
    /// fingerprint of the seed it imported, so a restart on an unchanged seed directory
    /// need not read hundreds of megabytes to learn that nothing changed.
    pub fn fingerprint(&self) -> String {
        let Some(dir) = &self.dir else {
            return format!("embedded:{}", self.content_hash());
        };
        let mut hasher = Sha256::new();
        for name in FILES {
            hasher.update(name.as_bytes());
            if let Ok(metadata) = std::fs::metadata(dir.join(name)) {
                hasher.update(metadata.len().to_be_bytes());
                let modified = metadata
                    .modified()
                    .ok()
                    .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |since| since.as_nanos());
                hasher.update(modified.to_be_bytes());
            }
        }
        format!("files:{}", hex(&hasher.finalize()))
    }

    /// Parses and checks every file and record, lending each valid record to `sink` as
    /// it is read, in file order; returns the content hash. Any problem makes it an
    /// error listing every problem, and then what `sink` made of the records must be
    /// discarded.
    ///
    /// Parsing runs on every core (`pipeline`); the checks and `sink` run on this thread.
    pub fn read(&self, mut sink: impl FnMut(&SeedRecord)) -> Result<String, SeedError> {
        self.read_prepared(|_| (), |record, (), _| sink(record))
    }

    /// `read`, lending `sink` each record with what `prepare` made of it, and the ids
    /// of the files read so far (`ReadIds`). `prepare` runs on the parser threads as
    /// records are parsed, checked or not: work that needs no order belongs there, off
    /// the one thread that checks and sinks.
    pub fn read_prepared<P: Send>(
        &self,
        prepare: impl Fn(&SeedRecord) -> P + Sync,
        sink: impl FnMut(&SeedRecord, &P, &ReadIds<'_>),
    ) -> Result<String, SeedError> {
        self.read_to(prepare, sink)
    }

    /// `read_prepared`, into a `Sink` that may read ahead.
    pub fn read_to<P: Send>(
        &self,
        prepare: impl Fn(&SeedRecord) -> P + Sync,
        mut sink: impl Sink<P>,
    ) -> Result<String, SeedError> {
        let mut checks = Checks::default();
        // The source documents first: small, and every locator of the records names one.
        let documents_bytes = self.read_whole(DOCUMENTS);
        let (document_ids, documents) = checks.documents(&documents_bytes);
        sink.documents(&documents);
        drop(documents);
        let documents_read = DocumentsRead {
            bytes: &documents_bytes,
            ids: document_ids.as_ref(),
        };
        // The file being read: where `checks` stood before it, its ids, and whether an
        // element was not JSON.
        let mut current: Option<(Mark, IdSet, bool)> = None;
        let hash = pipeline::read(self, &documents_read, &prepare, |parsed| match parsed {
            Parsed::Elements {
                file,
                first_position,
                mut elements,
            } => {
                let (_, seen, malformed) =
                    current.get_or_insert_with(|| (checks.mark(), IdSet::default(), false));
                let mut position = first_position;
                for group in elements.chunks_mut(LOOK_AHEAD) {
                    let taken = || group.iter().filter_map(|element| element.as_ref().ok());
                    checks.look_ahead(taken(), seen);
                    sink.look_ahead(taken().filter_map(|element| element.prepared.as_ref()));
                    for element in group.iter_mut() {
                        match element {
                            Ok(element) => {
                                checks.take(file, position, element, seen);
                                if let (Some(record), Some(prepared)) =
                                    (&element.record, &element.prepared)
                                {
                                    sink.take(record, prepared, &ReadIds { ids: &checks.ids });
                                }
                            }
                            Err(NotJson) => *malformed = true,
                        }
                        position += 1;
                    }
                }
            }
            Parsed::End { file, outcome } => {
                let (mark, seen, malformed) = current
                    .take()
                    .unwrap_or_else(|| (checks.mark(), IdSet::default(), false));
                self.end_file(&mut checks, file, outcome, mark, seen, malformed);
            }
        });
        let problems = checks.finish();
        if problems.is_empty() {
            Ok(hash)
        } else {
            Err(SeedError::Invalid {
                origin: self.origin(),
                problems,
            })
        }
    }

    /// Parses and checks every file and record; all problems or a whole dataset, each
    /// list sorted by id. Holds the whole seed in memory: for tests and small seeds.
    pub fn validate(&self) -> Result<Dataset, SeedError> {
        struct Collect<'d>(&'d mut Dataset);
        impl Sink<()> for Collect<'_> {
            fn documents(&mut self, documents: &[SourceDocument]) {
                self.0.documents = documents.to_vec();
            }

            fn take(&mut self, record: &SeedRecord, (): &(), _: &ReadIds<'_>) {
                let dataset = &mut *self.0;
                match record {
                    SeedRecord::Country(record) => dataset.countries.push(record.clone()),
                    SeedRecord::Organization(record) => dataset.organizations.push(record.clone()),
                    SeedRecord::Person(record) => dataset.people.push(record.clone()),
                    SeedRecord::Agreement(record) => dataset.agreements.push(record.clone()),
                    SeedRecord::Facility(record) => dataset.facilities.push(record.clone()),
                    SeedRecord::Incident(record) => dataset.incidents.push(record.clone()),
                }
            }
        }
        let mut dataset = Dataset::default();
        self.read_to(|_| (), Collect(&mut dataset))?;
        sort_by_id(&mut dataset);
        Ok(dataset)
    }

    /// Settles one file once every element is checked: its ids are known, or it is
    /// reported whole (unreadable, changed, or not JSON) and what its records added to
    /// `checks` is forgotten.
    fn end_file(
        &self,
        checks: &mut Checks,
        index: usize,
        outcome: FileOutcome,
        mark: Mark,
        seen: IdSet,
        malformed: bool,
    ) {
        match outcome {
            FileOutcome::Unopened(message) => checks.file_problem(index, message, None),
            FileOutcome::Array { complete: true } if !malformed => checks.complete(index, seen),
            FileOutcome::Array { complete: false } if !malformed => {
                checks.rewind(mark);
                checks.file_problem(index, "changed while it was being read".to_owned(), None);
            }
            FileOutcome::Array { .. } | FileOutcome::Malformed => {
                // A file that does not parse contributes only its syntax error: what was
                // read before it is not checked against what could not be read. The
                // error comes from serde_json, which words it and places it exactly.
                checks.rewind(mark);
                let (message, position) = match self.open(index).map(|(file, _)| syntax_error(file))
                {
                    Ok(Some(error)) => (
                        without_position(error.to_string()),
                        (error.line() > 0).then(|| (error.line(), error.column())),
                    ),
                    Ok(None) => ("is not a JSON array of records".to_owned(), None),
                    Err(message) => (message, None),
                };
                checks.file_problem(index, message, position);
            }
            FileOutcome::Failed(error) => {
                checks.rewind(mark);
                checks.file_problem(index, format!("cannot be read: {error}"), None);
            }
        }
    }
}

/// How `split_array` ended.
#[derive(Debug, PartialEq, Eq)]
enum Split {
    /// The input was one JSON array, every element of which was handed on.
    Whole,
    /// The input is not a well-formed JSON array; some elements may have been handed on.
    Malformed,
}

/// Hands on each element of the JSON array `input` holds, as bytes, reading it in large
/// blocks; reads `input` to its end whatever it finds (the seed hash covers it all).
///
/// Only the array's own structure is checked here (brackets, commas, strings, so that
/// the elements' extents are right); each element is parsed by the caller, and on
/// `Malformed` the caller asks serde_json for the error. This is the import's hot path:
/// serde_json over an `io::Read` goes byte by byte, parsing a slice is several times
/// faster.
fn split_array(input: &mut dyn Read, element: impl FnMut(&[u8])) -> std::io::Result<Split> {
    split_array_in_blocks(input, 4 << 20, element)
}

fn split_array_in_blocks(
    input: &mut dyn Read,
    block: usize,
    mut element: impl FnMut(&[u8]),
) -> std::io::Result<Split> {
    let mut buffer: Vec<u8> = Vec::with_capacity(block * 2);
    let mut at = 0;
    let mut eof = false;
    // Where we are: before '[', before an element (or ']' when `first`), after one.
    #[derive(PartialEq)]
    enum State {
        Start,
        Element { first: bool },
        After,
        End,
    }
    let mut state = State::Start;
    // Drops what was consumed and appends the next block.
    let fill = |input: &mut dyn Read, buffer: &mut Vec<u8>, at: &mut usize, eof: &mut bool| {
        buffer.drain(..*at);
        *at = 0;
        let start = buffer.len();
        buffer.resize(start + block, 0);
        let read = read_full(input, &mut buffer[start..])?;
        buffer.truncate(start + read);
        *eof = read == 0;
        std::io::Result::Ok(())
    };
    loop {
        while at < buffer.len() && matches!(buffer[at], b' ' | b'\t' | b'\n' | b'\r') {
            at += 1;
        }
        if at == buffer.len() {
            if eof {
                return Ok(if state == State::End {
                    Split::Whole
                } else {
                    Split::Malformed
                });
            }
            fill(input, &mut buffer, &mut at, &mut eof)?;
            continue;
        }
        let byte = buffer[at];
        match state {
            State::Start if byte == b'[' => {
                at += 1;
                state = State::Element { first: true };
            }
            State::Element { first: true } if byte == b']' => {
                at += 1;
                state = State::End;
            }
            State::Element { .. } => match value_end(&buffer[at..]) {
                Some(Ok(len)) => {
                    element(&buffer[at..at + len]);
                    at += len;
                    state = State::After;
                }
                Some(Err(())) => break,
                None if eof => break,
                None => fill(input, &mut buffer, &mut at, &mut eof)?,
            },
            State::After if byte == b',' => {
                at += 1;
                state = State::Element { first: false };
            }
            State::After if byte == b']' => {
                at += 1;
                state = State::End;
            }
            _ => break,
        }
    }
    std::io::copy(input, &mut std::io::sink())?;
    Ok(Split::Malformed)
}

/// Reads until `buffer` is full or the input ends.
fn read_full(input: &mut dyn Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buffer.len() {
        match input.read(&mut buffer[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(read)
}

/// The length of the JSON value `bytes` starts with: `None` when `bytes` ends first,
/// `Err` when it cannot be a value. Tracks only strings and bracket depth; the value's
/// own syntax is checked when it is parsed.
fn value_end(bytes: &[u8]) -> Option<Result<usize, ()>> {
    let mut depth = 0usize;
    let mut index = 0;
    loop {
        let byte = *bytes.get(index)?;
        match byte {
            b'"' => {
                index += 1;
                // Strings are most of a seed's bytes: find their ends a word at a time.
                loop {
                    index += memchr::memchr2(b'"', b'\\', bytes.get(index..)?)?;
                    match bytes[index] {
                        b'\\' => index += 2,
                        _ => break,
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(if index == 0 { Err(()) } else { Ok(index) }),
            b'}' | b']' => depth -= 1,
            b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                return Some(if index == 0 { Err(()) } else { Ok(index) })
            }
            _ => {}
        }
        index += 1;
        if depth == 0 && matches!(byte, b'"' | b'}' | b']') {
            return Some(Ok(index));
        }
    }
}

/// serde_json's account of why `input` is not a JSON array, if it is not.
fn syntax_error(input: impl Read) -> Option<serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(input));
    serde::Deserializer::deserialize_seq(&mut deserializer, Elements)
        .and_then(|()| deserializer.end())
        .err()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Feeds the seed hash a file's name, and its length when it can be read; its contents
/// follow through a `HashingReader`.
fn hash_header<T>(hasher: &mut Sha256, name: &str, opened: &Result<(T, u64), String>) {
    hasher.update(name.as_bytes());
    hasher.update([0]);
    if let Ok((_, len)) = opened {
        hasher.update(len.to_be_bytes());
    }
}

/// Hashes the bytes it reads.
struct HashingReader<'h, R> {
    hasher: &'h mut Sha256,
    inner: R,
    read: u64,
}

impl<'h, R> HashingReader<'h, R> {
    fn new(hasher: &'h mut Sha256, inner: R) -> Self {
        HashingReader {
            hasher,
            inner,
            read: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        self.read += read as u64;
        Ok(read)
    }
}

/// Visits a JSON array, checking its syntax and nothing else.
struct Elements;

impl<'de> serde::de::Visitor<'de> for Elements {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a sequence")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

fn sort_by_id(dataset: &mut Dataset) {
    dataset.countries.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.organizations.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.people.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.agreements.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.facilities.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.incidents.sort_by(|a, b| a.id.cmp(&b.id));
    dataset.documents.sort_by(|a, b| a.id.cmp(&b.id));
}

/// The problems found so far, the ids of each file read, and references waiting for
/// a file not read yet.
#[derive(Default)]
struct Checks {
    /// Syntax errors and each record's own problems, in the order found.
    problems: Vec<Problem>,
    /// Repeated country codes and dangling references, with `(file, record, check)`
    /// numbers, reported after every other problem in that order.
    references: Vec<((usize, usize, usize), Problem)>,
    /// References to a file not read yet, checked at the end.
    pending: PendingReferences,
    /// The ids of each file read, `None` for a file that could not be read or parsed:
    /// references into it go unchecked rather than reported once per reference.
    ids: [Option<IdSet>; 6],
    /// Whether each file has been read, well or not.
    read: [bool; 6],
    /// The links of the incidents read so far, each checked for its inverse on the
    /// linked incident once the whole file is read (`complete`).
    links: Vec<LinkStated>,
    /// The ids of the incidents read so far that did not parse: their links are unknown,
    /// so links to them are not checked for an inverse (their own problem is reported).
    unparsed_incidents: HashSet<Box<str>>,
    codes: HashMap<String, Box<str>>,
    counter: usize,
    /// The hashes `look_ahead` reads ahead: of the ids the records refer to, one list
    /// per file (as `ids`), then of their own ids; kept for its next call.
    ahead: [Vec<u64>; 7],
}

/// One incident's link to another, as stated, for the check of its inverse.
struct LinkStated {
    order: (usize, usize, usize),
    record: Box<str>,
    kind: IncidentLinkKind,
    target: Box<str>,
}

/// References to a file not read yet, kept compactly: a large seed has millions (an
/// agreement names its facilities before facilities.json is read), and a tuple of boxed
/// strings per reference cost twice the memory of the import itself. Ids are kept end
/// to end in one buffer; a record's id once for all its references.
#[derive(Default)]
struct PendingReferences {
    references: Vec<PendingReference>,
    /// `(file, position, id range in text)` of each record with pending references.
    records: Vec<(usize, usize, std::ops::Range<usize>)>,
    text: String,
}

struct PendingReference {
    /// The check's number (see `Checks::next_order`).
    counter: usize,
    /// Its record, in `records`.
    record: usize,
    field: &'static str,
    target: std::ops::Range<usize>,
    target_file: usize,
}

impl PendingReferences {
    fn len(&self) -> usize {
        self.references.len()
    }

    fn push(
        &mut self,
        order: (usize, usize, usize),
        record: &str,
        field: &'static str,
        target: &str,
        target_file: usize,
    ) {
        let (index, position, counter) = order;
        let same_record = self.records.last().is_some_and(|(file, at, id)| {
            (*file, *at) == (index, position) && self.text[id.clone()] == *record
        });
        if !same_record {
            let start = self.text.len();
            self.text.push_str(record);
            self.records.push((index, position, start..self.text.len()));
        }
        let start = self.text.len();
        self.text.push_str(target);
        self.references.push(PendingReference {
            counter,
            record: self.records.len() - 1,
            field,
            target: start..self.text.len(),
            target_file,
        });
    }

    /// Forgets the references after the first `len`.
    fn truncate(&mut self, len: usize) {
        self.references.truncate(len);
        let records = self.references.last().map_or(0, |last| last.record + 1);
        self.records.truncate(records);
        let text = self.references.last().map_or(0, |last| last.target.end);
        self.text.truncate(text);
    }
}

/// Records the reader checks, and lends to its sink, a group at a time: first it reads
/// ahead what the whole group will look up (`Checks::look_ahead`, `Sink::look_ahead`),
/// then takes each record. A million-incident seed's ids and tokens fill tables far
/// larger than the processor's caches, where each lookup is a cache miss or three;
/// read ahead together, a group's misses overlap rather than follow one another.
const LOOK_AHEAD: usize = 16;

/// Where `SeedSource::read_to` lends the valid records, one at a time, in file order.
/// A closure taking `(record, prepared, ids)` is one.
pub trait Sink<P> {
    /// Sees, before they are taken, what `prepare` made of the next few records, to
    /// read ahead what taking them will look up (see `LOOK_AHEAD`). Only the speed of
    /// `take` may depend on it; by default it does nothing.
    fn look_ahead<'p>(&mut self, _prepared: impl Iterator<Item = &'p P>)
    where
        P: 'p,
    {
    }

    /// Takes the source documents of `documents.json` (those valid), before any record.
    /// By default it does nothing.
    fn documents(&mut self, _documents: &[SourceDocument]) {}

    /// Takes one valid record, with what `prepare` made of it and the ids of the files
    /// read so far.
    fn take(&mut self, record: &SeedRecord, prepared: &P, ids: &ReadIds<'_>);
}

impl<P, F: FnMut(&SeedRecord, &P, &ReadIds<'_>)> Sink<P> for F {
    fn take(&mut self, record: &SeedRecord, prepared: &P, ids: &ReadIds<'_>) {
        self(record, prepared, ids)
    }
}

/// A set of ids, compact: a large seed holds a million incident ids while it is read.
/// Ids lie end to end in one buffer and a hash index holds their numbers (`arena`):
/// 8 bytes a slot, where a `HashSet<Box<str>>` costs 16 and a heap allocation per id.
#[derive(Default)]
struct IdSet {
    ids: Arena,
    index: ArenaIndex,
}

impl IdSet {
    /// Reads ahead what lookups of ids hashed `hashes` will read (`ArenaIndex::warm`).
    fn warm(&self, hashes: &[u64]) {
        self.index.warm(&self.ids, hashes);
    }

    fn contains(&self, id: &str) -> bool {
        self.number(id).is_some()
    }

    /// The number of `id`: how many ids were added before it.
    fn number(&self, id: &str) -> Option<u32> {
        self.index.find(&self.ids, id.as_bytes())
    }

    /// Adds `id`; false when it was there already.
    fn insert(&mut self, id: &str) -> bool {
        let (_, added) = self.index.find_or_push(&mut self.ids, id.as_bytes());
        // Past 4 GiB of ids, counted as a repeat: the seed is refused with a problem
        // rather than misread.
        added && !self.ids.full
    }
}

/// The ids of the files read in full so far, as the reader numbers them: the first
/// record of a file is 0, the next 1, in file order. A sink that numbers each kind's
/// records in the order it is lent them numbers them alike, as long as the read ends
/// without problems (with problems, whatever the sink made must be discarded anyway),
/// so it can resolve a reference without an index of its own. The reader has just
/// looked up the record's references here, so a second lookup finds them in the cache.
pub struct ReadIds<'a> {
    ids: &'a [Option<IdSet>; 6],
}

impl ReadIds<'_> {
    /// The number of the `kind` record with id `id`, when its file has been read in
    /// full; `None` when it has not, or has no such id.
    pub fn number(&self, kind: RecordKind, id: &str) -> Option<u32> {
        let file = match kind {
            RecordKind::Country => COUNTRIES,
            RecordKind::Organization => ORGANIZATIONS,
            RecordKind::Person => PEOPLE,
            RecordKind::Agreement => AGREEMENTS,
            RecordKind::Facility => FACILITIES,
            RecordKind::Incident => INCIDENTS,
        };
        self.ids[file].as_ref()?.number(id)
    }
}

/// An element that is not even JSON: the file's syntax error is reported instead.
struct NotJson;

/// How far `Checks` had got, to forget a file that turns out not to parse.
struct Mark {
    problems: usize,
    references: usize,
    pending: usize,
    links: usize,
    codes: HashMap<String, Box<str>>,
}

/// What a record refers to, for the reference checks.
trait References {
    /// Calls `refer(field, target id, target file)` for every reference.
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize));
    /// The country code, for countries.
    fn code(&self) -> Option<&str> {
        None
    }
}

const COUNTRIES: usize = 0;
const ORGANIZATIONS: usize = 1;
const PEOPLE: usize = 2;
const AGREEMENTS: usize = 3;
const FACILITIES: usize = 4;
const INCIDENTS: usize = 5;
const DOCUMENTS: usize = 6;

impl Checks {
    fn mark(&self) -> Mark {
        Mark {
            problems: self.problems.len(),
            references: self.references.len(),
            pending: self.pending.len(),
            links: self.links.len(),
            codes: self.codes.clone(),
        }
    }

    fn rewind(&mut self, mark: Mark) {
        self.problems.truncate(mark.problems);
        self.references.truncate(mark.references);
        self.pending.truncate(mark.pending);
        self.links.truncate(mark.links);
        self.codes = mark.codes;
    }

    fn file_problem(&mut self, index: usize, message: String, line_column: Option<(usize, usize)>) {
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

    fn complete(&mut self, index: usize, ids: IdSet) {
        self.read[index] = true;
        if index == INCIDENTS {
            self.check_inverse_links(&ids);
        }
        self.ids[index] = Some(ids);
    }

    /// Checks that every incident link is stated back, with the inverse kind, by the
    /// incident it names (`ids`: every incident id). A link to an incident that does not
    /// exist is the reference check's to report.
    fn check_inverse_links(&mut self, ids: &IdSet) {
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
    fn documents(
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
    fn look_ahead<'e, P: 'e>(
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
                record.references(&mut |_, target, target_file| {
                    ahead[target_file].push(ArenaIndex::hash(target.as_bytes()));
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
    fn take<P>(
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
        if let Some(code) = converted.code() {
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
        converted.references(&mut |field, target, target_file| {
            let order = self.next_order(index, position);
            if self.read[target_file] {
                self.check(order, index, record, field, target, target_file);
            } else {
                self.pending.push(order, record, field, target, target_file);
            }
        });
    }

    fn next_order(&mut self, index: usize, position: usize) -> (usize, usize, usize) {
        self.counter += 1;
        (index, position, self.counter)
    }

    fn check(
        &mut self,
        order: (usize, usize, usize),
        index: usize,
        record: &str,
        field: &str,
        target: &str,
        target_file: usize,
    ) {
        let known = &self.ids[target_file];
        if known.as_ref().is_some_and(|ids| !ids.contains(target)) {
            let what = match target_file {
                COUNTRIES => "country",
                ORGANIZATIONS => "organization",
                PEOPLE => "person",
                AGREEMENTS => "agreement",
                FACILITIES => "facility",
                _ => "incident",
            };
            self.references.push((
                order,
                Problem {
                    file: FILES[index].to_owned(),
                    record: Some(record.to_owned()),
                    line_column: None,
                    message: format!("field `{field}`: no {what} has id `{target}`"),
                },
            ));
        }
    }

    /// Every problem: each file's own, then repeated codes and dangling references.
    fn finish(mut self) -> Vec<Problem> {
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

/// The references of a record's statements: who made each.
fn statement_references(
    statements: &[Statement],
    refer: &mut dyn FnMut(&'static str, &str, usize),
) {
    for statement in statements {
        match &statement.by {
            Some(Speaker::Country(id)) => refer("statements.by.country", id, COUNTRIES),
            Some(Speaker::Organization(id)) => {
                refer("statements.by.organization", id, ORGANIZATIONS)
            }
            Some(Speaker::Person(id)) => refer("statements.by.person", id, PEOPLE),
            None => {}
        }
    }
}

/// serde_json appends " at line L column C" to syntax errors; the position is reported
/// in its own field instead.
fn without_position(mut message: String) -> String {
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    message
}

fn is_slug(text: &str) -> bool {
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

impl References for SeedRecord {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        match self {
            SeedRecord::Country(record) => record.references(refer),
            SeedRecord::Organization(record) => record.references(refer),
            SeedRecord::Person(record) => record.references(refer),
            SeedRecord::Agreement(record) => record.references(refer),
            SeedRecord::Facility(record) => record.references(refer),
            SeedRecord::Incident(record) => record.references(refer),
        }
    }

    fn code(&self) -> Option<&str> {
        match self {
            SeedRecord::Country(record) => record.code(),
            _ => None,
        }
    }
}

impl References for Country {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        statement_references(&self.statements, refer);
    }

    fn code(&self) -> Option<&str> {
        Some(&self.code)
    }
}

impl References for Organization {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        if let Some(country) = &self.country {
            refer("country", country, COUNTRIES);
        }
        if let Some(successor) = &self.succeeded_by {
            refer("succeededBy", successor, ORGANIZATIONS);
        }
        for member in &self.members {
            refer("members.country", &member.country, COUNTRIES);
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Person {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        if let Some(country) = &self.country {
            refer("country", country, COUNTRIES);
        }
        for role in &self.roles {
            if let Some(country) = &role.country {
                refer("roles.country", country, COUNTRIES);
            }
            if let Some(organization) = &role.organization {
                refer("roles.organization", organization, ORGANIZATIONS);
            }
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Agreement {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        for party in &self.parties {
            refer("parties", party, COUNTRIES);
        }
        for facility in &self.facilities {
            refer("facilities", facility, FACILITIES);
        }
        if let Some(extended) = &self.extends {
            refer("extends", extended, AGREEMENTS);
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Facility {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        refer("hostCountry", &self.host_country, COUNTRIES);
        match &self.operator {
            Some(Actor::Country(country)) => refer("operator.country", country, COUNTRIES),
            Some(Actor::Organization(organization)) => {
                refer("operator.organization", organization, ORGANIZATIONS)
            }
            None => {}
        }
        for country in &self.countries {
            refer("countries", country, COUNTRIES);
        }
        if let Some(parent) = &self.part_of {
            refer("partOf", parent, FACILITIES);
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Incident {
    fn references(&self, refer: &mut dyn FnMut(&'static str, &str, usize)) {
        for country in &self.countries {
            refer("countries", country, COUNTRIES);
        }
        for facility in &self.facilities {
            refer("facilities", facility, FACILITIES);
        }
        for organization in &self.organizations {
            refer("organizations", organization, ORGANIZATIONS);
        }
        for person in &self.people {
            refer("people", person, PEOPLE);
        }
        for agreement in &self.agreements {
            refer("agreements", agreement, AGREEMENTS);
        }
        for link in &self.links {
            refer("links.incident", &link.incident, INCIDENTS);
        }
        for side in &self.casualties_by_side {
            refer("casualtiesBySide.country", &side.country, COUNTRIES);
        }
        statement_references(&self.statements, refer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_seed_is_valid() {
        let dataset = SeedSource::embedded()
            .validate()
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(dataset.countries.iter().any(|country| country.code == "KG"));
    }

    #[test]
    fn read_ids_number_the_records_of_files_read_in_full_in_file_order() {
        let mut countries: Vec<String> = Vec::new();
        let mut facilities: Vec<String> = Vec::new();
        let mut checked = 0;
        SeedSource::embedded()
            .read_prepared(
                |_| (),
                |record, (), ids| match record {
                    SeedRecord::Country(country) => {
                        // Its own file is still being read.
                        assert_eq!(ids.number(RecordKind::Country, &country.id), None);
                        countries.push(country.id.clone());
                    }
                    SeedRecord::Facility(facility) => facilities.push(facility.id.clone()),
                    SeedRecord::Incident(incident) => {
                        for (kind, ids_read, targets) in [
                            (RecordKind::Country, &countries, &incident.countries),
                            (RecordKind::Facility, &facilities, &incident.facilities),
                        ] {
                            for target in targets {
                                let position = ids_read.iter().position(|id| id == target);
                                let number = ids.number(kind, target).map(|n| n as usize);
                                assert_eq!(number, position, "{target}");
                                checked += 1;
                            }
                        }
                        assert_eq!(ids.number(RecordKind::Country, "no-such-country"), None);
                    }
                    _ => {}
                },
            )
            .expect("valid");
        assert!(checked > 10, "only {checked} references checked");
    }

    #[test]
    fn an_id_set_holds_each_id_once() {
        let mut set = IdSet::default();
        assert!(!set.contains("a"));
        for n in 0..5_000 {
            assert!(set.insert(&format!("incident-{n}")));
        }
        for n in 0..5_000 {
            assert!(set.contains(&format!("incident-{n}")));
            assert!(!set.insert(&format!("incident-{n}")));
        }
        assert!(!set.contains("incident-5000"));
        assert!(!set.contains(""));
        assert!(set.insert(""));
        assert!(set.contains(""));
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_single_hyphens() {
        assert!(is_slug("kant-air-base"));
        assert!(is_slug("kambarata-1"));
        for bad in [
            "",
            "Kant",
            "kant_air",
            "-kant",
            "kant-",
            "kant--base",
            "kant base",
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    fn copy_of_embedded() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, text) in FILES.iter().zip(EMBEDDED) {
            std::fs::write(dir.path().join(name), text).expect("writes");
        }
        dir
    }

    #[test]
    fn the_hash_changes_with_any_byte_and_is_the_same_read_or_hashed() {
        let copy = copy_of_embedded();
        let seed = SeedSource::from_dir(copy.path()).expect("a directory");
        let hash = seed.content_hash();
        assert_eq!(hash, SeedSource::embedded().content_hash());
        assert_eq!(seed.read(|_| {}).expect("valid"), hash);
        let path = copy.path().join(FILES[5]);
        let mut text = std::fs::read_to_string(&path).expect("reads");
        text.push(' ');
        std::fs::write(&path, text).expect("writes");
        assert_ne!(seed.content_hash(), hash);
    }

    #[test]
    fn the_fingerprint_follows_size_and_modification_time() {
        let copy = copy_of_embedded();
        let seed = SeedSource::from_dir(copy.path()).expect("a directory");
        let before = seed.fingerprint();
        assert_eq!(seed.fingerprint(), before, "stable while nothing changes");
        let path = copy.path().join(FILES[0]);
        let file = File::options().append(true).open(&path).expect("opens");
        file.set_len(file.metadata().expect("metadata").len() + 1)
            .expect("grows");
        assert_ne!(seed.fingerprint(), before);
    }

    #[test]
    fn records_and_problems_keep_file_order_across_batches() {
        let copy = copy_of_embedded();
        let seed = SeedSource::from_dir(copy.path()).expect("a directory");
        let incidents: Vec<serde_json::Value> =
            serde_json::from_str(EMBEDDED[5]).expect("the embedded incidents");
        // Enough records for several batches on each parser.
        let count = 8 * pipeline::BATCH_ELEMENTS + 7;
        let mut many: Vec<serde_json::Value> = (0..count)
            .map(|n| {
                let mut incident = incidents[n % incidents.len()].clone();
                incident["id"] = serde_json::json!(format!("many-{n}"));
                // Links name the originals, and would dangle.
                if let Some(incident) = incident.as_object_mut() {
                    incident.remove("links");
                }
                incident
            })
            .collect();
        let path = copy.path().join(FILES[5]);
        let write = |many: &[serde_json::Value]| {
            std::fs::write(&path, serde_json::to_vec(many).expect("JSON")).expect("writes")
        };
        write(&many);
        let mut read = Vec::new();
        seed.read(|record| {
            if let SeedRecord::Incident(incident) = record {
                read.push(incident.id.clone());
            }
        })
        .expect("valid");
        let expected: Vec<String> = (0..count).map(|n| format!("many-{n}")).collect();
        assert_eq!(read, expected, "handed on in file order");

        let last = count - 1;
        many[1]["id"] = serde_json::json!("Not-A-Slug");
        many[300].as_object_mut().expect("an object").remove("id");
        many[700]["id"] = serde_json::json!("many-3");
        many[last]["unknown"] = serde_json::json!(true);
        write(&many);
        let Err(SeedError::Invalid { problems, .. }) = seed.read(|_| {}) else {
            panic!("an invalid seed was read");
        };
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|problem| {
                assert_eq!(problem.file, FILES[5]);
                (
                    problem.record.as_deref().unwrap_or_default(),
                    problem.message.as_str(),
                )
            })
            .collect();
        let last_id = format!("many-{last}");
        assert_eq!(found.len(), 4, "{found:#?}");
        assert_eq!(found[0].0, "Not-A-Slug");
        assert!(found[0].1.contains("not a slug"), "{found:#?}");
        assert_eq!(found[1], ("#301", "missing field `id`"));
        assert_eq!(found[2], ("many-3", "duplicate id `many-3`"));
        assert_eq!(found[3].0, last_id);
        assert!(found[3].1.contains("unknown field `unknown`"), "{found:#?}");
    }

    fn split(text: &str, block: usize) -> (Split, Vec<String>) {
        let mut elements = Vec::new();
        let split = split_array_in_blocks(&mut text.as_bytes(), block, |element| {
            elements.push(String::from_utf8_lossy(element).into_owned())
        })
        .expect("reads");
        (split, elements)
    }

    #[test]
    fn arrays_split_into_their_elements_across_any_block_boundary() {
        let text =
            " [ {\"a\": \"]\\\"},[\", \"b\": [1, {\"c\": []}]} ,\n[1,2],3 , \"x,]\" ,true\t, \"y\\\\\"]\r\n ";
        let expected = vec![
            "{\"a\": \"]\\\"},[\", \"b\": [1, {\"c\": []}]}".to_owned(),
            "[1,2]".to_owned(),
            "3".to_owned(),
            "\"x,]\"".to_owned(),
            "true".to_owned(),
            "\"y\\\\\"".to_owned(),
        ];
        for block in [1, 2, 3, 7, 64, 1 << 20] {
            assert_eq!(
                split(text, block),
                (Split::Whole, expected.clone()),
                "block {block}"
            );
        }
        assert_eq!(split("[]", 1), (Split::Whole, vec![]));
        assert_eq!(split(" [ ] ", 2), (Split::Whole, vec![]));
    }

    #[test]
    fn an_element_that_is_not_json_is_the_files_syntax_error() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, text) in FILES.iter().zip(EMBEDDED) {
            std::fs::write(dir.path().join(name), text).expect("writes");
        }
        // Brackets that balance in number but not in kind: the splitter passes it on as
        // one element, which does not parse.
        std::fs::write(dir.path().join(FILES[1]), "[[}]").expect("writes");
        let Err(SeedError::Invalid { problems, .. }) = SeedSource::from_dir(dir.path())
            .expect("a directory")
            .read(|_| {})
        else {
            panic!("an invalid seed was read");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, FILES[1]);
        assert_eq!(problems[0].line_column, Some((1, 3)), "{problems:?}");
    }

    #[test]
    fn anything_but_one_array_is_malformed() {
        for text in [
            "",
            " ",
            "[",
            "]",
            "{}",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[1,,2]",
            "[]x",
            "[] []",
            "[\"a]",
            "[{\"a\": 1]",
            "[{]",
            "x[]",
        ] {
            for block in [1, 3, 1 << 20] {
                assert_eq!(
                    split(text, block).0,
                    Split::Malformed,
                    "{text:?} in blocks of {block}"
                );
            }
            assert!(syntax_error(text.as_bytes()).is_some(), "{text:?}");
        }
    }

    #[test]
    fn syntax_errors_have_their_position_apart() {
        let message = without_position("expected value at line 3 column 4".to_owned());
        assert_eq!(message, "expected value");
    }
}
