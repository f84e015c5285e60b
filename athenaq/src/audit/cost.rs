//! `cost`: per database, what the exports cost: the export charge of the last 30 days (RDS bills
//! per GB of snapshot size) and the monthly storage of what the bucket holds, by storage class.
//! Prices come from [`crate::audit::prices`], approximate, with their region and date. Aurora cluster
//! snapshots report no size (`AllocatedStorage` 0), so their exports are estimated from the
//! data the export extracted, and the row says so.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use s3exports_config::Database;
use s3exports_rds::{AwsError, ExportStatus, ExportTask, TaskFilter, classify};

use crate::aws::s3::{self, Object, Restore, RestoreListing};
use crate::output::Rows;

use crate::audit::prices::{EXPORT_PER_GB, archive_overhead_month, storage_per_gb_month, usd};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseCost {
    pub db: String,
    pub exports_30d: usize,
    pub snapshot_gb_30d: f64,
    /// Exports of the 30 days sized by the data they extracted, as their snapshot's size is
    /// unknown (an Aurora cluster snapshot, or a snapshot since deleted): an estimate.
    pub estimated_exports: usize,
    /// GB per storage class, in the order first seen.
    pub stored_gb: Vec<(String, f64)>,
    /// Objects per storage class: each archived one carries S3's per-object overhead.
    pub objects_by_class: Vec<(String, usize)>,
    pub restores_in_progress: usize,
}

impl DatabaseCost {
    pub fn export_usd(&self) -> f64 {
        self.snapshot_gb_30d * EXPORT_PER_GB
    }

    pub fn storage_usd_month(&self) -> f64 {
        let data: f64 = self.stored_gb.iter().map(|(class, gb)| gb * storage_per_gb_month(class)).sum();
        let overhead: f64 = self.objects_by_class.iter().map(|(class, n)| archive_overhead_month(class, *n)).sum();
        data + overhead
    }

    /// How the export charge was sized.
    pub fn export_basis(&self) -> String {
        match self.estimated_exports {
            0 => "snapshot size".to_owned(),
            n if n == self.exports_30d => "estimate: data extracted (no snapshot size)".to_owned(),
            n => format!("estimate: {n} of {} by data extracted (no snapshot size)", self.exports_30d),
        }
    }
}

/// The plain arithmetic: exports that completed in the 30 days before `now` (sized by their
/// snapshots, or by the data extracted where no snapshot size is known: the snapshot is gone,
/// or it is an Aurora cluster snapshot, which reports 0), and the bucket's objects.
pub fn of(
    db: &str,
    tasks: &[ExportTask],
    snapshot_gb: &HashMap<String, f64>,
    objects: &[Object],
    now: DateTime<Utc>,
) -> DatabaseCost {
    let recent: Vec<&ExportTask> = tasks
        .iter()
        .filter(|t| {
            t.status == ExportStatus::Complete
                && t.task_end_time.or(t.snapshot_time).is_some_and(|e| e > now - Duration::days(30))
        })
        .collect();
    let mut stored: Vec<(String, f64)> = Vec::new();
    let mut counted: Vec<(String, usize)> = Vec::new();
    for o in objects {
        let gb = o.size as f64 / 1e9;
        match stored.iter_mut().find(|(c, _)| *c == o.storage_class) {
            Some(entry) => entry.1 += gb,
            None => stored.push((o.storage_class.clone(), gb)),
        }
        match counted.iter_mut().find(|(c, _)| *c == o.storage_class) {
            Some(entry) => entry.1 += 1,
            None => counted.push((o.storage_class.clone(), 1)),
        }
    }
    let size = |t: &ExportTask| snapshot_gb.get(&t.source_arn).copied().filter(|gb| *gb > 0.0);
    DatabaseCost {
        db: db.to_owned(),
        exports_30d: recent.len(),
        snapshot_gb_30d: recent.iter().map(|t| size(t).unwrap_or(f64::from(t.total_extracted_data_in_gb))).sum(),
        estimated_exports: recent.iter().filter(|t| size(t).is_none()).count(),
        stored_gb: stored,
        objects_by_class: counted,
        restores_in_progress: objects.iter().filter(|o| o.restore == Some(Restore::InProgress)).count(),
    }
}

pub fn to_rows(costs: &[DatabaseCost]) -> Rows {
    let mut rows = Rows::new(&[
        ("database", false),
        ("exports_30d", true),
        ("snapshot_gb_30d", true),
        ("export_usd_30d", true),
        ("export_basis", false),
        ("stored_gb", false),
        ("storage_usd_month", true),
        ("restores_in_progress", true),
    ]);
    for c in costs {
        let stored: Vec<String> = c.stored_gb.iter().map(|(class, gb)| format!("{class} {gb:.3}")).collect();
        rows.rows.push(vec![
            Some(c.db.clone()),
            Some(c.exports_30d.to_string()),
            Some(format!("{:.1}", c.snapshot_gb_30d)),
            Some(usd(c.export_usd())),
            Some(c.export_basis()),
            Some(stored.join(", ")),
            Some(usd(c.storage_usd_month())),
            Some(c.restores_in_progress.to_string()),
        ]);
    }
    rows
}

