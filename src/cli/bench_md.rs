//! `bench ... --markdown`: the sections of docs/benchmarks.md, written from the measurements
//! themselves (with the machine and the date), so that the page holds only generated numbers.
//! `scripts/benchmarks.sh` runs every bench this way and replaces each section of the page
//! between its `<!-- bench:NAME -->` markers.

use iam_prune::bench::{measured_line, Row, ScenarioRow};
use iam_prune::prune::StrategyKind;
use serde_json::Value;
use std::fmt::Write;

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The floors a bench checked, as PASS/FAIL lines.
pub fn floors(floors: &[Value]) -> String {
    let mut out = String::from("Floors checked by this run:\n\n");
    for f in floors {
        let verdict = if f["ok"] == true { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "- {verdict} {}", f["floor"].as_str().unwrap_or_default().trim());
    }
    out
}

fn plain(r: &Row) -> bool {
    r.case.fallbacks == 0.0 && r.case.flaky == 0.0 && !r.case.named
}

/// The generated-workload tables: trials per strategy against the lower bound, then flakiness.
pub fn generated(rows: &[Row], command: &str, floor_list: &[Value]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{command}`. {}\n", measured_line(!cfg!(debug_assertions)));
    out.push_str(
        "Generated monotone workloads over n actions of which d are needed, placed at random; failures name\n\
         no action. LB = ceil(log2 C(n, d)), the information-theoretic lower bound on trials; R8 = ceil(LB/8).\n\
         Mean trials one trial at a time; \"d given\" is `group --expect-needed d`; \"one short / one over\" is\n\
         `--expect-needed` d - 1 and d + 1; rounds are mean rounds with 8 trials at once. Bold: over LB + d.\n\n",
    );
    out.push_str("| n | d | LB | group | group, d given | d given: one short / one over | ddmin | linear | LB + d | rounds@8: group / d given | 1.6 R8 + 1 |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let find = |n: usize, d: usize, s: StrategyKind, k: usize, e: Option<i64>| {
        rows.iter().find(|r| {
            plain(r)
                && r.case.n == n
                && r.case.d == d
                && r.case.strategy == s
                && r.case.k == k
                && r.case.expect_offset == e
        })
    };
    let mean = |r: Option<&Row>| r.map(|r| format!("{:.1}", r.mean_trials)).unwrap_or_else(|| "-".into());
    let rounds = |r: Option<&Row>| r.map(|r| format!("{:.1}", r.mean_rounds)).unwrap_or_else(|| "-".into());
    let mut cells: Vec<(usize, usize)> = rows.iter().filter(|r| plain(r)).map(|r| (r.case.n, r.case.d)).collect();
    cells.sort_unstable();
    cells.dedup();
    let (mut within, mut within_plus1, mut given_within) = (0, 0, 0);
    for &(n, d) in &cells {
        let Some(g) = find(n, d, StrategyKind::Group, 1, None) else { continue };
        let lb = g.lower_bound;
        let bound = (lb + d as u64) as f64;
        within += usize::from(g.mean_trials <= bound);
        within_plus1 += usize::from(g.mean_trials <= bound + 1.0);
        let given = find(n, d, StrategyKind::Group, 1, Some(0));
        given_within += usize::from(given.is_some_and(|x| x.mean_trials <= bound));
        let group =
            if g.mean_trials > bound { format!("**{:.1}**", g.mean_trials) } else { format!("{:.1}", g.mean_trials) };
        let r8 = lb.div_ceil(8);
        let _ = writeln!(
            out,
            "| {} | {d} | {lb} | {group} | {} | {} / {} | {} | {} | {} | {} / {} | {:.1} |",
            fmt_count(n as u64),
            mean(given),
            mean(find(n, d, StrategyKind::Group, 1, Some(-1))),
            mean(find(n, d, StrategyKind::Group, 1, Some(1))),
            mean(find(n, d, StrategyKind::Ddmin, 1, None)),
            find(n, d, StrategyKind::Linear, 1, None)
                .map(|r| fmt_count(r.mean_trials.round() as u64))
                .unwrap_or_else(|| "-".into()),
            lb + d as u64,
            rounds(find(n, d, StrategyKind::Group, 8, None)),
            rounds(find(n, d, StrategyKind::Group, 8, Some(0))),
            1.6 * r8 as f64 + 1.0,
        );
    }
    let total = cells.len();
    let _ = write!(
        out,
        "\nWhat it means: with d given, `group` stays within LB + d in {given_within} of {total} cells; with d unknown it is\n\
         within LB + d in {within} and within LB + d + 1 in {within_plus1} (why that is the floor:\n\
         [how-it-works.md](how-it-works.md#how-many-trials)). A wrong expectation costs a few trials, never the\n\
         result. `auto` equals `group` here, since failures name nothing; when they name the denied action,\n\
         `auto` needs about 2d trials whatever n:"
    );
    let mut named: Vec<String> = Vec::new();
    for &(n, d) in cells.iter().filter(|(n, _)| *n == cells.last().map(|c| c.0).unwrap_or(0)) {
        if let Some(a) = rows.iter().find(|r| {
            r.case.named
                && r.case.n == n
                && r.case.d == d
                && r.case.strategy == StrategyKind::Auto
                && r.case.k == 1
                && r.case.fallbacks == 0.0
                && r.case.flaky == 0.0
        }) {
            named.push(format!("{:.1} for d = {d}", a.mean_trials));
        }
    }
    let _ =
        writeln!(out, " {} (n = {}).\n", named.join(", "), fmt_count(cells.last().map(|c| c.0 as u64).unwrap_or(0)));

    // Flakiness.
    let flaky: Vec<&Row> = rows.iter().filter(|r| r.case.flaky > 0.0 && r.case.confirm >= 2).collect();
    if !flaky.is_empty() {
        let runs: usize = flaky.iter().map(|r| r.runs).sum();
        let dropped: usize = flaky.iter().map(|r| r.dropped_needed).sum();
        let extra: usize = flaky.iter().map(|r| r.runs - r.correct - r.dropped_needed).sum();
        let trials: f64 = flaky.iter().map(|r| r.mean_trials * r.runs as f64).sum();
        out.push_str(
            "With flaky runs (10% spurious failures and 10% spurious first-run passes) and `--confirm 2`:\n\n",
        );
        out.push_str("| measurement | value |\n|---|---:|\n");
        let _ = writeln!(out, "| runs that dropped a needed action | {dropped} of {} |", fmt_count(runs as u64));
        let _ = writeln!(
            out,
            "| runs that kept an extra action (a spurious failure seen often enough; reports show it as flakiness) | {extra} of {} |",
            fmt_count(runs as u64)
        );
        let mid = cells.iter().map(|c| c.0).find(|&n| n == 1000).or(cells.first().map(|c| c.0));
        if let Some(n) = mid {
            for k in [1, 8] {
                let per_d: Vec<(usize, f64)> = flaky
                    .iter()
                    .filter(|r| {
                        r.case.n == n
                            && !r.case.named
                            && r.case.fallbacks == 0.0
                            && r.case.k == k
                            && r.case.strategy == StrategyKind::Group
                    })
                    .map(|r| (r.case.d, r.mean_trials))
                    .collect();
                if !per_d.is_empty() {
                    let ds: Vec<String> = per_d.iter().map(|(d, _)| d.to_string()).collect();
                    let ts: Vec<String> = per_d.iter().map(|(_, t)| format!("{t:.0}")).collect();
                    let _ = writeln!(
                        out,
                        "| `group`, n = {}, d = {}, {}: mean trials | {} |",
                        fmt_count(n as u64),
                        ds.join(" / "),
                        if k == 1 { "one at a time".to_string() } else { format!("{k} at a time") },
                        ts.join(" / ")
                    );
                }
            }
        }
        let _ = writeln!(out, "| all flaky runs together: trials | {} |", fmt_count(trials.round() as u64));
        out.push_str(
            "\nWhat it means: confirmation makes flakiness cost trials, not correctness (a property test over random\n\
             workloads checks the same).\n\n",
        );
    }
    out.push_str(&floors(floor_list));
    out
}

/// The bundled-scenario table.
pub fn scenarios(rows: &[ScenarioRow], command: &str, floor_list: &[Value]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Command: `{command}` (each cell is the same run as `iam-prune prune scenarios/NAME.toml --strategy S --parallel K`). {}\n", measured_line(!cfg!(debug_assertions)));
    out.push_str(
        "Trials, or trials / rounds at K > 1; \"d given\" adds `--expect-needed` with the minimal set's size.\n\n",
    );
    let Some(first) = rows.first() else { return out };
    out.push_str("| scenario | universe | minimal | LB |");
    for x in &first.results {
        let _ =
            write!(out, " {} K={}{} |", x.run.strategy.as_str(), x.run.k, if x.run.d_given { ", d given" } else { "" });
    }
    out.push('\n');
    out.push_str("|---|---:|---:|---:|");
    for _ in &first.results {
        out.push_str("---:|");
    }
    out.push('\n');
    for r in rows {
        let _ = write!(out, "| {} | {} | {} | {} |", r.name, fmt_count(r.universe as u64), r.minimal, r.lower_bound);
        for x in &r.results {
            let mark = if x.correct { "" } else { " (wrong)" };
            if x.run.k > 1 {
                let _ = write!(out, " {} / {}{mark} |", x.trials, x.rounds);
            } else {
                let _ = write!(out, " {}{mark} |", x.trials);
            }
        }
        out.push('\n');
    }
    out.push_str(
        "\nWhat it means: real denial messages name most needed actions, so `auto` is far below the lower bound\n\
         of a blind search; eight at a time cuts rounds (the clock on AWS) at the price of some trials. Single\n\
         runs, so a right d can still lose a trial to the luck of a split.\n\n",
    );
    out.push_str(&floors(floor_list));
    out
}

/// The catalog-load section of `bench expand`.
pub fn expand(v: &Value, floor_ok: bool) -> String {
    let ms = |k: &str| v[k].as_f64().unwrap_or_default();
    let inp = |k: &str| v["in_process_ms"][k].as_f64().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Command: `iam-prune bench expand --markdown` (runs `iam-prune expand IAMFullAccess` {} times as a fresh process, the catalog parsed from the embedded data each time). {}\n",
        v["runs"],
        measured_line(!cfg!(debug_assertions))
    );
    out.push_str("| measurement | value |\n|---|---:|\n");
    let _ = writeln!(out, "| wall clock, median | {:.1} ms |", ms("median_ms"));
    let _ = writeln!(out, "| wall clock, min | {:.1} ms |", ms("min_ms"));
    let _ = writeln!(out, "| wall clock, p90 | {:.1} ms |", ms("p90_ms"));
    let _ = writeln!(
        out,
        "| in process: catalog load / managed policy / expansion | {:.2} / {:.2} / {:.2} ms |",
        inp("catalog_load"),
        inp("managed_policy"),
        inp("expand")
    );
    let _ = writeln!(
        out,
        "\nWhat it means: every command pays this to load the catalog. Floors checked by this run:\n\n- {} median below 20 ms",
        if floor_ok { "PASS" } else { "FAIL" }
    );
    out
}
