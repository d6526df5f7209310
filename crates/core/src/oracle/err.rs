//! Errors of oracles.

use crate::eval::EvalError;

/// An oracle could not run a trial (the workload's own failure is an `Outcome`, not this).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// Running the workload failed before it could pass or fail.
    #[error("cannot run trial {trial}: {message}")]
    Run {
        /// Trial number.
        trial: u64,
        /// What went wrong.
        message: String,
        /// What to do (one hint per line).
        help: String,
    },
    /// A scenario's policies do not compile for evaluation, so no trial can be decided.
    #[error("cannot run trial {trial}: {source}")]
    Policies {
        /// Trial number.
        trial: u64,
        /// Why they do not compile.
        source: EvalError,
    },
    /// The run was interrupted (Ctrl-C); recorded trials are kept, `--resume` continues.
    #[error("interrupted")]
    Interrupted,
}

impl OracleError {
    /// What the user can do about it (one hint per line).
    pub fn help(&self) -> Option<String> {
        match self {
            OracleError::Run { help, .. } => Some(help.clone()),
            OracleError::Policies { source, .. } => Some(match source.help() {
                Some(h) => format!("{h}\n{FIX_POLICIES}"),
                None => FIX_POLICIES.to_string(),
            }),
            OracleError::Interrupted => None,
        }
    }
}

const FIX_POLICIES: &str = "fix the scenario's policies (iam-prune scenario check)";
