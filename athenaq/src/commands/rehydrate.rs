//! `rehydrate EXPORT_ID --into URL`: the export back in a real PostgreSQL or MySQL/MariaDB,
//! with the original types, every row and exact values, and a row of proof per table.
//! Another rehydrate loading the same table is waited for (`--lock-wait`), and a table is
//! "already loaded" only when the target's record of its load names this export.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use s3exports_rehydrate::load::{self, Notify, Options, Progress};
use s3exports_rehydrate::{Engine, Target};

use super::Context;
use crate::output::Rows;
use crate::rehydrate::{Planned, check_databases, notes, plan, select, source_engine};
use crate::source::discover::LocalExport;
use crate::source::{Purpose, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export task identifier.
    export_id: String,
    /// The database to load into: postgresql://USER@HOST:PORT/DATABASE or mysql://USER@HOST:PORT/DATABASE
    /// (password from the URL, PGPASSWORD or ~/.pgpass, or MYSQL_PWD).
    #[arg(long)]
    into: String,
    /// Read the export from a copy (DIR) or an S3 prefix instead of its own bucket.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    local: Option<Source>,
    /// Only this table (`schema.table`, or `database.schema.table`; MySQL: `table` or
    /// `database.table`); repeat for more.
    #[arg(long = "table", value_name = "TABLE")]
    tables: Vec<String>,
    /// Create the schemas and tables, load no rows.
    #[arg(long)]
    schema_only: bool,
    /// Tables loaded at once, each on its own connection.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    jobs: u16,
    /// Replace a table that exists with other columns (otherwise an error). Views are never
    /// dropped.
    #[arg(long)]
    drop_existing: bool,
    /// Seconds to wait for another rehydrate loading the same table to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    lock_wait: u64,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        let target = Target::parse(&self.into, &|k| std::env::var(k).ok())?;
        let (export, session, manifest) = self.open_export(ctx).await?;
        let id = export.info.export_task_identifier.clone();
        let engine = source_engine(&export)
            .with_context(|| format!("export {id} lists no exported table in its export_tables_info"))?;
        if engine != target.engine {
            bail!(
                "export {id} is of a {engine} database; rehydrate it into {} (--into {} is {})",
                if engine == Engine::Postgres { "postgresql://..." } else { "mysql://..." },
                target.display(),
                target.engine
            );
        }
        let tables = select(&export, &self.tables).map_err(anyhow::Error::msg)?;
        check_databases(engine, &tables).map_err(anyhow::Error::msg)?;
        if let Some(warning) = load::check(&target).await? {
            eprintln!("warning: {warning}");
        }
        let manifest_sha256 = manifest.as_ref().map(|m| m.sha256.clone());

        let mut jobs = Vec::new();
        let mut refused = Vec::new();
        for candidate in &tables {
            let sealed = manifest
                .as_ref()
                .and_then(|m| m.manifest.tables.iter().find(|t| t.target == candidate.entry.target))
                .and_then(|t| t.rows);
            match plan(&session, engine, candidate, sealed, &id, manifest_sha256.as_deref()).await {
                Planned::Job(job, table_notes) => {
                    for note in notes(&job, &table_notes) {
                        eprintln!("note: {note}");
                    }
                    jobs.push(job);
                }
                Planned::Refused { source, why } => refused.push((source, why)),
            }
        }
        eprintln!(
            "{} {} table(s) of export {id} into {}, {} at a time",
            if self.schema_only { "creating" } else { "loading" },
            jobs.len(),
            target.display(),
            self.jobs
        );
        let (progress, bars) = progress_bars(&jobs);
        let options = Options {
            schema_only: self.schema_only,
            drop_existing: self.drop_existing,
            jobs: usize::from(self.jobs),
            lock_wait: Duration::from_secs(self.lock_wait),
        };
        let notify: Notify = Arc::new(|text: &str| eprintln!("note: {text}"));
        let started = Instant::now();
        let reports = load::run(&target, jobs, options, progress, notify).await;
        for bar in bars.iter() {
            bar.finish_and_clear();
        }

        let mut rows = Rows::new(&[
            ("table", false),
            ("into", false),
            ("rows_expected", true),
            ("rows_loaded", true),
            ("seconds", true),
            ("status", false),
        ]);
        let mut failed = !refused.is_empty();
        let mut total = 0u64;
        for r in &reports {
            failed |= r.status.is_failure();
            total += r.loaded.unwrap_or(0);
            rows.rows.push(vec![
                Some(r.source.clone()),
                Some(r.target.clone()),
                Some(r.expected.to_string()),
                r.loaded.map(|n| n.to_string()),
                Some(format!("{:.2}", r.seconds)),
                Some(r.status.text()),
            ]);
        }
        for (source, why) in &refused {
            rows.rows.push(vec![Some(source.clone()), None, None, None, None, Some(format!("refused: {why}"))]);
        }
        rows.render(ctx.format, &mut std::io::stdout().lock())?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{} table(s), {total} rows in {seconds:.1} s ({:.0} rows/s); row counts checked against the {}",
            reports.len() + refused.len(),
            total as f64 / seconds.max(1e-9),
            reports.first().map_or("part footers", |r| r.expected_from)
        );
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }

    /// The export, the session that reads its part files, and its manifest when it is read from
    /// its own bucket and has one.
    async fn open_export(
        &self,
        ctx: &Context,
    ) -> Result<(LocalExport, datafusion::prelude::SessionContext, Option<s3exports_evidence::record::Recorded>)> {
        let (source, manifest) = match &self.local {
            Some(source) => (source.clone(), None),
            None => {
                let sdk = ctx.sdk().await;
                let rds = aws_sdk_rds::Client::new(&sdk);
                let (task, db) = crate::audit::verify::find_export(&rds, &ctx.config, &self.export_id).await?;
                let folder = task.folder().trim_end_matches('/').to_owned();
                let s3 = s3exports_cli::s3_client(&sdk);
                let key = s3exports_config::names::manifest_key(&task.s3_prefix, &db.db_name, &task.id);
                let manifest = match s3exports_evidence::record::read_manifest(&s3, &task.s3_bucket, &key).await {
                    Ok(found) => found,
                    Err(e) => {
                        eprintln!(
                            "warning: the export's manifest s3://{}/{key} cannot be read ({e}); counting its part footers",
                            task.s3_bucket
                        );
                        None
                    }
                };
                (Source::S3 { bucket: task.s3_bucket.clone(), prefix: folder }, manifest)
            }
        };
        let opened = ctx.open(&source, Purpose::ReadData).await?;
        let id = &self.export_id;
        if let Some(export) = opened.found.exports.iter().find(|e| e.info.export_task_identifier == *id) {
            return Ok((export.clone(), opened.ctx, manifest));
        }
        if let Some(skipped) = opened.found.skipped.iter().find(|s| s.reason.contains(id.as_str())) {
            bail!("export {id} cannot be read: {}", skipped.reason);
        }
        let found: Vec<&str> = opened.found.exports.iter().map(|e| e.info.export_task_identifier.as_str()).collect();
        bail!(
            "no export {id} in {source}; it holds: {}",
            if found.is_empty() { "none".to_owned() } else { found.join(", ") }
        )
    }
}

/// A bar per table (rows of the expected, rows a second) on a terminal; none elsewhere.
fn progress_bars(jobs: &[s3exports_rehydrate::TableJob]) -> (Progress, Arc<Vec<ProgressBar>>) {
    let terminal = std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("{msg:30} [{bar:25}] {human_pos}/{human_len} rows {per_sec} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bars: Vec<(String, ProgressBar)> = jobs
        .iter()
        .map(|j| {
            let bar = if terminal { multi.add(ProgressBar::new(j.expected)) } else { ProgressBar::hidden() };
            bar.set_style(style.clone());
            bar.set_message(j.source.clone());
            bar.enable_steady_tick(Duration::from_millis(250));
            (j.source.clone(), bar)
        })
        .collect();
    let only: Arc<Vec<ProgressBar>> = Arc::new(bars.iter().map(|(_, b)| b.clone()).collect());
    let by_table = Arc::new(bars);
    let progress: Progress = Arc::new(move |table: &str, rows: u64| {
        if let Some((_, bar)) = by_table.iter().find(|(t, _)| t == table) {
            bar.inc(rows);
        }
    });
    (progress, only)
}
