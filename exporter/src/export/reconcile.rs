//! The reconciler: every eligible snapshot of each configured database that has no export task
//! in its bucket is put into the pending queue (never started directly, so the slots hold).
//! It finds what lost events missed, and with a long window it is the backfill.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use s3exports_config::{ExportTarget, SnapshotType, names};
use s3exports_rds::reconcile::{Examined, Summary, Verdict, Window, examine};
use s3exports_rds::{StartExport, TaskFilter};

use super::pending::PendingExport;
use crate::aws::{Aws, ExportAlert};
use crate::batch::Settings;
use crate::decision::{Decision, Outcome};

#[derive(Debug, Clone)]
pub struct ReconcileRun {
    /// Only this database (case-insensitive, as RDS ids are).
    pub db: Option<String>,
    /// Snapshots created before this are not examined.
    pub since: DateTime<Utc>,
    pub retry_failed: bool,
    /// Failed exports that ended after this are alerted (the scheduled run passes the start of
    /// the day it covers, so each failure is alerted by one run); `None` reports them only.
    pub alert_failures_after: Option<DateTime<Utc>>,
    /// Record `SnapshotsWithoutExport` per database (the scheduled run).
    pub record_metric: bool,
    /// While the pending queue holds exports, a snapshot without a task may be one of them:
    /// queue nothing and let a later run look again (the scheduled run; a person asking for a
    /// reconcile gets it, and the duplicates it may queue are dropped by dispatch).
    pub defer_while_pending: bool,
    /// The run's own id: exports it queues are deduplicated under it (see
    /// [`super::pending::deduplication_id`]), so none is dropped for an earlier run's copy.
    pub run_id: String,
    /// Databases not started by then are reported as not reconciled (the scheduled run passes
    /// the invocation's end, less a margin).
    pub deadline: Option<Instant>,
    /// Which database goes first: the list is rotated by the turn (see [`fair_order`]). The
    /// scheduled run passes the day's number, so a database the deadline left out one day is
    /// one place nearer the front the next; a run without a deadline may pass anything.
    pub turn: u64,
}

/// The turn of the day `now` falls on (days since 1970-01-01 UTC): one step a day for the
/// daily reconcile.
pub fn turn_of_day(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp().div_euclid(86_400)).unwrap_or(0)
}

/// The order databases are reconciled in on `turn`: by name (case-insensitive), rotated to
/// start at `turn % n`. A run with a time budget can stop before the last ones; with the same
/// order every run they would never be reached. Rotated, each database is first once every `n`
/// turns, and one left out moves a place forward every turn, so it is reached within `n` runs
/// whatever the budget lets each run do.
pub fn fair_order<T>(mut items: Vec<(String, T)>, turn: u64) -> Vec<(String, T)> {
    items.sort_by_key(|(db, _)| db.to_ascii_lowercase());
    if !items.is_empty() {
        let start = usize::try_from(turn % items.len() as u64).unwrap_or(0);
        items.rotate_left(start);
    }
    items
}

/// Databases listed at once.
const CONCURRENT_DATABASES: usize = 4;

/// One database's reconcile.
#[derive(Debug, Default)]
pub struct DatabaseReport {
    pub db: String,
    pub summary: Summary,
    /// Why the database could not be reconciled (listing failed); the others still are.
    pub error: Option<String>,
    /// Missing snapshots that could not be queued.
    pub not_queued: usize,
    /// Missing snapshots left for a later run because the pending queue was not empty.
    pub deferred: usize,
}

#[derive(Debug, Default)]
pub struct Reconciled {
    pub decisions: Vec<Decision>,
    pub databases: Vec<DatabaseReport>,
}

impl DatabaseReport {
    fn new(db: &str) -> Self {
        Self { db: db.to_owned(), ..Self::default() }
    }
}

impl Reconciled {
    /// Every database was examined and every missing snapshot queued.
    pub fn is_complete(&self) -> bool {
        self.databases.iter().all(|d| d.error.is_none() && d.not_queued == 0)
    }
}

