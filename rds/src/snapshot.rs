//! Snapshots as DescribeDBSnapshots / DescribeDBClusterSnapshots report them.

use chrono::{DateTime, Utc};
use s3exports_config::SnapshotType;
use serde::Serialize;

/// A DB snapshot or DB cluster snapshot, as DescribeDBSnapshots / DescribeDBClusterSnapshots
/// report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub arn: String,
    pub id: String,
    /// DB instance id, or the Aurora cluster id for a cluster snapshot.
    pub db_id: String,
    pub cluster: bool,
    /// RDS's own `SnapshotType` text (automated, manual, awsbackup, shared, public).
    pub snapshot_type: String,
    pub engine: String,
    pub created: Option<DateTime<Utc>>,
    pub status: String,
}

impl Snapshot {
    pub fn kind(&self) -> Option<SnapshotType> {
        SnapshotType::from_rds(&self.snapshot_type, &self.id)
    }

    pub fn is_available(&self) -> bool {
        self.status.eq_ignore_ascii_case("available")
    }

    /// Whether this is the snapshot an event or a user named, by identifier or ARN. RDS
    /// identifiers are case-insensitive. A blank name never matches: an empty identifier
    /// must never resolve to "the first snapshot of the account".
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        !name.is_empty() && (self.id.eq_ignore_ascii_case(name) || self.arn == name)
    }
}

/// An available snapshot of the `orders` instance, for the crate's tests.
#[cfg(test)]
pub(crate) fn orders_snapshot(id: &str, kind: &str, created: Option<DateTime<Utc>>) -> Snapshot {
    Snapshot {
        arn: format!("arn:aws:rds:eu-west-1:1:snapshot:{id}"),
        id: id.into(),
        db_id: "orders".into(),
        cluster: false,
        snapshot_type: kind.into(),
        engine: "postgres".into(),
        created,
        status: "available".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_snapshot_matches() {
        let s = Snapshot {
            arn: "arn:aws:rds:eu-west-1:1:snapshot:rds:orders-2026-11-24-03-10".into(),
            id: "rds:orders-2026-11-24-03-10".into(),
            db_id: "orders".into(),
            cluster: false,
            snapshot_type: "automated".into(),
            engine: "postgres".into(),
            created: None,
            status: "available".into(),
        };
        assert!(s.is_named("rds:orders-2026-11-24-03-10"));
        assert!(s.is_named("RDS:Orders-2026-11-24-03-10"));
        assert!(s.is_named(&s.arn.clone()));
        for other in ["", "   ", "rds:orders", "rds:orders-2026-11-24-03-10x"] {
            assert!(!s.is_named(other), "{other:?}");
        }
    }
}
