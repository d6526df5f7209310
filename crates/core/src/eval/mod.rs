//! Request -> decision: AWS IAM policy evaluation for one account, compiled once and run
//! millions of times by the pruning engine.
//!
//! The evaluator follows the IAM User Guide's "Policy evaluation logic" pages
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
//! Matching a statement against a request lives in [`statement`], conditions in [`cond`],
//! wildcards and policy variables in [`wild`]; combining the policy types into a decision
//! lives in [`engine`], whose module docs state every choice made where the AWS docs leave
//! room.
//!
//! Compiling does the work once (lowercased action patterns, classified wildcards, parsed
//! numbers, dates and CIDRs, lowercased condition keys), so [`Evaluator::decide`] does not
//! allocate for ordinary requests.

pub mod batch;
mod cond;
mod context;
mod engine;
mod err;
mod statement;
mod wild;

pub use context::{Context, ContextValue};
pub use err::EvalError;
pub use wild::{arn_match, reference_arn_match, ArnPattern};

use crate::policy::{Effect, Policy};

/// A policy with the name used in explanations (file path, managed policy name, ...).
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    /// The name shown in decisions.
    pub name: String,
    /// The parsed document.
    pub policy: Policy,
}

impl NamedPolicy {
    /// A named policy.
    pub fn new(name: impl Into<String>, policy: Policy) -> NamedPolicy {
        NamedPolicy { name: name.into(), policy }
    }
}

/// Every policy that applies to the requests of one principal on one account's resources.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity-based policies (managed and inline) of the principal.
    pub identity: Vec<NamedPolicy>,
    /// The principal's permissions boundary.
    pub boundary: Option<NamedPolicy>,
    /// The session policy passed when the session was created.
    pub session: Option<NamedPolicy>,
    /// Service control policies. Each entry is one level of the organization path (root,
    /// OU, account) and must allow on its own, as AWS requires at every level; to model
    /// several SCPs attached at the same level, merge them into one document.
    pub scps: Vec<NamedPolicy>,
    /// Resource control policies, one per level like `scps`.
    pub rcps: Vec<NamedPolicy>,
    /// Resource-based policies of the target resource (bucket policies, key policies,
    /// role trust policies, ...).
    pub resource: Vec<NamedPolicy>,
}

/// The type of a policy, as reported in decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum PolicyType {
    /// Identity-based.
    Identity,
    /// Permissions boundary.
    Boundary,
    /// Session policy.
    Session,
    /// Service control policy.
    Scp,
    /// Resource control policy.
    Rcp,
    /// Resource-based.
    Resource,
}

impl PolicyType {
    /// A short human name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based policy",
            PolicyType::Boundary => "permissions boundary",
            PolicyType::Session => "session policy",
            PolicyType::Scp => "service control policy",
            PolicyType::Rcp => "resource control policy",
            PolicyType::Resource => "resource-based policy",
        }
    }
}

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Caller ARN: `arn:aws:iam::111122223333:role/app`,
    /// `arn:aws:sts::111122223333:assumed-role/app/session`, a user ARN, a service
    /// principal such as `ec2.amazonaws.com`, or `anonymous` for an unsigned request.
    pub principal: &'a str,
    /// Action, any case: `iam:PassRole`.
    pub action: &'a str,
    /// Resource ARN, or `*` when the action has no resource.
    pub resource: &'a str,
    /// Condition keys.
    pub context: &'a Context,
}

/// The three outcomes of IAM evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DecisionKind {
    /// Allowed.
    Allow,
    /// A `Deny` statement applied.
    ExplicitDeny,
    /// Nothing allowed the request (or a guard did not allow it).
    ImplicitDeny,
}

impl DecisionKind {
    /// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Allow => "Allow",
            DecisionKind::ExplicitDeny => "ExplicitDeny",
            DecisionKind::ImplicitDeny => "ImplicitDeny",
        }
    }
}

/// Why the decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A `Deny` statement applied.
    ExplicitDeny,
    /// Identity-based policies allowed, and every present guard too.
    IdentityAllow,
    /// A resource-based policy naming the caller allowed on its own.
    ResourceAllow,
    /// The caller is the account root user, which has every permission not denied.
    RootUser,
    /// The action needs no permission (`sts:GetCallerIdentity`): allowed even when denied.
    NoPermissionRequired,
    /// No statement allowed the request.
    NoAllow,
    /// An SCP, RCP, boundary or session policy is present and did not allow.
    GuardDidNotAllow(PolicyType),
    /// A role trust policy or KMS key policy must allow (the resource policy is present
    /// but did not).
    ResourcePolicyRequired,
    /// Cross-account: both the identity side and the resource policy must allow.
    CrossAccountNeedsBoth,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::ExplicitDeny => write!(f, "an explicit Deny statement applies; a deny always wins"),
            Reason::IdentityAllow => write!(f, "allowed by identity-based policies and every present guard"),
            Reason::ResourceAllow => write!(f, "allowed by a resource-based policy that names the caller"),
            Reason::RootUser => write!(f, "the account root user has every permission that is not denied"),
            Reason::NoPermissionRequired => {
                write!(f, "the action needs no permission and is allowed even when a policy denies it")
            }
            Reason::NoAllow => write!(f, "no statement allows the request"),
            Reason::GuardDidNotAllow(t) => write!(f, "the {} does not allow the request", t.as_str()),
            Reason::ResourcePolicyRequired => {
                write!(f, "the role trust policy or key policy must allow the caller, and it does not")
            }
            Reason::CrossAccountNeedsBoth => {
                write!(f, "cross-account request: both the caller's policies and the resource policy must allow")
            }
        }
    }
}

/// A statement that took part in the decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Matched {
    /// The policy's name.
    pub policy: String,
    /// The policy's type.
    pub policy_type: PolicyType,
    /// `Sid`, or `#<index>` (0-based) when the statement has none.
    pub statement: String,
    /// The statement's effect.
    pub effect: Effect,
}

/// A decision and the statements behind it: the denying statements for an explicit deny,
/// the allowing ones otherwise (for an implicit deny, the allows that were not enough).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// The outcome.
    pub kind: DecisionKind,
    /// The statements that decided.
    pub matched: Vec<Matched>,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    /// True for [`DecisionKind::Allow`].
    pub fn is_allowed(&self) -> bool {
        self.kind == DecisionKind::Allow
    }
}

pub use engine::Evaluator;
