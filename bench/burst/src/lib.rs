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

mod fake_aws;

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use s3exports_config::{Defaults, names};
use serde::Serialize;
use serde_json::{Value, json};

use fake_aws::{Message, SimAws, Task, World, chance, db_name, next, sim_time};
use s3exports_exporter::Settings;
use s3exports_exporter::export::invocation::{ScheduledJob, handle_and_dispatch, run_job};
use s3exports_rds::Snapshot;
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
                let idle = w.is_idle();
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
    /// Reconciles that ran to completion with nothing else left to do.
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
        let idle = aws.world().is_idle();
        // A failed run (faults on every attempt) is retried by the next day's: only a run that
        // examined every database while nothing else was going on can end the simulation.
        let ran = run_job(aws, settings, &ScheduledJob::Reconcile { since_days: 60 }, None).await;
        if idle && ran.is_ok_and(|r| r.reconciled.is_some_and(|r| r.is_complete())) {
            totals.idle_reconciles += 1;
        }
    }
    if now >= totals.next_dispatch {
        totals.next_dispatch += DISPATCH_EVERY_MS;
        totals.scheduled_dispatches += 1;
        let _ = run_job(aws, settings, &ScheduledJob::Dispatch, None).await;
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
