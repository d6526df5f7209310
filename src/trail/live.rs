//! The pure parts of the live sources: the SQL sent to a CloudTrail Lake event data store
//! (so large trails are filtered where they live) and how its rows become events, the one
//! server-side filter a LookupEvents call may carry, and the pacing LookupEvents needs (2
//! requests per second per account and region). The async calls through
//! `aws-sdk-cloudtrail` ([`super::cloud`]) build on these; keeping them here makes them
//! testable offline.

use super::event::PrincipalFilter;
use super::scan::ScanOptions;
use std::collections::HashMap;
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

/// What the Lake query selects, as (column, alias). Only scalars: Lake returns structs such
/// as `userIdentity` in a `{key=value, ...}` text form that is not JSON, so the identity
/// fields are selected one by one and put back together by [`lake_row_event`].
const LAKE_COLUMNS: &[(&str, &str)] = &[
    ("eventTime", "eventTime"),
    ("eventSource", "eventSource"),
    ("eventName", "eventName"),
    ("awsRegion", "awsRegion"),
    ("errorCode", "errorCode"),
    ("errorMessage", "errorMessage"),
    ("userIdentity.type", "identityType"),
    ("userIdentity.arn", "identityArn"),
    ("userIdentity.accessKeyId", "accessKeyId"),
    ("userIdentity.userName", "userName"),
    ("userIdentity.principalId", "principalId"),
    ("userIdentity.invokedBy", "invokedBy"),
    ("userIdentity.sessionContext.sessionIssuer.arn", "issuerArn"),
];

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
    if let Some(n) = &opts.event_name {
        wh.push(format!("eventName = {}", quote(n)));
    }
    let cols = LAKE_COLUMNS
        .iter()
        .map(|(c, a)| if c == a { (*c).to_string() } else { format!("{c} AS {a}") })
        .collect::<Vec<_>>()
        .join(", ");
    let filter = if wh.is_empty() { String::new() } else { format!(" WHERE {}", wh.join(" AND ")) };
    Some(format!("SELECT {cols} FROM {id}{filter} ORDER BY eventTime"))
}

/// One row of `GetQueryResults` (a list of one-entry `{column: value}` maps) as a CloudTrail
/// event in JSON, so it goes through the same reader as log files. Column names are matched
/// without regard to case; empty values are left out.
pub fn lake_row_event(row: &[HashMap<String, String>]) -> String {
    let cell = |alias: &str| -> Option<serde_json::Value> {
        row.iter()
            .flat_map(|m| m.iter())
            .find(|(k, _)| k.eq_ignore_ascii_case(alias))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
            .map(|v| serde_json::Value::String(v.to_string()))
    };
    let mut ev = serde_json::Map::new();
    for key in ["eventTime", "eventSource", "eventName", "awsRegion", "errorCode", "errorMessage"] {
        if let Some(v) = cell(key) {
            ev.insert(key.to_string(), v);
        }
    }
    let mut id = serde_json::Map::new();
    for (alias, key) in [
        ("identityType", "type"),
        ("identityArn", "arn"),
        ("accessKeyId", "accessKeyId"),
        ("userName", "userName"),
        ("principalId", "principalId"),
        ("invokedBy", "invokedBy"),
    ] {
        if let Some(v) = cell(alias) {
            id.insert(key.to_string(), v);
        }
    }
    if let Some(issuer) = cell("issuerArn") {
        id.insert("sessionContext".to_string(), serde_json::json!({ "sessionIssuer": { "arn": issuer } }));
    }
    if !id.is_empty() {
        ev.insert("userIdentity".to_string(), serde_json::Value::Object(id));
    }
    serde_json::Value::Object(ev).to_string()
}

/// The one lookup attribute a LookupEvents call may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupFilter {
    /// `Username`: an IAM user's name, or an assumed-role session's name.
    Username(String),
    /// `AccessKeyId`.
    AccessKeyId(String),
    /// `EventName`.
    EventName(String),
}

fn is_access_key_id(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Chooses the server-side filter for LookupEvents, which takes at most one attribute: the
/// principal when LookupEvents can name it (access key, user, session), else the event
/// name. A role ARN cannot be named (its events carry session names), so it is filtered
/// client-side, like everything else the attribute does not cover.
pub fn lookup_filter(principal: Option<&PrincipalFilter>, event_name: Option<&str>) -> Option<LookupFilter> {
    let by_principal = principal.map(|p| p.as_str()).and_then(|p| {
        if is_access_key_id(p) {
            return Some(LookupFilter::AccessKeyId(p.to_string()));
        }
        if !p.starts_with("arn:") {
            return Some(LookupFilter::Username(p.to_string()));
        }
        let resource = p.splitn(6, ':').nth(5)?;
        let last = resource.rsplit('/').next().filter(|n| !n.is_empty())?;
        (resource.starts_with("user/") || resource.starts_with("assumed-role/"))
            .then(|| LookupFilter::Username(last.to_string()))
    });
    by_principal.or_else(|| event_name.map(|n| LookupFilter::EventName(n.to_string())))
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
        let named = ScanOptions { event_name: Some("RunInstances".into()), ..ScanOptions::default() };
        let sql = lake_sql("EXAMPLE-1", &named).unwrap();
        assert!(sql.contains("userIdentity.sessionContext.sessionIssuer.arn AS issuerArn"), "{sql}");
        assert!(sql.ends_with("FROM EXAMPLE-1 WHERE eventName = 'RunInstances' ORDER BY eventTime"), "{sql}");
    }

    #[test]
    fn lake_rows_become_events() {
        let row: Vec<HashMap<String, String>> = [
            ("eventtime", "2024-05-01 12:00:00.000"),
            ("eventSource", "ec2.amazonaws.com"),
            ("eventName", "RunInstances"),
            ("errorCode", "Client.UnauthorizedOperation"),
            ("errorMessage", ""),
            ("identityType", "AssumedRole"),
            ("identityArn", "arn:aws:sts::1:assumed-role/app/s"),
            ("issuerArn", "arn:aws:iam::1:role/app"),
        ]
        .iter()
        .map(|(k, v)| HashMap::from([(k.to_string(), v.to_string())]))
        .collect();
        let v: serde_json::Value = serde_json::from_str(&lake_row_event(&row)).unwrap();
        assert_eq!(v["eventTime"], "2024-05-01 12:00:00.000");
        assert_eq!(v["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"], "arn:aws:iam::1:role/app");
        assert!(v.get("errorMessage").is_none());
    }

    #[test]
    fn one_lookup_attribute() {
        let f = |p: &str, n: Option<&str>| lookup_filter(Some(&PrincipalFilter::new(p)), n);
        assert_eq!(f("AKIAIOSFODNN7EXAMPLE", None), Some(LookupFilter::AccessKeyId("AKIAIOSFODNN7EXAMPLE".into())));
        assert_eq!(f("arn:aws:iam::1:user/ops/alice", Some("GetRole")), Some(LookupFilter::Username("alice".into())));
        assert_eq!(f("arn:aws:sts::1:assumed-role/app/i-123", None), Some(LookupFilter::Username("i-123".into())));
        assert_eq!(f("arn:aws:iam::1:role/app", Some("GetRole")), Some(LookupFilter::EventName("GetRole".into())));
        assert_eq!(f("arn:aws:iam::1:role/app", None), None);
        assert_eq!(lookup_filter(None, None), None);
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
