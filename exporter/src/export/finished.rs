//! Export-finished events (RDS-EVENT-0159..0164): find the task, act only if it exported to one
//! of this environment's buckets, report it, alert on failures.

use s3exports_config::names;
use s3exports_rds::{AwsError, ExportStatus, ExportTask, TaskFilter};

use crate::aws::{Aws, ExportAlert};
use crate::batch::Settings;
use crate::decision::{Decision, Outcome};
use crate::event::RdsEvent;
use crate::event_kind::ExportResult;
use crate::export::retry::RetryKind;

/// Deliveries of an export-finished event whose task cannot be found before it is skipped: the
/// task list is read-after-write consistent within seconds, so a task still missing after this
/// many tries (minutes apart) was deleted or never existed in this account and region.
pub const TASK_LOOKUP_TRIES: u32 = 5;

/// What became of looking up a finished export's task.
#[derive(Debug)]
pub enum Located {
    /// The task, exported to the configured database's bucket.
    Ours { task: Box<ExportTask>, db: String },
    /// Tasks with the wanted status exist, but none went to one of this environment's buckets.
    NotOurs(Vec<ExportTask>),
    /// No task with the wanted status (yet).
    Missing,
}

/// Finds the export task a finished-export event is about, by the snapshot's ARN (or, without
/// one, the snapshot's id as described, or the source id as the task's own identifier), keeping
/// only tasks of this environment's buckets. Fills in what it learns.
pub async fn locate_finished_task<A: Aws>(
    aws: &A,
    event: &RdsEvent,
    cluster: bool,
    wanted: ExportStatus,
    d: &mut Decision,
) -> Result<Located, AwsError> {
    let snapshot = match &event.source_arn {
        Some(_) => None,
        None => aws.describe_snapshot(&event.source_id, cluster).await?,
    };
    let filter = match event.source_arn.clone().or_else(|| snapshot.as_ref().map(|s| s.arn.clone())) {
        Some(arn) => TaskFilter { source_arn: Some(arn), ..TaskFilter::default() },
        None => TaskFilter { export_task_identifier: Some(event.source_id.clone()), ..TaskFilter::default() },
    };
    let mut tasks: Vec<ExportTask> =
        aws.export_tasks(&filter).await?.into_iter().filter(|t| t.status == wanted).collect();
    if tasks.is_empty() {
        return Ok(Located::Missing);
    }
    // Latest first: a re-export of the same snapshot is the one the event is about.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.task_end_time));
    for task in &tasks {
        if let Some(db) = aws.database_for_bucket(&task.s3_bucket).await? {
            d.export_task_identifier = Some(task.id.clone());
            d.source_arn = Some(task.source_arn.clone());
            d.db = Some(db.clone());
            return Ok(Located::Ours { task: Box::new(task.clone()), db });
        }
    }
    Ok(Located::NotOurs(tasks))
}

/// The decision for an export event whose task is not ours or cannot be found.
pub async fn not_ours_or_missing<A: Aws>(
    aws: &A,
    settings: &Settings,
    located: Located,
    wanted: ExportStatus,
    event: &RdsEvent,
    attempt: u32,
    d: Decision,
) -> Decision {
    match located {
        Located::Ours { .. } => d,
        Located::NotOurs(tasks) => {
            let buckets: Vec<&str> = tasks.iter().map(|t| t.s3_bucket.as_str()).collect();
            d.with(
                Outcome::Skip,
                format!(
                    "export {} went to {}, not a bucket of environment {}: another team's or environment's export",
                    tasks[0].id,
                    buckets.join(", "),
                    settings.environment
                ),
            )
        }
        Located::Missing if attempt < TASK_LOOKUP_TRIES => d.retry(
            RetryKind::Transient,
            format!(
                "no {} export task found for `{}` yet (try {attempt} of {TASK_LOOKUP_TRIES})",
                wanted.as_str(),
                event.source_id
            ),
        ),
        Located::Missing => {
            if !settings.dry_run {
                if let Err(e) = aws.count(names::METRIC_EXPORT_EVENT_WITHOUT_TASK, None).await {
                    tracing::warn!(error = %e, "could not count the export event without a task");
                }
            }
            d.with(
                Outcome::Skip,
                format!(
                    "no {} export task for `{}` after {attempt} tries: deleted, or not in this account and region; skipped",
                    wanted.as_str(),
                    event.source_id
                ),
            )
        }
    }
}

pub async fn export_finished<A: Aws>(
    aws: &A,
    settings: &Settings,
    event: &RdsEvent,
    cluster: bool,
    result: ExportResult,
    attempt: u32,
    mut d: Decision,
) -> Decision {
    let wanted = match result {
        ExportResult::Completed => ExportStatus::Complete,
        ExportResult::Failed => ExportStatus::Failed,
        ExportResult::Canceled => ExportStatus::Canceled,
    };
    let task = match locate_finished_task(aws, event, cluster, wanted, &mut d).await {
        Ok(Located::Ours { task, .. }) => *task,
        Ok(other) => return not_ours_or_missing(aws, settings, other, wanted, event, attempt, d).await,
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
