//! `iam-prune prune`: the main job. Load the start policy, search, verify, write the minimal
//! policy and the run directory, print the result.

use super::progress::PruneProgress;
use super::{print_json, CmdResult, Exit, Global};
use iam_prune::prune::job::{default_run_dir, run_scenario_job, RunDir, ScenarioJob};
use iam_prune::trail::read_likely;
use iam_prune::prune::summary::Summary;
use iam_prune::prune::StrategyKind;
use iam_prune::workload::Scenario;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workload scenario (`scenarios/*.toml`).
    #[arg(required_unless_present = "resume")]
    scenario: Option<PathBuf>,
    /// Search strategy.
    #[arg(long, value_enum, default_value_t = StrategyKind::Auto)]
    strategy: StrategyKind,
    /// Trials run at once (one round).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// A deciding pass (or necessity proof) must be seen this many times in a row.
    #[arg(long, default_value_t = 1)]
    confirm: usize,
    /// Stop after this many trials with the best verified set so far.
    #[arg(long)]
    max_trials: Option<u64>,
    /// Stop after this many seconds of wall-clock time.
    #[arg(long)]
    deadline: Option<u64>,
    /// Actions believed needed (CloudTrail activity from `iam-prune record`, or a list):
    /// a JSON file `{"actions": [...]}` or a text file with one action per line.
    #[arg(long)]
    likely: Option<PathBuf>,
    /// Run directory (default: reports/<name>-<timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue a killed run from its directory, without re-running recorded trials.
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
}

pub async fn run_cmd(args: Args, g: &Global) -> CmdResult {
    let (dir, job) = match &args.resume {
        Some(d) => (RunDir::Resume(d.clone()), None),
        None => {
            let Some(scenario) = &args.scenario else { return Ok(Exit::Usage) };
            let likely = match &args.likely {
                Some(p) => read_likely(p)?,
                None => Vec::new(),
            };
            let job = ScenarioJob {
                scenario: scenario.clone(),
                strategy: args.strategy,
                parallel: args.parallel.max(1),
                confirm: args.confirm.max(1),
                max_trials: args.max_trials,
                deadline: args.deadline,
                likely,
            };
            // The default directory is named after the scenario, so load it once for the name.
            let out = match &args.out {
                Some(o) => o.clone(),
                None => default_run_dir(&Scenario::load(scenario)?.name),
            };
            (RunDir::New(out), Some(job))
        }
    };
    let progress = PruneProgress::new(g, 0, 60.0, args.parallel);
    let out = run_scenario_job(dir, job, &progress).await;
    progress.finish();
    let out = out?;
    print_summary(&out.summary, &out.dir, g, &out.scenario);
    Ok(Exit::Ok)
}

fn print_summary(s: &Summary, dir: &Path, g: &Global, scenario: &Path) {
    if g.is_json() {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("run_dir".into(), serde_json::json!(dir.display().to_string()));
        }
        print_json(&v);
        return;
    }
    println!("{}: {} of {} actions needed", s.name, s.minimal.len(), s.universe);
    for p in &s.proofs {
        let res = s.resources.get(&p.action).map(|r| r.join(", ")).unwrap_or_else(|| "*".into());
        println!("  {:<45} on {}  (trial {} fails without it)", p.action, res, p.trial);
    }
    for u in &s.undecided {
        println!("  {u:<45} (undecided)");
    }
    for t in &s.tolerated {
        println!("  tolerated: {}", t.action.clone().or(t.operation.clone()).unwrap_or_else(|| t.message.clone()));
    }
    println!(
        "{} trials in {} rounds ({} strategy, {} at once; lower bound {}), {:.0}s of workload time",
        s.trials, s.rounds, s.strategy, s.parallel, s.lower_bound, s.simulated_seconds
    );
    println!(
        "verified: {}; 1-minimal: {}{}",
        s.verified_by.map(|t| format!("yes (trial {t})")).unwrap_or_else(|| "no".into()),
        if s.minimal_proven { "proven" } else { "not proven" },
        s.stopped.as_ref().map(|r| format!(" (stopped: {r})")).unwrap_or_default()
    );
    if !s.flaky.is_empty() || !s.violations.is_empty() {
        println!("flakiness: {} candidates disagreed, {} monotonicity violations (see summary.json)", s.flaky.len(), s.violations.len());
    }
    if let Some(m) = s.expected_match {
        println!("scenario expectation ({}): {}", scenario.display(), if m { "matched" } else { "NOT matched" });
    }
    println!("policy ({} characters): {}", s.policy_size, dir.join("policy.json").display());
    println!("report: {} (also .md, .json)", dir.join("report.html").display());
    println!("run directory: {}", dir.display());
}

