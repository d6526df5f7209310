//! A deliberately simple IAM evaluator, the other half of the differential test in
//! `eval_diff.rs`: one statement at a time straight from the parsed documents, in the order
//! of the IAM User Guide's evaluation flowchart
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>),
//! with no compilation, no caching and no shortcuts. Where the guide leaves room it makes
//! the choices `crates/core/src/eval/engine.rs` documents, written out again rather than shared, so a
//! slip in either shows up as a disagreement.
//!
//! Speed does not matter here: patterns are matched character by character with plain
//! recursion, and every value is re-read from the text each time.

use iam_prune::eval::{ContextValue, DecisionKind, NamedPolicy, PolicySet, Request};
use iam_prune::policy::{Condition, Effect, Policy, PrincipalKind, Principals, Statement};
use std::net::IpAddr;

/// The kinds of caller the engine distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Role,
    Session,
    Root,
    FederatedUser,
    Service,
    Anonymous,
    Other,
}

#[derive(Debug, Clone)]
struct Caller {
    arn: String,
    kind: Kind,
    partition: String,
    account: String,
    /// Role name (roles, sessions), user name (users), federated user name.
    name: String,
}

fn parse_caller(arn: &str) -> Caller {
    let mut c = Caller {
        arn: arn.to_string(),
        kind: Kind::Other,
        partition: String::new(),
        account: String::new(),
        name: String::new(),
    };
    if arn.eq_ignore_ascii_case("anonymous") {
        c.kind = Kind::Anonymous;
        return c;
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        if arn.ends_with(".amazonaws.com") || arn.ends_with(".amazonaws.com.cn") {
            c.kind = Kind::Service;
        }
        return c;
    }
    c.partition = parts[1].to_string();
    c.account = parts[4].to_string();
    let (service, res) = (parts[2], parts[5]);
    let last = res.rsplit('/').next().unwrap_or(res).to_string();
    c.kind = if service == "iam" && res == "root" {
        Kind::Root
    } else if service == "iam" && res.starts_with("user/") {
        c.name = last;
        Kind::User
    } else if service == "iam" && res.starts_with("role/") {
        c.name = last;
        Kind::Role
    } else if service == "sts" && res.starts_with("assumed-role/") {
        c.name = res.split('/').nth(1).unwrap_or_default().to_string();
        Kind::Session
    } else if service == "sts" && res.starts_with("federated-user/") {
        c.name = last;
        Kind::FederatedUser
    } else {
        Kind::Other
    };
    c
}

/// How an allowing resource-based statement named the caller, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    Account,
    Anyone,
    Role,
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Identity,
    Boundary,
    Session,
    Scp,
    Rcp,
    Resource,
}

/// Everything a statement is matched against.
struct Req<'a> {
    req: &'a Request<'a>,
    caller: Caller,
    action_lc: String,
    has_boundary: bool,
}

impl Req<'_> {
    /// A context key's value, given or derived from the caller and resource.
    fn value(&self, key: &str) -> Option<ContextValue> {
        if let Some(v) = self.req.context.get(key) {
            return Some(v.clone());
        }
        let c = &self.caller;
        let one = |s: &str| Some(ContextValue::Single(s.to_string()));
        match key.to_ascii_lowercase().as_str() {
            "aws:principalarn" => match c.kind {
                Kind::Session => one(&format!("arn:{}:iam::{}:role/{}", c.partition, c.account, c.name)),
                Kind::Service | Kind::Anonymous => None,
                _ => one(&c.arn),
            },
            "aws:principalaccount" if c.kind == Kind::Anonymous => one("anonymous"),
            "aws:principalaccount" if !c.account.is_empty() => one(&c.account),
            "aws:principaltype" => match c.kind {
                Kind::User => one("User"),
                Kind::Role | Kind::Session => one("AssumedRole"),
                Kind::Root => one("Account"),
                Kind::FederatedUser => one("FederatedUser"),
                Kind::Service | Kind::Anonymous | Kind::Other => None,
            },
            "aws:username" if c.kind == Kind::User => one(&c.name),
            "aws:principalservicename" if c.kind == Kind::Service => one(&c.arn),
            "aws:resourceaccount" => self.resource_account().map(ContextValue::Single),
            _ => None,
        }
    }

    /// A policy variable's value: single-valued keys only.
    fn variable(&self, key: &str) -> Option<String> {
        match self.value(key)? {
            ContextValue::Single(s) => Some(s),
            ContextValue::Multi(_) => None,
        }
    }

    /// The resource's owner: `aws:ResourceAccount`, else a 12-digit account field of the ARN.
    fn resource_account(&self) -> Option<String> {
        if let Some(ContextValue::Single(a)) = self.req.context.get("aws:ResourceAccount") {
            return Some(a.clone());
        }
        let acct = self.req.resource.split(':').nth(4)?;
        (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then(|| acct.to_string())
    }
}

