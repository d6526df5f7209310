//! The one integration-test binary: each module checks one area end to end, through the
//! library and through the `iam-prune` binary.

// Tests may unwrap: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aws;
mod cli;
mod common;
mod eval;
mod eval_diff;
mod eval_gen;
mod eval_reference;
mod foundation;
mod moto;
mod prune;
mod reports;
mod scenarios;
mod schedule;
mod trail;
mod trail_live;
