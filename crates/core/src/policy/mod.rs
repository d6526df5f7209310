//! IAM policy documents: the typed model, a parser whose errors point at line and column,
//! lints, and a canonical writer that knows IAM's size limits.
//!
//! The model keeps values as written (action case, condition values) so that lints can
//! talk about what the user typed; normalisation happens when policies are compiled for
//! evaluation or expanded against the catalog.

mod err;
pub mod json;
pub mod lint;
mod parse;
pub mod write;

pub use err::PolicyError;
pub use json::Pos;
pub use parse::{parse_policy, parse_policy_file, parse_policy_recovering, parse_policy_value};

/// A value with the position where the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written (1:1 for documents built in memory).
    pub pos: Pos,
}

impl<T> Spanned<T> {
    /// A value built in memory, with no source position.
    pub fn synthetic(value: T) -> Self {
        Spanned { value, pos: Pos::default() }
    }
}

/// A parsed IAM policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Version`, if present (IAM defaults a missing one to `2008-10-17`).
    pub version: Option<Spanned<String>>,
    /// `Id`, if present.
    pub id: Option<String>,
    /// The statements, in source order.
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    /// Grants the request.
    Allow,
    /// Denies the request, overriding any allow.
    Deny,
}

/// One policy statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`, if present.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` or `NotAction`.
    pub actions: Option<Matcher>,
    /// `Resource` or `NotResource` (absent in trust policies).
    pub resources: Option<Matcher>,
    /// `Principal` or `NotPrincipal` (resource-based policies only).
    pub principals: Option<Principals>,
    /// `Condition` blocks, flattened to one entry per operator and key, in source order.
    pub conditions: Vec<Condition>,
    /// Where the statement starts.
    pub pos: Pos,
}

/// A list of patterns from `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// True for `NotAction`/`NotResource`.
    pub negated: bool,
    /// The patterns as written.
    pub patterns: Vec<Spanned<String>>,
}

/// The kinds of principal a policy can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalKind {
    /// `"AWS"`: accounts, users, roles, sessions.
    Aws,
    /// `"Service"`: AWS service principals such as `ec2.amazonaws.com`.
    Service,
    /// `"Federated"`: identity providers.
    Federated,
    /// `"CanonicalUser"`: S3 canonical user ids.
    CanonicalUser,
}

impl PrincipalKind {
    /// The JSON key for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::Service => "Service",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::CanonicalUser => "CanonicalUser",
        }
    }
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principals {
    /// True for `NotPrincipal`.
    pub negated: bool,
    /// `"Principal": "*"`: everyone (the same as `{"AWS": "*"}`).
    pub any: bool,
    /// The named principals.
    pub entries: Vec<(PrincipalKind, Spanned<String>)>,
}

/// One condition: an operator, a key, and the values (ORed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: Spanned<String>,
    /// Condition key as written, e.g. `aws:RequestTag/team`.
    pub key: Spanned<String>,
    /// Values as written; numbers and booleans are kept in their JSON spelling.
    pub values: Vec<Spanned<String>>,
}

impl Policy {
    /// A policy with one `Allow` statement per given (actions, resources) pair.
    pub fn allow(statements: Vec<(Vec<String>, Vec<String>)>) -> Policy {
        Policy {
            version: Some(Spanned::synthetic("2012-10-17".to_string())),
            id: None,
            statements: statements
                .into_iter()
                .map(|(actions, resources)| Statement {
                    sid: None,
                    effect: Effect::Allow,
                    actions: Some(Matcher {
                        negated: false,
                        patterns: actions.into_iter().map(Spanned::synthetic).collect(),
                    }),
                    resources: Some(Matcher {
                        negated: false,
                        patterns: resources.into_iter().map(Spanned::synthetic).collect(),
                    }),
                    principals: None,
                    conditions: Vec::new(),
                    pos: Pos::default(),
                })
                .collect(),
        }
    }
}
