//! Errors from compiling policies for evaluation.

use crate::policy::Pos;

/// A policy set could not be compiled into an [`super::Evaluator`].
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A condition operator IAM does not know.
    #[error("{origin}:{pos}: unknown condition operator `{operator}`")]
    UnknownOperator {
        /// The policy's name or file.
        origin: String,
        /// Where the operator is written.
        pos: Pos,
        /// The operator as written.
        operator: String,
    },
    /// More guard policies of one type than the evaluator tracks.
    #[error("too many {kind} policies ({count}); at most 64 are supported")]
    TooManyGuards {
        /// `SCP` or `RCP`.
        kind: &'static str,
        /// How many were given.
        count: usize,
    },
}

impl EvalError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<&'static str> {
        Some(match self {
            EvalError::UnknownOperator { .. } => {
                "use an operator from the IAM User Guide's \"Condition operators\" page, such as `StringEquals`, `StringLikeIfExists` or `ForAnyValue:StringLike` (`Null` takes no prefix or suffix)"
            }
            EvalError::TooManyGuards { .. } => "merge policies of the same level into one document",
        })
    }
}
