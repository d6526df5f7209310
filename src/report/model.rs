//! The report model: everything the three renderings show, computed once from the journal and
//! the summary. `report.json` is this model serialized, so the Markdown and HTML never know
//! anything a machine reading the JSON cannot.

use super::apply::{apply_commands, Apply, PrincipalType};
use super::risk::{assess, Risk};
use super::tree::{search_tree, SearchTree};
use super::REPORT_VERSION;
use crate::actions::ActionSet;
use crate::catalog::{AccessLevel, Catalog};
use crate::oracle::{Denial, OracleInfo, Verdict};
use crate::prune::journal::{Purpose, StartRecord, TrialRecord};
use crate::prune::summary::{Proof, Summary};
use serde::Serialize;
use std::collections::BTreeMap;

/// A whole run report (`report.json`); see `report.schema.json` for the documented schema.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Schema version of this document ([`REPORT_VERSION`]).
    pub report_version: u32,
    /// `iam-prune <version>` that wrote it.
    pub generator: String,
    /// Run name (scenario name or command).
    pub name: String,
    /// When the run started (RFC 3339, from the journal).
    pub started: String,
    /// How the run was done.
    pub run: RunInfo,
    /// What it found.
    pub result: ResultInfo,
    /// Why to trust it.
    pub trust: Trust,
    /// Before/after action counts per service, sorted by service prefix.
    pub services: Vec<Breakdown>,
    /// Before/after action counts per access level, least to most risky.
    pub access_levels: Vec<Breakdown>,
    /// What the kept and removed actions could do.
    pub risk: Risk,
    /// Every trial in order.
    pub trials: Vec<TrialRow>,
    /// The search tree (nodes = trials, edges from the passing trial each one refined).
    pub tree: SearchTree,
    /// Denials that made trials fail, one entry per trial and denial.
    pub denials: Vec<TrialDenial>,
    /// Denials the workload tolerated in the verifying run.
    pub tolerated: Vec<Denial>,
    /// The minimal policy document.
    pub policy: serde_json::Value,
    /// How to install the minimal policy.
    pub apply: Apply,
}

/// How the run was done.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// The oracle that judged each candidate.
    pub oracle: OracleInfo,
    /// Search strategy.
    pub strategy: String,
    /// Trials per round.
    pub parallel: usize,
    /// Confirmations of each deciding pass.
    pub confirm: usize,
    /// The job's inputs as the journal's start record holds them.
    pub config: serde_json::Value,
}

impl RunInfo {
    /// `--expect-needed`, from the job's inputs (scenario jobs hold the search flags at the
    /// top, AWS jobs under `search`).
    pub fn expect_needed(&self) -> Option<u64> {
        self.config
            .get("expect_needed")
            .or_else(|| self.config.get("search").and_then(|s| s.get("expect_needed")))
            .and_then(serde_json::Value::as_u64)
    }

    /// ", expecting D needed actions" when the search was told, else nothing: the strategy row
    /// of the reports.
    pub fn expectation_note(&self) -> String {
        self.expect_needed()
            .map(|d| format!(", expecting {d} needed action{}", if d == 1 { "" } else { "s" }))
            .unwrap_or_default()
    }
}

/// What the run found.
#[derive(Debug, Clone, Serialize)]
pub struct ResultInfo {
    /// Actions under pruning.
    pub universe: usize,
    /// The minimal actions, sorted.
    pub minimal: Vec<String>,
    /// Number of actions removed.
    pub removed: usize,
    /// Trials run.
    pub trials: u64,
    /// Rounds (trials of a round ran at once).
    pub rounds: u64,
    /// ceil(log2 C(universe, |minimal|)): no strategy can need fewer trials on average.
    pub lower_bound: u64,
    /// Seconds the trials take on the oracle, rounds in sequence.
    pub simulated_seconds: f64,
    /// Why the search stopped early, if it did.
    pub stopped: Option<String>,
    /// Does the result match the scenario's expectation (null: no expectation)?
    pub expected_match: Option<bool>,
    /// The search finished with a proven result (false: `minimal` is only sufficient).
    pub complete: bool,
    /// The workload passed with none of the start policy.
    pub empty_result: bool,
}

