//! The pure parts of the live sources: the SQL sent to a CloudTrail Lake event data store
//! (so large trails are filtered where they live) and the pacing LookupEvents needs (2
//! requests per second per account and region). The async calls through
//! `aws-sdk-cloudtrail` build on these; keeping them here makes them testable offline.

use super::event::PrincipalFilter;
use super::scan::ScanOptions;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The event data store id as Lake SQL wants it in `FROM`: the id, or the last part of its ARN.
/// `None` if it has characters an id cannot have (keeps the query injection-free).
pub fn lake_store_id(store: &str) -> Option<&str> {
    let id = store.rsplit('/').next().unwrap_or(store);
    (!id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')).then_some(id)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn lake_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    quote(&t.to_offset(time::UtcOffset::UTC).format(&f).unwrap_or_default())
}

fn principal_clause(p: &PrincipalFilter) -> String {
    let v = quote(p.as_str());
    format!("(userIdentity.arn = {v} OR userIdentity.sessionContext.sessionIssuer.arn = {v} OR userIdentity.accessKeyId = {v} OR userIdentity.userName = {v})")
}

/// The Lake query for access-denied events (`denied`) or a principal's events (`record`).
/// Filtering happens in Lake: only matching rows travel.
pub fn lake_sql(store: &str, opts: &ScanOptions) -> Option<String> {
    let id = lake_store_id(store)?;
    let mut wh: Vec<String> = Vec::new();
    if opts.denied && !opts.activity {
        wh.push(
            "(errorCode LIKE '%AccessDenied%' OR errorCode LIKE '%Unauthorized%' OR errorCode LIKE '%NotAuthorized%' \
             OR errorCode LIKE '%AuthorizationError%' OR errorCode LIKE '%Forbidden%')"
                .to_string(),
        );
    }
    if let Some(p) = &opts.principal {
        wh.push(principal_clause(p));
    }
    if let Some(t) = opts.since {
        wh.push(format!("eventTime >= {}", lake_time(t)));
    }
    if let Some(t) = opts.until {
        wh.push(format!("eventTime < {}", lake_time(t)));
    }
    let cols = "eventTime, eventSource, eventName, awsRegion, errorCode, errorMessage, userIdentity, resources";
    let filter = if wh.is_empty() { String::new() } else { format!(" WHERE {}", wh.join(" AND ")) };
    Some(format!("SELECT {cols} FROM {id}{filter} ORDER BY eventTime"))
}

/// Spaces calls at least `interval` apart (LookupEvents: 2 per second, so 500 ms).
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    last: Option<Instant>,
}

impl Pacer {
    /// A pacer allowing `per_second` calls a second.
    pub fn per_second(per_second: u32) -> Pacer {
        Pacer { interval: Duration::from_secs(1) / per_second.max(1), last: None }
    }

    /// How long to wait before a call made at `now`; records the call.
    pub fn delay(&mut self, now: Instant) -> Duration {
        let at = match self.last {
            Some(last) if now < last + self.interval => last + self.interval,
            _ => now,
        };
        self.last = Some(at);
        at - now
    }

    /// After a throttling error: the back-off before retry `attempt` (1-based), doubling
    /// from one interval, capped at 30 s.
    pub fn backoff(&self, attempt: u32) -> Duration {
        (self.interval * 2u32.saturating_pow(attempt.saturating_sub(1))).min(Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_sql_filters_where_the_data_lives() {
        let opts = ScanOptions {
            denied: true,
            principal: Some(PrincipalFilter::new("arn:aws:iam::1:role/o'brien")),
            since: super::super::parse_time("2024-05-01"),
            ..ScanOptions::default()
        };
        let sql = lake_sql("arn:aws:cloudtrail:us-east-1:1:eventdatastore/EXAMPLE-f852-4e8f-8bd1", &opts).unwrap();
        assert!(sql.starts_with("SELECT eventTime,"));
        assert!(sql.contains("FROM EXAMPLE-f852-4e8f-8bd1 WHERE (errorCode LIKE '%AccessDenied%'"));
        assert!(sql.contains("userIdentity.arn = 'arn:aws:iam::1:role/o''brien'"));
        assert!(sql.contains("eventTime >= '2024-05-01 00:00:00'"));
        assert!(lake_sql("x; DROP", &opts).is_none());
    }

    #[test]
    fn pacing_two_per_second() {
        let mut p = Pacer::per_second(2);
        let t0 = Instant::now();
        assert_eq!(p.delay(t0), Duration::ZERO);
        assert_eq!(p.delay(t0), Duration::from_millis(500));
        assert_eq!(p.delay(t0 + Duration::from_millis(600)), Duration::from_millis(400));
        assert_eq!(p.delay(t0 + Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(3), Duration::from_secs(2));
        assert_eq!(p.backoff(20), Duration::from_secs(30));
    }
}
