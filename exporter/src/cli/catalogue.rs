//! `exporter catalogue --event FILE`: the cataloguing function's handler on one Lambda event.

use std::process::ExitCode;

use anyhow::{Context, Result};
use s3exports_exporter::catalogue::Cataloguing;
use s3exports_exporter::handle_with;

use super::common::{EventRun, cataloguer, exporting_aws, print_decisions, read_event, settings_for};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    run: EventRun,
}

impl Args {
    pub async fn run(self) -> Result<ExitCode> {
        let sdk = self.run.aws.sdk.sdk_config().await;
        let settings = settings_for(&self.run.aws.env, self.run.aws.dry_run, false)?;
        let aws = exporting_aws(&sdk, settings.environment.clone());
        let cataloguer = cataloguer(&sdk, &settings);
        let event = read_event(&self.run.event)?;
        let decider = Cataloguing {
            aws: &aws,
            settings: &settings,
            cataloguer: &cataloguer,
            dry_run: self.run.aws.dry_run,
            deadline: None,
        };
        let handled =
            handle_with(&aws, &settings, &event, &decider).await.context("the file does not hold a Lambda event")?;
        print_decisions(&handled)
    }
}
