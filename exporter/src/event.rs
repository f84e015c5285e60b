//! Lambda events in, RDS event records out. Three wirings deliver the same RDS events:
//! SQS (body = SNS envelope, or the RDS JSON itself with raw delivery), SNS directly (the
//! seed's wiring), and EventBridge. Each record is parsed on its own so one bad record never
//! fails its batch.

use aws_lambda_events::sqs::SqsEvent;
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

/// Splits a Lambda event into records.
pub fn split(event: &Value) -> Result<(EventSource, Vec<Record>), UnknownEvent> {
    if event.get("detail-type").is_some() {
        return Ok((EventSource::EventBridge, vec![eventbridge_record(event)]));
    }
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Err(UnknownEvent("no `Records` array and no `detail-type`".into()));
    };
    let source_of =
        |r: &Value| r.get("eventSource").or_else(|| r.get("EventSource")).and_then(Value::as_str).map(str::to_owned);
    match records.first().and_then(source_of).as_deref() {
        // An empty batch is an SQS batch with nothing to do.
        None if records.is_empty() => Ok((EventSource::Sqs, Vec::new())),
        Some("aws:sqs") => Ok((EventSource::Sqs, sqs_records(event))),
        Some("aws:sns") => Ok((EventSource::Sns, records.iter().enumerate().map(sns_record).collect())),
        other => Err(UnknownEvent(format!("records from {other:?}"))),
    }
}

fn sqs_records(event: &Value) -> Vec<Record> {
    // Records are decoded one by one: a record the typed model rejects becomes a malformed
    // record instead of failing the whole batch.
    let raw = event.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
    raw.into_iter()
        .enumerate()
        .map(|(i, value)| {
            let typed = serde_json::from_value::<SqsEvent>(serde_json::json!({ "Records": [value.clone()] }))
                .ok()
                .and_then(|e| e.records.into_iter().next());
            let id_fallback = || value.get("messageId").and_then(Value::as_str).unwrap_or_default().to_owned();
            let Some(msg) = typed else {
                let id = Some(id_fallback()).filter(|s| !s.is_empty()).unwrap_or_else(|| format!("record-{i}"));
                return Record {
                    id,
                    origin: Origin::Sqs(SqsMessageRef {
                        message_id: id_fallback(),
                        receipt_handle: String::new(),
                        queue_arn: String::new(),
                        receive_count: 1,
                    }),
                    body: value.to_string(),
                    event: Err(RecordError::Malformed("SQS record does not match the SQS event schema".into())),
                };
            };
            let id = msg.message_id.clone().unwrap_or_else(|| format!("record-{i}"));
            let body = msg.body.clone().unwrap_or_default();
            Record {
                origin: Origin::Sqs(SqsMessageRef {
                    message_id: id.clone(),
                    receipt_handle: msg.receipt_handle.clone().unwrap_or_default(),
                    queue_arn: msg.event_source_arn.clone().unwrap_or_default(),
                    receive_count: msg
                        .attributes
                        .get("ApproximateReceiveCount")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                }),
                event: parse_body(&body),
                body,
                id,
            }
        })
        .collect()
}

fn sns_record((i, record): (usize, &Value)) -> Record {
    let sns = record.get("Sns");
    let id = sns
        .and_then(|s| s.get("MessageId"))
        .and_then(Value::as_str)
        .map_or_else(|| format!("record-{i}"), str::to_owned);
    let message = sns.and_then(|s| s.get("Message")).and_then(Value::as_str);
    let event = match message {
        Some(text) => parse_rds_message(text),
        None => Err(RecordError::Malformed("SNS record has no Sns.Message".into())),
    };
    Record { id, origin: Origin::Sns, body: message.unwrap_or_default().to_owned(), event }
}

fn eventbridge_record(event: &Value) -> Record {
    let id = event.get("id").and_then(Value::as_str).unwrap_or("event-0").to_owned();
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
    Ok(RdsEvent {
        event_id: event_id_from(&event_id_url)?,
        source_type: field("Event Source"),
        source_id,
        source_arn: field("Source ARN").filter(|a| !a.is_empty()),
        message: field("Event Message").unwrap_or_default(),
        time: field("Event Time"),
    })
}

fn parse_eventbridge(event: &Value) -> Result<RdsEvent, RecordError> {
    let detail_type = event.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    let detail =
        event.get("detail").ok_or_else(|| RecordError::Malformed("EventBridge event without detail".into()))?;
    let field = |name: &str| detail.get(name).and_then(Value::as_str).map(str::to_owned);
    let event_id = field("EventID")
        .ok_or_else(|| RecordError::Malformed(format!("{detail_type:?} event without detail.EventID")))?;
    let source_id = field("SourceIdentifier")
        .ok_or_else(|| RecordError::Malformed(format!("{detail_type:?} event without detail.SourceIdentifier")))?;
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
        message: field("Message").unwrap_or_default(),
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
        Err(RecordError::Malformed(format!("\"Event ID\" {text:?} does not name an RDS-EVENT-NNNN")))
    }
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
