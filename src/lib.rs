//! iam-prune: find the few IAM actions a workload really needs.
//!
//! The core (policy documents, catalog, evaluator, pruning logic) is pure and synchronous;
//! only the oracles that run real workloads and the AWS clients are async. See
//! `ARCHITECTURE.md` in the project's shared material for the data flow.

pub mod actions;
pub mod aws;
pub mod catalog;
pub mod eval;
pub mod oracle;
pub mod pattern;
pub mod policy;
pub mod prune;
pub mod report;
pub mod schedule;
pub mod trail;
pub mod workload;

pub use actions::ActionSet;
pub use catalog::{ActionId, Catalog};
