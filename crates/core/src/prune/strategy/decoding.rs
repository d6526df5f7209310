//! Decoding rounds: while few needed actions are left to find, one round of several trials
//! locates single needed actions (codes over the positive groups, finishing trials) and, when
//! everything is decoded, tries the answer itself.

use super::codes::{binary_code, binomial, bits_for, code_design_weight};
use super::group::{union_of, Candidates, GroupTesting, Pool, Round, CLEAR_REST_AT};
use super::split_even;
use crate::actions::ActionSet;
use crate::catalog::ActionId;

/// Overlapping positive groups that one needed action may explain: their union, and where
/// that action must be if it is alone (the intersection of all of them; empty when one
/// action cannot explain them all).
pub(super) struct Family {
    pub(super) union: ActionSet,
    pub(super) focus: ActionSet,
}

impl Family {
    /// Probably explained by a single needed action: at `density` needed actions per
    /// untested action, the focus is unlikely to hold a second one.
    fn single(&self, density: f64) -> bool {
        !self.focus.is_empty() && (self.focus.len() as f64 - 1.0) * density <= 0.5
    }

    /// The tests that finish the family in one round: a binary code over the focus when
    /// [`Family::single`], else a test per action but one.
    fn tests_needed(&self, density: f64) -> usize {
        if self.single(density) {
            bits_for(self.focus.len())
        } else {
            self.union.len().saturating_sub(1)
        }
    }
}

