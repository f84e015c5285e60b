//! `exporter dispatch`: start pending exports into the free export slots, as the deployed
//! function does after finished exports and on its schedule.

use std::process::ExitCode;

use anyhow::Result;
use s3exports_exporter::aws::Aws;
use s3exports_exporter::export::dispatch::{Trigger, dispatch};
use s3exports_exporter::export::drain;
use s3exports_rds::TaskFilter;

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
        if self.aws.dry_run {
            // When what waits would drain, at the rate exports have been running.
            let pending = edge.pending_backlog().await.unwrap_or(0);
            // This environment's exports only: the account's others run at their own pace.
            let buckets: Vec<String> =
                edge.targets().await.unwrap_or_default().into_iter().map(|(_, t)| t.s3_bucket_name).collect();
            let tasks = edge
                .export_tasks(&TaskFilter { statuses: vec!["complete"], ..TaskFilter::default() })
                .await
                .map(|all| all.into_iter().filter(|t| buckets.contains(&t.s3_bucket)).collect::<Vec<_>>());
            match tasks.map(|t| drain::estimate(pending, settings.defaults.export_slots, &t, chrono::Utc::now())) {
                Ok(Some(d)) => eprintln!("{}", d.describe()),
                Ok(None) if pending == 0 => eprintln!("the pending queue is empty"),
                Ok(None) => eprintln!("{pending} pending; no completed export to measure a rate from yet"),
                Err(e) => eprintln!("warning: no drain estimate: listing completed exports: {e}"),
            }
        }
        for failure in &dispatched.unsettled {
            eprintln!("error: SQS did not settle a pending export: {failure}");
        }
        let failed = counts.get("reject").is_some_and(|n| *n > 0) || !dispatched.unsettled.is_empty();
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
