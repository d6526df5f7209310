//! A moto server for end-to-end tests: started on 127.0.0.1 on a free port with IAM
//! enforcement on, set up with an admin user and the user's own role, stopped on drop.
//! `scripts/test.sh` installs moto into `.venv`; without it these tests fail, never skip.
//! Below it, `prune --run` end to end: a whole prune, and prunes interrupted and resumed.

// Test helpers panic on purpose: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server with an admin user's keys.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The admin's access key id.
    pub key: String,
    /// The admin's secret key.
    pub secret: String,
}

/// The venv's Python, or a loud failure.
pub fn python() -> PathBuf {
    let p = crate::common::root().join(".venv/bin/python");
    assert!(p.exists(), "moto is not installed: run `scripts/test.sh` (it creates .venv with moto[server] and boto3)");
    p
}

impl Moto {
    /// Starts moto and runs the fixture's setup.
    pub fn start() -> Moto {
        let server = crate::common::root().join(".venv/bin/moto_server");
        assert!(server.exists(), "moto is not installed: run `scripts/test.sh` (it creates .venv with moto[server])");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "moto did not start on port {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut moto = Moto { child, endpoint, key: String::new(), secret: String::new() };
        let out = moto.fixture("setup");
        let v: serde_json::Value = serde_json::from_str(&out).expect("fixture keys");
        moto.key = v["access_key_id"].as_str().expect("key").to_string();
        moto.secret = v["secret_access_key"].as_str().expect("secret").to_string();
        moto
    }

