//! The RDS SDK calls every binary shares: one snapshot by name, a database's snapshots, and
//! export tasks, all pages, converted to this crate's plain types.

use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot, Filter};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, Utc};

use crate::error::{AwsError, classify};
use crate::export_task::{ExportStatus, ExportTask, TaskFilter};
use crate::snapshot::Snapshot;

pub fn to_chrono(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

pub fn export_task_from_sdk(t: &aws_sdk_rds::types::ExportTask) -> ExportTask {
    ExportTask {
        id: t.export_task_identifier().unwrap_or_default().to_owned(),
        source_arn: t.source_arn().unwrap_or_default().to_owned(),
        status: ExportStatus::parse(t.status().unwrap_or_default()),
        snapshot_time: to_chrono(t.snapshot_time()),
        task_start_time: to_chrono(t.task_start_time()),
        task_end_time: to_chrono(t.task_end_time()),
        s3_bucket: t.s3_bucket().unwrap_or_default().to_owned(),
        s3_prefix: t.s3_prefix().unwrap_or_default().to_owned(),
        kms_key_id: t.kms_key_id().unwrap_or_default().to_owned(),
        iam_role_arn: t.iam_role_arn().unwrap_or_default().to_owned(),
        percent_progress: t.percent_progress().unwrap_or_default(),
        total_extracted_data_in_gb: t.total_extracted_data_in_gb().unwrap_or_default(),
        failure_cause: t.failure_cause().map(str::to_owned),
        warning_message: t.warning_message().map(str::to_owned),
        export_only: t.export_only().to_vec(),
        cluster: t.source_type().is_some_and(|s| s.as_str().eq_ignore_ascii_case("CLUSTER"))
            || crate::export_task::is_cluster_arn(t.source_arn().unwrap_or_default()),
    }
}

pub fn snapshot_from_sdk(s: &DbSnapshot) -> Snapshot {
    Snapshot {
        arn: s.db_snapshot_arn().unwrap_or_default().to_owned(),
        id: s.db_snapshot_identifier().unwrap_or_default().to_owned(),
        db_id: s.db_instance_identifier().unwrap_or_default().to_owned(),
        cluster: false,
        snapshot_type: s.snapshot_type().unwrap_or_default().to_owned(),
        engine: s.engine().unwrap_or_default().to_owned(),
        created: to_chrono(s.snapshot_create_time()),
        status: s.status().unwrap_or_default().to_owned(),
    }
}

pub fn cluster_snapshot_from_sdk(s: &DbClusterSnapshot) -> Snapshot {
    Snapshot {
        arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_owned(),
        id: s.db_cluster_snapshot_identifier().unwrap_or_default().to_owned(),
        db_id: s.db_cluster_identifier().unwrap_or_default().to_owned(),
        cluster: true,
        snapshot_type: s.snapshot_type().unwrap_or_default().to_owned(),
        engine: s.engine().unwrap_or_default().to_owned(),
        created: to_chrono(s.snapshot_create_time()),
        status: s.status().unwrap_or_default().to_owned(),
    }
}

/// The SnapshotType values to describe a named snapshot with, in order. RDS documents that an
/// automated snapshot's identifier needs SnapshotType too, and without it lists automated and
/// manual snapshots only (never AWS Backup's): the id's prefix says which type to ask first,
/// and the plain lookup is the fallback (or the first try for a manual snapshot's name).
/// DescribeDBClusterSnapshots takes automated, manual, shared and public only: `awsbackup`
/// "does not apply to Aurora", whose AWS Backup snapshots are manual ones.
pub fn lookup_types(id: &str, cluster: bool) -> [Option<&'static str>; 2] {
    let id = id.trim().to_ascii_lowercase();
    match (cluster, id.starts_with("awsbackup:"), id.starts_with("rds:")) {
        (_, _, true) => [Some("automated"), None],
        (true, _, false) => [None, None],
        (false, true, _) => [Some("awsbackup"), None],
        (false, false, _) => [None, Some("awsbackup")],
    }
}

/// DescribeDBSnapshots / DescribeDBClusterSnapshots for one snapshot by identifier or ARN;
/// `None` when no snapshot of that name exists. Only a snapshot whose identifier or ARN is the
/// one asked for is returned, and a blank name is never sent.
pub async fn describe_snapshot(
    rds: &aws_sdk_rds::Client,
    id: &str,
    cluster: bool,
) -> Result<Option<Snapshot>, AwsError> {
    if id.trim().is_empty() {
        return Ok(None);
    }
    let types = lookup_types(id, cluster);
    // The same request twice would find nothing new.
    let tries = if types[0] == types[1] { &types[..1] } else { &types[..] };
    for snapshot_type in tries.iter().copied() {
        let found = if cluster {
            match rds
                .describe_db_cluster_snapshots()
                .db_cluster_snapshot_identifier(id)
                .set_snapshot_type(snapshot_type.map(str::to_owned))
                .send()
                .await
            {
                Ok(out) => out.db_cluster_snapshots().iter().map(cluster_snapshot_from_sdk).find(|s| s.is_named(id)),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) => None,
                Err(e) => return Err(classify(&e)),
            }
        } else {
            match rds
                .describe_db_snapshots()
                .db_snapshot_identifier(id)
                .set_snapshot_type(snapshot_type.map(str::to_owned))
                .send()
                .await
            {
                Ok(out) => out.db_snapshots().iter().map(snapshot_from_sdk).find(|s| s.is_named(id)),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_db_snapshot_not_found_fault()) => None,
                Err(e) => return Err(classify(&e)),
            }
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// DescribeExportTasks, all pages, with the filter applied by the API (and again here).
/// Every snapshot of one database. The config does not say whether a database is an instance or
/// an Aurora cluster, so: DescribeDBSnapshots (automated and manual); when that finds none,
/// DescribeDBClusterSnapshots; and, when `awsbackup` is wanted and the database is not a
/// cluster, DescribeDBSnapshots with `SnapshotType=awsbackup`, which the default leaves out
/// (and which does not apply to Aurora). All pages; an identifier that is neither lists nothing.
pub async fn list_snapshots(
    rds: &aws_sdk_rds::Client,
    db_id: &str,
    awsbackup: bool,
) -> Result<Vec<Snapshot>, AwsError> {
    let mut out = instance_snapshots(rds, db_id, None).await?;
    let cluster = if out.is_empty() { cluster_snapshots(rds, db_id).await? } else { Vec::new() };
    if cluster.is_empty() && awsbackup {
        out.extend(instance_snapshots(rds, db_id, Some("awsbackup")).await?);
    }
    out.extend(cluster);
    // Only this database's, once each: the filters are the API's, applied again here.
    out.retain(|s| s.db_id.eq_ignore_ascii_case(db_id));
    // Once each, by identifier and ARN together: a response without ARNs must not merge snapshots.
    out.sort_by(|a, b| (&a.arn, &a.id).cmp(&(&b.arn, &b.id)));
    out.dedup_by(|a, b| a.arn == b.arn && a.id == b.id);
    Ok(out)
}

async fn instance_snapshots(
    rds: &aws_sdk_rds::Client,
    db_id: &str,
    snapshot_type: Option<&str>,
) -> Result<Vec<Snapshot>, AwsError> {
    let request =
        rds.describe_db_snapshots().db_instance_identifier(db_id).set_snapshot_type(snapshot_type.map(str::to_owned));
    let mut pages = request.max_records(100).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => out.extend(page.db_snapshots().iter().map(snapshot_from_sdk)),
            Err(e) if is_not_found(&e) => break,
            Err(e) => return Err(classify(&e)),
        }
    }
    Ok(out)
}

