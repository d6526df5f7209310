//! Combining policy types into a decision (the "authorizer"), for requests within one
//! account, plus the documented cross-account rule.
//!
//! Order and rules, from "Policy evaluation logic"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>):
//!
//! 0. `sts:GetCallerIdentity` is allowed whatever the policies say: "No permissions are
//!    required to perform this operation. If an administrator attaches a policy to your
//!    identity that explicitly denies access to the `sts:GetCallerIdentity` action, you can
//!    still perform this operation." (AWS STS API Reference, GetCallerIdentity).
//! 1. An applicable `Deny` in any policy of any type is an explicit deny.
//! 2. Each present RCP, then each present SCP, must allow (each list entry is one level
//!    of the organization path, see [`super::PolicySet::scps`]); otherwise implicit deny.
//!    An anonymous caller has no identity, so identity-based policies, boundaries, session
//!    policies and SCPs do not apply to it: "SCPs are principal-centric controls. SCPs
//!    create a permissions guardrail, or set limits, on the maximum permissions available to
//!    principals in your member accounts", while "RCPs are resource-centric controls" that
//!    limit "the maximum permissions available for resources in your member accounts" (AWS
//!    Organizations User Guide, "Authorization policies"), so RCPs still do.
//! 3. The account root user is then allowed (it has every permission not denied).
//! 4. A resource-based policy that names the caller can allow on its own within the
//!    account, depending on how it names the caller ("Permissions boundaries" and
//!    "Session policies" pages of the IAM User Guide):
//!    * the exact IAM user, assumed-role session, service or federated principal: allowed
//!      without identity policies and not limited by a boundary or session policy;
//!    * the role ARN (for a session or role caller), or `*`: allowed without identity
//!      policies but still limited by a present boundary and session policy (`*` for an
//!      IAM user is treated like the user's ARN);
//!    * the account (`ACCT`, `arn:aws:iam::ACCT:root`): this delegates to the account's
//!      IAM policies, so it never allows on its own. This is the KMS key policy rule, and
//!      applied to every resource it is the conservative reading: a pruned identity
//!      policy keeps the action rather than relying on the delegation.
//! 5. Otherwise identity-based policies must allow, and a present boundary and session
//!    policy must allow too.
//!
//! What makes one statement apply (variables without a value, `NotPrincipal`, resource
//! statements without `Principal`) is settled in [`super::statement`] and [`super::cond`].
//!
//! Role trust policies and KMS key policies "must explicitly allow access for
//! principals": when the set has resource policies and the action is in `sts:` or `kms:`,
//! the resource policy must allow (in any way) or the decision is an implicit deny. Sets
//! without resource policies skip this rule, so workloads that do not model key policies
//! still evaluate their identity side.
//!
//! Cross-account: when the resource's account (`aws:ResourceAccount` in the context, or
//! the account field of the resource ARN) differs from the caller's, AWS requires both
//! sides: the identity side (identity policies and guards) and a resource policy that
//! names the caller in any way. That is what is evaluated; SCPs are taken as the caller's
//! organization's and RCPs as the resource owner's. ARNs without an account ID in their
//! account field (S3 buckets, AWS managed policies with `aws`) are taken as same-account
//! unless `aws:ResourceAccount` says otherwise.

use super::context::{CallerKind, View};
use super::statement::{CStatement, Named, Setting};
use super::{Decision, DecisionKind, EvalError, Matched, NamedPolicy, PolicySet, PolicyType, Reason, Request};
use crate::policy::Effect;

/// A statement and where it came from.
#[derive(Debug, Clone)]
struct Slot {
    stmt: CStatement,
    ty: PolicyType,
    /// Index among the policies of its type (for the per-level SCP/RCP masks).
    level: u8,
    /// The policy applies to the caller's identity (identity-based, boundary, session, SCP),
    /// so not to an anonymous caller.
    identity_side: bool,
}

/// A compiled policy set: immutable, `Send + Sync`, cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Evaluator {
    names: Vec<(String, PolicyType)>,
    /// `Deny` statements first, so a decision can stop at the first that applies.
    denies: Vec<Slot>,
    allows: Vec<Slot>,
    scp_full: u64,
    rcp_full: u64,
    has_boundary: bool,
    has_session: bool,
    has_resource: bool,
}

/// What the allow pass found.
#[derive(Debug, Default, Clone, Copy)]
struct Found {
    identity: bool,
    boundary: bool,
    session: bool,
    scp: u64,
    rcp: u64,
    resource: Option<Named>,
}

/// The lowercase action: on the stack for ordinary action names.
const ACTION_BUF: usize = 128;

