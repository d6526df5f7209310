//! `report.md`: the report as GitHub renders it, for pull requests that change a policy and
//! for the `reports/` folder of the repository. Tables over prose, so a reviewer can scan it.

use super::model::{denial_label, proof_label, Breakdown, Report};
use crate::oracle::Verdict;
use std::fmt::Write;

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items.iter().map(|s| format!("`{}`", cell(s))).collect::<Vec<_>>().join(", ")
}

fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// Headline verdict lines shared by Markdown and HTML.
pub(crate) fn headline(r: &Report) -> String {
    let res = &r.result;
    let mut s = if res.complete {
        format!(
            "{} of {} actions needed ({} removed, {}).",
            res.minimal.len(),
            res.universe,
            res.removed,
            pct(res.removed, res.universe)
        )
    } else {
        format!(
            "STOPPED before the result was proven{}: {} of {} actions kept, {} proven needed, {} undecided. The policy is sufficient, not minimal.",
            res.stopped.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
            res.minimal.len(),
            res.universe,
            r.trust.proofs.len(),
            r.trust.undecided.len()
        )
    };
    match r.trust.verified_by {
        Some(t) => {
            let _ = write!(s, " Verified by trial {t}");
        }
        None => s.push_str(" NOT verified"),
    }
    s.push_str(if r.trust.minimal_proven {
        "; every kept action proven necessary."
    } else {
        "; minimality NOT proven (see undecided actions)."
    });
    if let Some(note) = result_warning(r) {
        s.push(' ');
        s.push_str(&note);
    }
    s
}

/// The result's state at a glance, as (good, text) items in the order a reviewer checks them:
/// is it finished, verified, proven minimal, does the written document replay, does it match
/// the scenario, was anything flaky. Shared by Markdown and HTML.
pub(crate) fn status(r: &Report) -> Vec<(bool, String)> {
    let res = &r.result;
    let t = &r.trust;
    let mut v = Vec::new();
    v.push(if res.empty_result {
        (false, "EMPTY RESULT: nothing of the start policy was needed".to_string())
    } else if !res.complete {
        (false, "STOPPED: sufficient, not minimal".to_string())
    } else {
        (true, "search complete".to_string())
    });
    v.push(match t.verified_by {
        Some(n) => (true, format!("verified by trial {n}")),
        None => (false, "NOT verified".to_string()),
    });
    v.push(if t.minimal_proven {
        (true, format!("every kept action proven needed ({} of {})", t.proofs.len(), res.minimal.len()))
    } else {
        (
            false,
            format!(
                "{} of {} kept actions proven needed, {} undecided",
                t.proofs.len(),
                res.minimal.len(),
                t.undecided.len()
            ),
        )
    });
    let doubtful = t.proofs.iter().filter(|p| super::model::proof_doubtful(r, p)).count();
    if doubtful > 0 {
        v.push((false, format!("{doubtful} proof(s) UNEXPLAINED")));
    }
    match t.policy_replayed {
        Some(true) => v.push((true, "policy.json replayed as written".to_string())),
        Some(false) => v.push((false, "policy.json replay FAILED".to_string())),
        None => {}
    }
    match res.expected_match {
        Some(true) => v.push((true, "scenario expectation matched".to_string())),
        Some(false) => v.push((false, "scenario expectation NOT matched".to_string())),
        None => {}
    }
    v.push(if t.flaky.is_empty() {
        (true, "no flaky candidates".to_string())
    } else {
        (false, format!("{} flaky candidate(s)", t.flaky.len()))
    });
    if !t.violations.is_empty() {
        v.push((false, format!("{} monotonicity violation(s)", t.violations.len())));
    }
    v
}

/// Where the trials ran and how candidates were applied, as (label, text) rows.
pub(crate) fn where_run(r: &Report) -> Vec<(&'static str, String)> {
    match &r.run.oracle.enforcer {
        None => vec![(
            "Trials ran on",
            "an offline replay, enforced by iam-prune's own policy evaluator (no AWS call)".to_string(),
        )],
        Some(e) => {
            let mut rows = vec![
                ("Trials ran on", format!("{} in {}", e.endpoint, e.region)),
                ("Candidates applied as", format!("{} ({})", e.applied_by, e.why)),
            ];
            if !e.unchecked.is_empty() {
                rows.push(("Not checked by this enforcer", e.unchecked.join("; ")));
            }
            rows
        }
    }
}

