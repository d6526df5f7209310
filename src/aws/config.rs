//! One place for AWS SDK configuration, so every client iam-prune makes (and the workload's
//! environment) agrees on profile, region, endpoint and retry behaviour.
//!
//! Throttling is common when many trials run at once, so retries are adaptive (client-side
//! rate limiting that backs off on throttling errors) rather than the SDK's standard mode.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Region used when neither `--region`, the profile nor the environment names one. IAM is
/// global, but STS and the workload need some region.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where and as whom iam-prune talks to AWS.
#[derive(Debug, Clone)]
pub struct Connection {
    sdk: SdkConfig,
    region: String,
    endpoint: Option<String>,
}

impl Connection {
    /// Loads the standard credential and region chain (environment, profile, SSO, instance
    /// metadata), with `--profile`, `--region` and `--endpoint-url` overriding it.
    /// `AWS_ENDPOINT_URL` is honoured by the SDK itself when `endpoint` is `None`.
    pub async fn load(profile: Option<&str>, region: Option<&str>, endpoint: Option<&str>) -> Connection {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::adaptive().with_max_attempts(6));
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = region {
            loader = loader.region(Region::new(r.to_string()));
        }
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let mut sdk = loader.load().await;
        if sdk.region().is_none() {
            sdk = sdk.into_builder().region(Region::new(DEFAULT_REGION)).build();
        }
        Connection::from_sdk_config(sdk)
    }

    /// Wraps a ready SDK configuration (tests build one around a replaying HTTP client).
    pub fn from_sdk_config(sdk: SdkConfig) -> Connection {
        let region = sdk.region().map(|r| r.as_ref().to_string()).unwrap_or_else(|| DEFAULT_REGION.to_string());
        let endpoint = sdk.endpoint_url().map(str::to_string);
        Connection { sdk, region, endpoint }
    }

    /// The SDK configuration.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The region trials run in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint override (moto, LocalStack, a VPC endpoint), if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Where calls go, for messages: the endpoint override, or AWS in the region.
    pub fn endpoint_description(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("the endpoint {e}"),
            None => format!("AWS ({})", self.region),
        }
    }

    /// An IAM client with the caller's credentials.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    /// An STS client with the caller's credentials.
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    /// An IAM client acting as a trial's session (for propagation probes).
    pub fn iam_as(&self, creds: &SessionCredentials) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::config::Builder::from(&self.sdk).credentials_provider(creds.provider()).build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    /// An STS client acting as a trial's session (for propagation probes).
    pub fn sts_as(&self, creds: &SessionCredentials) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.sdk).credentials_provider(creds.provider()).build();
        aws_sdk_sts::Client::from_conf(conf)
    }
}

/// Temporary credentials of a sandbox session (what the workload runs as).
#[derive(Clone)]
pub struct SessionCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: String,
    /// When they expire (seconds since the Unix epoch), if known.
    pub expires_epoch: Option<i64>,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even in debug output or journals.
        f.debug_struct("SessionCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl SessionCredentials {
    fn provider(&self) -> aws_sdk_sts::config::Credentials {
        aws_sdk_sts::config::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            // A user's access key has no token (an empty one would be sent and refused).
            Some(self.session_token.clone()).filter(|t| !t.is_empty()),
            None,
            "iam-prune-trial",
        )
    }

    /// True when they expire within `seconds` from now.
    pub fn is_expiring_within(&self, seconds: i64) -> bool {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        self.expires_epoch.is_some_and(|e| e - now < seconds)
    }
}
