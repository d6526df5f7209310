//! The `iam-prune` command: parse the CLI, start tokio, dispatch to `cli/`, map to exit codes.

use clap::Parser;
use cli::{exit_for, run, Cli, Exit, UsageError};

mod cli;

fn main() {
    // Behave like other Unix tools when piped into `head`: die quietly on a closed pipe
    // instead of panicking on the failed write.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is always a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout with exit 0, usage errors to stderr with 2.
            let code = if e.use_stderr() { Exit::Usage } else { Exit::Ok };
            let _ = e.print();
            std::process::exit(code as i32);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(Exit::Error as i32);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(u) = e.downcast_ref::<UsageError>() {
                eprintln!("help: {}", u.help());
            } else if let Some(help) = e.downcast_ref::<iam_prune::run::RunError>().and_then(|e| e.help()) {
                eprintln!("help: {help}");
            }
            exit_for(e.as_ref())
        }
    };
    std::process::exit(code as i32);
}
