//! Local mode: SQL over a copy of one or more exports with DataFusion, under the same names and
//! partition columns as the Glue catalogue, so a query written for Athena runs unchanged.
//! `text_decimal` is the analyzer rule for `CAST(text AS DECIMAL)`.

pub(crate) mod text_decimal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl, PartitionedFile,
};
use datafusion::datasource::physical_plan::parquet::{DefaultParquetFileReaderFactory, ParquetFileReaderFactory};
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, lit};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::async_reader::AsyncFileReader;
use s3exports_config::{Config, names};

use crate::engine::text_decimal::TextDecimalCasts;
use crate::output::Rows;
use crate::source::discover::LocalExport;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The query engine's message, said once: DataFusion wraps an error in layers that each
    /// repeat the one inside, so only the innermost is kept.
    #[error("{0}")]
    DataFusion(String),
    #[error("reading table {table}: {message}; damaged part file {}: copy it again from S3 or remove its export from the folder", path.display())]
    DamagedPart { table: String, path: PathBuf, message: String },
    #[error("cannot read Parquet {path}: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error(
        "reading table {table}: part file {} is not the file whose metadata the cache kept (it was changed in place \
         and kept its size and times); its cached metadata is dropped: run the query again, or with --no-cache", path.display()
    )]
    StaleMetadata { table: String, path: PathBuf },
    #[error("{message}; the tables are: {}", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    NoSuchTable { message: String, known: Vec<String> },
    #[error("{0}: local queries read exports only (SELECT, EXPLAIN)")]
    NotReadOnly(String),
    #[error("the SQL is {0} bytes, over the {MAX_SQL_BYTES} athenaq (and Athena) accepts; split the query")]
    TooLong(usize),
    #[error(
        "an expression in the SQL is nested {0} deep, more than the {MAX_EXPRESSION_DEPTH} athenaq plans; write a long \
         chain of `x = 1 OR x = 2 ...` as `x IN (1, 2, ...)`, or split it"
    )]
    TooDeep(usize),
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::DataFusion(e.find_root().strip_backtrace())
    }
}

/// Every table a query can name: `<glue database>.<table>`, and the unqualified names.
pub fn table_names(ctx: &SessionContext) -> Vec<String> {
    let mut out = Vec::new();
    let Some(catalog) = ctx.catalog("datafusion") else { return out };
    for schema_name in catalog.schema_names() {
        let Some(schema) = catalog.schema(&schema_name) else { continue };
        for table in schema.table_names().into_iter().filter(|t| !t.starts_with("__export_source_")) {
            out.push(if schema_name == "public" { table } else { format!("{schema_name}.{table}") });
        }
    }
    out.sort();
    out
}

/// One catalogue table over every export that has it.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    pub glue_database: Option<String>,
    pub name: String,
    /// One per export that has the table, in the order the exports were found.
    pub parts: Vec<TableSnapshot>,
}

/// One export's copy of a catalogue table.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub snapshot_date: String,
    pub export_id: String,
    /// The table's folder in the export.
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

/// The Glue database an export belongs to: the configured database whose bucket it is in.
pub fn glue_database_of(export: &LocalExport, config: Option<&Config>) -> Option<String> {
    let db = config?.database_for_bucket(&export.info.s3_bucket)?;
    Some(names::glue_database(&db.db_name))
}

/// Groups the exports' tables by catalogue name; tables whose export did not complete are left out.
pub fn catalog_tables(
    exports: &[LocalExport],
    config: Option<&Config>,
    db_override: Option<&str>,
) -> Vec<CatalogTable> {
    let mut by_name: BTreeMap<(Option<String>, String), CatalogTable> = BTreeMap::new();
    for export in exports {
        let glue_db = db_override.map(names::glue_database).or_else(|| glue_database_of(export, config));
        let date = export.snapshot_date.clone();
        for t in export.tables.iter().filter(|t| t.status.eq_ignore_ascii_case("COMPLETE") && !t.files.is_empty()) {
            let name = t.table.glue_table();
            by_name
                .entry((glue_db.clone(), name.clone()))
                .or_insert_with(|| CatalogTable { glue_database: glue_db.clone(), name, parts: Vec::new() })
                .parts
                .push(TableSnapshot {
                    snapshot_date: date.clone(),
                    export_id: export.info.export_task_identifier.clone(),
                    dir: t.dir.clone(),
                    files: t.files.clone(),
                });
        }
    }
    by_name.into_values().collect()
}

