//! The reference checks: every id a record names (`model::References`, each kind's
//! references declared once for the seed and the store) belongs to a record of the kind
//! it names. A reference to a file not read yet waits, compactly, until the end
//! (`PendingReferences`).

use super::checks::Checks;
use super::{
    Problem, SeedRecord, AGREEMENTS, COUNTRIES, FACILITIES, FILES, INCIDENTS, ORGANIZATIONS, PEOPLE,
};
use crate::model::{RecordKind, Reference, References};

/// References to a file not read yet, kept compactly: a large seed has millions (an
/// agreement names its facilities before facilities.json is read), and a tuple of boxed
/// strings per reference cost twice the memory of the import itself. Ids are kept end
/// to end in one buffer; a record's id once for all its references.
#[derive(Default)]
pub(super) struct PendingReferences {
    pub(super) references: Vec<PendingReference>,
    /// `(file, position, id range in text)` of each record with pending references.
    pub(super) records: Vec<(usize, usize, std::ops::Range<usize>)>,
    pub(super) text: String,
}

pub(super) struct PendingReference {
    /// The check's number (see `Checks::next_order`).
    pub(super) counter: usize,
    /// Its record, in `records`.
    pub(super) record: usize,
    pub(super) field: &'static str,
    pub(super) target: std::ops::Range<usize>,
    pub(super) target_file: usize,
}

impl PendingReferences {
    pub(super) fn len(&self) -> usize {
        self.references.len()
    }

    pub(super) fn push(
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
    pub(super) fn truncate(&mut self, len: usize) {
        self.references.truncate(len);
        let records = self.references.last().map_or(0, |last| last.record + 1);
        self.records.truncate(records);
        let text = self.references.last().map_or(0, |last| last.target.end);
        self.text.truncate(text);
    }
}

impl Checks {
    pub(super) fn check(
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
}

impl References for SeedRecord {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        match self {
            SeedRecord::Country(record) => record.references(refer),
            SeedRecord::Organization(record) => record.references(refer),
            SeedRecord::Person(record) => record.references(refer),
            SeedRecord::Agreement(record) => record.references(refer),
            SeedRecord::Facility(record) => record.references(refer),
            SeedRecord::Incident(record) => record.references(refer),
        }
    }

    fn country_code(&self) -> Option<&str> {
        match self {
            SeedRecord::Country(record) => record.country_code(),
            _ => None,
        }
    }
}

/// The index in `FILES` of the file that holds records of `kind`.
pub(super) fn file_of(kind: RecordKind) -> usize {
    match kind {
        RecordKind::Country => COUNTRIES,
        RecordKind::Organization => ORGANIZATIONS,
        RecordKind::Person => PEOPLE,
        RecordKind::Agreement => AGREEMENTS,
        RecordKind::Facility => FACILITIES,
        RecordKind::Incident => INCIDENTS,
    }
}
