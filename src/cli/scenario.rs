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
    /// Write a commented skeleton scenario (principal, two example steps, no expectation)
    /// that `scenario check` accepts: edit its steps into what your program does.
    New {
        /// The scenario's name (the file is NAME.toml unless --out is given).
        name: String,
        /// The start policy: an AWS managed policy name or a policy file (repeatable: pruning
        /// starts from their union).
        #[arg(long, value_name = "POLICY", required = true)]
        start: Vec<String>,
        /// Policies held throughout and never pruned (repeatable).
        #[arg(long, value_name = "POLICY")]
        fixed: Vec<String>,
        /// Where to write it (default: NAME.toml; an existing file is never overwritten).
        #[arg(long)]
        out: Option<PathBuf>,
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
        Sub::New { name, start, fixed, out } => new_cmd(&name, &start, &fixed, out, g),
    }
}

/// A policy reference for a scenario file: a managed policy by name, a file by its absolute
/// path (the skeleton may be written anywhere).
fn policy_ref(c: &Catalog, spec: &str) -> Result<(bool, String), Box<dyn std::error::Error + Send + Sync>> {
    let path = std::path::Path::new(spec);
    if path.is_file() {
        c.load_policy(spec)?;
        return Ok((false, std::fs::canonicalize(path)?.display().to_string()));
    }
    c.load_policy(spec)?;
    Ok((true, spec.to_string()))
}

fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| toml::Value::String(s.clone()).to_string()).collect();
    format!("[{}]", quoted.join(", "))
}

fn skeleton(name: &str, start: &[(bool, String)], fixed: &[(bool, String)], actions: [&str; 2]) -> String {
    let table = |refs: &[(bool, String)]| {
        let managed: Vec<String> = refs.iter().filter(|r| r.0).map(|r| r.1.clone()).collect();
        let files: Vec<String> = refs.iter().filter(|r| !r.0).map(|r| r.1.clone()).collect();
        let mut t = String::new();
        if !managed.is_empty() {
            t.push_str(&format!("managed = {}\n", toml_list(&managed)));
        }
        if !files.is_empty() {
            t.push_str(&format!("files = {}\n", toml_list(&files)));
        }
        t
    };
    let fixed_table = if fixed.is_empty() {
        String::new()
    } else {
        format!("\n# Held throughout, never pruned.\n[fixed]\n{}", table(fixed))
    };
    format!(
        r#"# Scenario `{name}`: the calls a workload makes, replayed offline by iam-prune's evaluator.
# The format is in docs/scenarios.md. Check it with `iam-prune scenario check {name}.toml`,
# trace one candidate with `iam-prune scenario run {name}.toml --allow ACTION,...`, and prune
# it with `iam-prune prune {name}.toml`.
name = {name_q}
description = "What the workload does, in a sentence."

# The broad policies pruning starts from (their union).
[start]
{start_table}{fixed_table}
# Who runs the workload (a role, a user or a session ARN); tags go in `tags = {{ team = "x" }}`.
[principal]
arn = "arn:aws:iam::111122223333:role/{name}"

# One [[steps]] per thing the program does, in order, with the calls it makes. A denied call
# fails the run unless the step says otherwise: on_denied = "continue" (the program logs and
# carries on) or "fallback" (it tries `fallback = ["other-step"]`). These two are examples from
# the start policy: replace them with your program's calls and real resource ARNs.
[[steps]]
id = "first-call"
[[steps.calls]]
action = "{a1}"
resource = "*"

[[steps]]
id = "second-call"
on_denied = "continue"
[[steps.calls]]
action = "{a2}"
resource = "*"

# Optional: what pruning should find; `scenario check` and `prune` then compare with it.
# [expect]
# minimal = ["{a1}"]
"#,
        name_q = toml::Value::String(name.to_string()),
        start_table = table(start),
        a1 = actions[0],
        a2 = actions[1],
    )
}

fn new_cmd(name: &str, start: &[String], fixed: &[String], out: Option<PathBuf>, g: &Global) -> CmdResult {
    let c = Catalog::embedded();
    if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        return Err(Box::new(super::UsageError::new(
            format!("`{name}` is not a scenario name"),
            "use letters, digits, `-` and `_` (it names the file and the run directory)",
        )));
    }
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{name}.toml")));
    if path.exists() {
        return Err(Box::new(super::UsageError::new(
            format!("`{}` exists", path.display()),
            "choose another NAME or --out; an existing scenario is never overwritten",
        )));
    }
    let start_refs = start.iter().map(|f| policy_ref(c, f)).collect::<Result<Vec<_>, _>>()?;
    let fixed_refs = fixed.iter().map(|f| policy_ref(c, f)).collect::<Result<Vec<_>, _>>()?;
    // Example calls the start policies allow on `*` (read-only ones first): the skeleton must
    // pass under its own start policies, or `scenario check` rejects it.
    let mut allowed = iam_prune::actions::ActionSet::new();
    for s in start {
        let (_, policy) = c.load_policy(s)?;
        allowed.union_with(&c.expand_policy(&policy).allowed);
    }
    let mut ids: Vec<_> = allowed.iter().filter(|&id| (id.index()) < c.len()).collect();
    ids.sort_by_key(|&id| {
        let level = c.level(id).map(|l| l.as_str()).unwrap_or("");
        (
            if level == "List" {
                0
            } else if level == "Read" {
                1
            } else {
                2
            },
            c.name(id),
        )
    });
    let names: Vec<String> = ids.iter().map(|&id| c.name(id)).collect();
    let tmp = path.with_extension("toml.tmp");
    for pair in names.windows(2).take(200) {
        let text = skeleton(name, &start_refs, &fixed_refs, [pair[0].as_str(), pair[1].as_str()]);
        std::fs::write(&tmp, &text).map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
        let ok = Scenario::load(&tmp).ok().is_some_and(|s| check(&s).iter().all(|f| f.severity != Severity::Error));
        if ok {
            std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            if g.is_json() {
                print_json(
                    &serde_json::json!({"path": path.display().to_string(), "example_actions": [pair[0], pair[1]]}),
                );
            } else {
                println!(
                    "wrote {}: edit its steps into your workload's calls, then `iam-prune scenario check {}`",
                    path.display(),
                    path.display()
                );
            }
            return Ok(Exit::Ok);
        }
    }
    let _ = std::fs::remove_file(&tmp);
    Err(format!("`{}` allows no two actions on `*` a skeleton could use as examples; write the steps by hand (docs/scenarios.md)", start.join("` + `")).into())
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
            Err(e) => (Vec::new(), Some(iam_prune::with_help(&e, e.help()))),
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
