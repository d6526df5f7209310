//! Scheduled pruning: run several pruning jobs (nightly, from cron or CI), keep every result in
//! a history database, and say for each job whether its needs are unchanged, narrowed (actions no
//! longer needed: the policy can shrink) or widened (a new need appeared: drift), with the
//! actions as evidence. The exit code lets a wrapper act without parsing anything.
//!
//! Jobs run through [`crate::run::run_scenario_job`], the same entry point as `prune`, so
//! each leaves a full run directory with its reports. Two schedule runs on one history exclude
//! each other with a lock; a killed run leaves `running` rows that the next run marks
//! `abandoned`, resuming their run directories when the job is unchanged.

mod err;
pub mod history;
pub mod jobs;
pub mod lock;
mod summary;

pub use err::ScheduleError;
pub use history::{History, RunRow};
pub use jobs::{JobKind, JobSpec, JobsFile};
pub use lock::ScheduleLock;

use crate::prune::journal::Journal;
use crate::prune::NoProgress;
use crate::run::{run_scenario_job, JobOutput, RunDir, ScenarioJob};
use futures::StreamExt;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How a job's minimal set compares with its previous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// No previous run to compare with.
    New,
    /// Same minimal set.
    Unchanged,
    /// Actions are no longer needed (and none were added).
    Narrowed,
    /// New actions are needed (drift), whether or not others went.
    Widened,
}

impl Change {
    /// The name stored in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Unchanged => "unchanged",
            Change::Narrowed => "narrowed",
            Change::Widened => "widened",
        }
    }

    /// Compares a minimal set with the previous one (both sorted): (change, added, removed).
    pub fn between(previous: Option<&[String]>, current: &[String]) -> (Change, Vec<String>, Vec<String>) {
        let Some(prev) = previous else { return (Change::New, Vec::new(), Vec::new()) };
        let added: Vec<String> = current.iter().filter(|a| !prev.contains(a)).cloned().collect();
        let removed: Vec<String> = prev.iter().filter(|a| !current.contains(a)).cloned().collect();
        let change = if !added.is_empty() {
            Change::Widened
        } else if !removed.is_empty() {
            Change::Narrowed
        } else {
            Change::Unchanged
        };
        (change, added, removed)
    }
}

/// The overall result of a schedule run, worst first: it decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    /// Some job failed (exit 1): its comparison is missing, so nothing else can be trusted.
    Failed,
    /// Some job widened (exit 20).
    Widened,
    /// Some job narrowed, none widened (exit 10).
    Narrowed,
    /// Every job unchanged or new (exit 0).
    Unchanged,
}

impl Overall {
    /// The documented exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Overall::Failed => 1,
            Overall::Widened => 20,
            Overall::Narrowed => 10,
            Overall::Unchanged => 0,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Overall::Failed => "failed",
            Overall::Widened => "widened",
            Overall::Narrowed => "narrowed",
            Overall::Unchanged => "unchanged",
        }
    }
}

/// One job's result in a schedule run.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    /// Job name.
    pub job: String,
    /// History run id.
    pub run_id: i64,
    /// Run directory (with the run's reports).
    pub run_dir: PathBuf,
    /// The run continued an abandoned run's directory.
    pub resumed: bool,
    /// The minimal actions (empty on failure).
    pub minimal: Vec<String>,
    /// Verified and proven minimal.
    pub verified: bool,
    /// Trials run.
    pub trials: u64,
    /// The comparison (None on failure).
    pub change: Option<Change>,
    /// The run compared with.
    pub previous_run: Option<i64>,
    /// Actions needed now, not before.
    pub added: Vec<String>,
    /// Actions needed before, not now.
    pub removed: Vec<String>,
    /// Why the job failed.
    pub error: Option<String>,
}

/// The result of a whole schedule run.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleResult {
    /// History id of the schedule run.
    pub schedule_id: i64,
    /// Its directory (summary + one run directory per job).
    pub dir: PathBuf,
    /// The history database.
    pub history: PathBuf,
    /// Per job, in jobs-file order.
    pub jobs: Vec<JobResult>,
    /// Worst outcome.
    pub overall: Overall,
    /// Its exit code.
    pub exit_code: i32,
    /// Runs of a killed schedule run found and marked abandoned.
    pub abandoned: Vec<i64>,
}

/// Settings of one `schedule run` (the jobs file's own, overridden by the command line).
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// History database.
    pub history: PathBuf,
    /// Where schedule directories go.
    pub out: PathBuf,
    /// Jobs at once.
    pub concurrency: usize,
    /// Wait for another run's lock instead of failing.
    pub wait: bool,
}

