//! The AWS backend offline: recorded STS exchanges replayed through the real SDK clients,
//! checking what iam-prune sends (the session policy on AssumeRole, the encoded message to
//! DecodeAuthorizationMessage) as well as what it makes of the answers.

// Test helpers panic on purpose: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use iam_prune::aws::apply::Candidates;
use iam_prune::aws::command::Judge;
use iam_prune::aws::sandbox::{Caller, PolicySpec, RoleSpec, Sandbox, SandboxPlan, UserSpec};
use iam_prune::aws::{CommandOracle, Connection};
use iam_prune::oracle::{Oracle, TrialRequest, Verdict};
use iam_prune::{ActionSet, Catalog};
use std::time::Duration;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(crate::common::root().join("tests/fixtures/aws").join(name)).expect("fixture")
}

fn event(response: &str) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri("https://sts.us-east-1.amazonaws.com/")
            .body(SdkBody::empty())
            .expect("request"),
        http::Response::builder()
            .status(200)
            .header("content-type", "text/xml")
            .body(SdkBody::from(response.to_string()))
            .expect("response"),
    )
}

fn connection(replay: &StaticReplayClient) -> Connection {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new("AKIDCALLER", "caller-secret", None, None, "test"),
        ))
        .http_client(replay.clone())
        .build();
    Connection::from_sdk_config(sdk)
}

/// Form-decodes a query-protocol request body into (key, value) pairs.
fn form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body).replace('+', " ");
    text.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect()
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' && tail.len() >= 2 {
            out.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
            rest = &tail[2..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    String::from_utf8(out).expect("utf8")
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no `{key}` in {params:?}"))
}

fn flintrock_candidates() -> (Candidates, ActionSet) {
    let c = Catalog::embedded();
    let (_, start) = c.load_policy("IAMFullAccess").unwrap();
    let universe = c.expand_policy(&start).allowed;
    let candidate: ActionSet =
        ["iam:GetInstanceProfile", "iam:PassRole"].iter().map(|a| c.lookup(a).unwrap()).collect();
    (Candidates { catalog: c, start, universe, fixed: ActionSet::new() }, candidate)
}

#[tokio::test]
async fn session_policy_trial_sends_the_candidate_and_decodes_the_denial() {
    let replay = StaticReplayClient::new(vec![
        event(&fixture("assume_role.xml")),
        event(&fixture("decode_authorization_message.xml")),
    ]);
    let conn = connection(&replay);
    let (candidates, candidate) = flintrock_candidates();
    let out = tempdir("session");
    // The workload checks it got the trial's credentials, then fails the way EC2 does.
    let command = r#"test "$AWS_ACCESS_KEY_ID" = ASIAREPLAYTRIAL00001 && test "$AWS_SESSION_TOKEN" = replay-session-token && test "$AWS_REGION" = us-east-1 || exit 7
echo "An error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not authorized to perform this operation. Encoded authorization failure message: ENCODED-abc_123" >&2; exit 1"#;
    let oracle = CommandOracle::on_role(
        conn,
        candidates.clone(),
        "arn:aws:iam::123456789012:role/iam-prune/iam-prune-sbx-replay".into(),
        "replay".into(),
        command.into(),
        Duration::from_secs(30),
        out.clone(),
        Judge::default(),
    );
    let outcome = oracle.trial(&TrialRequest { id: 7, candidate: candidate.clone(), attempt: 0 }).await.expect("trial");
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.detail["run"]["exit_code"], 1,
        "the workload did not see the trial's credentials: {}",
        outcome.detail
    );
    assert_eq!(outcome.detail["apply"]["means"], "session-policy");
    let actions: Vec<_> = outcome.denied.iter().filter_map(|d| d.action.clone()).collect();
    assert_eq!(actions, vec!["ec2:RunInstances".to_string()]);
    assert_eq!(
        outcome
            .denied
            .iter()
            .filter(|d| d.resource.as_deref() == Some("arn:aws:ec2:us-east-1:123456789012:instance/*"))
            .count(),
        1
    );

    let requests: Vec<_> = replay.actual_requests().collect();
    assert_eq!(requests.len(), 2);
    let assume = form(requests[0].body().bytes().expect("body"));
    assert_eq!(param(&assume, "Action"), "AssumeRole");
    assert_eq!(param(&assume, "RoleArn"), "arn:aws:iam::123456789012:role/iam-prune/iam-prune-sbx-replay");
    assert_eq!(param(&assume, "RoleSessionName"), "iam-prune-replay-t7");
    let policy = param(&assume, "Policy");
    assert!(policy.len() <= 2048, "{policy}");
    let c = Catalog::embedded();
    let granted = c.expand_policy(&iam_prune::policy::parse_policy(policy, "session").unwrap()).allowed;
    assert_eq!(
        granted.intersection(&candidates.universe),
        candidate,
        "the session policy must grant exactly the candidate: {policy}"
    );
    let decode = form(requests[1].body().bytes().expect("body"));
    assert_eq!(param(&decode, "Action"), "DecodeAuthorizationMessage");
    assert_eq!(param(&decode, "EncodedMessage"), "ENCODED-abc_123");
    // Credentials were handed over and the output captured, one file per trial.
    assert!(out.join("trial-0007.stderr.log").exists());
}

