//! `exporter reconcile`: every configured database's snapshots against the export tasks of its
//! bucket; the missing ones are queued for export (with a long `--since`, the backfill).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use s3exports_exporter::aws::sdk::SdkAws;
use s3exports_exporter::export::pending::run_id;
use s3exports_exporter::export::reconcile::{ReconcileRun, Reconciled, reconcile};

use super::common::{Counts, RunArgs, exit_status, pending_queues, print_and_count, settings_for, target_source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Per-database export targets as JSON (keyed by database id) instead of the
    /// parameters the database stacks publish.
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Only this database.
    #[arg(long)]
    db: Option<String>,
    /// How far back to look at snapshots (e.g. 35d; 365d for a backfill).
    #[arg(long, default_value = "35d", value_parser = s3exports_cli::parse_since, allow_hyphen_values = true)]
    since: Duration,
    /// Re-export snapshots whose exports failed, under a new identifier per attempt.
    #[arg(long)]
    retry_failed: bool,
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
        let source = target_source(&sdk, &settings, self.targets.as_deref())?;
        let mut edge = SdkAws::from_config(&sdk, source);
        edge.queues =
            pending_queues(&edge.sqs, &settings.environment, self.pending_queue.as_deref(), !self.aws.dry_run).await?;
        let run = ReconcileRun {
            db: self.db,
            since: s3exports_cli::since_time(chrono::Utc::now(), self.since)?,
            retry_failed: self.retry_failed,
            alert_failures_after: None,
            record_metric: false,
            defer_while_pending: false,
            run_id: run_id(),
            deadline: None,
            turn: 0,
        };
        let reconciled = reconcile(&edge, &settings, &run).await?;
        if reconciled.databases.is_empty() {
            bail!(
                "no export target to reconcile: no database stack of environment {} published one (deploy them, or \
                 pass --targets FILE)",
                settings.environment
            );
        }
        print_reconciled(&reconciled)
    }
}

/// One JSON line per snapshot examined, then one per database; a readable summary on stderr.
/// Exit 1 when a database could not be reconciled, a missing snapshot could not be queued,
/// or failed exports are left without an export.
fn print_reconciled(reconciled: &Reconciled) -> Result<ExitCode> {
    let mut counts = Counts::new();
    print_and_count(&reconciled.decisions, &mut counts)?;
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
