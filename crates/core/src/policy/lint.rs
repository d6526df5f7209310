//! Lints: what IAM rejects or accepts that is probably not what the author meant.
//!
//! Severity follows IAM: what IAM would refuse to store (an invalid `Version`, a statement
//! an identity policy cannot have) is an error; the rest are warnings.

use super::{Effect, Policy, Pos, Statement};
use crate::catalog::Catalog;

/// How serious a lint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// IAM would reject the document.
    Error,
    /// IAM accepts it, but it is probably a mistake.
    Warning,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lint {
    /// Stable machine-readable code, e.g. `unknown-action`.
    pub code: &'static str,
    /// Error or warning.
    #[serde(skip)]
    pub severity: Severity,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong and what to do.
    pub message: String,
}

const VALID_VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// Runs every lint over a parsed policy.
pub fn lint(policy: &Policy, catalog: &Catalog) -> Vec<Lint> {
    let mut out = Vec::new();
    let mut push = |code, severity, pos: Pos, message: String| {
        out.push(Lint { code, severity, line: pos.line, column: pos.column, message })
    };
    let uses_variables = policy.statements.iter().any(|s| {
        s.resources.iter().flat_map(|r| &r.patterns).any(|p| has_policy_variable(&p.value))
            || s.conditions.iter().flat_map(|c| &c.values).any(|v| has_policy_variable(&v.value))
    });
    match &policy.version {
        None => push(
            "missing-version",
            Severity::Warning,
            Pos { line: 1, column: 1 },
            "no `Version`: IAM assumes \"2008-10-17\", where policy variables such as ${aws:username} are literal text; add \"Version\": \"2012-10-17\"".into(),
        ),
        Some(v) if !VALID_VERSIONS.contains(&v.value.as_str()) => push(
            "invalid-version",
            Severity::Error,
            v.pos,
            format!("`Version` \"{}\" is not a policy language version; IAM accepts only \"2012-10-17\" (current) and \"2008-10-17\"", v.value),
        ),
        Some(v) if v.value == "2008-10-17" && uses_variables => push(
            "old-version-variables",
            Severity::Warning,
            v.pos,
            "policy variables need \"Version\": \"2012-10-17\"; with \"2008-10-17\" they are matched as literal text".into(),
        ),
        Some(_) => {}
    }
    let has_deny = policy.statements.iter().any(|s| s.effect == Effect::Deny);
    // A statement with `Principal` makes the document a resource-based policy (or a trust
    // policy), where every statement needs one.
    let resource_based = policy.statements.iter().any(|s| s.principals.is_some());
    for st in &policy.statements {
        if resource_based && st.principals.is_none() {
            push(
                "missing-principal",
                Severity::Error,
                st.pos,
                "other statements name a `Principal`, so this is a resource-based policy, but this statement has neither `Principal` nor `NotPrincipal`; IAM requires one there (\"The principal_block element is required in resource-based policies\") and the statement grants nothing: name the principals it is for".into(),
            );
        }
        if st.effect == Effect::Allow && st.principals.as_ref().is_some_and(|p| p.negated) {
            push(
                "notprincipal-allow",
                Severity::Warning,
                st.pos,
                "`NotPrincipal` with `\"Effect\": \"Allow\"` is not supported (\"NotPrincipal must be used with \"Effect\":\"Deny\"\"); iam-prune evaluates the statement as granting nothing: name the principals in `Principal`, or use a `Condition` on `aws:PrincipalArn`".into(),
            );
        }
        lint_actions(st, catalog, &mut push);
        lint_resources(st, &mut push);
        if st.effect == Effect::Allow && !has_deny && is_allow_everything(st) {
            push(
                "allow-all",
                Severity::Warning,
                st.pos,
                "this statement allows every action on every resource and nothing in the document denies anything: this is administrator access; prune it with `iam-prune prune`".into(),
            );
        }
        if st.resources.is_none() && st.principals.is_none() {
            push(
                "missing-resource",
                Severity::Error,
                st.pos,
                "the statement has neither `Resource` nor `NotResource`; IAM requires one in identity-based policies (only trust policies omit it)".into(),
            );
        }
    }
    out
}

fn is_allow_everything(st: &Statement) -> bool {
    let all_actions = st.actions.as_ref().is_some_and(|a| !a.negated && a.patterns.iter().any(|p| p.value == "*"));
    let all_resources = st.resources.as_ref().is_some_and(|r| !r.negated && r.patterns.iter().any(|p| p.value == "*"));
    all_actions && all_resources && st.conditions.is_empty()
}

