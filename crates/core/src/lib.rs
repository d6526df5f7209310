//! The pure core of iam-prune: everything that decides, and nothing that talks to the world.
//!
//! Policy documents (parser with line:column, lints, canonical writer), the action catalog,
//! the evaluator, offline workload scenarios with their replay oracle, the pruning engine, and
//! the synthesis of the minimal policy from its result.
//! Nothing here starts a runtime, calls AWS, parses a command line or prints: the `iam-prune`
//! package does that, so the layering is the compiler's to keep (`cargo tree -p
//! iam-prune-core -e normal` lists no tokio, aws-*, clap, rusqlite or indicatif).
//!
//! Stability: this crate is internal to iam-prune and its API may change in any release.
//! What users rely on is the `iam-prune` command line, the journal format (`journal.jsonl`,
//! versioned by its start record) and `report.json` (versioned by its schema).

#![forbid(unsafe_code)]

pub mod actions;
pub mod catalog;
pub mod eval;
pub mod oracle;
pub mod pattern;
pub mod policy;
pub mod prune;
pub mod synth;
pub mod workload;

pub use actions::ActionSet;
pub use catalog::{ActionId, Catalog};
