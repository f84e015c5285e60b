//! What cataloguing writes to Glue: tables created or widened, partitions in batches, and
//! the crawler started in crawler mode.

use std::collections::HashMap;

use aws_sdk_glue::types::{Column, PartitionInput, SerDeInfo, StorageDescriptor, TableInput};
use s3exports_config::names;
use s3exports_rds::{AwsError, classify};

use super::cataloguer::Cataloguer;
use super::plan::{GlueColumn, PARTITIONS_PER_BATCH, TablePlan};

const PARQUET_INPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
const PARQUET_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";
/// The table property that lets Athena read restored Glacier and Deep Archive objects.
const READ_RESTORED: &str = "read_restored_glacier_objects";

impl Cataloguer {
    pub(super) async fn existing_tables(&self, database: &str) -> Result<HashMap<String, Vec<GlueColumn>>, AwsError> {
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

    pub(super) async fn apply_table(
        &self,
        database: &str,
        name: &str,
        plan: &TablePlan,
        location: &str,
    ) -> Result<(), AwsError> {
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
    pub(super) async fn add_partitions(
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

    /// Sets `read_restored_glacier_objects` on every table of `database` that lacks it: Glue
    /// crawlers make tables without it, and Athena then skips restored Glacier objects. Runs in
    /// crawler mode on each completed export, so the tables earlier crawls made get it. Returns
    /// the tables it marked.
    pub(super) async fn mark_restored_readable(&self, database: &str) -> Result<Vec<String>, AwsError> {
        let mut marked = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .glue
                .get_tables()
                .database_name(database)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            for t in page.table_list() {
                if t.parameters().and_then(|p| p.get(READ_RESTORED)).is_some_and(|v| v == "true") {
                    continue;
                }
                let mut parameters = t.parameters().cloned().unwrap_or_default();
                parameters.insert(READ_RESTORED.to_owned(), "true".to_owned());
                // UpdateTable replaces the table: everything it had is given back.
                let input = TableInput::builder()
                    .name(t.name())
                    .set_description(t.description().map(str::to_owned))
                    .set_owner(t.owner().map(str::to_owned))
                    .set_retention(Some(t.retention()))
                    .set_storage_descriptor(t.storage_descriptor().cloned())
                    .set_partition_keys(Some(t.partition_keys().to_vec()))
                    .set_table_type(t.table_type().map(str::to_owned))
                    .set_parameters(Some(parameters))
                    .build()
                    .map_err(|e| AwsError::Permanent(e.to_string()))?;
                self.glue
                    .update_table()
                    .database_name(database)
                    .table_input(input)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                marked.push(t.name().to_owned());
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(marked);
            }
        }
    }

    pub(super) async fn start_crawler(&self, crawler: &str, path: &str) -> Result<(), AwsError> {
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
        .parameters(READ_RESTORED, "true")
        .set_partition_keys(Some(partition_keys))
        .storage_descriptor(storage_descriptor(columns, location)?)
        .build()
        .map_err(|e| AwsError::Permanent(e.to_string()))
}
