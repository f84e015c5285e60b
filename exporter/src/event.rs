//! Lambda events in, RDS event records out. Three wirings deliver the same RDS events:
//! SQS (body = SNS envelope, or the RDS JSON itself with raw delivery), SNS directly (the
//! seed's wiring), and EventBridge. Each record is parsed on its own so one bad record never
//! fails its batch.

use aws_lambda_events::sqs::SqsEvent;
use s3exports_rds::error::bounded;
use serde::Deserialize;
use serde_json::Value;

/// One RDS event, whichever way it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsEvent {
    /// `RDS-EVENT-0091`.
    pub event_id: String,
    /// `db-snapshot` / `db-cluster-snapshot` (SNS) or `SNAPSHOT` / `CLUSTER_SNAPSHOT` (EventBridge).
    pub source_type: Option<String>,
    /// Snapshot identifier, e.g. `rds:orders-2026-11-24-03-10` or `awsbackup:job-<uuid>`.
    pub source_id: String,
    /// Absent in some messages.
    pub source_arn: Option<String>,
    pub message: String,
    pub time: Option<String>,
}

/// Why a record's body is not an RDS event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not JSON at all: the first message of a new subscription, or a test notification.
    #[error("plain-text notification, not an RDS event: {0:?}")]
    PlainText(String),
    #[error("malformed RDS event: {0}")]
    Malformed(String),
}

/// Where a record came from; SQS records carry what the queue needs to retry or dead-letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Sqs(SqsMessageRef),
    Sns,
    EventBridge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsMessageRef {
    pub message_id: String,
    pub receipt_handle: String,
    pub queue_arn: String,
    /// `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
}

#[derive(Debug, Clone)]
pub struct Record {
    /// The SQS message id, SNS message id or EventBridge event id (index when missing).
    pub id: String,
    pub origin: Origin,
    /// The raw body as delivered, kept to dead-letter or requeue it unchanged.
    pub body: String,
    pub event: Result<RdsEvent, RecordError>,
}

impl Record {
    /// Which delivery of this record this is: SQS's receive count, 1 for SNS and EventBridge.
    pub fn attempt(&self) -> u32 {
        match &self.origin {
            Origin::Sqs(msg) => msg.receive_count.max(1),
            _ => 1,
        }
    }
}

/// The shape of the whole Lambda event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    Sqs,
    Sns,
    EventBridge,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unrecognised Lambda event: expected an SQS batch, an SNS notification or an EventBridge \
     RDS snapshot event ({0})"
)]
pub struct UnknownEvent(pub String);

/// Splits a Lambda event into records. Each record is read on its own: a `null`, junk or
/// foreign record becomes a malformed record of its own and never decides how the others are
/// read. The batch is an SQS batch if any record is one (else SNS).
pub fn split(event: &Value) -> Result<(EventSource, Vec<Record>), UnknownEvent> {
    if event.get("detail-type").is_some() {
        return Ok((EventSource::EventBridge, vec![eventbridge_record(event)]));
    }
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Err(UnknownEvent("no `Records` array and no `detail-type`".into()));
    };
    let source = if records.iter().any(|r| source_of(r) == Some("aws:sqs")) || records.is_empty() {
        // An empty batch is an SQS batch with nothing to do.
        EventSource::Sqs
    } else if records.iter().any(|r| source_of(r) == Some("aws:sns")) {
        EventSource::Sns
    } else {
        let first = records.first().and_then(source_of).map(bounded);
        return Err(UnknownEvent(format!("no SQS or SNS record; the first is from {first:?}")));
    };
    let records = records
        .iter()
        .enumerate()
        .map(|(i, value)| match source_of(value) {
            Some("aws:sqs") => sqs_record(i, value),
            Some("aws:sns") => sns_record((i, value)),
            other => foreign_record(i, value, source, other),
        })
        .collect();
    Ok((source, records))
}

/// A record's `eventSource` (SQS) or `EventSource` (SNS).
fn source_of(record: &Value) -> Option<&str> {
    record.get("eventSource").or_else(|| record.get("EventSource")).and_then(Value::as_str)
}