/// What a reader must know before applying the policy, when the result is not a plain
/// proven one: a stopped run, or an empty result.
pub(crate) fn result_warning(r: &Report) -> Option<String> {
    let res = &r.result;
    if res.empty_result {
        return Some(crate::prune::summary::EMPTY_RESULT_HELP.into());
    }
    if !res.complete {
        return Some("This run did not finish: the policy below passed, so it is sufficient, but it is not proven minimal; `iam-prune prune --resume RUN_DIR` (with a larger --max-trials or --deadline) goes on.".into());
    }
    None
}

fn breakdown_table(out: &mut String, title: &str, rows: &[Breakdown]) {
    let _ = writeln!(out, "| {title} | Before | After | Removed |\n|---|---:|---:|---:|");
    for b in rows {
        let _ = writeln!(out, "| {} | {} | {} | {} |", cell(&b.key), b.before, b.after, b.removed);
    }
    out.push('\n');
}

/// Renders the report as Markdown, in the order a reviewer reads it: the result and whether
/// to trust it, how to apply it, its risk, then the evidence.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let res = &r.result;
    let _ = writeln!(o, "# iam-prune report: {}\n", r.name);
    let _ = writeln!(o, "**Result:** {}\n", headline(r));
    let items: Vec<String> =
        status(r).into_iter().map(|(good, text)| if good { text } else { format!("**{text}**") }).collect();
    let _ = writeln!(o, "**Status:** {}\n", items.join(" · "));

    o.push_str("## Result\n\n| Action | Resources | Proof |\n|---|---|---|\n");
    for p in &r.trust.proofs {
        let resources = resources_of(r, &p.action);
        let proof = if super::model::proof_doubtful(r, p) {
            format!("trial {} (**unexplained**)", p.trial)
        } else {
            format!("trial {}", p.trial)
        };
        let _ = writeln!(o, "| `{}` | {} | {proof} |", p.action, code_list(&resources));
    }
    for u in &r.trust.undecided {
        let _ = writeln!(o, "| `{}` | {} | **undecided** |", u, code_list(&resources_of(r, u)));
    }
    o.push('\n');
    o.push_str("### Before and after, per service\n\n");
    breakdown_table(&mut o, "Service", &r.services);

    render_trust(&mut o, r);

    o.push_str("## How to apply\n\n");
    if let Some(w) = result_warning(r) {
        let _ = writeln!(o, "**{w}**\n");
    }
    o.push_str("```sh\n");
    o.push_str(&r.apply.aws_cli);
    o.push_str("```\n\nOr with Terraform:\n\n```hcl\n");
    o.push_str(&r.apply.terraform);
    o.push_str("```\n\n### The minimal policy\n\n```json\n");
    o.push_str(&serde_json::to_string_pretty(&r.policy).unwrap_or_default());
    o.push_str("\n```\n\n");

    render_risk(&mut o, r);

    o.push_str("## Evidence\n\n### Proofs\n\nFor each kept action, the trial that failed without it.\n\n");
    if r.trust.proofs.is_empty() {
        o.push_str("No proofs.\n\n");
    } else {
        o.push_str("| Action | Failed without it |\n|---|---|\n");
        for p in &r.trust.proofs {
            let _ = writeln!(o, "| `{}` | {} |", p.action, cell(&proof_label(r, p)));
        }
        o.push('\n');
    }
    o.push_str("### Denials\n\n");
    if r.denials.is_empty() {
        o.push_str("No trial failed with a denial.\n\n");
    } else {
        o.push_str("| Trial | Denied | Resource | Message |\n|---:|---|---|---|\n");
        for d in &r.denials {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                d.trial,
                cell(&denial_label(&d.denial)),
                cell(d.denial.resource.as_deref().unwrap_or("")),
                cell(&d.denial.message)
            );
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "Tolerated in the verifying run: {}\n",
        if r.tolerated.is_empty() {
            "none".to_string()
        } else {
            r.tolerated.iter().map(|d| format!("`{}`", cell(&denial_label(d)))).collect::<Vec<_>>().join(", ")
        }
    );

    let _ = writeln!(o, "### Trials\n\n{} trials in {} rounds.\n", res.trials, res.rounds);
    o.push_str("| # | Round | Purpose | Candidate | Removed | Verdict | Cost (s) | Denied |\n|---:|---:|---|---:|---:|---|---:|---|\n");
    for tr in &r.trials {
        let purpose =
            serde_json::to_value(tr.purpose).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let verdict = if tr.verdict == Verdict::Pass { "pass" } else { "**fail**" };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} |",
            tr.id,
            tr.round,
            purpose,
            tr.size,
            tr.removed,
            verdict,
            tr.cost_seconds,
            cell(&tr.denied.join(", "))
        );
    }
    o.push_str(
        "\n### Search tree\n\nIn `search.dot` (`dot -Tsvg search.dot`); `report.html` draws it by round, with the candidates tried from each passing set. The charts are in `report.html` too.\n",
    );
    o
}

