//! The run summary: what `prune --output json` prints, `summary.json` holds, and reports
//! build on. Everything is in canonical action names so that it reads without the catalog.

use super::{lower_bound, PruneConfig, PruneResult};
use crate::catalog::Catalog;
use crate::oracle::{Denial, OracleInfo};
use crate::policy::write::{exceeded_limits, to_value, SizeLimit};
use crate::policy::Policy;
use crate::synth::{minimal_policy, split_to_fit, Seen};
use serde::Serialize;
use std::collections::BTreeMap;

/// Summary schema version (bumped on incompatible changes).
pub const SUMMARY_VERSION: u32 = 1;

/// One necessary action and the trial that proves it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Proof {
    /// The action.
    pub action: String,
    /// The trial whose failure shows it is needed: of the failures of the proving candidate,
    /// one whose denial names the action when there is one.
    pub trial: u64,
    /// The failure is explained: its denial names the action, or it was reproduced
    /// (`--confirm` above 1). False: the proof rests only on failures that name nothing
    /// (a spurious `connection reset` would look the same).
    #[serde(default = "yes")]
    pub explained: bool,
}

/// The summary of a run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    /// Schema version.
    pub version: u32,
    /// Run name.
    pub name: String,
    /// The oracle.
    pub oracle: OracleInfo,
    /// Strategy name.
    pub strategy: String,
    /// Trials per round (as run: `--parallel`, capped by what the oracle allows).
    pub parallel: usize,
    /// Likely actions the search could not use: not in the start policy (or misspelled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub likely_ignored: Vec<String>,
    /// `--confirm`.
    pub confirm: usize,
    /// Universe size.
    pub universe: usize,
    /// The kept actions: what `policy.json` grants, each seen to pass. A proven minimal set
    /// only when `complete`.
    pub minimal: Vec<String>,
    /// The same list under the name that says what it is whether or not the run finished.
    #[serde(default)]
    pub kept: Vec<String>,
    /// The search finished: the kept set passed and every kept action is proven needed.
    /// False for a run a budget stopped (`stopped` says why) or one left with undecided
    /// actions: its policy is sufficient, not minimal.
    #[serde(default = "yes")]
    pub complete: bool,
    /// Nothing of the start policy was needed: the workload passed with none of it. Usually a
    /// pass test that cannot fail (exit 0 whatever happens) or a workload that needs none of
    /// the pruned actions.
    #[serde(default)]
    pub empty_result: bool,
    /// Trials run (including replayed ones of a resumed run).
    pub trials: u64,
    /// Rounds.
    pub rounds: u64,
    /// ceil(log2 C(n, d)) for n = universe, d = result size.
    pub lower_bound: u64,
    /// Denials the workload tolerated in the verifying run.
    pub tolerated: Vec<Denial>,
    /// The result passed in a trial.
    pub verified: bool,
    /// That trial.
    pub verified_by: Option<u64>,
    /// Every action of the result is proven necessary.
    pub minimal_proven: bool,
    /// Proof trial per action.
    pub proofs: Vec<Proof>,
    /// Actions not proven necessary (budget or contradictions).
    pub undecided: Vec<String>,
    /// Candidates with disagreeing verdicts.
    pub flaky: Vec<serde_json::Value>,
    /// Monotonicity violations (passing trial, failing trial).
    pub violations: Vec<(u64, u64)>,
    /// Why the search stopped early.
    pub stopped: Option<String>,
    /// Seconds the trials would take on the oracle (rounds in sequence).
    pub simulated_seconds: f64,
    /// Resources per minimal action (where the workload shows them).
    pub resources: BTreeMap<String, Vec<String>>,
    /// The minimal policy document.
    pub policy: serde_json::Value,
    /// Its size as IAM counts it.
    pub policy_size: usize,
    /// The IAM limits it exceeds.
    pub policy_exceeds: Vec<SizeLimit>,
    /// The workload replayed under `policy` exactly as written (offline oracles; `None` when
    /// the oracle cannot replay a document, as with a real command on AWS, where the verifying
    /// trial ran the same grants).
    #[serde(default)]
    pub policy_replayed: Option<bool>,
    /// The policy uses wildcards proven (against the catalog) to match only the minimal set.
    pub policy_compressed: bool,
    /// When the policy is over the managed-policy limit even compressed: the same statements
    /// as several documents that each fit (`policy-part-N.json` in the run directory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_parts: Vec<serde_json::Value>,
    /// The scenario's expectation, when there is one: does the result match it?
    pub expected_match: Option<bool>,
}

