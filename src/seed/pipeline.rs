//! Reading a seed on every core: one thread splits and hashes the files, others parse
//! the elements, and the caller's thread checks them in order.
//!
//! Parsing an element (serde, then conversion to a `model` record) is most of a seed's
//! reading cost and depends on nothing but the element, so it runs on as many threads as
//! the machine has cores. Everything that depends on order (ids seen so far, references,
//! which records the caller is handed) stays on one thread. The splitter hands batches
//! to the parsers in turn and the caller takes the results back in the same turn, so the
//! order is kept with no reordering buffer, and the bounded channels keep the memory in
//! flight to a few batches per parser however large the seed.
//!
//! The caller only borrows what it is handed: each batch goes back to the parser that
//! made it (`Returned`), which frees it. Freed on the caller's thread, every string of
//! every record went through mimalloc's list of frees from other threads, which the
//! parser then had to collect: at 1M incidents, an eighth of the parsers' time.

use std::collections::HashSet;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use sha2::{Digest, Sha256};

use super::json::{self, Reporter};
use super::{
    hash_header, hex, split_array, HashingReader, NotJson, Problem, SeedRecord, SeedSource, Split,
    AGREEMENTS, COUNTRIES, DOCUMENTS, FACILITIES, FILES, ORGANIZATIONS, PEOPLE, RECORD_FILES,
};

/// A batch ends after this many elements or bytes, whichever comes first.
pub(super) const BATCH_ELEMENTS: usize = 256;
const BATCH_BYTES: usize = 1 << 20;
/// Batches waiting in each channel.
const DEPTH: usize = 4;
/// More parsers than this would only wait on the one checking thread.
const MAX_PARSERS: usize = 4;

/// What the splitter hands on, in file order.
enum Piece {
    /// Consecutive elements of one file, the first at `first_position` (from 1), lying
    /// end to end in `bytes`, each ending at its entry in `ends`.
    Elements {
        file: usize,
        first_position: usize,
        bytes: Vec<u8>,
        ends: Vec<usize>,
    },
    End {
        file: usize,
        outcome: FileOutcome,
    },
}

/// How reading one file went, as far as the splitter can tell.
pub(super) enum FileOutcome {
    /// It could not be opened: why.
    Unopened(String),
    /// It is one JSON array; `complete` when as many bytes were read as it had when
    /// opened.
    Array { complete: bool },
    /// It is not one JSON array.
    Malformed,
    /// Reading it failed.
    Failed(std::io::Error),
}

/// What the caller is handed, in file order.
pub(super) enum Parsed<P> {
    Elements {
        file: usize,
        first_position: usize,
        /// Each element, or `NotJson` for one that is not even JSON (the file's syntax
        /// error is reported instead).
        elements: Returned<P>,
    },
    End {
        file: usize,
        outcome: FileOutcome,
    },
}

type Elements<P> = Vec<Result<Element<P>, NotJson>>;

/// A parsed batch, sent back to its parser when dropped, to be freed there: by the
/// thread that allocated it.
pub(super) struct Returned<P> {
    elements: Elements<P>,
    home: Sender<Elements<P>>,
}

impl<P> std::ops::Deref for Returned<P> {
    type Target = Elements<P>;

    fn deref(&self) -> &Elements<P> {
        &self.elements
    }
}

impl<P> std::ops::DerefMut for Returned<P> {
    fn deref_mut(&mut self) -> &mut Elements<P> {
        &mut self.elements
    }
}

impl<P> Drop for Returned<P> {
    fn drop(&mut self) {
        // A parser that has ended no longer takes batches back: this one is freed here.
        let _ = self.home.send(std::mem::take(&mut self.elements));
    }
}

/// One parsed element (that is at least JSON).
pub(super) struct Element<P> {
    /// Its id, or `#position` when it has none.
    pub id: String,
    pub has_id: bool,
    /// The record, unless the element does not fit the file's record type.
    pub record: Option<SeedRecord>,
    /// What the reader's `prepare` made of the record, on the parser's thread: present
    /// exactly when `record` is.
    pub prepared: Option<P>,
    /// Its own problems, in the order found.
    pub problems: Vec<Problem>,
}

/// The source documents' file as the reader read it, before the record files: its
/// bytes (hashed last, as `SeedSource::content_hash` does) and the ids it holds, which
/// every source locator must name (`None`: it could not be read, and locators go
/// unchecked).
pub(super) struct DocumentsRead<'d> {
    pub bytes: &'d Result<Vec<u8>, String>,
    pub ids: Option<&'d HashSet<String>>,
}

