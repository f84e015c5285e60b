//! `restore EXPORT_ID`: bring an export (or one table) back from Glacier / Deep Archive, with
//! its manifest, a plan first, the requests with `--yes`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use chrono::Utc;
use s3exports_cli::s3_client;

use super::{Context, export_objects};
use crate::archive::restore::{Plan, Tier, request};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export task identifier.
    export_id: String,
    /// Only this table's folder (`schema.table` as RDS names it, e.g. `public.orders`).
    #[arg(long)]
    table: Option<String>,
    /// How long the restored copies stay readable.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i32).range(1..=30_000))]
    days: i32,
    /// Retrieval tier: bulk (cheapest), standard, or expedited (Glacier only).
    #[arg(long, value_enum, default_value = "bulk")]
    tier: Tier,
    /// Make the requests (without it, only the plan is shown).
    #[arg(long)]
    yes: bool,
    /// Show the plan and request nothing.
    #[arg(long, conflicts_with = "yes")]
    dry_run: bool,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        let sdk = ctx.sdk().await;
        let s3 = s3_client(&sdk);
        let (task, mut objects) =
            export_objects(&sdk, &s3, &ctx.config, &self.export_id, self.table.as_deref()).await?;
        // The export's manifest too, once the lifecycle has archived it: `verify` reads it.
        let db = ctx.config.database_for_bucket(&task.s3_bucket);
        if let Some(db) = db {
            let key = s3exports_config::names::manifest_key(&task.s3_prefix, &db.db_name, &task.id);
            let listing = crate::aws::s3::RestoreListing::for_sdk(&sdk);
            let mut manifest: Vec<_> = crate::aws::s3::list(&s3, &task.s3_bucket, &key, listing)
                .await
                .map_err(|e| anyhow::anyhow!("listing s3://{}/{key}: {e}", task.s3_bucket))?
                .into_iter()
                .filter(|o| o.key == key)
                .collect();
            crate::archive::restore::fill_restore_states(&s3, &task.s3_bucket, &mut manifest).await?;
            objects.extend(manifest);
        }
        let plan = Plan::of(&objects);
        // The lifecycle starts removing the objects on this day, restored copies included: S3
        // counts from each object's creation, and the first were created when the task started.
        let expires = db.zip(task.first_written()).map(|(d, written)| d.lifecycle.schedule(written).expires);
        let region = sdk.region().map(ToString::to_string);
        for line in plan.describe(self.tier, self.days, expires, Utc::now().date_naive(), region.as_deref()) {
            eprintln!("{line}");
        }
        if plan.to_request.is_empty() {
            eprintln!("nothing to request");
            return Ok(ExitCode::SUCCESS);
        }
        if plan.cost(self.tier).is_none() {
            bail!("--tier {:?} does not apply to Deep Archive objects; use standard or bulk", self.tier);
        }
        if self.dry_run || !self.yes {
            let hint = if self.dry_run { "" } else { "; add --yes to request these restores" };
            eprintln!("dry run: nothing requested{hint}");
            return Ok(ExitCode::SUCCESS);
        }
        let outcome = request(&s3, &task.s3_bucket, &plan, self.tier, self.days).await;
        eprintln!(
            "{} restore(s) requested, {} were restoring already, {} not archived, {} failed",
            outcome.requested,
            outcome.already_restoring,
            outcome.not_archived,
            outcome.failed.len()
        );
        for f in &outcome.failed {
            eprintln!("  failed: {f}");
        }
        Ok(if outcome.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }
}
