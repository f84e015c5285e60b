//! athenaq: list, audit and query RDS snapshot exports — on Athena, or locally with no AWS.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use athenaq::athena::{Athena, QueryError, ResultMode, ResultSource, approximate_cost_usd};
use athenaq::in_place::{self, Opened, Purpose, Source};
use athenaq::output::{Format, Rows};
use athenaq::{exports, glue, local, missing, verify};
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use s3exports_cli::{AwsArgs, s3_client};
use s3exports_config::{Config, EnvSelector, names};
use s3exports_rds::TaskFilter;
use s3exports_rds::sdk::describe_export_tasks;

#[derive(Debug, Parser)]
#[command(
    name = "athenaq",
    version,
    about = "List, audit and query RDS snapshot exports — on Athena, or locally with no AWS"
)]
struct Cli {
    /// Environment: dev, prod, or auto (from the git branch).
    #[arg(long, global = true, default_value = "prod")]
    env: EnvSelector,
    /// A config file to use instead of the one compiled in.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Output: a readable table, or csv / json (one object per row) for machines.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every export task of the environment's buckets, with storage tier, Athena readability and expiry.
    ListExports {
        /// Only this database (RDS instance or cluster id).
        #[arg(long)]
        db: Option<String>,
        /// Only this status (complete, failed, in_progress, ...).
        #[arg(long)]
        status: Option<String>,
        /// Only snapshots taken within this long (e.g. 7d, 36h).
        #[arg(long)]
        since: Option<humantime::Duration>,
        /// The day the storage tier is computed for (default today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Read exports from a folder of copies (no AWS needed), or in place from
        /// s3://BUCKET/PREFIX, instead of asking RDS.
        #[arg(long, conflicts_with = "missing", value_name = "DIR|s3://BUCKET/PREFIX")]
        local: Option<Source>,
        /// Skip the S3 listing of each export (storage_class, restore), when speed matters more.
        #[arg(long)]
        no_storage: bool,
        /// List instead the snapshots that have no export (none, or only failed ones), as the
        /// exporter's reconcile finds them; exit status 1 when there is any.
        #[arg(long, conflicts_with_all = ["status", "as_of"])]
        missing: bool,
    },
    /// The evidence that one export is whole: one row per check (pass, warn, fail); exit status 1
    /// when any check fails. `--format json|csv` for evidence files.
    Verify {
        /// The export task identifier.
        export_id: String,
        /// Read every part file's footer and check every object's encryption, not a sample.
        #[arg(long)]
        deep: bool,
    },
    /// Restore an export's objects from Glacier / Deep Archive: a plan first (objects, bytes,
    /// approximate cost, when ready), then the requests with --yes. Restored and restoring
    /// objects are counted, never requested again.
    Restore {
        /// The export task identifier.
        export_id: String,
        /// Only this table's folder (`schema.table` as RDS names it, e.g. `public.orders`).
        #[arg(long)]
        table: Option<String>,
        /// How long the restored copies stay readable.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i32).range(1..=30_000))]
        days: i32,
        /// Retrieval tier: bulk (cheapest), standard, or expedited (Glacier only).
        #[arg(long, value_enum, default_value = "bulk")]
        tier: athenaq::restore::Tier,
        /// Make the requests (without it, only the plan is shown).
        #[arg(long)]
        yes: bool,
        /// Show the plan and request nothing.
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
    },
    /// Download an export (or one table) into DIR in the layout `query --local` reads:
    /// concurrent, resumable (files already there whole are skipped); archived objects are
    /// refused with a pointer to `restore`.
    Pull {
        /// The export task identifier.
        export_id: String,
        /// The folder to download into (the export lands in DIR/<export id>/).
        dir: PathBuf,
        /// Only this table's folder (`schema.table` as RDS names it, e.g. `public.orders`).
        #[arg(long)]
        table: Option<String>,
    },
    /// Per database: the export charge of the last 30 days (by snapshot size) and the monthly
    /// storage of what its bucket holds, by storage class; restores in progress. Approximate.
    Cost {
        /// Only this database (RDS instance or cluster id).
        #[arg(long)]
        db: Option<String>,
    },
    /// Catalogued tables with their snapshots.
    Tables {
        /// Only this database's tables (RDS instance or cluster id).
        #[arg(long)]
        db: Option<String>,
        /// Read exports from a folder of copies (no AWS needed), or in place from
        /// s3://BUCKET/PREFIX, instead of Glue.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        local: Option<Source>,
    },
    /// Run SQL on the environment's Athena workgroup, or on a local copy.
    Query {
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
    },
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    match run().await {
        // `athenaq ... | head`: the reader has what it wanted; that is not a failure.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

async fn run() -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    let config = s3exports_cli::load_config(&cli.env, cli.config.as_deref())?;
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::ListExports { db, since, missing: true, .. } => {
            check_db(&config, db.as_deref(), false)?;
            let since = since.map(|d| s3exports_cli::since_time(Utc::now(), d.into())).transpose()?;
            let sdk = cli.aws.sdk_config().await;
            let rds = aws_sdk_rds::Client::new(&sdk);
            let found = missing::find(&rds, &config, db.as_deref(), since.unwrap_or(chrono::DateTime::UNIX_EPOCH))
                .await
                .map_err(|(doing, e)| anyhow::anyhow!("{doing}: {e}"))?;
            missing::to_rows(&found.gaps).render(cli.format, &mut stdout)?;
            eprintln!("{} of {} snapshot(s) examined have no export", found.gaps.len(), found.examined);
            if !found.gaps.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::ListExports { db, status, since, as_of, local, missing: false, no_storage } => {
            check_db(&config, db.as_deref(), local.is_some())?;
            let filter = exports::Filter {
                db,
                status,
                since: since.map(|d| s3exports_cli::since_time(Utc::now(), d.into())).transpose()?,
            };
            let as_of = as_of.unwrap_or_else(|| Utc::now().date_naive());
            let mut rows: Vec<exports::ExportRow> = match &local {
                Some(source) => open(source, Purpose::List, &cli.aws)
                    .await?
                    .found
                    .exports
                    .iter()
                    .map(|e| exports::from_local(e, &config))
                    .collect(),
                None => {
                    let sdk = cli.aws.sdk_config().await;
                    let rds = aws_sdk_rds::Client::new(&sdk);
                    let mut all = Vec::new();
                    for d in config.databases.iter().filter(|d| filter.db.as_ref().is_none_or(|db| db == &d.db_name)) {
                        let tasks = describe_export_tasks(
                            &rds,
                            &TaskFilter { s3_bucket: Some(d.s3_bucket_name.clone()), ..Default::default() },
                        )
                        .await
                        .with_context(|| format!("listing the exports of {}", d.db_name))?;
                        all.extend(tasks.iter().map(|t| exports::from_task(t, &config)));
                    }
                    if !no_storage {
                        exports::read_storage(&s3_client(&sdk), &mut all).await;
                    }
                    all
                }
            };
            rows.retain(|r| filter.keeps(r));
            rows.sort_by(|a, b| (a.snapshot_time, &a.export_id).cmp(&(b.snapshot_time, &b.export_id)));
            exports::to_rows(&rows, as_of).render(cli.format, &mut stdout)?;
        }
        Command::Verify { export_id, deep } => {
            let sdk = cli.aws.sdk_config().await;
            let clients = verify::Clients {
                rds: aws_sdk_rds::Client::new(&sdk),
                s3: s3_client(&sdk),
                glue: aws_sdk_glue::Client::new(&sdk),
            };
            let checks = verify::verify(&clients, &config, &export_id, deep).await?;
            verify::to_rows(&checks).render(cli.format, &mut stdout)?;
            let failed = checks.iter().filter(|c| c.status == verify::Status::Fail).count();
            let warned = checks.iter().filter(|c| c.status == verify::Status::Warn).count();
            eprintln!("{export_id}: {} checks, {failed} failed, {warned} warnings", checks.len());
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Pull { export_id, dir, table } => {
            let sdk = cli.aws.sdk_config().await;
            let s3 = s3_client(&sdk);
            let (task, mut objects) = export_objects(&sdk, &s3, &config, &export_id, table.as_deref()).await?;
            athenaq::restore::fill_restore_states(&s3, &task.s3_bucket, &mut objects).await?;
            let pulled = athenaq::pull::pull(&s3, &task.s3_bucket, &task.s3_prefix, &export_id, &objects, &dir).await?;
            eprintln!(
                "{}: {} file(s) downloaded ({:.1} MB), {} already there; `athenaq query --local {}` reads it",
                dir.display(),
                pulled.downloaded,
                pulled.bytes as f64 / 1e6,
                pulled.skipped,
                dir.display()
            );
        }
        Command::Restore { export_id, table, days, tier, yes, dry_run } => {
            let sdk = cli.aws.sdk_config().await;
            let s3 = s3_client(&sdk);
            let (task, mut objects) = export_objects(&sdk, &s3, &config, &export_id, table.as_deref()).await?;
            athenaq::restore::fill_restore_states(&s3, &task.s3_bucket, &mut objects).await?;
            let plan = athenaq::restore::Plan::of(&objects);
            for line in plan.describe(tier, days) {
                eprintln!("{line}");
            }
            if plan.to_request.is_empty() {
                eprintln!("nothing to request");
            } else if plan.cost(tier).is_none() {
                bail!("--tier {tier:?} does not apply to Deep Archive objects; use standard or bulk");
            } else if dry_run || !yes {
                eprintln!(
                    "dry run: nothing requested{}",
                    if dry_run { "" } else { "; add --yes to request these restores" }
                );
            } else {
                let outcome = athenaq::restore::request(&s3, &task.s3_bucket, &plan, tier, days).await;
                eprintln!(
                    "{} restore(s) requested, {} were restoring already, {} not archived, {} failed",
                    outcome.requested,
                    outcome.already_restoring,
                    outcome.not_archived,
                    outcome.failed.len()
                );
                for f in &outcome.failed {
                    eprintln!("  failed: {f}");
                }
                if !outcome.failed.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Cost { db } => {
            check_db(&config, db.as_deref(), false)?;
            let sdk = cli.aws.sdk_config().await;
            let (rds, s3) = (aws_sdk_rds::Client::new(&sdk), s3_client(&sdk));
            let (mut costs, mut failed) = (Vec::new(), 0);
            for d in config.databases.iter().filter(|d| db.as_ref().is_none_or(|n| n == &d.db_name)) {
                match athenaq::cost::database_cost(&rds, &s3, d, Utc::now()).await {
                    Ok(cost) => costs.push(cost),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed += 1;
                    }
                }
            }
            athenaq::cost::to_rows(&costs).render(cli.format, &mut stdout)?;
            eprintln!("approximate: {}", athenaq::cost::PRICES_AS_OF);
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Tables { db, local } => {
            check_db(&config, db.as_deref(), local.is_some())?;
            let rows = match &local {
                Some(source) => {
                    local_tables(open(source, Purpose::ReadData, &cli.aws).await?, &config, db.as_deref()).await?
                }
                None => {
                    let sdk = cli.aws.sdk_config().await;
                    let client = aws_sdk_glue::Client::new(&sdk);
                    let mut all = Vec::new();
                    for d in config.databases.iter().filter(|d| db.as_ref().is_none_or(|n| n == &d.db_name)) {
                        let database = names::glue_database(&d.db_name);
                        let tables = glue::tables(&client, &database)
                            .await
                            .map_err(anyhow::Error::msg)
                            .with_context(|| format!("listing Glue database {database}"))?;
                        match tables {
                            Some(tables) => all.extend(tables),
                            None => eprintln!(
                                "warning: Glue database {database} of {} does not exist (stack not deployed?)",
                                d.db_name
                            ),
                        }
                    }
                    glue::to_rows(&all)
                }
            };
            rows.render(cli.format, &mut stdout)?;
        }
        Command::Query { db, local, file, output_location, results, sql } => {
            let sql = match (file, sql) {
                (Some(path), _) => std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read SQL file {}", path.display()))?,
                (None, Some(sql)) => sql,
                (None, None) => bail!("give the SQL as an argument or with --file FILE"),
            };
            let started = Instant::now();
            if let Some(source) = &local {
                let opened = open(source, Purpose::ReadData, &cli.aws).await?;
                let exports = &opened.found.exports;
                let tables = local::catalog_tables(exports, Some(&config), db.as_deref());
                let ctx = local::session_in(opened.ctx, &tables).await?;
                let rows = match local::query(&ctx, &sql).await {
                    Ok(rows) => rows,
                    // A failure while reading data is most often a damaged copy: name the file.
                    Err(e @ local::LocalError::DataFusion(_)) => {
                        return Err(local::find_damaged_part(&ctx, &tables, &sql).await.unwrap_or(e).into());
                    }
                    Err(e) => return Err(e.into()),
                };
                rows.render(cli.format, &mut stdout)?;
                let place = if matches!(source, Source::S3 { .. }) { "in place" } else { "locally" };
                eprintln!(
                    "{} row(s) in {:.3} s, {place} over {} export(s)",
                    rows.rows.len(),
                    started.elapsed().as_secs_f64(),
                    exports.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            check_db(&config, db.as_deref(), false)?;
            let database = match &db {
                Some(d) => Some(names::glue_database(d)),
                None if config.databases.len() == 1 => Some(names::glue_database(&config.databases[0].db_name)),
                None => None,
            };
            warn_of_archived_snapshots(&config, &sql, database.as_deref(), &cli.aws).await;
            let target = AthenaTarget { database, output_location, results };
            return run_athena(&config, target, &sql, cli.format, &cli.aws, &mut stdout).await;
        }
    }
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
    aws: &AwsArgs,
    stdout: &mut impl Write,
) -> Result<ExitCode> {
    let sdk = aws.sdk_config().await;
    let athena_client = aws_sdk_athena::Client::new(&sdk);
    let s3 = s3_client(&sdk);
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
    let progress = |p: &athenaq::athena::Progress| {
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

fn human_bytes(bytes: i64) -> String {
    let b = bytes as f64;
    if bytes < 1_000_000 {
        format!("{:.1} KB", b / 1e3)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

async fn local_tables(opened: Opened, config: &Config, db: Option<&str>) -> Result<Rows> {
    let tables = local::catalog_tables(&opened.found.exports, Some(config), db);
    let mut rows = Rows::new(&[
        ("database", false),
        ("table", false),
        ("columns", true),
        ("rows", true),
        ("snapshots", true),
        ("latest_snapshot", false),
        ("schema", false),
    ]);
    for t in &tables {
        let (count, columns) = local::footer_stats(&opened.ctx, t).await?;
        let schema: Vec<String> = columns.iter().map(|(n, ty)| format!("{n} {ty}")).collect();
        rows.rows.push(vec![
            t.glue_database.clone(),
            Some(t.name.clone()),
            Some(columns.len().to_string()),
            Some(count.to_string()),
            Some(t.parts.len().to_string()),
            t.parts.iter().map(|p| p.0.clone()).max(),
            Some(schema.join(", ")),
        ]);
    }
    Ok(rows)
}

fn check_db(config: &Config, db: Option<&str>, local: bool) -> Result<()> {
    if let Some(db) = db {
        if !local && config.database(db).is_none() {
            let known: Vec<&str> = config.databases.iter().map(|d| d.db_name.as_str()).collect();
            bail!(
                "database `{db}` is not configured in {}; configured: {}",
                config.environment,
                if known.is_empty() { "none".into() } else { known.join(", ") }
            );
        }
    }
    Ok(())
}

/// The exports a `--local` argument holds; what discovery left out is said on stderr.
async fn open(source: &Source, purpose: Purpose, aws: &AwsArgs) -> Result<Opened> {
    let opened = in_place::open(source, purpose, || aws.sdk_config()).await?;
    for skipped in &opened.found.skipped {
        eprintln!("warning: skipped {skipped}");
    }
    Ok(opened)
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
async fn warn_of_archived_snapshots(config: &Config, sql: &str, database: Option<&str>, aws: &AwsArgs) {
    let read = athenaq::tiers::databases_read(config, sql, database);
    if read.is_empty() {
        return;
    }
    let rds = aws_sdk_rds::Client::new(&aws.sdk_config().await);
    let today = Utc::now().date_naive();
    for d in read {
        match describe_export_tasks(&rds, &TaskFilter::bucket(&d.s3_bucket_name)).await {
            Ok(tasks) => {
                if let Some((count, newest, example)) = athenaq::tiers::archived(&tasks, &d.lifecycle, today) {
                    eprintln!("{}", athenaq::tiers::warning(&d.db_name, count, newest, &example));
                }
            }
            Err(e) => eprintln!("warning: could not check which snapshots of {} are archived: {e}", d.db_name),
        }
    }
}

/// An export's task and objects, or one table's (`schema.table`, its folder name).
async fn export_objects(
    sdk: &aws_config::SdkConfig,
    s3: &aws_sdk_s3::Client,
    config: &Config,
    export_id: &str,
    table: Option<&str>,
) -> Result<(s3exports_rds::ExportTask, Vec<athenaq::objects::Object>)> {
    let (task, _) = verify::find_export(&aws_sdk_rds::Client::new(sdk), config, export_id).await?;
    let folder = athenaq::objects::export_folder(&task);
    let objects = athenaq::objects::list(s3, &task.s3_bucket, &folder)
        .await
        .with_context(|| format!("listing s3://{}/{folder}", task.s3_bucket))?;
    let Some(table) = table else { return Ok((task, objects)) };
    let in_table = |o: &&athenaq::objects::Object| o.key.split('/').any(|segment| segment == table);
    if !objects.iter().any(|o| in_table(&o)) {
        let mut folders: Vec<&str> = objects
            .iter()
            .filter_map(|o| {
                o.key.split('/').find(|s| s.contains('.') && !s.ends_with(".json") && !s.ends_with(".parquet"))
            })
            .collect();
        folders.sort_unstable();
        folders.dedup();
        bail!("export {export_id} has no table folder `{table}`; it has: {}", folders.join(", "));
    }
    // The table's files, and the export's JSON files that say what it is (so `query --local`
    // finds it; they are small, never archived).
    let of_table = objects.iter().filter(|o| in_table(o) || o.key.ends_with(".json")).cloned().collect();
    Ok((task, of_table))
}
