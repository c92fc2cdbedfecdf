//! The manifest: a small JSON file beside sled's files that says what a finished import
//! wrote. sled opens a damaged or deleted store as an empty one; the manifest is how the
//! server tells "never seeded" from "lost its data", and refuses the latter.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreError;

const FILE_NAME: &str = "kyrgyz-relations.manifest.json";

/// Whether `name` is the manifest's, or its temporary copy's (`Manifest::write`).
pub(super) fn is_manifest_file(name: &str) -> bool {
    name.strip_prefix(FILE_NAME)
        .is_some_and(|rest| rest.is_empty() || rest == ".tmp")
}

/// What a finished import wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    /// The content hash of the seed imported.
    pub seed_hash: String,
    /// Records written, all kinds together.
    pub records: u64,
    /// Index entries written: orders, links, search postings, counts, codes.
    pub index_entries: u64,
}

impl Manifest {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// The manifest of the store in `dir`; `None` if there is none.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, StoreError> {
        let path = Manifest::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Manifest {
                    path,
                    reason: source.to_string(),
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| StoreError::Manifest {
                path,
                reason: format!("not a manifest: {error}"),
            })
    }

    /// Writes the manifest durably: a temporary file, synced, renamed over the old one.
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let path = Manifest::path(dir);
        let temporary = dir.join(format!("{FILE_NAME}.tmp"));
        let failed = |source: std::io::Error| StoreError::Manifest {
            path: path.clone(),
            reason: format!("cannot write: {source}"),
        };
        let text = serde_json::to_string_pretty(self)
            .map_err(|error| failed(std::io::Error::other(error)))?;
        let mut file = std::fs::File::create(&temporary).map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        std::fs::rename(&temporary, &path).map_err(failed)?;
        sync_dir(dir).map_err(failed)
    }

    /// Removes the manifest durably, before a reseed replaces what it describes.
    pub fn remove(dir: &Path) -> Result<(), StoreError> {
        let path = Manifest::path(dir);
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(dir).map_err(|source| StoreError::Manifest {
                path,
                reason: format!("cannot remove: {source}"),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Manifest {
                path,
                reason: format!("cannot remove: {source}"),
            }),
        }
    }
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    let _ = dir;
    Ok(())
}
