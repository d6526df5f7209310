//! What a run will create, before anything is created.
//!
//! A [`SandboxPlan`] says which policies, roles and users the sandbox holds;
//! [`SandboxPlan::steps`] turns it into the one ordered list of IAM calls that creates them.
//! That list is read twice: `--dry-run` prints it ([`SandboxPlan::calls`]) and
//! [`super::Sandbox::create`] executes it, step by step. The order and arguments of the calls
//! are therefore written down once, so the dry run always shows what a real run does.

use super::{trust_policy, Caller, NAME_PREFIX, PATH, RUN_ID_TAG};
use crate::aws::policy_doc;

/// A sandbox managed policy to create.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    /// Policy name.
    pub name: String,
    /// The document (minified JSON).
    pub document: String,
}

/// A sandbox role to create, with the sandbox policies it holds.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// Role name.
    pub name: String,
    /// Names of the [`PolicySpec`]s to attach.
    pub attach: Vec<String>,
}

/// A sandbox user to create, with the sandbox policies it holds and one access key.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// User name.
    pub name: String,
    /// Names of the [`PolicySpec`]s to attach.
    pub attach: Vec<String>,
}

/// What a run will create, before anything is created.
///
/// Kept as specs (not as the step list itself) because the rest of the backend asks it
/// "which roles, users, policies" (slot names, `aws.json`); [`SandboxPlan::steps`] is the only
/// place that turns the specs into calls.
#[derive(Debug, Clone)]
pub struct SandboxPlan {
    /// The run id (tag value, name suffix).
    pub run_id: String,
    /// The caller, for the trust policy and ARNs.
    pub caller: Caller,
    /// Policies, in creation order.
    pub policies: Vec<PolicySpec>,
    /// Roles, in creation order.
    pub roles: Vec<RoleSpec>,
    /// Users, in creation order.
    pub users: Vec<UserSpec>,
}

/// One IAM call, as `--dry-run` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCall {
    /// `iam:CreateRole`, ...
    pub action: String,
    /// What it acts on and with which arguments.
    pub detail: String,
}

/// One IAM call of sandbox creation, holding every argument it is sent with, so that the
/// dry run's description and the executor's request come from the same values.
///
/// Every object created is tagged with the plan's run id; the tag is the plan's, not the
/// step's, so it is not repeated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `iam:CreatePolicy` under [`PATH`].
    CreatePolicy {
        /// Policy name.
        name: String,
        /// The document (minified JSON).
        document: String,
    },
    /// `iam:CreateRole` under [`PATH`].
    CreateRole {
        /// Role name.
        name: String,
        /// Its trust policy ([`trust_policy`] of the caller).
        trust: String,
    },
    /// `iam:AttachRolePolicy` of a sandbox policy to a sandbox role.
    AttachRolePolicy {
        /// Role name.
        role: String,
        /// ARN of the sandbox policy.
        policy_arn: String,
    },
    /// `iam:CreateUser` under [`PATH`].
    CreateUser {
        /// User name.
        name: String,
    },
    /// `iam:AttachUserPolicy` of a sandbox policy to a sandbox user.
    AttachUserPolicy {
        /// User name.
        user: String,
        /// ARN of the sandbox policy.
        policy_arn: String,
    },
    /// `iam:CreateAccessKey`: the user's one long-lived key, which the workload runs with.
    CreateAccessKey {
        /// User name.
        user: String,
    },
}

impl Step {
    /// The IAM action the step calls.
    pub fn action(&self) -> &'static str {
        match self {
            Step::CreatePolicy { .. } => "iam:CreatePolicy",
            Step::CreateRole { .. } => "iam:CreateRole",
            Step::AttachRolePolicy { .. } => "iam:AttachRolePolicy",
            Step::CreateUser { .. } => "iam:CreateUser",
            Step::AttachUserPolicy { .. } => "iam:AttachUserPolicy",
            Step::CreateAccessKey { .. } => "iam:CreateAccessKey",
        }
    }

    /// The step as `--dry-run` prints it, in a run whose objects are tagged with `run_id`.
    pub fn describe(&self, run_id: &str) -> PlannedCall {
        let tag = format!("tags {RUN_ID_TAG}={run_id}");
        let detail = match self {
            Step::CreatePolicy { name, document } => {
                format!("{name} path {PATH} {tag} ({} chars)", policy_doc::iam_chars(document))
            }
            Step::CreateRole { name, trust } => format!("{name} path {PATH} {tag} trust {trust}"),
            Step::AttachRolePolicy { role, policy_arn } => format!("{role} {policy_arn}"),
            Step::CreateUser { name } => format!("{name} path {PATH} {tag}"),
            Step::AttachUserPolicy { user, policy_arn } => format!("{user} {policy_arn}"),
            Step::CreateAccessKey { user } => format!("{user} (the workload's long-lived key, deleted at cleanup)"),
        };
        PlannedCall { action: self.action().into(), detail }
    }
}