/// The reference decision.
pub fn decide(set: &PolicySet, req: &Request<'_>) -> DecisionKind {
    if req.action.eq_ignore_ascii_case("sts:GetCallerIdentity") {
        return DecisionKind::Allow;
    }
    let r = Req {
        req,
        caller: parse_caller(req.principal),
        action_lc: req.action.to_lowercase(),
        has_boundary: set.boundary.is_some(),
    };
    let anonymous = r.caller.kind == Kind::Anonymous;
    let mut policies: Vec<(Type, usize, &NamedPolicy)> = Vec::new();
    let groups: [(Type, Vec<&NamedPolicy>); 6] = [
        (Type::Identity, set.identity.iter().collect()),
        (Type::Boundary, set.boundary.iter().collect()),
        (Type::Session, set.session.iter().collect()),
        (Type::Scp, set.scps.iter().collect()),
        (Type::Rcp, set.rcps.iter().collect()),
        (Type::Resource, set.resource.iter().collect()),
    ];
    for (ty, ps) in groups {
        for (level, p) in ps.into_iter().enumerate() {
            // An anonymous request has no identity, hence no identity-based policy, boundary,
            // session policy or SCP; RCPs and resource policies still apply.
            if anonymous && matches!(ty, Type::Identity | Type::Boundary | Type::Session | Type::Scp) {
                continue;
            }
            policies.push((ty, level, p));
        }
    }

    // 1. Any applicable Deny, anywhere.
    for (ty, _, p) in &policies {
        for s in &p.policy.statements {
            if s.effect == Effect::Deny && applies(*ty, &p.policy, s, &r).is_some() {
                return DecisionKind::ExplicitDeny;
            }
        }
    }
    let allows = |ty: Type, level: Option<usize>| -> Option<Named> {
        let mut best = None;
        for (t, l, p) in &policies {
            if *t != ty || level.is_some_and(|x| x != *l) {
                continue;
            }
            for s in &p.policy.statements {
                if s.effect == Effect::Allow {
                    best = best.max(applies(ty, &p.policy, s, &r));
                }
            }
        }
        best
    };
    // 2. Every RCP level, then every SCP level, must allow.
    for level in 0..set.rcps.len() {
        if allows(Type::Rcp, Some(level)).is_none() {
            return DecisionKind::ImplicitDeny;
        }
    }
    if !anonymous {
        for level in 0..set.scps.len() {
            if allows(Type::Scp, Some(level)).is_none() {
                return DecisionKind::ImplicitDeny;
            }
        }
    }
    // 3. The root user has every permission that is not denied.
    if r.caller.kind == Kind::Root {
        return DecisionKind::Allow;
    }
    let identity = allows(Type::Identity, None).is_some();
    let boundary_ok = set.boundary.is_none() || allows(Type::Boundary, None).is_some();
    let session_ok = set.session.is_none() || allows(Type::Session, None).is_some();
    let resource = allows(Type::Resource, None);
    let identity_side = identity && boundary_ok && session_ok;
    // 4. Cross-account: both sides must allow.
    if let Some(acct) = r.resource_account() {
        if !r.caller.account.is_empty() && acct != r.caller.account {
            return if identity_side && resource.is_some() { DecisionKind::Allow } else { DecisionKind::ImplicitDeny };
        }
    }
    // 5. Role trust policies and key policies must allow the caller themselves.
    let guarded = r.action_lc.starts_with("sts:") || r.action_lc.starts_with("kms:");
    if !set.resource.is_empty() && guarded && resource.is_none() {
        return DecisionKind::ImplicitDeny;
    }
    // 6. A resource policy can allow on its own, depending on how it names the caller.
    let resource_alone = match resource {
        None | Some(Named::Account) => false,
        Some(Named::Direct) => true,
        Some(Named::Role) => boundary_ok && session_ok,
        Some(Named::Anyone) => !matches!(r.caller.kind, Kind::Role | Kind::Session) || (boundary_ok && session_ok),
    };
    // 7. Otherwise the identity side decides.
    if resource_alone || identity_side {
        DecisionKind::Allow
    } else {
        DecisionKind::ImplicitDeny
    }
}