fn lint_actions(st: &Statement, catalog: &Catalog, push: &mut impl FnMut(&'static str, Severity, Pos, String)) {
    let Some(actions) = &st.actions else { return };
    for p in &actions.patterns {
        let v = p.value.as_str();
        if v == "*" {
            continue;
        }
        let Some((prefix, _name)) = v.split_once(':') else {
            push(
                "malformed-action",
                Severity::Error,
                p.pos,
                format!("`{v}` is not `service:Action`; write the service prefix, a colon and the action"),
            );
            continue;
        };
        let wild = v.contains(['*', '?']);
        if !prefix.contains(['*', '?']) && catalog.service(prefix).is_none() {
            let hint = did_you_mean(&catalog.suggest(v));
            push(
                "unknown-service",
                Severity::Warning,
                p.pos,
                format!("service prefix `{prefix}` is not in the catalog{hint}"),
            );
            continue;
        }
        if wild {
            if catalog.expand_pattern(v).is_empty() {
                push(
                    "wildcard-matches-nothing",
                    Severity::Warning,
                    p.pos,
                    format!("`{v}` matches no action in the catalog ({})", catalog.date()),
                );
            }
            continue;
        }
        match catalog.lookup(v) {
            None => {
                let hint = did_you_mean(&catalog.suggest(v));
                push(
                    "unknown-action",
                    Severity::Warning,
                    p.pos,
                    format!("`{v}` is not an action of the catalog ({}){hint}", catalog.date()),
                );
            }
            Some(id) => {
                let canonical = catalog.name(id);
                if canonical != v {
                    push(
                        "action-case",
                        Severity::Warning,
                        p.pos,
                        format!("`{v}` is written in non-canonical case; IAM matches actions case-insensitively, but write `{canonical}` for readability and tooling"),
                    );
                }
            }
        }
    }
}

fn lint_resources(st: &Statement, push: &mut impl FnMut(&'static str, Severity, Pos, String)) {
    let Some(resources) = &st.resources else { return };
    for p in &resources.patterns {
        for placeholder in unresolved_placeholders(&p.value) {
            push(
                "unresolved-placeholder",
                Severity::Warning,
                p.pos,
                format!("`{placeholder}` in `{}` looks like a template placeholder, not a policy variable; IAM will match it literally: substitute the real value", p.value),
            );
        }
    }
}

/// `${name}` sequences that are not IAM policy variables (`${aws:...}`, `${svc:key}`, `${*}`,
/// `${?}`, `${$}`), and `<name>` placeholders as documentation writes them.
pub fn unresolved_placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let after = rest.get(i + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        let inner = after.get(..end).unwrap_or_default();
        let name = inner.split(',').next().unwrap_or_default().trim();
        if !(name.contains(':') || matches!(name, "*" | "?" | "$")) {
            out.push(format!("${{{inner}}}"));
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        let after = rest.get(i + 1..).unwrap_or_default();
        let Some(end) = after.find('>') else { break };
        let inner = after.get(..end).unwrap_or_default();
        if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            out.push(format!("<{inner}>"));
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out
}

fn has_policy_variable(s: &str) -> bool {
    s.contains("${")
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    fn codes(text: &str) -> Vec<&'static str> {
        lint(&parse_policy(text, "t").unwrap(), Catalog::embedded()).into_iter().map(|l| l.code).collect()
    }

    #[test]
    fn flags_seed_problems() {
        assert_eq!(
            codes(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:passrole","ec2:*"],"Resource":"*"}]}"#
            ),
            vec!["action-case"]
        );
        assert_eq!(
            codes(
                r#"{"Version":"2022-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::<account_id>:role/<role_name>"},"Action":"sts:AssumeRole"}]}"#
            ),
            vec!["invalid-version"]
        );
        assert_eq!(
            codes(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:PutRecord","Resource":["${collector_stream_out_good}","arn:aws:s3:::${aws:username}/*"]}]}"#
            ),
            vec!["unresolved-placeholder"]
        );
        assert_eq!(
            codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#),
            vec!["allow-all"]
        );
        assert!(codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PasRole","Resource":"*"}]}"#
        )
        .contains(&"unknown-action"));
        assert!(codes(r#"{"Statement":[{"Effect":"Allow","Action":"iam:Nope*","Resource":"*"}]}"#)
            .contains(&"wildcard-matches-nothing"));
    }

    #[test]
    fn resource_policy_statements_need_a_principal() {
        assert_eq!(
            codes(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#
            ),
            vec!["missing-principal"]
        );
        assert!(codes(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#).is_empty());
    }

    #[test]
    fn notprincipal_with_allow_is_flagged() {
        assert_eq!(
            codes(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
            ),
            vec!["notprincipal-allow"]
        );
        assert!(codes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
        )
        .is_empty());
    }

    #[test]
    fn unknown_action_suggests() {
        let l = lint(
            &parse_policy(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PasRole","Resource":"*"}]}"#,
                "t",
            )
            .unwrap(),
            Catalog::embedded(),
        );
        assert!(l[0].message.contains("did you mean `iam:PassRole`"), "{}", l[0].message);
        assert_eq!((l[0].line, l[0].column), (1, 65));
    }
}
