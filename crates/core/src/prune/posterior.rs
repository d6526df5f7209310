//! How many needed actions are left, and how likely a set of undecided actions is to hold
//! none of them, given what the trials showed: the Bayesian model behind the group-testing
//! strategy's test sizes.
//!
//! The model is the textbook one for group testing: the workload needs an unknown set of d
//! actions, placed uniformly among the n of the universe, with a prior on d. What the trials
//! showed reduces to counts: f actions proven needed, the cleared ones gone, m undecided, and
//! positive groups among them (each holds at least one needed action; the strategy keeps them
//! disjoint). The number of ways to place the k needed actions left among the m so that every
//! group gets one is an inclusion-exclusion sum over the groups, so every probability the
//! strategy asks for is a ratio of two such sums, weighted by the prior.
//!
//! Why: a trial that is clean with probability 1/2 yields a full bit, and the lower bound on
//! trials is counted in bits. Hwang's rule needs d; plugging in an estimate of d made from a
//! few finds wastes trials exactly when that estimate is noisy. The posterior also says when
//! the whole rest is probably clean, so that one trial can clear it and end the search (the
//! dynamic program over these counts does that whenever the chance is above about 0.4).

/// The prior on the number of needed actions d. By default mostly geometric (most workloads
/// need a few actions: weight 2^(-0.9 d)) with a heavy tail (0.03 / d^2) so that a workload
/// needing a hundred actions costs a few extra trials, not many. With an expected count
/// (`--expect-needed`, or the previous run of a scheduled job) that count gets nearly all the
/// weight and the default keeps the rest, so a wrong expectation costs trials, never
/// correctness (docs/benchmarks.md, `iam-prune bench prune`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    expect: Option<usize>,
    /// ln of the weight of "nothing needed" relative to d = 1.
    nothing: f64,
}

impl Default for Prior {
    fn default() -> Self {
        Prior::expecting(None)
    }
}

/// How many nats above the default's largest weight an expected count d sits (e^5 ~ 150
/// times), so that once d actions are found the rest is probably clean (about 0.6 with the
/// neighbours below; one trial clears it above 0.4). Its neighbours sit a little lower,
/// because a workload that changed since the expectation was made usually changed by an
/// action: d + 1 at 1.5 nats below (a failed "rest is clean" trial then splits the rest as if
/// it held one action, which is nearly free), d - 1 at 3 below (believing in an action that
/// is not there costs passing halvings until the belief turns, about 3 / ln 2 of them; a
/// smaller gap makes the exact case spend a trial on "is one more left?" more often).
/// Tuned on `iam-prune bench prune` (the `e=d`, `e=d-1`, `e=d+1` rows).
const EXPECT_WEIGHT: f64 = 5.0;
/// See [`EXPECT_WEIGHT`].
const ONE_MORE: f64 = 1.5;
/// See [`EXPECT_WEIGHT`].
const ONE_FEWER: f64 = 3.0;

impl Prior {
    /// The default prior, or one centred on an expected number of needed actions.
    pub fn expecting(expect: Option<usize>) -> Prior {
        // Nothing needed at all is possible (the workload makes no AWS call, or only calls
        // the fixed policies cover) but nobody prunes such a workload twice; at e^-2 the
        // search spent a "keep nothing" trial in some runs, at e^-6 it does not (n = 1,000,
        // d = 2 and 5: 0.2 trial fewer on average, d = 1 within 0.15 either way).
        Prior { expect, nothing: -6.0 }
    }

    /// ln of the (unnormalised) prior weight of d needed actions.
    pub fn ln(&self, d: usize) -> f64 {
        let top = Prior::default_ln(1) + EXPECT_WEIGHT;
        match self.expect {
            Some(e) if d == e => top,
            Some(e) if e.checked_add(1) == Some(d) => top - ONE_MORE,
            // Not d = 0: a workload that stopped making AWS calls at all is not "one fewer".
            Some(e) if d + 1 == e && d > 0 => top - ONE_FEWER,
            _ if d == 0 => Prior::default_ln(1) + self.nothing,
            _ => Prior::default_ln(d),
        }
    }

