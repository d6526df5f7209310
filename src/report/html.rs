//! `report.html`: one self-contained file for a browser. Inline CSS and inline SVG only: no
//! script, no fonts or images fetched, so it opens from an attachment, an artifact store or an
//! air-gapped laptop, and a strict Content-Security-Policy (`default-src 'none'`) holds.

use super::markdown::{headline, resources_of, result_warning, where_run};
use super::model::{denial_label, Report};
use super::svg::{bar_chart, esc, timeline, tree};
use crate::oracle::Verdict;
use std::fmt::Write;

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 6px}h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.headline{font-size:16px;background:#f6f8fa;border-left:4px solid #1565c0;padding:10px 14px}
.bad{color:#c62828;font-weight:600}.good{color:#2e7d32;font-weight:600}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 3px;border-radius:3px}
pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;border:1px solid #d0d7de;padding:10px;overflow:auto;user-select:text;white-space:pre}
.scroll{overflow-x:auto;border:1px solid #eef0f2;margin:6px 0 12px}
svg .label{font-size:12px;fill:#1b1f24}svg .small{font-size:10px;fill:#444}svg .node-label{font-size:9px;fill:#fff;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:18px}
";

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items.iter().map(|s| format!("<code>{}</code>", esc(s))).collect::<Vec<_>>().join(", ")
}

/// Renders the report as one HTML page.
pub fn render(r: &Report) -> String {
    let res = &r.result;
    let t = &r.trust;
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>iam-prune report: {name}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>iam-prune report: {name}</h1>\n<p class=\"headline\" id=\"headline\">{}</p>\n",
        esc(&headline(r)),
        name = esc(&r.name)
    );
    if let Some(m) = res.expected_match {
        let _ = writeln!(
            o,
            "<p>Scenario expectation: {}</p>",
            if m { "<span class=\"good\">matched</span>" } else { "<span class=\"bad\">NOT matched</span>" }
        );
    }
    let _ = writeln!(
        o,
        "<h2>What was pruned, and how</h2>\n<table>\n<tr><th>Workload</th><td><code>{}</code> ({} oracle, {:.0} s per trial)</td></tr>\n{}<tr><th>Started</th><td>{}</td></tr>\n<tr><th>Start policy</th><td>{} actions in {} services</td></tr>\n<tr><th>Strategy</th><td><code>{}</code>, {} trial(s) at once, confirm {}{}</td></tr>\n<tr><th>Trials</th><td>{} in {} rounds (lower bound {} trials)</td></tr>\n<tr><th>Workload time</th><td>{:.0} s</td></tr>\n<tr><th>Generator</th><td>{}</td></tr>\n</table>",
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

    o.push_str("<h2>Result</h2>\n<table id=\"minimal\">\n<tr><th>Action</th><th>Resources</th><th>Proof: fails without it</th></tr>\n");
    for p in &t.proofs {
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&p.action),
            code_list(&resources_of(r, &p.action)),
            esc(&super::model::proof_label(r, p))
        );
    }
    for u in &t.undecided {
        let _ = writeln!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"bad\">undecided</td></tr>",
            esc(u),
            code_list(&resources_of(r, u))
        );
    }
    o.push_str("</table>\n<div class=\"grid\">\n<div><h3>Before and after, per service</h3>\n<div class=\"scroll\">");
    o.push_str(&bar_chart("chart-services", "Actions per service, before and after", &r.services));
    o.push_str("</div></div>\n<div><h3>Before and after, per access level</h3>\n<div class=\"scroll\">");
    o.push_str(&bar_chart("chart-levels", "Actions per access level, before and after", &r.access_levels));
    o.push_str("</div></div>\n</div>\n");

    o.push_str("<h2>Why trust it</h2>\n<ul>\n");
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
        let (class, line) = if t.policy_replayed == Some(true) { ("good", line) } else { ("bad", line) };
        let _ = writeln!(o, "<li><b>policy.json:</b> <span class=\"{class}\">{}</span></li>", esc(&line));
    }
    let _ = writeln!(
        o,
        "<li><b>1-minimality:</b> {} of {} kept actions have a failing trial without them.</li>",
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
    if t.journal_lines_skipped > 0 {
        let _ = writeln!(o, "<li>{} unreadable journal line(s) skipped.</li>", t.journal_lines_skipped);
    }
    o.push_str("</ul>\n<h3>Trial timeline</h3>\n<div class=\"scroll\">");
    o.push_str(&timeline("chart-timeline", &r.trials, res.universe));
    o.push_str("</div>\n<h3>Search tree</h3>\n<p>Each trial hangs under the passing trial whose kept set it refined; red leaves are removals that failed (the proofs). Also in <code>search.dot</code>.</p>\n<div class=\"scroll\">");
    o.push_str(&tree("chart-tree", &r.tree));
    o.push_str("</div>\n");

    render_risk(&mut o, r);

    o.push_str("<h2>Denials</h2>\n");
    if r.denials.is_empty() {
        o.push_str("<p>No trial failed with a denial.</p>\n");
    } else {
        o.push_str("<table id=\"denials\">\n<tr><th>Trial</th><th>Denied</th><th>Resource</th><th>Message</th></tr>\n");
        for d in &r.denials {
            let _ = writeln!(
                o,
                "<tr><td class=\"n\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                d.trial,
                esc(&denial_label(&d.denial)),
                esc(d.denial.resource.as_deref().unwrap_or("")),
                esc(&d.denial.message)
            );
        }
        o.push_str("</table>\n");
    }
    let tolerated: Vec<String> = r.tolerated.iter().map(denial_label).collect();
    let _ = writeln!(o, "<p>Tolerated in the verifying run: {}</p>", code_list(&tolerated));

    o.push_str("<h2>Trials</h2>\n<table id=\"trials\">\n<tr><th>#</th><th>Round</th><th>Purpose</th><th>Candidate</th><th>Removed</th><th>Verdict</th><th>Cost (s)</th><th>Denied</th></tr>\n");
    for tr in &r.trials {
        let purpose =
            serde_json::to_value(tr.purpose).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let verdict = if tr.verdict == Verdict::Pass {
            "<span class=\"good\">pass</span>"
        } else {
            "<span class=\"bad\">fail</span>"
        };
        let _ = writeln!(
            o,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{verdict}</td><td class=\"n\">{:.0}</td><td>{}</td></tr>",
            tr.id,
            tr.round,
            esc(&purpose),
            tr.size,
            tr.removed,
            tr.cost_seconds,
            esc(&tr.denied.join(", "))
        );
    }
    o.push_str("</table>\n<h2>The minimal policy</h2>\n<pre id=\"policy\">");
    o.push_str(&esc(&serde_json::to_string_pretty(&r.policy).unwrap_or_default()));
    o.push_str("</pre>\n<h2>How to apply</h2>\n");
    if let Some(w) = result_warning(r) {
        o.push_str(&format!("<p class=\"warning\" id=\"apply-warning\"><strong>{}</strong></p>\n", esc(&w)));
    }
    o.push_str("<pre id=\"apply-cli\">");
    o.push_str(&esc(&r.apply.aws_cli));
    o.push_str("</pre>\n<p>Or with Terraform:</p>\n<pre id=\"apply-terraform\">");
    o.push_str(&esc(&r.apply.terraform));
    o.push_str("</pre>\n</body>\n</html>\n");
    o
}

