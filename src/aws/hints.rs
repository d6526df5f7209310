//! Denial hints from a workload's output: which action a failed run was refused.
//!
//! A failure that names its action saves the pruner a whole binary search. AWS SDKs and the
//! CLI print denials in a few shapes: the action named outright (`is not authorized to
//! perform: iam:GetInstanceProfile on resource: ...`), only the operation (`when calling the
//! DescribeVpcs operation: You are not authorized to perform this operation`), which the
//! catalog maps to an action, or an EC2 encoded authorization message, which only
//! `sts:DecodeAuthorizationMessage` can open (done by the caller, see `command.rs`).

use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::oracle::Denial;
use regex::Regex;
use std::sync::OnceLock;

/// Denials found in one run's output, plus encoded messages still to decode.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Hints {
    /// One entry per distinct (action, operation) seen denied.
    pub denials: Vec<Denial>,
    /// EC2 `Encoded authorization failure message` payloads, in order of appearance.
    pub encoded: Vec<String>,
}

struct Patterns {
    named: Regex,
    operation: Regex,
    encoded: Regex,
    denied_word: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Patterns {
            // "is not authorized to perform: iam:GetInstanceProfile on resource: instance profile X"
            named: Regex::new(r"not authorized to perform:?\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+)(?:\s+on resource:?\s+(.+?)(?:\s+because\b|\s+with an explicit|$|\n|\.\s))?").ok()?,
            // botocore / AWS CLI: "An error occurred (AccessDenied) when calling the GetInstanceProfile operation"
            operation: Regex::new(r"\(([A-Za-z.]+)\)\s+when calling the\s+([A-Za-z0-9]+)\s+operation").ok()?,
            encoded: Regex::new(r"Encoded authorization failure message:\s*([A-Za-z0-9_\-+/=]+)").ok()?,
            denied_word: Regex::new(r"(?i)AccessDenied|UnauthorizedOperation|not authorized|AuthorizationError").ok()?,
        })
    })
    .as_ref()
}

/// Finds denials in `output` (stdout and stderr of one run). Operation names are mapped to
/// actions through `catalog` when exactly one service in it has that action name, or exactly
/// one of those is in `universe` (the actions under pruning: a moto S3 run's `GetObject` is
/// `s3:GetObject`, whatever other services call an action `GetObject`).
pub fn parse(output: &str, catalog: &Catalog, universe: Option<&ActionSet>) -> Hints {
    let mut hints = Hints::default();
    let Some(p) = patterns() else { return hints };
    for line in output.lines() {
        if !p.denied_word.is_match(line) && !line.contains("Encoded authorization failure message") {
            continue;
        }
        let operation = p.operation.captures(line).and_then(|c| {
            let code = c.get(1)?.as_str();
            crate::aws::sdkerr::is_denied_code(code).then(|| c.get(2).map(|m| m.as_str().to_string()))?
        });
        let named = p.named.captures(line).map(|c| {
            let action = c.get(1).map(|m| m.as_str().to_string());
            let resource =
                c.get(2).map(|m| m.as_str().trim().trim_end_matches('.').to_string()).filter(|r| !r.is_empty());
            (action, resource)
        });
        let encoded = p.encoded.captures(line).and_then(|c| c.get(1)).map(|m| m.as_str().to_string());
        if let Some(e) = &encoded {
            if !hints.encoded.contains(e) {
                hints.encoded.push(e.clone());
            }
        }
        let (action, resource) = match named {
            Some((a, r)) => (a.map(|a| canonical(catalog, &a)), r),
            None => (operation.as_deref().and_then(|op| action_for_operation_in(catalog, op, universe)), None),
        };
        if action.is_none() && operation.is_none() && encoded.is_none() {
            continue;
        }
        let denial = Denial { action, resource, operation, message: line.trim().to_string() };
        let dup = hints.denials.iter().any(|d| d.action == denial.action && d.operation == denial.operation);
        if !dup {
            hints.denials.push(denial);
        }
    }
    hints
}

/// True when the output mentions an authorization failure at all (for
/// `--fail-on-denied-only`, where a denial without a named action still counts).
pub fn mentions_denial(output: &str) -> bool {
    patterns().is_some_and(|p| p.denied_word.is_match(output))
}

/// The catalog's spelling of an action (`iam:getinstanceprofile` -> `iam:GetInstanceProfile`);
/// unknown actions (moto's `monitoring:` for CloudWatch) are kept as written.
fn canonical(catalog: &Catalog, action: &str) -> String {
    catalog.lookup(action).map(|id| catalog.name(id)).unwrap_or_else(|| action.to_string())
}

/// The action an API operation needs, when the operation name is an action name in exactly
/// one catalog service (true for most: `GetInstanceProfile`, `DescribeVpcs`, `RunInstances`),
/// or an operation authorized by an action of another name (`ListBuckets` ->
/// `s3:ListAllMyBuckets`, the table CloudTrail events are mapped with). Ambiguous: none.
pub fn action_for_operation(catalog: &Catalog, operation: &str) -> Option<String> {
    action_for_operation_in(catalog, operation, None)
}