/// Why trust it: the verification, the proofs, flakiness, and how the run was done.
fn render_trust(o: &mut String, r: &Report) {
    let res = &r.result;
    let run = &r.run;
    let t = &r.trust;
    o.push_str("## Why trust it\n\n");
    let _ = writeln!(
        o,
        "- **Verification:** {}",
        match t.verified_by {
            Some(v) => format!("trial {v} ran the workload under exactly the minimal set and passed."),
            None => "no trial ran the final set on its own; do not apply it unverified.".into(),
        }
    );
    if let Some(line) = replayed_line(t.policy_replayed) {
        let _ = writeln!(o, "- **policy.json:** {line}");
    }
    let _ = writeln!(
        o,
        "- **1-minimality:** {} of {} kept actions have a failing trial without them (proofs under Evidence); for a monotone workload that makes the set minimal.",
        t.proofs.len(),
        res.minimal.len()
    );
    let _ = writeln!(
        o,
        "- **Flakiness:** {} candidate(s) with disagreeing runs; {} monotonicity violation(s){}.",
        t.flaky.len(),
        t.violations.len(),
        if t.violations.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                t.violations
                    .iter()
                    .map(|v| format!("trial {} passed, superset trial {} failed", v.passed, v.failed))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    // The evidence: which runs of the same candidate disagreed.
    for f in &t.flaky {
        let _ = writeln!(o, "  - {}", super::model::flaky_evidence(f));
    }
    if !t.undecided.is_empty() {
        let _ = writeln!(o, "- **Undecided:** {} (kept, not proven needed).", code_list(&t.undecided));
    }
    if t.journal_lines_skipped > 0 {
        let _ = writeln!(
            o,
            "- **Journal:** {} unreadable line(s) skipped (a killed run's torn last line).",
            t.journal_lines_skipped
        );
    }
    o.push('\n');

    o.push_str("### What was pruned, and how\n\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Workload | `{}` ({} oracle) |", cell(&run.oracle.name), cell(&run.oracle.kind));
    for (k, v) in where_run(r) {
        let _ = writeln!(o, "| {k} | {} |", cell(&v));
    }
    let _ = writeln!(o, "| Started | {} |", cell(&r.started));
    let _ = writeln!(o, "| Start policy | {} actions in {} services |", res.universe, r.services.len());
    let _ = writeln!(
        o,
        "| Strategy | `{}`, {} trial(s) at once, confirm {}{} |",
        cell(&run.strategy),
        run.parallel,
        run.confirm,
        run.expectation_note()
    );
    let _ = writeln!(
        o,
        "| Trials | {} in {} rounds (information-theoretic lower bound: {} trials) |",
        res.trials, res.rounds, res.lower_bound
    );
    let _ = writeln!(
        o,
        "| Workload time | {:.0} s ({:.0} s per trial on this oracle) |",
        res.simulated_seconds, run.oracle.trial_seconds
    );
    let _ = writeln!(o, "| Generator | {} |\n", cell(&r.generator));
}

/// Resources of a kept action as the minimal policy grants them.
pub(crate) fn resources_of(r: &Report, action: &str) -> Vec<String> {
    if r.risk.scoping.unscoped_actions.iter().any(|a| a == action) {
        return vec!["*".into()];
    }
    let mut out = Vec::new();
    for st in r.policy.get("Statement").and_then(|s| s.as_array()).into_iter().flatten() {
        let acts: Vec<&str> =
            st.get("Action").and_then(|a| a.as_array()).into_iter().flatten().filter_map(|a| a.as_str()).collect();
        if acts.iter().any(|a| a.eq_ignore_ascii_case(action)) {
            out.extend(
                st.get("Resource")
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(String::from)),
            );
        }
    }
    out
}

