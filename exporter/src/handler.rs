//! One Lambda invocation: split the event into records, decide each, then settle each with
//! the queue (retry later, requeue, dead-letter) and build the partial batch response.

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use s3exports_config::{Defaults, ExportTarget};
use serde_json::Value;

use crate::classify::{EventKind, ExportResult, classify};
use crate::decide::{self, RetryKind};
use crate::decision::{Decision, Outcome};
use crate::edge::{Aws, AwsError, ExportAlert};
use crate::event::{self, EventSource, Origin, RdsEvent, Record, RecordError, UnknownEvent};
use crate::export_id::export_task_identifier;
use crate::model::{ExportStatus, ExportTask, Snapshot, StartExport, TaskFilter};

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

/// The exporter, for one batch: snapshot created -> export started.
#[derive(Debug)]
pub struct Exporting<'a, A> {
    aws: &'a A,
    settings: &'a Settings,
    /// A record of this batch found every export slot taken. Slots free up over minutes and a
    /// batch takes milliseconds, so the batch's later snapshots wait too without asking RDS
    /// again: under a backlog that saves three calls a record, and RDS's API rate limit is
    /// shared with everything else in the account.
    slots_full: AtomicBool,
}

impl<'a, A> Exporting<'a, A> {
    pub fn new(aws: &'a A, settings: &'a Settings) -> Self {
        Self { aws, settings, slots_full: AtomicBool::new(false) }
    }
}

impl<A: Aws> RecordDecider for Exporting<'_, A> {
    fn decide<'a>(&'a self, record: &'a Record) -> impl Future<Output = Decision> + Send + 'a {
        self.decide_in_batch(record)
    }
}

impl<A: Aws> Exporting<'_, A> {
    async fn decide_in_batch(&self, record: &Record) -> Decision {
        // A dry run is for reading each record's full decision; it costs no slots anyway.
        if self.slots_full.load(Ordering::Relaxed) && !self.settings.dry_run {
            if let Some(waits) = wait_for_a_slot(record) {
                return waits;
            }
        }
        let decision = decide_record(self.aws, self.settings, record).await;
        if decision.retry == Some(RetryKind::QuotaFull) {
            self.slots_full.store(true, Ordering::Relaxed);
        }
        decision
    }
}

/// A snapshot-created record waits for a slot, as an earlier record of its batch found none.
/// `None` for any other record: those need no slot.
fn wait_for_a_slot(record: &Record) -> Option<Decision> {
    let ControlFlow::Continue((event, d)) = start_decision(record) else { return None };
    matches!(classify(&event.event_id), EventKind::SnapshotCreated { .. })
        .then(|| d.retry(RetryKind::QuotaFull, "every export slot was taken earlier in this batch: waiting for one"))
}

