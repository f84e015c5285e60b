//! One table at a time, up to `jobs` at once, each on its own connection: the table's lock
//! taken (another rehydrate loading it is waited for, up to a bound), the table created (or
//! recognised from an earlier run), its rows streamed from record batches through the encoder
//! into the engine's bulk load, and its count proven against what the export says it holds
//! before the transaction commits, with a record of what was loaded.
//!
//! "Already loaded" needs that record to name this export (its id and fingerprint), the count to
//! be the export's, and the table to be unchanged since (PostgreSQL: the same table, no row
//! written by another transaction; MySQL: the same `CHECKSUM TABLE`). Anything less is loaded
//! again. A view, or anything else that is not a table, is never taken for the table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use tokio::sync::mpsc;

use crate::encode::{ColumnRule, write_batch};
use crate::schema::ColumnPlan;
use crate::target::Target;
use crate::{Engine, LoadError, Loaded, mysql, postgres};

pub type BatchStream = BoxStream<'static, Result<RecordBatch, String>>;
/// Opens a table's record batches, in the plan's column order, when its load starts.
pub type OpenBatches = Box<dyn FnOnce() -> BoxFuture<'static, Result<BatchStream, String>> + Send>;

/// Bytes handed to the engine at a time.
const CHUNK: usize = 1 << 20;

/// One table to create and load.
pub struct TableJob {
    /// The table as the export names it (`database.schema.table`).
    pub source: String,
    /// PostgreSQL's schema, or MySQL's database, to create the table in.
    pub schema: String,
    pub table: String,
    pub columns: Vec<ColumnPlan>,
    /// Rows the export holds for the table, and where that number comes from.
    pub expected: u64,
    pub expected_from: &'static str,
    /// What the load records, and a rerun compares.
    pub provenance: Provenance,
    pub batches: OpenBatches,
}

/// What a load is of: recorded with the rows, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub export_id: String,
    /// `sha256:<hex>` over the table's part files (names, sizes, rows) and its columns.
    pub fingerprint: String,
    /// The SHA-256 of the export's manifest, when it was read from its bucket with one.
    pub manifest_sha256: Option<String>,
}

impl Provenance {
    /// Whether `self`, just read from the export, is what `recorded` says was loaded. Manifests
    /// are compared when both sides have one (a copy read with `--local` has none).
    fn same_as(&self, recorded: &Self) -> bool {
        self.export_id == recorded.export_id
            && self.fingerprint == recorded.fingerprint
            && match (&self.manifest_sha256, &recorded.manifest_sha256) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// The record of an earlier load, read back from the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub provenance: Provenance,
    pub rows: u64,
    /// What shows the table unchanged since (engine-specific; empty when unknown).
    pub identity: String,
}

/// An existing relation of the target's: its columns, and what it is when not a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub not_a_table: Option<String>,
    pub columns: Vec<(String, String)>,
}

/// The error of a lock not had in time.
pub(crate) fn lock_timeout(schema: &str, table: &str, wait: Duration) -> String {
    format!(
        "another load of {schema}.{table} (another rehydrate, now) held its lock for {} s: nothing was changed; run \
         again when it has finished, or wait longer with --lock-wait",
        wait.as_secs()
    )
}

impl std::fmt::Debug for TableJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableJob")
            .field("source", &self.source)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub schema_only: bool,
    pub drop_existing: bool,
    pub jobs: usize,
    /// How long to wait for another load of the same table to finish.
    pub lock_wait: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Loaded,
    /// Already there with the expected count: left alone.
    AlreadyLoaded,
    /// There with other rows (a partial load, another export's, changed by hand, or of no
    /// recorded load): emptied and loaded again.
    Reloaded {
        had: u64,
        why: String,
    },
    /// Created, nothing loaded (`--schema-only`).
    SchemaOnly,
    /// The count after loading was not the expected one: rolled back.
    Mismatch {
        counted: u64,
    },
    Failed(String),
}

