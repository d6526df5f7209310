//! One CloudTrail record seen through its top-level fields, and the few parsed parts
//! (identity, resources, time) that denial extraction and activity need.
//!
//! Fields stay raw JSON slices until asked for, so an event that is neither denied nor the
//! principal's costs one skim and nothing more.

use super::skim::{self, string_value};
use serde::Deserialize;
use std::borrow::Cow;
use time::OffsetDateTime;

/// The top-level fields a reader looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    EventName,
    EventSource,
    EventTime,
    EventVersion,
    EventType,
    ErrorCode,
    ErrorMessage,
    AwsRegion,
    UserIdentity,
    Resources,
    Records,
    Events,
    Raw,
    CloudTrailEvent,
}

const FIELDS: usize = 14;

impl Field {
    /// Dispatches on length, then compares fixed-size arrays (a few inline loads, not a call
    /// to `memcmp`): every top-level key of every record passes through here.
    #[inline]
    fn of_key(k: &[u8]) -> Option<Field> {
        use Field::*;
        fn fixed<const N: usize>(k: &[u8]) -> Option<&[u8; N]> {
            k.try_into().ok()
        }
        match k.len() {
            4 => (fixed::<4>(k)? == b"_raw").then_some(Raw),
            6 => (fixed::<6>(k)? == b"Events").then_some(Events),
            7 => (fixed::<7>(k)? == b"Records").then_some(Records),
            9 => match fixed::<9>(k)? {
                b"eventName" => Some(EventName),
                b"eventTime" => Some(EventTime),
                b"eventType" => Some(EventType),
                b"errorCode" => Some(ErrorCode),
                b"awsRegion" => Some(AwsRegion),
                b"resources" => Some(Resources),
                _ => None,
            },
            11 => (fixed::<11>(k)? == b"eventSource").then_some(EventSource),
            12 => match fixed::<12>(k)? {
                b"eventVersion" => Some(EventVersion),
                b"errorMessage" => Some(ErrorMessage),
                b"userIdentity" => Some(UserIdentity),
                _ => None,
            },
            15 => (fixed::<15>(k)? == b"CloudTrailEvent").then_some(CloudTrailEvent),
            _ => None,
        }
    }
}

/// Where the fields of interest are in an object's text, found in one skim. Offsets, not
/// slices, so a streaming reader can scan a buffer it may have to refill.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spans {
    at: [(u32, u32); FIELDS],
}

impl Spans {
    /// Skims the object at the start of `obj`; returns the spans and the offset after it.
    #[inline]
    pub(crate) fn scan(obj: &[u8]) -> Result<(Spans, usize), skim::SkimError> {
        let mut s = Spans::default();
        if let Some(end) = skim::fields_fast(obj, |k, start, end| s.set(k, start, end)) {
            return Ok((s, end));
        }
        // Not accepted by the block skim: the byte walker says why.
        let mut s = Spans::default();
        let end = skim::for_each_field(obj, |k, start, end| s.set(k, start, end))?;
        Ok((s, end))
    }

    #[inline(always)]
    fn set(&mut self, key: &[u8], start: usize, end: usize) {
        if let Some(f) = Field::of_key(key) {
            if let Some(slot) = self.at.get_mut(f as usize) {
                *slot = (start as u32, end as u32);
            }
        }
    }
}

/// The top-level fields of a record that the reader looks at, as raw JSON text.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    text: &'a [u8],
    spans: Spans,
}

impl<'a> RecordFields<'a> {
    /// Fields of the object at the start of `text`, located by `spans`.
    pub(crate) fn new(text: &'a [u8], spans: Spans) -> RecordFields<'a> {
        RecordFields { text, spans }
    }

    /// Skims the object `obj` once, keeping the fields of interest.
    pub(crate) fn of(obj: &'a [u8]) -> Result<RecordFields<'a>, skim::SkimError> {
        let (spans, _) = Spans::scan(obj)?;
        Ok(RecordFields { text: obj, spans })
    }

    /// The raw JSON text of a field, if present.
    #[inline]
    pub(crate) fn get(&self, f: Field) -> Option<&'a [u8]> {
        let (s, e) = *self.spans.at.get(f as usize)?;
        if e == 0 {
            return None;
        }
        self.text.get(s as usize..e as usize)
    }
}

fn text(raw: Option<&[u8]>) -> Option<Cow<'_, str>> {
    raw.and_then(string_value)
}

