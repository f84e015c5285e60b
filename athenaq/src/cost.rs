//! `cost`: per database, what the exports cost: the export charge of the last 30 days (RDS bills
//! per GB of snapshot size) and the monthly storage of what the bucket holds, by storage class.
//! Prices come from one table here, approximate, with the date they were taken.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use s3exports_config::Database;
use s3exports_rds::{AwsError, ExportStatus, ExportTask, TaskFilter, classify};

use crate::objects::{self, Object, Restore};
use crate::output::Rows;

/// Where the prices come from.
pub const PRICES_AS_OF: &str =
    "AWS list prices, us-east-1, as of 2026-11 (aws.amazon.com/rds/pricing, aws.amazon.com/s3/pricing)";
/// USD per GB of snapshot size exported.
pub const EXPORT_PER_GB: f64 = 0.010;

/// USD per GB-month, by storage class.
pub fn storage_per_gb_month(class: &str) -> f64 {
    match class {
        "GLACIER" => 0.0036,
        "DEEP_ARCHIVE" => 0.00099,
        "GLACIER_IR" => 0.004,
        "STANDARD_IA" => 0.0125,
        _ => 0.023,
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseCost {
    pub db: String,
    pub exports_30d: usize,
    pub snapshot_gb_30d: f64,
    /// GB per storage class, in the order first seen.
    pub stored_gb: Vec<(String, f64)>,
    pub restores_in_progress: usize,
}

impl DatabaseCost {
    pub fn export_usd(&self) -> f64 {
        self.snapshot_gb_30d * EXPORT_PER_GB
    }

    pub fn storage_usd_month(&self) -> f64 {
        self.stored_gb.iter().map(|(class, gb)| gb * storage_per_gb_month(class)).sum()
    }
}

/// The plain arithmetic: exports that completed in the 30 days before `now` (sized by their
/// snapshots, or by the data extracted when the snapshot is gone), and the bucket's objects.
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
    for o in objects {
        let gb = o.size as f64 / 1e9;
        match stored.iter_mut().find(|(c, _)| *c == o.storage_class) {
            Some(entry) => entry.1 += gb,
            None => stored.push((o.storage_class.clone(), gb)),
        }
    }
    DatabaseCost {
        db: db.to_owned(),
        exports_30d: recent.len(),
        snapshot_gb_30d: recent
            .iter()
            .map(|t| snapshot_gb.get(&t.source_arn).copied().unwrap_or(f64::from(t.total_extracted_data_in_gb)))
            .sum(),
        stored_gb: stored,
        restores_in_progress: objects.iter().filter(|o| o.restore == Some(Restore::InProgress)).count(),
    }
}

pub fn to_rows(costs: &[DatabaseCost]) -> Rows {
    let mut rows = Rows::new(&[
        ("database", false),
        ("exports_30d", true),
        ("snapshot_gb_30d", true),
        ("export_usd_30d", true),
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
            Some(format!("{:.2}", c.export_usd())),
            Some(stored.join(", ")),
            Some(format!("{:.2}", c.storage_usd_month())),
            Some(c.restores_in_progress.to_string()),
        ]);
    }
    rows
}

/// Snapshot sizes (allocated GB) of one database by ARN: instances, then clusters.
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
) -> Result<DatabaseCost, String> {
    let tasks = s3exports_rds::sdk::describe_export_tasks(rds, &TaskFilter::bucket(&d.s3_bucket_name))
        .await
        .map_err(|e| format!("listing the exports of {}: {e}", d.db_name))?;
    let sizes =
        snapshot_sizes(rds, &d.db_name).await.map_err(|e| format!("listing the snapshots of {}: {e}", d.db_name))?;
    let prefix = if d.s3_prefix.is_empty() { String::new() } else { format!("{}/", d.s3_prefix) };
    let objects = objects::list(s3, &d.s3_bucket_name, &prefix)
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

    #[test]
    fn exports_are_billed_by_snapshot_size_and_storage_by_class() {
        let now = Utc::now();
        let tasks = [task("a", 3, 2, now), task("b", 10, 5, now), task("old", 40, 9, now)];
        let sizes = HashMap::from([("a".to_owned(), 100.0)]);
        let object = |class: &str, gb: f64| Object {
            key: "k".into(),
            size: (gb * 1e9) as i64,
            storage_class: class.into(),
            restore: None,
        };
        let c = of("orders", &tasks, &sizes, &[object("STANDARD", 10.0), object("DEEP_ARCHIVE", 1000.0)], now);
        // a: its snapshot's 100 GB; b: its snapshot is gone, so the 5 GB extracted; old: outside 30 days.
        assert_eq!((c.exports_30d, c.snapshot_gb_30d), (2, 105.0));
        assert!((c.export_usd() - 1.05).abs() < 1e-9);
        assert!((c.storage_usd_month() - (10.0 * 0.023 + 1000.0 * 0.00099)).abs() < 1e-6);
    }
}
