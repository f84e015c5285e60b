//! `verify`: the evidence that one export is whole, one row per check. The checks are plain
//! functions over what was read; [`verify`] reads it (RDS, S3, Glue) and runs them.

use s3exports_config::{Config, Database, Lifecycle, names};
use s3exports_rds::layout::{ExportInfo, TableRef, TableStatus, TablesInfo};
use s3exports_rds::{AwsError, ExportStatus, ExportTask, TaskFilter, footer};
use serde::Serialize;

use crate::objects::{self, Object};
use crate::output::Rows;
use crate::progress;

/// Reads that run at once (footers, HeadObject).
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
}

fn check(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check { check, status, detail: detail.into() }
}

pub fn to_rows(checks: &[Check]) -> Rows {
    let mut rows = Rows::new(&[("check", false), ("status", false), ("detail", false)]);
    rows.rows = checks
        .iter()
        .map(|c| vec![Some(c.check.to_owned()), Some(c.status.as_str().to_owned()), Some(c.detail.clone())])
        .collect();
    rows
}

pub fn task_status(task: &ExportTask) -> Check {
    if task.status == ExportStatus::Complete {
        return check(
            "task",
            Status::Pass,
            format!("RDS reports {} COMPLETE ({} GB)", task.id, task.total_extracted_data_in_gb),
        );
    }
    let cause = task.failure_cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
    check("task", Status::Fail, format!("RDS reports {} {}{cause}", task.id, task.status.as_str()))
}

pub fn tables_complete(tables: &[TableStatus]) -> Check {
    if tables.is_empty() {
        return check("tables", Status::Fail, "no export_tables_info file: RDS lists no table of this export");
    }
    let not: Vec<String> = tables
        .iter()
        .filter(|t| !t.status.eq_ignore_ascii_case("COMPLETE"))
        .map(|t| format!("{} {}", t.target, t.status))
        .collect();
    if !not.is_empty() {
        return check(
            "tables",
            Status::Fail,
            format!("{} of {} tables not COMPLETE: {}", not.len(), tables.len(), not.join(", ")),
        );
    }
    check("tables", Status::Pass, format!("all {} tables COMPLETE", tables.len()))
}

/// The part files of each complete table, by its folder in the export.
pub fn parts_of<'a>(folder: &str, table: &TableRef, objects: &'a [Object]) -> Vec<&'a Object> {
    let prefix = format!("{folder}{}/", table.folder().to_string_lossy());
    objects.iter().filter(|o| o.key.starts_with(&prefix) && o.is_part_file()).collect()
}

pub fn part_files(folder: &str, tables: &[TableRef], objects: &[Object]) -> Check {
    let empty: Vec<String> =
        tables.iter().filter(|t| parts_of(folder, t, objects).is_empty()).map(TableRef::target).collect();
    if !empty.is_empty() {
        return check("part files", Status::Fail, format!("no part files for {}", empty.join(", ")));
    }
    let count = objects.iter().filter(|o| o.is_part_file()).count();
    check("part files", Status::Pass, format!("{count} part files for {} tables", tables.len()))
}

/// What reading one part file's footer gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FooterRead {
    Rows(i64),
    Archived,
    Damaged(String),
}

pub fn footers(reads: &[(String, FooterRead)], deep: bool) -> Check {
    let scope = if deep { "every part file" } else { "one part file per table (--deep: all)" };
    let damaged: Vec<String> = reads
        .iter()
        .filter_map(|(key, r)| match r {
            FooterRead::Damaged(why) => Some(format!("{key}: {why}")),
            _ => None,
        })
        .collect();
    if !damaged.is_empty() {
        return check("footers", Status::Fail, format!("{} unreadable: {}", damaged.len(), damaged.join("; ")));
    }
    let archived = reads.iter().filter(|(_, r)| *r == FooterRead::Archived).count();
    if archived > 0 {
        return check(
            "footers",
            Status::Warn,
            format!("{archived} of {} archived and not restored, so not read: `athenaq restore` first", reads.len()),
        );
    }
    let rows: i64 = reads.iter().map(|(_, r)| if let FooterRead::Rows(n) = r { *n } else { 0 }).sum();
    check("footers", Status::Pass, format!("{} read ({scope}): {rows} rows", reads.len()))
}

