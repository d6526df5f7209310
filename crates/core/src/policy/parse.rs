//! JSON text -> positioned tree -> typed [`Policy`], with errors at line:column.
//!
//! What IAM rejects is rejected here with the position and a hint; what IAM accepts but is
//! probably a mistake (a lowercase action, an unknown `Version`) is left to the lints.
//! Element names and the `Effect` value are case-sensitive in IAM ("The Effect value is case
//! sensitive", IAM User Guide, JSON policy elements: Effect), so `"allow"` is an error here.

use super::json::{self, Json, JsonKind, Pos};
use super::{Condition, Effect, Matcher, Policy, PolicyError, PrincipalKind, Principals, Spanned, Statement};
use std::cell::RefCell;
use std::path::Path;

/// Reads and parses a policy file.
pub fn parse_policy_file(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io { path: path.to_path_buf(), source })?;
    parse_policy(&text, &path.display().to_string())
}

/// Parses policy text; `origin` names the source in errors (a file path, `IAMFullAccess`, ...).
pub fn parse_policy(text: &str, origin: &str) -> Result<Policy, PolicyError> {
    let tree = json::parse(text).map_err(|e| json_error(e, origin))?;
    parse_policy_value(&tree, origin)
}

fn json_error(e: json::JsonError, origin: &str) -> PolicyError {
    PolicyError::Invalid {
        origin: origin.to_string(),
        pos: e.pos,
        message: format!("invalid JSON: {}", e.message),
        help: "fix the JSON syntax at this position; policies are plain JSON without comments".to_string(),
    }
}

/// Parses an already-parsed JSON tree (used for policies embedded in other files).
pub fn parse_policy_value(tree: &Json, origin: &str) -> Result<Policy, PolicyError> {
    Ctx { origin, recovered: None }.policy(tree)
}

/// Parses policy text and goes on past every error it can, for `lint`: a broken element or
/// statement is reported and left out, so one mistake does not hide the file's others.
/// Returns the statements that parsed (`None` when the text is not JSON or not an object)
/// and every error, in document order.
pub fn parse_policy_recovering(text: &str, origin: &str) -> (Option<Policy>, Vec<PolicyError>) {
    let tree = match json::parse(text) {
        Ok(tree) => tree,
        Err(e) => return (None, vec![json_error(e, origin)]),
    };
    let ctx = Ctx { origin, recovered: Some(RefCell::new(Vec::new())) };
    let policy = ctx.policy(&tree);
    let mut errors = ctx.recovered.map(RefCell::into_inner).unwrap_or_default();
    match policy {
        Ok(p) => (Some(p), errors),
        Err(e) => {
            errors.push(e);
            (None, errors)
        }
    }
}

struct Ctx<'a> {
    origin: &'a str,
    /// `Some` when recovering: errors the parse went on past.
    recovered: Option<RefCell<Vec<PolicyError>>>,
}

