//! Search strategies: given what is known, which candidates to run next.
//!
//! A strategy only proposes candidate sets; the engine runs them, records the facts in
//! [`Knowledge`], confirms deciding results and resolves contradictions. Strategies must be
//! deterministic functions of the knowledge (and their own state), so that a resumed run
//! proposes exactly the trials the killed run recorded.
//!
//! One strategy per module: `group` (adaptive group testing, for `auto` and `group`), which
//! plans its rounds by `splitting` positive groups or, while few needed actions are left, by
//! `decoding` them with the test designs of `codes`; `ddmin`; `linear`.

mod codes;
mod ddmin;
mod decoding;
mod group;
mod linear;
mod splitting;

use super::knowledge::Knowledge;
use super::posterior::Prior;
use crate::actions::ActionSet;
use crate::catalog::ActionId;
use ddmin::Ddmin;
use group::GroupTesting;
use linear::Linear;

/// Which strategy to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    /// Structure and evidence: denial hints, priors, the service tree, then group testing.
    Auto,
    /// Adaptive group testing (Hwang's generalized binary splitting, density estimated online).
    Group,
    /// Zeller's delta debugging (ddmin), the baseline.
    Ddmin,
    /// One action at a time, as done by hand in the console.
    Linear,
}

impl StrategyKind {
    /// Every strategy's name, as the command line takes them.
    pub const NAMES: [&'static str; 4] = ["auto", "group", "ddmin", "linear"];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Auto => "auto",
            StrategyKind::Group => "group",
            StrategyKind::Ddmin => "ddmin",
            StrategyKind::Linear => "linear",
        }
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(StrategyKind::Auto),
            "group" => Ok(StrategyKind::Group),
            "ddmin" => Ok(StrategyKind::Ddmin),
            "linear" => Ok(StrategyKind::Linear),
            _ => Err(UnknownStrategy(s.to_string())),
        }
    }
}

/// A strategy name that is none of [`StrategyKind::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy `{0}` (one of auto, group, ddmin, linear)")]
pub struct UnknownStrategy(String);

/// Evidence a strategy may use besides trial verdicts.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Actions named by denials in failed trials, with the candidate they failed under.
    pub named: Vec<(ActionSet, Vec<ActionId>)>,
    /// Priors: actions believed needed (CloudTrail activity, `--likely`).
    pub likely: ActionSet,
    /// The oracle says its failures usually name the denied action.
    pub names_denials: bool,
}

/// A search strategy.
pub trait Strategy: Send {
    /// Up to `slots` candidates to run next; empty when the strategy has nothing left to ask.
    /// Candidates must not be answerable from `knowledge` by monotone inference.
    fn propose(&mut self, knowledge: &Knowledge, evidence: &Evidence, slots: usize) -> Vec<ActionSet>;

    /// About how many trials are left, for the progress display's ETA; None when the strategy
    /// has no estimate of its own (the engine then makes one from the counts).
    fn trials_left(&self, _knowledge: &Knowledge) -> Option<f64> {
        None
    }
}

/// Creates a strategy. `order` is the order in which actions are grouped (service tree order);
/// `prior` is what the group-testing strategies believe about the number of needed actions.
pub fn new_strategy(kind: StrategyKind, order: Vec<ActionId>, prior: Prior) -> Box<dyn Strategy> {
    match kind {
        StrategyKind::Auto => Box::new(GroupTesting::with_evidence(order, prior)),
        StrategyKind::Group => Box::new(GroupTesting::verdicts_only(order, prior)),
        StrategyKind::Ddmin => Box::new(Ddmin::new()),
        StrategyKind::Linear => Box::new(Linear::new()),
    }
}

/// Splits `ids` into `p` contiguous parts of nearly equal size.
fn split_even(ids: &[ActionId], p: usize) -> Vec<ActionSet> {
    let p = p.max(1);
    (0..p)
        .map(|i| ids.get(i * ids.len() / p..(i + 1) * ids.len() / p).unwrap_or_default().iter().copied().collect())
        .collect()
}
