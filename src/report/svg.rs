//! Inline SVG charts for `report.html`: drawn here as plain elements so the page needs no
//! script, no chart library and no network, and renders the same in any browser (and in a
//! headless one in the tests). Each chart has a fixed `id` the tests look for; details are in
//! `<title>` elements, which browsers show as tooltips.

use super::model::{Breakdown, TrialRow};
use super::tree::SearchTree;
use crate::oracle::Verdict;
use std::fmt::Write;

/// Escapes text for HTML and SVG content and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const PASS: &str = "#2e7d32";
const FAIL: &str = "#c62828";
const BEFORE: &str = "#cfd8dc";
const AFTER: &str = "#1565c0";

/// Horizontal bars: before (grey) with after (blue) over it, one row per key.
pub fn bar_chart(id: &str, title: &str, rows: &[Breakdown]) -> String {
    // Narrow enough for two charts side by side in the content column.
    let label_w = 170.0;
    let bar_w = 280.0;
    let row_h = 22.0;
    let top = 28.0;
    let h = top + row_h * rows.len() as f64 + 10.0;
    let max = rows.iter().map(|b| b.before.max(b.after)).max().unwrap_or(1).max(1) as f64;
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n",
        w = label_w + bar_w + 90.0,
        t = esc(title)
    );
    let _ = writeln!(
        s,
        "<rect x=\"{label_w}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{BEFORE}\"/><text x=\"{}\" y=\"16\" class=\"small\">before</text><rect x=\"{}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{AFTER}\"/><text x=\"{}\" y=\"16\" class=\"small\">after</text>",
        label_w + 16.0,
        label_w + 70.0,
        label_w + 86.0
    );
    for (i, b) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let wb = (b.before as f64 / max * bar_w).max(if b.before > 0 { 2.0 } else { 0.0 });
        let wa = (b.after as f64 / max * bar_w).max(if b.after > 0 { 3.0 } else { 0.0 });
        let _ = writeln!(
            s,
            "<g><title>{k}: {before} before, {after} after, {removed} removed</title><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" class=\"label\">{k}</text>\
             <rect x=\"{label_w}\" y=\"{y1}\" width=\"{wb:.1}\" height=\"16\" fill=\"{BEFORE}\"/>\
             <rect x=\"{label_w}\" y=\"{y2}\" width=\"{wa:.1}\" height=\"10\" fill=\"{AFTER}\"/>\
             <text x=\"{nx:.1}\" y=\"{ty}\" class=\"small\">{after} / {before}</text></g>",
            k = esc(&b.key),
            before = b.before,
            after = b.after,
            removed = b.removed,
            lx = label_w - 8.0,
            ty = y + 13.0,
            y1 = y + 1.0,
            y2 = y + 4.0,
            nx = label_w + wb.max(wa) + 6.0,
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Widest a chart is drawn: the page's content column at a 1280 px window (1180 px less the
/// body's padding), so no chart needs a scroll box however many trials or rounds a run has.
pub const MAX_CHART_WIDTH: f64 = 1120.0;

/// Pixels per trial (timeline) or per round (tree) for `n` of them in `plot_w`: roomy for a
/// handful, shrinking to fit for hundreds.
fn step_for(n: usize, plot_w: f64, roomy: f64) -> f64 {
    (plot_w / n.max(1) as f64).min(roomy)
}

pub(super) fn purpose_name<T: serde::Serialize>(p: &T) -> String {
    serde_json::to_value(p).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// The trial timeline: one bar per trial (height = candidate size on a log scale), coloured by
/// verdict, rounds as alternating bands, verification trials outlined.
pub fn timeline(id: &str, trials: &[TrialRow], universe: usize) -> String {
    let left = 50.0;
    let plot_h = 220.0;
    let top = 20.0;
    let step = step_for(trials.len(), MAX_CHART_WIDTH - left - 20.0, 22.0);
    // Wide enough for the caption even for a handful of trials.
    let w = (left + step * trials.len().max(1) as f64 + 20.0).max(660.0);
    let h = top + plot_h + 56.0;
    let scale = ((universe.max(1) + 1) as f64).log10().max(1.0);
    let y_of = |size: usize| top + plot_h - ((size + 1) as f64).log10() / scale * plot_h;
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"Trial timeline\">\n<title>Trial timeline: candidate size per trial (log scale), green pass, red fail</title>\n"
    );
    // Round bands.
    let mut i = 0;
    let mut band = false;
    while i < trials.len() {
        let round = trials.get(i).map(|t| t.round).unwrap_or_default();
        let n = trials.iter().skip(i).take_while(|t| t.round == round).count().max(1);
        if band {
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{plot_h}\" fill=\"#f3f6f9\"><title>round {round}</title></rect>",
                left + step * i as f64,
                step * n as f64
            );
        }
        band = !band;
        i += n;
    }
    size_axis(&mut s, left, top, plot_h, universe, &y_of);
    // Below 3 px a bar cannot spare a gap to its neighbour.
    let gap = if step >= 3.0 { 1.0 } else { 0.0 };
    for (i, t) in trials.iter().enumerate() {
        let x = left + step * i as f64 + gap / 2.0;
        let y = y_of(t.size);
        let color = if t.verdict == Verdict::Pass { PASS } else { FAIL };
        let purpose = purpose_name(&t.purpose);
        let stroke = if purpose == "verify" { " stroke=\"#000\" stroke-width=\"2\"" } else { "" };
        let _ = writeln!(
            s,
            "<rect class=\"trial\" x=\"{x:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{color}\"{stroke}><title>trial {} (round {}, {purpose}): {} actions, {} removed, {}, {:.0} s{}</title></rect>",
            (step - gap).max(0.5),
            (top + plot_h - y).max(1.0),
            t.id,
            t.round,
            t.size,
            t.removed,
            if t.verdict == Verdict::Pass { "pass" } else { "fail" },
            t.cost_seconds,
            if t.denied.is_empty() { String::new() } else { format!("; denied {}", esc(&t.denied.join(", "))) }
        );
        if step >= 20.0 {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"small\">{}</text>",
                x + step / 2.0 - 1.0,
                top + plot_h + 14.0,
                t.id
            );
        }
    }
    legend(
        &mut s,
        left,
        top + plot_h + 32.0,
        "trials in order (shaded bands: rounds); bar height: candidate size, log scale; outlined: verification",
    );
    s.push_str("</svg>\n");
    s
}

