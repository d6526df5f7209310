//! `iam-prune report RUN_DIR`: regenerates a run directory's reports (`report.md`,
//! `report.html`, `report.json`, `search.dot`) from its journal, e.g. after an upgrade or
//! for a run that was resumed by hand.

use super::{print_json, CmdResult, Exit, Global};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories (each holds `journal.jsonl`).
    #[arg(required = true)]
    run_dirs: Vec<PathBuf>,
    /// Print the JSON Schema of `report.json` instead (no run directory needed).
    #[arg(long, exclusive = true)]
    schema: bool,
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    if args.schema {
        print!("{}", iam_prune::report::REPORT_SCHEMA);
        return Ok(Exit::Ok);
    }
    let mut failed = 0;
    let mut out = Vec::new();
    for dir in &args.run_dirs {
        let started = std::time::Instant::now();
        match iam_prune::report::write_reports(dir) {
            Ok(w) => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                if g.is_json() {
                    out.push(serde_json::json!({"run_dir": dir.display().to_string(), "milliseconds": ms,
                        "files": w.files.iter().map(|(p, n)| serde_json::json!({"path": p.display().to_string(), "bytes": n})).collect::<Vec<_>>()}));
                } else if !g.quiet {
                    for (p, n) in &w.files {
                        println!("{} ({n} bytes)", p.display());
                    }
                }
            }
            Err(e) => {
                failed += 1;
                super::print_error(&e);
            }
        }
    }
    if g.is_json() {
        print_json(&serde_json::Value::Array(out));
    }
    Ok(if failed > 0 { Exit::Error } else { Exit::Ok })
}
