//! `cost`: per database, the export charge of the last 30 days and the monthly storage of what
//! its bucket holds, by storage class; restores in progress. Approximate, with the prices'
//! region and date.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use s3exports_cli::s3_client;

use super::Context;
use crate::audit::cost::{database_cost, to_rows};
use crate::aws::s3::RestoreListing;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this database (RDS instance or cluster id).
    #[arg(long)]
    db: Option<String>,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        ctx.check_db(self.db.as_deref(), false)?;
        let sdk = ctx.sdk().await;
        let (rds, s3) = (aws_sdk_rds::Client::new(&sdk), s3_client(&sdk));
        let listing = RestoreListing::for_sdk(&sdk);
        let (mut costs, mut failed) = (Vec::new(), 0);
        for d in ctx.config.selected(self.db.as_deref()) {
            match database_cost(&rds, &s3, d, Utc::now(), listing).await {
                Ok(cost) => costs.push(cost),
                Err(e) => {
                    eprintln!("error: {e}");
                    failed += 1;
                }
            }
        }
        to_rows(&costs).render(ctx.format, &mut std::io::stdout().lock())?;
        eprintln!("approximate: {}", crate::audit::prices::SOURCE);
        if let Some(warning) = crate::audit::prices::region_warning(sdk.region().map(|r| r.as_ref())) {
            eprintln!("{warning}");
        }
        Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
