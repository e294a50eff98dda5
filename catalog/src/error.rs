//! What can go wrong reading, checking or writing a catalog.

use std::path::PathBuf;

/// An error of the catalog library or CLI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The text is neither YAML nor JSON.
    #[error("the catalog does not parse as YAML or JSON: {0}")]
    Parse(String),
    /// The document parses but is not a catalog Factum wrote.
    #[error(
        "this is not a Factum event catalog: {0} (generate it with factum-codegen, which \
         writes the `x-factum` extension on every message)"
    )]
    NotACatalog(String),
    /// The document could not be written.
    #[error("the catalog could not be written: {0}")]
    Write(String),
    /// An export would overwrite a file that an earlier export of the same catalog did
    /// not write (a team's own page, another catalog's or another tool's): nothing was
    /// written.
    #[error(
        "{path} exists and no earlier export of this catalog wrote it{}: move it out of \
         the way, or pass --force to overwrite it",
        others_too(*others)
    )]
    WouldOverwrite {
        /// The first such file.
        path: PathBuf,
        /// How many more the export would also have overwritten.
        others: usize,
    },
    /// A live store could not be read (`check --store`): not found, not a Factum store,
    /// or the database failed.
    #[error("cannot read the store: {0}")]
    Store(String),
}

/// The tail of [`CatalogError::WouldOverwrite`]'s message that counts the other files.
fn others_too(others: usize) -> String {
    match others {
        0 => String::new(),
        1 => " (1 more file it would write is in the same case)".to_owned(),
        n => format!(" ({n} more files it would write are in the same case)"),
    }
}
