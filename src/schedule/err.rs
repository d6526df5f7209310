//! Errors of scheduled pruning: the jobs file, the history database, the lock.

use std::path::PathBuf;

/// A schedule could not be run or its history read.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The jobs file could not be read.
    #[error("cannot read jobs file `{path}`: {source}\nhelp: pass the path of a JOBS.toml file")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The jobs file is not valid.
    #[error("{path}: {message}\nhelp: {help}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (with line and column where TOML gives them).
        message: String,
        /// What to do.
        help: String,
    },
    /// The history database failed.
    #[error("history database `{path}`: {source}\nhelp: check the path (`--history`), its permissions and free space")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// Another schedule run holds the lock.
    #[error("another `schedule run` is using `{path}` (lock `{lock}` is held)\nhelp: wait for it to finish, or pass --wait to queue behind it")]
    Busy {
        /// The database.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file or directory could not be written.
    #[error("cannot write `{path}`: {source}\nhelp: check the output directory's permissions and free space")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
