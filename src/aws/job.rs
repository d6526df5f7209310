//! A prune on AWS as a job: the same run directory as a scenario job (`journal.jsonl`,
//! `policy.json`, `summary.json`), plus the workload's output per trial and `aws.json` (the
//! sandbox and what applying candidates cost).
//!
//! The sandbox exists only while trials run: it is created after the run directory is
//! checked, and deleted on every way out (success, error, and the caller's interrupt, usually
//! Ctrl-C). `--resume` rebuilds the sandbox from the start record's configuration, first
//! deleting what a killed process of the same run left behind, and the journal answers the
//! recorded trials, so none runs twice.

use super::setup::{AwsPruneSetup, AwsSpec};
use super::{sandbox, ApplyMode, Connection};
use crate::catalog::Catalog;
use crate::oracle::Oracle;
use crate::prune::summary::{summarize, PolicySource, Summary};
use crate::prune::{run, Journal, Progress, PruneError, PruneResult};
use crate::run::{finish_run, journal_for, open, JournaledJob, Opened, RunDir, RunError, SearchSettings};
use crate::synth::Seen;
use sha2::Digest;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

/// An AWS job's inputs; stored as the journal start record's `config`, so `--resume` needs
/// nothing else (credentials excepted: they are never stored).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AwsJob {
    /// The sandbox's run id (in its IAM names and its `iam-prune:run-id` tag).
    pub run_id: String,
    /// The workload, start and fixed policies, judging, connection.
    pub aws: AwsSpec,
    /// How to search.
    pub search: SearchSettings,
    /// `--name`: the run's name in reports and the managed policy the apply commands create
    /// (default: the start policy's name, with the run id in the policy name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The start and fixed policies as the run read them (journals from before it have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<PolicyInput>,
}

/// A start or fixed policy as a run read it: where from and what it said, so that a resumed
/// run reads the same file from any directory, and refuses one edited since.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PolicyInput {
    /// As given on the command line (`--start` or `--fixed`).
    pub spec: String,
    /// The file's absolute path, when the policy is a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// SHA-256 of the document in canonical form (a live policy's default version, a managed
    /// policy's embedded text): whitespace and key order do not count, a `Condition` does.
    pub sha256: String,
}

impl JournaledJob for AwsJob {
    const WHAT: &'static str = "an AWS run";

    fn search_mut(&mut self) -> &mut SearchSettings {
        &mut self.search
    }
}

impl AwsJob {
    /// A new job (its inputs are read when it starts).
    pub fn new(run_id: String, aws: AwsSpec, search: SearchSettings) -> AwsJob {
        AwsJob { run_id, aws, search, name: None, inputs: Vec::new() }
    }
}

/// Reads the start and fixed policies as [`PolicyInput`]s.
async fn read_inputs(aws: &AwsSpec, conn: &Connection) -> Result<Vec<PolicyInput>, RunError> {
    let catalog = Catalog::embedded();
    let mut out = Vec::new();
    for spec in aws.start.iter().chain(&aws.fixed) {
        let (_, policy) = super::setup::load_policy(Some(conn), catalog, spec).await?;
        let canonical = crate::policy::write::to_minified_json(&policy);
        let sha256 = sha2::Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let path = Path::new(spec).is_file().then(|| std::fs::canonicalize(spec).ok()).flatten();
        out.push(PolicyInput { spec: spec.clone(), path, sha256 });
    }
    Ok(out)
}

/// Before a resumed run touches AWS: points its policy specs at the recorded absolute paths
/// and refuses a missing or changed policy, naming it.
async fn check_inputs(job: &mut AwsJob, conn: &Connection, dir: &Path) -> Result<(), RunError> {
    if job.inputs.is_empty() {
        return Ok(());
    }
    for input in &job.inputs {
        if let Some(path) = &input.path {
            if !path.is_file() {
                return Err(PruneError::ResumeMismatch(format!(
                    "the policy file `{}` (given as `{}`) this run started from is missing; restore it to resume {}",
                    path.display(),
                    input.spec,
                    dir.display()
                ))
                .into());
            }
            let abs = path.display().to_string();
            if job.aws.start.as_deref() == Some(input.spec.as_str()) {
                job.aws.start = Some(abs.clone());
            }
            for f in job.aws.fixed.iter_mut().filter(|f| **f == input.spec) {
                *f = abs.clone();
            }
        }
    }
    let now = read_inputs(&job.aws, conn).await?;
    for (was, is) in job.inputs.iter().zip(&now) {
        if was.sha256 != is.sha256 {
            return Err(RunError::from(PruneError::ResumeMismatch(format!(
                "`{}` changed since the run started (SHA-256 of its document {} then, {} now), so the recorded trials no longer say what it grants; restore it, or start a new run (with --previous {} to reuse the result once it is finished)",
                is.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| was.spec.clone()),
                &was.sha256[..12.min(was.sha256.len())],
                &is.sha256[..12.min(is.sha256.len())],
                dir.display()
            ))));
        }
    }
    Ok(())
}