/// The evidence behind the result.
#[derive(Debug, Clone, Serialize)]
pub struct Trust {
    /// The final set passed a trial of its own.
    pub verified: bool,
    /// That trial.
    pub verified_by: Option<u64>,
    /// The workload replayed under `policy.json` exactly as written (None: the oracle cannot
    /// replay a document offline).
    pub policy_replayed: Option<bool>,
    /// Every kept action's removal was seen to fail (1-minimal).
    pub minimal_proven: bool,
    /// Per kept action, the failing trial that proves it is needed.
    pub proofs: Vec<ProofRow>,
    /// Actions kept without a proof (budget or contradictions).
    pub undecided: Vec<String>,
    /// Candidates whose runs disagreed (flakiness), as the summary records them.
    pub flaky: Vec<serde_json::Value>,
    /// Monotonicity violations: a passing trial and a failing trial of a superset.
    pub violations: Vec<Violation>,
    /// Journal lines that could not be read (a torn last line of a killed run).
    pub journal_lines_skipped: usize,
}

/// One necessity proof.
#[derive(Debug, Clone, Serialize)]
pub struct ProofRow {
    /// The kept action.
    pub action: String,
    /// The trial that failed without it.
    pub trial: u64,
    /// What that trial's failure reported.
    pub denied: Vec<String>,
    /// The failure names this action, or was reproduced (`--confirm`).
    pub explained: bool,
}

/// A monotonicity violation.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// The passing trial.
    pub passed: u64,
    /// The failing trial (of a superset).
    pub failed: u64,
}

/// Before/after counts for one service or access level.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// Service prefix or access level name.
    pub key: String,
    /// Actions in the start policy.
    pub before: usize,
    /// Actions in the minimal set.
    pub after: usize,
    /// Actions removed.
    pub removed: usize,
}

/// One trial, as the timeline shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TrialRow {
    /// Trial number.
    pub id: u64,
    /// Round.
    pub round: u64,
    /// `search`, `confirm`, `recheck` or `verify`.
    pub purpose: Purpose,
    /// Actions in the candidate.
    pub size: usize,
    /// Universe actions removed from the candidate.
    pub removed: usize,
    /// `Pass` or `Fail`.
    pub verdict: Verdict,
    /// Seconds the trial cost.
    pub cost_seconds: f64,
    /// Denials that failed it (action, or the operation when the message names none).
    pub denied: Vec<String>,
}

/// A denial seen in a failing trial.
#[derive(Debug, Clone, Serialize)]
pub struct TrialDenial {
    /// The trial.
    pub trial: u64,
    /// The denial.
    #[serde(flatten)]
    pub denial: Denial,
}

/// How a proof reads in the reports: the failure it rests on, and a warning when nothing
/// ties that failure to the action on a run where failures can be spurious (a real command,
/// or any run that showed flakiness).
pub(crate) fn proof_label(r: &Report, p: &ProofRow) -> String {
    let denied = if p.denied.is_empty() {
        "failed without naming a denied action".to_string()
    } else {
        format!("denied: {}", p.denied.join(", "))
    };
    if proof_doubtful(r, p) {
        format!(
            "trial {} ({denied}; UNEXPLAINED: no denial names this action and the failure was not reproduced)",
            p.trial
        )
    } else {
        format!("trial {} ({denied})", p.trial)
    }
}

/// Nothing ties the proof's failure to its action, on a run where failures can be spurious (a
/// real command, or any run that showed flakiness).
pub(crate) fn proof_doubtful(r: &Report, p: &ProofRow) -> bool {
    !p.explained && (r.run.oracle.kind == "command" || !r.trust.flaky.is_empty())
}

/// A short label for a denial: the action, else the operation, else the message.
pub(crate) fn denial_label(d: &Denial) -> String {
    d.action
        .clone()
        .or_else(|| d.operation.clone().map(|o| format!("{o} (action not named)")))
        .unwrap_or_else(|| d.message.clone())
}

/// One flakiness record of a summary as evidence: the candidate's size and its runs in
/// order, "47 actions: trial 15 passed, 16 failed, 17 failed".
pub fn flaky_evidence(f: &serde_json::Value) -> String {
    let runs: Vec<String> = f["observations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let verdict = if o["passed"] == true { "passed" } else { "failed" };
            if i == 0 {
                format!("trial {} {verdict}", o["trial"])
            } else {
                format!("{} {verdict}", o["trial"])
            }
        })
        .collect();
    match f["candidate_size"].as_u64() {
        Some(n) => format!("{n} actions: {}", runs.join(", ")),
        None => runs.join(", "),
    }
}