/// An API event (a record with an `eventName`), fields parsed on demand.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub(crate) fields: RecordFields<'a>,
}

impl<'a> EventRef<'a> {
    /// `eventName`.
    pub fn event_name(&self) -> Cow<'a, str> {
        text(self.fields.get(Field::EventName)).unwrap_or_default()
    }
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    pub fn event_source(&self) -> Cow<'a, str> {
        text(self.fields.get(Field::EventSource)).unwrap_or_default()
    }
    /// `eventTime` as written.
    pub fn event_time(&self) -> Option<Cow<'a, str>> {
        text(self.fields.get(Field::EventTime))
    }
    /// `eventTime` parsed (RFC 3339, or the `YYYY-MM-DD hh:mm:ss[.fff]` some exports use, as UTC).
    pub fn time(&self) -> Option<OffsetDateTime> {
        self.event_time().and_then(|t| parse_time(&t))
    }
    /// `errorCode`, absent for successful calls.
    pub fn error_code(&self) -> Option<Cow<'a, str>> {
        text(self.fields.get(Field::ErrorCode))
    }
    /// `errorMessage`.
    pub fn error_message(&self) -> Option<Cow<'a, str>> {
        text(self.fields.get(Field::ErrorMessage))
    }
    /// `awsRegion`.
    pub fn region(&self) -> Option<Cow<'a, str>> {
        text(self.fields.get(Field::AwsRegion))
    }
    /// True when the raw `userIdentity` text contains `needle`: a cheap pre-filter before
    /// parsing the identity.
    pub fn identity_mentions(&self, needle: &[u8]) -> bool {
        self.fields.get(Field::UserIdentity).is_some_and(|u| memchr::memmem::find(u, needle).is_some())
    }
    /// `userIdentity`, parsed; `None` when absent or not an object.
    pub fn identity(&self) -> Option<Identity> {
        let raw = self.fields.get(Field::UserIdentity)?;
        serde_json::from_slice::<IdentityDoc<'_>>(raw).ok().map(Identity::from)
    }
    /// The ARNs in `resources[]`.
    pub fn resource_arns(&self) -> Vec<String> {
        let Some(raw) = self.fields.get(Field::Resources) else { return Vec::new() };
        serde_json::from_slice::<Vec<ResourceDoc<'_>>>(raw)
            .map(|v| v.into_iter().filter_map(|r| r.arn.map(Cow::into_owned)).collect())
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct ResourceDoc<'a> {
    #[serde(rename = "ARN", alias = "arn", borrow, default)]
    arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct IssuerDoc<'a> {
    #[serde(borrow, default)]
    arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct SessionDoc<'a> {
    #[serde(rename = "sessionIssuer", borrow, default)]
    issuer: Option<IssuerDoc<'a>>,
}

#[derive(Deserialize)]
struct IdentityDoc<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "accessKeyId", borrow, default)]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(rename = "userName", borrow, default)]
    user_name: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow, default)]
    principal_id: Option<Cow<'a, str>>,
    #[serde(rename = "invokedBy", borrow, default)]
    invoked_by: Option<Cow<'a, str>>,
    #[serde(rename = "sessionContext", borrow, default)]
    session: Option<SessionDoc<'a>>,
}

/// Who made a call: the parts of `userIdentity` used to name and match principals.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// `type`: `IAMUser`, `AssumedRole`, `Root`, `AWSService`, ...
    pub kind: Option<String>,
    /// The caller's ARN (for an assumed role, the session ARN).
    pub arn: Option<String>,
    /// The access key used.
    pub access_key_id: Option<String>,
    /// `userName`.
    pub user_name: Option<String>,
    /// `principalId`.
    pub principal_id: Option<String>,
    /// For service calls, the service.
    pub invoked_by: Option<String>,
    /// For sessions, the role or user that issued it.
    pub issuer_arn: Option<String>,
}

