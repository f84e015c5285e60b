//! `list-exports`: every export of the environment's buckets with tier, readability, expiry and
//! what S3 really holds; or, with `--missing`, the snapshots that have no export.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{NaiveDate, Utc};
use s3exports_cli::s3_client;
use s3exports_rds::TaskFilter;
use s3exports_rds::sdk::describe_export_tasks;

use super::Context;
use crate::audit::exports::{self, ExportRow};
use crate::audit::missing;
use crate::aws::s3::RestoreListing;
use crate::source::{Purpose, Source};

/// The statuses DescribeExportTasks reports.
const STATUSES: [&str; 6] = ["complete", "failed", "in_progress", "starting", "canceling", "canceled"];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this database (RDS instance or cluster id).
    #[arg(long)]
    db: Option<String>,
    /// Only this status.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STATUSES), ignore_case = true)]
    status: Option<String>,
    /// Only snapshots taken within this long (e.g. 7d, 36h).
    #[arg(long, value_parser = s3exports_cli::parse_since, allow_hyphen_values = true)]
    since: Option<Duration>,
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
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        if self.missing {
            return self.run_missing(ctx).await;
        }
        ctx.check_db(self.db.as_deref(), self.local.is_some())?;
        let filter = exports::Filter {
            db: self.db.clone(),
            status: self.status.clone(),
            since: self.since.map(|d| s3exports_cli::since_time(Utc::now(), d)).transpose()?,
        };
        let as_of = self.as_of.unwrap_or_else(|| Utc::now().date_naive());
        let mut rows: Vec<ExportRow> = match &self.local {
            Some(source) => ctx
                .open(source, Purpose::List)
                .await?
                .found
                .exports
                .iter()
                .map(|e| exports::from_local(e, &ctx.config))
                .collect(),
            None => self.read_rds(ctx, &filter).await?,
        };
        rows.retain(|r| filter.keeps(r));
        rows.sort_by(|a, b| (a.snapshot_time, &a.export_id).cmp(&(b.snapshot_time, &b.export_id)));
        exports::to_rows(&rows, as_of).render(ctx.format, &mut std::io::stdout().lock())?;
        Ok(ExitCode::SUCCESS)
    }

    async fn read_rds(&self, ctx: &Context, filter: &exports::Filter) -> Result<Vec<ExportRow>> {
        let sdk = ctx.sdk().await;
        let rds = aws_sdk_rds::Client::new(&sdk);
        let mut all = Vec::new();
        for d in ctx.config.selected(filter.db.as_deref()) {
            let tasks = describe_export_tasks(&rds, &TaskFilter::bucket(&d.s3_bucket_name))
                .await
                .with_context(|| format!("listing the exports of {}", d.db_name))?;
            all.extend(tasks.iter().map(|t| exports::from_task(t, &ctx.config)));
        }
        if !self.no_storage {
            exports::read_storage(&s3_client(&sdk), &mut all, RestoreListing::for_sdk(&sdk)).await;
        }
        Ok(all)
    }

    async fn run_missing(&self, ctx: &Context) -> Result<ExitCode> {
        ctx.check_db(self.db.as_deref(), false)?;
        let since = self.since.map(|d| s3exports_cli::since_time(Utc::now(), d)).transpose()?;
        let rds = aws_sdk_rds::Client::new(&ctx.sdk().await);
        let found = missing::find(&rds, &ctx.config, self.db.as_deref(), since.unwrap_or(chrono::DateTime::UNIX_EPOCH))
            .await
            .map_err(|(doing, e)| anyhow::anyhow!("{doing}: {e}"))?;
        missing::to_rows(&found.gaps).render(ctx.format, &mut std::io::stdout().lock())?;
        eprintln!("{} of {} snapshot(s) examined have no export", found.gaps.len(), found.examined);
        Ok(if found.gaps.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }
}
