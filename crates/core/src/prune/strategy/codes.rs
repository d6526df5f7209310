//! Test designs for a round of several trials: which actions each trial removes, so that the
//! round's verdicts together locate a needed action.

use crate::actions::ActionSet;
use crate::catalog::ActionId;

/// C(n, k) for small n (code sizes).
pub(super) fn binomial(n: usize, k: usize) -> usize {
    (0..k.min(n)).fold(1usize, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// The number of tests that split `m` actions into classes of one: ceil(log2 m).
pub(super) fn bits_for(m: usize) -> usize {
    if m <= 1 {
        0
    } else {
        (usize::BITS - (m - 1).leading_zeros()) as usize
    }
}

/// A plain binary code over `ids` with `t` tests: the actions are cut into 2^t contiguous
/// classes and test j holds the classes whose number has bit j. With one needed action
/// among `ids`, the failing tests spell its class exactly (class 0: every test passes).
pub(super) fn binary_code(ids: &[ActionId], t: usize) -> Vec<ActionSet> {
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

/// A constant-weight code design over `pool` with `f` tests: action i gets the (i mod N)-th
/// code of weight f/2 (N = C(f, f/2)); test j removes the actions whose code has bit j.
pub(super) fn code_design(pool: &[ActionId], f: usize) -> Vec<ActionSet> {
    code_design_weight(pool, f, (f / 2).max(1))
}

/// [`code_design`] with codes of weight `w`: lighter codes put fewer actions in each test,
/// which keeps tests informative when more than one needed action may be among them.
pub(super) fn code_design_weight(pool: &[ActionId], f: usize, w: usize) -> Vec<ActionSet> {
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