impl From<IdentityDoc<'_>> for Identity {
    fn from(d: IdentityDoc<'_>) -> Identity {
        let own = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned).filter(|s| !s.is_empty());
        Identity {
            kind: own(d.kind),
            arn: own(d.arn),
            access_key_id: own(d.access_key_id),
            user_name: own(d.user_name),
            principal_id: own(d.principal_id),
            invoked_by: own(d.invoked_by),
            issuer_arn: own(d.session.and_then(|s| s.issuer).and_then(|i| i.arn)),
        }
    }
}

impl Identity {
    /// The best single name for the caller: ARN, else service, else access key, else principal id.
    pub fn display(&self) -> Option<String> {
        self.arn
            .clone()
            .or_else(|| self.invoked_by.clone())
            .or_else(|| self.access_key_id.clone())
            .or_else(|| self.principal_id.clone())
    }
}

/// A principal to filter on: an ARN (user, role, assumed-role session), an access key id or a
/// user name. A role ARN also matches every session of that role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalFilter {
    given: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/NAME/` when `given` is a role ARN.
    session_prefix: Option<String>,
    /// The distinctive substring used to pre-filter raw identities before parsing them.
    needle: String,
}

impl PrincipalFilter {
    /// A filter for `given`.
    pub fn new(given: &str) -> PrincipalFilter {
        let given = given.trim().to_string();
        let session_prefix = role_session_prefix(&given);
        // Role paths are not in session ARNs, so pre-filter on the last path segment.
        let needle = given.rsplit(['/', ':']).next().unwrap_or(&given).to_string();
        PrincipalFilter { given, session_prefix, needle }
    }

    /// What the user gave.
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// The pre-filter substring: an identity that does not contain it cannot match.
    pub fn needle(&self) -> &[u8] {
        self.needle.as_bytes()
    }

    /// True when the identity is this principal (or a session of this role).
    pub fn matches(&self, id: &Identity) -> bool {
        let eq = |s: &Option<String>| s.as_deref().is_some_and(|s| s == self.given);
        if eq(&id.arn) || eq(&id.issuer_arn) || eq(&id.access_key_id) || eq(&id.user_name) || eq(&id.principal_id) {
            return true;
        }
        match (&self.session_prefix, &id.arn) {
            (Some(p), Some(arn)) => arn.starts_with(p.as_str()),
            _ => false,
        }
    }
}

/// `arn:aws:iam::123:role/path/Name` -> `arn:aws:sts::123:assumed-role/Name/`.
fn role_session_prefix(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next()?;
    Some(format!("arn:{partition}:sts::{account}:assumed-role/{name}/"))
}

/// Parses an event time or a user-given bound: RFC 3339, `YYYY-MM-DD hh:mm:ss[.f]` (UTC),
/// or a bare date (midnight UTC).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let t = s.replacen(' ', "T", 1);
    if let Ok(t) = OffsetDateTime::parse(&t, &Rfc3339) {
        return Some(t);
    }
    if let Ok(t) = OffsetDateTime::parse(&format!("{t}Z"), &Rfc3339) {
        return Some(t);
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &date).ok().map(|d| d.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_the_formats_seen_in_trails() {
        assert!(parse_time("2022-01-03T19:03:06Z").is_some());
        assert!(parse_time("2025-01-20 15:59:33.000000000").is_some());
        assert!(parse_time("2022-02-08 09:23:37+11:00").is_some());
        assert!(parse_time("2024-05-01").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn a_role_filter_matches_its_sessions() {
        let f = PrincipalFilter::new("arn:aws:iam::111122223333:role/path/SampleRole");
        let session = Identity {
            arn: Some("arn:aws:sts::111122223333:assumed-role/SampleRole/s1".into()),
            ..Identity::default()
        };
        let other = Identity {
            arn: Some("arn:aws:sts::111122223333:assumed-role/SampleRole2/s1".into()),
            ..Identity::default()
        };
        assert!(f.matches(&session));
        assert!(!f.matches(&other));
        assert_eq!(f.needle(), b"SampleRole");
    }
}
