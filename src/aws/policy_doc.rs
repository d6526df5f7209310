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
use crate::policy::write::{iam_size, to_value};
use crate::policy::Policy;
use crate::synth::compress_actions;
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

/// A propagation marker added to each candidate version (see `apply.rs`): allowed in odd
/// versions only, so the probe sees a new version come into force.
#[derive(Debug, Clone)]
pub enum Marker {
    /// Allow `action` (outside the universe) in odd versions; nothing grants it otherwise.
    Action(String),
    /// `iam:GetRole` on the sandbox's probe role: allowed in odd versions, denied in even
    /// ones. For universes that hold every marker action (AdministratorAccess). The role must
    /// exist: moto checks `iam:GetRole` on a role it does not know against `*`, and AWS
    /// against an ARN without the path. A version whose candidate removes `iam:GetRole` and
    /// that only a Deny form fits denies it in odd versions too ([`Version::marker_denied`]).
    Role {
        /// `arn:aws:iam::ACCOUNT:role/iam-prune/iam-prune-sbx-RUN-probe`.
        arn: String,
    },
}

/// The action of [`Marker::Role`].
const ROLE_MARKER_ACTION: &str = "iam:GetRole";

impl Marker {
    fn statements(&self, seq: u64) -> Vec<Value> {
        match self {
            Marker::Action(a) if seq % 2 == 1 => {
                vec![json!({"Sid": "IamPruneProbe", "Effect": "Allow", "Action": a, "Resource": "*"})]
            }
            Marker::Action(_) => Vec::new(),
            Marker::Role { arn } => {
                // The start may grant iam:GetRole on `*`: even versions deny the probe role.
                let effect = if seq % 2 == 1 { "Allow" } else { "Deny" };
                vec![json!({"Sid": "IamPruneProbe", "Effect": effect, "Action": ROLE_MARKER_ACTION, "Resource": arn})]
            }
        }
    }

    /// The probe in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Marker::Action(a) => format!("`{a}`, allowed in odd versions only"),
            Marker::Role { arn } => format!("`iam:GetRole` on `{arn}`, allowed in odd versions only"),
        }
    }

    /// The action the session-policy probe asks for: the marker action, or for the probe
    /// role the first marker action (which the universe or a fixed policy then grants).
    pub fn probe_action(&self) -> String {
        match self {
            Marker::Action(a) => a.clone(),
            Marker::Role { .. } => {
                crate::aws::apply::MARKER_ACTIONS.first().copied().unwrap_or("sts:GetAccessKeyInfo").to_string()
            }
        }
    }

    /// The marker's action, which a `Deny` of removed actions must spare.
    fn action(&self) -> &str {
        match self {
            Marker::Action(a) => a,
            Marker::Role { .. } => ROLE_MARKER_ACTION,
        }
    }
}

/// A version document and what its probe can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The policy document.
    pub document: String,
    /// The version denies its marker whatever its number: the probe role's `iam:GetRole`,
    /// which the candidate removes, where only a Deny form fits. An odd version then looks
    /// like the even one before it to the probe (see [`Marker::Role`]).
    pub marker_denied: bool,
}

