//! Splitting rounds: each positive group cut into pieces (about one bit per test), the slots
//! left to fresh actions.

use super::codes::code_design;
use super::group::{Candidates, GroupTesting, Round};
use super::split_even;
use crate::actions::ActionSet;

impl GroupTesting {
    /// A round of plain splitting: positive groups first, then fresh actions, then finishing
    /// trials for groups cut into single actions, and the round's removals at once.
    pub(super) fn plan_splitting_round(&self, r: &Round<'_>, out: &mut Candidates) {
        // Slots: positive groups first (each split is about one bit), the rest to fresh actions.
        let free = out.free(r.slots);
        let group_budget = if r.open.is_empty() {
            0
        } else if r.pool.ids.is_empty() {
            free
        } else {
            r.open.len().min(free).max(free / 2)
        };
        let pieces = pieces_per_group(&r.open, group_budget);
        // Few needed actions expected overall: each positive group most likely holds one.
        let sparse_groups = r.pool_needed + r.open.len() as f64 <= 1.5 * r.open.len() as f64 + 0.5;
        let mut finishers = Vec::new();
        for (g, &p) in r.open.iter().zip(&pieces) {
            finishers.extend(self.split_group(r, g, p, sparse_groups, out));
        }
        let m = r.pool.ids.len();
        self.test_fresh(
            r,
            &r.pool,
            |free| {
                // Few needed actions expected and several slots: a constant-weight code design.
                // Each test removes the actions whose code has its bit set; with one needed
                // action, the failing tests spell its code, and no code contains another.
                (free >= 3 && r.pool_needed <= 1.0 && m > free).then(|| code_design(&r.pool.ids, free.min(16)))
            },
            out,
        );
        for f in finishers {
            if out.len() < r.slots {
                out.push(f);
            }
        }
        out.push_all_removals(&r.base, r.slots);
    }

    /// Tests the positive group `g` cut into `p` pieces (`p - 1` tests; if all pass, the last
    /// piece holds the needed action). Returns its finishing trials, for the slots left at
    /// the end of the round.
    fn split_group(
        &self,
        r: &Round<'_>,
        g: &ActionSet,
        p: usize,
        sparse_groups: bool,
        out: &mut Candidates,
    ) -> Vec<ActionSet> {
        if p < 2 {
            return Vec::new();
        }
        let ids = self.ordered(g);
        let tests = p - 1;
        if tests == 1 {
            // One test: the split whose chance of being clean is nearest one half.
            let s = r
                .disjoint
                .iter()
                .position(|d| d == g)
                .map(|i| r.posterior.group_split_for(i, 0.5))
                .unwrap_or(ids.len() / 2)
                .clamp(1, ids.len().saturating_sub(1).max(1));
            let part: ActionSet = ids.iter().take(s).copied().collect();
            out.push(r.base.difference(&part));
            return Vec::new();
        }
        if tests >= 3 && ids.len() > 2 * p && sparse_groups {
            // Several tests on one large group that probably holds a single needed action:
            // a constant-weight code narrows it C(t, t/2)-fold in one round, not p-fold.
            for part in code_design(&ids, tests.min(16)) {
                out.push(r.base.difference(&part));
            }
            return Vec::new();
        }
        for part in split_even(&ids, p).iter().take(tests) {
            out.push(r.base.difference(part));
        }
        // A group cut into single actions: also try keeping each one alone, so the round that
        // finds the needed action also verifies the set without the others.
        if p == ids.len() && ids.len() <= 4 {
            return ids
                .iter()
                .map(|&a| {
                    let mut others = g.clone();
                    others.remove(a);
                    r.base.difference(&others)
                })
                .collect();
        }
        Vec::new()
    }
}

/// How many pieces each open group is cut into, within `budget` tests (a group in `p` pieces
/// takes `p - 1`): one test per group first, then more pieces round-robin, at most one piece
/// per action.
fn pieces_per_group(open: &[ActionSet], budget: usize) -> Vec<usize> {
    let mut pieces: Vec<usize> = open.iter().map(|_| 1).collect();
    let mut budget = budget;
    'alloc: loop {
        let mut progressed = false;
        for (i, g) in open.iter().enumerate() {
            if budget == 0 {
                break 'alloc;
            }
            if let Some(p) = pieces.get_mut(i) {
                if *p < g.len() {
                    *p += 1;
                    budget -= 1;
                    progressed = true;
                }
            }
        }
        if !progressed {
            break;
        }
    }
    pieces
}
