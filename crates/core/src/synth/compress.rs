//! Wildcard compression of action lists: `iam:Get*` for every `iam:Get...` action, but only
//! where the catalog proves the wildcard grants nothing outside the list today and a start
//! policy pattern covers it for actions AWS adds later.
//!
//! Compression is what lets a large minimal policy fit IAM's size limits without granting
//! more than the verified set.

use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

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
