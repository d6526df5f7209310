//! Issue 5: the main job end to end through the binary: results, output format, trial
//! budgets, resume after an interrupted run.

use crate::common::*;
use std::path::Path;

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("iam-prune-it-prune-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `prune SCENARIO [EXTRA...] --out DIR --output json` into a fresh `tmpdir(name)`: the run
/// directory, exit code and printed JSON.
fn prune_into(name: &str, scenario: &str, extra: &[&str]) -> (std::path::PathBuf, i32, serde_json::Value) {
    let out = tmpdir(name);
    let out_s = out.to_str().unwrap().to_string();
    let mut args = vec!["prune", scenario];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", &out_s, "--output", "json"]);
    let (code, v) = iam_prune_json(&args);
    (out, code, v)
}

fn trial_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "trial")
        .collect()
}

#[test]
fn flintrock_prunes_to_get_instance_profile_and_pass_role() {
    let out = tmpdir("flintrock");
    let (code, v) = iam_prune_json(&[
        "prune",
        "scenarios/flintrock-launch.toml",
        "--out",
        out.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["minimal"], serde_json::json!(["iam:GetInstanceProfile", "iam:PassRole"]));
    assert_eq!(v["universe"], 200);
    assert_eq!(v["verified"], true);
    assert_eq!(v["minimal_proven"], true);
    assert_eq!(v["expected_match"], true);
    // How few trials it takes is `bench prune`'s floor (at most 6).
    // The minimal policy is scoped to the resources the launch used, and valid.
    let policy = std::fs::read_to_string(out.join("policy.json")).unwrap();
    assert!(policy.contains("arn:aws:iam::690534650866:role/EMR_EC2_DefaultRole"), "{policy}");
    iam_prune::policy::parse_policy(&policy, "policy.json").unwrap();
    assert!(out.join("summary.json").exists());
    assert_eq!(trial_lines(&out).len() as u64, v["trials"].as_u64().unwrap());
}

#[test]
fn every_strategy_reaches_the_same_minimal_set() {
    for strategy in ["auto", "group", "ddmin", "linear"] {
        let out = tmpdir(&format!("strategy-{strategy}"));
        let (code, v) = iam_prune_json(&[
            "prune",
            "scenarios/flintrock-launch.toml",
            "--strategy",
            strategy,
            "--parallel",
            "4",
            "--out",
            out.to_str().unwrap(),
            "--output",
            "json",
        ]);
        assert_eq!(code, 0);
        assert_eq!(v["minimal"], serde_json::json!(["iam:GetInstanceProfile", "iam:PassRole"]), "{strategy}");
        assert!(v["rounds"].as_u64().unwrap() <= v["trials"].as_u64().unwrap());
    }
}

#[test]
fn a_trial_budget_stops_with_a_verified_sufficient_set_and_says_what_is_undecided() {
    let out = tmpdir("budget");
    let (code, v) = iam_prune_json(&[
        "prune",
        "scenarios/flintrock-launch.toml",
        "--strategy",
        "group",
        "--max-trials",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 4, "a stopped run exits 4: {v}");
    assert_eq!(v["trials"], 3);
    assert!(v["stopped"].as_str().unwrap().contains("budget"), "{v}");
    assert_eq!(
        (v["complete"].clone(), v["empty_result"].clone()),
        (serde_json::json!(false), serde_json::json!(false))
    );
    assert_eq!(v["kept"], v["minimal"]);
    let minimal: Vec<&str> = v["minimal"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(
        minimal.contains(&"iam:GetInstanceProfile") && minimal.contains(&"iam:PassRole"),
        "a budget must never drop a needed action"
    );
    assert!(!v["undecided"].as_array().unwrap().is_empty());
    assert_eq!(v["minimal_proven"], false);
}

/// A run a budget stopped is continued with `--resume` and a larger budget: its trials are
/// replayed, not run again, and it finishes at the same proven result as an unstopped run.
/// Flags that would change the search are refused with `--resume`, not silently ignored.
#[test]
fn a_budget_stopped_run_continues_with_a_larger_budget() {
    let (whole_dir, code, whole) =
        prune_into("extend-whole", "scenarios/flintrock-launch.toml", &["--strategy", "group"]);
    assert_eq!(code, 0, "{whole}");
    let _ = std::fs::remove_dir_all(whole_dir);
    let (dir, code, stopped) =
        prune_into("extend", "scenarios/flintrock-launch.toml", &["--strategy", "group", "--max-trials", "3"]);
    assert_eq!(code, 4, "{stopped}");
    assert_eq!(stopped["trials"], 3);
    let d = dir.to_str().unwrap();
    let results = |dir: &Path| {
        std::fs::read_to_string(dir.join("journal.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"type\":\"result\""))
            .count()
    };
    assert_eq!((stopped["already_finished"].clone(), results(&dir)), (serde_json::json!(false), 1));
    // The same budget again stops where it stopped, without a new trial, and says so; the
    // journal gets no second result record.
    let (code, again) = iam_prune_json(&["prune", "--resume", d, "--output", "json"]);
    assert_eq!((code, again["trials"].clone()), (4, serde_json::json!(3)), "{again}");
    assert_eq!(again["already_finished"], true, "{again}");
    assert_eq!((trial_lines(&dir).len(), results(&dir)), (3, 1));
    let (code, done) = iam_prune_json(&["prune", "--resume", d, "--max-trials", "100", "--output", "json"]);
    assert_eq!(code, 0, "{done}");
    assert_eq!((done["already_finished"].clone(), results(&dir)), (serde_json::json!(false), 2), "{done}");
    // Resuming the finished run: nothing runs, the text output says why.
    let out = iam_prune(&["prune", "--resume", d]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("had already ended here") && text.contains("nothing was run"), "{text}");
    assert_eq!(results(&dir), 2);
    assert_eq!(done["minimal"], whole["minimal"]);
    assert_eq!(done["trials"], whole["trials"], "the continued run replays its 3 trials and goes on as one run");
    assert_eq!(done["minimal_proven"], true);
    assert!(done["stopped"].is_null(), "{done}");
    let ids: Vec<u64> = trial_lines(&dir).iter().map(|t| t["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "each trial journaled once");
    // Search flags with --resume: an error that names them and says what to do.
    let out = iam_prune(&["prune", "--resume", d, "--strategy", "linear", "--confirm", "2"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--strategy, --confirm cannot change a resumed run") && err.contains("help:"), "{err}");
    // So are the flags that say how trials run (an AWS run records them in its journal).
    let out = iam_prune(&["prune", "--resume", d, "--timeout", "30", "--apply", "version", "--fail-on-denied-only"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--fail-on-denied-only, --timeout, --apply cannot change a resumed run"), "{err}");
    assert_eq!(trial_lines(&dir).len(), ids.len(), "a refused resume runs nothing");
    // A scenario with --resume is a usage error (the journal names the scenario).
    let out = iam_prune(&["prune", "scenarios/flintrock-launch.toml", "--resume", d]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A resumed run finds its scenario from any directory (the start record holds its absolute
/// path), and refuses one edited since it started (a policy file it names included): the
/// recorded trials would describe another workload.
#[test]
fn a_resume_finds_its_scenario_from_anywhere_and_refuses_an_edited_one() {
    let work = tmpdir("moved-scenario");
    std::fs::create_dir_all(work.join("policies")).unwrap();
    std::fs::copy(root().join("scenarios/streamsets-assume-role.toml"), work.join("s.toml")).unwrap();
    for f in std::fs::read_dir(root().join("scenarios/policies")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, work.join("policies").join(f.file_name().unwrap())).unwrap();
    }
    let policy = work.join("policies/streamsets-sdc-broad.json");
    let run = work.join("run");
    // Started from the scenario's directory with a relative path, resumed from the repository.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iam-prune"))
        .args(["prune", "s.toml", "--strategy", "group", "--max-trials", "2", "--out", "run", "--output", "json"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let d = run.to_str().unwrap();
    let (code, v) = iam_prune_json(&["prune", "--resume", d, "--max-trials", "3", "--output", "json"]);
    assert_eq!((code, v["trials"].clone()), (4, serde_json::json!(3)), "{v}");
    // A comment in the scenario and reformatted policy JSON change nothing a trial sees: the
    // run goes on.
    let scenario = work.join("s.toml");
    let scenario_text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&scenario, format!("# pruned weekly\n{scenario_text}\n")).unwrap();
    let original = std::fs::read_to_string(&policy).unwrap();
    let compact = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&original).unwrap()).unwrap();
    std::fs::write(&policy, format!("{compact}\n\n")).unwrap();
    let (code, v) = iam_prune_json(&["prune", "--resume", d, "--max-trials", "4", "--output", "json"]);
    assert_eq!((code, v["trials"].clone()), (4, serde_json::json!(4)), "{v}");
    // An edited policy file: refused, naming the file and what to do; nothing runs.
    std::fs::write(&policy, original.replace("BroadSts", "Broad")).unwrap();
    let out = iam_prune(&["prune", "--resume", d, "--max-trials", "100"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s.toml") && err.contains("changed since the run started") && err.contains("--previous"),
        "{err}"
    );
    assert_eq!(trial_lines(&run).len(), 4);
    // Restored: the run goes on to the result.
    std::fs::write(&policy, original).unwrap();
    let (code, v) = iam_prune_json(&["prune", "--resume", d, "--max-trials", "100", "--output", "json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["minimal_proven"], true, "{v}");
    let _ = std::fs::remove_dir_all(&work);
}

/// Likely actions the search cannot use (misspelled, or not granted by the start policy) are
/// reported, not dropped without a word; the good ones still steer the search.
#[test]
fn likely_actions_outside_the_start_policy_are_reported() {
    let likely = tmpdir("likely-file");
    std::fs::create_dir_all(&likely).unwrap();
    let file = likely.join("likely.txt");
    std::fs::write(&file, "iam:PassRole\niam:PassRoel # a typo\ns3:GetObject\n").unwrap();
    let (dir, code, v) = prune_into("likely", "scenarios/flintrock-launch.toml", &["--likely", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["likely_ignored"], serde_json::json!(["iam:PassRoel", "s3:GetObject"]), "{v}");
    assert_eq!(v["minimal"], serde_json::json!(["iam:GetInstanceProfile", "iam:PassRole"]));
    let text = iam_prune(&[
        "prune",
        "scenarios/flintrock-launch.toml",
        "--likely",
        file.to_str().unwrap(),
        "--out",
        dir.join("again").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("2 likely actions are not in the start policy") && stdout.contains("iam:PassRoel"),
        "{stdout}"
    );
}

/// A run killed after some trials (journal cut mid-line, as kill -9 during a write leaves it)
/// resumes without re-running the recorded trials and reaches the same result.
#[test]
fn resume_after_a_killed_run_reuses_recorded_trials() {
    let (full, _, whole) = prune_into("resume-full", "scenarios/flintrock-launch.toml", &["--strategy", "group"]);
    let total = whole["trials"].as_u64().unwrap();
    assert!(total > 6, "the group strategy should need several trials here ({total})");
    // Simulate the kill: keep the start record and the first 5 trials, then a torn line.
    let cut = tmpdir("resume-cut");
    std::fs::create_dir_all(&cut).unwrap();
    let text = std::fs::read_to_string(full.join("journal.jsonl")).unwrap();
    // Big candidates are journaled as what they lack; resume must restore them exactly.
    assert!(text.contains("\"candidate_removed\""), "no compact candidate in the journal");
    let mut kept: Vec<&str> = text.lines().take(6).collect();
    let torn = &text.lines().nth(6).unwrap()[..40];
    kept.push(torn);
    std::fs::write(cut.join("journal.jsonl"), kept.join("\n")).unwrap();
    let (code, resumed) = iam_prune_json(&["prune", "--resume", cut.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 0, "{resumed}");
    assert_eq!(resumed["minimal"], whole["minimal"]);
    assert_eq!(
        resumed["trials"], whole["trials"],
        "the resumed run must count replayed trials and reach the same result"
    );
    // The first five trials were not run again: the journal holds each trial id once.
    let ids: Vec<u64> = trial_lines(&cut).iter().map(|t| t["id"].as_u64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(ids, sorted, "a trial was journaled twice: {ids:?}");
    assert_eq!(ids.len() as u64, total);
}

/// A resume that goes another way than the killed run (a newer engine) leaves recorded trials
/// unasked; its new trials must not reuse their ids.
#[test]
fn a_diverging_resume_never_reuses_a_trial_id() {
    let (full, _, whole) = prune_into("diverge-full", "scenarios/flintrock-launch.toml", &["--strategy", "group"]);
    let cut = tmpdir("diverge-cut");
    std::fs::create_dir_all(&cut).unwrap();
    let text = std::fs::read_to_string(full.join("journal.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().take(4).map(str::to_string).collect();
    // An orphan: the killed run's fourth trial, of a candidate this search never asks.
    let mut orphan: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    orphan["id"] = 4.into();
    orphan["candidate"] = serde_json::json!(["ec2:DescribeImages"]);
    orphan.as_object_mut().unwrap().remove("candidate_removed");
    lines.push(orphan.to_string());
    // Started by an older engine: the resume says so, once, and goes on with today's search.
    let mut start: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    start["config"]["engine"] = 6.into();
    lines[0] = start.to_string();
    std::fs::write(cut.join("journal.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = iam_prune(&["prune", "--resume", cut.to_str().unwrap(), "--output", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("was started by search engine 6").count(), 1, "{stderr}");
    let resumed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{resumed}");
    assert_eq!(resumed["minimal"], whole["minimal"]);
    let ids: Vec<u64> = trial_lines(&cut).iter().map(|t| t["id"].as_u64().unwrap()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a trial id was used twice: {ids:?}");
    assert_eq!(&ids[..4], &[1, 2, 3, 4], "{ids:?}");
    assert!(ids[4..].iter().all(|&i| i > 4), "new trials must come after the journal's ids: {ids:?}");
    // The report names every trial it proves with by an id the journal holds.
    for p in resumed["proofs"].as_array().unwrap() {
        assert!(ids.contains(&p["trial"].as_u64().unwrap()), "{p}");
    }
}

/// `--expect-needed` (what a scheduled re-prune passes from its previous run) never changes the
/// result, right or wrong, and is journaled so `--resume` plans the same trials. What it saves
/// is `bench prune`'s floor.
#[test]
fn an_expected_count_keeps_the_result_and_survives_a_resume() {
    let prune = |name: &str, extra: &[&str]| {
        let mut args = vec!["--strategy", "group"];
        args.extend_from_slice(extra);
        let (out, code, v) = prune_into(name, "scenarios/flintrock-launch.toml", &args);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["minimal"], serde_json::json!(["iam:GetInstanceProfile", "iam:PassRole"]), "{extra:?}");
        assert_eq!(v["minimal_proven"], true);
        (out, v["trials"].as_u64().unwrap())
    };
    let (right_dir, right) = prune("expect-2", &["--expect-needed", "2"]);
    // Wrong either way: the same result.
    for wrong in ["1", "3", "0"] {
        prune(&format!("expect-{wrong}"), &["--expect-needed", wrong]);
    }
    let text = std::fs::read_to_string(right_dir.join("journal.jsonl")).unwrap();
    let start: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(start["config"]["expect_needed"], 2, "{start}");
    let md = std::fs::read_to_string(right_dir.join("report.md")).unwrap();
    assert!(md.contains("expecting 2 needed actions"), "{md}");
    // Cut after three trials and resume: the same prior plans the same remaining trials.
    let cut = tmpdir("expect-cut");
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::write(cut.join("journal.jsonl"), text.lines().take(4).collect::<Vec<_>>().join("\n")).unwrap();
    let (code, resumed) = iam_prune_json(&["prune", "--resume", cut.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 0, "{resumed}");
    assert_eq!(resumed["trials"], right, "the resumed run must plan with the journaled expectation");
    let candidates = |d: &Path| {
        trial_lines(d).iter().map(|t| (t["candidate"].clone(), t["candidate_removed"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(candidates(&cut), candidates(&right_dir));
}

#[test]
fn a_broken_scenario_is_reported_with_its_position() {
    let dir = tmpdir("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(
        &f,
        "source = \"x\"\n[start]\nmanaged = [\"IAMFullAccess\"]\n[principal]\narn = \"arn:aws:iam::1:user/u\"\n[[steps]]\nid = \"a\"\naction = \"iam:GetInstanceProfil\"\n[expect]\nminimal = []\n",
    )
    .unwrap();
    let out = iam_prune(&["prune", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:8:10"), "{err}");
    assert!(err.contains("did you mean iam:GetInstanceProfile"), "{err}");
}

#[test]
fn bench_prune_runs_a_small_grid() {
    let (code, v) = iam_prune_json(&[
        "bench",
        "prune",
        "--quick",
        "--n",
        "200",
        "--d",
        "2",
        "--strategy",
        "group",
        "--output",
        "json",
    ]);
    assert!(code == 0 || code == 1);
    let rows = v["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r["dropped_needed"], 0, "{r}");
        assert_eq!(r["lower_bound"], 15);
    }
}

#[test]
fn bench_prune_runs_the_bundled_scenarios_and_checks_their_floors() {
    let (code, v) = iam_prune_json(&["bench", "prune", "--set", "scenarios", "--output", "json"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["rows"].as_array().unwrap().is_empty(), "--set scenarios runs no generated workload");
    let rows = v["scenarios"].as_array().unwrap();
    let files = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(rows.len(), files, "one row per bundled scenario");
    for r in rows {
        for x in r["results"].as_array().unwrap() {
            assert_eq!(x["correct"], true, "{} {x}", r["name"]);
            assert!(
                x["trials"].as_u64().unwrap() >= 1 && x["rounds"].as_u64().unwrap() <= x["trials"].as_u64().unwrap()
            );
        }
    }
    let flintrock = rows.iter().find(|r| r["name"] == "flintrock-launch").unwrap();
    assert_eq!(flintrock["minimal"], 2);
    assert_eq!(flintrock["lower_bound"], 15);
    let floors = v["floors"].as_array().unwrap();
    assert!(
        floors.iter().any(|f| f["floor"].as_str().unwrap().starts_with("flintrock-launch") && f["ok"] == true),
        "{v}"
    );
}

#[test]
fn a_re_prune_from_a_previous_run_costs_d_plus_one_trials() {
    let scenario = "scenarios/snowplow-emr-etl-runner.toml";
    let (first, code, v) = prune_into("previous-first", scenario, &[]);
    assert_eq!(code, 0, "{v}");
    let d = v["minimal"].as_array().unwrap().len() as u64;
    let (_, code, w) = prune_into("previous-again", scenario, &["--previous", first.to_str().unwrap()]);
    assert_eq!(code, 0, "{w}");
    assert_eq!(w["minimal"], v["minimal"]);
    assert_eq!(w["minimal_proven"], true);
    assert_eq!(w["trials"].as_u64().unwrap(), d + 1, "the old set's pass and one proof per action: {w}");
    assert!(v["trials"].as_u64().unwrap() > d + 1, "a first run cannot be that cheap: {v}");
    // A run stopped by its budget kept a sufficient set, not a minimal one: refused.
    let (stopped, code, _) = prune_into("previous-stopped", scenario, &["--max-trials", "3"]);
    assert_eq!(code, 4);
    let out = iam_prune(&["prune", scenario, "--previous", stopped.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a proven minimal result") && err.contains("budget"), "{err}");
    // Another scenario's result: a hint only, with a warning that names both.
    let out = iam_prune(&[
        "prune",
        "scenarios/flintrock-launch.toml",
        "--previous",
        first.to_str().unwrap(),
        "--out",
        tmpdir("previous-other").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: --previous")
            && err.contains("snowplow-emr-etl-runner")
            && err.contains("flintrock-launch"),
        "{err}"
    );
    // Not a finished run: a clear error naming the file it needs.
    let out = iam_prune(&["prune", scenario, "--previous", "/nonexistent-run"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-run/summary.json") && err.contains("finished run"), "{err}");
}

/// A flaky workload (10% spurious failures, 10% first runs that still see the broad policy)
/// pruned with `--confirm 2`: the needed actions are kept, and the summary names the trials
/// that disagreed, as evidence.
#[test]
fn a_flaky_run_keeps_what_is_needed_and_shows_the_disagreeing_trials() {
    let text = std::fs::read_to_string(root().join("scenarios/flintrock-launch.toml")).unwrap();
    let flaky = text.replacen(
        "trial_seconds = 95.0",
        "trial_seconds = 95.0\nflaky_failure_rate = 0.1\npropagation_miss_rate = 0.1\nseed = 7",
        1,
    );
    assert_ne!(flaky, text, "the scenario's [realism] table moved");
    let dir = tmpdir("flaky");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("flaky-flintrock.toml");
    std::fs::write(&scenario, flaky).unwrap();
    let out_dir = dir.join("run");
    let out = iam_prune(&[
        "prune",
        scenario.to_str().unwrap(),
        "--strategy",
        "group",
        "--confirm",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    let minimal: Vec<&str> = summary["minimal"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    for a in ["iam:GetInstanceProfile", "iam:PassRole"] {
        assert!(minimal.contains(&a), "{a} dropped: {minimal:?}");
    }
    let flaky = summary["flaky"].as_array().unwrap();
    assert!(!flaky.is_empty(), "seed 7 has disagreeing re-runs: {summary}");
    let first = flaky[0]["observations"][0]["trial"].as_u64().unwrap();
    assert!(
        stdout.contains("gave different verdicts on re-runs (") && stdout.contains(&format!("trial {first} ")),
        "{stdout}"
    );
    // The report an auditor reads carries the same evidence.
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains(&format!("actions: trial {first} ")), "{md}");
}

/// A stopped run says so everywhere a user reads it: the headline, the reports (sufficient,
/// not minimal) and exit code 4.
#[test]
fn a_stopped_run_says_it_stopped_in_the_text_and_the_reports_and_exits_4() {
    let out_dir = tmpdir("stopped-text");
    let out = iam_prune(&[
        "prune",
        "scenarios/flintrock-launch.toml",
        "--strategy",
        "group",
        "--max-trials",
        "4",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains("STOPPED before the result was proven") && first.contains("undecided"), "{text}");
    assert!(!first.contains("actions needed"), "a stopped run claims no needed set: {first}");
    for report in ["report.md", "report.html"] {
        let r = std::fs::read_to_string(out_dir.join(report)).unwrap();
        assert!(
            r.contains("STOPPED before the result was proven") && r.contains("sufficient, not minimal"),
            "{report}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["result"]["complete"], false);
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// A workload that needs nothing of the start policy: the empty result is said loudly.
#[test]
fn an_empty_result_is_said_loudly() {
    let work = tmpdir("empty-result");
    std::fs::create_dir_all(&work).unwrap();
    let scenario = work.join("nothing.toml");
    std::fs::write(
        &scenario,
        r#"source = "tests"
[start]
managed = ["IAMFullAccess"]
[principal]
arn = "arn:aws:iam::111122223333:user/tester"
[[steps]]
id = "look-at-nothing"
denial = "named"
on_denied = "continue"
[[steps.calls]]
action = "s3:ListAllMyBuckets"
resource = "*"
[expect]
minimal = []
"#,
    )
    .unwrap();
    let run = work.join("run");
    let out = iam_prune(&["prune", scenario.to_str().unwrap(), "--out", run.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("EMPTY RESULT") && text.contains("--pass-if"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["empty_result"], true, "{summary}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("EMPTY RESULT"));
    let _ = std::fs::remove_dir_all(&work);
}

/// Flags that cannot apply are usage errors (exit 2) naming the flag and why.
#[test]
fn flags_that_cannot_apply_are_usage_errors() {
    let s = "scenarios/flintrock-launch.toml";
    let out =
        iam_prune(&["prune", s, "--start", "IAMFullAccess", "--fixed", "X", "--timeout", "5", "--pass-if", "foo"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--start, --fixed, --pass-if, --timeout cannot apply to a scenario run")
            && err.contains("--start applies to `--run`; a scenario names its start policy in [start]"),
        "{err}"
    );
    for bad in [["--parallel", "0"], ["--confirm", "0"], ["--max-trials", "0"]] {
        let out = iam_prune(&["prune", s, bad[0], bad[1]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = iam_prune(&["prune", "--run", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--start"));
}

/// Two runs started in the same second get directories of their own.
#[test]
fn runs_started_at_once_get_their_own_directories() {
    let work = tmpdir("same-second");
    std::fs::create_dir_all(&work).unwrap();
    let scenario = root().join("scenarios/flintrock-launch.toml");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_iam-prune"))
            .args(["--quiet", "prune", scenario.to_str().unwrap()])
            .current_dir(&work)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn()).collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    let dirs: Vec<_> = std::fs::read_dir(work.join("reports")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    assert!(dirs.iter().all(|d| d.join("summary.json").exists()), "{dirs:?}");
    let _ = std::fs::remove_dir_all(&work);
}

/// `report` on a directory that is not a run, and `--resume` of a run killed before its first
/// record, say exactly that.
#[test]
fn not_a_run_directory_and_an_empty_journal_are_named() {
    let work = tmpdir("not-a-run");
    std::fs::create_dir_all(&work).unwrap();
    let out = iam_prune(&["report", work.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not an iam-prune run directory") && !err.contains("permissions"), "{err}");
    std::fs::write(work.join("journal.jsonl"), "").unwrap();
    let out = iam_prune(&["prune", "--resume", work.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the journal is empty") && err.contains("nothing to resume"), "{err}");
    let _ = std::fs::remove_dir_all(&work);
}