/// Builds the report from what the run directory holds.
pub fn build(start: &StartRecord, trials: &[TrialRecord], summary: &Summary, skipped_lines: usize) -> Report {
    let c = Catalog::embedded();
    let universe: ActionSet = start.universe.iter().map(|a| c.intern(a)).collect();
    let minimal: ActionSet = summary.minimal.iter().map(|a| c.intern(a)).collect();

    let mut services: BTreeMap<String, Breakdown> = BTreeMap::new();
    let mut levels: BTreeMap<usize, Breakdown> = BTreeMap::new();
    for id in universe.union(&minimal).iter() {
        let kept = minimal.contains(id);
        let svc = c.prefix_of(id);
        let (rank, name) = match c.level(id) {
            Some(l) => (AccessLevel::ALL.iter().position(|x| *x == l).unwrap_or(0), l.as_str().to_string()),
            None => (AccessLevel::ALL.len(), "Unknown".to_string()),
        };
        for b in [
            services.entry(svc.clone()).or_insert_with(|| Breakdown { key: svc, before: 0, after: 0, removed: 0 }),
            levels.entry(rank).or_insert_with(|| Breakdown { key: name, before: 0, after: 0, removed: 0 }),
        ] {
            b.before += 1;
            if kept {
                b.after += 1;
            } else {
                b.removed += 1;
            }
        }
    }

    let by_id: BTreeMap<u64, &TrialRecord> = trials.iter().map(|t| (t.id, t)).collect();
    let proofs = summary
        .proofs
        .iter()
        .map(|Proof { action, trial, explained }| ProofRow {
            action: action.clone(),
            trial: *trial,
            denied: by_id.get(trial).map(|t| t.outcome.denied.iter().map(denial_label).collect()).unwrap_or_default(),
            explained: *explained,
        })
        .collect();
    let rows: Vec<TrialRow> = trials
        .iter()
        .map(|t| TrialRow {
            id: t.id,
            round: t.round,
            purpose: t.purpose,
            size: t.candidate.len(),
            removed: t.removed,
            verdict: t.outcome.verdict,
            cost_seconds: t.outcome.cost_seconds,
            denied: t.outcome.denied.iter().map(denial_label).collect(),
        })
        .collect();
    let denials = trials
        .iter()
        .filter(|t| t.outcome.verdict == Verdict::Fail)
        .flat_map(|t| t.outcome.denied.iter().map(move |d| TrialDenial { trial: t.id, denial: d.clone() }))
        .collect();

    Report {
        report_version: REPORT_VERSION,
        generator: format!("iam-prune {}", env!("CARGO_PKG_VERSION")),
        name: summary.name.clone(),
        started: start.started.clone(),
        run: RunInfo {
            oracle: summary.oracle.clone(),
            strategy: summary.strategy.clone(),
            parallel: summary.parallel,
            confirm: summary.confirm,
            config: start.config.clone(),
        },
        result: ResultInfo {
            universe: summary.universe,
            minimal: summary.minimal.clone(),
            removed: universe.difference(&minimal).len(),
            trials: summary.trials,
            rounds: summary.rounds,
            lower_bound: summary.lower_bound,
            simulated_seconds: summary.simulated_seconds,
            stopped: summary.stopped.clone(),
            expected_match: summary.expected_match,
            complete: summary.is_complete(),
            empty_result: summary.is_empty_result(),
        },
        trust: Trust {
            verified: summary.verified,
            verified_by: summary.verified_by,
            policy_replayed: summary.policy_replayed,
            minimal_proven: summary.minimal_proven,
            proofs,
            undecided: summary.undecided.clone(),
            flaky: summary.flaky.clone(),
            violations: summary.violations.iter().map(|&(passed, failed)| Violation { passed, failed }).collect(),
            journal_lines_skipped: skipped_lines,
        },
        services: services.into_values().collect(),
        access_levels: levels.into_values().collect(),
        risk: assess(c, &universe, &minimal, summary),
        tree: search_tree(c, &universe, trials),
        trials: rows,
        denials,
        tolerated: summary.tolerated.clone(),
        policy: summary.policy.clone(),
        apply: {
            // An AWS run's default name is its start policy's: the run id keeps two workloads
            // pruned from the same start apart, unless the user named the run (`--name`).
            let cfg = &start.config;
            let named = cfg.get("name").is_some_and(|n| n.is_string());
            let policy_name = match cfg.get("run_id").and_then(|id| id.as_str()) {
                Some(id) if !named => format!("{}-{id}", summary.name),
                _ => summary.name.clone(),
            };
            let principal = if cfg.pointer("/aws/principal").and_then(|p| p.as_str()) == Some("user") {
                PrincipalType::User
            } else {
                PrincipalType::Role
            };
            apply_commands(&summary.name, &policy_name, principal, &summary.policy, &summary.policy_parts)
        },
    }
}
