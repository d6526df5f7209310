//! The search loop: plan a round, run it, learn from it, until the kept set is proven.
//!
//! [`Search`] holds what the run knows (the knowledge, the strategy, the evidence from
//! denials and priors, every trial so far) and decides each round's candidates; [`run`] only
//! sequences rounds, budgets and progress. The trials themselves run in [`super::round`].

use super::posterior::{Posterior, Prior};
use super::round::{execute, Planned};
use super::strategy::{self, Evidence, Strategy};
use super::{
    Journal, Knowledge, Progress, ProgressStats, PruneConfig, PruneError, PruneResult, Purpose, Trial, TrialRecord,
};
use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::oracle::{Oracle, OracleInfo, Outcome, TrialRequest};
use std::collections::HashMap;
use std::time::Instant;

/// Runs the search.
pub async fn run(
    oracle: &dyn Oracle,
    universe: &ActionSet,
    cfg: &PruneConfig,
    journal: &mut Journal,
    progress: &dyn Progress,
) -> Result<PruneResult, PruneError> {
    let started = Instant::now();
    let info = oracle.info();
    let mut search = Search::new(universe, cfg, &info, journal.max_id());
    let mut stopped = None;
    loop {
        if let Some(why) = search.budget_spent(started) {
            stopped = Some(why);
            break;
        }
        let batch = search.plan();
        if batch.is_empty() {
            break;
        }
        search.round += 1;
        let planned = search.requests(batch, journal);
        let finished = execute(oracle, &planned, search.round, universe, journal).await?;
        search.learn(planned, finished);
        search.check_start()?;
        // Once per round: the re-runs still owed decide both the end and the ETA.
        let pending = search.k.pending_confirm().len();
        let over = search.k.is_done() && pending == 0;
        if progress.wants_updates() {
            progress.update(&search.stats(&info, over, pending));
        }
        if over {
            break;
        }
    }
    Ok(search.finish(stopped))
}

/// The state of one search.
struct Search<'a> {
    catalog: &'static Catalog,
    universe: &'a ActionSet,
    cfg: &'a PruneConfig,
    /// Trials per round: `--parallel`, capped by the oracle.
    parallel: usize,
    /// Trials without a pass after which the start policy itself is run: twice a binary
    /// search's depth, for strategies (ddmin) that prove nothing needed for a long time.
    patience: usize,
    k: Knowledge,
    strategy: Box<dyn Strategy>,
    evidence: Evidence,
    trials: Vec<Trial>,
    outcomes: HashMap<u64, Outcome>,
    /// Times each contradicting failure was re-run.
    rechecked: HashMap<ActionSet, usize>,
    round: u64,
    simulated: f64,
    /// The highest trial id used so far (the journal's, then this run's).
    last_id: u64,
}

