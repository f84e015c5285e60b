//! Exports waiting for a free slot. They wait in the pending queue (SQS FIFO, one message group)
//! as what the exporter already resolved, so starting one later asks RDS nothing but the start.
//! One message group makes the queue a lock as well: while one dispatch holds messages of the
//! group, no other receives any, so two dispatches never count the same free slots.

use s3exports_rds::{Snapshot, StartExport};
use serde::{Deserialize, Serialize};

/// One parked export, the pending queue's message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExport {
    pub snapshot: Snapshot,
    pub request: StartExport,
    /// Who parked it: `event` (a snapshot event found the slots full) or `reconcile`.
    pub parked_by: String,
}

impl PendingExport {
    pub fn export_id(&self) -> &str {
        &self.request.export_task_identifier
    }

    /// The body to send, and back: a body that does not parse is dead-lettered with the reason.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_body(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a pending export: {e}"))
    }
}

/// A message taken from the pending queue, invisible to others until settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub receipt: String,
    pub body: String,
}

/// The message group every pending export shares: the queue's order and its lock.
pub const MESSAGE_GROUP: &str = "pending-exports";
