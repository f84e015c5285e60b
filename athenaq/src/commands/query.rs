//! `query`: SQL on the environment's Athena workgroup (tier-aware: archived snapshots are named
//! before the query runs), or with DataFusion on exports in a folder or read in place on S3.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use s3exports_cli::s3_client;
use s3exports_config::{Config, names};
use s3exports_rds::TaskFilter;
use s3exports_rds::sdk::describe_export_tasks;

use super::Context;
use crate::aws::athena::{Athena, Progress, QueryError, ResultMode, ResultSource, approximate_cost_usd};
use crate::engine;
use crate::output::{Format, human_bytes};
use crate::source::{Purpose, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this database's tables (RDS instance or cluster id); with Athena, the default
    /// Glue database for unqualified table names.
    #[arg(long)]
    db: Option<String>,
    /// Run the SQL here with DataFusion instead of Athena: on a folder of copied exports (no
    /// AWS needed), or on exports read in place from s3://BUCKET/PREFIX.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    local: Option<Source>,
    /// Read the SQL from a file.
    #[arg(long, conflicts_with = "sql")]
    file: Option<PathBuf>,
    /// Where Athena writes the results (s3://...); default: the workgroup's, which it enforces.
    #[arg(long)]
    output_location: Option<String>,
    /// How to fetch results: auto (API for one page, else the result file), api, or file.
    #[arg(long, value_enum, default_value = "auto")]
    results: ResultMode,
    /// The SQL (Athena's dialect; tables named as in Glue, with snapshot_date and export_id).
    sql: Option<String>,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        let sql = match (&self.file, &self.sql) {
            (Some(path), _) => {
                std::fs::read_to_string(path).with_context(|| format!("cannot read SQL file {}", path.display()))?
            }
            (None, Some(sql)) => sql.clone(),
            (None, None) => bail!("give the SQL as an argument or with --file FILE"),
        };
        if let Some(source) = &self.local {
            return run_local(ctx, source, self.db.as_deref(), &sql).await;
        }
        ctx.check_db(self.db.as_deref(), false)?;
        let database = ctx.default_glue_database(self.db.as_deref());
        let sdk = ctx.sdk().await;
        warn_of_archived_snapshots(&ctx.config, &sql, database.as_deref(), &sdk).await;
        let target = AthenaTarget { database, output_location: self.output_location, results: self.results };
        run_athena(&ctx.config, target, &sql, ctx.format, &sdk, &mut std::io::stdout().lock()).await
    }
}

async fn run_local(ctx: &Context, source: &Source, db: Option<&str>, sql: &str) -> Result<ExitCode> {
    let started = Instant::now();
    let opened = ctx.open(source, Purpose::ReadData).await?;
    let exports = &opened.found.exports;
    let tables = engine::catalog_tables(exports, Some(&ctx.config), db);
    let session = engine::session_in(opened.ctx.clone(), &tables).await?;
    let rows = match engine::query(&session, sql).await {
        Ok(rows) => rows,
        // A failure while reading data is most often a damaged copy: name the file.
        Err(e @ engine::EngineError::DataFusion(_)) => {
            return Err(engine::explain_failure(&opened.cache, &session, &tables, sql, e).await.into());
        }
        Err(e) => return Err(e.into()),
    };
    opened.remember(&session);
    rows.render(ctx.format, &mut std::io::stdout().lock())?;
    let place = if matches!(source, Source::S3 { .. }) { "in place" } else { "locally" };
    let cached = match opened.cache.footer_hits() {
        0 => String::new(),
        n => format!(" ({n} of {} part file(s)' metadata from the cache)", opened.parts.len()),
    };
    eprintln!(
        "{} row(s) in {:.3} s, {place} over {} export(s){cached}",
        rows.rows.len(),
        started.elapsed().as_secs_f64(),
        exports.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug)]
struct AthenaTarget {
    database: Option<String>,
    output_location: Option<String>,
    results: ResultMode,
}

async fn run_athena(
    config: &Config,
    target: AthenaTarget,
    sql: &str,
    format: Format,
    sdk: &aws_config::SdkConfig,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let athena_client = aws_sdk_athena::Client::new(sdk);
    let s3 = s3_client(sdk);
    if let Some(location) = &target.output_location {
        warn_if_enforced(&athena_client, &names::athena_workgroup(&config.environment), location).await;
    }
    let athena = Athena {
        athena: &athena_client,
        s3: &s3,
        workgroup: names::athena_workgroup(&config.environment),
        database: target.database,
        output_location: target.output_location,
        results: target.results,
        poll: Duration::from_millis(200),
    };
    let terminal = std::io::stderr().is_terminal();
    let mut last_state = String::new();
    let progress = |p: &Progress| {
        let line =
            format!("{:<9} {:>7.1} s  {} scanned", p.state, p.elapsed_ms as f64 / 1000.0, human_bytes(p.scanned_bytes));
        if terminal {
            eprint!("\r{line}   ");
        } else if p.state != last_state {
            eprintln!("{line}");
        }
        last_state = p.state.clone();
    };
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = athena.run(sql, progress, cancel).await;
    if terminal {
        eprintln!();
    }
    match result {
        Ok(done) => {
            done.rows.render(format, stdout)?;
            eprintln!(
                "query {}: {} row(s), {:.1} s, {} scanned, approximate cost ${:.4}{}",
                done.id,
                done.rows.rows.len(),
                done.elapsed_ms as f64 / 1000.0,
                human_bytes(done.scanned_bytes),
                approximate_cost_usd(done.scanned_bytes),
                if done.source == ResultSource::ResultFile { " (read from the result file)" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(QueryError::Canceled(id)) => {
            eprintln!("canceled: stopped Athena query {id}");
            Ok(ExitCode::from(130))
        }
        Err(e) => Err(e.into()),
    }
}

/// `--output-location` has no effect when the workgroup enforces its own configuration (ours
/// does): say so before the query runs, rather than let results appear elsewhere.
async fn warn_if_enforced(athena: &aws_sdk_athena::Client, workgroup: &str, location: &str) {
    let enforced = athena
        .get_work_group()
        .work_group(workgroup)
        .send()
        .await
        .ok()
        .and_then(|w| w.work_group()?.configuration()?.enforce_work_group_configuration());
    if enforced == Some(true) {
        eprintln!(
            "warning: --output-location {location} has no effect: workgroup {workgroup} enforces its own result location"
        );
    }
}

/// Before an Athena query: a warning for each database it reads whose older snapshots the
/// lifecycle has archived, since Athena skips those objects without an error.
async fn warn_of_archived_snapshots(config: &Config, sql: &str, database: Option<&str>, sdk: &aws_config::SdkConfig) {
    let read = crate::audit::lifecycle::databases_read(config, sql, database);
    if read.is_empty() {
        return;
    }
    let rds = aws_sdk_rds::Client::new(sdk);
    let today = chrono::Utc::now().date_naive();
    for d in read {
        match describe_export_tasks(&rds, &TaskFilter::bucket(&d.s3_bucket_name)).await {
            Ok(tasks) => {
                if let Some((count, newest, example)) = crate::audit::lifecycle::archived(&tasks, &d.lifecycle, today) {
                    eprintln!("{}", crate::audit::lifecycle::warning(&d.db_name, count, newest, &example));
                }
            }
            Err(e) => eprintln!("warning: could not check which snapshots of {} are archived: {e}", d.db_name),
        }
    }
}
