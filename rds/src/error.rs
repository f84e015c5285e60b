//! How an AWS call failed, as far as the pipeline needs to know, and SDK errors as short text.

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// The most of an error message or reason a record may put in a log line or a decision: an
/// attacker-sized id must not turn into megabyte log lines.
pub const MAX_TEXT: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// Throttling, 5xx, timeouts, connection errors: worth retrying.
    #[error("transient AWS error: {0}")]
    Transient(String),
    /// StartExportTask: an export task with this identifier exists already.
    #[error("export task already exists")]
    AlreadyExists,
    /// StartExportTask: the snapshot is not in a state that can be exported yet.
    #[error("snapshot not ready for export: {0}")]
    NotReady(String),
    /// The snapshot is gone.
    #[error("not found: {0}")]
    NotFound(String),
    /// IAM role, KMS key, bucket or ExportOnly rejected: the deployment needs fixing.
    #[error("misconfiguration: {0}")]
    Misconfigured(String),
    /// An error the API model does not name (the export quota error is one).
    #[error("unmodelled AWS error: {0}")]
    Unmodelled(String),
    /// Anything else that retrying will not fix.
    #[error("AWS error: {0}")]
    Permanent(String),
}

/// Error codes that mean "slow down", across the services the pipeline calls.
const THROTTLING: [&str; 7] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
];

/// Transient (throttling, 5xx, network) versus the rest, for any SDK error.
pub fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> AwsError {
    let text = sdk_error_text(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsError::Transient(text)
        }
        SdkError::ServiceError(ctx) => {
            let code = err.code().unwrap_or_default();
            if THROTTLING.contains(&code) || ctx.raw().status().is_server_error() {
                AwsError::Transient(text)
            } else {
                AwsError::Permanent(text)
            }
        }
        _ => AwsError::Permanent(text),
    }
}

/// `Code: message` when the service said so, else the error's own chain; never an HTTP dump,
/// and never longer than [`MAX_TEXT`].
pub fn sdk_error_text<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> String {
    let text = match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => match err {
            // The service's answer could not be read: say so, not what the raw response held.
            SdkError::ResponseError(_) => "the service's response could not be read".to_owned(),
            // A 2xx the SDK could not read (a header or body not in the form the API defines).
            SdkError::ServiceError(ctx) if ctx.raw().status().is_success() => format!(
                "HTTP {} whose response could not be read: {}",
                ctx.raw().status().as_u16(),
                aws_smithy_types::error::display::DisplayErrorContext(ctx.err())
            ),
            SdkError::ServiceError(ctx) => format!("HTTP {} with no error code", ctx.raw().status().as_u16()),
            _ => aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
        },
    };
    bounded(&text)
}

/// Any error with its causes, as short text (for errors that are not service errors: a body
/// that could not be read, a byte stream that broke).
pub fn error_text<E: std::error::Error>(err: E) -> String {
    bounded(&aws_smithy_types::error::display::DisplayErrorContext(err).to_string())
}

/// At most [`MAX_TEXT`] characters, control characters escaped, with how much was cut.
pub fn bounded(text: &str) -> String {
    let (mut out, cut) = escaped_prefix(text, MAX_TEXT);
    if cut {
        out.push_str(&format!("… ({} more characters)", text.chars().count() - MAX_TEXT));
    }
    out
}

/// The first `max` characters of `text` with control characters escaped, and whether anything
/// was left out: the one way untrusted text is cut for a message (callers say how much was cut).
pub fn escaped_prefix(text: &str, max: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len().min(max + 32));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            return (out, true);
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_is_short_and_says_what_was_cut() {
        assert_eq!(bounded("short"), "short");
        assert_eq!(bounded("a\nb\u{0}"), "a\\nb\\u{0}");
        let long = bounded(&"x".repeat(1_000_000));
        assert!(long.len() < MAX_TEXT + 40, "{}", long.len());
        assert!(long.ends_with("(999700 more characters)"), "{long}");
    }
}
