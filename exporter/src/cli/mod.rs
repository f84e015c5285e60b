//! The exporter's command line: run a function's handler on an event file (`handle`,
//! `catalogue`), or on a queue as Lambda's event source mapping would (`poll`); start pending
//! exports into free slots (`dispatch`); find snapshots without an export (`reconcile`).

pub mod lambda;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use s3exports_cli::AwsArgs;
use s3exports_config::{EnvSelector, ExportTarget, names};
use s3exports_exporter::aws::sdk::{Queues, SdkAws, TargetSource};
use s3exports_exporter::catalogue::{Cataloguer, Cataloguing};
use s3exports_exporter::export::dispatch::{Trigger, dispatch};
use s3exports_exporter::export::invocation::handle_and_dispatch;
use s3exports_exporter::export::reconcile::{ReconcileRun, Reconciled, reconcile};
use s3exports_exporter::poll::{Backlog, PolledQueue, lambda_event, queue_url, settled};
use s3exports_exporter::{Handled, Outcome, Settings, handle, handle_with};
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
    /// Start pending exports into the free export slots, oldest snapshot first, as the
    /// deployed function does when an export finishes and every few minutes.
    Dispatch {
        /// The pending queue, by name or URL (default: the environment's).
        #[arg(long)]
        pending_queue: Option<String>,
        #[command(flatten)]
        aws: RunArgs,
    },
    /// Compare every configured database's snapshots with the export tasks of its bucket and
    /// queue each eligible snapshot that has none (lost events; with a long --since, the
    /// backfill). Prints one JSON line per snapshot examined, then one summary per database.
    Reconcile {
        /// Per-database export targets as JSON (keyed by database id) instead of the
        /// parameters the database stacks publish.
        #[arg(long)]
        targets: Option<PathBuf>,
        /// Only this database.
        #[arg(long)]
        db: Option<String>,
        /// How far back to look at snapshots (e.g. 35d; 365d for a backfill).
        #[arg(long, default_value = "35d")]
        since: humantime::Duration,
        /// Re-export snapshots whose exports failed, under a new identifier per attempt.
        #[arg(long)]
        retry_failed: bool,
        /// The pending queue, by name or URL (default: the environment's).
        #[arg(long)]
        pending_queue: Option<String>,
        #[command(flatten)]
        aws: RunArgs,
    },
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
        aws: RunArgs,
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
    aws: RunArgs,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Make every read but change nothing (no export started, no catalogue written).
    #[arg(long)]
    dry_run: bool,
    /// Environment whose defaults and parameters apply: dev, prod or auto (git branch).
    #[arg(long, env = "ENVIRONMENT", default_value = "auto")]
    env: EnvSelector,
    #[command(flatten)]
    sdk: AwsArgs,
}

