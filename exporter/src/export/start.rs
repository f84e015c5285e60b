//! Starting one export, as the event path and dispatch both do: `ExportTaskAlreadyExists` is a
//! success when the task with that id exported the snapshot to the same bucket (a redelivered
//! event), and a moved database when it went to another bucket: the snapshot is then exported
//! to its own bucket under that bucket's identifier ([`s3exports_rds::export_id::in_bucket`]),
//! never dropped, and never reported exported while its bucket has nothing.

use s3exports_rds::export_id::in_bucket;
use s3exports_rds::{AwsError, StartExport, TaskFilter};

use crate::aws::Aws;

/// What a start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// A new export task of this id.
    New,
    /// The task of this id exists and exports this snapshot to this bucket.
    Exists,
    /// The usual id was taken by an export to `other_bucket`: started (or found started) under
    /// `id` instead.
    Moved { id: String, other_bucket: String, new: bool },
}

impl Started {
    /// The line that says what happened, after `export task X`.
    pub fn describe(&self, request: &StartExport) -> String {
        let id = &request.export_task_identifier;
        let destination = request.destination();
        match self {
            Self::New => format!("export started to {destination}"),
            Self::Exists => format!("export task {id} already exists"),
            Self::Moved { id: moved, other_bucket, new } => format!(
                "export task {id} went to s3://{other_bucket}, not {} (the database moved buckets): {} as {moved} to \
                 {destination}",
                request.s3_bucket,
                if *new { "exported again" } else { "already exported again" }
            ),
        }
    }
}

pub async fn start<A: Aws>(aws: &A, request: &StartExport) -> Result<Started, AwsError> {
    match aws.start_export(request).await {
        Ok(()) => return Ok(Started::New),
        Err(AwsError::AlreadyExists) => {}
        Err(e) => return Err(e),
    }
    let id = &request.export_task_identifier;
    let filter = TaskFilter { export_task_identifier: Some(id.clone()), ..TaskFilter::default() };
    let existing = aws.export_tasks(&filter).await?;
    let Some(other) = existing.iter().find(|t| &t.id == id && t.s3_bucket != request.s3_bucket) else {
        return Ok(Started::Exists);
    };
    let moved = StartExport { export_task_identifier: in_bucket(id, &request.s3_bucket), ..request.clone() };
    let new = match aws.start_export(&moved).await {
        Ok(()) => true,
        Err(AwsError::AlreadyExists) => false,
        Err(e) => return Err(e),
    };
    Ok(Started::Moved { id: moved.export_task_identifier, other_bucket: other.s3_bucket.clone(), new })
}
