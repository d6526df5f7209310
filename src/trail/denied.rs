//! Access-denied events: which error codes are denials, and what their messages say (the
//! action, the resource, the policy type that denied, an EC2 encoded authorization message).

use super::event::EventRef;
use super::map::{action_for_event, Mapped};
use crate::catalog::Catalog;
use serde::Serialize;

/// True when an `errorCode` is an authorization failure: it contains `AccessDenied`,
/// `Unauthorized`, `NotAuthorized`, `AuthorizationError` (SNS) or `Forbidden`, in any case.
/// Ordinary errors (`NoSuchBucketPolicy`, `ThrottlingException`, ...) are not denials.
pub fn is_denial_code(code: &str) -> bool {
    let lower = code.to_ascii_lowercase();
    ["accessdenied", "unauthorized", "notauthorized", "authorizationerror", "forbidden"]
        .iter()
        .any(|p| lower.contains(p))
}

/// What kind of denial an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialKind {
    /// No policy allowed the call (an implicit deny), or the message does not say.
    AccessDenied,
    /// A policy explicitly denied the call: granting more will not help.
    ExplicitDeny,
    /// A VPC endpoint policy denied the call.
    VpceAccessDenied,
}

/// Which policy type denied the call, when the message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeniedBy {
    /// An identity-based policy (the principal's own policies).
    IdentityBased,
    /// A permissions boundary.
    PermissionsBoundary,
    /// A session policy.
    SessionPolicy,
    /// A resource-based policy.
    ResourceBased,
    /// An organizations service control policy.
    Scp,
    /// An organizations resource control policy.
    Rcp,
    /// A VPC endpoint policy.
    VpcEndpoint,
}

impl DeniedBy {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            DeniedBy::IdentityBased => "identity-based",
            DeniedBy::PermissionsBoundary => "permissions-boundary",
            DeniedBy::SessionPolicy => "session-policy",
            DeniedBy::ResourceBased => "resource-based",
            DeniedBy::Scp => "scp",
            DeniedBy::Rcp => "rcp",
            DeniedBy::VpcEndpoint => "vpc-endpoint",
        }
    }
}

/// Where a denied event's action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSource {
    /// The error message named it (and the catalog knows it).
    Message,
    /// Mapped from `eventSource` + `eventName`.
    Event,
    /// From the EC2 encoded authorization message, decoded by `sts:DecodeAuthorizationMessage`.
    Decoded,
}

/// One access-denied event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denied {
    /// The file (or `lookup:REGION`, `lake:STORE`) it came from.
    pub file: String,
    /// `eventTime` as written.
    pub time: Option<String>,
    /// The caller's ARN (or service, access key, principal id).
    pub principal: Option<String>,
    /// The access key the call was signed with.
    pub access_key_id: Option<String>,
    /// `eventSource`.
    #[serde(rename = "eventSource")]
    pub event_source: String,
    /// `eventName`.
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// `awsRegion`.
    pub region: Option<String>,
    /// `errorCode`.
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// The IAM action: from the message when it names a catalog action, else mapped from the event.
    pub action: Option<String>,
    /// Where `action` came from.
    pub action_source: Option<ActionSource>,
    /// The action exactly as the message names it (even if the catalog does not know it).
    pub message_action: Option<String>,
    /// A candidate action that is not in the catalog (reported, not used).
    pub unknown_action: Option<String>,
    /// The resource, from the message or the event's `resources`.
    pub resource: Option<String>,
    /// The policy type that denied, when the message says.
    pub denied_by: Option<DeniedBy>,
    /// Implicit, explicit or VPC endpoint denial.
    pub kind: DenialKind,
    /// The EC2 encoded authorization failure message, for `sts:DecodeAuthorizationMessage`.
    pub encoded_message: Option<String>,
    /// `errorMessage`.
    pub message: Option<String>,
}

/// What an error message says, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageParts {
    /// `... not authorized to perform: ACTION ...`.
    pub action: Option<String>,
    /// `... on resource: ARN ...`.
    pub resource: Option<String>,
    /// The policy type named.
    pub denied_by: Option<DeniedBy>,
    /// `with an explicit deny`.
    pub is_explicit: bool,
    /// `Encoded authorization failure message: BLOB`.
    pub encoded: Option<String>,
}

fn token_after<'m>(msg: &'m str, marker: &str) -> Option<&'m str> {
    let i = msg.find(marker)? + marker.len();
    let rest = msg.get(i..)?.trim_start();
    let tok = rest.split_whitespace().next()?;
    let tok = tok.trim_end_matches(['.', ',', ';']).trim_matches('"');
    (!tok.is_empty()).then_some(tok)
}

fn is_action_shape(s: &str) -> bool {
    match s.split_once(':') {
        Some((p, a)) => {
            !p.is_empty()
                && !a.is_empty()
                && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'*')
        }
        None => false,
    }
}

