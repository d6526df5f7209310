//! What the trials so far prove, under the assumption that the workload is monotone
//! (granting more actions never makes it fail).
//!
//! Every observation is a fact about one candidate set. From them:
//! - `kept` is the smallest candidate observed to pass along the search: the answer so far,
//!   always a set that really passed (so fallbacks "A or B" are never both dropped);
//! - each failed candidate `C` says "every passing subset of `kept` intersects `kept \ C`":
//!   a positive group. A positive group of one action proves that action necessary;
//! - monotone inference answers many candidates without a trial: a superset of a passing
//!   set passes, a subset of a failing set fails.
//!
//! A contradiction (a positive group that `kept` does not intersect, i.e. a passing set
//! inside a failing one) means flakiness or a non-monotone workload; it is recorded and
//! re-tested, never looped on.

use crate::actions::ActionSet;
use crate::catalog::ActionId;
use std::collections::HashMap;

/// One recorded observation.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The trial id that produced it.
    pub trial: u64,
    /// Did the candidate pass?
    pub passed: bool,
    /// How many kept actions the candidate lacked when it ran: a failure at 1 tested that
    /// action alone.
    pub lacked: usize,
}

/// The facts gathered so far.
#[derive(Debug, Clone)]
pub struct Knowledge {
    /// The universe under pruning.
    pub universe: ActionSet,
    /// The smallest set observed to pass (the universe until something passes).
    pub kept: ActionSet,
    /// The trial that showed `kept` passes (None: the universe, not yet run).
    pub kept_trial: Option<u64>,
    /// Candidate -> observations, in order.
    memo: HashMap<ActionSet, Vec<Observation>>,
    /// Failed candidates (the latest verdict of each is a fail), in order of observation.
    fails: Vec<(ActionSet, u64)>,
    /// Passed candidates, in order of observation.
    passes: Vec<(ActionSet, u64)>,
    /// Candidates whose observations disagree (flaky), with the trial ids.
    pub flaky: Vec<(ActionSet, Vec<(u64, bool)>)>,
    /// Contradictions with monotonicity: (passing trial, failing trial) where the passing
    /// candidate is a subset of the failing one.
    pub violations: Vec<(u64, u64)>,
    /// How many observations a deciding result needs (`--confirm`).
    confirm: usize,
    /// Confirm passes lazily: an unconfirmed pass inside `kept` becomes the kept set at once,
    /// and only the kept set is re-run, when a trial inside it fails or the search is over.
    /// Strategies also combine unconfirmed passes with the kept set, re-run only when a
    /// failure contradicts the combination ([`Knowledge::combinable_passes`]).
    lazy: bool,
    /// A trial inside the (unconfirmed) kept set failed since it became the kept set.
    doubted: bool,
}

impl Knowledge {
    /// Nothing known yet about `universe`.
    pub fn new(universe: ActionSet) -> Knowledge {
        Knowledge::with_confirm(universe, 1)
    }