/// Columns of several snapshots of one table: in first-seen order; a column whose type changed
/// between snapshots is read as text.
fn merged_schema(schemas: &[Arc<Schema>]) -> Schema {
    let mut fields: Vec<Field> = Vec::new();
    for schema in schemas {
        for f in schema.fields() {
            match fields.iter_mut().find(|g| g.name() == f.name()) {
                Some(g) if g.data_type() != f.data_type() => *g = Field::new(f.name(), DataType::Utf8, true),
                Some(_) => {}
                None => fields.push(f.as_ref().clone().with_nullable(true)),
            }
        }
    }
    Schema::new(fields)
}

/// A session with Athena's casts and no tables yet; register an object store on it before
/// [`session_in`] when the exports are on S3.
pub fn context() -> SessionContext {
    // DataFusion keeps 50 MB of footers by default and evicts the rest, which the metadata cache
    // then never sees; an export's footers with their page indexes can take more.
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_metadata_cache_limit(METADATA_CACHE_BYTES)
        .build_arc()
        .expect("the default runtime with a larger metadata cache");
    let state = datafusion::execution::session_state::SessionStateBuilder::new()
        .with_config(datafusion::prelude::SessionConfig::new())
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(YieldAfterJoins))
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.add_analyzer_rule(Arc::new(TextDecimalCasts));
    ctx
}

/// Puts a [`CooperativeExec`] over every join (and unnest): each yields to the runtime after a
/// budget of batches. DataFusion's own rule wraps only the scans, but a join emits many batches
/// for each one it reads (a cross join one per row of its other side), so a plan over a cross
/// join ran for minutes without yielding once: a canceled query could not be dropped, kept both
/// cores busy and held up the next statement and the exit. Now a canceled query stops within a
/// budget of batches.
///
/// [`CooperativeExec`]: datafusion::physical_plan::coop::CooperativeExec
#[derive(Debug)]
pub struct YieldAfterJoins;

