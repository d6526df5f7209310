//! The documents that put a candidate in force: a session policy for `AssumeRole`, or a
//! version of the sandbox's candidate managed policy. Pure functions, tested offline.
//!
//! Both are made small with wildcards the catalog proves safe. A session policy is
//! intersected with the role's own policies (the start and fixed clones), so a wildcard in
//! it only has to stay clear of the removed actions; it may be written either as the kept
//! actions or as `NotAction` of the removed ones, whichever is shorter. A policy version is
//! the role's identity policy itself, so it is either the start document plus an explicit
//! `Deny` of the removed actions (keeps the start's resources and conditions) or an `Allow`
//! of exactly the kept actions.

use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::policy::write::{compress_actions, iam_size, to_value};
use crate::policy::Policy;
use serde_json::{json, Value};

/// AssumeRole's limit on the plaintext session policy.
pub const SESSION_POLICY_LIMIT: usize = 2_048;
/// The limit on a customer managed policy document.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;

/// Size as IAM counts it (whitespace outside strings excluded).
pub fn iam_chars(doc: &str) -> usize {
    iam_size(doc)
}

/// Names for `ids`, with `svc:*` where a whole service is inside `allowed` and otherwise the
/// catalog-proven prefix wildcards of [`compress_actions`].
pub fn compact(catalog: &Catalog, ids: &ActionSet, allowed: &ActionSet) -> Vec<String> {
    let mut out = Vec::new();
    let mut by_service: std::collections::BTreeMap<String, Vec<crate::ActionId>> = std::collections::BTreeMap::new();
    for id in ids.iter() {
        by_service.entry(catalog.prefix_of(id)).or_default().push(id);
    }
    for (svc, list) in by_service {
        let whole = catalog
            .service(&svc)
            .is_some_and(|s| s.actions.clone().map(crate::ActionId::from_index).all(|id| allowed.contains(id)));
        if whole && list.len() > 1 {
            out.push(format!("{svc}:*"));
        } else {
            // A trial's document lives for one trial: actions AWS adds later do not matter here.
            out.extend(compress_actions(catalog, &list, allowed, &["*".to_string()]));
        }
    }
    out
}

fn statement(effect: &str, key: &str, actions: Vec<String>) -> Value {
    json!({"Effect": effect, key: actions, "Resource": "*"})
}

fn document(statements: Vec<Value>) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The session policy for a trial: allows `keep` (candidate plus fixed actions) and none of
/// `removed`, as the shorter of an `Action` and a `NotAction` form.
pub fn session_policy(catalog: &Catalog, keep: &ActionSet, removed: &ActionSet) -> String {
    if removed.is_empty() {
        return document(vec![json!({"Effect": "Allow", "Action": "*", "Resource": "*"})]);
    }
    let everything = catalog.all_actions().union(keep).union(removed);
    let not_form =
        document(vec![statement("Allow", "NotAction", compact(catalog, removed, &everything.difference(keep)))]);
    if keep.is_empty() {
        return not_form;
    }
    let action_form =
        document(vec![statement("Allow", "Action", compact(catalog, keep, &everything.difference(removed)))]);
    if iam_chars(&action_form) <= iam_chars(&not_form) {
        action_form
    } else {
        not_form
    }
}

/// A propagation marker added to each candidate version (see `apply.rs`).
#[derive(Debug, Clone)]
pub enum Marker {
    /// Allow `action` (outside the universe) in odd versions only.
    Action(String),
    /// Allow `iam:GetRole` on a per-version nonexistent role ARN and deny the previous one.
    RoleArn {
        /// `arn:aws:iam::ACCOUNT:role/iam-prune/iam-prune-sbx-RUN-probe-` (sequence appended).
        prefix: String,
    },
}

impl Marker {
    fn statements(&self, seq: u64) -> Vec<Value> {
        match self {
            Marker::Action(a) if seq % 2 == 1 => {
                vec![json!({"Sid": "IamPruneProbe", "Effect": "Allow", "Action": a, "Resource": "*"})]
            }
            Marker::Action(_) => Vec::new(),
            Marker::RoleArn { prefix } => {
                let mut v = vec![
                    json!({"Sid": "IamPruneProbe", "Effect": "Allow", "Action": "iam:GetRole", "Resource": format!("{prefix}{seq}")}),
                ];
                if seq > 1 {
                    v.push(json!({"Sid": "IamPruneProbeOld", "Effect": "Deny", "Action": "iam:GetRole", "Resource": format!("{prefix}{}", seq - 1)}));
                }
                v
            }
        }
    }

