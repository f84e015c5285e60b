//! The reconciler's comparison: a configured database's snapshots against the export tasks of
//! its bucket, as a plain function over plain data. The exporter acts on the verdicts (puts the
//! missing ones into the pending queue); athenaq lists them (`list-exports --missing`).

use chrono::{DateTime, Utc};
use s3exports_config::ExportPolicy;
use serde::Serialize;

use crate::export_id::attempt_identifier;
use crate::policy::{check_min_interval, check_snapshot_type};
use crate::{ExportStatus, ExportTask, Snapshot};

/// What the reconciler concluded about one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// A task exported it (or is exporting it) to the database's bucket, whatever its id:
    /// exports made by hand or by an older pipeline count.
    Exported { export_task_identifier: String, status: ExportStatus },
    /// No export: to be exported under `export_task_identifier`. After failed exports (with
    /// `retry_failed`) the identifier is a later attempt's and `retries` names the failures.
    Missing { export_task_identifier: String, retries: Vec<String> },
    /// Every export of it failed or was canceled; re-exported only when asked to.
    Failed { failures: Vec<FailedExport> },
    /// The policy does not export it, or it is not exportable yet.
    Skip { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedExport {
    pub export_task_identifier: String,
    pub status: ExportStatus,
    pub failure_cause: Option<String>,
    pub ended: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Examined {
    pub snapshot: Snapshot,
    pub verdict: Verdict,
}

/// Counts per verdict for one database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub examined: usize,
    pub exported: usize,
    pub missing: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of(examined: &[Examined]) -> Self {
        let mut s = Self { examined: examined.len(), ..Self::default() };
        for e in examined {
            match e.verdict {
                Verdict::Exported { .. } => s.exported += 1,
                Verdict::Missing { .. } => s.missing += 1,
                Verdict::Failed { .. } => s.failed += 1,
                Verdict::Skip { .. } => s.skipped += 1,
            }
        }
        s
    }
}

/// What the comparison needs besides the data.
#[derive(Debug, Clone)]
pub struct Window<'a> {
    pub policy: &'a ExportPolicy,
    /// Snapshots created before this are not examined.
    pub since: DateTime<Utc>,
    /// Re-export snapshots whose exports all failed, under a new identifier.
    pub retry_failed: bool,
}

/// Every snapshot of one database created since `window.since`, oldest first, with its verdict.
/// `tasks` are the export tasks of the database's bucket; tasks of other buckets never count.
pub fn examine(snapshots: &[Snapshot], tasks: &[ExportTask], window: &Window<'_>) -> Vec<Examined> {
    let mut in_window: Vec<&Snapshot> =
        snapshots.iter().filter(|s| s.created.is_none_or(|c| c >= window.since)).collect();
    in_window.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    // Exports to come count for the minimum interval like those already made, so two missing
    // snapshots close together give one export, as the event path would.
    let mut covering: Vec<ExportTask> = tasks.to_vec();
    in_window
        .into_iter()
        .map(|snapshot| {
            let verdict = verdict(snapshot, tasks, &covering, window);
            if let (Verdict::Missing { export_task_identifier, .. }, Some(created)) = (&verdict, snapshot.created) {
                covering.push(planned_task(export_task_identifier, snapshot, created));
            }
            Examined { snapshot: snapshot.clone(), verdict }
        })
        .collect()
}

fn verdict(snapshot: &Snapshot, tasks: &[ExportTask], covering: &[ExportTask], window: &Window<'_>) -> Verdict {
    let skip = |reason: String| Verdict::Skip { reason };
    let Some(created) = snapshot.created.filter(|_| snapshot.is_available()) else {
        return skip(format!("snapshot is `{}`, not yet available; a later run looks again", snapshot.status));
    };
    if let Err(why) = check_snapshot_type(snapshot, window.policy) {
        return skip(why);
    }
    if snapshot.arn.trim().is_empty() {
        // StartExportTask takes the snapshot's ARN; one is never made up from its name.
        return skip("RDS listed it without an ARN, which StartExportTask needs; a later run looks again".into());
    }
    let of_snapshot: Vec<&ExportTask> = tasks.iter().filter(|t| t.source_arn == snapshot.arn).collect();
    if let Some(done) = of_snapshot.iter().find(|t| t.status.counts_as_exported()) {
        return Verdict::Exported { export_task_identifier: done.id.clone(), status: done.status };
    }
    let first_id = attempt_identifier(&snapshot.db_id, created, &snapshot.arn, 0);
    if let Err(why) = check_min_interval(created, &first_id, window.policy.min_interval, covering) {
        return skip(why);
    }
    let failures: Vec<FailedExport> = of_snapshot
        .iter()
        .map(|t| FailedExport {
            export_task_identifier: t.id.clone(),
            status: t.status,
            failure_cause: t.failure_cause.clone(),
            ended: t.task_end_time,
        })
        .collect();
    if failures.is_empty() {
        return Verdict::Missing { export_task_identifier: first_id, retries: Vec::new() };
    }
    if !window.retry_failed {
        return Verdict::Failed { failures };
    }
    // One attempt per failure so far: a failed retry leads to the next identifier.
    let attempt = u32::try_from(failures.len()).unwrap_or(u32::MAX);
    Verdict::Missing {
        export_task_identifier: attempt_identifier(&snapshot.db_id, created, &snapshot.arn, attempt),
        retries: failures.into_iter().map(|f| f.export_task_identifier).collect(),
    }
}