/// The key id at the end of a key ARN, or the id itself.
fn key_id(key: &str) -> &str {
    key.rsplit_once("key/").map_or(key, |(_, id)| id)
}

pub fn encryption(heads: &[(String, Result<objects::Head, String>)], expected_key: &str, deep: bool) -> Check {
    let scope =
        if deep { "every object" } else { "a sample: the info files and one part file per table (--deep: all)" };
    let mut wrong = Vec::new();
    for (key, head) in heads {
        match head {
            Err(why) => wrong.push(format!("{key}: {why}")),
            Ok(h) if h.sse.as_deref() != Some("aws:kms") => {
                wrong.push(format!("{key}: {}", h.sse.as_deref().unwrap_or("not encrypted with KMS")))
            }
            Ok(h) if h.kms_key.as_deref().map(key_id) != Some(key_id(expected_key)) => {
                wrong.push(format!("{key}: key {}", h.kms_key.as_deref().unwrap_or("none")))
            }
            Ok(_) => {}
        }
    }
    if wrong.is_empty() {
        return check(
            "encryption",
            Status::Pass,
            format!("{} objects SSE-KMS with the database's key ({scope})", heads.len()),
        );
    }
    check(
        "encryption",
        Status::Fail,
        format!("{} of {} not SSE-KMS with {}: {}", wrong.len(), heads.len(), expected_key, wrong.join("; ")),
    )
}

/// One lifecycle rule as the bucket has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleRule {
    pub enabled: bool,
    pub transitions: Vec<(String, i32)>,
    pub expiration_days: Option<i32>,
}

pub fn lifecycle(rules: &[LifecycleRule], want: &Lifecycle) -> Check {
    let wanted = [("GLACIER", want.glacier_days), ("DEEP_ARCHIVE", want.deep_archive_days)];
    let matches = |r: &LifecycleRule| {
        r.enabled
            && r.expiration_days == i32::try_from(want.expire_days).ok()
            && wanted.iter().all(|(class, days)| {
                r.transitions.iter().any(|(c, d)| c == class && i32::try_from(*days).ok() == Some(*d))
            })
    };
    let expected = format!(
        "Glacier at {} days, Deep Archive at {}, expiry at {}",
        want.glacier_days, want.deep_archive_days, want.expire_days
    );
    if rules.iter().any(matches) {
        return check("lifecycle", Status::Pass, format!("as configured: {expected}"));
    }
    let found: Vec<String> = rules
        .iter()
        .map(|r| {
            let t: Vec<String> = r.transitions.iter().map(|(c, d)| format!("{c} at {d}")).collect();
            format!("{}{}; expiry {:?}", if r.enabled { "" } else { "(disabled) " }, t.join(", "), r.expiration_days)
        })
        .collect();
    let found = if found.is_empty() { "no rules".to_owned() } else { found.join(" | ") };
    check("lifecycle", Status::Fail, format!("config wants {expected}; the bucket has {found}"))
}

pub fn public_access(block: Option<[bool; 4]>) -> Check {
    match block {
        Some(flags) if flags.iter().all(|f| *f) => {
            check("public access", Status::Pass, "all four public access blocks on")
        }
        Some(_) => check("public access", Status::Fail, "some public access blocks are off"),
        None => check("public access", Status::Fail, "the bucket has no public access block"),
    }
}

pub fn catalogue(tables: &[TableRef], missing: &[String], database: &str) -> Check {
    if missing.is_empty() {
        return check("catalogue", Status::Pass, format!("{} partitions in Glue database {database}", tables.len()));
    }
    check("catalogue", Status::Fail, format!("no partition for this export in {database}: {}", missing.join(", ")))
}

/// The clients verify reads through.
#[derive(Debug)]
pub struct Clients {
    pub rds: aws_sdk_rds::Client,
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no export task `{0}` in this account and region")]
    NoSuchExport(String),
    #[error("export `{id}` went to s3://{bucket}, not a bucket of environment {env}")]
    NotOurs { id: String, bucket: String, env: String },
    #[error("{0}: {1}")]
    Aws(String, AwsError),
}

