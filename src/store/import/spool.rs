//! The import's scratch file (`Spool`): records' encoded values in arrival order, written
//! as they come and read back a window at a time (`SpoolReader`) when their tree is
//! written. Knows nothing of what the values mean.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// The name the spool had before it had none. A crashed import of an earlier version may
/// have left it behind; the next import that writes removes it.
const OLD_SPOOL_FILE: &str = "import.spool";

/// Whether `name` is a spool's: `Spool`'s named kind, or `OLD_SPOOL_FILE`.
pub(in crate::store) fn is_spool_file(name: &str) -> bool {
    name == OLD_SPOOL_FILE || (name.starts_with("import.") && name.ends_with(".spool"))
}

/// Removes the spool a crashed import of an earlier version left (`OLD_SPOOL_FILE`), if
/// any: the import is about to change the directory anyway.
pub(super) fn remove_old(dir: &Path) {
    match std::fs::remove_file(dir.join(OLD_SPOOL_FILE)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(%error, "cannot remove an old import spool");
        }
        _ => {}
    }
}

pub(super) fn spool_error(path: &std::path::Path, source: std::io::Error) -> StoreError {
    StoreError::Spool {
        path: path.to_owned(),
        source,
    }
}

/// The import's scratch file: records' encoded values in arrival order, read back by
/// `Sorted::write`. Where the system allows it, it never has a name (Linux's `O_TMPFILE`)
/// or loses it the moment it is created, so that whatever ends the import (a refused
/// seed, an error, a kill) leaves nothing of it in the data directory; where it must keep
/// a name, dropping the spool removes it.
pub(super) struct Spool {
    /// What errors name: the directory, or the file while it has a name.
    pub(super) path: PathBuf,
    pub(super) file: BufWriter<File>,
    /// The file's name while it has one.
    named: Option<PathBuf>,
}

impl Spool {
    pub(super) fn new(dir: &Path) -> Result<Spool, StoreError> {
        let file = |file: File, path: PathBuf, named| Spool {
            path,
            file: BufWriter::with_capacity(1 << 20, file),
            named,
        };
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Not every file system takes O_TMPFILE (EOPNOTSUPP, EISDIR on old kernels):
            // those get a named file.
            if let Ok(nameless) = File::options()
                .read(true)
                .write(true)
                .custom_flags(libc::O_TMPFILE)
                .mode(0o600)
                .open(dir)
            {
                return Ok(file(nameless, dir.to_owned(), None));
            }
        }
        // The process id keeps another process's spool (a store open elsewhere fails
        // later, on sled's lock) and an old version's `import.spool` out of the way.
        let path = dir.join(format!("import.{}.spool", std::process::id()));
        let named = File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| spool_error(&path, source))?;
        // An open file outlives its name on Unix; elsewhere `Drop` removes it.
        if cfg!(unix) && std::fs::remove_file(&path).is_ok() {
            return Ok(file(named, dir.to_owned(), None));
        }
        Ok(file(named, path.clone(), Some(path)))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(path) = self.named.take() {
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "cannot remove the import spool");
            }
        }
    }
}

/// Records read back from the spool together, at most: `SpoolReader`.
pub(super) const SPOOL_WINDOW_RECORDS: usize = 4096;
pub(super) const SPOOL_WINDOW_BYTES: u64 = 4 << 20;
/// Spooled records at most this far apart are read in one call, with what lies between.
const SPOOL_GAP: u64 = 1024;

/// Reads records back from the spool a window at a time. They are written to their
/// tree in id order but lie in the spool in arrival order; a read per record was a
/// system call each (1.3 million for the 1M seed). The window's records are read in
/// spool order instead, neighbours in one call: arrival order and id order usually
/// agree in long runs (a generator's `incident-100010` to `incident-100019`), so a
/// window takes a few calls, and one in no order at all costs what it did before.
#[derive(Default)]
pub(super) struct SpoolReader {
    /// `(offset, length, slot)` of each record of the window, in spool order.
    extents: Vec<(u64, u64, usize)>,
    bytes: Vec<u8>,
    /// Where each slot's record lies in `bytes`.
    placed: Vec<std::ops::Range<usize>>,
}

