//! `iam-prune lint`: errors and likely mistakes in policy files.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::catalog::Catalog;
use iam_prune::policy::lint::{lint, Severity};
use iam_prune::policy::{parse_policy_recovering, PolicyError};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Exit 1 on warnings too, not only on errors (for CI).
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    let catalog = Catalog::embedded();
    let mut files = Vec::new();
    let mut any_error = false;
    let mut any_warning = false;
    for path in &args.files {
        let (policy, parse_errors) = match std::fs::read_to_string(path) {
            Ok(text) => parse_policy_recovering(&text, &path.display().to_string()),
            Err(source) => (None, vec![PolicyError::Io { path: path.clone(), source }]),
        };
        let mut errors: Vec<serde_json::Value> = parse_errors
            .iter()
            .map(|e| {
                let pos = e.pos().unwrap_or_default();
                serde_json::json!({"code": "parse", "line": pos.line, "column": pos.column, "message": iam_prune::with_help(e, e.help())})
            })
            .collect();
        let mut warnings = Vec::new();
        // The statements that parsed are linted too: one broken statement must not hide
        // the file's other mistakes.
        for l in policy.map(|p| lint(&p, catalog)).unwrap_or_default() {
            let v = serde_json::to_value(&l).unwrap_or_default();
            if l.severity == Severity::Error {
                errors.push(v)
            } else {
                warnings.push(v)
            }
        }
        errors.sort_by_key(|v| (v["line"].as_u64(), v["column"].as_u64()));
        warnings.sort_by_key(|v| (v["line"].as_u64(), v["column"].as_u64()));
        any_error |= !errors.is_empty();
        any_warning |= !warnings.is_empty();
        if !g.is_json() {
            for (kind, list) in [("error", &errors), ("warning", &warnings)] {
                for l in list {
                    if l["code"] == "parse" {
                        println!("{kind}: {}", l["message"].as_str().unwrap_or_default());
                    } else {
                        println!(
                            "{}:{}:{}: {kind}[{}]: {}",
                            path.display(),
                            l["line"],
                            l["column"],
                            l["code"].as_str().unwrap_or_default(),
                            l["message"].as_str().unwrap_or_default()
                        );
                    }
                }
            }
            if errors.is_empty() && warnings.is_empty() && !g.quiet {
                println!("{}: ok", path.display());
            }
        }
        files.push(serde_json::json!({"path": path.display().to_string(), "errors": errors, "warnings": warnings}));
    }
    if g.is_json() {
        print_json(&serde_json::json!({ "files": files }));
    }
    Ok(if any_error || (args.deny_warnings && any_warning) { Exit::Error } else { Exit::Ok })
}