impl Status {
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Mismatch { .. } | Self::Failed(_))
    }

    pub fn text(&self) -> String {
        match self {
            Self::Loaded => "loaded".into(),
            Self::AlreadyLoaded => "already loaded".into(),
            Self::Reloaded { had, why } => format!("reloaded (had {had} rows: {why})"),
            Self::SchemaOnly => "created (schema only)".into(),
            Self::Mismatch { counted } => format!("mismatch: counted {counted}, rolled back"),
            Self::Failed(why) => format!("failed: {why}"),
        }
    }
}

/// The proof for one table.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub source: String,
    /// Where it went: `schema.table` (MySQL: `database.table`).
    pub target: String,
    pub expected: u64,
    pub expected_from: &'static str,
    pub loaded: Option<u64>,
    pub seconds: f64,
    pub status: Status,
}

/// Told the rows of a table as they are sent.
pub type Progress = Arc<dyn Fn(&str, u64) + Send + Sync>;
/// Told what a user should know while tables load (a wait for another load).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// Checks the target is reachable and the credentials good, once, before any table; returns a
/// warning when the session is not encrypted although TLS was not turned off.
pub async fn check(target: &Target) -> Result<Option<String>, LoadError> {
    let (conn, warning) = Conn::open(target).await?;
    if let (Conn::Pg(client), crate::target::Tls::Prefer) = (&conn, target.tls)
        && postgres::uses_tls(client).await == Some(false)
    {
        return Ok(Some(format!(
            "{} offers no TLS, so the connection is not encrypted; add sslmode=require to the URL to refuse \
             plaintext, or sslmode=disable to ask for it",
            target.display()
        )));
    }
    Ok(warning)
}

/// Every table, `options.jobs` at a time, in the order given (reports in the same order).
pub async fn run(
    target: &Target,
    jobs: Vec<TableJob>,
    options: Options,
    progress: Progress,
    notify: Notify,
) -> Vec<TableReport> {
    let width = options.jobs.max(1);
    stream::iter(jobs)
        .map(|job| {
            let (progress, notify) = (progress.clone(), notify.clone());
            async move { one(target, job, options, progress, notify).await }
        })
        .buffered(width)
        .collect()
        .await
}

