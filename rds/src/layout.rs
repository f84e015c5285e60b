//! The files RDS writes beside an export, and how a source table is named and laid out:
//! `<prefix>/<export-id>/<database>/<schema>.<table>/<batch>/part-*.parquet`,
//! `export_info_<export-id>.json`, `export_tables_info_<export-id>_from_<n>_to_<m>.json`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
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
    /// `totalExportedDataInGB` as RDS writes it (other spellings seen are read too).
    #[serde(rename = "totalExportedDataInGB", alias = "totalExportedDataInGb", alias = "totalExtractedDataInGB")]
    pub total_exported_data_in_gb: Option<f64>,
}

impl ExportInfo {
    /// An `export_info_<id>.json` file's contents. RDS has been seen writing an empty
    /// `exportTaskIdentifier`: then the id is the one in the file's name, `id_from_name`.
    pub fn from_json(bytes: &[u8], id_from_name: &str) -> Result<Self, serde_json::Error> {
        let mut info: Self = serde_json::from_slice(bytes)?;
        if info.export_task_identifier.is_empty() {
            info.export_task_identifier = id_from_name.to_owned();
        }
        Ok(info)
    }

    /// The export task this file describes, as DescribeExportTasks would (for exports read from
    /// a copy, or whose task RDS no longer lists).
    pub fn to_task(&self) -> crate::ExportTask {
        let time = |t: &Option<String>| t.as_deref().and_then(parse_export_time);
        crate::ExportTask {
            snapshot_time: time(&self.snapshot_time),
            task_start_time: time(&self.task_start_time),
            task_end_time: time(&self.task_end_time),
            s3_bucket: self.s3_bucket.clone(),
            s3_prefix: self.s3_prefix.clone(),
            kms_key_id: self.kms_key_id.clone(),
            iam_role_arn: self.iam_role_arn.clone(),
            percent_progress: i32::try_from(self.percent_progress.unwrap_or_default()).unwrap_or(0),
            total_extracted_data_in_gb: self.total_exported_data_in_gb.unwrap_or_default() as i32,
            export_only: self.export_only.clone(),
            cluster: crate::export_task::is_cluster_arn(&self.source_arn),
            ..crate::ExportTask::new(
                &self.export_task_identifier,
                &self.source_arn,
                crate::ExportStatus::parse(&self.status),
            )
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TablesInfo {
    pub per_table_status: Vec<TableStatus>,
}

/// One entry of `perTableStatus`. Most are table results (`status` COMPLETE, FAILED, SKIPPED,
/// ...); some are not about a table at all, such as a PostgreSQL database with nothing to
/// export, which RDS reports with a `warningMessage` and no `status`. Those are information,
/// never a failed table: see [`TableStatus::kind`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TableStatus {
    /// `database.schema.table` (PostgreSQL) or `database.table` (MySQL); a warning entry may
    /// name only the database.
    pub target: String,
    /// COMPLETE, FAILED, SKIPPED; empty when RDS wrote none (a warning entry).
    pub status: String,
    #[serde(rename = "sizeGB")]
    pub size_gb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_message: Option<String>,
    /// Why a table failed or was skipped, in the field names seen in the wild.
    #[serde(alias = "failureCause", alias = "errorMessage", skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    pub schema_metadata: Option<SchemaMetadata>,
    #[serde(alias = "TableStatistics")]
    pub table_statistics: Option<serde_json::Value>,
}

/// What an entry of `perTableStatus` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A table RDS exported whole.
    Complete,
    /// A table RDS did not export (FAILED, SKIPPED, or any other status).
    NotExported,
    /// Not a table result: a warning or note with no status (information only).
    Note,
}

impl TableStatus {
    pub fn kind(&self) -> EntryKind {
        let status = self.status.trim();
        if status.is_empty() {
            EntryKind::Note
        } else if status.eq_ignore_ascii_case("COMPLETE") {
            EntryKind::Complete
        } else {
            EntryKind::NotExported
        }
    }

