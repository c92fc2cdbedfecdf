//! The records a search matches, worked out once per request from each word's postings.
//!
//! A word's postings are short (no more than a chunk's entries: all of them, held in the
//! read cache like a short list) or long (then only their stored count is read up
//! front). When a word is short, every match is found at once from the shortest list,
//! each entry checked against the other words: a binary search in another short list, one
//! key read in a long one. There are then at most a chunk's matches, so a page is a slice
//! of them and `totalCount` their number. When every word is long, the rarest word's
//! postings are walked as the page is read and the others checked by key; `totalCount` of
//! a single long word is its stored count.

use std::sync::Arc;

use super::{
    bounds, cache, keys, packed, packed_error, search, Entry, KeyRange, ListShape, Scan, Store,
    StoreError,
};

/// The records holding every word of a search text (`Store::search_matches`).
pub struct SearchMatches(Found);

enum Found {
    /// Every match, in key order.
    Held(Arc<[Entry]>),
    /// Matches found as they are read: the postings of `driver`, the rarest word (`count`
    /// of them), that every word of `others` (rarest first) also has.
    Walked {
        driver: String,
        count: u64,
        others: Vec<String>,
    },
}

impl Store {
    /// The records of any kind whose indexed words include every word of `text`, ordered
    /// by kind then id (see the module's notes for how they are found). A text without
    /// words matches nothing.
    pub fn search_matches(&self, text: &str) -> Result<SearchMatches, StoreError> {
        let mut short: Vec<Arc<[Entry]>> = Vec::new();
        let mut long: Vec<(u64, String)> = Vec::new();
        for token in search::query_tokens(text) {
            match self.postings(&token)? {
                ListShape::Short(entries) => short.push(entries),
                ListShape::Long(count) => long.push((count, token)),
            }
        }
        long.sort();
        short.sort_by_key(|entries| entries.len());
        let Some((rarest, others)) = short.split_first() else {
            let mut long = long.into_iter();
            return Ok(SearchMatches(match long.next() {
                None => Found::Held(Arc::new([])),
                Some((count, driver)) => Found::Walked {
                    driver,
                    count,
                    others: long.map(|(_, token)| token).collect(),
                },
            }));
        };
        if others.is_empty() && long.is_empty() {
            return Ok(SearchMatches(Found::Held(rarest.clone())));
        }
        let mut matches = Vec::new();
        'entries: for entry in rarest.iter() {
            for other in others {
                if other
                    .binary_search_by(|held| held.key.cmp(&entry.key))
                    .is_err()
                {
                    continue 'entries;
                }
            }
            for (_, token) in &long {
                if !self.has_posting(token, &entry.key)? {
                    continue 'entries;
                }
            }
            matches.push(entry.clone());
        }
        Ok(SearchMatches(Found::Held(matches.into())))
    }

    /// The postings of `token`: its list's shape, from the read cache or read and cached.
    fn postings(&self, token: &str) -> Result<ListShape, StoreError> {
        self.held_shape(
            cache::list_key(keys::SEARCH_TREE, token),
            || keys::count_key(keys::SEARCH_TREE, Some(token)),
            || self.posting_entries(token, KeyRange::ALL, false),
            false,
        )
    }

    /// The postings of `token` within `range` (of the part after the token), from sled.
    fn posting_entries<'a>(
        &'a self,
        token: &str,
        range: KeyRange<'_>,
        reverse: bool,
    ) -> impl Iterator<Item = Result<Entry, StoreError>> + 'a {
        let prefix = keys::link_prefix(token);
        let prefix_len = prefix.len();
        let (lower, upper) = bounds(&prefix, range);
        packed::range(&self.inner.search, lower, upper, reverse).map(move |item| {
            let (key, _) = item.map_err(|source| packed_error(keys::SEARCH_TREE, source))?;
            let suffix = &key[prefix_len..];
            let corrupt = || StoreError::Dangling {
                tree: keys::SEARCH_TREE.to_owned(),
                id: String::from_utf8_lossy(suffix).into_owned(),
                target: "any record tree".to_owned(),
            };
            let (&tag, id) = suffix.split_first().ok_or_else(corrupt)?;
            let kind = keys::kind_of_tag(tag).ok_or_else(corrupt)?;
            Ok(Entry {
                key: suffix.to_vec(),
                kind,
                id: String::from_utf8_lossy(id).into_owned(),
                record: Default::default(),
            })
        })
    }

    /// Whether `token` has the posting `suffix` (a kind tag and an id): one key read.
    fn has_posting(&self, token: &str, suffix: &[u8]) -> Result<bool, StoreError> {
        let mut key = keys::link_prefix(token);
        key.extend_from_slice(suffix);
        let found = packed::get(&self.inner.search, &key)
            .map_err(|source| packed_error(keys::SEARCH_TREE, source))?;
        Ok(found.is_some())
    }
}

impl SearchMatches {
    /// The matches within `range`, in key order or reversed.
    pub fn entries<'a>(
        &'a self,
        store: &'a Store,
        range: KeyRange<'_>,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a> {
        match &self.0 {
            Found::Held(entries) => Box::new(Scan::held(entries.clone(), range, reverse)),
            Found::Walked { driver, others, .. } => Box::new(
                store
                    .posting_entries(driver, range, reverse)
                    .filter_map(move |entry| {
                        let holds_all = |entry: &Entry| -> Result<bool, StoreError> {
                            for token in others {
                                if !store.has_posting(token, &entry.key)? {
                                    return Ok(false);
                                }
                            }
                            Ok(true)
                        };
                        match entry.and_then(|entry| Ok(holds_all(&entry)?.then_some(entry))) {
                            Ok(Some(entry)) => Some(Ok(entry)),
                            Ok(None) => None,
                            Err(error) => Some(Err(error)),
                        }
                    }),
            ),
        }
    }

    /// How many records match: a length or a stored count, unless several words each
    /// have more than a chunk's postings, when the matches are walked.
    pub fn count(&self, store: &Store) -> Result<u64, StoreError> {
        match &self.0 {
            Found::Held(entries) => Ok(entries.len() as u64),
            Found::Walked { count, others, .. } if others.is_empty() => Ok(*count),
            Found::Walked { .. } => self
                .entries(store, KeyRange::ALL, false)
                .try_fold(0, |count, entry| entry.map(|_| count + 1)),
        }
    }
}
