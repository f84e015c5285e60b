//! A local stand-in for Lambda's SQS event source mapping, for running the functions against an
//! emulator or a real queue from a laptop: receive a batch, hand it to the same handler as the
//! SQS event Lambda would build, then delete every message the handler did not report in
//! `batchItemFailures` (the mapping's `ReportBatchItemFailures` behaviour).

use std::collections::HashSet;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName};
use s3exports_rds::error::error_text;

/// Lambda builds one SQS event per batch; this is that event for messages received by hand.
pub fn lambda_event(messages: &[Message], queue_arn: &str, region: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.attributes =
                m.attributes().into_iter().flatten().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect();
            record.message_attributes = m
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let mut attribute = SqsMessageAttribute::default();
                    attribute.string_value = v.string_value.clone();
                    attribute.data_type = Some(v.data_type.clone());
                    (k.clone(), attribute)
                })
                .collect();
            record.event_source = Some("aws:sqs".to_owned());
            record.event_source_arn = Some(queue_arn.to_owned());
            record.aws_region = Some(region.to_owned());
            record
        })
        .collect();
    event
}

/// The messages the event source mapping deletes: all but the reported failures.
pub fn settled<'a>(messages: &'a [Message], batch: &SqsBatchResponse) -> Vec<&'a Message> {
    let failed: HashSet<&str> = batch.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    messages.iter().filter(|m| !failed.contains(m.message_id().unwrap_or_default())).collect()
}

/// One queue, as the poller sees it.
#[derive(Debug, Clone)]
pub struct PolledQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
    pub arn: String,
    /// From the queue's redrive policy, where records that can never succeed are sent.
    pub dead_letter_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub visible: u64,
    /// Received and not yet deleted: waiting out a retry backoff.
    pub in_flight: u64,
    /// Messages waiting for their delivery delay.
    pub delayed: u64,
}

fn sdk_error<E: std::error::Error + 'static>(what: &str, e: E) -> String {
    format!("{what}: {}", error_text(e))
}

/// A queue's URL from its name, or a URL as it is.
pub async fn queue_url(client: &aws_sdk_sqs::Client, name_or_url: &str) -> Result<String, String> {
    if name_or_url.starts_with("https://") || name_or_url.starts_with("http://") {
        return Ok(name_or_url.to_owned());
    }
    let out = client
        .get_queue_url()
        .queue_name(name_or_url)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("finding queue `{name_or_url}` (is the environment deployed?)"), e))?;
    Ok(out.queue_url().unwrap_or_default().to_owned())
}

impl PolledQueue {
    /// Looks the queue up by name, or takes a URL as it is.
    pub async fn open(client: aws_sdk_sqs::Client, name_or_url: &str) -> Result<Self, String> {
        let url = queue_url(&client, name_or_url).await?;
        let attributes = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("reading the attributes of {url}"), e))?;
        let attributes = attributes.attributes().cloned().unwrap_or_default();
        let arn = attributes.get(&QueueAttributeName::QueueArn).cloned().unwrap_or_default();
        let dead_letter_arn = attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned));
        let dead_letter_url = match dead_letter_arn.as_deref().and_then(|arn| arn.rsplit(':').next()) {
            Some(name) => Some(
                client
                    .get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .map_err(|e| sdk_error(&format!("finding the dead-letter queue `{name}`"), e))?
                    .queue_url()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Self { client, url, arn, dead_letter_url })
    }

    /// One long-polling receive of up to `max` messages, with the attributes Lambda passes on.
    pub async fn receive(&self, max: i32, wait_seconds: i32) -> Result<Vec<Message>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error(&format!("receiving from {}", self.url), e))?;
        Ok(out.messages.unwrap_or_default())
    }

    pub async fn delete(&self, messages: &[&Message]) -> Result<(), String> {
        if messages.is_empty() {
            return Ok(());
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("deleting handled messages from {}", self.url), e))?;
        match out.failed().first() {
            Some(f) => Err(format!("deleting a handled message from {}: {}", self.url, f.message().unwrap_or(&f.code))),
            None => Ok(()),
        }
    }

    pub async fn backlog(&self) -> Result<Backlog, String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("reading the backlog of {}", self.url), e))?;
        let count = |name: QueueAttributeName| {
            out.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Ok(Backlog {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::BatchItemFailure;

    use super::*;

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body(r#"{"Type":"Notification","Message":"{}"}"#)
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .build()
    }

    #[test]
    fn builds_the_event_lambda_would_and_the_handler_parses_it() {
        let messages = [message("a"), message("b")];
        let event = lambda_event(&messages, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1");
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["Records"][1]["messageId"], "b");
        assert_eq!(value["Records"][0]["eventSourceARN"], "arn:aws:sqs:us-east-1:123456789012:q");
        assert_eq!(value["Records"][0]["attributes"]["ApproximateReceiveCount"], "2");
        let (_, records) = crate::event::split(&value).unwrap();
        assert_eq!(records.len(), 2);
        let crate::event::Origin::Sqs(origin) = &records[0].origin else { panic!("not an SQS record") };
        assert_eq!((origin.receipt_handle.as_str(), origin.receive_count), ("rh-a", 2));
    }

    #[test]
    fn deletes_all_but_the_reported_failures() {
        let messages = [message("a"), message("b"), message("c")];
        let mut batch = SqsBatchResponse::default();
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = "b".into();
        batch.batch_item_failures.push(failure);
        let ids: Vec<_> = settled(&messages, &batch).iter().map(|m| m.message_id().unwrap()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(settled(&messages, &SqsBatchResponse::default()).len(), 3);
    }
}
