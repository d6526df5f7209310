//! A whole pruning job on a scenario: load, search, scope resources, summarize, write the run
//! directory (`journal.jsonl`, `policy.json`, `summary.json`, the reports). The `prune` command and the
//! scheduler both run jobs through here; they differ only in what they print.

use super::summary::{summarize, PolicySource, Summary};
use super::{run, Journal, Progress, PruneConfig, PruneError, StartRecord, StrategyKind};
use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::eval::NamedPolicy;
use crate::oracle::scenario::ScenarioOracle;
use crate::oracle::Oracle;
use crate::policy::write::Seen;
use crate::policy::Policy;
use crate::workload::Replay;
use crate::workload::Scenario;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// How a job searches (the `prune` flags), whatever its oracle: scenario jobs and AWS jobs
/// (`aws::job`) turn it into a [`PruneConfig`] the same way.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SearchSettings {
    /// Strategy.
    pub strategy: StrategyKind,
    /// Trials per round.
    pub parallel: usize,
    /// `--confirm`.
    pub confirm: usize,
    /// Trial budget.
    pub max_trials: Option<u64>,
    /// Wall-clock budget in seconds.
    pub deadline: Option<u64>,
    /// Priors.
    pub likely: Vec<String>,
    /// `--expect-needed`: the number of needed actions expected (journals written before the
    /// flag existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_needed: Option<usize>,
    /// The search engine's version when the run started (journals without it are version 1).
    /// A resumed run searches as the current engine does whatever this says.
    #[serde(default = "first_engine")]
    pub engine: u32,
}

fn first_engine() -> u32 {
    1
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            strategy: StrategyKind::Auto,
            parallel: 1,
            confirm: 1,
            max_trials: None,
            deadline: None,
            likely: Vec::new(),
            expect_needed: None,
            engine: super::ENGINE,
        }
    }
}

impl SearchSettings {
    /// Settings for a re-prune after a run that found `previous` (its minimal set): the set is
    /// tried first (added to `likely`) and its size expected (`expect_needed`, unless already
    /// set). With `auto` an unchanged workload then costs d + 1 trials (the old set passes,
    /// then one proof per action). It never makes a result wrong (priors only order trials;
    /// with fallbacks, "A or B", it may keep the previous run's choice).
    pub fn start_from(&mut self, previous: &[String]) {
        if self.expect_needed.is_none() {
            self.expect_needed = Some(previous.len());
        }
        for a in previous {
            if !self.likely.contains(a) {
                self.likely.push(a.clone());
            }
        }
    }

    /// The same search flags as `other` (what a user sets; not what is derived from a
    /// previous result, nor the engine version).
    pub fn same_flags(&self, other: &SearchSettings) -> bool {
        (self.strategy, self.parallel, self.confirm, self.max_trials, self.deadline)
            == (other.strategy, other.parallel, other.confirm, other.max_trials, other.deadline)
    }

    /// The engine's configuration.
    pub fn prune_config(&self) -> PruneConfig {
        let catalog = Catalog::embedded();
        PruneConfig {
            strategy: self.strategy,
            parallel: self.parallel.max(1),
            confirm: self.confirm.max(1),
            max_trials: self.max_trials,
            deadline: self.deadline.map(Duration::from_secs),
            likely: self.likely.iter().map(|a| catalog.intern(a)).collect::<ActionSet>(),
            order: Vec::new(),
            expect_needed: self.expect_needed,
        }
    }
}

/// What a finished run found, as `--previous` reads it.
#[derive(Debug, Clone)]
pub struct PreviousRun {
    /// The run's name (the scenario's name for a scenario run).
    pub name: String,
    /// Its proven minimal set.
    pub minimal: Vec<String>,
}

