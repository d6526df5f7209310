//! The history of scheduled runs, in SQLite: one row per schedule run and per job run, so each
//! run can be compared with the job's previous one and `schedule history` can answer "since when
//! does this job need `s3:PutObject`?".
//!
//! Crash safety: every change is one transaction (WAL journal, `synchronous=FULL`), so a kill
//! mid-write leaves either the old or the new state. A job run is recorded as `running` before
//! it starts; a later schedule run (holding the lock, so nobody else is running) marks leftover
//! `running` rows `abandoned`, and may resume their run directories.

use super::ScheduleError;
use rusqlite::{params, Connection, Transaction};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Version of the database layout (`PRAGMA user_version`).
pub const DB_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schedules (
  id INTEGER PRIMARY KEY,
  started TEXT NOT NULL,
  finished TEXT,
  jobs_file TEXT NOT NULL,
  dir TEXT NOT NULL,
  outcome TEXT,
  exit_code INTEGER
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  schedule_id INTEGER NOT NULL REFERENCES schedules(id),
  job TEXT NOT NULL,
  scenario TEXT NOT NULL,
  run_dir TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'abandoned')),
  started TEXT NOT NULL,
  finished TEXT,
  minimal TEXT,
  verified INTEGER,
  minimal_proven INTEGER,
  trials INTEGER,
  rounds INTEGER,
  change TEXT CHECK (change IN ('new', 'unchanged', 'narrowed', 'widened')),
  previous_run INTEGER REFERENCES runs(id),
  added TEXT,
  removed TEXT,
  resumed INTEGER NOT NULL DEFAULT 0,
  error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs(job, id);
";

/// One job run as the history holds it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// The schedule run it belonged to.
    pub schedule_id: i64,
    /// Job name.
    pub job: String,
    /// Scenario file.
    pub scenario: String,
    /// Run directory.
    pub run_dir: String,
    /// `running`, `done`, `failed` or `abandoned`.
    pub status: String,
    /// Start (RFC 3339).
    pub started: String,
    /// End, when it ended.
    pub finished: Option<String>,
    /// The minimal actions (done runs).
    pub minimal: Vec<String>,
    /// The result was verified.
    pub verified: Option<bool>,
    /// Trials run.
    pub trials: Option<i64>,
    /// `new`, `unchanged`, `narrowed` or `widened` (done runs).
    pub change: Option<String>,
    /// The run it was compared with.
    pub previous_run: Option<i64>,
    /// Actions needed now but not before.
    pub added: Vec<String>,
    /// Actions needed before but not now.
    pub removed: Vec<String>,
    /// The run continued an abandoned run's directory.
    pub resumed: bool,
    /// Why it failed.
    pub error: Option<String>,
}

/// What a finished job run found, to record.
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    /// The minimal actions, sorted.
    pub minimal: &'a [String],
    /// Verified by a trial.
    pub verified: bool,
    /// Every action proven necessary.
    pub minimal_proven: bool,
    /// Trials.
    pub trials: u64,
    /// Rounds.
    pub rounds: u64,
    /// `new`, `unchanged`, `narrowed` or `widened`.
    pub change: &'a str,
    /// The run compared with.
    pub previous_run: Option<i64>,
    /// Added actions.
    pub added: &'a [String],
    /// Removed actions.
    pub removed: &'a [String],
}

/// An open history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    path: PathBuf,
}

