//! Random policy sets and requests for the differential test: every policy type, every
//! principal kind the engine tells apart, every operator family, policy variables with and
//! without values. Vocabularies are small on purpose, so that patterns, principals and
//! condition values hit the request often enough for the decisions to be interesting.

use iam_prune::eval::{Context, NamedPolicy, PolicySet};
use iam_prune::policy::parse_policy;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

pub const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:user/carol",
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:sts::111122223333:assumed-role/app/s1",
    "arn:aws:iam::111122223333:root",
    "arn:aws:sts::111122223333:federated-user/fed",
    "arn:aws:sts::444455556666:assumed-role/ext/s",
    "ec2.amazonaws.com",
    "anonymous",
];

pub const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:PassRole",
    "iam:GetPolicy",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "kms:Decrypt",
    "ec2:StartInstances",
    "dynamodb:GetItem",
];

pub const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/carol/x",
    "arn:aws:s3:::b/blue/x",
    "arn:aws:s3:::b/none/k",
    "arn:aws:s3:::b/*",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    "arn:aws:ec2:us-east:1:111122223333:instance/i-1",
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:kms:us-east-1:111122223333:key/k1",
    "arn:aws:sqs:us-east-1:444455556666:q",
];

const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:?etObject",
    "S3:GETOBJECT",
    "iam:*",
    "iam:PassRole",
    "sts:*",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "kms:Decrypt",
    "ec2:*Instances",
    "dynamodb:Get*",
];