/// The minimal set a finished run found, from its run directory's `summary.json`.
pub fn previous_minimal(dir: &Path) -> Result<PreviousRun, JobError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read `{}`: {e} (pass the directory of a finished run, the one holding summary.json)",
            path.display()
        )
    })?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("`{}` is not a run summary: {e}", path.display()))?;
    let minimal = summary["minimal"]
        .as_array()
        .ok_or_else(|| format!("`{}` has no `minimal` list (is it a run's summary.json?)", path.display()))?;
    // A run stopped by a budget kept a sufficient set, not a minimal one: starting from it
    // would re-test every action it kept.
    if summary["minimal_proven"] != true {
        let why = summary["stopped"].as_str().unwrap_or("its result was not proven minimal");
        return Err(format!(
            "`{}` is not a proven minimal result ({why}); prune without --previous, or pass its actions with --likely",
            path.display()
        )
        .into());
    }
    let minimal = minimal
        .iter()
        .map(|a| {
            a.as_str().map(str::to_string).ok_or_else(|| {
                JobError::from(format!("`{}`: `minimal` holds `{a}`, not an action name", path.display()))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreviousRun { name: summary["name"].as_str().unwrap_or_default().to_string(), minimal })
}

/// Where a job writes.
#[derive(Debug, Clone)]
pub enum RunDir {
    /// A new run directory (created; must not hold a journal yet).
    New(PathBuf),
    /// Continue the run in this directory, with new budgets where given.
    Resume(PathBuf, Budgets),
}

/// Budgets a resumed run may change: they decide where the search stops, never which trials
/// it proposes, so the journal's trials still replay exactly. A run stopped by `--max-trials`
/// is continued with a larger one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budgets {
    /// A new trial budget (the run's total, replayed trials included).
    pub max_trials: Option<u64>,
    /// A new wall-clock budget in seconds, for this process.
    pub deadline: Option<u64>,
}

impl Budgets {
    /// Puts the given budgets in place of the journal's. A trial budget below the trials the
    /// journal already holds is refused: it would rewrite the run's result with a worse one.
    pub fn apply(&self, search: &mut SearchSettings, journal: &Journal) -> Result<(), PruneError> {
        if let Some(m) = self.max_trials {
            let recorded = journal.recorded_trials();
            if m < recorded as u64 {
                return Err(PruneError::ResumeMismatch(format!(
                    "--max-trials {m} is below the {recorded} trials the run already holds; give a larger budget to continue it"
                )));
            }
        }
        // Without new budgets, a resume stops where the run last ended: the start record holds
        // the first budget, but a later resume may have given a larger one (or let it finish).
        if self.max_trials.is_none() && self.deadline.is_none() {
            match journal.last_result() {
                Some((_, false)) => {
                    search.max_trials = None;
                    search.deadline = None;
                }
                Some((trials, true)) => search.max_trials = search.max_trials.map(|m| m.max(trials)),
                None => {}
            }
        }
        if self.max_trials.is_some() {
            search.max_trials = self.max_trials;
        }
        if self.deadline.is_some() {
            search.deadline = self.deadline;
        }
        Ok(())
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

/// The error type of a job: loading, searching or writing.
pub type JobError = Box<dyn std::error::Error + Send + Sync>;

/// The default run directory: `reports/<name>-<UTC timestamp>`, created here. Two runs started
/// in the same second get `-2`, `-3`, ...: the directory is claimed with an atomic `mkdir`, so
/// concurrent runs never share one.
pub fn default_run_dir(name: &str) -> Result<PathBuf, JobError> {
    claim_dir(&PathBuf::from("reports").join(format!("{name}-{}", utc_stamp())))
}

/// Creates `base`, or `base-2`, `base-3`, ... when it exists, and returns the one created.
pub fn claim_dir(base: &Path) -> Result<PathBuf, JobError> {
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    }
    for i in 1..10_000u32 {
        let dir = if i == 1 { base.to_path_buf() } else { PathBuf::from(format!("{}-{i}", base.display())) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create run directory `{}`: {e}", dir.display()).into()),
        }
    }
    Err(format!("no free run directory name after `{}` (9,999 taken): pass --out DIR", base.display()).into())
}

/// The current UTC time as `YYYYMMDDTHHMMSSZ`, for directory names.
pub fn utc_stamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_else(|_| "run".into())
}

/// Opens a run directory's journal to continue it, with the job its start record describes
/// (`what` names the kind of run in the error when the record is of another kind).
pub fn resume_journal<T: serde::de::DeserializeOwned>(dir: &Path, what: &str) -> Result<(Journal, T), PruneError> {
    let journal = Journal::resume(&dir.join("journal.jsonl"))?;
    let start =
        journal.start.as_ref().ok_or_else(|| PruneError::ResumeMismatch("the journal has no start record".into()))?;
    let job = serde_json::from_value(start.config.clone())
        .map_err(|e| PruneError::ResumeMismatch(format!("the journal's start record is not {what}: {e}")))?;
    Ok((journal, job))
}

/// Runs (or resumes) a scenario job. `job` is required for a new run and ignored on resume
/// (the journal's own start record says what the run was).
pub async fn run_scenario_job(
    dir: RunDir,
    job: Option<ScenarioJob>,
    progress: &dyn Progress,
) -> Result<JobOutput, JobError> {
    let catalog = Catalog::embedded();
    let (job, mut journal, run_dir, scenario) = match dir {
        RunDir::Resume(dir, budgets) => {
            let (journal, mut job): (Journal, ScenarioJob) = resume_journal(&dir, "a scenario run")?;
            budgets.apply(&mut job.search, &journal)?;
            let scenario = Scenario::load(job.scenario_file())?;
            if job.scenario_sha256.as_ref().is_some_and(|h| !scenario.has_fingerprint(h)) {
                return Err(Box::new(PruneError::ResumeMismatch(format!(
                    "`{}` (or a policy file it names) changed since the run started, so its recorded trials no longer say what this scenario does; start a new run (with --previous {} to reuse its result), or restore the file",
                    job.scenario_file().display(),
                    dir.display()
                ))));
            }
            journal.check_universe(
                &scenario.universe.names(catalog),
                &format!("the start policies of `{}`", job.scenario_file().display()),
            )?;
            (job, journal, dir, scenario)
        }
        RunDir::New(dir) => {
            let mut job = job.ok_or("a new run needs a scenario")?;
            let scenario = Scenario::load(&job.scenario)?;
            job.scenario_abs = std::fs::canonicalize(&job.scenario).ok();
            job.scenario_sha256 = Some(scenario.fingerprint.clone());
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create run directory `{}`: {e}", dir.display()))?;
            let start = StartRecord {
                version: 1,
                name: scenario.name.clone(),
                config: serde_json::to_value(&job)?,
                universe: scenario.universe.names(catalog),
                started: now_rfc3339(),
            };
            let journal = Journal::create(&dir.join("journal.jsonl"), start)?;
            (job, journal, dir, scenario)
        }
    };
    let cfg = job.search().prune_config();
    let oracle = ScenarioOracle::new(&scenario);
    let result = run(&oracle, &scenario.universe, &cfg, &mut journal, progress).await?;
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
    let already_finished = finish_run(&run_dir, &summary, &mut journal)?;
    Ok(JobOutput { summary, dir: run_dir, scenario: job.scenario, already_finished })
}

/// Writes a finished run's outputs: `policy.json` (and `policy-part-N.json` when it must be
/// split to fit managed policies), `summary.json`, and the journal's `result` record, unless
/// the journal already ends at this result (returns true then: a finished run resumed; its
/// outputs are rewritten, by this build's writer). Every kind of job (scenario, AWS) ends here.
pub fn finish_run(dir: &Path, summary: &Summary, journal: &mut Journal) -> Result<bool, JobError> {
    let policy = serde_json::to_string_pretty(&summary.policy)? + "\n";
    std::fs::write(dir.join("policy.json"), policy)
        .map_err(|e| format!("cannot write policy.json in `{}`: {e}", dir.display()))?;
    for (i, part) in summary.policy_parts.iter().enumerate() {
        let name = format!("policy-part-{}.json", i + 1);
        std::fs::write(dir.join(&name), serde_json::to_string_pretty(part)? + "\n")
            .map_err(|e| format!("cannot write {name} in `{}`: {e}", dir.display()))?;
    }
    // Parts an earlier finish of this run wrote (a resumed run may need fewer) would be
    // applied with the new ones: remove them.
    let mut stale = summary.policy_parts.len() + 1;
    while dir.join(format!("policy-part-{stale}.json")).exists() {
        let name = format!("policy-part-{stale}.json");
        std::fs::remove_file(dir.join(&name))
            .map_err(|e| format!("cannot remove the stale {name} in `{}`: {e}", dir.display()))?;
        stale += 1;
    }
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(summary)? + "\n")
        .map_err(|e| format!("cannot write summary.json in `{}`: {e}", dir.display()))?;
    let already_finished = journal.already_finished();
    if !already_finished {
        journal.append_record(&super::journal::Record::Result { summary: serde_json::to_value(summary)? })?;
    }
    // The reports are rebuilt from what was just written, exactly as `iam-prune report` does.
    crate::report::write_reports(dir)?;
    Ok(already_finished)
}

/// The current time, RFC 3339 (the start record's `started`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_from_before_engine_versions_reads_as_engine_one() {
        // A start record's config as the first engine wrote it: no `engine`, no expectation.
        let old = r#"{"scenario":"s.toml","strategy":"auto","parallel":1,"confirm":1,"max_trials":null,"deadline":null,"likely":[]}"#;
        let job: ScenarioJob = serde_json::from_str(old).unwrap();
        assert_eq!(job.search.engine, 1);
        assert_eq!(job.search.expect_needed, None);
        // A new job records the current engine, and reads back the same.
        let new = ScenarioJob::new("s.toml".into());
        assert_eq!(new.search.engine, crate::prune::ENGINE);
        let back: ScenarioJob = serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(back.search.engine, crate::prune::ENGINE);
        assert!(back.search.same_flags(&job.search));
    }
}