/// Snapshot sizes (allocated GB) of one database by ARN: instances, then clusters (whose 0
/// means "not reported", see [`of`]).
async fn snapshot_sizes(rds: &aws_sdk_rds::Client, db: &str) -> Result<HashMap<String, f64>, AwsError> {
    let mut sizes = HashMap::new();
    let mut pages = rds.describe_db_snapshots().db_instance_identifier(db).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => sizes.extend(
                page.db_snapshots()
                    .iter()
                    .filter_map(|s| Some((s.db_snapshot_arn()?.to_owned(), f64::from(s.allocated_storage()?)))),
            ),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_snapshot_not_found_fault()) => break,
            Err(e) => return Err(classify(&e)),
        }
    }
    if sizes.is_empty() {
        let mut pages = rds.describe_db_cluster_snapshots().db_cluster_identifier(db).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => sizes.extend(page.db_cluster_snapshots().iter().filter_map(|s| {
                    Some((s.db_cluster_snapshot_arn()?.to_owned(), f64::from(s.allocated_storage()?)))
                })),
                // Not a cluster either: sizes fall back to the data extracted.
                Err(_) => break,
            }
        }
    }
    Ok(sizes)
}

pub async fn database_cost(
    rds: &aws_sdk_rds::Client,
    s3: &aws_sdk_s3::Client,
    d: &Database,
    now: DateTime<Utc>,
    listing: RestoreListing,
) -> Result<DatabaseCost, String> {
    let tasks = s3exports_rds::sdk::describe_export_tasks(rds, &TaskFilter::bucket(&d.s3_bucket_name))
        .await
        .map_err(|e| format!("listing the exports of {}: {e}", d.db_name))?;
    let sizes =
        snapshot_sizes(rds, &d.db_name).await.map_err(|e| format!("listing the snapshots of {}: {e}", d.db_name))?;
    let prefix = if d.s3_prefix.is_empty() { String::new() } else { format!("{}/", d.s3_prefix) };
    let objects = s3::list(s3, &d.s3_bucket_name, &prefix, listing)
        .await
        .map_err(|e| format!("listing s3://{}/{prefix}: {e}", d.s3_bucket_name))?;
    Ok(of(&d.db_name, &tasks, &sizes, &objects, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(arn: &str, days_ago: i64, gb: i32, now: DateTime<Utc>) -> ExportTask {
        ExportTask {
            task_end_time: Some(now - Duration::days(days_ago)),
            total_extracted_data_in_gb: gb,
            ..ExportTask::new(arn, arn, ExportStatus::Complete)
        }
    }

    fn object(class: &str, gb: f64) -> Object {
        Object {
            key: "k".into(),
            size: (gb * 1e9) as i64,
            etag: "e".into(),
            storage_class: class.into(),
            restore: None,
        }
    }

    #[test]
    fn exports_are_billed_by_snapshot_size_and_storage_by_class() {
        let now = Utc::now();
        let tasks = [task("a", 3, 2, now), task("b", 10, 5, now), task("old", 40, 9, now)];
        let sizes = HashMap::from([("a".to_owned(), 100.0)]);
        let c = of("orders", &tasks, &sizes, &[object("STANDARD", 10.0), object("DEEP_ARCHIVE", 1000.0)], now);
        // a: its snapshot's 100 GB; b: its snapshot is gone, so the 5 GB extracted; old: outside 30 days.
        assert_eq!((c.exports_30d, c.snapshot_gb_30d, c.estimated_exports), (2, 105.0, 1));
        assert!((c.export_usd() - 1.05).abs() < 1e-9);
        let overhead = archive_overhead_month("DEEP_ARCHIVE", 1);
        assert!((c.storage_usd_month() - (10.0 * 0.023 + 1000.0 * 0.00099 + overhead)).abs() < 1e-6);
        assert_eq!(c.export_basis(), "estimate: 1 of 2 by data extracted (no snapshot size)");
    }

    #[test]
    fn aurora_snapshots_report_no_size_so_the_extracted_data_is_the_estimate() {
        let now = Utc::now();
        let arn = "arn:aws:rds:us-east-1:1:cluster-snapshot:rds:lams-2026-11-30-03-00";
        let tasks = [ExportTask { total_extracted_data_in_gb: 40, ..task(arn, 1, 0, now) }];
        let sizes = HashMap::from([(arn.to_owned(), 0.0)]);
        let c = of("lams", &tasks, &sizes, &[], now);
        assert_eq!(c.snapshot_gb_30d, 40.0);
        assert!((c.export_usd() - 0.40).abs() < 1e-9, "not $0: {}", c.export_usd());
        assert_eq!(c.export_basis(), "estimate: data extracted (no snapshot size)");
        assert_eq!(to_rows(&[c]).rows[0][3].as_deref(), Some("0.40"));
    }
}
