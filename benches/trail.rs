//! CloudTrail throughput: MB/s of uncompressed JSON scanned for denials, on one core and on
//! all cores, next to plain gzip decompression of the same files (the floor: one core at
//! least 70% of gzip's rate), and next to the same scan with a serde_json record walk in
//! place of the skim (`src/trail/skim` is kept only while it is at least 20% faster).
//!
//! Run: `cargo bench --bench trail` (generates `$IAM_PRUNE_BENCH_DIR`, default
//! `/tmp/iam-prune-trail-bench`, with at least 1 GB of JSON in `.json.gz` files on first use;
//! `IAM_PRUNE_BENCH_MB` sets the size).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use iam_prune::catalog::Catalog;
use iam_prune::trail::reader::read_slice;
use iam_prune::trail::scan::Collector;
use iam_prune::trail::{is_denial_code, scan_paths, ScanOptions};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const EVENTS: &[(&str, &str)] = &[
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetBucketAcl"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("kms.amazonaws.com", "Decrypt"),
    ("iam.amazonaws.com", "GetRole"),
    ("lambda.amazonaws.com", "ListFunctions20150331"),
    ("logs.amazonaws.com", "CreateLogStream"),
    ("dynamodb.amazonaws.com", "DescribeTable"),
    ("ssm.amazonaws.com", "GetParameter"),
    ("monitoring.amazonaws.com", "PutMetricData"),
];

fn hex(rng: &mut SmallRng, n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect()
}

/// One realistic record (about 1.3 KB): nested identity, request, response, TLS details.
fn record(rng: &mut SmallRng, out: &mut String) {
    let (src, name) = EVENTS[rng.gen_range(0..EVENTS.len())];
    let account = format!("{:012}", rng.gen_range(100_000_000_000u64..999_999_999_999));
    let role = format!("app-{}", rng.gen_range(0..50));
    let session = hex(rng, 16);
    let t = format!(
        "2024-05-{:02}T{:02}:{:02}:{:02}Z",
        rng.gen_range(1..29),
        rng.gen_range(0..24),
        rng.gen_range(0..60),
        rng.gen_range(0..60)
    );
    let denied = rng.gen_ratio(1, 100);
    let error = if denied {
        let action = format!("{}:{}", src.split('.').next().unwrap_or("x"), name);
        format!(
            r#""errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::{account}:assumed-role/{role}/{session} is not authorized to perform: {action} on resource: arn:aws:s3:::bucket-{r} because no identity-based policy allows the {action} action","#,
            r = rng.gen_range(0..100)
        )
    } else if rng.gen_ratio(1, 50) {
        r#""errorCode":"ThrottlingException","errorMessage":"Rate exceeded","#.to_string()
    } else {
        String::new()
    };
    out.push_str(&format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROA{p}:{session}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{session}","accountId":"{account}","accessKeyId":"ASIA{k}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{p}","arn":"arn:aws:iam::{account}:role/{role}","accountId":"{account}","userName":"{role}"}},"attributes":{{"creationDate":"{t}","mfaAuthenticated":"false"}}}}}},"eventTime":"{t}","eventSource":"{src}","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"10.{a}.{b}.{c}","userAgent":"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{name}#1.2.3",{error}"requestParameters":{{"resourceId":"{rid}","maxResults":100,"filters":[{{"name":"tag:env","values":["prod","staging"]}}],"includeDeleted":false}},"responseElements":null,"requestID":"{req}","eventID":"{eid}","readOnly":true,"resources":[{{"accountId":"{account}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::bucket-{rid}"}}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#,
        p = hex(rng, 17).to_uppercase(),
        k = hex(rng, 16).to_uppercase(),
        a = rng.gen_range(0..255),
        b = rng.gen_range(0..255),
        c = rng.gen_range(0..255),
        rid = hex(rng, 12),
        req = hex(rng, 32),
        eid = hex(rng, 32),
        host = src,
    ));
}

