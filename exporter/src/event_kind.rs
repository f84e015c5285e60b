//! What an RDS event means for the pipeline.

/// The kinds of RDS events the pipeline acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A snapshot is ready to export.
    SnapshotCreated {
        cluster: bool,
    },
    /// A snapshot is being created; its "created" event follows.
    SnapshotCreating,
    ExportFinished {
        cluster: bool,
        result: ExportResult,
    },
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportResult {
    Completed,
    Failed,
    Canceled,
}

/// What an RDS event id (`RDS-EVENT-0091`) means for the pipeline.
pub fn event_kind(event_id: &str) -> EventKind {
    use EventKind::*;
    use ExportResult::*;
    match event_id.strip_prefix("RDS-EVENT-").unwrap_or_default() {
        // db-snapshot: manual (and AWS Backup) created, automated created, copy finished.
        "0042" | "0091" | "0197" => SnapshotCreated { cluster: false },
        // db-cluster-snapshot: manual created, automated created.
        "0075" | "0169" => SnapshotCreated { cluster: true },
        "0040" | "0090" | "0074" | "0168" => SnapshotCreating,
        "0159" => ExportFinished { cluster: false, result: Failed },
        "0160" => ExportFinished { cluster: false, result: Canceled },
        "0161" => ExportFinished { cluster: false, result: Completed },
        "0162" => ExportFinished { cluster: true, result: Failed },
        "0163" => ExportFinished { cluster: true, result: Canceled },
        "0164" => ExportFinished { cluster: true, result: Completed },
        _ => Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_event_is_classified() {
        for (id, cluster) in [("0042", false), ("0091", false), ("0197", false), ("0075", true), ("0169", true)] {
            assert_eq!(event_kind(&format!("RDS-EVENT-{id}")), EventKind::SnapshotCreated { cluster });
        }
        for id in ["0040", "0090", "0074", "0168"] {
            assert_eq!(event_kind(&format!("RDS-EVENT-{id}")), EventKind::SnapshotCreating);
        }
        assert_eq!(
            event_kind("RDS-EVENT-0161"),
            EventKind::ExportFinished { cluster: false, result: ExportResult::Completed }
        );
        assert_eq!(
            event_kind("RDS-EVENT-0162"),
            EventKind::ExportFinished { cluster: true, result: ExportResult::Failed }
        );
        assert_eq!(
            event_kind("RDS-EVENT-0163"),
            EventKind::ExportFinished { cluster: true, result: ExportResult::Canceled }
        );
        assert_eq!(event_kind("RDS-EVENT-0001"), EventKind::Other);
        assert_eq!(event_kind("nonsense"), EventKind::Other);
    }
}
