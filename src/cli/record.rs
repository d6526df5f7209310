//! `iam-prune record`: a principal's recorded activity as likely-needed actions, for
//! `prune --likely FILE` or as the start of a scenario; with what CloudTrail cannot show.

use super::denied::{report_errors, Filter, Source};
use super::{print_json, CmdResult, Exit, Global};
use iam_prune::trail::{likely_json, never_logged, ScanOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CloudTrail log files or directories.
    #[arg(required_unless_present_any = ["lookup", "lake"])]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    filter: Filter,
    /// Write the likely-needed actions to FILE as `{"actions": [...]}` (read by `prune --likely FILE`).
    #[arg(long, value_name = "FILE")]
    likely_out: Option<PathBuf>,
}

pub async fn run(args: Args, g: &Global) -> CmdResult {
    let Some(principal) = args.filter.principal.clone() else {
        return Err(Box::new(super::UsageError::new(
            "`record` needs `--principal ARN`",
            "name a user, role or session ARN, an access key id or a user name",
        )));
    };
    let opts = ScanOptions { activity: true, ..args.filter.options()? };
    let report = args.source.scan(&args.paths, &opts).await?;
    report_errors(&report, g);
    let code = if report.errors.is_empty() { Exit::Ok } else { Exit::Error };
    let activity = report.activity.clone().unwrap_or_default();
    let likely = activity.likely_actions();
    if let Some(path) = &args.likely_out {
        std::fs::write(path, likely_json(&likely)).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    if g.is_json() {
        print_json(&serde_json::json!({
            "principal": principal,
            "files": report.files,
            "events": report.events,
            "principal_events": activity.events,
            "actions": activity.actions.values().collect::<Vec<_>>(),
            "denied": activity.denied.iter().map(|(a, n)| serde_json::json!({"action": a, "count": n})).collect::<Vec<_>>(),
            "unmapped": activity.unmapped.iter().map(|(e, n)| serde_json::json!({"event": e, "count": n})).collect::<Vec<_>>(),
            "likely": likely,
            "never_logged": never_logged(),
            "errors": report.errors,
        }));
        return Ok(code);
    }
    println!(
        "{principal}: {} in {} ({} read)",
        super::count(activity.events as u64, "event"),
        super::count(report.files as u64, "file"),
        super::count(report.events as u64, "event")
    );
    if activity.actions.is_empty() {
        println!("  no successful calls recorded");
    }
    for u in activity.actions.values() {
        let span = format!("{} .. {}", u.first_seen.as_deref().unwrap_or("?"), u.last_seen.as_deref().unwrap_or("?"));
        println!("  {:<44} {:>6}x  {span}", u.action, u.count);
    }
    for (a, n) in &activity.denied {
        println!("  {a:<44} {n:>6}x  denied");
    }
    for (e, n) in &activity.unmapped {
        println!("  ? {e:<42} {n:>6}x  no catalog action");
    }
    println!("CloudTrail cannot show these; check them by other means:");
    for n in never_logged() {
        println!("  {:<44} {}", n.action, n.why);
    }
    if let Some(p) = &args.likely_out {
        println!("wrote {} likely actions to {}", likely.len(), p.display());
    }
    Ok(code)
}
