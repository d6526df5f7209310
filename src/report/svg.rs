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
    let label_w = 190.0;
    let bar_w = 520.0;
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

/// The trial timeline: one bar per trial (height = candidate size on a log scale), coloured by
/// verdict, rounds as alternating bands, verification trials outlined.
pub fn timeline(id: &str, trials: &[TrialRow], universe: usize) -> String {
    let left = 50.0;
    let plot_h = 220.0;
    let top = 20.0;
    let step = if trials.len() > 200 {
        4.0
    } else if trials.len() > 60 {
        8.0
    } else {
        22.0
    };
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
    // Axis with decades.
    let _ = writeln!(s, "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#555\"/>", top + plot_h);
    let mut tick = 1usize;
    while tick <= universe.max(1) {
        let y = y_of(tick);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"small\">{tick}</text><line x1=\"{}\" y1=\"{y:.1}\" x2=\"{left}\" y2=\"{y:.1}\" stroke=\"#555\"/>", left - 6.0, y + 4.0, left - 3.0);
        tick *= 10;
    }
    for (i, t) in trials.iter().enumerate() {
        let x = left + step * i as f64 + 1.0;
        let y = y_of(t.size);
        let color = if t.verdict == Verdict::Pass { PASS } else { FAIL };
        let purpose =
            serde_json::to_value(t.purpose).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let stroke = if purpose == "verify" { " stroke=\"#000\" stroke-width=\"2\"" } else { "" };
        let _ = writeln!(
            s,
            "<rect class=\"trial\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"{stroke}><title>trial {} (round {}, {purpose}): {} actions, {} removed, {}, {:.0} s{}</title></rect>",
            (step - 2.0).max(1.0),
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
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{:.0}\" class=\"small\">trials in order (shaded bands: rounds); bar height: candidate size, log scale; outlined: verification</text>\n\
         <rect x=\"{left}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{PASS}\"/><text x=\"{:.0}\" y=\"{:.0}\" class=\"small\">pass</text>\
         <rect x=\"{:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{FAIL}\"/><text x=\"{:.0}\" y=\"{:.0}\" class=\"small\">fail</text>\n</svg>",
        top + plot_h + 32.0,
        top + plot_h + 38.0,
        left + 14.0,
        top + plot_h + 47.0,
        left + 50.0,
        top + plot_h + 38.0,
        left + 64.0,
        top + plot_h + 47.0
    );
    s
}

/// The search tree laid out by [`super::tree::lay_out`].
pub fn tree(id: &str, t: &SearchTree) -> String {
    let dx = if t.width > 80 { 28.0 } else { 56.0 };
    let dy = 70.0;
    let pad = 40.0;
    let w = pad * 2.0 + dx * t.width.max(1) as f64;
    let h = pad * 2.0 + dy * t.depth as f64;
    let pos = |trial: u64| {
        t.nodes.iter().find(|n| n.trial == trial).map(|n| (pad + dx * n.x + dx / 2.0, pad + dy * n.depth as f64))
    };
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"Search tree\">\n<title>Search tree: each trial under the passing trial whose kept set it refined</title>\n"
    );
    for e in &t.edges {
        if let (Some((x1, y1)), Some((x2, y2))) = (pos(e.parent), pos(e.child)) {
            let _ = writeln!(s, "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#90a4ae\" stroke-width=\"1.5\"/>");
        }
    }
    for n in &t.nodes {
        let Some((x, y)) = pos(n.trial) else { continue };
        let color = if n.trial == 0 {
            "#455a64"
        } else if n.verdict == Verdict::Pass {
            PASS
        } else {
            FAIL
        };
        let label = if n.trial == 0 { "start".to_string() } else { format!("#{}", n.trial) };
        let _ = writeln!(
            s,
            "<g class=\"node\"><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"13\" fill=\"{color}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"node-label\">{}</text><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"small\">{}</text></g>",
            esc(&n.to_string().replace('\n', ", ")),
            y + 4.0,
            esc(&label),
            y + 27.0,
            n.size
        );
    }
    s.push_str("</svg>\n");
    s
}