/// Does one statement apply, and how did it name the caller?
fn applies(ty: Type, policy: &Policy, s: &Statement, r: &Req<'_>) -> Option<Named> {
    let vars = policy.version.as_ref().is_some_and(|v| v.value == "2012-10-17");
    if let Some(m) = &s.actions {
        let hit = m.patterns.iter().any(|p| iam_prune::pattern::reference_match(&p.value.to_lowercase(), &r.action_lc));
        if hit == m.negated {
            return None;
        }
    }
    if let Some(m) = &s.resources {
        // An entry with a variable that has no value matches no resource; the others still count.
        let hit = m.patterns.iter().any(|p| matches_value(&p.value, r.req.resource, Mode::Arn, vars, r) == Some(true));
        if hit == m.negated {
            return None;
        }
    }
    let named = match &s.principals {
        // A resource-based policy must name a principal: without one the statement names nobody.
        None if ty == Type::Resource => return None,
        None => Named::Direct,
        Some(p) => names(p, s.effect, r)?,
    };
    s.conditions.iter().all(|c| holds(c, vars, r)).then_some(named)
}

fn names(p: &Principals, effect: Effect, r: &Req<'_>) -> Option<Named> {
    let c = &r.caller;
    let is_account_id = |v: &str| v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit());
    // The account a `Principal` entry names, if it names one.
    let account_of = |v: &str| -> Option<String> {
        if is_account_id(v) {
            return Some(v.to_string());
        }
        let e = parse_caller(v);
        (e.kind == Kind::Root).then_some(e.account)
    };
    if p.negated {
        if effect == Effect::Allow {
            return None;
        }
        if r.has_boundary && matches!(c.kind, Kind::User | Kind::Role | Kind::Session) {
            return Some(Named::Anyone);
        }
        let mut account_listed = false;
        let mut exact_listed = p.any;
        for (kind, v) in &p.entries {
            let v = v.value.trim();
            match kind {
                PrincipalKind::Aws if v == "*" => exact_listed = true,
                PrincipalKind::Aws => match account_of(v) {
                    Some(a) => account_listed |= !c.account.is_empty() && a == c.account,
                    None => exact_listed |= v == c.arn,
                },
                PrincipalKind::Service => exact_listed |= v.eq_ignore_ascii_case(&c.arn),
                _ => exact_listed |= v == c.arn,
            }
        }
        let star = p.any || p.entries.iter().any(|(k, v)| *k == PrincipalKind::Aws && v.value.trim() == "*");
        let excluded = star
            || match c.kind {
                Kind::Root => account_listed,
                Kind::Service | Kind::Other | Kind::Anonymous => exact_listed,
                _ => account_listed && exact_listed,
            };
        return (!excluded).then_some(Named::Anyone);
    }
    let mut best = p.any.then_some(Named::Anyone);
    for (kind, v) in &p.entries {
        let v = v.value.trim();
        let n = match kind {
            PrincipalKind::Aws if v == "*" => Some(Named::Anyone),
            PrincipalKind::Aws => match account_of(v) {
                Some(a) => (!c.account.is_empty() && a == c.account).then_some(Named::Account),
                None => {
                    let e = parse_caller(v);
                    match (e.kind, c.kind) {
                        (Kind::Role, Kind::Role) => (v == c.arn).then_some(Named::Role),
                        (Kind::Role, Kind::Session) => {
                            (e.account == c.account && e.name == c.name).then_some(Named::Role)
                        }
                        (Kind::Role, _) => None,
                        _ => (v == c.arn).then_some(Named::Direct),
                    }
                }
            },
            PrincipalKind::Service => v.eq_ignore_ascii_case(&c.arn).then_some(Named::Direct),
            _ => (v == c.arn).then_some(Named::Direct),
        };
        best = best.max(n);
    }
    best
}

