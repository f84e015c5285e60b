//! `exporter dispatch`: start pending exports into the free export slots, as the deployed
//! function does after finished exports and on its schedule.

use std::process::ExitCode;

use anyhow::Result;
use s3exports_exporter::export::dispatch::{Trigger, dispatch};

use super::common::{Counts, RunArgs, exporting_aws, outcome_summary, pending_queues, print_and_count, settings_for};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pending queue, by name or URL (default: the environment's).
    #[arg(long)]
    pending_queue: Option<String>,
    #[command(flatten)]
    aws: RunArgs,
}

impl Args {
    pub async fn run(self) -> Result<ExitCode> {
        let sdk = self.aws.sdk.sdk_config().await;
        let settings = settings_for(&self.aws.env, self.aws.dry_run, false)?;
        let mut edge = exporting_aws(&sdk, settings.environment.clone());
        edge.queues = pending_queues(&edge.sqs, &settings.environment, self.pending_queue.as_deref(), true).await?;
        let dispatched =
            dispatch(&edge, &settings, Trigger::Schedule).await.map_err(|e| anyhow::anyhow!("dispatch: {e}"))?;
        let mut counts = Counts::new();
        print_and_count(&dispatched.decisions, &mut counts)?;
        eprintln!(
            "{} export(s) were running; {} pending looked at: {}; {} wait for a slot",
            dispatched.running,
            dispatched.decisions.len(),
            outcome_summary(&counts),
            dispatched.waiting
        );
        for failure in &dispatched.unsettled {
            eprintln!("error: SQS did not settle a pending export: {failure}");
        }
        let failed = counts.get("reject").is_some_and(|n| *n > 0) || !dispatched.unsettled.is_empty();
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