    /// The default weight of d >= 1 needed actions.
    fn default_ln(d: usize) -> f64 {
        let d = d.max(1) as f64;
        ((-0.9 * d * std::f64::consts::LN_2).exp() + 0.03 / (d * d)).ln()
    }
}

/// Below this log weight relative to the largest term, further terms of a sum are dropped
/// (after a run of such terms: the sums fall off monotonically past their peak, but for an
/// expected count's spike, which stands at most about 31 nats above the default's trend even
/// at d = 100,000, so a spike past the cut is negligible too).
const NEGLIGIBLE: f64 = -50.0;

/// The posterior over the needed actions left, for one state of the search.
#[derive(Debug, Clone)]
pub struct Posterior {
    /// Universe size.
    n: usize,
    /// Actions proven needed.
    found: usize,
    /// The prior on the number of needed actions.
    prior: Prior,
    /// Undecided actions outside the groups.
    free: usize,
    /// Sizes of the disjoint positive groups.
    groups: Vec<usize>,
    /// ln k! for k up to n.
    ln_fact: Vec<f64>,
    /// ln of the total posterior mass of this state (the normaliser).
    ln_mass: f64,
}

impl Posterior {
    /// The posterior for a universe of `n` actions with `found` proven needed, `free`
    /// undecided actions in no group and disjoint positive groups of the given sizes.
    pub fn new(prior: Prior, n: usize, found: usize, free: usize, groups: &[usize]) -> Posterior {
        let top = n.max(found + free + groups.iter().sum::<usize>());
        let mut ln_fact = Vec::with_capacity(top + 1);
        let mut acc = 0.0f64;
        ln_fact.push(0.0);
        for i in 1..=top {
            acc += (i as f64).ln();
            ln_fact.push(acc);
        }
        let mut p = Posterior { n: top, found, prior, free, groups: groups.to_vec(), ln_fact, ln_mass: 0.0 };
        p.ln_mass = p.mass(free, groups);
        p
    }

    /// Undecided actions outside the groups.
    pub fn free(&self) -> usize {
        self.free
    }

    /// Sizes of the groups.
    pub fn groups(&self) -> &[usize] {
        &self.groups
    }

    fn ln_fact(&self, k: usize) -> f64 {
        self.ln_fact.get(k).copied().unwrap_or(f64::INFINITY)
    }

    fn ln_choose(&self, a: usize, b: usize) -> f64 {
        if b > a {
            return f64::NEG_INFINITY;
        }
        self.ln_fact(a) - self.ln_fact(b) - self.ln_fact(a - b)
    }

    /// ln of the posterior mass of the states with `free` free actions and the given groups
    /// (up to the common normaliser): sum over k of prior(found + k) / C(n, found + k) times
    /// the number of k-subsets of the undecided actions that hit every group.
    fn mass(&self, free: usize, groups: &[usize]) -> f64 {
        let m = free + groups.iter().sum::<usize>();
        // Inclusion-exclusion terms: for every subset S of the groups, (-1)^|S| and the number
        // of actions S covers. Equal sizes are merged, so that many equal groups stay cheap.
        let mut terms: Vec<(usize, f64)> = vec![(0, 1.0)];
        for &g in groups {
            let mut next = terms.clone();
            for &(u, c) in &terms {
                next.push((u + g, -c));
            }
            next.sort_by_key(|t| t.0);
            next.dedup_by(|b, a| {
                if a.0 == b.0 {
                    a.1 += b.1;
                    true
                } else {
                    false
                }
            });
            next.retain(|t| t.1 != 0.0);
            terms = next;
        }
        let mut best = f64::NEG_INFINITY;
        let mut sum = 0.0f64;
        let mut quiet = 0usize;
        for k in groups.len()..=m {
            let base = self.ln_choose(m, k);
            let mut hit = 0.0f64;
            for &(u, c) in &terms {
                if u + k <= m {
                    hit += c * (self.ln_choose(m - u, k) - base).exp();
                }
            }
            if hit <= 0.0 {
                continue;
            }
            let x = self.prior.ln(self.found + k) - self.ln_choose(self.n, self.found + k) + base + hit.ln();
            if x > best {
                sum = sum * (best - x).exp() + 1.0;
                best = x;
                quiet = 0;
            } else {
                sum += (x - best).exp();
                if x - best < NEGLIGIBLE {
                    quiet += 1;
                    if quiet > 32 {
                        break;
                    }
                } else {
                    quiet = 0;
                }
            }
        }
        if sum <= 0.0 {
            return f64::NEG_INFINITY;
        }
        best + sum.ln()
    }

