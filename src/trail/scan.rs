//! Scanning many files on many cores: find the log files, read each (gzip detected from its
//! magic bytes), collect denials and a principal's activity, and keep going past bad files.
//!
//! Like ripgrep, an unreadable or corrupt file is reported and counted, never fatal: a
//! nightly job over a large trail must not lose a night's results to one truncated object.

use super::activity::Activity;
use super::denied::{denied_from_event, is_denial_code, Denied};
use super::err::TrailError;
use super::event::{EventRef, PrincipalFilter};
use super::reader::{read_stream_with, ReadError, ReadStats, Visitor};
use crate::catalog::Catalog;
use flate2::bufread::MultiGzDecoder;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use time::OffsetDateTime;

/// What to collect and which events count.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Only events of this principal (and, for a role, its sessions).
    pub principal: Option<PrincipalFilter>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// Only events with this `eventName`.
    pub event_name: Option<String>,
    /// Collect access-denied events.
    pub denied: bool,
    /// Collect the principal's activity (needs `principal`).
    pub activity: bool,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

/// A file that could not be read (completely).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// The path.
    pub file: String,
    /// What went wrong (the [`TrailError`] message).
    pub message: String,
}

impl FileError {
    fn from(e: &TrailError) -> FileError {
        FileError { file: e.path().unwrap_or_default().to_string(), message: e.to_string() }
    }
}

/// The result of a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    /// Files read (including those with errors).
    pub files: usize,
    /// API events read (before principal and time filters).
    pub events: u64,
    /// Records that are not API events (Insights events, wrappers without a payload).
    pub skipped_records: u64,
    /// Uncompressed JSON bytes read.
    pub bytes: u64,
    /// Access-denied events, in file order.
    pub denied: Vec<Denied>,
    /// The principal's activity, when asked for.
    pub activity: Option<Activity>,
    /// Files with errors (events read before the error are kept).
    pub errors: Vec<FileError>,
}

/// The per-event collector behind a scan; also used by the live sources.
pub struct Collector<'a> {
    catalog: &'a Catalog,
    opts: &'a ScanOptions,
    file: String,
    /// Denials found so far.
    pub denied: Vec<Denied>,
    /// Activity found so far.
    pub activity: Activity,
}

impl<'a> Collector<'a> {
    /// A collector labelling its findings with `file`.
    pub fn new(catalog: &'a Catalog, opts: &'a ScanOptions, file: String) -> Collector<'a> {
        Collector { catalog, opts, file, denied: Vec::new(), activity: Activity::default() }
    }

    fn in_window(&self, ev: &EventRef<'_>) -> bool {
        if self.opts.since.is_none() && self.opts.until.is_none() {
            return true;
        }
        let Some(t) = ev.time() else { return false };
        self.opts.since.is_none_or(|s| t >= s) && self.opts.until.is_none_or(|u| t < u)
    }

    fn is_principal(&self, ev: &EventRef<'_>) -> bool {
        match &self.opts.principal {
            None => true,
            Some(p) => ev.identity_mentions(p.needle()) && ev.identity().is_some_and(|id| p.matches(&id)),
        }
    }
}

impl Visitor for Collector<'_> {
    fn event(&mut self, ev: &EventRef<'_>) {
        let code = ev.error_code().filter(|c| is_denial_code(c));
        let wants_activity = self.opts.activity && self.opts.principal.is_some();
        if code.is_none() && !wants_activity {
            return;
        }
        if self.opts.event_name.as_deref().is_some_and(|n| ev.event_name() != n) {
            return;
        }
        if !self.is_principal(ev) || !self.in_window(ev) {
            return;
        }
        let denied = code.map(|c| denied_from_event(self.catalog, &self.file, ev, &c));
        if wants_activity {
            let action = denied.as_ref().and_then(|d| d.action.as_deref());
            self.activity.add(self.catalog, ev, action);
        }
        if let Some(d) = denied {
            if self.opts.denied {
                self.denied.push(d);
            }
        }
    }
}

/// Names a directory walk picks up; files named on the command line are read whatever their name.
fn is_log_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz"].iter().any(|s| n.ends_with(s))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            errors.push(FileError::from(&TrailError::Io { path: dir.display().to_string(), source }));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Digest files are signatures over log files, not events.
        if name.starts_with('.') || name == "CloudTrail-Digest" {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, errors);
        } else if is_log_name(&name) {
            out.push(p);
        }
    }
}

/// The files a scan of `paths` reads: files as given, directories walked (sorted) for
/// `.json`, `.json.gz`, `.jsonl`, `.ndjson`, `.gz`, skipping `CloudTrail-Digest` folders.
pub fn collect_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files, &mut errors);
        } else {
            files.push(p.clone());
        }
    }
    (files, errors)
}

/// Opens a file for reading; gzip (detected from its magic bytes) is decompressed, every
/// member of a multi-member file, each member's CRC-32 and length checked. Returns whether it
/// was gzip.
fn open_reader(path: &Path) -> Result<(Box<dyn Read + Send>, bool), TrailError> {
    let shown = || path.display().to_string();
    let f = std::fs::File::open(path).map_err(|source| TrailError::Io { path: shown(), source })?;
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let head = r.fill_buf().map_err(|source| TrailError::Io { path: shown(), source })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((Box::new(MultiGzDecoder::new(r)), true))
    } else {
        Ok((Box::new(r), false))
    }
}

/// Reads one file into `visitor`; stats are returned even when an error stopped the read.
pub fn read_file(path: &Path, visitor: &mut dyn Visitor) -> (ReadStats, Option<TrailError>) {
    read_file_with(path, visitor, &mut Vec::new())
}

