//! `iam-prune prune`: the main job. Load the start policy, search, verify, write the minimal
//! policy and the run directory, print the result. The workload is a scenario file, or with
//! `--run "COMMAND"` the user's real program on AWS in a sandbox (`iam_prune::aws::job`).

use super::progress::PruneProgress;
use super::{print_json, CmdResult, Exit, Global, UsageError};
use clap::builder::TypedValueParser;
use iam_prune::aws::job::{is_aws_run, run_aws_job, AwsJob};
use iam_prune::aws::AwsArgs;
use iam_prune::prune::summary::Summary;
use iam_prune::prune::StrategyKind;
use iam_prune::run::{
    default_run_dir, previous_minimal, run_scenario_job, Budgets, PreviousRun, RunDir, ScenarioJob, SearchSettings,
};
use iam_prune::trail::read_likely;
use iam_prune::workload::Scenario;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workload scenario (`scenarios/*.toml`); with `--run` or `--resume`, none.
    #[arg(required_unless_present_any = ["resume", "run"], conflicts_with_all = ["run", "resume"])]
    scenario: Option<PathBuf>,
    /// Search strategy [default: auto]: auto (denial hints, priors and the service tree, then
    /// group testing), group (adaptive group testing), ddmin (delta debugging), linear (one
    /// action at a time).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(StrategyKind::NAMES)
        .try_map(|s| s.parse::<StrategyKind>()))]
    strategy: Option<StrategyKind>,
    /// Trials run at once (one round) [default: 1].
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    parallel: Option<usize>,
    /// A deciding pass (or necessity proof) must be seen this many times in a row [default: 1].
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    confirm: Option<usize>,
    /// Stop after this many trials with the best verified set so far (with `--resume`: a new
    /// budget for the whole run, to continue one a budget stopped). A stopped run exits 4.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_trials: Option<u64>,
    /// Stop after this many seconds of wall-clock time (with `--resume`: from now). A stopped
    /// run exits 4.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    deadline: Option<u64>,
    /// Actions believed needed (CloudTrail activity from `iam-prune record`, or a list):
    /// a JSON file `{"actions": [...]}` or a text file with one action per line.
    #[arg(long)]
    likely: Option<PathBuf>,
    /// The number of needed actions you expect (say, the size of last run's minimal set): the
    /// search plans its trials around it and finishes sooner when it is right. A wrong guess
    /// costs trials, never a wrong result. Used by `auto` and `group`; a resumed run keeps the
    /// value it started with.
    #[arg(long, value_name = "D")]
    expect_needed: Option<usize>,
    /// Re-prune after a finished run (its directory): its minimal set is tried first and its
    /// size expected, as scheduled jobs do. An unchanged workload then costs d + 1 trials.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "resume")]
    previous: Option<PathBuf>,
    /// The run's name: in the reports and in the managed policy the apply commands create
    /// (`iam-prune-NAME`) [default: the scenario's name; for `--run`, the start policy's, with
    /// the run id in the policy name so two workloads never collide].
    #[arg(long, conflicts_with = "resume")]
    name: Option<String>,
    /// Run directory (default: reports/<name>-<timestamp>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue a killed run from its directory, without re-running recorded trials.
    #[arg(long, conflicts_with_all = ["out", "run"])]
    resume: Option<PathBuf>,
    /// The AWS backend: `--run COMMAND --start POLICY [--fixed POLICY ...]` and its flags.
    #[command(flatten)]
    aws: AwsArgs,
}

pub async fn run_cmd(args: Args, g: &Global) -> CmdResult {
    if let Some(dir) = &args.resume {
        refuse_search_flags_on_resume(&args)?;
        if let Some(e) = iam_prune::run::other_engine(dir) {
            eprintln!(
                "note: {} was started by search engine {e}; it goes on with engine {}: every recorded trial is kept, the new ones may differ from what engine {e} would have run",
                dir.display(),
                iam_prune::prune::ENGINE
            );
        }
    }
    if args.aws.run.is_some() || args.resume.as_deref().is_some_and(is_aws_run) {
        return run_on_aws(args, g).await;
    }
    refuse_aws_flags_on_scenario(&args)?;
    let (dir, job) = match &args.resume {
        Some(d) => (RunDir::Resume(d.clone(), budgets(&args)), None),
        None => {
            let Some(scenario) = &args.scenario else { return Ok(Exit::Usage) };
            let (search, previous) = search_settings(&args)?;
            let mut job = ScenarioJob::with_search(scenario.clone(), search);
            job.name = args.name.clone();
            // The default directory and the --previous check need the scenario's name: load
            // it here only for them (the job loads it anyway).
            let name = match &args.name {
                Some(n) => n.clone(),
                None if args.out.is_none() || previous.is_some() => Scenario::load(scenario)?.name,
                None => String::new(),
            };
            if let (Some(p), Some(dir)) = (&previous, &args.previous) {
                // Another scenario's result is only a worse hint (trials, never the result),
                // but it is probably not what was meant.
                if p.name != name {
                    eprintln!(
                        "warning: --previous {} is a run of `{}`, not of `{name}`; its {} action(s) are used as hints only",
                        dir.display(),
                        p.name,
                        p.minimal.len()
                    );
                }
            }
            let out = match &args.out {
                Some(o) => o.clone(),
                None => default_run_dir(&name)?,
            };
            (RunDir::New(out), Some(job))
        }
    };
    let progress = PruneProgress::new(g);
    let out = run_scenario_job(dir, job, &progress).await;
    progress.finish();
    let out = out?;
    print_summary(&out.summary, &out.dir, g, &out.scenario, out.already_finished);
    Ok(result_exit(&out.summary))
}

