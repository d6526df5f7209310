//! Search strategies: given what is known, which candidates to run next.
//!
//! A strategy only proposes candidate sets; the engine runs them, records the facts in
//! [`Knowledge`], confirms deciding results and resolves contradictions. Strategies must be
//! deterministic functions of the knowledge (and their own state), so that a resumed run
//! proposes exactly the trials the killed run recorded.

use super::knowledge::Knowledge;
use super::posterior::{Posterior, Prior};
use crate::actions::ActionSet;
use crate::catalog::ActionId;
use std::collections::HashSet;

/// Which strategy to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// Structure and evidence: denial hints, priors, the service tree, then group testing.
    Auto,
    /// Adaptive group testing (Hwang's generalized binary splitting, density estimated online).
    Group,
    /// Zeller's delta debugging (ddmin), the baseline.
    Ddmin,
    /// One action at a time, as done by hand in the console.
    Linear,
}

impl StrategyKind {
    /// Every strategy's name, as the command line takes them.
    pub const NAMES: [&'static str; 4] = ["auto", "group", "ddmin", "linear"];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Auto => "auto",
            StrategyKind::Group => "group",
            StrategyKind::Ddmin => "ddmin",
            StrategyKind::Linear => "linear",
        }
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(StrategyKind::Auto),
            "group" => Ok(StrategyKind::Group),
            "ddmin" => Ok(StrategyKind::Ddmin),
            "linear" => Ok(StrategyKind::Linear),
            _ => Err(UnknownStrategy(s.to_string())),
        }
    }
}

/// A strategy name that is none of [`StrategyKind::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy `{0}` (one of auto, group, ddmin, linear)")]
pub struct UnknownStrategy(String);

/// Evidence a strategy may use besides trial verdicts.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Actions named by denials in failed trials, with the candidate they failed under.
    pub named: Vec<(ActionSet, Vec<ActionId>)>,
    /// Priors: actions believed needed (CloudTrail activity, `--likely`).
    pub likely: ActionSet,
    /// The oracle says its failures usually name the denied action.
    pub names_denials: bool,
}

/// A search strategy.
pub trait Strategy: Send {
    /// Up to `slots` candidates to run next; empty when the strategy has nothing left to ask.
    /// Candidates must not be answerable from `knowledge` by monotone inference.
    fn propose(&mut self, knowledge: &Knowledge, evidence: &Evidence, slots: usize) -> Vec<ActionSet>;

    /// About how many trials are left, for the progress display's ETA; None when the strategy
    /// has no estimate of its own (the engine then makes one from the counts).
    fn trials_left(&self, _knowledge: &Knowledge) -> Option<f64> {
        None
    }
}

/// Creates a strategy. `order` is the order in which actions are grouped (service tree order);
/// `prior` is what the group-testing strategies believe about the number of needed actions.
pub fn new_strategy(kind: StrategyKind, order: Vec<ActionId>, prior: Prior) -> Box<dyn Strategy> {
    match kind {
        StrategyKind::Auto => {
            Box::new(GroupTesting { order, prior, use_evidence: true, growing: None, grown: None, left: None })
        }
        StrategyKind::Group => {
            Box::new(GroupTesting { order, prior, use_evidence: false, growing: Some(false), grown: None, left: None })
        }
        StrategyKind::Ddmin => Box::new(Ddmin { granularity: 2, current: None }),
        StrategyKind::Linear => Box::new(Linear { cursor: 0 }),
    }
}

/// Adaptive group testing over the kept set; with evidence, grows a small passing set from
/// denial hints and priors first (each named denial saves a binary search).
struct GroupTesting {
    order: Vec<ActionId>,
    prior: Prior,
    use_evidence: bool,
    /// Still in the growth phase (auto only); decided on the first proposal.
    growing: Option<bool>,
    /// The current growth candidate.
    grown: Option<ActionSet>,
    /// Trials left by the last proposal's posterior (for ETAs).
    left: Option<f64>,
}

