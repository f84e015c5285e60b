//! The exporter binary: the Lambda function (`bootstrap`) when run by Lambda;
//! `exporter handle|catalogue --event FILE` to run a handler on an event file; and
//! `exporter poll` to consume a queue as Lambda's event source mapping would.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lambda_runtime::{LambdaEvent, service_fn};
use s3exports_config::{EnvSelector, ExportTarget, names};
use s3exports_exporter::aws::{Queues, SdkAws, TargetSource};
use s3exports_exporter::catalogue::Cataloguer;
use s3exports_exporter::catalogue::handler::Cataloguing;
use s3exports_exporter::handler::handle_with;
use s3exports_exporter::poll::{Backlog, PolledQueue, lambda_event, settled};
use s3exports_exporter::{Handled, Settings, handle};
use serde_json::Value;

#[derive(Debug, Parser)]
#[command(name = "exporter", version, about = "Exports every RDS snapshot to S3 as Parquet, exactly once")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the handler on a file holding one Lambda event (SQS, SNS or EventBridge) and print
    /// one JSON line per record.
    Handle {
        #[command(flatten)]
        run: EventRun,
        /// Per-database export targets as JSON (keyed by database id) instead of the
        /// parameters the database stacks publish.
        #[arg(long)]
        targets: Option<PathBuf>,
    },
    /// Catalogue the exports that the export-completed events in a Lambda event file name:
    /// Glue tables and partitions, as the cataloguing function does.
    Catalogue {
        #[command(flatten)]
        run: EventRun,
    },
    /// Consume a queue as Lambda's event source mapping does: receive a batch, run the same
    /// handler on it, delete all but the reported failures. For local runs against an
    /// emulator, or to drain a queue by hand.
    Poll {
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
        aws: AwsArgs,
    },
}

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

/// Running a handler on one Lambda event from a file.
#[derive(Debug, clap::Args)]
struct EventRun {
    /// The Lambda event (SQS, SNS or EventBridge), as JSON.
    #[arg(long)]
    event: PathBuf,
    #[command(flatten)]
    aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
struct AwsArgs {
    /// Make every read but change nothing (no export started, no catalogue written).
    #[arg(long)]
    dry_run: bool,
    /// Environment whose defaults and parameters apply: dev, prod or auto (git branch).
    #[arg(long, env = "ENVIRONMENT", default_value = "auto")]
    env: EnvSelector,
    /// AWS region (otherwise the standard AWS configuration decides).
    #[arg(long)]
    region: Option<String>,
    /// AWS profile.
    #[arg(long)]
    profile: Option<String>,
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
        run_lambda().await.map_err(|e| anyhow::anyhow!(e))?;
        return Ok(ExitCode::SUCCESS);
    }
    init_tracing(false);
    let cli = Cli::parse();
    match cli.command {
        Command::Handle { run, targets } => {
            let sdk = sdk_config(run.aws.region, run.aws.profile).await;
            let settings = settings_for(&run.aws.env, run.aws.dry_run, false)?;
            let targets = match targets {
                Some(path) => TargetSource::Fixed(read_targets(&path)?),
                None => TargetSource::Ssm {
                    client: aws_sdk_ssm::Client::new(&sdk),
                    environment: settings.environment.clone(),
                },
            };
            let aws = SdkAws::from_config(&sdk, targets);
            let event = read_event(&run.event)?;
            let handled = handle(&aws, &settings, &event).await.context("the file does not hold a Lambda event")?;
            print_decisions(&handled)
        }
        Command::Catalogue { run } => {
            let sdk = sdk_config(run.aws.region, run.aws.profile).await;
            let settings = settings_for(&run.aws.env, run.aws.dry_run, false)?;
            let aws = SdkAws::from_config(&sdk, TargetSource::Fixed(HashMap::new()));
            let cataloguer = cataloguer(&sdk, &settings);
            let event = read_event(&run.event)?;
            let decider = Cataloguing { aws: &aws, cataloguer: &cataloguer, dry_run: run.aws.dry_run };
            let handled = handle_with(&aws, &settings, &event, &decider)
                .await
                .context("the file does not hold a Lambda event")?;
            print_decisions(&handled)
        }
        Command::Poll { function, queue, until_empty, wait_seconds, aws } => {
            poll(function, queue, until_empty, wait_seconds, aws).await
        }
    }
}

