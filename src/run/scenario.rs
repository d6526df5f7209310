//! A job on an offline scenario: the scenario file is the workload, replayed by the
//! evaluator; the written policy is replayed too, exactly as written.

use super::{finish_run, journal_for, open, JournaledJob, Opened, RunDir, RunError, SearchSettings};
use crate::catalog::Catalog;
use crate::eval::NamedPolicy;
use crate::oracle::scenario::ScenarioOracle;
use crate::oracle::Oracle;
use crate::policy::Policy;
use crate::prune::summary::{summarize, PolicySource, Summary};
use crate::prune::{run, Progress, PruneError};
use crate::synth::Seen;
use crate::workload::{Replay, Scenario};
use std::path::{Path, PathBuf};

/// A job's inputs; stored in the journal's start record so `--resume` needs nothing else.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScenarioJob {
    /// The scenario file, as given.
    pub scenario: PathBuf,
    /// The same file as an absolute path, so that a run resumes from any directory (journals
    /// from before it have none: the path as given is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_abs: Option<PathBuf>,
    /// The scenario's fingerprint when the run started ([`Scenario::fingerprint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_sha256: Option<String>,
    /// `--name`: the run's name instead of the scenario's (reports, the apply commands'
    /// policy name, the default run directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How to search.
    #[serde(flatten)]
    pub search: SearchSettings,
}

impl ScenarioJob {
    /// A job with default search settings.
    pub fn new(scenario: PathBuf) -> ScenarioJob {
        ScenarioJob::with_search(scenario, SearchSettings::default())
    }

    /// A job with the given search settings.
    pub fn with_search(scenario: PathBuf, search: SearchSettings) -> ScenarioJob {
        ScenarioJob { scenario, scenario_abs: None, scenario_sha256: None, name: None, search }
    }

    /// The file to load on resume: the absolute path when it still exists, else as given.
    fn scenario_file(&self) -> &Path {
        match &self.scenario_abs {
            Some(abs) if abs.exists() => abs,
            _ => &self.scenario,
        }
    }

    /// The job's search settings.
    pub fn search(&self) -> SearchSettings {
        self.search.clone()
    }
}

impl JournaledJob for ScenarioJob {
    const WHAT: &'static str = "a scenario run";

    fn search_mut(&mut self) -> &mut SearchSettings {
        &mut self.search
    }
}

/// What a finished job produced.
#[derive(Debug, Clone)]
pub struct JobOutput {
    /// The summary (also in `summary.json`).
    pub summary: Summary,
    /// The run directory.
    pub dir: PathBuf,
    /// The scenario file.
    pub scenario: PathBuf,
    /// The journal already held this result: nothing was run (see [`Journal::already_finished`]).
    pub already_finished: bool,
}

/// Runs (or resumes) a scenario job. `job` is required for a new run and ignored on resume
/// (the journal's own start record says what the run was).
pub async fn run_scenario_job(
    dir: RunDir,
    job: Option<ScenarioJob>,
    progress: &dyn Progress,
) -> Result<JobOutput, RunError> {
    let catalog = Catalog::embedded();
    let mut opened = open(dir, job)?;
    let scenario = match load_checked(&mut opened) {
        Ok(s) => s,
        Err(e) => {
            opened.abandon();
            return Err(e);
        }
    };
    let Opened { job, journal, dir: run_dir } = &mut opened;
    let inputs = format!("the start policies of `{}`", job.scenario_file().display());
    let journal = journal_for(journal, run_dir, &*job, &scenario.name, scenario.universe.names(catalog), &inputs)?;
    let cfg = job.search().prune_config();
    let oracle = ScenarioOracle::new(&scenario);
    let result = run(&oracle, &scenario.universe, &cfg, journal, progress).await?;
    // What the replay of the result requests, per action: resources, and services roles
    // are passed to.
    let mut seen = Seen::default();
    if let Ok(trace) = oracle.replay().run(&result.minimal, false) {
        for (a, r) in trace.requests {
            let list = seen.resources.entry(a).or_default();
            if !list.contains(&r) {
                list.push(r);
            }
        }
        for (a, key, service) in trace.passed_to {
            let (_, list) = seen.passed_to.entry(a).or_insert_with(|| (key, Vec::new()));
            if !list.contains(&service) {
                list.push(service);
                list.sort();
            }
        }
    }
    let expected = scenario.acceptable_minimal_sets();
    // The written document is replayed as the scenario's only start policy: what the user
    // gets is checked, not just the action set it came from.
    let replay = |policy: &Policy| {
        let mut alone = scenario.clone();
        alone.start = vec![NamedPolicy::new("policy.json", policy.clone())];
        let grants = catalog.expand_policy(policy).allowed;
        Replay::new(&alone).run(&grants, false).is_ok_and(|t| t.passed)
    };
    let source =
        PolicySource { start: scenario.start.iter().map(|p| &p.policy).collect(), seen: &seen, replay: Some(&replay) };
    let name = job.name.clone().unwrap_or_else(|| scenario.name.clone());
    let expected = scenario.has_expectation.then_some(expected);
    let summary = summarize(&name, oracle.info(), &cfg, &result, &source, expected.as_deref());
    let already_finished = finish_run(run_dir, &summary, journal)?;
    Ok(JobOutput { summary, dir: run_dir.clone(), scenario: job.scenario.clone(), already_finished })
}

/// Loads the job's scenario: for a new run, recording its absolute path and fingerprint; for a
/// resumed one, from the recorded path, refusing a scenario edited since the run started.
fn load_checked(opened: &mut Opened<ScenarioJob>) -> Result<Scenario, RunError> {
    let job = &mut opened.job;
    if opened.journal.is_none() {
        let scenario = Scenario::load(&job.scenario)?;
        job.scenario_abs = std::fs::canonicalize(&job.scenario).ok();
        job.scenario_sha256 = Some(scenario.fingerprint.clone());
        return Ok(scenario);
    }
    let scenario = Scenario::load(job.scenario_file())?;
    if job.scenario_sha256.as_ref().is_some_and(|h| !scenario.has_fingerprint(h)) {
        return Err(PruneError::ResumeMismatch(format!(
            "`{}` (or a policy file it names) changed since the run started, so its recorded trials no longer say what this scenario does; start a new run (with --previous {} to reuse its result), or restore the file",
            job.scenario_file().display(),
            opened.dir.display()
        ))
        .into());
    }
    Ok(scenario)
}
