//! iam-prune: find the few IAM actions a workload really needs.
//!
//! This package holds what talks to the world: the AWS sandbox and command oracle, CloudTrail
//! readers, the job pipeline that owns a run directory, reports and the scheduler. The pure
//! core (policy documents, catalog, evaluator, scenarios, the pruning engine, policy synthesis) is the
//! `iam-prune-core` crate, re-exported here under the same module names.
//!
//! Stability: the library is internal to the `iam-prune` command and may change in any
//! release. What users rely on is the command line (flags and exit codes), the journal format
//! and `report.json` (versioned by its schema).

pub use iam_prune_core::{actions, catalog, eval, oracle, pattern, policy, prune, synth, workload};
pub use iam_prune_core::{with_help, ActionId, ActionSet, Catalog};

pub mod aws;
#[doc(hidden)]
pub mod bench;
pub mod report;
pub mod run;
pub mod schedule;
pub mod trail;
