//! Errors of report generation: the run directory could not be read or the reports written.

use std::path::PathBuf;

/// A report could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The journal could not be read.
    #[error(transparent)]
    Journal(#[from] crate::prune::PruneError),
    /// The run has no result: neither a `result` record in the journal nor a `summary.json`.
    #[error("run directory `{dir}` holds no finished run (no `result` record in journal.jsonl, no summary.json)\nhelp: finish the run first: `iam-prune prune --resume {dir}`")]
    Unfinished {
        /// The run directory.
        dir: PathBuf,
    },
    /// A file of the run directory is not what iam-prune writes.
    #[error(
        "`{path}` is not readable as an iam-prune {what}: {message}\nhelp: regenerate the run with `iam-prune prune`"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {verb} `{path}`: {source}\nhelp: check the run directory's permissions and free space")]
    Io {
        /// `read` or `write`.
        verb: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
