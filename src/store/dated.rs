//! Date ranges over date-ordered lists (of incidents): which entries a range of days
//! may keep, found from the keys alone, and the one definition of a date-filtered list's
//! page and `totalCount` (`DateRange`). The only place outside `keys` that reads a date
//! sort key's bytes.

use std::sync::Arc;

use super::cache::{self, Cached};
use super::{keys, list_cache_key, Entry, KeyRange, List, Record, Scan, Store, StoreError};
use crate::model::{CalendarDate, DateWindow};

/// A list cut to the records whose dates may fall within a window of days, read for a
/// page (`entries`) and for `totalCount` (`count`) alike: the scan starts near the
/// window's start (`Store::scan_dated`), stops past its end and skips, by key alone,
/// records that cannot match, so a date range costs about the entries within it rather
/// than a read of every entry before it. Without a window it is the whole list, in any
/// order.
#[derive(Clone, Debug)]
pub struct DateRange {
    list: List,
    window: Option<DateWindow>,
    /// Where a scan of the window can stop: past every key whose date begins on or
    /// before the window's last day (`keys::date_key_end`).
    end: Option<Vec<u8>>,
}

/// The entries of a list, in the order asked for.
type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

impl DateRange {
    /// `list` (which must be in date order when `window` is given) cut to `window`.
    pub fn new(list: List, window: Option<DateWindow>) -> DateRange {
        let end = window
            .as_ref()
            .and_then(|window| window.to)
            .map(keys::date_key_end);
        DateRange { list, window, end }
    }

    /// The list this range cuts.
    pub fn list(&self) -> &List {
        &self.list
    }

    /// The entries within `range` (a page's cursors) that may fall within the window, in
    /// key order or reversed. Read errors pass through.
    pub fn entries<'a>(
        &'a self,
        store: &'a Store,
        range: KeyRange<'_>,
        reverse: bool,
    ) -> Entries<'a> {
        let range = match &self.end {
            Some(end) => range.below(end),
            None => range,
        };
        let from = self.window.and_then(|window| window.from);
        let entries: Entries<'a> = match from {
            Some(from) => store.scan_dated(&self.list, from, range, reverse),
            None => Box::new(store.scan(&self.list, range, reverse)),
        };
        let Some(window) = self.window else {
            return entries;
        };
        Box::new(entries.filter(move |entry| match entry {
            Ok(entry) => keys::date_key_may_match(&entry.key, window.from, window.to),
            Err(_) => true,
        }))
    }

    /// How many records of the range `keep` accepts: with no `keep`, the list's count (one
    /// read, `Store::count`); with one, every entry that may fall within the window is
    /// read and tested.
    pub fn count<R: Record>(
        &self,
        store: &Store,
        keep: Option<&dyn Fn(&R) -> bool>,
    ) -> Result<u64, StoreError> {
        let Some(keep) = keep else {
            return store.count(&self.list);
        };
        let mut count = 0;
        for entry in self.entries(store, KeyRange::ALL, false) {
            let record: Arc<R> = store.get_listed(&entry?)?;
            count += u64::from(keep(&record));
        }
        Ok(count)
    }
}

/// A date-ordered list as `Store::scan_dated` reads it: the entries no short-date bound
/// can skip, and where short dates reach.
pub(super) struct DatedList {
    /// The dated entries no short-date bound can skip, in key order: those of an unknown
    /// start, and those of a known start that span a year or more or have no known end.
    unskippable: Arc<[Entry]>,
    /// For each day a short date (`keys::short_date_key_days`) begins on, in order, the
    /// last day any of them ends on, as `keys::day_number`s (`keys::add_short_end`).
    short_ends: Box<[(u32, u32)]>,
}

impl Store {
    /// `scan` over a list in date order (of incidents), skipping what cannot end on or
    /// after `from`: it yields the entries of an unknown start, then those of a known
    /// start that span a year or more or have no known end, then the keys from the first
    /// day within the year before `from` that begins a short date reaching `from` (see
    /// `keys::short_dates_start`). The first two parts and those days are held in the
    /// read cache, found by one walk of the list's keys per store generation, so only the
    /// last part is read from sled. Without the read cache it is `scan`: the walk would
    /// be repeated by every request.
    fn scan_dated<'a>(
        &'a self,
        list: &List,
        from: CalendarDate,
        range: KeyRange<'_>,
        reverse: bool,
    ) -> Entries<'a> {
        if self.inner.cache.is_off() {
            return Box::new(self.scan(list, range, reverse));
        }
        let dated = match self.dated_list(list) {
            Ok(dated) => dated,
            Err(error) => return Box::new(std::iter::once(Err(error))),
        };
        let start = keys::short_dates_start(from, &dated.short_ends);
        // The unskippable entries from `start` on come with the rest of the keys there.
        let unskippable = Scan::held(dated.unskippable.clone(), range.below(&start), reverse);
        let recent = self.scan(list, range.from_key(&start), reverse);
        if reverse {
            Box::new(recent.chain(unskippable))
        } else {
            Box::new(unskippable.chain(recent))
        }
    }

    /// What `scan_dated` holds of a date-ordered list, from the read cache or one walk of
    /// the list's keys.
    fn dated_list(&self, list: &List) -> Result<Arc<DatedList>, StoreError> {
        let generation = self.generation();
        let key = list_cache_key(list, cache::dated_key);
        if let Some(Cached::Dated(dated)) = self.inner.cache.get(&key, generation) {
            return Ok(dated);
        }
        let mut unskippable = Vec::new();
        let mut short_ends: Vec<(u32, u32)> = Vec::new();
        for entry in self.scan(list, KeyRange::ALL, false) {
            let entry = entry?;
            if entry.key.first() != Some(&0) {
                break; // Undated keys follow every dated one.
            }
            match keys::short_date_key_days(&entry.key) {
                Some((begins, last)) => keys::add_short_end(&mut short_ends, begins, last),
                None => unskippable.push(entry),
            }
        }
        let dated = Arc::new(DatedList {
            unskippable: unskippable.into(),
            short_ends: short_ends.into(),
        });
        let cost = cache::list_cost(&dated.unskippable)
            + std::mem::size_of_val(&*dated.short_ends)
            + std::mem::size_of::<DatedList>();
        self.inner
            .cache
            .insert(&key, Cached::Dated(dated.clone()), generation, cost);
        Ok(dated)
    }
}