/// Reads every record file of `source`, handing each parsed batch and each file's end to
/// `each` on this thread, in file order; returns the hex SHA-256 of the seed (see
/// `SeedSource::content_hash`), `documents`' bytes included. Each record is handed to
/// `prepare` on the parser's thread as soon as it is parsed.
pub(super) fn read<P: Send>(
    source: &SeedSource,
    documents: &DocumentsRead<'_>,
    prepare: &(impl Fn(&SeedRecord) -> P + Sync),
    mut each: impl FnMut(Parsed<P>),
) -> String {
    let parsers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_PARSERS);
    std::thread::scope(|scope| {
        let mut to_parsers = Vec::with_capacity(parsers);
        let mut from_parsers = Vec::with_capacity(parsers);
        let mut workers = Vec::with_capacity(parsers);
        for number in 0..parsers {
            let (piece_sender, pieces) = sync_channel::<Piece>(DEPTH);
            let (parsed_sender, parsed) = sync_channel::<Parsed<P>>(DEPTH);
            let ids = documents.ids;
            workers.push(spawn(scope, format!("seed-parse-{number}"), move || {
                parse_all(pieces, parsed_sender, prepare, ids)
            }));
            to_parsers.push(piece_sender);
            from_parsers.push(parsed);
        }
        let bytes = documents.bytes;
        let splitter = spawn(scope, "seed-split".to_owned(), move || {
            split_all(source, to_parsers, bytes)
        });
        // Piece n went to parser n % parsers; its result comes back from there. The
        // first parser with nothing more to give marks the end of the pieces.
        'taking: loop {
            for parsed in &from_parsers {
                match parsed.recv() {
                    Ok(parsed) => each(parsed),
                    Err(_) => break 'taking,
                }
            }
        }
        // Dropping the receivers first lets a thread blocked on a full channel end.
        drop(from_parsers);
        for worker in workers {
            join(worker);
        }
        join(splitter)
    })
}

fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    work: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    match std::thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, work)
    {
        Ok(handle) => handle,
        Err(error) => panic!("cannot start a seed reading thread: {error}"),
    }
}

/// A thread's result, re-raising its panic here.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The splitter: reads and hashes every record file, handing its elements to the parsers
/// in turn, then hashes `documents` (read already); returns the seed's hash.
fn split_all(
    source: &SeedSource,
    parsers: Vec<SyncSender<Piece>>,
    documents: &Result<Vec<u8>, String>,
) -> String {
    let mut hasher = Sha256::new();
    let mut turns = parsers.iter().cycle();
    // False once a parser has gone (it panicked, which its join re-raises): the rest is
    // read and hashed, but no longer handed on.
    let mut handing_on = true;
    let mut hand_on = |piece: Piece| {
        if handing_on {
            handing_on = turns
                .next()
                .is_some_and(|parser| parser.send(piece).is_ok());
        }
    };
    for (file, name) in FILES.iter().enumerate().take(RECORD_FILES) {
        let opened = source.open(file);
        hash_header(&mut hasher, name, &opened);
        let (reader, expected_len) = match opened {
            Ok(opened) => opened,
            Err(message) => {
                hand_on(Piece::End {
                    file,
                    outcome: FileOutcome::Unopened(message),
                });
                continue;
            }
        };
        let mut reader = HashingReader::new(&mut hasher, reader);
        let mut batch = Batch::new(file, 1);
        let split = split_array(&mut reader, |element| {
            batch.push(element);
            if batch.is_full() {
                let next = Batch::new(file, batch.next_position());
                hand_on(std::mem::replace(&mut batch, next).into_piece());
            }
        });
        if !batch.ends.is_empty() {
            hand_on(batch.into_piece());
        }
        let outcome = match split {
            Ok(Split::Whole) => FileOutcome::Array {
                complete: reader.read == expected_len,
            },
            Ok(Split::Malformed) => FileOutcome::Malformed,
            Err(error) => FileOutcome::Failed(error),
        };
        hand_on(Piece::End { file, outcome });
    }
    let opened = documents
        .as_ref()
        .map(|bytes| (bytes, bytes.len() as u64))
        .map_err(Clone::clone);
    hash_header(&mut hasher, FILES[DOCUMENTS], &opened);
    if let Ok((bytes, _)) = opened {
        hasher.update(bytes);
    }
    hex(&hasher.finalize())
}

/// Elements being gathered for one parser.
struct Batch {
    file: usize,
    first_position: usize,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    fn new(file: usize, first_position: usize) -> Batch {
        Batch {
            file,
            first_position,
            bytes: Vec::new(),
            ends: Vec::with_capacity(BATCH_ELEMENTS),
        }
    }

    fn push(&mut self, element: &[u8]) {
        self.bytes.extend_from_slice(element);
        self.ends.push(self.bytes.len());
    }

    fn is_full(&self) -> bool {
        self.ends.len() >= BATCH_ELEMENTS || self.bytes.len() >= BATCH_BYTES
    }

