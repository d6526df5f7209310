//! The differential test: the compiled evaluator (`crates/core/src/eval/`) against the simple reference
//! in `eval_reference.rs`, on random policy sets and requests from `eval_gen.rs`. Any
//! disagreement is a bug in one of the two.
//!
//! The seed is fixed, so every `cargo test` run checks the same cases; set
//! `IAM_PRUNE_DIFF_CASES` for more (and `IAM_PRUNE_DIFF_SEED` for others).

use crate::eval_gen::{self, ACTIONS, PRINCIPALS, RESOURCES};
use crate::eval_reference;
use iam_prune::eval::{Evaluator, Request};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

const DEFAULT_CASES: usize = 4000;
/// Requests asked of each random policy set.
const REQUESTS_PER_SET: usize = 8;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn fast_evaluator_agrees_with_reference() {
    let cases = env_number("IAM_PRUNE_DIFF_CASES", DEFAULT_CASES as u64) as usize;
    let seed = env_number("IAM_PRUNE_DIFF_SEED", 0x1a3_5eed);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut failures = Vec::new();
    let mut kinds = std::collections::HashMap::new();
    let mut done = 0;
    while done < cases {
        let set = eval_gen::policy_set(&mut rng);
        let ev = Evaluator::compile(&set).unwrap_or_else(|e| panic!("generated set does not compile: {e}"));
        for _ in 0..REQUESTS_PER_SET {
            let ctx = eval_gen::context(&mut rng);
            let req = Request {
                principal: PRINCIPALS.choose(&mut rng).copied().unwrap_or_default(),
                action: ACTIONS.choose(&mut rng).copied().unwrap_or_default(),
                resource: RESOURCES.choose(&mut rng).copied().unwrap_or_default(),
                context: &ctx,
            };
            let fast = ev.decide(&req);
            let slow = eval_reference::decide(&set, &req);
            *kinds.entry(slow).or_insert(0usize) += 1;
            if fast != slow && failures.len() < 5 {
                let docs: Vec<String> = [&set.identity, &set.scps, &set.rcps, &set.resource]
                    .into_iter()
                    .flatten()
                    .chain(set.boundary.iter())
                    .chain(set.session.iter())
                    .map(|p| format!("  {}: {}", p.name, iam_prune::policy::write::to_minified_json(&p.policy)))
                    .collect();
                failures.push(format!(
                    "fast {fast:?}, reference {slow:?} for {} {} {} context {:?}\n{}",
                    req.principal,
                    req.action,
                    req.resource,
                    ctx,
                    docs.join("\n")
                ));
            }
            done += 1;
        }
    }
    eprintln!(
        "differential: {done} requests on {} random policy sets, reference decisions {kinds:?}",
        done / REQUESTS_PER_SET
    );
    assert!(
        failures.is_empty(),
        "seed {seed:#x}: disagreements (first {}):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The generator must reach every outcome often, or the agreement says little.
    for (kind, n) in &kinds {
        assert!(*n * 20 > done, "{kind:?} in only {n} of {done} cases");
    }
    assert_eq!(kinds.len(), 3, "not every decision kind was reached: {kinds:?}");
}
