//! The run journal: an append-only JSON Lines file, flushed after every trial, from which a
//! killed run resumes without re-running recorded trials and from which reports are rebuilt.
//!
//! Line 1 is a `start` record (configuration, universe); then one `trial` record per trial;
//! a finished run ends with a `result` record. A torn last line (kill -9 during a write) is
//! ignored on resume: that trial simply runs again.

use super::PruneError;
use crate::actions::ActionSet;
use crate::catalog::Catalog;
use crate::oracle::Outcome;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Why a trial was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Proposed by the strategy.
    Search,
    /// A re-run to confirm a deciding result (`--confirm`).
    Confirm,
    /// A re-run of a result that contradicts monotonicity.
    Recheck,
    /// The final verification of the result.
    Verify,
}

/// One line of the journal, tagged by its `type`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// Line 1: how the run was started.
    Start(StartRecord),
    /// One finished trial.
    Trial(TrialRecord),
    /// The run ended (or a budget stopped it): its summary.
    Result {
        /// The run's `summary.json`.
        summary: serde_json::Value,
    },
    /// A type this build does not know (a newer build's record): skipped.
    #[serde(other)]
    Unknown,
}

/// One trial as journaled.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrialRecord {
    /// Trial number (1-based, in proposal order).
    pub id: u64,
    /// Round number (trials of one round ran concurrently).
    pub round: u64,
    /// Why it ran.
    pub purpose: Purpose,
    /// The candidate's actions (canonical names). On disk a record holds either this or
    /// `candidate_removed`, whichever is shorter; reading restores this field.
    #[serde(default)]
    pub candidate: Vec<String>,
    /// On disk only: the universe's actions the candidate lacks, when that list is shorter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_removed: Option<Vec<String>>,
    /// Number of universe actions removed from the candidate.
    pub removed: usize,
    /// What happened.
    pub outcome: Outcome,
}

/// The `start` record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StartRecord {
    /// Journal format version.
    pub version: u32,
    /// Run name (scenario name or command).
    pub name: String,
    /// Free-form description of the run's inputs, for `--resume` and reports.
    pub config: serde_json::Value,
    /// The universe under pruning.
    pub universe: Vec<String>,
    /// When the run started (RFC 3339).
    pub started: String,
}

/// An open journal: appends new records and answers recorded trials on resume.
#[derive(Debug)]
pub struct Journal {
    path: Option<PathBuf>,
    file: Option<File>,
    /// (candidate names, occurrence) -> recorded trial id and outcome.
    recorded: HashMap<(Vec<String>, usize), (u64, Outcome)>,
    /// How many times each candidate has been asked for so far in this process.
    asked: HashMap<Vec<String>, usize>,
    /// Records read back on resume.
    pub previous: Vec<TrialRecord>,
    /// The start record (written or read back).
    pub start: Option<StartRecord>,
    /// Lines that could not be read back (a torn last line), as (line number, reason).
    pub skipped: Vec<(usize, String)>,
    /// `result` records read back: the run finished (or a budget stopped it) that often.
    results_read: usize,
    /// The last `result` record's trial count and whether a budget had stopped it.
    last_result: Option<(u64, bool)>,
    /// Trial records this process appended.
    appended_trials: usize,
}

impl Journal {
    /// A journal that records nothing (benchmarks, property tests).
    pub fn in_memory() -> Journal {
        Journal {
            path: None,
            file: None,
            recorded: HashMap::new(),
            asked: HashMap::new(),
            previous: Vec::new(),
            start: None,
            skipped: Vec::new(),
            results_read: 0,
            last_result: None,
            appended_trials: 0,
        }
    }

    /// Creates a new journal file and writes the start record.
    pub fn create(path: &Path, start: StartRecord) -> Result<Journal, PruneError> {
        let mut file =
            OpenOptions::new().create_new(true).append(true).open(path).map_err(|e| PruneError::Journal {
                path: path.to_path_buf(),
                message: e.to_string(),
                help: "choose a new run directory with --out, or continue the run with --resume".into(),
            })?;
        let start = Record::Start(start);
        let line = serde_json::to_string(&start).unwrap_or_default();
        let Record::Start(start) = start else { unreachable!("made a start record above") };
        writeln!(file, "{line}").and_then(|_| file.sync_data()).map_err(|e| PruneError::io(path, e))?;
        Ok(Journal { path: Some(path.to_path_buf()), file: Some(file), start: Some(start), ..Journal::in_memory() })
    }