/// How the wildcards of a value are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Literal,
    Glob,
    Arn,
}

/// One character of a pattern after variables are substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum P {
    Lit(char),
    /// `*`; `true` when it may cross a colon.
    Star(bool),
    /// `?`; `true` when it may match a colon.
    One(bool),
}

/// Substitutes variables and escapes; `None` when a variable has no value and no default.
fn expand(text: &str, mode: Mode, vars: bool, r: &Req<'_>) -> Option<Vec<P>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if vars && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            if let Some(len) = chars[i + 2..].iter().position(|&c| c == '}') {
                let inner: String = chars[i + 2..i + 2 + len].iter().collect();
                let inner = inner.trim();
                i += len + 3;
                match inner {
                    "*" | "?" | "$" => out.extend(inner.chars().map(P::Lit)),
                    _ => {
                        let (key, default) = match inner.split_once(',') {
                            Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\'').to_string())),
                            None => (inner, None),
                        };
                        let value = r.variable(key).or(default)?;
                        out.extend(value.chars().map(P::Lit));
                    }
                }
                continue;
            }
        }
        let c = chars[i];
        let next = chars.get(i + 1);
        out.push(match (c, mode) {
            (_, Mode::Literal) => P::Lit(c),
            ('*', Mode::Glob) => P::Star(true),
            ('?', Mode::Glob) => P::One(true),
            // "If the * wildcard is the last character of a resource ARN segment, it can
            // expand to match beyond the colon boundaries."
            ('*', Mode::Arn) => P::Star(matches!(next, None | Some(':') | Some('*'))),
            ('?', Mode::Arn) => P::One(false),
            _ => P::Lit(c),
        });
        i += 1;
    }
    Some(out)
}

