//! The command line: one file per subcommand, a shared [`Global`] for output settings,
//! and exit codes as an enum (a deny from `eval` is an answer, not an error).

use clap::{Parser, Subcommand, ValueEnum};

mod bench;
mod bench_md;
mod catalog;
mod denied;
mod eval;
mod expand;
mod lint;
mod progress;
mod prune;
mod record;
mod report;
mod sandbox;
mod scenario;
mod schedule;

/// What a run of the command means, for scripts and schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// An error (or, for commands that process many inputs, some inputs failed).
    Error = 1,
    /// The command line was wrong.
    Usage = 2,
    /// A verdict of deny or fail: `eval` denied the request, `sandbox run`'s trial failed.
    Deny = 3,
    /// `prune` stopped (`--max-trials`, `--deadline`) before its result was proven:
    /// `policy.json` is sufficient, not minimal; `--resume` goes on.
    Stopped = 4,
    /// `schedule run`: some job's minimal set narrowed.
    Narrowed = 10,
    /// `schedule run`: some job's minimal set widened (drift).
    Widened = 20,
    /// Interrupted (Ctrl-C): the sandbox was cleaned up and the resume command printed.
    Interrupted = 130,
}

/// The exit codes as `--help` states them (one table, also in the README).
pub const EXIT_CODES: &str = "Exit codes:
  0    done: the result is proven (or the command succeeded)
  1    error of the run itself (AWS, files, the workload could not start)
  2    usage error: a flag that does not apply, a value that cannot work, conflicting flags
  3    a verdict of deny or fail (`eval` denied, `sandbox run`'s trial failed)
  4    stopped before the result was proven (--max-trials, --deadline): policy.json is
       sufficient, not minimal; `prune --resume RUN_DIR` goes on
  10   `schedule run`: a job narrowed against its previous run
  20   `schedule run`: a job widened against its previous run
  130  interrupted (Ctrl-C): sandbox cleaned up, the resume command printed";

/// A command line that cannot work (exit 2): what is wrong and what to do instead.
#[derive(Debug)]
pub struct UsageError {
    message: String,
    help: String,
}

impl UsageError {
    /// A usage error with its help line.
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> UsageError {
        UsageError { message: message.into(), help: help.into() }
    }

    /// What to do instead.
    pub fn help(&self) -> &str {
        &self.help
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// A command's own failure (exit 1), where no library error type says it.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// `eval --context` without `=`.
    #[error("`--context {pair}` is not KEY=VALUE")]
    Context {
        /// As given.
        pair: String,
    },
    /// `eval --requests FILE` could not be read.
    #[error("cannot read requests file `{path}`: {source}")]
    ReadRequests {
        /// As given.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of `eval --requests FILE` is not a request.
    #[error("{path}:{line}: {source}")]
    Request {
        /// The file, as given.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        source: iam_prune::eval::batch::RequestLineError,
    },
    /// `schedule history` on a database that does not exist.
    #[error("no history at `{}`", .path.display())]
    NoHistory {
        /// The database file.
        path: std::path::PathBuf,
    },
}

impl CmdError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            CmdError::Context { .. } => Some("write for example `--context aws:SourceIp=203.0.113.7`"),
            CmdError::ReadRequests { .. } => Some("check the path; the file holds one JSON request per line"),
            CmdError::Request { source, .. } => source.help(),
            CmdError::NoHistory { .. } => Some("run `iam-prune schedule run JOBS.toml` first, or pass --history"),
        }
    }
}

/// The hint of a command's error (one hint per line), whichever of the known error types it
/// is; none for the others (plain messages, io errors, ...).
pub fn help_of(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use iam_prune::{aws, catalog, eval, oracle, policy, prune, report, run, schedule, workload};
    if let Some(u) = e.downcast_ref::<UsageError>() {
        return Some(u.help().to_string());
    }
    macro_rules! first_help {
        ($($t:ty),* $(,)?) => {
            $(
                if let Some(e) = e.downcast_ref::<$t>() {
                    return e.help().map(Into::into);
                }
            )*
        };
    }
    first_help!(
        CmdError,
        run::RunError,
        aws::AwsError,
        prune::PruneError,
        oracle::OracleError,
        workload::WorkloadError,
        catalog::PolicySourceError,
        catalog::CatalogError,
        policy::PolicyError,
        eval::EvalError,
        eval::batch::RequestLineError,
        report::ReportError,
        schedule::ScheduleError,
    );
    None
}