/// A fresh run id: seconds since the epoch and a few bits of the clock's nanoseconds, short
/// enough for IAM names and unique enough for runs started by hand or by a scheduler.
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{:04x}", now.as_secs(), now.subsec_nanos() & 0xffff)
}

/// How an AWS job ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AwsJobOutput {
    /// The run directory.
    pub dir: PathBuf,
    /// The sandbox's run id.
    pub run_id: String,
    /// The summary (also in `summary.json`); `None` when interrupted.
    pub summary: Option<Summary>,
    /// How candidates were applied and what it cost (also in `aws.json`).
    pub aws: AwsCost,
    /// Sandbox objects that could not be deleted (`iam-prune sandbox cleanup` retries by tag).
    pub cleanup_failed: Vec<String>,
    /// The journal already held this result: no trial was run.
    pub already_finished: bool,
}

/// What the AWS side of a run cost, from the trials' `detail.apply` records.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AwsCost {
    /// `--apply` after the session-policy check (`version` on moto).
    pub apply: Option<ApplyMode>,
    /// `--apply auto` found session policies not enforced.
    pub session_policies_ignored: bool,
    /// The sandbox user the workload ran as (`--principal user`); none for a role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Trials run by this process.
    pub trials_run: u64,
    /// Trials answered by the journal of an earlier process (resume).
    pub trials_replayed: u64,
    /// Trials per means of application (`session-policy`, `policy-version`).
    pub means: BTreeMap<String, u64>,
    /// Mean seconds per trial run by this process, everything included.
    pub trial_seconds_mean: f64,
    /// Mean seconds of IAM/STS calls per trial.
    pub apply_seconds_mean: f64,
    /// Mean and longest seconds until the propagation probe saw a version settled.
    pub settled_seconds_mean: f64,
    /// The longest.
    pub settled_seconds_max: f64,
    /// Mean seconds the workload ran.
    pub workload_seconds_mean: f64,
    /// Sandbox objects of a killed process of this run, deleted before resuming.
    pub leftovers_deleted: usize,
}

impl AwsCost {
    fn measure(&mut self, result: &PruneResult) {
        let ran: Vec<_> = result.trials.iter().filter(|t| !t.replayed).collect();
        self.trials_run = ran.len() as u64;
        self.trials_replayed = result.trials.len() as u64 - self.trials_run;
        let n = ran.len().max(1) as f64;
        let field = |t: &crate::prune::Trial, path: &[&str]| {
            path.iter().try_fold(&t.record.outcome.detail, |v, k| v.get(k)).and_then(|v| v.as_f64()).unwrap_or(0.0)
        };
        for t in &ran {
            let means = t.record.outcome.detail["apply"]["means"].as_str().unwrap_or("none").to_string();
            *self.means.entry(means).or_default() += 1;
            self.settled_seconds_max = self.settled_seconds_max.max(field(t, &["apply", "settled_seconds"]));
        }
        self.trial_seconds_mean = ran.iter().map(|t| t.record.outcome.cost_seconds).sum::<f64>() / n;
        self.apply_seconds_mean = ran.iter().map(|t| field(t, &["apply", "apply_seconds"])).sum::<f64>() / n;
        self.settled_seconds_mean = ran.iter().map(|t| field(t, &["apply", "settled_seconds"])).sum::<f64>() / n;
        self.workload_seconds_mean = ran.iter().map(|t| field(t, &["run", "seconds"])).sum::<f64>() / n;
    }
}

