//! Scheduled pruning: three jobs run repeatedly while their workloads change report unchanged,
//! narrowed and widened with the actions as evidence and the documented exit codes; the lock
//! keeps a second run out; a killed run is abandoned, resumed, and leaves the database intact.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

use crate::common::{iam_prune, root};
use iam_prune::schedule::{History, ScheduleLock};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iam-prune-it-schedule-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

fn flintrock() -> String {
    std::fs::read_to_string(root().join("scenarios/flintrock-launch.toml")).expect("flintrock scenario")
}

/// The workload no longer passes a role to the instances: `iam:PassRole` is no longer needed.
fn without_pass_role(s: &str) -> String {
    let block = "[[steps.calls]]\naction = \"iam:PassRole\"\nresource = \"arn:aws:iam::690534650866:role/EMR_EC2_DefaultRole\"\n[steps.calls.context]\n\"iam:PassedToService\" = \"ec2.amazonaws.com\"\n";
    assert!(s.contains(block), "the flintrock scenario changed shape; update this test's edit");
    s.replace(block, "")
        .replace("minimal = [\"iam:GetInstanceProfile\", \"iam:PassRole\"]", "minimal = [\"iam:GetInstanceProfile\"]")
        .replace("\"iam:PassRole\" = [\"arn:aws:iam::690534650866:role/EMR_EC2_DefaultRole\"]\n", "")
}

/// The workload starts listing roles: `iam:ListRoles` is a new need (drift).
fn with_list_roles(s: &str) -> String {
    let anchor = "[[steps]]\nid = \"wait-running\"";
    assert!(s.contains(anchor), "the flintrock scenario changed shape; update this test's edit");
    s.replace(anchor, &format!("[[steps]]\nid = \"list-roles\"\noperation = \"iam:ListRoles\"\naction = \"iam:ListRoles\"\ndenial = \"named\"\n\n{anchor}"))
        .replace("minimal = [\"iam:GetInstanceProfile\", \"iam:PassRole\"]", "minimal = [\"iam:GetInstanceProfile\", \"iam:ListRoles\", \"iam:PassRole\"]")
}

fn run(jobs: &Path) -> (i32, Value) {
    let out = iam_prune(&["schedule", "run", &jobs.display().to_string(), "--output", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("schedule run printed no JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), v)
}

fn job<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["job"] == name)
        .unwrap_or_else(|| panic!("no job {name} in {v}"))
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|s| s.as_str().expect("string").to_string()).collect()
}

fn jobs_file(dir: &Path, jobs: &[&str]) -> PathBuf {
    let mut t = String::from("concurrency = 2\nhistory = \"state/history.sqlite\"\nout = \"runs\"\n");
    for j in jobs {
        t.push_str(&format!("\n[[job]]\nname = \"{j}\"\nscenario = \"{j}.toml\"\n"));
    }
    let p = dir.join("jobs.toml");
    std::fs::write(&p, t).expect("write jobs file");
    p
}