/// [`action_for_operation`], and when several services have the action, the one of them in
/// `universe` if exactly one is.
pub fn action_for_operation_in(catalog: &Catalog, operation: &str, universe: Option<&ActionSet>) -> Option<String> {
    let operation = crate::trail::map::strip_api_version(operation);
    let named = |prefix: &str, action: &str| catalog.lookup(&format!("{prefix}:{action}"));
    let mut found: Vec<crate::ActionId> =
        catalog.services().iter().filter_map(|s| named(s.prefix, operation)).collect();
    found.extend(crate::trail::map::renamed_operation(operation).filter_map(|(p, a)| named(p, a)));
    found.sort();
    found.dedup();
    if found.len() > 1 {
        if let Some(u) = universe {
            found.retain(|&id| u.contains(id));
        }
    }
    if found.len() > 1 && universe.is_some() {
        // One SDK client serves a service family (`s3` with `s3-object-lambda` and
        // `s3-outposts`): the family's root is the action the call asked for.
        let prefixes: Vec<String> = found.iter().map(|&id| catalog.prefix_of(id)).collect();
        let root = prefixes.iter().position(|r| {
            prefixes.iter().all(|p| p == r || p.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('-')))
        });
        if let Some(i) = root {
            found = vec![found[i]];
        }
    }
    match found.as_slice() {
        [one] => Some(catalog.name(*one)),
        _ => None,
    }
}

/// Reads the JSON `DecodeAuthorizationMessage` returns into a denial.
pub fn denial_from_decoded(decoded: &str) -> Option<Denial> {
    let v: serde_json::Value = serde_json::from_str(decoded).ok()?;
    let ctx = v.get("context")?;
    let action = ctx.get("action").and_then(|a| a.as_str()).map(str::to_string);
    let resource = ctx.get("resource").and_then(|a| a.as_str()).map(str::to_string);
    action.as_ref()?;
    Some(Denial { action, resource, operation: None, message: format!("decoded authorization message: {decoded}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn botocore_named_action_from_the_flintrock_post() {
        let out = "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetInstanceProfile operation: User: arn:aws:iam::690534650866:user/datawookie is not authorized to perform: iam:GetInstanceProfile on resource: instance profile EMR_EC2_DefaultRole\n";
        let h = parse(out, Catalog::embedded(), None);
        assert_eq!(h.denials.len(), 1);
        let d = &h.denials[0];
        assert_eq!(d.action.as_deref(), Some("iam:GetInstanceProfile"));
        assert_eq!(d.operation.as_deref(), Some("GetInstanceProfile"));
        assert_eq!(d.resource.as_deref(), Some("instance profile EMR_EC2_DefaultRole"));
    }

    #[test]
    fn operation_only_maps_through_the_catalog() {
        let out = "An error occurred (UnauthorizedOperation) when calling the DescribeVpcs operation: You are not authorized to perform this operation.";
        let h = parse(out, Catalog::embedded(), None);
        assert_eq!(h.denials[0].action.as_deref(), Some("ec2:DescribeVpcs"));
    }

    #[test]
    fn renamed_operations_map_to_their_action() {
        // moto's (and S3's) denial of ListBuckets names no action; the permission is another name.
        let out = "An error occurred (AccessDenied) when calling the ListBuckets operation: Access Denied";
        let h = parse(out, Catalog::embedded(), None);
        assert_eq!(h.denials[0].action.as_deref(), Some("s3:ListAllMyBuckets"));
        let c = Catalog::embedded();
        assert_eq!(action_for_operation(c, "HeadObject").as_deref(), Some("s3:GetObject"));
        // Lambda's and CloudFront's: no guess.
        assert_eq!(action_for_operation(c, "ListFunctions"), None);
    }

    #[test]
    fn an_operation_many_services_name_maps_to_the_one_under_pruning() {
        // `GetObject` is an action of S3 and of other services: ambiguous in the catalog, not
        // among the actions being pruned.
        let c = Catalog::embedded();
        assert_eq!(action_for_operation(c, "GetObject"), None);
        let (_, s3) = c.load_policy("AmazonS3FullAccess").unwrap();
        let universe = c.expand_policy(&s3).allowed;
        let out = "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied";
        assert_eq!(parse(out, c, Some(&universe)).denials[0].action.as_deref(), Some("s3:GetObject"));
        assert_eq!(parse(out, c, None).denials[0].action, None);
    }

    #[test]
    fn moto_message_without_resource_and_encoded_messages() {
        let c = Catalog::embedded();
        let h = parse(
            "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: ec2:DescribeVpcs",
            c,
            None,
        );
        assert_eq!(h.denials[0].action.as_deref(), Some("ec2:DescribeVpcs"));
        assert_eq!(h.denials[0].resource, None);
        let h = parse("An error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not authorized to perform this operation. Encoded authorization failure message: AbC-12_x/y+z=", c, None);
        assert_eq!(h.encoded, vec!["AbC-12_x/y+z=".to_string()]);
        assert_eq!(h.denials[0].action.as_deref(), Some("ec2:RunInstances"));
    }

    #[test]
    fn unrelated_errors_are_not_denials() {
        let h = parse(
            "An error occurred (InvalidParameterValue) when calling the RunInstances operation: bad AMI\nTraceback",
            Catalog::embedded(),
            None,
        );
        assert!(h.denials.is_empty());
    }

    #[test]
    fn decoded_message_names_action_and_resource() {
        let d = denial_from_decoded(r#"{"allowed":false,"explicitDeny":false,"context":{"principal":{"id":"AROA"},"action":"ec2:RunInstances","resource":"arn:aws:ec2:us-east-1:1:instance/*"}}"#).unwrap();
        assert_eq!(d.action.as_deref(), Some("ec2:RunInstances"));
        assert_eq!(d.resource.as_deref(), Some("arn:aws:ec2:us-east-1:1:instance/*"));
    }
}