/// Groups into families: each group with every group that overlaps it (smallest first).
pub(super) fn families(open: &[ActionSet]) -> Vec<Family> {
    let mut taken = vec![false; open.len()];
    let mut out = Vec::new();
    for i in 0..open.len() {
        if taken.get(i).copied().unwrap_or(true) {
            continue;
        }
        let Some(first) = open.get(i) else { continue };
        let mut union = first.clone();
        let mut focus = first.clone();
        if let Some(t) = taken.get_mut(i) {
            *t = true;
        }
        // Grow to a fixed point: codes over one group overlap each other, not only the first.
        loop {
            let mut grew = false;
            for (j, g) in open.iter().enumerate() {
                if !taken.get(j).copied().unwrap_or(true) && g.intersects(&union) {
                    union.union_with(g);
                    focus = focus.intersection(g);
                    if let Some(t) = taken.get_mut(j) {
                        *t = true;
                    }
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        out.push(Family { union, focus });
    }
    out.sort_by_key(|f| if f.focus.is_empty() { f.union.len() } else { f.focus.len() });
    out
}

impl GroupTesting {
    /// A round of several trials at once. Where one needed action explains a family of
    /// positive groups, the round decodes it: a binary code over the family's focus (one bit
    /// per trial), each trial also dropping the rest of the family (probably clean); a focus
    /// of a few actions gets one finishing trial per action (keep it alone), and when every
    /// family is down to one action, one trial keeps just the answer, which ends the search
    /// if it passes. Untested actions get chunks that are clean with probability one half, or
    /// in a first round over a small pool, a constant-weight code whose failing trials name
    /// a single needed action's class. `fams` are the families of `r.open`.
    pub(super) fn plan_decoding_round(&self, r: &Round<'_>, mut fams: Vec<Family>, out: &mut Candidates) {
        widen_to_enclosing_groups(r, &mut fams);
        rule_out_failed_finishers(r, &mut fams);
        let pool = r.pool.without(&union_of(fams.iter().map(|f| &f.union)));
        test_answer(r, &fams, &pool, out);
        let coded = test_finishers(r, &fams, out);
        self.test_codes(r, coded, &pool, out);
        let m = pool.ids.len();
        self.test_fresh(
            r,
            &pool,
            |free| {
                let f = free.min(16);
                // The lightest code whose classes are small enough to finish next round.
                let weight = (2..=f / 2).find(|&w| m.div_ceil(binomial(f, w).max(1)) <= f);
                // A small pool and no lead yet: a constant-weight code. With one needed action
                // its failing trials name its class (fewer actions than trials, finished next
                // round); with more, no code contains another, so the failure is seen.
                match weight {
                    Some(w) if f >= 4 && r.open.is_empty() => Some(code_design_weight(&pool.ids, f, w)),
                    _ => None,
                }
            },
            out,
        );
        out.push_all_removals(&r.base, r.slots);
    }

    /// Tests per coded family, round-robin up to what each needs; the untested pool keeps
    /// half of the slots when it probably holds needed actions too.
    fn test_codes(&self, r: &Round<'_>, coded: Vec<&Family>, pool: &Pool, out: &mut Candidates) {
        let free = out.free(r.slots);
        let m = pool.ids.len();
        let pool_share = if m == 0 {
            0
        } else if r.clear_rest {
            1
        } else if coded.is_empty() {
            free
        } else {
            free - coded.len().min(free).max(free / 2)
        };
        // Needed actions per untested action: how likely a group holds a second one.
        let density = if m > 0 { 1.0 - r.posterior.p_clean_free(1) } else { 0.0 };
        let mut coded: Vec<(&Family, usize)> = coded.into_iter().map(|f| (f, 0)).collect();
        let mut budget = free.saturating_sub(pool_share);
        loop {
            let mut progressed = false;
            for (f, t) in coded.iter_mut() {
                if budget > 0 && *t < f.tests_needed(density) {
                    *t += 1;
                    budget -= 1;
                    progressed = true;
                }
            }
            if !progressed || budget == 0 {
                break;
            }
        }
        for (f, t) in &coded {
            if *t == 0 {
                continue;
            }
            if !f.single(density) {
                // Probably more than one needed action in the family: t + 1 even parts of the
                // focus (or of the whole family when no single action explains it), t tested.
                let target = if f.focus.len() > 1 { &f.focus } else { &f.union };
                let ids = self.ordered(target);
                for part in split_even(&ids, t + 1).iter().take(*t) {
                    out.push(r.base.difference(part));
                }
                continue;
            }
            let ids = self.ordered(&f.focus);
            let doubtful = f.union.difference(&f.focus);
            for part in binary_code(&ids, *t) {
                out.push(r.base.difference(&part.union(&doubtful)));
            }
        }
    }
}

/// A family's union also takes in the larger groups around its focus (the chunk a code was
/// run over): with one needed action in them, the rest of them is clean too.
fn widen_to_enclosing_groups(r: &Round<'_>, fams: &mut [Family]) {
    let all = r.k.all_positive_groups();
    for f in fams.iter_mut().filter(|f| !f.focus.is_empty()) {
        for g in &all {
            let g = g.intersection(&r.base).difference(&r.settled);
            if f.focus.is_subset(&g) && g.difference(&f.union).len() <= 2 * f.union.len() {
                f.union.union_with(&g);
            }
        }
    }
}

/// A focus action whose finishing trial (keep it alone) already failed cannot be the family's
/// only needed action; with none left, the family holds more than one.
fn rule_out_failed_finishers(r: &Round<'_>, fams: &mut [Family]) {
    for f in fams.iter_mut() {
        let ruled_out: Vec<ActionId> = f
            .focus
            .iter()
            .filter(|&z| {
                let mut rest = f.union.clone();
                rest.remove(z);
                r.k.infer(&r.base.difference(&rest)) == Some(false)
            })
            .collect();
        for z in ruled_out {
            f.focus.remove(z);
        }
    }
}

/// Everything decoded: keep just the answer (and drop the untested rest when it is probably
/// clean). A pass verifies the result in this round.
fn test_answer(r: &Round<'_>, fams: &[Family], pool: &Pool, out: &mut Candidates) {
    let decoded: Vec<Option<ActionId>> =
        fams.iter().map(|f| if f.focus.len() == 1 { f.focus.iter().next() } else { None }).collect();
    let m = pool.ids.len();
    let pool_clean = r.posterior.p_clean_free(m);
    if !fams.is_empty() && decoded.iter().all(Option::is_some) && (m == 0 || pool_clean >= CLEAR_REST_AT) {
        let mut answer = r.settled.intersection(&r.base);
        for &z in decoded.iter().flatten() {
            answer.insert(z);
        }
        if m > 0 && pool_clean < 0.9 {
            // Not sure enough of the rest: keep it in the answer's trial.
            answer.union_with(&pool.set);
        }
        out.push(answer);
    }
}

/// Finishers for the foci that fit in the free slots: one trial per focus action, keeping it
/// alone of its family. Returns the families left to code, in order.
fn test_finishers<'f>(r: &Round<'_>, fams: &'f [Family], out: &mut Candidates) -> Vec<&'f Family> {
    let mut coded = Vec::new();
    for f in fams {
        let free = out.free(r.slots);
        if free == 0 {
            break;
        }
        if !f.focus.is_empty() && f.focus.len() <= free {
            for z in f.focus.iter() {
                let mut rest = f.union.clone();
                rest.remove(z);
                out.push(r.base.difference(&rest));
            }
            continue;
        }
        coded.push(f);
    }
    coded
}