/// The export task and the configured database whose bucket it went to.
pub async fn find_export<'c>(
    rds: &aws_sdk_rds::Client,
    config: &'c Config,
    export_id: &str,
) -> Result<(ExportTask, &'c Database), VerifyError> {
    let filter = TaskFilter { export_task_identifier: Some(export_id.to_owned()), ..TaskFilter::default() };
    let task = s3exports_rds::sdk::describe_export_tasks(rds, &filter)
        .await
        .map_err(|e| VerifyError::Aws("DescribeExportTasks".into(), e))?
        .into_iter()
        .next()
        .ok_or_else(|| VerifyError::NoSuchExport(export_id.to_owned()))?;
    let db = config.databases.iter().find(|d| d.s3_bucket_name == task.s3_bucket).ok_or_else(|| {
        VerifyError::NotOurs { id: task.id.clone(), bucket: task.s3_bucket.clone(), env: config.environment.clone() }
    })?;
    Ok((task, db))
}

pub async fn verify(c: &Clients, config: &Config, export_id: &str, deep: bool) -> Result<Vec<Check>, VerifyError> {
    let (task, db) = find_export(&c.rds, config, export_id).await?;
    let bucket = task.s3_bucket.clone();
    let mut checks = vec![task_status(&task)];
    let folder = objects::export_folder(&task);
    let objects = objects::list(&c.s3, &bucket, &folder)
        .await
        .map_err(|e| VerifyError::Aws(format!("listing s3://{bucket}/{folder}"), e))?;

    let tables_info = read_tables_info(c, &bucket, &task, &objects).await;
    let statuses = match tables_info {
        Ok(s) => s,
        Err(e) => {
            checks.push(check("tables", Status::Fail, e));
            Vec::new()
        }
    };
    if !statuses.is_empty() {
        checks.push(tables_complete(&statuses));
    }
    let complete: Vec<TableRef> = statuses
        .iter()
        .filter(|t| t.status.eq_ignore_ascii_case("COMPLETE"))
        .filter_map(|t| TableRef::from_target(&t.target))
        .collect();
    checks.push(part_files(&folder, &complete, &objects));

    // The sample: the first part file of each table; with --deep, every part file.
    let parts: Vec<&Object> = if deep {
        objects.iter().filter(|o| o.is_part_file()).collect()
    } else {
        complete.iter().filter_map(|t| parts_of(&folder, t, &objects).into_iter().min_by_key(|o| &o.key)).collect()
    };
    checks.push(footers(&read_footers(c, &bucket, &parts).await, deep));

    let sampled: Vec<&Object> = if deep {
        objects.iter().collect()
    } else {
        objects.iter().filter(|o| !o.is_part_file()).chain(parts.iter().copied()).collect()
    };
    checks.push(encryption(&read_heads(c, &bucket, &sampled).await, &task.kms_key_id, deep));

    checks.push(match bucket_lifecycle(&c.s3, &bucket).await {
        Ok(rules) => lifecycle(&rules, &db.lifecycle),
        Err(e) => check("lifecycle", Status::Fail, format!("GetBucketLifecycleConfiguration: {e}")),
    });
    checks.push(match public_access_block(&c.s3, &bucket).await {
        Ok(block) => public_access(block),
        Err(e) => check("public access", Status::Fail, format!("GetPublicAccessBlock: {e}")),
    });
    let database = names::glue_database(&db.db_name);
    let date = snapshot_date(c, &bucket, &task, &objects).await;
    checks.push(match missing_partitions(&c.glue, &database, &task.id, date, &complete).await {
        Ok(missing) => catalogue(&complete, &missing, &database),
        Err(e) => check("catalogue", Status::Fail, e),
    });
    Ok(checks)
}

async fn read_tables_info(
    c: &Clients,
    bucket: &str,
    task: &ExportTask,
    objects: &[Object],
) -> Result<Vec<TableStatus>, String> {
    let name = format!("export_tables_info_{}_", task.id);
    let keys: Vec<&str> = objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| k.rsplit('/').next().is_some_and(|f| f.starts_with(&name)))
        .collect();
    if keys.is_empty() {
        return Err(format!("no {name}*.json in s3://{bucket}/{}", objects::export_folder(task)));
    }
    let mut out = Vec::new();
    for key in keys {
        let body = objects::get(&c.s3, bucket, key, None).await.map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
        let info: TablesInfo =
            serde_json::from_slice(&body).map_err(|e| format!("s3://{bucket}/{key} is not a tables info file: {e}"))?;
        out.extend(info.per_table_status);
    }
    Ok(out)
}

