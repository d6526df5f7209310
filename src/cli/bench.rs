//! `iam-prune bench`: the benchmarks whose numbers docs/benchmarks.md quotes.

use super::{print_json, CmdResult, Exit, Global};
use iam_prune::bench::{run_case, scenario_rows, standard_cases, Row, ScenarioRow, ScenarioRun, SCENARIO_RUNS};
use iam_prune::prune::StrategyKind;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Wall-clock time of `iam-prune expand IAMFullAccess` as a fresh process (catalog load
    /// included), over repeated runs.
    Expand {
        /// Runs.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Print the section of docs/benchmarks.md (Markdown, with the machine and date).
        #[arg(long)]
        markdown: bool,
    },
    /// Trials and rounds per strategy on generated workloads, next to the lower bound.
    Prune {
        /// Fewer seeds and no n = 5,000 (a minute instead of several).
        #[arg(long)]
        quick: bool,
        /// Only cases with this universe size.
        #[arg(long)]
        n: Option<usize>,
        /// Only cases with this many needed actions.
        #[arg(long)]
        d: Option<usize>,
        /// Only this strategy.
        #[arg(long, value_enum)]
        strategy: Option<StrategyKind>,
        /// Only cases with this many trials per round.
        #[arg(long)]
        k: Option<usize>,
        /// Generated workloads, the bundled scenarios, or both (the scenarios are left out when
        /// `--n` or `--d` picks generated cells; `--strategy` and `--k` filter both).
        #[arg(long, value_enum, default_value_t = BenchSet::All)]
        set: BenchSet,
        /// Where the bundled scenarios are.
        #[arg(long, default_value = "scenarios")]
        scenarios: PathBuf,
        /// Print the sections of docs/benchmarks.md (Markdown tables with the machine and
        /// date, and the floors) instead of the text tables; `scripts/benchmarks.sh` uses it.
        #[arg(long)]
        markdown: bool,
    },
}

/// Which workloads `bench prune` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchSet {
    All,
    Generated,
    Scenarios,
}