#[test]
fn three_jobs_report_unchanged_narrowed_and_widened_with_exit_codes() {
    let dir = tempdir("drift");
    for j in ["steady", "shrinks", "grows"] {
        std::fs::write(dir.join(format!("{j}.toml")), flintrock()).expect("copy scenario");
    }
    let jobs = jobs_file(&dir, &["steady", "shrinks", "grows"]);

    let (code, first) = run(&jobs);
    let v = first.clone();
    assert_eq!(code, 0, "first run: {v}");
    for j in ["steady", "shrinks", "grows"] {
        assert_eq!(job(&v, j)["change"], "new");
        assert_eq!(strs(&job(&v, j)["minimal"]), ["iam:GetInstanceProfile", "iam:PassRole"]);
        let run_dir = PathBuf::from(job(&v, j)["run_dir"].as_str().expect("run_dir"));
        assert!(run_dir.join("report.html").is_file(), "job {j} left no report in {}", run_dir.display());
    }
    let (code, v) = run(&jobs);
    assert_eq!(code, 0, "unchanged workloads: {v}");
    assert!(v["jobs"].as_array().expect("jobs").iter().all(|j| j["change"] == "unchanged"), "{v}");
    // A re-prune starts from the previous result (and expects its size); the first run had
    // none to use. An unchanged workload then costs d + 1 trials: the old set passes, then
    // one proof per action.
    for (run, want) in [(&first, Value::Null), (&v, Value::from(2))] {
        let dir = PathBuf::from(job(run, "steady")["run_dir"].as_str().expect("run_dir"));
        let journal = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
        let start: Value = serde_json::from_str(journal.lines().next().expect("start")).expect("start record");
        assert_eq!(start["config"]["expect_needed"], want, "{start}");
        let likely = start["config"]["likely"].as_array().map_or(0, Vec::len);
        assert_eq!(likely, if want.is_null() { 0 } else { 2 }, "{start}");
    }
    assert_eq!(job(&v, "steady")["trials"], 3, "{v}");

    std::fs::write(dir.join("shrinks.toml"), without_pass_role(&flintrock())).expect("edit");
    let (code, v) = run(&jobs);
    assert_eq!(code, 10, "a narrowed job exits 10: {v}");
    assert_eq!(job(&v, "shrinks")["change"], "narrowed");
    assert_eq!(strs(&job(&v, "shrinks")["removed"]), ["iam:PassRole"]);
    assert_eq!(job(&v, "shrinks")["trials"], 3, "the old set passes, one action proven, one dropped: {v}");
    assert_eq!(job(&v, "steady")["change"], "unchanged");

    std::fs::write(dir.join("grows.toml"), with_list_roles(&flintrock())).expect("edit");
    let (code, v) = run(&jobs);
    assert_eq!(code, 20, "drift exits 20: {v}");
    assert_eq!(v["overall"], "widened");
    assert_eq!(job(&v, "grows")["change"], "widened");
    assert_eq!(strs(&job(&v, "grows")["added"]), ["iam:ListRoles"]);
    // The old set fails naming iam:ListRoles, the grown set passes, two more proofs (the
    // failure of the old set already proves iam:ListRoles).
    assert_eq!(job(&v, "grows")["trials"], 4, "{v}");
    assert_eq!(job(&v, "shrinks")["change"], "unchanged", "compared with its own previous run, not the first");
    assert_eq!(job(&v, "steady")["change"], "unchanged");

    let sdir = PathBuf::from(v["dir"].as_str().expect("dir"));
    let md = std::fs::read_to_string(sdir.join("summary.md")).expect("summary.md");
    assert!(md.contains("`iam:ListRoles`") && md.contains("**widened**") && md.contains("exit code 20"), "{md}");
    let sj: Value =
        serde_json::from_str(&std::fs::read_to_string(sdir.join("summary.json")).expect("summary.json")).expect("json");
    assert_eq!(sj["exit_code"], 20);

    let history = dir.join("state/history.sqlite");
    let out =
        iam_prune(&["schedule", "history", "grows", "--history", &history.display().to_string(), "--output", "json"]);
    let rows: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).expect("history JSON");
    let changes: Vec<&str> =
        rows.as_array().expect("rows").iter().map(|r| r["change"].as_str().expect("change")).collect();
    assert_eq!(changes, ["widened", "unchanged", "unchanged", "new"], "newest first");
    let text = iam_prune(&["schedule", "history", "--history", &history.display().to_string()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("+iam:ListRoles"));
}

#[test]
fn a_second_run_is_refused_while_the_lock_is_held() {
    let dir = tempdir("lock");
    std::fs::write(dir.join("one.toml"), flintrock()).expect("copy");
    let jobs = jobs_file(&dir, &["one"]);
    let lock = ScheduleLock::acquire(&dir.join("state/history.sqlite"), false).expect("lock");
    let out = iam_prune(&["schedule", "run", &jobs.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another `schedule run`") && err.contains("--wait"), "{err}");
    drop(lock);
    assert_eq!(run(&jobs).0, 0, "runs once the lock is free");
}

/// A failed job's error is kept as text (the results, the history): with its hint.
#[test]
fn a_failed_job_keeps_its_hint() {
    let dir = tempdir("failed");
    let jobs = jobs_file(&dir, &["gone"]);
    let (code, v) = run(&jobs);
    assert_eq!(code, 1, "{v}");
    let error = job(&v, "gone")["error"].as_str().expect("error");
    assert!(error.starts_with("cannot read scenario `") && error.ends_with("\nhelp: check the path"), "{error}");
    let history = dir.join("state/history.sqlite");
    let rows = History::open(&history).expect("history").runs(Some("gone"), 1).expect("rows");
    assert_eq!(rows[0].error.as_deref(), Some(error));
}

fn integrity(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).expect("open");
    c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).expect("integrity_check")
}

