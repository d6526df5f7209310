//! The evaluation engine: the JSON conformance cases under `tests/conformance/`, property
//! tests for the matchers, every corpus policy against generated requests, and the
//! `iam-prune eval` command.

use crate::common::{iam_prune, iam_prune_json, json_files, root, shared};
use iam_prune::catalog::Catalog;
use iam_prune::eval::{Context, ContextValue, DecisionKind, Evaluator, NamedPolicy, PolicySet, Request};
use iam_prune::policy::{parse_policy, parse_policy_file};
use proptest::prelude::*;
use serde_json::Value;

const DEFAULT_PRINCIPAL: &str = "arn:aws:iam::111122223333:role/app";

/// A policy in a case: a managed policy name, or the document inline.
fn load(v: &Value, what: &str) -> NamedPolicy {
    match v {
        Value::String(name) => {
            let (n, p) = Catalog::embedded().load_policy(name).unwrap_or_else(|e| panic!("{what}: {e}"));
            NamedPolicy::new(n, p)
        }
        doc => NamedPolicy::new(what, parse_policy(&doc.to_string(), what).unwrap_or_else(|e| panic!("{what}: {e}"))),
    }
}

fn list(v: Option<&Value>, what: &str) -> Vec<NamedPolicy> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().enumerate().map(|(i, p)| load(p, &format!("{what}[{i}]"))).collect())
        .unwrap_or_default()
}

fn policy_set(p: &Value) -> PolicySet {
    PolicySet {
        identity: list(p.get("identity"), "identity"),
        boundary: p.get("boundary").map(|b| load(b, "boundary")),
        session: p.get("session").map(|b| load(b, "session")),
        scps: list(p.get("scps"), "scp"),
        rcps: list(p.get("rcps"), "rcp"),
        resource: list(p.get("resource"), "resource"),
    }
}

fn context(v: Option<&Value>) -> Context {
    let mut ctx = Context::new();
    for (k, v) in v.and_then(Value::as_object).into_iter().flatten() {
        let value = match v {
            Value::Array(a) => ContextValue::Multi(
                a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect(),
            ),
            Value::String(s) => ContextValue::Single(s.clone()),
            other => ContextValue::Single(other.to_string()),
        };
        ctx.insert(k, value);
    }
    ctx
}

#[test]
fn conformance_cases() {
    let files = json_files(&root().join("tests/conformance"));
    assert!(files.len() >= 8, "expected one case file per rule family, found {}", files.len());
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let fname = file.file_name().unwrap().to_string_lossy().to_string();
        for case in doc["cases"].as_array().unwrap() {
            count += 1;
            let name = case["name"].as_str().unwrap();
            let set = policy_set(&case["policies"]);
            let compiled = Evaluator::compile(&set);
            if let Some(want) = case.get("expect_error").and_then(Value::as_str) {
                match compiled {
                    Err(e) if e.to_string().contains(want) => {}
                    Err(e) => failures.push(format!("{fname}: {name}: error `{e}` does not contain `{want}`")),
                    Ok(_) => failures.push(format!("{fname}: {name}: compiled, expected error `{want}`")),
                }
                continue;
            }
            let ev = compiled.unwrap_or_else(|e| panic!("{fname}: {name}: {e}"));
            let r = &case["request"];
            let ctx = context(r.get("context"));
            let req = Request {
                principal: r.get("principal").and_then(Value::as_str).unwrap_or(DEFAULT_PRINCIPAL),
                action: r["action"].as_str().unwrap(),
                resource: r.get("resource").and_then(Value::as_str).unwrap_or("*"),
                context: &ctx,
            };
            let d = ev.evaluate(&req);
            let want = case["expect"].as_str().unwrap();
            if d.kind.as_str() != want {
                failures.push(format!("{fname}: {name}: got {} ({}), expected {want}", d.kind.as_str(), d.reason));
            }
            if let Some(want) = case.get("reason") {
                let got = serde_json::to_value(d.reason).unwrap();
                if got != *want {
                    failures.push(format!("{fname}: {name}: reason {got}, expected {want}"));
                }
            }
            if ev.decide(&req) != d.kind {
                failures.push(format!("{fname}: {name}: decide() and evaluate() disagree"));
            }
            if let Some(m) = case.get("matched").and_then(Value::as_array) {
                let got: Vec<&str> = d.matched.iter().map(|m| m.statement.as_str()).collect();
                let want: Vec<&str> = m.iter().filter_map(Value::as_str).collect();
                if got != want {
                    failures.push(format!("{fname}: {name}: matched {got:?}, expected {want:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} conformance cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(count >= 100, "only {count} cases");
}

proptest! {
    #[test]
    fn action_matching_agrees_with_reference(p in "[aBc:*?]{0,8}", s in "[AbC:]{0,10}") {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{},"Resource":"*"}}]}}"#, serde_json::json!(p));
        let Ok(policy) = parse_policy(&doc, "prop") else { return Ok(()) };
        let ev = Evaluator::compile(&PolicySet { identity: vec![NamedPolicy::new("p", policy)], ..Default::default() }).unwrap();
        let ctx = Context::new();
        let got = ev.decide(&Request { principal: DEFAULT_PRINCIPAL, action: &s, resource: "*", context: &ctx }) == DecisionKind::Allow;
        let want = iam_prune::pattern::reference_match(&p.to_lowercase(), &s.to_lowercase());
        prop_assert_eq!(got, want, "pattern {:?} action {:?}", p, s);
    }

    #[test]
    fn resource_matching_agrees_with_reference(p in "arn:[ab:*?/]{0,8}", s in "arn:[ab:/]{0,10}") {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":{}}}]}}"#, serde_json::json!(p));
        let policy = parse_policy(&doc, "prop").unwrap();
        let ev = Evaluator::compile(&PolicySet { identity: vec![NamedPolicy::new("p", policy)], ..Default::default() }).unwrap();
        // Generated ARNs have junk account fields: pin the resource to the caller's account.
        let mut ctx = Context::new();
        ctx.insert("aws:ResourceAccount", "111122223333");
        let got = ev.decide(&Request { principal: DEFAULT_PRINCIPAL, action: "s3:GetObject", resource: &s, context: &ctx }) == DecisionKind::Allow;
        prop_assert_eq!(got, iam_prune::eval::reference_arn_match(&p, &s), "pattern {:?} resource {:?}", p, s);
    }
}

