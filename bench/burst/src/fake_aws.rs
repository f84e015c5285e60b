//! The fake AWS the simulation's function talks to: RDS with the account's export quota and
//! exports that take time, SSM targets with the function's cache, the events queue, the FIFO
//! pending queue with its one-group lock and five-minute deduplication, CloudWatch; every call
//! counted, every attempt faulted as configured.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use s3exports_config::ExportTarget;
use s3exports_exporter::aws::{Aws, ExportAlert};
use s3exports_exporter::event::SqsMessageRef;
use s3exports_exporter::export::pending::{Parked, PendingExport};
use s3exports_rds::{AwsError, ExportStatus, ExportTask, Snapshot, StartExport, TaskFilter};

use crate::{ACCOUNT, BurstSpec, FIFO_DEDUP_MS, PENDING_HOLD_MS, REGION, TARGET_CACHE_MS};

/// splitmix64: deterministic, well mixed.
pub(crate) fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut x = *state;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// True with probability `p`.
pub(crate) fn chance(state: &mut u64, p: f64) -> bool {
    ((next(state) >> 11) as f64 / (1u64 << 53) as f64) < p
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) id: String,
    pub(crate) body: String,
    pub(crate) visible_at: u64,
    pub(crate) receive_count: u32,
    pub(crate) receipt: String,
    pub(crate) deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) source_arn: String,
    pub(crate) bucket: String,
    pub(crate) cluster: bool,
    pub(crate) started: u64,
    pub(crate) done: u64,
    /// Its export-completed event was published.
    pub(crate) announced: bool,
}

/// A message of the pending queue (FIFO: kept in the order sent).
#[derive(Debug, Clone)]
pub(crate) struct PendingMessage {
    pub(crate) body: String,
    pub(crate) receipt: String,
    /// Received and not yet settled until then.
    pub(crate) held_until: u64,
}

#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) now: u64,
    pub(crate) rng: u64,
    pub(crate) snapshots: HashMap<(String, bool), Snapshot>,
    pub(crate) tasks: BTreeMap<String, Task>,
    pub(crate) starts: HashMap<String, usize>,
    pub(crate) queue: Vec<Message>,
    pub(crate) pending: Vec<PendingMessage>,
    pub(crate) dedup: HashMap<String, u64>,
    pub(crate) dlq: Vec<String>,
    /// Export ids a reconcile parked.
    pub(crate) reconciled: Vec<String>,
    pub(crate) next_id: u64,
    pub(crate) target_fetched: HashMap<String, u64>,
    pub(crate) calls: BTreeMap<String, u64>,
    pub(crate) faults: u64,
    pub(crate) quota_refusals: u64,
}

impl World {
    /// No event waiting, no export pending or in progress.
    pub(crate) fn is_idle(&self) -> bool {
        !self.queue.iter().any(|m| !m.deleted) && self.pending.is_empty() && self.active() == 0
    }

    pub(crate) fn active(&self) -> usize {
        self.tasks.values().filter(|t| t.done > self.now).count()
    }

    pub(crate) fn next_receipt(&mut self) -> String {
        self.next_id += 1;
        format!("rh-{}", self.next_id)
    }

    pub(crate) fn enqueue(&mut self, body: String, visible_at: u64) {
        self.next_id += 1;
        let id = format!("msg-{:06}", self.next_id);
        self.queue.push(Message { id, body, visible_at, receive_count: 0, receipt: String::new(), deleted: false });
    }
}

/// The fake AWS the handler talks to.
#[derive(Debug)]
pub struct SimAws {
    pub(crate) spec: BurstSpec,
    pub(crate) world: Mutex<World>,
}

impl SimAws {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One call as the SDK makes it: each attempt may be throttled or fail with a 5xx; the
    /// handler sees an error only when every attempt failed. Yields, so invocations interleave.
    pub(crate) async fn call(&self, operation: &str) -> Result<(), AwsError> {
        tokio::task::yield_now().await;
        let mut w = self.world();
        for _ in 0..self.spec.sdk_attempts {
            *w.calls.entry(operation.to_owned()).or_default() += 1;
            if chance(&mut w.rng, self.spec.throttle_rate + self.spec.server_error_rate) {
                w.faults += 1;
                continue;
            }
            return Ok(());
        }
        Err(AwsError::Transient(format!("{operation}: throttled or 5xx on all {} attempts", self.spec.sdk_attempts)))
    }