fn planned_task(id: &str, snapshot: &Snapshot, created: DateTime<Utc>) -> ExportTask {
    ExportTask {
        snapshot_time: Some(created),
        cluster: snapshot.cluster,
        ..ExportTask::new(id, &snapshot.arn, ExportStatus::Starting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use s3exports_config::{MinInterval, SnapshotType};

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 3, 10, 0).unwrap()
    }

    fn snapshot(id: &str, kind: &str, day: u32) -> Snapshot {
        crate::snapshot::orders_snapshot(id, kind, Some(at(day)))
    }

    fn task(id: &str, of: &Snapshot, status: ExportStatus) -> ExportTask {
        let mut t = planned_task(id, of, of.created.unwrap());
        t.status = status;
        t.failure_cause = (status == ExportStatus::Failed).then(|| "S3 access denied".into());
        t
    }

    fn policy(kinds: &[SnapshotType], min_interval: MinInterval) -> ExportPolicy {
        ExportPolicy { snapshot_types: kinds.to_vec(), min_interval, export_only: vec![] }
    }

    fn window(policy: &ExportPolicy, retry_failed: bool) -> Window<'_> {
        Window { policy, since: at(1), retry_failed }
    }

    const ALL: [SnapshotType; 3] = SnapshotType::ALL;

    #[test]
    fn any_running_or_complete_task_of_the_snapshot_counts_whatever_its_id() {
        let (a, b, c) = (
            snapshot("rds:orders-a", "automated", 20),
            snapshot("by-hand", "manual", 21),
            snapshot("rds:orders-c", "automated", 22),
        );
        let tasks = [
            task("exported-by-hand", &a, ExportStatus::Complete),
            task("older-pipeline", &b, ExportStatus::InProgress),
        ];
        let p = policy(&ALL, MinInterval::NONE);
        let out = examine(&[c.clone(), b, a], &tasks, &window(&p, false));
        assert!(
            matches!(&out[0].verdict, Verdict::Exported { export_task_identifier, .. } if export_task_identifier == "exported-by-hand")
        );
        assert!(matches!(&out[1].verdict, Verdict::Exported { status: ExportStatus::InProgress, .. }));
        let Verdict::Missing { export_task_identifier, retries } = &out[2].verdict else { panic!("{:?}", out[2]) };
        assert_eq!(export_task_identifier, &crate::export_id::export_task_identifier("orders", at(22), &c.arn));
        assert!(retries.is_empty());
        assert_eq!(Summary::of(&out), Summary { examined: 3, exported: 2, missing: 1, failed: 0, skipped: 0 });
    }

    #[test]
    fn failed_exports_are_reported_and_retried_only_when_asked_under_a_new_id() {
        let s = snapshot("rds:orders-a", "automated", 20);
        let first = crate::export_id::export_task_identifier("orders", at(20), &s.arn);
        let mut tasks = vec![task(&first, &s, ExportStatus::Failed)];
        let p = policy(&ALL, MinInterval::NONE);
        let out = examine(std::slice::from_ref(&s), &tasks, &window(&p, false));
        let Verdict::Failed { failures } = &out[0].verdict else { panic!("{:?}", out[0]) };
        assert_eq!(failures[0].failure_cause.as_deref(), Some("S3 access denied"));

        let out = examine(std::slice::from_ref(&s), &tasks, &window(&p, true));
        let Verdict::Missing { export_task_identifier: retry, retries } = &out[0].verdict else { panic!() };
        assert!(
            retry.ends_with("-r1") && crate::export_id::is_valid(retry) && retries == std::slice::from_ref(&first),
            "{retry}"
        );
        // The retry failed too: the next attempt gets the next identifier.
        tasks.push(task(retry, &s, ExportStatus::Failed));
        let out = examine(std::slice::from_ref(&s), &tasks, &window(&p, true));
        assert!(
            matches!(&out[0].verdict, Verdict::Missing { export_task_identifier, .. } if export_task_identifier.ends_with("-r2"))
        );
    }

    #[test]
    fn policy_availability_and_window_decide_what_is_examined() {
        let mut creating = snapshot("rds:orders-b", "automated", 21);
        creating.status = "creating".into();
        let old = snapshot("rds:orders-old", "automated", 1);
        let mut older = old.clone();
        older.created = Some(at(1) - Duration::hours(1));
        let p = policy(&[SnapshotType::Automated], MinInterval::NONE);
        let out =
            examine(&[snapshot("awsbackup:job-1", "awsbackup", 20), creating, old, older], &[], &window(&p, false));
        assert_eq!(out.len(), 3, "the snapshot before `since` is not examined");
        assert!(matches!(&out[0].verdict, Verdict::Missing { .. }));
        assert!(
            matches!(&out[1].verdict, Verdict::Skip { reason } if reason.contains("awsbackup snapshots are not exported"))
        );
        assert!(matches!(&out[2].verdict, Verdict::Skip { reason } if reason.contains("`creating`")));
    }

    #[test]
    fn a_minimum_interval_counts_the_exports_it_plans() {
        let p = policy(&ALL, "2d".parse().unwrap());
        let days = [20, 21, 22, 23];
        let snapshots: Vec<Snapshot> =
            days.iter().map(|d| snapshot(&format!("rds:orders-{d}"), "automated", *d)).collect();
        let out = examine(&snapshots, &[], &window(&p, false));
        let missing: Vec<&str> = out
            .iter()
            .filter(|e| matches!(e.verdict, Verdict::Missing { .. }))
            .map(|e| e.snapshot.id.as_str())
            .collect();
        assert_eq!(missing, ["rds:orders-20", "rds:orders-22"]);
    }
}
