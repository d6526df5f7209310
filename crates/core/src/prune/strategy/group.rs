//! Adaptive group testing: `group` (Hwang's generalized binary splitting, the density
//! estimated online by the posterior) and `auto` (the same with evidence: a small passing set
//! grown from denial hints and priors first, named actions put back, suspects tested alone).
//!
//! A proposal plans one round: what it is planned on ([`Round`]: the kept set with the
//! round's combinable passes removed, the open positive groups, the untested pool, the
//! posterior), then either a decoding round (`decoding`) while few needed actions are left, or
//! a splitting round (`splitting`). Both end with the same steps: fresh actions
//! ([`GroupTesting::test_fresh`]) and the round's removals at once
//! ([`Candidates::push_all_removals`]).

use super::{Evidence, Strategy};
use crate::actions::ActionSet;
use crate::catalog::ActionId;
use crate::prune::knowledge::Knowledge;
use crate::prune::posterior::{Posterior, Prior};
use std::collections::HashSet;

/// Below this chance that the whole untested rest is clean, the rest is split instead of
/// cleared in one trial. The dynamic program over the posterior's counts (README) clears
/// the whole rest from about 0.4 on: a pass there ends the search, which a part cannot.
pub(super) const CLEAR_REST_AT: f64 = 0.4;

/// Rounds of several trials decode single needed actions (codes, finishers) while at most
/// this many needed actions are expected to be left to find.
const DECODE_UP_TO: f64 = 3.0;

/// Adaptive group testing over the kept set; with evidence, grows a small passing set from
/// denial hints and priors first (each named denial saves a binary search).
pub(super) struct GroupTesting {
    order: Vec<ActionId>,
    prior: Prior,
    mode: Mode,
    /// Trials left by the last proposal's posterior (for ETAs).
    left: Option<f64>,
}

/// What group testing goes by.
enum Mode {
    /// `group`: the trials' verdicts alone.
    VerdictsOnly,
    /// `auto`: also denial hints and priors ([`Evidence`]), first to grow a passing set.
    WithEvidence(Growth),
}

/// Auto's growth phase: from the priors, adding what each failure names, until a pass or a
/// failure that names nothing new.
enum Growth {
    /// Decided on the first proposal.
    Undecided,
    /// Growing; the current growth candidate.
    Growing(ActionSet),
    /// Over, or never worth starting.
    Over,
}

/// What a round is planned on.
pub(super) struct Round<'a> {
    pub(super) k: &'a Knowledge,
    pub(super) ev: &'a Evidence,
    /// The kept set with this round's combined passes removed (speculatively).
    pub(super) base: ActionSet,
    /// Actions known (or awaiting confirmation) to be needed.
    pub(super) settled: ActionSet,
    /// Positive groups within `base` left to split, smallest first: none holds a settled
    /// action or a suspect tested alone this round.
    pub(super) open: Vec<ActionSet>,
    /// The open groups the posterior counts (disjoint, smallest first).
    pub(super) disjoint: Vec<ActionSet>,
    /// The untested actions (in no open group, no suspect).
    pub(super) pool: Pool,
    pub(super) posterior: Posterior,
    /// Needed actions expected among the untested ones.
    pub(super) pool_needed: f64,
    /// Trials the round may hold.
    pub(super) slots: usize,
    /// The untested rest is probably clean: clear it in one trial.
    pub(super) clear_rest: bool,
}

/// Untested actions, in group order and as a set.
pub(super) struct Pool {
    pub(super) ids: Vec<ActionId>,
    pub(super) set: ActionSet,
}

impl Pool {
    /// The actions of `self` that are not in `set`, in the same order.
    pub(super) fn without(&self, set: &ActionSet) -> Pool {
        let set = self.set.difference(set);
        Pool { ids: self.ids.iter().copied().filter(|&a| set.contains(a)).collect(), set }
    }
}

