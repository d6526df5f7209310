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
//! likely = ["iam:PassRole"]
//! ```
//!
//! Paths in the file are relative to the file. `kind = "command"` (a real command on AWS) is
//! accepted but not run yet: see [`COMMAND_TODO`].

use super::ScheduleError;
use crate::prune::job::{ScenarioJob, SearchSettings};
use crate::prune::StrategyKind;
use std::path::{Path, PathBuf};

/// Why command jobs fail for now.
pub const COMMAND_TODO: &str = "`kind = \"command\"` jobs (a real command on AWS) are not scheduled yet: \
    TODO: wire `aws::job::run_aws_job` into the scheduler; run `iam-prune prune` on AWS from cron meanwhile";

/// What a job prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// An offline scenario file.
    Scenario,
    /// A real command on AWS (TODO).
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

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    kind: Option<JobKind>,
    scenario: Option<PathBuf>,
    command: Option<String>,
    role: Option<String>,
    strategy: Option<StrategyKind>,
    parallel: Option<usize>,
    confirm: Option<usize>,
    max_trials: Option<u64>,
    deadline: Option<u64>,
    #[serde(default)]
    likely: Vec<String>,
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
}

impl JobSpec {
    /// The pruning job, for scenario jobs.
    pub fn scenario_job(&self) -> Option<ScenarioJob> {
        self.job.clone()
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
        let text = std::fs::read_to_string(path).map_err(|source| ScheduleError::Read { path: path.to_path_buf(), source })?;
        let invalid = |message: String, help: &str| ScheduleError::Invalid { path: path.to_path_buf(), message, help: help.to_string() };
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = text.get(..s.start).unwrap_or_default();
                format!("{}:{}: ", before.matches('\n').count() + 1, before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1)
            });
            invalid(format!("{}{}", at.unwrap_or_default(), e.message()), "see `iam-prune schedule run --help` for the jobs file format")
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        if raw.job.is_empty() {
            return Err(invalid("no [[job]] entries".into(), "add at least one [[job]] with a name and a scenario"));
        }
        let mut jobs: Vec<JobSpec> = Vec::new();
        for j in raw.job {
            let ok_name = !j.name.is_empty() && j.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) && !j.name.starts_with('.');
            if !ok_name {
                return Err(invalid(format!("job name `{}` is not usable as a directory name", j.name), "use letters, digits, `-`, `_` and `.`"));
            }
            if jobs.iter().any(|x| x.name == j.name) {
                return Err(invalid(format!("job `{}` appears twice", j.name), "give every job a unique name: the history compares runs by name"));
            }
            let kind = j.kind.unwrap_or(if j.command.is_some() { JobKind::Command } else { JobKind::Scenario });
            let (scenario, job) = match kind {
                JobKind::Scenario => {
                    let Some(s) = j.scenario else {
                        return Err(invalid(format!("job `{}` has no `scenario`", j.name), "set `scenario = \"path/to/scenario.toml\"`"));
                    };
                    let scenario = resolve(&s);
                    let job = ScenarioJob {
                        scenario: scenario.clone(),
                        search: SearchSettings {
                            strategy: j.strategy.unwrap_or(StrategyKind::Auto),
                            parallel: j.parallel.unwrap_or(1).max(1),
                            confirm: j.confirm.unwrap_or(1).max(1),
                            max_trials: j.max_trials,
                            deadline: j.deadline,
                            likely: j.likely,
                        },
                    };
                    (scenario, Some(job))
                }
                JobKind::Command => {
                    let _ = j.role;
                    (PathBuf::from(j.command.unwrap_or_default()), None)
                }
            };
            jobs.push(JobSpec { name: j.name, kind, scenario, job });
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