/// Parses the command line and runs the command.
pub async fn run() -> Result<ExitCode> {
    lambda::init_tracing(false);
    let cli = Cli::parse();
    match cli.command {
        Command::Handle { run, targets } => {
            let sdk = run.aws.sdk.sdk_config().await;
            let settings = settings_for(&run.aws.env, run.aws.dry_run, false)?;
            let aws = SdkAws::from_config(&sdk, target_source(&sdk, &settings, targets.as_deref())?);
            let event = read_event(&run.event)?;
            let handled = handle(&aws, &settings, &event).await.context("the file does not hold a Lambda event")?;
            print_decisions(&handled)
        }
        Command::Catalogue { run } => {
            let sdk = run.aws.sdk.sdk_config().await;
            let settings = settings_for(&run.aws.env, run.aws.dry_run, false)?;
            let aws = exporting_aws(&sdk, settings.environment.clone());
            let cataloguer = cataloguer(&sdk, &settings);
            let event = read_event(&run.event)?;
            let decider =
                Cataloguing { aws: &aws, settings: &settings, cataloguer: &cataloguer, dry_run: run.aws.dry_run };
            let handled = handle_with(&aws, &settings, &event, &decider)
                .await
                .context("the file does not hold a Lambda event")?;
            print_decisions(&handled)
        }
        Command::Dispatch { pending_queue, aws } => {
            let sdk = aws.sdk.sdk_config().await;
            let settings = settings_for(&aws.env, aws.dry_run, false)?;
            let mut edge = exporting_aws(&sdk, settings.environment.clone());
            edge.queues = pending_queues(&edge.sqs, &settings.environment, pending_queue.as_deref(), true).await?;
            let dispatched =
                dispatch(&edge, &settings, Trigger::Schedule).await.map_err(|e| anyhow::anyhow!("dispatch: {e}"))?;
            let mut counts = BTreeMap::new();
            for d in &dispatched.decisions {
                println!("{}", serde_json::to_string(d)?);
                *counts.entry(d.outcome.as_str()).or_default() += 1;
            }
            eprintln!(
                "{} export(s) were running; {} pending looked at: {}; {} wait for a slot",
                dispatched.running,
                dispatched.decisions.len(),
                outcome_summary(&counts),
                dispatched.waiting
            );
            Ok(exit_status(&counts))
        }
        Command::Reconcile { targets, db, since, retry_failed, pending_queue, aws } => {
            let sdk = aws.sdk.sdk_config().await;
            let settings = settings_for(&aws.env, aws.dry_run, false)?;
            let source = target_source(&sdk, &settings, targets.as_deref())?;
            let mut edge = SdkAws::from_config(&sdk, source);
            edge.queues =
                pending_queues(&edge.sqs, &settings.environment, pending_queue.as_deref(), !aws.dry_run).await?;
            let run = ReconcileRun {
                db,
                since: s3exports_cli::since_time(chrono::Utc::now(), since.into())?,
                retry_failed,
                alert_failures_after: None,
                record_metric: false,
                defer_while_pending: false,
            };
            let reconciled = reconcile(&edge, &settings, &run).await?;
            print_reconciled(&reconciled)
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
    args: RunArgs,
) -> Result<ExitCode> {
    let sdk = args.sdk.sdk_config().await;
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
        let (handled, dispatched) = match function {
            Function::Export => handle_and_dispatch(&aws, &settings, &event).await?,
            Function::Catalogue => {
                let decider =
                    Cataloguing { aws: &aws, settings: &settings, cataloguer: &cataloguer, dry_run: args.dry_run };
                (handle_with(&aws, &settings, &event, &decider).await?, None)
            }
        };
        print_and_count(&handled, &mut totals.outcomes)?;
        // As the deployed function does: finished exports free slots for pending ones.
        if let Some(dispatched) = dispatched {
            for d in &dispatched.decisions {
                println!("{}", serde_json::to_string(d)?);
                *totals.outcomes.entry(d.outcome.as_str()).or_default() += 1;
            }
        }
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
    Ok(exit_status(&totals.outcomes))
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

/// The AWS edge with per-database targets from the parameters the database stacks publish.
pub(crate) fn exporting_aws(sdk: &aws_config::SdkConfig, environment: String) -> SdkAws {
    SdkAws::from_config(sdk, TargetSource::Ssm { client: aws_sdk_ssm::Client::new(sdk), environment })
}

/// Policy defaults of the selected environment, from the config compiled into the binary.
pub(crate) fn settings_for(env: &EnvSelector, dry_run: bool, queue_actions: bool) -> Result<Settings> {
    let config = s3exports_cli::load_config(env, None)?;
    Ok(Settings { environment: config.environment, defaults: config.defaults, dry_run, queue_actions })
}

pub(crate) fn cataloguer(sdk: &aws_config::SdkConfig, settings: &Settings) -> Cataloguer {
    Cataloguer {
        s3: s3exports_cli::s3_client(sdk),
        glue: aws_sdk_glue::Client::new(sdk),
        ssm: aws_sdk_ssm::Client::new(sdk),
        environment: settings.environment.clone(),
        mode: settings.defaults.catalog,
    }
}

/// Export targets from a file, or from the parameters the database stacks publish.
fn target_source(sdk: &aws_config::SdkConfig, settings: &Settings, file: Option<&Path>) -> Result<TargetSource> {
    Ok(match file {
        Some(path) => TargetSource::Fixed(read_targets(path)?),
        None => TargetSource::Ssm { client: aws_sdk_ssm::Client::new(sdk), environment: settings.environment.clone() },
    })
}

/// The pending queue (by name or URL, default the environment's) and the dead-letter queue
/// beside it. `required`: fail when the pending queue cannot be found, rather than say so later.
async fn pending_queues(sqs: &aws_sdk_sqs::Client, env: &str, pending: Option<&str>, required: bool) -> Result<Queues> {
    let name = pending.map_or_else(|| names::pending_queue(env), str::to_owned);
    let pending_queue_url = match queue_url(sqs, &name).await {
        Ok(url) => Some(url),
        Err(e) if required => bail!("{e}"),
        Err(_) => None,
    };
    let dead_letter_queue_url = queue_url(sqs, &names::dead_letter_queue(env)).await.ok();
    Ok(Queues { events_queue_url: None, dead_letter_queue_url, pending_queue_url })
}

/// One JSON line per snapshot examined, then one per database; a readable summary on stderr.
/// Exit 1 when a database could not be reconciled, a missing snapshot could not be queued,
/// or failed exports are left without an export.
fn print_reconciled(reconciled: &Reconciled) -> Result<ExitCode> {
    let mut counts = BTreeMap::new();
    for d in &reconciled.decisions {
        println!("{}", serde_json::to_string(d)?);
        *counts.entry(d.outcome.as_str()).or_default() += 1;
    }
    for db in &reconciled.databases {
        let line = serde_json::json!({"db": db.db, "summary": db.summary, "not_queued": db.not_queued, "deferred": db.deferred, "error": db.error});
        println!("{line}");
        let s = db.summary;
        match &db.error {
            Some(e) => eprintln!("{}: not reconciled: {e}", db.db),
            None => eprintln!(
                "{}: {} snapshot(s) examined: {} exported, {} queued for export, {} failed, {} skipped{}",
                db.db,
                s.examined,
                s.exported,
                s.missing - db.not_queued.min(s.missing),
                s.failed,
                s.skipped,
                if db.not_queued > 0 { format!(", {} could not be queued", db.not_queued) } else { String::new() }
            ),
        }
    }
    let failed_left = reconciled.databases.iter().any(|d| d.summary.failed > 0);
    Ok(if reconciled.is_complete() && !failed_left { exit_status(&counts) } else { ExitCode::FAILURE })
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
    Ok(exit_status(&counts))
}

/// A rejected record is a failure of the run, as it is of the Lambda batch (it goes to the
/// dead-letter queue there): exit 1 so scripts and CI notice.
fn exit_status(counts: &BTreeMap<&'static str, usize>) -> ExitCode {
    if counts.get(Outcome::Reject.as_str()).is_some_and(|n| *n > 0) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
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
