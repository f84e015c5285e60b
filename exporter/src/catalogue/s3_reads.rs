//! What cataloguing reads from the export's bucket: the tables info files, one footer per
//! table, the export info file; listing and ranged GETs.

use s3exports_rds::layout::{
    ExportInfo, TableStatus, TablesInfo, export_info_name, info_file_keys, partition_date, prefix_key,
};
use s3exports_rds::{AwsError, ExportTask, classify};

use super::cataloguer::Cataloguer;
use super::parquet_to_glue;
use super::plan::GlueColumn;
use s3exports_rds::footer;

impl Cataloguer {
    /// The `export_info_<id>.json` RDS writes, inside the export folder or beside it; `None`
    /// when there is none that reads.
    pub(super) async fn export_info(&self, task: &ExportTask) -> Option<ExportInfo> {
        for key in info_file_keys(&task.s3_prefix, &task.id).export_info {
            let Ok(body) = self.get(&task.s3_bucket, &key, None).await else { continue };
            match ExportInfo::from_json(&body, &task.id) {
                Ok(info) => return Some(info),
                Err(e) => tracing::warn!(key, error = %e, "not an export info file"),
            }
        }
        None
    }

    /// The export's `snapshot_date` partition value ([`partition_date`]: the task's snapshot
    /// time, else the `export_info_<id>.json` RDS writes, read only then, else the date in an
    /// automated snapshot's id); an export none of them dates is an error naming it.
    pub(super) async fn snapshot_date(&self, task: &ExportTask) -> Result<String, AwsError> {
        let info = match task.snapshot_time {
            Some(_) => None,
            None => self.export_info(task).await,
        };
        partition_date(task, info.as_ref()).ok_or_else(|| {
            AwsError::Permanent(format!(
                "export {} has no snapshot time: the task has none, no export_info_{}.json in s3://{}/{} dates it \
             (ISO 8601 or `Nov 23, 2026 3:05:41 AM`), and {} names no automated snapshot",
                task.id, task.id, task.s3_bucket, task.s3_prefix, task.source_arn
            ))
        })
    }

    /// The export info files of every export folder under `prefix`: one folder listing
    /// (delimited), then `<folder>/export_info_<id>.json` of each. Folders without one (and the
    /// `_evidence` folder) are not exports and are left out.
    pub(super) async fn exports_in_bucket(&self, bucket: &str, prefix: &str) -> Result<Vec<ExportInfo>, AwsError> {
        let root = prefix_key(prefix, "");
        let mut folders = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&root)
                .delimiter("/")
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            folders.extend(page.common_prefixes().iter().filter_map(|p| p.prefix()).map(str::to_owned));
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut out = Vec::new();
        for folder in folders {
            let id = folder.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
            if id.starts_with('_') || !s3exports_rds::export_id::is_valid(id) {
                continue;
            }
            let key = format!("{folder}{}", export_info_name(id));
            let Ok(body) = self.get(bucket, &key, None).await else { continue };
            match ExportInfo::from_json(&body, id) {
                Ok(info) => out.push(info),
                Err(e) => tracing::warn!(key, error = %e, "not an export info file; left out"),
            }
        }
        Ok(out)
    }

    pub(super) async fn tables_info(
        &self,
        bucket: &str,
        prefix: &str,
        export_id: &str,
    ) -> Result<Vec<TableStatus>, AwsError> {
        // Inside the export folder, or beside it.
        for key_prefix in info_file_keys(prefix, export_id).tables_info {
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
    pub(super) async fn table_columns(
        &self,
        bucket: &str,
        table_prefix: &str,
    ) -> Result<Option<Vec<GlueColumn>>, AwsError> {
        let parts = self.list(bucket, &format!("{table_prefix}/"), Some(".parquet")).await?;
        let Some(key) = parts.first() else { return Ok(None) };
        let tail = self.get(bucket, key, Some(format!("bytes=-{}", footer::TAIL_LEN))).await?;
        let length =
            footer::metadata_len(&tail).map_err(|e| AwsError::Permanent(format!("s3://{bucket}/{key}: {e}")))?;
        let footer_bytes = self.get(bucket, key, Some(format!("bytes=-{}", length + footer::TAIL_LEN))).await?;
        let schema =
            footer::schema(&footer_bytes).map_err(|e| AwsError::Permanent(format!("s3://{bucket}/{key}: {e}")))?;
        Ok(Some(parquet_to_glue::columns(&schema).into_iter().map(|(n, t)| GlueColumn::new(n, t)).collect()))
    }

    pub(super) async fn list(&self, bucket: &str, prefix: &str, suffix: Option<&str>) -> Result<Vec<String>, AwsError> {
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

    pub(super) async fn get(&self, bucket: &str, key: &str, range: Option<String>) -> Result<Vec<u8>, AwsError> {
        s3exports_cli::get_object(&self.s3, bucket, key, range).await
    }
}
