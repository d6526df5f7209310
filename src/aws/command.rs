//! `CommandOracle`: the real workload on AWS as an [`Oracle`]. Each trial puts the candidate
//! in force on the sandbox (see `apply.rs`), runs the user's command with the trial's
//! credentials, and judges the run: exit code, `--pass-if`/`--fail-if` regexes, or only
//! authorization errors (`--fail-on-denied-only`). Denials in the output become hints.

use super::apply::{self, Applied, ApplyMode, Candidates};
use super::config::{Connection, SessionCredentials};
use super::hints;
use super::policy_doc::{self, Marker};
use super::process::{self, RunResult};
use super::AwsError;
use crate::oracle::{Denial, Oracle, OracleError, OracleInfo, Outcome, TrialRequest, Verdict};
use futures::future::BoxFuture;
use regex::Regex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Environment variables removed from the workload's environment so that it can only use the
/// trial's credentials (a profile or container credentials would bypass the sandbox).
const UNSET: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CREDENTIAL_EXPIRATION",
];

/// How a run is judged.
#[derive(Debug, Clone, Default)]
pub struct Judge {
    /// Pass only if the output matches.
    pub pass_if: Option<Regex>,
    /// Fail if the output matches (checked first).
    pub fail_if: Option<Regex>,
    /// Only authorization errors count as failure.
    pub fail_on_denied_only: bool,
}

