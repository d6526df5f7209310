//! The schedule lock: an advisory `flock` on `<history>.lock`, so two `schedule run`s on one
//! history never interleave their runs and comparisons. The kernel drops the lock when the
//! process dies (kill -9 included), so a killed run never leaves a stale lock behind.

use super::ScheduleError;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
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
        let op = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
        loop {
            // SAFETY: flock on a file descriptor we own and keep open for the lock's lifetime.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(ScheduleLock { _file: file, path });
            }
            let err = std::io::Error::last_os_error();
            match err.kind() {
                std::io::ErrorKind::Interrupted => continue,
                std::io::ErrorKind::WouldBlock => {
                    return Err(ScheduleError::Busy { path: db.to_path_buf(), lock: path })
                }
                _ => return Err(ScheduleError::Io { path, source: err }),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
