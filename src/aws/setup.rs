//! From an [`AwsSpec`] to a ready [`CommandOracle`] and its sandbox: the one call
//! the `prune` command (and `sandbox run`) makes, and the one cleanup it must make after.

use super::apply::{self, ApplyMode, Candidates};
use super::command::{CommandOracle, Judge, VersionPrincipal, VersionSlot, VersionState};
use super::config::{Connection, SessionCredentials};
use super::policy_doc::{self, Marker, MANAGED_POLICY_LIMIT};
use super::sandbox::{self, Caller, PlannedCall, PolicySpec, PrincipalKind, RoleSpec, Sandbox, SandboxPlan, UserSpec};
use super::sdkerr::CallFailure;
use super::AwsError;
use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::policy::write::to_minified_json;
use crate::policy::{parse_policy, Policy};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What an AWS run is: the workload, its start and fixed policies, how trials are judged and
/// applied, and how to reach AWS. An AWS prune stores it in its journal's start record (the
/// `aws` object), so `--resume` can rebuild the sandbox; the field names are that format, and
/// the command-line flags ([`super::args::AwsArgs`]) are resolved into it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AwsSpec {
    /// The workload: a shell command run once per trial with the trial's AWS credentials.
    pub run: Option<String>,
    /// The start policy: an AWS managed policy name or ARN, a file, or a live policy ARN.
    pub start: Option<String>,
    /// Policies the sandbox always holds and that are never pruned.
    pub fixed: Vec<String>,
    /// AWS profile.
    pub profile: Option<String>,
    /// AWS region for STS and the workload.
    pub region: Option<String>,
    /// Endpoint override for every AWS call.
    pub endpoint_url: Option<String>,
    /// A trial passes only if the workload's output matches this regex.
    pub pass_if: Option<String>,
    /// A trial fails if the workload's output matches this regex.
    pub fail_if: Option<String>,
    /// Only authorization errors count as failure.
    pub fail_on_denied_only: bool,
    /// Seconds before a workload run is killed (default 600).
    pub timeout: Option<u64>,
    /// How candidates are applied (default auto).
    pub apply: Option<ApplyMode>,
    /// What the workload runs as (default a role).
    #[serde(default)]
    pub principal: Option<PrincipalKind>,
}

// Optional rather than defaults, so that `--resume` can tell a flag given on its command line
// (refused: the run keeps what it recorded) from one left out.
impl AwsSpec {
    /// `--timeout`, or its default of 600 seconds.
    pub fn timeout_secs(&self) -> u64 {
        self.timeout.unwrap_or(600)
    }

    /// `--apply`, or auto.
    pub fn apply_mode(&self) -> ApplyMode {
        self.apply.unwrap_or(ApplyMode::Auto)
    }

    /// `--principal`, or a role.
    pub fn principal_kind(&self) -> PrincipalKind {
        self.principal.unwrap_or(PrincipalKind::Role)
    }

    /// The same spec with the defaults written out, as a journal records them: a resumed run
    /// keeps the values it started with even if a later version changes a default.
    pub fn with_defaults(&self) -> AwsSpec {
        AwsSpec {
            timeout: Some(self.timeout_secs()),
            apply: Some(self.apply_mode()),
            principal: Some(self.principal_kind()),
            ..self.clone()
        }
    }
}

