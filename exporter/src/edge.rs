//! The AWS calls the handler makes, behind one small trait so the decisions can be tested
//! with SDK mocks and driven by a simulated RDS.

use std::future::Future;
use std::time::Duration;

use s3exports_config::ExportTarget;
use serde::Serialize;

use crate::event::SqsMessageRef;
use crate::model::{ExportTask, Snapshot, StartExport, TaskFilter};

/// How an AWS call failed, as far as the handler needs to know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// Throttling, 5xx, timeouts, connection errors: worth retrying.
    #[error("transient AWS error: {0}")]
    Transient(String),
    /// StartExportTask: an export task with this identifier exists already.
    #[error("export task already exists")]
    AlreadyExists,
    /// StartExportTask: the snapshot is not in a state that can be exported yet.
    #[error("snapshot not ready for export: {0}")]
    NotReady(String),
    /// The snapshot is gone.
    #[error("not found: {0}")]
    NotFound(String),
    /// IAM role, KMS key, bucket or ExportOnly rejected: the deployment needs fixing.
    #[error("misconfiguration: {0}")]
    Misconfigured(String),
    /// An error the API model does not name (the export quota error is one).
    #[error("unmodelled AWS error: {0}")]
    Unmodelled(String),
    /// Anything else that retrying will not fix.
    #[error("AWS error: {0}")]
    Permanent(String),
}

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

    /// Alerts topic message and failure metric.
    fn alert(&self, alert: &ExportAlert) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Leaves the message on the queue, invisible for `delay` (a failed try).
    fn retry_later(
        &self,
        message: &SqsMessageRef,
        delay: Duration,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Puts a fresh copy of the message on the queue after `delay`, so waiting for a free
    /// export slot does not use up the receive count that leads to the dead-letter queue.
    fn requeue(&self, body: &str, delay: Duration) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Sends the record to the dead-letter queue with the reason.
    fn dead_letter(
        &self,
        record_id: &str,
        body: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}