impl GroupTesting {
    /// Growth: start from the priors, add what each failure names, until a pass or a failure
    /// that names nothing new. Returns a candidate while growing.
    fn grow(&mut self, k: &Knowledge, ev: &Evidence) -> Option<ActionSet> {
        // Growing from the priors pays off when failures name what they miss, or when there are
        // priors to start from; otherwise the first trial would be wasted on a sure failure.
        let growing = *self.growing.get_or_insert(ev.names_denials || !ev.likely.is_empty());
        if !growing {
            return self.put_back_named(k, ev);
        }
        let mut cand = self.grown.clone().unwrap_or_else(|| ev.likely.intersection(&k.universe));
        loop {
            match k.infer(&cand) {
                None => {
                    self.grown = Some(cand.clone());
                    return Some(cand);
                }
                Some(true) => {
                    self.growing = Some(false);
                    return None;
                }
                Some(false) => {
                    // Names from failures of exactly this candidate (or its recorded subsets).
                    let mut added = ActionSet::new();
                    for (failed, names) in &ev.named {
                        if failed == &cand {
                            added.union_with(
                                &names
                                    .iter()
                                    .copied()
                                    .filter(|a| k.universe.contains(*a) && !cand.contains(*a))
                                    .collect(),
                            );
                        }
                    }
                    if added.is_empty() {
                        self.growing = Some(false);
                        return None;
                    }
                    cand.union_with(&added);
                }
            }
        }
    }
}

impl GroupTesting {
    /// Outside growth: when the latest failure of a subset of `kept` names actions it lacked,
    /// put exactly those back (one trial instead of a binary search over the removed group).
    fn put_back_named(&self, k: &Knowledge, ev: &Evidence) -> Option<ActionSet> {
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
}

/// Below this chance that the whole untested rest is clean, the rest is split instead of
/// cleared in one trial. The dynamic program over the posterior's counts (README) clears
/// the whole rest from about 0.4 on: a pass there ends the search, which a part cannot.
const CLEAR_REST_AT: f64 = 0.4;

/// Rounds of several trials decode single needed actions (codes, finishers) while at most
/// this many needed actions are expected to be left to find.
const DECODE_UP_TO: f64 = 3.0;

impl Strategy for GroupTesting {
    fn trials_left(&self, _k: &Knowledge) -> Option<f64> {
        self.left
    }