/// A sandbox and the oracle that runs trials in it. Call [`AwsPruneSetup::cleanup`] when done,
/// also after errors and Ctrl-C.
#[derive(Debug)]
pub struct AwsPruneSetup {
    /// The oracle (shared: the pruner runs trials on it while this keeps the cleanup).
    pub oracle: Arc<CommandOracle>,
    /// The actions under pruning: the start policy's, less the fixed policies'.
    pub universe: ActionSet,
    /// The start policy's display name.
    pub start_name: String,
    /// What was created.
    pub plan: SandboxPlan,
    /// True when `--apply auto` found session policies not enforced (moto) and uses versions.
    pub session_policies_ignored: bool,
    sandbox: Sandbox,
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b.get(i), b.get(i + 1..i + 3)) {
            (Some(b'%'), Some(hex)) => match std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            (Some(&c), _) => {
                out.push(if c == b'+' { b' ' } else { c });
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loads a policy named on the command line: a file, an AWS managed policy (embedded), or a
/// live customer managed policy ARN (its default version, read with `iam:GetPolicyVersion`).
pub async fn load_policy(
    conn: Option<&Connection>,
    catalog: &Catalog,
    spec: &str,
) -> Result<(String, Policy), AwsError> {
    match catalog.load_policy(spec) {
        Ok(p) => return Ok(p),
        Err(e) if !(spec.starts_with("arn:") && spec.contains(":policy/")) => {
            return Err(AwsError::Policy { name: spec.to_string(), source: e })
        }
        Err(_) => {}
    }
    let Some(conn) = conn else {
        return Err(AwsError::LivePolicy { name: spec.to_string() });
    };
    let iam = conn.iam();
    let help = "iam-prune needs iam:GetPolicy and iam:GetPolicyVersion to read a live start policy";
    let pol = iam
        .get_policy()
        .policy_arn(spec)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("read policy `{spec}`"), CallFailure::of(&e).to_string(), help))?;
    let version = pol.policy().and_then(|p| p.default_version_id()).unwrap_or("v1").to_string();
    let v = iam.get_policy_version().policy_arn(spec).version_id(&version).send().await.map_err(|e| {
        AwsError::call(format!("read version {version} of `{spec}`"), CallFailure::of(&e).to_string(), help)
    })?;
    let doc = url_decode(v.policy_version().and_then(|v| v.document()).unwrap_or_default());
    let policy = parse_policy(&doc, spec).map_err(|e| AwsError::Policy { name: spec.to_string(), source: e.into() })?;
    Ok((spec.rsplit('/').next().unwrap_or(spec).to_string(), policy))
}

struct Resolved {
    start_name: String,
    candidates: Candidates,
    plan: SandboxPlan,
    marker: Marker,
    needs_session: bool,
    needs_version: bool,
    /// Version principals (each with its own candidate policy): one per trial run at once.
    slots: usize,
}

/// The names of version slot `k` (1-based): its candidate policy and its principal (a role,
/// or a user with `--principal user`). Slot 1 keeps the names of a one-slot sandbox.
fn slot_names(plan: &SandboxPlan, k: usize, user: bool) -> (String, String) {
    let who = if user { "-u" } else { "-v" };
    if k == 1 {
        (plan.name("-candidate"), plan.name(who))
    } else {
        (plan.name(&format!("-candidate{k}")), plan.name(&format!("{who}{k}")))
    }
}

