//! Errors of report generation: the run directory could not be read or the reports written.

use std::path::PathBuf;

/// A report could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] crate::prune::PruneError),
    /// The run has no result: neither a `result` record in the journal nor a `summary.json`.
    #[error("run directory `{dir}` holds no finished run (no `result` record in journal.jsonl, no summary.json)")]
    Unfinished {
        /// The run directory.
        dir: PathBuf,
    },
    /// A file of the run directory is not what iam-prune writes.
    #[error("`{path}` is not readable as an iam-prune {what}: {source}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        what: &'static str,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// Reading or writing a file failed.
    #[error("cannot {verb} `{path}`: {source}")]
    Io {
        /// `read` or `write`.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ReportError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            ReportError::Journal(e) => e.help(),
            ReportError::Unfinished { dir } => {
                Some(format!("finish the run first: `iam-prune prune --resume {}`", dir.display()))
            }
            ReportError::Malformed { .. } => Some("regenerate the run with `iam-prune prune`".to_string()),
            ReportError::Io { .. } => Some("check the run directory's permissions and free space".to_string()),
        }
    }
}