async fn read_footers(c: &Clients, bucket: &str, parts: &[&Object]) -> Vec<(String, FooterRead)> {
    progress::each_concurrently(parts, "footers", CONCURRENCY, |o| async move {
        let read = if o.unreadable() { FooterRead::Archived } else { read_footer(&c.s3, bucket, &o.key).await };
        (o.key.clone(), read)
    })
    .await
}

async fn read_footer(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> FooterRead {
    let tail = match objects::get(s3, bucket, key, Some(format!("bytes=-{}", footer::TAIL_LEN))).await {
        Ok(tail) => tail,
        Err(e) if e.to_string().contains("InvalidObjectState") => return FooterRead::Archived,
        Err(e) => return FooterRead::Damaged(e.to_string()),
    };
    let len = match footer::metadata_len(&tail) {
        Ok(len) => len,
        Err(e) => return FooterRead::Damaged(e),
    };
    match objects::get(s3, bucket, key, Some(format!("bytes=-{}", len + footer::TAIL_LEN))).await {
        Ok(bytes) => match footer::metadata(&bytes) {
            Ok(meta) => FooterRead::Rows(meta.file_metadata().num_rows()),
            Err(e) => FooterRead::Damaged(e),
        },
        Err(e) => FooterRead::Damaged(e.to_string()),
    }
}

async fn read_heads(c: &Clients, bucket: &str, sampled: &[&Object]) -> Vec<(String, Result<objects::Head, String>)> {
    progress::each_concurrently(sampled, "encryption", CONCURRENCY, |o| async move {
        (o.key.clone(), objects::head(&c.s3, bucket, &o.key).await.map_err(|e| e.to_string()))
    })
    .await
}

async fn bucket_lifecycle(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<LifecycleRule>, String> {
    let out = match s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(out) => out,
        Err(e) if s3exports_cli::sdk_error_text(&e).contains("NoSuchLifecycleConfiguration") => return Ok(Vec::new()),
        Err(e) => return Err(s3exports_cli::sdk_error_text(&e)),
    };
    Ok(out
        .rules()
        .iter()
        .map(|r| LifecycleRule {
            enabled: r.status().as_str() == "Enabled",
            transitions: r
                .transitions()
                .iter()
                .filter_map(|t| Some((t.storage_class()?.as_str().to_owned(), t.days()?)))
                .collect(),
            expiration_days: r.expiration().and_then(|e| e.days()),
        })
        .collect())
}

async fn public_access_block(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<[bool; 4]>, String> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().map(|b| {
            [
                b.block_public_acls().unwrap_or(false),
                b.ignore_public_acls().unwrap_or(false),
                b.block_public_policy().unwrap_or(false),
                b.restrict_public_buckets().unwrap_or(false),
            ]
        })),
        Err(e) if s3exports_cli::sdk_error_text(&e).contains("NoSuchPublicAccessBlockConfiguration") => Ok(None),
        Err(e) => Err(s3exports_cli::sdk_error_text(&e)),
    }
}

/// The snapshot date the partitions are named by: the task's, else the export info file's (as
/// the cataloguer dates them).
async fn snapshot_date(c: &Clients, bucket: &str, task: &ExportTask, objects: &[Object]) -> Result<String, String> {
    if let Some(t) = task.snapshot_time {
        return Ok(t.format("%Y-%m-%d").to_string());
    }
    let name = format!("export_info_{}.json", task.id);
    let Some(info) = objects.iter().find(|o| o.key.ends_with(&format!("/{name}")) || o.key == name) else {
        return Err(format!("export {} has no snapshot time and no {name} to date its partitions", task.id));
    };
    let body =
        objects::get(&c.s3, bucket, &info.key, None).await.map_err(|e| format!("s3://{bucket}/{}: {e}", info.key))?;
    let info: ExportInfo =
        serde_json::from_slice(&body).map_err(|e| format!("{name} is not an export info file: {e}"))?;
    info.snapshot_time
        .as_deref()
        .and_then(s3exports_rds::layout::snapshot_date)
        .ok_or_else(|| format!("{name} has no snapshot time in a form RDS writes"))
}

