//! Putting a candidate in force for one trial, cheapest safe means first:
//!
//! 1. a session policy on `AssumeRole` of the session role (no IAM write, no version cap,
//!    parallel trials on one role; limited to 2,048 characters);
//! 2. a new default version of the sandbox's candidate policy on the version role (one trial
//!    at a time), followed by a propagation probe: IAM is eventually consistent, so the wait
//!    is measured (probe until the new version is seen in force, twice in a row), not assumed.
//!
//! The probe needs a request whose answer differs between consecutive versions and which the
//! workload does not care about: an action outside the universe that odd versions allow and
//! even versions do not (works on moto, which ignores most resource ARNs), or, when the
//! universe holds every probe action, `iam:GetRole` on per-version nonexistent role ARNs.

use super::config::{Connection, SessionCredentials};
use super::policy_doc::{self, Marker, SESSION_POLICY_LIMIT};
use super::sdkerr::CallFailure;
use super::AwsError;
use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::policy::Policy;
use std::time::{Duration, Instant};

/// How candidates are applied (`--apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    /// Session policies only (fails for a candidate whose policy does not fit).
    Session,
    /// Policy versions only.
    Version,
    /// Session policies when the account enforces them and the candidate fits, else versions.
    Auto,
}

impl std::str::FromStr for ApplyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "session" => Ok(ApplyMode::Session),
            "version" => Ok(ApplyMode::Version),
            "auto" => Ok(ApplyMode::Auto),
            _ => Err(format!("unknown apply mode `{s}` (one of {})", ApplyMode::NAMES.join(", "))),
        }
    }
}

impl ApplyMode {
    /// The names `--apply` takes.
    pub const NAMES: [&'static str; 3] = ["auto", "session", "version"];

    /// How candidates are put in force, for people.
    pub fn describe(self) -> &'static str {
        match self {
            ApplyMode::Session => "session policies",
            ApplyMode::Version => "policy versions",
            ApplyMode::Auto => "session policies where enforced and the candidate fits, else policy versions",
        }
    }
}

/// Actions used as propagation markers, in order of preference: cheap, read-only, callable
/// with the SDK clients iam-prune already has, and outside most universes.
pub const MARKER_ACTIONS: &[&str] = &["sts:GetAccessKeyInfo", "iam:ListAccountAliases", "iam:GetAccountSummary"];

/// Upper bound on a propagation wait before the trial is abandoned as an oracle error.
pub const PROPAGATION_BOUND: Duration = Duration::from_secs(120);
/// The shortest and longest wait before re-running a candidate (see [`recheck_wait`]).
pub const RECHECK_WAIT_BOUNDS: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(60));

/// The wait before re-running a candidate: twice the longest settle time the propagation
/// probe has measured in this run, within [`RECHECK_WAIT_BOUNDS`]. A confirmation or a
/// contradiction re-check is asked for because a first result may be an artefact of IAM's
/// eventual consistency (some endpoint still serving the previous version), which the probe
/// seeing the new version twice cannot fully exclude.
pub fn recheck_wait(longest_settle: Duration) -> Duration {
    let (floor, ceiling) = RECHECK_WAIT_BOUNDS;
    (longest_settle * 2).clamp(floor, ceiling)
}

/// Upper bound on waiting for a new role's trust policy to allow `AssumeRole`.
pub const ASSUME_BOUND: Duration = Duration::from_secs(60);

/// The marker for a universe: the first marker action outside it, else `iam:GetRole` on the
/// sandbox's probe role (`probe_role_arn`, which the sandbox then creates).
pub fn choose_marker(catalog: &Catalog, universe_and_fixed: &ActionSet, probe_role_arn: &str) -> Marker {
    for a in MARKER_ACTIONS {
        if catalog.lookup(a).is_none_or(|id| !universe_and_fixed.contains(id)) {
            return Marker::Action((*a).to_string());
        }
    }
    Marker::Role { arn: probe_role_arn.to_string() }
}