    /// Runs `tests/workloads/moto_fixture.py CMD ENDPOINT` as the admin; returns stdout.
    pub fn fixture(&self, cmd: &str) -> String {
        let out = Command::new(python())
            .arg(crate::common::root().join("tests/workloads/moto_fixture.py"))
            .args([cmd, &self.endpoint])
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("run moto_fixture.py");
        assert!(out.status.success(), "moto_fixture.py {cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An `iam-prune` command acting as the admin against this server.
    pub fn iam_prune(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iam-prune"));
        c.args(args)
            .args(["--endpoint-url", &self.endpoint])
            .current_dir(crate::common::root())
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        c
    }

    /// Sandbox leftovers as `sandbox list --output json` reports them.
    pub fn leftovers(&self) -> Vec<serde_json::Value> {
        let out = self.iam_prune(&["--output", "json", "sandbox", "list"]).output().expect("sandbox list");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("sandbox list: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        v["leftovers"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- `prune --run` end to end: the whole loop against moto (policy-version path) ----

/// The Flintrock-like workload as a `--run` command.
fn flintrock() -> String {
    format!("{} tests/workloads/flintrock_launch.py", python().display())
}

/// `prune --run` arguments for an IAMFullAccess clone with EC2 full access fixed.
fn prune_args<'a>(out: &'a str, workload: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--output",
        "json",
        "prune",
        "--start",
        "IAMFullAccess",
        "--fixed",
        "AmazonEC2FullAccess",
        "--run",
        workload,
        "--out",
        out,
    ];
    v.extend_from_slice(extra);
    v
}

/// Runs an `iam-prune` command to the end; returns its exit code and JSON stdout.
fn run_json(mut cmd: Command) -> (i32, serde_json::Value) {
    let out = cmd.output().expect("run iam-prune");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Complete trial records in a run's journal.
fn journaled_trials(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "trial")
        .collect()
}

fn run_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iam-prune-it-moto-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn moto_prune_of_iam_full_access_finds_what_the_launch_calls_and_leaves_no_trace() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let dir = run_dir("full");
    let w = flintrock();
    // --confirm 2: every deciding result is re-run, which must wait for propagation first.
    let (code, s) = run_json(moto.iam_prune(&prune_args(dir.to_str().unwrap(), &w, &["--confirm", "2"])));
    assert_eq!(code, 0, "{s:#}");
    // Real AWS also needs iam:PassRole (RunInstances with an instance profile passes its
    // role). moto 5.2.5 does not check PassRole on RunInstances, so against moto the launch
    // needs only iam:GetInstanceProfile; the scenario `flintrock-launch` models real AWS.
    assert_eq!(s["minimal"], serde_json::json!(["iam:GetInstanceProfile"]), "{s:#}");
    assert_eq!(s["verified"], true);
    assert_eq!(s["minimal_proven"], true);
    assert_eq!(s["aws"]["apply"], "version", "auto must notice moto ignores session policies");
    assert_eq!(s["aws"]["trials_replayed"], 0);
    let trials = journaled_trials(&dir);
    assert_eq!(trials.len() as u64, s["trials"].as_u64().unwrap());
    let reruns: Vec<_> = trials.iter().filter(|t| t["purpose"] == "confirm").collect();
    assert!(!reruns.is_empty(), "--confirm 2 re-ran nothing");
    for t in reruns {
        assert!(
            t["outcome"]["detail"]["apply"]["recheck_wait_seconds"].as_f64().unwrap() >= 2.0,
            "a re-run did not wait: {t:#}"
        );
    }
    // The run directory, as for scenario jobs; the policy grants exactly the result.
    let policy = std::fs::read_to_string(dir.join("policy.json")).unwrap();
    assert!(policy.contains("iam:GetInstanceProfile") && !policy.contains("PassRole"), "{policy}");
    for f in ["summary.json", "aws.json", "trial-0001.stderr.log"] {
        assert!(dir.join(f).exists(), "no {f} in the run directory");
    }
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "the user's roles and policies changed");
}

/// What iam-prune itself needs, found by running iam-prune on itself against moto: a prune
/// of `iam:*` and `sts:*` whose workload is a whole `iam-prune prune --run` (sandbox, the
/// session-policy check, more policy versions than IAM keeps, cleanup) followed by `sandbox
/// list` (tests/workloads/self_prune.sh). docs/aws.md quotes this list and adds what moto
/// cannot show; this test keeps both true.
const SELF_NEEDS_ON_MOTO: &[&str] = &[
    "iam:AttachRolePolicy",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:CreateRole",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:DeleteRole",
    "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListEntitiesForPolicy",
    "iam:ListPolicies",
    "iam:ListPolicyTags",
    "iam:ListPolicyVersions",
    "iam:ListRoles",
    "iam:ListRoleTags",
    "iam:ListUsers",
    "sts:AssumeRole",
];

#[test]
fn moto_iam_prune_finds_its_own_minimal_policy() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let dir = run_dir("self");
    let start = crate::common::root().join("tests/workloads/self_outer_start.json");
    let w = format!("tests/workloads/self_prune.sh {} {}", env!("CARGO_BIN_EXE_iam-prune"), python().display());
    let args =
        ["--output", "json", "prune", "--start", start.to_str().unwrap(), "--run", &w, "--out", dir.to_str().unwrap()];
    let (code, s) = run_json(moto.iam_prune(&args));
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["minimal"], serde_json::json!(SELF_NEEDS_ON_MOTO), "{s:#}");
    assert_eq!(s["verified"], true);
    assert_eq!(s["minimal_proven"], true);
    // The inner run's sandbox role trusts the outer run's session: that is what lets
    // iam-prune run inside its own sandbox (moto compares trust principals exactly).
    let docs = std::fs::read_to_string(crate::common::root().join("docs/aws.md")).unwrap();
    for a in SELF_NEEDS_ON_MOTO {
        assert!(docs.contains(&format!("\"{a}\"")), "docs/aws.md does not list {a}");
    }
    // Inner runs denied a delete leave their sandbox behind (the outer run deletes only its
    // own): `sandbox cleanup`, as the admin, finds them by tag.
    assert!(!moto.leftovers().is_empty(), "no inner run was ever denied a cleanup call?");
    let out = moto.iam_prune(&["sandbox", "cleanup"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "the user's roles and policies changed");
}

