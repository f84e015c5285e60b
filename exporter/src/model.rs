//! Plain data the decisions are made on, converted from SDK types at the edge.

use chrono::{DateTime, Utc};
use s3exports_config::SnapshotType;
use serde::Serialize;

/// A DB snapshot or DB cluster snapshot, as DescribeDBSnapshots / DescribeDBClusterSnapshots
/// report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub arn: String,
    pub id: String,
    /// DB instance id, or the Aurora cluster id for a cluster snapshot.
    pub db_id: String,
    pub cluster: bool,
    /// RDS's own `SnapshotType` text (automated, manual, awsbackup, shared, public).
    pub snapshot_type: String,
    pub engine: String,
    pub created: Option<DateTime<Utc>>,
    pub status: String,
}

impl Snapshot {
    pub fn kind(&self) -> Option<SnapshotType> {
        SnapshotType::from_rds(&self.snapshot_type, &self.id)
    }

    pub fn is_available(&self) -> bool {
        self.status.eq_ignore_ascii_case("available")
    }
}

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
    pub cluster: bool,
}

impl ExportTask {
    /// Where RDS writes this export: `s3://<bucket>/<prefix>/<export id>/`.
    pub fn s3_location(&self) -> String {
        let prefix = self.s3_prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("s3://{}/{}/", self.s3_bucket, self.id)
        } else {
            format!("s3://{}/{prefix}/{}/", self.s3_bucket, self.id)
        }
    }
}

/// A request to start one export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartExport {
    pub export_task_identifier: String,
    pub source_arn: String,
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub iam_role_arn: String,
    pub kms_key_id: String,
    pub export_only: Vec<String>,
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
    pub fn active() -> Self {
        Self { statuses: vec!["starting", "in_progress"], ..Self::default() }
    }
}