/// How a trial's candidate was put in force, and at what cost (for `Outcome.detail`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// `session-policy` or `policy-version`.
    pub means: &'static str,
    /// Size of the document that carried the candidate.
    pub policy_chars: usize,
    /// Policy version id, for `policy-version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Seconds spent on IAM/STS calls to apply it (AssumeRole, CreatePolicyVersion, ...).
    pub apply_seconds: f64,
    /// Seconds until the probe first saw the candidate in force (0 for session policies).
    pub propagation_seconds: f64,
    /// Seconds until it was seen in force twice in a row.
    pub settled_seconds: f64,
    /// Probe requests made.
    pub probes: u32,
    /// Seconds waited before a re-run of a candidate (`TrialRequest.attempt` > 0), on top of
    /// the probe: a re-run exists to rule out eventual consistency, so it gets extra time.
    pub recheck_wait_seconds: f64,
    /// Why a session policy was not used, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The probe could not tell this version from the previous one (it denies its marker as
    /// the previous one did, see [`policy_doc::Version::marker_denied`]): the trial waited
    /// [`recheck_wait`] instead of seeing the version in force.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unprobed: bool,
    /// The trial's credentials (never serialised).
    #[serde(skip)]
    pub creds: Option<SessionCredentials>,
}

/// Calls `AssumeRole`, retrying while a just-created role's trust policy is still
/// propagating (`AccessDenied`), within [`ASSUME_BOUND`].
pub(crate) async fn assume_role(
    conn: &Connection,
    role_arn: &str,
    session_name: &str,
    policy: Option<&str>,
    duration_seconds: i32,
) -> Result<SessionCredentials, CallFailure> {
    let sts = conn.sts();
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut retrusted = false;
    loop {
        let mut req =
            sts.assume_role().role_arn(role_arn).role_session_name(session_name).duration_seconds(duration_seconds);
        if let Some(p) = policy {
            req = req.policy(p);
        }
        match req.send().await {
            Ok(out) => {
                let c = out.credentials();
                return Ok(SessionCredentials {
                    access_key_id: c.map(|c| c.access_key_id().to_string()).unwrap_or_default(),
                    secret_access_key: c.map(|c| c.secret_access_key().to_string()).unwrap_or_default(),
                    session_token: c.map(|c| c.session_token().to_string()).unwrap_or_default(),
                    expires_epoch: c.map(|c| c.expiration().secs()),
                });
            }
            Err(e) => {
                let f = CallFailure::of(&e);
                if f.is_access_denied() && !retrusted && super::sandbox::is_sandbox_role(role_arn) {
                    // The sandbox trusts the session that created it; credentials renewed
                    // under a new session name (role profiles do that hourly) are let in by
                    // rewriting the trust of iam-prune's own role, never of anyone else's.
                    retrusted = true;
                    if let Ok(caller) = super::sandbox::Caller::identify(conn).await {
                        if let Some(name) = role_arn.rsplit('/').next() {
                            let _ = conn
                                .iam()
                                .update_assume_role_policy()
                                .role_name(name)
                                .policy_document(super::sandbox::trust_policy(&caller))
                                .send()
                                .await;
                        }
                    }
                }
                if f.is_access_denied() && started.elapsed() + delay < ASSUME_BOUND {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
                return Err(f);
            }
        }
    }
}

/// Whether a marker request was allowed (`Some(true)`), denied (`Some(false)`), or the
/// answer says neither (`None`: a transport error, retried by the probe loop).
async fn marker_allowed(conn: &Connection, creds: &SessionCredentials, marker: &Marker) -> Option<bool> {
    let result: Result<(), CallFailure> = match marker {
        Marker::Action(a) if a == "sts:GetAccessKeyInfo" => conn
            .sts_as(creds)
            .get_access_key_info()
            .access_key_id(&creds.access_key_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| CallFailure::of(&e)),
        Marker::Action(a) if a == "iam:ListAccountAliases" => {
            conn.iam_as(creds).list_account_aliases().send().await.map(|_| ()).map_err(|e| CallFailure::of(&e))
        }
        Marker::Action(_) => {
            conn.iam_as(creds).get_account_summary().send().await.map(|_| ()).map_err(|e| CallFailure::of(&e))
        }
        Marker::Role { arn } => {
            // The role exists, so a version that allows the call gets the role (or, while the
            // new role is still propagating, NoSuchEntity: authorised all the same).
            let name = arn.rsplit('/').next().unwrap_or_default().to_string();
            conn.iam_as(creds).get_role().role_name(name).send().await.map(|_| ()).map_err(|e| CallFailure::of(&e))
        }
    };
    match result {
        Ok(()) => Some(true),
        Err(f) if f.is_access_denied() => Some(false),
        Err(f) if f.status.is_some_and(|s| s < 500) => Some(true),
        Err(_) => None,
    }
}

/// What the probe expects once version `seq` is in force: every marker is allowed in odd
/// versions only.
fn expected(seq: u64) -> bool {
    seq % 2 == 1
}

/// Probes until version `seq` is seen in force twice in a row, within `bound`.
/// Returns (seconds to first sight, seconds to settled, probes).
pub async fn wait_for_version(
    conn: &Connection,
    creds: &SessionCredentials,
    marker: &Marker,
    seq: u64,
    bound: Duration,
) -> Result<(f64, f64, u32), AwsError> {
    let started = Instant::now();
    let want = expected(seq);
    let mut first: Option<f64> = None;
    let mut streak = 0;
    let mut probes = 0;
    let mut delay = Duration::from_millis(250);
    loop {
        probes += 1;
        let seen = marker_allowed(conn, creds, marker).await;
        if seen == Some(want) {
            first.get_or_insert(started.elapsed().as_secs_f64());
            streak += 1;
            if streak >= 2 {
                return Ok((first.unwrap_or_default(), started.elapsed().as_secs_f64(), probes));
            }
            // The confirmation is quick: it guards against one lucky endpoint, not a long tail.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        streak = 0;
        if started.elapsed() + delay > bound {
            return Err(AwsError::call(
                format!("see policy version {seq} in force within {}s ({probes} probes)", bound.as_secs()),
                format!("the propagation probe ({}) still sees the previous version", marker.describe()),
                "IAM is slow to propagate right now; retry later, or use `--apply session`",
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Writes version `seq` of the candidate policy as the default, deleting the oldest
/// non-default version first when the policy already has five (IAM's cap).
pub async fn put_version(conn: &Connection, policy_arn: &str, document: &str) -> Result<String, AwsError> {
    let iam = conn.iam();
    let help = "iam-prune needs iam:CreatePolicyVersion, iam:ListPolicyVersions and iam:DeletePolicyVersion on its own policies";
    let versions = iam
        .list_policy_versions()
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|e| AwsError::call(format!("list versions of `{policy_arn}`"), CallFailure::of(&e).to_string(), help))?
        .versions
        .unwrap_or_default();
    if versions.len() >= 5 {
        let oldest = versions.iter().filter(|v| !v.is_default_version()).min_by_key(|v| {
            (
                v.create_date().map(|d| d.secs()),
                v.version_id().map(|s| s.trim_start_matches('v').parse::<u64>().unwrap_or(0)),
            )
        });
        if let Some(id) = oldest.and_then(|v| v.version_id()) {
            iam.delete_policy_version().policy_arn(policy_arn).version_id(id).send().await.map_err(|e| {
                AwsError::call(format!("delete version {id} of `{policy_arn}`"), CallFailure::of(&e).to_string(), help)
            })?;
        }
    }
    let out = iam
        .create_policy_version()
        .policy_arn(policy_arn)
        .policy_document(document)
        .set_as_default(true)
        .send()
        .await
        .map_err(|e| {
            AwsError::call(format!("create a version of `{policy_arn}`"), CallFailure::of(&e).to_string(), help)
        })?;
    Ok(out.policy_version().and_then(|v| v.version_id()).unwrap_or_default().to_string())
}

/// Everything needed to build a trial's documents.
#[derive(Debug, Clone)]
pub struct Candidates {
    /// The catalog.
    pub catalog: &'static Catalog,
    /// The start document.
    pub start: Policy,
    /// Actions under pruning.
    pub universe: ActionSet,
    /// Actions the fixed policies grant (never pruned).
    pub fixed: ActionSet,
}

impl Candidates {
    /// (kept, removed) for a candidate.
    pub fn split(&self, candidate: &ActionSet) -> (ActionSet, ActionSet) {
        let cand = candidate.intersection(&self.universe);
        let removed = self.universe.difference(&cand);
        (cand, removed)
    }

    /// The session policy, or why there is none (too large).
    pub fn session_policy(&self, candidate: &ActionSet) -> Result<String, String> {
        let (cand, removed) = self.split(candidate);
        let doc = policy_doc::session_policy(self.catalog, &cand.union(&self.fixed), &removed);
        let n = policy_doc::iam_chars(&doc);
        if n > SESSION_POLICY_LIMIT {
            return Err(format!("session policy would be {n} characters (limit {SESSION_POLICY_LIMIT})"));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recheck_waits_twice_the_longest_settle_within_bounds() {
        assert_eq!(recheck_wait(Duration::ZERO), Duration::from_secs(2));
        assert_eq!(recheck_wait(Duration::from_secs(7)), Duration::from_secs(14));
        assert_eq!(recheck_wait(Duration::from_secs(300)), Duration::from_secs(60));
    }
}
