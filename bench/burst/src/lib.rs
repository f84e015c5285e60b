//! A deterministic burst simulation: the real exporting function
//! ([`handle_and_dispatch`], [`run_job`]) against a fake RDS, SSM, SQS and CloudWatch in
//! simulated time, with the faults production sees. It checks the promise the exporter makes:
//! every eligible snapshot exported exactly once, none lost, none dead-lettered, and counts
//! every AWS call the function makes.
//!
//! The fake RDS enforces the account quota (the sixth concurrent StartExportTask fails with the
//! error RDS gives, which the API model does not name), completes each export after a fixed
//! duration and then publishes its export-completed event. The pending queue is FIFO with one
//! message group, as deployed: while one dispatch holds messages, others receive none.
//! Faults: throttling and 5xx on every AWS attempt, retried the way the SDK's standard mode does
//! (3 attempts) before the function sees them; duplicate deliveries; out-of-order delivery;
//! invocations lost after they acted (timeouts), so their records come back after the
//! visibility timeout; snapshot-created events never delivered, found by the daily reconcile.
//! The event source mapping runs `concurrency` invocations at a time, which interleave call by
//! call, so two of them can race for the last export slot. The schedules run as deployed:
//! dispatch every 10 minutes, reconcile every 24 hours.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use s3exports_config::{Defaults, ExportTarget, names};
use serde::Serialize;
use serde_json::{Value, json};

use s3exports_exporter::Settings;
use s3exports_exporter::aws::{Aws, ExportAlert};
use s3exports_exporter::event::SqsMessageRef;
use s3exports_exporter::export::invocation::{ScheduledJob, handle_and_dispatch, run_job};
use s3exports_exporter::export::pending::{Parked, PendingExport};
use s3exports_rds::{AwsError, ExportStatus, ExportTask, Snapshot, StartExport, TaskFilter};
use s3exports_testkit::events;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
/// How long the function caches a database's export target (as [`s3exports_exporter::aws::sdk::SdkAws`] does).
const TARGET_CACHE_MS: u64 = 5 * 60 * 1000;
const MINUTE_MS: u64 = 60 * 1000;
/// The deployed schedules, and where they fall relative to the burst's start (any phase: a
/// schedule does not know when a burst begins).
const DISPATCH_EVERY_MS: u64 = 10 * MINUTE_MS;
const RECONCILE_EVERY_MS: u64 = 24 * 60 * MINUTE_MS;
const SCHEDULE_PHASE_MS: u64 = 7 * MINUTE_MS + 13_000;
/// How long a dispatch holds the pending exports it took (as the SDK edge does).
const PENDING_HOLD_MS: u64 = 120 * 1000;
/// SQS FIFO drops a message whose deduplication id it saw this recently.
const FIFO_DEDUP_MS: u64 = 5 * MINUTE_MS;

#[derive(Debug, Clone, Serialize)]
pub struct BurstSpec {
    pub snapshots: usize,
    pub databases: usize,
    /// Exports in progress the account allows.
    pub quota: usize,
    pub export_minutes: u64,
    /// Per AWS attempt.
    pub throttle_rate: f64,
    pub server_error_rate: f64,
    /// Events delivered twice (SNS and SQS are at-least-once).
    pub duplicate_rate: f64,
    /// Invocations that act and then time out, so their whole batch comes back.
    pub lost_invocation_rate: f64,
    /// Snapshot-created events never delivered: only the daily reconcile finds them.
    pub lost_event_rate: f64,
    /// The event source mapping's MaximumConcurrency and BatchSize (as in the core stack).
    pub concurrency: usize,
    pub batch_size: usize,
    pub visibility_timeout_s: u64,
    pub max_receive_count: u32,
    /// Attempts per call, as the SDK's standard retry mode makes them.
    pub sdk_attempts: u32,
    /// Simulated latency of one AWS call.
    pub call_ms: u64,
    pub seed: u64,
}

