//! Errors of oracles.

/// An oracle could not run a trial (the workload's own failure is an `Outcome`, not this).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Running the workload failed before it could pass or fail.
    #[error("cannot run trial {trial}: {message}\nhelp: {help}")]
    Run {
        /// Trial number.
        trial: u64,
        /// What went wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// The run was interrupted (Ctrl-C); recorded trials are kept, `--resume` continues.
    #[error("interrupted")]
    Interrupted,
}
