//! The sandbox: IAM principals and policies that iam-prune owns for one run, so that trials
//! never touch the user's own principals or policies.
//!
//! Everything is created under the path `/iam-prune/`, named `iam-prune-sbx-<run id>...`
//! and tagged `iam-prune:run-id`, so that leftovers (after kill -9) can be found by tag and
//! deleted by `iam-prune sandbox cleanup`. The start and fixed policies are cloned into
//! sandbox-owned managed policies; the user's policies are only ever read.
//!
//! Layout, one concept a file: `plan` (what a run will create, as one ordered list of
//! steps: `--dry-run` prints that list and creation executes it, so the two cannot drift),
//! `create` (executing the plan, recording what exists so that a failure or Ctrl-C deletes
//! exactly that), `delete` (deleting sandbox objects, and finding and deleting the leftovers
//! of killed runs by tag). This file holds what all three share: the naming rules, run ids,
//! the caller and the trust policy that names it.

mod create;
mod delete;
mod plan;

pub use create::Sandbox;
pub use delete::{cleanup_leftovers, delete_policy, delete_role, delete_user, find_leftovers, Leftover};
pub use plan::{PlannedCall, PolicySpec, RoleSpec, SandboxPlan, Step, UserSpec};

use super::config::Connection;
use super::sdkerr::CallFailure;
use super::AwsError;

/// Prefix of every sandbox name.
pub const NAME_PREFIX: &str = "iam-prune-sbx-";
/// IAM path of every sandbox role and policy.
pub const PATH: &str = "/iam-prune/";
/// Tag key holding the run id.
pub const RUN_ID_TAG: &str = "iam-prune:run-id";

/// The principal running iam-prune, from `sts:GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Account id.
    pub account: String,
    /// The caller's ARN (a user, or an assumed-role session).
    pub arn: String,
}

impl Caller {
    /// Asks STS who we are.
    pub async fn identify(conn: &Connection) -> Result<Caller, AwsError> {
        let out = conn.sts().get_caller_identity().send().await.map_err(|e| {
            AwsError::call(
                "identify the caller (sts:GetCallerIdentity)",
                CallFailure::of(&e).to_string(),
                "check the credentials: `aws sts get-caller-identity` with the same --profile/--region/--endpoint-url",
            )
        })?;
        Ok(Caller {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }
}

/// The trust policy of a sandbox role: only the caller may assume it.
///
/// A user is named directly, and so is an assumed-role session (IAM accepts a role session
/// ARN as a principal). Naming the session rather than the account with an `aws:PrincipalArn`
/// condition keeps other sessions of the caller's role out, and it is the form moto checks
/// (it compares the principal exactly and knows no `aws:PrincipalArn`), which lets iam-prune
/// run inside its own sandbox in the end-to-end tests. A renewed session under a new name is
/// let in again by [`crate::aws::apply`], which rewrites the sandbox role's trust. A
/// Service-only trust policy is never used: moto answers AssumeRole on those with a 500.
pub fn trust_policy(caller: &Caller) -> String {
    let principal = if caller.arn.contains(":assumed-role/") || caller.arn.contains(":user/") {
        caller.arn.clone()
    } else {
        format!("arn:aws:iam::{}:root", caller.account)
    };
    let statement = serde_json::json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"});
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// Which kind of principal the workload runs as (`--principal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// A sandbox role, assumed for each trial: temporary credentials, session policies.
    #[default]
    Role,
    /// A sandbox user with an access key, for workloads that need long-lived keys (they call
    /// `sts:GetSessionToken`, manage their own keys, or refuse session tokens). Candidates are
    /// applied as policy versions only: session policies exist only for assumed sessions.
    User,
}

impl PrincipalKind {
    /// The names `--principal` takes.
    pub const NAMES: [&'static str; 2] = ["role", "user"];
}

impl std::str::FromStr for PrincipalKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "role" => Ok(PrincipalKind::Role),
            "user" => Ok(PrincipalKind::User),
            _ => Err(format!("unknown principal kind `{s}` (one of role, user)")),
        }
    }
}

/// Is `role_arn` a role of a sandbox (by path and name prefix)? Only those are ever changed.
pub fn is_sandbox_role(role_arn: &str) -> bool {
    role_arn.split_once(":role").is_some_and(|(_, rest)| rest.starts_with(&format!("{PATH}{NAME_PREFIX}")))
}

/// Checks that a run id is usable in IAM names (letters, digits, `-`, at most 32).
pub fn check_run_id(run_id: &str) -> Result<(), AwsError> {
    if run_id.is_empty() || run_id.len() > 32 || !run_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(AwsError::Usage {
            message: format!("run id `{run_id}` cannot be used in IAM names"),
            help: "use 1 to 32 letters, digits and dashes".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_names_the_caller() {
        let user = Caller { account: "123456789012".into(), arn: "arn:aws:iam::123456789012:user/admin".into() };
        let t = trust_policy(&user);
        assert!(t.contains("\"AWS\":\"arn:aws:iam::123456789012:user/admin\""), "{t}");
        assert!(!t.contains("Service"));
        let session = Caller { account: "1".into(), arn: "arn:aws:sts::1:assumed-role/Admin/me".into() };
        let t = trust_policy(&session);
        assert!(t.contains("\"AWS\":\"arn:aws:sts::1:assumed-role/Admin/me\"") && !t.contains("root"), "{t}");
        assert!(is_sandbox_role("arn:aws:iam::1:role/iam-prune/iam-prune-sbx-x-session"));
        assert!(!is_sandbox_role("arn:aws:iam::1:role/iam-prune-sbx-x"));
        assert!(!is_sandbox_role("arn:aws:iam::1:role/flintrock-ec2-role"));
    }

    #[test]
    fn run_ids_must_fit_names() {
        assert!(check_run_id("20261124-0821-ab12").is_ok());
        assert!(check_run_id("a b").is_err());
        assert!(check_run_id(&"x".repeat(40)).is_err());
    }
}