/// The message id a record carries, bounded; `record-<i>` when it has none.
fn record_id(value: &Value, field: &str, i: usize) -> String {
    value.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()).map_or_else(|| format!("record-{i}"), bounded)
}

/// A record that is neither SQS nor SNS inside a batch that is: rejected on its own.
fn foreign_record(i: usize, value: &Value, batch: EventSource, source: Option<&str>) -> Record {
    let message_id = value.get("messageId").and_then(Value::as_str).unwrap_or_default();
    let origin = match batch {
        EventSource::Sqs => Origin::Sqs(SqsMessageRef {
            message_id: message_id.to_owned(),
            receipt_handle: String::new(),
            queue_arn: String::new(),
            receive_count: 1,
        }),
        _ => Origin::Sns,
    };
    let what = match source {
        Some(s) => format!("a record from {:?}", bounded(s)),
        None if value.is_object() => "a record without an eventSource".to_owned(),
        None => format!("a {} where a record belongs", json_kind(value)),
    };
    Record {
        id: record_id(value, "messageId", i),
        origin,
        body: value.to_string(),
        event: Err(RecordError::Malformed(format!("record {i} is {what}, not an SQS or SNS record"))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn sqs_record(i: usize, value: &Value) -> Record {
    // Decoded one by one: a record the typed model rejects becomes a malformed record
    // instead of failing the whole batch.
    let typed = serde_json::from_value::<SqsEvent>(serde_json::json!({ "Records": [value.clone()] }))
        .ok()
        .and_then(|e| e.records.into_iter().next());
    let Some(msg) = typed else {
        return Record {
            id: record_id(value, "messageId", i),
            origin: Origin::Sqs(SqsMessageRef {
                message_id: value.get("messageId").and_then(Value::as_str).unwrap_or_default().to_owned(),
                receipt_handle: String::new(),
                queue_arn: String::new(),
                receive_count: 1,
            }),
            body: value.to_string(),
            event: Err(RecordError::Malformed("SQS record does not match the SQS event schema".into())),
        };
    };
    let body = msg.body.clone().unwrap_or_default();
    Record {
        id: msg.message_id.as_deref().filter(|s| !s.is_empty()).map_or_else(|| format!("record-{i}"), bounded),
        origin: Origin::Sqs(SqsMessageRef {
            message_id: msg.message_id.clone().unwrap_or_default(),
            receipt_handle: msg.receipt_handle.clone().unwrap_or_default(),
            queue_arn: msg.event_source_arn.clone().unwrap_or_default(),
            receive_count: msg.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1),
        }),
        event: parse_body(&body),
        body,
    }
}

fn sns_record((i, record): (usize, &Value)) -> Record {
    let sns = record.get("Sns");
    let id = sns.map_or_else(|| format!("record-{i}"), |s| record_id(s, "MessageId", i));
    let message = sns.and_then(|s| s.get("Message")).and_then(Value::as_str);
    let event = match message {
        Some(text) => parse_rds_message(text),
        None => Err(RecordError::Malformed("SNS record has no Sns.Message".into())),
    };
    Record { id, origin: Origin::Sns, body: message.unwrap_or_default().to_owned(), event }
}

fn eventbridge_record(event: &Value) -> Record {
    let id =
        event.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()).map_or_else(|| "event-0".to_owned(), bounded);
    Record { id, origin: Origin::EventBridge, body: event.to_string(), event: parse_eventbridge(event) }
}

/// An SQS body: an SNS envelope, the RDS JSON itself (raw delivery), or an EventBridge event
/// forwarded to the queue.
pub fn parse_body(body: &str) -> Result<RdsEvent, RecordError> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return Err(RecordError::PlainText(truncate(body)));
    }
    let value: Value =
        serde_json::from_str(body).map_err(|e| RecordError::Malformed(format!("body is not valid JSON: {e}")))?;
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(rename = "Message")]
            message: String,
        }
        let envelope: Envelope = serde_json::from_value(value)
            .map_err(|e| RecordError::Malformed(format!("SNS envelope without a Message string: {e}")))?;
        return parse_rds_message(&envelope.message);
    }
    if value.get("detail-type").is_some() {
        return parse_eventbridge(&value);
    }
    rds_message_from_value(&value)
}

