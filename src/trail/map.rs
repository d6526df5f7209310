//! From a CloudTrail event (`eventSource` + `eventName`) to the IAM action that authorizes it,
//! and the actions CloudTrail cannot show.
//!
//! Most events are named after their action, but not all: API versions are appended to some
//! names (`ListFunctions20150331`), some operations are authorized by a differently named
//! action (`ListBuckets` -> `s3:ListAllMyBuckets`), and some services sign with a name other
//! than their IAM prefix (`monitoring` -> `cloudwatch`). Every mapping is checked against
//! the catalog: an event with no catalog action is reported as unmapped, never guessed.

use crate::catalog::{ActionId, Catalog};

/// Event sources whose host name differs from the IAM service prefix.
/// Sorted by source (a test checks), looked up by binary search.
const SOURCE_PREFIX: &[(&str, &str)] = &[
    ("api.ecr", "ecr"),
    ("api.mediatailor", "mediatailor"),
    ("api.pricing", "pricing"),
    ("api.sagemaker", "sagemaker"),
    ("data.iot", "iot"),
    ("email", "ses"),
    ("execute-api", "execute-api"),
    ("iot-data", "iot"),
    ("lex", "lex"),
    ("monitoring", "cloudwatch"),
    ("runtime.lex", "lex"),
    ("runtime.sagemaker", "sagemaker"),
    ("sso-directory", "sso-directory"),
    ("tagging", "tag"),
];

/// Events authorized by an action of another name: (prefix, event name, action name).
/// Sorted by (prefix, event name); sources: the S3 user guide's "Amazon S3 actions" mapping of
/// operations to permissions, and the Lambda/IAM API references.
const RENAMED: &[(&str, &str, &str)] = &[
    ("s3", "CompleteMultipartUpload", "PutObject"),
    ("s3", "CopyObject", "PutObject"),
    ("s3", "CreateMultipartUpload", "PutObject"),
    ("s3", "DeleteBucketCors", "PutBucketCORS"),
    ("s3", "DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    ("s3", "DeleteBucketOwnershipControls", "PutBucketOwnershipControls"),
    ("s3", "DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    ("s3", "DeleteBucketReplication", "PutReplicationConfiguration"),
    ("s3", "DeleteBucketTagging", "PutBucketTagging"),
    ("s3", "DeleteObjects", "DeleteObject"),
    ("s3", "GetBucketCors", "GetBucketCORS"),
    ("s3", "GetBucketEncryption", "GetEncryptionConfiguration"),
    ("s3", "GetBucketLifecycle", "GetLifecycleConfiguration"),
    ("s3", "GetBucketLifecycleConfiguration", "GetLifecycleConfiguration"),
    ("s3", "GetBucketReplication", "GetReplicationConfiguration"),
    ("s3", "HeadBucket", "ListBucket"),
    ("s3", "HeadObject", "GetObject"),
    ("s3", "ListBuckets", "ListAllMyBuckets"),
    ("s3", "ListMultipartUploadParts", "ListMultipartUploadParts"),
    ("s3", "ListObjectVersions", "ListBucketVersions"),
    ("s3", "ListObjects", "ListBucket"),
    ("s3", "ListObjectsV2", "ListBucket"),
    ("s3", "PutBucketCors", "PutBucketCORS"),
    ("s3", "PutBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "PutBucketLifecycle", "PutLifecycleConfiguration"),
    ("s3", "PutBucketLifecycleConfiguration", "PutLifecycleConfiguration"),
    ("s3", "PutBucketReplication", "PutReplicationConfiguration"),
    ("s3", "UploadPart", "PutObject"),
    ("s3", "UploadPartCopy", "PutObject"),
];

/// The (prefix, action name) pairs that authorize an API operation of another name, in any
/// service: `ListBuckets` -> (`s3`, `ListAllMyBuckets`). For error messages that name only
/// the operation (botocore's "when calling the X operation").
pub fn renamed_operation(operation: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    RENAMED.iter().filter(move |(_, e, _)| *e == operation).map(|(p, _, a)| (*p, *a))
}

/// The IAM service prefix for an event source (`iam.amazonaws.com` -> `iam`).
pub fn service_prefix(event_source: &str) -> &str {
    let host = event_source.strip_suffix(".amazonaws.com").unwrap_or(event_source);
    match SOURCE_PREFIX.binary_search_by(|(s, _)| (*s).cmp(host)) {
        Ok(i) => SOURCE_PREFIX.get(i).map_or(host, |(_, p)| p),
        Err(_) => host,
    }
}

/// Strips an API version appended to an event name: `ListFunctions20150331` ->
/// `ListFunctions`, `UpdateFunctionCode20150331v2` -> `UpdateFunctionCode`.
pub fn strip_api_version(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // Optional `v<digits>` suffix.
    let mut j = end;
    while j > 0 && b.get(j - 1).is_some_and(u8::is_ascii_digit) {
        j -= 1;
    }
    if j < end && j > 0 && b.get(j - 1) == Some(&b'v') {
        end = j - 1;
    }
    let mut k = end;
    while k > 0 && b.get(k - 1).is_some_and(u8::is_ascii_digit) {
        k -= 1;
    }
    if end - k == 8 && k > 0 {
        name.get(..k).unwrap_or(name)
    } else {
        name
    }
}

/// The result of mapping an event to an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// A catalog action.
    Action(ActionId),
    /// The candidate name is not in the catalog (reported, not used).
    Unknown(String),
}

/// Maps `eventSource` + `eventName` to the catalog action that authorizes the call.
pub fn action_for_event(catalog: &Catalog, event_source: &str, event_name: &str) -> Mapped {
    let prefix = service_prefix(event_source);
    let name = strip_api_version(event_name);
    let renamed = RENAMED
        .binary_search_by(|(p, e, _)| (*p, *e).cmp(&(prefix, name)))
        .ok()
        .and_then(|i| RENAMED.get(i))
        .map(|(_, _, a)| *a);
    let candidate = format!("{prefix}:{}", renamed.unwrap_or(name));
    match catalog.lookup(&candidate) {
        Some(id) => Mapped::Action(id),
        None => Mapped::Unknown(candidate),
    }
}

/// An action CloudTrail cannot show as an event of its own, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NeverLogged {
    /// The action, e.g. `iam:PassRole`.
    pub action: &'static str,
    /// Why no event records it.
    pub why: &'static str,
}

/// Actions that authorize something but never appear as an event's action, so recorded
/// activity cannot be evidence for (or against) them. Sorted by action.
///
/// Sources: IAM user guide, "Granting a user permissions to pass a role to an AWS service"
/// (`iam:PassRole` "is a permission only", no API call); IAM user guide, "Passing session tags
/// in AWS STS" and "Monitor and control actions taken with assumed roles" (`sts:TagSession`,
/// `sts:SetSourceIdentity` are checked during `AssumeRole*` and logged only as that call);
/// EC2 user guide, "Grant permission to tag resources during creation" (`ec2:CreateTags` is
/// checked inside `RunInstances`/`Create*` with tag specifications); Lambda developer guide,
/// "Logging Lambda API calls using CloudTrail" (`lambda:InvokeFunction` is a data event, off
/// unless data events are enabled); S3 user guide, "CloudTrail data events" (object-level
/// calls are data events, off by default).
const NEVER_LOGGED: &[NeverLogged] = &[
    NeverLogged {
        action: "ec2:CreateTags",
        why:
            "checked inside RunInstances/Create* calls with tag specifications; only direct CreateTags calls are logged",
    },
    NeverLogged {
        action: "iam:PassRole",
        why: "a permission only: checked when a role is handed to a service, logged as that service call",
    },
    NeverLogged {
        action: "lambda:InvokeFunction",
        why: "a data event: not logged unless the trail records Lambda data events",
    },
    NeverLogged { action: "s3:GetObject", why: "a data event: not logged unless the trail records S3 data events" },
    NeverLogged { action: "s3:PutObject", why: "a data event: not logged unless the trail records S3 data events" },
    NeverLogged {
        action: "sts:SetSourceIdentity",
        why: "a permission only: checked during AssumeRole*, logged as that call",
    },
    NeverLogged {
        action: "sts:TagSession",
        why: "a permission only: checked during AssumeRole* with session tags, logged as that call",
    },
];

/// The curated list of actions that recorded activity cannot show (see [`NeverLogged`]).
pub fn never_logged() -> &'static [NeverLogged] {
    NEVER_LOGGED
}

