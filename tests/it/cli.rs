//! What people and scripts rely on around the results: exit codes, did-you-mean for typed
//! action names, refusals instead of silently ignored input.

use crate::common::*;

#[test]
fn help_states_every_exit_code_in_one_table() {
    let out = iam_prune(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "10 ", "20 ", "130 "] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(code)), "exit code {code}missing:\n{text}");
    }
}

#[test]
fn typed_action_names_get_a_did_you_mean_everywhere() {
    let out = iam_prune(&["eval", "--policy", "AmazonS3FullAccess", "--action", "s3:GetObjcet", "--resource", "*"]);
    assert_eq!(out.status.code(), Some(2), "a typo is a usage error, not a deny");
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `s3:GetObject`"), "{out:?}");
    let out = iam_prune(&["catalog", "show", "iam:PassRol"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `iam:PassRole`"), "{out:?}");
    let out = iam_prune(&[
        "scenario",
        "run",
        "scenarios/flintrock-launch.toml",
        "--allow",
        "iam:GetInstanceProfle,iam:PassRole",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("iam:GetInstanceProfile"), "{out:?}");
}

#[test]
fn lint_deny_warnings_fails_on_warnings() {
    let dir = std::env::temp_dir().join(format!("iam-prune-it-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("broad.json");
    // Valid, but a warning: Allow * on *.
    std::fs::write(
        &f,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
    )
    .unwrap();
    let plain = iam_prune(&["lint", f.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&plain.stdout).contains("warning"), "{plain:?}");
    assert_eq!(plain.status.code(), Some(0));
    let strict = iam_prune(&["lint", "--deny-warnings", f.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A parse error no longer hides the file's other mistakes: a broken statement, an unknown
/// element and a lint in a statement that parsed are all reported, in line order.
#[test]
fn lint_goes_on_past_parse_errors() {
    let dir = std::env::temp_dir().join(format!("iam-prune-it-lint-recover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("three.json");
    std::fs::write(
        &f,
        "{\"Version\": \"2012-10-17\", \"Statement\": [\n\
         {\"Effect\": \"allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"},\n\
         {\"Effect\": \"Allow\", \"Action\": \"s3:GetObjcet\", \"Resource\": \"*\"},\n\
         {\"Effect\": \"Allow\", \"Action\": \"s3:PutObject\", \"Resources\": \"*\"}\n]}",
    )
    .unwrap();
    let (code, v) = iam_prune_json(&["lint", f.to_str().unwrap(), "--output", "json"]);
    assert_eq!(code, 1, "{v}");
    let errors = v["files"][0]["errors"].as_array().unwrap();
    let found: Vec<(u64, &str)> =
        errors.iter().map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap())).collect();
    assert!(found.contains(&(2, "parse")), "the lowercase Effect: {v}");
    assert!(found.contains(&(4, "parse")), "the unknown element `Resources` on the next statement: {v}");
    let all = serde_json::to_string(&v).unwrap();
    assert!(all.contains("s3:GetObjcet"), "the statement between them is linted: {v}");
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "in line order: {lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_denied_patch_is_for_one_principal() {
    // Stratus Red Team's attack simulations: denials of several principals.
    let trail = shared("corpus/cloudtrail/stratus-red-team");
    let out = iam_prune(&["denied", trail.to_str().unwrap(), "--policy"]);
    let (code, err) = (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string());
    assert_eq!(code, Some(2), "several principals' denials must not be merged: {err}");
    assert!(err.contains("--principal") && err.contains("principals"), "{err}");
    // One principal's: the patch, naming it.
    let fixture = root().join("tests/fixtures/trail/trail");
    let (code, v) = iam_prune_json(&["denied", fixture.to_str().unwrap(), "--policy", "--output", "json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["principal"], "arn:aws:sts::111122223333:assumed-role/AppRole/job-1");
}

/// `scenario new` writes a skeleton `scenario check` accepts and `prune` prunes, with no
/// `[expect]` (so no expectation line); a missing required field names them all, once.
#[test]
fn a_new_scenario_without_an_expectation_checks_and_prunes() {
    let dir = std::env::temp_dir().join(format!("iam-prune-it-new-scenario-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("orders.toml");
    let f = file.to_str().unwrap();
    let out = iam_prune(&["scenario", "new", "orders", "--start", "AmazonS3FullAccess", "--out", f]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("[principal]") && text.contains("[[steps]]") && text.contains("# [expect]"), "{text}");
    let again = iam_prune(&["scenario", "new", "orders", "--start", "AmazonS3FullAccess", "--out", f]);
    assert_eq!(again.status.code(), Some(2), "an existing file is never overwritten");
    let check = iam_prune(&["scenario", "check", f]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let run = dir.join("run");
    let out = iam_prune(&["prune", f, "--out", run.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("orders: 1 of") && !text.contains("expectation"), "{text}");
    // A missing [principal]: one error that lists every required field.
    std::fs::write(&file, "[start]\nmanaged = [\"AmazonS3FullAccess\"]\n").unwrap();
    let out = iam_prune(&["scenario", "check", f]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        all.contains("missing field") && all.contains("[principal] `arn`") && all.contains("[[steps.calls]]"),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `error:` says what went wrong, then one `help:` line says what to do: the hint is the error
/// type's `help()`, found for whichever error a command returns, never baked into the message.
#[test]
fn errors_print_what_went_wrong_then_the_hint() {
    let dir = std::env::temp_dir().join(format!("iam-prune-it-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let requests = dir.join("requests.jsonl");
    std::fs::write(&requests, "{\"action\": 3}\n").unwrap();
    let requests = requests.to_str().unwrap();
    let missing = dir.join("missing");
    let missing = missing.to_str().unwrap();
    let history = format!("{missing}/history.sqlite");
    let cases: Vec<(Vec<&str>, i32, String, &str)> = vec![
        (
            vec!["eval", "--policy", "IAMFullAccess", "--action", "iam:GetRole", "--context", "foo"],
            1,
            "`--context foo` is not KEY=VALUE".into(),
            "write for example `--context aws:SourceIp=203.0.113.7`",
        ),
        (
            vec!["eval", "--policy", "IAMFullAccess", "--requests", requests],
            1,
            format!("{requests}:1: invalid request: "),
            "write one JSON object per line, like {\"action\": \"s3:GetObject\"",
        ),
        (
            vec!["record", "trail.json"],
            2,
            "`record` needs `--principal ARN`".into(),
            "name a user, role or session ARN, an access key id or a user name",
        ),
        (
            vec!["schedule", "history", "--history", &history],
            1,
            format!("no history at `{history}`"),
            "run `iam-prune schedule run JOBS.toml` first, or pass --history",
        ),
        (
            vec!["expand", "NoSuchPolicyAtAll"],
            1,
            "`NoSuchPolicyAtAll` is neither an AWS managed policy nor a policy file".into(),
            "give a managed policy name such as `IAMFullAccess`",
        ),
        (
            vec!["catalog", "show", "iam:PassRol"],
            1,
            "`iam:PassRol` is not a service prefix or action in the catalog".into(),
            "try `iam-prune catalog search iam:PassRol`",
        ),
        (
            vec!["report", missing],
            1,
            format!("journal `{missing}/journal.jsonl`: `{missing}` does not exist"),
            "give the directory a `prune` run wrote",
        ),
        (
            vec!["scenario", "run", "tests/fixtures/scenarios/unknown-action.toml"],
            1,
            "tests/fixtures/scenarios/unknown-action.toml:12:10: `iam:PasRole` is not an action".into(),
            "did you mean iam:PassRole?",
        ),
        (
            vec!["schedule", "run", missing],
            1,
            format!("cannot read jobs file `{missing}`: "),
            "pass the path of a JOBS.toml file",
        ),
    ];
    for (args, code, error, help) in cases {
        let out = iam_prune(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: one error line, one help line:\n{stderr}");
        assert!(lines[0].starts_with(&format!("error: {error}")), "{args:?}: {stderr}");
        assert!(lines[1].starts_with(&format!("help: {help}")), "{args:?}: {stderr}");
    }
    // Where an error is kept as text (`scenario check` prints it as one of its findings), the
    // hint stays with it.
    let out = iam_prune(&["scenario", "check", &format!("{missing}.toml")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("error: cannot read scenario `{missing}.toml`: ")), "{stdout}");
    assert!(stdout.contains("\nhelp: check the path"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
