//! `iam-prune schedule run JOBS.toml` and `iam-prune schedule history [JOB]`: nightly pruning
//! with a history, for cron and CI. The exit code of `run` says what changed:
//! 0 unchanged (or first run), 10 narrowed, 20 widened (drift), 1 a job failed or an error.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::schedule::{run_schedule, History, JobResult, JobsFile, Overall, ScheduleOptions, ScheduleProgress};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Run every job of a jobs file, record the results, compare each with its previous run.
    ///
    /// JOBS.toml: optional `concurrency`, `history`, `out`; one `[[job]]` per job with `name`,
    /// `scenario` (relative to the file) and optional `strategy`, `parallel`, `confirm`,
    /// `max_trials`, `deadline`, `likely`. Exit codes: 0 unchanged, 10 narrowed, 20 widened,
    /// 1 a job failed.
    Run(RunArgs),
    /// Print past job runs, newest first.
    History(HistoryArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The jobs file.
    jobs: PathBuf,
    /// History database (default: the file's `history`, else reports/history.sqlite).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Where schedule directories go (default: the file's `out`, else reports/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Jobs at once (default: the file's `concurrency`, else 1).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Wait for a schedule run already holding the history's lock instead of failing.
    #[arg(long)]
    wait: bool,
}

#[derive(Debug, clap::Args)]
struct HistoryArgs {
    /// Only this job.
    job: Option<String>,
    /// History database.
    #[arg(long, default_value = "reports/history.sqlite")]
    history: PathBuf,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

struct Lines {
    quiet: bool,
}

impl ScheduleProgress for Lines {
    fn started(&self, job: &str, run_dir: &Path, resumed: bool) {
        if !self.quiet {
            eprintln!("{job}: {} in {}", if resumed { "resuming" } else { "running" }, run_dir.display());
        }
    }
    fn finished(&self, r: &JobResult) {
        if self.quiet {
            return;
        }
        match (&r.change, &r.error) {
            (Some(c), _) => {
                eprintln!("{}: {} ({} needed)", r.job, c.as_str(), super::count(r.minimal.len() as u64, "action"))
            }
            (None, Some(e)) => eprintln!("{}: failed: {}", r.job, e.lines().next().unwrap_or_default()),
            (None, None) => {}
        }
    }
}

pub async fn run(args: Args, g: &Global) -> CmdResult {
    match args.command {
        Sub::Run(a) => run_jobs(a, g).await,
        Sub::History(a) => history(a, g),
    }
}

async fn run_jobs(a: RunArgs, g: &Global) -> CmdResult {
    let file = JobsFile::load(&a.jobs)?;
    let opts = ScheduleOptions {
        history: a.history.or(file.history.clone()).unwrap_or_else(|| PathBuf::from("reports/history.sqlite")),
        out: a.out.or(file.out.clone()).unwrap_or_else(|| PathBuf::from("reports")),
        concurrency: a.concurrency.or(file.concurrency).unwrap_or(1),
        wait: a.wait,
    };
    let r = run_schedule(&file, &opts, &Lines { quiet: g.quiet || g.is_json() }).await?;
    if g.is_json() {
        print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        for j in &r.jobs {
            let change = j.change.map(|c| c.as_str()).unwrap_or("failed");
            let mut line = format!("{:<24} {:<10} {:>3} needed", j.job, change, j.minimal.len());
            if !j.added.is_empty() {
                line.push_str(&format!("  +{}", j.added.join(" +")));
            }
            if !j.removed.is_empty() {
                line.push_str(&format!("  -{}", j.removed.join(" -")));
            }
            if let Some(e) = &j.error {
                line.push_str(&format!("  error: {}", e.lines().next().unwrap_or_default()));
            }
            println!("{line}");
        }
        println!("summary: {}", r.dir.join("summary.md").display());
    }
    Ok(match r.overall {
        Overall::Failed => Exit::Error,
        Overall::Widened => Exit::Widened,
        Overall::Narrowed => Exit::Narrowed,
        Overall::Unchanged => Exit::Ok,
    })
}

fn history(a: HistoryArgs, g: &Global) -> CmdResult {
    if !a.history.exists() {
        return Err(Box::new(super::CmdError::NoHistory { path: a.history }));
    }
    let db = History::open(&a.history)?;
    let rows = db.runs(a.job.as_deref(), a.limit)?;
    if g.is_json() {
        print_json(&serde_json::to_value(&rows).unwrap_or_default());
        return Ok(Exit::Ok);
    }
    println!(
        "{:>5} {:>5}  {:<20} {:<21} {:<10} {:<10} {:>6}  evidence",
        "run", "sched", "job", "started", "status", "change", "needed"
    );
    for r in rows {
        let mut evidence: Vec<String> =
            r.added.iter().map(|a| format!("+{a}")).chain(r.removed.iter().map(|a| format!("-{a}"))).collect();
        if let Some(e) = &r.error {
            evidence.push(e.lines().next().unwrap_or_default().to_string());
        }
        println!(
            "{:>5} {:>5}  {:<20} {:<21} {:<10} {:<10} {:>6}  {}",
            r.id,
            r.schedule_id,
            r.job,
            r.started.get(..19).unwrap_or(&r.started),
            r.status,
            r.change.as_deref().unwrap_or("-"),
            if r.status == "done" { r.minimal.len().to_string() } else { "-".into() },
            evidence.join(" ")
        );
    }
    Ok(Exit::Ok)
}
