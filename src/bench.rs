//! The pruning benchmark: trials and rounds per strategy over generated monotone workloads,
//! next to the information-theoretic lower bound, with PASS/FAIL per floor. `iam-prune bench
//! prune` prints it; `--markdown` writes the tables of docs/benchmarks.md.

use crate::actions::ActionSet;
use crate::catalog::ActionId;
use crate::prune::synthetic::SyntheticOracle;
use crate::prune::{lower_bound, run, Journal, NoProgress, PruneConfig, StrategyKind};

/// One benchmark configuration.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Case {
    /// Universe size.
    pub n: usize,
    /// Needed actions (requirements).
    pub d: usize,
    /// Share of requirements with a two-way fallback.
    pub fallbacks: f64,
    /// Flaky rate (spurious failures, and spurious first-run passes from propagation).
    pub flaky: f64,
    /// Denials name the action.
    pub named: bool,
    /// Strategy.
    pub strategy: StrategyKind,
    /// Parallel trials per round.
    pub k: usize,
    /// `--confirm`.
    pub confirm: usize,
    /// `--expect-needed` as an offset from the true d (`Some(0)`: d given exactly); `None`:
    /// d unknown, as the floors are measured.
    pub expect_offset: Option<i64>,
}

impl Case {
    /// A case with d unknown.
    fn plain(n: usize, d: usize, named: bool, strategy: StrategyKind, k: usize) -> Case {
        Case { n, d, fallbacks: 0.0, flaky: 0.0, named, strategy, k, confirm: 1, expect_offset: None }
    }

    /// The `--expect-needed` value this case passes.
    pub fn expect_needed(&self) -> Option<usize> {
        self.expect_offset.map(|o| (self.d as i64 + o).max(0) as usize)
    }
}

/// Aggregated results of one case over its seeds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// The case.
    #[serde(flatten)]
    pub case: Case,
    /// Seeds run.
    pub runs: usize,
    /// Mean trials.
    pub mean_trials: f64,
    /// Max trials.
    pub max_trials: u64,
    /// Mean rounds.
    pub mean_rounds: f64,
    /// ceil(log2 C(n, d)).
    pub lower_bound: u64,
    /// ceil(LB / K).
    pub round_bound: u64,
    /// Runs whose result was a minimal sufficient set.
    pub correct: usize,
    /// Runs whose result dropped a needed action (result not sufficient).
    pub dropped_needed: usize,
}

/// Runs one case over `seeds` seeds.
pub fn run_case(case: Case, seeds: u64) -> Row {
    let ids: Vec<ActionId> = (0..case.n).map(ActionId::from_index).collect();
    let universe: ActionSet = ids.iter().copied().collect();
    let lb = lower_bound(case.n, case.d);
    let mut row = Row {
        case,
        runs: 0,
        mean_trials: 0.0,
        max_trials: 0,
        mean_rounds: 0.0,
        lower_bound: lb,
        round_bound: lb.div_ceil(case.k as u64),
        correct: 0,
        dropped_needed: 0,
    };
    for seed in 0..seeds {
        let mut o =
            SyntheticOracle::generate(&ids, case.d, case.fallbacks, seed * 7919 + case.n as u64 + case.d as u64);
        o.named = case.named;
        o.flaky_failure_rate = case.flaky;
        o.propagation_miss_rate = case.flaky;
        let cfg = PruneConfig {
            strategy: case.strategy,
            parallel: case.k,
            confirm: case.confirm,
            expect_needed: case.expect_needed(),
            ..PruneConfig::default()
        };
        let Ok(r) = futures::executor::block_on(run(&o, &universe, &cfg, &mut Journal::in_memory(), &NoProgress))
        else {
            continue;
        };
        row.runs += 1;
        row.mean_trials += r.trial_count() as f64;
        row.max_trials = row.max_trials.max(r.trial_count());
        row.mean_rounds += r.rounds as f64;
        if o.is_minimal(&r.minimal) {
            row.correct += 1;
        }
        if !o.is_sufficient(&r.minimal) {
            row.dropped_needed += 1;
        }
    }
    if row.runs > 0 {
        row.mean_trials /= row.runs as f64;
        row.mean_rounds /= row.runs as f64;
    }
    row
}

