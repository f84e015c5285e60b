//! `rehydrate`: from an export read the way `query --local` reads it (a folder, S3 in place, or
//! the export's own bucket), the tables to load and how: which engine it came from, which
//! tables were asked for (and that RDS exported them), each table's columns planned from the
//! export's metadata, the rows it must end with, and how to stream its batches.

use std::path::PathBuf;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use futures::{FutureExt, StreamExt, TryStreamExt};
use s3exports_rds::layout::{EntryKind, TableStatus};
use s3exports_rehydrate::schema::{ColumnPlan, plan_columns};
use s3exports_rehydrate::{Engine, TableJob};

use crate::layout::{LocalExport, TableRef};
use crate::local;

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
    Job(TableJob),
    Refused { source: String, why: String },
}

/// The job for one table: its columns from the metadata against its Parquet schema, the rows
/// its footers hold (checked against the manifest's, when one is given), and its batches.
pub async fn plan(
    ctx: &SessionContext,
    engine: Engine,
    candidate: &Candidate<'_>,
    manifest_rows: Option<u64>,
) -> Planned {
    let source = candidate.entry.target.clone();
    let refused = |why: String| Planned::Refused { source: source.clone(), why };
    let mappings =
        candidate.entry.schema_metadata.as_ref().map(|m| m.original_type_mappings.clone()).unwrap_or_default();
    let (schema, rows) = if candidate.files.is_empty() {
        // RDS writes no part file for an empty table: the columns come from the metadata alone.
        let fields: Vec<Field> = mappings.iter().map(|m| Field::new(&m.column_name, DataType::Utf8, true)).collect();
        (Schema::new(fields), 0)
    } else {
        let schema = match local::parts_schema(ctx, &candidate.files).await {
            Ok(s) => s,
            Err(e) => return refused(e.to_string()),
        };
        match local::parts_rows(ctx, &candidate.files).await {
            Ok(rows) => (schema, rows),
            Err(e) => return refused(e.to_string()),
        }
    };
    let columns: Vec<ColumnPlan> = match plan_columns(engine, &mappings, &schema) {
        Ok(c) => c,
        Err(e) => return refused(e.to_string()),
    };
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
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let (ctx, files) = (ctx.clone(), candidate.files.clone());
    let batches: s3exports_rehydrate::load::OpenBatches = Box::new(move || {
        async move {
            // One part after another, so an error names the part file it came from.
            let parts = futures::stream::iter(files).then(move |file| {
                let (ctx, names) = (ctx.clone(), names.clone());
                async move {
                    let opened = local::parts_batches(&ctx, std::slice::from_ref(&file), &names).await;
                    let named = move |e: String| format!("part file {}: {e}", file.display());
                    match opened {
                        Ok(stream) => stream.map_err(move |e| named(e.to_string())).boxed(),
                        Err(e) => futures::stream::once(futures::future::ready(Err(named(e.to_string())))).boxed(),
                    }
                }
            });
            Ok(parts.flatten().boxed())
        }
        .boxed()
    });
    Planned::Job(TableJob { source, schema: schema_name, table: table_name, columns, expected, expected_from, batches })
}

/// The notes a plan carries, one line per column whose type differs from the original.
pub fn notes(job: &TableJob) -> Vec<String> {
    job.columns.iter().filter_map(|c| c.note.as_ref().map(|n| format!("{}.{}: {n}", job.source, c.name))).collect()
}