/// An error that stops the whole run before any database is looked at.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("listing the configured databases: {0}")]
    Targets(s3exports_rds::AwsError),
    #[error("reading the pending queue's backlog: {0}")]
    Pending(s3exports_rds::AwsError),
    #[error("database `{0}` is not configured for export in this environment; configured: {1}")]
    UnknownDatabase(String, String),
    #[error(
        "export targets `{0}` and `{1}` differ only in case: RDS identifiers ignore case, so they name one database \
         and its snapshots would be exported to two buckets; keep one"
    )]
    CaseClash(String, String),
}

pub async fn reconcile<A: Aws>(aws: &A, settings: &Settings, run: &ReconcileRun) -> Result<Reconciled, ReconcileError> {
    let mut targets = aws.targets().await.map_err(ReconcileError::Targets)?;
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (db, _) in &targets {
        if let Some(first) = seen.insert(db.to_ascii_lowercase(), db) {
            return Err(ReconcileError::CaseClash(first.to_owned(), db.clone()));
        }
    }
    if let Some(only) = &run.db {
        let known = targets.iter().map(|(db, _)| db.as_str()).collect::<Vec<_>>().join(", ");
        targets.retain(|(db, _)| names::same_db_id(db, only));
        if targets.is_empty() {
            return Err(ReconcileError::UnknownDatabase(
                only.clone(),
                if known.is_empty() { "none".into() } else { known },
            ));
        }
    }
    let targets = fair_order(targets, run.turn);
    let backlog =
        if run.defer_while_pending { aws.pending_backlog().await.map_err(ReconcileError::Pending)? } else { 0 };
    let mut out = Reconciled::default();
    let results: Vec<(DatabaseReport, Vec<Decision>)> = futures::stream::iter(&targets)
        .map(|(db, target)| async move {
            if run.deadline.is_some_and(|d| Instant::now() >= d) {
                let mut report = DatabaseReport::new(db);
                report.error = Some(
                    "not reached within the run's time budget; each day's run starts one database further along the \
                     list, so a later run reaches it"
                        .into(),
                );
                return (report, Vec::new());
            }
            let mut decisions = Vec::new();
            let report = reconcile_database(aws, settings, run, backlog, db, target, &mut decisions).await;
            (report, decisions)
        })
        .buffered(CONCURRENT_DATABASES)
        .collect()
        .await;
    for (report, decisions) in results {
        out.decisions.extend(decisions);
        out.databases.push(report);
    }
    if run.record_metric && !settings.dry_run {
        // Missing and failed alike: snapshots that have no export. One call for every database.
        let per_db: Vec<(String, f64)> = out
            .databases
            .iter()
            .filter(|d| d.error.is_none())
            .map(|d| (d.db.clone(), (d.summary.missing + d.summary.failed) as f64))
            .collect();
        let total = per_db.iter().map(|(_, n)| n).sum();
        if let Err(e) = aws.metric(names::METRIC_SNAPSHOTS_WITHOUT_EXPORT, total, &per_db).await {
            tracing::warn!(error = %e, "could not record SnapshotsWithoutExport");
        }
        // A database that could not be examined records no count above, which its alarm would
        // read as fine: it records an error instead (and a 0 once it is examined again).
        let errors: Vec<(String, f64)> =
            out.databases.iter().map(|d| (d.db.clone(), if d.error.is_some() { 1.0 } else { 0.0 })).collect();
        let total = errors.iter().map(|(_, n)| n).sum();
        if let Err(e) = aws.metric(names::METRIC_RECONCILE_ERRORS, total, &errors).await {
            tracing::warn!(error = %e, "could not record ReconcileErrors");
        }
    }
    Ok(out)
}