pub fn run(args: Args, g: &Global) -> CmdResult {
    match args.command {
        Sub::Expand { runs, markdown } => bench_expand(runs, markdown, g),
        Sub::Prune { quick, n, d, strategy, k, set, scenarios, markdown } => {
            let generated = set != BenchSet::Scenarios;
            let bundled = set == BenchSet::Scenarios || (set == BenchSet::All && n.is_none() && d.is_none());
            // The scenarios first: a few seconds, and a missing directory fails before the
            // minutes of the generated grid rather than after.
            let runs: Vec<ScenarioRun> = SCENARIO_RUNS
                .into_iter()
                .filter(|r| strategy.is_none_or(|s| r.strategy == s) && k.is_none_or(|k| r.k == k))
                .collect();
            let scenario_rows = if bundled && !runs.is_empty() {
                if !g.quiet && !g.is_json() {
                    eprintln!("bundled scenarios in {} ...", scenarios.display());
                }
                scenario_rows(&scenarios, &runs)?
            } else {
                Vec::new()
            };
            let rows = if generated { bench_generated(quick, n, d, strategy, k, g) } else { Vec::new() };
            let generated_floors = if rows.is_empty() { Vec::new() } else { check_floors(&rows) };
            let scenario_floors = check_scenario_floors(&scenario_rows);
            let mut floors = generated_floors.clone();
            floors.extend(scenario_floors.iter().cloned());
            if markdown {
                // The command that regenerates exactly this section, filters included.
                let mut cmd = String::from("iam-prune bench prune");
                for (flag, v) in [("--n", n), ("--d", d), ("--k", k)] {
                    if let Some(v) = v {
                        cmd.push_str(&format!(" {flag} {v}"));
                    }
                }
                if let Some(s) = strategy {
                    cmd.push_str(&format!(" --strategy {}", s.as_str()));
                }
                if quick {
                    cmd.push_str(" --quick");
                }
                if !rows.is_empty() {
                    println!(
                        "{}",
                        super::bench_md::generated(
                            &rows,
                            &format!("{cmd} --set generated --markdown"),
                            &generated_floors
                        )
                    );
                }
                if !scenario_rows.is_empty() {
                    println!(
                        "{}",
                        super::bench_md::scenarios(
                            &scenario_rows,
                            &format!("{cmd} --set scenarios --markdown"),
                            &scenario_floors
                        )
                    );
                }
            } else if g.is_json() {
                print_json(&serde_json::json!({"rows": rows, "scenarios": scenario_rows, "floors": floors}));
            } else {
                if !rows.is_empty() {
                    print_table(&rows);
                    println!();
                }
                if !scenario_rows.is_empty() {
                    print_scenario_table(&scenario_rows);
                    println!();
                }
                for f in &floors {
                    println!(
                        "{} {}",
                        if f["ok"] == true { "PASS" } else { "FAIL" },
                        f["floor"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(if floors.iter().all(|f| f["ok"] == true) { Exit::Ok } else { Exit::Error })
        }
    }
}

/// The generated-workload grid, run over the cores.
fn bench_generated(
    quick: bool,
    n: Option<usize>,
    d: Option<usize>,
    strategy: Option<StrategyKind>,
    k: Option<usize>,
    g: &Global,
) -> Vec<Row> {
    let cases: Vec<_> = standard_cases(quick)
        .into_iter()
        .filter(|(c, _)| {
            n.is_none_or(|n| c.n == n)
                && d.is_none_or(|d| c.d == d)
                && strategy.is_none_or(|s| c.strategy == s)
                && k.is_none_or(|k| c.k == k)
        })
        .collect();
    let started = std::time::Instant::now();
    // Cases are independent: spread them over the cores.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let bar = super::progress::counter(g, cases.len(), "cases");
    let mut rows: Vec<(usize, Row)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let cases = &cases;
                let bar = &bar;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for (i, (case, seeds)) in cases.iter().enumerate().filter(|(i, _)| i % threads == t) {
                        out.push((i, run_case(*case, *seeds)));
                        if let Some(b) = bar {
                            b.inc(1);
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    if !g.quiet && !g.is_json() {
        eprintln!("{} cases in {:.1}s", cases.len(), started.elapsed().as_secs_f64());
    }
    rows
}

fn print_scenario_table(rows: &[ScenarioRow]) {
    println!("bundled scenarios: trials (/ rounds at K = 8); d given = group --expect-needed <minimal size>");
    print!("{:<30} {:>8} {:>7} {:>5} {:>6} |", "scenario", "universe", "minimal", "LB", "named");
    for x in rows.first().map(|r| r.results.as_slice()).unwrap_or_default() {
        print!(" {:>12}", scenario_run_label(x.run));
    }
    println!(" | correct");
    for row in rows {
        print!(
            "{:<30} {:>8} {:>7} {:>5} {:>6} |",
            row.name,
            row.universe,
            row.minimal,
            row.lower_bound,
            if row.named { "yes" } else { "no" }
        );
        for x in &row.results {
            let cell = if x.run.k > 1 { format!("{} / {}", x.trials, x.rounds) } else { x.trials.to_string() };
            print!(" {cell:>12}");
        }
        let correct = row.results.iter().filter(|x| x.correct).count();
        println!(" | {correct}/{}", row.results.len());
    }
}

fn scenario_run_label(r: ScenarioRun) -> String {
    format!("{} K={}{}", r.strategy.as_str(), r.k, if r.d_given { " d" } else { "" })
}

/// The scenario floors: flintrock-launch (named hints) in at most 6 trials with `auto`, and
/// every run at one of the scenario's expected minimal sets.
fn check_scenario_floors(rows: &[ScenarioRow]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    if rows.is_empty() {
        return out;
    }
    let flintrock = rows.iter().find(|r| r.name == "flintrock-launch");
    let auto = flintrock
        .and_then(|f| f.results.iter().filter(|x| x.run.strategy == StrategyKind::Auto).map(|x| x.trials).max());
    if let Some(worst) = auto {
        out.push(serde_json::json!({"floor": format!("flintrock-launch with named hints: auto at most 6 trials ({worst})"), "ok": worst <= 6}));
    }
    let wrong: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.results.iter().filter(|x| !x.correct).map(move |x| format!("{} {}", r.name, scenario_run_label(x.run)))
        })
        .collect();
    out.push(serde_json::json!({"floor": format!("bundled scenarios: every run ends at an expected minimal set {}", wrong.join("; ")), "ok": wrong.is_empty()}));
    out
}

fn print_table(rows: &[Row]) {
    println!(
        "trials (mean over seeds) with K = 1 and K = 8 (t@8), rounds with K = 4 / 8 / 16; LB = ceil(log2 C(n,d)); R_K = ceil(LB/K);\nfb = fallbacks, fl = flaky 0.1 with --confirm 2, e=d[+-1] = --expect-needed (d given, or off by one)"
    );
    println!("{:>5} {:>3} {:>5} {:>6} {:>6} | {:>4} | {:>8} {:>8} {:>8} {:>8} {:>8} | {:>6} {:>6} {:>6} | {:>4} {:>4} {:>4} | {:>7}", "n", "d", "hints", "strat", "fb", "LB", "trials", "max", "LB+d", "ok", "t@8", "r@4", "r@8", "r@16", "R_4", "R_8", "R_16", "correct");
    let key = |r: &Row| {
        (
            r.case.n,
            r.case.d,
            r.case.named,
            r.case.strategy.as_str(),
            (r.case.fallbacks * 10.0) as u32,
            (r.case.flaky * 10.0) as u32,
            r.case.expect_offset,
        )
    };
    let mut seen = Vec::new();
    for r in rows {
        let kk = key(r);
        if seen.contains(&kk) {
            continue;
        }
        seen.push(kk);
        let same: Vec<&Row> = rows.iter().filter(|x| key(x) == kk).collect();
        let at = |k: usize| same.iter().find(|x| x.case.k == k);
        let Some(r1) = at(1).or(same.first()) else { continue };
        let rounds = |k: usize| at(k).map(|x| format!("{:.1}", x.mean_rounds)).unwrap_or_else(|| "-".into());
        let trials8 = at(8).map(|x| format!("{:.1}", x.mean_trials)).unwrap_or_else(|| "-".into());
        let rb = |k: usize| r1.lower_bound.div_ceil(k as u64);
        let label = format!(
            "{}{}{}",
            if r.case.fallbacks > 0.0 { "fb" } else { "" },
            if r.case.flaky > 0.0 { "fl" } else { "" },
            match r.case.expect_offset {
                None => String::new(),
                Some(0) => "e=d".into(),
                Some(o) => format!("e=d{o:+}"),
            }
        );
        let correct: usize = same.iter().map(|x| x.correct).sum();
        let runs: usize = same.iter().map(|x| x.runs).sum();
        let within = if r1.mean_trials <= (r1.lower_bound + r.case.d as u64) as f64 { "yes" } else { "no" };
        println!(
            "{:>5} {:>3} {:>5} {:>6} {:>6} | {:>4} | {:>8.1} {:>8} {:>8} {:>8} {:>8} | {:>6} {:>6} {:>6} | {:>4} {:>4} {:>4} | {:>3}/{:<3}",
            r.case.n, r.case.d, if r.case.named { "named" } else { "hidden" }, r.case.strategy.as_str(), label, r1.lower_bound,
            r1.mean_trials, r1.max_trials, r1.lower_bound + r.case.d as u64, within, trials8, rounds(4), rounds(8), rounds(16), rb(4), rb(8), rb(16), correct, runs
        );
    }
}

fn check_floors(rows: &[Row]) -> Vec<serde_json::Value> {
    // The first floor is about d unknown; the d-given rows have their own line.
    let plain = |r: &&Row| r.case.fallbacks == 0.0 && r.case.flaky == 0.0 && r.case.expect_offset.is_none();
    let mut out = Vec::new();
    let group_k1: Vec<&Row> = rows
        .iter()
        .filter(plain)
        .filter(|r| !r.case.named && r.case.k == 1 && r.case.strategy == StrategyKind::Group)
        .collect();
    // With d unknown the floor is LB + d + 1 (docs/how-it-works.md, "How many trials"):
    // Hwang's LB + d is for d given, checked below.
    let bad: Vec<String> = group_k1
        .iter()
        .filter(|r| r.mean_trials > (r.lower_bound + r.case.d as u64 + 1) as f64)
        .map(|r| {
            format!("n={} d={}: {:.1} > {}", r.case.n, r.case.d, r.mean_trials, r.lower_bound + r.case.d as u64 + 1)
        })
        .collect();
    out.push(serde_json::json!({"floor": format!("group, hints hidden, d unknown, no flakiness: mean trials <= LB + d + 1 {}", bad.join("; ")), "ok": bad.is_empty()}));
    let given: Vec<String> = rows
        .iter()
        .filter(|r| r.case.expect_offset == Some(0) && r.case.k == 1)
        .filter(|r| r.mean_trials > (r.lower_bound + r.case.d as u64) as f64)
        .map(|r| format!("n={} d={}: {:.1} > {}", r.case.n, r.case.d, r.mean_trials, r.lower_bound + r.case.d as u64))
        .collect();
    out.push(serde_json::json!({"floor": format!("group, d given (--expect-needed d): mean trials <= LB + d {}", given.join("; ")), "ok": given.is_empty()}));
    // A wrong expectation costs trials, never the result; a few at most.
    let unknown = |w: &Row| {
        rows.iter().find(|r| {
            r.case.expect_offset.is_none()
                && r.case.fallbacks == 0.0
                && r.case.flaky == 0.0
                && r.case.named == w.case.named
                && (r.case.n, r.case.d, r.case.k, r.case.strategy) == (w.case.n, w.case.d, w.case.k, w.case.strategy)
        })
    };
    let off: Vec<String> = rows
        .iter()
        .filter(|r| matches!(r.case.expect_offset, Some(o) if o != 0))
        .filter_map(|w| unknown(w).map(|u| (w, u)))
        .filter(|(w, u)| w.mean_trials > u.mean_trials + 6.0)
        .map(|(w, u)| {
            format!(
                "n={} d={} expecting {:?}: {:.1} > {:.1} + 6",
                w.case.n,
                w.case.d,
                w.case.expect_needed(),
                w.mean_trials,
                u.mean_trials
            )
        })
        .collect();
    out.push(serde_json::json!({"floor": format!("a wrong --expect-needed costs at most 6 trials more than none {}", off.join("; ")), "ok": off.is_empty()}));
    let mut worse = Vec::new();
    for g in rows.iter().filter(plain).filter(|r| r.case.strategy == StrategyKind::Group) {
        if let Some(a) = rows.iter().filter(plain).find(|a| {
            a.case.strategy == StrategyKind::Auto
                && a.case.n == g.case.n
                && a.case.d == g.case.d
                && a.case.named == g.case.named
                && a.case.k == g.case.k
        }) {
            if a.mean_trials > g.mean_trials + 1e-9 {
                worse.push(format!(
                    "n={} d={} {} K={}: {:.1} > {:.1}",
                    g.case.n,
                    g.case.d,
                    if g.case.named { "named" } else { "hidden" },
                    g.case.k,
                    a.mean_trials,
                    g.mean_trials
                ));
            }
        }
    }
    out.push(serde_json::json!({"floor": format!("auto never worse than group (mean trials) {}", worse.join("; ")), "ok": worse.is_empty()}));
    let bad: Vec<String> = rows
        .iter()
        .filter(plain)
        .filter(|r| {
            r.case.k == 8 && matches!(r.case.strategy, StrategyKind::Group | StrategyKind::Auto) && !r.case.named
        })
        .filter(|r| r.mean_rounds > 1.6 * r.round_bound as f64 + 1.0)
        .map(|r| {
            format!(
                "{} n={} d={}: {:.1} > {:.1}",
                r.case.strategy.as_str(),
                r.case.n,
                r.case.d,
                r.mean_rounds,
                1.6 * r.round_bound as f64 + 1.0
            )
        })
        .collect();
    out.push(serde_json::json!({"floor": format!("K=8: mean rounds <= 1.6 x ceil(LB/8) + 1 {}", bad.join("; ")), "ok": bad.is_empty()}));
    let wrong: Vec<String> = rows
        .iter()
        .filter(|r| r.case.fallbacks == 0.0 && r.case.flaky == 0.0)
        .filter(|r| r.correct != r.runs)
        .map(|r| {
            format!(
                "{} n={} d={} K={}: {}/{}",
                r.case.strategy.as_str(),
                r.case.n,
                r.case.d,
                r.case.k,
                r.correct,
                r.runs
            )
        })
        .collect();
    out.push(serde_json::json!({"floor": format!("correct minimal set in 100% of cases without flakiness {}", wrong.join("; ")), "ok": wrong.is_empty()}));
    let flaky: Vec<&Row> = rows.iter().filter(|r| r.case.flaky > 0.0 && r.case.confirm >= 2).collect();
    let dropped: usize = flaky.iter().map(|r| r.dropped_needed).sum();
    // Not a floor: a spurious failure seen often enough keeps an unneeded action, the safe
    // side of flakiness; counted so that a change that trades it for trials shows.
    let runs: usize = flaky.iter().map(|r| r.runs).sum();
    let extra: usize = flaky.iter().map(|r| r.runs - r.correct - r.dropped_needed).sum();
    let trials: f64 = flaky.iter().map(|r| r.mean_trials * r.runs as f64).sum();
    out.push(serde_json::json!({"floor": format!("flaky 0.1 with --confirm 2: dropped necessary actions = {dropped} (in {runs} runs of {trials:.0} trials; {extra} kept an unneeded one)"), "ok": dropped == 0}));
    out
}

fn bench_expand(runs: usize, markdown: bool, g: &Global) -> CmdResult {
    let exe = std::env::current_exe()?;
    let mut ms: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = std::time::Instant::now();
        let status = std::process::Command::new(&exe)
            .args(["expand", "IAMFullAccess", "--quiet"])
            .stdout(std::process::Stdio::null())
            .status()?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if !status.success() {
            return Err("`iam-prune expand IAMFullAccess` failed".into());
        }
    }
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    // In-process phases of the same work, once (this process has not loaded the catalog yet).
    let t = std::time::Instant::now();
    let c = iam_prune::catalog::Catalog::embedded();
    let load = t.elapsed().as_secs_f64() * 1000.0;
    let t = std::time::Instant::now();
    let (_, policy) = c.load_policy("IAMFullAccess")?;
    let managed = t.elapsed().as_secs_f64() * 1000.0;
    let t = std::time::Instant::now();
    let n = c.expand_policy(&policy).allowed.len();
    let expand = t.elapsed().as_secs_f64() * 1000.0;
    let v = serde_json::json!({"runs": ms.len(), "min_ms": pick(0.0), "median_ms": pick(0.5), "p90_ms": pick(0.9),
        "in_process_ms": {"catalog_load": load, "managed_policy": managed, "expand": expand}, "actions": n});
    if markdown {
        println!("{}", super::bench_md::expand(&v, pick(0.5) < 20.0));
    } else if g.is_json() {
        print_json(&v);
    } else {
        println!("iam-prune expand IAMFullAccess ({n} actions), {} runs as a fresh process:", ms.len());
        println!(
            "  wall clock: min {:.1} ms, median {:.1} ms, p90 {:.1} ms (floor: 20 ms)",
            pick(0.0),
            pick(0.5),
            pick(0.9)
        );
        println!("  in process: catalog load {load:.2} ms, managed policy {managed:.2} ms, expansion {expand:.2} ms");
    }
    Ok(if pick(0.5) < 20.0 { Exit::Ok } else { Exit::Error })
}