impl datafusion::physical_optimizer::PhysicalOptimizerRule for YieldAfterJoins {
    fn optimize(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        _config: &datafusion::config::ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::physical_plan::coop::CooperativeExec;
        plan.transform_up(|node| {
            let name = node.name();
            Ok(if name.ends_with("JoinExec") || name == "UnnestExec" {
                Transformed::yes(
                    Arc::new(CooperativeExec::new(node)) as Arc<dyn datafusion::physical_plan::ExecutionPlan>
                )
            } else {
                Transformed::no(node)
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "YieldAfterJoins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The Parquet footers a session keeps in memory (what the metadata cache learns from).
const METADATA_CACHE_BYTES: usize = 1 << 30;

/// A session over exports in a local folder: see [`session_in`].
pub async fn session(tables: &[CatalogTable]) -> Result<SessionContext, EngineError> {
    session_in(context(), tables).await
}

/// `ctx` with every catalogue table registered by name, in its Glue database's schema and
/// unqualified.
pub async fn session_in(ctx: SessionContext, tables: &[CatalogTable]) -> Result<SessionContext, EngineError> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| datafusion::error::DataFusionError::Plan("no default catalog".into()))?;
    let mut source = 0usize;
    for table in tables {
        let mut frames = Vec::new();
        for part in &table.parts {
            source += 1;
            let name = format!("__export_source_{source}");
            ctx.register_table(name.as_str(), part_files_table(&ctx, &part.files).await?)?;
            frames.push((ctx.table(&name).await?, part.snapshot_date.clone(), part.export_id.clone()));
        }
        let schemas: Vec<Arc<Schema>> =
            frames.iter().map(|(df, _, _)| Arc::new(df.schema().as_arrow().clone())).collect();
        let merged = merged_schema(&schemas);
        let mut union: Option<DataFrame> = None;
        for (df, date, export_id) in frames {
            let have = df.schema().as_arrow().clone();
            let mut select: Vec<Expr> = merged
                .fields()
                .iter()
                .map(|f| {
                    Ok(match have.field_with_name(f.name()) {
                        Ok(h) if h.data_type() == f.data_type() => Expr::Column(Column::new_unqualified(f.name())),
                        Ok(_) => {
                            cast(Expr::Column(Column::new_unqualified(f.name())), f.data_type().clone()).alias(f.name())
                        }
                        Err(_) => lit(ScalarValue::try_from(f.data_type())?).alias(f.name()),
                    })
                })
                .collect::<Result<_, datafusion::error::DataFusionError>>()?;
            select.push(lit(date).alias(names::PARTITION_KEYS[0]));
            select.push(lit(export_id).alias(names::PARTITION_KEYS[1]));
            let df = df.select(select)?;
            union = Some(match union {
                None => df,
                Some(u) => u.union(df)?,
            });
        }
        let Some(view) = union else { continue };
        let view = view.into_view();
        if let Some(db) = &table.glue_database {
            if catalog.schema(db).is_none() {
                catalog.register_schema(db, Arc::new(MemorySchemaProvider::new()))?;
            }
            ctx.register_table(TableReference::partial(db.as_str(), table.name.as_str()), view.clone())?;
        }
        if !ctx.table_exist(table.name.as_str())? {
            ctx.register_table(table.name.as_str(), view)?;
        }
    }
    Ok(ctx)
}

/// A table over exactly these part files (batch folders and flat layouts alike), its schema
/// merged from their footers.
async fn part_files_table(ctx: &SessionContext, files: &[PathBuf]) -> Result<Arc<ListingTable>, EngineError> {
    let urls = files.iter().map(|f| part_url(f)).collect::<Result<Vec<_>, _>>()?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config =
        ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).infer_schema(&ctx.state()).await?;
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Queries read exports and nothing else: no DDL (`CREATE EXTERNAL TABLE ... LOCATION` would
/// read any file), no DML (`COPY ... TO` writes files, `INSERT`), no `SET` or other statements.
pub fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// The longest SQL text accepted: Athena's own limit for a query string.
pub const MAX_SQL_BYTES: usize = 262_144;

/// The deepest expression accepted (a chain of N terms `a + b + ...` or `x = 1 OR x = 2 ...` is
/// N deep). DataFusion types such a chain in time that grows with the square of its depth (34 s
/// for 2,000 terms in a debug build), and recurses as deep; 500 answers within a second or two.
/// Long value lists belong in `IN (...)`, which is one level whatever its length.
pub const MAX_EXPRESSION_DEPTH: usize = 500;

/// Refuses SQL longer than [`MAX_SQL_BYTES`] or nested deeper than [`MAX_EXPRESSION_DEPTH`],
/// naming the limit. SQL that does not parse is left to the engine, which says why.
pub fn check_sql_size(sql: &str) -> Result<(), EngineError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(EngineError::TooLong(sql.len()));
    }
    let depth = expression_depth(sql);
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(EngineError::TooDeep(depth));
    }
    Ok(())
}

/// The deepest nesting of expressions in `sql` (0 when it does not parse).
pub fn expression_depth(sql: &str) -> usize {
    use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Visit, Visitor};
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use std::ops::ControlFlow;

    #[derive(Default)]
    struct Depth {
        now: usize,
        max: usize,
    }
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _: &SqlExpr) -> ControlFlow<()> {
            self.now += 1;
            self.max = self.max.max(self.now);
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, _: &SqlExpr) -> ControlFlow<()> {
            self.now = self.now.saturating_sub(1);
            ControlFlow::Continue(())
        }
    }
    let Ok(statements) = Parser::new(&GenericDialect {})
        .with_recursion_limit(MAX_EXPRESSION_DEPTH * 2)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
    else {
        return 0;
    };
    let mut depth = Depth::default();
    let _ = statements.visit(&mut depth);
    depth.max
}

/// Runs SQL (SELECT and EXPLAIN only) and returns the rows with NULLs kept distinct from empty
/// strings. A missing table is named with the tables there are.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Rows, EngineError> {
    check_sql_size(sql)?;
    let df = match ctx.sql_with_options(sql, read_only()).await {
        Ok(df) => df,
        Err(e) if e.to_string().contains("not found") && e.to_string().contains("able") => {
            return Err(EngineError::NoSuchTable { message: e.find_root().strip_backtrace(), known: table_names(ctx) });
        }
        Err(e) if e.to_string().contains("not supported") => {
            return Err(EngineError::NotReadOnly(e.find_root().strip_backtrace()));
        }
        Err(e) => return Err(e.into()),
    };
    let schema = df.schema().as_arrow().clone();
    let batches = df.collect().await?;
    Ok(Rows::from_batches(&schema, &batches).map_err(datafusion::error::DataFusionError::from)?)
}

