//! The sandbox: IAM principals and policies that iam-prune owns for one run, so that trials
//! never touch the user's own principals or policies.
//!
//! Everything is created under the path `/iam-prune/`, named `iam-prune-sbx-<run id>...`
//! and tagged `iam-prune:run-id`, so that leftovers (after kill -9) can be found by tag and
//! deleted by `iam-prune sandbox cleanup`. The start and fixed policies are cloned into
//! sandbox-owned managed policies; the user's policies are only ever read.
//!
//! Creation is planned first (a list of IAM calls) and then executed, so `--dry-run` prints
//! exactly what a real run would do.

use super::config::{Connection, SessionCredentials};
use super::sdkerr::CallFailure;
use super::AwsError;
use aws_sdk_iam::types::{PolicyScopeType, Tag};
use std::sync::Mutex;

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

    /// The IAM calls creation makes, in order.
    pub fn calls(&self) -> Vec<PlannedCall> {
        let tag = format!("tags {RUN_ID_TAG}={}", self.run_id);
        let mut v = Vec::new();
        for p in &self.policies {
            v.push(PlannedCall {
                action: "iam:CreatePolicy".into(),
                detail: format!("{} path {PATH} {tag} ({} chars)", p.name, super::policy_doc::iam_chars(&p.document)),
            });
        }
        for r in &self.roles {
            v.push(PlannedCall {
                action: "iam:CreateRole".into(),
                detail: format!("{} path {PATH} {tag} trust {}", r.name, trust_policy(&self.caller)),
            });
            for a in &r.attach {
                v.push(PlannedCall {
                    action: "iam:AttachRolePolicy".into(),
                    detail: format!("{} {}", r.name, self.policy_arn(a)),
                });
            }
        }
        for u in &self.users {
            v.push(PlannedCall { action: "iam:CreateUser".into(), detail: format!("{} path {PATH} {tag}", u.name) });
            for a in &u.attach {
                v.push(PlannedCall {
                    action: "iam:AttachUserPolicy".into(),
                    detail: format!("{} {}", u.name, self.policy_arn(a)),
                });
            }
            v.push(PlannedCall {
                action: "iam:CreateAccessKey".into(),
                detail: format!("{} (the workload's long-lived key, deleted at cleanup)", u.name),
            });
        }
        v
    }
}

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
        let tag = tags(&plan.run_id)?;
        for p in &plan.policies {
            let out = iam
                .create_policy()
                .policy_name(&p.name)
                .path(PATH)
                .policy_document(&p.document)
                .tags(tag.clone())
                .send()
                .await
                .map_err(|e| {
                    AwsError::call(
                        format!("create sandbox policy `{}`", p.name),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:CreatePolicy and iam:TagPolicy on arn:aws:iam::*:policy/iam-prune/* (see docs/aws.md)",
                    )
                })?;
            let arn =
                out.policy().and_then(|p| p.arn()).map(str::to_string).unwrap_or_else(|| plan.policy_arn(&p.name));
            lock(&self.policies).push(arn);
        }
        let trust = trust_policy(&plan.caller);
        for r in &plan.roles {
            iam.create_role()
                .role_name(&r.name)
                .path(PATH)
                .assume_role_policy_document(&trust)
                .tags(tag.clone())
                .send()
                .await
                .map_err(|e| {
                    AwsError::call(
                        format!("create sandbox role `{}`", r.name),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:CreateRole and iam:TagRole on arn:aws:iam::*:role/iam-prune/* (see docs/aws.md)",
                    )
                })?;
            lock(&self.roles).push(r.name.clone());
            for a in &r.attach {
                let arn = plan.policy_arn(a);
                iam.attach_role_policy().role_name(&r.name).policy_arn(&arn).send().await.map_err(|e| {
                    AwsError::call(
                        format!("attach `{arn}` to sandbox role `{}`", r.name),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:AttachRolePolicy on its own roles",
                    )
                })?;
            }
        }
        for u in &plan.users {
            iam.create_user().user_name(&u.name).path(PATH).tags(tag.clone()).send().await.map_err(|e| {
                AwsError::call(
                    format!("create sandbox user `{}`", u.name),
                    CallFailure::of(&e).to_string(),
                    "iam-prune needs iam:CreateUser and iam:TagUser on arn:aws:iam::*:user/iam-prune/* (see docs/aws.md)",
                )
            })?;
            lock(&self.users).push(u.name.clone());
            for a in &u.attach {
                let arn = plan.policy_arn(a);
                iam.attach_user_policy().user_name(&u.name).policy_arn(&arn).send().await.map_err(|e| {
                    AwsError::call(
                        format!("attach `{arn}` to sandbox user `{}`", u.name),
                        CallFailure::of(&e).to_string(),
                        "iam-prune needs iam:AttachUserPolicy on its own users",
                    )
                })?;
            }
            let out = iam.create_access_key().user_name(&u.name).send().await.map_err(|e| {
                AwsError::call(
                    format!("create an access key for sandbox user `{}`", u.name),
                    CallFailure::of(&e).to_string(),
                    "iam-prune needs iam:CreateAccessKey on its own users",
                )
            })?;
            let Some(key) = out.access_key() else {
                return Err(AwsError::call(
                    format!("create an access key for sandbox user `{}`", u.name),
                    "the answer holds no key",
                    "retry; if it persists, report it with the endpoint used",
                ));
            };
            let creds = SessionCredentials {
                access_key_id: key.access_key_id().to_string(),
                secret_access_key: key.secret_access_key().to_string(),
                session_token: String::new(),
                expires_epoch: None,
            };
            lock(&self.keys).push((u.name.clone(), creds));
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

/// Deletes a sandbox role: detaches its policies, deletes its inline policies, then the role.
/// A role that does not exist counts as deleted.
pub async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), AwsError> {
    let ctx = |what: &str| format!("{what} sandbox role `{name}`");
    let help = "run `iam-prune sandbox cleanup` again; it finds leftovers by tag";
    if !name.starts_with(NAME_PREFIX) {
        return Err(AwsError::call(ctx("delete"), "not a sandbox name", "iam-prune only deletes what it created"));
    }
    let attached = match iam.list_attached_role_policies().role_name(name).send().await {
        Ok(o) => o.attached_policies.unwrap_or_default(),
        Err(e) if CallFailure::of(&e).is_not_found() => return Ok(()),
        Err(e) => return Err(AwsError::call(ctx("list policies of"), CallFailure::of(&e).to_string(), help)),
    };
    for p in attached {
        if let Some(arn) = p.policy_arn() {
            if let Err(e) = iam.detach_role_policy().role_name(name).policy_arn(arn).send().await {
                let f = CallFailure::of(&e);
                if !f.is_not_found() {
                    return Err(AwsError::call(ctx("detach a policy from"), f.to_string(), help));
                }
            }
        }
    }
    let inline = iam.list_role_policies().role_name(name).send().await.map(|o| o.policy_names).unwrap_or_default();
    for p in inline {
        let _ = iam.delete_role_policy().role_name(name).policy_name(p).send().await;
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if CallFailure::of(&e).is_not_found() => Ok(()),
        Err(e) => Err(AwsError::call(ctx("delete"), CallFailure::of(&e).to_string(), help)),
    }
}

/// Deletes a sandbox user: its access keys, attached and inline policies, then the user. A
/// user that does not exist counts as deleted.
pub async fn delete_user(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), AwsError> {
    let ctx = |what: &str| format!("{what} sandbox user `{name}`");
    let help = "run `iam-prune sandbox cleanup` again; it finds leftovers by tag";
    if !name.starts_with(NAME_PREFIX) {
        return Err(AwsError::call(ctx("delete"), "not a sandbox name", "iam-prune only deletes what it created"));
    }
    let keys = match iam.list_access_keys().user_name(name).send().await {
        Ok(o) => o.access_key_metadata,
        Err(e) if CallFailure::of(&e).is_not_found() => return Ok(()),
        Err(e) => return Err(AwsError::call(ctx("list access keys of"), CallFailure::of(&e).to_string(), help)),
    };
    for k in keys {
        if let Some(id) = k.access_key_id() {
            if let Err(e) = iam.delete_access_key().user_name(name).access_key_id(id).send().await {
                let f = CallFailure::of(&e);
                if !f.is_not_found() {
                    return Err(AwsError::call(ctx("delete an access key of"), f.to_string(), help));
                }
            }
        }
    }
    let attached = iam
        .list_attached_user_policies()
        .user_name(name)
        .send()
        .await
        .map_err(|e| AwsError::call(ctx("list policies of"), CallFailure::of(&e).to_string(), help))?
        .attached_policies
        .unwrap_or_default();
    for p in attached {
        if let Some(arn) = p.policy_arn() {
            if let Err(e) = iam.detach_user_policy().user_name(name).policy_arn(arn).send().await {
                let f = CallFailure::of(&e);
                if !f.is_not_found() {
                    return Err(AwsError::call(ctx("detach a policy from"), f.to_string(), help));
                }
            }
        }
    }
    let inline = iam.list_user_policies().user_name(name).send().await.map(|o| o.policy_names).unwrap_or_default();
    for p in inline {
        let _ = iam.delete_user_policy().user_name(name).policy_name(p).send().await;
    }
    match iam.delete_user().user_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if CallFailure::of(&e).is_not_found() => Ok(()),
        Err(e) => Err(AwsError::call(ctx("delete"), CallFailure::of(&e).to_string(), help)),
    }
}

/// Deletes a sandbox policy: detaches it from sandbox roles and users, deletes its
/// non-default versions, then the policy. Refuses when a principal outside the sandbox holds
/// it.
pub async fn delete_policy(iam: &aws_sdk_iam::Client, arn: &str) -> Result<(), AwsError> {
    let ctx = |what: &str| format!("{what} sandbox policy `{arn}`");
    let help = "run `iam-prune sandbox cleanup` again; it finds leftovers by tag";
    if !arn.contains(&format!(":policy{PATH}{NAME_PREFIX}")) {
        return Err(AwsError::call(ctx("delete"), "not a sandbox policy", "iam-prune only deletes what it created"));
    }
    let entities = match iam.list_entities_for_policy().policy_arn(arn).send().await {
        Ok(o) => o,
        Err(e) if CallFailure::of(&e).is_not_found() => return Ok(()),
        Err(e) => return Err(AwsError::call(ctx("list principals of"), CallFailure::of(&e).to_string(), help)),
    };
    let foreign = !entities.policy_groups().is_empty();
    for u in entities.policy_users() {
        let Some(user) = u.user_name() else { continue };
        if !user.starts_with(NAME_PREFIX) {
            return Err(AwsError::call(
                ctx("delete"),
                format!("it is attached to user `{user}`, which iam-prune did not create"),
                "detach it from that user yourself if that is intended, then run `iam-prune sandbox cleanup`",
            ));
        }
        if let Err(e) = iam.detach_user_policy().user_name(user).policy_arn(arn).send().await {
            let f = CallFailure::of(&e);
            if !f.is_not_found() {
                return Err(AwsError::call(ctx("detach"), f.to_string(), help));
            }
        }
    }
    for r in entities.policy_roles() {
        let Some(role) = r.role_name() else { continue };
        if !role.starts_with(NAME_PREFIX) {
            return Err(AwsError::call(
                ctx("delete"),
                format!("it is attached to role `{role}`, which iam-prune did not create"),
                "detach it from that role yourself if that is intended, then run `iam-prune sandbox cleanup`",
            ));
        }
        if let Err(e) = iam.detach_role_policy().role_name(role).policy_arn(arn).send().await {
            let f = CallFailure::of(&e);
            if !f.is_not_found() {
                return Err(AwsError::call(ctx("detach"), f.to_string(), help));
            }
        }
    }
    if foreign {
        return Err(AwsError::call(
            ctx("delete"),
            "a group holds it (iam-prune never attaches policies to groups)",
            "detach it from the group yourself if that is intended, then run `iam-prune sandbox cleanup`",
        ));
    }
    let versions = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map(|o| o.versions.unwrap_or_default())
        .unwrap_or_default();
    for v in versions.iter().filter(|v| !v.is_default_version()) {
        if let Some(id) = v.version_id() {
            let _ = iam.delete_policy_version().policy_arn(arn).version_id(id).send().await;
        }
    }
    match iam.delete_policy().policy_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) if CallFailure::of(&e).is_not_found() => Ok(()),
        Err(e) => Err(AwsError::call(ctx("delete"), CallFailure::of(&e).to_string(), help)),
    }
}

/// A sandbox object found by tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leftover {
    /// `role`, `user` or `policy`.
    pub kind: &'static str,
    /// Role name or policy ARN.
    pub id: String,
    /// The run it belongs to.
    pub run_id: String,
}

/// A sandbox object as a [`Leftover`] when its tags hold a run id (`run_id` when given).
fn tagged(kind: &'static str, id: String, tags: &[Tag], run_id: Option<&str>) -> Option<Leftover> {
    let t = tags.iter().find(|t| t.key() == RUN_ID_TAG)?;
    run_id.is_none_or(|id| id == t.value()).then(|| Leftover { kind, id, run_id: t.value().to_string() })
}

/// Finds sandbox roles, users and policies (under `/iam-prune/`, named `iam-prune-sbx-`, tagged
/// with a run id), optionally of one run only.
pub async fn find_leftovers(conn: &Connection, run_id: Option<&str>) -> Result<Vec<Leftover>, AwsError> {
    let iam = conn.iam();
    let help = "iam-prune needs iam:ListRoles, iam:ListRoleTags, iam:ListUsers, iam:ListUserTags, iam:ListPolicies and iam:ListPolicyTags";
    let mut found = Vec::new();
    let roles: Vec<_> = iam
        .list_roles()
        .path_prefix(PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call("list sandbox roles", CallFailure::of(&e).to_string(), help))?;
    for r in roles {
        let name = r.role_name().to_string();
        if !name.starts_with(NAME_PREFIX) {
            continue;
        }
        let tags = iam.list_role_tags().role_name(&name).send().await.map_err(|e| {
            AwsError::call(format!("list tags of role `{name}`"), CallFailure::of(&e).to_string(), help)
        })?;
        found.extend(tagged("role", name, tags.tags(), run_id));
    }
    let users: Vec<_> = iam
        .list_users()
        .path_prefix(PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call("list sandbox users", CallFailure::of(&e).to_string(), help))?;
    for u in users {
        let name = u.user_name().to_string();
        if !name.starts_with(NAME_PREFIX) {
            continue;
        }
        let tags = iam.list_user_tags().user_name(&name).send().await.map_err(|e| {
            AwsError::call(format!("list tags of user `{name}`"), CallFailure::of(&e).to_string(), help)
        })?;
        found.extend(tagged("user", name, tags.tags(), run_id));
    }
    let policies: Vec<_> = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .path_prefix(PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call("list sandbox policies", CallFailure::of(&e).to_string(), help))?;
    for p in policies {
        let (Some(name), Some(arn)) = (p.policy_name(), p.arn()) else { continue };
        if !name.starts_with(NAME_PREFIX) {
            continue;
        }
        let tags = iam.list_policy_tags().policy_arn(arn).send().await.map_err(|e| {
            AwsError::call(format!("list tags of policy `{arn}`"), CallFailure::of(&e).to_string(), help)
        })?;
        found.extend(tagged("policy", arn.to_string(), tags.tags(), run_id));
    }
    Ok(found)
}

/// Deletes leftovers found by [`find_leftovers`]: roles and users first (which detaches
/// the policies), then policies. Returns what was deleted and what failed.
pub async fn cleanup_leftovers(
    conn: &Connection,
    run_id: Option<&str>,
) -> Result<(Vec<Leftover>, Vec<String>), AwsError> {
    let iam = conn.iam();
    let found = find_leftovers(conn, run_id).await?;
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    let principals = found.iter().filter(|l| l.kind != "policy");
    for l in principals.chain(found.iter().filter(|l| l.kind == "policy")) {
        let r = match l.kind {
            "role" => delete_role(&iam, &l.id).await,
            "user" => delete_user(&iam, &l.id).await,
            _ => delete_policy(&iam, &l.id).await,
        };
        match r {
            Ok(()) => deleted.push(l.clone()),
            Err(e) => failed.push(e.to_string()),
        }
    }
    Ok((deleted, failed))
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
    fn a_user_sandbox_plans_the_user_its_policies_and_one_key() {
        let caller = Caller { account: "123456789012".into(), arn: "arn:aws:iam::123456789012:user/admin".into() };
        let mut plan =
            SandboxPlan { run_id: "r1".into(), caller, policies: Vec::new(), roles: Vec::new(), users: Vec::new() };
        plan.policies.push(PolicySpec { name: plan.name("-candidate"), document: "{}".into() });
        plan.users.push(UserSpec { name: plan.name("-u"), attach: vec![plan.name("-candidate")] });
        let calls: Vec<String> = plan.calls().iter().map(|c| format!("{} {}", c.action, c.detail)).collect();
        assert_eq!(calls.len(), 4, "{calls:#?}");
        assert!(calls[1].starts_with("iam:CreateUser iam-prune-sbx-r1-u path /iam-prune/ tags iam-prune:run-id=r1"));
        assert_eq!(
            calls[2],
            "iam:AttachUserPolicy iam-prune-sbx-r1-u arn:aws:iam::123456789012:policy/iam-prune/iam-prune-sbx-r1-candidate"
        );
        assert!(calls[3].starts_with("iam:CreateAccessKey iam-prune-sbx-r1-u"));
    }

    #[test]
    fn run_ids_must_fit_names() {
        assert!(check_run_id("20261124-0821-ab12").is_ok());
        assert!(check_run_id("a b").is_err());
        assert!(check_run_id(&"x".repeat(40)).is_err());
    }
}
