//! Run reports: every bundled scenario's run renders all three reports, `report.json` validates
//! against the published schema and holds the expected minimal set, `iam-prune report`
//! regenerates them, and the HTML renders in a real (headless) browser.
//!
//! The schema check uses a small validator for the keywords `report.schema.json` uses (type,
//! properties, required, additionalProperties, items, enum, const, minimum) rather than the
//! `jsonschema` crate, whose dependency tree (regex engines, URL and HTTP resolution) would
//! double this test binary's build for a schema that needs none of it. The validator is itself
//! checked below: it must reject reports with a missing field, a wrong type or an unknown field.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

use crate::common::{iam_prune, root};
use iam_prune::workload::Scenario;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("iam-prune-it-reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no bundled scenarios");
    v
}

fn schema() -> Value {
    serde_json::from_str(iam_prune::report::REPORT_SCHEMA).expect("report.schema.json is JSON")
}

/// Validates `v` against `schema`; returns the errors as "path: message".
fn validate(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "number" => v.is_number(),
            "integer" => v.is_u64() || v.is_i64(),
            other => panic!("validator does not know type {other}"),
        });
        if !ok {
            errors.push(format!("{path}: expected {types:?}, got {v}"));
            return;
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{path}: expected const {c}, got {v}"));
        }
    }
    if let Some(Value::Array(e)) = schema.get("enum") {
        if !e.contains(v) {
            errors.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            errors.push(format!("{path}: {n} < minimum {min}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let r = r.as_str().expect("required names");
            if !obj.contains_key(r) {
                errors.push(format!("{path}: missing required `{r}`"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, val, &format!("{path}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: unknown field `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(items, x, &format!("{path}[{i}]"), errors);
        }
    }
}

fn schema_errors(v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(&schema(), v, "$", &mut errors);
    errors
}

fn prune_into(scenario: &Path, out: &Path) {
    let o = iam_prune(&["prune", &scenario.display().to_string(), "--out", &out.display().to_string(), "--quiet"]);
    assert!(o.status.success(), "prune {} failed:\n{}", scenario.display(), String::from_utf8_lossy(&o.stderr));
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
        .expect("report.json is JSON")
}

/// The acceptable minimal sets of a scenario, as sorted names.
fn expected_sets(scenario: &Path) -> Vec<Vec<String>> {
    let s = Scenario::load(scenario).expect("scenario loads");
    let c = iam_prune::Catalog::embedded();
    s.acceptable_minimal_sets()
        .iter()
        .map(|set| {
            let mut n = set.names(c);
            n.sort();
            n
        })
        .collect()
}

fn check_run_dir(dir: &Path, scenario: &Path) {
    for f in ["report.md", "report.html", "report.json", "search.dot", "policy.json", "journal.jsonl"] {
        assert!(dir.join(f).is_file(), "{} has no {f}", dir.display());
    }
    let v = read_json(&dir.join("report.json"));
    let errors = schema_errors(&v);
    assert!(errors.is_empty(), "{}/report.json does not match the schema:\n{}", dir.display(), errors.join("\n"));
    let minimal: Vec<String> = v["result"]["minimal"]
        .as_array()
        .expect("minimal")
        .iter()
        .map(|a| a.as_str().expect("name").to_string())
        .collect();
    let mut sorted = minimal.clone();
    sorted.sort();
    let expected = expected_sets(scenario);
    assert!(
        expected.contains(&sorted),
        "{}: minimal {sorted:?} is none of the expected {expected:?}",
        scenario.display()
    );
    // A policy over the managed-policy limit also comes as parts that each fit, together
    // granting exactly the whole policy's actions, with one managed policy per part to apply.
    let whole = read_json(&dir.join("policy.json"));
    let size = |v: &Value| v.to_string().chars().filter(|c| !c.is_whitespace()).count();
    let actions_of = |v: &Value| -> Vec<String> {
        let mut a: Vec<String> = v["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|st| st["Action"].as_array().cloned().unwrap_or_default())
            .map(|a| a.as_str().expect("action").to_string())
            .collect();
        a.sort();
        a
    };
    let parts: Vec<Value> = (1..)
        .map(|k| dir.join(format!("policy-part-{k}.json")))
        .take_while(|p| p.is_file())
        .map(|p| read_json(&p))
        .collect();
    if size(&whole) > 6_144 {
        assert!(parts.len() >= 2, "{}: a {}-character policy and no parts", dir.display(), size(&whole));
        assert!(parts.iter().all(|p| size(p) <= 6_144), "{}: a part over the limit", dir.display());
        let joined: Vec<Value> =
            parts.iter().flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default()).collect();
        assert_eq!(actions_of(&serde_json::json!({ "Statement": joined })), actions_of(&whole), "{}", dir.display());
    } else {
        assert!(parts.is_empty(), "{}: parts for a policy that fits", dir.display());
    }
    assert_eq!(v["apply"]["parts"].as_u64().expect("apply.parts") as usize, parts.len().max(1));
    let md = std::fs::read_to_string(dir.join("report.md")).expect("md");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    for a in &minimal {
        assert!(md.contains(&format!("`{a}`")), "report.md does not name {a}");
        assert!(html.contains(&format!("<code>{a}</code>")), "report.html does not name {a}");
    }
    for id in ["chart-services", "chart-levels", "chart-timeline", "chart-tree"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "report.html has no #{id}");
    }
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url("),
        "report.html must not load anything"
    );
    assert!(!html.contains("<script"), "report.html must not contain scripts");
    for section in [
        "## Why trust it",
        "### Privilege escalation",
        "### Evidence gaps",
        "### Policy size",
        "## How to apply",
        "aws iam create-policy",
        "aws_iam_policy_document",
    ] {
        assert!(md.contains(section), "report.md lacks `{section}`");
    }
    // A reviewer reads the result and its trust first, then how to apply it, its risk, and the
    // evidence last, in both renderings.
    let in_order = |text: &str, marks: &[&str], what: &str| {
        let at: Vec<usize> = marks
            .iter()
            .map(|m| text.find(m).unwrap_or_else(|| panic!("{what} of {} lacks `{m}`", dir.display())))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{what} of {}: sections out of order {marks:?}", dir.display());
    };
    in_order(
        &html,
        &[
            "id=\"headline\"",
            "id=\"status\"",
            "id=\"result\"",
            "id=\"trust\"",
            "id=\"apply\"",
            "id=\"risk\"",
            "id=\"evidence\"",
        ],
        "report.html",
    );
    in_order(
        &md,
        &[
            "**Result:**",
            "**Status:**",
            "\n## Result\n",
            "\n## Why trust it\n",
            "\n## How to apply\n",
            "\n## Risk\n",
            "\n## Evidence\n",
        ],
        "report.md",
    );
    let dot = std::fs::read_to_string(dir.join("search.dot")).expect("dot");
    assert!(dot.starts_with("digraph {"), "search.dot is not DOT");
    let trials = v["trials"].as_array().expect("trials").len();
    assert_eq!(
        v["tree"]["nodes"].as_array().expect("nodes").len(),
        trials + 1,
        "one tree node per trial plus the start"
    );
    assert_eq!(v["tree"]["edges"].as_array().expect("edges").len(), trials, "every trial has a parent");
}

#[test]
fn every_bundled_scenario_renders_valid_reports_with_the_expected_minimal_set() {
    let base = tempdir("scenarios");
    for scenario in scenarios() {
        let out = base.join(scenario.file_stem().expect("stem"));
        prune_into(&scenario, &out);
        check_run_dir(&out, &scenario);
    }
}

#[test]
fn report_command_regenerates_the_reports_from_the_journal() {
    let dir = tempdir("regen");
    let scenario = root().join("scenarios/flintrock-launch.toml");
    prune_into(&scenario, &dir);
    let before: Vec<String> = ["report.md", "report.html", "report.json", "search.dot"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).expect("read"))
        .collect();
    // Without summary.json too: the journal's result record is enough.
    for f in ["report.md", "report.html", "report.json", "search.dot", "summary.json"] {
        std::fs::remove_file(dir.join(f)).expect("remove");
    }
    let o = iam_prune(&["report", &dir.display().to_string()]);
    assert!(o.status.success(), "report failed: {}", String::from_utf8_lossy(&o.stderr));
    let after: Vec<String> = ["report.md", "report.html", "report.json", "search.dot"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).expect("read"))
        .collect();
    assert_eq!(before, after, "regenerated reports differ from the ones prune wrote");
    // An unfinished run is an error that says what to do.
    let unfinished = tempdir("unfinished");
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).expect("journal");
    let cut: Vec<&str> = journal.lines().filter(|l| !l.contains("\"type\":\"result\"")).collect();
    std::fs::write(unfinished.join("journal.jsonl"), cut.join("\n")).expect("write");
    let o = iam_prune(&["report", &unfinished.display().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn schema_validator_rejects_broken_reports() {
    let dir = tempdir("broken");
    prune_into(&root().join("scenarios/flintrock-launch.toml"), &dir);
    let good = read_json(&dir.join("report.json"));
    assert!(schema_errors(&good).is_empty());
    let mut missing = good.clone();
    missing["trust"].as_object_mut().expect("trust").remove("verified");
    assert!(schema_errors(&missing).iter().any(|e| e.contains("verified")), "missing field accepted");
    let mut wrong = good.clone();
    wrong["result"]["trials"] = Value::String("four".into());
    assert!(!schema_errors(&wrong).is_empty(), "wrong type accepted");
    let mut extra = good.clone();
    extra["risk"]["surprise"] = Value::Bool(true);
    assert!(!schema_errors(&extra).is_empty(), "unknown field accepted");
    let mut version = good;
    version["report_version"] = Value::from(2);
    assert!(!schema_errors(&version).is_empty(), "wrong version accepted");
}

#[test]
fn committed_reports_cover_every_bundled_scenario() {
    for scenario in scenarios() {
        let dir = root().join("reports").join(scenario.file_stem().expect("stem"));
        assert!(dir.join("report.json").is_file(), "reports/ lacks {}: run scripts/gen-reports.sh", dir.display());
        let v = read_json(&dir.join("report.json"));
        let errors = schema_errors(&v);
        assert!(
            errors.is_empty(),
            "{}/report.json is stale (run scripts/gen-reports.sh):\n{}",
            dir.display(),
            errors.join("\n")
        );
        let mut minimal: Vec<String> = v["result"]["minimal"]
            .as_array()
            .expect("minimal")
            .iter()
            .map(|a| a.as_str().expect("name").to_string())
            .collect();
        minimal.sort();
        assert!(
            expected_sets(&scenario).contains(&minimal),
            "{}: stale minimal set; run scripts/gen-reports.sh",
            dir.display()
        );
    }
}

/// What the browser test adds to a copy of a report, in the report's own `<head>` right after
/// its Content-Security-Policy: a listener that writes every script error onto `<html
/// data-errors>`, so a throwing script shows in the dumped DOM even if Chromium's console
/// logging changes.
const PROBE_ERRORS: &str = "<script>window.addEventListener('error',function(e){var d=document.documentElement;d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+e.message+';')});</script>";

/// ... and at the end of `<body>`: after layout, the page's width against the viewport, and the
/// elements that reach past the viewport's right edge or scroll inside themselves (SVG shapes
/// are judged by their `<svg>`), with every `<details>` closed as the page opens and then open.
/// A closed `<details>` still lays out its content (Chromium gives it boxes), so what it holds
/// counts only once it is open. The page's width is the furthest right edge of any element or the root's `scrollWidth`,
/// whichever is more: Chromium was seen to report a root `scrollWidth` within the viewport while
/// a table stuck out of it.
const PROBE_WIDTH: &str = "<script>(function(){
var de=document.documentElement,b=document.body,vw=de.clientWidth;
function name(e){var p=e.parentElement&&e.parentElement.closest('[id]');return e.tagName.toLowerCase()+(e.id?'#'+e.id:'')+(p?' in #'+p.id:'');}
function measure(state){
  var wide=[],all=b.getElementsByTagName('*'),right=0;
  for(var i=0;i<all.length;i++){var e=all[i];
    if(e instanceof SVGElement&&!(e instanceof SVGSVGElement))continue;
    var fold=e.closest('details:not([open])');
    if(fold&&fold!==e&&!e.closest('summary'))continue;
    var r=e.getBoundingClientRect();
    if(r.width>0)right=Math.max(right,r.right);
    var under=e.parentElement&&e.parentElement.getAttribute('data-wide')!==null;
    if(r.width>0&&(r.right>vw+0.5||r.left<-0.5)){e.setAttribute('data-wide','');if(!under)wide.push(name(e)+' spans '+Math.round(r.left)+'..'+Math.round(r.right));}
    else if(e.scrollWidth>e.clientWidth+1&&(e.tagName==='SECTION'||getComputedStyle(e).overflowX!=='visible'))wide.push(name(e)+' holds '+e.scrollWidth+' in '+e.clientWidth);
  }
  b.setAttribute('data-width-'+state,Math.max(de.scrollWidth,Math.ceil(right)));
  b.setAttribute('data-wide-'+state,wide.length+(wide.length?': '+wide.slice(0,6).join('; '):''));
}
measure('closed');
var d=document.getElementsByTagName('details');for(var i=0;i<d.length;i++)d[i].open=true;
b.setAttribute('data-folds',d.length);
measure('open');
b.setAttribute('data-viewport',vw);b.setAttribute('data-inner',window.innerWidth);
})();</script>";

/// A copy of `html` with the probes in (and `extra` at the end of its body); the report's CSP
/// stays in force except that it now admits inline scripts.
fn probed(html: &str, extra: &str) -> String {
    let csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';";
    let at = html.find(csp).expect("report.html starts with its Content-Security-Policy");
    let end = at + html[at..].find('>').expect("the CSP meta ends") + 1;
    let meta = html[at..end].replacen("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1);
    let body = html.rfind("</body>").expect("report.html has a </body>");
    format!("{}{meta}{PROBE_ERRORS}{}{extra}{PROBE_WIDTH}{}", &html[..at], &html[end..body], &html[body..])
}

/// The value of the first `name="..."` attribute in a dumped DOM.
fn attr(dom: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let from = dom.find(&key)? + key.len();
    Some(dom[from..].split('"').next()?.to_string())
}

/// Chromium at a 1280 px wide window: `--screenshot=PNG` or `--dump-dom`. Returns stdout and
/// stderr.
fn chromium(profile: &Path, page: &Path, mode: &str) -> (String, String) {
    let out = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium {mode} {} failed:\n{stderr}", page.display());
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// Chromium's log lines that tell of a page's script errors or of something its CSP refused.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to")).collect()
}

/// A page's measured widths: (page scrollWidth closed, open, viewport), after the probe ran.
fn widths(dom: &str, page: &Path) -> (u64, u64, u64) {
    let num = |n: &str| -> u64 {
        attr(dom, n)
            .unwrap_or_else(|| panic!("the probe did not run on {}: no {n}", page.display()))
            .parse()
            .expect("a number")
    };
    assert_eq!(num("data-inner"), 1280, "the window is not 1280 px wide");
    (num("data-width-closed"), num("data-width-open"), num("data-viewport"))
}

/// Renders a small (flintrock-launch: a few trials) and a large (iomete-data-plane: hundreds
/// of trials, about a hundred kept actions) report in headless Chromium at 1280 px: a
/// screenshot that is not blank, no script errors or CSP refusals, no horizontal overflow (the
/// page within the viewport, no element past its edge or scrolling inside, with every fold
/// closed and open), and the charts in the rendered DOM. The probes are checked first on a page
/// that throws and overflows, so a probe that stopped measuring fails here rather than passing
/// everything. Chromium missing is a failure, not a skip: `scripts/test.sh` installs it.
#[test]
fn html_report_renders_in_headless_chromium() {
    assert!(Path::new("/usr/bin/chromium").exists(), "/usr/bin/chromium is missing: run scripts/test.sh (it installs Debian's chromium) or `apt-get install -y chromium`");
    let dir = tempdir("browser");
    // iomete eight at a time: the largest run the bundled scenarios make (486 trials, 70 rounds).
    let runs: Vec<(&str, PathBuf)> = [("flintrock-launch", "1"), ("iomete-data-plane", "8")]
        .into_iter()
        .map(|(name, k)| {
            let out = dir.join(name);
            let scenario = root().join(format!("scenarios/{name}.toml"));
            let o = iam_prune(&[
                "prune",
                &scenario.display().to_string(),
                "--parallel",
                k,
                "--out",
                &out.display().to_string(),
                "--quiet",
            ]);
            assert!(o.status.success(), "prune {name} failed:\n{}", String::from_utf8_lossy(&o.stderr));
            (name, out)
        })
        .collect();

    let small = std::fs::read_to_string(runs[0].1.join("report.html")).expect("html");
    let broken = dir.join("broken.html");
    std::fs::write(
        &broken,
        probed(&small, "<div style=\"width:3000px\">wide</div><script>throw new Error('probe-throws')</script>"),
    )
    .expect("write");
    let (dom, stderr) = chromium(&dir.join("profile-broken"), &broken, "--dump-dom");
    assert!(attr(&dom, "data-errors").is_some_and(|e| e.contains("probe-throws")), "the error probe missed a throw");
    assert!(
        console_errors(&stderr).iter().any(|l| l.contains("probe-throws")),
        "the console filter missed a throw:\n{stderr}"
    );
    let (closed, _, viewport) = widths(&dom, &broken);
    assert!(closed > viewport, "the width probe missed a 3000 px element: {closed} <= {viewport}");
    assert!(attr(&dom, "data-wide-closed").is_some_and(|w| w.contains("div spans")), "no wide element named");

    for (name, run) in &runs {
        let html = run.join("report.html");
        let shot = run.join("report.png");
        let started = std::time::Instant::now();
        let (_, shot_err) = chromium(&run.join("profile-shot"), &html, &format!("--screenshot={}", shot.display()));
        let render_ms = started.elapsed().as_millis();
        let png =
            std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}\n{shot_err}", shot.display()));
        assert!(png.starts_with(b"\x89PNG"), "{name}: screenshot is not a PNG");
        // A blank 1280x900 page compresses to a few kilobytes; headings, tables and text do not.
        assert!(png.len() > 30_000, "{name}: screenshot is only {} bytes: the page looks blank", png.len());

        let page = run.join("probed.html");
        std::fs::write(&page, probed(&std::fs::read_to_string(&html).expect("html"), "")).expect("write");
        let (dom, dom_err) = chromium(&run.join("profile-dom"), &page, "--dump-dom");
        let errors = [console_errors(&shot_err), console_errors(&dom_err)].concat();
        assert!(errors.is_empty(), "{name}: console errors while rendering report.html:\n{}", errors.join("\n"));
        assert_eq!(attr(&dom, "data-errors"), None, "{name}: a script error");
        let (closed, open, viewport) = widths(&dom, &page);
        let wide = |state: &str| attr(&dom, &format!("data-wide-{state}")).unwrap_or_default();
        assert!(
            closed <= viewport && wide("closed") == "0",
            "{name}: the page is {closed} px wide in a {viewport} px viewport; too wide: {}",
            wide("closed")
        );
        assert!(
            open <= viewport && wide("open") == "0",
            "{name}: with its folds open the page is {open} px wide in {viewport} px; too wide: {}",
            wide("open")
        );
        for id in ["chart-services", "chart-levels", "chart-timeline", "chart-tree"] {
            assert!(dom.contains(&format!("<svg id=\"{id}\"")), "{name}: rendered DOM lacks the #{id} chart");
        }
        let v = read_json(&run.join("report.json"));
        let trials = v["trials"].as_array().expect("trials").len();
        assert_eq!(dom.matches("class=\"trial\"").count(), trials, "{name}: a timeline bar per trial");
        assert_eq!(dom.matches("class=\"node\"").count(), trials + 1, "{name}: a tree node per trial and the start");
        eprintln!(
            "{name}: page {closed} px (folds open: {open} px) in a {viewport} px viewport, {} folds; screenshot {} bytes in {render_ms} ms ({})",
            attr(&dom, "data-folds").unwrap_or_default(),
            png.len(),
            shot.display()
        );
    }
}
