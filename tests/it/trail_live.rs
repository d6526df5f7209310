//! The live CloudTrail sources offline: recorded LookupEvents, Lake and STS exchanges replayed
//! through the real SDK clients on tokio's paused clock. The tests check what iam-prune
//! sends (one lookup attribute, the time window, page tokens, the Lake SQL, the pace of
//! requests, the retry after throttling) as well as what it makes of the answers.

// Test helpers panic on purpose: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use iam_prune::aws::Connection;
use iam_prune::trail::cloud;
use iam_prune::trail::live::lake_sql;
use iam_prune::trail::{parse_time, PrincipalFilter, ScanOptions};
use iam_prune::Catalog;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// A replay client that also notes when (on tokio's clock) each request was sent.
#[derive(Debug, Clone)]
struct Timed {
    replay: StaticReplayClient,
    sent: Arc<Mutex<Vec<Instant>>>,
}

#[derive(Debug)]
struct TimedConnector {
    inner: SharedHttpConnector,
    sent: Arc<Mutex<Vec<Instant>>>,
}

impl HttpConnector for TimedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.sent.lock().unwrap().push(Instant::now());
        self.inner.call(request)
    }
}

impl HttpClient for Timed {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(TimedConnector {
            inner: self.replay.http_connector(settings, components),
            sent: self.sent.clone(),
        })
    }
}

impl Timed {
    fn new(events: Vec<ReplayEvent>) -> Timed {
        Timed { replay: StaticReplayClient::new(events), sent: Arc::default() }
    }

    fn connection(&self) -> Connection {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                aws_sdk_sts::config::Credentials::new("AKIDCALLER", "caller-secret", None, None, "test"),
            ))
            .http_client(self.clone())
            .build();
        Connection::from_sdk_config(sdk)
    }

    /// (X-Amz-Target, host, JSON body) of every request sent.
    fn requests(&self) -> Vec<(String, String, Value)> {
        self.replay
            .actual_requests()
            .map(|r| {
                let target = r.headers().get("x-amz-target").unwrap_or_default().to_string();
                let host = r.uri().split('/').nth(2).unwrap_or_default().to_string();
                let body =
                    r.body().bytes().map(|b| serde_json::from_slice(b).unwrap_or(Value::Null)).unwrap_or(Value::Null);
                (target, host, body)
            })
            .collect()
    }

    fn gaps(&self) -> Vec<Duration> {
        let sent = self.sent.lock().unwrap();
        sent.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

fn json_event(status: u16, body: Value) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri("https://cloudtrail.us-east-1.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(body.to_string()))
            .unwrap(),
    )
}

fn throttled() -> ReplayEvent {
    json_event(400, json!({"__type": "ThrottlingException", "message": "Rate exceeded"}))
}

/// A LookupEvents entry: the event itself travels as a JSON string in `CloudTrailEvent`.
fn lookup_entry(id: &str, user: &str, name: &str, error: Option<(&str, &str)>) -> Value {
    let mut ev = json!({
        "eventVersion": "1.09",
        "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-west-2",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::123456789012:user/{user}"), "userName": user, "accessKeyId": "AKIAEXAMPLEEXAMPLE01"},
    });
    if let Some((code, message)) = error {
        ev["errorCode"] = json!(code);
        ev["errorMessage"] = json!(message);
    }
    json!({"EventId": id, "EventName": name, "EventTime": 1714564800, "Username": user, "CloudTrailEvent": ev.to_string()})
}

const ENCODED: &str =
    "You are not authorized to perform this operation. Encoded authorization failure message: ENCODED-abc_123";

