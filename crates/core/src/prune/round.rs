//! Running one round: its trials concurrently on the oracle, each journaled as it finishes.

use super::{Journal, PruneError, Purpose, TrialRecord};
use crate::actions::ActionSet;
use crate::oracle::{Oracle, Outcome, TrialRequest};

/// A trial of the round, as planned.
pub(super) struct Planned {
    pub(super) request: TrialRequest,
    pub(super) purpose: Purpose,
    /// The candidate as the journal writes it.
    pub(super) key: Vec<String>,
    /// The journal's outcome for this candidate, when a killed run already ran it.
    pub(super) replayed: Option<Outcome>,
}

/// Runs the round and returns each trial's record (with whether it was replayed), in request
/// order.
///
/// Each trial is journaled the moment it finishes (a kill loses no finished trial of a round
/// still running), except that repeats of one candidate are journaled in request order (a
/// resume matches them by occurrence). An oracle error lets the other running trials finish
/// (and be journaled) before it ends the run: a real workload is not killed half way.
pub(super) async fn execute(
    oracle: &dyn Oracle,
    planned: &[Planned],
    round: u64,
    universe: &ActionSet,
    journal: &mut Journal,
) -> Result<Vec<Option<(TrialRecord, bool)>>, PruneError> {
    let mut running: futures::stream::FuturesUnordered<_> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| async move {
            let result = match &p.replayed {
                Some(o) => Ok((o.clone(), true)),
                None => oracle.trial(&p.request).await.map(|o| (o, false)),
            };
            (i, result)
        })
        .collect();
    let mut finished: Vec<Option<(TrialRecord, bool)>> = vec![None; planned.len()];
    let mut written = vec![false; planned.len()];
    let mut first_error = None;
    while let Some((i, result)) = futures::StreamExt::next(&mut running).await {
        let (outcome, replayed) = match result {
            Ok(r) => r,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let Some(p) = planned.get(i) else { continue };
        let record = TrialRecord {
            id: p.request.id,
            round,
            purpose: p.purpose,
            candidate: p.key.clone(),
            candidate_removed: None,
            removed: universe.difference(&p.request.candidate).len(),
            outcome,
        };
        if let Some(slot) = finished.get_mut(i) {
            *slot = Some((record, replayed));
        }
        journal_ready(planned, &finished, &mut written, journal)?;
    }
    drop(running);
    if let Some(e) = first_error {
        // Repeats held back behind a request that errored: journal them too, in order.
        for (done, w) in finished.iter().zip(&written) {
            if let (Some((record, false)), false) = (done, w) {
                journal.append(record)?;
            }
        }
        return Err(e.into());
    }
    Ok(finished)
}

/// Journals every finished trial that no earlier unfinished request shares a candidate with.
fn journal_ready(
    planned: &[Planned],
    finished: &[Option<(TrialRecord, bool)>],
    written: &mut [bool],
    journal: &mut Journal,
) -> Result<(), PruneError> {
    for j in 0..planned.len() {
        let (Some(Some((record, replayed))), Some(false)) = (finished.get(j), written.get(j).copied()) else {
            continue;
        };
        let earlier_open = (0..j).any(|e| {
            !written.get(e).copied().unwrap_or(true) && planned.get(e).map(|p| &p.key) == Some(&record.candidate)
        });
        if earlier_open {
            continue;
        }
        if !replayed {
            journal.append(record)?;
        }
        if let Some(w) = written.get_mut(j) {
            *w = true;
        }
    }
    Ok(())
}
