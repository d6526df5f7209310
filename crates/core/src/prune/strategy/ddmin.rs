//! Zeller's delta debugging (`ddmin`), the baseline.

use super::{split_even, Evidence, Strategy};
use crate::actions::ActionSet;
use crate::catalog::ActionId;
use crate::prune::knowledge::Knowledge;

/// Zeller's ddmin: split the current passing set into n chunks; keep a chunk or a complement
/// that passes, else double the granularity; 1-minimal when n reaches the set size.
pub(super) struct Ddmin {
    granularity: usize,
    current: Option<ActionSet>,
}

impl Ddmin {
    pub(super) fn new() -> Ddmin {
        Ddmin { granularity: 2, current: None }
    }
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
            let chunks = split_even(&c, n);
            // At n = 2 the complements are the chunks themselves.
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
