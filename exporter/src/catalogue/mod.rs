//! Cataloguing a completed export: one Glue table per source table (created, or widened when
//! columns were added), one partition per snapshot, schemas read from Parquet footers.

pub mod footer;
pub mod handler;
pub mod plan;
pub mod types;

use std::collections::HashMap;

use aws_sdk_glue::types::{Column, PartitionInput, SerDeInfo, StorageDescriptor, TableInput};
use futures::{StreamExt, TryStreamExt};
use s3exports_config::{CatalogMode, ExportTarget, names};
use serde::Serialize;

use crate::aws::classify;
use crate::edge::AwsError;
use crate::layout::{TableRef, TableStatus, TablesInfo};
use crate::model::ExportTask;
use plan::{GlueColumn, PARTITIONS_PER_BATCH, TablePlan, plan_table, table_location};

/// Footer reads and Glue writes in flight at once.
const CONCURRENCY: usize = 16;
const PARQUET_INPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const PARQUET_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub export_id: String,
    pub glue_database: String,
    pub snapshot_date: String,
    pub tables_created: Vec<String>,
    /// (table, added columns)
    pub tables_widened: Vec<(String, Vec<String>)>,
    pub partitions_added: usize,
    pub partitions_existing: usize,
    /// Tables RDS did not export (FAILED, SKIPPED, ...), as `target: status`.
    pub not_exported: Vec<String>,
    /// Tables exported without any part file (empty tables).
    pub without_data: Vec<String>,
    /// Crawler mode: the crawler started on this export's folder.
    pub crawler_started: Option<String>,
}

impl Report {
    pub fn summary(&self) -> String {
        if let Some(crawler) = &self.crawler_started {
            return format!("crawler {crawler} started on export {}", self.export_id);
        }
        let mut s = format!(
            "catalogued into {}: {} table(s) created, {} widened, {} partition(s) added, {} already present",
            self.glue_database,
            self.tables_created.len(),
            self.tables_widened.len(),
            self.partitions_added,
            self.partitions_existing
        );
        if !self.not_exported.is_empty() {
            s.push_str(&format!("; not exported by RDS: {}", self.not_exported.join(", ")));
        }
        if !self.without_data.is_empty() {
            s.push_str(&format!("; no data files: {}", self.without_data.join(", ")));
        }
        s
    }
}

#[derive(Debug)]
pub struct Cataloguer {
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub environment: String,
    pub mode: CatalogMode,
}

fn text<E: std::error::Error + 'static>(e: E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
}

