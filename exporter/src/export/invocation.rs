//! One invocation of the exporting function: a batch of records, after which the slots that
//! finished exports freed are dispatched; or scheduled work (EventBridge schedules with a
//! constant input): `{"s3exports": "dispatch"}` every few minutes, the backstop for lost
//! export-finished events, and `{"s3exports": "reconcile", "since_days": N}` daily, which
//! then dispatches too.

use std::time::Instant;

use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::dispatch::{Dispatched, Trigger, dispatch};
use super::reconcile::{ReconcileRun, Reconciled, reconcile};
use crate::aws::Aws;
use crate::batch::{Handled, Settings};
use crate::decision::Outcome;
use crate::event::UnknownEvent;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "s3exports", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduledJob {
    Dispatch,
    Reconcile { since_days: u32 },
}

impl ScheduledJob {
    /// The job a scheduled event asks for; `None` for any other event (records to handle).
    pub fn from_event(event: &Value) -> Option<Result<Self, String>> {
        event.get("s3exports")?;
        Some(serde_json::from_value(event.clone()).map_err(|e| format!("scheduled event {event}: {e}")))
    }
}

/// What a scheduled run did, for its log line and the invocation's result.
#[derive(Debug, Default)]
pub struct ScheduledRun {
    pub reconciled: Option<Reconciled>,
    pub dispatched: Option<Dispatched>,
}

/// Runs a scheduled job. `deadline`: when reconcile must stop starting databases (the
/// invocation's end less room for the dispatch after it); `None` for no limit.
pub async fn run_job<A: Aws>(
    aws: &A,
    settings: &Settings,
    job: &ScheduledJob,
    deadline: Option<Instant>,
) -> Result<ScheduledRun, String> {
    let mut out = ScheduledRun::default();
    if let ScheduledJob::Reconcile { since_days } = job {
        let now = Utc::now();
        let run = ReconcileRun {
            db: None,
            since: now - Duration::days(i64::from(*since_days)),
            retry_failed: false,
            // Daily: each failure ends in exactly one run's day.
            alert_failures_after: Some(now - Duration::days(1)),
            record_metric: true,
            defer_while_pending: true,
            run_id: super::pending::run_id(),
            deadline,
            turn: super::reconcile::turn_of_day(now),
        };
        let reconciled = reconcile(aws, settings, &run).await.map_err(|e| e.to_string())?;
        for d in &reconciled.decisions {
            d.log();
        }
        out.reconciled = Some(reconciled);
    }
    let dispatched = dispatch(aws, settings, Trigger::Schedule).await.map_err(|e| format!("dispatch: {e}"))?;
    for d in &dispatched.decisions {
        d.log();
    }
    out.dispatched = Some(dispatched);
    Ok(out)
}

/// The moment a scheduled job must stop starting work: Lambda's deadline (milliseconds since
/// the epoch) less `margin`, as an `Instant`.
pub fn deadline_before(deadline_epoch_ms: u64, margin: std::time::Duration) -> Instant {
    let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let left = std::time::Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(margin)
}

/// Slots to dispatch into after this batch: one per export of ours that finished, and one per
/// export queued while a slot was free (below the account's quota, starts go through the lock).
pub fn slots_freed(handled: &Handled) -> usize {
    handled
        .decisions
        .iter()
        .filter(|d| d.slot_free || matches!(d.outcome, Outcome::ExportCompleted | Outcome::ExportFailed))
        .count()
}

/// The records of one exporting invocation, then a dispatch into the slots its finished exports
/// freed. The records are settled whatever the dispatch does: a failed dispatch is logged and
/// left to the schedule.
pub async fn handle_and_dispatch<A: Aws>(
    aws: &A,
    settings: &Settings,
    event: &Value,
) -> Result<(Handled, Option<Dispatched>), UnknownEvent> {
    let handled = super::handle(aws, settings, event).await?;
    let freed = slots_freed(&handled);
    if freed == 0 || settings.dry_run {
        return Ok((handled, None));
    }
    match dispatch(aws, settings, Trigger::Finished(freed)).await {
        Ok(dispatched) => {
            dispatched.decisions.iter().for_each(crate::decision::Decision::log);
            Ok((handled, Some(dispatched)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "dispatch after finished exports failed; the schedule retries");
            Ok((handled, None))
        }
    }
}