impl Default for BurstSpec {
    fn default() -> Self {
        Self {
            snapshots: 1_000,
            databases: 50,
            quota: 5,
            export_minutes: 30,
            throttle_rate: 0.10,
            server_error_rate: 0.05,
            duplicate_rate: 0.20,
            lost_invocation_rate: 0.02,
            lost_event_rate: 0.05,
            concurrency: 2,
            batch_size: 10,
            visibility_timeout_s: 360,
            max_receive_count: 10,
            sdk_attempts: 3,
            call_ms: 40,
            seed: 7,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BurstReport {
    pub snapshots: usize,
    pub exported: usize,
    pub lost: usize,
    /// Export tasks beyond the first for the same snapshot.
    pub duplicates: usize,
    pub dlq: usize,
    /// Messages handed to the function, duplicates and redeliveries included.
    pub deliveries: u64,
    pub invocations: u64,
    /// AWS calls the function made (SDK retries included), per operation.
    pub calls: BTreeMap<String, u64>,
    pub api_calls_per_snapshot: f64,
    pub faults_injected: u64,
    pub quota_refusals: u64,
    pub lost_events_injected: usize,
    /// Snapshots whose event was lost that a scheduled reconcile queued and that were exported.
    pub recovered_by_reconcile: usize,
    pub reconcile_runs: u64,
    pub scheduled_dispatches: u64,
    /// When the last export of a snapshot whose event arrived finished.
    pub drain_minutes: f64,
    /// Every export running back to back in every slot, for the snapshots whose event arrived.
    pub ideal_minutes: f64,
    /// When everything, the reconciled snapshots included, was exported.
    pub all_exported_minutes: f64,
}

/// splitmix64: deterministic, well mixed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut x = *state;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// True with probability `p`.
fn chance(state: &mut u64, p: f64) -> bool {
    ((next(state) >> 11) as f64 / (1u64 << 53) as f64) < p
}

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    visible_at: u64,
    receive_count: u32,
    receipt: String,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Task {
    source_arn: String,
    bucket: String,
    cluster: bool,
    started: u64,
    done: u64,
    /// Its export-completed event was published.
    announced: bool,
}

/// A message of the pending queue (FIFO: kept in the order sent).
#[derive(Debug, Clone)]
struct PendingMessage {
    body: String,
    receipt: String,
    /// Received and not yet settled until then.
    held_until: u64,
}

#[derive(Debug, Default)]
struct World {
    now: u64,
    rng: u64,
    snapshots: HashMap<(String, bool), Snapshot>,
    tasks: BTreeMap<String, Task>,
    starts: HashMap<String, usize>,
    queue: Vec<Message>,
    pending: Vec<PendingMessage>,
    dedup: HashMap<String, u64>,
    dlq: Vec<String>,
    /// Export ids a reconcile parked.
    reconciled: Vec<String>,
    next_id: u64,
    target_fetched: HashMap<String, u64>,
    calls: BTreeMap<String, u64>,
    faults: u64,
    quota_refusals: u64,
}

impl World {
    fn active(&self) -> usize {
        self.tasks.values().filter(|t| t.done > self.now).count()
    }

    fn next_receipt(&mut self) -> String {
        self.next_id += 1;
        format!("rh-{}", self.next_id)
    }

    fn enqueue(&mut self, body: String, visible_at: u64) {
        self.next_id += 1;
        let id = format!("msg-{:06}", self.next_id);
        self.queue.push(Message { id, body, visible_at, receive_count: 0, receipt: String::new(), deleted: false });
    }
}

/// The fake AWS the handler talks to.
#[derive(Debug)]
pub struct SimAws {
    spec: BurstSpec,
    world: Mutex<World>,
}

impl SimAws {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One call as the SDK makes it: each attempt may be throttled or fail with a 5xx; the
    /// handler sees an error only when every attempt failed. Yields, so invocations interleave.
    async fn call(&self, operation: &str) -> Result<(), AwsError> {
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

    fn task(&self, id: &str, t: &Task, now: u64) -> ExportTask {
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

fn sim_time(ms: u64) -> DateTime<Utc> {
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

    async fn park(&self, pending: &PendingExport) -> Result<(), AwsError> {
        self.call("SendMessage(pending)").await?;
        let mut w = self.world();
        let now = w.now;
        let id = pending.export_id().to_owned();
        if w.dedup.get(&id).is_some_and(|at| now < at + FIFO_DEDUP_MS) {
            return Ok(());
        }
        w.dedup.insert(id.clone(), now);
        if pending.parked_by == "reconcile" {
            w.reconciled.push(id);
        }
        w.pending.push(PendingMessage { body: pending.to_body(), receipt: String::new(), held_until: 0 });
        Ok(())
    }

    async fn take_pending(&self, max: usize) -> Result<Vec<Parked>, AwsError> {
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
            out.push(Parked { receipt, body: m.body.clone() });
        }
        Ok(out)
    }

    async fn pending_backlog(&self) -> Result<u64, AwsError> {
        self.call("GetQueueAttributes(pending)").await?;
        Ok(self.world().pending.len() as u64)
    }

    async fn settle_pending(&self, done: &[String], back: &[String]) -> Result<(), AwsError> {
        if !done.is_empty() {
            self.call("DeleteMessageBatch(pending)").await?;
            self.world().pending.retain(|m| !done.contains(&m.receipt));
        }
        if !back.is_empty() {
            self.call("ChangeMessageVisibilityBatch(pending)").await?;
            for m in self.world().pending.iter_mut().filter(|m| back.contains(&m.receipt)) {
                m.held_until = 0;
            }
        }
        Ok(())
    }

    async fn dead_letter(&self, _record_id: &str, body: &str, _reason: &str) -> Result<(), AwsError> {
        self.call("SendMessage(dead-letter)").await?;
        self.world().dlq.push(body.to_owned());
        Ok(())
    }
}

/// The RDS event RDS publishes for a created snapshot, as the SNS envelope SQS holds.
fn event_body(snapshot: &Snapshot) -> String {
    let event_id = if snapshot.cluster { "RDS-EVENT-0169" } else { "RDS-EVENT-0091" };
    events::sns_envelope(&events::rds_message(event_id, &snapshot.id, Some(&snapshot.arn)).to_string(), &snapshot.id)
}

/// The export-completed event RDS publishes for a finished export (named by its snapshot).
fn completed_body(task: &Task) -> String {
    let event_id = if task.cluster { "RDS-EVENT-0164" } else { "RDS-EVENT-0161" };
    let snapshot_id = task.source_arn.splitn(7, ':').nth(6).unwrap_or_default();
    let message = events::rds_message(event_id, snapshot_id, Some(&task.source_arn)).to_string();
    events::sns_envelope(&message, &format!("done-{snapshot_id}"))
}

fn db_name(i: usize) -> String {
    format!("db-{i:02}")
}

fn sim_target(db_id: &str) -> ExportTarget {
    ExportTarget::new(
        format!("{db_id}-exports"),
        "",
        format!("arn:aws:iam::{ACCOUNT}:role/rds-snapshot-s3exports/prod/export-{db_id}"),
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{db_id}"),
    )
}

/// `databases` databases (every fifth an Aurora cluster), their snapshots spread over days.
fn snapshots(spec: &BurstSpec) -> Vec<Snapshot> {
    (0..spec.snapshots)
        .map(|i| {
            let db = db_name(i % spec.databases.max(1));
            let cluster = (i % spec.databases.max(1)) % 5 == 4;
            let created = sim_time(0) - chrono::Duration::hours((i / spec.databases.max(1)) as i64 * 24 + 1);
            let id = format!("rds:{db}-{}", created.format("%Y-%m-%d-%H-%M"));
            let kind = if cluster { "cluster-snapshot" } else { "snapshot" };
            Snapshot {
                arn: format!("arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{id}"),
                id,
                db_id: db,
                cluster,
                snapshot_type: "automated".into(),
                engine: if cluster { "aurora-postgresql" } else { "postgres" }.into(),
                created: Some(created),
                status: "available".into(),
            }
        })
        .collect()
}

/// What the event source mapping hands one invocation: up to `batch_size` visible messages,
/// in no particular order. A message received more than `max_receive_count` times goes to the
/// dead-letter queue instead (the queue's redrive policy).
fn receive(w: &mut World, spec: &BurstSpec) -> Vec<Message> {
    let mut batch = Vec::new();
    let mut visible: Vec<usize> =
        w.queue.iter().enumerate().filter(|(_, m)| !m.deleted && m.visible_at <= w.now).map(|(i, _)| i).collect();
    while batch.len() < spec.batch_size && !visible.is_empty() {
        let pick = visible.swap_remove((next(&mut w.rng) % visible.len() as u64) as usize);
        w.next_id += 1;
        let (now, receipt) = (w.now, format!("rh-{}", w.next_id));
        let m = &mut w.queue[pick];
        m.receive_count += 1;
        if m.receive_count > spec.max_receive_count {
            m.deleted = true;
            let body = m.body.clone();
            w.dlq.push(body);
            continue;
        }
        m.receipt = receipt;
        m.visible_at = now + spec.visibility_timeout_s * 1000;
        batch.push(m.clone());
    }
    batch
}

fn sqs_event(batch: &[Message]) -> Value {
    let queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", names::events_queue("prod"));
    let records = batch
        .iter()
        .map(|m| {
            let mut record = events::sqs_record(&m.id, &m.body, m.receive_count, &queue);
            record["receiptHandle"] = json!(m.receipt);
            record
        })
        .collect();
    events::sqs_event(records)
}

/// Runs the burst to the end: every message settled, every export finished, and a reconcile
/// run after the last event arrived.
pub async fn run(spec: &BurstSpec) -> BurstReport {
    let all = snapshots(spec);
    let mut world = World { rng: spec.seed, ..World::default() };
    for s in &all {
        world.snapshots.insert((s.id.clone(), s.cluster), s.clone());
    }
    // Delivered at once, in no order, some twice, some never.
    let mut bodies: Vec<(u64, String)> = Vec::new();
    let mut lost_events: HashSet<String> = HashSet::new();
    for s in &all {
        if chance(&mut world.rng, spec.lost_event_rate) {
            lost_events.insert(s.arn.clone());
            continue;
        }
        bodies.push((next(&mut world.rng), event_body(s)));
        if chance(&mut world.rng, spec.duplicate_rate) {
            bodies.push((next(&mut world.rng), event_body(s)));
        }
    }
    bodies.sort();
    for (_, body) in bodies {
        world.enqueue(body, 0);
    }
    let aws = SimAws { spec: spec.clone(), world: Mutex::new(world) };
    let settings = Settings {
        environment: "prod".into(),
        defaults: Defaults { export_slots: spec.quota as u32, ..Defaults::default() },
        dry_run: false,
        queue_actions: true,
    };

    let mut totals = Totals {
        next_dispatch: SCHEDULE_PHASE_MS,
        next_reconcile: RECONCILE_EVERY_MS - SCHEDULE_PHASE_MS,
        ..Totals::default()
    };
    loop {
        announce_finished_exports(&aws);
        let batches: Vec<Vec<Message>> = {
            let mut w = aws.world();
            (0..spec.concurrency).map(|_| receive(&mut w, spec)).filter(|b| !b.is_empty()).collect()
        };
        // Events are handled within seconds; a schedule falls anywhere in its period, so at one
        // simulated instant the events go first.
        if batches.is_empty() && run_due_schedules(&aws, &settings, &mut totals).await {
            continue;
        }
        let batches: Vec<Vec<Message>> = {
            if batches.is_empty() {
                let mut w = aws.world();
                let idle = !w.queue.iter().any(|m| !m.deleted) && w.pending.is_empty() && w.active() == 0;
                // Done once idle with every snapshot exported, or (if one never is) after a
                // reconcile that ran while idle.
                let all_exported = w.snapshots.values().all(|s| w.starts.contains_key(&s.arn));
                if idle && (all_exported || totals.idle_reconciles > 0) {
                    break;
                }
                // Nothing visible: jump to the next message, export completion or schedule.
                let now = w.now;
                let next_visible = w.queue.iter().filter(|m| !m.deleted).map(|m| m.visible_at).min();
                let next_done = w.tasks.values().map(|t| t.done).filter(|d| *d > now).min();
                let next_schedule = totals.next_dispatch.min(totals.next_reconcile);
                w.now = next_visible
                    .into_iter()
                    .chain(next_done)
                    .chain([next_schedule])
                    .min()
                    .unwrap_or(now + 1)
                    .max(now + 1);
                if idle && w.now >= totals.next_reconcile {
                    totals.idle_reconciles += 1;
                }
                continue;
            }
            batches
        };
        let calls_before: u64 = aws.world().calls.values().sum();
        let handled = futures::future::join_all(batches.iter().map(|b| {
            let event = sqs_event(b);
            let aws = &aws;
            let settings = &settings;
            async move { handle_and_dispatch(aws, settings, &event).await }
        }))
        .await;
        let mut w = aws.world();
        for (batch, result) in batches.iter().zip(handled) {
            totals.invocations += 1;
            totals.deliveries += batch.len() as u64;
            let Ok((handled, _)) = result else { continue };
            // A lost invocation acted but never returned: its messages come back later.
            if chance(&mut w.rng, spec.lost_invocation_rate) {
                continue;
            }
            let failed: Vec<&str> =
                handled.batch.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
            for m in batch.iter().filter(|m| !failed.contains(&m.id.as_str())) {
                if let Some(q) = w.queue.iter_mut().find(|q| q.id == m.id && q.receipt == m.receipt) {
                    q.deleted = true;
                }
            }
        }
        let calls: u64 = w.calls.values().sum::<u64>() - calls_before;
        // The round lasts as long as its busiest invocation's calls, and at least a second.
        w.now += (calls * spec.call_ms / batches.len() as u64).max(1_000);
        w.queue.retain(|m| !m.deleted);
    }
    report(spec, &all, &lost_events, &aws.world(), &totals)
}

/// What the run loop counts besides the world.
#[derive(Debug, Default)]
struct Totals {
    invocations: u64,
    deliveries: u64,
    next_dispatch: u64,
    next_reconcile: u64,
    reconcile_runs: u64,
    scheduled_dispatches: u64,
    /// Reconciles that ran with nothing else left to do.
    idle_reconciles: u64,
}

/// RDS publishes an export-completed event when an export finishes.
fn announce_finished_exports(aws: &SimAws) {
    let mut w = aws.world();
    let now = w.now;
    let finished: Vec<String> = w
        .tasks
        .values_mut()
        .filter(|t| t.done <= now && !t.announced)
        .map(|t| {
            t.announced = true;
            completed_body(t)
        })
        .collect();
    for body in finished {
        w.enqueue(body, now);
    }
}

/// The deployed schedules, when due: dispatch every 10 minutes, reconcile daily. Whether one ran.
async fn run_due_schedules(aws: &SimAws, settings: &Settings, totals: &mut Totals) -> bool {
    let now = aws.world().now;
    let due = now >= totals.next_reconcile || now >= totals.next_dispatch;
    if now >= totals.next_reconcile {
        totals.next_reconcile += RECONCILE_EVERY_MS;
        totals.reconcile_runs += 1;
        // A failed run (faults on every attempt) is retried by the next day's.
        let _ = run_job(aws, settings, &ScheduledJob::Reconcile { since_days: 60 }).await;
    }
    if now >= totals.next_dispatch {
        totals.next_dispatch += DISPATCH_EVERY_MS;
        totals.scheduled_dispatches += 1;
        let _ = run_job(aws, settings, &ScheduledJob::Dispatch).await;
    }
    due
}

fn report(
    spec: &BurstSpec,
    all: &[Snapshot],
    lost_events: &HashSet<String>,
    w: &World,
    totals: &Totals,
) -> BurstReport {
    let exported = all.iter().filter(|s| w.starts.get(&s.arn).is_some_and(|n| *n > 0)).count();
    let api_calls: u64 = w.calls.values().sum();
    let arrived = all.len() - lost_events.len();
    let finished_by =
        |keep: &dyn Fn(&Task) -> bool| w.tasks.values().filter(|t| keep(t)).map(|t| t.done).max().unwrap_or(0);
    let recovered: HashSet<&str> = w
        .reconciled
        .iter()
        .filter_map(|id| w.tasks.get(id))
        .filter(|t| lost_events.contains(&t.source_arn))
        .map(|t| t.source_arn.as_str())
        .collect();
    BurstReport {
        snapshots: all.len(),
        exported,
        lost: all.len() - exported,
        duplicates: w.starts.values().map(|n| n.saturating_sub(1)).sum(),
        dlq: w.dlq.len(),
        deliveries: totals.deliveries,
        invocations: totals.invocations,
        calls: w.calls.clone(),
        api_calls_per_snapshot: api_calls as f64 / all.len().max(1) as f64,
        faults_injected: w.faults,
        quota_refusals: w.quota_refusals,
        lost_events_injected: lost_events.len(),
        recovered_by_reconcile: recovered.len(),
        reconcile_runs: totals.reconcile_runs,
        scheduled_dispatches: totals.scheduled_dispatches,
        drain_minutes: finished_by(&|t| !lost_events.contains(&t.source_arn)) as f64 / 60_000.0,
        ideal_minutes: (arrived as f64 / spec.quota as f64).ceil() * spec.export_minutes as f64,
        all_exported_minutes: finished_by(&|_| true) as f64 / 60_000.0,
    }
}
