//! The canonical writer and IAM's size limits.
//!
//! Output is deterministic (fixed key order, sorted actions and resources, two-space
//! indent) so that a pruned policy diffs cleanly between runs. Sizes are counted the way
//! IAM does: characters, not counting whitespace. Building a minimal policy, compressing its
//! actions and splitting it into parts need the catalog and live in [`crate::synth`]; this
//! module knows only the policy model.

use super::{Condition, Effect, Matcher, Policy, Principals, Statement};
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

/// A statement's `Condition` block in canonical form (operators and keys sorted, values
/// merged per key). Crate-visible because minimal-policy synthesis groups statements by this
/// exact text, so two statements share a block only when they would write the same one.
pub(crate) fn conditions(cs: &[Condition]) -> Value {
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

#[cfg(test)]
mod tests {
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
}
