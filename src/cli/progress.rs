//! Progress for long work: an indicatif bar on a terminal; plain lines on stderr when output
//! is redirected (logs of scheduled jobs and CI), one every [`LINE_EVERY`] at most, or every
//! round with `--verbose`; nothing with `--quiet`.

use super::Global;
use iam_prune::prune::{Progress, ProgressStats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Off a terminal, a progress line at most this often (a fast run prints none; a run of real
/// trials one every half minute or so).
const LINE_EVERY: Duration = Duration::from_secs(10);

/// The pruning progress display.
pub struct PruneProgress {
    bar: Option<ProgressBar>,
    /// Plain lines: None (a bar, or `--quiet`), every round (`--verbose`), or throttled.
    lines: Option<Lines>,
}

/// When plain lines are printed.
struct Lines {
    every_round: bool,
    /// When the last line was printed (the start at first).
    last: Mutex<Instant>,
}

impl Lines {
    /// True when a line is due now.
    fn due(&self) -> bool {
        if self.every_round {
            return true;
        }
        let Ok(mut last) = self.last.lock() else { return false };
        if last.elapsed() < LINE_EVERY {
            return false;
        }
        *last = Instant::now();
        true
    }
}

impl PruneProgress {
    /// A display for a search; its size, pace and K come with every update.
    pub fn new(g: &Global) -> PruneProgress {
        let tty = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        let bar = (!g.quiet && tty).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} decided  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            b.set_style(style);
            b
        });
        let lines = (!g.quiet && !tty).then(|| Lines { every_round: g.verbose, last: Mutex::new(Instant::now()) });
        PruneProgress { bar, lines }
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
        let eta = eta_seconds(s);
        let msg = format!(
            "trials {} round {} kept {} dropped {} necessary {} undecided {} | workload time {:.0}s, ~{:.0}s left",
            s.trials, s.round, s.kept, s.dropped, s.necessary, undecided, s.simulated_seconds, eta
        );
        if let Some(b) = &self.bar {
            b.set_length(s.universe as u64);
            b.set_position((s.dropped + s.necessary) as u64);
            b.set_message(msg);
        } else if self.lines.as_ref().is_some_and(Lines::due) {
            eprintln!("{msg}");
        }
    }
}

/// Seconds left on the oracle's clock: the trials the search expects to need, in rounds of K,
/// each costing what rounds cost so far (the oracle's declared trial time before the first).
fn eta_seconds(s: &ProgressStats) -> f64 {
    let rounds_left = (s.trials_left.max(0.0) / s.parallel.max(1) as f64).ceil();
    let per_round = if s.round > 0 { s.simulated_seconds / s.round as f64 } else { s.trial_seconds };
    rounds_left * per_round
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_throttled_unless_verbose() {
        let quiet_start = Lines { every_round: false, last: Mutex::new(Instant::now()) };
        assert!(!quiet_start.due(), "a fast run prints no line");
        let long_ago = Instant::now().checked_sub(LINE_EVERY + Duration::from_secs(1)).unwrap();
        let slow = Lines { every_round: false, last: Mutex::new(long_ago) };
        assert!(slow.due());
        assert!(!slow.due(), "the next line waits another interval");
        let verbose = Lines { every_round: true, last: Mutex::new(Instant::now()) };
        assert!(verbose.due() && verbose.due());
    }

    #[test]
    fn the_eta_counts_rounds_of_k_at_the_oracles_pace() {
        let mut s = ProgressStats { trials_left: 10.0, parallel: 4, trial_seconds: 60.0, ..ProgressStats::default() };
        // Before any round: the oracle's declared 60 s per trial, 3 rounds of 4.
        assert_eq!(eta_seconds(&s), 180.0);
        // After two rounds that cost 10 s each, rounds cost 10 s.
        s.round = 2;
        s.simulated_seconds = 20.0;
        assert_eq!(eta_seconds(&s), 30.0);
        s.parallel = 1;
        assert_eq!(eta_seconds(&s), 100.0);
    }
}
