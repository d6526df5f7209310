//! The pruning engine: find a necessary-and-sufficient action set in few trials and rounds.
//!
//! The loop: confirmations and contradiction re-checks first, then the strategy's proposals,
//! up to `parallel` candidates per round, run concurrently on the oracle; every outcome is
//! journaled (flushed) before it is used, so a killed run resumes exactly. The result is the
//! kept set, which always passed, with a proof trial for each action in it.

pub mod bench;
mod err;
pub mod job;
pub mod journal;
pub mod knowledge;
pub mod posterior;
pub mod strategy;
pub mod summary;
pub mod synthetic;

pub use err::PruneError;
pub use journal::{Journal, Purpose, StartRecord, TrialRecord};
pub use knowledge::Knowledge;
pub use strategy::{Evidence, StrategyKind};

use crate::actions::ActionSet;
use crate::catalog::{ActionId, Catalog};
use crate::oracle::{Denial, Oracle, Outcome, TrialRequest};
use posterior::{Posterior, Prior};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How to search.
#[derive(Debug, Clone)]
pub struct PruneConfig {
    /// Strategy.
    pub strategy: StrategyKind,
    /// Trials per round (run concurrently).
    pub parallel: usize,
    /// Observations a deciding result needs (1 = no re-runs).
    pub confirm: usize,
    /// Stop after this many trials.
    pub max_trials: Option<u64>,
    /// Stop after this much wall-clock time.
    pub deadline: Option<Duration>,
    /// Actions believed needed (priors), tested last.
    pub likely: ActionSet,
    /// Group order (service tree order); empty = catalog order.
    pub order: Vec<ActionId>,
    /// The number of needed actions expected (`--expect-needed`, or a scheduled job's previous
    /// result): the group-testing strategies' prior centres on it.
    pub expect_needed: Option<usize>,
}

/// The search engine's version, journaled with every run (so a report can say which search
/// made it). Bumped when a change makes the search propose other trials. Only the current
/// search exists: a run started by an older version resumes with this one, its recorded
/// trials kept as evidence. What each version changed is in CHANGELOG.md.
pub const ENGINE: u32 = 7;

impl Default for PruneConfig {
    fn default() -> Self {
        PruneConfig {
            strategy: StrategyKind::Auto,
            parallel: 1,
            confirm: 1,
            max_trials: None,
            deadline: None,
            likely: ActionSet::new(),
            order: Vec::new(),
            expect_needed: None,
        }
    }
}

/// Counters for progress display.
#[derive(Debug, Clone, Default)]
pub struct ProgressStats {
    /// Trials finished (run or replayed).
    pub trials: u64,
    /// Rounds finished.
    pub round: u64,
    /// Size of the kept set.
    pub kept: usize,
    /// Actions dropped so far.
    pub dropped: usize,
    /// Actions proven necessary.
    pub necessary: usize,
    /// Universe size.
    pub universe: usize,
    /// Seconds the trials would cost on the oracle (sum over rounds of the slowest trial).
    pub simulated_seconds: f64,
    /// About how many trials are left (the strategy's estimate, or one from the counts).
    pub trials_left: f64,
    /// Trials run at once (`--parallel`, capped by the oracle; a resume's recorded value).
    pub parallel: usize,
    /// The oracle's declared seconds per trial, until rounds have measured it.
    pub trial_seconds: f64,
}

/// Receives progress; the CLI draws a bar, tests ignore it. The library never prints.
pub trait Progress: Send + Sync {
    /// Called after every round.
    fn update(&self, stats: &ProgressStats);

    /// False when updates are thrown away: the engine then skips computing them (the trials
    /// left need a posterior per round, which benchmarks and tests would pay for nothing).
    fn wants_updates(&self) -> bool {
        true
    }
}

/// A progress sink that does nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _stats: &ProgressStats) {}

    fn wants_updates(&self) -> bool {
        false
    }
}