    /// Reads an existing journal without opening it for writing (reports).
    pub fn read(path: &Path) -> Result<Journal, PruneError> {
        let f = File::open(path).map_err(|e| PruneError::io(path, e))?;
        let mut j = Journal::in_memory();
        j.path = Some(path.to_path_buf());
        let mut occurrences: HashMap<Vec<String>, usize> = HashMap::new();
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| PruneError::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => {
                    j.skipped.push((i + 1, e.to_string()));
                    continue;
                }
            };
            let is_start = v.get("type").and_then(|t| t.as_str()) == Some("start");
            match serde_json::from_value::<Record>(v) {
                Ok(Record::Start(start)) => j.start = Some(start),
                Ok(Record::Trial(mut t)) => {
                    if let (Some(removed), Some(start)) = (t.candidate_removed.take(), j.start.as_ref()) {
                        let removed: std::collections::HashSet<&String> = removed.iter().collect();
                        t.candidate = start.universe.iter().filter(|a| !removed.contains(a)).cloned().collect();
                    }
                    let mut key = t.candidate.clone();
                    key.sort();
                    let n = occurrences.entry(key.clone()).or_default();
                    j.recorded.insert((key, *n), (t.id, t.outcome.clone()));
                    *n += 1;
                    j.previous.push(t);
                }
                Ok(Record::Result { summary }) => {
                    j.results_read += 1;
                    j.last_result = summary["trials"].as_u64().map(|t| (t, !summary["stopped"].is_null()));
                }
                Ok(Record::Unknown) => {}
                Err(e) if is_start => {
                    return Err(PruneError::Journal {
                        path: path.to_path_buf(),
                        message: format!("line {}: bad start record: {e}", i + 1),
                        help: "the journal is not an iam-prune journal or is damaged".into(),
                    })
                }
                Err(e) => j.skipped.push((i + 1, e.to_string())),
            }
        }
        if j.start.is_none() {
            let empty = std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(false);
            return Err(PruneError::Journal {
                path: path.to_path_buf(),
                message: if empty {
                    "the journal is empty: the run was stopped before it recorded anything, so there is nothing to resume".into()
                } else {
                    "no start record: this is not an iam-prune journal".into()
                },
                help: "start a new run (with --out another directory, or after removing this one)".into(),
            });
        }
        Ok(j)
    }

    /// Opens an existing journal to continue a run.
    pub fn resume(path: &Path) -> Result<Journal, PruneError> {
        let mut j = Journal::read(path)?;
        // A torn last line would corrupt the next append: end it with a newline first.
        let text_ends_clean = std::fs::read(path).map(|b| b.last() == Some(&b'\n')).unwrap_or(true);
        let mut file = OpenOptions::new().append(true).open(path).map_err(|e| PruneError::io(path, e))?;
        if !text_ends_clean {
            writeln!(file).map_err(|e| PruneError::io(path, e))?;
        }
        j.file = Some(file);
        Ok(j)
    }

    /// Checks that a resumed run prunes the same universe as the journal's: `what` says
    /// where the universe comes from, for the error.
    pub fn check_universe(&self, universe: &[String], what: &str) -> Result<(), PruneError> {
        let recorded = self.start.as_ref().map(|s| s.universe.as_slice()).unwrap_or_default();
        if recorded == universe {
            return Ok(());
        }
        Err(PruneError::ResumeMismatch(format!(
            "{what} now give {} actions to prune, the journal's run had {}",
            universe.len(),
            recorded.len()
        )))
    }

    /// The journal file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Key of a candidate: sorted canonical names (stable across processes, unlike ids of
    /// unknown actions).
    pub fn key(catalog: &Catalog, candidate: &ActionSet) -> Vec<String> {
        let mut names = candidate.names(catalog);
        names.sort();
        names
    }

    /// How many trial records the journal holds.
    pub fn recorded_trials(&self) -> usize {
        self.previous.len()
    }

    /// The largest trial id the journal holds (0 for none): a resumed run numbers its new
    /// trials after it, so that no id repeats even when the resumed search goes another way
    /// (a newer engine) and leaves some recorded trials unasked.
    pub fn max_id(&self) -> u64 {
        self.previous.iter().map(|t| t.id).max().unwrap_or(0)
    }

    /// The recorded id and outcome of the next asking of this candidate, if the killed run had
    /// it.
    pub fn replay(&mut self, key: &[String]) -> Option<(u64, Outcome)> {
        let n = self.asked.entry(key.to_vec()).or_default();
        let out = self.recorded.get(&(key.to_vec(), *n)).cloned();
        *n += 1;
        out
    }

    /// The last result record's trial count and whether a budget had stopped it.
    pub fn last_result(&self) -> Option<(u64, bool)> {
        self.last_result
    }

    /// A resumed run that ended where its journal's last result did: the journal held a
    /// result and this process ran no trial (a finished run resumed, or a budget-stopped one
    /// resumed with the same budget). Its result is not journaled again.
    pub fn already_finished(&self) -> bool {
        self.results_read > 0 && self.appended_trials == 0
    }

    /// Appends a trial record and flushes it to disk.
    pub fn append(&mut self, record: &TrialRecord) -> Result<(), PruneError> {
        self.appended_trials += 1;
        // Big candidates are written as what they lack: a journal of a 1,700-action search
        // shrinks from megabytes to kilobytes, and resume reads it back the same.
        if let Some(start) = &self.start {
            if record.candidate.len() * 2 > start.universe.len() {
                let universe: std::collections::HashSet<&String> = start.universe.iter().collect();
                // Only a subset of the universe can be restored from what it lacks.
                if record.candidate.iter().all(|a| universe.contains(a)) {
                    let have: std::collections::HashSet<&String> = record.candidate.iter().collect();
                    let removed: Vec<String> = start.universe.iter().filter(|a| !have.contains(a)).cloned().collect();
                    let compact =
                        TrialRecord { candidate: Vec::new(), candidate_removed: Some(removed), ..record.clone() };
                    return self.append_record(&Record::Trial(compact));
                }
            }
        }
        self.append_record(&Record::Trial(record.clone()))
    }

    /// Appends a record (e.g. the final `result`) and flushes it to disk.
    pub fn append_record(&mut self, record: &Record) -> Result<(), PruneError> {
        let (Some(file), Some(path)) = (self.file.as_mut(), self.path.as_ref()) else { return Ok(()) };
        let line = serde_json::to_string(record).unwrap_or_default();
        writeln!(file, "{line}").and_then(|_| file.sync_data()).map_err(|e| PruneError::io(path, e))
    }
}