    fn propose(&mut self, k: &Knowledge, ev: &Evidence, slots: usize) -> Vec<ActionSet> {
        if self.use_evidence {
            if let Some(c) = self.grow(k, ev) {
                return vec![c];
            }
        }
        let mut out: Vec<ActionSet> = Vec::new();
        let mut seen: HashSet<ActionSet> = HashSet::new();
        // Adds a candidate the knowledge cannot answer, once; says whether it is in the round.
        let mut push = |c: ActionSet, out: &mut Vec<ActionSet>| {
            let open = k.infer(&c).is_none();
            if open && seen.insert(c.clone()) {
                out.push(c);
            }
            open
        };
        let (groups, _) = k.positive_groups();
        let necessary = k.necessary_set();
        let kept = &k.kept;
        // Several passes in one round: test their combined removal (speculatively) and plan
        // the rest of the round on top of it, as if it passes.
        let mut base = kept.clone();
        // Also the round's passes that lazy confirmation has not confirmed, and none a failure
        // contradicts (see `Knowledge::combinable_passes`).
        let combinable: Vec<ActionSet> = k.combinable_passes();
        for p in &combinable {
            if !kept.is_subset(p) && p.intersects(kept) {
                let combined = base.intersection(p);
                if k.infer(&combined).is_none() && groups.iter().all(|(g, _)| g.intersects(&combined)) {
                    base = combined;
                }
            }
        }
        if &base != kept {
            push(base.clone(), &mut out);
        }
        // Groups of one action are needed actions awaiting confirmation: never test them again.
        let mut settled = necessary.clone();
        let mut open: Vec<ActionSet> = Vec::new();
        for (g, _) in &groups {
            let g = g.intersection(&base);
            match g.len() {
                0 => {}
                1 => settled.union_with(&g),
                _ => open.push(g),
            }
        }
        open.retain(|g| !g.intersects(&settled));
        open.sort_by_key(ActionSet::len);
        // The posterior needs disjoint groups: the smallest first, overlapping ones left out
        // (their actions count as untested, which only forgets information).
        let mut disjoint: Vec<ActionSet> = Vec::new();
        for g in &open {
            if disjoint.iter().all(|d| !d.intersects(g)) {
                disjoint.push(g.clone());
            }
        }
        let mut in_groups = ActionSet::new();
        for g in &open {
            in_groups.union_with(g);
        }
        let mut in_disjoint = ActionSet::new();
        for g in &disjoint {
            in_disjoint.union_with(g);
        }
        let undecided = base.difference(&settled);
        let posterior = Posterior::new(
            self.prior,
            k.universe.len(),
            settled.len(),
            undecided.difference(&in_disjoint).len(),
            &disjoint.iter().map(ActionSet::len).collect::<Vec<_>>(),
        );
        self.left = Some(posterior.trials_left());
        let mut pool_set = undecided.difference(&in_groups);
        // Suspects (named by a denial, or priors) are probably needed: test each alone, which
        // is what group testing does anyway when most of a pool is needed.
        if self.use_evidence {
            let mut suspects = ev.likely.clone();
            for (_, names) in &ev.named {
                suspects.union_with(&names.iter().copied().collect());
            }
            // Also the suspects inside positive groups. A group a suspect is in is
            // probably explained by it; splitting the group this round would remove the
            // suspect again and again, and each such trial fails naming it (several at a
            // time this was most of a round's trials on snowplow-emr-etl-runner).
            let suspects = suspects.intersection(&undecided);
            let mut tested = ActionSet::new();
            for a in self.ordered(&suspects) {
                if out.len() >= slots {
                    break;
                }
                let mut c = base.clone();
                c.remove(a);
                if push(c, &mut out) {
                    tested.insert(a);
                }
            }
            pool_set.difference_with(&suspects);
            open.retain(|g| !g.intersects(&tested));
        }
        let pool = self.ordered(&pool_set);
        let m = pool.len();
        // Needed actions expected among the untested ones.
        let pool_needed = if m == 0 { 0.0 } else { (1.0 - posterior.p_clean_free(1)) * m as f64 };
        let clear_rest = m > 0 && open.is_empty() && posterior.p_clean_free(m) >= CLEAR_REST_AT;
        // Decoding rounds pay off while few needed actions are left to find (the untested
        // ones expected, plus one per family of overlapping groups); with many, groups likely
        // hold several each and plain splitting below does better.
        let fams = families(&open);
        if slots.saturating_sub(out.len()) >= 2
            && pool_needed + fams.len() as f64 <= DECODE_UP_TO
            && fams.iter().all(|f| !f.focus.is_empty())
        {
            let round = Round { k, base: &base, settled: &settled, posterior: &posterior, slots, clear_rest };
            self.plan_round(&round, fams, &open, &pool, &pool_set, ev, &mut out, &mut push);
            // Nothing new to ask that way (every planned trial is already answered): fall back
            // to plain splitting below, which always makes progress.
            if !out.is_empty() {
                out.truncate(slots.max(1));
                return out;
            }
        }

        // Slots: positive groups first (each split is about one bit), the rest to fresh actions.
        let free = slots.saturating_sub(out.len());
        let group_budget = if open.is_empty() {
            0
        } else if pool.is_empty() {
            free
        } else {
            open.len().min(free).max(free / 2)
        };
        let mut pieces: Vec<usize> = open.iter().map(|_| 1).collect();
        let mut budget = group_budget;
        // One test per group first, then more pieces round-robin.
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
        // Few needed actions expected overall: each positive group most likely holds one.
        let sparse_groups = pool_needed + open.len() as f64 <= 1.5 * open.len() as f64 + 0.5;
        let mut finishers = Vec::new();
        for (g, &p) in open.iter().zip(&pieces) {
            if p < 2 {
                continue;
            }
            let ids = self.ordered(g);
            let tests = p - 1;
            if tests == 1 {
                // One test: the split whose chance of being clean is nearest one half.
                let s = disjoint
                    .iter()
                    .position(|d| d == g)
                    .map(|i| posterior.group_split_for(i, 0.5))
                    .unwrap_or(ids.len() / 2)
                    .clamp(1, ids.len().saturating_sub(1).max(1));
                let part: ActionSet = ids.iter().take(s).copied().collect();
                push(base.difference(&part), &mut out);
                continue;
            }
            if tests >= 3 && ids.len() > 2 * p && sparse_groups {
                // Several tests on one large group that probably holds a single needed action:
                // a constant-weight code narrows it C(t, t/2)-fold in one round, not p-fold.
                for part in code_design(&ids, tests.min(16)) {
                    push(base.difference(&part), &mut out);
                }
                continue;
            }
            let parts = split_even(&ids, p);
            // p pieces: test p - 1 of them; if all pass, the last one holds the needed action.
            for part in parts.iter().take(p - 1) {
                push(base.difference(part), &mut out);
            }
            // A group cut into single actions: also try keeping each one alone, so the
            // round that finds the needed action also verifies the set without the others.
            if p == ids.len() && ids.len() <= 4 {
                for &a in &ids {
                    let mut others = g.clone();
                    others.remove(a);
                    finishers.push(base.difference(&others));
                }
            }
        }
        // Fresh actions.
        let free = slots.saturating_sub(out.len());
        if free > 0 && m > 0 {
            let dropped = k.universe.len().saturating_sub(kept.len());
            // Auto: the first fresh group is every service no evidence touches.
            if self.use_evidence && dropped == 0 {
                if let Some(untouched) = untouched_services(ev, &pool) {
                    push(base.difference(&untouched), &mut out);
                }
            }
            let free = slots.saturating_sub(out.len());
            if clear_rest {
                push(base.difference(&pool_set), &mut out);
            } else if free >= 3 && pool_needed <= 1.0 && m > free {
                // Few needed actions expected and several slots: a constant-weight code design.
                // Each test removes the actions whose code has its bit set; with one needed
                // action, the failing tests spell its code, and no code contains another.
                for part in code_design(&pool, free.min(16)) {
                    push(base.difference(&part), &mut out);
                }
            } else if free > 0 {
                // Chunks clean with probability one half each: a full bit per trial.
                let size = posterior.free_size_for(0.5).clamp(1, m);
                // Fill every slot: smaller chunks when there are more slots than chunks.
                let size = size.min(m.div_ceil(free.max(1))).max(1);
                let mut start = 0;
                while out.len() < slots && start < m {
                    let chunk: ActionSet = pool.iter().skip(start).take(size).copied().collect();
                    start += size;
                    push(base.difference(&chunk), &mut out);
                }
            }
        }
        for f in finishers {
            if out.len() < slots {
                push(f, &mut out);
            }
        }
        // A spare slot: the round's removals all at once. Near the end most removals pass, and
        // then this trial is the verification that would otherwise need a round of its own.
        if out.len() >= 2 && out.len() < slots {
            let mut all = base.clone();
            for c in out.iter().filter(|c| c.is_subset(&base)) {
                all = all.intersection(c);
            }
            push(all, &mut out);
        }
        out.truncate(slots.max(1));
        out
    }
}

/// What a round is planned on.
struct Round<'a> {
    k: &'a Knowledge,
    /// The kept set with this round's combined passes removed (speculatively).
    base: &'a ActionSet,
    /// Actions known (or awaiting confirmation) to be needed.
    settled: &'a ActionSet,
    posterior: &'a Posterior,
    slots: usize,
    /// The untested rest is probably clean: clear it in one trial.
    clear_rest: bool,
}

