//! The live sources at the async edge, through `aws-sdk-cloudtrail`: LookupEvents (the last
//! 90 days of management events, one region at a time) and CloudTrail Lake queries (large
//! and organization trails, filtered where they live). Both hand every event, as JSON, to
//! the same reader and [`Collector`] as log files, so a denial looks the same whatever its
//! source. Also here: decoding EC2 encoded authorization messages of found denials.
//!
//! LookupEvents allows 2 requests per second per account and region. Its calls go through a
//! [`Pacer`] with the SDK's own retries turned off, so that retries after throttling are
//! paced too (SDK retries would bypass the pacer). Lake calls are few and keep the
//! connection's adaptive retries.

use super::denied::{ActionSource, Denied};
use super::err::TrailError;
use super::event::EventRef;
use super::live::{lake_row_event, lake_sql, lake_store_id, lookup_filter, LookupFilter, Pacer};
use super::reader::{read_slice, ReadError, ReadStats, Visitor};
use super::scan::{Collector, FileError, ScanOptions, ScanReport};
use crate::aws::{CommandOracle, Connection};
use crate::catalog::Catalog;
use aws_config::retry::RetryConfig;
use aws_config::Region;
use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey, QueryStatus};
use std::future::Future;
use std::time::Duration;

/// LookupEvents' documented limit per account and region.
pub const LOOKUP_PER_SECOND: u32 = 2;
/// The largest page LookupEvents returns.
pub const LOOKUP_PAGE: i32 = 50;
/// Retries of one call after throttling or a transient failure.
const MAX_RETRIES: u32 = 8;
/// Longest wait between two `DescribeQuery` polls of a running Lake query.
const MAX_POLL: Duration = Duration::from_secs(10);

fn aws_error<E: std::error::Error + 'static>(context: String, e: &SdkError<E>) -> TrailError {
    TrailError::Aws { context, message: DisplayErrorContext(e).to_string() }
}