impl<'a> Search<'a> {
    fn new(universe: &'a ActionSet, cfg: &'a PruneConfig, info: &OracleInfo, last_id: u64) -> Search<'a> {
        let parallel = cfg.parallel.max(1).min(info.max_parallel.unwrap_or(usize::MAX).max(1));
        Search {
            catalog: Catalog::embedded(),
            universe,
            cfg,
            parallel,
            patience: 2 * (usize::BITS - universe.len().leading_zeros()) as usize + 4,
            // Passes are confirmed lazily, and a round's other passes combined unconfirmed
            // (`Knowledge::combinable_passes`).
            k: Knowledge::with_confirm(universe.clone(), cfg.confirm).confirm_lazily(),
            strategy: strategy::new_strategy(
                cfg.strategy,
                cfg.order.clone(),
                Prior::expecting(cfg.expect_needed.map(|e| e.min(universe.len()))),
            ),
            evidence: Evidence {
                named: Vec::new(),
                likely: cfg.likely.intersection(universe),
                names_denials: info.names_denials,
            },
            trials: Vec::new(),
            outcomes: HashMap::new(),
            rechecked: HashMap::new(),
            round: 0,
            simulated: 0.0,
            last_id,
        }
    }

    /// Why the search must stop before another round, if it must.
    fn budget_spent(&self, started: Instant) -> Option<String> {
        if let Some(max) = self.cfg.max_trials.filter(|&max| self.trials.len() as u64 >= max) {
            return Some(format!("trial budget of {max} reached"));
        }
        if let Some(d) = self.cfg.deadline.filter(|&d| started.elapsed() >= d) {
            return Some(format!("deadline of {}s reached", d.as_secs()));
        }
        None
    }

    /// The next round's candidates with their purposes, in the order they are owed:
    /// contradiction re-checks, the start policy's own checks, confirmations, then the
    /// strategy's proposals. Empty when the search is over.
    fn plan(&mut self) -> Vec<(ActionSet, Purpose)> {
        let mut batch = Batch { items: Vec::new(), parallel: self.parallel };
        // Contradictions: re-run the failing candidate (twice at most), then forget it.
        let (_, contradictions) = self.k.positive_groups();
        for t in contradictions {
            let Some(c) = self.k.failed_candidate(t).cloned() else { continue };
            if !batch.has_room() {
                break;
            }
            let n = self.rechecked.entry(c.clone()).or_default();
            if *n < 2 {
                *n += 1;
                batch.push(c, Purpose::Recheck);
            } else {
                self.k.discard_fail(&c);
            }
        }
        if let Some(purpose) = self.start_check(&batch) {
            batch.items.push((self.universe.clone(), purpose));
        }
        for c in self.k.pending_confirm() {
            if batch.has_room() {
                batch.push(c, Purpose::Confirm);
            }
        }
        let slots = self.parallel.saturating_sub(batch.items.len());
        if slots > 0 {
            for c in self.strategy.propose(&self.k, &self.evidence, slots) {
                batch.push(c, Purpose::Search);
            }
        }
        if batch.items.is_empty() && self.k.kept_trial.is_none() && self.k.observations(&self.k.kept).is_empty() {
            batch.items.push((self.k.kept.clone(), Purpose::Verify));
        }
        if let Some(max) = self.cfg.max_trials {
            let left = usize::try_from(max.saturating_sub(self.trials.len() as u64)).unwrap_or(usize::MAX);
            batch.items.truncate(left.max(1));
        }
        batch.items
    }

    /// Whether to run the start policy itself this round, and why: until something passed,
    /// a failure of it is re-run (until `confirm` failures in a row), and a run that proved
    /// actions needed, or spent many trials, before anything passed checks it once: a healthy
    /// run seldom gets there, a run whose start policy fails always does (every trial fails).
    fn start_check(&self, batch: &Batch) -> Option<Purpose> {
        if self.k.kept_trial.is_some() || !batch.has_room() || batch.items.iter().any(|(b, _)| b == self.universe) {
            return None;
        }
        let obs = self.k.observations(self.universe);
        if obs.last().is_some_and(|o| !o.passed) {
            Some(Purpose::Recheck)
        } else if obs.is_empty() && (!self.k.necessary().is_empty() || self.trials.len() >= self.patience) {
            Some(Purpose::Verify)
        } else {
            None
        }
    }

    /// The round's trial requests: a candidate the journal already answers keeps its recorded
    /// id and outcome; a new one gets the next id after every id used so far.
    fn requests(&mut self, batch: Vec<(ActionSet, Purpose)>, journal: &mut Journal) -> Vec<Planned> {
        batch
            .into_iter()
            .map(|(candidate, purpose)| {
                let key = Journal::key(self.catalog, &candidate);
                let attempt = u32::try_from(self.k.observations(&candidate).len()).unwrap_or(u32::MAX);
                let (id, replayed) = match journal.replay(&key) {
                    Some((id, outcome)) => (id, Some(outcome)),
                    None => {
                        self.last_id += 1;
                        (self.last_id, None)
                    }
                };
                Planned { request: TrialRequest { id, candidate, attempt }, purpose, key, replayed }
            })
            .collect()
    }

    /// Takes a round's results in request order, so that a resumed run, whose replayed trials
    /// finish at once, decides the same way.
    fn learn(&mut self, planned: Vec<Planned>, finished: Vec<Option<(TrialRecord, bool)>>) {
        let mut round_cost = 0.0f64;
        for (p, done) in planned.into_iter().zip(finished) {
            let Some((record, replayed)) = done else { continue };
            let outcome = record.outcome.clone();
            round_cost = round_cost.max(outcome.cost_seconds);
            let passed = outcome.is_pass();
            if !passed {
                let named: Vec<ActionId> =
                    outcome.denied.iter().filter_map(|d| d.action.as_deref()).map(|a| self.catalog.intern(a)).collect();
                if !named.is_empty() {
                    self.evidence.named.push((p.request.candidate.clone(), named));
                }
            }
            self.k.record(&p.request.candidate, p.request.id, passed);
            self.outcomes.insert(p.request.id, outcome);
            self.trials.push(Trial { record, candidate: p.request.candidate, replayed });
        }
        self.simulated += round_cost;
    }

    /// The unpruned universe failing (`confirm` times in a row, so that one flaky run is not
    /// taken for it) is not something pruning can fix. With `--confirm` (flakiness expected)
    /// one failure more: the start policy is run early in any run that proves an action
    /// needed before a pass, and two spurious failures in a row (1% at a 10% flake rate) would
    /// end a healthy run.
    fn check_start(&self) -> Result<(), PruneError> {
        if self.k.kept_trial.is_some() {
            return Ok(());
        }
        let obs = self.k.observations(self.universe);
        let failing = obs.iter().rev().take_while(|o| !o.passed).count();
        let needed = self.cfg.confirm.max(1) + usize::from(self.cfg.confirm > 1);
        if failing < needed {
            return Ok(());
        }
        let denials = obs.last().and_then(|o| self.outcomes.get(&o.trial)).map(describe_denials).unwrap_or_default();
        Err(PruneError::StartFails { universe: self.universe.len(), denials })
    }

    fn stats(&self, info: &OracleInfo, over: bool, pending: usize) -> ProgressStats {
        let k = &self.k;
        let trials_left = if over {
            0.0
        } else {
            self.strategy.trials_left(k).unwrap_or_else(|| {
                let undecided = k.kept.len().saturating_sub(k.necessary().len());
                Posterior::new(Prior::default(), self.universe.len(), k.necessary().len(), undecided, &[]).trials_left()
            }) + pending as f64
        };
        ProgressStats {
            trials: self.trials.len() as u64,
            round: self.round,
            kept: k.kept.len(),
            dropped: self.universe.len() - k.kept.len(),
            necessary: k.necessary().len(),
            universe: self.universe.len(),
            simulated_seconds: self.simulated,
            trials_left,
            parallel: self.parallel,
            trial_seconds: info.trial_seconds,
        }
    }

    fn finish(mut self, stopped: Option<String>) -> PruneResult {
        // A budget or deadline can stop the search on a lazily confirmed kept set.
        self.k.settle();
        let k = &self.k;
        let tolerated = k.kept_trial.and_then(|t| self.outcomes.get(&t)).map(|o| o.tolerated.clone());
        PruneResult {
            universe: self.universe.clone(),
            minimal: k.kept.clone(),
            proofs: k.necessary(),
            verified_by: k.kept_trial,
            undecided: k.kept.difference(&k.necessary_set()),
            trials: self.trials,
            rounds: self.round,
            tolerated: tolerated.unwrap_or_default(),
            flaky: k.flaky.clone(),
            violations: k.violations.clone(),
            stopped,
            simulated_seconds: self.simulated,
            parallel: self.parallel,
            likely_ignored: self.cfg.likely.difference(self.universe),
        }
    }
}

/// A round being planned: at most `parallel` candidates, each once.
struct Batch {
    items: Vec<(ActionSet, Purpose)>,
    parallel: usize,
}

impl Batch {
    /// Re-checks share the round's K slots like every other trial.
    fn has_room(&self) -> bool {
        self.items.len() < self.parallel
    }

    fn push(&mut self, candidate: ActionSet, purpose: Purpose) {
        if !self.items.iter().any(|(b, _)| b == &candidate) {
            self.items.push((candidate, purpose));
        }
    }
}

fn describe_denials(o: &Outcome) -> String {
    if o.denied.is_empty() {
        return "the run failed without naming a denied action".into();
    }
    o.denied
        .iter()
        .map(|d| match (&d.action, &d.operation) {
            (Some(a), _) => format!("denied `{a}`"),
            (None, Some(op)) => format!("`{op}` denied: {}", d.message),
            (None, None) => d.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