async fn reconcile_database<A: Aws>(
    aws: &A,
    settings: &Settings,
    run: &ReconcileRun,
    backlog: u64,
    db: &str,
    target: &ExportTarget,
    decisions: &mut Vec<Decision>,
) -> DatabaseReport {
    let mut report = DatabaseReport::new(db);
    if let Err(problem) = target.validate() {
        report.error = Some(format!("export target is misconfigured: {problem}"));
        return report;
    }
    let policy = target.policy(&settings.defaults);
    let awsbackup = policy.snapshot_types.contains(&SnapshotType::Awsbackup);
    let bucket_tasks = TaskFilter::bucket(&target.s3_bucket_name);
    let (snapshots, tasks) = futures::join!(aws.list_snapshots(db, awsbackup), aws.export_tasks(&bucket_tasks));
    let (snapshots, tasks) = match (snapshots, tasks) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) => {
            report.error = Some(format!("listing its snapshots: {e}"));
            return report;
        }
        (_, Err(e)) => {
            report.error = Some(format!("listing the export tasks of bucket {}: {e}", target.s3_bucket_name));
            return report;
        }
    };
    if snapshots.is_empty() {
        // Nothing to examine: a database with no snapshot yet, or a name that matches nothing.
        match aws.database_exists(db).await {
            Ok(true) => {}
            Ok(false) => {
                report.error = Some(format!(
                    "no DB instance or Aurora cluster `{db}` in this account and region, and no snapshot of it: \
                     check the database id in the config (or the --targets file)"
                ));
                return report;
            }
            Err(e) => {
                report.error = Some(format!("it has no snapshot, and whether it exists could not be read: {e}"));
                return report;
            }
        }
    }
    let window = Window { policy: &policy, since: run.since, retry_failed: run.retry_failed };
    let examined = examine(&snapshots, &tasks, &window);
    report.summary = Summary::of(&examined);
    for e in examined {
        let d = if backlog > 0 && matches!(e.verdict, Verdict::Missing { .. }) {
            report.deferred += 1;
            deferred(e, backlog)
        } else {
            act_on(aws, settings, run, target, e).await
        };
        if matches!(d.outcome, Outcome::Retry | Outcome::Reject) {
            report.not_queued += 1;
        }
        decisions.push(d);
    }
    report
}

fn decision_for(e: &Examined) -> Decision {
    let mut d = Decision::new(&format!("reconcile:{}", e.snapshot.db_id), Outcome::Skip, "");
    d.db = Some(e.snapshot.db_id.clone());
    d.snapshot = Some(e.snapshot.id.clone());
    d.source_arn = Some(e.snapshot.arn.clone());
    d
}

fn deferred(e: Examined, backlog: u64) -> Decision {
    let mut d = decision_for(&e);
    if let Verdict::Missing { export_task_identifier, .. } = e.verdict {
        d.export_task_identifier = Some(export_task_identifier);
    }
    d.with(
        Outcome::Skip,
        format!("no export task yet, but {backlog} export(s) wait in the pending queue and it may be one: the next run queues it if it is still missing"),
    )
}