/// Told about each job as it starts and ends (the library never prints).
pub trait ScheduleProgress: Sync {
    /// A job starts.
    fn started(&self, _job: &str, _run_dir: &Path, _resumed: bool) {}
    /// A job ended.
    fn finished(&self, _result: &JobResult) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl ScheduleProgress for Quiet {}

/// A fresh `schedule-<UTC stamp>[-N]` directory under `out` (runs within one second get `-2`...).
fn new_dir(out: &Path) -> Result<PathBuf, ScheduleError> {
    std::fs::create_dir_all(out).map_err(|source| ScheduleError::Io { path: out.to_path_buf(), source })?;
    let base = format!("schedule-{}", crate::run::utc_stamp());
    for n in 1.. {
        let dir = out.join(if n == 1 { base.clone() } else { format!("{base}-{n}") });
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(ScheduleError::Io { path: dir, source }),
        }
    }
    Ok(out.join(base))
}

/// Whether an abandoned run's directory can be resumed for this job: a journal with a start
/// record for the same scenario (and, where recorded, the same scenario content: an edited
/// scenario starts a new run) and search flags, and no result yet. What is derived from the
/// history (the previous result as `likely` and `expect_needed`) and the engine version may
/// differ: a resumed run searches as its journal says, which only orders the trials.
fn resumable(dir: &Path, job: &ScenarioJob) -> bool {
    let path = dir.join("journal.jsonl");
    let Ok(j) = Journal::read(&path) else { return false };
    let same = j.start.as_ref().and_then(|s| serde_json::from_value::<ScenarioJob>(s.config.clone()).ok()).is_some_and(
        |old| {
            let unedited = match &old.scenario_sha256 {
                Some(h) => crate::workload::Scenario::load(&job.scenario).is_ok_and(|s| s.has_fingerprint(h)),
                None => true,
            };
            old.scenario == job.scenario && unedited && old.search.same_flags(&job.search)
        },
    );
    let finished = std::fs::read_to_string(&path).map(|t| t.contains("\"type\":\"result\"")).unwrap_or(true);
    same && !finished
}

/// A command job: the workload on AWS in a fresh sandbox (deleted at the end, whatever
/// happens), as `iam-prune prune --run` does.
async fn run_command_job(
    name: &str,
    run_dir: &Path,
    aws: &crate::aws::AwsSpec,
    search: &crate::run::SearchSettings,
) -> Result<JobOutput, String> {
    let job = crate::aws::job::AwsJob::new(crate::aws::job::new_run_id(), aws.with_defaults(), search.clone());
    let out = crate::aws::job::run_aws_job(
        RunDir::New(run_dir.to_path_buf()),
        Some(job),
        None,
        &NoProgress,
        futures::future::pending(),
    )
    .await
    .map_err(|e| crate::with_help(&e, e.help()))?;
    if !out.cleanup_failed.is_empty() {
        return Err(format!(
            "job `{name}`: sandbox objects left behind (run `iam-prune sandbox cleanup`): {}",
            out.cleanup_failed.join(", ")
        ));
    }
    let summary = out.summary.ok_or_else(|| format!("job `{name}` was interrupted"))?;
    Ok(JobOutput {
        summary,
        dir: out.dir,
        scenario: PathBuf::from(aws.run.clone().unwrap_or_default()),
        already_finished: out.already_finished,
    })
}

