//! The canonical writer and IAM's size limits.
//!
//! Output is deterministic (fixed key order, sorted actions and resources, two-space
//! indent) so that a pruned policy diffs cleanly between runs. Sizes are counted the way
//! IAM does: characters, not counting whitespace.

use super::{Condition, Effect, Matcher, Policy, Principals, Spanned, Statement};
use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::eval::ArnPattern;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// IAM's character limits for policy documents (whitespace not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SizeLimit {
    /// A customer managed policy: 6,144 characters.
    Managed,
    /// All inline policies of a role together: 10,240 characters.
    InlineRole,
    /// All inline policies of a user together: 2,048 characters.
    InlineUser,
    /// A session policy passed to AssumeRole: 2,048 characters (plain text).
    Session,
}

impl SizeLimit {
    /// All limits, for reports.
    pub const ALL: [SizeLimit; 4] =
        [SizeLimit::Managed, SizeLimit::InlineRole, SizeLimit::InlineUser, SizeLimit::Session];

    /// The limit in characters.
    pub fn chars(self) -> usize {
        match self {
            SizeLimit::Managed => 6_144,
            SizeLimit::InlineRole => 10_240,
            SizeLimit::InlineUser => 2_048,
            SizeLimit::Session => 2_048,
        }
    }

    /// A human name.
    pub fn name(self) -> &'static str {
        match self {
            SizeLimit::Managed => "managed policy",
            SizeLimit::InlineRole => "inline role policies (total)",
            SizeLimit::InlineUser => "inline user policies (total)",
            SizeLimit::Session => "session policy",
        }
    }
}

/// The size IAM counts for a document: every character except whitespace.
pub fn iam_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn list(m: &Matcher) -> Value {
    let mut v: Vec<&str> = m.patterns.iter().map(|p| p.value.as_str()).collect();
    v.sort_unstable();
    v.dedup();
    Value::Array(v.into_iter().map(|s| Value::String(s.into())).collect())
}

fn principals(p: &Principals) -> Value {
    if p.any {
        return Value::String("*".into());
    }
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in &p.entries {
        by_kind.entry(k.as_str()).or_default().push(&v.value);
    }
    let mut m = Map::new();
    for (k, mut v) in by_kind {
        v.sort_unstable();
        m.insert(
            k.into(),
            match v.as_slice() {
                [one] => json!(one),
                _ => json!(v),
            },
        );
    }
    Value::Object(m)
}

fn conditions(cs: &[Condition]) -> Value {
    let mut ops: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    for c in cs {
        ops.entry(&c.operator.value)
            .or_default()
            .entry(&c.key.value)
            .or_default()
            .extend(c.values.iter().map(|v| v.value.as_str()));
    }
    let mut m = Map::new();
    for (op, keys) in ops {
        let mut km = Map::new();
        for (k, v) in keys {
            km.insert(
                k.into(),
                match v.as_slice() {
                    [one] => json!(one),
                    _ => json!(v),
                },
            );
        }
        m.insert(op.into(), Value::Object(km));
    }
    Value::Object(m)
}

fn statement(st: &Statement) -> Value {
    let mut m = Map::new();
    if let Some(sid) = &st.sid {
        m.insert("Sid".into(), json!(sid));
    }
    m.insert("Effect".into(), json!(if st.effect == Effect::Allow { "Allow" } else { "Deny" }));
    if let Some(p) = &st.principals {
        m.insert(if p.negated { "NotPrincipal" } else { "Principal" }.into(), principals(p));
    }
    if let Some(a) = &st.actions {
        m.insert(if a.negated { "NotAction" } else { "Action" }.into(), list(a));
    }
    if let Some(r) = &st.resources {
        m.insert(if r.negated { "NotResource" } else { "Resource" }.into(), list(r));
    }
    if !st.conditions.is_empty() {
        m.insert("Condition".into(), conditions(&st.conditions));
    }
    Value::Object(m)
}

/// The document as a `serde_json::Value` in canonical key order.
pub fn to_value(policy: &Policy) -> Value {
    let mut m = Map::new();
    m.insert("Version".into(), json!(policy.version.as_ref().map(|v| v.value.as_str()).unwrap_or("2012-10-17")));
    if let Some(id) = &policy.id {
        m.insert("Id".into(), json!(id));
    }
    m.insert("Statement".into(), Value::Array(policy.statements.iter().map(statement).collect()));
    Value::Object(m)
}

