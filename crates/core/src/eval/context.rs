//! The request context: condition keys and their values, plus the keys AWS derives from
//! the caller and the resource when the context does not give them.
//!
//! Key names are case-insensitive in IAM ("IAM JSON policy elements: Condition", *The
//! condition block*), so keys are stored lowercased and compiled policies look them up by
//! their lowercased form without allocating. Values stay strings: each condition operator
//! reads them as numbers, dates, booleans, addresses or ARNs as it defines.

use std::cell::OnceCell;

/// The value of one context key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ContextValue {
    /// A single-valued key such as `aws:SourceIp`.
    Single(String),
    /// A multivalued key such as `aws:TagKeys`.
    Multi(Vec<String>),
}

impl From<&str> for ContextValue {
    fn from(s: &str) -> Self {
        ContextValue::Single(s.to_string())
    }
}
impl From<String> for ContextValue {
    fn from(s: String) -> Self {
        ContextValue::Single(s)
    }
}
impl From<bool> for ContextValue {
    fn from(b: bool) -> Self {
        ContextValue::Single(b.to_string())
    }
}
impl From<Vec<String>> for ContextValue {
    fn from(v: Vec<String>) -> Self {
        ContextValue::Multi(v)
    }
}
impl From<Vec<&str>> for ContextValue {
    fn from(v: Vec<&str>) -> Self {
        ContextValue::Multi(v.into_iter().map(str::to_string).collect())
    }
}
impl<const N: usize> From<[&str; N]> for ContextValue {
    fn from(v: [&str; N]) -> Self {
        ContextValue::Multi(v.iter().map(|s| s.to_string()).collect())
    }
}

/// Condition keys and values for one request. Keys are case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    // A short list beats a hash map here: contexts hold a handful of keys and a linear scan
    // over lowercased keys needs no hashing.
    entries: Vec<(String, ContextValue)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets `key` (any case) to `value`, replacing a previous value.
    pub fn insert(&mut self, key: &str, value: impl Into<ContextValue>) {
        let key = key.to_ascii_lowercase();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The value of `key` (any case).
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    }

    /// The value of an already-lowercased key.
    pub(crate) fn get_lower(&self, key: &str) -> Option<&ContextValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The keys (lowercased) and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// True if no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What kind of caller a principal ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerKind {
    /// `arn:aws:iam::A:user/...`.
    User,
    /// `arn:aws:iam::A:role/...` (a role ARN used as the caller; treated like its sessions).
    Role,
    /// `arn:aws:sts::A:assumed-role/NAME/SESSION`.
    Session,
    /// `arn:aws:iam::A:root`.
    Root,
    /// `arn:aws:sts::A:federated-user/NAME`.
    FederatedUser,
    /// `something.amazonaws.com`.
    Service,
    /// `anonymous`: an unsigned request. It has no identity, so no identity-based policy,
    /// boundary, session policy or SCP; only resource-based policies (which name it with
    /// `*`) and RCPs apply.
    Anonymous,
    /// Anything else (matched only by exact text).
    Other,
}

/// The parsed caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub arn: &'a str,
    pub kind: CallerKind,
    pub partition: &'a str,
    pub account: &'a str,
    /// Role name for roles and sessions, user name for users.
    pub name: &'a str,
}

impl<'a> Caller<'a> {
    pub(crate) fn parse(arn: &'a str) -> Caller<'a> {
        let mut c = Caller { arn, kind: CallerKind::Other, partition: "", account: "", name: "" };
        if arn.eq_ignore_ascii_case("anonymous") {
            c.kind = CallerKind::Anonymous;
            return c;
        }
        let mut it = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(_region), Some(account), Some(res)) =
            (it.next(), it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            if arn.ends_with(".amazonaws.com") || arn.ends_with(".amazonaws.com.cn") {
                c.kind = CallerKind::Service;
            }
            return c;
        };
        c.partition = partition;
        c.account = account;
        let last = |r: &'a str| r.rsplit('/').next().unwrap_or(r);
        c.kind = match (service, res) {
            ("iam", "root") => CallerKind::Root,
            ("iam", r) if r.starts_with("user/") => {
                c.name = last(r);
                CallerKind::User
            }
            ("iam", r) if r.starts_with("role/") => {
                c.name = last(r);
                CallerKind::Role
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut p = r.splitn(3, '/');
                p.next();
                c.name = p.next().unwrap_or_default();
                CallerKind::Session
            }
            ("sts", r) if r.starts_with("federated-user/") => {
                c.name = last(r);
                CallerKind::FederatedUser
            }
            _ => CallerKind::Other,
        };
        c
    }
}

