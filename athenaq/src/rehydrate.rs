//! `rehydrate`: from an export read the way `query --local` reads it (a folder, S3 in place, or
//! the export's own bucket), the tables to load and how: which engine it came from, which
//! tables were asked for (and that RDS exported them), each table's columns planned from the
//! export's metadata, the rows it must end with, and how to stream its batches.
//!
//! A table's columns come from every part file's footer, not the first one's: a column only
//! some parts have is loaded, NULL in the rows of the others (with a note); a column whose type
//! differs between parts is refused, naming the parts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::SessionContext;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use s3exports_rds::layout::{EntryKind, TableStatus};
use s3exports_rehydrate::schema::{ColumnPlan, plan_columns};
use s3exports_rehydrate::{Engine, Provenance, TableJob};
use sha2::{Digest, Sha256};

use crate::engine;
use crate::source::discover::{LocalExport, TableRef};

/// A table the export holds, with what `--table` can call it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub entry: &'a TableStatus,
    pub table: TableRef,
    pub files: Vec<PathBuf>,
}

/// The engine the export came from: PostgreSQL's targets name a schema, MySQL's do not.
pub fn source_engine(export: &LocalExport) -> Option<Engine> {
    let first = export
        .entries
        .iter()
        .find_map(|e| (e.kind() == EntryKind::Complete).then(|| TableRef::from_target(&e.target)).flatten())?;
    Some(if first.schema.is_some() { Engine::Postgres } else { Engine::MySql })
}

/// The tables to load: those named by `wanted` (`schema.table` or `database.schema.table` for
/// PostgreSQL, `table` or `database.table` for MySQL), else every table RDS exported. A name
/// that is no table, or a table RDS did not export, is an error saying which.
pub fn select<'a>(export: &'a LocalExport, wanted: &[String]) -> Result<Vec<Candidate<'a>>, String> {
    let id = &export.info.export_task_identifier;
    if export.entries.is_empty() {
        return Err(format!(
            "export {id} has no export_tables_info file, which RDS writes with every export and which holds the \
             columns' original types: copy it beside export_info_{id}.json, or check the export completed"
        ));
    }
    let candidate = |entry: &'a TableStatus| -> Option<Candidate<'a>> {
        let table = TableRef::from_target(&entry.target)?;
        let files = export.tables.iter().find(|t| t.table == table).map(|t| t.files.clone()).unwrap_or_default();
        Some(Candidate { entry, table, files })
    };
    let tables: Vec<Candidate<'a>> =
        export.entries.iter().filter(|e| e.kind() != EntryKind::Note).filter_map(candidate).collect();
    if wanted.is_empty() {
        return Ok(tables.into_iter().filter(|c| c.entry.kind() == EntryKind::Complete).collect());
    }
    let mut out: Vec<Candidate<'a>> = Vec::new();
    for name in wanted {
        let short = |c: &Candidate<'_>| match &c.table.schema {
            Some(schema) => format!("{schema}.{}", c.table.table),
            None => c.table.table.clone(),
        };
        let matched: Vec<&Candidate<'a>> =
            tables.iter().filter(|c| c.entry.target == *name || short(c) == *name).collect();
        let found = match matched.as_slice() {
            [] => {
                let known: Vec<String> = tables.iter().map(|c| c.entry.target.clone()).collect();
                return Err(format!("export {id} has no table `{name}`; it has: {}", known.join(", ")));
            }
            [one] => *one,
            many => {
                let names: Vec<&str> = many.iter().map(|c| c.entry.target.as_str()).collect();
                return Err(format!(
                    "`{name}` is in more than one database of export {id}: name one of {}",
                    names.join(", ")
                ));
            }
        };
        if found.entry.kind() != EntryKind::Complete {
            let why = found.entry.message().map(|m| format!(": {m}")).unwrap_or_default();
            return Err(format!(
                "RDS did not export table {} (status {}{why}), so export {id} has no rows of it to load",
                found.entry.target, found.entry.status
            ));
        }
        if !out.iter().any(|c| c.entry.target == found.entry.target) {
            out.push(found.clone());
        }
    }
    Ok(out)
}

