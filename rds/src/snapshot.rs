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

/// `automated` (`rds:...`), `awsbackup` (`awsbackup:...`) or `manual`, from the snapshot id in
/// an export's source ARN (`...:snapshot:<id>`, `...:cluster-snapshot:<id>`) or a bare id. RDS
/// names automated snapshots `rds:<db>-<time>` and AWS Backup's `awsbackup:<job>`; a live DB
/// cluster export (`...:cluster:<id>`) has no snapshot and counts as manual.
pub fn snapshot_type(source_arn_or_id: &str) -> &'static str {
    // arn:<partition>:rds:<region>:<account>:<resource type>:<id, which may hold `:`>
    let id = if source_arn_or_id.starts_with("arn:") {
        match source_arn_or_id.splitn(7, ':').collect::<Vec<&str>>()[..] {
            [_, _, _, _, _, "snapshot" | "cluster-snapshot", id] => id,
            _ => "",
        }
    } else {
        source_arn_or_id
    };
    if id.starts_with("rds:") {
        "automated"
    } else if id.starts_with("awsbackup:") {
        "awsbackup"
    } else {
        "manual"
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
    fn snapshot_types_from_the_source_arn() {
        for (arn, kind) in [
            ("arn:aws:rds:us-east-1:1:snapshot:rds:pams-2026-11-24-03-10", "automated"),
            ("arn:aws-cn:rds:cn-north-1:1:cluster-snapshot:rds:lams-2026-11-24-03-10", "automated"),
            ("arn:aws:rds:us-east-1:1:snapshot:awsbackup:job-1", "awsbackup"),
            ("arn:aws:rds:us-east-1:1:cluster-snapshot:awsbackup:job-1", "awsbackup"),
            ("arn:aws:rds:us-east-1:1:cluster-snapshot:before-migration", "manual"),
            // A live cluster export, and a snapshot named like the automated ones' prefix.
            ("arn:aws:rds:us-east-1:1:cluster:rds", "manual"),
            ("arn:aws:rds:us-east-1:1:snapshot:rdsx", "manual"),
            ("rds:pams-2026-11-24-03-10", "automated"),
            ("awsbackup:job-1", "awsbackup"),
            ("", "manual"),
        ] {
            assert_eq!(snapshot_type(arn), kind, "{arn}");
        }
    }

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
