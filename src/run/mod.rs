//! The job pipeline every kind of run goes through: open the run directory (new, or resumed
//! with new budgets), start or check the journal once the job's inputs give the universe,
//! search, and finish: `policy.json` (and parts), `summary.json`, the journal's result record
//! and the reports. A kind of job adds only what is its own: its inputs, its oracle, what the
//! written policy starts from. Scenario jobs are [`scenario`]; AWS jobs are
//! [`crate::aws::job`]. The `prune` command and the scheduler both run jobs through here.

mod error;
mod scenario;
mod settings;

pub use error::RunError;
pub use scenario::{run_scenario_job, JobOutput, ScenarioJob};
pub use settings::{Budgets, SearchSettings};

use crate::prune::summary::Summary;
use crate::prune::{Journal, PruneError, StartRecord};
use std::path::{Path, PathBuf};

/// What a kind of job keeps in its journal's start record, so `--resume` needs nothing else.
pub trait JournaledJob: serde::Serialize + serde::de::DeserializeOwned {
    /// The kind of run, as errors name it ("a scenario run").
    const WHAT: &'static str;

    /// The job's search settings, which a resume's budgets change.
    fn search_mut(&mut self) -> &mut SearchSettings;
}

/// A run directory opened for a job.
#[derive(Debug)]
pub struct Opened<J> {
    /// The job: given for a new run, the start record's for a resumed one.
    pub job: J,
    /// A resumed run's journal; none yet for a new run (see [`journal_for`]).
    pub journal: Option<Journal>,
    /// The run directory.
    pub dir: PathBuf,
}

impl<J> Opened<J> {
    /// True when the run continues a journal.
    pub fn is_resumed(&self) -> bool {
        self.journal.is_some()
    }

