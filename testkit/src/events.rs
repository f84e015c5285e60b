//! The events the pipeline receives, built as AWS sends them: the RDS event message of an event
//! subscription, the SNS envelope around it, and the SQS records and batch Lambda hands over.

use serde_json::{Value, json};

/// The documentation URL RDS puts before the event id (the host varies; the id follows `#`).
pub const EVENTS_DOC: &str = "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#";

/// Events whose source is a DB cluster snapshot (the rest are DB snapshot events).
const CLUSTER_EVENTS: [&str; 7] = ["0074", "0075", "0162", "0163", "0164", "0168", "0169"];

/// The message an RDS event subscription publishes for one event. `source_arn` is absent from
/// some real messages.
pub fn rds_message(event_id: &str, source_id: &str, source_arn: Option<&str>) -> Value {
    let cluster = CLUSTER_EVENTS.iter().any(|n| event_id.ends_with(n));
    let mut message = json!({
        "Event Source": if cluster { "db-cluster-snapshot" } else { "db-snapshot" },
        "Event Time": "2026-11-24 03:12:00.000",
        "Identifier Link": format!("https://console.aws.amazon.com/rds/home#snapshot:id={source_id}"),
        "Source ID": source_id,
        "Event ID": format!("{EVENTS_DOC}{event_id}"),
        "Event Message": format!("{event_id} for {source_id}"),
    });
    if let Some(arn) = source_arn {
        message["Source ARN"] = json!(arn);
    }
    message
}

/// An SQS message body as SNS delivers to a queue: the notification envelope around the
/// message text (the RDS message's JSON, or a plain-text notification).
pub fn sns_envelope(message: &str, message_id: &str) -> String {
    json!({"Type": "Notification", "MessageId": message_id, "Message": message}).to_string()
}

/// One SQS record of a Lambda event, as the event source mapping builds it.
pub fn sqs_record(message_id: &str, body: &str, receive_count: u32, queue_arn: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("rh-{message_id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(':').nth(3).unwrap_or_default(),
    })
}

/// A Lambda SQS event of the given records.
pub fn sqs_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

/// The common case: one SNS-wrapped RDS event as a one-record SQS batch.
pub fn sqs_rds_event(event_id: &str, source_id: &str, source_arn: Option<&str>, queue_arn: &str) -> Value {
    let body = sns_envelope(&rds_message(event_id, source_id, source_arn).to_string(), "n-1");
    sqs_event(vec![sqs_record("m-1", &body, 1, queue_arn)])
}
