//! What the rehydrate tests share: running `athenaq rehydrate` with JSON output, reading its
//! per-table proof, and exports with odd names, several parts, or a damaged part; several runs
//! at once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use s3exports_rds::layout::TypeMapping;
use s3exports_testkit::export_writer::{ExportSpec, TableSpec, Written, column, write_export};
use serde_json::Value;

pub struct Run {
    pub rows: Vec<Value>,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Run {
    /// The proof row of the table whose source target is `target`.
    pub fn table(&self, target: &str) -> &Value {
        self.rows
            .iter()
            .find(|r| r["table"] == target)
            .unwrap_or_else(|| panic!("no row for {target}: {:?}\n{}", self.rows, self.stderr))
    }

    pub fn status(&self, target: &str) -> String {
        self.table(target)["status"].as_str().unwrap_or_default().to_owned()
    }
}

/// `athenaq --format json rehydrate ARGS` with `env` set (and no password variables unless
/// given, so the machine's own never leak in).
pub fn rehydrate(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_athenaq"));
    command
        .args(["--format", "json", "rehydrate"])
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE")
        .env_remove("MYSQL_PWD")
        .env("HOME", std::env::temp_dir());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let rows = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    Run { rows, stderr: String::from_utf8_lossy(&out.stderr).into_owned(), code: out.status.code() }
}

/// A table `target` of `parts` part files of `rows` rows each: `id` (bigint, INT64) and
/// `label` (text as the engine calls it), ids 1.. in order.
pub fn numbered_table(target: &str, text_type: &str, parts: usize, rows: i64) -> TableSpec {
    let batches = (0..parts as i64)
        .map(|p| {
            let ids: Vec<i64> = (p * rows + 1..=(p + 1) * rows).collect();
            let labels: Vec<String> = ids.iter().map(|i| format!("row {i}")).collect();
            let columns: Vec<(&str, ArrayRef)> =
                vec![("id", Arc::new(Int64Array::from(ids))), ("label", Arc::new(StringArray::from(labels)))];
            RecordBatch::try_from_iter(columns).unwrap()
        })
        .collect();
    TableSpec {
        target: target.into(),
        columns: vec![column("id", "bigint", "INT64"), column("label", text_type, "STRING")],
        parts: batches,
    }
}

/// [`numbered_table`] with labels `"{label} {id}"`: the same table and count as another
/// export's, with other values.
pub fn labelled_table(target: &str, text_type: &str, label: &str, rows: i64) -> TableSpec {
    let ids: Vec<i64> = (1..=rows).collect();
    let labels: Vec<String> = ids.iter().map(|i| format!("{label} {i}")).collect();
    let columns: Vec<(&str, ArrayRef)> =
        vec![("id", Arc::new(Int64Array::from(ids))), ("label", Arc::new(StringArray::from(labels)))];
    TableSpec {
        target: target.into(),
        columns: vec![column("id", "bigint", "INT64"), column("label", text_type, "STRING")],
        parts: vec![RecordBatch::try_from_iter(columns).unwrap()],
    }
}

/// A one-part table of one column of `values`, with the column's original type and sizes.
pub fn one_column_table(target: &str, mapping: TypeMapping, values: ArrayRef) -> TableSpec {
    let name = mapping.column_name.clone();
    TableSpec {
        target: target.into(),
        columns: vec![mapping],
        parts: vec![RecordBatch::try_from_iter(vec![(name.as_str(), values)]).unwrap()],
    }
}

/// The same rehydrate `times` at once, in separate processes started together.
pub fn rehydrate_at_once(args: &[&str], times: usize) -> Vec<Run> {
    let start = std::sync::Barrier::new(times);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..times)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    rehydrate(args, &[])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Writes an export of `tables` for `instance` under `out`.
pub fn export_of(out: &Path, instance: &str, tables: Vec<TableSpec>) -> Written {
    let snapshot_time =
        chrono::DateTime::parse_from_rfc3339("2026-11-20T05:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let spec =
        ExportSpec { instance: instance.into(), bucket: "odd-bucket".into(), snapshot_time, tables, notes: Vec::new() };
    write_export(out, &spec).unwrap()
}

/// Overwrites the middle of a part file (its pages, not its footer), as a bad copy would.
pub fn damage(part: &PathBuf) {
    let mut bytes = std::fs::read(part).unwrap();
    let (from, to) = (8, bytes.len() / 2);
    for b in &mut bytes[from..to] {
        *b = 0xA5;
    }
    std::fs::write(part, bytes).unwrap();
}