impl Summary {
    /// The run finished with a proven result. Derived again from the older fields too, since
    /// summaries journaled before `complete` existed read it as true.
    pub fn is_complete(&self) -> bool {
        self.complete && self.minimal_proven && self.stopped.is_none()
    }

    /// The workload passed with none of the start policy (derived, for the same reason).
    pub fn is_empty_result(&self) -> bool {
        self.minimal.is_empty() && self.verified
    }
}

/// What an empty result means and what to check, for every place that reports one.
pub const EMPTY_RESULT_HELP: &str = "EMPTY RESULT: the workload passed with none of the start policy's actions. Usual causes: a pass test that cannot fail (with --run, a command that exits 0 whatever happens: add --pass-if REGEX or --fail-if REGEX), or a workload that needs none of the pruned actions. Check before applying an empty policy.";

fn yes() -> bool {
    true
}

/// What the minimal policy is written from, and how it is checked.
pub struct PolicySource<'a> {
    /// The start policies (their conditions, resources and `Deny`s carry over).
    pub start: Vec<&'a Policy>,
    /// What the workload was seen doing: the ARNs it used per action (narrows the resources
    /// where known) and the services it passed roles to.
    pub seen: &'a Seen,
    /// Replays the workload under a written document (offline oracles): `true` if it passes.
    pub replay: Option<&'a dyn Fn(&Policy) -> bool>,
}

/// The proof to cite for `action`, proven by trial `t`: among the failures of `t`'s candidate
/// (with flakiness the same candidate may have failed once spuriously and once for real), the
/// first whose denial names the action, else `t`.
fn cite_proof(c: &Catalog, result: &PruneResult, confirm: usize, action: crate::ActionId, t: u64) -> Proof {
    let name = c.name(action);
    let names_it = |o: &crate::oracle::Outcome| {
        o.denied.iter().any(|d| d.action.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&name)))
    };
    let candidate = result.trials.iter().find(|tr| tr.record.id == t).map(|tr| &tr.candidate);
    let named = candidate.and_then(|cand| {
        result.trials.iter().find(|tr| {
            &tr.candidate == cand
                && tr.record.outcome.verdict == crate::oracle::Verdict::Fail
                && names_it(&tr.record.outcome)
        })
    });
    match named {
        Some(tr) => Proof { action: name, trial: tr.record.id, explained: true },
        None => Proof { action: name, trial: t, explained: confirm > 1 },
    }
}

