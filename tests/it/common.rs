//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared material: `$IAM_PRUNE_SHARED` (which `scripts/test.sh` sets, also for a clone
/// made elsewhere), else `../shared` next to the repository, else two levels up (a worktree).
pub fn shared_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("IAM_PRUNE_SHARED").map(PathBuf::from),
        Some(root().join("../shared")),
        Some(root().join("../../shared")),
    ];
    candidates.into_iter().flatten().find(|d| d.join("corpus").is_dir()).unwrap_or_else(|| {
        panic!(
            "the shared material is missing: these tests need ../shared next to the repository (or IAM_PRUNE_SHARED)"
        )
    })
}

/// A path under the shared material; fails loudly if it is missing.
pub fn shared(rel: &str) -> PathBuf {
    let p = shared_dir().join(rel);
    assert!(p.exists(), "shared material `{}` is missing", p.display());
    p
}

/// Runs the built `iam-prune` binary with `args`.
pub fn iam_prune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iam-prune")).args(args).current_dir(root()).output().expect("run iam-prune")
}

/// Runs `iam-prune` and parses its stdout as JSON.
pub fn iam_prune_json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = iam_prune(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("stdout of {args:?} is not JSON ({e}):\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), v)
}

/// Every `*.json` file directly under `dir`, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}