/// Canonical pretty JSON (two-space indent, trailing newline).
pub fn to_canonical_json(policy: &Policy) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(policy)).unwrap_or_default();
    s.push('\n');
    s
}

/// Minified JSON, as AssumeRole's `Policy` parameter wants it.
pub fn to_minified_json(policy: &Policy) -> String {
    serde_json::to_string(&to_value(policy)).unwrap_or_default()
}

/// The limits a document exceeds, with its size.
pub fn exceeded_limits(policy: &Policy) -> (usize, Vec<SizeLimit>) {
    let size = iam_size(&to_minified_json(policy));
    (size, SizeLimit::ALL.into_iter().filter(|l| size > l.chars()).collect())
}

/// Builds an Allow policy for `actions` from nothing: one statement per service (and per
/// distinct resource list within a service), `Sid` from the service prefix. `resources` gives
/// the ARNs per action where known; actions without an entry get `"*"`. With `compress`,
/// action lists use wildcards where the catalog proves the wildcard matches nothing outside
/// the statement's own actions.
pub fn policy_for_actions(
    catalog: &Catalog,
    actions: &ActionSet,
    resources: &BTreeMap<ActionId, Vec<String>>,
    compress: bool,
) -> Policy {
    let everything = Policy::allow(vec![(vec!["*".to_string()], vec!["*".to_string()])]);
    let seen = Seen { resources: resources.clone(), passed_to: BTreeMap::new() };
    minimal_policy(catalog, &[&everything], actions, &seen, compress)
}

/// What the workload was seen doing with each action, which the minimal policy narrows to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The ARNs it used, per action.
    pub resources: BTreeMap<ActionId, Vec<String>>,
    /// For actions that hand a role (or connection) to a service, the `*:PassedToService`
    /// context key and the services it named: a pass is then granted for those services only,
    /// as AWS advises for `iam:PassRole`.
    pub passed_to: BTreeMap<ActionId, (String, Vec<String>)>,
}

impl From<BTreeMap<ActionId, Vec<String>>> for Seen {
    fn from(resources: BTreeMap<ActionId, Vec<String>>) -> Seen {
        Seen { resources, passed_to: BTreeMap::new() }
    }
}