#[test]
fn a_killed_run_is_abandoned_and_its_run_directory_resumed() {
    let dir = tempdir("kill");
    let scenario = dir.join("job.toml");
    std::fs::write(&scenario, flintrock()).expect("copy");
    let jobs = jobs_file(&dir, &["job"]);
    let db = dir.join("state/history.sqlite");
    assert_eq!(run(&jobs).0, 0);

    // A run killed after its first trial: the journal holds the start record, one trial and a
    // torn line; the history holds a `running` row for it. Its inputs are the job's, including
    // what the schedule passes from the first run: its two actions and their count.
    let killed = dir.join("runs/killed");
    let likely = dir.join("likely.txt");
    std::fs::write(&likely, "iam:GetInstanceProfile\niam:PassRole\n").expect("write likely");
    let o = iam_prune(&[
        "prune",
        &scenario.display().to_string(),
        "--out",
        &killed.display().to_string(),
        "--likely",
        &likely.display().to_string(),
        "--expect-needed",
        "2",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let journal = std::fs::read_to_string(killed.join("journal.jsonl")).expect("journal");
    let mut lines: Vec<&str> = journal.lines().take(2).collect();
    let torn = journal.lines().nth(2).expect("a third line");
    lines.push(torn.get(..torn.len() / 2).expect("half a line"));
    std::fs::remove_dir_all(&killed).expect("clear");
    std::fs::create_dir_all(&killed).expect("mkdir");
    std::fs::write(killed.join("journal.jsonl"), lines.join("\n")).expect("write journal");
    let stale = {
        let mut h = History::open(&db).expect("open history");
        let s = h.begin_schedule(&jobs, &dir.join("runs")).expect("schedule row");
        h.begin_run(s, "job", &scenario, &killed, false).expect("run row")
    };

    let (code, v) = run(&jobs);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["abandoned"], serde_json::json!([stale]), "the killed run's row is found and marked");
    let j = job(&v, "job");
    assert_eq!(j["resumed"], true, "the killed run's directory is continued: {v}");
    assert_eq!(PathBuf::from(j["run_dir"].as_str().expect("run_dir")), killed);
    assert_eq!(j["change"], "unchanged", "the resumed run reaches the same result: {v}");
    assert!(killed.join("report.md").is_file());
    let rows = History::open(&db).expect("open").runs(Some("job"), 10).expect("rows");
    assert!(rows.iter().any(|r| r.id == stale && r.status == "abandoned"), "{rows:?}");

    // A real kill -9 at an arbitrary moment: whatever it interrupted, the next run succeeds,
    // nothing stays `running`, and the database passes SQLite's integrity check.
    // Linear searches (200 trials each) keep it busy for about a second in a debug build.
    let slow = dir.join("slow.toml");
    let mut t = String::from("concurrency = 2\nhistory = \"state/history.sqlite\"\nout = \"runs\"\n");
    for n in ["slow1", "slow2", "slow3"] {
        t.push_str(&format!("\n[[job]]\nname = \"{n}\"\nscenario = \"job.toml\"\nstrategy = \"linear\"\n"));
    }
    std::fs::write(&slow, t).expect("write slow jobs");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iam-prune"))
        .args(["schedule", "run", &slow.display().to_string(), "--quiet"])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let (code, v) = run(&slow);
    assert_eq!(code, 0, "after kill -9: {v}");
    assert_eq!(integrity(&db), "ok");
    let rows = History::open(&db).expect("open").runs(None, 100).expect("rows");
    assert!(rows.iter().all(|r| r.status != "running"), "{rows:?}");
}

/// A job key its kind cannot use is refused by name, not silently dropped.
#[test]
fn a_job_key_that_cannot_apply_is_refused() {
    let dir = tempdir("refused-keys");
    std::fs::write(dir.join("one.toml"), flintrock()).expect("copy");
    for (extra, key) in [("role = \"app\"\n", "role"), ("start = \"IAMFullAccess\"\n", "start")] {
        let jobs = dir.join("jobs.toml");
        std::fs::write(&jobs, format!("out = \"runs\"\n[[job]]\nname = \"one\"\nscenario = \"one.toml\"\n{extra}"))
            .expect("write jobs file");
        let out = iam_prune(&["schedule", "run", &jobs.display().to_string()]);
        assert_ne!(out.status.code(), Some(0));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("`{key}` cannot apply to a scenario job")), "{err}");
    }
    // A flag of `aws_args` that would make the job do nothing is refused too.
    let jobs = dir.join("jobs.toml");
    std::fs::write(
        &jobs,
        "out = \"runs\"\n[[job]]\nname = \"cmd\"\ncommand = \"true\"\nstart = \"IAMFullAccess\"\naws_args = [\"--dry-run\"]\n",
    )
    .expect("write jobs file");
    let out = iam_prune(&["schedule", "run", &jobs.display().to_string()]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`--dry-run` in `aws_args`"), "{err}");
}
