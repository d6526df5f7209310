//! Progress for long work: an indicatif bar on a terminal, plain lines with `--verbose` when
//! output is redirected (logs of scheduled jobs), nothing with `--quiet`.

use super::Global;
use iam_prune::prune::{Progress, ProgressStats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// The pruning progress display.
pub struct PruneProgress {
    bar: Option<ProgressBar>,
    lines: bool,
    trial_seconds: f64,
    parallel: usize,
}

impl PruneProgress {
    /// A display for a search over `universe` actions.
    pub fn new(g: &Global, universe: usize, trial_seconds: f64, parallel: usize) -> PruneProgress {
        let tty = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        let bar = (!g.quiet && tty).then(|| {
            let b = ProgressBar::with_draw_target(Some(universe as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} decided  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            b.set_style(style);
            b
        });
        PruneProgress { bar, lines: !g.quiet && !tty && g.verbose, trial_seconds, parallel: parallel.max(1) }
    }

    /// Removes the bar before results or errors are printed.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for PruneProgress {
    fn update(&self, s: &ProgressStats) {
        let undecided = s.kept.saturating_sub(s.necessary);
        // ETA on the oracle's clock: a binary search needs about log2 of what is undecided per
        // needed action; rounds of `parallel` trials each cost one trial's time.
        let rounds_left =
            ((undecided.max(1) as f64).log2().ceil() + 1.0) * (undecided.clamp(1, 8) as f64) / self.parallel as f64;
        // The oracle's cost per round so far stands in for its declared trial time once known.
        let per_round = if s.round > 0 { s.simulated_seconds / s.round as f64 } else { self.trial_seconds };
        let eta = rounds_left * per_round;
        let msg = format!(
            "trials {} round {} kept {} dropped {} necessary {} undecided {} | simulated {:.0}s, ~{:.0}s left",
            s.trials, s.round, s.kept, s.dropped, s.necessary, undecided, s.simulated_seconds, eta
        );
        if let Some(b) = &self.bar {
            b.set_length(s.universe as u64);
            b.set_position((s.dropped + s.necessary) as u64);
            b.set_message(msg);
        } else if self.lines {
            eprintln!("{msg}");
        }
    }
}

/// A bar counting `len` items of independent work (benchmark cases), under the same rule as
/// the pruning display: drawn only when both stdout and stderr are terminals, never with
/// `--quiet` or JSON output.
pub fn counter(g: &Global, len: usize, what: &str) -> Option<ProgressBar> {
    let tty = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    (!g.quiet && !g.is_json() && tty).then(|| {
        let b = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template(&format!("{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {what}  {{elapsed}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        b.set_style(style);
        b
    })
}
