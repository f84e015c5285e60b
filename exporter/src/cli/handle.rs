//! `exporter handle --event FILE`: the exporting function's handler on one Lambda event.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use s3exports_exporter::aws::sdk::SdkAws;
use s3exports_exporter::handle;

use super::common::{EventRun, print_decisions, read_event, settings_for, target_source};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    run: EventRun,
    /// Per-database export targets as JSON (keyed by database id) instead of the
    /// parameters the database stacks publish.
    #[arg(long)]
    targets: Option<PathBuf>,
}

impl Args {
    pub async fn run(self) -> Result<ExitCode> {
        let sdk = self.run.aws.sdk.sdk_config().await;
        let settings = settings_for(&self.run.aws.env, self.run.aws.dry_run, false)?;
        let aws = SdkAws::from_config(&sdk, target_source(&sdk, &settings, self.targets.as_deref())?);
        let event = read_event(&self.run.event)?;
        let handled = handle(&aws, &settings, &event).await.context("the file does not hold a Lambda event")?;
        print_decisions(&handled)
    }
}
