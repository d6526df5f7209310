//! Run reports: every run directory becomes something a person can read and a job can parse.
//!
//! A security engineer signing off a pruned policy needs more than the policy: how it was found,
//! why to trust it (the verifying trial, one failing trial per kept action, flakiness seen), and
//! what risk is left (privilege escalation, wildcards, unscoped resources, size, actions
//! CloudTrail would never show). The same [`Report`] model is rendered three ways:
//! `report.md` (GitHub), `report.html` (one self-contained file with inline SVG charts; no
//! script, no network) and `report.json` (versioned; schema in `report.schema.json`), plus
//! `search.dot`, the search tree for Graphviz. Everything is rebuilt from the run directory
//! alone (journal + summary), so `iam-prune report RUN_DIR` regenerates it at any time.

pub mod apply;
mod err;
mod html;
mod markdown;
pub mod model;
pub mod risk;
mod svg;
pub mod tree;

pub use err::ReportError;
pub use model::Report;

use crate::catalog::Catalog;
use crate::prune::journal::Journal;
use crate::prune::summary::Summary;
use std::path::{Path, PathBuf};

/// Version of the `report.json` schema; bumped on incompatible changes.
pub const REPORT_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of `report.json`.
pub const REPORT_SCHEMA: &str = include_str!("report.schema.json");

/// The files a report run wrote, with their sizes in bytes.
#[derive(Debug, Clone)]
pub struct Written {
    /// (path, bytes) of each file.
    pub files: Vec<(PathBuf, usize)>,
}

/// Reads a run directory and builds its report.
pub fn load(dir: &Path) -> Result<Report, ReportError> {
    load_with_journal(dir).map(|(r, _)| r)
}

fn load_with_journal(dir: &Path) -> Result<(Report, Journal), ReportError> {
    let journal_path = dir.join("journal.jsonl");
    let journal = Journal::read(&journal_path)?;
    let start = journal.start.as_ref().ok_or_else(|| ReportError::Unfinished { dir: dir.to_path_buf() })?;
    let summary = read_summary(dir, &journal_path)?;
    let report = model::build(start, &journal.previous, &summary, journal.skipped.len());
    Ok((report, journal))
}

/// The summary of a finished run: the journal's last `result` record, else `summary.json`.
fn read_summary(dir: &Path, journal_path: &Path) -> Result<Summary, ReportError> {
    let text = std::fs::read_to_string(journal_path).map_err(|source| ReportError::Io {
        verb: "read",
        path: journal_path.to_path_buf(),
        source,
    })?;
    let from_journal =
        text.lines().rev().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|v| {
            (v.get("type").and_then(|t| t.as_str()) == Some("result")).then(|| v.get("summary").cloned()).flatten()
        });
    if let Some(v) = from_journal {
        return serde_json::from_value(v).map_err(|source| ReportError::Malformed {
            path: journal_path.to_path_buf(),
            what: "result record",
            source,
        });
    }
    let path = dir.join("summary.json");
    if !path.exists() {
        return Err(ReportError::Unfinished { dir: dir.to_path_buf() });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
        verb: "read",
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Malformed { path, what: "summary", source })
}

/// Renders `report.md`.
pub fn to_markdown(r: &Report) -> String {
    markdown::render(r)
}

/// Renders `report.html`.
pub fn to_html(r: &Report) -> String {
    html::render(r)
}

/// Renders `report.json`.
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

/// Regenerates `report.md`, `report.html`, `report.json` and `search.dot` in a run directory.
pub fn write_reports(dir: &Path) -> Result<Written, ReportError> {
    let (report, journal) = load_with_journal(dir)?;
    let c = Catalog::embedded();
    let universe = journal.start.as_ref().map(|s| s.universe.iter().map(|a| c.intern(a)).collect()).unwrap_or_default();
    let dot = tree::to_dot(&tree::graph(c, &universe, &journal.previous));
    let mut files = Vec::new();
    for (name, text) in [
        ("report.md", to_markdown(&report)),
        ("report.html", to_html(&report)),
        ("report.json", to_json(&report)),
        ("search.dot", dot),
    ] {
        let path = dir.join(name);
        write_atomically(&path, &text)?;
        files.push((path, text.len()));
    }
    Ok(Written { files })
}

/// Writes through a temporary file and a rename, so a reader never sees half a report.
fn write_atomically(path: &Path, text: &str) -> Result<(), ReportError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, path)).map_err(|source| ReportError::Io {
        verb: "write",
        path: path.to_path_buf(),
        source,
    })
}
