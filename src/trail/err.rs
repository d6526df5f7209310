//! Errors from the CloudTrail module.

/// Reading a trail, a likely-actions file or a live source failed.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// gzip data is corrupt or ends early.
    #[error("`{path}` has corrupt or truncated gzip data: {source}")]
    Gzip {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("`{path}` is not valid JSON: expected {expected} at byte {offset}")]
    InvalidJson {
        /// The path.
        path: String,
        /// Byte offset in the uncompressed data.
        offset: u64,
        /// What the grammar expected.
        expected: &'static str,
    },
    /// The JSON ends inside a value.
    #[error("`{path}` ends in the middle of a JSON value (truncated?)")]
    Truncated {
        /// The path.
        path: String,
    },
    /// Valid JSON, but nothing in it looks like CloudTrail.
    #[error("`{path}` is not a CloudTrail file: no events, `Records` or LookupEvents fields\nhelp: give CloudTrail log files (`.json`/`.json.gz`), LookupEvents output or JSON Lines of events")]
    NotCloudTrail {
        /// The path.
        path: String,
    },
    /// A likely-actions file could not be understood.
    #[error("`{path}` is not a likely-actions file: {message}\nhelp: write `{{\"actions\": [\"svc:Action\", ...]}}` or one action per line (`#` starts a comment)")]
    Likely {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A time bound could not be parsed.
    #[error("`{0}` is not a time\nhelp: give RFC 3339 (`2024-05-01T12:00:00Z`), a date (`2024-05-01`) or an age (`90m`, `12h`, `7d`)")]
    Time(String),
    /// `--lake` names something that is not an event data store id or ARN.
    #[error("`{0}` is not an event data store\nhelp: give the event data store's ARN (`arn:aws:cloudtrail:REGION:ACCOUNT:eventdatastore/ID`) or its id; `aws cloudtrail list-event-data-stores` lists them")]
    EventDataStore(String),
    /// A CloudTrail API call failed.
    #[error("{context}: {message}")]
    Aws {
        /// What was being done.
        context: String,
        /// The SDK's error, with its chain.
        message: String,
    },
}

impl TrailError {
    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            TrailError::Io { path, .. }
            | TrailError::Gzip { path, .. }
            | TrailError::InvalidJson { path, .. }
            | TrailError::Truncated { path }
            | TrailError::NotCloudTrail { path }
            | TrailError::Likely { path, .. } => Some(path),
            TrailError::Time(_) | TrailError::EventDataStore(_) | TrailError::Aws { .. } => None,
        }
    }
}