impl Cataloguer {
    /// The configured database whose bucket the export went to, from the published targets.
    pub async fn database_for_bucket(&self, bucket: &str) -> Result<(String, ExportTarget), AwsError> {
        let prefix = names::target_parameter_prefix(&self.environment);
        let mut token = None;
        loop {
            let page = self
                .ssm
                .get_parameters_by_path()
                .path(prefix.trim_end_matches('/'))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            for p in page.parameters() {
                let (Some(name), Some(value)) = (p.name(), p.value()) else { continue };
                let Ok(target) = serde_json::from_str::<ExportTarget>(value) else { continue };
                if target.s3_bucket_name == bucket {
                    let db = name.trim_start_matches(&prefix).to_owned();
                    return Ok((db, target));
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Err(AwsError::Misconfigured(format!(
                    "no database of environment {} exports to bucket {bucket} (no target parameter under {prefix})",
                    self.environment
                )));
            }
        }
    }

    pub async fn catalogue(&self, task: &ExportTask) -> Result<Report, AwsError> {
        let (db, target) = self.database_for_bucket(&task.s3_bucket).await?;
        let glue_database = target.glue_database.clone().unwrap_or_else(|| names::glue_database(&db));
        let snapshot_date = match task.snapshot_time.or(task.task_start_time) {
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => self.snapshot_date_from_info(task).await?,
        };
        let mut report = Report {
            export_id: task.id.clone(),
            glue_database: glue_database.clone(),
            snapshot_date: snapshot_date.clone(),
            ..Report::default()
        };
        let export_prefix = join_key(&task.s3_prefix, &task.id);

        if self.mode == CatalogMode::Crawler {
            let crawler = names::crawler(&self.environment, &db);
            self.start_crawler(&crawler, &format!("s3://{}/{export_prefix}/", task.s3_bucket)).await?;
            report.crawler_started = Some(crawler);
            return Ok(report);
        }

        let statuses = self.tables_info(&task.s3_bucket, &task.s3_prefix, &task.id).await?;
        let mut exported = Vec::new();
        for s in statuses {
            match TableRef::from_target(&s.target) {
                Some(t) if s.status.eq_ignore_ascii_case("COMPLETE") => exported.push(t),
                _ => report.not_exported.push(format!("{}: {}", s.target, s.status)),
            }
        }

        // Schemas from one part file per table, read concurrently.
        let schemas: Vec<(TableRef, Option<Vec<GlueColumn>>)> = futures::stream::iter(exported)
            .map(|t| async {
                let folder = t.folder().to_string_lossy().replace('\\', "/");
                let columns = self.table_columns(&task.s3_bucket, &join_key(&export_prefix, &folder)).await?;
                Ok::<_, AwsError>((t, columns))
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;

        let existing = self.existing_tables(&glue_database).await?;
        let location_root = format!("s3://{}/{}", task.s3_bucket, join_key(&task.s3_prefix, ""));
        let work: Vec<(String, TablePlan, Vec<GlueColumn>, String)> = schemas
            .into_iter()
            .filter_map(|(t, columns)| {
                let Some(columns) = columns else {
                    report.without_data.push(t.target());
                    return None;
                };
                let name = t.glue_table();
                let plan = plan_table(existing.get(&name).map(Vec::as_slice), &columns);
                let folder = t.folder().to_string_lossy().replace('\\', "/");
                let location = table_location(&task.s3_bucket, &task.s3_prefix, &task.id, &folder);
                Some((name, plan, columns, location))
            })
            .collect();

        for (name, plan, _, _) in &work {
            match plan {
                TablePlan::Create(_) => report.tables_created.push(name.clone()),
                TablePlan::Widen { added, .. } => report.tables_widened.push((name.clone(), added.clone())),
                TablePlan::Unchanged => {}
            }
        }
        let results: Vec<(usize, usize)> = futures::stream::iter(work)
            .map(|(name, plan, columns, location)| {
                let (db, root, date, id) = (&glue_database, &location_root, &snapshot_date, &task.id);
                async move {
                    self.apply_table(db, &name, &plan, root).await?;
                    self.add_partitions(db, &name, &[(date.clone(), id.clone(), location, columns)]).await
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        report.partitions_added = results.iter().map(|r| r.0).sum();
        report.partitions_existing = results.iter().map(|r| r.1).sum();
        Ok(report)
    }

    /// The snapshot date from the `export_info_<id>.json` RDS writes, when the task has none.
    async fn snapshot_date_from_info(&self, task: &ExportTask) -> Result<String, AwsError> {
        let name = format!("export_info_{}.json", task.id);
        for key in [join_key(&join_key(&task.s3_prefix, &task.id), &name), join_key(&task.s3_prefix, &name)] {
            let Ok(body) = self.get(&task.s3_bucket, &key, None).await else { continue };
            let info: crate::layout::ExportInfo = serde_json::from_slice(&body).map_err(|e| {
                AwsError::Permanent(format!("s3://{}/{key} is not an export info file: {e}", task.s3_bucket))
            })?;
            if let Some(date) = info.snapshot_time.as_deref().and_then(crate::layout::snapshot_date) {
                return Ok(date);
            }
        }
        Err(AwsError::Permanent(format!("export {} has no snapshot time, and no export_info file says it", task.id)))
    }

    async fn tables_info(&self, bucket: &str, prefix: &str, export_id: &str) -> Result<Vec<TableStatus>, AwsError> {
        // Inside the export folder, or beside it.
        for key_prefix in [
            join_key(&join_key(prefix, export_id), &format!("export_tables_info_{export_id}_")),
            join_key(prefix, &format!("export_tables_info_{export_id}_")),
        ] {
            let keys = self.list(bucket, &key_prefix, None).await?;
            if keys.is_empty() {
                continue;
            }
            let mut out = Vec::new();
            for key in keys {
                let body = self.get(bucket, &key, None).await?;
                let info: TablesInfo = serde_json::from_slice(&body).map_err(|e| {
                    AwsError::Permanent(format!("s3://{bucket}/{key} is not an export tables info file: {e}"))
                })?;
                out.extend(info.per_table_status);
            }
            return Ok(out);
        }
        // Written at the end of the export; the event may have raced the listing.
        Err(AwsError::Transient(format!("no export_tables_info file for export {export_id} in s3://{bucket}/{prefix}")))
    }

    /// Columns from the footer of the table's first part file; `None` when it has none.
    async fn table_columns(&self, bucket: &str, table_prefix: &str) -> Result<Option<Vec<GlueColumn>>, AwsError> {
        let parts = self.list(bucket, &format!("{table_prefix}/"), Some(".parquet")).await?;
        let Some(key) = parts.first() else { return Ok(None) };
        let tail = self.get(bucket, key, Some(format!("bytes=-{}", footer::TAIL_LEN))).await?;
        let length =
            footer::metadata_len(&tail).map_err(|e| AwsError::Permanent(format!("s3://{bucket}/{key}: {e}")))?;
        let footer_bytes = self.get(bucket, key, Some(format!("bytes=-{}", length + footer::TAIL_LEN))).await?;
        let schema =
            footer::schema(&footer_bytes).map_err(|e| AwsError::Permanent(format!("s3://{bucket}/{key}: {e}")))?;
        Ok(Some(types::columns(&schema).into_iter().map(|(n, t)| GlueColumn::new(n, t)).collect()))
    }

    async fn list(&self, bucket: &str, prefix: &str, suffix: Option<&str>) -> Result<Vec<String>, AwsError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| suffix.is_none_or(|s| k.ends_with(s)))
                    .map(str::to_owned),
            );
            token = page.next_continuation_token().map(str::to_owned);
            // One part file is enough to read a schema.
            if token.is_none() || (suffix.is_some() && !keys.is_empty()) {
                keys.sort();
                return Ok(keys);
            }
        }
    }

    async fn get(&self, bucket: &str, key: &str, range: Option<String>) -> Result<Vec<u8>, AwsError> {
        let out =
            self.s3.get_object().bucket(bucket).key(key).set_range(range).send().await.map_err(|e| classify(&e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| AwsError::Transient(format!("reading s3://{bucket}/{key}: {}", text(e))))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn existing_tables(&self, database: &str) -> Result<HashMap<String, Vec<GlueColumn>>, AwsError> {
        let mut out = HashMap::new();
        let mut token = None;
        loop {
            let page = match self.glue.get_tables().database_name(database).set_next_token(token).send().await {
                Ok(p) => p,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_entity_not_found_exception()) => {
                    return Err(AwsError::Misconfigured(format!(
                        "Glue database {database} does not exist; deploy the database stack"
                    )));
                }
                Err(e) => return Err(classify(&e)),
            };
            for t in page.table_list() {
                let columns = t
                    .storage_descriptor()
                    .map(|sd| {
                        sd.columns().iter().map(|c| GlueColumn::new(c.name(), c.r#type().unwrap_or("string"))).collect()
                    })
                    .unwrap_or_default();
                out.insert(t.name().to_owned(), columns);
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn apply_table(&self, database: &str, name: &str, plan: &TablePlan, location: &str) -> Result<(), AwsError> {
        let columns = match plan {
            TablePlan::Unchanged => return Ok(()),
            TablePlan::Create(c) | TablePlan::Widen { columns: c, .. } => c,
        };
        let input = table_input(name, columns, location)?;
        if matches!(plan, TablePlan::Create(_)) {
            match self.glue.create_table().database_name(database).table_input(input).send().await {
                Ok(_) => Ok(()),
                // Another delivery created it first: fine, its columns are these.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_already_exists_exception()) => Ok(()),
                Err(e) => Err(classify(&e)),
            }
        } else {
            self.glue
                .update_table()
                .database_name(database)
                .table_input(input)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(&e))
        }
    }

    /// Adds partitions in batches of 100; returns (added, already present).
    async fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[(String, String, String, Vec<GlueColumn>)],
    ) -> Result<(usize, usize), AwsError> {
        let (mut added, mut existing) = (0, 0);
        for chunk in partitions.chunks(PARTITIONS_PER_BATCH) {
            let inputs = chunk
                .iter()
                .map(|(date, id, location, columns)| {
                    Ok(PartitionInput::builder()
                        .values(date)
                        .values(id)
                        .storage_descriptor(storage_descriptor(columns, location)?)
                        .build())
                })
                .collect::<Result<Vec<_>, AwsError>>()?;
            let out = self
                .glue
                .batch_create_partition()
                .database_name(database)
                .table_name(table)
                .set_partition_input_list(Some(inputs))
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let mut failed = Vec::new();
            for err in out.errors() {
                let code = err.error_detail().and_then(|d| d.error_code()).unwrap_or_default();
                if code == "AlreadyExistsException" {
                    existing += 1;
                } else {
                    failed.push(format!(
                        "{:?}: {code} {}",
                        err.partition_values(),
                        err.error_detail().and_then(|d| d.error_message()).unwrap_or_default()
                    ));
                }
            }
            if !failed.is_empty() {
                return Err(AwsError::Transient(format!(
                    "BatchCreatePartition on {database}.{table}: {}",
                    failed.join("; ")
                )));
            }
            added += chunk.len() - out.errors().len();
        }
        Ok((added, existing))
    }

    async fn start_crawler(&self, crawler: &str, path: &str) -> Result<(), AwsError> {
        let targets = aws_sdk_glue::types::CrawlerTargets::builder()
            .s3_targets(aws_sdk_glue::types::S3Target::builder().path(path).build())
            .build();
        match self.glue.update_crawler().name(crawler).targets(targets).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_crawler_running_exception()) => {
                return Err(AwsError::Transient(format!("crawler {crawler} is running; retrying later")));
            }
            Err(e) => return Err(classify(&e)),
        }
        match self.glue.start_crawler().name(crawler).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_crawler_running_exception()) => {
                Err(AwsError::Transient(format!("crawler {crawler} is running; retrying later")))
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

fn join_key(prefix: &str, rest: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() { rest.to_owned() } else { format!("{prefix}/{rest}") }
}

fn glue_columns(columns: &[GlueColumn]) -> Result<Vec<Column>, AwsError> {
    columns
        .iter()
        .map(|c| {
            Column::builder().name(&c.name).r#type(&c.glue_type).build().map_err(|e| AwsError::Permanent(e.to_string()))
        })
        .collect()
}

fn storage_descriptor(columns: &[GlueColumn], location: &str) -> Result<StorageDescriptor, AwsError> {
    Ok(StorageDescriptor::builder()
        .set_columns(Some(glue_columns(columns)?))
        .location(location)
        .input_format(PARQUET_INPUT)
        .output_format(PARQUET_OUTPUT)
        .serde_info(SerDeInfo::builder().serialization_library(PARQUET_SERDE).build())
        .build())
}

fn table_input(name: &str, columns: &[GlueColumn], location: &str) -> Result<TableInput, AwsError> {
    let partition_keys = names::PARTITION_KEYS
        .iter()
        .map(|k| Column::builder().name(*k).r#type("string").build().map_err(|e| AwsError::Permanent(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    TableInput::builder()
        .name(name)
        .table_type("EXTERNAL_TABLE")
        .description("RDS snapshot exports: one partition per snapshot (snapshot_date, export_id)")
        .parameters("classification", "parquet")
        .parameters("EXTERNAL", "TRUE")
        // Snapshots restored from Glacier stay queryable.
        .parameters("read_restored_glacier_objects", "true")
        .set_partition_keys(Some(partition_keys))
        .storage_descriptor(storage_descriptor(columns, location)?)
        .build()
        .map_err(|e| AwsError::Permanent(e.to_string()))
}