impl Ctx<'_> {
    /// An error inside an element: returned as is, or recorded (`Ok(None)`) when recovering.
    fn go_on<T>(&self, r: Result<T, PolicyError>) -> Result<Option<T>, PolicyError> {
        match (r, &self.recovered) {
            (Ok(v), _) => Ok(Some(v)),
            (Err(e), Some(list)) => {
                list.borrow_mut().push(e);
                Ok(None)
            }
            (Err(e), None) => Err(e),
        }
    }

    fn err(&self, pos: Pos, message: impl Into<String>, help: impl Into<String>) -> PolicyError {
        PolicyError::Invalid { origin: self.origin.to_string(), pos, message: message.into(), help: help.into() }
    }

    fn object<'j>(&self, v: &'j Json, what: &str) -> Result<&'j [(String, Pos, Json)], PolicyError> {
        match &v.kind {
            JsonKind::Object(items) => Ok(items),
            _ => Err(self.err(
                v.pos,
                format!("{what} must be an object, found {}", v.type_name()),
                "write it as `{ ... }`",
            )),
        }
    }

    fn string(&self, v: &Json, what: &str) -> Result<String, PolicyError> {
        v.as_str().map(str::to_string).ok_or_else(|| {
            self.err(
                v.pos,
                format!("{what} must be a string, found {}", v.type_name()),
                "put the value in double quotes",
            )
        })
    }

    /// A string or an array of strings, as `Action`, `Resource` and principals allow.
    fn strings(&self, v: &Json, what: &str) -> Result<Vec<Spanned<String>>, PolicyError> {
        match &v.kind {
            JsonKind::String(s) => Ok(vec![Spanned { value: s.clone(), pos: v.pos }]),
            JsonKind::Array(items) => items
                .iter()
                .map(|i| self.string(i, &format!("each entry of {what}")).map(|s| Spanned { value: s, pos: i.pos }))
                .collect(),
            _ => Err(self.err(
                v.pos,
                format!("{what} must be a string or an array of strings, found {}", v.type_name()),
                "write a single \"string\" or [\"a\", \"b\"]",
            )),
        }
    }

    fn policy(&self, v: &Json) -> Result<Policy, PolicyError> {
        let items = self.object(v, "a policy document")?;
        let mut version = None;
        let mut id = None;
        let mut statements = None;
        for (key, kpos, val) in items {
            match key.as_str() {
                "Version" => {
                    version = self.go_on(self.string(val, "`Version`"))?.map(|value| Spanned { value, pos: val.pos })
                }
                "Id" => id = self.go_on(self.string(val, "`Id`"))?,
                "Statement" => {
                    let list: Vec<&Json> = match &val.kind {
                        JsonKind::Array(list) => list.iter().collect(),
                        JsonKind::Object(_) => vec![val],
                        _ => {
                            return Err(self.err(
                                val.pos,
                                format!(
                                    "`Statement` must be an object or an array of objects, found {}",
                                    val.type_name()
                                ),
                                "write \"Statement\": [{ \"Effect\": ..., \"Action\": ..., \"Resource\": ... }]",
                            ))
                        }
                    };
                    let mut parsed = Vec::with_capacity(list.len());
                    for s in list {
                        // A broken statement is left out when recovering, so the lints still
                        // see the others.
                        parsed.extend(self.statement(s)?);
                    }
                    statements = Some(parsed);
                }
                other => {
                    self.go_on::<()>(Err(self.unknown_element(*kpos, other, &["Version", "Id", "Statement"])))?;
                }
            }
        }
        let statements = statements.ok_or_else(|| {
            self.err(v.pos, "the policy has no `Statement`", "add \"Statement\": [ ... ] with at least one statement")
        })?;
        Ok(Policy { version, id, statements })
    }

    fn unknown_element(&self, pos: Pos, key: &str, known: &[&str]) -> PolicyError {
        let hint = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key))
            .map(|k| format!("element names are case-sensitive: write `{k}`"))
            .unwrap_or_else(|| format!("IAM rejects unknown elements; expected one of {}", known.join(", ")));
        self.err(pos, format!("unknown policy element `{key}`"), hint)
    }

    /// `Ok(None)`: the statement is broken and its errors were recorded (recovering only).
    fn statement(&self, v: &Json) -> Result<Option<Statement>, PolicyError> {
        const KNOWN: &[&str] = &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        ];
        let items = self.object(v, "a statement")?;
        let mut st = Statement {
            sid: None,
            effect: Effect::Allow,
            actions: None,
            resources: None,
            principals: None,
            conditions: Vec::new(),
            pos: v.pos,
        };
        let mut effect_seen = false;
        let mut broken = false;
        for (key, kpos, val) in items {
            let element = |st: &mut Statement, effect_seen: &mut bool| -> Result<(), PolicyError> {
                match key.as_str() {
                    "Sid" => st.sid = Some(self.string(val, "`Sid`")?),
                    "Effect" => {
                        let s = self.string(val, "`Effect`")?;
                        st.effect = match s.as_str() {
                            "Allow" => Effect::Allow,
                            "Deny" => Effect::Deny,
                            _ => {
                                return Err(self.err(
                                    val.pos,
                                    format!("`Effect` must be \"Allow\" or \"Deny\", found \"{s}\""),
                                    "the Effect value is case-sensitive in IAM: write \"Allow\" or \"Deny\"",
                                ))
                            }
                        };
                        *effect_seen = true;
                    }
                    "Action" | "NotAction" => {
                        if st.actions.is_some() {
                            return Err(self.err(
                                *kpos,
                                "a statement cannot have both `Action` and `NotAction`",
                                "keep one of them",
                            ));
                        }
                        st.actions = Some(Matcher {
                            negated: key == "NotAction",
                            patterns: self.strings(val, &format!("`{key}`"))?,
                        });
                    }
                    "Resource" | "NotResource" => {
                        if st.resources.is_some() {
                            return Err(self.err(
                                *kpos,
                                "a statement cannot have both `Resource` and `NotResource`",
                                "keep one of them",
                            ));
                        }
                        st.resources = Some(Matcher {
                            negated: key == "NotResource",
                            patterns: self.strings(val, &format!("`{key}`"))?,
                        });
                    }
                    "Principal" | "NotPrincipal" => {
                        if st.principals.is_some() {
                            return Err(self.err(
                                *kpos,
                                "a statement cannot have both `Principal` and `NotPrincipal`",
                                "keep one of them",
                            ));
                        }
                        st.principals = Some(self.principals(val, key == "NotPrincipal")?);
                    }
                    "Condition" => st.conditions = self.conditions(val)?,
                    other => return Err(self.unknown_element(*kpos, other, KNOWN)),
                }
                Ok(())
            };
            broken |= self.go_on(element(&mut st, &mut effect_seen))?.is_none();
        }
        if broken {
            // The broken element may be the `Effect` or `Action` the checks below look for.
            return Ok(None);
        }
        if !effect_seen {
            return self.go_on(Err(self.err(
                v.pos,
                "the statement has no `Effect`",
                "add \"Effect\": \"Allow\" or \"Effect\": \"Deny\"",
            )));
        }
        if st.actions.is_none() {
            return self.go_on(Err(self.err(
                v.pos,
                "the statement has neither `Action` nor `NotAction`",
                "add \"Action\": [\"service:Action\", ...]",
            )));
        }
        Ok(Some(st))
    }

    fn principals(&self, v: &Json, negated: bool) -> Result<Principals, PolicyError> {
        let mut p = Principals { negated, any: false, entries: Vec::new() };
        match &v.kind {
            JsonKind::String(s) if s == "*" => p.any = true,
            JsonKind::Object(items) => {
                for (key, kpos, val) in items {
                    let kind = match key.as_str() {
                        "AWS" => PrincipalKind::Aws,
                        "Service" => PrincipalKind::Service,
                        "Federated" => PrincipalKind::Federated,
                        "CanonicalUser" => PrincipalKind::CanonicalUser,
                        other => {
                            return Err(self.err(
                                *kpos,
                                format!("unknown principal type `{other}`"),
                                "use one of AWS, Service, Federated, CanonicalUser (case-sensitive)",
                            ))
                        }
                    };
                    for s in self.strings(val, &format!("`{key}` principal"))? {
                        p.entries.push((kind, s));
                    }
                }
            }
            _ => {
                return Err(self.err(
                    v.pos,
                    "`Principal` must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}",
                    "name the principal type: AWS, Service, Federated or CanonicalUser",
                ))
            }
        }
        Ok(p)
    }

    fn conditions(&self, v: &Json) -> Result<Vec<Condition>, PolicyError> {
        let mut out = Vec::new();
        for (op, op_pos, block) in self.object(v, "`Condition`")? {
            for (key, key_pos, vals) in self.object(block, &format!("the `{op}` condition block"))? {
                let list: Vec<&Json> = match &vals.kind {
                    JsonKind::Array(a) => a.iter().collect(),
                    _ => vec![vals],
                };
                let mut values = Vec::with_capacity(list.len());
                for item in list {
                    let s = match &item.kind {
                        JsonKind::String(s) => s.clone(),
                        JsonKind::Number(n) => n.clone(),
                        JsonKind::Bool(b) => b.to_string(),
                        _ => {
                            return Err(self.err(
                                item.pos,
                                format!(
                                    "condition values must be strings, numbers or booleans, found {}",
                                    item.type_name()
                                ),
                                "write the value as a string or an array of strings",
                            ))
                        }
                    };
                    values.push(Spanned { value: s, pos: item.pos });
                }
                out.push(Condition {
                    operator: Spanned { value: op.clone(), pos: *op_pos },
                    key: Spanned { value: key.clone(), pos: *key_pos },
                    values,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(text: &str) -> PolicyError {
        parse_policy(text, "t.json").err().unwrap_or_else(|| panic!("accepted: {text}"))
    }

    #[test]
    fn parses_single_statement_object_and_conditions() {
        let p = parse_policy(
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {"NumericLessThan": {"s3:max-keys": 10}, "Bool": {"aws:SecureTransport": true}}}}"#,
            "t",
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        assert!(p.version.is_none());
        let c = &p.statements[0].conditions;
        assert_eq!(c[0].values[0].value, "10");
        assert_eq!(c[1].values[0].value, "true");
    }

    #[test]
    fn effect_is_case_sensitive_with_position() {
        let e = err_of("{\"Version\": \"2012-10-17\",\n \"Statement\": [{\"Effect\": \"allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}");
        assert_eq!(e.pos(), Some(Pos { line: 2, column: 27 }));
        assert!(e.to_string().contains("found \"allow\""), "{e}");
        assert!(e.to_string().starts_with("t.json:2:27:"), "{e}");
    }

    #[test]
    fn rejects_unknown_elements_and_duplicates() {
        let e = err_of(r#"{"statement": []}"#);
        assert!(e.to_string().contains("unknown policy element `statement`"), "{e}");
        assert!(!e.to_string().contains("help:"), "{e}");
        assert_eq!(e.help(), Some("element names are case-sensitive: write `Statement`"));
        assert!(err_of(
            r#"{"Statement": [{"Effect": "Allow", "Action": "a:b", "NotAction": "c:d", "Resource": "*"}]}"#
        )
        .to_string()
        .contains("both `Action` and `NotAction`"));
        assert!(err_of(r#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#).to_string().contains("neither"));
        assert!(err_of(r#"{"Statement": [{"Effect": "Allow", "Action": 3, "Resource": "*"}]}"#)
            .to_string()
            .contains("found a number"));
    }

    #[test]
    fn recovering_reports_every_broken_statement_and_keeps_the_rest() {
        let text = r#"{"Version": "2012-10-17", "Bogus": 1, "Statement": [
            {"Effect": "allow", "Action": "a:b", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Resource": "*"}]}"#;
        let (policy, errors) = parse_policy_recovering(text, "t");
        let messages: Vec<String> = errors.iter().map(|e| e.message()).collect();
        assert_eq!(errors.len(), 3, "{messages:?}");
        assert!(messages[0].contains("unknown policy element `Bogus`"), "{messages:?}");
        assert!(messages[1].contains("found \"allow\""), "{messages:?}");
        assert!(messages[2].contains("neither `Action`"), "{messages:?}");
        let policy = policy.expect("the good statement is kept");
        assert_eq!(policy.statements.len(), 1);
        assert_eq!(policy.version.unwrap().value, "2012-10-17");
        // Not JSON: one error, nothing to lint.
        let (none, errors) = parse_policy_recovering("{\"Statement\": [", "t");
        assert!(none.is_none() && errors.len() == 1);
        // Strict parsing is unchanged: the first error.
        assert!(err_of(text).to_string().contains("`Bogus`"));
    }

    #[test]
    fn principals_of_every_kind() {
        let p = parse_policy(
            r#"{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"], "Service": "ec2.amazonaws.com",
                "Federated": "cognito-identity.amazonaws.com", "CanonicalUser": "abc"}},
                {"Effect": "Deny", "Action": "*", "NotPrincipal": "*"}]}"#,
            "t",
        )
        .unwrap();
        let pr = p.statements[0].principals.as_ref().unwrap();
        assert_eq!(pr.entries.len(), 5);
        assert!(p.statements[1].principals.as_ref().unwrap().negated);
    }
}
