//! One invocation of the exporting function: a batch of records, after which the slots that
//! finished exports freed are dispatched; or scheduled work (EventBridge schedules with a
//! constant input): `{"s3exports": "dispatch"}` every few minutes, the backstop for lost
//! export-finished events, and `{"s3exports": "reconcile", "since_days": N}` daily, which
//! then dispatches too.

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

pub async fn run_job<A: Aws>(aws: &A, settings: &Settings, job: &ScheduledJob) -> Result<ScheduledRun, String> {
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

/// Exports of ours that finished in this batch: as many slots are free for pending exports.
pub fn slots_freed(handled: &Handled) -> usize {
    handled.decisions.iter().filter(|d| matches!(d.outcome, Outcome::ExportCompleted | Outcome::ExportFailed)).count()
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
