//! `exporter evidence --backfill`: manifests (and seals) the completed exports that have none,
//! oldest snapshot first, so each database's chain starts at the oldest export in its bucket.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use s3exports_exporter::aws::Aws;
use s3exports_exporter::aws::sdk::SdkAws;
use s3exports_rds::TaskFilter;

use super::common::{RunArgs, cataloguer, settings_for, target_source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the manifests of completed exports that have none (the only action there is).
    #[arg(long)]
    backfill: bool,
    /// Only this database.
    #[arg(long)]
    db: Option<String>,
    /// Per-database export targets as JSON (keyed by database id) instead of the
    /// parameters the database stacks publish.
    #[arg(long)]
    targets: Option<PathBuf>,
    #[command(flatten)]
    aws: RunArgs,
}

impl Args {
    pub async fn run(self) -> Result<ExitCode> {
        if !self.backfill {
            bail!("say what to do: --backfill writes the manifests completed exports lack");
        }
        let sdk = self.aws.sdk.sdk_config().await;
        let settings = settings_for(&self.aws.env, self.aws.dry_run, false)?;
        let edge = SdkAws::from_config(&sdk, target_source(&sdk, &settings, self.targets.as_deref())?);
        let cataloguer = cataloguer(&sdk, &settings);
        let mut targets = edge.targets().await.map_err(|e| anyhow::anyhow!("listing the export targets: {e}"))?;
        if let Some(only) = &self.db {
            let known: Vec<String> = targets.iter().map(|(db, _)| db.clone()).collect();
            targets.retain(|(db, _)| db.eq_ignore_ascii_case(only));
            if targets.is_empty() {
                bail!(
                    "database `{only}` has no export target in {}; there are: {}",
                    settings.environment,
                    known.join(", ")
                );
            }
        }
        if targets.is_empty() {
            bail!(
                "no export target in environment {}: deploy the database stacks, or pass --targets FILE",
                settings.environment
            );
        }
        let mut failed = 0;
        for (db, target) in &targets {
            let tasks = edge
                .export_tasks(&TaskFilter::bucket(&target.s3_bucket_name))
                .await
                .map_err(|e| anyhow::anyhow!("listing the exports of {db}: {e}"))?;
            let done = cataloguer
                .backfill(db, target, tasks, self.aws.dry_run)
                .await
                .map_err(|e| anyhow::anyhow!("listing the exports in s3://{}: {e}", target.s3_bucket_name))?;
            for line in &done {
                println!("{}", serde_json::to_string(line)?);
            }
            let count = |outcome: &str| done.iter().filter(|l| l.outcome == outcome).count();
            failed += count("error");
            eprintln!(
                "{db}: {} written, {} already there, {} to write, {} failed",
                count("written"),
                count("already there"),
                count("would write"),
                count("error")
            );
        }
        Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