    fn ratio(&self, free: usize, groups: &[usize]) -> f64 {
        if self.ln_mass == f64::NEG_INFINITY {
            return 0.0;
        }
        (self.mass(free, groups) - self.ln_mass).exp().clamp(0.0, 1.0)
    }

    /// The probability that `s` of the free actions hold no needed action.
    pub fn p_clean_free(&self, s: usize) -> f64 {
        if s == 0 {
            return 1.0;
        }
        if s > self.free {
            return 0.0;
        }
        self.ratio(self.free - s, &self.groups)
    }

    /// The probability that `s` actions of group `i` hold no needed action (the rest of the
    /// group then holds one).
    pub fn p_clean_in_group(&self, i: usize, s: usize) -> f64 {
        let Some(&g) = self.groups.get(i) else { return 0.0 };
        if s == 0 {
            return 1.0;
        }
        if s >= g {
            return 0.0;
        }
        let mut groups = self.groups.clone();
        if let Some(x) = groups.get_mut(i) {
            *x = g - s;
        }
        self.ratio(self.free, &groups)
    }

    /// The number of free actions whose test is clean with probability closest to `target`.
    pub fn free_size_for(&self, target: f64) -> usize {
        closest(1, self.free, target, |s| self.p_clean_free(s))
    }

    /// The number of actions of group `i` whose test is clean with probability closest to
    /// `target` (at least 1, at most the group's size minus 1).
    pub fn group_split_for(&self, i: usize, target: f64) -> usize {
        let g = self.groups.get(i).copied().unwrap_or(0);
        if g < 2 {
            return 0;
        }
        closest(1, g - 1, target, |s| self.p_clean_in_group(i, s))
    }

    /// A rough count of the trials the search still needs, for ETAs: the bits to locate the
    /// expected needed actions among the free ones (log2 C(free, k), plus one proof each),
    /// and a binary search inside every positive group.
    pub fn trials_left(&self) -> f64 {
        let per_free = if self.free > 0 { 1.0 - self.p_clean_free(1) } else { 0.0 };
        let k = (per_free * self.free as f64).round() as usize;
        let locate = self.ln_choose(self.free, k.min(self.free)) / std::f64::consts::LN_2;
        let groups: f64 = self.groups.iter().map(|&g| (g.max(1) as f64).log2()).sum();
        // One trial at least: the result's verification.
        locate.max(0.0) + k as f64 + groups + 1.0
    }
}

