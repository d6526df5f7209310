//! The pruning engine: find a necessary-and-sufficient action set in few trials and rounds.
//!
//! The loop ([`engine`]): confirmations and contradiction re-checks first, then the strategy's
//! proposals, up to `parallel` candidates per round, run concurrently on the oracle
//! ([`round`]); every outcome is journaled (flushed) before it is used, so a killed run resumes
//! exactly. The result is the kept set, which always passed, with a proof trial for each action
//! in it.

mod engine;
mod err;
pub mod journal;
pub mod knowledge;
pub mod posterior;
mod round;
pub mod strategy;
pub mod summary;
pub mod synthetic;

pub use engine::run;
pub use err::PruneError;
pub use journal::{Journal, Purpose, StartRecord, TrialRecord};
pub use knowledge::Knowledge;
pub use strategy::{Evidence, StrategyKind};

use crate::actions::ActionSet;
use crate::catalog::ActionId;
use crate::oracle::Denial;
use std::time::Duration;

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
mod tests;
