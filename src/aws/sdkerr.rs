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
        // moto's denials (and some services' errors) come as XML the SDK does not parse into
        // a code: read `<Code>` and `<Message>` from the body itself, so that the message
        // names the denied action (a hint for the search) instead of "unhandled error".
        let body = e.raw_response().and_then(|r| r.body().bytes()).map(String::from_utf8_lossy);
        let from_body = |tag: &str| body.as_deref().and_then(|b| xml_text(b, tag));
        let code = e.code().map(str::to_string).or_else(|| from_body("Code"));
        let message = match (&code, e.message().map(str::to_string).or_else(|| from_body("Message"))) {
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

/// The text of the first `<tag>...</tag>` in an XML error body.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body.get(start..)?.find(&format!("</{tag}>"))? + start;
    let text = body.get(start..end)?.trim();
    (!text.is_empty()).then(|| {
        text.replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    })
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

#[cfg(test)]
mod tests {
    #[test]
    fn an_xml_error_body_gives_its_code_and_message() {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: iam:CreatePolicy on resource: x</Message></Error></ErrorResponse>";
        assert_eq!(super::xml_text(body, "Code").as_deref(), Some("AccessDenied"));
        assert!(super::xml_text(body, "Message").unwrap().contains("not authorized to perform: iam:CreatePolicy"));
        assert_eq!(super::xml_text("<a></a>", "Code"), None);
    }
}
