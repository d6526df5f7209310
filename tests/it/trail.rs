//! Issue 6: CloudTrail. Over the shared corpus: every event read, exactly the denied ones
//! found with the actions their messages name; corrupt files reported and counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use iam_prune::catalog::Catalog;
use iam_prune::trail::{scan_paths, PrincipalFilter, ScanOptions, ScanReport};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The corpus sources (the folder also holds `denied_expected.jsonl`, which is not a trail).
fn corpus_sources() -> Vec<PathBuf> {
    let root = shared("corpus/cloudtrail");
    [
        "awsdocs-aws-cloudtrail-user-guide",
        "awsdocs-iam-user-guide",
        "cribl-aws-cloudtrail-logs",
        "panther-analysis",
        "plaso",
        "stratus-red-team",
        "trailscraper",
    ]
    .iter()
    .map(|d| root.join(d))
    .collect()
}

fn scan(paths: &[PathBuf], opts: &ScanOptions) -> ScanReport {
    scan_paths(Catalog::embedded(), paths, opts)
}

fn denied_opts() -> ScanOptions {
    ScanOptions { denied: true, ..ScanOptions::default() }
}

#[test]
fn every_event_of_every_source_is_read() {
    let r = scan(&corpus_sources(), &denied_opts());
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert_eq!(r.files, 200);
    assert_eq!(r.events, 1_084);
}

#[test]
fn events_per_source() {
    let root = shared("corpus/cloudtrail");
    for (dir, events, denied) in [
        ("stratus-red-team", 310, 51),
        ("panther-analysis", 486, 38),
        ("cribl-aws-cloudtrail-logs", 249, 0),
        ("trailscraper", 7, 0),
        ("plaso", 6, 0),
    ] {
        let r = scan(&[root.join(dir)], &denied_opts());
        assert_eq!((r.events, r.denied.len()), (events, denied), "{dir}");
    }
    let docs =
        scan(&[root.join("awsdocs-aws-cloudtrail-user-guide"), root.join("awsdocs-iam-user-guide")], &denied_opts());
    assert_eq!(docs.events, 26);
}

#[derive(serde::Deserialize, Debug)]
struct Expected {
    file: String,
    #[serde(rename = "eventSource")]
    event_source: String,
    #[serde(rename = "eventName")]
    event_name: String,
    #[serde(rename = "errorCode")]
    error_code: String,
    action_from_message: Option<String>,
}

#[test]
fn exactly_the_expected_denials_with_their_message_actions() {
    let root = shared("corpus/cloudtrail");
    let text = std::fs::read_to_string(root.join("denied_expected.jsonl")).unwrap();
    let expected: Vec<Expected> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(expected.len(), 89);
    let r = scan(&corpus_sources(), &denied_opts());
    assert_eq!(r.denied.len(), 89);
    let prefix = format!("{}/", root.display());
    // Compare as multisets keyed by (file, source, name, code, message action).
    let mut want: BTreeMap<(String, String, String, String, Option<String>), i32> = BTreeMap::new();
    for e in &expected {
        *want
            .entry((
                e.file.clone(),
                e.event_source.clone(),
                e.event_name.clone(),
                e.error_code.clone(),
                e.action_from_message.clone(),
            ))
            .or_default() += 1;
    }
    let mut got: BTreeMap<(String, String, String, String, Option<String>), i32> = BTreeMap::new();
    for d in &r.denied {
        let file = d.file.strip_prefix(&prefix).unwrap_or(&d.file).to_string();
        *got.entry((
            file,
            d.event_source.clone(),
            d.event_name.clone(),
            d.error_code.clone(),
            d.message_action.clone(),
        ))
        .or_default() += 1;
    }
    assert_eq!(got, want);
    // Every action the message names is recovered; catalog actions become the denial's action.
    let c = Catalog::embedded();
    for d in &r.denied {
        if let Some(m) = &d.message_action {
            if c.lookup(m).is_some() {
                assert_eq!(d.action.as_deref(), Some(m.as_str()), "{d:?}");
            } else {
                assert_eq!(d.unknown_action.as_deref(), Some(m.as_str()), "placeholder actions are reported: {d:?}");
            }
        }
        if let Some(a) = &d.action {
            assert!(c.lookup(a).is_some(), "actions are catalog actions: {a}");
        }
    }
}

#[test]
fn denials_carry_kind_policy_type_and_encoded_message() {
    let r = scan(&corpus_sources(), &denied_opts());
    let vpce: Vec<_> = r.denied.iter().filter(|d| d.error_code == "VpceAccessDenied").collect();
    assert_eq!(vpce.len(), 1);
    assert_eq!(vpce[0].kind, iam_prune::trail::DenialKind::VpceAccessDenied);
    let pw = r
        .denied
        .iter()
        .find(|d| d.action.as_deref() == Some("ec2:GetPasswordData") && d.file.contains("stratus"))
        .unwrap();
    assert_eq!(pw.denied_by, Some(iam_prune::trail::DeniedBy::IdentityBased));
    assert!(pw.resource.as_deref().unwrap().starts_with("arn:aws:ec2:"));
    assert!(pw.principal.as_deref().unwrap().contains("assumed-role"));
    // Versioned event names map to the action.
    let lf = r.denied.iter().find(|d| d.event_name == "ListFunctions20150331").unwrap();
    assert_eq!(lf.action.as_deref(), Some("lambda:ListFunctions"));
    // S3 "Access Denied" names no action: mapped from the event.
    let s3 = r.denied.iter().find(|d| d.event_name == "PutBucketVersioning").unwrap();
    assert_eq!(s3.action.as_deref(), Some("s3:PutBucketVersioning"));
    assert!(s3.message_action.is_none());
}