/// Resource patterns for the order property: plain, segment-wildcard, and with variables
/// that have a value for some callers only.
const ORDER_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
    "arn:aws:s3:::other/*",
    "arn:aws:ec2:us-*1:*:instance/*",
];

proptest! {
    /// A `Resource`/`NotResource` list is a set: its order never changes a decision, in any
    /// policy type, whichever entries hold variables without a value.
    #[test]
    fn resource_list_order_does_not_matter(
        list in proptest::collection::vec(proptest::sample::select(ORDER_PATTERNS), 1..5).prop_shuffle(),
        rotate in 0usize..4,
        negated in any::<bool>(),
        deny in any::<bool>(),
        place in 0usize..5,
        principal in proptest::sample::select(vec![DEFAULT_PRINCIPAL, "arn:aws:iam::111122223333:user/carol"]),
        resource in proptest::sample::select(vec!["arn:aws:s3:::b/carol/x", "arn:aws:s3:::b/x", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"]),
    ) {
        let decide = |entries: &[&str]| {
            let key = if negated { "NotResource" } else { "Resource" };
            let effect = if deny { "Deny" } else { "Allow" };
            let mut st = serde_json::json!({"Effect": effect, "Action": "*", key: entries});
            if place == 4 {
                st["Principal"] = serde_json::json!("*");
            }
            let allow_all = serde_json::json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
            let doc = |sts: Vec<Value>| {
                let text = serde_json::json!({"Version": "2012-10-17", "Statement": sts}).to_string();
                NamedPolicy::new("p", parse_policy(&text, "p").unwrap())
            };
            let mut set = PolicySet { identity: vec![doc(vec![allow_all.clone()])], ..Default::default() };
            match place {
                0 => set.identity.push(doc(vec![st])),
                1 => set.boundary = Some(doc(vec![allow_all, st])),
                2 => set.session = Some(doc(vec![allow_all, st])),
                3 => set.scps.push(doc(vec![allow_all, st])),
                _ => set.resource.push(doc(vec![st])),
            }
            let ev = Evaluator::compile(&set).unwrap();
            let ctx = Context::new();
            ev.decide(&Request { principal, action: "s3:GetObject", resource, context: &ctx })
        };
        let mut other = list.clone();
        other.rotate_left(rotate % list.len());
        other.reverse();
        prop_assert_eq!(decide(&list), decide(&other), "{:?} against {:?}", list, other);
    }
}

/// Every documented example policy evaluates, under every policy type, against generated
/// requests without panicking; compile errors are allowed only for documents IAM rejects.
#[test]
fn corpus_policies_evaluate_without_panic() {
    let dir = shared("corpus/policies/awsdocs-iam-user-guide-examples");
    let config = proptest::test_runner::Config { cases: 64, failure_persistence: None, ..Default::default() };
    let requests = std::cell::Cell::new(0usize);
    let actions = [
        "s3:GetObject",
        "iam:PassRole",
        "ec2:RunInstances",
        "sts:AssumeRole",
        "kms:Decrypt",
        "dynamodb:GetItem",
        "*",
        "x",
    ];
    let resources = [
        "*",
        "arn:aws:s3:::amzn-s3-demo-bucket/home/carol/x",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
        "arn:aws:iam::111122223333:role/app",
        "arn:aws:dynamodb:us-east-1:444455556666:table/t",
        "",
    ];
    let principals = [
        DEFAULT_PRINCIPAL,
        "arn:aws:sts::111122223333:assumed-role/app/s",
        "arn:aws:iam::111122223333:user/carol",
        "arn:aws:iam::111122223333:root",
        "ec2.amazonaws.com",
        "nonsense",
    ];
    let keys = [
        "aws:SourceIp",
        "aws:username",
        "aws:PrincipalTag/team",
        "aws:RequestTag/project",
        "aws:TagKeys",
        "aws:CurrentTime",
        "aws:MultiFactorAuthAge",
        "aws:SecureTransport",
        "s3:prefix",
        "ec2:InstanceType",
        "aws:RequestedRegion",
    ];
    let (mut compiled, mut evaluated) = (0, 0);
    for file in json_files(&dir) {
        let Ok(policy) = parse_policy_file(&file) else { continue };
        let np = NamedPolicy::new(file.display().to_string(), policy);
        let sets = [
            PolicySet { identity: vec![np.clone()], ..Default::default() },
            PolicySet { resource: vec![np.clone()], boundary: Some(np.clone()), ..Default::default() },
            PolicySet {
                scps: vec![np.clone()],
                session: Some(np.clone()),
                identity: vec![np.clone()],
                ..Default::default()
            },
        ];
        for set in &sets {
            let Ok(ev) = Evaluator::compile(set) else { continue };
            compiled += 1;
            let strat = (
                0..actions.len(),
                0..resources.len(),
                0..principals.len(),
                proptest::collection::vec((0..keys.len(), "[a-z0-9./:*-]{0,12}"), 0..4),
            );
            // A fresh runner per set: a runner counts cases across runs.
            let mut runner = proptest::test_runner::TestRunner::new_with_rng(
                config.clone(),
                proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
            );
            runner
                .run(&strat, |(a, r, p, kv)| {
                    let mut ctx = Context::new();
                    for (k, v) in kv {
                        ctx.insert(keys[k], v.as_str());
                    }
                    ctx.insert("aws:TagKeys", vec!["team", "cost"]);
                    let req =
                        Request { principal: principals[p], action: actions[a], resource: resources[r], context: &ctx };
                    requests.set(requests.get() + 1);
                    let d = ev.evaluate(&req);
                    prop_assert_eq!(d.kind, ev.decide(&req));
                    Ok(())
                })
                .unwrap();
            evaluated += 1;
        }
    }
    assert!(compiled > 200, "only {compiled} corpus policy sets compiled");
    assert!(evaluated == compiled);
    eprintln!("corpus: {compiled} policy sets compiled, {} requests evaluated", requests.get());
}

#[test]
fn cli_single_request_exit_codes_and_json() {
    let (code, v) = iam_prune_json(&[
        "eval",
        "--policy",
        "IAMFullAccess",
        "--action",
        "iam:PassRole",
        "--resource",
        "arn:aws:iam::111122223333:role/x",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["decision"], "Allow");
    assert_eq!(v["matched"][0]["policy"], "IAMFullAccess");
    let (code, v) = iam_prune_json(&[
        "eval",
        "--policy",
        "AmazonEC2FullAccess",
        "--action",
        "iam:CreateServiceLinkedRole",
        "--context",
        "iam:AWSServiceName=spot.amazonaws.com",
        "--output",
        "json",
    ]);
    assert_eq!((code, v["decision"].as_str()), (0, Some("Allow")));
    let (code, v) = iam_prune_json(&[
        "eval",
        "--policy",
        "AmazonEC2FullAccess",
        "--action",
        "iam:CreateServiceLinkedRole",
        "--output",
        "json",
    ]);
    assert_eq!((code, v["decision"].as_str()), (3, Some("ImplicitDeny")));
}

#[test]
fn cli_batch_in_order_and_errors_name_the_line() {
    let dir = std::env::temp_dir().join(format!("iam-prune-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.jsonl");
    std::fs::write(&good, "{\"action\":\"iam:GetRole\"}\n\n{\"action\":\"s3:GetObject\",\"resource\":\"arn:aws:s3:::b/k\",\"context\":{\"aws:TagKeys\":[\"a\"]}}\n").unwrap();
    let out = iam_prune(&["eval", "--policy", "IAMFullAccess", "--requests", good.to_str().unwrap()]);
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"], "Allow");
    assert_eq!(lines[1]["decision"], "ImplicitDeny");
    assert_eq!(out.status.code(), Some(3));
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"action\":\"iam:GetRole\"}\n{\"action\": 1}\n").unwrap();
    let out = iam_prune(&["eval", "--policy", "IAMFullAccess", "--requests", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn cli_trust_policy_with_external_id() {
    let dir = std::env::temp_dir().join(format!("iam-prune-eval-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trust = dir.join("trust.json");
    std::fs::write(&trust, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/engine"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"finance-235A9df84iK"}}}]}"#).unwrap();
    let base = [
        "eval",
        "--resource-policy",
        trust.to_str().unwrap(),
        "--action",
        "sts:AssumeRole",
        "--resource",
        "arn:aws:iam::111122223333:role/finance",
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/engine/s",
    ];
    let ok = iam_prune(&[&base[..], &["--context", "sts:ExternalId=finance-235A9df84iK"]].concat());
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
    let no = iam_prune(&base);
    assert_eq!(no.status.code(), Some(3));
}
