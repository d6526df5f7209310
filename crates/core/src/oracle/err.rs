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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Pos;

    #[test]
    fn policies_that_do_not_compile_keep_the_cause_and_both_hints() {
        let e = OracleError::Policies {
            trial: 2,
            source: EvalError::UnknownOperator {
                origin: "p.json".into(),
                pos: Pos { line: 3, column: 4 },
                operator: "StringEqual".into(),
            },
        };
        assert_eq!(e.to_string(), "cannot run trial 2: p.json:3:4: unknown condition operator `StringEqual`");
        assert!(std::error::Error::source(&e).is_some());
        let help = e.help().unwrap_or_default();
        let lines: Vec<&str> = help.lines().collect();
        assert_eq!(lines.len(), 2, "{help}");
        assert!(lines[0].starts_with("use an operator from the IAM User Guide"), "{help}");
        assert_eq!(lines[1], "fix the scenario's policies (iam-prune scenario check)");
    }
}
