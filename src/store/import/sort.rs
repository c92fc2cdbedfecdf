//! The import's middle step (`Importer::sort`): once every record is in, the links to
//! records that came later are resolved, and each kind's ids and sort keys are sorted
//! (`Orders`), so the writes come out in key order. Touches no store.

use std::io::Write;

use super::spool::spool_error;
use super::{kind_index, utf8, Importer, Table};
use crate::arena::{Arena, ArenaIndex};
use crate::model::RecordKind;
use crate::store::keys::{self, Link};
use crate::store::StoreError;

/// A table's record numbers in id order, each record's rank in id order and in sort-key
/// order, and its ids and sort keys laid out in those orders. The writes read ids and
/// sort keys by rank, mostly in increasing order: from arenas in arrival order, each
/// read would be a cache miss.
pub(super) struct Orders {
    pub(super) by_id: Vec<u32>,
    pub(super) id_rank: Vec<u32>,
    pub(super) sort_rank: Vec<u32>,
    /// Ids by id rank.
    pub(super) ids: Arena,
    /// Sort keys by sort rank. Each ends with its record's id (`keys::id_in_sort_key`),
    /// so the order and link trees store no value beside them.
    pub(super) sort_keys: Arena,
}

impl Orders {
    /// Every table's orders: ids on this thread, sort keys on another.
    fn of_all(tables: &[Table; 6]) -> Vec<Orders> {
        let (by_id, by_sort_key) = std::thread::scope(|scope| {
            let by_sort_key = scope.spawn(|| {
                tables
                    .iter()
                    .zip(RecordKind::ALL)
                    .map(|(table, kind)| {
                        let order = table.sort_keys.sorted();
                        let sort_keys = table.sort_keys.reordered(&order);
                        debug_assert!(order.iter().zip(0..).all(|(&number, rank)| {
                            keys::id_in_sort_key(kind, sort_keys.get(rank))
                                == Some(table.ids.get(number))
                        }));
                        (order, sort_keys)
                    })
                    .collect::<Vec<_>>()
            });
            let by_id: Vec<(Vec<u32>, Arena)> = tables
                .iter()
                .map(|table| {
                    let order = table.ids.sorted();
                    let ids = table.ids.reordered(&order);
                    (order, ids)
                })
                .collect();
            let by_sort_key = by_sort_key
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (by_id, by_sort_key)
        });
        by_id
            .into_iter()
            .zip(by_sort_key)
            .map(|((by_id, ids), (by_sort_key, sort_keys))| Orders {
                id_rank: ranks(&by_id),
                sort_rank: ranks(&by_sort_key),
                by_id,
                ids,
                sort_keys,
            })
            .collect()
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }
}

pub(super) fn ranks(order: &[u32]) -> Vec<u32> {
    let mut rank = vec![0; order.len()];
    for (position, number) in order.iter().enumerate() {
        rank[*number as usize] = position as u32;
    }
    rank
}

/// Numbers gathered in no order, in blocks of a fixed size: growing never copies the
/// numbers gathered so far nor holds them twice, as one `Vec` doubling would. Sorted
/// block by block, and read back merged.
#[derive(Default)]
pub(super) struct Blocks {
    blocks: Vec<Vec<u64>>,
}

/// Numbers per block: 8 MiB.
const BLOCK: usize = 1 << 20;

impl Blocks {
    pub(super) fn push(&mut self, number: u64) {
        match self.blocks.last_mut() {
            Some(block) if block.len() < BLOCK => block.push(number),
            _ => {
                // The first block grows from small, for the many short lists.
                let mut block = Vec::with_capacity(if self.blocks.is_empty() { 16 } else { BLOCK });
                block.push(number);
                self.blocks.push(block);
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    pub(super) fn for_each_mut(&mut self, mut change: impl FnMut(&mut u64)) {
        self.blocks.iter_mut().flatten().for_each(&mut change);
    }

    pub(super) fn sort(&mut self) {
        self.blocks
            .iter_mut()
            .for_each(|block| block.sort_unstable());
    }

    /// Every distinct number in order; the blocks must be sorted.
    pub(super) fn merged(&self) -> Merged<'_> {
        Merged {
            blocks: self.blocks.iter().map(|block| block.as_slice()).collect(),
            last: None,
        }
    }
}

/// A k-way merge of sorted blocks, without repeats. There are few blocks (a million
/// numbers each; a link has one or two, the postings six at 1M incidents), so the
/// smallest head is found by a scan, which costs less than a heap's upkeep.
pub(super) struct Merged<'a> {
    /// What is left of each block.
    blocks: Vec<&'a [u64]>,
    last: Option<u64>,
}

impl Iterator for Merged<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        loop {
            let (smallest, number) = self
                .blocks
                .iter()
                .enumerate()
                .filter_map(|(index, block)| Some((index, *block.first()?)))
                .min_by_key(|&(_, number)| number)?;
            self.blocks[smallest] = &self.blocks[smallest][1..];
            if self.last != Some(number) {
                self.last = Some(number);
                return Some(number);
            }
        }
    }
}