fn now() -> String {
    crate::run::now_rfc3339()
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn parse_list(v: Option<String>) -> Vec<String> {
    v.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

impl History {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<History, ScheduleError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ScheduleError::Io { path: dir.to_path_buf(), source })?;
        }
        let db = |source| ScheduleError::Db { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db)?;
        if version > DB_VERSION {
            return Err(ScheduleError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "database layout version {version} is newer than this iam-prune understands ({DB_VERSION})"
                ),
                help: "use a newer iam-prune, or another --history file".into(),
            });
        }
        conn.execute_batch(&format!("BEGIN; {SCHEMA} PRAGMA user_version = {DB_VERSION}; COMMIT;")).map_err(db)?;
        Ok(History { conn, path: path.to_path_buf() })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> ScheduleError + '_ {
        move |source| ScheduleError::Db { path: self.path.clone(), source }
    }

    fn tx(&mut self) -> Result<Transaction<'_>, ScheduleError> {
        let path = self.path.clone();
        self.conn.transaction().map_err(move |source| ScheduleError::Db { path, source })
    }

    /// Marks `running` rows left by a killed schedule run `abandoned`; returns them. Call with
    /// the lock held (then nobody else can be running).
    pub fn abandon_stale(&mut self) -> Result<Vec<RunRow>, ScheduleError> {
        let stale = self.query("WHERE status = 'running' ORDER BY id", &[])?;
        let path = self.path.clone();
        let tx = self.tx()?;
        let finished = now();
        tx.execute("UPDATE runs SET status = 'abandoned', finished = ?1 WHERE status = 'running'", params![finished])
            .and_then(|_| {
                tx.execute(
                    "UPDATE schedules SET finished = ?1, outcome = 'abandoned' WHERE finished IS NULL",
                    params![finished],
                )
            })
            .and_then(|_| tx.commit())
            .map_err(|source| ScheduleError::Db { path, source })?;
        Ok(stale)
    }

    /// Records the start of a schedule run.
    pub fn begin_schedule(&mut self, jobs_file: &Path, dir: &Path) -> Result<i64, ScheduleError> {
        let e = self.err();
        self.conn
            .execute(
                "INSERT INTO schedules (started, jobs_file, dir) VALUES (?1, ?2, ?3)",
                params![now(), jobs_file.display().to_string(), dir.display().to_string()],
            )
            .map_err(&e)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records a job run as `running` before it starts.
    pub fn begin_run(
        &mut self,
        schedule_id: i64,
        job: &str,
        scenario: &Path,
        run_dir: &Path,
        resumed: bool,
    ) -> Result<i64, ScheduleError> {
        let e = self.err();
        self.conn
            .execute(
                "INSERT INTO runs (schedule_id, job, scenario, run_dir, status, started, resumed) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6)",
                params![schedule_id, job, scenario.display().to_string(), run_dir.display().to_string(), now(), resumed],
            )
            .map_err(&e)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The job's latest `done` run before `before` (a run id), the baseline of a comparison.
    pub fn previous_done(&self, job: &str, before: i64) -> Result<Option<RunRow>, ScheduleError> {
        Ok(self
            .query("WHERE job = ?1 AND status = 'done' AND id < ?2 ORDER BY id DESC LIMIT 1", &[&job, &before])?
            .into_iter()
            .next())
    }

    /// The job's latest `done` run whose result was proven minimal: what a re-prune starts
    /// from (a run stopped by its budget holds a kept set, not a minimal one).
    pub fn last_proven(&self, job: &str) -> Result<Option<RunRow>, ScheduleError> {
        Ok(self
            .query("WHERE job = ?1 AND status = 'done' AND minimal_proven = 1 ORDER BY id DESC LIMIT 1", &[&job])?
            .into_iter()
            .next())
    }

    /// Records a finished job run (one transaction).
    pub fn finish_run(&mut self, run_id: i64, f: &Finished<'_>) -> Result<(), ScheduleError> {
        let path = self.path.clone();
        let tx = self.tx()?;
        tx.execute(
            "UPDATE runs SET status = 'done', finished = ?2, minimal = ?3, verified = ?4, minimal_proven = ?5, trials = ?6, rounds = ?7,
             change = ?8, previous_run = ?9, added = ?10, removed = ?11 WHERE id = ?1",
            params![
                run_id,
                now(),
                json_list(f.minimal),
                f.verified,
                f.minimal_proven,
                i64::try_from(f.trials).unwrap_or(i64::MAX),
                i64::try_from(f.rounds).unwrap_or(i64::MAX),
                f.change,
                f.previous_run,
                json_list(f.added),
                json_list(f.removed)
            ],
        )
        .and_then(|_| tx.commit())
        .map_err(|source| ScheduleError::Db { path, source })
    }

    /// Records a failed job run.
    pub fn fail_run(&mut self, run_id: i64, error: &str) -> Result<(), ScheduleError> {
        let e = self.err();
        self.conn
            .execute(
                "UPDATE runs SET status = 'failed', finished = ?2, error = ?3 WHERE id = ?1",
                params![run_id, now(), error],
            )
            .map_err(&e)?;
        Ok(())
    }

    /// Records the end of a schedule run.
    pub fn finish_schedule(&mut self, schedule_id: i64, outcome: &str, exit_code: i32) -> Result<(), ScheduleError> {
        let e = self.err();
        self.conn
            .execute(
                "UPDATE schedules SET finished = ?2, outcome = ?3, exit_code = ?4 WHERE id = ?1",
                params![schedule_id, now(), outcome, exit_code],
            )
            .map_err(&e)?;
        Ok(())
    }

    /// Past runs, newest first; of one job when given.
    pub fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<RunRow>, ScheduleError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match job {
            Some(j) => self.query("WHERE job = ?1 ORDER BY id DESC LIMIT ?2", &[&j, &limit]),
            None => self.query("ORDER BY id DESC LIMIT ?1", &[&limit]),
        }
    }

    fn query(&self, tail: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<RunRow>, ScheduleError> {
        let e = self.err();
        let sql = format!(
            "SELECT id, schedule_id, job, scenario, run_dir, status, started, finished, minimal, verified, trials, change, previous_run, added, removed, resumed, error FROM runs {tail}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(&e)?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    schedule_id: r.get(1)?,
                    job: r.get(2)?,
                    scenario: r.get(3)?,
                    run_dir: r.get(4)?,
                    status: r.get(5)?,
                    started: r.get(6)?,
                    finished: r.get(7)?,
                    minimal: parse_list(r.get(8)?),
                    verified: r.get(9)?,
                    trials: r.get(10)?,
                    change: r.get(11)?,
                    previous_run: r.get(12)?,
                    added: parse_list(r.get(13)?),
                    removed: parse_list(r.get(14)?),
                    resumed: r.get(15)?,
                    error: r.get(16)?,
                })
            })
            .map_err(&e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&e)
    }
}