async fn resolve(
    args: &AwsSpec,
    conn: &Connection,
    catalog: &'static Catalog,
    run_id: &str,
    parallel: usize,
) -> Result<Resolved, AwsError> {
    sandbox::check_run_id(run_id)?;
    let Some(start_spec) = &args.start else {
        return Err(AwsError::Usage {
            message: "`--run` needs `--start POLICY`".into(),
            help: "e.g. `--start IAMFullAccess`".into(),
        });
    };
    let (start_name, start) = load_policy(Some(conn), catalog, start_spec).await?;
    let mut fixed_docs = Vec::new();
    let mut fixed = ActionSet::new();
    for f in &args.fixed {
        let (_, p) = load_policy(Some(conn), catalog, f).await?;
        fixed.union_with(&catalog.expand_policy(&p).allowed);
        fixed_docs.push(p);
    }
    let universe = catalog.expand_policy(&start).allowed.difference(&fixed);
    let caller = Caller::identify(conn).await?;
    let mut plan =
        SandboxPlan { run_id: run_id.to_string(), caller, policies: Vec::new(), roles: Vec::new(), users: Vec::new() };
    let user = args.principal_kind() == PrincipalKind::User;
    if user && args.apply_mode() == ApplyMode::Session {
        return Err(AwsError::Usage {
            message: "`--principal user` cannot use `--apply session`".into(),
            help: "session policies exist only for assumed-role sessions: use `--apply version` (or auto)".into(),
        });
    }
    let marker = apply::choose_marker(catalog, &universe.union(&fixed), &plan.role_arn(&plan.name("-probe")));
    if matches!(marker, Marker::Role { .. }) {
        // The probe role holds nothing: it only has to exist for `iam:GetRole` on it.
        plan.roles.push(RoleSpec { name: plan.name("-probe"), attach: Vec::new() });
    }
    let needs_session = args.apply_mode() != ApplyMode::Version && !user;
    let needs_version = args.apply_mode() != ApplyMode::Session;
    let mut fixed_names = Vec::new();
    for (i, p) in fixed_docs.iter().enumerate() {
        let name = plan.name(&format!("-fixed{}", i + 1));
        plan.policies.push(PolicySpec { name: name.clone(), document: to_minified_json(p) });
        fixed_names.push(name);
    }
    if needs_session {
        let name = plan.name("-start");
        // A forced `--apply session` must prove session policies are enforced before the
        // first trial counts: the probe asks for the marker action, which the role then holds.
        let document = if args.apply_mode() == ApplyMode::Session {
            policy_doc::first_version(&start, &marker)
        } else {
            to_minified_json(&start)
        };
        plan.policies.push(PolicySpec { name: name.clone(), document });
        let mut attach = vec![name];
        attach.extend(fixed_names.iter().cloned());
        plan.roles.push(RoleSpec { name: plan.name(""), attach });
    }
    // Versions of one policy serialise trials: `--parallel K` gets K version principals
    // (roles, or users each with its own key), each with a candidate policy of its own.
    let slots = if needs_version { parallel.max(1) } else { 1 };
    if needs_version {
        for k in 1..=slots {
            let (name, who) = slot_names(&plan, k, user);
            plan.policies.push(PolicySpec { name: name.clone(), document: policy_doc::first_version(&start, &marker) });
            let mut attach = vec![name];
            attach.extend(fixed_names.iter().cloned());
            if user {
                plan.users.push(UserSpec { name: who, attach });
            } else {
                plan.roles.push(RoleSpec { name: who, attach });
            }
        }
    }
    for p in &plan.policies {
        let n = policy_doc::iam_chars(&p.document);
        if n > MANAGED_POLICY_LIMIT {
            return Err(AwsError::Usage {
                message: format!("sandbox policy `{}` would be {n} characters (limit {MANAGED_POLICY_LIMIT})", p.name),
                help:
                    "split the start policy into several files, giving the parts that are certainly needed with --fixed"
                        .into(),
            });
        }
    }
    let candidates = Candidates { catalog, start, universe, fixed };
    Ok(Resolved { start_name, candidates, plan, marker, needs_session, needs_version, slots })
}

/// The calls a run would make, for `--dry-run`: reads the caller identity (and live policies),
/// writes nothing.
pub async fn dry_run(
    args: &AwsSpec,
    catalog: &'static Catalog,
    run_id: &str,
    parallel: usize,
) -> Result<Vec<PlannedCall>, AwsError> {
    let conn = Connection::load(args.profile.as_deref(), args.region.as_deref(), args.endpoint_url.as_deref()).await;
    let r = resolve(args, &conn, catalog, run_id, parallel).await?;
    let mut calls = r.plan.calls();
    if r.needs_session {
        calls.push(PlannedCall {
            action: "sts:AssumeRole".into(),
            detail: format!("{} per trial, with a session policy", r.plan.role_arn(&r.plan.name(""))),
        });
    }
    if r.needs_version {
        calls.push(PlannedCall {
            action: "iam:CreatePolicyVersion".into(),
            detail: format!(
                "{}{} per trial (deleting the oldest of five first), then a propagation probe ({})",
                r.plan.policy_arn(&r.plan.name("-candidate")),
                if r.slots > 1 {
                    format!(" (or one of its {} siblings, one per trial at once)", r.slots - 1)
                } else {
                    String::new()
                },
                r.marker.describe()
            ),
        });
    }
    calls.push(PlannedCall {
        action: "cleanup".into(),
        detail: "detach, delete versions, delete policies and roles listed above".into(),
    });
    Ok(calls)
}

