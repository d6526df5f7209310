//! The offline oracle: a scenario replayed through the evaluator.
//!
//! Deterministic given the scenario's seed and the trial id, so a resumed run sees the same
//! outcomes. Flakiness and propagation misses are simulated only when the scenario asks.

use super::{Oracle, OracleError, OracleInfo, Outcome, TrialRequest};
use crate::actions::ActionSet;
use crate::oracle::Denial;
use crate::workload::{DenialStyle, Replay, Scenario};
use futures::future::BoxFuture;
use rand::{Rng, SeedableRng};

/// A scenario as an oracle.
pub struct ScenarioOracle<'s> {
    scenario: &'s Scenario,
    replay: Replay<'s>,
}

impl<'s> ScenarioOracle<'s> {
    /// Prepares the scenario for replays.
    pub fn new(scenario: &'s Scenario) -> ScenarioOracle<'s> {
        ScenarioOracle { scenario, replay: Replay::new(scenario) }
    }

    /// The replay engine (for traces and resource scoping).
    pub fn replay(&self) -> &Replay<'s> {
        &self.replay
    }

    /// Do most steps that pruning can deny (those needing an action of the universe) name the
    /// denied action in their error?
    fn names_denials(&self) -> bool {
        let prunable: Vec<&crate::workload::Step> = self
            .scenario
            .steps
            .iter()
            .filter(|s| s.calls.iter().any(|c| self.scenario.universe.contains(c.id)))
            .collect();
        let named = prunable.iter().filter(|s| s.denial == DenialStyle::Named).count();
        !prunable.is_empty() && named * 2 >= prunable.len()
    }

    /// One trial, synchronously.
    pub fn decide(&self, request: &TrialRequest) -> Result<Outcome, OracleError> {
        let r = &self.scenario.realism;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(r.seed ^ request.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut candidate: &ActionSet = &request.candidate;
        let mut note = None;
        if request.attempt == 0 && r.propagation_miss_rate > 0.0 && rng.gen_bool(r.propagation_miss_rate.min(1.0)) {
            // The change has not propagated yet: the run still sees the unpruned policy.
            candidate = &self.scenario.universe;
            note = Some("simulated propagation delay: the unpruned policy was still in effect");
        }
        if r.flaky_failure_rate > 0.0 && rng.gen_bool(r.flaky_failure_rate.min(1.0)) {
            let d = Denial {
                message: "simulated transient failure (throttling or timeout), not a denial".into(),
                ..Denial::default()
            };
            return Ok(Outcome {
                detail: serde_json::json!({"simulated": "flaky failure"}),
                ..Outcome::fail(vec![d], r.trial_seconds)
            });
        }
        let trace =
            self.replay.run(candidate, false).map_err(|source| OracleError::Policies { trial: request.id, source })?;
        let failed_step = trace
            .steps
            .iter()
            .rev()
            .find(|s| matches!(s.outcome, crate::workload::StepOutcome::Aborted))
            .map(|s| s.id.clone());
        Ok(Outcome {
            verdict: if trace.passed { super::Verdict::Pass } else { super::Verdict::Fail },
            denied: trace.denied,
            tolerated: trace.tolerated,
            cost_seconds: r.trial_seconds,
            detail: serde_json::json!({"steps": trace.steps.len(), "failed_step": failed_step, "simulated": note}),
        })
    }
}

impl Oracle for ScenarioOracle<'_> {
    fn info(&self) -> OracleInfo {
        OracleInfo {
            kind: "scenario".into(),
            name: self.scenario.name.clone(),
            trial_seconds: self.scenario.realism.trial_seconds,
            max_parallel: None,
            names_denials: self.names_denials(),
            enforcer: None,
        }
    }

    fn trial<'a>(&'a self, request: &'a TrialRequest) -> BoxFuture<'a, Result<Outcome, OracleError>> {
        Box::pin(async move { self.decide(request) })
    }
}
