//! Seed files for `strongroom dev --seed FILE` (docs/dev.md): accounts,
//! credentials, keys with fixed ids (and, optionally, fixed material),
//! aliases and grants, created on every start where missing. A file is
//! parsed and checked as a whole before anything is created.

mod apply;
mod file;
mod validate;

pub use apply::SeedSummary;
pub use file::{
    MAX_SEED_BYTES, SeedAccount, SeedAlias, SeedCredential, SeedFile, SeedGrant,
    SeedGrantConstraints, SeedKey, SeedSecret,
};
pub use validate::SeedDefaults;

/// Why a seed file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Not a seed file: the parser's message names line and column.
    #[error("{0}")]
    Parse(String),
    /// A value the file gets wrong, named by its path (`keys[2].key_spec`).
    #[error("{path}: {message}")]
    Invalid {
        /// Where in the file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The server refused to create an object, or it conflicts with one
    /// that exists.
    #[error("{path}: {message}")]
    Apply {
        /// Where in the file.
        path: String,
        /// What happened.
        message: String,
    },
}