/// True when `action` is in [`never_logged`] (case-insensitive).
pub fn is_never_logged(action: &str) -> bool {
    NEVER_LOGGED.iter().any(|n| n.action.eq_ignore_ascii_case(action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted() {
        assert!(SOURCE_PREFIX.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        assert!(RENAMED.windows(2).all(|w| matches!(w, [a, b] if (a.0, a.1) < (b.0, b.1))));
        assert!(NEVER_LOGGED.windows(2).all(|w| matches!(w, [a, b] if a.action < b.action)));
    }

    #[test]
    fn known_mismatches() {
        let c = Catalog::embedded();
        let name = |s, e| match action_for_event(c, s, e) {
            Mapped::Action(id) => c.name(id),
            Mapped::Unknown(u) => format!("unknown {u}"),
        };
        assert_eq!(name("lambda.amazonaws.com", "ListFunctions20150331"), "lambda:ListFunctions");
        assert_eq!(name("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"), "lambda:UpdateFunctionCode");
        assert_eq!(name("s3.amazonaws.com", "ListBuckets"), "s3:ListAllMyBuckets");
        assert_eq!(name("monitoring.amazonaws.com", "PutMetricAlarm"), "cloudwatch:PutMetricAlarm");
        assert_eq!(name("iam.amazonaws.com", "GetRole"), "iam:GetRole");
        assert_eq!(name("signin.amazonaws.com", "ConsoleLogin"), "unknown signin:ConsoleLogin");
    }

    #[test]
    fn never_logged_actions_are_catalog_actions() {
        for n in never_logged() {
            assert!(Catalog::embedded().lookup(n.action).is_some(), "{}", n.action);
        }
        assert!(is_never_logged("iam:passrole"));
    }
}
