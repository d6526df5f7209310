//! The minimal policy from a pruning result: what the workload needed, granted only as the
//! start policies granted it.
//!
//! The policy model and its canonical writer ([`crate::policy`]) know nothing of the catalog;
//! synthesis needs it to expand the start statements, to name actions and to prove wildcards
//! safe, so it sits above both. [`minimal_policy`] is the entry point; resources are scoped to
//! what was seen in `resources`, action lists are shortened by [`compress_actions`], and a
//! document over IAM's managed-policy limit is cut into parts by [`split_to_fit`].

mod compress;
mod resources;
mod split;

pub use compress::{action_pattern_covers, compress_actions};
pub use split::split_to_fit;

use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::policy::write::conditions;
use crate::policy::{Condition, Effect, Matcher, Policy, Spanned, Statement};
use resources::{scoped_resources, written_resources};
use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;
    use crate::policy::write::to_value;
    use serde_json::{json, Value};

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
}
