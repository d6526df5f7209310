//! Errors from reading policy documents.

use super::json::Pos;
use std::path::PathBuf;

/// A policy document could not be read or is not a valid IAM policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not JSON, or the JSON is not an IAM policy.
    #[error("{origin}:{pos}: {message}")]
    Invalid {
        /// The file name or a description of where the text came from.
        origin: String,
        /// Where the problem is.
        pos: Pos,
        /// What is wrong.
        message: String,
        /// What to do about it.
        help: String,
    },
}

impl PolicyError {
    /// Where the problem is, when it is in the document.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            PolicyError::Io { .. } => None,
            PolicyError::Invalid { pos, .. } => Some(*pos),
        }
    }

    /// What the user can do about it.
    pub fn help(&self) -> Option<&str> {
        match self {
            PolicyError::Io { .. } => Some("check the path and its permissions"),
            PolicyError::Invalid { help, .. } => Some(help),
        }
    }

    /// What is wrong, without the location and help.
    pub fn message(&self) -> String {
        match self {
            PolicyError::Io { source, .. } => source.to_string(),
            PolicyError::Invalid { message, .. } => message.clone(),
        }
    }
}