/// Builds the summary and the minimal policy.
pub fn summarize(
    name: &str,
    oracle: OracleInfo,
    cfg: &PruneConfig,
    result: &PruneResult,
    source: &PolicySource,
    expected: Option<&[crate::actions::ActionSet]>,
) -> Summary {
    let c = Catalog::embedded();
    let resources = &source.seen.resources;
    let write = |seen: &Seen| {
        let mut policy = minimal_policy(c, &source.start, &result.minimal, seen, false);
        let mut compressed = false;
        if exceeded_limits(&policy).1.contains(&SizeLimit::Managed) {
            policy = minimal_policy(c, &source.start, &result.minimal, seen, true);
            compressed = true;
        }
        (policy, compressed)
    };
    // Narrowed to the ARNs seen if the workload still passes under the document as written;
    // otherwise (a resource the replay could not attribute) the start statements' own
    // resources, which is what the verifying trial ran.
    let (mut policy, mut compressed) = write(source.seen);
    let mut replayed = source.replay.map(|r| r(&policy));
    // Back off one narrowing at a time: the services passed to, then the resources.
    let without_services = Seen { passed_to: BTreeMap::new(), ..source.seen.clone() };
    for fallback in [without_services, Seen::default()] {
        if replayed != Some(false) || &fallback == source.seen {
            continue;
        }
        (policy, compressed) = write(&fallback);
        replayed = source.replay.map(|r| r(&policy));
    }
    let (size, exceeds) = exceeded_limits(&policy);
    let policy_value = to_value(&policy);
    let policy_parts = if exceeds.contains(&SizeLimit::Managed) {
        split_to_fit(&policy_value, SizeLimit::Managed.chars())
    } else {
        Vec::new()
    };
    Summary {
        version: SUMMARY_VERSION,
        name: name.to_string(),
        oracle,
        strategy: cfg.strategy.as_str().to_string(),
        parallel: result.parallel,
        confirm: cfg.confirm,
        likely_ignored: {
            let mut names = result.likely_ignored.names(c);
            names.sort();
            names
        },
        universe: result.universe.len(),
        minimal: result.minimal.names(c),
        kept: result.minimal.names(c),
        complete: result.is_minimal() && result.stopped.is_none(),
        empty_result: result.minimal.is_empty() && result.verified_by.is_some(),
        trials: result.trial_count(),
        rounds: result.rounds,
        lower_bound: lower_bound(result.universe.len(), result.minimal.len()),
        tolerated: result.tolerated.clone(),
        verified: result.verified_by.is_some(),
        verified_by: result.verified_by,
        minimal_proven: result.is_minimal(),
        proofs: result.proofs.iter().map(|&(a, t)| cite_proof(c, result, cfg.confirm, a, t)).collect(),
        undecided: result.undecided.names(c),
        flaky: result
            .flaky
            .iter()
            .map(|(set, obs)| serde_json::json!({"candidate_size": set.len(), "observations": obs.iter().map(|(t, p)| serde_json::json!({"trial": t, "passed": p})).collect::<Vec<_>>()}))
            .collect(),
        violations: result.violations.clone(),
        stopped: result.stopped.clone(),
        simulated_seconds: result.simulated_seconds,
        resources: resources.iter().filter(|(a, _)| result.minimal.contains(**a)).map(|(a, r)| (c.name(*a), r.clone())).collect(),
        policy: policy_value,
        policy_size: size,
        policy_exceeds: exceeds,
        policy_replayed: replayed,
        policy_compressed: compressed,
        policy_parts,
        expected_match: expected.map(|sets| sets.iter().any(|s| s == &result.minimal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{Outcome, Verdict};
    use crate::prune::journal::{Purpose, TrialRecord};
    use crate::prune::Trial;

    fn trial(id: u64, candidate: &crate::actions::ActionSet, failed_with: Option<Denial>) -> Trial {
        let outcome = Outcome {
            verdict: if failed_with.is_some() { Verdict::Fail } else { Verdict::Pass },
            denied: failed_with.into_iter().collect(),
            ..Outcome::default()
        };
        let record = TrialRecord {
            id,
            round: id,
            purpose: Purpose::Search,
            candidate: Vec::new(),
            candidate_removed: None,
            removed: 0,
            outcome,
        };
        Trial { record, candidate: candidate.clone(), replayed: false }
    }

    fn result(trials: Vec<Trial>) -> PruneResult {
        PruneResult {
            universe: crate::actions::ActionSet::new(),
            minimal: crate::actions::ActionSet::new(),
            proofs: Vec::new(),
            verified_by: None,
            undecided: crate::actions::ActionSet::new(),
            trials,
            rounds: 0,
            tolerated: Vec::new(),
            flaky: Vec::new(),
            violations: Vec::new(),
            stopped: None,
            simulated_seconds: 0.0,
            parallel: 1,
            likely_ignored: crate::actions::ActionSet::new(),
        }
    }

    fn denial(action: Option<&str>, message: &str) -> Denial {
        Denial { action: action.map(str::to_string), resource: None, operation: None, message: message.into() }
    }

    #[test]
    fn a_proof_cites_the_failure_that_names_the_action_over_a_spurious_one() {
        let c = Catalog::embedded();
        let a = c.lookup("iam:PassRole").unwrap();
        let without_a: crate::actions::ActionSet = [c.lookup("iam:GetRole").unwrap()].into_iter().collect();
        // Trial 2 failed spuriously, trial 3 (the same candidate) with the real denial.
        let r = result(vec![
            trial(1, &without_a.union(&[a].into_iter().collect()), None),
            trial(2, &without_a, Some(denial(None, "transient: connection reset by peer"))),
            trial(3, &without_a, Some(denial(Some("iam:PassRole"), "not authorized to perform: iam:PassRole"))),
        ]);
        let p = cite_proof(c, &r, 1, a, 2);
        assert_eq!((p.trial, p.explained), (3, true));
        // With only the spurious failure, the proof says it is unexplained (unless reproduced).
        let r = result(vec![trial(2, &without_a, Some(denial(None, "transient: connection reset by peer")))]);
        let p = cite_proof(c, &r, 1, a, 2);
        assert_eq!((p.trial, p.explained), (2, false));
        assert!(cite_proof(c, &r, 2, a, 2).explained, "a failure seen twice under --confirm 2 was reproduced");
    }
}
