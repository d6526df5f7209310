//! The summary across jobs of one schedule run: `summary.md` for people (what changed, with the
//! actions as evidence, and links to each run's report) and `summary.json` for machines.

use super::{Change, ScheduleError, ScheduleResult};
use std::fmt::Write;
use std::path::Path;

fn codes(v: &[String]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
}

/// Renders the Markdown summary.
pub fn markdown(r: &ScheduleResult, jobs_file: &Path) -> String {
    let mut o = format!("# iam-prune schedule run {}\n\n", r.schedule_id);
    let _ = writeln!(
        o,
        "Jobs file `{}`; history `{}`. **Overall: {}** (exit code {}).\n",
        jobs_file.display(),
        r.history.display(),
        r.overall.as_str(),
        r.exit_code
    );
    if !r.abandoned.is_empty() {
        let _ = writeln!(
            o,
            "A killed earlier run left {} job run(s) unfinished; they were marked abandoned (ids {:?}).\n",
            r.abandoned.len(),
            r.abandoned
        );
    }
    o.push_str("| Job | Change | Needed | Added (drift) | Removed | Trials | Verified | Report |\n|---|---|---:|---|---|---:|---|---|\n");
    for j in &r.jobs {
        let change = match (j.change, &j.error) {
            (Some(Change::Widened), _) => "**widened**".to_string(),
            (Some(c), _) => c.as_str().to_string(),
            (None, _) => "**failed**".to_string(),
        };
        let report = j.run_dir.strip_prefix(&r.dir).unwrap_or(&j.run_dir).join("report.md");
        let link =
            if j.error.is_some() { "-".to_string() } else { format!("[{}]({})", report.display(), report.display()) };
        let _ = writeln!(
            o,
            "| {} | {}{} | {} | {} | {} | {} | {} | {} |",
            j.job,
            change,
            if j.resumed { " (resumed)" } else { "" },
            j.minimal.len(),
            codes(&j.added),
            codes(&j.removed),
            j.trials,
            if j.error.is_some() {
                "-"
            } else if j.verified {
                "yes"
            } else {
                "**no**"
            },
            link
        );
    }
    let failed: Vec<_> = r.jobs.iter().filter_map(|j| j.error.as_ref().map(|e| (j, e))).collect();
    if !failed.is_empty() {
        o.push_str("\n## Errors\n\n");
        for (j, e) in failed {
            let _ = writeln!(o, "- `{}`: {}", j.job, e.replace('\n', " "));
        }
    }
    o.push_str("\nExit codes: 0 unchanged (or first run), 10 narrowed, 20 widened (drift), 1 a job failed.\n");
    o
}

/// Writes `summary.md` and `summary.json` into the schedule run's directory.
pub fn write(r: &ScheduleResult, jobs_file: &Path) -> Result<(), ScheduleError> {
    for (name, text) in [
        ("summary.md", markdown(r, jobs_file)),
        ("summary.json", serde_json::to_string_pretty(r).unwrap_or_default() + "\n"),
    ] {
        let path = r.dir.join(name);
        std::fs::write(&path, text).map_err(|source| ScheduleError::Io { path, source })?;
    }
    Ok(())
}