/// 0 for a proven result, 4 for a run that stopped before proving it (scripts and CI tell
/// them apart: the policy of a stopped run is sufficient, not minimal).
fn result_exit(s: &Summary) -> Exit {
    if s.is_complete() {
        Exit::Ok
    } else {
        Exit::Stopped
    }
}

/// A scenario run's workload and start policy are the scenario's: the AWS backend's flags
/// would be ignored, so they are refused, each with the reason.
fn refuse_aws_flags_on_scenario(args: &Args) -> Result<(), UsageError> {
    let a = &args.aws;
    let given: Vec<(&str, &str)> = [
        ("--start", a.start.is_some(), "a scenario names its start policy in [start]"),
        ("--fixed", !a.fixed.is_empty(), "a scenario names its fixed policies in [fixed]"),
        ("--profile", a.profile.is_some(), "a scenario runs offline, without AWS"),
        ("--region", a.region.is_some(), "a scenario runs offline, without AWS"),
        ("--endpoint-url", a.endpoint_url.is_some(), "a scenario runs offline, without AWS"),
        ("--pass-if", a.pass_if.is_some(), "a scenario's steps decide pass or fail"),
        ("--fail-if", a.fail_if.is_some(), "a scenario's steps decide pass or fail"),
        ("--fail-on-denied-only", a.fail_on_denied_only, "a scenario's steps decide pass or fail"),
        ("--timeout", a.timeout.is_some(), "a scenario trial is an offline replay, not a process"),
        ("--apply", a.apply.is_some(), "a scenario's candidates are evaluated, not applied on AWS"),
        ("--principal", a.principal.is_some(), "a scenario names its principal in [principal]"),
        ("--dry-run", a.dry_run, "a scenario makes no AWS calls"),
    ]
    .into_iter()
    .filter_map(|(flag, on, why)| on.then_some((flag, why)))
    .collect();
    let Some((flag, why)) = given.first() else { return Ok(()) };
    let flags: Vec<&str> = given.iter().map(|(f, _)| *f).collect();
    Err(UsageError::new(
        format!("{} cannot apply to a scenario run: {flag} applies to `--run`; {why}", flags.join(", ")),
        "drop the flag, or prune your real program on AWS with `--run \"COMMAND\" --start POLICY`",
    ))
}