    /// The probe in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Marker::Action(a) => format!("`{a}`, allowed in odd versions only"),
            Marker::RoleArn { prefix } => format!("`iam:GetRole` on `{prefix}N`, one N per version"),
        }
    }

    /// The action the session-policy probe asks for: the marker action, or for role ARN
    /// markers the first marker action (which the universe or a fixed policy then grants).
    pub fn probe_action(&self) -> String {
        match self {
            Marker::Action(a) => a.clone(),
            Marker::RoleArn { .. } => {
                crate::aws::apply::MARKER_ACTIONS.first().copied().unwrap_or("sts:GetAccessKeyInfo").to_string()
            }
        }
    }

    /// The action a marker may not be covered by a `Deny` wildcard of removed actions.
    fn action(&self) -> Option<&str> {
        match self {
            Marker::Action(a) => Some(a),
            Marker::RoleArn { .. } => None,
        }
    }
}

/// Version `seq` of the candidate policy: the shorter of "start plus `Deny` removed" and
/// "`Allow` exactly the candidate", with the marker's statements. `None` when neither fits
/// a managed policy.
pub fn version_document(
    catalog: &Catalog,
    start: &Policy,
    candidate: &ActionSet,
    removed: &ActionSet,
    fixed: &ActionSet,
    marker: &Marker,
    seq: u64,
) -> Option<String> {
    let mut protected = candidate.union(fixed);
    if let Some(a) = marker.action() {
        protected.insert(catalog.intern(a));
    }
    let everything = catalog.all_actions().union(candidate).union(removed);
    let mut deny_form: Vec<Value> = match to_value(start).get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if !removed.is_empty() {
        let mut st = statement("Deny", "Action", compact(catalog, removed, &everything.difference(&protected)));
        if let Value::Object(m) = &mut st {
            m.insert("Sid".into(), json!("IamPruneRemoved"));
        }
        deny_form.push(st);
    }
    // The same effective permissions written from the other side: the start document plus a
    // `Deny` of everything but the candidate (with the fixed actions and the marker, which the
    // `Deny` must spare). Far smaller than a `Deny` of the removed actions when the start is
    // broad (PowerUserAccess) and the candidate small, so any start that fits can be pruned.
    let mut not_form: Vec<Value> = match to_value(start).get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if !removed.is_empty() {
        let mut st = statement("Deny", "NotAction", compact(catalog, &protected, &everything.difference(removed)));
        if let Value::Object(m) = &mut st {
            m.insert("Sid".into(), json!("IamPruneKeepOnly"));
        }
        not_form.push(st);
    }
    not_form.extend(marker.statements(seq));
    let not_form = document(not_form);
    deny_form.extend(marker.statements(seq));
    let mut deny_form = document(deny_form);
    // A marker of role ARNs uses `iam:GetRole`, which a `NotAction` of the candidate would deny
    // when the candidate lacks it: that form is only for action markers.
    if marker.action().is_some() && iam_chars(&not_form) < iam_chars(&deny_form) {
        deny_form = not_form;
    }
    let mut allow_form: Vec<Value> = Vec::new();
    // "Allow exactly the candidate" on `*` is the start narrowed only when the start's grants
    // are unconditional on every resource and it denies nothing; otherwise a trial would run
    // with more than the start granted (and pass where the written policy fails).
    let plain = start.statements.iter().all(|st| {
        st.effect == crate::policy::Effect::Allow
            && st.conditions.is_empty()
            && st.resources.as_ref().is_none_or(|r| !r.negated && r.patterns.iter().any(|p| p.value == "*"))
    });
    if plain && !candidate.is_empty() {
        allow_form.push(statement("Allow", "Action", compact(catalog, candidate, candidate)));
    }
    allow_form.extend(marker.statements(seq));
    let allow_form = (plain && !allow_form.is_empty()).then(|| document(allow_form));
    let best = match allow_form {
        Some(a) if iam_chars(&a) < iam_chars(&deny_form) => a,
        _ => deny_form,
    };
    (iam_chars(&best) <= MANAGED_POLICY_LIMIT).then_some(best)
}