/// A part file's URL: `s3://bucket/key` for an export read in place, else a local path. Each
/// segment of the key is percent-encoded whole, so that the object store decodes it back to
/// the key exactly as S3 lists it (`%`, `+`, spaces and non-ASCII letters included).
fn part_url(file: &Path) -> Result<ListingTableUrl, EngineError> {
    let text = file.to_string_lossy();
    let Some(rest) = text.strip_prefix("s3://") else { return Ok(ListingTableUrl::parse(text)?) };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let encoded: Vec<String> = key
        .split('/')
        .map(|segment| percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string())
        .collect();
    let url = url::Url::parse(&format!("s3://{bucket}/{}", encoded.join("/")))
        .map_err(|e| EngineError::DataFusion(format!("{text}: not an S3 URL: {e}")))?;
    Ok(ListingTableUrl::try_new(url, None)?)
}

/// A part file's path as the object store spells it (what DataFusion asks the store about).
pub fn store_path(file: &Path) -> Result<object_store::path::Path, EngineError> {
    Ok(part_url(file)?.prefix().clone())
}

/// A part file through the session's object store (the local file system or S3), read the
/// way DataFusion reads it.
async fn part_reader(ctx: &SessionContext, file: &Path) -> Result<Box<dyn AsyncFileReader>, EngineError> {
    let url = part_url(file)?;
    let store = ctx.runtime_env().object_store(url.object_store())?;
    let meta = store.head(url.prefix()).await.map_err(datafusion::error::DataFusionError::from)?;
    let reader = DefaultParquetFileReaderFactory::new(store).create_reader(
        0,
        PartitionedFile::from(meta),
        None,
        &ExecutionPlanMetricsSet::new(),
    )?;
    Ok(reader)
}

/// The merged Arrow schema of a table's part files, from their footers.
pub async fn parts_schema(ctx: &SessionContext, files: &[PathBuf]) -> Result<Schema, EngineError> {
    let table = part_files_table(ctx, files).await?;
    Ok(table.schema().as_ref().clone())
}

/// Rows in a table's part files, from their footers (no data read).
pub async fn parts_rows(ctx: &SessionContext, files: &[PathBuf]) -> Result<u64, EngineError> {
    let mut rows = 0u64;
    for path in files {
        let mut reader = part_reader(ctx, path).await?;
        let meta = ArrowReaderMetadata::load_async(&mut reader, Default::default())
            .await
            .map_err(|e| EngineError::Parquet { path: path.clone(), message: e.to_string() })?;
        rows += u64::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0);
    }
    Ok(rows)
}

/// The rows of a table's part files as record batches, these columns in this order, streamed
/// (never the whole table in memory).
pub async fn parts_batches(
    ctx: &SessionContext,
    files: &[PathBuf],
    columns: &[String],
) -> Result<datafusion::execution::SendableRecordBatchStream, EngineError> {
    let table = part_files_table(ctx, files).await?;
    let select: Vec<Expr> = columns.iter().map(|c| Expr::Column(Column::new_unqualified(c))).collect();
    Ok(ctx.read_table(table)?.select(select)?.execute_stream().await?)
}

/// After a query failed while reading data: the first part file of a table the SQL names whose
/// footer in the session (from the metadata cache) is not the file's own, or that cannot be
/// decoded, so the error can say which file it is and what to do. Reads every such file in
/// full, which is fine on the error path only. A stale footer is dropped from the session, so
/// the next statement of a shell reads the file's own.
pub async fn find_damaged_part(ctx: &SessionContext, tables: &[CatalogTable], sql: &str) -> Option<EngineError> {
    let sql = sql.to_ascii_lowercase();
    let named: Vec<(&CatalogTable, &PathBuf)> = tables
        .iter()
        .filter(|t| sql.contains(&t.name.to_ascii_lowercase()))
        .flat_map(|t| t.parts.iter().flat_map(|p| &p.files).map(move |f| (t, f)))
        .collect();
    for (table, path) in &named {
        if stale_footer(ctx, path).await {
            return Some(EngineError::StaleMetadata { table: table.name.clone(), path: (*path).clone() });
        }
    }
    for (table, path) in named {
        if let Err(message) = decode_all(ctx, path).await {
            return Some(EngineError::DamagedPart { table: table.name.clone(), path: path.clone(), message });
        }
    }
    None
}