#[tokio::test(start_paused = true)]
async fn lookup_follows_pages_sends_filters_paces_and_retries_throttling() {
    let page1 = json!({
        "Events": [
            lookup_entry("e1", "alice", "RunInstances", Some(("Client.UnauthorizedOperation", ENCODED))),
            lookup_entry("e2", "alice", "DescribeVpcs", None),
            // An ordinary error: errorCode is not a server-side filter, so it arrives and is dropped here.
            lookup_entry("e3", "alice", "DescribeImages", Some(("Client.InvalidAMIID.Malformed", "bad AMI"))),
        ],
        "NextToken": "page-2",
    });
    let page2 = json!({"Events": [
        lookup_entry("e4", "alice", "GetRole", Some(("AccessDenied", "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:GetRole on resource: role app"))),
        // The Username attribute also matches other principals' sessions of that name; the client filter drops them.
        lookup_entry("e5", "alice-other", "GetRole", Some(("AccessDenied", "denied"))),
    ]});
    let client = Timed::new(vec![json_event(200, page1), throttled(), json_event(200, page2)]);
    let opts = ScanOptions {
        denied: true,
        principal: Some(PrincipalFilter::new("arn:aws:iam::123456789012:user/alice")),
        since: parse_time("2024-05-01T00:00:00Z"),
        until: parse_time("2024-05-02T00:00:00Z"),
        ..ScanOptions::default()
    };
    let report = cloud::lookup(&client.connection(), Catalog::embedded(), &["us-west-2".to_string()], &opts).await;

    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.events, 5);
    let found: Vec<_> =
        report.denied.iter().map(|d| (d.event_name.as_str(), d.action.as_deref(), d.file.as_str())).collect();
    assert_eq!(
        found,
        vec![
            ("RunInstances", Some("ec2:RunInstances"), "lookup:us-west-2"),
            ("GetRole", Some("iam:GetRole"), "lookup:us-west-2")
        ]
    );
    assert_eq!(report.denied[0].encoded_message.as_deref(), Some("ENCODED-abc_123"));

    let requests = client.requests();
    assert_eq!(requests.len(), 3, "one page, a throttled call, its retry");
    for (target, host, body) in &requests {
        assert_eq!(target, "CloudTrail_20131101.LookupEvents");
        assert_eq!(host, "cloudtrail.us-west-2.amazonaws.com", "one region per call");
        assert_eq!(body["LookupAttributes"], json!([{"AttributeKey": "Username", "AttributeValue": "alice"}]));
        assert_eq!(body["StartTime"], json!(1714521600));
        assert_eq!(body["EndTime"], json!(1714608000));
        assert_eq!(body["MaxResults"], json!(50));
    }
    assert!(requests[0].2.get("NextToken").is_none());
    assert_eq!(requests[1].2["NextToken"], "page-2");
    assert_eq!(requests[2].2["NextToken"], "page-2", "the throttled page is asked for again");

    let gaps = client.gaps();
    assert_eq!(gaps.len(), 2);
    for g in &gaps {
        assert!(*g >= Duration::from_millis(500), "more than 2 requests per second: {gaps:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn lookup_paces_many_pages_at_two_per_second() {
    let pages: Vec<ReplayEvent> = (0..6)
        .map(|i| {
            let mut page =
                json!({"Events": [lookup_entry(&format!("e{i}"), "bob", "GetRole", Some(("AccessDenied", "no")))]});
            if i < 5 {
                page["NextToken"] = json!(format!("t{}", i + 1));
            }
            json_event(200, page)
        })
        .collect();
    let client = Timed::new(pages);
    let opts = ScanOptions { denied: true, event_name: Some("GetRole".into()), ..ScanOptions::default() };
    let started = Instant::now();
    let report = cloud::lookup(&client.connection(), Catalog::embedded(), &["eu-west-1".to_string()], &opts).await;
    assert_eq!(report.denied.len(), 6);
    let requests = client.requests();
    let tokens: Vec<_> = requests
        .iter()
        .map(|(_, _, b)| b.get("NextToken").and_then(Value::as_str).unwrap_or("-").to_string())
        .collect();
    assert_eq!(tokens, ["-", "t1", "t2", "t3", "t4", "t5"]);
    assert_eq!(requests[0].2["LookupAttributes"], json!([{"AttributeKey": "EventName", "AttributeValue": "GetRole"}]));
    assert!(requests[0].2.get("StartTime").is_none());
    // Six calls in no less than 2.5 s: never more than two in any second.
    assert!(started.elapsed() >= Duration::from_millis(2500), "{:?}", started.elapsed());
    assert!(client.gaps().iter().all(|g| *g >= Duration::from_millis(500)), "{:?}", client.gaps());
}

#[tokio::test(start_paused = true)]
async fn lookup_reports_a_failing_region_and_reads_the_others() {
    let denied = json_event(
        400,
        json!({"__type": "AccessDeniedException", "message": "not authorized to perform cloudtrail:LookupEvents"}),
    );
    let ok = json_event(200, json!({"Events": [lookup_entry("e1", "carol", "GetRole", Some(("AccessDenied", "no")))]}));
    let client = Timed::new(vec![denied, ok]);
    let opts = ScanOptions { denied: true, ..ScanOptions::default() };
    let regions = ["ap-south-1".to_string(), "us-east-2".to_string()];
    let report = cloud::lookup(&client.connection(), Catalog::embedded(), &regions, &opts).await;
    assert_eq!(client.requests().len(), 2, "an access denial is not retried");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].file, "lookup:ap-south-1");
    assert!(report.errors[0].message.contains("cloudtrail:LookupEvents"), "{}", report.errors[0].message);
    assert_eq!(report.denied.len(), 1);
    assert_eq!(report.files, 2);
    assert!(client.requests()[0].2.get("LookupAttributes").is_none(), "no filter asked for, none sent");
}