/// The minimal policy as the start policies grant it: each `Allow` statement of `start`
/// narrowed to the `minimal` actions it covers, keeping its conditions, and its resources
/// narrowed to the ARNs the workload was seen to use under it (`resources`, per action; the
/// statement's own when none are known or when they hold policy variables or `NotResource`).
/// Statements are regrouped one per service, resource list and condition block (`Sid` from
/// the service prefix), and every `Deny` of `start` that can apply to a minimal action is kept
/// as written. So the result never grants what the start policies did not, and grants the
/// minimal actions exactly where and when the verifying trial did. A pass seen naming its
/// services (`seen.passed_to`) gets a `StringEquals` condition on them, unless its statement
/// already conditions that key. With `compress`, action lists use wildcards where the catalog
/// proves the wildcard matches nothing outside the statement's own actions.
pub fn minimal_policy(
    catalog: &Catalog,
    start: &[&Policy],
    minimal: &ActionSet,
    seen: &Seen,
    compress: bool,
) -> Policy {
    let resources = &seen.resources;
    // (service, NotResource?, resources, canonical conditions) -> (conditions, actions, the
    // start statements' own action patterns, which bound any compression wildcard).
    type Key = (String, bool, Vec<String>, String);
    type Grant = (Vec<Condition>, Vec<ActionId>, Vec<String>);
    let mut grants: BTreeMap<Key, Grant> = BTreeMap::new();
    let mut denies: Vec<Statement> = Vec::new();
    let mut placed = ActionSet::new();
    // The statements covering each action, for actions no statement was seen to serve.
    let mut covering: BTreeMap<ActionId, Vec<&Statement>> = BTreeMap::new();
    let add = |grants: &mut BTreeMap<Key, Grant>, st: &Statement, id: ActionId, (negated, res): (bool, Vec<String>)| {
        let mut conds = st.conditions.clone();
        if let Some((key, services)) = seen.passed_to.get(&id) {
            if !services.is_empty() && !conds.iter().any(|c| c.key.value.eq_ignore_ascii_case(key)) {
                conds.push(Condition {
                    operator: Spanned::synthetic("StringEquals".to_string()),
                    key: Spanned::synthetic(key.clone()),
                    values: services.iter().cloned().map(Spanned::synthetic).collect(),
                });
            }
        }
        let cond = conditions(&conds).to_string();
        let entry = grants
            .entry((catalog.prefix_of(id), negated, res, cond))
            .or_insert_with(|| (conds, Vec::new(), Vec::new()));
        if !entry.1.contains(&id) {
            entry.1.push(id);
        }
        // `NotAction` grants by exclusion: it proves no wildcard safe for actions to come.
        if let Some(m) = st.actions.as_ref().filter(|m| !m.negated) {
            for p in &m.patterns {
                if !entry.2.contains(&p.value) {
                    entry.2.push(p.value.clone());
                }
            }
        }
    };
    for st in start.iter().flat_map(|p| p.statements.iter()) {
        let covered = catalog.expand_statement(st);
        if st.effect == Effect::Deny {
            // Also a Deny of actions the catalog does not know yet: a compression wildcard
            // could match them once AWS adds them, and the start policy denied them.
            if (st.actions.is_none() || covered.is_empty() || !covered.intersection(minimal).is_empty())
                && !denies.contains(st)
            {
                denies.push(st.clone());
            }
            continue;
        }
        for id in covered.intersection(minimal).iter() {
            covering.entry(id).or_default().push(st);
            if let Some(res) = scoped_resources(st, resources.get(&id).map(Vec::as_slice).unwrap_or_default()) {
                add(&mut grants, st, id, res);
                placed.insert(id);
            }
        }
    }
    // Seen under none of them (an ARN the offline match cannot place): every covering
    // statement as written, which is what the start granted.
    for (id, sts) in covering {
        if !placed.contains(id) {
            for st in sts {
                add(&mut grants, st, id, written_resources(st));
            }
        }
    }
    let mut per_service: BTreeMap<&str, usize> = BTreeMap::new();
    for (svc, ..) in grants.keys() {
        *per_service.entry(svc.as_str()).or_default() += 1;
    }
    let mut statements = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for ((svc, negated, res, _), (conds, ids, within)) in &grants {
        let names = if compress {
            compress_actions(catalog, ids, &ids.iter().copied().collect(), within)
        } else {
            let mut names: Vec<String> = ids.iter().map(|&id| catalog.name(id)).collect();
            names.sort();
            names
        };
        let n = seen.entry(svc.as_str()).or_default();
        *n += 1;
        let base = sid_for(svc);
        let sid = if per_service.get(svc.as_str()).copied().unwrap_or(1) > 1 { format!("{base}{n}") } else { base };
        statements.push(Statement {
            sid: Some(sid),
            effect: Effect::Allow,
            actions: Some(Matcher { negated: false, patterns: names.into_iter().map(Spanned::synthetic).collect() }),
            resources: Some(Matcher {
                negated: *negated,
                patterns: res.iter().cloned().map(Spanned::synthetic).collect(),
            }),
            principals: None,
            conditions: conds.clone(),
            pos: Default::default(),
        });
    }
    // A kept `Deny` whose Sid one of the statements above took is renamed, so Sids stay unique.
    for mut st in denies {
        if let Some(sid) = st.sid.clone() {
            let taken = |s: &str| statements.iter().any(|o: &Statement| o.sid.as_deref() == Some(s));
            let mut k = 1;
            let mut name = sid.clone();
            while taken(&name) {
                k += 1;
                name = format!("{sid}Deny{k}");
            }
            st.sid = Some(name);
        }
        statements.push(st);
    }
    let mut p = Policy::allow(Vec::new());
    p.statements = statements;
    p
}

/// A statement's `Resource`/`NotResource` as written (`"*"` when it has none), sorted.
fn written_resources(st: &Statement) -> (bool, Vec<String>) {
    let Some(m) = &st.resources else { return (false, vec!["*".to_string()]) };
    let mut res: Vec<String> = m.patterns.iter().map(|p| p.value.clone()).collect();
    res.sort();
    res.dedup();
    (m.negated, res)
}