impl AwsPruneSetup {
    /// Loads the policies, creates the sandbox, checks whether session policies are enforced
    /// (with `--apply auto`), and returns the oracle. Trial output goes to `out_dir`.
    /// `parallel`: trials the search runs at once; candidates applied as policy versions get
    /// that many version roles (a sandbox user, one).
    pub async fn prepare(
        args: &AwsSpec,
        catalog: &'static Catalog,
        run_id: &str,
        out_dir: &Path,
        parallel: usize,
    ) -> Result<AwsPruneSetup, AwsError> {
        let Some(command) = args.run.clone() else {
            return Err(AwsError::Usage {
                message: "no workload".into(),
                help: "give the command to run with `--run \"COMMAND\"`".into(),
            });
        };
        let judge = Judge {
            pass_if: args.pass_if.as_deref().map(compile).transpose()?,
            fail_if: args.fail_if.as_deref().map(compile).transpose()?,
            fail_on_denied_only: args.fail_on_denied_only,
        };
        std::fs::create_dir_all(out_dir)
            .map_err(|e| AwsError::io(format!("cannot create `{}`", out_dir.display()), e))?;
        let conn =
            Connection::load(args.profile.as_deref(), args.region.as_deref(), args.endpoint_url.as_deref()).await;
        Self::prepare_with(conn, args, catalog, run_id, out_dir, command, judge, parallel).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn prepare_with(
        conn: Connection,
        args: &AwsSpec,
        catalog: &'static Catalog,
        run_id: &str,
        out_dir: &Path,
        command: String,
        judge: Judge,
        parallel: usize,
    ) -> Result<AwsPruneSetup, AwsError> {
        let r = resolve(args, &conn, catalog, run_id, parallel).await?;
        let sandbox = Sandbox::create(&conn, &r.plan).await?;
        let session_role_arn = r.needs_session.then(|| r.plan.role_arn(&r.plan.name("")));
        let user = !r.plan.users.is_empty();
        let mut versions = Vec::new();
        if r.needs_version {
            for k in 1..=r.slots {
                let (policy, name) = slot_names(&r.plan, k, user);
                let who = if user {
                    match wait_for_key(&conn, sandbox.user_key(&name).as_ref()).await {
                        Ok(creds) => VersionPrincipal::User { name, creds },
                        Err(e) => {
                            sandbox.cleanup().await;
                            return Err(e);
                        }
                    }
                } else {
                    VersionPrincipal::Role(r.plan.role_arn(&name))
                };
                versions.push(VersionSlot {
                    who,
                    policy_arn: r.plan.policy_arn(&policy),
                    marker: r.marker.clone(),
                    state: tokio::sync::Mutex::new(VersionState { seq: 1, creds: None, marker_allowed: true }),
                });
            }
        }
        let mut mode = args.apply_mode();
        let mut ignored = false;
        if user {
            // A user has no session to carry a session policy: versions are the only means.
            mode = ApplyMode::Version;
        }
        if let (ApplyMode::Session, Some(role)) = (mode, &session_role_arn) {
            match session_policies_enforced(&conn, role, &r.marker, run_id).await {
                Ok(true) => {}
                Ok(false) => {
                    sandbox.cleanup().await;
                    return Err(AwsError::NotEnforced {
                        mechanism: "--apply session",
                        message: format!(
                            "a session policy that excludes `{}` did not stop the sandbox role from calling it, so session policies are not enforced by {} and no trial would show anything",
                            r.marker.probe_action(),
                            conn.endpoint_description()
                        ),
                        help: "use `--apply version` (or `--apply auto`, which finds this itself); moto, for one, ignores session policies".into(),
                    });
                }
                Err(e) => {
                    sandbox.cleanup().await;
                    return Err(e);
                }
            }
        }
        let version_role = match versions.first() {
            Some(VersionSlot { who: VersionPrincipal::Role(role), .. }) => Some(role.clone()),
            _ => None,
        };
        if let (ApplyMode::Auto, Some(role)) = (mode, &version_role) {
            match session_policies_enforced(&conn, role, &r.marker, run_id).await {
                Ok(true) => {}
                Ok(false) => {
                    ignored = true;
                    mode = ApplyMode::Version;
                }
                Err(e) => {
                    sandbox.cleanup().await;
                    return Err(e);
                }
            }
        }
        let mode_reason = match (mode, user, ignored) {
            (_, true, _) => "a sandbox user has no session to carry a session policy".to_string(),
            (ApplyMode::Version, false, true) => format!(
                "--apply auto's probe found session policies not enforced by {}",
                conn.endpoint_description()
            ),
            (ApplyMode::Version, false, false) => "--apply version".to_string(),
            (ApplyMode::Session, _, _) => {
                "--apply session; the probe proved session policies enforced before the first trial".to_string()
            }
            (ApplyMode::Auto, _, _) => "--apply auto; the probe proved session policies enforced (policy versions for candidates too large for one)".to_string(),
        };
        let oracle = CommandOracle {
            conn,
            candidates: r.candidates.clone(),
            session_role_arn,
            version_permits: tokio::sync::Semaphore::new(versions.len().max(1)),
            versions,
            run_id: run_id.to_string(),
            command,
            timeout: Duration::from_secs(args.timeout_secs().max(1)),
            out_dir: out_dir.to_path_buf(),
            judge,
            mode,
            mode_reason,
            last_cost_ms: Default::default(),
            longest_settle_ms: Default::default(),
        };
        Ok(AwsPruneSetup {
            oracle: Arc::new(oracle),
            universe: r.candidates.universe,
            start_name: r.start_name,
            plan: r.plan,
            session_policies_ignored: ignored,
            sandbox,
        })
    }

    /// The start document under pruning.
    pub fn start_policy(&self) -> &Policy {
        &self.oracle.candidates.start
    }

    /// Deletes the sandbox; returns what could not be deleted (retry with `sandbox cleanup`).
    pub async fn cleanup(&self) -> Vec<String> {
        self.sandbox.cleanup().await
    }
}

fn compile(re: &str) -> Result<regex::Regex, AwsError> {
    regex::Regex::new(re).map_err(|e| AwsError::Usage {
        message: format!("bad regex `{re}`: {e}"),
        help: "use Rust regex syntax".into(),
    })
}

/// Upper bound on waiting for a new access key to be accepted.
const KEY_BOUND: Duration = Duration::from_secs(60);

/// Waits until a new sandbox user's access key is accepted (`sts:GetCallerIdentity`, which
/// needs no permission): IAM is eventually consistent, and a probe signed with a key STS does
/// not know yet fails with `InvalidClientTokenId`, which must not be read as a policy answer.
async fn wait_for_key(conn: &Connection, key: Option<&SessionCredentials>) -> Result<SessionCredentials, AwsError> {
    let Some(key) = key else {
        return Err(AwsError::call("find the sandbox user's access key", "none was created", "report this as a bug"));
    };
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match conn.sts_as(key).get_caller_identity().send().await {
            Ok(_) => return Ok(key.clone()),
            Err(_) if started.elapsed() + delay < KEY_BOUND => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(AwsError::call(
                    format!("use the sandbox user's new access key within {}s", KEY_BOUND.as_secs()),
                    CallFailure::of(&e).to_string(),
                    "IAM is slow to propagate right now; retry later (the sandbox was deleted)",
                ))
            }
        }
    }
}

