//! The jobs file (`JOBS.toml`): which pruning jobs a schedule runs, and how.
//!
//! ```toml
//! concurrency = 2                    # jobs at once (default 1)
//! history = "history.sqlite"         # default: reports/history.sqlite (relative to the cwd)
//! out = "runs"                       # default: reports/
//!
//! [[job]]
//! name = "flintrock"                 # unique; names the run directory and the history rows
//! scenario = "../scenarios/flintrock-launch.toml"
//! strategy = "auto"                  # auto | group | ddmin | linear
//! parallel = 4                       # trials at once within the job
//! confirm = 1
//! max_trials = 500
//! deadline = 3600                    # seconds
//! likely = ["iam:PassRole"]          # the previous run's minimal set is added
//! expect_needed = 2                  # default: the size of the previous run's minimal set
//! ```
//!
//! Paths in the file are relative to the file. A command job runs a real command on AWS in a
//! sandbox, exactly as `iam-prune prune --run` does:
//!
//! ```toml
//! [[job]]
//! name = "flintrock-on-aws"
//! command = "flintrock launch test"      # kind = "command" is implied
//! start = "IAMFullAccess"                # managed policy, file or policy ARN (cloned)
//! fixed = ["AmazonEC2FullAccess"]
//! aws_args = ["--region", "us-east-1"]   # any other `prune --run` flag
//! ```

use super::ScheduleError;
use crate::aws::{AwsArgs, AwsSpec};
use crate::prune::StrategyKind;
use crate::run::{ScenarioJob, SearchSettings};
use std::path::{Path, PathBuf};

/// `prune --run`'s AWS flags, for parsing a command job's arguments.
#[derive(clap::Parser)]
struct AwsFlags {
    #[command(flatten)]
    aws: AwsArgs,
}

/// What a job prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// An offline scenario file.
    Scenario,
    /// A real command on AWS, in a sandbox (`iam-prune prune --run`).
    Command,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    concurrency: Option<usize>,
    history: Option<PathBuf>,
    out: Option<PathBuf>,
    #[serde(default)]
    job: Vec<RawJob>,
}

fn kind_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Scenario => "scenario",
        JobKind::Command => "command",
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    kind: Option<JobKind>,
    scenario: Option<PathBuf>,
    command: Option<String>,
    role: Option<String>,
    start: Option<String>,
    #[serde(default)]
    fixed: Vec<String>,
    /// More `prune --run` flags: `["--region", "eu-west-1", "--pass-if", "launched"]`.
    #[serde(default)]
    aws_args: Vec<String>,
    strategy: Option<StrategyKind>,
    parallel: Option<usize>,
    confirm: Option<usize>,
    max_trials: Option<u64>,
    deadline: Option<u64>,
    #[serde(default)]
    likely: Vec<String>,
    expect_needed: Option<usize>,
}

/// One job, resolved.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// Unique name.
    pub name: String,
    /// What it prunes.
    pub kind: JobKind,
    /// The scenario file (resolved against the jobs file), or the command line for command jobs.
    pub scenario: PathBuf,
    job: Option<ScenarioJob>,
    aws: Option<(AwsSpec, SearchSettings)>,
}

impl JobSpec {
    /// The pruning job, for scenario jobs.
    pub fn scenario_job(&self) -> Option<ScenarioJob> {
        self.job.clone()
    }

    /// The AWS flags and search settings, for command jobs.
    pub fn aws_job(&self) -> Option<&(AwsSpec, SearchSettings)> {
        self.aws.as_ref()
    }

    /// The job as a re-prune after a run that found `previous` (its minimal set), as
    /// [`SearchSettings::start_from`] makes it: an unchanged workload then costs d + 1 trials
    /// with `auto` and about log2 C(n, d) with `group`. A changed one never gets a wrong
    /// result from it; when failures name the denied action it costs about as little
    /// (flintrock narrowed: 3 trials, widened: 4, against 2 and 6 for a first run).
    pub fn after(&self, previous: Option<&[String]>) -> JobSpec {
        let mut spec = self.clone();
        let Some(previous) = previous else { return spec };
        if let Some(j) = spec.job.as_mut() {
            j.search.start_from(previous);
        }
        if let Some((_, s)) = spec.aws.as_mut() {
            s.start_from(previous);
        }
        spec
    }
}

/// A loaded jobs file.
#[derive(Debug, Clone)]
pub struct JobsFile {
    /// The file.
    pub path: PathBuf,
    /// Jobs at once, if the file says.
    pub concurrency: Option<usize>,
    /// History database, resolved against the file, if the file says.
    pub history: Option<PathBuf>,
    /// Output directory, resolved against the file, if the file says.
    pub out: Option<PathBuf>,
    /// The jobs, in file order.
    pub jobs: Vec<JobSpec>,
}