/// The tables whose partition for this export is not in Glue.
async fn missing_partitions(
    glue: &aws_sdk_glue::Client,
    database: &str,
    export_id: &str,
    date: Result<String, String>,
    tables: &[TableRef],
) -> Result<Vec<String>, String> {
    let date = date?;
    let mut missing = Vec::new();
    for t in tables {
        let table = t.glue_table();
        let found = glue
            .get_partition()
            .database_name(database)
            .table_name(&table)
            .partition_values(&date)
            .partition_values(export_id)
            .send()
            .await;
        match found {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_entity_not_found_exception()) => {
                missing.push(format!("{table} ({date}, {export_id})"));
            }
            Err(e) => return Err(format!("GetPartition {database}.{table}: {}", s3exports_cli::sdk_error_text(&e))),
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(target: &str, s: &str) -> TableStatus {
        TableStatus {
            target: target.into(),
            status: s.into(),
            size_gb: None,
            schema_metadata: None,
            table_statistics: None,
        }
    }

    #[test]
    fn tables_not_complete_are_named() {
        let c = tables_complete(&[status("pams.public.orders", "COMPLETE"), status("pams.public.audit", "FAILED")]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("pams.public.audit FAILED"), "{}", c.detail);
        assert_eq!(tables_complete(&[status("pams.public.orders", "COMPLETE")]).status, Status::Pass);
    }

    #[test]
    fn archived_footers_warn_and_damaged_ones_fail() {
        let ok = ("a.parquet".to_owned(), FooterRead::Rows(10));
        assert_eq!(footers(&[ok.clone(), ("b.parquet".into(), FooterRead::Archived)], false).status, Status::Warn);
        let bad = footers(&[ok.clone(), ("c.parquet".into(), FooterRead::Damaged("not Parquet".into()))], true);
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.detail.contains("c.parquet: not Parquet"));
        assert_eq!(footers(&[ok], false).detail, "1 read (one part file per table (--deep: all)): 10 rows");
    }

    #[test]
    fn encryption_wants_the_database_key_by_arn_or_id() {
        let head = |sse: &str, key: &str| {
            Ok(objects::Head {
                sse: Some(sse.into()),
                kms_key: Some(key.into()),
                storage_class: "STANDARD".into(),
                restore: objects::Restore::None,
            })
        };
        let arn = "arn:aws:kms:eu-west-1:1:key/abc";
        assert_eq!(encryption(&[("k".into(), head("aws:kms", arn))], "abc", false).status, Status::Pass);
        let other = encryption(&[("k".into(), head("aws:kms", "arn:aws:kms:eu-west-1:1:key/zzz"))], arn, false);
        assert_eq!(other.status, Status::Fail);
        assert_eq!(encryption(&[("k".into(), head("AES256", arn))], arn, false).status, Status::Fail);
    }

    #[test]
    fn lifecycle_must_match_the_config() {
        let want = Lifecycle { glacier_days: 7, deep_archive_days: 97, expire_days: 365 };
        let rule = LifecycleRule {
            enabled: true,
            transitions: vec![("GLACIER".into(), 7), ("DEEP_ARCHIVE".into(), 97)],
            expiration_days: Some(365),
        };
        assert_eq!(lifecycle(std::slice::from_ref(&rule), &want).status, Status::Pass);
        let shorter = LifecycleRule { expiration_days: Some(30), ..rule };
        let c = lifecycle(&[shorter], &want);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("expiry Some(30)"), "{}", c.detail);
        assert_eq!(lifecycle(&[], &want).status, Status::Fail);
    }

    #[test]
    fn public_access_needs_all_four() {
        assert_eq!(public_access(Some([true; 4])).status, Status::Pass);
        assert_eq!(public_access(Some([true, true, false, true])).status, Status::Fail);
        assert_eq!(public_access(None).status, Status::Fail);
    }
}