fn render_risk(o: &mut String, r: &Report) {
    let k = &r.risk;
    o.push_str("<h2>Risk</h2>\n<h3>Privilege escalation</h3>\n<p>Actions of the start policy that appear in Rhino Security Labs' published IAM privilege-escalation methods.</p>\n");
    if k.privilege_escalation.is_empty() {
        o.push_str("<p>None in the start policy.</p>\n");
    } else {
        o.push_str("<table id=\"privesc\">\n<tr><th>Action</th><th>Status</th><th>Method</th><th>Escalates with</th><th>Granted on</th></tr>\n");
        let mut rows: Vec<_> = k.privilege_escalation.iter().collect();
        rows.sort_by_key(|e| (!e.kept, e.action.clone()));
        for e in rows {
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.action),
                if e.kept { "<span class=\"bad\">kept</span>" } else { "<span class=\"good\">removed</span>" },
                esc(&e.method),
                if e.with.is_empty() { "alone".into() } else { code_list(&e.with) },
                if e.kept { code_list(&e.resources) } else { "-".into() }
            );
        }
        o.push_str("</table>\n");
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
    o.push_str("</table>\n");
    if r.apply.parts > 1 {
        let _ = writeln!(
            o,
            "<p id=\"parts\">Over the managed-policy limit: the run directory also holds it as {} documents that each fit, <code>policy-part-1.json</code> to <code>policy-part-{}.json</code>; the commands below create one managed policy per part.</p>",
            r.apply.parts, r.apply.parts
        );
    }
    o.push_str("<h3>Evidence gaps</h3>\n");
    if k.evidence_gaps.is_empty() {
        o.push_str("<p>None: CloudTrail logs every kept action.</p>\n");
    } else {
        o.push_str("<p>Kept actions CloudTrail never logs; pruning from recorded activity alone would have dropped them.</p>\n<ul>\n");
        for g in &k.evidence_gaps {
            let _ = writeln!(o, "<li><code>{}</code>: {}</li>", esc(&g.action), esc(&g.why));
        }
        o.push_str("</ul>\n");
    }
}