    pub fn is_complete(&self) -> bool {
        self.kind() == EntryKind::Complete
    }

    /// What RDS said about the entry beyond its status, if anything.
    pub fn message(&self) -> Option<&str> {
        self.warning_message.as_deref().or(self.failure_message.as_deref()).filter(|m| !m.trim().is_empty())
    }

    /// `target: STATUS (message)` or, for a note, `target: message`.
    pub fn describe(&self) -> String {
        let target = if self.target.is_empty() { "(no target)" } else { self.target.as_str() };
        match (self.kind(), self.message()) {
            (EntryKind::Note, Some(m)) => format!("{target}: {m}"),
            (EntryKind::Note, None) => format!("{target}: an entry with no status"),
            (_, Some(m)) => format!("{target}: {} ({m})", self.status),
            (_, None) => format!("{target}: {}", self.status),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SchemaMetadata {
    pub original_type_mappings: Vec<TypeMapping>,
}

/// One column's original type, as RDS records it for the export (no numeric scale is recorded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TypeMapping {
    pub column_name: String,
    pub original_type: String,
    pub expected_exported_type: String,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "number_or_text")]
    pub original_char_max_length: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "number_or_text")]
    pub original_num_precision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "number_or_text")]
    pub original_date_time_precision: Option<i64>,
}

/// A length or precision written as a number (`255`) or as text (`"255"`; empty or `"N/A"`
/// is none): export_tables_info files have been seen with both.
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Float(f64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(Raw::Float(f)) => Err(serde::de::Error::custom(format!("{f} is not a whole number"))),
        Some(Raw::Text(t)) => match t.trim() {
            "" | "N/A" | "n/a" | "null" => Ok(None),
            t => t.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("`{t}` is not a whole number"))),
        },
    }
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
    /// (MySQL: `<database>/<database>.<table>`). RDS turns `\`, `` ` ``, `"` and spaces in the
    /// S3 path into underscores, so table `order lines` is in folder `public.order_lines`.
    pub fn folder(&self) -> PathBuf {
        let s3_safe = |name: &str| name.replace(['\\', '`', '"', ' '], "_");
        let leaf = format!("{}.{}", s3_safe(self.schema.as_deref().unwrap_or(&self.database)), s3_safe(&self.table));
        Path::new(&s3_safe(&self.database)).join(leaf)
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

/// A time as export_info files write it. Two forms have been seen: ISO 8601 / RFC 3339
/// (`2026-11-23T03:05:41Z`, also with a space and fractions) and Java's default `Date` form
/// (`Nov 23, 2026 3:05:41 AM`), which carries no zone: RDS runs in UTC, so UTC is assumed.
pub fn parse_export_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const NAIVE: [&str; 4] =
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p"];
    // Java 20+ puts a narrow no-break space before AM/PM.
    let text = text.replace(['\u{202f}', '\u{a0}'], " ");
    NAIVE.iter().find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok()).map(|t| t.and_utc())
}

/// `YYYY-MM-DD` of an export time in any accepted form, the `snapshot_date` partition value.
pub fn snapshot_date(time: &str) -> Option<String> {
    parse_export_time(time).map(|t| t.format("%Y-%m-%d").to_string())
}

/// `<prefix>/<rest>`, or `rest` alone under an empty prefix: a key under an export target's
/// prefix, which is written without leading or trailing `/` but may be given with them.
pub fn prefix_key(prefix: &str, rest: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() { rest.to_owned() } else { format!("{prefix}/{rest}") }
}

/// The folder RDS writes an export's files to: `<prefix>/<export id>/` (`<export id>/` at the
/// bucket's root), with its trailing `/`, as a listing prefix wants it.
pub fn export_folder(prefix: &str, export_id: &str) -> String {
    prefix_key(prefix, &format!("{export_id}/"))
}

/// `export_info_<export id>.json`: the file that says what an export is.
pub fn export_info_name(export_id: &str) -> String {
    format!("export_info_{export_id}.json")
}