/// PostgreSQL loads one source database at a time (into the URL's database); MySQL recreates
/// each source database.
pub fn check_databases(engine: Engine, tables: &[Candidate<'_>]) -> Result<(), String> {
    let mut databases: Vec<&str> = tables.iter().map(|c| c.table.database.as_str()).collect();
    databases.sort_unstable();
    databases.dedup();
    if engine == Engine::Postgres && databases.len() > 1 {
        return Err(format!(
            "the export holds tables of {} PostgreSQL databases ({}), and one URL is one database: rehydrate them one \
             at a time with --table DATABASE.SCHEMA.TABLE",
            databases.len(),
            databases.join(", ")
        ));
    }
    Ok(())
}

/// A table planned for loading, or why it cannot be.
#[derive(Debug)]
pub enum Planned {
    /// The job, and notes on the table (columns left out or not in every part).
    Job(TableJob, Vec<String>),
    Refused {
        source: String,
        why: String,
    },
}

/// One part file as its footer describes it.
struct Part {
    file: PathBuf,
    schema: Schema,
    rows: u64,
    bytes: Option<u64>,
}

/// The columns of all the parts together, in the order first seen; a column whose type
/// differs between two parts is an error naming both.
fn merged_schema(parts: &[Part]) -> Result<Schema, String> {
    let mut fields: Vec<(Field, &Path)> = Vec::new();
    for part in parts {
        for field in part.schema.fields() {
            match fields.iter().find(|(f, _)| f.name() == field.name()) {
                Some((seen, at)) if seen.data_type() != field.data_type() => {
                    return Err(format!(
                        "column `{}` is {} in part file {} and {} in part file {}: the parts disagree on its type, so \
                         the table is not loaded (copy the export again, or check which part is foreign)",
                        field.name(),
                        seen.data_type(),
                        at.display(),
                        field.data_type(),
                        part.file.display()
                    ));
                }
                Some(_) => {}
                None => fields.push((field.as_ref().clone().with_nullable(true), &part.file)),
            }
        }
    }
    Ok(Schema::new(fields.into_iter().map(|(f, _)| f).collect::<Vec<_>>()))
}

/// The size of a part file, from its object store (the local file system or S3).
async fn part_size(ctx: &SessionContext, file: &Path) -> Option<u64> {
    let text = file.to_string_lossy();
    let store = match text.strip_prefix("s3://") {
        Some(rest) => ObjectStoreUrl::parse(format!("s3://{}", rest.split_once('/').map_or(rest, |(b, _)| b))).ok()?,
        None => ObjectStoreUrl::local_filesystem(),
    };
    let store = ctx.runtime_env().object_store(&store).ok()?;
    Some(store.head(&engine::store_path(file).ok()?).await.ok()?.size)
}

/// `sha256:<hex>` over what identifies a table's data in an export without reading it: each
/// part's name in its table folder, size, rows and columns, and the columns' original types.
fn fingerprint(parts: &[Part], mappings: &[s3exports_rds::layout::TypeMapping]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        let name: Vec<String> =
            part.file.components().rev().take(2).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        hash.update(format!("part\0{}\0{:?}\0{}\0", name.join("/"), part.bytes, part.rows));
        for field in part.schema.fields() {
            hash.update(format!("{}\0{}\0", field.name(), field.data_type()));
        }
    }
    for m in mappings {
        hash.update(format!(
            "column\0{}\0{}\0{:?}\0{:?}\0{:?}\0",
            m.column_name,
            m.original_type,
            m.original_char_max_length,
            m.original_num_precision,
            m.original_date_time_precision
        ));
    }
    format!("sha256:{:x}", hash.finalize())
}

