//! One table at a time, up to `jobs` at once, each on its own connection: the table created
//! (or recognised from an earlier run), its rows streamed from record batches through the
//! encoder into the engine's bulk load, and its count proven against what the export says it
//! holds before the transaction commits.

use std::sync::Arc;
use std::time::Instant;

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
    pub batches: OpenBatches,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Loaded,
    /// Already there with the expected count: left alone.
    AlreadyLoaded,
    /// There with another count (a partial load): emptied and loaded again.
    Reloaded {
        had: u64,
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
            Self::Reloaded { had } => format!("reloaded (had {had} rows)"),
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

/// Checks the target is reachable and the credentials good, once, before any table.
pub async fn check(target: &Target) -> Result<(), LoadError> {
    Conn::open(target).await.map(|_| ())
}

/// Every table, `options.jobs` at a time, in the order given (reports in the same order).
pub async fn run(target: &Target, jobs: Vec<TableJob>, options: Options, progress: Progress) -> Vec<TableReport> {
    let width = options.jobs.max(1);
    stream::iter(jobs)
        .map(|job| {
            let progress = progress.clone();
            async move { one(target, job, options, progress).await }
        })
        .buffered(width)
        .collect()
        .await
}

async fn one(target: &Target, job: TableJob, options: Options, progress: Progress) -> TableReport {
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
    match load_table(target, job, options, progress).await {
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
) -> Result<(Status, Option<u64>), String> {
    let mut conn = Conn::open(target).await.map_err(|e| e.to_string())?;
    let (schema, table) = (job.schema.as_str(), job.table.as_str());
    let planned: Vec<(String, String)> =
        job.columns.iter().map(|c| (c.name.clone(), conn.normalize(&c.sql_type))).collect();
    let mut had = None;
    match conn.shape(schema, table).await? {
        None => conn.create(schema, table, &job.columns, false).await?,
        Some(existing) if existing != planned => {
            if !options.drop_existing {
                return Err(format!(
                    "{schema}.{table} exists with other columns ({}), not the export's ({}): rehydrate into another \
                     database, or pass --drop-existing to replace it",
                    describe(&existing),
                    describe(&planned)
                ));
            }
            conn.create(schema, table, &job.columns, true).await?;
        }
        Some(_) => {
            let n = conn.count(schema, table).await?;
            if n == job.expected && !options.schema_only {
                return Ok((Status::AlreadyLoaded, Some(n)));
            }
            had = Some(n);
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
    let replace = had.is_some_and(|n| n > 0);
    let loaded = conn.load(schema, table, &job.columns, replace, job.expected, rx).await;
    // The producer's own error reached the load through the channel; this only reaps it.
    let _ = producer.await;
    let loaded = loaded
        .map_err(|why| format!("{why}; the load was rolled back, so {schema}.{table} holds what it held before"))?;
    match loaded {
        Loaded::Committed(n) => {
            Ok((if replace { Status::Reloaded { had: had.unwrap_or(0) } } else { Status::Loaded }, Some(n)))
        }
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
        if let Err(e) = write_batch(engine, &batch, &rules, &names, &mut buf) {
            let _ = tx.send(Err(e.to_string())).await;
            return;
        }
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
    async fn open(target: &Target) -> Result<Self, LoadError> {
        Ok(match target.engine {
            Engine::Postgres => Self::Pg(postgres::connect(target).await?),
            Engine::MySql => Self::My(mysql::connect(target).await?),
        })
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

    async fn shape(&mut self, schema: &str, table: &str) -> Result<Option<Vec<(String, String)>>, String> {
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

    async fn load(
        &mut self,
        schema: &str,
        table: &str,
        columns: &[ColumnPlan],
        replace: bool,
        expected: u64,
        chunks: mpsc::Receiver<Result<Bytes, String>>,
    ) -> Result<Loaded, String> {
        match self {
            Self::Pg(c) => postgres::load(c, schema, table, columns, replace, expected, chunks).await,
            Self::My(c) => mysql::load(c, schema, table, columns, replace, expected, chunks).await,
        }
    }
}
