//! Which snapshots a database's export policy exports: plain functions over plain data, shared
//! by the exporter (one snapshot event), the reconciler and athenaq (every snapshot).

use chrono::{DateTime, Utc};
use s3exports_config::{ExportPolicy, MinInterval};

use crate::{ExportTask, Snapshot};

/// Whether the database's policy exports this kind of snapshot.
pub fn check_snapshot_type(snapshot: &Snapshot, policy: &ExportPolicy) -> Result<(), String> {
    match snapshot.kind() {
        Some(kind) if policy.snapshot_types.contains(&kind) => Ok(()),
        Some(kind) => Err(format!(
            "{kind} snapshots are not exported for this database (snapshot_types = [{}])",
            policy.snapshot_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
        )),
        None => Err(format!(
            "snapshot type `{}` is never exported (only automated, manual, awsbackup)",
            snapshot.snapshot_type
        )),
    }
}

/// With a minimum interval, a snapshot is skipped when another export of the same database
/// (same bucket) covers a snapshot taken within the interval, before or after it, so the
/// outcome does not depend on the order events arrive in.
pub fn check_min_interval(
    snapshot_time: DateTime<Utc>,
    own_export_id: &str,
    min_interval: MinInterval,
    prior: &[ExportTask],
) -> Result<(), String> {
    let Some(interval) = min_interval.0 else { return Ok(()) };
    let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    let close = prior
        .iter()
        .filter(|t| t.id != own_export_id && t.status.counts_as_exported())
        .find(|t| t.snapshot_time.is_some_and(|other| (other - snapshot_time).abs() < interval));
    match close {
        Some(t) => {
            Err(format!("export {} ({}) covers a snapshot within min_interval {min_interval}", t.id, t.status.as_str()))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExportStatus;
    use chrono::TimeZone;
    use s3exports_config::SnapshotType;

    fn snapshot(kind: &str, id: &str) -> Snapshot {
        crate::snapshot::orders_snapshot(id, kind, None)
    }

    fn task(id: &str, status: ExportStatus, hour: u32) -> ExportTask {
        let snapshot_time = Utc.with_ymd_and_hms(2026, 11, 24, hour, 0, 0).single();
        ExportTask { snapshot_time, s3_bucket: "b".into(), ..ExportTask::new(id, "", status) }
    }

    #[test]
    fn snapshot_types_follow_the_policy() {
        let policy = ExportPolicy {
            snapshot_types: vec![SnapshotType::Automated],
            min_interval: MinInterval::NONE,
            export_only: vec![],
        };
        assert!(check_snapshot_type(&snapshot("automated", "rds:orders-1"), &policy).is_ok());
        let why = check_snapshot_type(&snapshot("manual", "awsbackup:job-1"), &policy).unwrap_err();
        assert!(why.starts_with("awsbackup snapshots are not exported"), "{why}");
        assert!(check_snapshot_type(&snapshot("shared", "x"), &policy).is_err());
    }

    #[test]
    fn min_interval_looks_both_ways_and_ignores_failures() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let twenty_hours: MinInterval = "20h".parse().unwrap();
        let prior = [task("failed", ExportStatus::Failed, 9), task("own", ExportStatus::Complete, 10)];
        assert!(check_min_interval(t, "own", twenty_hours, &prior).is_ok());
        let later = [task("later", ExportStatus::InProgress, 20)];
        let why = check_min_interval(t, "own", twenty_hours, &later).unwrap_err();
        assert!(why.contains("export later (IN_PROGRESS)"), "{why}");
        assert!(check_min_interval(t, "own", MinInterval::NONE, &later).is_ok());
    }
}
