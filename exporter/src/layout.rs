//! The files RDS writes beside an export, and how a source table is named and laid out:
//! `<prefix>/<export-id>/<database>/<schema>.<table>/<batch>/part-*.parquet`,
//! `export_info_<export-id>.json`, `export_tables_info_<export-id>_from_<n>_to_<m>.json`.

use std::path::{Path, PathBuf};

use s3exports_config::names;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportInfo {
    pub export_task_identifier: String,
    pub source_arn: String,
    pub export_only: Vec<String>,
    pub snapshot_time: Option<String>,
    pub task_start_time: Option<String>,
    pub task_end_time: Option<String>,
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub iam_role_arn: String,
    pub kms_key_id: String,
    pub status: String,
    pub percent_progress: Option<i64>,
    #[serde(alias = "totalExtractedDataInGB")]
    pub total_exported_data_in_gb: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TablesInfo {
    pub per_table_status: Vec<TableStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TableStatus {
    /// `database.schema.table` (PostgreSQL) or `database.table` (MySQL).
    pub target: String,
    /// COMPLETE, FAILED, SKIPPED.
    pub status: String,
    #[serde(rename = "sizeGB")]
    pub size_gb: Option<f64>,
    pub schema_metadata: Option<SchemaMetadata>,
    #[serde(alias = "TableStatistics")]
    pub table_statistics: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchemaMetadata {
    pub original_type_mappings: Vec<TypeMapping>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TypeMapping {
    pub column_name: String,
    pub original_type: String,
    pub expected_exported_type: String,
}

/// One source table of one export, as the catalogue names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub database: String,
    /// `None` for MySQL/MariaDB, which have no schema level.
    pub schema: Option<String>,
    pub table: String,
}

impl TableRef {
    /// From an export target: `db.schema.table` or `db.table`.
    pub fn from_target(target: &str) -> Option<Self> {
        let parts: Vec<&str> = target.splitn(3, '.').collect();
        match parts.as_slice() {
            [db, schema, table] => {
                Some(Self { database: (*db).into(), schema: Some((*schema).into()), table: (*table).into() })
            }
            [db, table] => Some(Self { database: (*db).into(), schema: None, table: (*table).into() }),
            _ => None,
        }
    }

    /// The folder RDS writes the table to, under the export: `<database>/<schema>.<table>`
    /// (MySQL: `<database>/<database>.<table>`).
    pub fn folder(&self) -> PathBuf {
        let leaf = format!("{}.{}", self.schema.as_deref().unwrap_or(&self.database), self.table);
        Path::new(&self.database).join(leaf)
    }

    pub fn glue_table(&self) -> String {
        names::glue_table(&self.database, self.schema.as_deref(), &self.table)
    }

    pub fn target(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{s}.{}", self.database, self.table),
            None => format!("{}.{}", self.database, self.table),
        }
    }
}

/// `YYYY-MM-DD` of an RFC 3339 / ISO time, the `snapshot_date` partition value.
pub fn snapshot_date(time: &str) -> Option<String> {
    let date = time.get(..10)?;
    let ok = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    ok.then(|| date.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_folders() {
        let pg = TableRef::from_target("pams.public.orders").unwrap();
        assert_eq!(pg.folder(), Path::new("pams/public.orders"));
        assert_eq!(pg.glue_table(), "pams_public_orders");
        let my = TableRef::from_target("shop.line_items").unwrap();
        assert_eq!(my.folder(), Path::new("shop/shop.line_items"));
        assert_eq!(my.glue_table(), "shop_line_items");
        assert_eq!(TableRef::from_target("x"), None);
    }

    #[test]
    fn snapshot_dates() {
        assert_eq!(snapshot_date("2026-11-24T03:10:00Z").as_deref(), Some("2026-11-24"));
        assert_eq!(snapshot_date("2026-11-24 03:10:00.1").as_deref(), Some("2026-11-24"));
        assert_eq!(snapshot_date("yesterday"), None);
    }
}