async fn poll(
    function: Function,
    queue: Option<String>,
    until_empty: bool,
    wait_seconds: i32,
    args: AwsArgs,
) -> Result<ExitCode> {
    let sdk = sdk_config(args.region, args.profile).await;
    let settings = settings_for(&args.env, args.dry_run, !args.dry_run)?;
    let env = settings.environment.clone();
    let queue = queue.unwrap_or_else(|| match function {
        Function::Export => names::events_queue(&env),
        Function::Catalogue => names::catalogue_queue(&env),
    });
    let queue = PolledQueue::open(aws_sdk_sqs::Client::new(&sdk), &queue).await.map_err(anyhow::Error::msg)?;
    let region = sdk.region().map(ToString::to_string).unwrap_or_default();
    let mut aws = exporting_aws(&sdk, env.clone());
    aws.alerts_topic_arn = alerts_topic_beside(&queue.arn, &env);
    aws.queues =
        Queues { events_queue_url: Some(queue.url.clone()), dead_letter_queue_url: queue.dead_letter_url.clone() };
    let cataloguer = cataloguer(&sdk, &settings);
    eprintln!("polling {} as the {} function (batches of {})", queue.url, function.name(), function.batch_size());

    let mut totals = PollTotals::default();
    loop {
        let messages = queue.receive(function.batch_size(), wait_seconds).await.map_err(anyhow::Error::msg)?;
        if messages.is_empty() {
            if until_empty {
                break;
            }
            continue;
        }
        let event = serde_json::to_value(lambda_event(&messages, &queue.arn, &region))?;
        let handled = match function {
            Function::Export => handle(&aws, &settings, &event).await?,
            Function::Catalogue => {
                let decider = Cataloguing { aws: &aws, cataloguer: &cataloguer, dry_run: args.dry_run };
                handle_with(&aws, &settings, &event, &decider).await?
            }
        };
        print_and_count(&handled, &mut totals.outcomes)?;
        // A dry run changes nothing, so every message stays on the queue.
        let done = if args.dry_run { Vec::new() } else { settled(&messages, &handled.batch) };
        queue.delete(&done).await.map_err(anyhow::Error::msg)?;
        totals.batches += 1;
        totals.deleted += done.len();
        totals.left += messages.len() - done.len();
        if args.dry_run && until_empty {
            break;
        }
    }
    let backlog = queue.backlog().await.map_err(anyhow::Error::msg)?;
    eprintln!("{}", totals.summary(backlog));
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Default)]
struct PollTotals {
    batches: usize,
    outcomes: BTreeMap<&'static str, usize>,
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

fn init_tracing(lambda: bool) {
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

async fn run_lambda() -> Result<(), lambda_runtime::Error> {
    init_tracing(true);
    let environment = std::env::var("ENVIRONMENT").map_err(|_| "ENVIRONMENT is not set")?;
    let settings = settings_for(&EnvSelector::Named(environment.clone()), false, true)?;
    let sdk = aws_config::load_from_env().await;
    let mut aws = exporting_aws(&sdk, environment);
    aws.alerts_topic_arn = std::env::var("ALERTS_TOPIC_ARN").ok().filter(|s| !s.is_empty());
    aws.queues = Queues {
        events_queue_url: std::env::var("EVENTS_QUEUE_URL").ok().filter(|s| !s.is_empty()),
        dead_letter_queue_url: std::env::var("DEAD_LETTER_QUEUE_URL").ok().filter(|s| !s.is_empty()),
    };
    // One binary, two functions with their own roles: exporting, or cataloguing.
    let catalogue = std::env::var("FUNCTION_ROLE").is_ok_and(|r| r == "catalogue");
    let cataloguer = cataloguer(&sdk, &settings);
    let (aws, settings, cataloguer) = (&aws, &settings, &cataloguer);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let handled = if catalogue {
            handle_with(aws, settings, &event.payload, &Cataloguing { aws, cataloguer, dry_run: false }).await?
        } else {
            handle(aws, settings, &event.payload).await?
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

/// The AWS edge with per-database targets from the parameters the database stacks publish.
fn exporting_aws(sdk: &aws_config::SdkConfig, environment: String) -> SdkAws {
    SdkAws::from_config(sdk, TargetSource::Ssm { client: aws_sdk_ssm::Client::new(sdk), environment })
}

/// Policy defaults of the selected environment, from the config compiled into the binary.
fn settings_for(env: &EnvSelector, dry_run: bool, queue_actions: bool) -> Result<Settings> {
    let configs: Vec<_> = s3exports_config::embedded()?.into_iter().map(|l| l.config).collect();
    let cwd = std::env::current_dir().unwrap_or_default();
    let config = s3exports_config::select(env, &configs, || s3exports_config::current_git_branch(&cwd))?;
    Ok(Settings { environment: config.environment.clone(), defaults: config.defaults.clone(), dry_run, queue_actions })
}

async fn sdk_config(region: Option<String>, profile: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::from_env();
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

fn cataloguer(sdk: &aws_config::SdkConfig, settings: &Settings) -> Cataloguer {
    let s3 =
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(std::env::var_os("AWS_ENDPOINT_URL").is_some()).build();
    Cataloguer {
        s3: aws_sdk_s3::Client::from_conf(s3),
        glue: aws_sdk_glue::Client::new(sdk),
        ssm: aws_sdk_ssm::Client::new(sdk),
        environment: settings.environment.clone(),
        mode: settings.defaults.catalog,
    }
}

fn read_event(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read event file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON; it must hold one Lambda event", path.display()))
}

fn print_decisions(handled: &Handled) -> Result<ExitCode> {
    let mut counts = BTreeMap::new();
    print_and_count(handled, &mut counts)?;
    eprintln!("{} record(s): {}", handled.decisions.len(), outcome_summary(&counts));
    Ok(ExitCode::SUCCESS)
}

/// One JSON line per decision on stdout, counted by outcome.
fn print_and_count(handled: &Handled, counts: &mut BTreeMap<&'static str, usize>) -> Result<()> {
    for d in &handled.decisions {
        println!("{}", serde_json::to_string(d)?);
        *counts.entry(d.outcome.as_str()).or_default() += 1;
    }
    Ok(())
}

fn outcome_summary(counts: &BTreeMap<&'static str, usize>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    if parts.is_empty() { "nothing to do".to_owned() } else { parts.join(", ") }
}

fn read_targets(path: &Path) -> Result<HashMap<String, ExportTarget>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read targets file {}", path.display()))?;
    let targets: HashMap<String, ExportTarget> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected an object keyed by database id whose values have s3_bucket_name, s3_prefix, \
             iam_role_arn and kms_key_arn",
            path.display()
        )
    })?;
    for (db, target) in &targets {
        if let Err(problem) = target.validate() {
            bail!("{}: target `{db}`: {problem}", path.display());
        }
    }
    Ok(targets)
}
