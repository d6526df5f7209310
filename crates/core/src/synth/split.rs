//! Splitting a policy document into parts that each fit an IAM size limit, so that a minimal
//! policy too large for one managed policy can still be attached as several.
//!
//! It works on the written document (the JSON value) and needs no catalog: the parts hold the
//! whole's statements, regrouped, with a statement too large on its own cut along its actions.

use crate::policy::write::iam_size;
use serde_json::{json, Value};

/// Splits a policy document (as [`to_value`](crate::policy::write::to_value) writes it) into
/// documents of at most `limit` characters each, as IAM counts them: for a minimal policy over
/// the managed-policy limit, which the user then creates as several managed policies (a role
/// holds up to 10, 20 with a quota raise). Statements are packed first-fit by decreasing size;
/// a statement too large on its own is cut into statements over halves of its `Action` list
/// (Sids get `PartN`, which no generated Sid ends in, so they stay unique). Each part keeps the
/// statements' original order. One part when it already fits; none when the document has no
/// statements.
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
    use super::*;

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
}
