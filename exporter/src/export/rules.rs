//! The export slot rules as plain functions over plain data; the snapshot policy rules live in
//! [`s3exports_rds::policy`], shared with the reconciler and athenaq.

/// Exports in progress an account may have at once (RDS quota). An error StartExportTask gives
/// while this many run is the quota refusing, which the API model does not name.
pub const ACCOUNT_EXPORT_QUOTA: u32 = 5;

/// Whether RDS's own quota stops a start past the configured slots: only when the pipeline may
/// use the whole quota. Below it, a start outside the pending queue's lock could exceed them.
pub fn quota_backstops(export_slots: u32) -> bool {
    export_slots >= ACCOUNT_EXPORT_QUOTA
}

/// Export tasks in progress that count against the pipeline's slots.
pub fn slots_full(active: usize, slots: u32) -> bool {
    active >= slots as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots() {
        assert!(slots_full(5, 5) && !slots_full(4, 5));
        assert!(quota_backstops(5) && !quota_backstops(3));
    }
}
