//! Executing a [`SandboxPlan`]: each of its [`Step`]s in order, recording what exists after
//! each one, so that a failure part way, an error later in the run or Ctrl-C deletes exactly
//! what was made and nothing else.
//!
//! The steps come from [`SandboxPlan::steps`], the list `--dry-run` prints; this file decides
//! only how each kind of step is sent and what it leaves to clean up, never which steps run.

use super::delete::{delete_policy, delete_role, delete_user};
use super::plan::{SandboxPlan, Step};
use super::{PATH, RUN_ID_TAG};
use crate::aws::config::{Connection, SessionCredentials};
use crate::aws::sdkerr::CallFailure;
use crate::aws::AwsError;
use aws_sdk_iam::types::Tag;
use std::sync::Mutex;

/// What a run created (recorded as it goes, so cleanup after an error or Ctrl-C deletes
/// exactly what exists).
#[derive(Debug)]
pub struct Sandbox {
    conn: Connection,
    run_id: String,
    roles: Mutex<Vec<String>>,
    users: Mutex<Vec<String>>,
    policies: Mutex<Vec<String>>,
    keys: Mutex<Vec<(String, SessionCredentials)>>,
}

fn tags(run_id: &str) -> Result<Tag, AwsError> {
    Tag::builder()
        .key(RUN_ID_TAG)
        .value(run_id)
        .build()
        .map_err(|e| AwsError::call("build the sandbox tag", e.to_string(), "report this as a bug"))
}

impl Sandbox {
    /// Creates what `plan` lists. On a failure part way, deletes what was created and
    /// returns the error.
    pub async fn create(conn: &Connection, plan: &SandboxPlan) -> Result<Sandbox, AwsError> {
        let sandbox = Sandbox {
            conn: conn.clone(),
            run_id: plan.run_id.clone(),
            roles: Mutex::new(Vec::new()),
            users: Mutex::new(Vec::new()),
            policies: Mutex::new(Vec::new()),
            keys: Mutex::new(Vec::new()),
        };
        match sandbox.create_all(plan).await {
            Ok(()) => Ok(sandbox),
            Err(e) => {
                sandbox.cleanup().await;
                Err(e)
            }
        }
    }

    async fn create_all(&self, plan: &SandboxPlan) -> Result<(), AwsError> {
        let iam = self.conn.iam();
        // Built before the first call: a tag that cannot be built must not leave half a sandbox.
        let tag = tags(&plan.run_id)?;
        for step in plan.steps() {
            self.execute(&iam, &tag, plan, &step).await?;
        }
        Ok(())
    }

    /// Sends one step and records what it created. Each error names the object and the
    /// permission the step needs, since a missing permission is the usual cause.
    async fn execute(
        &self,
        iam: &aws_sdk_iam::Client,
        tag: &Tag,
        plan: &SandboxPlan,
        step: &Step,
    ) -> Result<(), AwsError> {
        match step {
            Step::CreatePolicy { name, document } => {
                let out = iam
                    .create_policy()
                    .policy_name(name)
                    .path(PATH)
                    .policy_document(document)
                    .tags(tag.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call(
                            format!("create sandbox policy `{name}`"),
                            CallFailure::of(&e).to_string(),
                            "iam-prune needs iam:CreatePolicy and iam:TagPolicy on arn:aws:iam::*:policy/iam-prune/* (see docs/aws.md)",
                        )
                    })?;
                // Policies are deleted by ARN: prefer the one IAM returned over the one
                // derived from the caller's account.
                let arn =
                    out.policy().and_then(|p| p.arn()).map(str::to_string).unwrap_or_else(|| plan.policy_arn(name));
                lock(&self.policies).push(arn);
            }
            Step::CreateRole { name, trust } => {
                iam.create_role()
                    .role_name(name)
                    .path(PATH)
                    .assume_role_policy_document(trust)
                    .tags(tag.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::call(
                            format!("create sandbox role `{name}`"),
                            CallFailure::of(&e).to_string(),
                            "iam-prune needs iam:CreateRole and iam:TagRole on arn:aws:iam::*:role/iam-prune/* (see docs/aws.md)",
                        )
                    })?;
                lock(&self.roles).push(name.clone());
            }
            // Attachments need no record: deleting the role or user detaches its policies.
            Step::AttachRolePolicy { role, policy_arn } => {
                iam.attach_role_policy().role_name(role).policy_arn(policy_arn).send().await.map_err(|e| {
                    AwsError::call(
                        format!("attach `{policy_arn}` to sandbox role `{role}`"),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:AttachRolePolicy on its own roles",
                    )
                })?;
            }
            Step::CreateUser { name } => {
                iam.create_user().user_name(name).path(PATH).tags(tag.clone()).send().await.map_err(|e| {
                    AwsError::call(
                        format!("create sandbox user `{name}`"),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:CreateUser and iam:TagUser on arn:aws:iam::*:user/iam-prune/* (see docs/aws.md)",
                    )
                })?;
                lock(&self.users).push(name.clone());
            }
            Step::AttachUserPolicy { user, policy_arn } => {
                iam.attach_user_policy().user_name(user).policy_arn(policy_arn).send().await.map_err(|e| {
                    AwsError::call(
                        format!("attach `{policy_arn}` to sandbox user `{user}`"),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:AttachUserPolicy on its own users",
                    )
                })?;
            }
            Step::CreateAccessKey { user } => {
                let out = iam.create_access_key().user_name(user).send().await.map_err(|e| {
                    AwsError::call(
                        format!("create an access key for sandbox user `{user}`"),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:CreateAccessKey on its own users",
                    )
                })?;
                let Some(key) = out.access_key() else {
                    return Err(AwsError::call(
                        format!("create an access key for sandbox user `{user}`"),
                        "the answer holds no key",
                        "retry; if it persists, report it with the endpoint used",
                    ));
                };
                // The key itself is deleted with its user; it is kept here only for the
                // workload to run with.
                let creds = SessionCredentials {
                    access_key_id: key.access_key_id().to_string(),
                    secret_access_key: key.secret_access_key().to_string(),
                    session_token: String::new(),
                    expires_epoch: None,
                };
                lock(&self.keys).push((user.clone(), creds));
            }
        }
        Ok(())
    }

    /// The access key of sandbox user `name`, once created.
    pub fn user_key(&self, name: &str) -> Option<SessionCredentials> {
        lock(&self.keys).iter().find(|(u, _)| u == name).map(|(_, c)| c.clone())
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Deletes everything this sandbox created; safe to call more than once. Returns what
    /// could not be deleted (a later `iam-prune sandbox cleanup` retries by tag).
    ///
    /// Principals go before policies: deleting a principal detaches its policies, and IAM
    /// refuses to delete a policy that is still attached.
    pub async fn cleanup(&self) -> Vec<String> {
        let iam = self.conn.iam();
        let mut failed = Vec::new();
        let roles: Vec<String> = std::mem::take(&mut *lock(&self.roles));
        for r in roles {
            if let Err(e) = delete_role(&iam, &r).await {
                failed.push(e.to_string());
            }
        }
        lock(&self.keys).clear();
        let users: Vec<String> = std::mem::take(&mut *lock(&self.users));
        for u in users {
            if let Err(e) = delete_user(&iam, &u).await {
                failed.push(e.to_string());
            }
        }
        let policies: Vec<String> = std::mem::take(&mut *lock(&self.policies));
        for p in policies {
            if let Err(e) = delete_policy(&iam, &p).await {
                failed.push(e.to_string());
            }
        }
        failed
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another trial panicked while pushing a name: the list is
    // still the best record of what exists.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