impl Importer {
    /// Everything the import does before it writes: fails on any record it could not take
    /// in, or a link to a record that never came; sorts ids and sort keys. Touches no
    /// store, so a caller may open the store only once this succeeded.
    pub fn sort(mut self) -> Result<Sorted, StoreError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        tracing::debug!(
            records = self
                .tables
                .iter()
                .map(|table| table.ids.len())
                .sum::<usize>(),
            pairs = self.pairs.values().map(Blocks::len).sum::<usize>(),
            postings = self.postings.len(),
            tokens = self.token_text.len(),
            "read the seed; writing"
        );
        self.spool
            .file
            .flush()
            .map_err(|source| spool_error(&self.spool.path, source))?;
        let started = std::time::Instant::now();
        // The token index is only needed while reading: free it before sorting.
        self.tokens = ArenaIndex::default();
        // The links to records that came later are looked up on a thread of their own,
        // beside the two that sort ids and sort keys: neither needs the other.
        let pending = std::mem::take(&mut self.pending);
        let targets = std::mem::take(&mut self.pending_targets);
        let (orders, resolved) = std::thread::scope(|scope| {
            let resolving = scope.spawn(|| resolve_pending(pending, &targets, &self.tables));
            let orders = Orders::of_all(&self.tables);
            let resolved = resolving
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (orders, resolved)
        });
        for (link, pair) in resolved? {
            self.pairs.entry(link).or_default().push(pair);
        }
        // From here on, ids and sort keys are read from `orders`, and the id indexes are
        // not needed: free them before writing.
        for table in &mut self.tables {
            table.ids = Arena::default();
            table.sort_keys = Arena::default();
        }
        tracing::debug!(elapsed = ?started.elapsed(), "sorted ids and sort keys; looked up later links");
        Ok(Sorted {
            importer: self,
            orders,
            started,
        })
    }
}

/// An import read and sorted (`Importer::sort`), ready to be written.
pub struct Sorted {
    pub(super) importer: Importer,
    pub(super) orders: Vec<Orders>,
    /// When the sorting began, for the debug log's timings.
    pub(super) started: std::time::Instant,
}

/// The pairs of the links left unresolved when their owner came (`owner number << 32 |
/// linked number`, as `Importer::pairs` holds them), through an index of the ids of
/// each kind they name.
fn resolve_pending(
    pending: Vec<(Link, u32)>,
    targets: &Arena,
    tables: &[Table; 6],
) -> Result<Vec<(Link, u64)>, StoreError> {
    let mut numbers: [ArenaIndex; 6] = Default::default();
    for &(link, _) in &pending {
        let target_index = kind_index(link.ends().1);
        let (index, ids) = (&mut numbers[target_index], &tables[target_index].ids);
        if index.is_empty() && ids.len() > 0 {
            (0..ids.len() as u32).for_each(|number| index.insert(ids, number));
        }
    }
    pending
        .into_iter()
        .enumerate()
        .map(|(at, (link, owner))| {
            let (owner_kind, target_kind) = link.ends();
            let target_index = kind_index(target_kind);
            let target = targets.get(at as u32);
            let linked = numbers[target_index]
                .find(&tables[target_index].ids, target)
                .ok_or_else(|| StoreError::Dangling {
                    tree: link.tree().to_owned(),
                    id: utf8(target).into_owned(),
                    target: keys::record_tree(target_kind).to_owned(),
                })?;
            debug_assert!(owner_kind != target_kind || owner != linked);
            Ok((link, u64::from(owner) << 32 | u64::from(linked)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Agreement;
    use crate::store::{Store, StoreState};

    fn agreement(id: &str, facilities: &[&str]) -> Agreement {
        Agreement {
            facilities: facilities.iter().map(|id| (*id).to_owned()).collect(),
            ..Agreement::bare(id)
        }
    }

    #[test]
    fn a_link_to_a_record_that_never_came_fails_the_import_before_it_writes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path(), 8 << 20).expect("opens");
        let mut importer = store.importer().expect("starts");
        importer.add(&agreement("first", &[]));
        importer.finish(&store, "one").expect("imports");

        let mut importer = store.importer().expect("starts");
        importer.add(&agreement("second", &["nowhere"]));
        let error = importer.finish(&store, "two").expect_err("a dangling link");
        assert!(
            matches!(&error, StoreError::Dangling { id, .. } if id == "nowhere"),
            "{error}"
        );
        // Nothing was written: the first import's record and marker stand.
        assert!(store.get::<Agreement>("first").expect("reads").is_some());
        assert!(store.get::<Agreement>("second").expect("reads").is_none());
        assert!(
            matches!(store.state().expect("reads"), StoreState::Ready { seed_hash, .. } if seed_hash == "one")
        );
    }

    #[test]
    fn blocks_merge_sorted_without_repeats() {
        let mut blocks = Blocks::default();
        let mut expected = Vec::new();
        let mut state = 7u64;
        for _ in 0..(BLOCK * 2 + 1000) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let number = state >> 44;
            blocks.push(number);
            expected.push(number);
        }
        assert_eq!(blocks.blocks.len(), 3);
        assert_eq!(blocks.len(), expected.len());
        blocks.for_each_mut(|number| *number += 1);
        blocks.sort();
        expected.iter_mut().for_each(|number| *number += 1);
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(blocks.merged().collect::<Vec<_>>(), expected);
        assert_eq!(Blocks::default().merged().next(), None);
    }
}
