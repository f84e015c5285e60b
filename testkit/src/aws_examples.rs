//! AWS's own example responses (`testkit/aws-examples/`, sources in its `SOURCES.md`) as the HTTP
//! responses the SDK parses, for aws-smithy-mocks rules (`then_http_response`).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// The text of one example file.
pub fn text(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("aws-examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The example as a response: a file starting with a status line is headers (and a body after
/// a blank line); anything else is the body of a 200.
pub fn response(name: &str) -> HttpResponse {
    let text = text(name);
    let Some(rest) = text.strip_prefix("HTTP/1.1 ") else {
        return HttpResponse::new(StatusCode::try_from(200).unwrap_or_else(|e| panic!("{e}")), SdkBody::from(text));
    };
    let (head, body) = rest.split_once("\n\n").unwrap_or((rest, ""));
    let mut lines = head.lines();
    let status: u16 =
        lines.next().and_then(|l| l.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap_or_else(|e| panic!("{name}: {e}")),
        SdkBody::from(body.to_owned()),
    );
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            response.headers_mut().insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }
    response
}
