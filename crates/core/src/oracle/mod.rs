//! The oracle: "does the workload still succeed under this candidate action set?"
//!
//! The pruning core never knows whether it talks to a simulation (a scenario replayed
//! through our evaluator) or to a real command on AWS; it only sees this trait. The trait
//! is dyn-compatible (boxed futures) so the CLI can pick an oracle at run time, and
//! `trial` takes `&self` so that several trials can run at once on one oracle.

mod err;
pub mod scenario;

pub use err::OracleError;

use crate::actions::ActionSet;
use futures::future::BoxFuture;

/// Did the workload succeed?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Verdict {
    /// The workload succeeded under the candidate.
    Pass,
    /// The workload failed under the candidate.
    Fail,
}

/// A denial the workload met (and reported, or that the oracle observed).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Denial {
    /// The action, when the failure names it (a hint that saves a binary search).
    pub action: Option<String>,
    /// The resource, when known.
    pub resource: Option<String>,
    /// The step or operation that was denied.
    pub operation: Option<String>,
    /// The message as the workload reported it.
    pub message: String,
}

/// What one trial observed.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// Pass or fail.
    pub verdict: Verdict,
    /// Denials that made the run fail (what a failed run can teach the pruner).
    #[serde(default)]
    pub denied: Vec<Denial>,
    /// Denials the workload met and tolerated (it logged them and carried on).
    #[serde(default)]
    pub tolerated: Vec<Denial>,
    /// What the trial cost, in seconds (simulated for scenarios, measured on AWS).
    #[serde(default)]
    pub cost_seconds: f64,
    /// Oracle-specific detail for the journal and reports (trace, log paths, ...).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// An outcome nobody filled in is never a pass.
impl Default for Verdict {
    fn default() -> Self {
        Verdict::Fail
    }
}

impl Outcome {
    /// A pass with no denials.
    pub fn pass(cost_seconds: f64) -> Outcome {
        Outcome { verdict: Verdict::Pass, cost_seconds, ..Outcome::default() }
    }

    /// A failure with the denials that caused it.
    pub fn fail(denied: Vec<Denial>, cost_seconds: f64) -> Outcome {
        Outcome { verdict: Verdict::Fail, denied, cost_seconds, ..Outcome::default() }
    }

    /// True for a pass.
    pub fn is_pass(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// One trial to run.
#[derive(Debug, Clone)]
pub struct TrialRequest {
    /// The trial's number in the run (stable across resume; seeds simulated randomness).
    pub id: u64,
    /// The actions the candidate policy allows (out of the universe under pruning).
    pub candidate: ActionSet,
    /// How many times this candidate ran before (0: first run; confirmations re-run it).
    /// Oracles on AWS wait for propagation before a re-run.
    pub attempt: u32,
}

/// What the pruner may know about an oracle before running it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OracleInfo {
    /// `scenario`, `command`, `synthetic`, ...
    pub kind: String,
    /// The workload's name (scenario name, command line).
    pub name: String,
    /// Expected seconds per trial, for ETAs and round planning.
    pub trial_seconds: f64,
    /// Up to how many trials can usefully run at once (None: no limit of its own).
    pub max_parallel: Option<usize>,
    /// The workload's failures usually name the denied action (the AWS SDK's AccessDenied
    /// message does; EC2's UnauthorizedOperation and S3's bare "Access Denied" do not).
    #[serde(default)]
    pub names_denials: bool,
    /// Where the trials ran and how candidates were put in force (AWS oracles; none for an
    /// offline replay, which iam-prune's own evaluator enforces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcer: Option<Enforcer>,
}

/// Where an oracle's trials were enforced: what a reviewer needs to judge "verified".
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Enforcer {
    /// The endpoint (`AWS` for the service's own) and region.
    pub endpoint: String,
    /// The region.
    pub region: String,
    /// How candidates were applied (`session policies`, `policy versions`).
    pub applied_by: String,
    /// Why that means.
    pub why: String,
    /// What this enforcer is known not to check, so the result cannot show it either.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

/// Runs the workload under a candidate action set.
pub trait Oracle: Send + Sync {
    /// Describes the oracle.
    fn info(&self) -> OracleInfo;

    /// Runs one trial. Errors are failures of the oracle itself (cannot start the command,
    /// AWS throttling beyond retries), never "the workload failed": that is a `Fail` outcome.
    fn trial<'a>(&'a self, request: &'a TrialRequest) -> BoxFuture<'a, Result<Outcome, OracleError>>;
}