impl Judge {
    /// The verdict for one run.
    pub fn verdict(&self, run: &RunResult, output: &str, denied: bool) -> Verdict {
        let pass = if run.timed_out || self.fail_if.as_ref().is_some_and(|r| r.is_match(output)) {
            false
        } else if let Some(r) = &self.pass_if {
            r.is_match(output)
        } else if self.fail_on_denied_only {
            !denied
        } else {
            run.exit_code == Some(0)
        };
        if pass {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
}

/// Who holds the candidate policy on the policy-version path.
#[derive(Debug)]
pub(crate) enum VersionPrincipal {
    /// The version role, assumed (and the session cached) for trials.
    Role(String),
    /// The sandbox user and its access key (`--principal user`).
    User { name: String, creds: SessionCredentials },
}

/// The version role's (or user's) state: one trial at a time owns it.
#[derive(Debug)]
pub(crate) struct VersionSlot {
    pub who: VersionPrincipal,
    pub policy_arn: String,
    pub marker: Marker,
    pub state: tokio::sync::Mutex<VersionState>,
}

/// The sequence number of the candidate policy's default version, a cached session, and
/// whether the probe can see the next version come into force.
#[derive(Debug, Default)]
pub(crate) struct VersionState {
    pub seq: u64,
    pub creds: Option<SessionCredentials>,
    /// Whether the version in force allows its marker: a new version is visible to the
    /// probe only when it answers otherwise.
    pub marker_allowed: bool,
}

/// Runs a shell command on AWS under candidate policies.
#[derive(Debug)]
pub struct CommandOracle {
    pub(crate) conn: Connection,
    pub(crate) candidates: Candidates,
    pub(crate) session_role_arn: Option<String>,
    /// The version principals, one per trial that can run at once on the version path.
    pub(crate) versions: Vec<VersionSlot>,
    /// As many permits as `versions`: a trial holding one finds a free slot.
    pub(crate) version_permits: tokio::sync::Semaphore,
    pub(crate) run_id: String,
    pub(crate) command: String,
    pub(crate) timeout: Duration,
    pub(crate) out_dir: PathBuf,
    pub(crate) judge: Judge,
    pub(crate) mode: ApplyMode,
    /// Why candidates are applied as they are (for the reports).
    pub(crate) mode_reason: String,
    pub(crate) last_cost_ms: AtomicU64,
    /// The longest settle time the propagation probe measured in this run (re-run waits).
    pub(crate) longest_settle_ms: AtomicU64,
}

/// What an endpoint is known not to enforce. AWS enforces everything a policy says; a local
/// emulator only what it implements (moto 5: no condition keys, resource ARNs only for some
/// services, `iam:PassRole` not checked on `RunInstances`).
fn unchecked_by(endpoint: Option<&str>) -> Vec<String> {
    let Some(e) = endpoint else { return Vec::new() };
    if e.contains("amazonaws.com") {
        return Vec::new();
    }
    vec![
        format!("{e} is not AWS: it enforces only what it implements"),
        "moto evaluates no Condition elements".into(),
        "moto checks resource ARNs only for S3, SQS, IAM and STS (other services are checked against `*`)".into(),
        "moto does not check iam:PassRole on ec2:RunInstances".into(),
    ]
}

fn run_err(trial: u64, message: impl Into<String>, help: impl Into<String>) -> OracleError {
    OracleError::Run { trial, message: message.into(), help: help.into() }
}

/// A trial stopped by an AWS error: its message, its hint and then `then`, when given.
fn aws_run_err(trial: u64, e: &AwsError, then: Option<&str>) -> OracleError {
    let help = match (e.help(), then) {
        (Some(h), Some(t)) => format!("{h}\n{t}"),
        (Some(h), None) => h,
        (None, Some(t)) => t.to_string(),
        (None, None) => "check iam-prune's own permissions (docs/aws.md)".to_string(),
    };
    run_err(trial, e.to_string(), help)
}

impl CommandOracle {
    /// An oracle on an existing role that holds the start (and fixed) policies, applying
    /// every candidate as a session policy: no IAM writes at all. `prepare` builds the full
    /// sandbox instead; this is for a role managed elsewhere (and for offline tests).
    #[allow(clippy::too_many_arguments)]
    pub fn on_role(
        conn: Connection,
        candidates: Candidates,
        role_arn: String,
        run_id: String,
        command: String,
        timeout: Duration,
        out_dir: PathBuf,
        judge: Judge,
    ) -> CommandOracle {
        CommandOracle {
            conn,
            candidates,
            session_role_arn: Some(role_arn),
            versions: Vec::new(),
            version_permits: tokio::sync::Semaphore::new(1),
            run_id,
            command,
            timeout,
            out_dir,
            judge,
            mode: ApplyMode::Session,
            mode_reason: "session policies on a role iam-prune did not create (not probed for enforcement)".into(),
            last_cost_ms: AtomicU64::new(0),
            longest_settle_ms: AtomicU64::new(0),
        }
    }

    /// How candidates are applied after the session-policy self-check.
    pub fn mode(&self) -> ApplyMode {
        self.mode
    }

    /// The directory trial output goes to.
    pub fn out_dir(&self) -> &std::path::Path {
        &self.out_dir
    }

    fn session_duration(&self) -> i32 {
        // The session must outlive the workload; AssumeRole accepts 900..=3600 by default.
        i32::try_from(self.timeout.as_secs() + 300).unwrap_or(3600).clamp(900, 3600)
    }

    async fn apply_session(
        &self,
        req: &TrialRequest,
        role_arn: &str,
        doc: String,
    ) -> Result<Result<Applied, String>, OracleError> {
        let started = Instant::now();
        let name = format!("iam-prune-{}-t{}", self.run_id, req.id);
        match apply::assume_role(&self.conn, role_arn, &name, Some(&doc), self.session_duration()).await {
            Ok(creds) => Ok(Ok(Applied {
                means: "session-policy",
                policy_chars: policy_doc::iam_chars(&doc),
                version_id: None,
                apply_seconds: started.elapsed().as_secs_f64(),
                propagation_seconds: 0.0,
                settled_seconds: 0.0,
                probes: 0,
                recheck_wait_seconds: 0.0,
                unprobed: false,
                fallback: None,
                creds: Some(creds),
            })),
            Err(f) if f.is_code("PackedPolicyTooLarge") => {
                Ok(Err(format!("AssumeRole refused the session policy: {f}")))
            }
            Err(f) => Err(run_err(
                req.id,
                format!("AssumeRole on the sandbox role failed: {f}"),
                "check iam-prune's own permissions (docs/aws.md) and the sandbox role's trust policy",
            )),
        }
    }

    async fn apply_version(
        &self,
        req: &TrialRequest,
        slot: &VersionSlot,
        state: &mut VersionState,
    ) -> Result<Applied, OracleError> {
        let started = Instant::now();
        let seq = state.seq + 1;
        let (cand, removed) = self.candidates.split(&req.candidate);
        let c = &self.candidates;
        let Some(version) =
            policy_doc::version_document(c.catalog, &c.start, &cand, &removed, &c.fixed, &slot.marker, seq)
        else {
            return Err(run_err(
                req.id,
                "the candidate does not fit a managed policy (6,144 characters)",
                "start from a smaller policy, or add what is certainly needed with --fixed",
            ));
        };
        let doc = version.document;
        let version_id =
            apply::put_version(&self.conn, &slot.policy_arn, &doc).await.map_err(|e| aws_run_err(req.id, &e, None))?;
        state.seq = seq;
        let allows_marker = seq % 2 == 1 && !version.marker_denied;
        let unprobed = std::mem::replace(&mut state.marker_allowed, allows_marker) == allows_marker;
        let fresh = match (&slot.who, &state.creds) {
            (VersionPrincipal::User { creds, .. }, _) => creds.clone(),
            (VersionPrincipal::Role(_), Some(c)) if !c.is_expiring_within(self.timeout.as_secs() as i64 + 300) => {
                c.clone()
            }
            (VersionPrincipal::Role(role_arn), _) => {
                let name = format!("iam-prune-{}-v", self.run_id);
                let creds = apply::assume_role(&self.conn, role_arn, &name, None, 3600).await.map_err(|f| {
                    run_err(
                        req.id,
                        format!("AssumeRole on the version role failed: {f}"),
                        "check iam-prune's own permissions (docs/aws.md)",
                    )
                })?;
                state.creds = Some(creds.clone());
                creds
            }
        };
        let apply_seconds = started.elapsed().as_secs_f64();
        let (first, settled, probes) = if unprobed {
            // This version answers the marker as the previous one did (an odd version whose
            // candidate removes the probe role's iam:GetRole): nothing to see. Wait as long as
            // a re-run would (twice the longest settle time measured).
            let wait = apply::recheck_wait(Duration::from_millis(self.longest_settle_ms.load(Ordering::Relaxed)));
            tokio::time::sleep(wait).await;
            (wait.as_secs_f64(), wait.as_secs_f64(), 0)
        } else {
            apply::wait_for_version(&self.conn, &fresh, &slot.marker, seq, apply::PROPAGATION_BOUND)
                .await
                .map_err(|e| aws_run_err(req.id, &e, Some("retry the run; it resumes from the journal")))?
        };
        self.longest_settle_ms.fetch_max((settled * 1000.0) as u64, Ordering::Relaxed);
        Ok(Applied {
            means: "policy-version",
            policy_chars: policy_doc::iam_chars(&doc),
            version_id: Some(version_id),
            apply_seconds,
            propagation_seconds: first,
            settled_seconds: settled,
            probes,
            recheck_wait_seconds: 0.0,
            fallback: None,
            unprobed,
            creds: Some(fresh),
        })
    }

    /// The sandbox user the workload runs as, with `--principal user`.
    pub fn user_name(&self) -> Option<&str> {
        match &self.versions.first()?.who {
            VersionPrincipal::User { name, .. } => Some(name),
            VersionPrincipal::Role(_) => None,
        }
    }

    fn env(&self, creds: &SessionCredentials) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), creds.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), creds.secret_access_key.clone()),
            ("AWS_REGION".to_string(), self.conn.region().to_string()),
            ("AWS_DEFAULT_REGION".to_string(), self.conn.region().to_string()),
            ("IAM_PRUNE_RUN_ID".to_string(), self.run_id.clone()),
        ];
        // A user's long-lived key has no token; the variable is then removed (see `unset`),
        // since some SDKs send an empty one.
        if !creds.session_token.is_empty() {
            env.push(("AWS_SESSION_TOKEN".to_string(), creds.session_token.clone()));
        }
        if let Some(e) = self.conn.endpoint() {
            env.push(("AWS_ENDPOINT_URL".to_string(), e.to_string()));
        }
        env
    }

    /// Variables removed from the workload's environment: [`UNSET`], and the caller's
    /// session token when the trial's credentials have none.
    fn unset(creds: &SessionCredentials) -> Vec<&'static str> {
        let mut v = UNSET.to_vec();
        if creds.session_token.is_empty() {
            v.push("AWS_SESSION_TOKEN");
        }
        v
    }

    /// Decodes EC2 encoded authorization messages with the caller's credentials (needs
    /// `sts:DecodeAuthorizationMessage`; when not permitted the operation hint remains).
    pub async fn decode(conn: &Connection, encoded: &[String]) -> (Vec<Denial>, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for e in encoded {
            match conn.sts().decode_authorization_message().encoded_message(e).send().await {
                Ok(r) => match r.decoded_message().and_then(hints::denial_from_decoded) {
                    Some(d) => out.push(d),
                    None => errors.push("decoded message names no action".to_string()),
                },
                Err(err) => errors
                    .push(format!("cannot decode an authorization message: {}", super::sdkerr::CallFailure::of(&err))),
            }
        }
        (out, errors)
    }

    async fn run_trial(&self, req: &TrialRequest) -> Result<Outcome, OracleError> {
        let started = Instant::now();
        let mut fallback = None;
        let mut applied = None;
        if let Some(role) = self.session_role_arn.as_deref().filter(|_| self.mode != ApplyMode::Version) {
            match self.candidates.session_policy(&req.candidate) {
                Ok(doc) => match self.apply_session(req, role, doc).await? {
                    Ok(a) => applied = Some(a),
                    Err(why) => fallback = Some(why),
                },
                Err(why) => fallback = Some(why),
            }
        }
        let mut guard = None;
        let mut applied = match applied {
            Some(a) => a,
            None => {
                if self.versions.is_empty() {
                    return Err(run_err(
                        req.id,
                        fallback.unwrap_or_default(),
                        "use `--apply auto` or `--apply version`",
                    ));
                }
                // A permit means some slot is free (permits = slots); take the first.
                let permit = self
                    .version_permits
                    .acquire()
                    .await
                    .map_err(|_| run_err(req.id, "the version slots were closed", "report this as a bug"))?;
                let Some((slot, mut state)) =
                    self.versions.iter().find_map(|v| v.state.try_lock().ok().map(|st| (v, st)))
                else {
                    return Err(run_err(req.id, "no free version slot under a permit", "report this as a bug"));
                };
                let mut a = self.apply_version(req, slot, &mut state).await?;
                a.fallback = fallback;
                guard = Some((state, permit));
                a
            }
        };
        if req.attempt > 0 {
            let wait = apply::recheck_wait(Duration::from_millis(self.longest_settle_ms.load(Ordering::Relaxed)));
            tokio::time::sleep(wait).await;
            applied.recheck_wait_seconds = wait.as_secs_f64();
        }
        let Some(creds) = applied.creds.clone() else {
            return Err(run_err(req.id, "no credentials for the trial", "report this as a bug"));
        };
        let stdout = self.out_dir.join(format!("trial-{:04}.stdout.log", req.id));
        let stderr = self.out_dir.join(format!("trial-{:04}.stderr.log", req.id));
        let run = process::run(&self.command, &self.env(&creds), &Self::unset(&creds), self.timeout, &stdout, &stderr)
            .await
            .map_err(|e| {
                run_err(req.id, format!("cannot run `sh -c {}`: {e}", self.command), "check the --run command")
            })?;
        // The version role is free again once the workload has run.
        drop(guard);
        let output = format!("{}\n{}", process::tail(&stdout, 1 << 20), process::tail(&stderr, 1 << 20));
        let found = hints::parse(&output, self.candidates.catalog, Some(&self.candidates.universe));
        let mut denials = found.denials;
        let (decoded, decode_errors) = if found.encoded.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            Self::decode(&self.conn, &found.encoded).await
        };
        for d in decoded {
            // The decoded message is the better record: it names the resource too.
            match denials.iter_mut().find(|x| x.action == d.action) {
                Some(x) => {
                    x.resource = d.resource;
                    x.message = format!("{} ({})", x.message, d.message);
                }
                None => denials.push(d),
            }
        }
        let denied = !denials.is_empty() || hints::mentions_denial(&output);
        let verdict = self.judge.verdict(&run, &output, denied);
        let cost = started.elapsed().as_secs_f64();
        self.last_cost_ms.store((cost * 1000.0) as u64, Ordering::Relaxed);
        let detail = serde_json::json!({
            "apply": applied,
            "run": run,
            "stdout": stdout.display().to_string(),
            "stderr": stderr.display().to_string(),
            "decode_errors": decode_errors,
        });
        let (denied, tolerated) = if verdict == Verdict::Pass { (Vec::new(), denials) } else { (denials, Vec::new()) };
        Ok(Outcome { verdict, denied, tolerated, cost_seconds: cost, detail })
    }
}

impl Oracle for CommandOracle {
    fn info(&self) -> OracleInfo {
        let last = self.last_cost_ms.load(Ordering::Relaxed);
        OracleInfo {
            kind: "command".into(),
            name: self.command.clone(),
            trial_seconds: if last == 0 { 30.0 } else { last as f64 / 1000.0 },
            // Versions of one policy serialise trials: as many at once as version principals.
            max_parallel: if self.mode == ApplyMode::Version { Some(self.versions.len().max(1)) } else { None },
            // AWS SDK and CLI denials name the action; EC2's are decoded when permitted.
            names_denials: true,
            enforcer: Some(crate::oracle::Enforcer {
                endpoint: self.conn.endpoint().unwrap_or("AWS").to_string(),
                region: self.conn.region().to_string(),
                applied_by: self.mode.describe().to_string(),
                why: self.mode_reason.clone(),
                unchecked: unchecked_by(self.conn.endpoint()),
            }),
        }
    }

    fn trial<'a>(&'a self, request: &'a TrialRequest) -> BoxFuture<'a, Result<Outcome, OracleError>> {
        Box::pin(self.run_trial(request))
    }
}
