//! Where the shell's SQL runs: DataFusion over exports discovered once for the session (a
//! folder or S3 in place), or the environment's Athena workgroup. Both answer the same
//! questions: the tables, a table's columns and partitions, and a statement's rows.

use std::future::Future;
use std::time::Duration;

use datafusion::prelude::SessionContext;
use s3exports_config::{Config, names};

use crate::aws::athena::{Athena, QueryError, ResultMode};
use crate::engine::{self, CatalogTable};
use crate::output::Rows;
use crate::source::metadata_cache::MetadataCache;

pub enum Engine {
    /// `cache` is the metadata cache the session's footers came from: a stale entry found when a
    /// statement fails is dropped from it.
    Local {
        ctx: SessionContext,
        tables: Vec<CatalogTable>,
        cache: MetadataCache,
    },
    Athena {
        config: Box<Config>,
        sdk: Box<aws_config::SdkConfig>,
        database: Option<String>,
    },
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { tables, .. } => write!(f, "Engine::Local({} tables)", tables.len()),
            Self::Athena { database, .. } => write!(f, "Engine::Athena({database:?})"),
        }
    }
}

/// How long a canceled statement is given to stop before the prompt comes back anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// A table as `\d` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<(String, String)>,
    /// `snapshot_date` values (or partitions, on Athena).
    pub snapshots: Vec<String>,
}

/// Why a statement produced no rows.
#[derive(Debug)]
pub enum RunError {
    Canceled(String),
    Failed(String),
}

impl Engine {
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Local { .. } => "DataFusion",
            Self::Athena { .. } => "Athena",
        }
    }

    /// Every table with its columns, for `\d` and completion.
    pub async fn tables(&self) -> Result<Vec<TableInfo>, String> {
        match self {
            Self::Local { ctx, tables, .. } => {
                let mut out = Vec::new();
                for name in engine::table_names(ctx) {
                    let provider = ctx.table_provider(name.as_str()).await.map_err(|e| e.to_string())?;
                    let columns = provider
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| (f.name().clone(), f.data_type().to_string()))
                        .collect();
                    let short = name.rsplit('.').next().unwrap_or(&name);
                    let mut snapshots: Vec<String> = tables
                        .iter()
                        .filter(|t| t.name == short)
                        .flat_map(|t| t.parts.iter().map(|p| format!("{} ({})", p.snapshot_date, p.export_id)))
                        .collect();
                    snapshots.sort();
                    snapshots.dedup();
                    out.push(TableInfo { name, columns, snapshots });
                }
                Ok(out)
            }
            Self::Athena { config, sdk, database } => athena_tables(config, sdk, database.as_deref()).await,
        }
    }

    /// Runs one statement; `cancel` resolving stops it (on Athena, with StopQueryExecution).
    pub async fn run(&self, sql: &str, cancel: impl Future<Output = ()>) -> Result<Rows, RunError> {
        match self {
            Self::Local { ctx, tables, cache } => {
                // On a task of its own, so Ctrl-C answers at once: aborting drops the plan's
                // streams, which stops the tasks DataFusion spawned. The plan yields often
                // enough for that to take effect at once (`engine::YieldAfterJoins`); the abort
                // is awaited (briefly), so the session is free when "canceled" is shown.
                let (session, statement) = (ctx.clone(), sql.to_owned());
                let mut running = tokio::spawn(async move { engine::query(&session, &statement).await });
                let rows = tokio::select! {
                    joined = &mut running => joined.map_err(|e| RunError::Failed(e.to_string()))?,
                    () = cancel => {
                        running.abort();
                        let _ = tokio::time::timeout(CANCEL_WAIT, running).await;
                        return Err(RunError::Canceled("canceled".into()));
                    }
                };
                match rows {
                    Ok(rows) => Ok(rows),
                    Err(e) => {
                        Err(RunError::Failed(engine::explain_failure(cache, ctx, tables, sql, e).await.to_string()))
                    }
                }
            }
            Self::Athena { config, sdk, database } => {
                let client = aws_sdk_athena::Client::new(sdk);
                let s3 = s3exports_cli::s3_client(sdk);
                let athena = Athena {
                    athena: &client,
                    s3: &s3,
                    workgroup: names::athena_workgroup(&config.environment),
                    database: database.clone(),
                    output_location: None,
                    results: ResultMode::Auto,
                    poll: Duration::from_millis(200),
                };
                match athena.run(sql, |_| {}, cancel).await {
                    Ok(done) => Ok(done.rows),
                    Err(QueryError::Canceled(id)) => {
                        Err(RunError::Canceled(format!("canceled: stopped Athena query {id}")))
                    }
                    Err(e) => Err(RunError::Failed(e.to_string())),
                }
            }
        }
    }
}

/// The Glue tables of the session's database (or every configured one), with their columns,
/// partition keys and partitions (GetTables and GetPartitions, all pages of each).
async fn athena_tables(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    database: Option<&str>,
) -> Result<Vec<TableInfo>, String> {
    let glue = aws_sdk_glue::Client::new(sdk);
    let databases: Vec<String> = match database {
        Some(d) => vec![d.to_owned()],
        None => config.databases.iter().map(|d| names::glue_database(&d.db_name)).collect(),
    };
    let mut out = Vec::new();
    for db in databases {
        let mut pages = glue.get_tables().database_name(&db).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("Glue database {db}: {}", s3exports_rds::error::error_text(e)))?;
            for t in page.table_list() {
                let mut columns: Vec<(String, String)> = t
                    .storage_descriptor()
                    .map(|sd| {
                        sd.columns()
                            .iter()
                            .map(|c| (c.name().to_owned(), c.r#type().unwrap_or("").to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                columns.extend(
                    t.partition_keys().iter().map(|c| (c.name().to_owned(), c.r#type().unwrap_or("").to_owned())),
                );
                let name = if database.is_some() { t.name().to_owned() } else { format!("{db}.{}", t.name()) };
                let partitions = crate::aws::glue::partition_values(&glue, &db, t.name())
                    .await
                    .map_err(|e| format!("partitions of {db}.{}: {e}", t.name()))?;
                let mut snapshots: Vec<String> = partitions
                    .iter()
                    .map(|values| match values.as_slice() {
                        [date, export_id, ..] => format!("{date} ({export_id})"),
                        other => other.join(", "),
                    })
                    .collect();
                snapshots.sort();
                out.push(TableInfo { name, columns, snapshots });
            }
        }
    }
    Ok(out)
}
