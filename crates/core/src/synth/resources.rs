//! Which resources a minimal statement grants: the ARNs the workload was seen using, as far
//! as the start statement allowed them, else the start statement's own.
//!
//! Kept apart from the grouping in [`super::minimal_policy`] because the matching rules are
//! subtle (seen ARNs can themselves be patterns, written ones can hold policy variables) and
//! must agree with the evaluator's.

use crate::eval::ArnPattern;
use crate::policy::Statement;

/// A statement's `Resource`/`NotResource` as written (`"*"` when it has none), sorted.
pub(super) fn written_resources(st: &Statement) -> (bool, Vec<String>) {
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
pub(super) fn scoped_resources(st: &Statement, seen: &[String]) -> Option<(bool, Vec<String>)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

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
}