    /// A new run that never started leaves no directory behind (only an empty one goes).
    pub fn abandon(&self) {
        if self.journal.is_none() {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Opens `dir` for a job: a resumed run's journal and job (its budgets replaced by the given
/// ones), or a new run directory for `job`, created here and holding no journal yet.
pub fn open<J: JournaledJob>(dir: RunDir, job: Option<J>) -> Result<Opened<J>, RunError> {
    match dir {
        RunDir::Resume(dir, budgets) => {
            let (journal, mut job): (Journal, J) = resume_journal(&dir, J::WHAT)?;
            budgets.apply(job.search_mut(), &journal)?;
            Ok(Opened { job, journal: Some(journal), dir })
        }
        RunDir::New(dir) => {
            let job = job.ok_or(RunError::NoJob)?;
            let path = dir.join("journal.jsonl");
            if path.exists() {
                return Err(PruneError::Journal {
                    path,
                    message: "a run directory with a journal already exists".into(),
                    help: "choose a new run directory with --out, or continue the run with --resume".into(),
                }
                .into());
            }
            std::fs::create_dir_all(&dir).map_err(RunError::io("create run directory", &dir))?;
            Ok(Opened { job, journal: None, dir })
        }
    }
}

/// The search engine version that started the run in `dir`, when it is not this build's:
/// such a run resumes with today's search, every recorded trial kept as a fact, so its new
/// trials may differ from what the older engine would have run (never its result's soundness).
pub fn other_engine(dir: &Path) -> Option<u32> {
    let start = Journal::read(&dir.join("journal.jsonl")).ok()?.start?;
    // An AWS job nests its search settings; a scenario job flattens them into the record.
    let search = start.config.get("search").unwrap_or(&start.config);
    let engine = search.get("engine").and_then(|e| e.as_u64()).unwrap_or(1);
    let engine = u32::try_from(engine).ok()?;
    (engine != crate::prune::ENGINE).then_some(engine)
}

/// The journal to search with: a resumed run's own, checked against the universe the job's
/// inputs (`inputs` names them) give now; or a new one whose start record holds the job.
pub fn journal_for<'j, J: serde::Serialize>(
    journal: &'j mut Option<Journal>,
    dir: &Path,
    job: &J,
    name: &str,
    universe: Vec<String>,
    inputs: &str,
) -> Result<&'j mut Journal, RunError> {
    let j = match journal.take() {
        Some(j) => {
            j.check_universe(&universe, inputs)?;
            j
        }
        None => {
            let start = StartRecord {
                version: 1,
                name: name.to_string(),
                config: serde_json::to_value(job)?,
                universe,
                started: now_rfc3339(),
            };
            Journal::create(&dir.join("journal.jsonl"), start)?
        }
    };
    Ok(journal.insert(j))
}

/// Where a job writes.
#[derive(Debug, Clone)]
pub enum RunDir {
    /// A new run directory (created; must not hold a journal yet).
    New(PathBuf),
    /// Continue the run in this directory, with new budgets where given.
    Resume(PathBuf, Budgets),
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
pub fn previous_minimal(dir: &Path) -> Result<PreviousRun, RunError> {
    let path = dir.join("summary.json");
    let problem = |problem: String| RunError::Previous { path: path.clone(), problem };
    let text = std::fs::read_to_string(&path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| problem(format!("is not a run summary: {e}")))?;
    let minimal = summary["minimal"]
        .as_array()
        .ok_or_else(|| problem("has no `minimal` list (is it a run's summary.json?)".into()))?;
    // A run stopped by a budget kept a sufficient set, not a minimal one: starting from it
    // would re-test every action it kept.
    if summary["minimal_proven"] != true {
        let why = summary["stopped"].as_str().unwrap_or("its result was not proven minimal");
        return Err(problem(format!(
            "is not a proven minimal result ({why}); prune without --previous, or pass its actions with --likely"
        )));
    }
    let minimal = minimal
        .iter()
        .map(|a| {
            a.as_str()
                .map(str::to_string)
                .ok_or_else(|| problem(format!("holds `{a}` in `minimal`, not an action name")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreviousRun { name: summary["name"].as_str().unwrap_or_default().to_string(), minimal })
}

/// The default run directory: `reports/<name>-<UTC timestamp>`, created here. Two runs started
/// in the same second get `-2`, `-3`, ...: the directory is claimed with an atomic `mkdir`, so
/// concurrent runs never share one.
pub fn default_run_dir(name: &str) -> Result<PathBuf, RunError> {
    claim_dir(&PathBuf::from("reports").join(format!("{name}-{}", utc_stamp())))
}

/// Creates `base`, or `base-2`, `base-3`, ... when it exists, and returns the one created.
pub fn claim_dir(base: &Path) -> Result<PathBuf, RunError> {
    if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(RunError::io("create", parent))?;
    }
    for i in 1..10_000u32 {
        let dir = if i == 1 { base.to_path_buf() } else { PathBuf::from(format!("{}-{i}", base.display())) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(RunError::io("create run directory", dir)(e)),
        }
    }
    Err(RunError::NoFreeDir { base: base.to_path_buf() })
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

/// Writes a finished run's outputs: `policy.json` (and `policy-part-N.json` when it must be
/// split to fit managed policies), `summary.json`, and the journal's `result` record, unless
/// the journal already ends at this result (returns true then: a finished run resumed; its
/// outputs are rewritten, by this build's writer). Every kind of job (scenario, AWS) ends here.
pub fn finish_run(dir: &Path, summary: &Summary, journal: &mut Journal) -> Result<bool, RunError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text + "\n").map_err(RunError::io("write", path))
    };
    write("policy.json", serde_json::to_string_pretty(&summary.policy)?)?;
    for (i, part) in summary.policy_parts.iter().enumerate() {
        write(&format!("policy-part-{}.json", i + 1), serde_json::to_string_pretty(part)?)?;
    }
    // Parts an earlier finish of this run wrote (a resumed run may need fewer) would be
    // applied with the new ones: remove them.
    let mut stale = summary.policy_parts.len() + 1;
    while dir.join(format!("policy-part-{stale}.json")).exists() {
        let path = dir.join(format!("policy-part-{stale}.json"));
        std::fs::remove_file(&path).map_err(RunError::io("remove the stale", path))?;
        stale += 1;
    }
    write("summary.json", serde_json::to_string_pretty(summary)?)?;
    let already_finished = journal.already_finished();
    if !already_finished {
        journal.append_record(&crate::prune::journal::Record::Result { summary: serde_json::to_value(summary)? })?;
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
