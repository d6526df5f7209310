//! Errors from loading scenario files.

use crate::policy::Pos;
use std::path::PathBuf;

/// A scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read.
    #[error("cannot read scenario `{path}`: {source}\nhelp: check the path")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{path}:{pos}: {message}\nhelp: {help}")]
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
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
