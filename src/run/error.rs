//! What can stop a job: its inputs, the search, the sandbox, or writing the run directory.

use std::path::PathBuf;

/// The hint for a sandbox that could not be deleted.
const CLEANUP: &str = "`iam-prune sandbox cleanup` deletes what is left, by tag";

/// The error of a job ([`super::run_scenario_job`], [`crate::aws::job::run_aws_job`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The search, or the journal it writes and resumes from.
    #[error(transparent)]
    Prune(#[from] crate::prune::PruneError),
    /// The scenario file.
    #[error(transparent)]
    Workload(#[from] crate::workload::WorkloadError),
    /// AWS: connecting, the sandbox, the start policies.
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    /// The reports of the finished run.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A file or directory of the run could not be created, written or read.
    #[error("cannot {verb} `{path}`: {source}")]
    Io {
        /// What was tried: `create`, `write`, `read`, `remove`.
        verb: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Every run directory name after `base` is taken.
    #[error("no free run directory name after `{base}` (9,999 taken)")]
    NoFreeDir {
        /// The name tried first.
        base: PathBuf,
    },
    /// `--previous` names something that is not a finished, proven run.
    #[error("`{path}` {problem}")]
    Previous {
        /// The `summary.json` read.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The search ended with an error and the sandbox could not be deleted either.
    #[error("{error}\nand the sandbox could not be deleted: {}", failed.join("; "))]
    Cleanup {
        /// What ended the search.
        error: Box<RunError>,
        /// The sandbox objects left behind.
        failed: Vec<String>,
    },
    /// The run's own records (start record, summary, policy) could not be serialized.
    #[error("cannot serialize the run's records: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A resumed AWS run found the sandbox of its killed process and could not delete it.
    #[error("cannot delete the sandbox left by the interrupted run: {}", failed.join("; "))]
    Leftovers {
        /// What could not be deleted, and why.
        failed: Vec<String>,
    },
    /// A new run was asked for without saying what to run.
    #[error("a new run needs a job (a scenario, or a command on AWS)")]
    NoJob,
}

impl RunError {
    /// What the user can do about it, when there is something to say beyond the message (one
    /// hint per line): the inner error's hint for the errors this wraps.
    pub fn help(&self) -> Option<String> {
        match self {
            RunError::Prune(e) => e.help(),
            RunError::Workload(e) => e.help(),
            RunError::Aws(e) => e.help(),
            RunError::Report(e) => e.help(),
            RunError::Io { .. } => Some("check the directory's permissions and free space".into()),
            RunError::NoFreeDir { .. } => Some("pass --out DIR".into()),
            RunError::Previous { .. } => Some(
                "pass the directory of a finished run (the one holding summary.json), or its actions with --likely"
                    .into(),
            ),
            RunError::Cleanup { error, .. } => Some(match error.help() {
                Some(h) => format!("{h}\n{CLEANUP}"),
                None => CLEANUP.into(),
            }),
            RunError::Leftovers { .. } => Some(CLEANUP.into()),
            RunError::Serialize(_) | RunError::NoJob => None,
        }
    }

    /// True for a usage error: a flag or value that cannot work (exit 2).
    pub fn is_usage(&self) -> bool {
        match self {
            RunError::Aws(e) => matches!(e, crate::aws::AwsError::Usage { .. }),
            RunError::Cleanup { error, .. } => error.is_usage(),
            _ => false,
        }
    }

    /// An io error on `path`.
    pub(crate) fn io(verb: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RunError {
        let path = path.into();
        move |source| RunError::Io { verb, path, source }
    }
}