/// The candidates of the round being planned, in order: each one the knowledge cannot
/// answer, once.
pub(super) struct Candidates<'a> {
    k: &'a Knowledge,
    list: Vec<ActionSet>,
    seen: HashSet<ActionSet>,
}

impl<'a> Candidates<'a> {
    fn new(k: &'a Knowledge) -> Candidates<'a> {
        Candidates { k, list: Vec::new(), seen: HashSet::new() }
    }

    /// Adds `c` unless the knowledge answers it or it is in already; says whether the
    /// knowledge leaves it open (so whether the round tests it).
    pub(super) fn push(&mut self, c: ActionSet) -> bool {
        let open = self.k.infer(&c).is_none();
        if open && self.seen.insert(c.clone()) {
            self.list.push(c);
        }
        open
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Slots of `slots` not taken yet.
    pub(super) fn free(&self, slots: usize) -> usize {
        slots.saturating_sub(self.list.len())
    }

    /// A spare slot: the round's removals from `base` all at once. Near the end most removals
    /// pass, and then this trial is the verification that would otherwise need a round of its
    /// own.
    pub(super) fn push_all_removals(&mut self, base: &ActionSet, slots: usize) {
        if self.list.len() >= 2 && self.list.len() < slots {
            let mut all = base.clone();
            for c in self.list.iter().filter(|c| c.is_subset(base)) {
                all = all.intersection(c);
            }
            self.push(all);
        }
    }

    /// The round: at most `slots` candidates (one when `slots` is 0).
    fn into_round(mut self, slots: usize) -> Vec<ActionSet> {
        self.list.truncate(slots.max(1));
        self.list
    }
}

impl Strategy for GroupTesting {
    fn trials_left(&self, _k: &Knowledge) -> Option<f64> {
        self.left
    }

    fn propose(&mut self, k: &Knowledge, ev: &Evidence, slots: usize) -> Vec<ActionSet> {
        if let Some(c) = self.grow(k, ev) {
            return vec![c];
        }
        let mut out = Candidates::new(k);
        let r = self.round(k, ev, slots, &mut out);
        self.left = Some(r.posterior.trials_left());
        // Decoding rounds pay off while few needed actions are left to find (the untested
        // ones expected, plus one per family of overlapping groups); with many, groups likely
        // hold several each and plain splitting does better.
        let fams = super::decoding::families(&r.open);
        if out.free(slots) >= 2
            && r.pool_needed + fams.len() as f64 <= DECODE_UP_TO
            && fams.iter().all(|f| !f.focus.is_empty())
        {
            self.plan_decoding_round(&r, fams, &mut out);
            // Nothing new to ask that way (every planned trial is already answered): fall back
            // to plain splitting, which always makes progress.
            if !out.is_empty() {
                return out.into_round(slots);
            }
        }
        self.plan_splitting_round(&r, &mut out);
        out.into_round(slots)
    }
}

impl GroupTesting {
    /// `auto`.
    pub(super) fn with_evidence(order: Vec<ActionId>, prior: Prior) -> GroupTesting {
        GroupTesting { order, prior, mode: Mode::WithEvidence(Growth::Undecided), left: None }
    }

    /// `group`.
    pub(super) fn verdicts_only(order: Vec<ActionId>, prior: Prior) -> GroupTesting {
        GroupTesting { order, prior, mode: Mode::VerdictsOnly, left: None }
    }

    fn uses_evidence(&self) -> bool {
        matches!(self.mode, Mode::WithEvidence(_))
    }

    /// `set` in group order (catalog order when there is none).
    pub(super) fn ordered(&self, set: &ActionSet) -> Vec<ActionId> {
        if self.order.is_empty() {
            return set.iter().collect();
        }
        let mut v: Vec<ActionId> = self.order.iter().copied().filter(|a| set.contains(*a)).collect();
        if v.len() < set.len() {
            v.extend(set.iter().filter(|a| !self.order.contains(a)));
        }
        v
    }

    /// With evidence, a single candidate to run before any round is planned: the growth
    /// candidate while growing, afterwards the latest failure with what it named put back.
    fn grow(&mut self, k: &Knowledge, ev: &Evidence) -> Option<ActionSet> {
        let Mode::WithEvidence(growth) = &mut self.mode else { return None };
        if let Growth::Undecided = growth {
            // Growing from the priors pays off when failures name what they miss, or when
            // there are priors to start from; otherwise the first trial would be wasted on a
            // sure failure.
            *growth = if ev.names_denials || !ev.likely.is_empty() {
                Growth::Growing(ev.likely.intersection(&k.universe))
            } else {
                Growth::Over
            };
        }
        let Growth::Growing(grown) = growth else { return put_back_named(k, ev) };
        let mut cand = grown.clone();
        // The phase ends on this proposal without a candidate of its own: the round is then
        // planned as usual, and named actions are put back from the next proposal on.
        let next = loop {
            match k.infer(&cand) {
                None => break Some(cand),
                Some(true) => break None,
                Some(false) => {
                    let added = named_in_failures_of(k, ev, &cand);
                    if added.is_empty() {
                        break None;
                    }
                    cand.union_with(&added);
                }
            }
        };
        *growth = match &next {
            Some(c) => Growth::Growing(c.clone()),
            None => Growth::Over,
        };
        next
    }

    /// What a round is planned on, from the knowledge; pushes the combined passes' trial and
    /// (with evidence) the suspects tested alone.
    fn round<'a>(&self, k: &'a Knowledge, ev: &'a Evidence, slots: usize, out: &mut Candidates) -> Round<'a> {
        let groups: Vec<ActionSet> = k.positive_groups().0.into_iter().map(|(g, _)| g).collect();
        let base = combine_passes(k, &groups);
        if base != k.kept {
            out.push(base.clone());
        }
        let (settled, mut open) = open_groups(k.necessary_set(), &groups, &base);
        let disjoint = disjoint_groups(&open);
        let undecided = base.difference(&settled);
        let posterior = Posterior::new(
            self.prior,
            k.universe.len(),
            settled.len(),
            undecided.difference(&union_of(&disjoint)).len(),
            &disjoint.iter().map(ActionSet::len).collect::<Vec<_>>(),
        );
        let mut pool_set = undecided.difference(&union_of(&open));
        if self.uses_evidence() {
            let (suspects, tested) = self.test_suspects(ev, &undecided, &base, slots, out);
            pool_set.difference_with(&suspects);
            open.retain(|g| !g.intersects(&tested));
        }
        let pool = Pool { ids: self.ordered(&pool_set), set: pool_set };
        let m = pool.ids.len();
        let pool_needed = if m == 0 { 0.0 } else { (1.0 - posterior.p_clean_free(1)) * m as f64 };
        let clear_rest = m > 0 && open.is_empty() && posterior.p_clean_free(m) >= CLEAR_REST_AT;
        Round { k, ev, base, settled, open, disjoint, pool, posterior, pool_needed, slots, clear_rest }
    }

    /// Suspects (named by a denial, or priors) are probably needed: each is tested alone,
    /// which is what group testing does anyway when most of a pool is needed. Returns the
    /// suspects among `undecided`, and those the round tests alone.
    fn test_suspects(
        &self,
        ev: &Evidence,
        undecided: &ActionSet,
        base: &ActionSet,
        slots: usize,
        out: &mut Candidates,
    ) -> (ActionSet, ActionSet) {
        let mut suspects = ev.likely.clone();
        for (_, names) in &ev.named {
            suspects.union_with(&names.iter().copied().collect());
        }
        // Also the suspects inside positive groups. A group a suspect is in is probably
        // explained by it; splitting the group this round would remove the suspect again and
        // again, and each such trial fails naming it.
        let suspects = suspects.intersection(undecided);
        let mut tested = ActionSet::new();
        for a in self.ordered(&suspects) {
            if out.len() >= slots {
                break;
            }
            let mut c = base.clone();
            c.remove(a);
            if out.push(c) {
                tested.insert(a);
            }
        }
        (suspects, tested)
    }

    /// Fresh actions (`pool`, the untested ones the round has not otherwise planned for), in
    /// the slots left. Auto's first fresh trial drops every service no evidence touches. Then
    /// the pool is cleared in one trial when it is probably clean, or tested with `code` (the
    /// tests of a code design for the free slots, when the caller's design fits), or else cut
    /// into chunks clean with probability one half each: a full bit per trial.
    pub(super) fn test_fresh(
        &self,
        r: &Round<'_>,
        pool: &Pool,
        code: impl FnOnce(usize) -> Option<Vec<ActionSet>>,
        out: &mut Candidates,
    ) {
        let m = pool.ids.len();
        if out.free(r.slots) == 0 || m == 0 {
            return;
        }
        let dropped = r.k.universe.len().saturating_sub(r.k.kept.len());
        if self.uses_evidence() && dropped == 0 {
            if let Some(untouched) = untouched_services(r.ev, &pool.ids) {
                out.push(r.base.difference(&untouched));
            }
        }
        let free = out.free(r.slots);
        if r.clear_rest {
            out.push(r.base.difference(&pool.set));
        } else if let Some(tests) = code(free) {
            for part in tests {
                out.push(r.base.difference(&part));
            }
        } else if free > 0 {
            let size = r.posterior.free_size_for(0.5).clamp(1, m);
            // Fill every slot: smaller chunks when there are more slots than chunks.
            let size = size.min(m.div_ceil(free.max(1))).max(1);
            let mut start = 0;
            while out.len() < r.slots && start < m {
                let chunk: ActionSet = pool.ids.iter().skip(start).take(size).copied().collect();
                start += size;
                out.push(r.base.difference(&chunk));
            }
        }
    }
}

/// Outside growth: when the latest failure of a subset of `kept` names actions it lacked,
/// put exactly those back (one trial instead of a binary search over the removed group).
fn put_back_named(k: &Knowledge, ev: &Evidence) -> Option<ActionSet> {
    let (failed, names) = ev.named.last()?;
    if !failed.is_subset(&k.kept) {
        return None;
    }
    let back: ActionSet = names.iter().copied().filter(|a| k.kept.contains(*a) && !failed.contains(*a)).collect();
    if back.is_empty() {
        return None;
    }
    let cand = failed.union(&back);
    (k.infer(&cand).is_none()).then_some(cand)
}

/// The actions of the universe outside `cand` that failures of exactly `cand` named.
fn named_in_failures_of(k: &Knowledge, ev: &Evidence, cand: &ActionSet) -> ActionSet {
    let mut added = ActionSet::new();
    for (failed, names) in &ev.named {
        if failed == cand {
            added
                .union_with(&names.iter().copied().filter(|a| k.universe.contains(*a) && !cand.contains(*a)).collect());
        }
    }
    added
}

/// Several passes in one round: their combined removal is tested (speculatively) and the rest
/// of the round is planned on top of it, as if it passes. The passes are also the round's that
/// lazy confirmation has not confirmed, and none a failure contradicts (see
/// `Knowledge::combinable_passes`); a pass joins while the combination is still open and
/// meets every positive group.
fn combine_passes(k: &Knowledge, groups: &[ActionSet]) -> ActionSet {
    let kept = &k.kept;
    let mut base = kept.clone();
    for p in &k.combinable_passes() {
        if !kept.is_subset(p) && p.intersects(kept) {
            let combined = base.intersection(p);
            if k.infer(&combined).is_none() && groups.iter().all(|g| g.intersects(&combined)) {
                base = combined;
            }
        }
    }
    base
}

/// The positive groups within `base`, as the settled actions (`necessary`, and groups of one
/// action: needed actions awaiting confirmation, never tested again) and the open groups (none
/// holding a settled action), smallest first.
fn open_groups(necessary: ActionSet, groups: &[ActionSet], base: &ActionSet) -> (ActionSet, Vec<ActionSet>) {
    let mut settled = necessary;
    let mut open: Vec<ActionSet> = Vec::new();
    for g in groups {
        let g = g.intersection(base);
        match g.len() {
            0 => {}
            1 => settled.union_with(&g),
            _ => open.push(g),
        }
    }
    open.retain(|g| !g.intersects(&settled));
    open.sort_by_key(ActionSet::len);
    (settled, open)
}

/// The posterior needs disjoint groups: the smallest first, overlapping ones left out (their
/// actions count as untested, which only forgets information).
fn disjoint_groups(open: &[ActionSet]) -> Vec<ActionSet> {
    let mut disjoint: Vec<ActionSet> = Vec::new();
    for g in open {
        if disjoint.iter().all(|d| !d.intersects(g)) {
            disjoint.push(g.clone());
        }
    }
    disjoint
}

/// The union of `sets`.
pub(super) fn union_of<'s>(sets: impl IntoIterator<Item = &'s ActionSet>) -> ActionSet {
    let mut all = ActionSet::new();
    for s in sets {
        all.union_with(s);
    }
    all
}

/// Auto's first fresh group: the actions of the pool in services no evidence touches (neither
/// likely nor named by a denial): the service subtrees of the action hierarchy that hold no
/// evidence, when there are some and not only those.
fn untouched_services(ev: &Evidence, pool: &[ActionId]) -> Option<ActionSet> {
    let catalog = crate::catalog::Catalog::embedded();
    let touched: HashSet<String> = ev
        .likely
        .iter()
        .chain(ev.named.iter().flat_map(|(_, n)| n.iter().copied()))
        .map(|a| catalog.prefix_of(a))
        .collect();
    if touched.is_empty() {
        return None;
    }
    let tree = crate::catalog::hierarchy::Hierarchy::new(catalog, &pool.iter().copied().collect());
    let mut untouched = ActionSet::new();
    for (service, actions) in tree.services() {
        if !touched.contains(&service) {
            untouched.union_with(&actions);
        }
    }
    (!untouched.is_empty() && untouched.len() < pool.len()).then_some(untouched)
}

#[cfg(test)]
mod tests {
    use super::super::{new_strategy, StrategyKind};
    use super::*;

