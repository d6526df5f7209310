//! `report.html`: one self-contained file for a browser. Inline CSS and inline SVG only: no
//! script, no fonts or images fetched, so it opens from an attachment, an artifact store or an
//! air-gapped laptop, and a strict Content-Security-Policy (`default-src 'none'`) holds.
//!
//! The page is laid out for runs of hundreds of trials as much as for a handful: sections in
//! the order a reviewer signs off (result and trust, how to apply, risk, evidence), charts
//! drawn to fit the content column, long text wrapped, and long tables showing their first rows
//! with the rest folded into a `<details>`, so nothing is wider than a 1280 px window.

use super::markdown::{headline, resources_of, result_warning, status, where_run};
use super::model::{denial_label, proof_doubtful, proof_label, Report};
use super::svg::{bar_chart, esc, purpose_name, timeline, tree};
use super::tree::{SearchTree, TreeNode};
use crate::oracle::Verdict;
use std::collections::BTreeMap;
use std::fmt::Write;

const CSS: &str = "
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 6px}h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
p,li,td,th,code,summary,h1,h2,h3{overflow-wrap:anywhere}
.headline{font-size:16px;background:#f6f8fa;border-left:4px solid #1565c0;padding:10px 14px}
.bad{color:#c62828;font-weight:600}.good{color:#2e7d32;font-weight:600}
.status{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:6px}
.status li{border:1px solid currentColor;border-radius:12px;padding:1px 10px;font-size:13px}
.warning{background:#fff4e5;border-left:4px solid #c62828;padding:8px 12px}
table{border-collapse:collapse;margin:6px 0 12px;max-width:100%}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}
table.long{width:100%;table-layout:fixed}
details.more{margin:-6px 0 12px}details.more>summary{cursor:pointer;color:#1565c0;padding:2px 0}details.more>table{margin-top:0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 3px;border-radius:3px}
pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;border:1px solid #d0d7de;padding:10px;user-select:text;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0 12px}
svg .label{font-size:12px;fill:#1b1f24}svg .small{font-size:10px;fill:#444}
.grid{display:flex;flex-wrap:wrap;gap:0 18px}.grid>div{min-width:0;max-width:100%}
.chip{display:inline-block;margin:1px 2px;padding:0 5px;border-radius:3px;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
.chip.pass{background:#e8f5e9;color:#1b5e20}.chip.fail{background:#ffebee;color:#b71c1c}.chip.next{outline:2px solid #1b5e20}
.rnd{display:inline-block;margin:1px 2px 1px 8px;font-size:12px;color:#57606a}.rnd:first-child{margin-left:0}
";

/// Rows a long table shows before folding the rest away.
const FOLD_AFTER: usize = 10;

/// Lines a code block shows unfolded; a longer one (a large policy, its Terraform) folds.
const FOLD_LINES: usize = 60;

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items.iter().map(|s| format!("<code>{}</code>", esc(s))).collect::<Vec<_>>().join(", ")
}

/// A table of `rows` (each a rendered `<tr>`) under `cols` (header, width in percent). Past
/// [`FOLD_AFTER`] rows the rest go into a `<details>` as a second table with the same fixed
/// column widths, so the two read as one and a closed fold costs no page height.
fn folded_table(o: &mut String, id: &str, cols: &[(&str, u32)], rows: &[String], what: &str) {
    let head = |o: &mut String| {
        o.push_str("<colgroup>");
        for (_, w) in cols {
            let _ = write!(o, "<col style=\"width:{w}%\">");
        }
        o.push_str("</colgroup>\n<tr>");
        for (h, _) in cols {
            let _ = write!(o, "<th>{h}</th>");
        }
        o.push_str("</tr>\n");
    };
    let _ = writeln!(o, "<table id=\"{id}\" class=\"long\">");
    head(o);
    for row in rows.iter().take(FOLD_AFTER) {
        o.push_str(row);
    }
    o.push_str("</table>\n");
    if rows.len() > FOLD_AFTER {
        let _ = writeln!(
            o,
            "<details class=\"more\" id=\"{id}-more\"><summary>{} more {what}</summary>\n<table class=\"long\">",
            rows.len() - FOLD_AFTER
        );
        head(o);
        for row in rows.iter().skip(FOLD_AFTER) {
            o.push_str(row);
        }
        o.push_str("</table>\n</details>\n");
    }
}

/// A code block; one longer than [`FOLD_LINES`] is folded under `title`.
fn code_block(o: &mut String, id: &str, title: &str, text: &str) {
    let lines = text.lines().count();
    if lines > FOLD_LINES {
        let _ = write!(
            o,
            "<details class=\"more\"><summary>{} ({lines} lines)</summary>\n<pre id=\"{id}\">{}</pre>\n</details>\n",
            esc(title),
            esc(text)
        );
    } else {
        let _ = write!(o, "<p>{}:</p>\n<pre id=\"{id}\">{}</pre>\n", esc(title), esc(text));
    }
}

/// Renders the report as one HTML page.
pub fn render(r: &Report) -> String {
    let t = &r.trust;
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>iam-prune report: {name}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>iam-prune report: {name}</h1>\n<p class=\"headline\" id=\"headline\">{}</p>\n<ul class=\"status\" id=\"status\">\n",
        esc(&headline(r)),
        name = esc(&r.name)
    );
    for (good, text) in status(r) {
        let _ = writeln!(o, "<li class=\"{}\">{}</li>", if good { "good" } else { "bad" }, esc(&text));
    }
    o.push_str("</ul>\n");

    o.push_str("<section id=\"result\">\n<h2>Result</h2>\n");
    let mut rows: Vec<String> = t
        .proofs
        .iter()
        .map(|p| {
            let proof = if proof_doubtful(r, p) {
                format!("<span class=\"bad\">trial {} (unexplained)</span>", p.trial)
            } else {
                format!("trial {}", p.trial)
            };
            format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{proof}</td></tr>\n",
                esc(&p.action),
                code_list(&resources_of(r, &p.action))
            )
        })
        .collect();
    rows.extend(t.undecided.iter().map(|u| {
        format!(
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"bad\">undecided</td></tr>\n",
            esc(u),
            code_list(&resources_of(r, u))
        )
    }));
    folded_table(&mut o, "minimal", &[("Action", 32), ("Resources", 53), ("Proof", 15)], &rows, "kept actions");
    o.push_str("<div class=\"grid\">\n<div><h3>Before and after, per service</h3>\n");
    o.push_str(&bar_chart("chart-services", "Actions per service, before and after", &r.services));
    o.push_str("</div>\n<div><h3>Before and after, per access level</h3>\n");
    o.push_str(&bar_chart("chart-levels", "Actions per access level, before and after", &r.access_levels));
    o.push_str("</div>\n</div>\n</section>\n");

    render_trust(&mut o, r);
    render_apply(&mut o, r);
    render_risk(&mut o, r);
    render_evidence(&mut o, r);
    o.push_str("</body>\n</html>\n");
    o
}

fn render_trust(o: &mut String, r: &Report) {
    let res = &r.result;
    let t = &r.trust;
    o.push_str("<section id=\"trust\">\n<h2>Why trust it</h2>\n<ul>\n");
    let _ = writeln!(
        o,
        "<li><b>Verification:</b> {}</li>",
        match t.verified_by {
            Some(v) => format!(
                "<span class=\"good\">trial {v}</span> ran the workload under exactly the minimal set and passed."
            ),
            None =>
                "<span class=\"bad\">no trial ran the final set on its own</span>; do not apply it unverified.".into(),
        }
    );
    if let Some(line) = super::markdown::replayed_line(t.policy_replayed) {
        let class = if t.policy_replayed == Some(true) { "good" } else { "bad" };
        let _ = writeln!(o, "<li><b>policy.json:</b> <span class=\"{class}\">{}</span></li>", esc(&line));
    }
    let _ = writeln!(
        o,
        "<li><b>1-minimality:</b> {} of {} kept actions have a failing trial without them (proofs under Evidence).</li>",
        t.proofs.len(),
        res.minimal.len()
    );
    let _ = writeln!(
        o,
        "<li><b>Flakiness:</b> {} candidate(s) with disagreeing runs; {} monotonicity violation(s).</li>",
        t.flaky.len(),
        t.violations.len()
    );
    for f in &t.flaky {
        let _ = writeln!(o, "<li>disagreeing runs of a candidate of {}</li>", esc(&super::model::flaky_evidence(f)));
    }
    for v in &t.violations {
        let _ = writeln!(
            o,
            "<li class=\"bad\">trial {} passed but its superset, trial {}, failed</li>",
            v.passed, v.failed
        );
    }
    if !t.undecided.is_empty() {
        let _ = writeln!(o, "<li class=\"bad\">Undecided (kept, not proven needed): {}</li>", code_list(&t.undecided));
    }
    if t.journal_lines_skipped > 0 {
        let _ = writeln!(o, "<li>{} unreadable journal line(s) skipped.</li>", t.journal_lines_skipped);
    }
    let _ = writeln!(
        o,
        "</ul>\n<h3>What was pruned, and how</h3>\n<table id=\"run\">\n<tr><th>Workload</th><td><code>{}</code> ({} oracle, {:.0} s per trial)</td></tr>\n{}<tr><th>Started</th><td>{}</td></tr>\n<tr><th>Start policy</th><td>{} actions in {} services</td></tr>\n<tr><th>Strategy</th><td><code>{}</code>, {} trial(s) at once, confirm {}{}</td></tr>\n<tr><th>Trials</th><td>{} in {} rounds (lower bound {} trials)</td></tr>\n<tr><th>Workload time</th><td>{:.0} s</td></tr>\n<tr><th>Generator</th><td>{}</td></tr>\n</table>\n</section>",
        esc(&r.run.oracle.name),
        esc(&r.run.oracle.kind),
        r.run.oracle.trial_seconds,
        where_run(r).iter().map(|(k, v)| format!("<tr><th>{k}</th><td>{}</td></tr>\n", esc(v))).collect::<String>(),
        esc(&r.started),
        res.universe,
        r.services.len(),
        esc(&r.run.strategy),
        r.run.parallel,
        r.run.confirm,
        esc(&r.run.expectation_note()),
        res.trials,
        res.rounds,
        res.lower_bound,
        res.simulated_seconds,
        esc(&r.generator)
    );
}

fn render_apply(o: &mut String, r: &Report) {
    o.push_str("<section id=\"apply\">\n<h2>How to apply</h2>\n");
    if let Some(w) = result_warning(r) {
        let _ = writeln!(o, "<p class=\"warning\" id=\"apply-warning\"><strong>{}</strong></p>", esc(&w));
    }
    if r.apply.parts > 1 {
        let _ = writeln!(
            o,
            "<p id=\"parts\">Over the managed-policy limit: the run directory also holds it as {} documents that each fit, <code>policy-part-1.json</code> to <code>policy-part-{}.json</code>; the commands below create one managed policy per part.</p>",
            r.apply.parts, r.apply.parts
        );
    }
    code_block(o, "apply-cli", "With the AWS CLI, from the run directory", &r.apply.aws_cli);
    code_block(o, "apply-terraform", "Or with Terraform", &r.apply.terraform);
    code_block(
        o,
        "policy",
        "The minimal policy (policy.json)",
        &serde_json::to_string_pretty(&r.policy).unwrap_or_default(),
    );
    o.push_str("</section>\n");
}

fn render_risk(o: &mut String, r: &Report) {
    let k = &r.risk;
    o.push_str("<section id=\"risk\">\n<h2>Risk</h2>\n<h3>Privilege escalation</h3>\n<p>Actions of the start policy that appear in Rhino Security Labs' published IAM privilege-escalation methods.</p>\n");
    if k.privilege_escalation.is_empty() {
        o.push_str("<p>None in the start policy.</p>\n");
    } else {
        let mut rows: Vec<_> = k.privilege_escalation.iter().collect();
        rows.sort_by_key(|e| (!e.kept, e.action.clone()));
        let rows: Vec<String> = rows
            .into_iter()
            .map(|e| {
                format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    esc(&e.action),
                    if e.kept { "<span class=\"bad\">kept</span>" } else { "<span class=\"good\">removed</span>" },
                    esc(&e.method),
                    if e.with.is_empty() { "alone".into() } else { code_list(&e.with) },
                    if e.kept { code_list(&e.resources) } else { "-".into() }
                )
            })
            .collect();
        folded_table(
            o,
            "privesc",
            &[("Action", 22), ("Status", 9), ("Method", 25), ("Escalates with", 22), ("Granted on", 22)],
            &rows,
            "actions",
        );
    }
    let _ = writeln!(
        o,
        "<h3>Wildcards left</h3>\n<p>{}</p>",
        if k.wildcards.is_empty() { "None.".into() } else { code_list(&k.wildcards) }
    );
    let _ = writeln!(
        o,
        "<h3>Resource scoping</h3>\n<p>{} of {} kept actions are scoped to specific ARNs; {} on <code>*</code>{}.</p>",
        k.scoping.scoped,
        k.scoping.scoped + k.scoping.unscoped,
        k.scoping.unscoped,
        if k.scoping.unscoped_actions.is_empty() {
            String::new()
        } else {
            format!(" ({})", code_list(&k.scoping.unscoped_actions))
        }
    );
    let _ = writeln!(o, "<h3>Policy size</h3>\n<p>{} characters (whitespace not counted, as IAM counts).</p>\n<table id=\"size\">\n<tr><th>Limit</th><th>Characters</th><th>Fits</th></tr>", k.policy_size);
    for l in &k.size_limits {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&l.name),
            l.chars,
            if l.exceeded { "<span class=\"bad\">no</span>" } else { "yes" }
        );
    }
    o.push_str("</table>\n<h3>Evidence gaps</h3>\n");
    if k.evidence_gaps.is_empty() {
        o.push_str("<p>None: CloudTrail logs every kept action.</p>\n");
    } else {
        o.push_str("<p>Kept actions CloudTrail never logs; pruning from recorded activity alone would have dropped them.</p>\n<ul>\n");
        for g in &k.evidence_gaps {
            let _ = writeln!(o, "<li><code>{}</code>: {}</li>", esc(&g.action), esc(&g.why));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</section>\n");
}

fn render_evidence(o: &mut String, r: &Report) {
    let res = &r.result;
    o.push_str("<section id=\"evidence\">\n<h2>Evidence</h2>\n<h3>Proofs</h3>\n<p>For each kept action, the trial that failed without it.</p>\n");
    if r.trust.proofs.is_empty() {
        o.push_str("<p>No proofs.</p>\n");
    } else {
        let rows: Vec<String> = r
            .trust
            .proofs
            .iter()
            .map(|p| format!("<tr><td><code>{}</code></td><td>{}</td></tr>\n", esc(&p.action), esc(&proof_label(r, p))))
            .collect();
        folded_table(o, "proofs", &[("Action", 32), ("Failed without it", 68)], &rows, "proofs");
    }

    o.push_str("<h3>Denials</h3>\n");
    if r.denials.is_empty() {
        o.push_str("<p>No trial failed with a denial.</p>\n");
    } else {
        let rows: Vec<String> = r
            .denials
            .iter()
            .map(|d| {
                format!(
                    "<tr><td class=\"n\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                    d.trial,
                    esc(&denial_label(&d.denial)),
                    esc(d.denial.resource.as_deref().unwrap_or("")),
                    esc(&d.denial.message)
                )
            })
            .collect();
        folded_table(
            o,
            "denials",
            &[("Trial", 7), ("Denied", 25), ("Resource", 28), ("Message", 40)],
            &rows,
            "denials",
        );
    }
    let tolerated: Vec<String> = r.tolerated.iter().map(denial_label).collect();
    let _ = writeln!(o, "<p>Tolerated in the verifying run: {}</p>", code_list(&tolerated));

    let _ = writeln!(o, "<h3>Trial timeline</h3>\n<p>{} trials in {} rounds.</p>", res.trials, res.rounds);
    o.push_str(&timeline("chart-timeline", &r.trials, res.universe));
    let rows: Vec<String> = r
        .trials
        .iter()
        .map(|tr| {
            let verdict = if tr.verdict == Verdict::Pass {
                "<span class=\"good\">pass</span>"
            } else {
                "<span class=\"bad\">fail</span>"
            };
            format!(
                "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{verdict}</td><td class=\"n\">{:.0}</td><td>{}</td></tr>\n",
                tr.id,
                tr.round,
                esc(&purpose_name(&tr.purpose)),
                tr.size,
                tr.removed,
                tr.cost_seconds,
                esc(&tr.denied.join(", "))
            )
        })
        .collect();
    folded_table(
        o,
        "trials",
        &[
            ("#", 6),
            ("Round", 7),
            ("Purpose", 9),
            ("Candidate", 10),
            ("Removed", 9),
            ("Verdict", 8),
            ("Cost (s)", 8),
            ("Denied", 43),
        ],
        &rows,
        "trials",
    );

    o.push_str("<h3>Search tree</h3>\n<p>Each trial hangs under the passing trial whose kept set it refined; red leaves are removals that failed (the proofs). Drawn by round; also in <code>search.dot</code>.</p>\n");
    o.push_str(&tree("chart-tree", &r.tree, res.universe));
    render_steps(o, &r.tree);
    o.push_str("</section>\n");
}

/// The search tree as text: one row per passing set that was refined, in trial order, with
/// the candidates tried from it grouped by round. Rows wrap instead of widening however many
/// candidates a set had, and the chip of a candidate that was refined in turn names its row.
fn render_steps(o: &mut String, t: &SearchTree) {
    let mut children: BTreeMap<u64, Vec<&TreeNode>> = BTreeMap::new();
    let by_trial: BTreeMap<u64, &TreeNode> = t.nodes.iter().map(|n| (n.trial, n)).collect();
    for e in &t.edges {
        if let Some(&n) = by_trial.get(&e.child) {
            children.entry(e.parent).or_default().push(n);
        }
    }
    let step_of: BTreeMap<u64, usize> = children.keys().enumerate().map(|(i, &p)| (p, i + 1)).collect();
    let rows: Vec<String> = children
        .iter()
        .map(|(&parent, kids)| {
            let mut kids = kids.clone();
            kids.sort_by_key(|n| (n.round, n.trial));
            let set = match by_trial.get(&parent) {
                Some(n) if n.trial > 0 => format!("#{} (round {}): {} actions", n.trial, n.round, n.size),
                Some(n) => format!("start policy: {} actions", n.size),
                None => format!("#{parent}"),
            };
            let mut cell = String::new();
            let mut round = None;
            for n in kids {
                if round != Some(n.round) {
                    round = Some(n.round);
                    let _ = write!(cell, "<span class=\"rnd\">r{}</span>", n.round);
                }
                let pass = n.verdict == Verdict::Pass;
                let next = step_of.get(&n.trial);
                let _ = write!(
                    cell,
                    "<span class=\"chip {}{}\" title=\"{}\">#{} {} {}{}{}</span> ",
                    if pass { "pass" } else { "fail" },
                    if next.is_some() { " next" } else { "" },
                    esc(&format!("{}, round {}", n.to_string().replace('\n', ", "), n.round)),
                    n.trial,
                    n.size,
                    if pass { "\u{2713}" } else { "\u{2717}" },
                    if n.purpose == "search" { String::new() } else { format!(" {}", esc(&n.purpose)) },
                    next.map(|s| format!(" \u{2192}{s}")).unwrap_or_default()
                );
            }
            format!(
                "<tr><td class=\"n\">{}</td><td>{}</td><td>{cell}</td></tr>\n",
                step_of.get(&parent).copied().unwrap_or_default(),
                esc(&set)
            )
        })
        .collect();
    o.push_str("<p>The same tree as steps: each passing set that was refined, and the candidates tried from it by round (<code>rN</code>), as trial, size and verdict (\u{2713} pass, \u{2717} fail); an outlined candidate was refined in turn, in the step its arrow names.</p>\n");
    folded_table(
        o,
        "tree-steps",
        &[("Step", 7), ("Refined set", 23), ("Candidates tried from it", 70)],
        &rows,
        "steps",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_long_tables_fold_after_the_first_rows() {
        let rows: Vec<String> = (1..=25).map(|i| format!("<tr><td>row {i}</td></tr>\n")).collect();
        let mut o = String::new();
        folded_table(&mut o, "x", &[("A", 100)], &rows, "rows");
        let (shown, folded) = o.split_once("<details").expect("25 rows fold");
        assert_eq!(shown.matches("<tr><td>").count(), FOLD_AFTER);
        assert!(shown.contains("row 10<") && !shown.contains("row 11<"));
        assert!(folded.contains("<summary>15 more rows</summary>") && folded.contains("row 25<"));
        assert_eq!(folded.matches("<th>A</th>").count(), 1, "the folded part repeats the header");
        let mut short = String::new();
        folded_table(&mut short, "x", &[("A", 100)], rows.get(..FOLD_AFTER).unwrap_or_default(), "rows");
        assert!(!short.contains("<details"), "{FOLD_AFTER} rows need no fold");
    }
}