#[tokio::test]
async fn a_candidate_too_large_for_a_session_policy_is_an_oracle_error_without_versions() {
    let replay = StaticReplayClient::new(vec![]);
    let conn = connection(&replay);
    let c = Catalog::embedded();
    let (_, start) = c.load_policy("AmazonEC2FullAccess").unwrap();
    let universe = c.expand_policy(&start).allowed;
    // Every other action: no wildcard can be proven, so the policy cannot fit 2,048 characters.
    let candidate: ActionSet = universe.iter().step_by(2).collect();
    let candidates = Candidates { catalog: c, start, universe, fixed: ActionSet::new() };
    let oracle = CommandOracle::on_role(
        conn,
        candidates,
        "arn:aws:iam::1:role/x".into(),
        "big".into(),
        "true".into(),
        Duration::from_secs(5),
        tempdir("big"),
        Judge::default(),
    );
    let err = oracle.trial(&TrialRequest { id: 1, candidate, attempt: 0 }).await.unwrap_err();
    assert!(err.to_string().contains("session policy would be"), "{err}");
    assert_eq!(replay.actual_requests().count(), 0, "nothing may be sent for a policy that cannot fit");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("iam-prune-it-aws-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---- end to end against moto (policy-version path: moto ignores session policies) ----

use crate::moto::{python, Moto};

fn workload() -> String {
    format!("{} tests/workloads/flintrock_launch.py", python().display())
}

fn sandbox_run(moto: &Moto, extra: &[&str]) -> serde_json::Value {
    let w = workload();
    // Trial logs go to a temporary directory, not into the repository's reports/.
    let out = std::env::temp_dir().join(format!("iam-prune-it-sandbox-{}-{}", std::process::id(), extra.len()));
    let out = out.to_string_lossy().into_owned();
    let mut args = vec![
        "--output",
        "json",
        "sandbox",
        "run",
        "--start",
        "IAMFullAccess",
        "--fixed",
        "AmazonEC2FullAccess",
        "--run",
        &w,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    let out = moto.iam_prune(&args).output().expect("sandbox run");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn moto_trial_passes_with_the_full_policy_and_fails_without_get_instance_profile() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let full = sandbox_run(&moto, &[]);
    assert_eq!(full["outcome"]["verdict"], "Pass", "{full:#}");
    assert_eq!(
        full["outcome"]["detail"]["apply"]["means"], "policy-version",
        "auto must notice moto ignores session policies"
    );
    let cut = sandbox_run(&moto, &["--without", "iam:GetInstanceProfile"]);
    assert_eq!(cut["outcome"]["verdict"], "Fail", "{cut:#}");
    assert_eq!(cut["outcome"]["denied"][0]["action"], "iam:GetInstanceProfile", "{cut:#}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "the user's roles and policies changed");
}

#[test]
fn moto_interrupts_leave_nothing_behind() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let interrupted_out = std::env::temp_dir()
            .join(format!("iam-prune-it-interrupt-{}-{signal}", std::process::id()))
            .to_string_lossy()
            .into_owned();
        let mut child = moto
            .iam_prune(&[
                "sandbox",
                "run",
                "--start",
                "IAMFullAccess",
                "--run",
                "sleep 20",
                "--apply",
                "version",
                "--out",
                &interrupted_out,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let started = std::time::Instant::now();
        while moto.leftovers().len() < 2 {
            assert!(started.elapsed().as_secs() < 30, "the sandbox never appeared");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        // Let the trial start its workload, then interrupt.
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().expect("wait");
        assert!(started.elapsed().as_secs() < 15, "the interrupt was not prompt");
        if signal == libc::SIGINT {
            assert!(!status.success());
            assert!(moto.leftovers().is_empty(), "Ctrl-C left {:?}", moto.leftovers());
        } else {
            assert!(!moto.leftovers().is_empty(), "kill -9 cannot clean up; the leftovers must be findable");
            let out = moto.iam_prune(&["sandbox", "cleanup"]).output().expect("cleanup");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(moto.leftovers().is_empty(), "cleanup left {:?}", moto.leftovers());
        }
    }
    assert_eq!(moto.fixture("snapshot"), before, "the user's roles and policies changed");
}

/// An IAM answer with the given status (the replay client ignores where a request goes).
fn iam_answer(status: u16, body: String) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri("https://iam.amazonaws.com/")
            .body(SdkBody::empty())
            .expect("request"),
        http::Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(SdkBody::from(body))
            .expect("response"),
    )
}

/// A successful IAM query-protocol answer to `op`, its result holding `result`.
fn iam_ok(op: &str, result: &str) -> ReplayEvent {
    let inner = if result.is_empty() { String::new() } else { format!("<{op}Result>{result}</{op}Result>") };
    iam_answer(
        200,
        format!(
            r#"<{op}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/">{inner}<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{op}Response>"#
        ),
    )
}

fn iam_error(status: u16, code: &str) -> ReplayEvent {
    iam_answer(
        status,
        format!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>{code}</Code><Message>replayed {code}</Message></Error><RequestId>r</RequestId></ErrorResponse>"#
        ),
    )
}

/// A plan with each kind of step: a policy, a role holding it, a user holding it with a key.
fn replay_plan() -> SandboxPlan {
    let caller = Caller { account: "123456789012".into(), arn: "arn:aws:iam::123456789012:user/admin".into() };
    let mut plan =
        SandboxPlan { run_id: "replay".into(), caller, policies: Vec::new(), roles: Vec::new(), users: Vec::new() };
    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    plan.policies.push(PolicySpec { name: plan.name("-candidate"), document: document.into() });
    plan.roles.push(RoleSpec { name: plan.name("-v"), attach: vec![plan.name("-candidate")] });
    plan.users.push(UserSpec { name: plan.name("-u"), attach: vec![plan.name("-candidate")] });
    plan
}

fn created_policy(plan: &SandboxPlan) -> ReplayEvent {
    let name = plan.name("-candidate");
    let arn = plan.policy_arn(&name);
    iam_ok(
        "CreatePolicy",
        &format!("<Policy><PolicyName>{name}</PolicyName><Arn>{arn}</Arn><Path>/iam-prune/</Path></Policy>"),
    )
}

fn created_role(plan: &SandboxPlan) -> ReplayEvent {
    let name = plan.name("-v");
    let arn = plan.role_arn(&name);
    iam_ok(
        "CreateRole",
        &format!("<Role><Path>/iam-prune/</Path><RoleName>{name}</RoleName><RoleId>AROAREPLAY</RoleId><Arn>{arn}</Arn><CreateDate>2025-01-01T00:00:00Z</CreateDate></Role>"),
    )
}

#[tokio::test]
async fn the_sandbox_is_created_by_exactly_the_calls_the_dry_run_prints() {
    let plan = replay_plan();
    let user = plan.name("-u");
    let replay = StaticReplayClient::new(vec![
        created_policy(&plan),
        created_role(&plan),
        iam_ok("AttachRolePolicy", ""),
        iam_ok(
            "CreateUser",
            &format!("<User><Path>/iam-prune/</Path><UserName>{user}</UserName><UserId>AIDAREPLAY</UserId><Arn>arn:aws:iam::123456789012:user/iam-prune/{user}</Arn><CreateDate>2025-01-01T00:00:00Z</CreateDate></User>"),
        ),
        iam_ok("AttachUserPolicy", ""),
        iam_ok(
            "CreateAccessKey",
            &format!("<AccessKey><UserName>{user}</UserName><AccessKeyId>AKIAREPLAY</AccessKeyId><Status>Active</Status><SecretAccessKey>replay-secret</SecretAccessKey></AccessKey>"),
        ),
    ]);
    let sandbox = Sandbox::create(&connection(&replay), &plan).await.expect("create");
    assert_eq!(sandbox.user_key(&user).map(|k| k.access_key_id).as_deref(), Some("AKIAREPLAY"));

    let requests: Vec<_> = replay.actual_requests().map(|r| form(r.body().bytes().expect("body"))).collect();
    let calls = plan.calls();
    assert_eq!(requests.len(), calls.len(), "one request per printed call");
    for (sent, printed) in requests.iter().zip(&calls) {
        assert_eq!(format!("iam:{}", param(sent, "Action")), printed.action);
        // The printed detail starts with the object acted on, then (for an attachment) the policy.
        let mut words = printed.detail.split(' ');
        let object = ["PolicyName", "RoleName", "UserName"]
            .iter()
            .find_map(|k| sent.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()))
            .expect("a name");
        assert_eq!(Some(object), words.next(), "{printed:?}");
        if printed.action.starts_with("iam:Attach") {
            assert_eq!(Some(param(sent, "PolicyArn")), words.next(), "{printed:?}");
        }
        if printed.action != "iam:CreateAccessKey" && !printed.action.starts_with("iam:Attach") {
            assert_eq!(param(sent, "Path"), "/iam-prune/");
            assert_eq!(param(sent, "Tags.member.1.Key"), "iam-prune:run-id");
            assert_eq!(param(sent, "Tags.member.1.Value"), "replay");
        }
        if printed.action == "iam:CreateRole" {
            assert!(printed.detail.ends_with(&format!("trust {}", param(sent, "AssumeRolePolicyDocument"))));
        }
    }
}

#[tokio::test]
async fn a_sandbox_failing_part_way_deletes_what_it_made_and_nothing_else() {
    let plan = replay_plan();
    let replay = StaticReplayClient::new(vec![
        created_policy(&plan),
        created_role(&plan),
        iam_error(403, "AccessDenied"),
        // Cleanup: the role, then the policy, both already gone (which counts as deleted).
        iam_error(404, "NoSuchEntity"),
        iam_error(404, "NoSuchEntity"),
    ]);
    let err = Sandbox::create(&connection(&replay), &plan).await.expect_err("the attachment is denied");
    let help = err.help().unwrap_or_default();
    let err = err.to_string();
    let policy_arn = plan.policy_arn(&plan.name("-candidate"));
    assert!(
        err.starts_with(&format!("failed to attach `{policy_arn}` to sandbox role `{}`", plan.name("-v"))),
        "{err}"
    );
    assert!(!err.contains("help:"), "the hint is help(), not part of the message: {err}");
    assert!(help.starts_with("iam-prune needs iam:AttachRolePolicy on its own roles"), "{help}");
    let requests: Vec<_> = replay.actual_requests().map(|r| form(r.body().bytes().expect("body"))).collect();
    let actions: Vec<&str> = requests.iter().map(|r| param(r, "Action")).collect();
    assert_eq!(
        actions,
        ["CreatePolicy", "CreateRole", "AttachRolePolicy", "ListAttachedRolePolicies", "ListEntitiesForPolicy"]
    );
    assert_eq!(param(&requests[3], "RoleName"), plan.name("-v"));
    assert_eq!(param(&requests[4], "PolicyArn"), policy_arn);
}
