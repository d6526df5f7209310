//! The `iam-prune` command: parse the CLI, start tokio, dispatch to `cli/`, map to exit codes.

use clap::Parser;
use cli::{exit_for, print_error, run, Cli, Exit};

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
            // `error: ...`, then the error's hint, if its type has one, as `help: ...`.
            print_error(e.as_ref());
            exit_for(e.as_ref())
        }
    };
    std::process::exit(code as i32);
}