/// The default run directory of an AWS job: `reports/aws-<run id>`, named after the sandbox
/// so that a leftover's tag leads to its run.
pub fn default_run_dir(run_id: &str) -> PathBuf {
    PathBuf::from("reports").join(format!("aws-{run_id}"))
}

/// True when the run directory holds an AWS job's journal (its start record has `aws`).
pub fn is_aws_run(dir: &Path) -> bool {
    Journal::read(&dir.join("journal.jsonl"))
        .ok()
        .and_then(|j| j.start)
        .is_some_and(|s| s.config.get("aws").is_some() && s.config.get("run_id").is_some())
}

/// Runs (or resumes) an AWS job. `job` is required for a new run and ignored on resume (the
/// journal's start record says what the run was), except that `reconnect`'s `--profile`,
/// `--region` and `--endpoint-url`, when given, replace the recorded ones. `interrupt`
/// resolving stops the search: the sandbox is deleted and the journal left to resume from.
pub async fn run_aws_job<I: Future<Output = ()>>(
    dir: RunDir,
    job: Option<AwsJob>,
    reconnect: Option<&AwsSpec>,
    progress: &dyn Progress,
    interrupt: I,
) -> Result<AwsJobOutput, RunError> {
    let catalog = Catalog::embedded();
    let mut opened = open(dir, job)?;
    if let (Some(r), true) = (reconnect, opened.is_resumed()) {
        let a = &mut opened.job.aws;
        a.profile = r.profile.clone().or(a.profile.take());
        a.region = r.region.clone().or(a.region.take());
        a.endpoint_url = r.endpoint_url.clone().or(a.endpoint_url.take());
    }
    let mut cost = AwsCost::default();
    let a = &opened.job.aws;
    let conn = Connection::load(a.profile.as_deref(), a.region.as_deref(), a.endpoint_url.as_deref()).await;
    if opened.is_resumed() {
        check_inputs(&mut opened.job, &conn, &opened.dir).await?;
        // A killed process of this run may have left its sandbox; the new one takes its names.
        let (deleted, failed) = sandbox::cleanup_leftovers(&conn, Some(&opened.job.run_id)).await?;
        if !failed.is_empty() {
            return Err(RunError::Leftovers { failed });
        }
        cost.leftovers_deleted = deleted.len();
    } else {
        match read_inputs(&opened.job.aws, &conn).await {
            Ok(i) => opened.job.inputs = i,
            Err(e) => {
                opened.abandon();
                return Err(e);
            }
        }
    }
    let job = &opened.job;
    let setup = match AwsPruneSetup::prepare(&job.aws, catalog, &job.run_id, &opened.dir, job.search.parallel).await {
        Ok(s) => s,
        Err(e) => {
            opened.abandon();
            return Err(e.into());
        }
    };
    cost.apply = Some(setup.oracle.mode());
    cost.session_policies_ignored = setup.session_policies_ignored;
    cost.user = setup.oracle.user_name().map(str::to_string);
    let cfg = opened.job.search.prune_config();
    // From here on every way out goes through the cleanup below.
    let searched = search(&setup, &mut opened, progress, interrupt).await;
    let cleanup_failed = setup.cleanup().await;
    let result = match searched {
        Ok(r) => r,
        Err(e) if cleanup_failed.is_empty() => return Err(e),
        Err(e) => return Err(RunError::Cleanup { error: Box::new(e), failed: cleanup_failed }),
    };
    let Opened { job, mut journal, dir } = opened;
    let mut out = AwsJobOutput {
        dir,
        run_id: job.run_id.clone(),
        summary: None,
        aws: cost,
        cleanup_failed,
        already_finished: false,
    };
    let (Some(result), Some(journal)) = (result, journal.as_mut()) else { return Ok(out) };
    out.aws.measure(&result);
    // No offline replay of a real command: the written policy grants what the verifying trial
    // did (the start document narrowed to the result, its conditions and resources kept).
    let source = PolicySource { start: vec![setup.start_policy()], seen: &Seen::default(), replay: None };
    let name = job.name.clone().unwrap_or_else(|| setup.start_name.clone());
    let summary = summarize(&name, setup.oracle.info(), &cfg, &result, &source, None);
    out.already_finished = finish_run(&out.dir, &summary, journal)?;
    let sandbox: Vec<&str> = setup
        .plan
        .roles
        .iter()
        .map(|r| r.name.as_str())
        .chain(setup.plan.users.iter().map(|u| u.name.as_str()))
        .chain(setup.plan.policies.iter().map(|p| p.name.as_str()))
        .collect();
    // A finished run resumed ran no trial: its aws.json holds the real costs, keep it.
    let path = out.dir.join("aws.json");
    if !(out.already_finished && path.exists()) {
        let aws_json = serde_json::json!({"run_id": out.run_id, "sandbox": sandbox, "cost": out.aws, "cleanup_failed": out.cleanup_failed});
        std::fs::write(&path, serde_json::to_string_pretty(&aws_json)? + "\n").map_err(RunError::io("write", &path))?;
    }
    out.summary = Some(summary);
    Ok(out)
}