/// Runs every job of a jobs file, records and compares the results, writes the summary.
pub async fn run_schedule(
    file: &JobsFile,
    opts: &ScheduleOptions,
    progress: &dyn ScheduleProgress,
) -> Result<ScheduleResult, ScheduleError> {
    let _lock = ScheduleLock::acquire(&opts.history, opts.wait)?;
    let mut db = History::open(&opts.history)?;
    let abandoned = db.abandon_stale()?;
    let dir = new_dir(&opts.out)?;
    let schedule_id = db.begin_schedule(&file.path, &dir)?;

    // Record every job as running first, so a kill at any point leaves rows to recover.
    let mut planned = Vec::new();
    for spec in &file.jobs {
        // The last proven result is the best guess of what the job needs.
        let previous = db.last_proven(&spec.name)?.map(|r| r.minimal);
        let spec = spec.after(previous.as_deref());
        let job = spec.scenario_job();
        let previous = abandoned.iter().rev().find(|r| r.job == spec.name).map(|r| PathBuf::from(&r.run_dir));
        let (run_dir, resumed) = match (&job, previous) {
            (Some(j), Some(p)) if resumable(&p, j) => (p, true),
            _ => (dir.join(&spec.name), false),
        };
        let run_id = db.begin_run(schedule_id, &spec.name, &spec.scenario, &run_dir, resumed)?;
        planned.push((spec, job, run_dir, resumed, run_id));
    }

    let concurrency = opts.concurrency.max(1);
    let outputs: Vec<_> =
        futures::stream::iter(planned.iter().enumerate().map(|(i, (spec, job, run_dir, resumed, _))| async move {
            progress.started(&spec.name, run_dir, *resumed);
            let out = match (job, spec.aws_job()) {
                (Some(job), _) => {
                    let target = if *resumed {
                        RunDir::Resume(run_dir.clone(), Default::default())
                    } else {
                        RunDir::New(run_dir.clone())
                    };
                    run_scenario_job(target, Some(job.clone()), &NoProgress)
                        .await
                        .map_err(|e| crate::with_help(&e, e.help()))
                }
                (None, Some((aws, search))) => run_command_job(&spec.name, run_dir, aws, search).await,
                (None, None) => Err(format!("job `{}` has nothing to run", spec.name)),
            };
            (i, out)
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let mut results: Vec<Option<JobResult>> = vec![None; planned.len()];
    for (i, out) in outputs {
        let Some((spec, _, run_dir, resumed, run_id)) = planned.get(i) else { continue };
        let mut r = JobResult {
            job: spec.name.clone(),
            run_id: *run_id,
            run_dir: run_dir.clone(),
            resumed: *resumed,
            minimal: Vec::new(),
            verified: false,
            trials: 0,
            change: None,
            previous_run: None,
            added: Vec::new(),
            removed: Vec::new(),
            error: None,
        };
        match out {
            Ok(o) => {
                let mut minimal = o.summary.minimal.clone();
                minimal.sort();
                let prev = db.previous_done(&spec.name, *run_id)?;
                let (change, added, removed) = Change::between(prev.as_ref().map(|p| p.minimal.as_slice()), &minimal);
                db.finish_run(
                    *run_id,
                    &history::Finished {
                        minimal: &minimal,
                        verified: o.summary.verified,
                        minimal_proven: o.summary.minimal_proven,
                        trials: o.summary.trials,
                        rounds: o.summary.rounds,
                        change: change.as_str(),
                        previous_run: prev.as_ref().map(|p| p.id),
                        added: &added,
                        removed: &removed,
                    },
                )?;
                r.verified = o.summary.verified && o.summary.minimal_proven;
                r.trials = o.summary.trials;
                r.minimal = minimal;
                r.change = Some(change);
                r.previous_run = prev.map(|p| p.id);
                r.added = added;
                r.removed = removed;
            }
            Err(e) => {
                db.fail_run(*run_id, &e)?;
                r.error = Some(e);
            }
        }
        progress.finished(&r);
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(r);
        }
    }
    let jobs: Vec<JobResult> = results.into_iter().flatten().collect();
    let overall = if jobs.iter().any(|j| j.error.is_some()) {
        Overall::Failed
    } else if jobs.iter().any(|j| j.change == Some(Change::Widened)) {
        Overall::Widened
    } else if jobs.iter().any(|j| j.change == Some(Change::Narrowed)) {
        Overall::Narrowed
    } else {
        Overall::Unchanged
    };
    let result = ScheduleResult {
        schedule_id,
        dir: dir.clone(),
        history: opts.history.clone(),
        jobs,
        overall,
        exit_code: overall.exit_code(),
        abandoned: abandoned.iter().map(|r| r.id).collect(),
    };
    summary::write(&result, &file.path)?;
    db.finish_schedule(schedule_id, overall.as_str(), overall.exit_code())?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::StartRecord;

    /// An abandoned run is resumed only for the scenario it started with: once the scenario
    /// file's content is edited (not just a comment), its recorded trials describe another
    /// workload and a new run starts.
    #[test]
    fn an_edited_scenario_is_not_resumed() {
        let dir = std::env::temp_dir().join(format!("iam-prune-resumable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = dir.join("s.toml");
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/flintrock-launch.toml"),
        )
        .unwrap();
        std::fs::write(&scenario, &text).unwrap();
        let mut job = ScenarioJob::new(scenario.clone());
        job.scenario_sha256 = Some(crate::workload::Scenario::load(&scenario).unwrap().fingerprint);
        let start = StartRecord {
            version: 1,
            name: "s".into(),
            config: serde_json::to_value(&job).unwrap(),
            universe: Vec::new(),
            started: String::new(),
        };
        let run = dir.join("run");
        std::fs::create_dir_all(&run).unwrap();
        drop(Journal::create(&run.join("journal.jsonl"), start.clone()).unwrap());
        assert!(resumable(&run, &job));
        // A journal of an earlier build holds the SHA-256 of the bytes (this scenario reads no
        // policy file): still resumable.
        let mut legacy = job.clone();
        use sha2::Digest;
        legacy.scenario_sha256 =
            Some(sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect());
        assert_ne!(legacy.scenario_sha256, job.scenario_sha256);
        let legacy_run = dir.join("legacy");
        std::fs::create_dir_all(&legacy_run).unwrap();
        let legacy_start = StartRecord { config: serde_json::to_value(&legacy).unwrap(), ..start.clone() };
        drop(Journal::create(&legacy_run.join("journal.jsonl"), legacy_start).unwrap());
        assert!(resumable(&legacy_run, &job));
        // A comment changes nothing a trial sees; a value does.
        std::fs::write(&scenario, format!("{text}\n# edited\n")).unwrap();
        assert!(resumable(&run, &job));
        let edited = text.replace("trial_seconds = 95.0", "trial_seconds = 96.0");
        assert_ne!(edited, text);
        std::fs::write(&scenario, edited).unwrap();
        assert!(crate::workload::Scenario::load(&scenario).is_ok());
        assert!(!resumable(&run, &job));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
