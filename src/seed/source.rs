//! Where a seed's files are (`SeedSource`: compiled in, or a directory), how each is
//! opened, and the seed's identity: its content hash (every byte) and its fingerprint
//! (sizes and modification times, read without reading the files).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{SeedError, FILES};

/// The seed compiled into the binary, so it runs from any directory.
pub(super) const EMBEDDED: [&str; 7] = [
    include_str!("../../seed/countries.json"),
    include_str!("../../seed/organizations.json"),
    include_str!("../../seed/people.json"),
    include_str!("../../seed/agreements.json"),
    include_str!("../../seed/facilities.json"),
    include_str!("../../seed/incidents.json"),
    include_str!("../../seed/documents.json"),
];

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
    pub(super) fn open(&self, index: usize) -> Result<(Box<dyn Read + '_>, u64), String> {
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
    pub(super) fn read_whole(&self, index: usize) -> Result<Vec<u8>, String> {
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
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Feeds the seed hash a file's name, and its length when it can be read; its contents
/// follow through a `HashingReader`.
pub(super) fn hash_header<T>(hasher: &mut Sha256, name: &str, opened: &Result<(T, u64), String>) {
    hasher.update(name.as_bytes());
    hasher.update([0]);
    if let Ok((_, len)) = opened {
        hasher.update(len.to_be_bytes());
    }
}

/// Hashes the bytes it reads.
pub(super) struct HashingReader<'h, R> {
    pub(super) hasher: &'h mut Sha256,
    pub(super) inner: R,
    pub(super) read: u64,
}

impl<'h, R> HashingReader<'h, R> {
    pub(super) fn new(hasher: &'h mut Sha256, inner: R) -> Self {
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
