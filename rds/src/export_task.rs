//! Export tasks as DescribeExportTasks reports them, the request that starts one, and the
//! filter that lists them.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Status of an export task (RDS answers upper case; local emulators lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExportStatus {
    Starting,
    InProgress,
    Complete,
    Failed,
    Canceling,
    Canceled,
    Unknown,
}

impl ExportStatus {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "STARTING" => Self::Starting,
            "IN_PROGRESS" => Self::InProgress,
            "COMPLETE" => Self::Complete,
            "FAILED" => Self::Failed,
            "CANCELING" => Self::Canceling,
            "CANCELED" => Self::Canceled,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::InProgress => "IN_PROGRESS",
            Self::Complete => "COMPLETE",
            Self::Failed => "FAILED",
            Self::Canceling => "CANCELING",
            Self::Canceled => "CANCELED",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// Holds one of the account's export slots.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Starting | Self::InProgress)
    }

    /// Produced, or is producing, data (failed and canceled exports do not count).
    pub fn counts_as_exported(self) -> bool {
        matches!(self, Self::Starting | Self::InProgress | Self::Complete)
    }
}

/// One export task, as DescribeExportTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportTask {
    pub id: String,
    pub source_arn: String,
    pub status: ExportStatus,
    pub snapshot_time: Option<DateTime<Utc>>,
    pub task_start_time: Option<DateTime<Utc>>,
    pub task_end_time: Option<DateTime<Utc>>,
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub kms_key_id: String,
    pub iam_role_arn: String,
    pub percent_progress: i32,
    pub total_extracted_data_in_gb: i32,
    pub failure_cause: Option<String>,
    pub warning_message: Option<String>,
    pub export_only: Vec<String>,
    /// The source is Aurora: a DB cluster snapshot, or a live DB cluster (SourceType CLUSTER).
    pub cluster: bool,
}

/// A DB cluster snapshot's or DB cluster's ARN (`...:cluster-snapshot:...`, `...:cluster:...`).
pub fn is_cluster_arn(arn: &str) -> bool {
    arn.split(':').nth(5).is_some_and(|kind| kind == "cluster-snapshot" || kind == "cluster")
}

impl ExportTask {
    /// A task of `source_arn` with this status and nothing else known yet; callers fill in the
    /// rest (the SDK conversion, the reconciler's planned exports, tests).
    pub fn new(id: &str, source_arn: &str, status: ExportStatus) -> Self {
        Self {
            id: id.to_owned(),
            source_arn: source_arn.to_owned(),
            status,
            snapshot_time: None,
            task_start_time: None,
            task_end_time: None,
            s3_bucket: String::new(),
            s3_prefix: String::new(),
            kms_key_id: String::new(),
            iam_role_arn: String::new(),
            percent_progress: 0,
            total_extracted_data_in_gb: 0,
            failure_cause: None,
            warning_message: None,
            export_only: Vec::new(),
            cluster: false,
        }
    }

    /// The folder in its bucket RDS writes this export to: `<prefix>/<export id>/`.
    pub fn folder(&self) -> String {
        crate::layout::export_folder(&self.s3_prefix, &self.id)
    }

    /// Where RDS writes this export: `s3://<bucket>/<prefix>/<export id>/`.
    pub fn s3_location(&self) -> String {
        format!("s3://{}/{}", self.s3_bucket, self.folder())
    }

    /// The earliest moment one of the export's files can have been created: the task's start
    /// (else its end, else the snapshot's time). RDS writes the files while the task runs, and
    /// S3's lifecycle counts each object's days from its creation, so this is the first moment
    /// a lifecycle action can reach part of the export from.
    pub fn first_written(&self) -> Option<DateTime<Utc>> {
        self.task_start_time.or(self.task_end_time).or(self.snapshot_time)
    }

    /// The latest moment one of the export's files can have been created: the task's end (else
    /// its start, else the snapshot's time), from which a lifecycle action has reached all of it.
    pub fn last_written(&self) -> Option<DateTime<Utc>> {
        self.task_end_time.or(self.task_start_time).or(self.snapshot_time)
    }
}

/// A request to start one export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StartExport {
    pub export_task_identifier: String,
    pub source_arn: String,
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub iam_role_arn: String,
    pub kms_key_id: String,
    pub export_only: Vec<String>,
}