fn glob(p: &[P], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((P::Lit(c), rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
        Some((P::One(colon), rest)) => s.first().is_some_and(|c| *colon || *c != ':') && glob(rest, &s[1..]),
        Some((P::Star(colon), rest)) => {
            let mut i = 0;
            loop {
                if glob(rest, &s[i..]) {
                    return true;
                }
                match s.get(i) {
                    Some(c) if *colon || *c != ':' => i += 1,
                    _ => return false,
                }
            }
        }
    }
}

/// Does `subject` match the policy value? `None` when a variable in it has no value.
fn matches_value(pattern: &str, subject: &str, mode: Mode, vars: bool, r: &Req<'_>) -> Option<bool> {
    let p = expand(pattern, mode, vars, r)?;
    let s: Vec<char> = subject.chars().collect();
    Some(glob(&p, &s))
}

fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Epoch seconds or RFC 3339, the date forms the generator writes.
fn date(v: &str) -> Option<i128> {
    let v = v.trim();
    if let Ok(s) = v.parse::<i64>() {
        return Some(i128::from(s) * 1_000_000_000);
    }
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
}

fn cidr(v: &str) -> Option<(IpAddr, u32)> {
    let v = v.trim();
    let (a, bits) = match v.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u32>().ok()?),
        None => {
            let a = v.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    (bits <= if a.is_ipv4() { 32 } else { 128 }).then_some((a, bits))
}

fn in_cidr(ip: IpAddr, (net, bits): (IpAddr, u32)) -> bool {
    let (a, n, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    // Compare the top `bits` bits, one at a time.
    (0..bits).all(|i| (a >> (width - 1 - i)) & 1 == (n >> (width - 1 - i)) & 1)
}

/// Does one condition (operator, key, values) hold?
fn holds(c: &Condition, vars: bool, r: &Req<'_>) -> bool {
    let op = c.operator.value.to_ascii_lowercase();
    let (set, op) = if let Some(rest) = op.strip_prefix("forallvalues:") {
        ("all", rest.to_string())
    } else if let Some(rest) = op.strip_prefix("foranyvalue:") {
        ("any", rest.to_string())
    } else {
        ("single", op)
    };
    let (if_exists, base) = match op.strip_suffix("ifexists") {
        Some(b) => (true, b.to_string()),
        None => (false, op.clone()),
    };
    let got = r.value(&c.key.value);
    let present = match &got {
        None => false,
        Some(ContextValue::Single(_)) => true,
        Some(ContextValue::Multi(m)) => !m.is_empty(),
    };
    if base == "null" {
        return c.values.iter().any(|v| parse_bool(&v.value) == Some(!present));
    }
    let negated = base.contains("not");
    let missing = match &got {
        None => true,
        Some(ContextValue::Multi(m)) => m.is_empty() && set == "single",
        Some(ContextValue::Single(_)) => false,
    };
    if missing {
        // "If the key that you specify in a policy condition is not present in the request
        // context, the values do not match and the condition is false"; a negated operator is
        // then true, `...IfExists` is true, `ForAllValues` is true, `ForAnyValue` false.
        return if_exists
            || match set {
                "all" => true,
                "any" => false,
                _ => negated,
            };
    }
    // Each request value: does it match any policy value (before negation)? `None` when the
    // operator cannot read it.
    let positive = |v: &str| -> Option<bool> {
        let mut hit = false;
        for pv in &c.values {
            let pv = &pv.value;
            let m = match base.as_str() {
                "stringequals" | "stringnotequals" | "binaryequals" => {
                    expand(pv, Mode::Literal, vars, r).map(|p| glob(&p, &v.chars().collect::<Vec<_>>()))
                }
                "stringequalsignorecase" | "stringnotequalsignorecase" => expand(pv, Mode::Literal, vars, r).map(|p| {
                    let s: String = p.iter().map(|x| if let P::Lit(c) = x { *c } else { '\0' }).collect();
                    lower(&s) == lower(v)
                }),
                "bool" => {
                    parse_bool(v)?;
                    expand(pv, Mode::Literal, vars, r).map(|p| {
                        let s: String = p.iter().map(|x| if let P::Lit(c) = x { *c } else { '\0' }).collect();
                        lower(&s) == lower(v)
                    })
                }
                "stringlike" | "stringnotlike" => matches_value(pv, v, Mode::Glob, vars, r),
                "arnequals" | "arnlike" | "arnnotequals" | "arnnotlike" => matches_value(pv, v, Mode::Arn, vars, r),
                b if b.starts_with("numeric") => {
                    let x = number(v)?;
                    number(pv).map(|n| compare(b.trim_start_matches("numeric"), x, n))
                }
                b if b.starts_with("date") => {
                    let x = date(v)?;
                    date(pv).map(|d| compare(b.trim_start_matches("date"), x, d))
                }
                "ipaddress" | "notipaddress" => {
                    let ip = v.trim().parse::<IpAddr>().ok().or_else(|| cidr(v).map(|c| c.0))?;
                    cidr(pv).map(|net| in_cidr(ip, net))
                }
                other => panic!("the generator wrote an operator the reference does not know: {other}"),
            };
            // A policy value whose variable has no value is "effectively null": there is no
            // equal or like value, so it matches nothing.
            hit |= m == Some(true);
        }
        Some(hit)
    };
    let one = |v: &str| positive(v).map(|p| p != negated);
    let result = match (&got, set) {
        (Some(ContextValue::Single(v)), _) => one(v),
        (Some(ContextValue::Multi(vs)), "all") => {
            vs.iter().map(|v| one(v)).collect::<Option<Vec<_>>>().map(|x| x.iter().all(|b| *b))
        }
        (Some(ContextValue::Multi(vs)), "any") => {
            vs.iter().map(|v| one(v)).collect::<Option<Vec<_>>>().map(|x| x.iter().any(|b| *b))
        }
        (Some(ContextValue::Multi(vs)), _) if negated => {
            vs.iter().map(|v| one(v)).collect::<Option<Vec<_>>>().map(|x| x.iter().all(|b| *b))
        }
        (Some(ContextValue::Multi(vs)), _) => {
            vs.iter().map(|v| one(v)).collect::<Option<Vec<_>>>().map(|x| x.iter().any(|b| *b))
        }
        (None, _) => Some(false),
    };
    result.unwrap_or(false)
}

fn compare<T: PartialOrd>(op: &str, req: T, pol: T) -> bool {
    match op {
        "equals" | "notequals" => req == pol,
        "lessthan" => req < pol,
        "lessthanequals" => req <= pol,
        "greaterthan" => req > pol,
        "greaterthanequals" => req >= pol,
        other => panic!("unknown comparison {other}"),
    }
}