impl Evaluator {
    /// Compiles every policy of the set.
    pub fn compile(set: &PolicySet) -> Result<Evaluator, EvalError> {
        for (kind, n) in [("SCP", set.scps.len()), ("RCP", set.rcps.len())] {
            if n > 64 {
                return Err(EvalError::TooManyGuards { kind, count: n });
            }
        }
        let mut ev = Evaluator {
            names: Vec::new(),
            denies: Vec::new(),
            allows: Vec::new(),
            scp_full: full_mask(set.scps.len()),
            rcp_full: full_mask(set.rcps.len()),
            has_boundary: set.boundary.is_some(),
            has_session: set.session.is_some(),
            has_resource: !set.resource.is_empty(),
        };
        let groups: [(PolicyType, Vec<&NamedPolicy>); 6] = [
            (PolicyType::Identity, set.identity.iter().collect()),
            (PolicyType::Boundary, set.boundary.iter().collect()),
            (PolicyType::Session, set.session.iter().collect()),
            (PolicyType::Scp, set.scps.iter().collect()),
            (PolicyType::Rcp, set.rcps.iter().collect()),
            (PolicyType::Resource, set.resource.iter().collect()),
        ];
        for (ty, policies) in groups {
            for (level, np) in policies.into_iter().enumerate() {
                let pi = ev.names.len();
                ev.names.push((np.name.clone(), ty));
                // Policy variables exist only in version 2012-10-17; older policies read
                // `${...}` as literal text (IAM User Guide, "Variables and tags").
                let setting = Setting {
                    vars: np.policy.version.as_ref().is_some_and(|v| v.value == "2012-10-17"),
                    resource_based: ty == PolicyType::Resource,
                    has_boundary: ev.has_boundary,
                };
                let identity_side =
                    matches!(ty, PolicyType::Identity | PolicyType::Boundary | PolicyType::Session | PolicyType::Scp);
                for (si, s) in np.policy.statements.iter().enumerate() {
                    let stmt = CStatement::compile(s, si, pi, setting, &np.name)?;
                    let slot = Slot { stmt, ty, level: u8::try_from(level).unwrap_or(u8::MAX), identity_side };
                    match s.effect {
                        Effect::Deny => ev.denies.push(slot),
                        Effect::Allow => ev.allows.push(slot),
                    }
                }
            }
        }
        Ok(ev)
    }

    /// The decision only: no allocation for ordinary requests. This is what the pruning
    /// engine calls millions of times.
    pub fn decide(&self, req: &Request<'_>) -> DecisionKind {
        self.run(req, None).0
    }

