//! The exporting function: a snapshot-created event in, its database and policy resolved, and
//! an export started into a free slot (or the record waits for one).

pub mod dispatch;
pub mod drain;
pub mod finished;
pub mod invocation;
pub mod pending;
pub mod reconcile;
pub mod retry;
pub mod rules;
pub mod start;

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use s3exports_rds::policy::{check_min_interval, check_snapshot_type};

use s3exports_config::ExportTarget;
use s3exports_rds::export_id::export_task_identifier;
use s3exports_rds::{AwsError, Snapshot, StartExport, TaskFilter};
use serde_json::Value;

use crate::aws::Aws;
use crate::batch::{Handled, RecordDecider, Settings, handle_with, start_decision};
use crate::decision::{Decision, Outcome};
use crate::event::{RdsEvent, Record, UnknownEvent};
use crate::event_kind::{EventKind, event_kind};
use pending::PendingExport;
use retry::RetryKind;
use start::Started;

/// The exporter, for one batch: snapshot created -> export started.
#[derive(Debug)]
pub struct Exporting<'a, A> {
    aws: &'a A,
    settings: &'a Settings,
    /// A record of this batch found every export slot taken. Slots free up over minutes and a
    /// batch takes milliseconds, so the batch's later snapshots are parked without counting the
    /// exports in progress again: RDS's API rate limit is shared with everything in the account.
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
        let known_full = self.slots_full.load(Ordering::Relaxed);
        let decision = decide_record(self.aws, self.settings, record, known_full).await;
        if decision.queued {
            self.slots_full.store(true, Ordering::Relaxed);
        }
        decision
    }
}

pub async fn handle<A: Aws>(aws: &A, settings: &Settings, event: &Value) -> Result<Handled, UnknownEvent> {
    handle_with(aws, settings, event, &Exporting::new(aws, settings)).await
}

/// Decides one record. Never fails: every problem becomes an outcome with a reason.
/// `known_full`: an earlier record of the batch found every slot taken.
pub async fn decide_record<A: Aws>(aws: &A, settings: &Settings, record: &Record, known_full: bool) -> Decision {
    let (event, d) = match start_decision(record) {
        ControlFlow::Continue(started) => started,
        ControlFlow::Break(done) => return done,
    };
    match event_kind(&event.event_id) {
        EventKind::SnapshotCreated { cluster } => export_snapshot(aws, settings, event, cluster, known_full, d).await,
        EventKind::ExportFinished { cluster, result } => {
            finished::export_finished(aws, settings, event, cluster, result, record.attempt(), d).await
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

async fn export_snapshot<A: Aws>(
    aws: &A,
    settings: &Settings,
    event: &RdsEvent,
    cluster: bool,
    known_full: bool,
    d: Decision,
) -> Decision {
    let what = if cluster { "DB cluster snapshot" } else { "DB snapshot" };
    // The slot count needs nothing from the snapshot, so it is read while the snapshot and its
    // target are: one round trip less on every start, a cold start's first event most of all.
    let active_filter = TaskFilter::active();
    let count_active = async { if known_full { Ok(None) } else { aws.export_tasks(&active_filter).await.map(Some) } };
    let (resolved, active) = futures::join!(snapshot_and_target(aws, &event.source_id, cluster), count_active);
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
    if snapshot.arn.trim().is_empty() {
        return d.retry(
            RetryKind::NotReady,
            format!("RDS described {what} `{}` without an ARN, which StartExportTask needs", snapshot.id),
        );
    }
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

    if let Err(why) = check_snapshot_type(&snapshot, &policy) {
        return d.with(Outcome::Skip, why);
    }
    if policy.min_interval.0.is_some() {
        let filter = TaskFilter { s3_bucket: Some(target.s3_bucket_name.clone()), ..TaskFilter::default() };
        match aws.export_tasks(&filter).await {
            Ok(prior) => {
                if let Err(why) = check_min_interval(created, &export_id, policy.min_interval, &prior) {
                    return d.with(Outcome::Skip, why);
                }
            }
            Err(e) => return d.failed("listing this database's exports", &e),
        }
    }

    let request = StartExport::to_target(&export_id, &snapshot.arn, &target, &settings.defaults);
    let destination = request.destination();
    let active = match active {
        Ok(Some(tasks)) => tasks,
        Ok(None) => {
            return park(aws, settings, d, snapshot, request, "an earlier record of this batch found every slot taken")
                .await;
        }
        Err(e) => return d.failed("counting exports in progress", &e),
    };
    if active.iter().any(|t| t.id == export_id) {
        return d.with(Outcome::Skip, format!("export task {export_id} is already running (redelivered event)"));
    }
    if rules::slots_full(active.len(), settings.defaults.export_slots) {
        let why = format!("{} exports in progress, {} slots", active.len(), settings.defaults.export_slots);
        return park(aws, settings, d, snapshot, request, &why).await;
    }
    if !rules::quota_backstops(settings.defaults.export_slots) {
        // Below the account's quota, RDS would not refuse a start past the configured slots, so
        // two starts racing for the last one must not both happen: the export waits its turn
        // under the pending queue's lock, and this invocation dispatches it at once.
        let why = format!(
            "a slot is free ({} of {} in use); with export_slots below the account's {}, exports start under the \
             pending queue's lock",
            active.len(),
            settings.defaults.export_slots,
            rules::ACCOUNT_EXPORT_QUOTA
        );
        let mut d = park(aws, settings, d, snapshot, request, &why).await;
        d.slot_free = d.queued;
        return d;
    }
    if settings.dry_run {
        return d.with(
            Outcome::StartExport,
            format!("dry run: would export to {destination} ({} slots in use)", active.len()),
        );
    }
    match start::start(aws, &request).await {
        Ok(started @ (Started::New | Started::Moved { new: true, .. })) => {
            d.with(Outcome::StartExport, started.describe(&request))
        }
        Ok(started) => d.with(Outcome::Skip, format!("{} (redelivered event)", started.describe(&request))),
        Err(AwsError::Unmodelled(msg)) if rules::slots_full(active.len() + 1, rules::ACCOUNT_EXPORT_QUOTA) => {
            let why = format!("StartExportTask refused while exports are running ({msg}): quota full");
            park(aws, settings, d, snapshot, request, &why).await
        }
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

/// Every slot is taken: the export waits in the pending queue, and this record is done. A
/// redelivered event parks it again, which costs nothing: the queue drops a copy within five
/// minutes, and dispatch finds a later copy already exported.
async fn park<A: Aws>(
    aws: &A,
    settings: &Settings,
    d: Decision,
    snapshot: Snapshot,
    request: StartExport,
    why: &str,
) -> Decision {
    let mut d = d;
    d.queued = true;
    if settings.dry_run {
        return d.with(Outcome::StartExport, format!("dry run: {why}; would wait in the pending queue"));
    }
    let pending = PendingExport { snapshot, request, parked_by: "event".to_owned() };
    match aws.park(&pending, &pending::deduplication_id(pending.export_id(), None)).await {
        Ok(()) => {
            d.with(Outcome::StartExport, format!("{why}: queued in the pending queue, started when a slot frees"))
        }
        Err(e) => {
            d.queued = false;
            d.failed("parking the export in the pending queue", &e)
        }
    }
}
