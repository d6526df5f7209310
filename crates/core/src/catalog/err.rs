//! Errors from the catalog.

/// A catalog lookup or the embedded data failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The embedded data does not parse (a build defect: regenerate with tools/gen-catalog).
    #[error("the embedded catalog is corrupt: {0}")]
    Corrupt(String),
    /// A name is neither a managed policy nor a readable file.
    #[error("`{name}` is neither an AWS managed policy nor a policy file{}", did_you_mean(.suggestions))]
    UnknownPolicy {
        /// What the user gave.
        name: String,
        /// Close managed policy names.
        suggestions: Vec<String>,
    },
    /// Neither a service prefix nor an action.
    #[error("`{name}` is not a service prefix or action in the catalog{}", did_you_mean(.suggestions))]
    UnknownName {
        /// What the user gave.
        name: String,
        /// Close action names.
        suggestions: Vec<String>,
    },
}

impl CatalogError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            CatalogError::Corrupt(_) => "regenerate it with `tools/gen-catalog/run.sh`".to_string(),
            CatalogError::UnknownPolicy { .. } => {
                "give a managed policy name such as `IAMFullAccess`, its ARN, or the path of a JSON policy document"
                    .to_string()
            }
            CatalogError::UnknownName { name, .. } => format!("try `iam-prune catalog search {name}`"),
        })
    }
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", s.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "))
    }
}