/// A resumed run searches as its journal says (that is what makes its recorded trials replay):
/// flags that would change the search are refused rather than silently ignored.
fn refuse_search_flags_on_resume(args: &Args) -> Result<(), UsageError> {
    let mut given: Vec<&str> = [
        ("--strategy", args.strategy.is_some()),
        ("--parallel", args.parallel.is_some()),
        ("--confirm", args.confirm.is_some()),
        ("--likely", args.likely.is_some()),
        ("--expect-needed", args.expect_needed.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect();
    // The workload and how its trials run are the journal's too (an AWS run records them).
    given.extend(args.aws.given_run_flags());
    if given.is_empty() {
        return Ok(());
    }
    Err(UsageError::new(
        format!(
            "{} cannot change a resumed run: it searches as its journal recorded, so that no recorded trial runs again",
            given.join(", ")
        ),
        format!(
            "drop {}; only --max-trials and --deadline (to continue a run a budget stopped) and, for a run on AWS, --profile, --region and --endpoint-url can be given with --resume; or start a new run with --previous RUN_DIR to reuse its result",
            if given.len() == 1 { "it" } else { "them" }
        ),
    ))
}

/// The budgets given with `--resume`.
fn budgets(args: &Args) -> Budgets {
    Budgets { max_trials: args.max_trials, deadline: args.deadline }
}

/// The search flags, resolved once for either kind of job, and the `--previous` run they
/// start from.
fn search_settings(
    args: &Args,
) -> Result<(SearchSettings, Option<PreviousRun>), Box<dyn std::error::Error + Send + Sync>> {
    let likely = match &args.likely {
        Some(p) => read_likely(p)?,
        None => Vec::new(),
    };
    let mut search = SearchSettings {
        strategy: args.strategy.unwrap_or(StrategyKind::Auto),
        parallel: args.parallel.unwrap_or(1).max(1),
        confirm: args.confirm.unwrap_or(1).max(1),
        max_trials: args.max_trials,
        deadline: args.deadline,
        likely,
        expect_needed: args.expect_needed,
        engine: iam_prune::prune::ENGINE,
    };
    let previous = args.previous.as_deref().map(previous_minimal).transpose()?;
    if let Some(p) = &previous {
        search.start_from(&p.minimal);
    }
    Ok((search, previous))
}

async fn run_on_aws(args: Args, g: &Global) -> CmdResult {
    let (dir, job) = match &args.resume {
        Some(d) => (RunDir::Resume(d.clone(), budgets(&args)), None),
        None => {
            let run_id = super::sandbox::new_run_id();
            if args.aws.dry_run {
                return super::sandbox::print_dry_run(&args.aws.spec(), &run_id, args.parallel.unwrap_or(1), g).await;
            }
            let (search, _) = search_settings(&args)?;
            let out = match &args.out {
                Some(o) => o.clone(),
                None => iam_prune::run::claim_dir(&iam_prune::aws::job::default_run_dir(&run_id))?,
            };
            (
                RunDir::New(out),
                Some(AwsJob {
                    name: args.name.clone(),
                    ..AwsJob::new(run_id, args.aws.spec().with_defaults(), search)
                }),
            )
        }
    };
    // Listen before the sandbox exists: a Ctrl-C while it is being made is remembered (not
    // fatal) and honoured as soon as the search starts, so the cleanup always runs.
    let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let interrupt = async move {
        signal.recv().await;
    };
    let progress = PruneProgress::new(g);
    let out = run_aws_job(dir, job, Some(&args.aws.spec()), &progress, interrupt).await;
    progress.finish();
    let out = out?;
    for f in &out.cleanup_failed {
        eprintln!("error: cleanup: {f}");
    }
    let cleanup_help = if out.cleanup_failed.is_empty() {
        String::new()
    } else {
        format!("; delete what is left with `iam-prune sandbox cleanup --run-id {}`", out.run_id)
    };
    let Some(summary) = &out.summary else {
        eprintln!(
            "interrupted after {} trials in the journal; sandbox {} {}{cleanup_help}\ncontinue with `iam-prune prune --resume {}`",
            iam_prune::prune::Journal::read(&out.dir.join("journal.jsonl")).map(|j| j.previous.len()).unwrap_or(0),
            out.run_id,
            if out.cleanup_failed.is_empty() { "deleted" } else { "NOT fully deleted" },
            out.dir.display()
        );
        return Ok(Exit::Interrupted);
    };
    if g.is_json() {
        let mut v = serde_json::to_value(summary).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("run_dir".into(), serde_json::json!(out.dir.display().to_string()));
            o.insert("run_id".into(), serde_json::json!(out.run_id));
            o.insert("aws".into(), serde_json::to_value(&out.aws).unwrap_or_default());
            o.insert("cleanup_failed".into(), serde_json::json!(out.cleanup_failed));
            o.insert("already_finished".into(), serde_json::json!(out.already_finished));
        }
        print_json(&v);
    } else {
        print_summary(summary, &out.dir, g, Path::new(""), out.already_finished);
        let a = &out.aws;
        println!(
            "sandbox {}: {} trials run ({} replayed from the journal), applied by {}; {:.1}s per trial ({:.2}s IAM, {:.2}s propagation, {:.1}s workload), {}",
            out.run_id,
            a.trials_run,
            a.trials_replayed,
            a.means.keys().cloned().collect::<Vec<_>>().join(" and "),
            a.trial_seconds_mean,
            a.apply_seconds_mean,
            a.settled_seconds_mean,
            a.workload_seconds_mean,
            if out.cleanup_failed.is_empty() { "deleted".to_string() } else { format!("NOT fully deleted{cleanup_help}") }
        );
    }
    Ok(if out.cleanup_failed.is_empty() { result_exit(summary) } else { Exit::Error })
}

/// Prints a run's result; `already_finished`: a resume that found the journal already ending
/// at this result (nothing was run; the outputs were rewritten, no second result journaled).
fn print_summary(s: &Summary, dir: &Path, g: &Global, scenario: &Path, already_finished: bool) {
    if g.is_json() {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("run_dir".into(), serde_json::json!(dir.display().to_string()));
            o.insert("already_finished".into(), serde_json::json!(already_finished));
        }
        print_json(&v);
        return;
    }
    if already_finished {
        println!(
            "{} had already ended here: its journal holds every trial of this result, so nothing was run (outputs rewritten{})",
            dir.display(),
            if s.stopped.is_some() { "; give a larger --max-trials or --deadline to continue it" } else { "" }
        );
    }
    if s.complete {
        println!("{}: {} of {} actions needed", s.name, s.minimal.len(), s.universe);
    } else {
        println!(
            "{}: STOPPED before the result was proven{}: {} of {} actions kept, {} proven needed, {} undecided; policy.json is sufficient, not minimal (exit 4; continue with `iam-prune prune --resume {}`)",
            s.name,
            s.stopped.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
            s.kept.len(),
            s.universe,
            s.proofs.len(),
            s.undecided.len(),
            dir.display()
        );
    }
    if s.empty_result {
        println!("  {}", iam_prune::prune::summary::EMPTY_RESULT_HELP);
    }
    for p in &s.proofs {
        let res = s.resources.get(&p.action).map(|r| r.join(", ")).unwrap_or_else(|| "*".into());
        println!("  {:<45} on {}  (trial {} fails without it)", p.action, res, p.trial);
    }
    // A run stopped early can hold hundreds of undecided actions: the first few say enough.
    let shown = if g.verbose { s.undecided.len() } else { 20 };
    for u in s.undecided.iter().take(shown) {
        println!("  {u:<45} (undecided)");
    }
    if s.undecided.len() > shown {
        println!(
            "  ... and {} more undecided (summary.json lists them all; --verbose prints them)",
            s.undecided.len() - shown
        );
    }
    for t in &s.tolerated {
        println!("  tolerated: {}", t.action.clone().or(t.operation.clone()).unwrap_or_else(|| t.message.clone()));
    }
    if !s.likely_ignored.is_empty() {
        let shown: Vec<&str> = s.likely_ignored.iter().take(5).map(String::as_str).collect();
        println!(
            "  note: {} likely action{} not in the start policy, so of no use to the search: {}{}",
            s.likely_ignored.len(),
            if s.likely_ignored.len() == 1 { " is" } else { "s are" },
            shown.join(", "),
            if s.likely_ignored.len() > shown.len() { ", ..." } else { "" }
        );
    }
    println!(
        "{} in {} ({} strategy, {} at once; lower bound {}), {:.0}s of workload time",
        super::count(s.trials, "trial"),
        super::count(s.rounds, "round"),
        s.strategy,
        s.parallel,
        if s.complete { s.lower_bound.to_string() } else { "unknown until the needed set is".to_string() },
        s.simulated_seconds
    );
    println!(
        "verified: {}; 1-minimal: {}{}",
        s.verified_by.map(|t| format!("yes (trial {t})")).unwrap_or_else(|| "no".into()),
        if s.minimal_proven { "proven" } else { "not proven" },
        s.stopped.as_ref().map(|r| format!(" (stopped: {r})")).unwrap_or_default()
    );
    if !s.flaky.is_empty() || !s.violations.is_empty() {
        // The evidence inline: which runs of the same candidate disagreed.
        let runs: Vec<String> = s.flaky.iter().map(iam_prune::report::model::flaky_evidence).take(5).collect();
        let mut evidence = runs.join("; ");
        if s.flaky.len() > runs.len() {
            evidence.push_str(&format!("; {} more", s.flaky.len() - runs.len()));
        }
        if !evidence.is_empty() {
            evidence = format!(" ({evidence})");
        }
        println!(
            "flakiness: {} candidate{} gave different verdicts on re-runs{evidence}; {} monotonicity violation{} (see summary.json)",
            s.flaky.len(),
            if s.flaky.len() == 1 { "" } else { "s" },
            s.violations.len(),
            if s.violations.len() == 1 { "" } else { "s" },
        );
    }
    if let Some(m) = s.expected_match {
        println!("scenario expectation ({}): {}", scenario.display(), if m { "matched" } else { "NOT matched" });
    }
    let replayed = match s.policy_replayed {
        Some(true) => ", replayed as written: passes",
        Some(false) => ", replayed as written: FAILS (see report.md)",
        None => "",
    };
    println!("policy ({} characters{replayed}): {}", s.policy_size, dir.join("policy.json").display());
    if !s.policy_parts.is_empty() {
        println!(
            "  over the 6,144-character managed-policy limit: also as {} managed policies, {}",
            s.policy_parts.len(),
            dir.join("policy-part-N.json").display()
        );
    }
    println!("report: {} (also .md, .json)", dir.join("report.html").display());
    println!("run directory: {}", dir.display());
}
