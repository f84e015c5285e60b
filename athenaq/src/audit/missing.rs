//! `list-exports --missing`: the snapshots of each configured database that have no export in
//! its bucket, by the same comparison the exporter's reconciler makes, so an auditor sees the
//! gaps without deploying anything.

use chrono::{DateTime, Utc};
use s3exports_config::{Config, SnapshotType};
use s3exports_rds::reconcile::{Examined, Verdict, Window, examine};
use s3exports_rds::sdk::{describe_export_tasks, list_snapshots};
use s3exports_rds::{AwsError, TaskFilter};

use crate::output::Rows;

/// What was found: the gaps, and how many snapshots were examined.
#[derive(Debug, Default)]
pub struct Gaps {
    pub examined: usize,
    pub gaps: Vec<Examined>,
}

/// Every configured database's (or one's) snapshots since `since`, compared with the export
/// tasks of its bucket; the missing and failed ones are kept.
pub async fn find(
    rds: &aws_sdk_rds::Client,
    config: &Config,
    db: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Gaps, (String, AwsError)> {
    let mut out = Gaps::default();
    for d in config.selected(db) {
        let awsbackup = d.policy.snapshot_types.contains(&SnapshotType::Awsbackup);
        let bucket_tasks = TaskFilter::bucket(&d.s3_bucket_name);
        let (snapshots, tasks) =
            futures::join!(list_snapshots(rds, &d.db_name, awsbackup), describe_export_tasks(rds, &bucket_tasks));
        let snapshots = snapshots.map_err(|e| (format!("listing the snapshots of {}", d.db_name), e))?;
        let tasks = tasks.map_err(|e| (format!("listing the exports in bucket {}", d.s3_bucket_name), e))?;
        let window = Window { policy: &d.policy, since, retry_failed: false };
        let examined = examine(&snapshots, &tasks, &window);
        out.examined += examined.len();
        out.gaps.extend(
            examined.into_iter().filter(|e| matches!(e.verdict, Verdict::Missing { .. } | Verdict::Failed { .. })),
        );
    }
    Ok(out)
}

pub fn to_rows(gaps: &[Examined]) -> Rows {
    let mut out = Rows::new(&[
        ("database", false),
        ("snapshot", false),
        ("snapshot_type", false),
        ("snapshot_time", false),
        ("status", false),
        ("export_id", false),
        ("detail", false),
    ]);
    for e in gaps {
        let (status, export_id, detail) = match &e.verdict {
            Verdict::Missing { export_task_identifier, .. } => (
                "missing",
                export_task_identifier.clone(),
                "no export task in its bucket; `exporter reconcile` queues it".to_owned(),
            ),
            Verdict::Failed { failures } => (
                "failed",
                failures.iter().map(|f| f.export_task_identifier.as_str()).collect::<Vec<_>>().join(", "),
                failures
                    .iter()
                    .map(|f| {
                        format!("{}: {}", f.status.as_str(), f.failure_cause.as_deref().unwrap_or("no cause given"))
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => continue,
        };
        out.rows.push(vec![
            Some(e.snapshot.db_id.clone()),
            Some(e.snapshot.id.clone()),
            Some(e.snapshot.snapshot_type.clone()),
            e.snapshot.created.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()),
            Some(status.to_owned()),
            Some(export_id),
            Some(detail),
        ]);
    }
    out
}
