//! Reading a seed (`SeedSource::read` and its kin): the streaming orchestration that
//! feeds each file's parsed elements, a group at a time, through the checks (`Checks`)
//! and into a `Sink`, and settles each file at its end. `validate` collects a whole
//! `Dataset`.

use std::fmt;
use std::io::{BufReader, Read};

use super::checks::{without_position, Checks, IdSet, Mark};
use super::pipeline::{self, DocumentsRead, FileOutcome, Parsed};
use super::references::file_of;
use super::{SeedError, SeedRecord, SeedSource, DOCUMENTS};
use crate::model::{Dataset, RecordKind, SourceDocument};

impl SeedSource {
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

/// Records the reader checks, and lends to its sink, a group at a time: first it reads
/// ahead what the whole group will look up (`Checks::look_ahead`, `Sink::look_ahead`),
/// then takes each record. A million-incident seed's ids and tokens fill tables far
/// larger than the processor's caches, where each lookup is a cache miss or three;
/// read ahead together, a group's misses overlap rather than follow one another.
pub(super) const LOOK_AHEAD: usize = 16;

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

/// The ids of the files read in full so far, as the reader numbers them: the first
/// record of a file is 0, the next 1, in file order. A sink that numbers each kind's
/// records in the order it is lent them numbers them alike, as long as the read ends
/// without problems (with problems, whatever the sink made must be discarded anyway),
/// so it can resolve a reference without an index of its own. The reader has just
/// looked up the record's references here, so a second lookup finds them in the cache.
pub struct ReadIds<'a> {
    pub(super) ids: &'a [Option<IdSet>; 6],
}

impl ReadIds<'_> {
    /// The number of the `kind` record with id `id`, when its file has been read in
    /// full; `None` when it has not, or has no such id.
    pub fn number(&self, kind: RecordKind, id: &str) -> Option<u32> {
        self.ids[file_of(kind)].as_ref()?.number(id)
    }
}

/// An element that is not even JSON: the file's syntax error is reported instead.
pub(super) struct NotJson;

/// serde_json's account of why `input` is not a JSON array, if it is not.
pub(super) fn syntax_error(input: impl Read) -> Option<serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(input));
    serde::Deserializer::deserialize_seq(&mut deserializer, Elements)
        .and_then(|()| deserializer.end())
        .err()
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