#[test]
fn ordinary_errors_in_the_cribl_capture_are_not_denials() {
    let r = scan(&[shared("corpus/cloudtrail/cribl-aws-cloudtrail-logs")], &denied_opts());
    assert_eq!(r.events, 249);
    assert!(r.denied.is_empty());
}

#[test]
fn principal_filter_and_time_window() {
    let role = "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role";
    let opts = ScanOptions { principal: Some(PrincipalFilter::new(role)), ..denied_opts() };
    let r = scan(&corpus_sources(), &opts);
    assert!(!r.denied.is_empty());
    assert!(r.denied.iter().all(|d| d
        .principal
        .as_deref()
        .unwrap()
        .contains("stratus-red-team-ec2-get-password-data-role")));
    let early = ScanOptions { until: iam_prune::trail::parse_time("2000-01-01"), ..denied_opts() };
    assert!(scan(&corpus_sources(), &early).denied.is_empty());
}

fn fixture(rel: &str) -> String {
    root().join("tests/fixtures/trail").join(rel).display().to_string()
}

#[test]
fn corrupt_files_are_reported_and_counted_and_the_rest_processed() {
    let (code, v) = iam_prune_json(&["denied", &fixture("corrupt"), "--output", "json"]);
    assert_eq!(code, 1, "errors set the exit code");
    assert_eq!(v["files"], 4);
    assert_eq!(v["events"], 9, "the good file is read in full");
    assert_eq!(v["denied"].as_array().unwrap().len(), 2);
    let errors = v["errors"].as_array().unwrap();
    let mut by_file: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap().rsplit('/').next().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_file.sort();
    assert_eq!(by_file.len(), 3, "{by_file:?}");
    assert_eq!(by_file[0].0, "invalid.json");
    assert!(by_file[0].1.contains("not valid JSON"), "{}", by_file[0].1);
    assert_eq!(by_file[1].0, "not-cloudtrail.json");
    assert!(by_file[1].1.contains("not a CloudTrail file"));
    assert_eq!(by_file[2].0, "truncated.json.gz");
    assert!(by_file[2].1.contains("gzip"), "{}", by_file[2].1);
}

#[test]
fn denied_json_has_the_documented_fields() {
    let (code, v) = iam_prune_json(&["denied", &fixture("trail"), "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["files"], 1, "digest folders are skipped");
    let denied = v["denied"].as_array().unwrap();
    assert_eq!(denied.len(), 2, "NoSuchBucketPolicy is not a denial");
    for key in ["file", "time", "principal", "eventSource", "eventName", "errorCode", "action", "resource", "denied_by"]
    {
        assert!(denied[0].get(key).is_some(), "missing `{key}`");
    }
    let kms = denied.iter().find(|d| d["action"] == "kms:Decrypt").unwrap();
    assert_eq!(kms["kind"], "explicit_deny");
    assert_eq!(kms["denied_by"], "scp");
    let sqs = denied.iter().find(|d| d["action"] == "sqs:SendMessage").unwrap();
    assert_eq!(sqs["denied_by"], "identity-based");
    assert_eq!(sqs["resource"], "arn:aws:sqs:eu-west-1:111122223333:jobs");
}

#[test]
fn denied_policy_grants_exactly_the_denied_actions_on_their_resources() {
    let out = iam_prune(&["denied", &fixture("trail"), "--policy"]);
    assert_eq!(out.status.code(), Some(0));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = p["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 1, "the explicit deny is not granted: {p}");
    assert_eq!(st[0]["Action"], serde_json::json!(["sqs:SendMessage"]));
    assert_eq!(st[0]["Resource"], serde_json::json!(["arn:aws:sqs:eu-west-1:111122223333:jobs"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("explicit deny"));
}

#[test]
fn record_reports_activity_and_writes_a_likely_file() {
    let likely = std::env::temp_dir().join(format!("iam-prune-likely-{}.json", std::process::id()));
    let (code, v) = iam_prune_json(&[
        "record",
        &fixture("trail"),
        "--principal",
        "arn:aws:iam::111122223333:role/app/AppRole",
        "--likely-out",
        likely.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["principal_events"], 8, "alice's call is not the role's");
    let actions: Vec<&str> = v["actions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["dynamodb:DescribeTable", "lambda:GetFunction", "s3:ListAllMyBuckets"]);
    let list = &v["actions"][2];
    assert_eq!(list["count"], 2);
    assert_eq!(list["first_seen"], "2024-05-01T10:00:00Z");
    assert_eq!(list["last_seen"], "2024-05-03T10:00:00Z");
    assert_eq!(
        v["actions"][0]["resources"],
        serde_json::json!(["arn:aws:dynamodb:eu-west-1:111122223333:table/orders"])
    );
    assert_eq!(v["unmapped"][0]["event"], "signin.amazonaws.com:ConsoleLogin");
    assert!(v["never_logged"].as_array().unwrap().iter().any(|n| n["action"] == "iam:PassRole"));
    let read = iam_prune::trail::read_likely(&likely).unwrap();
    std::fs::remove_file(&likely).ok();
    assert_eq!(
        read,
        ["dynamodb:DescribeTable", "kms:Decrypt", "lambda:GetFunction", "s3:ListAllMyBuckets", "sqs:SendMessage"]
    );
    // The time window narrows the activity.
    let (_, v) = iam_prune_json(&[
        "record",
        &fixture("trail"),
        "--principal",
        "ASIAEXAMPLE",
        "--since",
        "2024-05-02",
        "--until",
        "2024-05-03",
        "--output",
        "json",
    ]);
    assert_eq!(v["actions"].as_array().unwrap().len(), 2);
}
