//! Writes an export of any tables in the layout RDS uses, from record batches and the column
//! metadata RDS records: for the MySQL-flavoured sample and for tests that need odd names,
//! many parts or a damaged one.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::json;

use s3exports_rds::layout::{ExportInfo, SchemaMetadata, TableRef, TableStatus, TablesInfo, TypeMapping};

/// One table of the export: its target (`db.schema.table`, or `db.table` for MySQL), the
/// column metadata for `export_tables_info`, and its rows, one part file per batch (no batch:
/// no part file, as RDS writes an empty table).
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub target: String,
    pub columns: Vec<TypeMapping>,
    pub parts: Vec<RecordBatch>,
}

/// A column's metadata as RDS records it.
pub fn column(name: &str, original: &str, exported: &str) -> TypeMapping {
    TypeMapping {
        column_name: name.into(),
        original_type: original.into(),
        expected_exported_type: exported.into(),
        ..TypeMapping::default()
    }
}

/// The export of one snapshot of `instance` taken at `snapshot_time`.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    pub instance: String,
    pub bucket: String,
    pub snapshot_time: DateTime<Utc>,
    pub tables: Vec<TableSpec>,
    /// Entries that are no table result, as RDS adds them (a warning, no status).
    pub notes: Vec<TableStatus>,
}

/// What was written: the export's identifier and folder, and each table's part files.
#[derive(Debug, Clone)]
pub struct Written {
    pub export_id: String,
    pub root: PathBuf,
    pub parts: Vec<(String, Vec<PathBuf>)>,
}

/// A COMPLETE export's `export_info`, with its snapshot, start and end times.
pub(crate) fn completed_info(
    export_id: &str,
    arn: &str,
    bucket: &str,
    [snapshot, start, end]: [String; 3],
) -> ExportInfo {
    ExportInfo {
        export_task_identifier: export_id.to_owned(),
        source_arn: arn.to_owned(),
        snapshot_time: Some(snapshot),
        task_start_time: Some(start),
        task_end_time: Some(end),
        s3_bucket: bucket.to_owned(),
        iam_role_arn: "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export".to_owned(),
        kms_key_id: "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000".to_owned(),
        status: "COMPLETE".to_owned(),
        percent_progress: Some(100),
        total_exported_data_in_gb: Some(0.0),
        ..ExportInfo::default()
    }
}

/// Writes `spec` under `out/<export-id>/` and returns what it wrote.
pub fn write_export(out: &Path, spec: &ExportSpec) -> anyhow::Result<Written> {
    let snapshot_id = format!("rds:{}-{}", spec.instance, spec.snapshot_time.format("%Y-%m-%d-%H-%M"));
    let arn = format!("arn:aws:rds:eu-west-1:123456789012:snapshot:{snapshot_id}");
    let export_id = s3exports_rds::export_id::export_task_identifier(&spec.instance, spec.snapshot_time, &arn);
    let root = out.join(&export_id);
    let mut written = Written { export_id: export_id.clone(), root: root.clone(), parts: Vec::new() };
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    for table in &spec.tables {
        let folder = TableRef::from_target(&table.target)
            .ok_or_else(|| anyhow::anyhow!("{}: a target is db.schema.table or db.table", table.target))?
            .folder();
        let mut files = Vec::new();
        for (n, batch) in table.parts.iter().enumerate() {
            let dir = root.join(&folder).join((n + 1).to_string());
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!("part-00000-{:08x}.c000.snappy.parquet", n * 7919 + 17));
            let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, batch.schema(), Some(props.clone()))?;
            writer.write(batch)?;
            writer.close()?;
            files.push(path);
        }
        written.parts.push((table.target.clone(), files));
    }

    let at = |minutes: i64| {
        (spec.snapshot_time + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let info = completed_info(&export_id, &arn, &spec.bucket, [at(0), at(10), at(31)]);
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join(format!("export_info_{export_id}.json")), serde_json::to_string_pretty(&info)?)?;
    let mut per_table_status: Vec<TableStatus> = spec
        .tables
        .iter()
        .map(|t| TableStatus {
            target: t.target.clone(),
            status: "COMPLETE".to_owned(),
            size_gb: Some(0.0),
            schema_metadata: Some(SchemaMetadata { original_type_mappings: t.columns.clone() }),
            table_statistics: Some(
                json!({"extractionStartTime": at(11), "partitioningInfo": {"numberOfPartitions": 1}}),
            ),
            ..TableStatus::default()
        })
        .collect();
    per_table_status.extend(spec.notes.iter().cloned());
    let count = per_table_status.len();
    std::fs::write(
        root.join(format!("export_tables_info_{export_id}_from_1_to_{count}.json")),
        serde_json::to_string_pretty(&TablesInfo { per_table_status })?,
    )?;
    Ok(written)
}
