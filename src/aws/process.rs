//! Running the workload: `sh -c COMMAND` in its own process group, with a timeout, output to
//! files. The whole group is killed on timeout and when the trial is abandoned (Ctrl-C drops
//! the future), so no workload outlives its trial.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How one run of the workload ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    /// Exit code (None when killed by a signal or the timeout).
    pub exit_code: Option<i32>,
    /// True when the timeout killed it.
    pub timed_out: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Kills the process group on drop unless disarmed.
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: killpg has no memory-safety preconditions; pgid is our child's group.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `command` with `env` set (and `unset` removed), stdout and stderr to the two files.
pub async fn run(
    command: &str,
    env: &[(String, String)],
    unset: &[&str],
    timeout: Duration,
    stdout: &Path,
    stderr: &Path,
) -> std::io::Result<RunResult> {
    let out = std::fs::File::create(stdout)?;
    let err = std::fs::File::create(stderr)?;
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(true);
    for k in unset {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let mut guard = GroupGuard { pgid: child.id().and_then(|p| i32::try_from(p).ok()) };
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let result = match waited {
        Ok(status) => {
            let status = status?;
            // The shell is done; anything it left running in its group goes with it.
            guard.kill();
            RunResult { exit_code: status.code(), timed_out: false, seconds: started.elapsed().as_secs_f64() }
        }
        Err(_) => {
            guard.kill();
            let _ = child.wait().await;
            RunResult { exit_code: None, timed_out: true, seconds: started.elapsed().as_secs_f64() }
        }
    };
    Ok(result)
}

/// Reads up to `limit` bytes from the end of a file (denials are usually at the end).
pub fn tail(path: &Path, limit: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        let _ = f.seek(SeekFrom::Start(len - limit));
    }
    let mut buf = Vec::new();
    let _ = f.take(limit).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
