//! The AWS calls the functions make, behind one small trait so the decisions can be tested
//! with SDK mocks and driven by a simulated RDS; [`sdk::SdkAws`] makes them with the AWS SDK.

pub mod sdk;

use std::future::Future;
use std::time::Duration;

use s3exports_config::ExportTarget;
use serde::Serialize;

use crate::event::SqsMessageRef;
use crate::export::pending::{Parked, PendingExport};
use s3exports_rds::{AwsError, ExportTask, Snapshot, StartExport, TaskFilter};

/// What an export failure alert says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportAlert {
    pub export_task_identifier: String,
    pub status: String,
    pub source_arn: String,
    pub db: Option<String>,
    pub s3_location: String,
    pub failure_cause: Option<String>,
    pub event_message: String,
}

pub trait Aws: Sync {
    /// DescribeDBSnapshots / DescribeDBClusterSnapshots; `None` when it does not exist.
    fn describe_snapshot(
        &self,
        id: &str,
        cluster: bool,
    ) -> impl Future<Output = Result<Option<Snapshot>, AwsError>> + Send;

    /// DescribeExportTasks, all pages.
    fn export_tasks(&self, filter: &TaskFilter) -> impl Future<Output = Result<Vec<ExportTask>, AwsError>> + Send;

    fn start_export(&self, request: &StartExport) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The export target a database stack published; `None` when the database is not
    /// configured for export.
    fn target(&self, db_id: &str) -> impl Future<Output = Result<Option<ExportTarget>, AwsError>> + Send;

    /// The configured database of this environment that exports to `bucket`: `None` for any
    /// other bucket (another team's exports, or the other environment's in a shared account).
    fn database_for_bucket(&self, bucket: &str) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Every snapshot of one database (instance or cluster; automated and manual, and AWS
    /// Backup's when `awsbackup`).
    fn list_snapshots(
        &self,
        db_id: &str,
        awsbackup: bool,
    ) -> impl Future<Output = Result<Vec<Snapshot>, AwsError>> + Send;

    /// Whether a DB instance or Aurora cluster of this id exists.
    fn database_exists(&self, db_id: &str) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Every database of this environment configured for export, with its target.
    fn targets(&self) -> impl Future<Output = Result<Vec<(String, ExportTarget)>, AwsError>> + Send;

    /// Counts one occurrence of a metric (per database when known).
    fn count(&self, metric: &'static str, db: Option<&str>) -> impl Future<Output = Result<(), AwsError>> + Send {
        let per_db: Vec<(String, f64)> = db.map(|db| (db.to_owned(), 1.0)).into_iter().collect();
        async move { self.metric(metric, 1.0, &per_db).await }
    }

    /// Records a metric in one call: `total` without dimensions (what the pipeline's alarms
    /// watch) and each database's value with its `Database` dimension.
    fn metric(
        &self,
        metric: &'static str,
        total: f64,
        per_db: &[(String, f64)],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Alerts topic message and failure metric.
    fn alert(&self, alert: &ExportAlert) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Leaves the message on the queue, invisible for `delay` (a failed try).
    fn retry_later(
        &self,
        message: &SqsMessageRef,
        delay: Duration,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Puts an export into the pending queue to wait for a free slot, under `deduplication_id`
    /// (see [`crate::export::pending::deduplication_id`]).
    fn park(
        &self,
        pending: &PendingExport,
        deduplication_id: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Takes up to `max` pending exports, oldest parked first, invisible to other dispatches
    /// until settled; waits up to `wait` for the first (a long poll: a short one may answer
    /// nothing while exports wait).
    fn take_pending(&self, max: usize, wait: Duration) -> impl Future<Output = Result<Vec<Parked>, AwsError>> + Send;

    /// Exports in the pending queue, waiting or held by a dispatch (approximate, as SQS counts).
    fn pending_backlog(&self) -> impl Future<Output = Result<u64, AwsError>> + Send;

    /// Deletes the pending exports that are `done` and makes those put `back` visible again.
    /// Returns the entries SQS reported failed (message id, code, message): a batch call can
    /// succeed as a whole and fail for some of its entries.
    fn settle_pending(
        &self,
        done: &[Parked],
        back: &[Parked],
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// Sends the record to the dead-letter queue with the reason.
    fn dead_letter(
        &self,
        record_id: &str,
        body: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}
