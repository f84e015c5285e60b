//! Cataloguing one completed export: one Glue table per source table (created, or widened when
//! columns were added), one partition per snapshot, schemas read from Parquet footers.

use futures::{StreamExt, TryStreamExt};
use s3exports_config::{CatalogMode, ExportTarget, names};
use s3exports_rds::layout::{EntryKind, TableRef, prefix_key};
use s3exports_rds::{AwsError, ExportTask};

use crate::aws::sdk::published_targets;
use serde::Serialize;

use super::plan::{GlueColumn, TablePlan, plan_table, table_location};

/// Footer reads and Glue writes in flight at once.
const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub export_id: String,
    pub glue_database: String,
    pub snapshot_date: String,
    pub tables_created: Vec<String>,
    /// (table, added columns)
    pub tables_widened: Vec<(String, Vec<String>)>,
    pub partitions_added: usize,
    pub partitions_existing: usize,
    /// Tables RDS did not export (FAILED, SKIPPED, ...), as `target: status (message)`.
    pub not_exported: Vec<String>,
    /// Entries of export_tables_info that are not table results (a database with nothing to
    /// export, with RDS's `warningMessage`): information, never alerted.
    pub notes: Vec<String>,
    /// Crawler mode: tables given `read_restored_glacier_objects`, which crawlers leave out.
    pub tables_marked: Vec<String>,
    /// Tables exported without any part file (empty tables).
    pub without_data: Vec<String>,
    /// Crawler mode: the crawler started on this export's folder.
    pub crawler_started: Option<String>,
    /// The export's `export_tables_info` entries, for its manifest.
    #[serde(skip)]
    pub entries: Vec<s3exports_rds::layout::TableStatus>,
}

impl Report {
    pub fn summary(&self) -> String {
        if let Some(crawler) = &self.crawler_started {
            let marked = if self.tables_marked.is_empty() {
                String::new()
            } else {
                format!("; read_restored_glacier_objects set on {}", self.tables_marked.join(", "))
            };
            return format!("crawler {crawler} started on export {}{marked}", self.export_id);
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
        if !self.notes.is_empty() {
            s.push_str(&format!("; notes from RDS: {}", self.notes.join("; ")));
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

impl Cataloguer {
    /// The configured database whose bucket the export went to, from the published targets;
    /// `None` for a bucket that is not one of this environment's.
    pub async fn database_for_bucket(&self, bucket: &str) -> Result<Option<(String, ExportTarget)>, AwsError> {
        let targets = published_targets(&self.ssm, &self.environment).await?;
        Ok(targets.into_iter().find(|(_, t)| t.s3_bucket_name == bucket))
    }

    /// Catalogues an export of one of this environment's buckets.
    pub async fn catalogue(&self, task: &ExportTask) -> Result<Report, AwsError> {
        let Some((db, target)) = self.database_for_bucket(&task.s3_bucket).await? else {
            return Err(AwsError::Misconfigured(format!(
                "no database of environment {} exports to bucket {} (no target parameter under {})",
                self.environment,
                task.s3_bucket,
                names::target_parameter_prefix(&self.environment)
            )));
        };
        self.catalogue_for(task, &db, &target).await
    }

    /// Catalogues an export of `db`, whose published target is `target`.
    pub async fn catalogue_for(&self, task: &ExportTask, db: &str, target: &ExportTarget) -> Result<Report, AwsError> {
        let glue_database = target.glue_database.clone().unwrap_or_else(|| names::glue_database(db));
        let snapshot_date = self.snapshot_date(task).await?;
        let mut report = Report {
            export_id: task.id.clone(),
            glue_database: glue_database.clone(),
            snapshot_date: snapshot_date.clone(),
            ..Report::default()
        };
        let export_folder = task.folder();
        // Both modes: the manifest records what RDS said of every table.
        let statuses = self.tables_info(&task.s3_bucket, &task.s3_prefix, &task.id).await?;
        report.entries = statuses.clone();

        if self.mode == CatalogMode::Crawler {
            let crawler = names::crawler(&self.environment, db);
            report.tables_marked = self.mark_restored_readable(&glue_database).await?;
            self.start_crawler(&crawler, &task.s3_location()).await?;
            report.crawler_started = Some(crawler);
            return Ok(report);
        }

        let mut exported = Vec::new();
        for s in statuses {
            match (s.kind(), TableRef::from_target(&s.target)) {
                (EntryKind::Complete, Some(t)) => exported.push(t),
                (EntryKind::Note, _) => report.notes.push(s.describe()),
                _ => report.not_exported.push(s.describe()),
            }
        }

        // Schemas from one part file per table, read concurrently.
        let schemas: Vec<(TableRef, Option<Vec<GlueColumn>>)> = futures::stream::iter(exported)
            .map(|t| async {
                let folder = t.folder().to_string_lossy().replace('\\', "/");
                let columns = self.table_columns(&task.s3_bucket, &format!("{export_folder}{folder}")).await?;
                Ok::<_, AwsError>((t, columns))
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;

        let existing = self.existing_tables(&glue_database).await?;
        let location_root = format!("s3://{}/{}", task.s3_bucket, prefix_key(&task.s3_prefix, ""));
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
}