/// The resources to grant an action under `st`: the seen ARNs that `st` matches, or `st`'s
/// own when nothing was seen or its patterns cannot be matched offline (policy variables,
/// `NotResource`); `None` when ARNs were seen and `st` matches none of them (the workload
/// used another statement for this action).
fn scoped_resources(st: &Statement, seen: &[String]) -> Option<(bool, Vec<String>)> {
    let written = written_resources(st);
    if seen.is_empty() || written.0 || written.1.iter().any(|p| p.contains("${")) {
        return Some(written);
    }
    // The evaluator's ARN matcher, so a seen ARN counts as inside a written pattern exactly
    // when the written statement would allow it.
    let patterns: Vec<(&str, ArnPattern)> = written.1.iter().map(|p| (p.as_str(), ArnPattern::new(p))).collect();
    // A seen ARN may itself be a pattern (`.../instance/*`): it is inside a written pattern only
    // when that is `*`, the same text, or a plain prefix followed by `*` that it starts with.
    // Matching it as text would let `?` in the written pattern match its literal `*`.
    let inside = |seen: &str, (written, pattern): &(&str, ArnPattern)| {
        if !seen.contains(['*', '?']) {
            return pattern.is_match(seen);
        }
        *written == "*"
            || *written == seen
            || written.strip_suffix('*').is_some_and(|head| !head.contains(['*', '?']) && seen.starts_with(head))
    };
    let mut res: Vec<String> = seen.iter().filter(|r| patterns.iter().any(|p| inside(r, p))).cloned().collect();
    if res.is_empty() {
        return None;
    }
    if res.iter().any(|r| r == "*") {
        res = vec!["*".to_string()];
    }
    res.sort();
    res.dedup();
    Some((false, res))
}

fn sid_for(prefix: &str) -> String {
    let mut s = String::new();
    let mut upper = true;
    for c in prefix.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    s
}

/// True when the action pattern `outer` matches every action name `inner` can match, future
/// ones included: `*`, the same text, or a plain `svc:prefix*` that `inner` extends
/// (case-insensitive, as IAM matches actions). Anything else is answered no.
pub fn action_pattern_covers(outer: &str, inner: &str) -> bool {
    let (outer, inner) = (outer.to_ascii_lowercase(), inner.to_ascii_lowercase());
    if outer == "*" || outer == inner {
        return true;
    }
    let (Some((os, oa)), Some((is, ia))) = (outer.split_once(':'), inner.split_once(':')) else { return false };
    let Some(head) = oa.strip_suffix('*') else { return false };
    os == is && !os.contains(['*', '?']) && !head.contains(['*', '?']) && ia.starts_with(head)
}

/// Replaces runs of actions by `prefix*` wildcards where every catalog action the wildcard
/// matches is in `allowed` (the proof that it grants nothing extra today) and one of the
/// patterns in `within` covers the wildcard (so an action AWS adds later under it was granted
/// by the start policy too; pass `["*"]` where that does not matter).
pub fn compress_actions(catalog: &Catalog, ids: &[ActionId], allowed: &ActionSet, within: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &id in ids {
        let Some(info) = catalog.info(id) else {
            out.push(catalog.name(id));
            continue;
        };
        let prefix = catalog.prefix_of(id);
        let name = info.name;
        // Shortest word-ish prefix (at least 3 characters) whose expansion stays inside `allowed`.
        let mut chosen = catalog.name(id);
        for len in 3..name.len() {
            let Some(head) = name.get(..len) else { continue };
            let pattern = format!("{prefix}:{head}*");
            let matched = catalog.expand_pattern(&pattern);
            if matched.len() >= 2
                && matched.is_subset(allowed)
                && within.iter().any(|w| action_pattern_covers(w, &pattern))
            {
                chosen = pattern;
                break;
            }
        }
        if !out.contains(&chosen) {
            out.push(chosen);
        }
    }
    out
}