/// `--principal user`: a workload that refuses temporary credentials runs as a sandbox user
/// with its own access key; candidates go in as policy versions on that user.
#[test]
fn moto_prune_as_a_sandbox_user_with_a_long_lived_key() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let dir = run_dir("user");
    let start = crate::common::root().join("tests/workloads/long_lived_key_start.json");
    let w = format!("{} tests/workloads/long_lived_key.py", python().display());
    let args = [
        "--output",
        "json",
        "prune",
        "--start",
        start.to_str().unwrap(),
        "--principal",
        "user",
        "--run",
        &w,
        "--out",
        dir.to_str().unwrap(),
    ];
    let (code, s) = run_json(moto.iam_prune(&args));
    assert_eq!(code, 0, "{s:#}");
    // moto asks for sts:GetSessionToken like any action; AWS needs no permission for it.
    assert_eq!(
        s["minimal"],
        serde_json::json!(["ec2:DescribeVpcs", "s3:ListAllMyBuckets", "sts:GetSessionToken"]),
        "{s:#}"
    );
    assert_eq!(s["verified"], true);
    assert_eq!(s["minimal_proven"], true);
    assert_eq!(s["aws"]["apply"], "version");
    assert!(s["aws"]["user"].as_str().unwrap().starts_with("iam-prune-sbx-"), "{s:#}");
    let trials = journaled_trials(&dir);
    assert!(trials.iter().all(|t| t["outcome"]["detail"]["apply"]["means"] == "policy-version"));
    // Passing trials got past the workload's check for a long-lived key and no session token.
    let passed: Vec<_> = trials.iter().filter(|t| t["outcome"]["verdict"] == "Pass").collect();
    assert!(!passed.is_empty());
    for t in passed {
        let out = std::fs::read_to_string(t["outcome"]["detail"]["stdout"].as_str().unwrap()).unwrap();
        assert_eq!(out.trim(), "ok", "{t:#}");
    }
    let aws = std::fs::read_to_string(dir.join("aws.json")).unwrap();
    assert!(aws.contains(s["aws"]["user"].as_str().unwrap()), "aws.json does not name the user: {aws}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "users, roles or policies changed (or the sandbox user is left)");
    // kill -9 leaves the user and its key; `--resume` deletes them and reaches the same result.
    let killed = run_dir("user-killed");
    let mut kill_args = args.to_vec();
    kill_args.pop();
    kill_args.push(killed.to_str().unwrap());
    assert!(!interrupt_after(&moto, &killed, &kill_args, 2, libc::SIGKILL).success());
    let left = moto.leftovers();
    assert!(left.iter().any(|l| l["kind"] == "user"), "no sandbox user found after kill -9: {left:?}");
    let (code, got) = run_json(moto.iam_prune(&["--output", "json", "prune", "--resume", killed.to_str().unwrap()]));
    assert_eq!(code, 0, "{got:#}");
    assert_eq!(got["minimal"], s["minimal"], "{got:#}");
    assert!(got["aws"]["leftovers_deleted"].as_u64().unwrap() > 0, "{got:#}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "a killed and resumed run left something");
    // The same workload as a role session fails at once: it refuses temporary credentials.
    let dir = run_dir("user-as-role");
    let args =
        ["--output", "json", "prune", "--start", start.to_str().unwrap(), "--run", &w, "--out", dir.to_str().unwrap()];
    let out = moto.iam_prune(&args).output().unwrap();
    assert!(!out.status.success(), "a role session passed: {}", String::from_utf8_lossy(&out.stdout));
    let err = std::fs::read_to_string(dir.join("trial-0001.stderr.log")).unwrap_or_default();
    assert!(err.contains("long-lived access key"), "{err}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
}

/// Starts a prune, waits until `trials` trials are journaled, sends `signal`, waits for exit.
fn interrupt_after(
    moto: &Moto,
    dir: &std::path::Path,
    args: &[&str],
    trials: usize,
    signal: i32,
) -> std::process::ExitStatus {
    let mut child = moto.iam_prune(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn prune");
    let started = Instant::now();
    while journaled_trials(dir).len() < trials {
        assert!(started.elapsed() < Duration::from_secs(120), "the prune never journaled {trials} trials");
        assert!(child.try_wait().expect("try_wait").is_none(), "the prune ended before it could be interrupted");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(150), "the interrupt was not prompt");
    status
}

#[test]
fn moto_interrupted_prunes_resume_to_the_same_result_without_losing_trials() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let w = flintrock();
    // The group strategy takes ~10 trials here (auto takes 2: the denial names the action),
    // enough to interrupt in the middle.
    let reference = run_dir("reference");
    let (code, want) = run_json(moto.iam_prune(&prune_args(reference.to_str().unwrap(), &w, &["--strategy", "group"])));
    assert_eq!(code, 0, "{want:#}");
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let dir = run_dir(if signal == libc::SIGINT { "sigint" } else { "sigkill" });
        let args = prune_args(dir.to_str().unwrap(), &w, &["--strategy", "group"]);
        let status = interrupt_after(&moto, &dir, &args, 3, signal);
        assert!(!status.success());
        let recorded = journaled_trials(&dir).len();
        if signal == libc::SIGINT {
            assert_eq!(status.code(), Some(130), "Ctrl-C cleans up and exits 130");
            assert!(moto.leftovers().is_empty(), "Ctrl-C left {:?}", moto.leftovers());
        } else {
            assert!(!moto.leftovers().is_empty(), "kill -9 cannot clean up; the leftovers must be findable");
        }
        let (code, got) = run_json(moto.iam_prune(&["--output", "json", "prune", "--resume", dir.to_str().unwrap()]));
        assert_eq!(code, 0, "{got:#}");
        assert_eq!(got["minimal"], want["minimal"], "{got:#}");
        assert_eq!(got["trials"], want["trials"], "the resumed run took a different path: {got:#}");
        assert_eq!(
            got["aws"]["trials_replayed"].as_u64().unwrap() as usize,
            recorded,
            "recorded trials ran again: {got:#}"
        );
        assert_eq!(
            journaled_trials(&dir).len() as u64,
            got["trials"].as_u64().unwrap(),
            "a trial is missing from or doubled in the journal"
        );
        if signal == libc::SIGKILL {
            assert!(
                got["aws"]["leftovers_deleted"].as_u64().unwrap() > 0,
                "resume did not delete the killed run's sandbox: {got:#}"
            );
            let out = moto.iam_prune(&["sandbox", "cleanup"]).output().expect("cleanup");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(moto.leftovers().is_empty(), "left {:?}", moto.leftovers());
    }
    assert_eq!(moto.fixture("snapshot"), before, "the user's roles and policies changed");
}

/// A scheduled job that runs the real command on AWS (moto here): the same pruning as
/// `prune --run`, recorded in the history, no sandbox left behind.
#[test]
fn moto_schedule_runs_a_command_job() {
    let moto = Moto::start();
    let dir = run_dir("schedule");
    std::fs::create_dir_all(&dir).unwrap();
    let workload = format!(
        "{} {}",
        python().display(),
        crate::common::root().join("tests/workloads/flintrock_launch.py").display()
    );
    let jobs = dir.join("jobs.toml");
    std::fs::write(
        &jobs,
        format!(
            "history = \"history.sqlite\"\nout = \"runs\"\n[[job]]\nname = \"flintrock-on-aws\"\ncommand = {workload:?}\nstart = \"IAMFullAccess\"\nfixed = [\"AmazonEC2FullAccess\"]\naws_args = [\"--endpoint-url\", {:?}]\n",
            moto.endpoint
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-prune"));
    cmd.args(["--output", "json", "schedule", "run", jobs.to_str().unwrap()])
        .current_dir(crate::common::root())
        .env("AWS_ACCESS_KEY_ID", &moto.key)
        .env("AWS_SECRET_ACCESS_KEY", &moto.secret)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    let (code, v) = run_json(cmd);
    assert_eq!(code, 0, "{v:#}");
    let text = v.to_string();
    assert!(text.contains("iam:GetInstanceProfile"), "{v:#}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
}

// ---- A result is exactly what it says (issue 18) ----

/// A forced `--apply session` must prove session policies are enforced before any trial
/// counts; moto ignores them, so the run stops with an error naming the way out, not with an
/// empty "verified" policy.
#[test]
fn moto_forced_session_policies_are_proven_enforced_or_refused() {
    let moto = Moto::start();
    let dir = run_dir("forced-session");
    let w = flintrock();
    let out = moto.iam_prune(&prune_args(dir.to_str().unwrap(), &w, &["--apply", "session"])).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("--apply session is not enforced") && err.contains("--apply version"), "{err}");
    assert!(!dir.join("policy.json").exists(), "no result may be written");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
}

/// A start far over the managed-policy limit once expanded (PowerUserAccess: every service
/// but IAM, Organizations and Account) prunes: each version is the start plus the smaller of
/// a `Deny` of the removed actions and a `Deny` of everything but the candidate. The report
/// says where the trials ran and what moto does not check.
#[test]
fn moto_prunes_from_power_user_access() {
    let moto = Moto::start();
    let dir = run_dir("power-user");
    let w = format!(
        "{} -c \"import boto3; boto3.client('ec2').describe_vpcs(); boto3.client('s3').list_buckets(); print('ok')\"",
        python().display()
    );
    let args = ["--output", "json", "prune", "--start", "PowerUserAccess", "--run", &w, "--out", dir.to_str().unwrap()];
    let (code, s) = run_json(moto.iam_prune(&args));
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["minimal"], serde_json::json!(["ec2:DescribeVpcs", "s3:ListAllMyBuckets"]), "{s:#}");
    assert_eq!(
        (s["complete"].clone(), s["minimal_proven"].clone()),
        (serde_json::json!(true), serde_json::json!(true))
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Trials ran on") && report.contains("policy versions"), "{report}");
    assert!(report.contains("moto evaluates no Condition elements"), "{report}");
    assert!(report.contains("iam-prune-poweruseraccess-"), "the run id keeps the policy name apart: {report}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
}

/// AdministratorAccess leaves no action outside the universe for the propagation probe, so it
/// probes with `iam:GetRole` on a probe role the sandbox creates (moto checks the call on a
/// role it does not know against `*`: the nonexistent per-version ARNs of before never
/// changed its answer, and version 2 was never "seen").
#[test]
fn moto_prunes_from_administrator_access() {
    let moto = Moto::start();
    let dir = run_dir("admin");
    let w = format!(
        "{} -c \"import boto3; boto3.client('ec2').describe_vpcs(); boto3.client('s3').list_buckets(); print('ok')\"",
        python().display()
    );
    let args = [
        "--output",
        "json",
        "prune",
        "--start",
        "AdministratorAccess",
        "--strategy",
        "group",
        "--run",
        &w,
        "--out",
        dir.to_str().unwrap(),
    ];
    let (code, s) = run_json(moto.iam_prune(&args));
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["minimal"], serde_json::json!(["ec2:DescribeVpcs", "s3:ListAllMyBuckets"]), "{s:#}");
    assert_eq!(s["minimal_proven"], true, "{s:#}");
    let trials = journaled_trials(&dir);
    // Each trial's version was seen in force through the probe role's marker, or says not.
    for t in &trials {
        let apply = &t["outcome"]["detail"]["apply"];
        assert!(apply["probes"].as_u64() > Some(0) || apply["unprobed"] == true, "{t:#}");
    }
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
}

/// A resumed AWS run reads its start policy from the absolute path it recorded (so it resumes
/// from any directory) and refuses one edited since, before it touches AWS.
#[test]
fn moto_resume_reads_the_recorded_start_file_and_refuses_an_edited_one() {
    let moto = Moto::start();
    let work = run_dir("resume-start");
    std::fs::create_dir_all(&work).unwrap();
    let (_, policy) = iam_prune::catalog::Catalog::embedded().load_policy("IAMFullAccess").unwrap();
    let start = work.join("start.json");
    let original = iam_prune::policy::write::to_canonical_json(&policy);
    std::fs::write(&start, &original).unwrap();
    let w = format!(
        "{} {}",
        python().display(),
        crate::common::root().join("tests/workloads/flintrock_launch.py").display()
    );
    let run = work.join("run");
    // Started from the work directory with a relative path, stopped by its budget.
    let mut cmd = moto.iam_prune(&[
        "--output",
        "json",
        "prune",
        "--start",
        "start.json",
        "--fixed",
        "AmazonEC2FullAccess",
        "--run",
        &w,
        "--max-trials",
        "1",
        "--out",
        "run",
    ]);
    cmd.current_dir(&work);
    let (code, s) = run_json(cmd);
    assert_eq!(code, 4, "{s:#}");
    // Edited (same actions, plus a Condition): refused from the repository root, naming the file.
    let edited = original.replacen(
        "\"Resource\"",
        "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"true\"}},\"Resource\"",
        1,
    );
    assert_ne!(edited, original);
    std::fs::write(&start, &edited).unwrap();
    let out = moto.iam_prune(&["prune", "--resume", run.to_str().unwrap(), "--max-trials", "100"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("start.json") && err.contains("changed since the run started"), "{err}");
    assert_eq!(journaled_trials(&run).len(), 1, "a refused resume runs nothing");
    // Restored: it resumes from here (another directory) to the result.
    std::fs::write(&start, &original).unwrap();
    let (code, s) = run_json(moto.iam_prune(&[
        "--output",
        "json",
        "prune",
        "--resume",
        run.to_str().unwrap(),
        "--max-trials",
        "100",
    ]));
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["minimal"], serde_json::json!(["iam:GetInstanceProfile"]), "{s:#}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    let _ = std::fs::remove_dir_all(&work);
}

/// `--parallel K` where candidates are policy versions (always on moto): K version roles,
/// each with its own candidate policy, run K trials at once, and all of them are cleaned up.
#[test]
fn moto_parallel_trials_on_policy_versions_use_one_principal_each() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let dir = run_dir("parallel-versions");
    let w = flintrock();
    // `group` does not use the named denial, so the search takes several rounds of three.
    let extra = ["--parallel", "3", "--strategy", "group", "--name", "etl-nightly"];
    let (code, s) = run_json(moto.iam_prune(&prune_args(dir.to_str().unwrap(), &w, &extra)));
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["minimal"], serde_json::json!(["iam:GetInstanceProfile"]), "{s:#}");
    assert_eq!(s["aws"]["apply"], "version");
    assert_eq!(s["parallel"], 3, "three trials at once, not one: {s:#}");
    assert!(s["rounds"].as_u64().unwrap() < s["trials"].as_u64().unwrap(), "{s:#}");
    let trials = journaled_trials(&dir);
    let mut by_round: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for t in &trials {
        assert!(t["outcome"]["detail"]["apply"]["version_id"].is_string(), "not a policy version: {t:#}");
        *by_round.entry(t["round"].as_u64().unwrap()).or_default() += 1;
    }
    assert!(by_round.values().any(|&n| n == 3), "no round ran three trials: {by_round:?}");
    // `--name` names the run and the managed policy the apply commands create.
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("--policy-name iam-prune-etl-nightly "), "{report}");
    assert!(report.contains("attach-role-policy --role-name ROLE_NAME"), "{report}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "the user's roles and policies changed");
}

/// `--parallel K` with `--principal user`: K sandbox users, each with its own key and its own
/// candidate policy, run K trials at once; all of them are cleaned up.
#[test]
fn moto_parallel_trials_as_sandbox_users_use_one_user_each() {
    let moto = Moto::start();
    let before = moto.fixture("snapshot");
    let dir = run_dir("parallel-users");
    let start = crate::common::root().join("tests/workloads/long_lived_key_start.json");
    let w = format!("{} tests/workloads/long_lived_key.py", python().display());
    let args = [
        "--output",
        "json",
        "prune",
        "--start",
        start.to_str().unwrap(),
        "--principal",
        "user",
        "--parallel",
        "3",
        "--strategy",
        "group",
        "--run",
        &w,
        "--out",
        dir.to_str().unwrap(),
    ];
    let out = moto.iam_prune(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("one at a time"), "parallelism is real now: {stderr}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(out.status.code(), Some(0), "{s:#}");
    assert_eq!(
        s["minimal"],
        serde_json::json!(["ec2:DescribeVpcs", "s3:ListAllMyBuckets", "sts:GetSessionToken"]),
        "{s:#}"
    );
    assert_eq!(s["parallel"], 3, "three trials at once, not one: {s:#}");
    let mut by_round: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for t in journaled_trials(&dir) {
        assert_eq!(t["outcome"]["detail"]["apply"]["means"], "policy-version", "{t:#}");
        *by_round.entry(t["round"].as_u64().unwrap()).or_default() += 1;
    }
    assert!(by_round.values().any(|&n| n == 3), "no round ran three trials: {by_round:?}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
    assert_eq!(moto.fixture("snapshot"), before, "users, roles or policies changed");
}

/// `sandbox run` with a failing trial exits 3 (a verdict, as `eval`'s deny), not 1.
#[test]
fn moto_sandbox_run_of_a_failing_trial_exits_3() {
    let moto = Moto::start();
    let dir = run_dir("sandbox-fail");
    let args = ["sandbox", "run", "--start", "IAMFullAccess", "--run", "exit 1", "--out", dir.to_str().unwrap()];
    let out = moto.iam_prune(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("fail in "), "{text}");
    assert!(moto.leftovers().is_empty(), "sandbox left behind: {:?}", moto.leftovers());
}
