//! The burst benchmark: 1,000 snapshot-created events across 50 databases at once, against a
//! fake RDS with the account's export quota and injected faults (see `simulation`). Prints the
//! report as JSON. Not shipped: it lives in the bench crate.

use clap::Parser;
use s3exports_burst::{BurstSpec, run};

#[derive(Debug, Parser)]
#[command(name = "burst", about = "Simulate a burst of snapshot events with faults and report what was exported")]
struct Args {
    #[arg(long, default_value_t = BurstSpec::default().snapshots)]
    snapshots: usize,
    #[arg(long, default_value_t = BurstSpec::default().databases)]
    databases: usize,
    /// Seed of the simulation's randomness: the same seed gives the same run.
    #[arg(long, default_value_t = BurstSpec::default().seed)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec =
        BurstSpec { snapshots: args.snapshots, databases: args.databases, seed: args.seed, ..BurstSpec::default() };
    let started = std::time::Instant::now();
    let report = tokio::runtime::Builder::new_current_thread().build()?.block_on(run(&spec));
    let out = serde_json::json!({ "spec": spec, "report": report, "wall_seconds": started.elapsed().as_secs_f64() });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