/// [`read_file`] with a read buffer reused from file to file (see [`read_stream_with`]).
fn read_file_with(path: &Path, visitor: &mut dyn Visitor, buf: &mut Vec<u8>) -> (ReadStats, Option<TrailError>) {
    let shown = path.display().to_string();
    let (r, gz) = match open_reader(path) {
        Ok(x) => x,
        Err(e) => return (ReadStats::default(), Some(e)),
    };
    match read_stream_with(r, visitor, buf) {
        Ok(stats) if stats.is_cloudtrail => (stats, None),
        Ok(stats) => (stats, Some(TrailError::NotCloudTrail { path: shown })),
        Err((e, stats)) => {
            let err = match e {
                ReadError::Io(source) if gz => TrailError::Gzip { path: shown, source },
                ReadError::Io(source) => TrailError::Io { path: shown, source },
                ReadError::Invalid { offset, expected } => TrailError::InvalidJson { path: shown, offset, expected },
                ReadError::Truncated => TrailError::Truncated { path: shown },
            };
            (stats, Some(err))
        }
    }
}

/// Totals merged as files finish; only non-empty findings are kept, so memory does not grow
/// with the number of files.
#[derive(Default)]
struct Totals {
    stats: ReadStats,
    denied: Vec<(usize, Vec<Denied>)>,
    activity: Activity,
    errors: Vec<(usize, FileError)>,
}

/// Scans files and directories on `opts.threads` cores; findings come in file order.
pub fn scan_paths(catalog: &Catalog, paths: &[PathBuf], opts: &ScanOptions) -> ScanReport {
    let (files, walk_errors) = collect_files(paths);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let totals = Mutex::new(Totals::default());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let mut c = Collector::new(catalog, opts, path.display().to_string());
                    let (stats, err) = read_file_with(path, &mut c, &mut buf);
                    let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                    t.stats.events += stats.events;
                    t.stats.skipped += stats.skipped;
                    t.stats.bytes += stats.bytes;
                    if !c.denied.is_empty() {
                        t.denied.push((i, c.denied));
                    }
                    t.activity.merge(c.activity);
                    if let Some(e) = err {
                        t.errors.push((i, FileError::from(&e)));
                    }
                }
            });
        }
    });
    let mut t = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    t.denied.sort_by_key(|(i, _)| *i);
    t.errors.sort_by_key(|(i, _)| *i);
    ScanReport {
        files: files.len(),
        events: t.stats.events,
        skipped_records: t.stats.skipped,
        bytes: t.stats.bytes,
        denied: t.denied.into_iter().flat_map(|(_, d)| d).collect(),
        activity: (opts.activity && opts.principal.is_some()).then_some(t.activity),
        errors: walk_errors.into_iter().chain(t.errors.into_iter().map(|(_, e)| e)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LOG: &str = r#"{"Records":[{"eventVersion":"1.08","eventName":"GetRole","eventSource":"iam.amazonaws.com","errorCode":"AccessDenied","userIdentity":{"arn":"arn:aws:iam::123456789012:user/a"}},{"eventVersion":"1.08","eventName":"ListRoles","eventSource":"iam.amazonaws.com"}]}"#;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::GzBuilder::new().filename("log.json").write(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Reads `bytes` as the file `name` in a fresh directory: the events seen and the error.
    fn read(name: &str, bytes: &[u8]) -> (u64, Option<TrailError>) {
        let dir = std::env::temp_dir().join(format!("iam-prune-scan-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut seen = 0;
        let (stats, err) = read_file(&path, &mut |_: &EventRef<'_>| seen += 1);
        assert_eq!(stats.events, seen);
        let _ = std::fs::remove_dir_all(&dir);
        (seen, err)
    }

    /// The error is a gzip error, and its message names the file.
    fn assert_gzip_error(err: Option<TrailError>, name: &str, what: &str) {
        match err {
            Some(e @ TrailError::Gzip { .. }) => {
                let shown = e.to_string();
                assert!(shown.contains(name) && shown.contains("gzip data"), "{what}: {shown}");
            }
            other => panic!("{what}: expected a gzip error, got {other:?}"),
        }
    }

    #[test]
    fn gzip_is_detected_from_content_and_every_member_is_read() {
        let gz = gzip(LOG.as_bytes());
        assert!(matches!(read("log.bin", &gz), (2, None)), "not by the name");
        let mut two = gz.clone();
        two.extend(gzip(LOG.as_bytes()));
        assert!(matches!(read("two.json.gz", &two), (4, None)), "concatenated log files");
    }

    #[test]
    fn damaged_gzip_is_an_error_naming_the_file() {
        let gz = gzip(LOG.as_bytes());
        let n = gz.len();
        // Cut anywhere after the magic bytes (header, deflate data, trailer): never a silent
        // short read, even where the JSON before the cut is complete.
        for cut in 2..n {
            assert_gzip_error(read("cut.json.gz", &gz[..cut]).1, "cut.json.gz", &format!("cut at {cut} of {n}"));
        }
        let flip = |i: usize| {
            let mut bad = gz.clone();
            bad[i] ^= 0x01;
            bad
        };
        assert_gzip_error(read("crc.json.gz", &flip(n - 8)).1, "crc.json.gz", "CRC-32 in the trailer");
        assert_gzip_error(read("len.json.gz", &flip(n - 4)).1, "len.json.gz", "length in the trailer");
        assert_gzip_error(read("method.json.gz", &flip(2)).1, "method.json.gz", "compression method");
        let mut tail = gz.clone();
        tail.extend_from_slice(b"garbage");
        assert_gzip_error(read("tail.json.gz", &tail).1, "tail.json.gz", "bytes after the last member");
    }
}