/// Does the account enforce session policies? Assumes `role_arn` (whose policies allow the
/// marker action: version 1 of the candidate policy, or the start clone of a forced
/// `--apply session`) with a session policy that excludes the marker and asks for it: denied
/// means enforced. moto ignores session policies, so there the answer is no. Without an action
/// marker (every marker action is in the universe or fixed) the first marker action is asked
/// for: the start or a fixed policy allows it then, which is all the check needs.
async fn session_policies_enforced(
    conn: &Connection,
    role_arn: &str,
    marker: &Marker,
    run_id: &str,
) -> Result<bool, AwsError> {
    let action = marker.probe_action();
    let check = Marker::Action(action.clone());
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": action, "Resource": "*"}]}).to_string();
    let creds = apply::assume_role(conn, role_arn, &format!("iam-prune-{run_id}-check"), Some(&doc), 900)
        .await
        .map_err(|f| {
            AwsError::call(
                "assume the sandbox role",
                f.to_string(),
                "check iam-prune's own permissions (docs/aws.md) and that sts:AssumeRole is allowed",
            )
        })?;
    // The role's policies allow the marker, so "allowed" can only mean the session policy was
    // ignored.
    let (first, _, _) =
        apply::wait_for_version(conn, &creds, &check, 1, Duration::from_secs(20)).await.unwrap_or((-1.0, 0.0, 0));
    Ok(first < 0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_decoding_of_policy_documents() {
        assert_eq!(super::url_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }
}
