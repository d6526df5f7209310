//! Requests as JSON lines, for `iam-prune eval --requests FILE.jsonl` and for the
//! benchmark that measures parsing apart from deciding.
//!
//! One line is `{"action": ..., "resource": ..., "principal": ..., "context": {...}}`;
//! only `action` is required. Context values may be strings, numbers, booleans (kept in
//! their JSON spelling, as policies keep them) or arrays of those (a multivalued key).

use super::{Context, ContextValue, Decision, Request};
use serde_json::Value;

/// A request read from JSON, owning its strings.
#[derive(Debug, Clone)]
pub struct RequestLine {
    /// The action.
    pub action: String,
    /// The resource ARN (`*` when absent).
    pub resource: String,
    /// The caller, when the line names one.
    pub principal: Option<String>,
    /// The condition keys.
    pub context: Context,
}

/// A JSON line that is not a request.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RequestLineError {
    message: String,
}

impl RequestLineError {
    /// What a request line looks like.
    pub fn help(&self) -> Option<&'static str> {
        Some(
            r#"write one JSON object per line, like {"action": "s3:GetObject", "resource": "arn:aws:s3:::bucket/key", "principal": "arn:aws:iam::111122223333:role/app", "context": {"aws:SourceIp": "203.0.113.7"}}"#,
        )
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw<'a> {
    #[serde(borrow)]
    action: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    resource: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    principal: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    context: serde_json::Map<String, Value>,
}

impl RequestLine {
    /// Parses one line.
    pub fn parse(line: &str) -> Result<RequestLine, RequestLineError> {
        let raw: Raw<'_> =
            serde_json::from_str(line).map_err(|e| RequestLineError { message: format!("invalid request: {e}") })?;
        let mut context = Context::new();
        for (k, v) in raw.context {
            context.insert(&k, json_to_value(&k, v)?);
        }
        Ok(RequestLine {
            action: raw.action.into_owned(),
            resource: raw.resource.map_or_else(|| "*".to_string(), |r| r.into_owned()),
            principal: raw.principal.map(|p| p.into_owned()),
            context,
        })
    }

    /// The request to evaluate; `default_principal` when the line names none.
    pub fn request<'a>(&'a self, default_principal: &'a str) -> Request<'a> {
        Request {
            principal: self.principal.as_deref().unwrap_or(default_principal),
            action: &self.action,
            resource: &self.resource,
            context: &self.context,
        }
    }
}

fn scalar(k: &str, v: Value) -> Result<String, RequestLineError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(RequestLineError {
            message: format!(
                "context key `{k}` has a {} value; use a string, number, boolean or an array of them",
                type_name(&other)
            ),
        }),
    }
}

fn json_to_value(k: &str, v: Value) -> Result<ContextValue, RequestLineError> {
    match v {
        Value::Array(items) => {
            Ok(ContextValue::Multi(items.into_iter().map(|x| scalar(k, x)).collect::<Result<_, _>>()?))
        }
        other => Ok(ContextValue::Single(scalar(k, other)?)),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        _ => "scalar",
    }
}

/// The JSON form of a decision: `{"decision": ..., "matched": [...], "reason": ...}`.
pub fn decision_json(d: &Decision) -> Value {
    serde_json::json!({
        "decision": d.kind.as_str(),
        "matched": d.matched,
        "reason": d.reason.to_string(),
    })
}

/// Writes a decision as one JSON line (the same fields as [`decision_json`]) without
/// building a `serde_json::Value` first: the batch mode's output path.
pub fn write_decision_line<W: std::io::Write>(w: &mut W, d: &Decision) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        decision: &'static str,
        matched: &'a [super::Matched],
        reason: String,
    }
    serde_json::to_writer(
        &mut *w,
        &Line { decision: d.kind.as_str(), matched: &d.matched, reason: d.reason.to_string() },
    )?;
    w.write_all(b"\n")
}

/// A caller in the resource's account when none is given, so that a request without
/// `--principal` is not mistaken for a cross-account one.
pub fn default_principal(resource: &str) -> String {
    let acct = resource.split(':').nth(4).filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    format!("arn:aws:iam::{}:role/iam-prune-eval", acct.unwrap_or("111122223333"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let r = RequestLine::parse(r#"{"action":"s3:GetObject","context":{"aws:TagKeys":["a","b"],"n":3,"b":true}}"#)
            .unwrap();
        assert_eq!(r.resource, "*");
        assert_eq!(r.context.get("AWS:TagKeys"), Some(&ContextValue::Multi(vec!["a".into(), "b".into()])));
        assert_eq!(r.context.get("n"), Some(&ContextValue::Single("3".into())));
        assert!(RequestLine::parse(r#"{"resource":"*"}"#).is_err());
        assert!(RequestLine::parse(r#"{"action":"a","contxt":{}}"#).is_err());
        assert_eq!(
            default_principal("arn:aws:sqs:us-east-1:444455556666:q"),
            "arn:aws:iam::444455556666:role/iam-prune-eval"
        );
    }
}
