//! Errors of the pruning engine.

use crate::oracle::OracleError;
use std::path::{Path, PathBuf};

/// The search could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The oracle failed (not the workload: the means of running it).
    #[error(transparent)]
    Oracle(#[from] OracleError),
    /// The start policy is not enough for the workload: nothing to prune from.
    #[error("the workload fails even with every action of the start policy ({universe} actions): {denials}")]
    StartFails {
        /// Size of the universe.
        universe: usize,
        /// What the failing run reported.
        denials: String,
    },
    /// The journal could not be written or read.
    #[error("journal `{path}`: {message}")]
    Journal {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// Resuming with a journal whose run differs from the one asked for.
    #[error("cannot resume: {0}")]
    ResumeMismatch(String),
}

impl PruneError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            PruneError::Oracle(e) => e.help(),
            PruneError::StartFails { .. } => Some(
                "start from a broader policy (or add a `fixed` policy) so that the unpruned run passes".to_string(),
            ),
            PruneError::Journal { help, .. } => Some(help.clone()),
            PruneError::ResumeMismatch(_) => {
                Some("resume with the same scenario and options, or start a new run".to_string())
            }
        }
    }

    pub(crate) fn io(path: &Path, e: std::io::Error) -> PruneError {
        let dir = path.parent().unwrap_or(path);
        // A missing journal is the common case (a directory that is not a run directory, or
        // one a kill left before its first record): say that, not "permissions".
        let (message, help) = if e.kind() == std::io::ErrorKind::NotFound {
            if !dir.exists() {
                (
                    format!("`{}` does not exist", dir.display()),
                    "give the directory a `prune` run wrote (reports/<name>-<timestamp>/)".to_string(),
                )
            } else {
                (
                    format!("`{}` is not an iam-prune run directory: it holds no journal.jsonl", dir.display()),
                    "give the directory a `prune` run wrote (it holds journal.jsonl); a run killed before its first record left nothing to resume: start it again".to_string(),
                )
            }
        } else {
            (e.to_string(), "check the run directory's permissions and free space".to_string())
        };
        PruneError::Journal { path: path.to_path_buf(), message, help }
    }
}
