//! Errors of the AWS backend: one type, so the CLI can print any of them with a `help` line.

use crate::catalog::PolicySourceError;

/// Something the AWS backend could not do.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS API call failed (after the SDK's retries and our own bounded retries).
    #[error("failed to {context}: {message}")]
    Call {
        /// What we were doing, e.g. "create sandbox role `iam-prune-sbx-...`".
        context: String,
        /// The service's error code and message, or the transport error.
        message: String,
        /// What to try next.
        help: String,
    },
    /// The start or a fixed policy could not be loaded.
    #[error("cannot load policy `{name}`: {source}")]
    Policy {
        /// As given on the command line.
        name: String,
        /// Why.
        source: PolicySourceError,
    },
    /// A live customer managed policy was named where there is no AWS connection to read it.
    #[error("cannot load policy `{name}`: a live policy needs AWS access")]
    LivePolicy {
        /// As given on the command line.
        name: String,
    },
    /// The arguments do not make sense together.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// The way candidates are applied was shown not to be enforced: no trial could count.
    #[error("{mechanism} is not enforced: {message}")]
    NotEnforced {
        /// The mechanism, as the user chose it (`--apply session`).
        mechanism: &'static str,
        /// What the probe saw.
        message: String,
        /// What to use instead.
        help: String,
    },
    /// A local file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl AwsError {
    pub(crate) fn call(context: impl Into<String>, message: impl Into<String>, help: impl Into<String>) -> AwsError {
        AwsError::Call { context: context.into(), message: message.into(), help: help.into() }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> AwsError {
        AwsError::Io { context: context.into(), source }
    }

    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            AwsError::Call { help, .. } | AwsError::Usage { help, .. } | AwsError::NotEnforced { help, .. } => {
                Some(help.clone())
            }
            AwsError::Policy { source, .. } => source.help(),
            AwsError::LivePolicy { .. } | AwsError::Io { .. } => None,
        }
    }
}