/// Bisection over a decreasing probability: the `s` in `lo..=hi` whose `p(s)` is closest to
/// `target`.
fn closest(lo: usize, hi: usize, target: f64, p: impl Fn(usize) -> f64) -> usize {
    if hi < lo {
        return lo;
    }
    let (mut a, mut b) = (lo, hi);
    while a < b {
        let mid = a + (b - a) / 2;
        if p(mid) > target {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    let below = a.saturating_sub(1).max(lo);
    if below < a && (p(below) - target).abs() <= (p(a) - target).abs() {
        below
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_pool_splits_near_half_and_clean_tests_are_likelier_after_finds() {
        let p = Posterior::new(Prior::default(), 200, 0, 200, &[]);
        let s = p.free_size_for(0.5);
        assert!((p.p_clean_free(s) - 0.5).abs() < 0.02, "{s}: {}", p.p_clean_free(s));
        assert!(p.p_clean_free(1) > p.p_clean_free(2));
        assert_eq!(p.p_clean_free(0), 1.0);
        assert_eq!(p.p_clean_free(201), 0.0);
        // One needed action found in a group of 128, 72 untested left: they are probably clean.
        let after = Posterior::new(Prior::default(), 200, 1, 72, &[]);
        assert!(after.p_clean_free(72) > 0.6, "{}", after.p_clean_free(72));
    }

    #[test]
    fn trials_left_shrink_as_the_search_narrows() {
        let fresh = Posterior::new(Prior::default(), 1000, 0, 1000, &[]).trials_left();
        // The default prior expects a few needed actions: more than a binary search for one
        // (log2 1000 + 2), far less than linear.
        assert!((12.0..100.0).contains(&fresh), "{fresh}");
        let narrowed = Posterior::new(Prior::default(), 1000, 1, 100, &[32]).trials_left();
        assert!(narrowed < fresh, "{narrowed} !< {fresh}");
        // Nothing undecided: only the verification is left.
        assert_eq!(Posterior::new(Prior::default(), 1000, 3, 0, &[]).trials_left(), 1.0);
    }

    #[test]
    fn a_group_of_two_with_one_needed_action_splits_evenly() {
        // Nothing else undecided: exactly one of the two (or both) is needed.
        let p = Posterior::new(Prior::default(), 100, 3, 0, &[2]);
        let c = p.p_clean_in_group(0, 1);
        assert!(c > 0.3 && c < 0.5, "{c}");
        assert_eq!(p.group_split_for(0, 0.5), 1);
        assert_eq!(p.p_clean_in_group(0, 2), 0.0);
    }

    #[test]
    fn probabilities_match_a_brute_force_count() {
        // n = 10, nothing found, 6 free, one group of 4: enumerate every needed set.
        let n = 10usize;
        for prior in [Prior::default(), Prior::expecting(Some(2)), Prior::expecting(Some(0))] {
            let p = Posterior::new(prior, n, 0, 6, &[4]);
            let (mut total, mut clean) = (0.0f64, 0.0f64);
            for mask in 0u32..(1 << n) {
                let d = mask.count_ones() as usize;
                // Group = items 6..10, free = items 0..6; the test = free items 0..3.
                if mask & 0b11_1100_0000 == 0 {
                    continue;
                }
                let w = prior.ln(d).exp() / binomial(n, d);
                total += w;
                if mask & 0b111 == 0 {
                    clean += w;
                }
            }
            let want = clean / total;
            let got = p.p_clean_free(3);
            assert!((want - got).abs() < 1e-9, "{prior:?}: {want} vs {got}");
        }
    }

    #[test]
    fn an_expected_count_moves_the_belief_but_not_the_facts() {
        // Two found, 98 untested: expecting two makes the rest likely clean (enough for the
        // strategy's clearing trial, at 0.4; one more action has 98 places to be, hence not
        // 0.95), expecting three makes it likely to hold one more; nothing makes a proven
        // fact uncertain.
        let rest = |e| Posterior::new(Prior::expecting(e), 100, 2, 98, &[]).p_clean_free(98);
        assert!(rest(Some(2)) > 0.55, "{}", rest(Some(2)));
        assert!(rest(Some(3)) < 0.1, "{}", rest(Some(3)));
        assert!(rest(Some(2)) > rest(None) && rest(None) > rest(Some(3)));
        let group = Posterior::new(Prior::expecting(Some(0)), 100, 0, 50, &[50]);
        // Expecting none cannot make a proven-positive group clean, only less likely split.
        let part = group.p_clean_in_group(0, 49);
        assert!(part > 0.0 && part < 1.0, "{part}");
        assert!(group.p_clean_free(50) > 0.0 && group.p_clean_free(50) < 1.0);
        let nothing = |p: Prior| p.ln(0) - p.ln(1);
        assert!((nothing(Prior::default()) + 6.0).abs() < 1e-12);
        // Any expectation is a valid input, however large.
        assert!(Prior::expecting(Some(usize::MAX)).ln(3).is_finite());
    }

    fn binomial(n: usize, k: usize) -> f64 {
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }
}