const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::b/${aws:PrincipalTag/team, 'none'}/*",
    "arn:aws:s3:::b/${*}",
    "arn:aws:ec2:us-*1:*:instance/*",
    "arn:aws:ec2:*:111122223333:instance/i-?",
    "arn:aws:iam::*:role/app",
    "arn:aws:iam::aws:policy/*",
    "arn:aws:kms:*:111122223333:key/*",
    "arn:aws:sqs:us-east-1:444455556666:q",
    "arn:aws:*:*:111122223333:*",
];

const PRINCIPAL_ENTRIES: &[(&str, &str)] = &[
    ("AWS", "*"),
    ("AWS", "111122223333"),
    ("AWS", "arn:aws:iam::111122223333:root"),
    ("AWS", "arn:aws:iam::111122223333:role/app"),
    ("AWS", "arn:aws:sts::111122223333:assumed-role/app/s1"),
    ("AWS", "arn:aws:iam::111122223333:user/carol"),
    ("AWS", "444455556666"),
    ("AWS", "arn:aws:sts::444455556666:assumed-role/ext/s"),
    ("AWS", "arn:aws:sts::111122223333:federated-user/fed"),
    ("Service", "ec2.amazonaws.com"),
];

/// (key, values a request may carry; `None` = multivalued values).
const KEYS: &[(&str, &[&str])] = &[
    // `b*` and `x:y`: a variable's value is literal text, never a wildcard or a segment break.
    ("aws:PrincipalTag/team", &["blue", "red", "Blue", "b*", "x:y"]),
    ("aws:username", &["carol", "dave"]),
    ("aws:SourceIp", &["203.0.113.9", "198.51.100.1", "2001:db8::1", "garbage"]),
    ("aws:MultiFactorAuthAge", &["10", "5000", "x"]),
    ("aws:CurrentTime", &["2024-01-01T00:00:00Z", "1700000000", "soon"]),
    ("aws:SecureTransport", &["true", "false", "TRUE", "maybe"]),
    ("aws:ResourceAccount", &["111122223333", "444455556666"]),
    ("s3:prefix", &["home/carol/", "blue/x", "b*"]),
    ("aws:SourceArn", &["arn:aws:sns:us-east-1:111122223333:t", "arn:aws:sns:eu-west-1:444455556666:t"]),
    ("aws:ResourceTag/team", &["blue", "red"]),
];

const MULTI_KEYS: &[(&str, &[&str])] =
    &[("aws:TagKeys", &["team", "cost", "Team"]), ("aws:PrincipalTag/team", &["blue", "red"])];

/// A random condition: operator (with optional set prefix and IfExists), key, values.
fn condition(rng: &mut SmallRng) -> (String, String, Vec<String>) {
    let vars =
        ["${aws:PrincipalTag/team}", "${aws:username}", "${aws:PrincipalTag/team, 'blue'}", "${aws:ResourceTag/team}"];
    let pick = |rng: &mut SmallRng, xs: &[&str]| xs.choose(rng).map(|s| s.to_string()).unwrap_or_default();
    let family = rng.gen_range(0..9);
    let (ops, keys, values): (&[&str], &[&str], Vec<String>) = match family {
        0 => (
            &["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"],
            &[
                "aws:PrincipalTag/team",
                "aws:ResourceTag/team",
                "aws:username",
                "aws:PrincipalType",
                "aws:TagKeys",
                "aws:PrincipalAccount",
            ],
            vec![
                pick(
                    rng,
                    &["blue", "red", "BLUE", "carol", "AssumedRole", "Anonymous", "team", "111122223333", "anonymous"],
                ),
                pick(rng, &vars),
            ],
        ),
        1 => (
            &["StringLike", "StringNotLike"],
            &["s3:prefix", "aws:PrincipalArn", "aws:TagKeys", "aws:PrincipalTag/team"],
            vec![
                pick(rng, &["home/*", "b?ue*", "*", "arn:aws:iam::*:role/*", "t*"]),
                pick(rng, &["home/${aws:username}/*", "${aws:PrincipalTag/team}*", "x"]),
            ],
        ),
        2 => (
            &["NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericGreaterThanEquals"],
            &["aws:MultiFactorAuthAge"],
            vec![pick(rng, &["10", "3600", "ten"])],
        ),
        3 => (
            &["DateLessThan", "DateGreaterThan", "DateNotEquals", "DateLessThanEquals"],
            &["aws:CurrentTime"],
            vec![pick(rng, &["2024-01-01T00:00:00Z", "1700000000", "2030-01-01T00:00:00Z"])],
        ),
        4 => (&["Bool"], &["aws:SecureTransport"], vec![pick(rng, &["true", "false", "TRUE"])]),
        5 => (&["BinaryEquals"], &["aws:PrincipalTag/team"], vec![pick(rng, &["blue", "Ymx1ZQ=="])]),
        6 => (
            &["IpAddress", "NotIpAddress"],
            &["aws:SourceIp"],
            vec![pick(rng, &["203.0.113.0/24", "198.51.100.1", "2001:db8::/32", "10.0.0.0/33"])],
        ),
        7 => (
            &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
            &["aws:SourceArn", "aws:PrincipalArn"],
            vec![
                pick(
                    rng,
                    &["arn:aws:sns:*:111122223333:*", "arn:aws:sns:us-*1:*:t", "arn:aws:iam::111122223333:role/app"],
                ),
                pick(
                    rng,
                    &["arn:aws:sns:*:*:${aws:PrincipalTag/team}", "arn:aws:iam::111122223333:user/${aws:username}"],
                ),
            ],
        ),
        _ => (
            &["Null"],
            &["aws:PrincipalTag/team", "aws:TagKeys", "aws:username", "aws:SourceIp"],
            vec![pick(rng, &["true", "false"])],
        ),
    };
    let mut op = pick(rng, ops);
    if op != "Null" {
        if rng.gen_bool(0.25) {
            op = format!("{}{op}", pick(rng, &["ForAllValues:", "ForAnyValue:"]));
        }
        if rng.gen_bool(0.2) {
            op.push_str("IfExists");
        }
    }
    let n = rng.gen_range(1..=values.len());
    (op, pick(rng, keys), values.into_iter().take(n).collect())
}

/// `{"AWS": [...], "Service": [...]}` with one to `max` entries.
fn principal_map(rng: &mut SmallRng, max: usize) -> Value {
    let mut m = serde_json::Map::new();
    for _ in 0..rng.gen_range(1..=max) {
        let (kind, v) = PRINCIPAL_ENTRIES.choose(rng).copied().unwrap_or(("AWS", "*"));
        if let Value::Array(a) = m.entry(kind.to_string()).or_insert_with(|| json!([])) {
            a.push(json!(v));
        }
    }
    Value::Object(m)
}

fn some<'a>(rng: &mut SmallRng, xs: &[&'a str], max: usize) -> Vec<&'a str> {
    let n = rng.gen_range(1..=max);
    (0..n).filter_map(|_| xs.choose(rng).copied()).collect()
}

/// Which kind of document to generate: what its statements may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doc {
    /// Identity-based: no `Principal`.
    Identity,
    /// Boundary, session policy or SCP: no `Principal`, usually an allow-all next to the rest.
    Guard,
    /// RCP: `Principal: *` always, usually an allow-all.
    Rcp,
    /// Resource-based: `Principal`, `NotPrincipal`, `*`, sometimes none; sometimes no `Resource`.
    Resource,
}

/// One random statement.
fn statement(rng: &mut SmallRng, doc: Doc) -> Value {
    let effect = if rng.gen_bool(0.35) { "Deny" } else { "Allow" };
    let mut st = json!({"Effect": effect});
    let action_key = if rng.gen_bool(0.15) { "NotAction" } else { "Action" };
    st[action_key] = json!(some(rng, ACTION_PATTERNS, 3));
    // Trust policies omit the resource; identity-side statements always have one.
    if doc != Doc::Resource || rng.gen_bool(0.85) {
        let key = if rng.gen_bool(0.2) { "NotResource" } else { "Resource" };
        st[key] = json!(some(rng, RESOURCE_PATTERNS, 3));
    }
    match doc {
        Doc::Rcp => st["Principal"] = json!("*"),
        Doc::Resource => match rng.gen_range(0..10) {
            // A resource policy statement without a principal names nobody.
            0 => {}
            1 => st["Principal"] = json!("*"),
            2..=4 => st["NotPrincipal"] = principal_map(rng, 3),
            _ => st["Principal"] = principal_map(rng, 2),
        },
        Doc::Identity | Doc::Guard => {}
    }
    if rng.gen_bool(0.45) {
        let mut block = serde_json::Map::new();
        for _ in 0..rng.gen_range(1..=2) {
            let (op, key, values) = condition(rng);
            let ops = block.entry(op).or_insert_with(|| json!({}));
            ops[key] = json!(values);
        }
        st["Condition"] = Value::Object(block);
    }
    st
}

fn policy(rng: &mut SmallRng, name: &str, doc: Doc) -> NamedPolicy {
    let version = if rng.gen_bool(0.9) { "2012-10-17" } else { "2008-10-17" };
    let mut statements: Vec<Value> = (0..rng.gen_range(1..=3)).map(|_| statement(rng, doc)).collect();
    // A guard is mostly permissive, so that the other policy types still get to decide.
    let allow_all = match doc {
        Doc::Guard => Some(json!({"Effect": "Allow", "Action": "*", "Resource": "*"})),
        Doc::Rcp => Some(json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})),
        Doc::Identity | Doc::Resource => None,
    };
    if let Some(all) = allow_all.filter(|_| rng.gen_bool(0.6)) {
        statements.push(all);
    }
    let text = json!({"Version": version, "Statement": statements}).to_string();
    NamedPolicy::new(
        name,
        parse_policy(&text, name).unwrap_or_else(|e| panic!("generated policy does not parse: {e}\n{text}")),
    )
}

/// A random policy set.
pub fn policy_set(rng: &mut SmallRng) -> PolicySet {
    let mut set = PolicySet::default();
    for i in 0..rng.gen_range(0..=2) {
        set.identity.push(policy(rng, &format!("identity{i}"), Doc::Identity));
    }
    if rng.gen_bool(0.4) {
        set.boundary = Some(policy(rng, "boundary", Doc::Guard));
    }
    if rng.gen_bool(0.25) {
        set.session = Some(policy(rng, "session", Doc::Guard));
    }
    for i in 0..rng.gen_range(0..=2) {
        if rng.gen_bool(0.4) {
            set.scps.push(policy(rng, &format!("scp{i}"), Doc::Guard));
        }
    }
    if rng.gen_bool(0.25) {
        set.rcps.push(policy(rng, "rcp", Doc::Rcp));
    }
    for i in 0..rng.gen_range(0..=2) {
        set.resource.push(policy(rng, &format!("resource{i}"), Doc::Resource));
    }
    set
}

/// A random request context: a few keys, sometimes multivalued ones (empty included).
pub fn context(rng: &mut SmallRng) -> Context {
    let mut ctx = Context::new();
    for _ in 0..rng.gen_range(0..=4) {
        if let Some((k, vs)) = KEYS.choose(rng) {
            if let Some(v) = vs.choose(rng) {
                ctx.insert(k, *v);
            }
        }
    }
    if rng.gen_bool(0.4) {
        if let Some((k, vs)) = MULTI_KEYS.choose(rng) {
            let n = rng.gen_range(0..=vs.len());
            ctx.insert(k, vs.iter().take(n).copied().collect::<Vec<&str>>());
        }
    }
    ctx
}
