//! athenaq: list, audit and query RDS snapshot exports — on Athena, or locally with no AWS.
//! This file only parses the command line and hands it to the command's module.

use std::process::ExitCode;

use anyhow::Result;
use athenaq::commands::{Global, cost, evidence, list_exports, pull, query, rehydrate, restore, shell, tables, verify};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "athenaq",
    version,
    about = "List, audit and query RDS snapshot exports — on Athena, or locally with no AWS"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every export task of the environment's buckets, with storage tier, Athena readability and expiry.
    ListExports(list_exports::Args),
    /// The evidence that one export is whole: one row per check (pass, warn, fail); exit status 1
    /// when any check fails. `--format json|csv` for evidence files.
    Verify(verify::Args),
    /// The chain of manifests of each database: one row per export with its manifest's SHA-256,
    /// its link, its seal and what it records; exit status 1 when a chain is broken or a complete
    /// export has no manifest. `--format json` is the evidence file to keep.
    Evidence(evidence::Args),
    /// Restore an export's objects from Glacier / Deep Archive: a plan first (objects, bytes,
    /// approximate cost, when ready), then the requests with --yes. Restored and restoring
    /// objects are counted, never requested again.
    Restore(restore::Args),
    /// Download an export (or one table) into DIR in the layout `query --local` reads:
    /// concurrent, resumable (files already there whole are skipped); archived objects are
    /// refused with a pointer to `restore`.
    Pull(pull::Args),
    /// Load an export back into a real PostgreSQL or MySQL/MariaDB: tables with the original
    /// types, every row, exact values; one row of proof per table (rows expected, rows loaded);
    /// exit status 1 on any mismatch. Safe to run again.
    Rehydrate(rehydrate::Args),
    /// Per database: the export charge of the last 30 days (by snapshot size) and the monthly
    /// storage of what its bucket holds, by storage class; restores in progress. Approximate.
    Cost(cost::Args),
    /// Catalogued tables with their snapshots.
    Tables(tables::Args),
    /// Run SQL on the environment's Athena workgroup, or on a local copy.
    Query(query::Args),
    /// An interactive SQL prompt (Athena, a local copy, or S3 in place): line editing, history,
    /// completion, \d, \timing, \format; Ctrl-C cancels the running statement.
    Shell(shell::Args),
}

fn main() -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        // A log line that cannot be written (stderr closed) is dropped: tracing's own report of
        // that goes through std's `eprintln!`, which panics on the same closed stderr.
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    match athenaq::runtime::block_on(move || run(cli)) {
        // `athenaq ... | head`: the reader has what it wanted; that is not a failure. (Warnings
        // on a closed stderr are dropped where they are written: see `output`.)
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = cli.global.context()?;
    match cli.command {
        Command::ListExports(args) => args.run(&ctx).await,
        Command::Verify(args) => args.run(&ctx).await,
        Command::Evidence(args) => args.run(&ctx).await,
        Command::Restore(args) => args.run(&ctx).await,
        Command::Pull(args) => args.run(&ctx).await,
        Command::Rehydrate(args) => args.run(&ctx).await,
        Command::Cost(args) => args.run(&ctx).await,
        Command::Tables(args) => args.run(&ctx).await,
        Command::Query(args) => args.run(&ctx).await,
        Command::Shell(args) => args.run(&ctx).await,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