/// Version `seq` of the candidate policy: the shortest of "start plus `Deny` removed",
/// "start plus `Deny` all but the candidate" and "`Allow` exactly the candidate", with the
/// marker's statements; a form that spares the marker wins over a shorter one that does not.
/// `None` when no form fits a managed policy.
pub fn version_document(
    catalog: &Catalog,
    start: &Policy,
    candidate: &ActionSet,
    removed: &ActionSet,
    fixed: &ActionSet,
    marker: &Marker,
    seq: u64,
) -> Option<Version> {
    let mut protected = candidate.union(fixed);
    // The Deny forms must spare the marker, except the probe role's `iam:GetRole` when the
    // candidate itself removes it: a trial without it must not hold it.
    let marker_id = catalog.intern(marker.action());
    let marker_removed = removed.contains(marker_id);
    if !marker_removed {
        protected.insert(marker_id);
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
    if iam_chars(&not_form) < iam_chars(&deny_form) {
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
    // When the candidate removes the probe role's `iam:GetRole`, both Deny forms deny it on
    // every resource, the probe role included: IAM cannot spare only that ARN in a way moto
    // honours (moto treats a Deny with `NotResource` as an Allow). "Allow exactly the
    // candidate" spares it, so it wins then.
    let deny = Version { marker_denied: marker_removed, document: deny_form };
    let allow = allow_form.map(|document| Version { document, marker_denied: false });
    let fits = |v: &Version| iam_chars(&v.document) <= MANAGED_POLICY_LIMIT;
    [allow, Some(deny)].into_iter().flatten().filter(fits).min_by_key(|v| (v.marker_denied, iam_chars(&v.document)))
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
        let v2 = version_document(c, &start, &cand, &removed, &ActionSet::new(), &marker, 2).unwrap().document;
        let v3 = version_document(c, &start, &cand, &removed, &ActionSet::new(), &marker, 3).unwrap().document;
        assert!(!v2.contains("GetAccessKeyInfo") && v3.contains("GetAccessKeyInfo"));
        let granted = allowed_by(c, &v2);
        assert_eq!(granted.intersection(&universe), cand);
        assert!(!granted.contains(c.lookup("sts:GetAccessKeyInfo").unwrap()));
    }

    /// AdministratorAccess leaves no marker action, so the probe is `iam:GetRole` on the
    /// sandbox's probe role, allowed in odd versions and denied in even ones, whatever the
    /// form. A candidate without `iam:GetRole` gets the form that spares the probe role where
    /// one fits; where only a Deny form fits, the version says it denies its marker.
    #[test]
    fn the_probe_role_marker_alternates_in_every_form() {
        use crate::eval::{Context, DecisionKind, Evaluator, NamedPolicy, PolicySet, Request};
        let c = Catalog::embedded();
        let (_, admin) = c.load_policy("AdministratorAccess").unwrap();
        let universe = c.expand_policy(&admin).allowed;
        let probe = "arn:aws:iam::1:role/iam-prune/iam-prune-sbx-r-probe";
        let marker = crate::aws::apply::choose_marker(c, &universe, probe);
        assert!(matches!(marker, Marker::Role { .. }), "{marker:?}");
        let decide = |doc: &str, action: &str, resource: &str| -> DecisionKind {
            let set = PolicySet {
                identity: vec![NamedPolicy::new("v", crate::policy::parse_policy(doc, "v").unwrap())],
                ..Default::default()
            };
            let ctx = Context::new();
            Evaluator::compile(&set).unwrap().decide(&Request {
                principal: "arn:aws:iam::1:role/x",
                action,
                resource,
                context: &ctx,
            })
        };
        let other_role = "arn:aws:iam::1:role/app";
        let version = |cand: &ActionSet, seq| {
            version_document(c, &admin, cand, &universe.difference(cand), &ActionSet::new(), &marker, seq).unwrap()
        };
        // Nearly everything but iam:GetRole: only a Deny form fits, and it denies iam:GetRole
        // everywhere, the probe role included, and says so.
        let mut no_get_role = universe.clone();
        no_get_role.remove(c.lookup("iam:GetRole").unwrap());
        let v = version(&no_get_role, 5);
        assert!(v.marker_denied, "{}", v.document);
        assert_ne!(decide(&v.document, "iam:GetRole", other_role), DecisionKind::Allow, "removed");
        assert_ne!(decide(&v.document, "iam:GetRole", probe), DecisionKind::Allow);
        assert_eq!(decide(&v.document, "s3:GetObject", "arn:aws:s3:::b/k"), DecisionKind::Allow, "kept");
        // Where "Allow exactly the candidate" fits, it carries the marker.
        let small = set(c, &["s3:GetObject", "sqs:SendMessage", "iam:PassRole"]);
        for seq in [6, 7] {
            let v = version(&small, seq);
            assert!(!v.marker_denied, "{}", v.document);
            assert_eq!(
                decide(&v.document, "iam:GetRole", probe) == DecisionKind::Allow,
                seq % 2 == 1,
                "{}",
                v.document
            );
            assert_ne!(decide(&v.document, "iam:GetRole", other_role), DecisionKind::Allow);
        }
        // A candidate that keeps iam:GetRole (granted on `*` by the start): even versions deny
        // the probe role, odd ones allow it.
        let mut keeps = universe.clone();
        keeps.remove(c.lookup("s3:GetObject").unwrap());
        for seq in [8, 9] {
            let v = version(&keeps, seq);
            assert!(!v.marker_denied);
            assert_eq!(
                decide(&v.document, "iam:GetRole", probe) == DecisionKind::Allow,
                seq % 2 == 1,
                "{}",
                v.document
            );
            assert_eq!(decide(&v.document, "iam:GetRole", other_role), DecisionKind::Allow, "{}", v.document);
            assert_ne!(decide(&v.document, "s3:GetObject", "arn:aws:s3:::b/k"), DecisionKind::Allow, "{}", v.document);
        }
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
                .unwrap_or_else(|| panic!("a candidate of {} actions does not fit", cand.len()))
                .document;
            assert_eq!(allowed_by(c, &doc).intersection(&universe), cand, "{doc}");
        }
    }
}
