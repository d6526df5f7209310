//! The schedule lock: an advisory lock (`flock` on Unix) on `<history>.lock`, so two
//! `schedule run`s on one history never interleave their runs and comparisons. The kernel drops
//! the lock when the process dies (kill -9 included), so a killed run never leaves a stale lock
//! behind.

use super::ScheduleError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// A held lock; released on drop (closing the file).
#[derive(Debug)]
pub struct ScheduleLock {
    _file: File,
    path: PathBuf,
}

impl ScheduleLock {
    /// The lock file of a history database.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".lock");
        db.with_file_name(name)
    }

    /// Takes the lock of `db`; with `wait`, blocks until the holder finishes.
    pub fn acquire(db: &Path, wait: bool) -> Result<ScheduleLock, ScheduleError> {
        let path = Self::path_for(db);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ScheduleError::Io { path: dir.to_path_buf(), source })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| ScheduleError::Io { path: path.clone(), source })?;
        loop {
            let taken = if wait { file.lock().map_err(TryLockError::Error) } else { file.try_lock() };
            match taken {
                Ok(()) => return Ok(ScheduleLock { _file: file, path }),
                // A signal arrived during a blocking wait: keep waiting.
                Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(ScheduleError::Busy { path: db.to_path_buf(), lock: path })
                }
                Err(TryLockError::Error(source)) => return Err(ScheduleError::Io { path, source }),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iam-prune-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    // flock locks belong to an open file, so a second open in the same process contends like
    // another process would.
    #[test]
    fn without_wait_a_held_lock_is_busy() {
        let dir = dir("busy");
        let db = dir.join("state/history.sqlite");
        let held = ScheduleLock::acquire(&db, false).unwrap();
        assert_eq!(held.path(), ScheduleLock::path_for(&db));
        match ScheduleLock::acquire(&db, false) {
            Err(e @ ScheduleError::Busy { .. }) => assert!(e.help().is_some_and(|h| h.contains("--wait")), "{e}"),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(held);
        assert!(ScheduleLock::acquire(&db, false).is_ok(), "free again once dropped");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn with_wait_the_lock_is_taken_when_the_holder_lets_go() {
        let dir = dir("wait");
        let db = dir.join("state/history.sqlite");
        let held = ScheduleLock::acquire(&db, false).unwrap();
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let db = db.clone();
            std::thread::spawn(move || tx.send(ScheduleLock::acquire(&db, true).map(|_| ())))
        };
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "waits while the lock is held");
        drop(held);
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(got.is_ok(), "{got:?}");
        waiter.join().unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
