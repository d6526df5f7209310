//! CloudTrail as evidence: what a principal was denied and what it actually did.
//!
//! Security engineers start here ("why did my job fail?", "what does this role use?") and
//! `prune` uses the answers to order its search. Sources are log files (any of the shapes
//! CloudTrail data is kept in, detected from content), and, at the async edge, the
//! LookupEvents API and CloudTrail Lake ([`cloud`]). Everything else here is synchronous and pure:
//! reading is a skim that parses only the events it keeps (see [`skim`]), so a nightly scan
//! over a large trail runs at close to gzip's speed in bounded memory.
//!
//! CloudTrail is evidence, not truth: some actions never appear ([`never_logged`]) and event
//! names differ from action names ([`map`]).

pub mod activity;
pub mod cloud;
pub mod denied;
mod err;
pub mod event;
pub mod live;
pub mod map;
pub mod reader;
pub mod scan;
pub mod skim;

pub use activity::{likely_json, parse_likely, read_likely, ActionUse, Activity};
pub use denied::{is_denial_code, parse_message, DenialKind, Denied, DeniedBy};
pub use err::TrailError;
pub use event::{parse_time, Identity, PrincipalFilter};
pub use map::{action_for_event, is_never_logged, never_logged, NeverLogged};
pub use scan::{collect_files, scan_paths, FileError, ScanOptions, ScanReport};

/// Parses a time bound: RFC 3339, a date, or an age before `now` (`90m`, `12h`, `7d`).
pub fn parse_bound(s: &str, now: time::OffsetDateTime) -> Result<time::OffsetDateTime, TrailError> {
    let t = s.trim();
    let age = |n: &str, unit: time::Duration| n.parse::<i64>().ok().map(|n| now - unit * n as i32);
    let rel = if let Some(n) = t.strip_suffix('d') {
        age(n, time::Duration::DAY)
    } else if let Some(n) = t.strip_suffix('h') {
        age(n, time::Duration::HOUR)
    } else if let Some(n) = t.strip_suffix('m') {
        age(n, time::Duration::MINUTE)
    } else {
        None
    };
    rel.or_else(|| parse_time(t)).ok_or_else(|| TrailError::Time(s.to_string()))
}