/// `export_tables_info_<export id>_`: how the name of each of an export's
/// `export_tables_info_<export id>_from_<n>_to_<m>.json` files begins.
pub fn tables_info_name_prefix(export_id: &str) -> String {
    format!("export_tables_info_{export_id}_")
}

/// Where an export's info files may be, in the order to try: inside the export folder
/// (`<prefix>/<export id>/`), then beside it (`<prefix>/`). RDS has written both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoFileKeys {
    /// The keys of `export_info_<export id>.json`.
    pub export_info: [String; 2],
    /// The listing prefixes of the `export_tables_info_<export id>_*.json` files.
    pub tables_info: [String; 2],
}

/// The [`InfoFileKeys`] of export `export_id` under `prefix` (written without leading or
/// trailing `/`, but may be given with them). [`export_folder_of_info`] is the same rule read
/// from a copy.
pub fn info_file_keys(prefix: &str, export_id: &str) -> InfoFileKeys {
    let folders = [export_folder(prefix, export_id), prefix_key(prefix, "")];
    let (info, tables) = (export_info_name(export_id), tables_info_name_prefix(export_id));
    InfoFileKeys {
        export_info: folders.clone().map(|f| format!("{f}{info}")),
        tables_info: folders.map(|f| format!("{f}{tables}")),
    }
}

/// The export folder of export `export_id` whose info files are in folder `dir` of a copy: `dir`
/// itself when it is named for the export (the files sit inside it), else `dir/<export id>`
/// (they sit beside it). The rule of [`info_file_keys`], read backwards.
pub fn export_folder_of_info(dir: &Path, export_id: &str) -> PathBuf {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name == export_id { dir.to_owned() } else { dir.join(export_id) }
}

/// The `snapshot_date` partition value of an export, the one rule the cataloguer, `verify` and
/// discovery share. Never a guess: the task's snapshot time; else the `snapshotTime` of its
/// `export_info` file (ISO 8601 or Java's form); else the date in an automated snapshot's id
/// (`rds:<db>-YYYY-MM-DD-HH-MM`, UTC) in the task's or the file's source ARN. `None` when none
/// of them says. `info` is consulted only when the task has no snapshot time, so a caller may
/// leave it unread then.
pub fn partition_date(task: &crate::ExportTask, info: Option<&ExportInfo>) -> Option<String> {
    if let Some(t) = task.snapshot_time {
        return Some(t.format("%Y-%m-%d").to_string());
    }
    info.and_then(|i| i.snapshot_time.as_deref())
        .and_then(snapshot_date)
        .or_else(|| date_in_automated_snapshot_id(&task.source_arn))
        .or_else(|| info.and_then(|i| date_in_automated_snapshot_id(&i.source_arn)))
}

impl ExportInfo {
    /// [`partition_date`] of the export this file describes (an export read from a copy).
    pub fn partition_date(&self) -> Option<String> {
        partition_date(&self.to_task(), Some(self))
    }
}

