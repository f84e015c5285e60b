//! `exporter poll`: consume a queue as Lambda's event source mapping does, for local runs
//! against an emulator or to drain a real queue by hand.

use std::process::ExitCode;

use anyhow::Result;
use s3exports_config::names;
use s3exports_exporter::aws::sdk::Queues;
use s3exports_exporter::catalogue::Cataloguing;
use s3exports_exporter::export::invocation::handle_and_dispatch;
use s3exports_exporter::handle_with;
use s3exports_exporter::poll::{Backlog, PolledQueue, lambda_event, queue_url, settled};

use super::common::{
    Counts, RunArgs, cataloguer, exit_status, exporting_aws, outcome_summary, print_and_count, settings_for,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Function {
    /// The exporter: snapshot events in, export tasks started.
    Export,
    /// The cataloguer: export-completed events in, Glue tables and partitions.
    Catalogue,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Self::Export => "exporting",
            Self::Catalogue => "cataloguing",
        }
    }

    /// The event source mapping's batch size in the templates.
    fn batch_size(self) -> i32 {
        match self {
            Self::Export => 10,
            Self::Catalogue => 1,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function to stand in for.
    #[arg(long, value_enum, default_value = "export")]
    function: Function,
    /// Queue name or URL (default: the environment's queue for that function).
    #[arg(long)]
    queue: Option<String>,
    /// Stop at the first receive that returns nothing, instead of polling until interrupted.
    #[arg(long)]
    until_empty: bool,
    /// How long one receive waits for messages (SQS long polling), in seconds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(0..=20))]
    wait_seconds: i32,
    #[command(flatten)]
    aws: RunArgs,
}

impl Args {
    pub async fn run(self) -> Result<ExitCode> {
        let sdk = self.aws.sdk.sdk_config().await;
        let dry_run = self.aws.dry_run;
        let settings = settings_for(&self.aws.env, dry_run, !dry_run)?;
        let env = settings.environment.clone();
        let queue = self.queue.clone().unwrap_or_else(|| match self.function {
            Function::Export => names::events_queue(&env),
            Function::Catalogue => names::catalogue_queue(&env),
        });
        let queue = PolledQueue::open(aws_sdk_sqs::Client::new(&sdk), &queue).await.map_err(anyhow::Error::msg)?;
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        let mut aws = exporting_aws(&sdk, env.clone());
        aws.alerts_topic_arn = alerts_topic_beside(&queue.arn, &env);
        // The exporting function parks exports when the slots are full; without a pending queue
        // (an environment deployed before it existed) parking fails and the record is retried.
        let pending = match queue_url(&queue.client, &names::pending_queue(&env)).await {
            Ok(url) => Some(url),
            Err(e) => {
                eprintln!("warning: {e}; exports cannot wait for a slot");
                None
            }
        };
        aws.queues = Queues {
            events_queue_url: Some(queue.url.clone()),
            dead_letter_queue_url: queue.dead_letter_url.clone(),
            pending_queue_url: pending,
        };
        let cataloguer = cataloguer(&sdk, &settings);
        let function = self.function;
        eprintln!("polling {} as the {} function (batches of {})", queue.url, function.name(), function.batch_size());

        let mut totals = PollTotals::default();
        loop {
            let messages = queue.receive(function.batch_size(), self.wait_seconds).await.map_err(anyhow::Error::msg)?;
            if messages.is_empty() {
                if self.until_empty {
                    break;
                }
                continue;
            }
            let event = serde_json::to_value(lambda_event(&messages, &queue.arn, &region))?;
            let (handled, dispatched) = match function {
                Function::Export => handle_and_dispatch(&aws, &settings, &event).await?,
                Function::Catalogue => {
                    let decider = Cataloguing {
                        aws: &aws,
                        settings: &settings,
                        cataloguer: &cataloguer,
                        dry_run,
                        deadline: None,
                    };
                    (handle_with(&aws, &settings, &event, &decider).await?, None)
                }
            };
            print_and_count(&handled.decisions, &mut totals.outcomes)?;
            // As the deployed function does: finished exports free slots for pending ones.
            if let Some(dispatched) = dispatched {
                print_and_count(&dispatched.decisions, &mut totals.outcomes)?;
            }
            // A dry run changes nothing, so every message stays on the queue.
            let done = if dry_run { Vec::new() } else { settled(&messages, &handled.batch) };
            queue.delete(&done).await.map_err(anyhow::Error::msg)?;
            totals.batches += 1;
            totals.deleted += done.len();
            totals.left += messages.len() - done.len();
            if dry_run && self.until_empty {
                break;
            }
        }
        let backlog = queue.backlog().await.map_err(anyhow::Error::msg)?;
        eprintln!("{}", totals.summary(backlog));
        Ok(exit_status(&totals.outcomes))
    }
}

#[derive(Debug, Default)]
struct PollTotals {
    batches: usize,
    outcomes: Counts,
    deleted: usize,
    left: usize,
}

impl PollTotals {
    fn summary(&self, backlog: Backlog) -> String {
        format!(
            "{} batch(es): {}; {} message(s) deleted, {} left for redelivery; queue now: {} visible, {} in flight, {} delayed",
            self.batches,
            outcome_summary(&self.outcomes),
            self.deleted,
            self.left,
            backlog.visible,
            backlog.in_flight,
            backlog.delayed
        )
    }
}

/// The environment's alerts topic, in the queue's account and region.
fn alerts_topic_beside(queue_arn: &str, env: &str) -> Option<String> {
    let parts: Vec<&str> = queue_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sqs", region, account, _] => {
            Some(format!("arn:{partition}:sns:{region}:{account}:{}", names::alerts_topic(env)))
        }
        _ => None,
    }
}
