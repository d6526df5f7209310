//! Synthetic monotone workloads with known answers, for property tests and benchmarks.
//!
//! A workload is a list of requirements, each satisfied by any one of its alternatives
//! (a fallback: "A, or else B"). It aborts at the first unmet requirement, naming the
//! action its error names (or nothing, when hints are hidden). Flakiness makes runs fail
//! spuriously; the propagation model makes a run see the broad start policy still in
//! effect (a spurious pass), which is what `--confirm` guards against.

use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::oracle::{Denial, Oracle, OracleError, OracleInfo, Outcome, TrialRequest};
use futures::future::BoxFuture;
use rand::{Rng, SeedableRng};

/// A synthetic workload.
#[derive(Debug, Clone)]
pub struct SyntheticOracle {
    /// Requirements in the order the workload meets them; each is a list of alternatives.
    pub requirements: Vec<Vec<ActionId>>,
    /// Denials name the action (true) or not.
    pub named: bool,
    /// Probability that a run fails for a reason unrelated to permissions.
    pub flaky_failure_rate: f64,
    /// Probability that the first run of a candidate still sees the unpruned policy (a spurious
    /// pass); re-runs come after propagation and never miss.
    pub propagation_miss_rate: f64,
    /// Seed for the simulated randomness (per trial: seed and trial id).
    pub seed: u64,
    /// Simulated seconds per trial.
    pub trial_seconds: f64,
}

impl SyntheticOracle {
    /// A workload needing exactly `needed` (no fallbacks), with named denials.
    pub fn needing(needed: &[ActionId]) -> SyntheticOracle {
        SyntheticOracle {
            requirements: needed.iter().map(|&a| vec![a]).collect(),
            named: true,
            flaky_failure_rate: 0.0,
            propagation_miss_rate: 0.0,
            seed: 0,
            trial_seconds: 30.0,
        }
    }

    /// Generates a workload over `universe`: `d` requirements, a share of them with a
    /// two-way fallback, placed at random (seeded).
    pub fn generate(universe: &[ActionId], d: usize, fallback_share: f64, seed: u64) -> SyntheticOracle {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut pool: Vec<ActionId> = universe.to_vec();
        let mut requirements = Vec::new();
        for _ in 0..d {
            // Fallbacks use up the pool too: a small universe may hold fewer requirements.
            if pool.is_empty() {
                break;
            }
            let i = rng.gen_range(0..pool.len());
            let a = pool.swap_remove(i);
            let mut req = vec![a];
            if rng.gen_bool(fallback_share.clamp(0.0, 1.0)) && !pool.is_empty() {
                let j = rng.gen_range(0..pool.len());
                req.push(pool.swap_remove(j));
            }
            requirements.push(req);
        }
        SyntheticOracle {
            requirements,
            named: true,
            flaky_failure_rate: 0.0,
            propagation_miss_rate: 0.0,
            seed,
            trial_seconds: 30.0,
        }
    }

    /// Does `candidate` satisfy every requirement?
    pub fn is_sufficient(&self, candidate: &ActionSet) -> bool {
        self.first_unmet(candidate).is_none()
    }

    fn first_unmet(&self, candidate: &ActionSet) -> Option<&Vec<ActionId>> {
        self.requirements.iter().find(|alts| !alts.iter().any(|a| candidate.contains(*a)))
    }

    /// Is `set` a minimal sufficient set (sufficient, and no single action can go)?
    pub fn is_minimal(&self, set: &ActionSet) -> bool {
        self.is_sufficient(set)
            && set.iter().all(|a| {
                let mut s = set.clone();
                s.remove(a);
                !self.is_sufficient(&s)
            })
    }

    /// The decision for one trial, without the async wrapper.
    pub fn decide(&self, request: &TrialRequest) -> Outcome {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(self.seed ^ request.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if request.attempt == 0 && self.propagation_miss_rate > 0.0 && rng.gen_bool(self.propagation_miss_rate.min(1.0))
        {
            // The old, broad policy is still in effect for this run.
            return Outcome {
                detail: serde_json::json!({"simulated": "propagation delay"}),
                ..Outcome::pass(self.trial_seconds)
            };
        }
        if self.flaky_failure_rate > 0.0 && rng.gen_bool(self.flaky_failure_rate.min(1.0)) {
            let d = Denial { message: "simulated transient failure (timeout)".into(), ..Denial::default() };
            return Outcome {
                detail: serde_json::json!({"simulated": "flaky failure"}),
                ..Outcome::fail(vec![d], self.trial_seconds)
            };
        }
        match self.first_unmet(&request.candidate) {
            None => Outcome::pass(self.trial_seconds),
            Some(alts) => {
                let first = alts.first().copied();
                let d = Denial {
                    action: if self.named { first.map(|a| Catalog::embedded().name(a)) } else { None },
                    message: "AccessDenied".into(),
                    ..Denial::default()
                };
                Outcome::fail(vec![d], self.trial_seconds)
            }
        }
    }
}

impl Oracle for SyntheticOracle {
    fn info(&self) -> OracleInfo {
        OracleInfo {
            kind: "synthetic".into(),
            name: "synthetic".into(),
            trial_seconds: self.trial_seconds,
            max_parallel: None,
            names_denials: self.named,
            enforcer: None,
        }
    }

    fn trial<'a>(&'a self, request: &'a TrialRequest) -> BoxFuture<'a, Result<Outcome, OracleError>> {
        Box::pin(async move { Ok(self.decide(request)) })
    }
}