    fn next_position(&self) -> usize {
        self.first_position + self.ends.len()
    }

    fn into_piece(self) -> Piece {
        Piece::Elements {
            file: self.file,
            first_position: self.first_position,
            bytes: self.bytes,
            ends: self.ends,
        }
    }
}

/// A parser: parses each batch it is handed and hands it back, in the same order; frees
/// the batches the caller is done with.
fn parse_all<P>(
    pieces: Receiver<Piece>,
    parsed: SyncSender<Parsed<P>>,
    prepare: &impl Fn(&SeedRecord) -> P,
    documents: Option<&HashSet<String>>,
) {
    let (home, returned) = channel();
    for piece in pieces {
        // Freed before parsing, the batches' memory is reused while it is in this core's
        // cache.
        returned.try_iter().for_each(drop);
        let result = match piece {
            Piece::Elements {
                file,
                first_position,
                bytes,
                ends,
            } => {
                let mut start = 0;
                let elements = ends
                    .iter()
                    .enumerate()
                    .map(|(offset, &end)| {
                        let raw = &bytes[start..end];
                        start = end;
                        let mut element = parse(file, first_position + offset, raw, documents)?;
                        element.prepared = element.record.as_ref().map(prepare);
                        Ok(element)
                    })
                    .collect();
                Parsed::Elements {
                    file,
                    first_position,
                    elements: Returned {
                        elements,
                        home: home.clone(),
                    },
                }
            }
            Piece::End { file, outcome } => Parsed::End { file, outcome },
        };
        if parsed.send(result).is_err() {
            return;
        }
    }
}

/// Parses one element of file `file`, at `position`, into that file's record type.
fn parse<P>(
    file: usize,
    position: usize,
    raw: &[u8],
    documents: Option<&HashSet<String>>,
) -> Result<Element<P>, NotJson> {
    let read = Read {
        file,
        position,
        raw,
        documents,
    };
    match file {
        COUNTRIES => parse_as::<json::CountryInput, P>(&read, SeedRecord::Country),
        ORGANIZATIONS => parse_as::<json::OrganizationInput, P>(&read, SeedRecord::Organization),
        PEOPLE => parse_as::<json::PersonInput, P>(&read, SeedRecord::Person),
        AGREEMENTS => parse_as::<json::AgreementInput, P>(&read, SeedRecord::Agreement),
        FACILITIES => parse_as::<json::FacilityInput, P>(&read, SeedRecord::Facility),
        _ => parse_as::<json::IncidentInput, P>(&read, SeedRecord::Incident),
    }
}

/// One element to parse: its file, position, bytes, and the documents its locators may name.
struct Read<'r> {
    file: usize,
    position: usize,
    raw: &'r [u8],
    documents: Option<&'r HashSet<String>>,
}

fn parse_as<I: json::Input, P>(
    read: &Read<'_>,
    wrap: fn(I::Record) -> SeedRecord,
) -> Result<Element<P>, NotJson> {
    let Read {
        file,
        position,
        raw,
        documents,
    } = *read;
    // The common case parses once, straight into the input type; an element that does
    // not parse is parsed again loosely, to name its record and word the problem.
    // A well-formed element is checked for UTF-8 once, as a whole, and parsed as text:
    // parsed as bytes, serde_json checks each string on its own, a call per string.
    let parsed = match std::str::from_utf8(raw) {
        Ok(text) => serde_json::from_str::<I>(text),
        Err(_) => serde_json::from_slice::<I>(raw),
    };
    let (has_id, id, input) = match parsed {
        Ok(input) => (true, input.id().to_owned(), Ok(input)),
        Err(_) => {
            let value = serde_json::from_slice::<serde_json::Value>(raw).map_err(|_| NotJson)?;
            let id = value
                .get("id")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| format!("#{position}"), ToOwned::to_owned);
            (
                value.get("id").is_some(),
                id,
                serde_json::from_value::<I>(value),
            )
        }
    };
    let mut problems = Vec::new();
    let mut reporter = Reporter {
        file: FILES[file],
        record: &id,
        problems: &mut problems,
        documents,
    };
    let record = match input {
        Ok(input) => Some(wrap(input.into_record(&mut reporter))),
        Err(error) => {
            reporter.report(error.to_string());
            None
        }
    };
    Ok(Element {
        id,
        has_id,
        record,
        prepared: None,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_back_to_its_parser_when_the_caller_drops_it() {
        let (home, returned) = channel();
        let mut batch: Returned<()> = Returned {
            elements: vec![Err(NotJson), Err(NotJson)],
            home,
        };
        batch.push(Err(NotJson));
        assert!(
            returned.try_recv().is_err(),
            "nothing back while it is in use"
        );
        drop(batch);
        let back = returned.try_recv().expect("the batch came back");
        assert_eq!(back.len(), 3);
    }
}