/// The error of a query that failed while reading, with what is known of its cause: the part
/// file at fault ([`find_damaged_part`]; a stale one is also dropped from `cache`, so the next
/// run reads it afresh), else, when footers came from the metadata cache, the way around it.
pub async fn explain_failure(
    cache: &crate::source::metadata_cache::MetadataCache,
    ctx: &SessionContext,
    tables: &[CatalogTable],
    sql: &str,
    error: EngineError,
) -> EngineError {
    let EngineError::DataFusion(message) = error else { return error };
    match find_damaged_part(ctx, tables, sql).await {
        Some(stale @ EngineError::StaleMetadata { .. }) => {
            if let EngineError::StaleMetadata { path, .. } = &stale {
                cache.forget(path);
                cache.save();
            }
            stale
        }
        Some(named) => named,
        None if cache.footer_hits() > 0 => EngineError::DataFusion(format!(
            "{message}; the part files' metadata came from the metadata cache: if one was changed in place, run \
             again with --no-cache"
        )),
        None => EngineError::DataFusion(message),
    }
}

/// Whether the footer the session holds for `path` (primed from the metadata cache) lays the
/// file out otherwise than the file's own footer does.
async fn stale_footer(ctx: &SessionContext, path: &Path) -> bool {
    use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
    let Ok(location) = store_path(path) else { return false };
    let session_cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    let Some(entry) = session_cache.get(&location) else { return false };
    let Some(cached) = entry.file_metadata.as_any().downcast_ref::<CachedParquetMetaData>() else { return false };
    let Ok(mut reader) = part_reader(ctx, path).await else { return false };
    // A footer that does not decode is for the decoding check to name.
    let Ok(actual) = ArrowReaderMetadata::load_async(&mut reader, Default::default()).await else { return false };
    if same_layout(cached.parquet_metadata(), actual.metadata()) {
        return false;
    }
    session_cache.remove(&location);
    true
}

/// Two footers that put the same rows in the same places.
fn same_layout(a: &parquet::file::metadata::ParquetMetaData, b: &parquet::file::metadata::ParquetMetaData) -> bool {
    let chunks = |m: &parquet::file::metadata::ParquetMetaData| -> Vec<(i64, Option<i64>, i64, i64)> {
        m.row_groups()
            .iter()
            .flat_map(|g| g.columns())
            .map(|c| (c.data_page_offset(), c.dictionary_page_offset(), c.compressed_size(), c.num_values()))
            .collect()
    };
    a.file_metadata().num_rows() == b.file_metadata().num_rows()
        && a.file_metadata().schema_descr().columns().len() == b.file_metadata().schema_descr().columns().len()
        && chunks(a) == chunks(b)
}

async fn decode_all(ctx: &SessionContext, path: &Path) -> Result<(), String> {
    let reader = part_reader(ctx, path).await.map_err(|e| e.to_string())?;
    let mut batches =
        ParquetRecordBatchStreamBuilder::new(reader).await.and_then(|b| b.build()).map_err(|e| e.to_string())?;
    while let Some(batch) = batches.next().await {
        batch.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Row count (from the Parquet footers, no data read) and columns of each table.
pub async fn footer_stats(
    ctx: &SessionContext,
    table: &CatalogTable,
) -> Result<(u64, Vec<(String, String)>), EngineError> {
    let mut rows = 0u64;
    let mut schemas = Vec::new();
    for part in &table.parts {
        for path in &part.files {
            let parquet = |message: String| EngineError::Parquet { path: path.clone(), message };
            let mut reader = part_reader(ctx, path).await?;
            let meta = ArrowReaderMetadata::load_async(&mut reader, Default::default())
                .await
                .map_err(|e| parquet(e.to_string()))?;
            rows += meta.metadata().file_metadata().num_rows() as u64;
            schemas.push(meta.schema().clone());
        }
    }
    let merged = merged_schema(&schemas);
    let columns = merged.fields().iter().map(|f| (f.name().clone(), f.data_type().to_string())).collect();
    Ok((rows, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reaches_the_object_store_exactly_as_s3_lists_it() {
        for key in
            ["e1/pams/public.orders/1/part-0.parquet", "e1/db/public.100% sales/1/p+q r.parquet", "données/é/ü.parquet"]
        {
            let url = part_url(Path::new(&format!("s3://bucket/{key}"))).unwrap();
            assert_eq!(url.prefix().as_ref(), key, "{key}");
        }
    }
}
