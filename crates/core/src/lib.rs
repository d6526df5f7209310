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

/// An error's message followed by its hint as the command prints them, each line of the hint
/// as `help: ...` on a line of its own: for error text kept or shown apart from the error
/// (the schedule's history, scenario findings, lint output), which must not lose the hint.
///
/// Errors keep the two apart: `Display` says what went wrong, `help()` what to do about it;
/// a hint of several lines is several hints.
pub fn with_help(message: impl std::fmt::Display, help: Option<impl AsRef<str>>) -> String {
    let mut text = message.to_string();
    for line in help.iter().flat_map(|h| h.as_ref().lines()) {
        text.push_str("\nhelp: ");
        text.push_str(line);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn with_help_puts_each_hint_line_after_the_message() {
        assert_eq!(super::with_help("bad", None::<&str>), "bad");
        assert_eq!(super::with_help("bad", Some("fix it")), "bad\nhelp: fix it");
        assert_eq!(super::with_help("bad", Some("fix it\nor not".to_string())), "bad\nhelp: fix it\nhelp: or not");
    }
}
