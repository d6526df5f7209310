//! Errors from loading scenario files.

use crate::catalog::PolicySourceError;
use crate::policy::Pos;
use std::path::PathBuf;

/// A scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read.
    #[error("cannot read scenario `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{path}:{pos}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where.
        pos: Pos,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// A policy the scenario names could not be loaded.
    #[error("{path}: policy `{name}`: {source}")]
    Policy {
        /// The scenario file.
        path: PathBuf,
        /// The policy reference.
        name: String,
        /// The cause.
        source: PolicySourceError,
    },
}

impl WorkloadError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            WorkloadError::Io { .. } => Some("check the path".to_string()),
            WorkloadError::Invalid { help, .. } => Some(help.clone()),
            WorkloadError::Policy { source, .. } => source.help(),
        }
    }
}