fn lake_row(name: &str, code: &str, message: &str) -> Value {
    json!([
        {"eventTime": "2024-05-01 12:00:00.000"},
        {"eventSource": "s3.amazonaws.com"},
        {"eventName": name},
        {"awsRegion": "us-east-1"},
        {"errorCode": code},
        {"errorMessage": message},
        {"identityType": "AssumedRole"},
        {"identityArn": "arn:aws:sts::123456789012:assumed-role/app/i-0abc"},
        {"issuerArn": "arn:aws:iam::123456789012:role/app"},
    ])
}

#[tokio::test(start_paused = true)]
async fn lake_runs_the_query_waits_for_it_and_reads_every_page() {
    let store = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/EXAMPLE-f852-4e8f-8bd1";
    let client = Timed::new(vec![
        json_event(200, json!({"QueryId": "q-1"})),
        json_event(200, json!({"QueryId": "q-1", "QueryStatus": "QUEUED"})),
        json_event(200, json!({"QueryId": "q-1", "QueryStatus": "RUNNING"})),
        json_event(200, json!({"QueryId": "q-1", "QueryStatus": "FINISHED"})),
        json_event(
            200,
            json!({"QueryStatus": "FINISHED", "QueryResultRows": [
            lake_row("GetObject", "AccessDenied", "User: arn:aws:sts::123456789012:assumed-role/app/i-0abc is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::bucket/key\" because no identity-based policy allows the s3:GetObject action"),
        ], "NextToken": "rows-2"}),
        ),
        json_event(
            200,
            json!({"QueryStatus": "FINISHED", "QueryResultRows": [
                lake_row("ListBuckets", "AccessDenied", "Access Denied"),
            ]}),
        ),
    ]);
    let opts = ScanOptions {
        denied: true,
        principal: Some(PrincipalFilter::new("arn:aws:iam::123456789012:role/app")),
        since: parse_time("2024-04-01"),
        ..ScanOptions::default()
    };
    let report = cloud::lake(&client.connection(), Catalog::embedded(), store, &opts).await.expect("lake");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.events, 2);
    let found: Vec<_> =
        report.denied.iter().map(|d| (d.action.as_deref(), d.resource.as_deref(), d.principal.as_deref())).collect();
    assert_eq!(
        found,
        vec![
            (
                Some("s3:GetObject"),
                Some("arn:aws:s3:::bucket/key"),
                Some("arn:aws:sts::123456789012:assumed-role/app/i-0abc")
            ),
            (Some("s3:ListAllMyBuckets"), None, Some("arn:aws:sts::123456789012:assumed-role/app/i-0abc")),
        ]
    );
    assert_eq!(report.denied[0].file, "lake:EXAMPLE-f852-4e8f-8bd1");

    let requests = client.requests();
    let targets: Vec<_> = requests.iter().map(|(t, _, _)| t.trim_start_matches("CloudTrail_20131101.")).collect();
    assert_eq!(
        targets,
        ["StartQuery", "DescribeQuery", "DescribeQuery", "DescribeQuery", "GetQueryResults", "GetQueryResults"]
    );
    let sql = requests[0].2["QueryStatement"].as_str().unwrap();
    assert_eq!(sql, lake_sql(store, &opts).unwrap());
    assert!(sql.contains("FROM EXAMPLE-f852-4e8f-8bd1 WHERE (errorCode LIKE '%AccessDenied%'"), "{sql}");
    assert!(
        sql.contains("userIdentity.sessionContext.sessionIssuer.arn = 'arn:aws:iam::123456789012:role/app'"),
        "{sql}"
    );
    assert!(sql.contains("eventTime >= '2024-04-01 00:00:00'"), "{sql}");
    for (_, _, body) in &requests[1..] {
        assert_eq!(body["QueryId"], "q-1");
    }
    assert!(requests[4].2.get("NextToken").is_none());
    assert_eq!(requests[5].2["NextToken"], "rows-2");
    // Polls back off: 1 s, then 2 s.
    assert_eq!(client.gaps()[1..3], [Duration::from_secs(1), Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn lake_rejects_a_store_that_is_not_an_id_without_calling_aws() {
    let client = Timed::new(vec![]);
    let opts = ScanOptions { denied: true, ..ScanOptions::default() };
    let err = cloud::lake(&client.connection(), Catalog::embedded(), "x' OR 1=1 --", &opts).await.unwrap_err();
    assert!(err.to_string().contains("is not an event data store"), "{err}");
    assert!(client.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn lake_query_failure_is_an_error_with_the_reason() {
    let client = Timed::new(vec![
        json_event(200, json!({"QueryId": "q-2"})),
        json_event(
            200,
            json!({"QueryId": "q-2", "QueryStatus": "FAILED", "ErrorMessage": "column foo does not exist"}),
        ),
    ]);
    let opts = ScanOptions { denied: true, ..ScanOptions::default() };
    let err = cloud::lake(&client.connection(), Catalog::embedded(), "EXAMPLE-1", &opts).await.unwrap_err();
    assert!(err.to_string().contains("FAILED") && err.to_string().contains("column foo does not exist"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn decode_fills_in_the_action_and_resource_of_encoded_denials() {
    let page = json!({"Events": [
        lookup_entry("e1", "alice", "RunInstances", Some(("Client.UnauthorizedOperation", ENCODED))),
        lookup_entry("e2", "alice", "RunInstances", Some(("Client.UnauthorizedOperation", ENCODED))),
    ]});
    let sts =
        std::fs::read_to_string(crate::common::root().join("tests/fixtures/aws/decode_authorization_message.xml"))
            .unwrap();
    let decoded = ReplayEvent::new(
        http::Request::builder()
            .method("POST")
            .uri("https://sts.us-east-1.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder().status(200).header("content-type", "text/xml").body(SdkBody::from(sts)).unwrap(),
    );
    let client = Timed::new(vec![json_event(200, page), decoded]);
    let conn = client.connection();
    let opts = ScanOptions { denied: true, ..ScanOptions::default() };
    let mut report = cloud::lookup(&conn, Catalog::embedded(), &[], &opts).await;
    assert_eq!(report.denied.len(), 2);
    assert!(report.denied.iter().all(|d| d.resource.is_none()));
    let errors = cloud::decode(&conn, Catalog::embedded(), &mut report.denied).await;
    assert!(errors.is_empty(), "{errors:?}");
    let requests: Vec<_> = client.replay.actual_requests().collect();
    assert_eq!(requests.len(), 2, "each distinct message is decoded once");
    let body = String::from_utf8_lossy(requests[1].body().bytes().unwrap()).to_string();
    assert!(
        body.contains("Action=DecodeAuthorizationMessage") && body.contains("EncodedMessage=ENCODED-abc_123"),
        "{body}"
    );
    for d in &report.denied {
        assert_eq!(d.action.as_deref(), Some("ec2:RunInstances"));
        assert_eq!(d.resource.as_deref(), Some("arn:aws:ec2:us-east-1:123456789012:instance/*"));
        assert_eq!(serde_json::to_value(d.action_source).unwrap(), "decoded");
    }
}

#[test]
fn cli_needs_a_source_and_checks_the_store_before_calling_aws() {
    let out = crate::common::iam_prune(&["denied"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = crate::common::iam_prune(&["denied", "--lake", "eds; DROP TABLE"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not an event data store") && stderr.contains("help:"), "{stderr}");
    let out = crate::common::iam_prune(&["record", "--lookup", "some/file.json", "--principal", "alice"]);
    assert_eq!(out.status.code(), Some(2), "files and --lookup exclude each other");
}