/// A borrowed view of a value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'r> {
    One(&'r str),
    Many(&'r [String]),
}

/// The request as conditions see it: the context first, then derived keys.
pub(crate) struct View<'r> {
    pub ctx: &'r super::Context,
    pub caller: Caller<'r>,
    pub resource: &'r str,
    /// `aws:PrincipalArn` of a session is its role's ARN, which is not a substring of
    /// anything; built only if a policy asks for it.
    role_arn: OnceCell<String>,
}

impl<'r> View<'r> {
    pub(crate) fn new(ctx: &'r super::Context, principal: &'r str, resource: &'r str) -> View<'r> {
        View { ctx, caller: Caller::parse(principal), resource, role_arn: OnceCell::new() }
    }

    /// The account that owns the resource: `aws:ResourceAccount` if given, else the ARN's
    /// account field when it holds an account ID. The field is "The ID of the AWS account
    /// that owns the resource, without the hyphens" (IAM User Guide, "Amazon Resource Names
    /// (ARNs)"), a 12-digit number; AWS-owned resources carry `aws` there instead
    /// ("`arn:aws:iam::aws:policy/IAMReadOnlyAccess` is an AWS managed policy", "Managed
    /// policies and inline policies"), and belong to no other account: reading them is not a
    /// cross-account request.
    pub(crate) fn resource_account(&self) -> Option<&str> {
        if let Some(ContextValue::Single(a)) = self.ctx.get_lower("aws:resourceaccount") {
            return Some(a);
        }
        let acct = self.resource.split(':').nth(4)?;
        (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
    }

    /// The value of a lowercased key.
    pub(crate) fn get(&self, key: &str) -> Option<Val<'_>> {
        if let Some(v) = self.ctx.get_lower(key) {
            return Some(match v {
                ContextValue::Single(s) => Val::One(s),
                ContextValue::Multi(m) => Val::Many(m),
            });
        }
        let c = &self.caller;
        let one = match key {
            "aws:principalarn" => match c.kind {
                CallerKind::Session => Val::One(
                    self.role_arn.get_or_init(|| format!("arn:{}:iam::{}:role/{}", c.partition, c.account, c.name)),
                ),
                CallerKind::Service | CallerKind::Anonymous => return None,
                _ => Val::One(c.arn),
            },
            // "For anonymous requests, the request context returns `anonymous`" (IAM User
            // Guide, "AWS global condition context keys", aws:PrincipalAccount).
            "aws:principalaccount" if c.kind == CallerKind::Anonymous => Val::One("anonymous"),
            "aws:principalaccount" if !c.account.is_empty() => Val::One(c.account),
            "aws:principaltype" => Val::One(match c.kind {
                CallerKind::User => "User",
                CallerKind::Role | CallerKind::Session => "AssumedRole",
                CallerKind::Root => "Account",
                CallerKind::FederatedUser => "FederatedUser",
                CallerKind::Service | CallerKind::Anonymous | CallerKind::Other => return None,
            }),
            "aws:username" if c.kind == CallerKind::User => Val::One(c.name),
            "aws:principalservicename" if c.kind == CallerKind::Service => Val::One(c.arn),
            "aws:resourceaccount" => Val::One(self.resource_account()?),
            _ => return None,
        };
        Some(one)
    }

    /// A single value for a policy variable (multivalued keys cannot be variables).
    pub(crate) fn single(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Val::One(s) => Some(s),
            Val::Many(_) => None,
        }
    }
}