impl SpoolReader {
    /// Reads the records at `window`'s `(offset, length)`s; `get(slot)` then holds the
    /// record at `window[slot]`.
    pub(super) fn read(&mut self, spool: &File, window: &[(u64, u64)]) -> std::io::Result<()> {
        self.extents.clear();
        self.extents.extend(
            window
                .iter()
                .enumerate()
                .map(|(slot, &(offset, length))| (offset, length, slot)),
        );
        self.extents.sort_unstable();
        self.bytes.clear();
        self.placed.clear();
        self.placed.resize(window.len(), 0..0);
        let mut first = 0;
        while first < self.extents.len() {
            let start = self.extents[first].0;
            let mut end = start + self.extents[first].1;
            let mut last = first + 1;
            while last < self.extents.len() && self.extents[last].0 <= end + SPOOL_GAP {
                end = end.max(self.extents[last].0 + self.extents[last].1);
                last += 1;
            }
            let base = self.bytes.len();
            self.bytes.resize(base + (end - start) as usize, 0);
            read_at(spool, &mut self.bytes[base..], start)?;
            for &(offset, length, slot) in &self.extents[first..last] {
                let at = base + (offset - start) as usize;
                self.placed[slot] = at..at + length as usize;
            }
            first = last;
        }
        Ok(())
    }

    pub(super) fn get(&self, slot: usize) -> &[u8] {
        &self.bytes[self.placed[slot].clone()]
    }
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(not(unix))]
fn read_at(mut file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buffer)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::model::Agreement;
    use crate::store::import::Importer;
    use crate::store::Store;

    fn agreement(id: &str, facilities: &[&str]) -> Agreement {
        Agreement {
            facilities: facilities.iter().map(|id| (*id).to_owned()).collect(),
            ..Agreement::bare(id)
        }
    }

    #[test]
    fn the_spool_has_no_name_in_the_directory_and_the_import_reads_it_back() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let names = || std::fs::read_dir(dir.path()).expect("lists").count();
        let mut importer = Importer::new(dir.path()).expect("starts");
        importer.add(&agreement("first", &[]));
        importer.add(&Agreement {
            title: "read back".to_owned(),
            ..Agreement::bare("second")
        });
        importer.spool.file.flush().expect("flushes");
        assert!(importer.spool_len > 0);
        // Dropped here, or killed, the import would leave nothing in the directory.
        assert_eq!(names(), 0, "the spool has a name");
        let sorted = importer.sort().expect("sorts");
        assert_eq!(names(), 0);

        // The records written come back from the nameless spool.
        let store = Store::open(&dir.path().join("store"), 8 << 20).expect("opens");
        sorted.write(&store, "one").expect("imports");
        let second = store.get::<Agreement>("second").expect("reads");
        assert_eq!(second.expect("imported").title, "read back");
    }

    #[test]
    fn the_spool_reader_reads_each_record_of_a_window_in_any_order() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("spool");
        let bytes: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("writes");
        let spool = File::open(&path).expect("opens");
        // Neighbours, records a little and far apart, repeats, an empty one, in no order.
        let window: Vec<(u64, u64)> = vec![
            (500, 20),
            (0, 10),
            (10, 30),
            (90_000, 9_999),
            (40, 1),
            (1_500, 7),
            (0, 10),
            (50_000, 0),
            (41, 400),
        ];
        let mut reader = SpoolReader::default();
        for _ in 0..2 {
            reader.read(&spool, &window).expect("reads");
            for (slot, &(offset, length)) in window.iter().enumerate() {
                let at = offset as usize;
                assert_eq!(
                    reader.get(slot),
                    &bytes[at..at + length as usize],
                    "slot {slot}"
                );
            }
        }
        assert!(
            reader.read(&spool, &[(99_990, 20)]).is_err(),
            "past the end"
        );
    }
}