/// The `Message` of an RDS event subscription notification.
pub fn parse_rds_message(text: &str) -> Result<RdsEvent, RecordError> {
    if !text.trim_start().starts_with('{') {
        return Err(RecordError::PlainText(truncate(text)));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| RecordError::Malformed(format!("message is not valid JSON: {e}")))?;
    rds_message_from_value(&value)
}

fn rds_message_from_value(value: &Value) -> Result<RdsEvent, RecordError> {
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let event_id_url = field("Event ID").ok_or_else(|| RecordError::Malformed("no \"Event ID\"".into()))?;
    let source_id = field("Source ID").ok_or_else(|| RecordError::Malformed("no \"Source ID\"".into()))?;
    let source_id = checked_source_id(source_id, "\"Source ID\"")?;
    Ok(RdsEvent {
        event_id: event_id_from(&event_id_url)?,
        source_type: field("Event Source"),
        source_id,
        source_arn: field("Source ARN").filter(|a| !a.is_empty()),
        message: field("Event Message").as_deref().map(bounded).unwrap_or_default(),
        time: field("Event Time"),
    })
}

fn parse_eventbridge(event: &Value) -> Result<RdsEvent, RecordError> {
    let detail_type = event.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    let detail =
        event.get("detail").ok_or_else(|| RecordError::Malformed("EventBridge event without detail".into()))?;
    let field = |name: &str| detail.get(name).and_then(Value::as_str).map(str::to_owned);
    let event_id = field("EventID")
        .ok_or_else(|| RecordError::Malformed(format!("{:?} event without detail.EventID", bounded(detail_type))))?;
    let source_id = field("SourceIdentifier").ok_or_else(|| {
        RecordError::Malformed(format!("{:?} event without detail.SourceIdentifier", bounded(detail_type)))
    })?;
    let source_id = checked_source_id(source_id, "detail.SourceIdentifier")?;
    Ok(RdsEvent {
        event_id: event_id_from(&event_id)?,
        source_type: field("SourceType"),
        source_id,
        source_arn: field("SourceArn")
            .or_else(|| {
                event
                    .get("resources")
                    .and_then(Value::as_array)
                    .and_then(|r| r.first())
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|a| !a.is_empty()),
        message: field("Message").as_deref().map(bounded).unwrap_or_default(),
        time: field("Date").or_else(|| event.get("time").and_then(Value::as_str).map(str::to_owned)),
    })
}

/// `http://docs.amazonwebservices.com/...#RDS-EVENT-0091` (the host varies) -> `RDS-EVENT-0091`.
pub fn event_id_from(text: &str) -> Result<String, RecordError> {
    let id = text.rsplit_once('#').map_or(text, |(_, id)| id).trim();
    let digits = id.strip_prefix("RDS-EVENT-").unwrap_or_default();
    if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(id.to_owned())
    } else {
        Err(RecordError::Malformed(format!("\"Event ID\" {:?} does not name an RDS-EVENT-NNNN", bounded(text))))
    }
}

/// RDS snapshot identifiers are 1 to 255 characters (an AWS Backup one is `awsbackup:job-<uuid>`).
pub const MAX_SOURCE_ID: usize = 255;

/// A snapshot identifier as an event names it: never blank (an empty identifier must not reach
/// DescribeDBSnapshots, which would answer with the account's snapshots), never oversized.
fn checked_source_id(id: String, field: &str) -> Result<String, RecordError> {
    let trimmed = id.trim();
    if trimmed.is_empty() {
        return Err(RecordError::Malformed(format!("{field} is blank: the event names no snapshot")));
    }
    if trimmed.chars().count() > MAX_SOURCE_ID {
        return Err(RecordError::Malformed(format!(
            "{field} is {} characters, over the {MAX_SOURCE_ID} a snapshot identifier may have: {}",
            trimmed.chars().count(),
            bounded(trimmed)
        )));
    }
    Ok(trimmed.to_owned())
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
