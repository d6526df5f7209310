//! `iam-prune sandbox`: find and delete leftover sandboxes (after kill -9), and run the
//! workload once in a fresh sandbox to check a setup before a long prune.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::aws::{sandbox, AwsArgs, AwsPruneSetup, AwsSpec, Connection};
use iam_prune::oracle::{Oracle, TrialRequest};
use iam_prune::Catalog;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Args)]
struct ConnArgs {
    /// AWS profile.
    #[arg(long)]
    profile: Option<String>,
    /// AWS region.
    #[arg(long)]
    region: Option<String>,
    /// Endpoint override (moto, LocalStack); AWS_ENDPOINT_URL works too.
    #[arg(long)]
    endpoint_url: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// List sandbox roles and policies left in the account (found by the `iam-prune:run-id` tag).
    List {
        #[command(flatten)]
        conn: ConnArgs,
        /// Only this run's.
        #[arg(long)]
        run_id: Option<String>,
    },
    /// Delete sandbox roles and policies left in the account.
    Cleanup {
        #[command(flatten)]
        conn: ConnArgs,
        /// Only this run's.
        #[arg(long)]
        run_id: Option<String>,
    },
    /// Run the workload once in a fresh sandbox under the start policy (less `--without`
    /// actions), print the outcome, and delete the sandbox.
    Run {
        #[command(flatten)]
        aws: AwsArgs,
        /// Actions to remove from the start policy for this trial (repeatable).
        #[arg(long, value_name = "ACTION")]
        without: Vec<String>,
        /// Run id (default: generated from the time).
        #[arg(long)]
        run_id: Option<String>,
        /// Where trial output goes (default: `reports/sandbox-<run id>/`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// A run id from the clock: short, sortable, unique enough for one account.
pub use iam_prune::aws::job::new_run_id;

pub async fn run(args: Args, g: &Global) -> CmdResult {
    match args.command {
        Sub::List { conn, run_id } => {
            let c =
                Connection::load(conn.profile.as_deref(), conn.region.as_deref(), conn.endpoint_url.as_deref()).await;
            let found = sandbox::find_leftovers(&c, run_id.as_deref()).await?;
            if g.is_json() {
                print_json(&serde_json::json!({ "leftovers": found }));
            } else if found.is_empty() {
                println!("no sandbox leftovers");
            } else {
                for l in &found {
                    println!("{}\t{}\t{}", l.run_id, l.kind, l.id);
                }
            }
            Ok(Exit::Ok)
        }
        Sub::Cleanup { conn, run_id } => {
            let c =
                Connection::load(conn.profile.as_deref(), conn.region.as_deref(), conn.endpoint_url.as_deref()).await;
            let (deleted, failed) = sandbox::cleanup_leftovers(&c, run_id.as_deref()).await?;
            if g.is_json() {
                print_json(&serde_json::json!({ "deleted": deleted, "failed": failed }));
            } else {
                for l in &deleted {
                    println!("deleted {} {}", l.kind, l.id);
                }
                for f in &failed {
                    eprintln!("error: {f}");
                }
                if deleted.is_empty() && failed.is_empty() {
                    println!("no sandbox leftovers");
                }
            }
            Ok(if failed.is_empty() { Exit::Ok } else { Exit::Error })
        }
        Sub::Run { aws, without, run_id, out } => run_once(aws, without, run_id, out, g).await,
    }
}

/// `--dry-run`: prints the IAM calls a run would make (`sandbox run` and `prune --run`).
pub async fn print_dry_run(aws: &AwsSpec, run_id: &str, parallel: usize, g: &Global) -> CmdResult {
    let calls = iam_prune::aws::setup::dry_run(aws, Catalog::embedded(), run_id, parallel).await?;
    if g.is_json() {
        let v: Vec<_> = calls.iter().map(|c| serde_json::json!({"action": c.action, "detail": c.detail})).collect();
        print_json(&serde_json::json!({ "run_id": run_id, "calls": v }));
    } else {
        for c in &calls {
            println!("{}\t{}", c.action, c.detail);
        }
    }
    Ok(Exit::Ok)
}

async fn run_once(
    aws: AwsArgs,
    without: Vec<String>,
    run_id: Option<String>,
    out: Option<PathBuf>,
    g: &Global,
) -> CmdResult {
    let catalog = Catalog::embedded();
    let run_id = run_id.unwrap_or_else(new_run_id);
    let dry_run = aws.dry_run;
    let aws = aws.spec();
    if dry_run {
        return print_dry_run(&aws, &run_id, 1, g).await;
    }
    let out = out.unwrap_or_else(|| PathBuf::from("reports").join(format!("sandbox-{run_id}")));
    // Listen before creating anything: a Ctrl-C while the sandbox is being made is then
    // remembered (instead of killing the process) and honoured right after, with cleanup.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let setup = AwsPruneSetup::prepare(&aws, catalog, &run_id, &out, 1).await?;
    if !g.quiet {
        eprintln!(
            "sandbox {run_id}: {} actions under test, candidates applied as {}",
            setup.universe.len(),
            setup.oracle.mode().describe()
        );
    }
    let mut candidate = setup.universe.clone();
    for a in &without {
        match catalog.lookup(a) {
            Some(id) => {
                candidate.remove(id);
            }
            None => {
                setup.cleanup().await;
                return Err(format!("unknown action `{a}`").into());
            }
        }
    }
    let request = TrialRequest { id: 1, candidate, attempt: 0 };
    let result = tokio::select! {
        r = setup.oracle.trial(&request) => Some(r),
        _ = interrupt.recv() => None,
    };
    let failed = setup.cleanup().await;
    for f in &failed {
        eprintln!("error: cleanup: {f}");
    }
    let Some(result) = result else {
        eprintln!(
            "interrupted; sandbox {run_id} {}",
            if failed.is_empty() {
                "deleted".to_string()
            } else {
                format!("NOT fully deleted: run `iam-prune sandbox cleanup --run-id {run_id}`")
            }
        );
        return Ok(Exit::Interrupted);
    };
    let outcome = result?;
    if g.is_json() {
        print_json(&serde_json::json!({ "run_id": run_id, "outcome": outcome, "cleanup_failed": failed }));
    } else {
        println!("{} in {:.1}s", if outcome.is_pass() { "pass" } else { "fail" }, outcome.cost_seconds);
        for d in &outcome.denied {
            let what = d.action.clone().or_else(|| d.operation.clone().map(|o| format!("operation {o}")));
            println!("  denied: {} ({})", what.as_deref().unwrap_or("action not named"), d.message);
        }
        println!("  detail: {}", outcome.detail);
    }
    // A failing trial is a verdict (exit 3, as `eval`'s deny), not an error of the command.
    Ok(if !failed.is_empty() {
        Exit::Error
    } else if outcome.is_pass() {
        Exit::Ok
    } else {
        Exit::Deny
    })
}