/// The job for one table: its columns from the metadata against the schema of all its part
/// files, the rows its footers hold (checked against the manifest's, when one is given), what
/// the load records of it, and its batches.
pub async fn plan(
    ctx: &SessionContext,
    engine: Engine,
    candidate: &Candidate<'_>,
    manifest_rows: Option<u64>,
    export_id: &str,
    manifest_sha256: Option<&str>,
) -> Planned {
    let source = candidate.entry.target.clone();
    let refused = |why: String| Planned::Refused { source: source.clone(), why };
    let mappings =
        candidate.entry.schema_metadata.as_ref().map(|m| m.original_type_mappings.clone()).unwrap_or_default();
    let mut parts = Vec::with_capacity(candidate.files.len());
    for file in &candidate.files {
        let one = std::slice::from_ref(file);
        let schema = match engine::parts_schema(ctx, one).await {
            Ok(s) => s,
            Err(e) => return refused(e.to_string()),
        };
        let rows = match engine::parts_rows(ctx, one).await {
            Ok(rows) => rows,
            Err(e) => return refused(e.to_string()),
        };
        parts.push(Part { file: file.clone(), schema, rows, bytes: part_size(ctx, file).await });
    }
    let rows: u64 = parts.iter().map(|p| p.rows).sum();
    let schema = if parts.is_empty() {
        // RDS writes no part file for an empty table: the columns come from the metadata alone.
        let fields: Vec<Field> = mappings.iter().map(|m| Field::new(&m.column_name, DataType::Utf8, true)).collect();
        Schema::new(fields)
    } else {
        match merged_schema(&parts) {
            Ok(s) => s,
            Err(why) => return refused(why),
        }
    };
    let planned = match plan_columns(engine, &mappings, &schema) {
        Ok(c) => c,
        Err(e) => return refused(e.to_string()),
    };
    let columns: Vec<ColumnPlan> = planned.columns;
    let mut table_notes = planned.left_out;
    for c in &columns {
        let without: Vec<&Part> = parts.iter().filter(|p| p.schema.field_with_name(&c.name).is_err()).collect();
        if let Some(first) = without.first() {
            table_notes.push(format!(
                "{}: not in {} of the {} part files (the first: {}): NULL in their {} rows",
                c.name,
                without.len(),
                parts.len(),
                first.file.display(),
                without.iter().map(|p| p.rows).sum::<u64>()
            ));
        }
    }
    let (expected, expected_from) = match manifest_rows {
        Some(sealed) if sealed != rows => {
            return refused(format!(
                "the part files hold {rows} rows and the export's manifest recorded {sealed}: the export changed \
                 since it was manifested (`athenaq verify` says how)"
            ));
        }
        Some(sealed) => (sealed, "manifest"),
        None => (rows, "part footers"),
    };
    let (schema_name, table_name) = match engine {
        Engine::Postgres => {
            (candidate.table.schema.clone().unwrap_or_else(|| "public".into()), candidate.table.table.clone())
        }
        Engine::MySql => (candidate.table.database.clone(), candidate.table.table.clone()),
    };
    let provenance = Provenance {
        export_id: export_id.to_owned(),
        fingerprint: fingerprint(&parts, &mappings),
        manifest_sha256: manifest_sha256.map(str::to_owned),
    };
    // Every plan column with its type over all parts, and which of them each part has.
    let full: Vec<(String, DataType)> = columns
        .iter()
        .map(|c| {
            let data_type = schema.field_with_name(&c.name).map(|f| f.data_type().clone()).unwrap_or(DataType::Utf8);
            (c.name.clone(), data_type)
        })
        .collect();
    let files: Vec<(PathBuf, Vec<String>)> = parts
        .iter()
        .map(|p| {
            let has: Vec<String> =
                full.iter().filter(|(n, _)| p.schema.field_with_name(n).is_ok()).map(|(n, _)| n.clone()).collect();
            (p.file.clone(), has)
        })
        .collect();
    let ctx = ctx.clone();
    let full = Arc::new(full);
    let batches: s3exports_rehydrate::load::OpenBatches = Box::new(move || {
        async move {
            // One part after another, so an error names the part file it came from.
            let parts = futures::stream::iter(files).then(move |(file, has)| {
                let (ctx, full) = (ctx.clone(), full.clone());
                async move {
                    let opened = engine::parts_batches(&ctx, std::slice::from_ref(&file), &has).await;
                    let named = move |e: String| format!("part file {}: {e}", file.display());
                    match opened {
                        Ok(stream) => stream
                            .map_err(|e| e.to_string())
                            .and_then(move |b| futures::future::ready(widen(&b, &full)))
                            .map_err(named)
                            .boxed(),
                        Err(e) => futures::stream::once(futures::future::ready(Err(named(e.to_string())))).boxed(),
                    }
                }
            });
            Ok(parts.flatten().boxed())
        }
        .boxed()
    });
    let job = TableJob {
        source,
        schema: schema_name,
        table: table_name,
        columns,
        expected,
        expected_from,
        provenance,
        batches,
    };
    Planned::Job(job, table_notes)
}

/// A part's batch with every column of the table, in the plan's order: NULLs for a column the
/// part does not have.
fn widen(batch: &RecordBatch, full: &[(String, DataType)]) -> Result<RecordBatch, String> {
    if batch.num_columns() == full.len() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = full
        .iter()
        .map(|(name, data_type)| match batch.column_by_name(name) {
            Some(c) => (Field::new(name, c.data_type().clone(), true), c.clone()),
            None => (Field::new(name, data_type.clone(), true), new_null_array(data_type, rows)),
        })
        .unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

/// The notes a plan carries: one line per column whose type differs from the original, and
/// the table's own (`notes`).
pub fn notes(job: &TableJob, table_notes: &[String]) -> Vec<String> {
    job.columns
        .iter()
        .filter_map(|c| c.note.as_ref().map(|n| format!("{}.{}: {n}", job.source, c.name)))
        .chain(table_notes.iter().map(|n| format!("{}.{n}", job.source)))
        .collect()
}