async fn one(target: &Target, job: TableJob, options: Options, progress: Progress, notify: Notify) -> TableReport {
    let started = Instant::now();
    let where_to = format!("{}.{}", job.schema, job.table);
    let mut report = TableReport {
        source: job.source.clone(),
        target: where_to,
        expected: job.expected,
        expected_from: job.expected_from,
        loaded: None,
        seconds: 0.0,
        status: Status::Loaded,
    };
    match load_table(target, job, options, progress, notify).await {
        Ok((status, loaded)) => {
            report.status = status;
            report.loaded = loaded;
        }
        Err(why) => report.status = Status::Failed(why),
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

async fn load_table(
    target: &Target,
    job: TableJob,
    options: Options,
    progress: Progress,
    notify: Notify,
) -> Result<(Status, Option<u64>), String> {
    let (mut conn, _) = Conn::open(target).await.map_err(|e| e.to_string())?;
    let (schema, table) = (job.schema.clone(), job.table.clone());
    let waiting = {
        let (notify, source, wait) = (notify.clone(), job.source.clone(), options.lock_wait.as_secs());
        move || notify(&format!("{source}: another load of this table is under way; waiting for it (up to {wait} s)"))
    };
    conn.lock(&schema, &table, options.lock_wait, &waiting).await?;
    let outcome = locked(&mut conn, job, options, progress).await;
    // The lock ends with the session too; releasing it here lets a waiting run go on at once.
    let _ = conn.unlock(&schema, &table).await;
    outcome
}

/// The load, under the table's lock.
async fn locked(
    conn: &mut Conn,
    job: TableJob,
    options: Options,
    progress: Progress,
) -> Result<(Status, Option<u64>), String> {
    let (schema, table) = (job.schema.as_str(), job.table.as_str());
    let planned: Vec<(String, String)> =
        job.columns.iter().map(|c| (c.name.clone(), conn.normalize(&c.sql_type))).collect();
    let mut had = None;
    match conn.shape(schema, table).await? {
        None => conn.create(schema, table, &job.columns, false).await?,
        Some(Shape { not_a_table: Some(what), .. }) => {
            return Err(format!(
                "{schema}.{table} is {what}, not a table: it is never taken for the loaded table, nor dropped \
                 (--drop-existing drops tables only); drop it yourself, or rehydrate into another database"
            ));
        }
        Some(existing) if existing.columns != planned => {
            if !options.drop_existing {
                return Err(format!(
                    "{schema}.{table} exists with other columns ({}), not the export's ({}): rehydrate into another \
                     database, or pass --drop-existing to replace it",
                    describe(&existing.columns),
                    describe(&planned)
                ));
            }
            conn.create(schema, table, &job.columns, true).await?;
        }
        Some(_) if options.schema_only => {}
        Some(_) => {
            let n = conn.count(schema, table).await?;
            let recorded = conn.recorded(schema, table).await?;
            let why = match &recorded {
                None => "no record of a load by this tool".to_owned(),
                Some(r) if r.provenance.export_id != job.provenance.export_id => {
                    format!("they were export {}'s", r.provenance.export_id)
                }
                Some(r) if !job.provenance.same_as(&r.provenance) => {
                    format!(
                        "export {} was loaded from other files (another copy, or changed since)",
                        r.provenance.export_id
                    )
                }
                Some(r) if n != job.expected || r.rows != n => "a partial or changed load".to_owned(),
                Some(r) => {
                    if conn.unchanged(schema, table, r).await? {
                        return Ok((Status::AlreadyLoaded, Some(n)));
                    }
                    format!("changed since export {} was loaded", r.provenance.export_id)
                }
            };
            had = Some((n, why));
        }
    }
    if options.schema_only {
        return Ok((Status::SchemaOnly, None));
    }
    let (tx, rx) = mpsc::channel(4);
    let names: Vec<String> = job.columns.iter().map(|c| c.name.clone()).collect();
    let rules: Vec<ColumnRule> = job.columns.iter().map(|c| c.rule).collect();
    let engine = conn.engine();
    let source = job.source.clone();
    let producer = tokio::spawn(produce(engine, job.batches, names, rules, tx, progress, source));
    let replace = had.as_ref().is_some_and(|(n, _)| *n > 0);
    let loaded = conn.load(schema, table, &job.columns, replace, job.expected, &job.provenance, rx).await;
    // The producer's own error reached the load through the channel; this only reaps it.
    let _ = producer.await;
    let loaded = loaded
        .map_err(|why| format!("{why}; the load was rolled back, so {schema}.{table} holds what it held before"))?;
    match loaded {
        Loaded::Committed(n) => Ok((
            match had {
                Some((had, why)) if replace => Status::Reloaded { had, why },
                _ => Status::Loaded,
            },
            Some(n),
        )),
        Loaded::RolledBack(n) => Ok((Status::Mismatch { counted: n }, Some(n))),
    }
}

fn describe(columns: &[(String, String)]) -> String {
    columns.iter().map(|(n, t)| format!("{n} {t}")).collect::<Vec<_>>().join(", ")
}

/// Reads the batches, encodes them, and sends chunks of about [`CHUNK`] bytes; an error ends
/// the stream with that error, so the load aborts.
async fn produce(
    engine: Engine,
    open: OpenBatches,
    names: Vec<String>,
    rules: Vec<ColumnRule>,
    tx: mpsc::Sender<Result<Bytes, String>>,
    progress: Progress,
    source: String,
) {
    let mut batches = match open().await {
        Ok(b) => b,
        Err(why) => {
            let _ = tx.send(Err(why)).await;
            return;
        }
    };
    let mut buf = Vec::with_capacity(CHUNK + CHUNK / 4);
    let mut rows_before = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = match batch {
            Ok(b) => b,
            Err(why) => {
                let _ = tx.send(Err(why)).await;
                return;
            }
        };
        let have: Vec<&String> = batch.schema_ref().fields().iter().map(|f| f.name()).collect();
        if have.len() != names.len() || have.iter().zip(&names).any(|(a, b)| *a != b) {
            let _ = tx.send(Err(format!("the batches' columns {have:?} are not the plan's {names:?}"))).await;
            return;
        }
        if let Err(mut e) = write_batch(engine, &batch, &rules, &names, &mut buf) {
            // The row counted from the table's first, in part-file order, as a user can find it.
            e.row += rows_before;
            let _ = tx.send(Err(format!("table {source}, {e}"))).await;
            return;
        }
        rows_before += batch.num_rows() as u64;
        progress(&source, batch.num_rows() as u64);
        if buf.len() >= CHUNK {
            let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + CHUNK / 4));
            if tx.send(Ok(Bytes::from(full))).await.is_err() {
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(Ok(Bytes::from(buf))).await;
    }
}

/// A connection to either engine.
enum Conn {
    Pg(tokio_postgres::Client),
    My(mysql_async::Conn),
}

impl Conn {
    async fn open(target: &Target) -> Result<(Self, Option<String>), LoadError> {
        Ok(match target.engine {
            Engine::Postgres => (Self::Pg(postgres::connect(target).await?), None),
            Engine::MySql => {
                let (conn, warning) = mysql::connect(target).await?;
                (Self::My(conn), warning)
            }
        })
    }

    async fn lock(
        &mut self,
        schema: &str,
        table: &str,
        wait: Duration,
        waiting: &(dyn Fn() + Send + Sync),
    ) -> Result<(), String> {
        match self {
            Self::Pg(c) => postgres::lock(c, schema, table, wait, waiting).await,
            Self::My(c) => mysql::lock(c, schema, table, wait, waiting).await,
        }
    }

    async fn unlock(&mut self, schema: &str, table: &str) -> Result<(), String> {
        match self {
            Self::Pg(c) => postgres::unlock(c, schema, table).await,
            Self::My(c) => mysql::unlock(c, schema, table).await,
        }
    }

    async fn recorded(&mut self, schema: &str, table: &str) -> Result<Option<Recorded>, String> {
        match self {
            Self::Pg(c) => postgres::recorded(c, schema, table).await,
            Self::My(c) => mysql::recorded(c, schema, table).await,
        }
    }

    async fn unchanged(&mut self, schema: &str, table: &str, recorded: &Recorded) -> Result<bool, String> {
        match self {
            Self::Pg(c) => postgres::unchanged(c, schema, table, recorded).await,
            Self::My(c) => mysql::unchanged(c, schema, table, recorded).await,
        }
    }

    fn engine(&self) -> Engine {
        match self {
            Self::Pg(_) => Engine::Postgres,
            Self::My(_) => Engine::MySql,
        }
    }

    fn normalize(&self, sql_type: &str) -> String {
        match self {
            Self::Pg(_) => sql_type.to_owned(),
            Self::My(_) => mysql::normalize(sql_type),
        }
    }

    async fn shape(&mut self, schema: &str, table: &str) -> Result<Option<Shape>, String> {
        match self {
            Self::Pg(c) => postgres::shape(c, schema, table).await,
            Self::My(c) => mysql::shape(c, schema, table).await,
        }
    }

    async fn create(&mut self, schema: &str, table: &str, columns: &[ColumnPlan], drop: bool) -> Result<(), String> {
        match self {
            Self::Pg(c) => postgres::create(c, schema, table, columns, drop).await,
            Self::My(c) => mysql::create(c, schema, table, columns, drop).await,
        }
    }

    async fn count(&mut self, schema: &str, table: &str) -> Result<u64, String> {
        match self {
            Self::Pg(c) => postgres::count(c, schema, table).await,
            Self::My(c) => mysql::count(c, schema, table).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn load(
        &mut self,
        schema: &str,
        table: &str,
        columns: &[ColumnPlan],
        replace: bool,
        expected: u64,
        provenance: &Provenance,
        chunks: mpsc::Receiver<Result<Bytes, String>>,
    ) -> Result<Loaded, String> {
        match self {
            Self::Pg(c) => postgres::load(c, schema, table, columns, replace, expected, provenance, chunks).await,
            Self::My(c) => mysql::load(c, schema, table, columns, replace, expected, provenance, chunks).await,
        }
    }
}