/// The size axis shared by the timeline and the tree: decades on a log scale.
fn size_axis(s: &mut String, left: f64, top: f64, plot_h: f64, universe: usize, y_of: &dyn Fn(usize) -> f64) {
    let _ = writeln!(s, "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#555\"/>", top + plot_h);
    let mut tick = 1usize;
    while tick <= universe.max(1) {
        let y = y_of(tick);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"small\">{tick}</text><line x1=\"{}\" y1=\"{y:.1}\" x2=\"{left}\" y2=\"{y:.1}\" stroke=\"#555\"/>", left - 6.0, y + 4.0, left - 3.0);
        tick *= 10;
    }
}

/// A caption line and the pass/fail key under a chart.
fn legend(s: &mut String, left: f64, y: f64, caption: &str) {
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{y:.0}\" class=\"small\">{}</text>\n\
         <rect x=\"{left}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{PASS}\"/><text x=\"{:.0}\" y=\"{:.0}\" class=\"small\">pass</text>\
         <rect x=\"{:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{FAIL}\"/><text x=\"{:.0}\" y=\"{:.0}\" class=\"small\">fail</text>",
        esc(caption),
        y + 6.0,
        left + 14.0,
        y + 15.0,
        left + 50.0,
        y + 6.0,
        left + 64.0,
        y + 15.0
    );
}

