//! One statement compiled for matching: does it apply to this request, and how did it
//! name the caller?
//!
//! `Action`/`NotAction` match case-insensitively ("IAM JSON policy elements: Action":
//! action names are case-insensitive); `Resource`/`NotResource` match ARNs case-sensitively
//! with the segment rules of [`super::wild`]. `Principal` matching follows "AWS JSON policy
//! elements: Principal": an account id or `arn:aws:iam::ACCT:root` names the account (and
//! so every principal in it, by delegation to the account's own policies); a role ARN
//! names the role and its assumed-role sessions; a session ARN names that session; service
//! principals and `*` match as written. In a resource-based policy a statement without
//! `Principal` names nobody; how `NotPrincipal` reads under `Allow` and under a permissions
//! boundary is [`Except`].

use super::cond::Cond;
use super::context::{Caller, CallerKind, View};
use super::wild::{Mode, Template};
use super::EvalError;
use crate::pattern::Pattern;
use crate::policy::{Effect, PrincipalKind, Principals, Statement};

/// How a resource-based statement named the caller; decides whether the resource policy
/// can allow on its own (see [`super::engine`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Named {
    /// Through the account (`ACCT` or `arn:aws:iam::ACCT:root`): delegates to identity policies.
    Account,
    /// `*`, or not excluded by `NotPrincipal`.
    Anyone,
    /// The role ARN of a session (or of a role caller).
    Role,
    /// The exact user, session, service or federated principal.
    Direct,
}

/// A compiled `Principal` entry.
#[derive(Debug, Clone)]
enum Entry {
    Any,
    Account(Box<str>),
    Role { account: Box<str>, name: Box<str>, arn: Box<str> },
    Exact(Box<str>),
    Service(Box<str>),
}

#[derive(Debug, Clone)]
struct CPrincipals {
    /// `None` for `Principal`; how the statement reads its `NotPrincipal` otherwise.
    except: Option<Except>,
    entries: Box<[Entry]>,
}

/// How a `NotPrincipal` statement treats the principals it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Except {
    /// `Deny`: everyone except the listed principals.
    Listed,
    /// `Deny` for a caller with a permissions boundary: "The `NotPrincipal` element with a
    /// `Deny` effect will always deny any IAM principal that has a permissions boundary
    /// policy attached, regardless of the values specified in the `NotPrincipal` element"
    /// (IAM User Guide, "Permissions boundaries for IAM entities"). IAM users, roles and
    /// their sessions are never spared; other callers are, as listed.
    ListedUnlessBounded,
    /// `Allow`: "`NotPrincipal` must be used with `"Effect":"Deny"`. Using it with
    /// `"Effect":"Allow"` is not supported." (IAM User Guide, "AWS JSON policy elements:
    /// NotPrincipal"). The statement grants nobody anything: a pruned identity policy then
    /// keeps what such a statement would have granted, which is the safe side.
    Unsupported,
}

/// What a statement's policy is, for the rules that depend on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting {
    /// Policy variables are read (policy `Version` 2012-10-17).
    pub vars: bool,
    /// The policy is resource-based, where a statement must name its principals.
    pub resource_based: bool,
    /// The caller has a permissions boundary.
    pub has_boundary: bool,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct CStatement {
    pub effect: Effect,
    /// `Sid`, or `#<index>` when there is none.
    pub label: Box<str>,
    /// Index of the policy in the evaluator's policy list.
    pub policy: usize,
    actions: Option<(bool, Box<[Pattern]>)>,
    resources: Option<(bool, Box<[Template]>)>,
    principals: Option<CPrincipals>,
    conditions: Box<[Cond]>,
}

impl CStatement {
    pub(crate) fn compile(
        s: &Statement,
        index: usize,
        policy: usize,
        setting: Setting,
        origin: &str,
    ) -> Result<CStatement, EvalError> {
        let vars = setting.vars;
        let label = match &s.sid {
            Some(sid) if !sid.is_empty() => sid.clone(),
            _ => format!("#{index}"),
        };
        let actions = s
            .actions
            .as_ref()
            .map(|m| (m.negated, m.patterns.iter().map(|p| Pattern::new_lowercase(&p.value)).collect()));
        let resources = s
            .resources
            .as_ref()
            .map(|m| (m.negated, m.patterns.iter().map(|p| Template::new(&p.value, Mode::Arn, vars)).collect()));
        let principals = match &s.principals {
            Some(p) => Some(compile_principals(p, s.effect, setting.has_boundary)),
            // "The `principal_block` element is required in resource-based policies" (IAM
            // User Guide, "Grammar of the IAM JSON policy language"): without one the
            // statement names nobody, so it neither grants nor denies.
            None if setting.resource_based => Some(CPrincipals { except: None, entries: Box::default() }),
            None => None,
        };
        let conditions = s.conditions.iter().map(|c| Cond::compile(c, vars, origin)).collect::<Result<_, _>>()?;
        Ok(CStatement { effect: s.effect, label: label.into(), policy, actions, resources, principals, conditions })
    }