/// The standard grid: every (n, d) with hints hidden and named, each strategy, K = 1, 4, 8,
/// 16; plus fallbacks and flakiness rows for the group-testing strategies, and `group` with d
/// given (exactly and off by one).
pub fn standard_cases(quick: bool) -> Vec<(Case, u64)> {
    let ns: &[usize] = if quick { &[200, 1000] } else { &[200, 1000, 5000] };
    let ds: &[usize] = &[1, 2, 5, 10, 20];
    let mut out = Vec::new();
    for &n in ns {
        for &d in ds {
            for named in [false, true] {
                for strategy in [StrategyKind::Auto, StrategyKind::Group, StrategyKind::Ddmin, StrategyKind::Linear] {
                    for k in [1usize, 4, 8, 16] {
                        // ddmin and linear are baselines: fewer seeds, and linear only up to n = 1000.
                        let seeds = match strategy {
                            StrategyKind::Auto | StrategyKind::Group => {
                                if quick {
                                    5
                                } else {
                                    20
                                }
                            }
                            StrategyKind::Ddmin => 3,
                            StrategyKind::Linear => 1,
                        };
                        if strategy == StrategyKind::Linear && n > 1000 {
                            continue;
                        }
                        out.push((Case::plain(n, d, named, strategy, k), seeds));
                    }
                }
                for strategy in [StrategyKind::Auto, StrategyKind::Group] {
                    for k in [1usize, 8] {
                        let seeds = if quick { 5 } else { 10 };
                        let c = Case::plain(n, d, named, strategy, k);
                        out.push((Case { fallbacks: 0.3, ..c }, seeds));
                        out.push((Case { flaky: 0.1, confirm: 2, ..c }, seeds));
                        out.push((Case { fallbacks: 0.3, flaky: 0.1, confirm: 2, ..c }, seeds));
                    }
                }
                // d given (`--expect-needed`, as a scheduled re-prune passes it): exactly, and
                // off by one either way, to show what a wrong expectation costs.
                if !named {
                    let seeds = if quick { 5 } else { 20 };
                    for (k, offsets) in [(1usize, &[0i64, -1, 1][..]), (8, &[0][..])] {
                        for &o in offsets {
                            if d as i64 + o >= 0 {
                                let c = Case::plain(n, d, named, StrategyKind::Group, k);
                                out.push((Case { expect_offset: Some(o), ..c }, seeds));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// One way of running a bundled scenario in the scenario benchmark.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ScenarioRun {
    /// Strategy.
    pub strategy: StrategyKind,
    /// Parallel trials per round.
    pub k: usize,
    /// `--expect-needed` set to the scenario's minimal set size.
    pub d_given: bool,
}

/// The runs of the scenario table: `auto` one and eight at a time, `group` without and with d
/// given, and `ddmin` (`linear` is n trials by construction, not worth the minutes on the
/// 1,681-action scenario).
pub const SCENARIO_RUNS: [ScenarioRun; 5] = [
    ScenarioRun { strategy: StrategyKind::Auto, k: 1, d_given: false },
    ScenarioRun { strategy: StrategyKind::Auto, k: 8, d_given: false },
    ScenarioRun { strategy: StrategyKind::Group, k: 1, d_given: false },
    ScenarioRun { strategy: StrategyKind::Group, k: 1, d_given: true },
    ScenarioRun { strategy: StrategyKind::Ddmin, k: 1, d_given: false },
];

/// One bundled scenario run one way.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioResult {
    /// How it was run.
    #[serde(flatten)]
    pub run: ScenarioRun,
    /// Trials, including the verification.
    pub trials: u64,
    /// Rounds.
    pub rounds: u64,
    /// The result is one of the scenario's expected minimal sets.
    pub correct: bool,
}

/// A bundled scenario in the scenario benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioRow {
    /// Scenario name.
    pub name: String,
    /// The file.
    pub file: std::path::PathBuf,
    /// Universe size.
    pub universe: usize,
    /// Size of the expected minimal set (the smallest, when several are acceptable).
    pub minimal: usize,
    /// ceil(log2 C(universe, minimal)).
    pub lower_bound: u64,
    /// The scenario's failures name the denied action (`auto` uses that).
    pub named: bool,
    /// One result per run asked for.
    pub results: Vec<ScenarioResult>,
}

/// Runs every `*.toml` scenario in `dir` (sorted by file name) each of the `runs` ways (some
/// of [`SCENARIO_RUNS`]).
pub fn scenario_rows(dir: &std::path::Path, runs: &[ScenarioRun]) -> Result<Vec<ScenarioRow>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read the scenarios directory `{}`: {e} (run from the repository root, or pass --scenarios DIR)",
            dir.display()
        )
    })?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no scenario files (*.toml) in `{}`", dir.display()));
    }
    let mut rows = Vec::new();
    for file in files {
        let scenario = crate::workload::Scenario::load(&file).map_err(|e| crate::with_help(&e, e.help()))?;
        if !scenario.has_expectation {
            return Err(format!("`{}` has no [expect] table: the bench checks results against it", file.display()));
        }
        let expected = scenario.acceptable_minimal_sets();
        let minimal = expected.iter().map(ActionSet::len).min().unwrap_or(0);
        let oracle = crate::oracle::scenario::ScenarioOracle::new(&scenario);
        let named = crate::oracle::Oracle::info(&oracle).names_denials;
        let mut results = Vec::new();
        for &run_as in runs {
            let cfg = PruneConfig {
                strategy: run_as.strategy,
                parallel: run_as.k,
                expect_needed: run_as.d_given.then_some(minimal),
                ..PruneConfig::default()
            };
            let r = futures::executor::block_on(run(
                &oracle,
                &scenario.universe,
                &cfg,
                &mut Journal::in_memory(),
                &NoProgress,
            ))
            .map_err(|e| crate::with_help(format!("{}: {e}", file.display()), e.help()))?;
            results.push(ScenarioResult {
                run: run_as,
                trials: r.trial_count(),
                rounds: r.rounds,
                correct: expected.contains(&r.minimal),
            });
        }
        rows.push(ScenarioRow {
            name: scenario.name.clone(),
            file,
            universe: scenario.universe.len(),
            minimal,
            lower_bound: lower_bound(scenario.universe.len(), minimal),
            named,
            results,
        });
    }
    Ok(rows)
}

/// The machine, date and build of a measurement, for the Markdown sections of
/// docs/benchmarks.md: "Measured 2026-12-02 on 2 cores (AMD EPYC ...), 24 GiB, release
/// build, engine 7." (`cfg!(debug_assertions)` tells the build of the caller's crate).
pub fn measured_line(release: bool) -> String {
    let date = time::OffsetDateTime::now_utc().date();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| format!(", {:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    let build = if release { "release" } else { "debug" };
    format!("Measured {date} on {cores} cores ({cpu}){mem_gib}, {build} build, engine {}.", crate::prune::ENGINE)
}
