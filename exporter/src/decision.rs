//! What the handler decided for one record: logged as one JSON line, printed by the CLI.

use serde::Serialize;

use s3exports_rds::AwsError;

use crate::export::retry::RetryKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    StartExport,
    Skip,
    Retry,
    Reject,
    ExportCompleted,
    ExportFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartExport => "start_export",
            Self::Skip => "skip",
            Self::Retry => "retry",
            Self::Reject => "reject",
            Self::ExportCompleted => "export_completed",
            Self::ExportFailed => "export_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub record: String,
    pub outcome: Outcome,
    pub event_id: Option<String>,
    pub db: Option<String>,
    pub snapshot: Option<String>,
    pub source_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_task_identifier: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// The export waits in the pending queue for a free slot (outcome `start_export`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub queued: bool,
    /// Queued although a slot was free (see `rules::quota_backstops`): the invocation
    /// dispatches it under the lock before it ends.
    #[serde(skip)]
    pub slot_free: bool,
}

impl Decision {
    pub fn new(record: &str, outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            record: record.to_owned(),
            outcome,
            event_id: None,
            db: None,
            snapshot: None,
            source_arn: None,
            export_task_identifier: None,
            reason: reason.into(),
            retry: None,
            retry_after_seconds: None,
            queued: false,
            slot_free: false,
        }
    }

    /// One structured log line per decision.
    pub fn log(&self) {
        let fields = (
            self.record.as_str(),
            self.outcome.as_str(),
            self.db.as_deref().unwrap_or(""),
            self.snapshot.as_deref().unwrap_or(""),
            self.export_task_identifier.as_deref().unwrap_or(""),
        );
        let (record, outcome, db, snapshot, export_id) = fields;
        match self.outcome {
            Outcome::Reject | Outcome::ExportFailed => tracing::warn!(
                record, outcome, db, snapshot, export_id, event_id = self.event_id.as_deref().unwrap_or(""),
                source_arn = self.source_arn.as_deref().unwrap_or(""), reason = %self.reason, "decision"
            ),
            _ => tracing::info!(
                record, outcome, db, snapshot, export_id, event_id = self.event_id.as_deref().unwrap_or(""),
                source_arn = self.source_arn.as_deref().unwrap_or(""), reason = %self.reason, "decision"
            ),
        }
    }
}

impl Decision {
    pub fn with(mut self, outcome: Outcome, reason: impl Into<String>) -> Self {
        self.outcome = outcome;
        self.reason = reason.into();
        self
    }

    pub fn retry(self, kind: RetryKind, reason: impl Into<String>) -> Self {
        let mut d = self.with(Outcome::Retry, reason);
        d.retry = Some(kind);
        d
    }

    /// Maps a failed AWS call to retry (transient) or reject (permanent).
    pub fn failed(self, doing: &str, error: &AwsError) -> Self {
        match error {
            AwsError::Transient(_) | AwsError::Unmodelled(_) => {
                self.retry(RetryKind::Transient, format!("{doing}: {error}"))
            }
            AwsError::NotReady(_) => self.retry(RetryKind::NotReady, format!("{doing}: {error}")),
            _ => self.with(Outcome::Reject, format!("{doing}: {error}")),
        }
    }
}
