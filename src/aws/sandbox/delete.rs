//! Deleting sandbox objects, one at a time and by tag.
//!
//! Used by a run's own cleanup ([`super::Sandbox::cleanup`]) and by
//! `iam-prune sandbox cleanup`, which finds what killed runs left behind by path, name prefix
//! and run-id tag. Every deletion first checks the name is a sandbox name and refuses to
//! detach a policy from a principal iam-prune did not create: a bug here must not be able to
//! touch the user's own IAM objects. A missing object counts as deleted, so cleanup can be
//! retried after a partial failure.

use super::{NAME_PREFIX, PATH, RUN_ID_TAG};
use crate::aws::config::Connection;
use crate::aws::sdkerr::CallFailure;
use crate::aws::AwsError;
use aws_sdk_iam::types::{PolicyScopeType, Tag};

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