/// The date in an automated snapshot's identifier or ARN (`rds:<db>-YYYY-MM-DD-HH-MM`).
pub fn date_in_automated_snapshot_id(id_or_arn: &str) -> Option<String> {
    let id = id_or_arn.rsplit_once(":rds:").map_or(id_or_arn, |(_, rest)| rest);
    let id = id.strip_prefix("rds:").unwrap_or(id);
    let tail = id.get(id.len().checked_sub(16)?..)?;
    let date = tail.get(..10)?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    NaiveDateTime::parse_from_str(tail, "%Y-%m-%d-%H-%M").ok().map(|_| date.to_owned())
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
        // RDS writes these characters of the S3 path as underscores.
        let odd = TableRef::from_target("pams.public.order lines \"`x`\\").unwrap();
        assert_eq!(odd.folder(), Path::new("pams/public.order_lines___x__"));
        assert_eq!(odd.table, "order lines \"`x`\\");
    }

    #[test]
    fn the_exported_size_in_every_spelling_seen() {
        for key in ["totalExportedDataInGB", "totalExportedDataInGb", "totalExtractedDataInGB"] {
            let info: ExportInfo = serde_json::from_str(&format!("{{\"{key}\": 2.5}}")).unwrap();
            assert_eq!(info.total_exported_data_in_gb, Some(2.5), "{key}");
        }
        let written =
            serde_json::to_string(&ExportInfo { total_exported_data_in_gb: Some(1.0), ..ExportInfo::default() });
        assert!(written.unwrap().contains("\"totalExportedDataInGB\":1.0"));
    }

    #[test]
    fn snapshot_dates_in_every_form_seen() {
        assert_eq!(snapshot_date("2026-11-24T03:10:00Z").as_deref(), Some("2026-11-24"));
        assert_eq!(snapshot_date("2026-11-24T03:10:00.123+00:00").as_deref(), Some("2026-11-24"));
        assert_eq!(snapshot_date("2026-11-24 03:10:00.1").as_deref(), Some("2026-11-24"));
        assert_eq!(snapshot_date("Nov 23, 2026 3:05:41 AM").as_deref(), Some("2026-11-23"));
        assert_eq!(snapshot_date("Nov 23, 2026 11:05:41 PM").as_deref(), Some("2026-11-23"));
        assert_eq!(snapshot_date("Nov 3, 2026, 3:05:41\u{202f}AM").as_deref(), Some("2026-11-03"));
        let t = parse_export_time("Nov 23, 2026 3:05:41 PM").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-23T15:05:41+00:00");
        for bad in ["yesterday", "", "2026-13-01T00:00:00Z", "Nov 31, 2026 3:05:41 AM"] {
            assert_eq!(snapshot_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn export_folders_under_any_prefix() {
        assert_eq!(export_folder("exports", "e1"), "exports/e1/");
        assert_eq!(export_folder("/exports/daily/", "e1"), "exports/daily/e1/");
        assert_eq!(export_folder("", "e1"), "e1/");
        assert_eq!(export_folder("/", "e1"), "e1/");
        assert_eq!(prefix_key("exports/", "export_info_e1.json"), "exports/export_info_e1.json");
        assert_eq!(prefix_key("", ""), "");
        assert_eq!(prefix_key("exports", ""), "exports/");
    }

    #[test]
    fn info_files_inside_the_export_folder_then_beside_it() {
        let keys = info_file_keys("/exports/daily/", "e1");
        assert_eq!(keys.export_info, ["exports/daily/e1/export_info_e1.json", "exports/daily/export_info_e1.json"]);
        assert_eq!(
            keys.tables_info,
            ["exports/daily/e1/export_tables_info_e1_", "exports/daily/export_tables_info_e1_"]
        );
        let root = info_file_keys("", "e1");
        assert_eq!(root.export_info, ["e1/export_info_e1.json", "export_info_e1.json"]);
        assert_eq!(root.tables_info, ["e1/export_tables_info_e1_", "export_tables_info_e1_"]);
        assert!("export_tables_info_e1_from_1_to_3.json".starts_with(&tables_info_name_prefix("e1")));
        assert_eq!(export_info_name("e1"), "export_info_e1.json");
        // Read backwards from a copy: the folder the files are in, or the one beside them.
        assert_eq!(export_folder_of_info(Path::new("copy/e1"), "e1"), Path::new("copy/e1"));
        assert_eq!(export_folder_of_info(Path::new("copy"), "e1"), Path::new("copy/e1"));
        assert_eq!(export_folder_of_info(Path::new("copy/e10"), "e1"), Path::new("copy/e10/e1"));
    }

    #[test]
    fn an_empty_export_id_is_taken_from_the_file_name() {
        let named = ExportInfo::from_json(br#"{"exportTaskIdentifier":"e1","status":"COMPLETE"}"#, "other").unwrap();
        assert_eq!((named.export_task_identifier.as_str(), named.status.as_str()), ("e1", "COMPLETE"));
        let unnamed = ExportInfo::from_json(br#"{"exportTaskIdentifier":""}"#, "e2").unwrap();
        assert_eq!(unnamed.export_task_identifier, "e2");
        assert_eq!(ExportInfo::from_json(b"{}", "e3").unwrap().export_task_identifier, "e3");
        let err = ExportInfo::from_json(b"not json", "e4").unwrap_err();
        assert_eq!(err.to_string(), serde_json::from_slice::<ExportInfo>(b"not json").unwrap_err().to_string());
    }

    #[test]
    fn the_partition_date_is_the_tasks_then_the_info_files_then_the_snapshot_ids() {
        let automated = "arn:aws:rds:eu-west-1:1:snapshot:rds:pams-2026-11-24-03-10";
        let mut task = crate::ExportTask::new("e1", automated, crate::ExportStatus::Complete);
        let info = ExportInfo { snapshot_time: Some("Nov 23, 2026 3:05:41 AM".into()), ..ExportInfo::default() };
        // The task's own time first, whatever the file says.
        task.snapshot_time = parse_export_time("2026-11-22T23:59:00Z");
        assert_eq!(partition_date(&task, Some(&info)).as_deref(), Some("2026-11-22"));
        // Then the info file's.
        task.snapshot_time = None;
        assert_eq!(partition_date(&task, Some(&info)).as_deref(), Some("2026-11-23"));
        // Then the automated snapshot's id: no file, or one with no time in a form RDS writes.
        assert_eq!(partition_date(&task, None).as_deref(), Some("2026-11-24"));
        let undated = ExportInfo { snapshot_time: Some("yesterday".into()), ..ExportInfo::default() };
        assert_eq!(partition_date(&task, Some(&undated)).as_deref(), Some("2026-11-24"));
        // A manual snapshot with nothing else to go by has no date: never a guess.
        let manual = crate::ExportTask::new("e2", "arn:aws:rds:eu-west-1:1:snapshot:before-upgrade", task.status);
        assert_eq!(partition_date(&manual, Some(&undated)), None);
        // A copy's info file on its own: its time, else its source ARN's id.
        let copy = ExportInfo { source_arn: automated.into(), ..ExportInfo::default() };
        assert_eq!(copy.partition_date().as_deref(), Some("2026-11-24"));
        assert_eq!(ExportInfo { source_arn: automated.into(), ..info }.partition_date().as_deref(), Some("2026-11-23"));
    }

    #[test]
    fn dates_of_automated_snapshot_ids() {
        assert_eq!(date_in_automated_snapshot_id("rds:pams-2026-11-24-03-10").as_deref(), Some("2026-11-24"));
        let arn = "arn:aws:rds:eu-west-1:1:snapshot:rds:pams-2026-11-24-03-10";
        assert_eq!(date_in_automated_snapshot_id(arn).as_deref(), Some("2026-11-24"));
        assert_eq!(date_in_automated_snapshot_id("before-migration"), None);
        assert_eq!(date_in_automated_snapshot_id("rds:x-2026-99-24-03-10"), None);
    }

    #[test]
    fn type_mapping_lengths_read_as_numbers_or_text() {
        let m: TypeMapping = serde_json::from_str(
            r#"{"columnName":"a","originalType":"varchar","originalCharMaxLength":"255","originalNumPrecision":12,"originalDateTimePrecision":"N/A"}"#,
        )
        .unwrap();
        assert_eq!(
            (m.original_char_max_length, m.original_num_precision, m.original_date_time_precision),
            (Some(255), Some(12), None)
        );
        let absent: TypeMapping =
            serde_json::from_str(r#"{"columnName":"b","originalDateTimePrecision":null}"#).unwrap();
        assert_eq!(absent.original_char_max_length, None);
        let bad = serde_json::from_str::<TypeMapping>(r#"{"columnName":"c","originalCharMaxLength":"ten"}"#);
        assert!(bad.unwrap_err().to_string().contains("`ten`"));
    }
}
