//! Errors from loading scenario files.

use crate::catalog::PolicySourceError;
use crate::policy::Pos;
use std::path::PathBuf;

/// A scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read.
    #[error("cannot read scenario `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{path}:{pos}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where.
        pos: Pos,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// A policy the scenario names could not be loaded.
    #[error("{path}: policy `{name}`: {source}")]
    Policy {
        /// The scenario file.
        path: PathBuf,
        /// The policy reference.
        name: String,
        /// The cause (boxed: the other variants are small).
        source: Box<PolicySourceError>,
    },
}

impl WorkloadError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            WorkloadError::Io { .. } => Some("check the path".to_string()),
            WorkloadError::Invalid { help, .. } => Some(help.clone()),
            WorkloadError::Policy { source, .. } => source.help(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CatalogError;

    #[test]
    fn a_policy_the_scenario_names_gives_its_own_hint() {
        let e = WorkloadError::Policy {
            path: "s.toml".into(),
            name: "Nope".into(),
            source: Box::new(CatalogError::UnknownPolicy { name: "Nope".into(), suggestions: vec![] }.into()),
        };
        assert_eq!(e.to_string(), "s.toml: policy `Nope`: `Nope` is neither an AWS managed policy nor a policy file");
        assert!(e.help().is_some_and(|h| h.starts_with("give a managed policy name")), "{:?}", e.help());
        assert!(std::error::Error::source(&e).is_some());
    }
}