/// Overlapping positive groups that one needed action may explain: their union, and where
/// that action must be if it is alone (the intersection of all of them; empty when one
/// action cannot explain them all).
struct Family {
    union: ActionSet,
    focus: ActionSet,
}

/// Groups into families: each group with every group that overlaps it (smallest first).
fn families(open: &[ActionSet]) -> Vec<Family> {
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

/// A plain binary code over `ids` with `t` tests: the actions are cut into 2^t contiguous
/// classes and test j holds the classes whose number has bit j. With one needed action
/// among `ids`, the failing tests spell its class exactly (class 0: every test passes).
fn binary_code(ids: &[ActionId], t: usize) -> Vec<ActionSet> {
    let classes = 1usize << t.min(20);
    let mut tests: Vec<ActionSet> = (0..t).map(|_| ActionSet::new()).collect();
    for (i, &a) in ids.iter().enumerate() {
        let class = i * classes / ids.len().max(1);
        for (j, test) in tests.iter_mut().enumerate() {
            if class & (1 << j) != 0 {
                test.insert(a);
            }
        }
    }
    tests.retain(|t| !t.is_empty());
    tests
}

/// The number of tests that split `m` actions into classes of one: ceil(log2 m).
fn bits_for(m: usize) -> usize {
    if m <= 1 {
        0
    } else {
        (usize::BITS - (m - 1).leading_zeros()) as usize
    }
}

impl GroupTesting {
    /// A round of several trials at once. Where one needed action explains a family of
    /// positive groups, the round decodes it: a binary code over the family's focus (one bit
    /// per trial), each trial also dropping the rest of the family (probably clean); a focus
    /// of a few actions gets one finishing trial per action (keep it alone), and when every
    /// family is down to one action, one trial keeps just the answer, which ends the search
    /// if it passes. Untested actions get chunks that are clean with probability one half, or
    /// in a first round over a small pool, a constant-weight code whose failing trials name
    /// a single needed action's class. `fams` are [`families`] of `open`.
    #[allow(clippy::too_many_arguments)]
    fn plan_round(
        &self,
        r: &Round<'_>,
        mut fams: Vec<Family>,
        open: &[ActionSet],
        pool: &[ActionId],
        pool_set: &ActionSet,
        ev: &Evidence,
        out: &mut Vec<ActionSet>,
        push: &mut impl FnMut(ActionSet, &mut Vec<ActionSet>) -> bool,
    ) {
        let base = r.base;
        // A family's union also takes in the larger groups around its focus (the chunk a
        // code was run over): with one needed action in them, the rest of them is clean too.
        let all = r.k.all_positive_groups();
        for f in fams.iter_mut().filter(|f| !f.focus.is_empty()) {
            for g in &all {
                let g = g.intersection(base).difference(r.settled);
                if f.focus.is_subset(&g) && g.difference(&f.union).len() <= 2 * f.union.len() {
                    f.union.union_with(&g);
                }
            }
        }
        // A focus action whose finishing trial (keep it alone) already failed cannot be the
        // family's only needed action; with none left, the family holds more than one.
        for f in fams.iter_mut() {
            let ruled_out: Vec<ActionId> = f
                .focus
                .iter()
                .filter(|&z| {
                    let mut rest = f.union.clone();
                    rest.remove(z);
                    r.k.infer(&base.difference(&rest)) == Some(false)
                })
                .collect();
            for z in ruled_out {
                f.focus.remove(z);
            }
        }
        let mut absorbed = ActionSet::new();
        for f in &fams {
            absorbed.union_with(&f.union);
        }
        let pool_set = &pool_set.difference(&absorbed);
        let pool: Vec<ActionId> = pool.iter().copied().filter(|&a| pool_set.contains(a)).collect();
        let pool = pool.as_slice();
        let decoded: Vec<Option<ActionId>> =
            fams.iter().map(|f| if f.focus.len() == 1 { f.focus.iter().next() } else { None }).collect();
        let m = pool.len();
        let pool_clean = r.posterior.p_clean_free(m);
        // Everything decoded: keep just the answer (and drop the untested rest when it is
        // probably clean). A pass verifies the result in this round.
        if !fams.is_empty() && decoded.iter().all(Option::is_some) && (m == 0 || pool_clean >= CLEAR_REST_AT) {
            let mut answer = r.settled.intersection(base);
            for &z in decoded.iter().flatten() {
                answer.insert(z);
            }
            if m > 0 && pool_clean < 0.9 {
                // Not sure enough of the rest: keep it in the answer's trial.
                answer.union_with(pool_set);
            }
            push(answer, out);
        }
        // Finishers for small foci; codes for the others.
        let mut coded: Vec<(&Family, usize)> = Vec::new();
        for f in &fams {
            let free = r.slots.saturating_sub(out.len());
            if free == 0 {
                break;
            }
            if f.focus.is_empty() {
                coded.push((f, 0));
                continue;
            }
            if f.focus.len() <= free {
                for z in f.focus.iter() {
                    let mut rest = f.union.clone();
                    rest.remove(z);
                    push(base.difference(&rest), out);
                }
                continue;
            }
            coded.push((f, 0));
        }
        // Tests per coded family, round-robin up to what each needs; the untested pool keeps
        // half of the slots when it probably holds needed actions too.
        let free = r.slots.saturating_sub(out.len());
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
        let single = |f: &Family| !f.focus.is_empty() && (f.focus.len() as f64 - 1.0) * density <= 0.5;
        let mut budget = free.saturating_sub(pool_share);
        loop {
            let mut progressed = false;
            for (f, t) in coded.iter_mut() {
                let need = if single(f) { bits_for(f.focus.len()) } else { f.union.len().saturating_sub(1) };
                if budget > 0 && *t < need {
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
            if !single(f) {
                // Probably more than one needed action in the family: t + 1 even parts of the
                // focus (or of the whole family when no single action explains it), t tested.
                let target = if f.focus.len() > 1 { &f.focus } else { &f.union };
                let ids = self.ordered(target);
                for part in split_even(&ids, t + 1).iter().take(*t) {
                    push(base.difference(part), out);
                }
                continue;
            }
            let ids = self.ordered(&f.focus);
            let doubtful = f.union.difference(&f.focus);
            for part in binary_code(&ids, *t) {
                push(base.difference(&part.union(&doubtful)), out);
            }
        }
        // Fresh actions.
        let free = r.slots.saturating_sub(out.len());
        if free > 0 && m > 0 {
            let dropped = r.k.universe.len().saturating_sub(r.k.kept.len());
            // Auto: the first fresh group is every service no evidence touches.
            if self.use_evidence && dropped == 0 {
                if let Some(untouched) = untouched_services(ev, pool) {
                    push(base.difference(&untouched), out);
                }
            }
            let free = r.slots.saturating_sub(out.len());
            let f = free.min(16);
            // The lightest code whose classes are small enough to finish next round.
            let weight = (2..=f / 2).find(|&w| m.div_ceil(binomial(f, w).max(1)) <= f);
            if r.clear_rest {
                push(base.difference(pool_set), out);
            } else if let (true, Some(w)) = (f >= 4 && open.is_empty(), weight) {
                // A small pool and no lead yet: a constant-weight code. With one needed action
                // its failing trials name its class (fewer actions than trials, finished next
                // round); with more, no code contains another, so the failure is seen.
                for part in code_design_weight(pool, f, w) {
                    push(base.difference(&part), out);
                }
            } else if free > 0 {
                // Chunks clean with probability one half each: a full bit per trial.
                let size = r.posterior.free_size_for(0.5).clamp(1, m);
                let size = size.min(m.div_ceil(free.max(1))).max(1);
                let mut start = 0;
                while out.len() < r.slots && start < m {
                    let chunk: ActionSet = pool.iter().skip(start).take(size).copied().collect();
                    start += size;
                    push(base.difference(&chunk), out);
                }
            }
        }
        // A spare slot: the round's removals all at once. Near the end most removals pass, and
        // then this trial is the verification that would otherwise need a round of its own.
        if out.len() >= 2 && out.len() < r.slots {
            let mut all = base.clone();
            for c in out.iter().filter(|c| c.is_subset(base)) {
                all = all.intersection(c);
            }
            push(all, out);
        }
    }
}

/// C(n, k) for small n (code sizes).
fn binomial(n: usize, k: usize) -> usize {
    (0..k.min(n)).fold(1usize, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Splits `ids` into `p` contiguous parts of nearly equal size.
fn split_even(ids: &[ActionId], p: usize) -> Vec<ActionSet> {
    let p = p.max(1);
    (0..p)
        .map(|i| ids.get(i * ids.len() / p..(i + 1) * ids.len() / p).unwrap_or_default().iter().copied().collect())
        .collect()
}

/// A constant-weight code design over `pool` with `f` tests: action i gets the (i mod N)-th
/// code of weight f/2 (N = C(f, f/2)); test j removes the actions whose code has bit j.
fn code_design(pool: &[ActionId], f: usize) -> Vec<ActionSet> {
    code_design_weight(pool, f, (f / 2).max(1))
}

/// [`code_design`] with codes of weight `w`: lighter codes put fewer actions in each test,
/// which keeps tests informative when more than one needed action may be among them.
fn code_design_weight(pool: &[ActionId], f: usize, w: usize) -> Vec<ActionSet> {
    let mut codes: Vec<u32> = Vec::new();
    let limit = pool.len();
    for c in 0u32..(1u32 << f.min(20)) {
        if c.count_ones() as usize == w {
            codes.push(c);
            if codes.len() >= limit {
                break;
            }
        }
    }
    let mut tests: Vec<ActionSet> = (0..f).map(|_| ActionSet::new()).collect();
    for (i, &a) in pool.iter().enumerate() {
        let Some(&code) = codes.get(i % codes.len().max(1)) else { continue };
        for (j, t) in tests.iter_mut().enumerate() {
            if code & (1 << j) != 0 {
                t.insert(a);
            }
        }
    }
    tests.retain(|t| !t.is_empty());
    tests
}

impl GroupTesting {
    fn ordered(&self, set: &ActionSet) -> Vec<ActionId> {
        if self.order.is_empty() {
            return set.iter().collect();
        }
        let mut v: Vec<ActionId> = self.order.iter().copied().filter(|a| set.contains(*a)).collect();
        if v.len() < set.len() {
            v.extend(set.iter().filter(|a| !self.order.contains(a)));
        }
        v
    }
}

/// Zeller's ddmin: split the current passing set into n chunks; keep a chunk or a complement
/// that passes, else double the granularity; 1-minimal when n reaches the set size.
struct Ddmin {
    granularity: usize,
    current: Option<ActionSet>,
}

impl Strategy for Ddmin {
    fn propose(&mut self, k: &Knowledge, _ev: &Evidence, slots: usize) -> Vec<ActionSet> {
        if self.current.as_ref() != Some(&k.kept) {
            if let Some(prev) = &self.current {
                // Reduced to a chunk (about 1/n of the set): restart at n = 2; to a complement: n - 1.
                let to_chunk = k.kept.len() * self.granularity <= prev.len() + self.granularity;
                self.granularity = if to_chunk { 2 } else { self.granularity.saturating_sub(1).max(2) };
            }
            self.current = Some(k.kept.clone());
        }
        loop {
            let c: Vec<ActionId> = k.kept.iter().collect();
            let n = self.granularity.min(c.len()).max(1);
            let chunks: Vec<ActionSet> = (0..n)
                .map(|i| c.get(i * c.len() / n..(i + 1) * c.len() / n).unwrap_or_default().iter().copied().collect())
                .collect();
            let mut list: Vec<ActionSet> = if n >= 2 { chunks.clone() } else { Vec::new() };
            if n != 2 {
                list.extend(chunks.iter().map(|d| k.kept.difference(d)));
            }
            let mut out = Vec::new();
            for cand in list {
                if k.infer(&cand).is_none() {
                    out.push(cand);
                    if out.len() >= slots {
                        break;
                    }
                }
            }
            if !out.is_empty() {
                return out;
            }
            if n < c.len() {
                self.granularity = (2 * n).min(c.len());
                continue;
            }
            // 1-minimal: every complement of a single action failed.
            return if k.kept_trial.is_none() && k.infer(&k.kept).is_none() {
                vec![k.kept.clone()]
            } else {
                Vec::new()
            };
        }
    }
}

/// One action at a time: drop it if the workload still passes without it. An action whose
/// removal failed never needs another try (a smaller kept set without it fails too), so a
/// cursor walks the actions once.
struct Linear {
    cursor: usize,
}

impl Strategy for Linear {
    fn trials_left(&self, k: &Knowledge) -> Option<f64> {
        // One trial per kept action ahead of the cursor not yet proven needed, and the
        // verification if the kept set has not passed yet.
        let necessary = k.necessary_set();
        let ahead = k.kept.iter().filter(|a| a.index() >= self.cursor && !necessary.contains(*a)).count();
        Some(ahead as f64 + f64::from(u8::from(k.kept_trial.is_none())))
    }

    fn propose(&mut self, k: &Knowledge, _ev: &Evidence, slots: usize) -> Vec<ActionSet> {
        let mut out = Vec::new();
        for a in k.kept.iter() {
            if a.index() < self.cursor {
                continue;
            }
            if out.is_empty() {
                self.cursor = a.index();
            }
            let mut cand = k.kept.clone();
            cand.remove(a);
            if k.infer(&cand).is_none() {
                out.push(cand);
                if out.len() >= slots {
                    break;
                }
            }
        }
        if out.is_empty() && k.kept_trial.is_none() && k.infer(&k.kept).is_none() {
            out.push(k.kept.clone());
        }
        out
    }
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