/// Writes `files` log files of about `per_file` bytes of JSON each, on all cores.
fn generate(dir: &Path, files: usize, per_file: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in (t..files).step_by(threads) {
                    let mut rng = SmallRng::seed_from_u64(i as u64);
                    let mut json = String::with_capacity(per_file + 4096);
                    json.push_str("{\"Records\":[");
                    let mut first = true;
                    while json.len() < per_file {
                        if !first {
                            json.push(',');
                        }
                        first = false;
                        record(&mut rng, &mut json);
                    }
                    json.push_str("]}");
                    let path = dir.join(format!("123456789012_CloudTrail_eu-west-1_20240501T{i:04}Z_bench.json.gz"));
                    let f = std::fs::File::create(path).unwrap();
                    let mut gz =
                        flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::default());
                    gz.write_all(json.as_bytes()).unwrap();
                    gz.finish().unwrap().flush().unwrap();
                }
            });
        }
    });
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Plain gzip decompression of every file into a reused buffer, one core: the baseline.
fn gunzip_all(files: &[PathBuf]) -> u64 {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    for f in files {
        let r = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(f).unwrap());
        let mut gz = flate2::bufread::MultiGzDecoder::new(r);
        loop {
            let n = gz.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    total
}

/// The record walk the skim has to beat: serde_json, typed and borrowing. It finds the same
/// top-level fields of a record as the skim and skips everything else (`IgnoredAny`);
/// `errorCode` is a borrowed string, the other fields are skipped too, which costs no more
/// than borrowing them as `&RawValue` (that also checks their UTF-8).
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Walk<'a> {
    #[serde(rename = "eventName")]
    event_name: Option<IgnoredAny>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource")]
    event_source: Option<IgnoredAny>,
    #[serde(rename = "eventTime")]
    event_time: Option<IgnoredAny>,
    #[serde(rename = "eventVersion")]
    event_version: Option<IgnoredAny>,
    #[serde(rename = "eventType")]
    event_type: Option<IgnoredAny>,
    #[serde(rename = "errorMessage")]
    error_message: Option<IgnoredAny>,
    #[serde(rename = "awsRegion")]
    aws_region: Option<IgnoredAny>,
    #[serde(rename = "userIdentity")]
    user_identity: Option<IgnoredAny>,
    resources: Option<IgnoredAny>,
    #[serde(rename = "Records")]
    records: Option<IgnoredAny>,
    #[serde(rename = "Events")]
    events: Option<IgnoredAny>,
    #[serde(rename = "_raw")]
    raw: Option<IgnoredAny>,
    #[serde(rename = "CloudTrailEvent")]
    cloud_trail_event: Option<IgnoredAny>,
}

/// A read buffer over a decompressed file, refilled as the scan's is.
struct Feed<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Bytes read so far.
    total: u64,
}

impl<R: Read> Feed<R> {
    /// Moves the unread bytes to the front and reads more; false at the end of the input.
    fn refill(&mut self) -> bool {
        const CHUNK: usize = 256 * 1024;
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        if self.buf.len() < self.len + CHUNK {
            self.buf.resize(self.len + CHUNK, 0);
        }
        let n = self.r.read(&mut self.buf[self.len..self.len + CHUNK]).unwrap();
        self.len += n;
        self.total += n as u64;
        n > 0
    }
}

