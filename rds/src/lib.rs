//! The RDS vocabulary every binary of rds-snapshot-s3exports shares: snapshots, export tasks and
//! their filters, the export identifier, the folder layout RDS writes and its JSON files, the SDK
//! calls that list them, and how an SDK error is classified and shown.

pub mod error;
pub mod export_id;
pub mod export_task;
pub mod footer;
pub mod layout;
pub mod policy;
pub mod reconcile;
pub mod sdk;
pub mod snapshot;

pub use error::{AwsError, classify, sdk_error_text};
pub use export_task::{ExportStatus, ExportTask, StartExport, TaskFilter};
pub use snapshot::Snapshot;
