//! The exporter's command line: run a function's handler on an event file (`handle`,
//! `catalogue`), or on a queue as Lambda's event source mapping would (`poll`); start pending
//! exports into free slots (`dispatch`); find snapshots without an export (`reconcile`). One
//! module per command, each an `Args` struct with `run()`; what they share is in [`common`].

mod catalogue;
mod common;
mod dispatch;
mod evidence;
mod handle;
pub mod lambda;
mod poll;
mod reconcile;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub(crate) use common::{cataloguer, exporting_aws, settings_for};

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
    Handle(handle::Args),
    /// Catalogue the exports that the export-completed events in a Lambda event file name:
    /// Glue tables and partitions, as the cataloguing function does.
    Catalogue(catalogue::Args),
    /// Start pending exports into the free export slots, oldest snapshot first, as the
    /// deployed function does when an export finishes and every few minutes.
    Dispatch(dispatch::Args),
    /// Compare every configured database's snapshots with the export tasks of its bucket and
    /// queue each eligible snapshot that has none (lost events; with a long --since, the
    /// backfill). Prints one JSON line per snapshot examined, then one summary per database.
    Reconcile(reconcile::Args),
    /// Manifests (and seals) the completed exports that have none, oldest first: run once after
    /// deploying the evidence feature, so each database's chain starts at its oldest export.
    Evidence(evidence::Args),
    /// Consume a queue as Lambda's event source mapping does: receive a batch, run the same
    /// handler on it, delete all but the reported failures. For local runs against an
    /// emulator, or to drain a queue by hand.
    Poll(poll::Args),
}

/// Parses the command line and runs the command.
pub async fn run() -> Result<ExitCode> {
    lambda::init_tracing(false);
    match Cli::parse().command {
        Command::Handle(args) => args.run().await,
        Command::Catalogue(args) => args.run().await,
        Command::Dispatch(args) => args.run().await,
        Command::Reconcile(args) => args.run().await,
        Command::Evidence(args) => args.run().await,
        Command::Poll(args) => args.run().await,
    }
}