impl StartExport {
    /// The request for one snapshot to its database's target, under the target's policy.
    pub fn to_target(
        export_task_identifier: &str,
        source_arn: &str,
        target: &s3exports_config::ExportTarget,
        defaults: &s3exports_config::Defaults,
    ) -> Self {
        Self {
            export_task_identifier: export_task_identifier.to_owned(),
            source_arn: source_arn.to_owned(),
            s3_bucket: target.s3_bucket_name.clone(),
            s3_prefix: target.s3_prefix.clone(),
            iam_role_arn: target.iam_role_arn.clone(),
            kms_key_id: target.kms_key_arn.clone(),
            export_only: target.policy(defaults).export_only,
        }
    }

    /// Where the export writes, as `s3://bucket/prefix`.
    pub fn destination(&self) -> String {
        format!("s3://{}/{}", self.s3_bucket, self.s3_prefix)
    }
}

/// Which export tasks to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub export_task_identifier: Option<String>,
    pub source_arn: Option<String>,
    pub s3_bucket: Option<String>,
    /// Lower-case statuses, as the API's filter wants them.
    pub statuses: Vec<&'static str>,
}

impl TaskFilter {
    /// The tasks that hold one of the account's export slots: snapshot exports and live DB
    /// cluster exports (SourceType CLUSTER) alike. AWS documents five concurrent export tasks
    /// per account but not whether the two kinds share them (its cluster-export pages say both
    /// "five concurrent DB cluster export tasks" and "five concurrent DB snapshot export
    /// tasks"), so both count: a slot is never assumed free that RDS may refuse.
    pub fn active() -> Self {
        Self { statuses: vec!["starting", "in_progress"], ..Self::default() }
    }

    /// Every task that exported to, or is exporting to, one bucket.
    pub fn bucket(bucket: &str) -> Self {
        Self { s3_bucket: Some(bucket.to_owned()), ..Self::default() }
    }

    /// Whether a task passes the filter. The API applies the filter too; this is applied again
    /// because emulators ignore some filters and answer statuses in another case.
    pub fn matches(&self, t: &ExportTask) -> bool {
        self.export_task_identifier.as_ref().is_none_or(|id| &t.id == id)
            && self.source_arn.as_ref().is_none_or(|arn| &t.source_arn == arn)
            && self.s3_bucket.as_ref().is_none_or(|b| &t.s3_bucket == b)
            && (self.statuses.is_empty() || self.statuses.iter().any(|s| s.eq_ignore_ascii_case(t.status.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exports_folder_and_location() {
        let mut t = ExportTask::new("e1", "arn", ExportStatus::Complete);
        t.s3_bucket = "b".into();
        assert_eq!((t.folder(), t.s3_location()), ("e1/".to_owned(), "s3://b/e1/".to_owned()));
        t.s3_prefix = "/exports/".into();
        assert_eq!((t.folder(), t.s3_location()), ("exports/e1/".to_owned(), "s3://b/exports/e1/".to_owned()));
    }

    #[test]
    fn the_files_are_written_between_the_tasks_start_and_end() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc));
        let mut t = ExportTask::new("e1", "arn", ExportStatus::Complete);
        assert_eq!((t.first_written(), t.last_written()), (None, None));
        t.snapshot_time = at("2026-11-01T03:00:00Z");
        assert_eq!((t.first_written(), t.last_written()), (t.snapshot_time, t.snapshot_time));
        t.task_end_time = at("2026-11-02T01:00:00Z");
        assert_eq!((t.first_written(), t.last_written()), (t.task_end_time, t.task_end_time));
        t.task_start_time = at("2026-11-01T23:30:00Z");
        assert_eq!((t.first_written(), t.last_written()), (t.task_start_time, t.task_end_time));
    }

    #[test]
    fn live_cluster_exports_hold_slots_like_snapshot_exports() {
        let mut live = ExportTask::new("e1", "arn:aws:rds:us-east-1:1:cluster:lams", ExportStatus::InProgress);
        live.cluster = true;
        let snapshot = ExportTask::new("e2", "arn:aws:rds:us-east-1:1:snapshot:rds:pams-1", ExportStatus::Starting);
        assert!(TaskFilter::active().matches(&live) && TaskFilter::active().matches(&snapshot));
        assert!(is_cluster_arn("arn:aws:rds:us-east-1:1:cluster-snapshot:rds:lams-2026-11-24-03-10"));
        assert!(is_cluster_arn("arn:aws-cn:rds:cn-north-1:1:cluster:lams"));
        assert!(!is_cluster_arn("arn:aws:rds:us-east-1:1:snapshot:cluster-snapshot"));
    }
}