/// True for errors worth another try: throttling, 5xx, timeouts and failed connections.
fn is_retryable<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(s) => {
            matches!(
                s.err().code(),
                Some("ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded")
            ) || s.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// Makes a call when the pacer allows it; on a retryable error waits the pacer's back-off and
/// tries again, at most [`MAX_RETRIES`] times.
async fn paced<T, E, F, Fut>(pacer: &mut Pacer, mut call: F) -> Result<T, SdkError<E>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let mut attempt = 0;
    loop {
        let wait = pacer.delay(tokio::time::Instant::now().into_std());
        tokio::time::sleep(wait).await;
        match call().await {
            Err(e) if attempt < MAX_RETRIES && is_retryable(&e) => {
                attempt += 1;
                tokio::time::sleep(pacer.backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

/// Collects from events given one at a time as JSON text, counting what it reads.
struct Feed<'a> {
    collector: Collector<'a>,
    label: String,
    stats: ReadStats,
    errors: Vec<FileError>,
}

impl<'a> Feed<'a> {
    fn new(catalog: &'a Catalog, opts: &'a ScanOptions, label: String) -> Feed<'a> {
        Feed {
            collector: Collector::new(catalog, opts, label.clone()),
            label,
            stats: ReadStats::default(),
            errors: Vec::new(),
        }
    }

    fn event(&mut self, json: &str, id: Option<&str>) {
        let mut counting = Counting { inner: &mut self.collector, events: 0 };
        let result = read_slice(json.as_bytes(), &mut counting);
        self.stats.events += counting.events;
        self.stats.bytes += json.len() as u64;
        if let Err(e) = result {
            let path = format!("{}#{}", self.label, id.unwrap_or("?"));
            let err = match e {
                ReadError::Invalid { offset, expected } => TrailError::InvalidJson { path, offset, expected },
                ReadError::Truncated | ReadError::Io(_) => TrailError::Truncated { path },
            };
            self.errors.push(FileError { file: self.label.clone(), message: err.to_string() });
        }
    }

    fn fail(&mut self, e: TrailError) {
        self.errors.push(FileError { file: self.label.clone(), message: e.to_string() });
    }

    fn merge_into(self, report: &mut ScanReport) {
        report.files += 1;
        report.events += self.stats.events;
        report.bytes += self.stats.bytes;
        report.denied.extend(self.collector.denied);
        if let Some(a) = report.activity.as_mut() {
            a.merge(self.collector.activity);
        }
        report.errors.extend(self.errors);
    }
}

struct Counting<'c, 'a> {
    inner: &'c mut Collector<'a>,
    events: u64,
}

impl Visitor for Counting<'_, '_> {
    fn event(&mut self, ev: &EventRef<'_>) {
        self.events += 1;
        self.inner.event(ev);
    }
}

fn empty_report(opts: &ScanOptions) -> ScanReport {
    ScanReport { activity: (opts.activity && opts.principal.is_some()).then(Default::default), ..ScanReport::default() }
}

fn smithy_time(t: time::OffsetDateTime) -> DateTime {
    DateTime::from_secs(t.unix_timestamp())
}

/// Reads events through LookupEvents in each of `regions` (the connection's region when
/// empty), 50 a page, following page tokens, at most 2 requests a second per region.
/// One lookup attribute is sent (see [`lookup_filter`]) with the time window; everything
/// else, the error code included, is filtered here. A region that fails is reported in
/// `errors` as `lookup:REGION` and the other regions are still read.
pub async fn lookup(conn: &Connection, catalog: &Catalog, regions: &[String], opts: &ScanOptions) -> ScanReport {
    let regions: Vec<String> = if regions.is_empty() { vec![conn.region().to_string()] } else { regions.to_vec() };
    let filter = lookup_filter(opts.principal.as_ref(), opts.event_name.as_deref());
    let attribute = filter.map(|f| {
        let (key, value) = match f {
            LookupFilter::Username(v) => (LookupAttributeKey::Username, v),
            LookupFilter::AccessKeyId(v) => (LookupAttributeKey::AccessKeyId, v),
            LookupFilter::EventName(v) => (LookupAttributeKey::EventName, v),
        };
        LookupAttribute::builder().attribute_key(key).attribute_value(value).build()
    });
    let mut report = empty_report(opts);
    for region in &regions {
        let mut feed = Feed::new(catalog, opts, format!("lookup:{region}"));
        let conf = aws_sdk_cloudtrail::config::Builder::from(conn.sdk())
            .region(Region::new(region.clone()))
            .retry_config(RetryConfig::disabled())
            .build();
        let client = aws_sdk_cloudtrail::Client::from_conf(conf);
        let mut pacer = Pacer::per_second(LOOKUP_PER_SECOND);
        let mut token: Option<String> = None;
        loop {
            let page = paced(&mut pacer, || {
                let mut req = client
                    .lookup_events()
                    .max_results(LOOKUP_PAGE)
                    .set_start_time(opts.since.map(smithy_time))
                    .set_end_time(opts.until.map(smithy_time))
                    .set_next_token(token.clone());
                if let Some(Ok(a)) = &attribute {
                    req = req.lookup_attributes(a.clone());
                }
                req.send()
            })
            .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    feed.fail(aws_error(
                        format!("LookupEvents in `{region}` failed (needs `cloudtrail:LookupEvents`)"),
                        &e,
                    ));
                    break;
                }
            };
            for ev in page.events() {
                match ev.cloud_trail_event() {
                    Some(json) => feed.event(json, ev.event_id()),
                    None => feed.stats.skipped += 1,
                }
            }
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        report.skipped_records += feed.stats.skipped;
        feed.merge_into(&mut report);
    }
    report
}

/// Runs the Lake query for `opts` ([`lake_sql`]) on the event data store `store` (its ARN or
/// id), waits for it (`DescribeQuery`, polling every 1 s growing to 10 s), and reads every
/// page of `GetQueryResults`. A query that fails is an error; so is an invalid store name.
pub async fn lake(
    conn: &Connection,
    catalog: &Catalog,
    store: &str,
    opts: &ScanOptions,
) -> Result<ScanReport, TrailError> {
    let sql = lake_sql(store, opts).ok_or_else(|| TrailError::EventDataStore(store.to_string()))?;
    let id = lake_store_id(store).unwrap_or(store);
    let client = aws_sdk_cloudtrail::Client::new(conn.sdk());
    let started = client.start_query().query_statement(&sql).send().await.map_err(|e| {
        aws_error(format!("cannot start a query on event data store `{id}` (needs `cloudtrail:StartQuery`)"), &e)
    })?;
    let query = started.query_id().unwrap_or_default().to_string();
    let mut wait = Duration::from_secs(1);
    loop {
        let d = client.describe_query().query_id(&query).send().await.map_err(|e| {
            aws_error(format!("cannot follow Lake query `{query}` (needs `cloudtrail:DescribeQuery`)"), &e)
        })?;
        match d.query_status() {
            Some(QueryStatus::Finished) => break,
            Some(s @ (QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::TimedOut)) => {
                return Err(TrailError::Aws {
                    context: format!("Lake query `{query}` on `{id}` ended {}", s.as_str()),
                    message: d.error_message().unwrap_or("no reason given").to_string(),
                })
            }
            _ => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_POLL);
            }
        }
    }
    let mut feed = Feed::new(catalog, opts, format!("lake:{id}"));
    let mut token: Option<String> = None;
    loop {
        let page =
            client.get_query_results().query_id(&query).set_next_token(token.clone()).send().await.map_err(|e| {
                aws_error(
                    format!("cannot read the results of Lake query `{query}` (needs `cloudtrail:GetQueryResults`)"),
                    &e,
                )
            })?;
        for row in page.query_result_rows() {
            feed.event(&lake_row_event(row), None);
        }
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut report = empty_report(opts);
    feed.merge_into(&mut report);
    Ok(report)
}

/// Decodes the EC2 encoded authorization messages of `denied` through
/// `sts:DecodeAuthorizationMessage` (each distinct message once) and puts the action and
/// resource it names on every denial that carries it. Returns what could not be decoded.
pub async fn decode(conn: &Connection, catalog: &Catalog, denied: &mut [Denied]) -> Vec<FileError> {
    let mut messages: Vec<String> = denied.iter().filter_map(|d| d.encoded_message.clone()).collect();
    messages.sort_unstable();
    messages.dedup();
    let mut errors = Vec::new();
    for m in &messages {
        let (found, failed) = CommandOracle::decode(conn, std::slice::from_ref(m)).await;
        errors.extend(
            failed.into_iter().map(|message| FileError { file: "sts:DecodeAuthorizationMessage".into(), message }),
        );
        let Some(found) = found.into_iter().next() else { continue };
        for d in denied.iter_mut().filter(|d| d.encoded_message.as_ref() == Some(m)) {
            if let Some(a) = &found.action {
                d.action = Some(catalog.lookup(a).map(|id| catalog.name(id)).unwrap_or_else(|| a.clone()));
                d.action_source = Some(ActionSource::Decoded);
            }
            if found.resource.is_some() {
                d.resource = found.resource.clone();
            }
        }
    }
    errors
}