/// A round-axis tick spacing that gives at most about a dozen labels.
fn round_tick(rounds: u64) -> u64 {
    let mut base = 1;
    loop {
        for k in [1, 2, 5] {
            if rounds / (k * base) <= 12 {
                return k * base;
            }
        }
        base *= 10;
    }
}

/// The search tree drawn by round: a candidate sits at the round it ran in (x) and its size
/// (y, log scale like the timeline), joined to the passing set it refined. Placing nodes by
/// round rather than by leaf slot keeps a run of hundreds of trials inside the page width, and
/// the staircase of passing sets reads as the search's progress; the exact candidates of each
/// step are in the table the HTML puts under it.
pub fn tree(id: &str, t: &SearchTree, universe: usize) -> String {
    let left = 50.0;
    let top = 20.0;
    let plot_h = 240.0;
    let rounds = t.nodes.iter().map(|n| n.round).max().unwrap_or(0);
    // Columns for rounds 0 (the start policy) to the last.
    let columns = rounds as usize + 1;
    let step = step_for(columns, MAX_CHART_WIDTH - left - 30.0, 90.0);
    let w = (left + step * columns as f64 + 30.0).max(660.0);
    let h = top + plot_h + 74.0;
    let scale = ((universe.max(1) + 1) as f64).log10().max(1.0);
    let y_of = |size: usize| top + plot_h - ((size + 1) as f64).log10() / scale * plot_h;
    let x_of = |round: u64| left + step * round as f64 + step / 2.0;
    let pos: std::collections::HashMap<u64, (f64, f64)> =
        t.nodes.iter().map(|n| (n.trial, (x_of(n.round), y_of(n.size)))).collect();
    let verdict_of: std::collections::HashMap<u64, Verdict> = t.nodes.iter().map(|n| (n.trial, n.verdict)).collect();
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"Search tree by round\">\n<title>Search tree: each candidate at its round and size, joined to the passing set it refined</title>\n"
    );
    size_axis(&mut s, left, top, plot_h, universe, &y_of);
    let base = top + plot_h;
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{:.1}\" y2=\"{base}\" stroke=\"#555\"/>",
        left + step * columns as f64
    );
    let every = round_tick(rounds);
    let mut r = 0;
    while r <= rounds {
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{base}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"#555\"/><text x=\"{x:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">{}</text>",
            base + 4.0,
            base + 15.0,
            if r == 0 { "start".to_string() } else { r.to_string() },
            x = x_of(r)
        );
        r += every;
    }
    // Failed refinements first and faint, so the passing staircase stays on top.
    for pass in [false, true] {
        for e in &t.edges {
            let child_passed = verdict_of.get(&e.child) == Some(&Verdict::Pass);
            if child_passed != pass {
                continue;
            }
            if let (Some((x1, y1)), Some((x2, y2))) = (pos.get(&e.parent), pos.get(&e.child)) {
                let (stroke, width) = if pass { ("#546e7a", 1.5) } else { ("#cfd8dc", 1.0) };
                let _ = writeln!(s, "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>");
            }
        }
    }
    let r_dot = (step * 0.3).clamp(2.0, 6.0);
    // Labels only where a column is wide enough for them, and never two on top of each other.
    let mut labelled: Vec<(u64, f64)> = Vec::new();
    let mut nodes: Vec<_> = t.nodes.iter().collect();
    nodes.sort_by_key(|n| (n.verdict == Verdict::Pass, n.trial));
    for n in nodes {
        let Some(&(x, y)) = pos.get(&n.trial) else { continue };
        let color = if n.trial == 0 {
            "#455a64"
        } else if n.verdict == Verdict::Pass {
            PASS
        } else {
            FAIL
        };
        let _ = writeln!(
            s,
            "<g class=\"node\"><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r_dot:.1}\" fill=\"{color}\"/></g>",
            esc(&format!("{}, round {}", n.to_string().replace('\n', ", "), n.round)),
        );
        if step >= 60.0 && !labelled.iter().any(|&(r, ly)| r == n.round && (ly - y).abs() < 24.0) {
            labelled.push((n.round, y));
            let label = if n.trial == 0 { "start".to_string() } else { format!("#{}", n.trial) };
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" class=\"small\">{} action{}</text>",
                x + r_dot + 3.0,
                y - 2.0,
                esc(&label),
                x + r_dot + 3.0,
                y + 10.0,
                n.size,
                if n.size == 1 { "" } else { "s" }
            );
        }
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"middle\" class=\"small\">round</text>",
        left + step * columns as f64 / 2.0,
        base + 28.0
    );
    legend(
        &mut s,
        left,
        base + 46.0,
        "x: round the candidate ran in; y: its size, log scale; lines join it to the passing set it refined (dark: it passed)",
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::journal::Purpose;
    use crate::report::tree::{TreeEdge, TreeNode};

    fn width_of(svg: &str) -> f64 {
        let w = svg.split("width=\"").nth(1).and_then(|s| s.split('"').next()).expect("a width attribute");
        w.parse().expect("a numeric width")
    }

    fn row(id: u64, round: u64, size: usize, pass: bool) -> TrialRow {
        TrialRow {
            id,
            round,
            purpose: Purpose::Search,
            size,
            removed: 0,
            verdict: if pass { Verdict::Pass } else { Verdict::Fail },
            cost_seconds: 1.0,
            denied: vec![],
        }
    }

    const START: usize = 5000;

    /// A chain like a sequential search: one passing set per round, each refining the last,
    /// with a failed candidate hanging off every other one.
    fn chain(rounds: u64) -> SearchTree {
        let mut nodes = vec![TreeNode {
            trial: 0,
            size: START,
            verdict: Verdict::Pass,
            purpose: "start".into(),
            round: 0,
            depth: 0,
            x: 0.0,
        }];
        let mut edges = vec![];
        let mut parent = 0;
        for r in 1..=rounds {
            let pass = r % 2 == 1;
            nodes.push(TreeNode {
                trial: r,
                size: START - r as usize,
                verdict: if pass { Verdict::Pass } else { Verdict::Fail },
                purpose: "search".into(),
                round: r,
                depth: 0,
                x: 0.0,
            });
            edges.push(TreeEdge { parent, child: r });
            if pass {
                parent = r;
            }
        }
        SearchTree { nodes, edges, depth: 0, width: 0 }
    }

    #[test]
    fn report_charts_of_long_runs_fit_the_content_column() {
        for n in [1u64, 5, 60, 400, 3000] {
            let trials: Vec<TrialRow> = (1..=n).map(|i| row(i, i, START - i as usize, i % 3 == 0)).collect();
            let tl = timeline("t", &trials, START);
            assert!(width_of(&tl) <= MAX_CHART_WIDTH, "timeline of {n} trials is {} wide", width_of(&tl));
            assert_eq!(tl.matches("class=\"trial\"").count(), n as usize, "one bar per trial");
            let tr = tree("g", &chain(n), START);
            assert!(width_of(&tr) <= MAX_CHART_WIDTH, "tree of {n} rounds is {} wide", width_of(&tr));
            assert_eq!(tr.matches("<circle").count(), n as usize + 1, "one dot per trial and the start");
            assert!(tr.matches("<line").count() as u64 >= n, "an edge per trial");
        }
    }

    #[test]
    fn report_tree_labels_a_small_run_and_not_a_crowded_one() {
        let small = tree("g", &chain(4), START);
        for label in ["start", "#1", "#4", "4996 actions"] {
            assert!(small.contains(&format!(">{label}</text>")), "small tree lacks the label {label}");
        }
        let large = tree("g", &chain(300), START);
        assert!(!large.contains(">#1</text>"), "labels on 300 rounds would overlap");
        assert!(large.contains("<title>#150 search, 4850 actions"), "every node keeps its tooltip");
    }
}