/// Starts or checks the journal, then searches until done or interrupted (`Ok(None)`).
async fn search<I: Future<Output = ()>>(
    setup: &AwsPruneSetup,
    opened: &mut Opened<AwsJob>,
    progress: &dyn Progress,
    interrupt: I,
) -> Result<Option<PruneResult>, RunError> {
    let universe = setup.universe.names(Catalog::embedded());
    let cfg = opened.job.search.prune_config();
    let Opened { job, journal, dir } = opened;
    let journal = journal_for(journal, dir, &*job, &setup.start_name, universe, "the start and fixed policies")?;
    let interrupt = std::pin::pin!(interrupt);
    tokio::select! {
        r = run(&*setup.oracle, &setup.universe, &cfg, journal, progress) => Ok(Some(r?)),
        _ = interrupt => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsArgs;
    use crate::prune::StrategyKind;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        aws: AwsArgs,
    }

    #[test]
    fn the_start_record_holds_what_resume_needs_and_no_dry_run() {
        let cli = Cli::parse_from([
            "x",
            "--run",
            "make test",
            "--start",
            "IAMFullAccess",
            "--fixed",
            "AmazonEC2FullAccess",
            "--fail-if",
            "boom",
            "--endpoint-url",
            "http://127.0.0.1:1",
            "--dry-run",
        ]);
        let search = SearchSettings {
            strategy: StrategyKind::Group,
            parallel: 2,
            confirm: 2,
            max_trials: Some(9),
            deadline: None,
            likely: vec!["iam:PassRole".into()],
            expect_needed: Some(2),
            engine: crate::prune::ENGINE,
        };
        let job = AwsJob::new("r1".into(), cli.aws.spec().with_defaults(), search);
        let config = serde_json::to_value(&job).unwrap_or_default();
        // The defaults are recorded, not left for a later version to choose.
        assert_eq!((config["aws"]["timeout"].clone(), config["aws"]["apply"].clone()), (json!(600), json!("auto")));
        assert!(config["aws"].get("dry_run").is_none(), "a resumed run must not turn into a dry run: {config}");
        let back: AwsJob = serde_json::from_value(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.aws.run.as_deref(), Some("make test"));
        assert_eq!(back.aws.fixed, vec!["AmazonEC2FullAccess".to_string()]);
        assert_eq!(back.aws.fail_if.as_deref(), Some("boom"));
        assert_eq!(back.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(back.aws.apply_mode(), ApplyMode::Auto);
        assert_eq!(back.search.prune_config().confirm, 2);
        assert_eq!(back.search.prune_config().expect_needed, Some(2));
        assert_eq!(default_run_dir("r1"), PathBuf::from("reports/aws-r1"));
        assert!(back.inputs.is_empty());
    }

    /// A journal written before the defaulted flags became optional reads back the same.
    #[test]
    fn an_older_aws_start_record_reads_back() {
        let old = json!({
            "run_id": "r0",
            "aws": {"run": "make", "start": "IAMFullAccess", "fixed": [], "profile": null, "region": null,
                    "endpoint_url": null, "pass_if": null, "fail_if": null, "fail_on_denied_only": false,
                    "timeout": 900, "apply": "version"},
            "search": {"strategy": "auto", "parallel": 1, "confirm": 1, "max_trials": null, "deadline": null, "likely": []}
        });
        let job: AwsJob = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((job.aws.timeout_secs(), job.aws.apply_mode()), (900, ApplyMode::Version));
        assert_eq!(job.aws.principal_kind(), crate::aws::sandbox::PrincipalKind::Role);
    }
}
