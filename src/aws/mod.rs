//! The real AWS backend: run the user's program under candidate policies in a sandbox
//! principal that iam-prune owns, and judge each run.
//!
//! Layout: `config` (one SDK configuration), `sandbox` (the roles and cloned policies, their
//! cleanup and leftover discovery), `policy_doc` and `apply` (putting a candidate in force by
//! session policy or policy version, with a measured propagation wait), `process` and
//! `command` (running the workload and judging it: the [`CommandOracle`]), `hints` (denials
//! in the output), `setup` (arguments to a ready oracle, and back to a clean account), `job` (a whole
//! prune on AWS: run directory, journal, resume, cleanup on every way out).
//! This module is async because AWS and processes are; nothing in the core depends on it.

pub mod apply;
pub mod args;
pub mod command;
pub mod config;
mod err;
pub mod hints;
pub mod job;
pub mod policy_doc;
pub mod process;
pub mod sandbox;
pub(crate) mod sdkerr;
pub mod setup;

pub use apply::ApplyMode;
pub use args::AwsArgs;
pub use command::CommandOracle;
pub use config::{Connection, SessionCredentials};
pub use err::AwsError;
pub use sandbox::{Caller, Leftover, PlannedCall, Sandbox, SandboxPlan};
pub use setup::{AwsPruneSetup, AwsSpec};