/// The decision line for one examined snapshot, after queueing or alerting what it needs.
async fn act_on<A: Aws>(
    aws: &A,
    settings: &Settings,
    run: &ReconcileRun,
    target: &ExportTarget,
    e: Examined,
) -> Decision {
    let mut d = decision_for(&e);
    match e.verdict {
        Verdict::Exported { export_task_identifier, status } => {
            let why = format!("exported by task {export_task_identifier} ({})", status.as_str());
            d.export_task_identifier = Some(export_task_identifier);
            d.with(Outcome::Skip, why)
        }
        Verdict::Skip { reason } => d.with(Outcome::Skip, reason),
        Verdict::Failed { failures } => {
            let listed: Vec<String> = failures
                .iter()
                .map(|f| {
                    format!(
                        "{} {}: {}",
                        f.export_task_identifier,
                        f.status.as_str(),
                        f.failure_cause.as_deref().unwrap_or("no cause given")
                    )
                })
                .collect();
            d.export_task_identifier = failures.last().map(|f| f.export_task_identifier.clone());
            if let Some(after) = run.alert_failures_after.filter(|_| !settings.dry_run) {
                for f in failures.iter().filter(|f| f.ended.is_some_and(|t| t > after)) {
                    let alert = ExportAlert {
                        export_task_identifier: f.export_task_identifier.clone(),
                        status: f.status.as_str().to_owned(),
                        source_arn: e.snapshot.arn.clone(),
                        db: Some(e.snapshot.db_id.clone()),
                        s3_location: format!("s3://{}/{}", target.s3_bucket_name, target.s3_prefix),
                        failure_cause: f.failure_cause.clone(),
                        event_message: "found by the daily reconcile".to_owned(),
                    };
                    if let Err(err) = aws.alert(&alert).await {
                        tracing::warn!(export = f.export_task_identifier, error = %err, "could not alert a failed export");
                    }
                }
            }
            d.with(
                Outcome::ExportFailed,
                format!("no export, {} failed: {}; re-export with --retry-failed", listed.len(), listed.join("; ")),
            )
        }
        Verdict::Missing { export_task_identifier, retries } => {
            d.export_task_identifier = Some(export_task_identifier.clone());
            d.queued = true;
            let why = if retries.is_empty() {
                format!("no export task in s3://{}", target.s3_bucket_name)
            } else {
                format!("retrying after failed {}", retries.join(", "))
            };
            if settings.dry_run {
                return d.with(Outcome::StartExport, format!("dry run: {why}; would queue it for export"));
            }
            let pending = PendingExport {
                request: StartExport::to_target(&export_task_identifier, &e.snapshot.arn, target, &settings.defaults),
                snapshot: e.snapshot,
                parked_by: "reconcile".to_owned(),
            };
            let dedup = super::pending::deduplication_id(pending.export_id(), Some(&run.run_id));
            match aws.park(&pending, &dedup).await {
                Ok(()) => d.with(Outcome::StartExport, format!("{why}: queued for export")),
                Err(err) => {
                    d.queued = false;
                    d.failed("queueing it in the pending queue", &err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(names: &[&str], turn: u64) -> Vec<String> {
        let items = names.iter().map(|n| ((*n).to_owned(), ())).collect();
        fair_order(items, turn).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn each_turn_starts_one_database_further_along() {
        let dbs = ["c", "A", "b"];
        assert_eq!(order(&dbs, 0), ["A", "b", "c"]);
        assert_eq!(order(&dbs, 1), ["b", "c", "A"]);
        assert_eq!(order(&dbs, 2), ["c", "A", "b"]);
        assert_eq!(order(&dbs, 3), order(&dbs, 0));
        assert!(order(&[], 7).is_empty());
    }

    #[test]
    fn a_budget_that_reaches_one_database_a_run_still_reaches_every_one() {
        let dbs: Vec<String> = (0..7).map(|i| format!("db{i}")).collect();
        let names: Vec<&str> = dbs.iter().map(String::as_str).collect();
        // Day after day from any day, one database a run: all of them within 7 runs.
        let first = turn_of_day(DateTime::parse_from_rfc3339("2026-12-07T02:00:00Z").unwrap().to_utc());
        let reached: std::collections::BTreeSet<String> =
            (first..first + 7).map(|turn| order(&names, turn)[0].clone()).collect();
        assert_eq!(reached.len(), 7, "{reached:?}");
        // The one last on a turn, which a budget leaves out first, is a place nearer the front next.
        let last = order(&names, first)[6].clone();
        assert_eq!(order(&names, first + 1).iter().position(|n| *n == last), Some(5));
    }

    #[test]
    fn the_turn_steps_once_a_day_at_midnight_utc() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert_eq!(turn_of_day(at("1970-01-02T00:00:00Z")), 1);
        assert_eq!(turn_of_day(at("2026-12-07T23:59:59Z")) + 1, turn_of_day(at("2026-12-08T00:00:00Z")));
        assert_eq!(turn_of_day(at("1969-12-31T12:00:00Z")), 0);
    }
}
