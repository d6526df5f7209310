//! How a job searches, as its start record keeps it, and the budgets a resume may change.

use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::prune::{Journal, PruneConfig, PruneError, StrategyKind};
use std::time::Duration;

/// How a job searches (the `prune` flags), whatever its oracle: scenario jobs and AWS jobs
/// (`crate::aws::job`) turn it into a [`PruneConfig`] the same way.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SearchSettings {
    /// Strategy.
    pub strategy: StrategyKind,
    /// Trials per round.
    pub parallel: usize,
    /// `--confirm`.
    pub confirm: usize,
    /// Trial budget.
    pub max_trials: Option<u64>,
    /// Wall-clock budget in seconds.
    pub deadline: Option<u64>,
    /// Priors.
    pub likely: Vec<String>,
    /// `--expect-needed`: the number of needed actions expected (journals written before the
    /// flag existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_needed: Option<usize>,
    /// The search engine's version when the run started (journals without it are version 1).
    /// A resumed run searches as the current engine does whatever this says.
    #[serde(default = "first_engine")]
    pub engine: u32,
}

fn first_engine() -> u32 {
    1
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            strategy: StrategyKind::Auto,
            parallel: 1,
            confirm: 1,
            max_trials: None,
            deadline: None,
            likely: Vec::new(),
            expect_needed: None,
            engine: crate::prune::ENGINE,
        }
    }
}

impl SearchSettings {
    /// Settings for a re-prune after a run that found `previous` (its minimal set): the set is
    /// tried first (added to `likely`) and its size expected (`expect_needed`, unless already
    /// set). With `auto` an unchanged workload then costs d + 1 trials (the old set passes,
    /// then one proof per action). It never makes a result wrong (priors only order trials;
    /// with fallbacks, "A or B", it may keep the previous run's choice).
    pub fn start_from(&mut self, previous: &[String]) {
        if self.expect_needed.is_none() {
            self.expect_needed = Some(previous.len());
        }
        for a in previous {
            if !self.likely.contains(a) {
                self.likely.push(a.clone());
            }
        }
    }

    /// The same search flags as `other` (what a user sets; not what is derived from a
    /// previous result, nor the engine version).
    pub fn same_flags(&self, other: &SearchSettings) -> bool {
        (self.strategy, self.parallel, self.confirm, self.max_trials, self.deadline)
            == (other.strategy, other.parallel, other.confirm, other.max_trials, other.deadline)
    }

    /// The engine's configuration.
    pub fn prune_config(&self) -> PruneConfig {
        let catalog = Catalog::embedded();
        PruneConfig {
            strategy: self.strategy,
            parallel: self.parallel.max(1),
            confirm: self.confirm.max(1),
            max_trials: self.max_trials,
            deadline: self.deadline.map(Duration::from_secs),
            likely: self.likely.iter().map(|a| catalog.intern(a)).collect::<ActionSet>(),
            order: Vec::new(),
            expect_needed: self.expect_needed,
        }
    }
}

/// Budgets a resumed run may change: they decide where the search stops, never which trials
/// it proposes, so the journal's trials still replay exactly. A run stopped by `--max-trials`
/// is continued with a larger one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budgets {
    /// A new trial budget (the run's total, replayed trials included).
    pub max_trials: Option<u64>,
    /// A new wall-clock budget in seconds, for this process.
    pub deadline: Option<u64>,
}

impl Budgets {
    /// Puts the given budgets in place of the journal's. A trial budget below the trials the
    /// journal already holds is refused: it would rewrite the run's result with a worse one.
    pub fn apply(&self, search: &mut SearchSettings, journal: &Journal) -> Result<(), PruneError> {
        if let Some(m) = self.max_trials {
            let recorded = journal.recorded_trials();
            if m < recorded as u64 {
                return Err(PruneError::ResumeMismatch(format!(
                    "--max-trials {m} is below the {recorded} trials the run already holds; give a larger budget to continue it"
                )));
            }
        }
        // Without new budgets, a resume stops where the run last ended: the start record holds
        // the first budget, but a later resume may have given a larger one (or let it finish).
        if self.max_trials.is_none() && self.deadline.is_none() {
            match journal.last_result() {
                Some((_, false)) => {
                    search.max_trials = None;
                    search.deadline = None;
                }
                Some((trials, true)) => search.max_trials = search.max_trials.map(|m| m.max(trials)),
                None => {}
            }
        }
        if self.max_trials.is_some() {
            search.max_trials = self.max_trials;
        }
        if self.deadline.is_some() {
            search.deadline = self.deadline;
        }
        Ok(())
    }
}