/// Prints a command's error to stderr: `error: ...`, then each line of its hint as `help: ...`.
pub fn print_error(e: &(dyn std::error::Error + 'static)) {
    eprintln!("{}", iam_prune::with_help(format!("error: {e}"), help_of(e)));
}

/// The exit code of a command's error: usage errors (ours and the AWS backend's) exit 2,
/// everything else 1.
pub fn exit_for(e: &(dyn std::error::Error + Send + Sync + 'static)) -> Exit {
    if e.is::<UsageError>()
        || matches!(e.downcast_ref::<iam_prune::aws::AwsError>(), Some(iam_prune::aws::AwsError::Usage { .. }))
        || e.downcast_ref::<iam_prune::run::RunError>().is_some_and(|e| e.is_usage())
    {
        Exit::Usage
    } else {
        Exit::Error
    }
}

/// A subcommand's result.
pub type CmdResult = Result<Exit, Box<dyn std::error::Error + Send + Sync>>;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON for machines.
    Json,
}

/// Settings every subcommand shares.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Global {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Print nothing but results and errors (no progress).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print more detail.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

impl Global {
    /// True for `--output json`.
    pub fn is_json(&self) -> bool {
        self.output == OutputFormat::Json
    }
}

/// iam-prune: find the few IAM actions a workload really needs, and prove it.
#[derive(Debug, Parser)]
#[command(name = "iam-prune", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the concrete actions a policy allows (managed policy name or file).
    Expand(expand::Args),
    /// Check policy files for errors and likely mistakes.
    Lint(lint::Args),
    /// Explore the embedded action catalog.
    Catalog(catalog::Args),
    /// Prune a broad policy down to what a workload needs (the main job).
    Prune(Box<prune::Args>),
    /// Validate scenario files, replay one candidate.
    Scenario(scenario::Args),
    /// Run the benchmarks quoted in docs/benchmarks.md.
    Bench(bench::Args),
    /// Decide a request against a set of policies, as AWS would, and say why.
    Eval(Box<eval::Args>),
    /// Sandboxes on AWS: run a workload once, list or delete leftovers.
    Sandbox(sandbox::Args),
    /// Access-denied events from CloudTrail, or the policy patch that grants them.
    Denied(denied::Args),
    /// A principal's recorded CloudTrail activity as likely-needed actions.
    Record(record::Args),
    /// Regenerate a run directory's reports (Markdown, HTML, JSON, DOT) from its journal.
    Report(report::Args),
    /// Scheduled pruning: run jobs, keep a history, report drift (exit 0/10/20).
    Schedule(schedule::Args),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> CmdResult {
    let g = cli.global;
    match cli.command {
        Command::Expand(a) => expand::run(a, &g),
        Command::Lint(a) => lint::run(a, &g),
        Command::Catalog(a) => catalog::run(a, &g),
        Command::Prune(a) => prune::run_cmd(*a, &g).await,
        Command::Scenario(a) => scenario::run(a, &g),
        Command::Bench(a) => bench::run(a, &g),
        Command::Eval(a) => eval::run(*a, &g),
        Command::Sandbox(a) => sandbox::run(a, &g).await,
        Command::Denied(a) => denied::run(a, &g).await,
        Command::Record(a) => record::run(a, &g).await,
        Command::Report(a) => report::run(a, &g),
        Command::Schedule(a) => schedule::run(a, &g).await,
    }
}

/// `n` and the word, singular for one: "1 file", "3 files".
pub fn count(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Prints a JSON value to stdout, pretty.
pub fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_prune::oracle::OracleError;
    use iam_prune::prune::PruneError;
    use iam_prune::run::RunError;

    type Boxed = Box<dyn std::error::Error + Send + Sync>;

    fn hint(e: impl Into<Boxed>) -> Option<String> {
        help_of(e.into().as_ref())
    }

    #[test]
    fn the_hint_is_found_through_the_errors_that_wrap_it() {
        assert_eq!(hint(UsageError::new("bad", "do this")).as_deref(), Some("do this"));
        assert_eq!(
            hint(CmdError::Context { pair: "k".into() }).as_deref(),
            Some("write for example `--context aws:SourceIp=203.0.113.7`")
        );
        let oracle = || OracleError::Run { trial: 3, message: "throttled".into(), help: "retry".into() };
        assert_eq!(hint(oracle()).as_deref(), Some("retry"));
        assert_eq!(hint(PruneError::from(oracle())).as_deref(), Some("retry"));
        assert_eq!(hint(RunError::from(PruneError::from(oracle()))).as_deref(), Some("retry"));
        let report = iam_prune::report::ReportError::from(PruneError::ResumeMismatch("x".into()));
        assert_eq!(
            hint(RunError::from(report)).as_deref(),
            Some("resume with the same scenario and options, or start a new run")
        );
        // A failed search whose sandbox stayed: its own hint, then the cleanup's.
        let cleanup = RunError::Cleanup { error: Box::new(PruneError::from(oracle()).into()), failed: vec![] };
        assert_eq!(hint(cleanup).as_deref(), Some("retry\n`iam-prune sandbox cleanup` deletes what is left, by tag"));
        // Messages without a type have no hint.
        assert_eq!(hint("plain"), None);
        assert_eq!(hint(std::io::Error::other("io")), None);
        assert_eq!(hint(OracleError::Interrupted), None);
    }

    #[test]
    fn display_holds_no_hint() {
        let c = iam_prune::catalog::Catalog::embedded();
        let e = c.load_policy("NoSuchPolicyAtAll").err().map(Boxed::from);
        let e = e.as_deref().map(|e| (e.to_string(), help_of(e)));
        let (message, help) = e.unwrap_or_default();
        assert!(message.starts_with("`NoSuchPolicyAtAll` is neither") && !message.contains("help"), "{message}");
        assert!(help.is_some_and(|h| h.starts_with("give a managed policy name")));
    }
}