    /// The decision with the statements that made it and the reason.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut hits = Vec::new();
        let (kind, reason) = self.run(req, Some(&mut hits));
        let want = if kind == DecisionKind::ExplicitDeny { Effect::Deny } else { Effect::Allow };
        let matched = hits
            .into_iter()
            .filter(|s| s.stmt.effect == want)
            .map(|s| Matched {
                policy: self.names.get(s.stmt.policy).map(|n| n.0.clone()).unwrap_or_default(),
                policy_type: s.ty,
                statement: s.stmt.label.to_string(),
                effect: s.stmt.effect,
            })
            .collect();
        Decision { kind, matched, reason }
    }

    /// The condition keys any statement reads (lowercase, sorted, deduplicated): what a
    /// request context may need to supply.
    pub fn condition_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> =
            self.denies.iter().chain(&self.allows).flat_map(|s| s.stmt.condition_keys()).map(str::to_string).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn run<'s>(&'s self, req: &Request<'_>, mut hits: Option<&mut Vec<&'s Slot>>) -> (DecisionKind, Reason) {
        let mut buf = [0u8; ACTION_BUF];
        let owned;
        let action_lc: &str = match buf.get_mut(..req.action.len()) {
            Some(b) if req.action.is_ascii() => {
                b.copy_from_slice(req.action.as_bytes());
                b.make_ascii_lowercase();
                std::str::from_utf8(b).unwrap_or_default()
            }
            _ => {
                owned = req.action.to_lowercase();
                &owned
            }
        };
        if action_lc == "sts:getcalleridentity" {
            return (DecisionKind::Allow, Reason::NoPermissionRequired);
        }
        let view = View::new(req.context, req.principal, req.resource);
        let anonymous = view.caller.kind == CallerKind::Anonymous;

        let mut denied = false;
        for s in &self.denies {
            if anonymous && s.identity_side {
                continue;
            }
            if s.stmt.applies(action_lc, &view).is_some() {
                match hits.as_deref_mut() {
                    Some(h) => {
                        h.push(s);
                        denied = true;
                    }
                    None => return (DecisionKind::ExplicitDeny, Reason::ExplicitDeny),
                }
            }
        }
        if denied {
            return (DecisionKind::ExplicitDeny, Reason::ExplicitDeny);
        }

        let collecting = hits.is_some();
        let mut f = Found::default();
        for s in &self.allows {
            let bit = 1u64 << (s.level & 63);
            // Without a list to fill, skip statements that cannot change the outcome.
            if !collecting {
                let known = match s.ty {
                    PolicyType::Identity => f.identity,
                    PolicyType::Boundary => f.boundary,
                    PolicyType::Session => f.session,
                    PolicyType::Scp => f.scp & bit != 0,
                    PolicyType::Rcp => f.rcp & bit != 0,
                    PolicyType::Resource => f.resource == Some(Named::Direct),
                };
                if known {
                    continue;
                }
            }
            if anonymous && s.identity_side {
                continue;
            }
            let Some(named) = s.stmt.applies(action_lc, &view) else { continue };
            if let Some(h) = hits.as_deref_mut() {
                h.push(s);
            }
            match s.ty {
                PolicyType::Identity => f.identity = true,
                PolicyType::Boundary => f.boundary = true,
                PolicyType::Session => f.session = true,
                PolicyType::Scp => f.scp |= bit,
                PolicyType::Rcp => f.rcp |= bit,
                PolicyType::Resource => f.resource = f.resource.max(Some(named)),
            }
        }
        self.combine(&f, action_lc, &view)
    }

    fn combine(&self, f: &Found, action_lc: &str, view: &View<'_>) -> (DecisionKind, Reason) {
        use DecisionKind::{Allow, ImplicitDeny};
        if f.rcp & self.rcp_full != self.rcp_full {
            return (ImplicitDeny, Reason::GuardDidNotAllow(PolicyType::Rcp));
        }
        let caller = &view.caller;
        if f.scp & self.scp_full != self.scp_full && caller.kind != CallerKind::Anonymous {
            return (ImplicitDeny, Reason::GuardDidNotAllow(PolicyType::Scp));
        }
        if caller.kind == CallerKind::Root {
            return (Allow, Reason::RootUser);
        }
        let boundary_ok = !self.has_boundary || f.boundary;
        let session_ok = !self.has_session || f.session;
        let identity_path = f.identity && boundary_ok && session_ok;
        let cross_account = match view.resource_account() {
            Some(acct) => !caller.account.is_empty() && acct != caller.account,
            None => false,
        };
        if cross_account {
            return if identity_path && f.resource.is_some() {
                (Allow, Reason::IdentityAllow)
            } else {
                (ImplicitDeny, Reason::CrossAccountNeedsBoth)
            };
        }
        let resource_alone = match f.resource {
            None | Some(Named::Account) => false,
            Some(Named::Direct) => true,
            Some(Named::Role) => boundary_ok && session_ok,
            Some(Named::Anyone) => match caller.kind {
                CallerKind::Role | CallerKind::Session => boundary_ok && session_ok,
                _ => true,
            },
        };
        let must_have_resource = self.has_resource && (action_lc.starts_with("sts:") || action_lc.starts_with("kms:"));
        if must_have_resource && f.resource.is_none() {
            return (ImplicitDeny, Reason::ResourcePolicyRequired);
        }
        if resource_alone {
            return (Allow, Reason::ResourceAllow);
        }
        if identity_path {
            return (Allow, Reason::IdentityAllow);
        }
        let reason = if f.identity && !boundary_ok {
            Reason::GuardDidNotAllow(PolicyType::Boundary)
        } else if (f.identity || f.resource.is_some()) && !session_ok {
            Reason::GuardDidNotAllow(PolicyType::Session)
        } else if f.resource.is_some() && !boundary_ok {
            Reason::GuardDidNotAllow(PolicyType::Boundary)
        } else {
            Reason::NoAllow
        };
        (ImplicitDeny, reason)
    }
}

fn full_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::policy::parse_policy;

    fn p(name: &str, text: &str) -> NamedPolicy {
        NamedPolicy::new(name, parse_policy(text, name).unwrap())
    }

    fn is_send_sync<T: Send + Sync>() {}

    #[test]
    fn evaluator_is_send_sync() {
        is_send_sync::<Evaluator>();
    }

    #[test]
    fn deny_wins_and_identity_allows() {
        let set = PolicySet {
            identity: vec![
                p("a", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#),
                p(
                    "d",
                    r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoDel","Effect":"Deny","Action":"iam:Delete*","Resource":"*"}]}"#,
                ),
            ],
            ..Default::default()
        };
        let ev = Evaluator::compile(&set).unwrap();
        let ctx = Context::new();
        let r =
            |action| Request { principal: "arn:aws:iam::111122223333:role/app", action, resource: "*", context: &ctx };
        assert_eq!(ev.decide(&r("IAM:passrole")), DecisionKind::Allow);
        assert_eq!(ev.decide(&r("iam:DeleteRole")), DecisionKind::ExplicitDeny);
        assert_eq!(ev.decide(&r("s3:GetObject")), DecisionKind::ImplicitDeny);
        let d = ev.evaluate(&r("iam:DeleteRole"));
        assert_eq!(d.matched.len(), 1);
        assert_eq!(d.matched[0].statement, "NoDel");
        assert_eq!(ev.evaluate(&r("iam:GetRole")).matched[0].statement, "#0");
    }
}