    /// Nothing known yet; deciding passes and necessity proofs need `confirm` observations.
    pub fn with_confirm(universe: ActionSet, confirm: usize) -> Knowledge {
        Knowledge {
            confirm: confirm.max(1),
            lazy: false,
            doubted: false,
            kept: universe.clone(),
            universe,
            kept_trial: None,
            memo: HashMap::new(),
            fails: Vec::new(),
            passes: Vec::new(),
            flaky: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// Passes are confirmed lazily (with `confirm` > 1): see the `lazy` field.
    pub fn confirm_lazily(mut self) -> Knowledge {
        self.lazy = self.confirm > 1;
        self
    }

    /// The kept set passed, but fewer than `confirm` times in a row (lazy confirmation).
    pub fn kept_tentative(&self) -> bool {
        if !self.lazy || self.kept_trial.is_none() || self.kept == self.universe {
            return false;
        }
        self.observations(&self.kept).iter().rev().take_while(|o| o.passed).count() < self.confirm
    }

    /// Ends a search that stopped early (budget, deadline) on an unconfirmed kept set: the
    /// result falls back to the smallest confirmed pass around it (the start policy if none),
    /// since the unconfirmed one may be a stale-policy run. What the trials proved stays;
    /// proofs are recomputed against the set returned.
    pub fn settle(&mut self) {
        if !self.kept_tentative() {
            return;
        }
        let confirm = self.confirm;
        self.fall_back(|k, p| {
            p == &k.universe || k.observations(p).iter().rev().take_while(|o| o.passed).count() >= confirm
        });
        self.doubted = false;
    }

    /// The recorded observations of exactly this candidate.
    pub fn observations(&self, c: &ActionSet) -> &[Observation] {
        self.memo.get(c).map(Vec::as_slice).unwrap_or_default()
    }

    /// What monotonicity says about `c` without running it: `Some(true)` if it contains a
    /// set that passed, `Some(false)` if it is inside a set that failed.
    pub fn infer(&self, c: &ActionSet) -> Option<bool> {
        if let Some(obs) = self.memo.get(c) {
            if let Some(last) = obs.last() {
                return Some(last.passed);
            }
        }
        if self.passes.iter().any(|(p, _)| p.is_subset(c)) {
            return Some(true);
        }
        if self.fails.iter().any(|(f, _)| c.is_subset(f)) {
            return Some(false);
        }
        None
    }

    /// Records an observation and updates `kept`. Returns the number of newly detected
    /// contradictions.
    pub fn record(&mut self, candidate: &ActionSet, trial: u64, passed: bool) -> usize {
        let lacked = self.kept.difference(candidate).len();
        let obs = self.memo.entry(candidate.clone()).or_default();
        let disagrees = obs.iter().any(|o| o.passed != passed);
        obs.push(Observation { trial, passed, lacked });
        if disagrees {
            let history: Vec<(u64, bool)> = obs.iter().map(|o| (o.trial, o.passed)).collect();
            match self.flaky.iter_mut().find(|(c, _)| c == candidate) {
                Some(entry) => entry.1 = history,
                None => self.flaky.push((candidate.clone(), history)),
            }
        }
        // The latest verdict of a candidate wins: re-tests exist to correct spurious results.
        self.passes.retain(|(c, _)| c != candidate);
        self.fails.retain(|(c, _)| c != candidate);
        let mut new_violations = 0;
        let agreeing = obs.iter().rev().take_while(|o| o.passed == passed).count();
        // Lazily confirmed: a pass inside the kept set that no recorded failure contradicts
        // becomes the kept set now. It is still a pass the workload showed; if it was a
        // stale-policy run, the next trial inside it fails, and re-running it then finds out.
        let tentative = self.lazy
            && passed
            && candidate.is_subset(&self.kept)
            && candidate != &self.kept
            && !self.fails.iter().any(|(f, _)| candidate.is_subset(f));
        if passed
            && agreeing < self.confirm
            && !tentative
            && !(candidate == &self.kept || self.kept.is_subset(candidate))
        {
            // An unconfirmed pass decides nothing yet: the engine re-runs it (`pending_confirm`).
            return 0;
        }
        if passed {
            for (f, ft) in &self.fails {
                if candidate.is_subset(f) {
                    self.violations.push((trial, *ft));
                    new_violations += 1;
                }
            }
            self.passes.push((candidate.clone(), trial));
            if candidate.is_subset(&self.kept) && (self.kept_trial.is_none() || candidate != &self.kept) {
                self.kept = candidate.clone();
                self.kept_trial = Some(trial);
                self.doubted = false;
            }
        } else {
            for (p, pt) in &self.passes {
                if p.is_subset(candidate) {
                    self.violations.push((*pt, trial));
                    new_violations += 1;
                }
            }
            self.fails.push((candidate.clone(), trial));
            if candidate == &self.kept {
                // The kept set itself failed on a re-test: fall back to the smallest
                // earlier passing superset, which is still a verified pass.
                self.rollback_kept();
                self.doubted = false;
            }
            if self.kept_tentative() && candidate.is_subset(&self.kept) {
                self.doubted = true;
            }
        }
        new_violations
    }

    fn rollback_kept(&mut self) {
        self.fall_back(|k, p| p != &k.kept);
    }

    /// Moves `kept` up to the smallest recorded pass around it that `usable` accepts (the
    /// start policy when there is none): a re-test that failed it, or a search stopped on an
    /// unconfirmed one.
    fn fall_back(&mut self, usable: impl Fn(&Knowledge, &ActionSet) -> bool) {
        let best = self
            .passes
            .iter()
            .filter(|(p, _)| self.kept.is_subset(p) && usable(self, p))
            .min_by_key(|(p, _)| p.len())
            .cloned();
        match best {
            Some((p, t)) => {
                self.kept = p;
                self.kept_trial = Some(t);
            }
            None => {
                self.kept = self.universe.clone();
                self.kept_trial = self.passes.iter().find(|(p, _)| p == &self.universe).map(|(_, t)| *t);
            }
        }
    }

    /// Positive groups relative to `kept`: for each failed candidate `C`, `kept \ C`, reduced
    /// to the inclusion-minimal ones. An empty group is a contradiction (returned separately).
    pub fn positive_groups(&self) -> (Vec<(ActionSet, u64)>, Vec<u64>) {
        let mut groups: Vec<(ActionSet, u64)> = Vec::new();
        let mut contradictions = Vec::new();
        for (f, t) in &self.fails {
            let g = self.kept.difference(f);
            if g.is_empty() {
                contradictions.push(*t);
                continue;
            }
            groups.push((g, *t));
        }
        // Smallest first; among equal groups the trial failing most often in a row, so that a
        // group once confirmed stays represented by its confirmed trial (a re-test moves its
        // candidate to the end of `fails`; without this the next unconfirmed trial naming the
        // same group would be confirmed again, once per trial of the binary search).
        // (Without `--confirm` every failure is seen once: no need to count.)
        // Among equal positive groups, each is represented by its most-confirmed trial (the
        // first recorded would re-confirm a group once per trial naming it).
        let count = self.confirm > 1;
        groups.sort_by_cached_key(|(g, t)| (g.len(), std::cmp::Reverse(if count { self.fail_count(*t) } else { 0 })));
        let mut minimal: Vec<(ActionSet, u64)> = Vec::new();
        for (g, t) in groups {
            if !minimal.iter().any(|(m, _)| m.is_subset(&g)) {
                minimal.push((g, t));
            }
        }
        (minimal, contradictions)
    }

    /// Every positive group relative to `kept`, minimal or not (`kept \ C` for each failed
    /// candidate `C`, empty ones left out). Strategies use the larger ones to see which
    /// actions a small group's needed action probably leaves clean.
    pub fn all_positive_groups(&self) -> Vec<ActionSet> {
        self.fails.iter().map(|(f, _)| self.kept.difference(f)).filter(|g| !g.is_empty()).collect()
    }

    fn fail_count(&self, trial: u64) -> usize {
        let Some((c, _)) = self.fails.iter().find(|(_, t)| *t == trial) else { return 0 };
        self.memo.get(c).map(|o| o.iter().rev().take_while(|o| !o.passed).count()).unwrap_or(0)
    }

    /// Has the failure recorded by `trial` been seen often enough to count, for a positive
    /// group of `size` actions? A clean run needs `confirm` failures in a row to prove an
    /// action needed and one to search a group. Once the run has shown
    /// flakiness (a candidate that both passed and failed):
    /// - a group is searched only after its failure was seen twice: at the benchmark's 10%
    ///   rate a quarter of the failures that open a search are spurious, and searching a clean
    ///   group costs a confirmed pass per halving (about 2 log2 g trials), one re-run one;
    /// - a candidate needs one more failure per pass it was ever seen to make;
    /// - a proof must include a failure seen while the action was the only one the candidate
    ///   lacked: a group whose failure was spurious (twice) shrinks to one action through
    ///   passes alone, and would otherwise prove that action needed with no trial about it.
    ///
    /// Together they keep a spurious failure from proving an unneeded action needed, at the
    /// cost of a few re-runs (the flaky rows of `iam-prune bench prune`).
    fn fail_seen_enough(&self, trial: u64, size: usize) -> bool {
        let Some((c, _)) = self.fails.iter().find(|(_, t)| *t == trial) else { return false };
        let obs = self.observations(c);
        let streak: Vec<&Observation> = obs.iter().rev().take_while(|o| !o.passed).collect();
        let wary = self.confirm > 1 && !self.flaky.is_empty();
        if !wary {
            return streak.len() >= if size == 1 { self.confirm } else { 1 };
        }
        let passes = obs.iter().filter(|o| o.passed).count();
        if size == 1 {
            streak.len() >= self.confirm + passes && streak.iter().any(|o| o.lacked == 1)
        } else {
            streak.len() >= 2 + passes
        }
    }

    /// The failed candidate recorded by `trial`, if it is still a current failure.
    pub fn failed_candidate(&self, trial: u64) -> Option<&ActionSet> {
        self.fails.iter().find(|(_, t)| *t == trial).map(|(c, _)| c)
    }

    /// Forgets a failure that contradicts confirmed passes after re-tests (reported as a
    /// monotonicity violation). Forgetting a failure only loses information: safe.
    pub fn discard_fail(&mut self, candidate: &ActionSet) {
        self.fails.retain(|(c, _)| c != candidate);
    }

    /// Candidates to re-run before their result may decide anything: passes that would
    /// shrink `kept` and failures that would prove an action necessary, each seen fewer
    /// than `confirm` times in a row.
    pub fn pending_confirm(&self) -> Vec<ActionSet> {
        let mut out = Vec::new();
        if self.confirm <= 1 {
            return out;
        }
        for (c, obs) in &self.memo {
            let agreeing = obs.iter().rev().take_while(|o| o.passed).count();
            if agreeing > 0 && agreeing < self.confirm && c.is_subset(&self.kept) && c != &self.kept {
                out.push(c.clone());
            }
        }
        let (groups, _) = self.positive_groups();
        for (g, t) in groups {
            if !self.fail_seen_enough(t, g.len()) {
                if let Some(c) = self.failed_candidate(t) {
                    out.push(c.clone());
                }
            }
        }
        out.extend(self.doubted_passes());
        out.sort();
        out.dedup();
        // The lazily confirmed kept set: re-run when a trial inside it failed (that failure
        // may be its fault) or when nothing else is left to prove; first, since every other
        // re-run inside it is wasted if it was a stale-policy pass.
        if self.kept_tentative() && (self.doubted || self.necessary_set() == self.kept) {
            out.retain(|c| c != &self.kept);
            out.insert(0, self.kept.clone());
        }
        out
    }

    /// Actions of `kept` proven necessary: removing each alone (or with only actions already
    /// gone) was seen to fail (`confirm` times). Maps each to the proving trial.
    pub fn necessary(&self) -> Vec<(ActionId, u64)> {
        let (groups, _) = self.positive_groups();
        let mut out: Vec<(ActionId, u64)> = groups
            .iter()
            .filter(|(g, t)| g.len() == 1 && self.fail_seen_enough(*t, 1))
            .filter_map(|(g, t)| g.iter().next().map(|a| (a, *t)))
            .collect();
        out.sort();
        out
    }

    /// The set of proven-necessary actions.
    pub fn necessary_set(&self) -> ActionSet {
        self.necessary().into_iter().map(|(a, _)| a).collect()
    }

    /// Is `kept` proven 1-minimal (and verified by a pass)?
    pub fn is_done(&self) -> bool {
        self.kept_trial.is_some() && self.necessary_set() == self.kept && !self.kept_tentative()
    }

    /// All passing observations, in order (for reports).
    pub fn passes(&self) -> &[(ActionSet, u64)] {
        &self.passes
    }

    /// The passes a strategy may combine with the kept set: the recorded passes
    /// that share an action with `kept` but are neither the kept set nor around it, in order,
    /// then, under lazy confirmation, the unconfirmed ones alike (seen fewer than `confirm`
    /// times, contained in no recorded failure; sorted, since the memo is a map and a resumed
    /// run must propose the same trials), less the contradicted ones (see
    /// [`Knowledge::combinations`]). Unconfirmed passes are not used for inference: a spurious
    /// one would answer its supersets as passes, and the search could stall on them.
    pub fn combinable_passes(&self) -> Vec<ActionSet> {
        let (all, contradicted) = self.combinations();
        all.into_iter().filter(|p| !contradicted.contains(p)).collect()
    }

    /// The passes to combine (as [`Knowledge::combinable_passes`]) and those a failure
    /// contradicts together: a failed candidate inside `kept` that equals the kept set's
    /// intersection with every such pass around it (usually the combination the strategy
    /// tested; also a failed group whose parts each passed) says one of them was a spurious
    /// pass, or the failure was spurious, or the workload accepts either of two actions ("A
    /// or B": each pass kept one of them, the combination neither). Every pass around it
    /// counts as contradicted, even one the contradiction does not need (a few trials at most).
    /// Unconfirmed ones are re-run (`pending_confirm`): confirmation is paid only where passes
    /// disagree with a failure. Contradicted ones are not combined while that failure stands
    /// inside `kept`, so that a strategy does not try one subset of them after another.
    fn combinations(&self) -> (Vec<ActionSet>, Vec<ActionSet>) {
        let crossing = |c: &ActionSet| c != &self.kept && !self.kept.is_subset(c) && c.intersects(&self.kept);
        let mut all: Vec<ActionSet> = self.passes.iter().map(|(p, _)| p).filter(|p| crossing(p)).cloned().collect();
        if self.lazy {
            let mut unconfirmed: Vec<ActionSet> = self
                .memo
                .iter()
                .filter(|(c, obs)| {
                    let agreeing = obs.iter().rev().take_while(|o| o.passed).count();
                    agreeing > 0
                        && agreeing < self.confirm
                        && crossing(c)
                        && !self.fails.iter().any(|(f, _)| c.is_subset(f))
                })
                .map(|(c, _)| c.clone())
                .collect();
            unconfirmed.sort();
            unconfirmed.retain(|c| !all.contains(c));
            all.extend(unconfirmed);
        }
        let mut contradicted: Vec<ActionSet> = Vec::new();
        for (f, _) in &self.fails {
            if !f.is_subset(&self.kept) {
                continue;
            }
            let around: Vec<&ActionSet> = all.iter().filter(|p| f.is_subset(p)).collect();
            if around.is_empty() {
                continue;
            }
            let mut meet = self.kept.clone();
            for p in &around {
                meet = meet.intersection(p);
            }
            // `f` is inside `meet`; equal means the combination itself failed.
            if meet.is_subset(f) {
                contradicted.extend(around.into_iter().cloned());
            }
        }
        contradicted.sort();
        contradicted.dedup();
        (all, contradicted)
    }

    /// Unconfirmed passes a failure contradicts (see [`Knowledge::combinations`]): re-run,
    /// unless every kept action is proven needed (then no pass can change the result).
    fn doubted_passes(&self) -> Vec<ActionSet> {
        if !self.lazy || self.necessary_set() == self.kept {
            return Vec::new();
        }
        let (_, contradicted) = self.combinations();
        contradicted
            .into_iter()
            .filter(|c| self.observations(c).iter().rev().take_while(|o| o.passed).count() < self.confirm)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ids: &[usize]) -> ActionSet {
        ids.iter().map(|&i| ActionId::from_index(i)).collect()
    }

    #[test]
    fn kept_shrinks_only_on_observed_passes_and_groups_follow() {
        let mut k = Knowledge::new(s(&[0, 1, 2, 3]));
        k.record(&s(&[0, 1]), 1, false);
        let (g, _) = k.positive_groups();
        assert_eq!(g[0].0, s(&[2, 3]));
        k.record(&s(&[0, 1, 2]), 2, true);
        assert_eq!(k.kept, s(&[0, 1, 2]));
        let (g, _) = k.positive_groups();
        assert_eq!(g[0].0, s(&[2]));
        assert_eq!(k.necessary(), vec![(ActionId::from_index(2), 1)]);
        assert_eq!(k.infer(&s(&[0, 1, 2, 3])), Some(true));
        assert_eq!(k.infer(&s(&[0])), Some(false));
        assert_eq!(k.infer(&s(&[2])), None);
    }

    #[test]
    fn a_confirmed_necessity_proof_is_not_asked_for_again() {
        // Kept {0, 1}; trials 1 and 2 both fail without action 1 (a binary search's way down).
        let mut k = Knowledge::with_confirm(s(&[0, 1, 2, 3]), 2);
        k.record(&s(&[0]), 1, false);
        k.record(&s(&[0, 2]), 2, false);
        k.record(&s(&[0, 1]), 3, true);
        k.record(&s(&[0, 1]), 4, true);
        // Trial 1's candidate is re-run and fails again: action 1 is proven needed.
        k.record(&s(&[0]), 5, false);
        let pending = k.pending_confirm();
        assert!(!pending.contains(&s(&[0, 2])), "re-confirming action 1 through trial 2: {pending:?}");
    }

    #[test]
    fn once_flakiness_is_seen_failures_must_repeat_and_proofs_must_test_the_action_alone() {
        // Universe 0..8. Trial 1's candidate passes, then fails on its confirmation run: the
        // run has shown flakiness.
        let mut k = Knowledge::with_confirm(s(&[0, 1, 2, 3, 4, 5, 6, 7]), 2);
        k.record(&s(&[0, 1, 2, 3]), 1, true);
        k.record(&s(&[0, 1, 2, 3]), 2, false);
        assert!(!k.flaky.is_empty());
        // A candidate that passed once needs a failure more than one that never did.
        assert!(k.pending_confirm().contains(&s(&[0, 1, 2, 3])), "{:?}", k.pending_confirm());
        k.record(&s(&[0, 1, 2, 3]), 3, false);
        assert!(k.pending_confirm().contains(&s(&[0, 1, 2, 3])));
        k.record(&s(&[0, 1, 2, 3]), 4, false);
        assert!(!k.pending_confirm().contains(&s(&[0, 1, 2, 3])));
        // A new failure, whose group is {0, 1, 4, 5}, is re-run before a search goes into it.
        k.record(&s(&[2, 3, 6, 7]), 5, false);
        assert!(k.pending_confirm().contains(&s(&[2, 3, 6, 7])));
        k.record(&s(&[2, 3, 6, 7]), 6, false);
        assert!(!k.pending_confirm().contains(&s(&[2, 3, 6, 7])));
        // The search drops 1, 4, 5 by confirmed passes: the group is down to action 0, but
        // no failure so far lacked 0 alone, so it is not proven yet.
        for (t, c) in [(7, s(&[0, 2, 3, 6, 7])), (9, s(&[0, 2, 3, 6, 7]))] {
            k.record(&c, t, true);
        }
        assert_eq!(k.kept, s(&[0, 2, 3, 6, 7]));
        assert!(k.necessary().is_empty(), "{:?}", k.necessary());
        assert!(k.pending_confirm().contains(&s(&[2, 3, 6, 7])));
        // Its failure seen again with 0 the only action lacking proves it.
        k.record(&s(&[2, 3, 6, 7]), 10, false);
        assert_eq!(k.necessary(), vec![(ActionId::from_index(0), 10)]);
    }

    #[test]
    fn one_at_a_time_a_pass_is_confirmed_only_when_a_trial_inside_it_fails() {
        let universe = s(&[0, 1, 2, 3, 4, 5, 6, 7]);
        let mut k = Knowledge::with_confirm(universe.clone(), 2).confirm_lazily();
        // A pass inside the kept set becomes the kept set at once, unconfirmed.
        k.record(&s(&[0, 1, 2, 3]), 1, true);
        assert_eq!(k.kept, s(&[0, 1, 2, 3]));
        assert!(k.kept_tentative() && k.pending_confirm().is_empty());
        // So does the next one inside it; still nothing to re-run.
        k.record(&s(&[0, 1]), 2, true);
        assert_eq!(k.kept, s(&[0, 1]));
        assert!(k.pending_confirm().is_empty());
        // A failure inside it may be its fault (a run that still saw the broad policy):
        // re-run the kept set, and only it.
        k.record(&s(&[0]), 3, false);
        assert_eq!(k.pending_confirm().first(), Some(&s(&[0, 1])), "{:?}", k.pending_confirm());
        // It was stale: back to the pass before it, which is re-run in turn.
        k.record(&s(&[0, 1]), 4, false);
        assert_eq!(k.kept, s(&[0, 1, 2, 3]));
        assert!(k.pending_confirm().contains(&s(&[0, 1, 2, 3])), "{:?}", k.pending_confirm());
        k.record(&s(&[0, 1, 2, 3]), 5, true);
        assert!(!k.kept_tentative());
        // A search stopped here settles on the last confirmed pass.
        let mut stopped = k.clone();
        stopped.record(&s(&[0, 1]), 6, true);
        assert_eq!(stopped.kept, s(&[0, 1]));
        stopped.settle();
        assert_eq!((stopped.kept.clone(), stopped.kept_trial), (s(&[0, 1, 2, 3]), Some(5)));
        // Not done while the kept set is unconfirmed, even with every action proven.
        let mut done = Knowledge::with_confirm(s(&[0, 1, 2]), 2).confirm_lazily();
        done.record(&s(&[0]), 1, true);
        done.record(&s(&[]), 2, false);
        done.record(&s(&[]), 3, false);
        assert!(!done.is_done());
        assert_eq!(done.pending_confirm(), vec![s(&[0])]);
        done.record(&s(&[0]), 4, true);
        assert!(done.is_done(), "{:?}", done.necessary());
        // Without lazy confirmation every deciding pass is re-run before it counts.
        let mut eager = Knowledge::with_confirm(universe, 2);
        eager.record(&s(&[0, 1, 2, 3]), 1, true);
        assert_eq!(eager.kept.len(), 8);
        assert_eq!(eager.pending_confirm(), vec![s(&[0, 1, 2, 3])]);
    }

    #[test]
    fn several_at_a_time_other_passes_are_combined_unconfirmed_until_a_failure_contradicts_them() {
        let universe = s(&[0, 1, 2, 3, 4, 5, 6, 7]);
        let mut k = Knowledge::with_confirm(universe, 2).confirm_lazily();
        // One round, two passes: the first becomes the (tentative) kept set, the second is
        // offered for combination without a re-run.
        k.record(&s(&[0, 1, 2, 3, 4, 5]), 1, true);
        k.record(&s(&[0, 1, 2, 3, 6, 7]), 2, true);
        assert_eq!(k.kept, s(&[0, 1, 2, 3, 4, 5]));
        assert_eq!(k.combinable_passes(), vec![s(&[0, 1, 2, 3, 6, 7])]);
        assert!(k.pending_confirm().is_empty(), "{:?}", k.pending_confirm());
        // A failure inside the combination alone contradicts nothing.
        k.record(&s(&[0, 1]), 3, false);
        assert_eq!(k.combinable_passes(), vec![s(&[0, 1, 2, 3, 6, 7])]);
        assert!(!k.pending_confirm().contains(&s(&[0, 1, 2, 3, 6, 7])));
        // The combination itself fails: the unconfirmed pass is re-run and not combined
        // meanwhile (the kept set is re-run too: a trial inside it failed).
        k.record(&s(&[0, 1, 2, 3]), 4, false);
        assert!(k.combinable_passes().is_empty());
        let pending = k.pending_confirm();
        assert!(pending.contains(&s(&[0, 1, 2, 3, 6, 7])) && pending.contains(&s(&[0, 1, 2, 3, 4, 5])), "{pending:?}");
        // It passes again ("A or B": 4 or 6, say): confirmed, but still not combined.
        k.record(&s(&[0, 1, 2, 3, 6, 7]), 5, true);
        assert!(!k.pending_confirm().contains(&s(&[0, 1, 2, 3, 6, 7])));
        assert!(k.combinable_passes().is_empty());
    }

    #[test]
    fn contradictions_and_flakiness_are_recorded() {
        let mut k = Knowledge::new(s(&[0, 1, 2]));
        k.record(&s(&[0, 1]), 1, false);
        assert_eq!(k.record(&s(&[0]), 2, true), 1);
        assert_eq!(k.violations, vec![(2, 1)]);
        k.record(&s(&[0, 1]), 3, true);
        assert_eq!(k.flaky.len(), 1);
        assert_eq!(k.infer(&s(&[0, 1])), Some(true));
    }
}
