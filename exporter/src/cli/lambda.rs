//! The Lambda function: the same handlers, one binary for both functions (`FUNCTION_ROLE`).

use lambda_runtime::{LambdaEvent, service_fn};
use s3exports_config::EnvSelector;
use s3exports_exporter::aws::sdk::Queues;
use s3exports_exporter::catalogue::Cataloguing;
use s3exports_exporter::export::invocation::{
    ScheduledJob, ScheduledRun, deadline_before, handle_and_dispatch, run_job,
};
use s3exports_exporter::handle_with;
use serde_json::Value;

use super::{cataloguer, exporting_aws, settings_for};

pub(crate) fn init_tracing(lambda: bool) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    // `Targets` reads RUST_LOG's `target=level` directives without EnvFilter's regex engine,
    // which would add a megabyte to the Lambda zip.
    let filter = std::env::var("RUST_LOG").ok().and_then(|s| s.parse::<Targets>().ok()).unwrap_or_else(|| {
        Targets::new()
            .with_default(tracing::Level::INFO)
            .with_target("aws_config", tracing::Level::WARN)
            .with_target("aws_smithy_runtime", tracing::Level::WARN)
    });
    let json = tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false);
    // Lambda ships stdout to CloudWatch; the CLI keeps stdout for data.
    if lambda {
        tracing_subscriber::registry().with(json.without_time()).with(filter).init();
    } else {
        tracing_subscriber::registry().with(json.with_writer(std::io::stderr)).with(filter).init();
    }
}

pub async fn run() -> Result<(), lambda_runtime::Error> {
    init_tracing(true);
    let environment = std::env::var("ENVIRONMENT").map_err(|_| "ENVIRONMENT is not set")?;
    let settings = settings_for(&EnvSelector::Named(environment.clone()), false, true)?;
    let sdk = aws_config::load_from_env().await;
    let mut aws = exporting_aws(&sdk, environment);
    aws.alerts_topic_arn = std::env::var("ALERTS_TOPIC_ARN").ok().filter(|s| !s.is_empty());
    aws.queues = Queues::from_env();
    // One binary, two functions with their own roles: exporting, or cataloguing.
    let catalogue = std::env::var("FUNCTION_ROLE").is_ok_and(|r| r == "catalogue");
    let cataloguer = cataloguer(&sdk, &settings);
    let (aws, settings, cataloguer) = (&aws, &settings, &cataloguer);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if let Some(job) = ScheduledJob::from_event(&event.payload) {
            // Room left after the reconcile for the dispatch that follows it.
            let deadline = deadline_before(event.context.deadline, std::time::Duration::from_secs(15));
            let ran = run_job(aws, settings, &job?, Some(deadline)).await?;
            return Ok(scheduled_result(&ran));
        }
        let handled = if catalogue {
            handle_with(
                aws,
                settings,
                &event.payload,
                &Cataloguing {
                    aws,
                    settings,
                    cataloguer,
                    dry_run: false,
                    deadline: Some(deadline_before(event.context.deadline, std::time::Duration::from_secs(20))),
                },
            )
            .await?
        } else {
            handle_and_dispatch(aws, settings, &event.payload).await?.0
        };
        if handled.needs_invocation_retry() {
            return Err(lambda_runtime::Error::from(
                "a record must be retried; failing the invocation so Lambda redelivers it",
            ));
        }
        Ok::<Value, lambda_runtime::Error>(serde_json::to_value(&handled.batch)?)
    }))
    .await
}

/// The scheduled invocation's result: what it found and did, in numbers.
fn scheduled_result(ran: &ScheduledRun) -> Value {
    let reconciled = ran.reconciled.as_ref().map(|r| {
        r.databases
            .iter()
            .map(
                |d| serde_json::json!({"db": d.db, "summary": d.summary, "error": d.error, "not_queued": d.not_queued}),
            )
            .collect::<Vec<_>>()
    });
    let dispatched = ran.dispatched.as_ref().map(|d| {
        let started = d.decisions.iter().filter(|x| x.outcome == s3exports_exporter::Outcome::StartExport).count();
        serde_json::json!({"running_before": d.running, "started": started, "waiting": d.waiting})
    });
    serde_json::json!({"reconciled": reconciled, "dispatched": dispatched})
}