    fn s(ids: &[usize]) -> ActionSet {
        ids.iter().map(|&i| ActionId::from_index(i)).collect()
    }

    #[test]
    fn several_at_a_time_a_named_action_in_a_group_is_tested_alone_and_its_group_left_whole() {
        // 64 actions; keeping 0..48 passed; then a run without 0..32 (and 48..64) failed,
        // naming action 5: the positive group 0..32 holds it.
        let mut k = Knowledge::new(s(&(0..64).collect::<Vec<_>>()));
        k.record(&s(&(0..48).collect::<Vec<_>>()), 1, true);
        let failed = s(&(32..64).collect::<Vec<_>>());
        k.record(&failed, 2, false);
        let ev = Evidence { named: vec![(failed, vec![ActionId::from_index(5)])], ..Evidence::default() };
        let five = ActionId::from_index(5);
        let rest_of_group = s(&(0..32).filter(|&i| i != 5).collect::<Vec<_>>());
        let now = new_strategy(StrategyKind::Auto, Vec::new(), Prior::default()).propose(&k, &ev, 6);
        // The named action is tested alone...
        assert!(now.iter().any(|c| c.len() == 47 && !c.contains(five)), "{now:?}");
        // ...and no trial splits the rest of its group.
        assert!(now.iter().all(|c| rest_of_group.is_subset(c)), "{now:?}");
    }
}
