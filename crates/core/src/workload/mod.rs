//! Workload scenarios: a model of a program's AWS calls and of how it reacts to a denial.
//!
//! A scenario file (`scenarios/*.toml`, format in `docs/scenarios.md`) names the broad
//! policy to prune, the policies that stay attached, the principal and request context, and
//! the ordered steps of the program. Replayed through the evaluator under a candidate
//! policy, it answers "does the workload still succeed?" exactly as IAM would, which makes
//! it the offline oracle and the proof fixture for the engine.

mod check;
mod err;
mod file;
mod replay;

pub use check::{check, Finding};
pub use err::WorkloadError;
pub use replay::{CallTrace, Replay, StepOutcome, StepTrace, Trace};

use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::eval::{Context, NamedPolicy};
use crate::policy::Pos;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How a program reports a denial, which decides what a failed run can teach the pruner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DenialStyle {
    /// The error names the action (the AWS SDK's AccessDenied message).
    Named,
    /// It does not (S3's bare "Access Denied", EC2's "You are not authorized to perform this operation").
    Unnamed,
    /// EC2's encoded authorization failure message (decodable with sts:DecodeAuthorizationMessage).
    Encoded,
}

/// What the program does when a step is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDenied {
    /// The run fails.
    Abort,
    /// It logs the error and carries on (a tolerated denial).
    Continue,
    /// It tries the `fallback` steps instead.
    Fallback,
}

/// One IAM authorization a step needs.
#[derive(Debug, Clone)]
pub struct Call {
    /// The action as written in the scenario.
    pub action: String,
    /// Its catalog id.
    pub id: ActionId,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// The full request context (defaults, principal, step and call keys merged).
    pub context: Context,
    /// Where the action was written.
    pub pos: Pos,
}

/// One API call of the program.
#[derive(Debug, Clone)]
pub struct Step {
    /// Step id, unique in the scenario.
    pub id: String,
    /// The API operation, for traces (`ec2:RunInstances`).
    pub operation: String,
    /// The authorizations it needs, all of them.
    pub calls: Vec<Call>,
    /// How a denial shows.
    pub denial: DenialStyle,
    /// What the program does when denied.
    pub on_denied: OnDenied,
    /// Steps tried, in order, when denied and `on_denied = "fallback"`.
    pub fallback: Vec<String>,
    /// Runs only as some step's fallback, not in the main sequence.
    pub fallback_only: bool,
    /// Runs only if this step succeeded.
    pub if_succeeded: Option<String>,
    /// Runs only if this step failed (was denied and tolerated).
    pub if_failed: Option<String>,
    /// Skipped when this state flag is set (a table that already exists is not created).
    pub unless: Option<String>,
    /// State flags set when the step succeeds.
    pub sets: Vec<String>,
    /// Where the step starts in the file.
    pub pos: Pos,
}

/// Simulation knobs for tests and benchmarks.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Realism {
    /// What one replay would cost on AWS (propagation plus run time), in seconds.
    pub trial_seconds: f64,
    /// Probability of a spurious failure.
    pub flaky_failure_rate: f64,
    /// Probability that a candidate's first run still sees the unpruned policy.
    pub propagation_miss_rate: f64,
    /// Seed of the simulated randomness.
    pub seed: u64,
}

/// What the scenario expects pruning to find.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The minimal set (within the universe under pruning).
    pub minimal: Vec<String>,
    /// Other acceptable minimal sets (fallbacks make several).
    pub alternatives: Vec<Vec<String>>,
    /// Actions whose denial the workload tolerates (never in a minimal set).
    pub tolerated: Vec<String>,
    /// Expected resources per action, where the scenario scopes them.
    pub resources: BTreeMap<String, Vec<String>>,
}

/// A loaded, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (file stem unless given).
    pub name: String,
    /// SHA-256 of the content of the scenario file and the policy files it names, in the order
    /// read (comments, whitespace and key order left out): a resumed run refuses a scenario
    /// edited since it started.
    pub fingerprint: String,
    /// SHA-256 of the same files' bytes: what builds before the content hash recorded.
    pub byte_fingerprint: String,
    /// What it models.
    pub description: String,
    /// The seed document it comes from.
    pub source: String,
    /// The file.
    pub path: PathBuf,
    /// The broad policies under pruning (cloned: the user's own are never modified).
    pub start: Vec<NamedPolicy>,
    /// Policies that stay attached and are not pruned.
    pub fixed: Vec<NamedPolicy>,
    /// Permissions boundary.
    pub boundary: Option<NamedPolicy>,
    /// Session policy.
    pub session: Option<NamedPolicy>,
    /// SCPs, one per organization level.
    pub scps: Vec<NamedPolicy>,
    /// RCPs, one per organization level.
    pub rcps: Vec<NamedPolicy>,
    /// Resource-based policies: (resource ARN they are attached to, policy).
    pub resource_policies: Vec<(String, NamedPolicy)>,
    /// Caller ARN.
    pub principal: String,
    /// The program's steps, in order.
    pub steps: Vec<Step>,
    /// State flags set before the run.
    pub initial_state: Vec<String>,
    /// Simulation knobs.
    pub realism: Realism,
    /// Expectations (empty without an `[expect]` table).
    pub expect: Expect,
    /// The file has an `[expect]` table: `check` and `prune` compare the result with it.
    pub has_expectation: bool,
    /// The universe under pruning: the actions the start policies allow.
    pub universe: ActionSet,
    /// Lints of the scenario's own policy files (e.g. the seed's invalid `Version`).
    pub policy_lints: Vec<(String, crate::policy::lint::Lint)>,
}

impl Scenario {
    /// Loads and resolves a scenario file.
    pub fn load(path: &std::path::Path) -> Result<Scenario, WorkloadError> {
        file::load(path, Catalog::embedded())
    }

    /// Is `recorded` (a journal's fingerprint) this scenario's, by content or, for a journal
    /// of an earlier build, by bytes?
    pub fn has_fingerprint(&self, recorded: &str) -> bool {
        recorded == self.fingerprint || recorded == self.byte_fingerprint
    }

    /// A step by id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The expected minimal set as ids.
    pub fn expected_minimal(&self) -> ActionSet {
        let c = Catalog::embedded();
        self.expect.minimal.iter().map(|a| c.intern(a)).collect()
    }

    /// Every acceptable minimal set (the main one first).
    /// None without an `[expect]` table.
    pub fn acceptable_minimal_sets(&self) -> Vec<ActionSet> {
        if !self.has_expectation {
            return Vec::new();
        }
        let c = Catalog::embedded();
        let mut out = vec![self.expected_minimal()];
        out.extend(self.expect.alternatives.iter().map(|alt| alt.iter().map(|a| c.intern(a)).collect()));
        out
    }

    /// Does any step use the action?
    pub fn uses(&self, id: ActionId) -> bool {
        self.steps.iter().any(|s| s.calls.iter().any(|c| c.id == id))
    }
}
