//! One action at a time (`linear`), as done by hand in the console.

use super::{Evidence, Strategy};
use crate::actions::ActionSet;
use crate::prune::knowledge::Knowledge;

/// One action at a time: drop it if the workload still passes without it. An action whose
/// removal failed never needs another try (a smaller kept set without it fails too), so a
/// cursor walks the actions once.
pub(super) struct Linear {
    cursor: usize,
}

impl Linear {
    pub(super) fn new() -> Linear {
        Linear { cursor: 0 }
    }
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