impl JobsFile {
    /// Loads and checks a jobs file.
    pub fn load(path: &Path) -> Result<JobsFile, ScheduleError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScheduleError::Read { path: path.to_path_buf(), source })?;
        let invalid = |message: String, help: &str| ScheduleError::Invalid {
            path: path.to_path_buf(),
            message,
            help: help.to_string(),
        };
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = text.get(..s.start).unwrap_or_default();
                format!(
                    "{}:{}: ",
                    before.matches('\n').count() + 1,
                    before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1
                )
            });
            invalid(
                format!("{}{}", at.unwrap_or_default(), e.message()),
                "see `iam-prune schedule run --help` for the jobs file format",
            )
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        if raw.job.is_empty() {
            return Err(invalid("no [[job]] entries".into(), "add at least one [[job]] with a name and a scenario"));
        }
        let mut jobs: Vec<JobSpec> = Vec::new();
        for j in raw.job {
            let ok_name = !j.name.is_empty()
                && j.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !j.name.starts_with('.');
            if !ok_name {
                return Err(invalid(
                    format!("job name `{}` is not usable as a directory name", j.name),
                    "use letters, digits, `-`, `_` and `.`",
                ));
            }
            if jobs.iter().any(|x| x.name == j.name) {
                return Err(invalid(
                    format!("job `{}` appears twice", j.name),
                    "give every job a unique name: the history compares runs by name",
                ));
            }
            let kind = j.kind.unwrap_or(if j.command.is_some() { JobKind::Command } else { JobKind::Scenario });
            let search = SearchSettings {
                strategy: j.strategy.unwrap_or(StrategyKind::Auto),
                parallel: j.parallel.unwrap_or(1).max(1),
                confirm: j.confirm.unwrap_or(1).max(1),
                max_trials: j.max_trials,
                deadline: j.deadline,
                likely: j.likely.clone(),
                expect_needed: j.expect_needed,
                engine: crate::prune::ENGINE,
            };
            // A key the job's kind cannot use would be silently dropped: refuse it by name.
            let given = [
                ("command", j.command.is_some(), kind != JobKind::Command),
                ("start", j.start.is_some(), kind != JobKind::Command),
                ("fixed", !j.fixed.is_empty(), kind != JobKind::Command),
                ("aws_args", !j.aws_args.is_empty(), kind != JobKind::Command),
                ("scenario", j.scenario.is_some(), kind != JobKind::Scenario),
                ("role", j.role.is_some(), true),
            ];
            if let Some((key, _, _)) = given.iter().find(|(_, on, refused)| *on && *refused) {
                let why = if *key == "role" {
                    "jobs that tighten a live role from CloudTrail are not built yet: use a scenario or command job"
                } else if kind == JobKind::Scenario {
                    "a scenario job's workload and policies are its scenario's; drop the key, or make it a command job"
                } else {
                    "a command job runs `command` on AWS; drop the key, or make it a scenario job"
                };
                return Err(invalid(
                    format!("job `{}`: `{key}` cannot apply to a {} job", j.name, kind_name(kind)),
                    why,
                ));
            }
            let (scenario, job, aws) = match kind {
                JobKind::Scenario => {
                    let Some(s) = j.scenario else {
                        return Err(invalid(
                            format!("job `{}` has no `scenario`", j.name),
                            "set `scenario = \"path/to/scenario.toml\"`",
                        ));
                    };
                    let scenario = resolve(&s);
                    let job = ScenarioJob::with_search(scenario.clone(), search);
                    (scenario, Some(job), None)
                }
                JobKind::Command => {
                    let (Some(command), Some(start)) = (j.command.clone(), j.start.clone()) else {
                        return Err(invalid(
                            format!("command job `{}` needs `command` and `start`", j.name),
                            "set `command = \"the workload\"` and `start = \"IAMFullAccess\"` (a managed policy, file or policy ARN)",
                        ));
                    };
                    // The same flags as `iam-prune prune --run`, parsed by the same definitions.
                    let mut argv = vec!["prune".to_string(), "--run".into(), command.clone(), "--start".into(), start];
                    for f in &j.fixed {
                        argv.push("--fixed".into());
                        argv.push(f.clone());
                    }
                    argv.extend(j.aws_args.iter().cloned());
                    let aws = <AwsFlags as clap::Parser>::try_parse_from(&argv)
                        .map_err(|e| {
                            invalid(
                                format!("job `{}`: {}", j.name, e.render().to_string().trim()),
                                "`aws_args` takes the flags of `iam-prune prune --run`",
                            )
                        })?
                        .aws;
                    if aws.dry_run {
                        return Err(invalid(
                            format!("job `{}`: `--dry-run` in `aws_args` would make the job run nothing", j.name),
                            "run `iam-prune prune --run ... --dry-run` by hand to see the IAM calls a job makes",
                        ));
                    }
                    (PathBuf::from(command), None, Some((aws.spec(), search)))
                }
            };
            jobs.push(JobSpec { name: j.name, kind, scenario, job, aws });
        }
        Ok(JobsFile {
            path: path.to_path_buf(),
            concurrency: raw.concurrency,
            history: raw.history.as_deref().map(resolve),
            out: raw.out.as_deref().map(resolve),
            jobs,
        })
    }
}