/// One executed (or replayed) trial, as the result reports it.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Journal record.
    pub record: TrialRecord,
    /// The candidate.
    pub candidate: ActionSet,
    /// Replayed from the journal of a killed run rather than run now.
    pub replayed: bool,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct PruneResult {
    /// The universe searched.
    pub universe: ActionSet,
    /// The result: the kept set (observed to pass).
    pub minimal: ActionSet,
    /// For each action of the result, the trial whose failure shows it is needed.
    pub proofs: Vec<(ActionId, u64)>,
    /// The trial that showed the result passes.
    pub verified_by: Option<u64>,
    /// Actions of the result not proven necessary (budget hit, or contradictions).
    pub undecided: ActionSet,
    /// Trials in order.
    pub trials: Vec<Trial>,
    /// Rounds.
    pub rounds: u64,
    /// Denials the workload tolerated in the verifying run.
    pub tolerated: Vec<Denial>,
    /// Candidates with disagreeing verdicts: (candidate, [(trial, passed)]).
    pub flaky: Vec<(ActionSet, Vec<(u64, bool)>)>,
    /// Monotonicity violations: (passing trial, failing trial).
    pub violations: Vec<(u64, u64)>,
    /// Why the search stopped early, if it did.
    pub stopped: Option<String>,
    /// Seconds the trials would take on the oracle, rounds in sequence.
    pub simulated_seconds: f64,
    /// Trials per round actually run: `--parallel`, capped by what the oracle allows.
    pub parallel: usize,
    /// Likely actions (`--likely`, a previous result) that are not in the universe, so no
    /// use to the search: a misspelling, or an action the start policy does not grant.
    pub likely_ignored: ActionSet,
}

impl PruneResult {
    /// Trials actually run in this process plus replayed ones (the run's total).
    pub fn trial_count(&self) -> u64 {
        self.trials.len() as u64
    }

    /// True when the result passed and every action in it is proven necessary.
    pub fn is_minimal(&self) -> bool {
        self.verified_by.is_some() && self.undecided.is_empty()
    }
}

