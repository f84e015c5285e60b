//! The export decisions as plain functions over plain data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use s3exports_config::{ExportPolicy, MinInterval};
use sha2::{Digest, Sha256};

use crate::model::{ExportTask, Snapshot};

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

/// Export tasks in progress that count against the pipeline's slots.
pub fn slots_full(active: usize, slots: u32) -> bool {
    active >= slots as usize
}

/// Why a record goes back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryKind {
    /// Throttling, 5xx, timeouts: back off exponentially.
    Transient,
    /// The snapshot is not `available` yet.
    NotReady,
    /// Every export slot is taken; an export takes minutes to hours.
    QuotaFull,
}

/// A record waiting for an export slot waits in place (a longer visibility) until this receive,
/// then moves to a fresh copy, well before the queue's maxReceiveCount (10) dead-letters it.
pub const QUOTA_WAITS_IN_PLACE: u32 = 5;

/// How long a record waits before its next try. Jitter comes from the record id so that a
/// burst spreads out while a replay stays reproducible.
pub fn retry_delay(kind: RetryKind, attempt: u32, salt: &str) -> Duration {
    let attempt = attempt.clamp(1, 16);
    let (base, cap) = match kind {
        RetryKind::Transient => (10 * 2u64.pow(attempt - 1), 900),
        RetryKind::NotReady => (60 * u64::from(attempt), 900),
        // Exports take minutes to hours and a freed slot is taken by whichever waiting record
        // comes back first, so long waits cost little drain time and save many polls.
        RetryKind::QuotaFull => (600, 900),
    };
    let base = base.min(cap);
    let jitter_range = base / 3 + 1;
    let digest = Sha256::digest(salt.as_bytes());
    let jitter = u64::from(u16::from_be_bytes([digest[0], digest[1]])) % jitter_range;
    Duration::from_secs((base + jitter).min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExportStatus;
    use chrono::TimeZone;
    use s3exports_config::SnapshotType;

    fn snapshot(kind: &str, id: &str) -> Snapshot {
        Snapshot {
            arn: format!("arn:aws:rds:eu-west-1:1:snapshot:{id}"),
            id: id.into(),
            db_id: "orders".into(),
            cluster: false,
            snapshot_type: kind.into(),
            engine: "postgres".into(),
            created: None,
            status: "available".into(),
        }
    }

    fn task(id: &str, status: ExportStatus, hour: u32) -> ExportTask {
        ExportTask {
            id: id.into(),
            source_arn: String::new(),
            status,
            snapshot_time: Utc.with_ymd_and_hms(2026, 11, 24, hour, 0, 0).single(),
            task_start_time: None,
            task_end_time: None,
            s3_bucket: "b".into(),
            s3_prefix: String::new(),
            kms_key_id: String::new(),
            iam_role_arn: String::new(),
            percent_progress: 0,
            total_extracted_data_in_gb: 0,
            failure_cause: None,
            warning_message: None,
            export_only: vec![],
            cluster: false,
        }
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

    #[test]
    fn retry_delays_grow_and_stay_capped() {
        let d1 = retry_delay(RetryKind::Transient, 1, "m");
        let d5 = retry_delay(RetryKind::Transient, 5, "m");
        assert!(d1 >= Duration::from_secs(10) && d1 <= Duration::from_secs(14));
        assert!(d5 > d1);
        assert!(retry_delay(RetryKind::Transient, 30, "m") <= Duration::from_secs(900));
        assert!(retry_delay(RetryKind::QuotaFull, 1, "m") >= Duration::from_secs(600));
        assert_eq!(retry_delay(RetryKind::NotReady, 2, "x"), retry_delay(RetryKind::NotReady, 2, "x"));
        assert!(slots_full(5, 5) && !slots_full(4, 5));
    }
}
