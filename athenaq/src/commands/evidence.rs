//! `evidence`: the chain of manifests of each database, one row per export; the file an
//! auditor keeps (`--format json`). Exit status 1 when a chain is broken or a complete export
//! has no manifest.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use s3exports_cli::s3_client;

use super::Context;
use crate::audit::evidence::{database_evidence, to_rows};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this database (RDS instance or cluster id).
    #[arg(long)]
    db: Option<String>,
    /// Only exports of snapshots taken within this long (e.g. 30d).
    #[arg(long, value_parser = s3exports_cli::parse_since, allow_hyphen_values = true)]
    since: Option<Duration>,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        ctx.check_db(self.db.as_deref(), false)?;
        let since = self.since.map(|d| s3exports_cli::since_time(Utc::now(), d)).transpose()?;
        let sdk = ctx.sdk().await;
        let (rds, s3) = (aws_sdk_rds::Client::new(&sdk), s3_client(&sdk));
        let (mut all, mut failed) = (Vec::new(), false);
        for d in ctx.config.selected(self.db.as_deref()) {
            match database_evidence(&rds, &s3, d, since).await {
                Ok(rows) => all.extend(rows),
                Err(e) => {
                    eprintln!("error: {}: {e}", d.db_name);
                    failed = true;
                }
            }
        }
        to_rows(&all).render(ctx.format, &mut std::io::stdout().lock())?;
        let findings: Vec<_> = all.iter().filter(|r| r.is_finding()).collect();
        for r in &findings {
            eprintln!("{} {}: {}", r.database, r.export_id, r.chain);
        }
        eprintln!("{} export(s), {} finding(s)", all.len(), findings.len());
        Ok(if failed || !findings.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