    pub(crate) fn task(&self, id: &str, t: &Task, now: u64) -> ExportTask {
        let status = if t.done > now { ExportStatus::InProgress } else { ExportStatus::Complete };
        ExportTask {
            id: id.to_owned(),
            source_arn: t.source_arn.clone(),
            status,
            snapshot_time: None,
            task_start_time: Some(sim_time(t.started)),
            task_end_time: (t.done <= now).then(|| sim_time(t.done)),
            s3_bucket: t.bucket.clone(),
            s3_prefix: String::new(),
            kms_key_id: String::new(),
            iam_role_arn: String::new(),
            percent_progress: if t.done > now { 50 } else { 100 },
            total_extracted_data_in_gb: 0,
            failure_cause: None,
            warning_message: None,
            export_only: Vec::new(),
            cluster: t.cluster,
        }
    }
}

pub(crate) fn sim_time(ms: u64) -> DateTime<Utc> {
    let start = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).single().unwrap_or_default();
    start + chrono::Duration::milliseconds(ms as i64)
}

impl Aws for SimAws {
    async fn describe_snapshot(&self, id: &str, cluster: bool) -> Result<Option<Snapshot>, AwsError> {
        self.call(if cluster { "DescribeDBClusterSnapshots" } else { "DescribeDBSnapshots" }).await?;
        Ok(self.world().snapshots.get(&(id.to_owned(), cluster)).cloned())
    }

    async fn export_tasks(&self, filter: &TaskFilter) -> Result<Vec<ExportTask>, AwsError> {
        self.call("DescribeExportTasks").await?;
        let w = self.world();
        let tasks = w
            .tasks
            .iter()
            .map(|(id, t)| self.task(id, t, w.now))
            .filter(|t| filter.export_task_identifier.as_ref().is_none_or(|id| *id == t.id))
            .filter(|t| filter.source_arn.as_ref().is_none_or(|arn| *arn == t.source_arn))
            .filter(|t| filter.s3_bucket.as_ref().is_none_or(|b| *b == t.s3_bucket))
            .filter(|t| {
                filter.statuses.is_empty() || filter.statuses.iter().any(|s| s.eq_ignore_ascii_case(t.status.as_str()))
            })
            .collect();
        Ok(tasks)
    }

    async fn start_export(&self, request: &StartExport) -> Result<(), AwsError> {
        self.call("StartExportTask").await?;
        let mut w = self.world();
        if w.tasks.contains_key(&request.export_task_identifier) {
            return Err(AwsError::AlreadyExists);
        }
        if w.active() >= self.spec.quota {
            w.quota_refusals += 1;
            return Err(AwsError::Unmodelled(
                "ExportTaskLimitReached: you have reached the maximum number of export tasks in progress".into(),
            ));
        }
        let (now, done) = (w.now, w.now + self.spec.export_minutes * 60_000);
        let cluster = request.source_arn.contains(":cluster-snapshot:");
        let task = Task {
            source_arn: request.source_arn.clone(),
            bucket: request.s3_bucket.clone(),
            cluster,
            started: now,
            done,
            announced: false,
        };
        w.tasks.insert(request.export_task_identifier.clone(), task);
        *w.starts.entry(request.source_arn.clone()).or_default() += 1;
        Ok(())
    }

    async fn target(&self, db_id: &str) -> Result<Option<ExportTarget>, AwsError> {
        let fresh = {
            let w = self.world();
            w.target_fetched.get(db_id).is_some_and(|at| w.now < at + TARGET_CACHE_MS)
        };
        if !fresh {
            self.call("GetParameter").await?;
            let mut w = self.world();
            let now = w.now;
            w.target_fetched.insert(db_id.to_owned(), now);
        }
        Ok(Some(sim_target(db_id)))
    }

    async fn database_for_bucket(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        // Every simulated database exports to a bucket named after it.
        Ok(bucket.strip_suffix("-exports").map(str::to_owned))
    }

    async fn database_exists(&self, db_id: &str) -> Result<bool, AwsError> {
        self.call("DescribeDBInstances").await?;
        Ok(self.world().snapshots.values().any(|s| s.db_id == db_id))
    }