impl SandboxPlan {
    /// The name of a sandbox object of this run: `iam-prune-sbx-<run id><suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{NAME_PREFIX}{}{suffix}", self.run_id)
    }

    /// The ARN a sandbox policy named `name` gets.
    pub fn policy_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:policy{PATH}{name}", self.caller.account)
    }

    /// The ARN a sandbox role named `name` gets.
    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role{PATH}{name}", self.caller.account)
    }

    /// The IAM calls that create the sandbox, in the order they are made.
    ///
    /// Policies come first because roles and users attach them. Each principal is followed
    /// by its attachments (and a user by its key) so that, if a call fails part way, what
    /// exists is whole principals plus at most one half-made one, all recorded for cleanup.
    pub fn steps(&self) -> Vec<Step> {
        let mut v = Vec::new();
        for p in &self.policies {
            v.push(Step::CreatePolicy { name: p.name.clone(), document: p.document.clone() });
        }
        let trust = trust_policy(&self.caller);
        for r in &self.roles {
            v.push(Step::CreateRole { name: r.name.clone(), trust: trust.clone() });
            for a in &r.attach {
                v.push(Step::AttachRolePolicy { role: r.name.clone(), policy_arn: self.policy_arn(a) });
            }
        }
        for u in &self.users {
            v.push(Step::CreateUser { name: u.name.clone() });
            for a in &u.attach {
                v.push(Step::AttachUserPolicy { user: u.name.clone(), policy_arn: self.policy_arn(a) });
            }
            v.push(Step::CreateAccessKey { user: u.name.clone() });
        }
        v
    }

    /// The IAM calls creation makes, in order, as `--dry-run` prints them: [`Self::steps`],
    /// described.
    pub fn calls(&self) -> Vec<PlannedCall> {
        self.steps().iter().map(|s| s.describe(&self.run_id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(caller_arn: &str) -> SandboxPlan {
        let caller = Caller { account: "123456789012".into(), arn: caller_arn.into() };
        SandboxPlan { run_id: "r1".into(), caller, policies: Vec::new(), roles: Vec::new(), users: Vec::new() }
    }

    fn lines(plan: &SandboxPlan) -> Vec<String> {
        plan.calls().iter().map(|c| format!("{} {}", c.action, c.detail)).collect()
    }

    #[test]
    fn a_user_sandbox_plans_the_user_its_policies_and_one_key() {
        let mut plan = plan("arn:aws:iam::123456789012:user/admin");
        plan.policies.push(PolicySpec { name: plan.name("-candidate"), document: "{}".into() });
        plan.users.push(UserSpec { name: plan.name("-u"), attach: vec![plan.name("-candidate")] });
        let calls = lines(&plan);
        assert_eq!(calls.len(), 4, "{calls:#?}");
        assert!(calls[1].starts_with("iam:CreateUser iam-prune-sbx-r1-u path /iam-prune/ tags iam-prune:run-id=r1"));
        assert_eq!(
            calls[2],
            "iam:AttachUserPolicy iam-prune-sbx-r1-u arn:aws:iam::123456789012:policy/iam-prune/iam-prune-sbx-r1-candidate"
        );
        assert!(calls[3].starts_with("iam:CreateAccessKey iam-prune-sbx-r1-u"));
    }

    /// The dry run's text, word for word: the policies, then each role with its attachments,
    /// then each user with its attachments and key (the order creation runs them in).
    #[test]
    fn the_dry_run_prints_every_step_in_creation_order() {
        let mut plan = plan("arn:aws:iam::123456789012:user/admin");
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        plan.policies.push(PolicySpec { name: plan.name("-fixed1"), document: doc.into() });
        plan.policies.push(PolicySpec { name: plan.name("-start"), document: doc.into() });
        plan.roles.push(RoleSpec { name: plan.name("-probe"), attach: Vec::new() });
        plan.roles.push(RoleSpec { name: plan.name(""), attach: vec![plan.name("-start"), plan.name("-fixed1")] });
        plan.users.push(UserSpec { name: plan.name("-u"), attach: vec![plan.name("-fixed1")] });
        let trust = trust_policy(&plan.caller);
        let chars = policy_doc::iam_chars(doc);
        let arn = |n: &str| format!("arn:aws:iam::123456789012:policy/iam-prune/iam-prune-sbx-r1{n}");
        let expected = vec![
            format!(
                "iam:CreatePolicy iam-prune-sbx-r1-fixed1 path /iam-prune/ tags iam-prune:run-id=r1 ({chars} chars)"
            ),
            format!(
                "iam:CreatePolicy iam-prune-sbx-r1-start path /iam-prune/ tags iam-prune:run-id=r1 ({chars} chars)"
            ),
            format!("iam:CreateRole iam-prune-sbx-r1-probe path /iam-prune/ tags iam-prune:run-id=r1 trust {trust}"),
            format!("iam:CreateRole iam-prune-sbx-r1 path /iam-prune/ tags iam-prune:run-id=r1 trust {trust}"),
            format!("iam:AttachRolePolicy iam-prune-sbx-r1 {}", arn("-start")),
            format!("iam:AttachRolePolicy iam-prune-sbx-r1 {}", arn("-fixed1")),
            "iam:CreateUser iam-prune-sbx-r1-u path /iam-prune/ tags iam-prune:run-id=r1".to_string(),
            format!("iam:AttachUserPolicy iam-prune-sbx-r1-u {}", arn("-fixed1")),
            "iam:CreateAccessKey iam-prune-sbx-r1-u (the workload's long-lived key, deleted at cleanup)".to_string(),
        ];
        assert_eq!(lines(&plan), expected);
        // Each printed line is one step: the executor runs exactly these, in this order.
        let actions: Vec<&str> = plan.steps().iter().map(Step::action).collect();
        assert_eq!(actions, plan.calls().iter().map(|c| c.action.as_str()).collect::<Vec<_>>());
    }
}