/// Runs the search.
pub async fn run(
    oracle: &dyn Oracle,
    universe: &ActionSet,
    cfg: &PruneConfig,
    journal: &mut Journal,
    progress: &dyn Progress,
) -> Result<PruneResult, PruneError> {
    let catalog = Catalog::embedded();
    let started = Instant::now();
    let info = oracle.info();
    let parallel = cfg.parallel.max(1).min(info.max_parallel.unwrap_or(usize::MAX).max(1));
    // Passes are confirmed lazily, and a round's other passes combined unconfirmed
    // (`Knowledge::combinable_passes`).
    let mut k = Knowledge::with_confirm(universe.clone(), cfg.confirm).confirm_lazily();
    let mut strategy = strategy::new_strategy(
        cfg.strategy,
        cfg.order.clone(),
        Prior::expecting(cfg.expect_needed.map(|e| e.min(universe.len()))),
    );
    let mut evidence =
        Evidence { named: Vec::new(), likely: cfg.likely.intersection(universe), names_denials: info.names_denials };
    let mut trials: Vec<Trial> = Vec::new();
    let mut outcomes: HashMap<u64, Outcome> = HashMap::new();
    let mut rechecked: HashMap<ActionSet, usize> = HashMap::new();
    let mut round = 0u64;
    let mut simulated = 0.0f64;
    let mut stopped = None;
    let mut next_id = journal.max_id();
    // Trials without a pass after which the start policy itself is run: twice a binary
    // search's depth, for strategies (ddmin) that prove nothing needed for a long time.
    let patience = 2 * (usize::BITS - universe.len().leading_zeros()) as usize + 4;
    loop {
        if let Some(max) = cfg.max_trials {
            if trials.len() as u64 >= max {
                stopped = Some(format!("trial budget of {max} reached"));
                break;
            }
        }
        if let Some(d) = cfg.deadline {
            if started.elapsed() >= d {
                stopped = Some(format!("deadline of {}s reached", d.as_secs()));
                break;
            }
        }
        let mut batch: Vec<(ActionSet, Purpose)> = Vec::new();
        // Re-checks share the round's K slots like every other trial.
        let room = |batch: &Vec<(ActionSet, Purpose)>| batch.len() < parallel;
        // Contradictions: re-run the failing candidate (twice at most), then forget it.
        let (_, contradictions) = k.positive_groups();
        for t in contradictions {
            let Some(c) = k.failed_candidate(t).cloned() else { continue };
            if !room(&batch) {
                break;
            }
            let n = rechecked.entry(c.clone()).or_default();
            if *n < 2 {
                *n += 1;
                if !batch.iter().any(|(b, _)| b == &c) {
                    batch.push((c, Purpose::Recheck));
                }
            } else {
                k.discard_fail(&c);
            }
        }
        // A failure of the whole start policy is re-run until `confirm` failures in a row.
        let start_queued = batch.iter().any(|(b, _)| b == universe);
        if k.kept_trial.is_none() && room(&batch) && !start_queued {
            let obs = k.observations(universe);
            if obs.last().is_some_and(|o| !o.passed) {
                batch.push((universe.clone(), Purpose::Recheck));
            } else if obs.is_empty() && (!k.necessary().is_empty() || trials.len() >= patience) {
                // Proven needed, or many trials, before anything passed: a healthy run seldom
                // gets here, a run whose start policy fails always does (every trial fails).
                // One trial of the start policy tells them apart before n trials are spent.
                batch.push((universe.clone(), Purpose::Verify));
            }
        }
        for c in k.pending_confirm() {
            if batch.len() < parallel && !batch.iter().any(|(b, _)| b == &c) {
                batch.push((c, Purpose::Confirm));
            }
        }
        let slots = parallel.saturating_sub(batch.len());
        if slots > 0 {
            for c in strategy.propose(&k, &evidence, slots) {
                if !batch.iter().any(|(b, _)| b == &c) {
                    batch.push((c, Purpose::Search));
                }
            }
        }
        if batch.is_empty() {
            if k.kept_trial.is_none() && k.observations(&k.kept).is_empty() {
                batch.push((k.kept.clone(), Purpose::Verify));
            } else {
                break;
            }
        }
        if let Some(max) = cfg.max_trials {
            batch.truncate(usize::try_from(max.saturating_sub(trials.len() as u64)).unwrap_or(usize::MAX).max(1));
        }
        round += 1;
        let requests: Vec<(TrialRequest, Purpose, Vec<String>, Option<Outcome>)> = batch
            .into_iter()
            .map(|(candidate, purpose)| {
                let key = Journal::key(catalog, &candidate);
                let attempt = u32::try_from(k.observations(&candidate).len()).unwrap_or(u32::MAX);
                // A replayed trial keeps its recorded id; a new one comes after every id the
                // journal or this run has used.
                let (id, replayed) = match journal.replay(&key) {
                    Some((id, outcome)) => (id, Some(outcome)),
                    None => {
                        next_id += 1;
                        (next_id, None)
                    }
                };
                (TrialRequest { id, candidate, attempt }, purpose, key, replayed)
            })
            .collect();
        // Each trial is journaled the moment it finishes (a kill loses no finished trial of a
        // round still running), except that repeats of one candidate are journaled in request
        // order (a resume matches them by occurrence). The knowledge takes the round's results
        // in request order, so that a resumed run, whose replayed trials finish at once,
        // decides the same way. An oracle error lets the other running trials finish (and be
        // journaled) before it ends the run: a real workload is not killed half way.
        let mut running: futures::stream::FuturesUnordered<_> = requests
            .iter()
            .enumerate()
            .map(|(i, (req, _, _, replayed))| async move {
                let result = match replayed {
                    Some(o) => Ok((o.clone(), true)),
                    None => oracle.trial(req).await.map(|o| (o, false)),
                };
                (i, result)
            })
            .collect();
        let mut finished: Vec<Option<(TrialRecord, bool)>> = vec![None; requests.len()];
        let mut written = vec![false; requests.len()];
        let mut first_error = None;
        while let Some((i, result)) = futures::StreamExt::next(&mut running).await {
            let (outcome, replayed) = match result {
                Ok(r) => r,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let Some((req, purpose, key, _)) = requests.get(i) else { continue };
            let record = TrialRecord {
                id: req.id,
                round,
                purpose: *purpose,
                candidate: key.clone(),
                candidate_removed: None,
                removed: universe.difference(&req.candidate).len(),
                outcome,
            };
            if let Some(slot) = finished.get_mut(i) {
                *slot = Some((record, replayed));
            }
            // Journal every finished trial no earlier unfinished request shares a key with.
            for j in 0..requests.len() {
                let (Some(Some((record, replayed))), Some(false)) = (finished.get(j), written.get(j).copied()) else {
                    continue;
                };
                let earlier_open = (0..j).any(|e| {
                    !written.get(e).copied().unwrap_or(true) && requests.get(e).map(|r| &r.2) == Some(&record.candidate)
                });
                if earlier_open {
                    continue;
                }
                if !replayed {
                    journal.append(record)?;
                }
                if let Some(w) = written.get_mut(j) {
                    *w = true;
                }
            }
        }
        drop(running);
        if let Some(e) = first_error {
            // Repeats held back behind a request that errored: journal them too, in order.
            for (done, w) in finished.iter().zip(&written) {
                if let (Some((record, false)), false) = (done, w) {
                    journal.append(record)?;
                }
            }
            return Err(e.into());
        }
        let mut round_cost = 0.0f64;
        for ((req, _, _, _), done) in requests.into_iter().zip(finished) {
            let Some((record, replayed)) = done else { continue };
            let outcome = record.outcome.clone();
            round_cost = round_cost.max(outcome.cost_seconds);
            let passed = outcome.is_pass();
            if !passed {
                let named: Vec<ActionId> =
                    outcome.denied.iter().filter_map(|d| d.action.as_deref()).map(|a| catalog.intern(a)).collect();
                if !named.is_empty() {
                    evidence.named.push((req.candidate.clone(), named));
                }
            }
            k.record(&req.candidate, req.id, passed);
            outcomes.insert(req.id, outcome);
            trials.push(Trial { record, candidate: req.candidate, replayed });
        }
        simulated += round_cost;
        // The unpruned universe failing (`confirm` times in a row, so that one flaky run is
        // not taken for it) is not something pruning can fix. With `--confirm` (flakiness
        // expected) one failure more: the start policy is run early in any run that proves an
        // action needed before a pass, and two spurious failures in a row (1% at a 10% flake
        // rate) would end a healthy run.
        if k.kept_trial.is_none() {
            let obs = k.observations(universe);
            let failing = obs.iter().rev().take_while(|o| !o.passed).count();
            let needed = cfg.confirm.max(1) + usize::from(cfg.confirm > 1);
            if failing >= needed {
                let denials = obs.last().and_then(|o| outcomes.get(&o.trial)).map(describe_denials).unwrap_or_default();
                return Err(PruneError::StartFails { universe: universe.len(), denials });
            }
        }
        // Once per round: the re-runs still owed decide both the end and the ETA.
        let pending = k.pending_confirm().len();
        let search_over = k.is_done() && pending == 0;
        if progress.wants_updates() {
            progress.update(&ProgressStats {
                trials: trials.len() as u64,
                round,
                kept: k.kept.len(),
                dropped: universe.len() - k.kept.len(),
                necessary: k.necessary().len(),
                universe: universe.len(),
                simulated_seconds: simulated,
                trials_left: if search_over {
                    0.0
                } else {
                    strategy.trials_left(&k).unwrap_or_else(|| {
                        let undecided = k.kept.len().saturating_sub(k.necessary().len());
                        Posterior::new(Prior::default(), universe.len(), k.necessary().len(), undecided, &[])
                            .trials_left()
                    }) + pending as f64
                },
                parallel,
                trial_seconds: info.trial_seconds,
            });
        }
        if search_over {
            break;
        }
    }
    // A budget or deadline can stop the search on a lazily confirmed kept set.
    k.settle();
    let proofs = k.necessary();
    let undecided = k.kept.difference(&k.necessary_set());
    let tolerated = k.kept_trial.and_then(|t| outcomes.get(&t)).map(|o| o.tolerated.clone()).unwrap_or_default();
    Ok(PruneResult {
        universe: universe.clone(),
        minimal: k.kept.clone(),
        proofs,
        verified_by: k.kept_trial,
        undecided,
        trials,
        rounds: round,
        tolerated,
        flaky: k.flaky.clone(),
        violations: k.violations.clone(),
        stopped,
        simulated_seconds: simulated,
        parallel,
        likely_ignored: cfg.likely.difference(universe),
    })
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

/// ceil(log2 C(n, d)): the information-theoretic lower bound on trials to identify d needed
/// actions among n.
pub fn lower_bound(n: usize, d: usize) -> u64 {
    if d == 0 || d >= n {
        return 0;
    }
    let mut log2 = 0.0f64;
    for i in 0..d {
        log2 += ((n - i) as f64).log2() - ((i + 1) as f64).log2();
    }
    (log2 - 1e-9).ceil().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bounds() {
        assert_eq!(lower_bound(200, 2), 15);
        assert_eq!(lower_bound(8, 1), 3);
        assert_eq!(lower_bound(1000, 10), 78);
        assert_eq!(lower_bound(5000, 20), 185);
    }
}

#[cfg(test)]
mod search_tests {
    use super::synthetic::SyntheticOracle;
    use super::*;
    use proptest::prelude::*;

    fn run_sync(oracle: &SyntheticOracle, universe: &ActionSet, cfg: &PruneConfig) -> PruneResult {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run(oracle, universe, cfg, &mut Journal::in_memory(), &NoProgress)).unwrap()
    }

    fn universe(n: usize) -> (ActionSet, Vec<ActionId>) {
        let ids: Vec<ActionId> = (0..n).map(|i| ActionId::from_index(i * 7)).collect();
        (ids.iter().copied().collect(), ids)
    }

    const ALL: [StrategyKind; 4] = [StrategyKind::Auto, StrategyKind::Group, StrategyKind::Ddmin, StrategyKind::Linear];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn every_strategy_finds_a_verified_one_minimal_set(n in 8usize..80, d in 1usize..6, fb in 0.0f64..0.5, seed in 0u64..1000, named in any::<bool>(), k in 1usize..10, expect in proptest::option::of(0usize..8)) {
            let (u, ids) = universe(n);
            let mut o = SyntheticOracle::generate(&ids, d, fb, seed);
            o.named = named;
            for s in ALL {
                // Any expectation, right or wrong, may only change the trials, not the result.
                let cfg = PruneConfig { strategy: s, parallel: k, expect_needed: expect, ..PruneConfig::default() };
                let r = run_sync(&o, &u, &cfg);
                prop_assert!(o.is_sufficient(&r.minimal), "{:?}: result does not pass", s);
                prop_assert!(o.is_minimal(&r.minimal), "{:?}: result is not 1-minimal: {:?}", s, r.minimal);
                prop_assert!(r.is_minimal(), "{:?}: not proven", s);
                // Memoized: no candidate ran twice.
                let mut seen = std::collections::HashSet::new();
                for t in &r.trials { prop_assert!(seen.insert(t.candidate.clone()), "{:?} ran a candidate twice", s); }
            }
        }

        /// Flaky runs (spurious failures, and first runs that still see the broad policy) with
        /// `--confirm` 2 or 3: the result always passes for real (no needed action dropped) and
        /// was verified; what flakiness costs is trials and, rarely, an extra action kept.
        #[test]
        fn flaky_runs_with_confirm_never_drop_a_needed_action(n in 8usize..120, d in 1usize..6, fb in 0.0f64..0.4, seed in 0u64..1000, rate in 0.0f64..0.3, k in 1usize..9, confirm in 2usize..4, budget in proptest::option::of(2u64..40)) {
            let (u, ids) = universe(n);
            let mut o = SyntheticOracle::generate(&ids, d, fb, seed);
            o.named = seed % 2 == 0;
            o.flaky_failure_rate = rate;
            o.propagation_miss_rate = rate;
            for s in [StrategyKind::Auto, StrategyKind::Group] {
                // Also stopped early by a trial budget: the best set so far must pass too.
                let cfg = PruneConfig { strategy: s, parallel: k, confirm, max_trials: budget, ..PruneConfig::default() };
                let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                let r = match rt.block_on(run(&o, &u, &cfg, &mut Journal::in_memory(), &NoProgress)) {
                    // The whole start policy failed `confirm` times in a row (spuriously):
                    // the run stops with that error, which is right, and there is no result.
                    Err(PruneError::StartFails { .. }) => continue,
                    other => other.unwrap(),
                };
                prop_assert!(o.is_sufficient(&r.minimal), "{:?}: a needed action was dropped: {:?}", s, r.minimal);
                prop_assert!(r.verified_by.is_some() || r.minimal == u, "{:?}: result not verified", s);
            }
        }
    }

    /// A synthetic oracle that counts the trials it runs and, with `fail_first`, makes trial 1
    /// sleep and then error (a throttled AWS call, a killed run).
    struct Wrapped<'a> {
        inner: &'a SyntheticOracle,
        trials: std::sync::atomic::AtomicU64,
        fail_first: bool,
    }

    impl<'a> Wrapped<'a> {
        fn new(inner: &'a SyntheticOracle, fail_first: bool) -> Wrapped<'a> {
            Wrapped { inner, trials: std::sync::atomic::AtomicU64::new(0), fail_first }
        }
    }

    impl Oracle for Wrapped<'_> {
        fn info(&self) -> crate::oracle::OracleInfo {
            self.inner.info()
        }

        fn trial<'a>(
            &'a self,
            request: &'a crate::oracle::TrialRequest,
        ) -> futures::future::BoxFuture<'a, Result<Outcome, crate::oracle::OracleError>> {
            self.trials.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !self.fail_first || request.id != 1 {
                return self.inner.trial(request);
            }
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(crate::oracle::OracleError::Run { trial: 1, message: "throttled".into(), help: "retry".into() })
            })
        }
    }

    /// A workload that fails under the start policy itself (here: it needs an action the
    /// start policy lacks) is reported after a few trials, not after proving all n needed.
    #[test]
    fn a_start_policy_that_fails_is_reported_in_a_few_trials() {
        let (u, _) = universe(500);
        let outside = ActionId::from_index(3);
        assert!(!u.contains(outside));
        for named in [false, true] {
            let mut o = SyntheticOracle::needing(&[outside]);
            o.named = named;
            for s in ALL {
                for k in [1, 8] {
                    let cfg = PruneConfig { strategy: s, parallel: k, ..PruneConfig::default() };
                    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    let counting = Wrapped::new(&o, false);
                    let r = rt.block_on(run(&counting, &u, &cfg, &mut Journal::in_memory(), &NoProgress));
                    assert!(matches!(r, Err(PruneError::StartFails { .. })), "{s:?} K={k}: {r:?}");
                    // 2 ceil(log2 500) + 4 = 22 trials without a pass at most (rounding up
                    // to a whole round), then the start policy's round.
                    let trials = counting.trials.load(std::sync::atomic::Ordering::Relaxed);
                    assert!(trials <= 22 + 2 * k as u64, "{s:?} K={k} named={named}: {trials} trials");
                }
            }
        }
    }

    /// An empty temporary directory for one test's journals.
    fn fresh_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("iam-prune-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A start record for a journal written by a test run.
    fn test_start() -> StartRecord {
        StartRecord {
            version: 1,
            name: "t".into(),
            config: serde_json::json!({}),
            universe: Vec::new(),
            started: String::new(),
        }
    }

    /// The trials of a round are journaled as each finishes: a round cut short by an error (or
    /// a kill) keeps every trial that had finished, and a resume does not run them again.
    #[test]
    fn a_round_cut_short_keeps_the_trials_that_finished() {
        let (u, ids) = universe(100);
        let synthetic = SyntheticOracle::generate(&ids, 2, 0.0, 7);
        let o = Wrapped::new(&synthetic, true);
        let dir = fresh_dir("round-cut");
        let path = dir.join("journal.jsonl");
        let mut journal = Journal::create(&path, test_start()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let cfg = PruneConfig { strategy: StrategyKind::Group, parallel: 4, ..PruneConfig::default() };
        let r = rt.block_on(run(&o, &u, &cfg, &mut journal, &NoProgress));
        assert!(r.is_err(), "the first trial's error ends the run");
        let resumed = Journal::resume(&path).unwrap();
        let ids: Vec<u64> = resumed.previous.iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), 3, "the round's three finished trials are in the journal: {ids:?}");
        assert!(!ids.contains(&1));
        // Resumed with a working oracle: the three are replayed, not run again, and no id repeats.
        let mut journal = Journal::resume(&path).unwrap();
        let r = rt.block_on(run(&synthetic, &u, &cfg, &mut journal, &NoProgress)).unwrap();
        let replayed: Vec<u64> = r.trials.iter().filter(|t| t.replayed).map(|t| t.record.id).collect();
        assert_eq!(replayed, ids, "the finished trials replay in the first round");
        let all = Journal::resume(&path).unwrap();
        let mut every: Vec<u64> = all.previous.iter().map(|t| t.id).collect();
        let n = every.len();
        every.sort();
        every.dedup();
        assert_eq!(every.len(), n, "an id was journaled twice");
        assert!(synthetic.is_minimal(&r.minimal) && r.is_minimal());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Lazy confirmation several at a time decides from maps of observations; a run
    /// killed half way and resumed must still propose exactly the trials it recorded, and then
    /// the same ones as the run that was not killed.
    #[test]
    fn a_flaky_run_several_at_a_time_resumes_to_the_same_trials() {
        let (u, ids) = universe(300);
        let dir = fresh_dir("lazy-resume");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut checked = 0;
        for seed in 0..6u64 {
            let mut o = SyntheticOracle::generate(&ids, 4, 0.3, seed);
            o.flaky_failure_rate = 0.1;
            o.propagation_miss_rate = 0.1;
            let cfg = PruneConfig { strategy: StrategyKind::Group, parallel: 8, confirm: 2, ..PruneConfig::default() };
            let path = dir.join(format!("journal-{seed}.jsonl"));
            let whole = rt.block_on(run(&o, &u, &cfg, &mut Journal::create(&path, test_start()).unwrap(), &NoProgress));
            let Ok(whole) = whole else { continue };
            let keys = |r: &PruneResult| r.trials.iter().map(|t| t.record.candidate.clone()).collect::<Vec<_>>();
            // Keep the start record and the first half of the trials.
            let text = std::fs::read_to_string(&path).unwrap();
            let half = whole.trials.len() / 2;
            let cut: Vec<&str> = text.lines().take(1 + half).collect();
            std::fs::write(&path, cut.join("\n") + "\n").unwrap();
            let mut journal = Journal::resume(&path).unwrap();
            let resumed = rt.block_on(run(&o, &u, &cfg, &mut journal, &NoProgress)).unwrap();
            assert_eq!(keys(&resumed), keys(&whole), "seed {seed}: the resumed run went another way");
            assert_eq!(resumed.trials.iter().filter(|t| t.replayed).count(), half, "seed {seed}");
            assert_eq!(resumed.minimal, whole.minimal, "seed {seed}");
            checked += 1;
        }
        assert!(checked >= 4, "only {checked} runs finished");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A round never runs more trials than `--parallel`, re-checks of contradictions included.
    #[test]
    fn rounds_hold_at_most_k_trials_even_with_rechecks() {
        let (u, ids) = universe(40);
        let (mut over, mut finished, mut rechecks) = (0, 0, 0);
        for seed in 0..150u64 {
            let mut o = SyntheticOracle::generate(&ids, 3, 0.2, seed);
            o.named = seed % 2 == 0;
            o.flaky_failure_rate = 0.4;
            o.propagation_miss_rate = 0.4;
            for k in [1, 2] {
                for confirm in [1, 2, 3] {
                    let cfg =
                        PruneConfig { strategy: StrategyKind::Group, parallel: k, confirm, ..PruneConfig::default() };
                    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    let Ok(r) = rt.block_on(run(&o, &u, &cfg, &mut Journal::in_memory(), &NoProgress)) else {
                        continue;
                    };
                    finished += 1;
                    rechecks += r.trials.iter().filter(|t| t.record.purpose == Purpose::Recheck).count();
                    let mut per_round: HashMap<u64, usize> = HashMap::new();
                    for t in &r.trials {
                        *per_round.entry(t.record.round).or_default() += 1;
                    }
                    over += per_round.values().filter(|&&n| n > k).count();
                    assert_eq!(r.rounds as usize, per_round.len(), "seed {seed} K={k}");
                }
            }
        }
        assert_eq!(over, 0, "{over} rounds ran more than K trials");
        // Not vacuous: most runs finish, and re-checks (what used to overflow a round) ran.
        assert!(finished > 600 && rechecks > 50, "{finished} runs finished, {rechecks} re-checks");
    }

    /// A budget can stop a flaky run right after a pass that was not confirmed yet (one trial
    /// at a time confirms lazily): the result must still be a set the workload really passes.
    #[test]
    fn a_flaky_run_stopped_at_any_trial_returns_a_set_that_really_passes() {
        let (u, ids) = universe(40);
        let mut stale_stops = 0;
        for seed in 0..12u64 {
            let mut o = SyntheticOracle::generate(&ids, 2, 0.0, seed);
            o.named = false;
            o.flaky_failure_rate = 0.2;
            o.propagation_miss_rate = 0.3;
            let cfg = PruneConfig { strategy: StrategyKind::Group, confirm: 2, ..PruneConfig::default() };
            let full = run_sync(&o, &u, &cfg);
            for budget in 1..=full.trial_count() {
                let r = run_sync(&o, &u, &PruneConfig { max_trials: Some(budget), ..cfg.clone() });
                assert!(o.is_sufficient(&r.minimal), "seed {seed}, budget {budget}: {:?}", r.minimal);
                // Count the stops where the last trial was a pass not yet confirmed.
                if let Some(last) = r.trials.last() {
                    if last.record.outcome.is_pass() && !o.is_sufficient(&last.candidate) {
                        stale_stops += 1;
                    }
                }
            }
        }
        assert!(stale_stops > 0, "no stop right after a stale pass: the test does not test it");
    }

    #[test]
    fn one_needed_action_among_200_is_decoded_in_two_rounds_of_eight() {
        // Round 1: a constant-weight code names the needed action's class; round 2: one
        // finishing trial per action of the class, whose pass verifies the answer.
        let (u, ids) = universe(200);
        let mut two = 0;
        for seed in 0..10 {
            let mut o = SyntheticOracle::generate(&ids, 1, 0.0, seed);
            o.named = false;
            let r =
                run_sync(&o, &u, &PruneConfig { strategy: StrategyKind::Group, parallel: 8, ..PruneConfig::default() });
            assert!(o.is_minimal(&r.minimal) && r.is_minimal());
            assert!(r.rounds <= 3, "seed {seed}: {} rounds", r.rounds);
            two += usize::from(r.rounds == 2);
        }
        assert!(two >= 6, "only {two} of 10 in two rounds");
    }

    #[test]
    fn the_right_expectation_saves_trials_and_a_wrong_one_costs_a_few() {
        let (u, ids) = universe(500);
        let mean = |d: usize, expect: Option<usize>| {
            let mut total = 0.0;
            for seed in 0..8 {
                let o = SyntheticOracle::generate(&ids, d, 0.0, seed);
                let cfg =
                    PruneConfig { strategy: StrategyKind::Group, expect_needed: expect, ..PruneConfig::default() };
                let r = run_sync(&o, &u, &cfg);
                assert!(o.is_minimal(&r.minimal) && r.is_minimal(), "d={d} expect={expect:?} seed {seed}");
                total += r.trial_count() as f64;
            }
            total / 8.0
        };
        for d in [2usize, 4] {
            let (unknown, right) = (mean(d, None), mean(d, Some(d)));
            assert!(right < unknown, "d={d}: {right} with d given, {unknown} without");
            assert!(right <= (lower_bound(500, d) + d as u64) as f64, "d={d}: {right}");
            for wrong in [d - 1, d + 1] {
                let w = mean(d, Some(wrong));
                assert!(w <= unknown + 6.0, "d={d}, expecting {wrong}: {w} vs {unknown} without");
            }
        }
    }

    #[test]
    fn several_at_a_time_passes_are_confirmed_lazily_and_nothing_needed_is_dropped() {
        // With `--confirm 2` at K = 8, a round's passes are combined unconfirmed and only the
        // kept set (or passes a failure contradicts) re-run. Flaky workloads (10% spurious
        // failures, 10% stale-policy passes). What it saves in trials is `bench prune`'s.
        let (u, ids) = universe(1000);
        {
            for seed in 0..10 {
                for fallbacks in [0.0, 0.3] {
                    let mut o = SyntheticOracle::generate(&ids, 5, fallbacks, seed);
                    o.named = false;
                    o.flaky_failure_rate = 0.1;
                    o.propagation_miss_rate = 0.1;
                    let cfg = PruneConfig {
                        strategy: StrategyKind::Group,
                        parallel: 8,
                        confirm: 2,
                        ..PruneConfig::default()
                    };
                    let r = run_sync(&o, &u, &cfg);
                    assert!(o.is_sufficient(&r.minimal), "seed {seed}: a needed action dropped");
                }
            }
        }
    }

    #[test]
    fn unique_minimal_set_is_found_exactly() {
        let (u, ids) = universe(200);
        let o = SyntheticOracle::needing(&[ids[17], ids[150]]);
        for s in ALL {
            let r = run_sync(&o, &u, &PruneConfig { strategy: s, ..PruneConfig::default() });
            assert_eq!(r.minimal, [ids[17], ids[150]].into_iter().collect::<ActionSet>(), "{s:?}");
        }
    }
}