fn render_risk(o: &mut String, r: &Report) {
    let k = &r.risk;
    o.push_str("## Risk\n\n### Removed and kept, by access level\n\n");
    breakdown_table(o, "Access level", &r.access_levels);
    o.push_str("### Privilege escalation\n\n");
    o.push_str("Actions of the start policy that appear in Rhino Security Labs' published IAM privilege-escalation methods.\n\n");
    if k.privilege_escalation.is_empty() {
        o.push_str("None in the start policy.\n\n");
    } else {
        o.push_str("| Action | Status | Method | Escalates with | Granted on |\n|---|---|---|---|---|\n");
        let mut rows: Vec<_> = k.privilege_escalation.iter().collect();
        rows.sort_by_key(|e| (!e.kept, e.action.clone()));
        for e in rows {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} |",
                e.action,
                if e.kept { "**kept**" } else { "removed" },
                cell(&e.method),
                if e.with.is_empty() { "alone".into() } else { code_list(&e.with) },
                if e.kept { code_list(&e.resources) } else { "-".into() }
            );
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "### Wildcards left\n\n{}\n",
        if k.wildcards.is_empty() { "None.".into() } else { code_list(&k.wildcards) }
    );
    let _ = writeln!(
        o,
        "### Resource scoping\n\n{} of {} kept actions are scoped to specific ARNs; {} on `*`{}.\n",
        k.scoping.scoped,
        k.scoping.scoped + k.scoping.unscoped,
        k.scoping.unscoped,
        if k.scoping.unscoped_actions.is_empty() {
            String::new()
        } else {
            format!(" ({})", code_list(&k.scoping.unscoped_actions))
        }
    );
    let _ = writeln!(o, "### Policy size\n\n{} characters (whitespace not counted, as IAM counts).\n\n| Limit | Characters | Fits |\n|---|---:|---|", k.policy_size);
    for l in &k.size_limits {
        let _ = writeln!(o, "| {} | {} | {} |", l.name, l.chars, if l.exceeded { "**no**" } else { "yes" });
    }
    if r.apply.parts > 1 {
        let _ = writeln!(
            o,
            "\nOver the managed-policy limit: the run directory also holds it as {} documents that each fit, `policy-part-1.json` to `policy-part-{}.json`; the commands below create one managed policy per part.",
            r.apply.parts, r.apply.parts
        );
    }
    o.push_str("\n### Evidence gaps\n\n");
    if k.evidence_gaps.is_empty() {
        o.push_str("None: CloudTrail logs every kept action.\n\n");
    } else {
        o.push_str(
            "Kept actions CloudTrail never logs; pruning from recorded activity alone would have dropped them.\n\n",
        );
        for g in &k.evidence_gaps {
            let _ = writeln!(o, "- `{}`: {}", g.action, g.why);
        }
        o.push('\n');
    }
}

/// What the trust section says of the written document's own replay (nothing when the oracle
/// cannot replay one: the verifying trial then ran the same grants on AWS).
pub(super) fn replayed_line(replayed: Option<bool>) -> Option<String> {
    match replayed? {
        true => Some("the workload was replayed under the written document itself (its conditions, resources and denies as written) and passed.".into()),
        false => Some("the workload FAILED when replayed under the written document; apply the start policy narrowed to the minimal actions instead, and report this.".into()),
    }
}