    /// Condition keys the statement reads (lowercase), for explanations and tooling.
    pub(crate) fn condition_keys(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().flat_map(Cond::keys)
    }

    /// Does the statement apply? `Some(how the caller was named)` when it does; statements
    /// without `Principal` (identity policies, boundaries, SCPs) report [`Named::Direct`].
    #[inline]
    pub(crate) fn applies(&self, action_lc: &str, view: &View<'_>) -> Option<Named> {
        if let Some((negated, pats)) = &self.actions {
            if pats.iter().any(|p| p.is_match(action_lc)) == *negated {
                return None;
            }
        }
        if let Some((negated, pats)) = &self.resources {
            let lookup = |k: &str| view.single(k);
            // "If a variable that has no value in the authorization context is used as part
            // of the `Resource` or `NotResource` element of a policy, the resource that
            // includes a policy variable with no value will not match any resource" (IAM
            // User Guide, "Policy variables with no value"): that entry fails to match and
            // the others still count, so the list's order cannot change the outcome.
            let hit = pats.iter().any(|p| p.is_match(view.resource, &lookup));
            if hit == *negated {
                return None;
            }
        }
        let named = match &self.principals {
            None => Named::Direct,
            Some(p) => p.named(&view.caller)?,
        };
        self.conditions.iter().all(|c| c.holds(view)).then_some(named)
    }
}

fn compile_principals(p: &Principals, effect: Effect, has_boundary: bool) -> CPrincipals {
    let except = match (p.negated, effect) {
        (false, _) => None,
        (true, Effect::Allow) => Some(Except::Unsupported),
        (true, Effect::Deny) if has_boundary => Some(Except::ListedUnlessBounded),
        (true, Effect::Deny) => Some(Except::Listed),
    };
    let mut entries = Vec::new();
    if p.any {
        entries.push(Entry::Any);
    }
    for (kind, v) in &p.entries {
        let v = v.value.trim();
        let e = match kind {
            PrincipalKind::Aws if v == "*" => Entry::Any,
            PrincipalKind::Aws if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) => Entry::Account(v.into()),
            PrincipalKind::Aws => {
                let c = Caller::parse(v);
                match c.kind {
                    CallerKind::Root => Entry::Account(c.account.into()),
                    CallerKind::Role => Entry::Role { account: c.account.into(), name: c.name.into(), arn: v.into() },
                    _ => Entry::Exact(v.into()),
                }
            }
            PrincipalKind::Service => Entry::Service(v.to_ascii_lowercase().into()),
            PrincipalKind::Federated | PrincipalKind::CanonicalUser => Entry::Exact(v.into()),
        };
        entries.push(e);
    }
    CPrincipals { except, entries: entries.into() }
}

impl CPrincipals {
    fn named(&self, c: &Caller<'_>) -> Option<Named> {
        if let Some(except) = self.except {
            match except {
                Except::Unsupported => return None,
                Except::ListedUnlessBounded
                    if matches!(c.kind, CallerKind::User | CallerKind::Role | CallerKind::Session) =>
                {
                    return Some(Named::Anyone)
                }
                Except::Listed | Except::ListedUnlessBounded => {}
            }
            // AWS evaluates a request as coming from both the principal and its account, so
            // `NotPrincipal` excludes a caller only when the exact principal and its account
            // are both listed ("AWS JSON policy elements: NotPrincipal"); a role ARN there
            // does not cover its sessions.
            let account_listed = self
                .entries
                .iter()
                .any(|e| matches!(e, Entry::Account(a) if **a == *c.account && !c.account.is_empty()));
            let exact_listed = self.entries.iter().any(|e| match e {
                Entry::Any => true,
                Entry::Exact(x) => **x == *c.arn,
                Entry::Role { arn, .. } => **arn == *c.arn,
                Entry::Service(s) => s.eq_ignore_ascii_case(c.arn),
                Entry::Account(_) => false,
            });
            let excluded = match c.kind {
                CallerKind::Root => account_listed,
                CallerKind::Service | CallerKind::Anonymous | CallerKind::Other => exact_listed,
                _ => account_listed && exact_listed,
            } || self.entries.iter().any(|e| matches!(e, Entry::Any));
            return (!excluded).then_some(Named::Anyone);
        }
        self.entries.iter().filter_map(|e| entry_names(e, c)).max()
    }
}

fn entry_names(e: &Entry, c: &Caller<'_>) -> Option<Named> {
    match e {
        Entry::Any => Some(Named::Anyone),
        Entry::Account(a) => (!c.account.is_empty() && **a == *c.account).then_some(Named::Account),
        Entry::Role { account, name, arn } => match c.kind {
            CallerKind::Role => (**arn == *c.arn).then_some(Named::Role),
            CallerKind::Session => (**account == *c.account && **name == *c.name).then_some(Named::Role),
            _ => None,
        },
        Entry::Exact(x) => (**x == *c.arn).then_some(Named::Direct),
        Entry::Service(s) => s.eq_ignore_ascii_case(c.arn).then_some(Named::Direct),
    }
}
