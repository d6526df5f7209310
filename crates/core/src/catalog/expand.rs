//! Wildcard expansion: `Action`/`NotAction` patterns to concrete catalog actions.
//!
//! A pattern whose service part is literal (`iam:Get*`) is matched only against that
//! service's actions; patterns with a wildcard in the prefix (`*:Describe*`) scan them all.
//! A literal action the catalog does not know is interned, so it stays in every set.

use super::{ActionId, Catalog, CatalogError};
use crate::actions::ActionSet;
use crate::pattern::Pattern;
use crate::policy::{parse_policy_file, Effect, Matcher, Policy, Statement};
use std::path::Path;

/// What a policy allows, expanded to concrete actions.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Actions some `Allow` statement grants and no unconditional `Deny` on all resources removes.
    pub allowed: ActionSet,
    /// Per statement, the actions its `Action`/`NotAction` covers.
    pub per_statement: Vec<ActionSet>,
    /// Literal actions the catalog does not know (kept in `allowed`, listed for lints).
    pub unknown: Vec<String>,
    /// Patterns that matched no action at all.
    pub empty_patterns: Vec<String>,
}

impl Catalog {
    /// Every catalog action (the universe for `NotAction` and `*`).
    pub fn all_actions(&self) -> ActionSet {
        (0..self.len()).map(ActionId::from_index).collect()
    }

    /// The actions matching one pattern; unknown literal actions are interned.
    pub fn expand_pattern(&self, pattern: &str) -> ActionSet {
        let lower = pattern.to_ascii_lowercase();
        if lower == "*" {
            return self.all_actions();
        }
        let (prefix, _) = lower.split_once(':').unwrap_or((&lower, ""));
        let compiled = Pattern::new(&lower);
        let has_wild_prefix = prefix.contains(['*', '?']);
        if compiled.is_literal() {
            return match self.lookup(&lower) {
                Some(id) => ActionSet::from_ids([id]),
                None if lower.contains(':') => ActionSet::from_ids([self.intern(pattern)]),
                None => ActionSet::new(),
            };
        }
        let range = if has_wild_prefix {
            0..self.len()
        } else {
            match self.service(prefix) {
                Some(s) => s.actions.clone(),
                None => return ActionSet::new(),
            }
        };
        range.map(ActionId::from_index).filter(|&id| compiled.is_match(&self.lower_name(id))).collect()
    }

    /// The actions an `Action` or `NotAction` list covers.
    pub fn expand_matcher(&self, m: &Matcher) -> ActionSet {
        let mut set = ActionSet::new();
        for p in &m.patterns {
            set.union_with(&self.expand_pattern(&p.value));
        }
        if m.negated {
            self.all_actions().difference(&set)
        } else {
            set
        }
    }

    /// The actions one statement covers.
    pub fn expand_statement(&self, st: &Statement) -> ActionSet {
        st.actions.as_ref().map(|m| self.expand_matcher(m)).unwrap_or_default()
    }

    /// Expands a whole document. An explicit `Deny` subtracts only when it applies to every
    /// resource without conditions; a narrower `Deny` leaves the action allowed elsewhere.
    pub fn expand_policy(&self, policy: &Policy) -> Expansion {
        let mut ex = Expansion::default();
        let mut denied = ActionSet::new();
        for st in &policy.statements {
            let set = self.expand_statement(st);
            if let Some(m) = &st.actions {
                for p in &m.patterns {
                    let e = self.expand_pattern(&p.value);
                    if e.is_empty() {
                        ex.empty_patterns.push(p.value.clone());
                    } else if !p.value.contains(['*', '?']) && e.iter().all(|id| !self.is_known(id)) {
                        ex.unknown.push(p.value.clone());
                    }
                }
            }
            match st.effect {
                Effect::Allow => ex.allowed.union_with(&set),
                Effect::Deny => {
                    let all_resources =
                        st.resources.as_ref().is_some_and(|r| !r.negated && r.patterns.iter().any(|p| p.value == "*"));
                    if all_resources && st.conditions.is_empty() && st.principals.is_none() {
                        denied.union_with(&set);
                    }
                }
            }
            ex.per_statement.push(set);
        }
        ex.allowed.difference_with(&denied);
        ex
    }