    async fn list_snapshots(&self, db_id: &str, awsbackup: bool) -> Result<Vec<Snapshot>, AwsError> {
        // As the SDK edge lists: instances; clusters when there are none; AWS Backup's for an
        // instance when wanted.
        self.call("DescribeDBSnapshots").await?;
        let of_db: Vec<Snapshot> = self.world().snapshots.values().filter(|s| s.db_id == db_id).cloned().collect();
        let cluster = of_db.iter().any(|s| s.cluster);
        if cluster {
            self.call("DescribeDBClusterSnapshots").await?;
        } else if awsbackup {
            self.call("DescribeDBSnapshots").await?;
        }
        Ok(of_db)
    }

    async fn targets(&self) -> Result<Vec<(String, ExportTarget)>, AwsError> {
        self.call("GetParametersByPath").await?;
        Ok((0..self.spec.databases.max(1)).map(db_name).map(|db| (db.clone(), sim_target(&db))).collect())
    }

    async fn metric(&self, _metric: &'static str, _total: f64, _per_db: &[(String, f64)]) -> Result<(), AwsError> {
        self.call("PutMetricData").await
    }

    async fn alert(&self, _alert: &ExportAlert) -> Result<(), AwsError> {
        self.call("Publish").await
    }

    async fn retry_later(&self, message: &SqsMessageRef, delay: Duration) -> Result<(), AwsError> {
        self.call("ChangeMessageVisibility").await?;
        let mut w = self.world();
        let visible_at = w.now + delay.as_millis() as u64;
        // A stale receipt handle (the message was received again since) changes nothing.
        if let Some(m) = w.queue.iter_mut().find(|m| m.receipt == message.receipt_handle && !m.deleted) {
            m.visible_at = visible_at;
        }
        Ok(())
    }

    async fn park(&self, pending: &PendingExport, deduplication_id: &str) -> Result<(), AwsError> {
        self.call("SendMessage(pending)").await?;
        let mut w = self.world();
        let now = w.now;
        let id = pending.export_id().to_owned();
        // SQS FIFO: a send with a deduplication id seen in the last five minutes is accepted
        // and dropped.
        if w.dedup.get(deduplication_id).is_some_and(|at| now < at + FIFO_DEDUP_MS) {
            return Ok(());
        }
        w.dedup.insert(deduplication_id.to_owned(), now);
        if pending.parked_by == "reconcile" {
            w.reconciled.push(id);
        }
        w.pending.push(PendingMessage { body: pending.to_body(), receipt: String::new(), held_until: 0 });
        Ok(())
    }

    async fn take_pending(&self, max: usize, _wait: std::time::Duration) -> Result<Vec<Parked>, AwsError> {
        self.call("ReceiveMessage(pending)").await?;
        let mut w = self.world();
        let now = w.now;
        // One message group: while any of it is held, nothing of it is delivered.
        if w.pending.iter().any(|m| m.held_until > now) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for i in 0..w.pending.len().min(max) {
            let receipt = w.next_receipt();
            let m = &mut w.pending[i];
            m.receipt = receipt.clone();
            m.held_until = now + PENDING_HOLD_MS;
            out.push(Parked { message_id: format!("message-{receipt}"), receipt, body: m.body.clone() });
        }
        Ok(out)
    }

    async fn pending_backlog(&self) -> Result<u64, AwsError> {
        self.call("GetQueueAttributes(pending)").await?;
        Ok(self.world().pending.len() as u64)
    }

    async fn settle_pending(&self, done: &[Parked], back: &[Parked]) -> Result<Vec<String>, AwsError> {
        if !done.is_empty() {
            self.call("DeleteMessageBatch(pending)").await?;
            self.world().pending.retain(|m| !done.iter().any(|p| p.receipt == m.receipt));
        }
        if !back.is_empty() {
            self.call("ChangeMessageVisibilityBatch(pending)").await?;
            for m in self.world().pending.iter_mut().filter(|m| back.iter().any(|p| p.receipt == m.receipt)) {
                m.held_until = 0;
            }
        }
        Ok(Vec::new())
    }

    async fn dead_letter(&self, _record_id: &str, body: &str, _reason: &str) -> Result<(), AwsError> {
        self.call("SendMessage(dead-letter)").await?;
        self.world().dlq.push(body.to_owned());
        Ok(())
    }
}

pub(crate) fn db_name(i: usize) -> String {
    format!("db-{i:02}")
}

pub(crate) fn sim_target(db_id: &str) -> ExportTarget {
    ExportTarget::new(
        format!("{db_id}-exports"),
        "",
        format!("arn:aws:iam::{ACCOUNT}:role/rds-snapshot-s3exports/prod/export-{db_id}"),
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{db_id}"),
    )
}
