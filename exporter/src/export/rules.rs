//! The export slot rules as plain functions over plain data; the snapshot policy rules live in
//! [`s3exports_rds::policy`], shared with the reconciler and athenaq.

/// Exports in progress an account may have at once (RDS quota). An error StartExportTask gives
/// while this many run is the quota refusing, which the API model does not name.
pub const ACCOUNT_EXPORT_QUOTA: u32 = 5;

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
    }
}