    /// Loads a policy named by the user: an AWS managed policy name or ARN, or a file path.
    pub fn load_policy(&self, name: &str) -> Result<(String, Policy), PolicySourceError> {
        let path = Path::new(name);
        if path.exists() {
            return Ok((name.to_string(), parse_policy_file(path)?));
        }
        match self.managed(name) {
            Some(m) => Ok((m.name.to_string(), m.policy()?)),
            None => Err(PolicySourceError::Catalog(CatalogError::UnknownPolicy {
                name: name.to_string(),
                suggestions: self.suggest_managed(name).into_iter().map(String::from).collect(),
            })),
        }
    }
}

/// A policy named on the command line could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicySourceError {
    /// Not a managed policy and not a file.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The file is not a valid policy.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
}

impl PolicySourceError {
    /// What the user can do about it (the inner error's hint).
    pub fn help(&self) -> Option<String> {
        match self {
            PolicySourceError::Catalog(e) => e.help(),
            PolicySourceError::Policy(e) => e.help().map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(name: &str) -> usize {
        let c = Catalog::embedded();
        let (_, p) = c.load_policy(name).unwrap();
        c.expand_policy(&p).allowed.len()
    }

    #[test]
    fn iam_full_access_expands_to_200() {
        let c = Catalog::embedded();
        let (_, p) = c.load_policy("IAMFullAccess").unwrap();
        let set = c.expand_policy(&p).allowed;
        assert_eq!(set.len(), 200);
        let iam = set.iter().filter(|&id| c.prefix_of(id) == "iam").count();
        assert_eq!(iam, 190);
        assert_eq!(set.len() - iam, 10);
    }

    #[test]
    fn full_access_policies_expand() {
        // Counts pinned to the 2026-09 catalog; a regenerated catalog updates them.
        assert!(count("AmazonEC2FullAccess") > 700, "{}", count("AmazonEC2FullAccess"));
        assert!(count("AmazonS3FullAccess") > 150, "{}", count("AmazonS3FullAccess"));
    }

    #[test]
    fn patterns_are_case_insensitive_and_scoped() {
        let c = Catalog::embedded();
        let a = c.expand_pattern("IAM:get*");
        assert!(a.iter().all(|id| c.name(id).starts_with("iam:Get")));
        assert!(a.contains(c.lookup("iam:GetInstanceProfile").unwrap()));
        let b = c.expand_pattern("*:DescribeVpcs");
        assert_eq!(b.names(c), vec!["ec2:DescribeVpcs".to_string()]);
        assert!(c.expand_pattern("nosuchservice:*").is_empty());
    }

    #[test]
    fn not_action_is_the_complement() {
        let c = Catalog::embedded();
        let p = crate::policy::parse_policy(
            r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
            "t",
        )
        .unwrap();
        let e = c.expand_policy(&p);
        assert_eq!(e.allowed.len(), c.len() - c.service("iam").unwrap().actions.len());
    }

    #[test]
    fn unconditional_deny_subtracts() {
        let c = Catalog::embedded();
        let p = crate::policy::parse_policy(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},
                {"Effect":"Deny","Action":"iam:Delete*","Resource":"*"},
                {"Effect":"Deny","Action":"iam:Get*","Resource":"arn:aws:iam::1:role/x"}]}"#,
            "t",
        )
        .unwrap();
        let e = c.expand_policy(&p);
        assert!(!e.allowed.contains(c.lookup("iam:DeleteRole").unwrap()));
        assert!(e.allowed.contains(c.lookup("iam:GetRole").unwrap()));
    }
}