/// Splits a policy document (as [`to_value`] writes it) into documents of at most `limit`
/// characters each, as IAM counts them: for a minimal policy over the managed-policy limit,
/// which the user then creates as several managed policies (a role holds up to 10, 20 with a
/// quota raise). Statements are packed first-fit by decreasing size; a statement too large on
/// its own is cut into statements over halves of its `Action` list (Sids get `PartN`, which
/// no generated Sid ends in, so they stay unique). Each part keeps the statements' original order. One part when it already fits;
/// none when the document has no statements.
pub fn split_to_fit(policy: &Value, limit: usize) -> Vec<Value> {
    let version = policy.get("Version").cloned().unwrap_or_else(|| json!("2012-10-17"));
    let doc = |statements: Vec<Value>| json!({"Version": version, "Statement": statements});
    let size = |statements: &[Value]| iam_size(&doc(statements.to_vec()).to_string());
    let statements: Vec<Value> = policy.get("Statement").and_then(Value::as_array).cloned().unwrap_or_default();
    if statements.is_empty() {
        return Vec::new();
    }
    if size(&statements) <= limit {
        return vec![doc(statements)];
    }
    // (original position, piece) for every statement, big ones cut along their actions.
    let mut pieces: Vec<(usize, Value)> = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let mut todo = vec![st.clone()];
        let mut done = Vec::new();
        while let Some(st) = todo.pop() {
            let actions = st.get("Action").and_then(Value::as_array).cloned().unwrap_or_default();
            if size(std::slice::from_ref(&st)) <= limit || actions.len() < 2 {
                done.push(st);
                continue;
            }
            let (a, b) = actions.split_at(actions.len() / 2);
            for half in [b, a] {
                let mut part = st.clone();
                if let Some(m) = part.as_object_mut() {
                    m.insert("Action".into(), Value::Array(half.to_vec()));
                }
                todo.push(part);
            }
        }
        if done.len() > 1 {
            for (k, st) in done.iter_mut().enumerate() {
                if let Some(m) = st.as_object_mut() {
                    if let Some(sid) = m.get("Sid").and_then(Value::as_str).map(String::from) {
                        m.insert("Sid".into(), json!(format!("{sid}Part{}", k + 1)));
                    }
                }
            }
        }
        pieces.extend(done.into_iter().map(|st| (i, st)));
    }
    pieces.sort_by_key(|(i, st)| (std::cmp::Reverse(size(std::slice::from_ref(st))), *i));
    let mut parts: Vec<Vec<(usize, Value)>> = Vec::new();
    for piece in pieces {
        let fits = |part: &Vec<(usize, Value)>| {
            let mut sts: Vec<Value> = part.iter().map(|(_, s)| s.clone()).collect();
            sts.push(piece.1.clone());
            size(&sts) <= limit
        };
        match parts.iter().position(fits) {
            Some(k) => {
                if let Some(part) = parts.get_mut(k) {
                    part.push(piece);
                }
            }
            None => parts.push(vec![piece]),
        }
    }
    parts
        .into_iter()
        .map(|mut part| {
            part.sort_by_key(|(i, _)| *i);
            doc(part.into_iter().map(|(_, s)| s).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn split_to_fit_packs_statements_and_cuts_big_ones() {
        let actions = |svc: &str, n: usize| -> Vec<String> { (0..n).map(|k| format!("{svc}:Action{k:04}")).collect() };
        let st = |sid: &str, acts: Vec<String>| json!({"Sid": sid, "Effect": "Allow", "Action": acts, "Resource": "*"});
        let policy = json!({"Version": "2012-10-17", "Statement": [
            st("Ec2", actions("ec2", 300)), st("Iam", actions("iam", 40)), st("S3", actions("s3", 150)), st("Sts", actions("sts", 2))]});
        let whole = iam_size(&policy.to_string());
        assert!(whole > 6_144, "{whole}");
        let parts = split_to_fit(&policy, 6_144);
        assert!(parts.len() >= 2);
        let mut got = Vec::new();
        let mut sids = std::collections::BTreeSet::new();
        for p in &parts {
            assert!(iam_size(&p.to_string()) <= 6_144, "{}", iam_size(&p.to_string()));
            for s in p["Statement"].as_array().unwrap() {
                assert!(sids.insert(s["Sid"].as_str().unwrap().to_string()), "Sid repeated: {s}");
                assert_eq!(s["Resource"], "*");
                got.extend(s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()));
            }
        }
        let mut want: Vec<String> =
            [actions("ec2", 300), actions("iam", 40), actions("s3", 150), actions("sts", 2)].concat();
        got.sort();
        want.sort();
        assert_eq!(got, want, "every action in exactly one part");
        // Close to the fewest parts the sizes allow.
        assert!(parts.len() <= whole.div_ceil(6_144) + 1, "{} parts for {whole} characters", parts.len());
        // A policy that fits stays whole.
        let small = json!({"Version": "2012-10-17", "Statement": [st("Sts", actions("sts", 2))]});
        assert_eq!(split_to_fit(&small, 6_144), vec![small]);
    }
    use super::*;
    use crate::policy::parse_policy;

    #[test]
    fn canonical_output_is_deterministic_and_reparses() {
        let p = parse_policy(
            r#"{"Statement":{"Resource":"*","Action":["s3:b","s3:a","s3:a"],"Effect":"Allow","Condition":{"Bool":{"aws:SecureTransport":"true"}}},"Version":"2012-10-17"}"#,
            "t",
        )
        .unwrap();
        let out = to_canonical_json(&p);
        assert!(out.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": ["), "{out}");
        assert!(out.find("\"Effect\"") < out.find("\"Action\""));
        assert!(out.contains("\"s3:a\",\n        \"s3:b\""), "{out}");
        assert_eq!(to_canonical_json(&parse_policy(&out, "again").unwrap()), out);
    }

    #[test]
    fn size_counts_without_whitespace() {
        assert_eq!(iam_size("{ \"a\" : \n 1 }"), 7);
        let p = Policy::allow(vec![(vec!["iam:PassRole".into()], vec!["*".into()])]);
        let (size, over) = exceeded_limits(&p);
        assert!(size < 120 && over.is_empty());
    }

    #[test]
    fn one_statement_per_service_with_resources() {
        let c = Catalog::embedded();
        let set: ActionSet = ["iam:PassRole", "iam:GetInstanceProfile", "ec2:DescribeVpcs"]
            .iter()
            .map(|a| c.lookup(a).unwrap())
            .collect();
        let mut res = BTreeMap::new();
        res.insert(c.lookup("iam:PassRole").unwrap(), vec!["arn:aws:iam::1:role/r".to_string()]);
        let p = policy_for_actions(c, &set, &res, false);
        let sids: Vec<_> = p.statements.iter().map(|s| s.sid.clone().unwrap()).collect();
        assert_eq!(sids, vec!["Ec2", "Iam1", "Iam2"]);
    }

    #[test]
    fn the_minimal_policy_keeps_conditions_denies_and_the_start_resources() {
        let c = Catalog::embedded();
        let start = parse_policy(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":["iam:CreatePolicy","iam:TagPolicy"],"Resource":"*",
               "Condition":{"StringEquals":{"aws:RequestTag/team":"data"}}},
              {"Effect":"Allow","Action":"iam:Get*","Resource":"arn:aws:iam::1:policy/*"},
              {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${aws:username}/*"},
              {"Sid":"Iam","Effect":"Deny","Action":"iam:DeletePolicy","Resource":"*"},
              {"Sid":"NoEc2","Effect":"Deny","Action":"ec2:*","Resource":"*"}]}"#,
            "start",
        )
        .unwrap();
        let id = |a: &str| c.lookup(a).unwrap();
        let minimal: ActionSet =
            ["iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "s3:GetObject", "iam:DeletePolicy"]
                .iter()
                .map(|a| id(a))
                .collect();
        let mut seen = BTreeMap::new();
        seen.insert(id("iam:GetPolicy"), vec!["arn:aws:iam::1:policy/a".to_string()]);
        // Seen, but outside the only statement granting it: that statement's resources stay.
        seen.insert(id("iam:GetPolicyVersion"), vec!["arn:aws:iam::2:policy/b".to_string()]);
        seen.insert(id("s3:GetObject"), vec!["arn:aws:s3:::alice/k".to_string()]);
        let p = minimal_policy(c, &[&start], &minimal, &Seen::from(seen.clone()), false);
        let v = to_value(&p);
        let sts = v["Statement"].as_array().unwrap();
        let find =
            |action: &str| sts.iter().find(|s| s["Action"].as_array().unwrap().iter().any(|a| a == action)).unwrap();
        assert_eq!(find("iam:CreatePolicy")["Condition"], json!({"StringEquals": {"aws:RequestTag/team": "data"}}));
        assert_eq!(find("iam:CreatePolicy")["Resource"], json!(["*"]));
        assert_eq!(find("iam:GetPolicy")["Resource"], json!(["arn:aws:iam::1:policy/a"]));
        assert!(find("iam:GetPolicy").get("Condition").is_none());
        assert_eq!(find("iam:GetPolicyVersion")["Resource"], json!(["arn:aws:iam::1:policy/*"]));
        assert_eq!(find("s3:GetObject")["Resource"], json!(["arn:aws:s3:::${aws:username}/*"]));
        // iam:DeletePolicy is in the set but only a Deny names it: no Allow, and the Deny stays
        // (renamed: the Allow statements took `Iam`); the Deny of ec2:* cannot apply: gone.
        let denies: Vec<&Value> = sts.iter().filter(|s| s["Effect"] == "Deny").collect();
        assert_eq!(denies.len(), 1, "{v:#}");
        assert_eq!(denies[0]["Action"], json!(["iam:DeletePolicy"]));
        assert!(sts
            .iter()
            .all(|s| s["Effect"] == "Deny" || s["Action"].as_array().unwrap().iter().all(|a| a != "iam:DeletePolicy")));
        let sids: std::collections::BTreeSet<&str> = sts.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(sids.len(), sts.len(), "Sids repeat: {v:#}");
        // Never more than the start: every written action is one the start allowed.
        assert!(c.expand_policy(&p).allowed.is_subset(&c.expand_policy(&start).allowed));
    }

    #[test]
    fn a_seen_pattern_narrows_only_inside_a_pattern_that_covers_it() {
        let c = Catalog::embedded();
        let start = parse_policy(
            r#"{"Statement":[
              {"Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"arn:aws:ec2:us-east-1:1:instance/i-?"},
              {"Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"arn:aws:ec2:us-east-1:1:instance/i-0*",
               "Condition":{"Bool":{"aws:SecureTransport":"true"}}},
              {"Effect":"Allow","Action":"ec2:StopInstances","Resource":"arn:aws:ec2:us-east-1:1:instance/*"}]}"#,
            "s",
        )
        .unwrap();
        let id = |a: &str| c.lookup(a).unwrap();
        let minimal: ActionSet = [id("ec2:TerminateInstances"), id("ec2:StopInstances")].into_iter().collect();
        let mut seen = BTreeMap::new();
        // Seen as a pattern: `i-?` would match its `*` as text, but covers far less.
        seen.insert(id("ec2:TerminateInstances"), vec!["arn:aws:ec2:us-east-1:1:instance/*".to_string()]);
        seen.insert(id("ec2:StopInstances"), vec!["arn:aws:ec2:us-east-1:1:instance/i-0abc/*".to_string()]);
        let v = to_value(&minimal_policy(c, &[&start], &minimal, &Seen::from(seen.clone()), false));
        let sts = v["Statement"].as_array().unwrap();
        let terminate: Vec<&Value> = sts.iter().filter(|s| s["Action"][0] == "ec2:TerminateInstances").collect();
        // Placed under neither statement: both kept as written, each with its own condition.
        assert_eq!(terminate.len(), 2, "{v:#}");
        assert!(terminate
            .iter()
            .any(|s| s["Resource"] == json!(["arn:aws:ec2:us-east-1:1:instance/i-?"]) && s.get("Condition").is_none()));
        assert!(
            terminate
                .iter()
                .any(|s| s["Resource"] == json!(["arn:aws:ec2:us-east-1:1:instance/i-0*"])
                    && s.get("Condition").is_some())
        );
        // A plain prefix pattern covers a seen pattern that starts with its prefix.
        let stop = sts.iter().find(|s| s["Action"][0] == "ec2:StopInstances").unwrap();
        assert_eq!(stop["Resource"], json!(["arn:aws:ec2:us-east-1:1:instance/i-0abc/*"]));
    }

    /// Narrowing asks the evaluator's ARN matcher: a `*` inside a segment does not reach
    /// across a colon, so a seen ARN the written statement would not allow is not granted
    /// under it (a plain glob took `us-*1` to match `us-east:1`).
    #[test]
    fn narrowing_matches_seen_arns_segment_by_segment() {
        let start = parse_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"arn:aws:ec2:us-*1:111122223333:instance/*"}]}"#,
            "s",
        )
        .unwrap();
        let st = &start.statements[0];
        let across = "arn:aws:ec2:us-east:1:111122223333:instance/i-1".to_string();
        let inside = "arn:aws:ec2:us-east-1:111122223333:instance/i-1".to_string();
        assert_eq!(scoped_resources(st, std::slice::from_ref(&across)), None);
        assert_eq!(scoped_resources(st, &[inside.clone(), across]), Some((false, vec![inside])));
    }

    #[test]
    fn a_wildcard_stays_inside_its_own_statement() {
        let c = Catalog::embedded();
        let start = parse_policy(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#, "s").unwrap();
        // Every iam:Get* action, half of them seen on one policy, half on another: a wildcard
        // in one statement would grant the other half's actions on the wrong resource.
        let gets: Vec<ActionId> = c.expand_pattern("iam:Get*").iter().collect();
        let mut seen = BTreeMap::new();
        for (i, &a) in gets.iter().enumerate() {
            seen.insert(a, vec![format!("arn:aws:iam::1:policy/{}", i % 2)]);
        }
        let p = minimal_policy(c, &[&start], &gets.iter().copied().collect(), &Seen::from(seen.clone()), true);
        for st in &p.statements {
            let own: ActionSet = st
                .actions
                .as_ref()
                .unwrap()
                .patterns
                .iter()
                .flat_map(|n| c.expand_pattern(&n.value).iter().collect::<Vec<_>>())
                .collect();
            let res = &st.resources.as_ref().unwrap().patterns[0].value;
            for a in own.iter() {
                assert_eq!(seen[&a][0], *res, "{} granted on {res}", c.name(a));
            }
        }
    }

    /// A role passed to one service is granted for that service only; a statement that
    /// already conditions the key keeps its own condition.
    #[test]
    fn a_pass_is_limited_to_the_services_it_was_seen_going_to() {
        let c = Catalog::embedded();
        let pass = c.lookup("iam:PassRole").unwrap();
        let get = c.lookup("iam:GetRole").unwrap();
        let start = parse_policy(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#, "s").unwrap();
        let mut seen = Seen::default();
        seen.passed_to.insert(pass, ("iam:PassedToService".into(), vec!["ec2.amazonaws.com".into()]));
        let minimal: ActionSet = [pass, get].into_iter().collect();
        let v = to_value(&minimal_policy(c, &[&start], &minimal, &seen, false));
        let sts = v["Statement"].as_array().unwrap();
        let pass_st = sts.iter().find(|s| s["Action"] == json!(["iam:PassRole"])).unwrap();
        assert_eq!(pass_st["Condition"], json!({"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}));
        let get_st = sts.iter().find(|s| s["Action"] == json!(["iam:GetRole"])).unwrap();
        assert!(get_st.get("Condition").is_none(), "{get_st}");
        let own = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringLike":{"iam:PassedToService":"ec2.*"}}}]}"#,
            "s",
        )
        .unwrap();
        let v = to_value(&minimal_policy(c, &[&own], &[pass].into_iter().collect(), &seen, false));
        assert_eq!(v["Statement"][0]["Condition"], json!({"StringLike": {"iam:PassedToService": "ec2.*"}}));
    }

    #[test]
    fn a_pattern_covers_only_what_it_surely_matches() {
        for (outer, inner, covers) in [
            ("*", "iam:Get*", true),
            ("iam:*", "iam:Get*", true),
            ("IAM:get*", "iam:GetRole*", true),
            ("iam:GetRole*", "iam:GetRole*", true),
            ("iam:Get*", "iam:G*", false),
            ("iam:GetRole", "iam:Get*", false),
            ("iam:*Role", "iam:Get*", false),
            ("iam:Get?*", "iam:GetRole*", false),
            ("s3:*", "iam:Get*", false),
            ("*:Get*", "iam:Get*", false),
        ] {
            assert_eq!(action_pattern_covers(outer, inner), covers, "{outer} covers {inner}");
        }
    }

    /// A start policy listing actions one by one granted none that AWS adds later: its
    /// compressed minimal policy must not either, while one written with `iam:*` may.
    #[test]
    fn compression_stays_inside_the_start_policys_own_wildcards() {
        let c = Catalog::embedded();
        let gets: ActionSet = c.expand_pattern("iam:Get*");
        let names: Vec<String> = gets.iter().map(|a| c.name(a)).collect();
        let listed = Policy::allow(vec![(names, vec!["*".into()])]);
        let action_lists = |p: &Policy| -> Vec<String> {
            p.statements
                .iter()
                .flat_map(|s| s.actions.as_ref().unwrap().patterns.iter())
                .map(|n| n.value.clone())
                .collect()
        };
        let p = minimal_policy(c, &[&listed], &gets, &Seen::default(), true);
        let written = action_lists(&p);
        assert!(written.iter().all(|n| !n.contains('*')), "{written:?}");
        assert_eq!(c.expand_policy(&p).allowed, gets);
        let broad = parse_policy(r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#, "s").unwrap();
        let p = minimal_policy(c, &[&broad], &gets, &Seen::default(), true);
        let written = action_lists(&p);
        assert!(written.len() < 5 && written.iter().any(|n| n.ends_with('*')), "{written:?}");
        assert_eq!(c.expand_policy(&p).allowed, gets);
    }

    #[test]
    fn compression_only_where_proven() {
        let c = Catalog::embedded();
        let all_get: ActionSet = c.expand_pattern("iam:Get*");
        let mut set = all_get.clone();
        set.insert(c.lookup("iam:PassRole").unwrap());
        let ids: Vec<ActionId> = set.iter().collect();
        let names = compress_actions(c, &ids, &set, &["iam:*".to_string()]);
        assert!(names.contains(&"iam:PassRole".to_string()));
        assert!(names.len() < 6, "{names:?}");
        for n in &names {
            assert!(c.expand_pattern(n).is_subset(&set), "{n} grants more than the set");
        }
        let p = Policy::allow(vec![(names, vec!["*".into()])]);
        assert_eq!(c.expand_policy(&p).allowed, set);
    }
}
