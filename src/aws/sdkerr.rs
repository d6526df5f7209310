//! Reading SDK errors the same way everywhere: the error code when the SDK parsed one, and
//! the HTTP status when it did not (moto answers denials with a 403 whose XML body the Rust
//! SDK does not parse into a code, so "access denied" must also be recognised by status).

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

/// What a failed call said, in a form the rest of the module can match on.
#[derive(Debug, Clone)]
pub(crate) struct CallFailure {
    /// The service's error code (`AccessDenied`, `NoSuchEntity`, ...), when parsed.
    pub code: Option<String>,
    /// HTTP status of the response, when there was one.
    pub status: Option<u16>,
    /// The whole error chain, for messages.
    pub message: String,
}

impl CallFailure {
    /// Reads an SDK error.
    pub fn of<E>(e: &SdkError<E, HttpResponse>) -> CallFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().map(str::to_string);
        let message = match (&code, e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            // The error's chain of causes in words ("dispatch failure: io error: connection
            // refused"); the SDK's own context printer appends a Debug dump people cannot read.
            _ => {
                let mut chain = vec![e.to_string()];
                let mut cause = std::error::Error::source(e);
                while let Some(c) = cause {
                    let text = c.to_string();
                    if chain.last() != Some(&text) {
                        chain.push(text);
                    }
                    cause = c.source();
                }
                chain.join(": ")
            }
        };
        CallFailure { code, status, message }
    }

    /// True for an authorization failure, by code or by a bare 403.
    pub fn is_access_denied(&self) -> bool {
        match self.code.as_deref() {
            Some(c) => {
                is_denied_code(c) || (self.status == Some(403) && !c.contains("Token") && !c.contains("Signature"))
            }
            None => self.status == Some(403),
        }
    }

    /// True for `NoSuchEntity` (IAM) or a 404.
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref() == Some("NoSuchEntity") || (self.code.is_none() && self.status == Some(404))
    }

    /// True when the code is `code`.
    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Error codes AWS services use for authorization failures.
pub(crate) fn is_denied_code(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnauthorizedAccess"
            | "AuthorizationError"
            | "Forbidden"
    )
}
