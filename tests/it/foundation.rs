//! Issue 2: policy documents, the embedded catalog, managed policies, expansion, lints.

use crate::common::*;
use iam_prune::catalog::Catalog;
use iam_prune::policy::{lint::lint, parse_policy, parse_policy_file};

#[test]
fn every_corpus_policy_parses() {
    let files = json_files(&shared("corpus/policies/awsdocs-iam-user-guide-examples"));
    assert_eq!(files.len(), 261, "the corpus should hold 261 policies");
    for f in files {
        parse_policy_file(&f).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_managed_policy_parses_and_expands() {
    let c = Catalog::embedded();
    assert_eq!(c.managed_policies().len(), 1_594);
    for m in c.managed_policies() {
        let p = m.policy().unwrap_or_else(|e| panic!("{e}"));
        // Expansion must not panic; most managed policies allow something.
        let _ = c.expand_policy(&p);
    }
}

#[test]
fn expansion_counts_of_full_access_policies() {
    for (name, expected) in [("IAMFullAccess", 200usize), ("AmazonEC2FullAccess", 0), ("AmazonS3FullAccess", 0)] {
        let (code, v) = iam_prune_json(&["expand", name, "--output", "json"]);
        assert_eq!(code, 0);
        let n = v["actions"].as_array().unwrap().len();
        assert_eq!(v["count"].as_u64().unwrap() as usize, n);
        if expected > 0 {
            assert_eq!(n, expected, "{name}");
        }
        // Every listed action must round-trip through the catalog.
        for a in v["actions"].as_array().unwrap() {
            assert!(Catalog::embedded().lookup(a.as_str().unwrap()).is_some(), "{a}");
        }
    }
    let (_, ec2) = iam_prune_json(&["expand", "AmazonEC2FullAccess", "--output", "json"]);
    let ec2_actions: Vec<&str> = ec2["actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(ec2_actions.contains(&"ec2:RunInstances") && ec2_actions.contains(&"iam:CreateServiceLinkedRole"));
    let (_, s3) = iam_prune_json(&["expand", "AmazonS3FullAccess", "--output", "json"]);
    let s3_actions = s3["actions"].as_array().unwrap();
    assert!(s3_actions
        .iter()
        .all(|a| a.as_str().unwrap().starts_with("s3:") || a.as_str().unwrap().starts_with("s3-object-lambda:")));
    assert_eq!(
        s3_actions.len(),
        Catalog::embedded()
            .expand_pattern("s3:*")
            .union(&Catalog::embedded().expand_pattern("s3-object-lambda:*"))
            .len()
    );
}

#[test]
fn broken_json_reports_line_and_column() {
    let dir = std::env::temp_dir().join(format!("iam-prune-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("broken.json");
    std::fs::write(&f, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"s3:*\"}\n  ]\n}\n").unwrap();
    let out = iam_prune(&["expand", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.json:4:24"), "{err}");
    assert!(err.contains("help:"), "{err}");
    let (code, v) = iam_prune_json(&["lint", f.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 1);
    assert_eq!(v["files"][0]["errors"][0]["line"], 4);
}

/// The policies quoted in the seed documents, with the lints each must raise.
#[test]
fn lints_on_seed_policies() {
    let c = Catalog::embedded();
    let seed000 = r#"{"Version": "2012-10-17","Statement": [{"Action": ["ec2:*","elasticbeanstalk:*","elasticmapreduce:*","s3:*","sns:*","iam:passrole","cloudformation:ListStackResources","cloudformation:DescribeStacks","autoscaling:DescribeAutoScalingGroups","redshift:DescribeClusters"],"Resource": "*","Effect": "Allow"}]}"#;
    let seed001 = r#"{"Version": "2012-10-17","Statement": [{"Effect": "Allow","Action": ["kinesis:DescribeStream","kinesis:PutRecord"],"Resource": ["${collector_stream_out_good}","${collector_stream_out_bad}"]}]}"#;
    let seed004 = r#"{"Version": "2022-10-17","Statement": [{"Sid": "","Effect": "Allow","Principal": {"AWS": "arn:aws:iam::<account_id>:role/<role_name>"},"Action": ["sts:AssumeRole"],"Condition": {"StringEquals": {"sts:ExternalId": "<external_id>"}}}]}"#;
    let codes = |t: &str| lint(&parse_policy(t, "seed").unwrap(), c).into_iter().map(|l| l.code).collect::<Vec<_>>();
    assert_eq!(codes(seed000), vec!["action-case"]);
    assert_eq!(codes(seed001), vec!["unresolved-placeholder", "unresolved-placeholder"]);
    assert!(codes(seed004).contains(&"invalid-version"));
}

#[test]
fn catalog_info_and_show() {
    let (code, v) = iam_prune_json(&["catalog", "info", "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["actions"], 22_091);
    assert_eq!(v["services"], 456);
    assert_eq!(v["date"], "2026-09-26");
    let (_, a) = iam_prune_json(&["catalog", "show", "iam:passrole", "--output", "json"]);
    assert_eq!(a["action"], "iam:PassRole");
    assert_eq!(a["access_level"], "Write");
    let out = iam_prune(&["catalog", "show", "nosuch:Thing"]);
    assert_eq!(out.status.code(), Some(1));
}
