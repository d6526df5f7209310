//! Errors of scheduled pruning: the jobs file, the history database, the lock.

use std::path::PathBuf;

/// A schedule could not be run or its history read.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The jobs file could not be read.
    #[error("cannot read jobs file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The jobs file is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column where TOML gives them).
        message: String,
        /// What to do.
        help: String,
    },
    /// The history database failed.
    #[error("history database `{path}`: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// Another schedule run holds the lock.
    #[error("another `schedule run` is using `{path}` (lock `{lock}` is held)")]
    Busy {
        /// The database.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file or directory could not be written.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ScheduleError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<&str> {
        Some(match self {
            ScheduleError::Read { .. } => "pass the path of a JOBS.toml file",
            ScheduleError::Invalid { help, .. } => help,
            ScheduleError::Db { .. } => "check the path (`--history`), its permissions and free space",
            ScheduleError::Busy { .. } => "wait for it to finish, or pass --wait to queue behind it",
            ScheduleError::Io { .. } => "check the output directory's permissions and free space",
        })
    }
}
