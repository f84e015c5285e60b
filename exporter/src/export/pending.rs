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

/// A message taken from the pending queue, invisible to others until settled. Logs name it by
/// `message_id`; the receipt handle is a credential to act on it and stays out of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
}

/// SQS FIFO remembers a deduplication id for five minutes, even after its message is deleted,
/// and accepts then silently drops a later send with the same id. An event parks under the
/// export id, so the copy a redelivered event parks is dropped while the first one waits.
/// Anything else that parks (reconcile, by hand or on schedule) uses an id of its own run, so
/// it is never dropped because an earlier copy was already taken and deleted: a duplicate of a
/// waiting copy costs dispatch one `already exists`.
pub fn deduplication_id(export_id: &str, run: Option<&str>) -> String {
    let id = match run {
        None => export_id.to_owned(),
        Some(run) => format!("{export_id}.{run}"),
    };
    // At most 128 characters (SQS); export ids are at most 60 and run ids short.
    id.chars().take(128).collect()
}

/// An id for one run of something that parks exports: distinct per run and process.
pub fn run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", now.as_millis(), std::process::id())
}

/// One `ReceiveRequestAttemptId` per receive, distinct across rounds, processes and instances:
/// an SDK retry of the same request (a lost response) sends the same one and gets the same
/// messages back, instead of locking the message group until the hold ends.
pub fn receive_attempt_id() -> String {
    static ROUND: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let round = ROUND.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("dispatch-{}-{}-{round}", now.as_nanos(), std::process::id())
}

/// The message group every pending export shares: the queue's order and its lock.
pub const MESSAGE_GROUP: &str = "pending-exports";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconcile_parks_under_an_id_of_its_own_run() {
        assert_eq!(deduplication_id("pams-20261124-0310-abc", None), "pams-20261124-0310-abc");
        let a = deduplication_id("pams-20261124-0310-abc", Some("1764651234000-7"));
        assert_eq!(a, "pams-20261124-0310-abc.1764651234000-7");
        assert_ne!(receive_attempt_id(), receive_attempt_id());
    }
}