async fn cluster_snapshots(rds: &aws_sdk_rds::Client, db_id: &str) -> Result<Vec<Snapshot>, AwsError> {
    let mut pages =
        rds.describe_db_cluster_snapshots().db_cluster_identifier(db_id).max_records(100).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => out.extend(page.db_cluster_snapshots().iter().map(cluster_snapshot_from_sdk)),
            Err(e) if is_not_found(&e) => break,
            Err(e) => return Err(classify(&e)),
        }
    }
    Ok(out)
}

/// Whether an RDS DB instance or Aurora DB cluster of this identifier exists (DescribeDBInstances,
/// then DescribeDBClusters): asked only when a configured database has no snapshot at all, to
/// tell an empty history from a name that matches nothing.
pub async fn database_exists(rds: &aws_sdk_rds::Client, db_id: &str) -> Result<bool, AwsError> {
    match rds.describe_db_instances().db_instance_identifier(db_id).send().await {
        Ok(out)
            if out
                .db_instances()
                .iter()
                .any(|d| d.db_instance_identifier().is_some_and(|i| i.eq_ignore_ascii_case(db_id))) =>
        {
            return Ok(true);
        }
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(classify(&e)),
    }
    match rds.describe_db_clusters().db_cluster_identifier(db_id).send().await {
        Ok(out) => Ok(out
            .db_clusters()
            .iter()
            .any(|c| c.db_cluster_identifier().is_some_and(|i| i.eq_ignore_ascii_case(db_id)))),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(classify(&e)),
    }
}

/// The "no such database / snapshot" answers, modelled or not, which mean "nothing to list".
fn is_not_found<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code).is_some_and(|code| {
        matches!(
            code,
            "DBInstanceNotFound"
                | "DBInstanceNotFoundFault"
                | "DBClusterNotFoundFault"
                | "DBSnapshotNotFound"
                | "DBClusterSnapshotNotFoundFault"
        )
    })
}

pub async fn describe_export_tasks(
    rds: &aws_sdk_rds::Client,
    filter: &TaskFilter,
) -> Result<Vec<ExportTask>, AwsError> {
    let mut filters = Vec::new();
    let mut add = |name: &str, values: Vec<String>| {
        if !values.is_empty() {
            filters.push(Filter::builder().name(name).set_values(Some(values)).build());
        }
    };
    add("export-task-identifier", filter.export_task_identifier.iter().cloned().collect());
    add("source-arn", filter.source_arn.iter().cloned().collect());
    add("s3-bucket", filter.s3_bucket.iter().cloned().collect());
    add("status", filter.statuses.iter().map(|s| (*s).to_owned()).collect());

    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = rds
            .describe_export_tasks()
            .set_filters((!filters.is_empty()).then(|| filters.clone()))
            .set_marker(marker.clone())
            .max_records(100)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        out.extend(page.export_tasks().iter().map(export_task_from_sdk).filter(|t| filter.matches(t)));
        marker = page.marker().filter(|m| !m.is_empty()).map(str::to_owned);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_types_follow_the_id_prefix() {
        assert_eq!(lookup_types("awsbackup:job-1", false), [Some("awsbackup"), None]);
        assert_eq!(lookup_types("rds:orders-2026-11-24-03-10", false), [Some("automated"), None]);
        assert_eq!(lookup_types("before-migration", false), [None, Some("awsbackup")]);
    }

    #[test]
    fn clusters_are_never_asked_for_aws_backup_snapshots() {
        for id in ["awsbackup:job-1", "before-migration", "rds:lams-2026-11-24-03-10", "x-awsbackup:job-1"] {
            assert!(!lookup_types(id, true).contains(&Some("awsbackup")), "{id}");
        }
        assert_eq!(lookup_types("rds:lams-2026-11-24-03-10", true), [Some("automated"), None]);
    }
}
