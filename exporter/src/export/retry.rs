//! When a record that must wait tries again: plain timing, jittered per record.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Why a record goes back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryKind {
    /// Throttling, 5xx, timeouts: back off exponentially.
    Transient,
    /// The snapshot is not `available` yet.
    NotReady,
    /// Every export slot is taken: the export waits in the pending queue, not on the events
    /// queue, so waiting never counts towards the dead-letter queue.
    QuotaFull,
}

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

    #[test]
    fn retry_delays_grow_and_stay_capped() {
        let d1 = retry_delay(RetryKind::Transient, 1, "m");
        let d5 = retry_delay(RetryKind::Transient, 5, "m");
        assert!(d1 >= Duration::from_secs(10) && d1 <= Duration::from_secs(14));
        assert!(d5 > d1);
        assert!(retry_delay(RetryKind::Transient, 30, "m") <= Duration::from_secs(900));
        assert!(retry_delay(RetryKind::QuotaFull, 1, "m") >= Duration::from_secs(600));
        assert_eq!(retry_delay(RetryKind::NotReady, 2, "x"), retry_delay(RetryKind::NotReady, 2, "x"));
    }
}