/// The first version of the candidate policy: the start document as written, plus marker.
pub fn first_version(start: &Policy, marker: &Marker) -> String {
    let mut v = to_value(start);
    if let Some(Value::Array(a)) = v.get_mut("Statement") {
        a.extend(marker.statements(1));
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(c: &Catalog, names: &[&str]) -> ActionSet {
        names.iter().map(|n| c.lookup(n).unwrap()).collect()
    }

    fn allowed_by(c: &Catalog, doc: &str) -> ActionSet {
        c.expand_policy(&crate::policy::parse_policy(doc, "t").unwrap()).allowed
    }

    #[test]
    fn session_policy_keeps_exactly_the_candidate_inside_the_universe() {
        let c = Catalog::embedded();
        let (_, iam) = c.load_policy("IAMFullAccess").unwrap();
        let (_, ec2) = c.load_policy("AmazonEC2FullAccess").unwrap();
        let universe = c.expand_policy(&iam).allowed.union(&c.expand_policy(&ec2).allowed);
        // Remove half the IAM actions: the policy must grant none of them and all the rest.
        let iam_ids: Vec<_> = universe.iter().filter(|&id| c.prefix_of(id) == "iam").collect();
        // A bisection removes contiguous groups (the catalog is sorted within a service).
        let removed: ActionSet = iam_ids.iter().take(iam_ids.len() / 2).copied().collect();
        let keep = universe.difference(&removed);
        let doc = session_policy(c, &keep, &removed);
        assert!(iam_chars(&doc) <= SESSION_POLICY_LIMIT, "{} chars", iam_chars(&doc));
        let granted = allowed_by(c, &doc).intersection(&universe);
        assert_eq!(granted, keep);
    }

    #[test]
    fn session_policy_for_a_small_candidate_lists_it() {
        let c = Catalog::embedded();
        let keep = set(c, &["iam:GetInstanceProfile", "iam:PassRole"]);
        let (_, iam) = c.load_policy("IAMFullAccess").unwrap();
        let removed = c.expand_policy(&iam).allowed.difference(&keep);
        let doc = session_policy(c, &keep, &removed);
        assert!(doc.contains("\"Action\""), "{doc}");
        assert!(doc.len() < 200, "{doc}");
    }

    #[test]
    fn version_document_denies_removed_and_toggles_the_marker() {
        let c = Catalog::embedded();
        let (_, start) = c.load_policy("IAMFullAccess").unwrap();
        let universe = c.expand_policy(&start).allowed;
        let removed = set(c, &["iam:GetInstanceProfile"]);
        let cand = universe.difference(&removed);
        let marker = Marker::Action("sts:GetAccessKeyInfo".into());
        let v2 = version_document(c, &start, &cand, &removed, &ActionSet::new(), &marker, 2).unwrap();
        let v3 = version_document(c, &start, &cand, &removed, &ActionSet::new(), &marker, 3).unwrap();
        assert!(!v2.contains("GetAccessKeyInfo") && v3.contains("GetAccessKeyInfo"));
        let granted = allowed_by(c, &v2);
        assert_eq!(granted.intersection(&universe), cand);
        assert!(!granted.contains(c.lookup("sts:GetAccessKeyInfo").unwrap()));
    }

    #[test]
    fn small_candidates_are_allowed_exactly() {
        let c = Catalog::embedded();
        let (_, start) = c.load_policy("IAMFullAccess").unwrap();
        let universe = c.expand_policy(&start).allowed;
        let cand = set(c, &["iam:GetInstanceProfile", "iam:PassRole"]);
        let marker = Marker::RoleArn { prefix: "arn:aws:iam::1:role/iam-prune/iam-prune-sbx-r-probe-".into() };
        let doc =
            version_document(c, &start, &cand, &universe.difference(&cand), &ActionSet::new(), &marker, 4).unwrap();
        assert!(doc.contains("probe-4") && doc.contains("probe-3"), "{doc}");
        assert!(!doc.contains("\"Deny\",\"Action\":[\"iam"), "{doc}");
    }

    #[test]
    fn a_start_as_broad_as_power_user_access_fits_every_kind_of_candidate() {
        // The version is the start plus a `Deny` of the removed actions or of everything but
        // the candidate, whichever is smaller; both keep the start's own effect exactly.
        let c = Catalog::embedded();
        let (_, start) = c.load_policy("PowerUserAccess").unwrap();
        let universe = c.expand_policy(&start).allowed;
        let ids: Vec<_> = universe.iter().collect();
        let marker = crate::aws::apply::choose_marker(c, &universe, "arn:aws:iam::1:role/p-");
        assert!(matches!(marker, Marker::Action(_)), "PowerUserAccess leaves a marker action");
        let half: ActionSet = ids.iter().take(ids.len() / 2).copied().collect();
        let quarter: ActionSet = ids.iter().skip(ids.len() / 4).take(ids.len() / 4).copied().collect();
        let small = set(c, &["s3:GetObject", "sqs:SendMessage"]);
        let all_but_one: ActionSet = ids.iter().skip(1).copied().collect();
        for cand in [half, quarter, small, all_but_one, ActionSet::new()] {
            let removed = universe.difference(&cand);
            let doc = version_document(c, &start, &cand, &removed, &ActionSet::new(), &marker, 2)
                .unwrap_or_else(|| panic!("a candidate of {} actions does not fit", cand.len()));
            assert_eq!(allowed_by(c, &doc).intersection(&universe), cand, "{doc}");
        }
    }
}
