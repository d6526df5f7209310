//! `iam-prune prune`: the main job. Load the start policy, search, verify, write the minimal
//! policy and the run directory, print the result.

use super::progress::PruneProgress;
use super::{print_json, CmdResult, Exit, Global};
use iam_prune::actions::ActionSet;
use iam_prune::catalog::{ActionId, Catalog};
use iam_prune::oracle::scenario::ScenarioOracle;
use iam_prune::oracle::Oracle;
use iam_prune::prune::summary::{summarize, Summary};
use iam_prune::prune::{run, Journal, PruneConfig, PruneError, StartRecord, StrategyKind};
use iam_prune::workload::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// What is stored in the journal's start record to resume a run.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RunConfig {
    scenario: PathBuf,
    strategy: StrategyKind,
    parallel: usize,
    confirm: usize,
    max_trials: Option<u64>,
    deadline: Option<u64>,
    likely: Vec<String>,
}

pub async fn run_cmd(args: Args, g: &Global) -> CmdResult {
    let catalog = Catalog::embedded();
    let (run_dir, rc, mut journal) = match &args.resume {
        Some(dir) => {
            let journal = Journal::resume(&dir.join("journal.jsonl"))?;
            let start = journal.start.as_ref().ok_or_else(|| PruneError::ResumeMismatch("the journal has no start record".into()))?;
            let rc: RunConfig = serde_json::from_value(start.config.clone())
                .map_err(|e| PruneError::ResumeMismatch(format!("the journal's start record is not a scenario run: {e}")))?;
            (dir.clone(), rc, journal)
        }
        None => {
            let Some(scenario) = &args.scenario else { return Ok(Exit::Usage) };
            let likely = match &args.likely {
                Some(p) => read_likely(p)?,
                None => Vec::new(),
            };
            let rc = RunConfig {
                scenario: scenario.clone(),
                strategy: args.strategy,
                parallel: args.parallel.max(1),
                confirm: args.confirm.max(1),
                max_trials: args.max_trials,
                deadline: args.deadline,
                likely,
            };
            (PathBuf::new(), rc, Journal::in_memory())
        }
    };
    let scenario = Scenario::load(&rc.scenario)?;
    let run_dir = if args.resume.is_some() {
        run_dir
    } else {
        let dir = args.out.clone().unwrap_or_else(|| default_run_dir(&scenario.name));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create run directory `{}`: {e}", dir.display()))?;
        let start = StartRecord {
            kind: "start".into(),
            version: 1,
            name: scenario.name.clone(),
            config: serde_json::to_value(&rc)?,
            universe: scenario.universe.names(catalog),
            started: now_rfc3339(),
        };
        journal = Journal::create(&dir.join("journal.jsonl"), start)?;
        dir
    };
    if let Some(start) = &journal.start {
        if start.universe != scenario.universe.names(catalog) {
            return Err(Box::new(PruneError::ResumeMismatch(format!(
                "the scenario `{}` now expands to a different universe than the journal's ({} vs {} actions)",
                rc.scenario.display(),
                scenario.universe.len(),
                start.universe.len()
            ))));
        }
    }
    let likely: ActionSet = rc.likely.iter().map(|a| catalog.intern(a)).collect();
    let cfg = PruneConfig {
        strategy: rc.strategy,
        parallel: rc.parallel,
        confirm: rc.confirm,
        max_trials: rc.max_trials,
        deadline: rc.deadline.map(Duration::from_secs),
        likely,
        order: Vec::new(),
    };
    let oracle = ScenarioOracle::new(&scenario);
    let info = oracle.info();
    let progress = PruneProgress::new(g, scenario.universe.len(), info.trial_seconds, cfg.parallel);
    let result = run(&oracle, &scenario.universe, &cfg, &mut journal, &progress).await;
    progress.finish();
    let result = result?;
    // Resources: what the verifying replay of the result requested, per action.
    let mut resources: BTreeMap<ActionId, Vec<String>> = BTreeMap::new();
    if let Ok(trace) = oracle.replay().run(&result.minimal, false) {
        for (a, r) in trace.requests {
            let list = resources.entry(a).or_default();
            if !list.contains(&r) {
                list.push(r);
            }
        }
    }
    let expected = scenario.acceptable_minimal_sets();
    let summary = summarize(&scenario.name, info, &cfg, &result, &resources, Some(&expected));
    write_outputs(&run_dir, &summary, &mut journal)?;
    print_summary(&summary, &run_dir, g, &scenario);
    Ok(Exit::Ok)
}

fn write_outputs(dir: &Path, summary: &Summary, journal: &mut Journal) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let policy = serde_json::to_string_pretty(&summary.policy)? + "\n";
    std::fs::write(dir.join("policy.json"), policy).map_err(|e| format!("cannot write policy.json in `{}`: {e}", dir.display()))?;
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(summary)? + "\n")
        .map_err(|e| format!("cannot write summary.json in `{}`: {e}", dir.display()))?;
    journal.append_value(&serde_json::json!({"type": "result", "summary": summary}))?;
    Ok(())
}

fn print_summary(s: &Summary, dir: &Path, g: &Global, scenario: &Scenario) {
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
        println!("scenario expectation ({}): {}", scenario.path.display(), if m { "matched" } else { "NOT matched" });
    }
    println!("policy ({} characters): {}", s.policy_size, dir.join("policy.json").display());
    println!("run directory: {}", dir.display());
}

fn default_run_dir(name: &str) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_else(|_| "run".into());
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// `{"actions": [...]}` or one action per line (`#` comments).
fn read_likely(path: &Path) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read --likely file `{}`: {e}", path.display()))?;
    if text.trim_start().starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Likely {
            actions: Vec<String>,
        }
        let l: Likely = serde_json::from_str(&text).map_err(|e| {
            format!("{}:{}:{}: {e}\nhelp: write {{\"actions\": [\"svc:Action\", ...]}} or one action per line", path.display(), e.line(), e.column())
        })?;
        return Ok(l.actions);
    }
    Ok(text.lines().map(|l| l.split('#').next().unwrap_or_default().trim()).filter(|l| !l.is_empty()).map(String::from).collect())
}
