//! Decisions per second of the evaluator on one core, with PASS/FAIL against its floors.
//! Run with `cargo bench --bench eval` (`-- --markdown` prints the section of
//! docs/benchmarks.md instead).

use iam_prune::catalog::Catalog;
use iam_prune::eval::batch::{write_decision_line, RequestLine};
use iam_prune::eval::{Context, DecisionKind, Evaluator, NamedPolicy, PolicySet, Request};
use iam_prune::policy::parse_policy;
use std::hint::black_box;
use std::time::{Duration, Instant};

const PRINCIPAL: &str = "arn:aws:sts::111122223333:assumed-role/app/session";

fn managed(name: &str) -> NamedPolicy {
    let (n, p) = Catalog::embedded().load_policy(name).unwrap_or_else(|e| panic!("{e}"));
    NamedPolicy::new(n, p)
}

fn doc(name: &str, text: &str) -> NamedPolicy {
    NamedPolicy::new(name, parse_policy(text, name).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs `f` over the requests repeatedly for about a second; returns decisions per second.
fn measure(label: &str, reqs: &[Request<'_>], f: impl Fn(&Request<'_>) -> DecisionKind) -> f64 {
    let mut allowed = 0usize;
    for r in reqs {
        allowed += usize::from(f(r) == DecisionKind::Allow);
    }
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_millis(1500) {
        for r in reqs {
            black_box(f(black_box(r)));
        }
        n += reqs.len();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    eprintln!("{label:<58} {:>12.0} decisions/s  ({allowed}/{} of the request mix allowed)", rate, reqs.len());
    rate
}

/// Thousands separators, as the docs write numbers.
fn grouped(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it:
    // then only check that it starts, so the test suite does not spend minutes measuring.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let ctx = Context::new();

    // 1. IAMFullAccess, action-only requests.
    let ev1 = Evaluator::compile(&PolicySet { identity: vec![managed("IAMFullAccess")], ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    let actions = [
        "iam:PassRole",
        "iam:GetInstanceProfile",
        "IAM:CreateRole",
        "organizations:DescribeOrganization",
        "s3:GetObject",
        "ec2:RunInstances",
        "iam:ListRoles",
        "kms:Decrypt",
    ];
    let reqs1: Vec<Request<'_>> =
        actions.iter().map(|a| Request { principal: PRINCIPAL, action: a, resource: "*", context: &ctx }).collect();
    let mut results: Vec<(&str, f64, &str)> = Vec::new();
    let decide1 = measure("IAMFullAccess, action-only (decide)", &reqs1, |r| ev1.decide(r));
    results.push(("IAMFullAccess, action-only requests (`Evaluator::decide`)", decide1, "decisions/s"));
    let evaluate1 =
        measure("IAMFullAccess, action-only (evaluate, with matched list)", &reqs1, |r| ev1.evaluate(r).kind);
    results.push((
        "IAMFullAccess, action-only, with the matched-statement list (`evaluate`)",
        evaluate1,
        "decisions/s",
    ));

    // 2. AmazonEC2FullAccess plus a Deny with ARN patterns.
    let deny = doc(
        "deny-prod",
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Deny","Action":["ec2:TerminateInstances","ec2:StopInstances"],"Resource":["arn:aws:ec2:*:111122223333:instance/prod-*","arn:aws:ec2:us-*-1:*:volume/vol-*keep"]},
        {"Effect":"Deny","NotAction":["ec2:Describe*","ec2:Get*"],"Resource":"arn:aws:ec2:eu-*:*:*"}]}"#,
    );
    let ev2 =
        Evaluator::compile(&PolicySet { identity: vec![managed("AmazonEC2FullAccess"), deny], ..Default::default() })
            .unwrap_or_else(|e| panic!("{e}"));
    let r2 = [
        ("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:111122223333:instance/prod-42"),
        ("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:111122223333:instance/dev-42"),
        ("ec2:StopInstances", "arn:aws:ec2:us-west-1:111122223333:volume/vol-123keep"),
        ("ec2:RunInstances", "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"),
        ("ec2:DescribeInstances", "*"),
        (
            "elasticloadbalancing:CreateLoadBalancer",
            "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/x/1",
        ),
        ("iam:PassRole", "arn:aws:iam::111122223333:role/x"),
        ("cloudwatch:PutMetricData", "*"),
    ];
    let reqs2: Vec<Request<'_>> =
        r2.iter().map(|(a, r)| Request { principal: PRINCIPAL, action: a, resource: r, context: &ctx }).collect();
    let ec2 = measure("AmazonEC2FullAccess + Deny with ARN patterns (decide)", &reqs2, |r| ev2.decide(r));
    results.push(("AmazonEC2FullAccess plus a Deny with ARN patterns (`decide`)", ec2, "decisions/s"));

    // 3. Conditions and variables.
    let cond = doc(
        "conditions",
        r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Home","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/home/${aws:PrincipalTag/team}/${aws:userid, 'none'}/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},
        {"Sid":"Tagged","Effect":"Allow","Action":["ec2:StartInstances","ec2:StopInstances"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"},"IpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24"]},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
        {"Sid":"Tags","Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["team","cost-*"]},"Null":{"aws:TagKeys":"false"}}},
        {"Sid":"NoOutside","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24","192.0.2.0/24"]},"BoolIfExists":{"aws:ViaAWSService":"false"}}},
        {"Sid":"Region","Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}"#,
    );
    let ev3 =
        Evaluator::compile(&PolicySet { identity: vec![cond], ..Default::default() }).unwrap_or_else(|e| panic!("{e}"));
    let mut c = Context::new();
    c.insert("aws:PrincipalTag/team", "blue");
    c.insert("aws:userid", "AROAEXAMPLE:session");
    c.insert("aws:SecureTransport", "true");
    c.insert("aws:SourceIp", "203.0.113.9");
    c.insert("aws:CurrentTime", "2026-05-01T12:00:00Z");
    c.insert("aws:ResourceTag/team", "blue");
    c.insert("aws:RequestedRegion", "us-east-1");
    c.insert("aws:TagKeys", vec!["team", "cost-center"]);
    let r3 = [
        ("s3:GetObject", "arn:aws:s3:::bucket/home/blue/AROAEXAMPLE:session/a.txt"),
        ("s3:GetObject", "arn:aws:s3:::bucket/home/red/AROAEXAMPLE:session/a.txt"),
        ("ec2:StartInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
        ("ec2:CreateTags", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
        ("iam:PassRole", "arn:aws:iam::111122223333:role/x"),
    ];
    let reqs3: Vec<Request<'_>> =
        r3.iter().map(|(a, r)| Request { principal: PRINCIPAL, action: a, resource: r, context: &c }).collect();
    let conditions = measure("conditions and variables (decide)", &reqs3, |r| ev3.decide(r));
    results.push(("conditions and policy variables (`decide`)", conditions, "decisions/s"));

    // 4. Batch mode end to end: JSON lines parsed, decided with matched lists, written as JSON.
    let lines: Vec<String> = (0..20_000)
        .map(|i| {
            let (a, r) = r3[i % r3.len()];
            format!(r#"{{"action":"{a}","resource":"{r}","principal":"{PRINCIPAL}","context":{{"aws:PrincipalTag/team":"blue","aws:userid":"AROAEXAMPLE:session","aws:SecureTransport":"true","aws:SourceIp":"203.0.113.9","aws:CurrentTime":"2026-05-01T12:00:00Z","aws:ResourceTag/team":"blue","aws:RequestedRegion":"us-east-1","aws:TagKeys":["team","cost-center"]}}}}"#)
        })
        .collect();
    let t = Instant::now();
    let parsed: Vec<RequestLine> =
        lines.iter().map(|l| RequestLine::parse(l).unwrap_or_else(|e| panic!("{e}"))).collect();
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut out = Vec::with_capacity(lines.len() * 200);
    for r in &parsed {
        let d = ev3.evaluate(&r.request(PRINCIPAL));
        write_decision_line(&mut out, &d).unwrap_or_else(|e| panic!("{e}"));
    }
    let eval_s = t.elapsed().as_secs_f64();
    let n = lines.len() as f64;
    results.push(("batch mode: JSON parsing of request lines (8 context keys each)", n / parse_s, "lines/s"));
    results.push(("batch mode: evaluate + JSON decision output (conditions set)", n / eval_s, "decisions/s"));
    results.push(("batch mode end to end (parse + evaluate + output)", n / (parse_s + eval_s), "requests/s"));
    black_box(out);
    let floors = [
        (decide1 >= 2_000_000.0, "IAMFullAccess action-only decide at least 2,000,000 decisions/s"),
        (conditions >= 500_000.0, "conditions and variables at least 500,000 decisions/s"),
    ];
    if std::env::args().any(|a| a == "--markdown") {
        println!(
            "Command: `cargo bench --bench eval -- --markdown` (one thread). {}\n",
            iam_prune::bench::measured_line(!cfg!(debug_assertions))
        );
        println!("| case | per second on one core |\n|---|---:|");
        for (label, rate, unit) in &results {
            println!("| {label} | {} {unit} |", grouped(*rate));
        }
        println!("\nWhat it means: a scenario replay (a few dozen requests) costs microseconds, so offline pruning is");
        println!("limited by the search, not the evaluator. Floors checked by this run:\n");
        for (ok, floor) in floors {
            println!("- {} {floor}", if ok { "PASS" } else { "FAIL" });
        }
    } else {
        for (label, rate, unit) in &results {
            println!("{label:<76} {:>12} {unit}", grouped(*rate));
        }
        for (ok, floor) in floors {
            println!("{} {floor}", if ok { "PASS" } else { "FAIL" });
        }
    }
}
