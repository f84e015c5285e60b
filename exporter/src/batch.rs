//! The generic batch runner both functions share: a Lambda event in, each record decided on its
//! own by a [`RecordDecider`], then settled with the queue (retry later, requeue, dead-letter),
//! and the SQS partial batch response out.

use std::future::Future;
use std::ops::ControlFlow;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use s3exports_config::Defaults;
use serde_json::Value;

use crate::aws::Aws;
use crate::decision::{Decision, Outcome};
use crate::event::{self, EventSource, Origin, RdsEvent, Record, RecordError, UnknownEvent};
use crate::export::retry::{self, RetryKind};

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: String,
    /// Policy defaults for targets that leave a field out, and the export slots.
    pub defaults: Defaults,
    /// Make every read, start nothing, send nothing.
    pub dry_run: bool,
    /// Act on the queue (visibility, requeue, dead-letter); off when replaying a file.
    pub queue_actions: bool,
}

#[derive(Debug)]
pub struct Handled {
    pub source: EventSource,
    pub decisions: Vec<Decision>,
    /// SQS partial batch response: the records to be delivered again.
    pub batch: SqsBatchResponse,
}

impl Handled {
    /// For SNS and EventBridge wirings there is no batch response: a record that must be
    /// retried fails the invocation so Lambda's async retry redelivers it.
    pub fn needs_invocation_retry(&self) -> bool {
        self.source != EventSource::Sqs && self.decisions.iter().any(|d| d.outcome == Outcome::Retry)
    }
}

/// Decides what one record means; the batch runner settles it with the queue.
pub trait RecordDecider: Sync {
    fn decide<'a>(&'a self, record: &'a Record) -> impl Future<Output = Decision> + Send + 'a;
}

pub async fn handle_with<A: Aws, D: RecordDecider>(
    aws: &A,
    settings: &Settings,
    event: &Value,
    decider: &D,
) -> Result<Handled, UnknownEvent> {
    let (source, records) = event::split(event)?;
    let mut decisions = Vec::with_capacity(records.len());
    let mut batch = SqsBatchResponse::default();
    // Sequential on purpose: each start sees the slots the previous one took.
    for record in &records {
        let decision = decider.decide(record).await;
        decision.log();
        let settled = settle(aws, settings, record, &decision).await;
        if !settled {
            if let Origin::Sqs(msg) = &record.origin {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = msg.message_id.clone();
                batch.batch_item_failures.push(failure);
            }
        }
        decisions.push(decision);
    }
    Ok(Handled { source, decisions, batch })
}

/// Acts on the queue for one decided record; `false` leaves the message to be redelivered.
async fn settle<A: Aws>(aws: &A, settings: &Settings, record: &Record, decision: &Decision) -> bool {
    let Origin::Sqs(msg) = &record.origin else {
        // SNS / EventBridge: nothing to settle but permanent failures.
        if decision.outcome == Outcome::Reject && settings.queue_actions && !settings.dry_run {
            return dead_letter(aws, record, decision).await;
        }
        return decision.outcome != Outcome::Retry;
    };
    if !settings.queue_actions || settings.dry_run {
        return decision.outcome != Outcome::Retry;
    }
    match decision.outcome {
        Outcome::Retry => {
            let kind = decision.retry.unwrap_or(RetryKind::Transient);
            let delay = retry::retry_delay(kind, msg.receive_count, &msg.message_id);
            if let Err(e) = aws.retry_later(msg, delay).await {
                tracing::warn!(record = %record.id, error = %e, "could not delay the retry; default visibility applies");
            }
            false
        }
        Outcome::Reject => dead_letter(aws, record, decision).await,
        _ => true,
    }
}

async fn dead_letter<A: Aws>(aws: &A, record: &Record, decision: &Decision) -> bool {
    match aws.dead_letter(&record.id, &record.body, &decision.reason).await {
        Ok(()) => true,
        Err(e) => {
            // Left on the queue: its redrive policy still moves it to the DLQ.
            tracing::error!(record = %record.id, error = %e, "could not send to the dead-letter queue");
            false
        }
    }
}

/// The record's event and a decision started from it, or the final decision for a record
/// that holds no RDS event.
pub fn start_decision(record: &Record) -> ControlFlow<Decision, (&RdsEvent, Decision)> {
    let event = match &record.event {
        Ok(event) => event,
        Err(RecordError::PlainText(text)) => {
            let reason = format!("plain-text notification, not an RDS event: {text}");
            return ControlFlow::Break(Decision::new(&record.id, Outcome::Skip, reason));
        }
        Err(e @ RecordError::Malformed(_)) => {
            return ControlFlow::Break(Decision::new(&record.id, Outcome::Reject, e.to_string()));
        }
    };
    let mut d = Decision::new(&record.id, Outcome::Skip, "");
    d.event_id = Some(event.event_id.clone());
    d.snapshot = Some(event.source_id.clone());
    d.source_arn = event.source_arn.clone();
    ControlFlow::Continue((event, d))
}