/// Parses an access-denied message (the forms IAM, STS, EC2 and most services use).
pub fn parse_message(msg: &str) -> MessageParts {
    let action = ["not authorized to perform: ", "not authorized to perform "]
        .iter()
        .find_map(|m| token_after(msg, m))
        .filter(|a| is_action_shape(a))
        .map(str::to_string);
    let lower = msg.to_ascii_lowercase();
    let types = [
        ("service control policy", DeniedBy::Scp),
        ("resource control policy", DeniedBy::Rcp),
        ("permissions boundary", DeniedBy::PermissionsBoundary),
        ("session policy", DeniedBy::SessionPolicy),
        ("resource-based policy", DeniedBy::ResourceBased),
        ("identity-based policy", DeniedBy::IdentityBased),
        ("vpc endpoint policy", DeniedBy::VpcEndpoint),
    ];
    MessageParts {
        action,
        resource: token_after(msg, "on resource: ").map(str::to_string),
        denied_by: types.iter().find(|(m, _)| lower.contains(m)).map(|(_, t)| *t),
        is_explicit: lower.contains("explicit deny"),
        encoded: token_after(msg, "Encoded authorization failure message:").map(str::to_string),
    }
}

/// Builds the denial record for an event whose error code is a denial.
pub fn denied_from_event(catalog: &Catalog, file: &str, ev: &EventRef<'_>, code: &str) -> Denied {
    let message = ev.error_message().map(|m| m.into_owned());
    let parts = message.as_deref().map(parse_message).unwrap_or_default();
    let source = ev.event_source().into_owned();
    let name = ev.event_name().into_owned();
    let from_message = parts.action.as_deref().and_then(|a| catalog.lookup(a));
    let (action, action_source, unknown_action) = match from_message {
        Some(id) => (Some(catalog.name(id)), Some(ActionSource::Message), None),
        None => match action_for_event(catalog, &source, &name) {
            Mapped::Action(id) => (Some(catalog.name(id)), Some(ActionSource::Event), parts.action.clone()),
            Mapped::Unknown(u) => (None, None, Some(parts.action.clone().unwrap_or(u))),
        },
    };
    let kind = if code.to_ascii_lowercase().contains("vpce") || parts.denied_by == Some(DeniedBy::VpcEndpoint) {
        DenialKind::VpceAccessDenied
    } else if parts.is_explicit {
        DenialKind::ExplicitDeny
    } else {
        DenialKind::AccessDenied
    };
    let identity = ev.identity();
    let resource = parts.resource.clone().or_else(|| ev.resource_arns().into_iter().next());
    Denied {
        file: file.to_string(),
        time: ev.event_time().map(|t| t.into_owned()),
        principal: identity.as_ref().and_then(|i| i.display()),
        access_key_id: identity.and_then(|i| i.access_key_id),
        event_source: source,
        event_name: name,
        region: ev.region().map(|r| r.into_owned()),
        error_code: code.to_string(),
        action,
        action_source,
        message_action: parts.action,
        unknown_action,
        resource,
        denied_by: parts.denied_by,
        kind,
        encoded_message: parts.encoded,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_codes() {
        for c in [
            "AccessDenied",
            "AccessDeniedException",
            "Client.UnauthorizedOperation",
            "UnauthorizedOperation",
            "AuthorizationError",
            "Forbidden",
            "VpceAccessDenied",
            "NotAuthorizedException",
        ] {
            assert!(is_denial_code(c), "{c}");
        }
        for c in
            ["NoSuchBucketPolicy", "ThrottlingException", "NoSuchPublicAccessBlockConfiguration", "ValidationException"]
        {
            assert!(!is_denial_code(c), "{c}");
        }
    }

    #[test]
    fn messages() {
        let p = parse_message("User: arn:aws:sts::1:assumed-role/R/s is not authorized to perform: ec2:GetPasswordData on resource: arn:aws:ec2:r:1:instance/* because no identity-based policy allows the ec2:GetPasswordData action. Encoded authorization failure message: AbC-123");
        assert_eq!(p.action.as_deref(), Some("ec2:GetPasswordData"));
        assert_eq!(p.resource.as_deref(), Some("arn:aws:ec2:r:1:instance/*"));
        assert_eq!(p.denied_by, Some(DeniedBy::IdentityBased));
        assert_eq!(p.encoded.as_deref(), Some("AbC-123"));
        assert!(!p.is_explicit);
        let p = parse_message("User: arn:aws:iam::1:user/u is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a service control policy");
        assert!(p.is_explicit);
        assert_eq!(p.denied_by, Some(DeniedBy::Scp));
        assert_eq!(
            parse_message("User is not authorized to perform: rds:ModifyDBInstance").action.as_deref(),
            Some("rds:ModifyDBInstance")
        );
        assert_eq!(parse_message("Access Denied"), MessageParts::default());
    }
}