pub async fn handle<A: Aws>(aws: &A, settings: &Settings, event: &Value) -> Result<Handled, UnknownEvent> {
    handle_with(aws, settings, event, &Exporting::new(aws, settings)).await
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
            let delay = decide::retry_delay(kind, msg.receive_count, &msg.message_id);
            if kind == RetryKind::QuotaFull && msg.receive_count >= decide::QUOTA_WAITS_IN_PLACE {
                // A fresh copy waits on without counting towards the DLQ. Hopping only every few
                // receives keeps a lost invocation from leaving two copies waiting each time.
                match aws.requeue(&record.body, delay).await {
                    Ok(()) => return true,
                    Err(e) => tracing::warn!(record = %record.id, error = %e, "requeue failed; retrying in place"),
                }
            }
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

/// Decides one record. Never fails: every problem becomes an outcome with a reason.
pub async fn decide_record<A: Aws>(aws: &A, settings: &Settings, record: &Record) -> Decision {
    let (event, d) = match start_decision(record) {
        ControlFlow::Continue(started) => started,
        ControlFlow::Break(done) => return done,
    };
    match classify(&event.event_id) {
        EventKind::SnapshotCreated { cluster } => export_snapshot(aws, settings, event, cluster, d).await,
        EventKind::ExportFinished { cluster, result } => {
            export_finished(aws, settings, event, cluster, result, d).await
        }
        EventKind::SnapshotCreating => d.with(
            Outcome::Skip,
            format!("{}: snapshot is still being created; the 'created' event triggers the export", event.event_id),
        ),
        EventKind::Other => d.with(
            Outcome::Skip,
            format!("{} ({}) is not a snapshot-created or export event", event.event_id, event.message),
        ),
    }
}

impl Decision {
    pub fn with(mut self, outcome: Outcome, reason: impl Into<String>) -> Self {
        self.outcome = outcome;
        self.reason = reason.into();
        self
    }

    pub fn retry(self, kind: RetryKind, reason: impl Into<String>) -> Self {
        let mut d = self.with(Outcome::Retry, reason);
        d.retry = Some(kind);
        d
    }

    /// Maps a failed AWS call to retry (transient) or reject (permanent).
    pub fn failed(self, doing: &str, error: &AwsError) -> Self {
        match error {
            AwsError::Transient(_) | AwsError::Unmodelled(_) => {
                self.retry(RetryKind::Transient, format!("{doing}: {error}"))
            }
            AwsError::NotReady(_) => self.retry(RetryKind::NotReady, format!("{doing}: {error}")),
            _ => self.with(Outcome::Reject, format!("{doing}: {error}")),
        }
    }
}

async fn export_snapshot<A: Aws>(
    aws: &A,
    settings: &Settings,
    event: &RdsEvent,
    cluster: bool,
    d: Decision,
) -> Decision {
    let what = if cluster { "DB cluster snapshot" } else { "DB snapshot" };
    // The slot count needs nothing from the snapshot, so it is read while the snapshot and its
    // target are: one round trip less on every start, a cold start's first event most of all.
    let active_filter = TaskFilter::active();
    let (resolved, active) =
        futures::join!(snapshot_and_target(aws, &event.source_id, cluster), aws.export_tasks(&active_filter));
    let (snapshot, target) = match resolved {
        Ok(Some(found)) => found,
        Ok(None) => {
            return d.with(
                Outcome::Reject,
                format!("{what} `{}` not found (deleted, or in another account/region)", event.source_id),
            );
        }
        Err(e) => return d.failed(&format!("describing {what} `{}`", event.source_id), &e),
    };
    let mut d = d;
    d.db = Some(snapshot.db_id.clone());
    d.source_arn = Some(snapshot.arn.clone());
    let Some(created) = snapshot.created.filter(|_| snapshot.is_available()) else {
        return d.retry(RetryKind::NotReady, format!("{what} is `{}`, not yet available", snapshot.status));
    };

    let target = match target {
        Ok(Some(t)) => t,
        Ok(None) => {
            return d.with(
                Outcome::Skip,
                format!(
                    "database `{}` is not configured for export in environment {}",
                    snapshot.db_id, settings.environment
                ),
            );
        }
        Err(e) => return d.failed(&format!("reading the export target of `{}`", snapshot.db_id), &e),
    };
    if let Err(problem) = target.validate() {
        return d.with(Outcome::Reject, format!("export target of `{}` is misconfigured: {problem}", snapshot.db_id));
    }
    let policy = target.policy(&settings.defaults);
    let export_id = export_task_identifier(&snapshot.db_id, created, &snapshot.arn);
    d.export_task_identifier = Some(export_id.clone());

    if let Err(why) = decide::check_snapshot_type(&snapshot, &policy) {
        return d.with(Outcome::Skip, why);
    }
    if policy.min_interval.0.is_some() {
        let filter = TaskFilter { s3_bucket: Some(target.s3_bucket_name.clone()), ..TaskFilter::default() };
        match aws.export_tasks(&filter).await {
            Ok(prior) => {
                if let Err(why) = decide::check_min_interval(created, &export_id, policy.min_interval, &prior) {
                    return d.with(Outcome::Skip, why);
                }
            }
            Err(e) => return d.failed("listing this database's exports", &e),
        }
    }

    let active = match active {
        Ok(tasks) => tasks,
        Err(e) => return d.failed("counting exports in progress", &e),
    };
    if decide::slots_full(active.len(), settings.defaults.export_slots) {
        return quota_full(aws, d, &export_id, &active, settings.defaults.export_slots).await;
    }

    let request = StartExport {
        export_task_identifier: export_id.clone(),
        source_arn: snapshot.arn.clone(),
        s3_bucket: target.s3_bucket_name.clone(),
        s3_prefix: target.s3_prefix.clone(),
        iam_role_arn: target.iam_role_arn.clone(),
        kms_key_id: target.kms_key_arn.clone(),
        export_only: policy.export_only.clone(),
    };
    let destination = format!("s3://{}/{}", request.s3_bucket, request.s3_prefix);
    if settings.dry_run {
        return d.with(
            Outcome::StartExport,
            format!("dry run: would export to {destination} ({} slots in use)", active.len()),
        );
    }
    match aws.start_export(&request).await {
        Ok(()) => d.with(Outcome::StartExport, format!("export started to {destination}")),
        Err(AwsError::AlreadyExists) => {
            d.with(Outcome::Skip, format!("export task {export_id} already exists (redelivered event)"))
        }
        Err(AwsError::Unmodelled(msg)) if decide::slots_full(active.len() + 1, 5) => d.retry(
            RetryKind::QuotaFull,
            format!("StartExportTask refused while exports are running ({msg}): quota full"),
        ),
        Err(e) => d.failed("StartExportTask", &e),
    }
}

/// The snapshot (`None` if there is no such snapshot) and the export target of its database.
async fn snapshot_and_target<A: Aws>(
    aws: &A,
    snapshot_id: &str,
    cluster: bool,
) -> Result<Option<(Snapshot, Result<Option<ExportTarget>, AwsError>)>, AwsError> {
    let Some(snapshot) = aws.describe_snapshot(snapshot_id, cluster).await? else {
        return Ok(None);
    };
    let target = aws.target(&snapshot.db_id).await;
    Ok(Some((snapshot, target)))
}

/// All slots are taken. If this very export is among those running (or done), the record is a
/// redelivery; otherwise it waits.
async fn quota_full<A: Aws>(aws: &A, d: Decision, export_id: &str, active: &[ExportTask], slots: u32) -> Decision {
    if active.iter().any(|t| t.id == export_id) {
        return d.with(Outcome::Skip, format!("export task {export_id} is already running (redelivered event)"));
    }
    let filter = TaskFilter { export_task_identifier: Some(export_id.to_owned()), ..TaskFilter::default() };
    match aws.export_tasks(&filter).await {
        Ok(existing) if !existing.is_empty() => {
            d.with(Outcome::Skip, format!("export task {export_id} already exists (redelivered event)"))
        }
        Ok(_) => d.retry(
            RetryKind::QuotaFull,
            format!("{} exports in progress, {slots} slots: waiting for one to finish", active.len()),
        ),
        Err(e) => d.failed("looking up the export task", &e),
    }
}

/// Finds the export task a finished-export event is about: by the snapshot's ARN, or the
/// snapshot's id, or the source id as the task's own identifier. Fills in what it learns.
pub async fn locate_finished_task<A: Aws>(
    aws: &A,
    event: &RdsEvent,
    cluster: bool,
    wanted: ExportStatus,
    d: &mut Decision,
) -> Result<Option<ExportTask>, AwsError> {
    let snapshot = match &event.source_arn {
        Some(_) => None,
        None => aws.describe_snapshot(&event.source_id, cluster).await?,
    };
    if let Some(s) = &snapshot {
        d.db = Some(s.db_id.clone());
    }
    let filter = match event.source_arn.clone().or_else(|| snapshot.as_ref().map(|s| s.arn.clone())) {
        Some(arn) => TaskFilter { source_arn: Some(arn), ..TaskFilter::default() },
        None => TaskFilter { export_task_identifier: Some(event.source_id.clone()), ..TaskFilter::default() },
    };
    let tasks = aws.export_tasks(&filter).await?;
    let Some(task) = tasks.into_iter().filter(|t| t.status == wanted).max_by_key(|t| t.task_end_time) else {
        return Ok(None);
    };
    d.export_task_identifier = Some(task.id.clone());
    d.source_arn = Some(task.source_arn.clone());
    if d.db.is_none() {
        // Only for the log line: a snapshot deleted since is no error.
        d.db = aws.describe_snapshot(&event.source_id, cluster).await.ok().flatten().map(|s| s.db_id);
    }
    Ok(Some(task))
}

async fn export_finished<A: Aws>(
    aws: &A,
    settings: &Settings,
    event: &RdsEvent,
    cluster: bool,
    result: ExportResult,
    mut d: Decision,
) -> Decision {
    let wanted = match result {
        ExportResult::Completed => ExportStatus::Complete,
        ExportResult::Failed => ExportStatus::Failed,
        ExportResult::Canceled => ExportStatus::Canceled,
    };
    let task = match locate_finished_task(aws, event, cluster, wanted, &mut d).await {
        Ok(Some(task)) => task,
        Ok(None) => {
            return d.retry(
                RetryKind::Transient,
                format!("no {} export task found for `{}` yet", wanted.as_str(), event.source_id),
            );
        }
        Err(e) => return d.failed("finding the finished export task", &e),
    };

    if result == ExportResult::Completed {
        let reason = format!(
            "export complete at {} ({} GB); ready to catalogue",
            task.s3_location(),
            task.total_extracted_data_in_gb
        );
        return d.with(Outcome::ExportCompleted, reason);
    }
    let alert = ExportAlert {
        export_task_identifier: task.id.clone(),
        status: task.status.as_str().to_owned(),
        source_arn: task.source_arn.clone(),
        db: d.db.clone(),
        s3_location: task.s3_location(),
        failure_cause: task.failure_cause.clone(),
        event_message: event.message.clone(),
    };
    let cause = task.failure_cause.clone().unwrap_or_else(|| event.message.clone());
    if !settings.dry_run {
        if let Err(e) = aws.alert(&alert).await {
            return d.failed("sending the export failure alert", &e);
        }
    }
    d.with(Outcome::ExportFailed, format!("export {} {}: {cause}", task.id, task.status.as_str().to_ascii_lowercase()))
}
