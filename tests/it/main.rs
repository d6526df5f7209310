//! The one integration-test binary: each module checks one area end to end, through the
//! library and through the `iam-prune` binary.

mod aws;
mod common;
mod foundation;
mod eval;
mod moto;
mod trail;
mod trail_live;