/// The `denied` scan on one core with [`Walk`] in place of the skim: the same decompression
/// and buffer size as the scan, each record walked by serde_json, and the records with a
/// denial code handed to the library's reader and collector (so the denials found are the
/// scan's). Returns the JSON bytes, events and denials.
fn serde_scan(catalog: &Catalog, opts: &ScanOptions, files: &[PathBuf]) -> (u64, u64, usize) {
    let (mut bytes, mut events, mut denied) = (0u64, 0u64, 0usize);
    let mut buf = Vec::new();
    for f in files {
        let mut c = Collector::new(catalog, opts, f.display().to_string());
        let r = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(f).unwrap());
        let mut s = Feed {
            r: flate2::bufread::MultiGzDecoder::new(r),
            buf: std::mem::take(&mut buf),
            pos: 0,
            len: 0,
            total: 0,
        };
        let head = b"{\"Records\":[";
        while s.len < head.len() {
            assert!(s.refill(), "{}: empty", f.display());
        }
        assert!(s.buf.starts_with(head), "{}: the generated shape", f.display());
        s.pos = head.len();
        loop {
            if s.pos == s.len {
                assert!(s.refill(), "{}: truncated", f.display());
            }
            match s.buf[s.pos] {
                b']' => break,
                b',' => s.pos += 1,
                _ => {}
            }
            // `None` when the record continues past the buffer.
            let end = {
                let text = &s.buf[s.pos..s.len];
                let mut it = serde_json::Deserializer::from_slice(text).into_iter::<Walk<'_>>();
                match it.next() {
                    Some(Ok(w)) => {
                        let end = it.byte_offset();
                        events += u64::from(w.event_name.is_some());
                        if w.error_code.as_deref().is_some_and(is_denial_code) {
                            read_slice(&text[..end], &mut c).unwrap();
                        }
                        Some(end)
                    }
                    Some(Err(e)) if e.is_eof() => None,
                    None => None,
                    Some(Err(e)) => panic!("{}: {e}", f.display()),
                }
            };
            match end {
                Some(n) => s.pos += n,
                None => assert!(s.refill(), "{}: truncated", f.display()),
            }
        }
        // Read to the end, as the scan does: the gzip trailer's CRC-32 is checked there.
        while s.refill() {}
        bytes += s.total;
        denied += c.denied.len();
        buf = s.buf;
    }
    (bytes, events, denied)
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.unwrap())
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run only on --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir =
        PathBuf::from(std::env::var("IAM_PRUNE_BENCH_DIR").unwrap_or_else(|_| "/tmp/iam-prune-trail-bench".into()));
    let mb: usize = std::env::var("IAM_PRUNE_BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(1100);
    let per_file = 5 << 20;
    let want_files = (mb << 20).div_ceil(per_file);
    if files_in_or_empty(&dir) != want_files {
        eprintln!("generating {want_files} files of {} MB of JSON in {} ...", per_file >> 20, dir.display());
        let _ = std::fs::remove_dir_all(&dir);
        generate(&dir, want_files, per_file);
    }
    let files = files_in(&dir);
    let compressed: u64 = files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
    let catalog = Catalog::embedded();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Warm the page cache so every measurement reads from memory.
    let json_bytes = gunzip_all(&files);
    let mbs = |secs: f64| json_bytes as f64 / 1e6 / secs;
    // Interleaved rounds, best of each: the machine is shared, so load drifts between runs.
    let opts1 = ScanOptions { denied: true, threads: 1, ..ScanOptions::default() };
    let optsn = ScanOptions { denied: true, threads: 0, ..ScanOptions::default() };
    let (mut gz_s, mut one_s, mut serde_s, mut all_s) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let (mut r1, mut rn, mut rs) = (None, None, None);
    for _ in 0..5 {
        gz_s = gz_s.min(best_of(1, || gunzip_all(&files)).0);
        let (t, r) = best_of(1, || scan_paths(catalog, std::slice::from_ref(&dir), &opts1));
        one_s = one_s.min(t);
        r1 = Some(r);
        let (t, r) = best_of(1, || serde_scan(catalog, &opts1, &files));
        serde_s = serde_s.min(t);
        rs = Some(r);
        let (t, r) = best_of(1, || scan_paths(catalog, std::slice::from_ref(&dir), &optsn));
        all_s = all_s.min(t);
        rn = Some(r);
    }
    let (r1, rn, rs) = (r1.unwrap(), rn.unwrap(), rs.unwrap());
    assert_eq!(r1.bytes, json_bytes);
    assert_eq!(r1.denied.len(), rn.denied.len());
    assert!(r1.errors.is_empty());
    assert_eq!(rs, (json_bytes, r1.events, r1.denied.len()), "the serde walk finds what the scan finds");
    let corpus = format!(
        "{} files, {:.0} MB of CloudTrail JSON ({:.0} MB gzip), {} events, {} access-denied",
        files.len(),
        json_bytes as f64 / 1e6,
        compressed as f64 / 1e6,
        r1.events,
        r1.denied.len()
    );
    let share = gz_s / one_s;
    let skim_gain = serde_s / one_s - 1.0;
    let rows = [
        ("gzip decompression, flate2 (zlib-rs), 1 core".to_string(), format!("{:.0}", mbs(gz_s))),
        ("`denied` scan, 1 core".to_string(), format!("{:.0} ({:.0}% of gzip)", mbs(one_s), 100.0 * share)),
        (
            "`denied` scan with a serde_json record walk instead of the skim, 1 core".to_string(),
            format!("{:.0} (the skim {:.0}% faster)", mbs(serde_s), 100.0 * skim_gain),
        ),
        (format!("`denied` scan, {cores} cores"), format!("{:.0} ({:.2}x one core)", mbs(all_s), one_s / all_s)),
    ];
    let floors = [
        (share >= 0.70, "the one-core `denied` scan at least 70% of gzip decompression"),
        (skim_gain >= 0.20, "the skim at least 20% faster than a serde_json record walk (else serde replaces it)"),
    ];
    if std::env::args().any(|a| a == "--markdown") {
        println!(
            "Command: `cargo bench --bench trail -- --markdown` (best of five interleaved rounds over {corpus}, generated in `{}` on first use). {}\n",
            dir.display(),
            iam_prune::bench::measured_line(!cfg!(debug_assertions))
        );
        println!("| measurement | MB/s of JSON |\n|---|---:|");
        for (label, value) in &rows {
            println!("| {label} | {value} |");
        }
        println!(
            "\nWhat it means: a scan's time is gzip decompression plus the skim that finds each record's fields; \
             the serde_json row is the same scan without the skim. Floors checked by this run:\n"
        );
        for (pass, what) in floors {
            println!("- {} {what}", if pass { "PASS" } else { "FAIL" });
        }
    } else {
        println!("corpus: {corpus}");
        for (label, value) in &rows {
            println!("{label:<72}: {value} MB/s of JSON");
        }
        for (pass, what) in floors {
            println!("{} {what}", if pass { "PASS" } else { "FAIL" });
        }
    }
}

fn files_in_or_empty(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}
