//! `iam-prune scenario`: validate scenario files and replay one candidate with a trace.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::actions::ActionSet;
use iam_prune::catalog::Catalog;
use iam_prune::policy::lint::Severity;
use iam_prune::workload::{check, Replay, Scenario, StepOutcome};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Validate scenario files: structure, references, policies, and expectations by replay.
    Check {
        /// Scenario files or directories (default: scenarios/).
        paths: Vec<PathBuf>,
    },
    /// Replay one candidate and print the trace: each step, its decision, why.
    Run {
        /// The scenario.
        file: PathBuf,
        /// The actions the candidate allows (out of the start policy); comma- or space-separated.
        /// Default: the whole start policy.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        allow: Vec<String>,
    },
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    match args.command {
        Sub::Check { paths } => check_cmd(paths, g),
        Sub::Run { file, allow } => run_cmd(file, allow, g),
    }
}

fn scenario_files(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let paths = if paths.is_empty() { vec![PathBuf::from("scenarios")] } else { paths };
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.extension().is_some_and(|e| e == "toml"))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            out.extend(v);
        } else {
            out.push(p);
        }
    }
    out
}

fn check_cmd(paths: Vec<PathBuf>, g: &Global) -> CmdResult {
    let mut report = Vec::new();
    let mut errors = 0;
    for f in scenario_files(paths) {
        let (findings, load_error) = match Scenario::load(&f) {
            Ok(s) => (check(&s), None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let file_errors =
            findings.iter().filter(|x| x.severity == Severity::Error).count() + usize::from(load_error.is_some());
        errors += file_errors;
        if !g.is_json() {
            if let Some(e) = &load_error {
                println!("error: {e}");
            }
            for x in &findings {
                let kind = if x.severity == Severity::Error { "error" } else { "warning" };
                println!("{}:{}:{}: {kind}: {}", f.display(), x.line, x.column, x.message);
            }
            if file_errors == 0 && !g.quiet {
                println!("{}: ok", f.display());
            }
        }
        report
            .push(serde_json::json!({"path": f.display().to_string(), "load_error": load_error, "findings": findings}));
    }
    if g.is_json() {
        print_json(&serde_json::json!({"files": report, "errors": errors}));
    }
    Ok(if errors > 0 { Exit::Error } else { Exit::Ok })
}

fn run_cmd(file: PathBuf, allow: Vec<String>, g: &Global) -> CmdResult {
    let c = Catalog::embedded();
    let s = Scenario::load(&file)?;
    let allow: Vec<String> = allow.iter().flat_map(|a| a.split_whitespace()).map(String::from).collect();
    let candidate: ActionSet = if allow.is_empty() {
        s.universe.clone()
    } else {
        let mut set = ActionSet::new();
        for a in &allow {
            let ex = c.expand_pattern(a);
            // A plain name the catalog does not know would be taken as a new action (and
            // ignored as outside the start policy): a typo, most likely.
            if ex.is_empty() || (!a.contains(['*', '?']) && c.lookup(a).is_none()) {
                return Err(format!("`{a}` matches no action{}", suggestions(c, a)).into());
            }
            set.union_with(&ex);
        }
        set
    };
    let outside = candidate.difference(&s.universe);
    let trace = Replay::new(&s).run(&candidate.intersection(&s.universe), true)?;
    if g.is_json() {
        print_json(
            &serde_json::json!({"scenario": s.name, "candidate": candidate.intersection(&s.universe).names(c), "ignored": outside.names(c), "trace": trace}),
        );
    } else {
        if !outside.is_empty() {
            println!(
                "note: {} actions are not in the start policy and are ignored: {}",
                outside.len(),
                outside.names(c).join(", ")
            );
        }
        for st in &trace.steps {
            let status = match &st.outcome {
                StepOutcome::Succeeded => "ok".to_string(),
                StepOutcome::SucceededViaFallback { fallback } => format!("denied, fell back to `{fallback}`"),
                StepOutcome::Failed => "denied, tolerated".to_string(),
                StepOutcome::Aborted => "DENIED: the run aborts".to_string(),
                StepOutcome::Skipped { reason } => format!("skipped ({reason})"),
            };
            println!("{:<28} {:<40} {status}", st.id, st.operation);
            for call in &st.calls {
                println!("    {:<12} {} on {}", call.decision.as_str(), call.action, call.resource);
                if g.verbose {
                    for m in &call.matched {
                        println!("                 by {m}");
                    }
                }
            }
        }
        for d in &trace.denied {
            println!("\nerror reported: {}", d.message);
        }
        println!("\nworkload {}", if trace.passed { "PASSES" } else { "FAILS" });
    }
    Ok(if trace.passed { Exit::Ok } else { Exit::Deny })
}

fn suggestions(c: &Catalog, a: &str) -> String {
    let s = c.suggest(a);
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", s.join(", "))
    }
}
