//! Writes the sample export (two snapshots of `pams-stack-prod`) in the layout RDS uses.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use s3exports_testkit::mysql_sample::write_mysql_sample;
use s3exports_testkit::sample::{SampleSpec, write_sample};

#[derive(Debug, Parser)]
#[command(
    name = "gen-export",
    about = "Write a realistic RDS snapshot export (PostgreSQL: two snapshots; --mysql: one) for tests, demos and benchmarks"
)]
struct Args {
    /// Directory to write the exports into (one folder per export id).
    #[arg(long)]
    out: PathBuf,
    /// Orders in the second snapshot (the first has 90% of them).
    #[arg(long, default_value_t = 1_000)]
    orders: u64,
    #[arg(long, default_value_t = 50)]
    customers: u64,
    /// Print what was written as JSON (row counts and aggregates to check queries against).
    #[arg(long)]
    facts: bool,
    /// Write the MySQL-flavoured export instead (one snapshot of maxonevams-stack-prod, with
    /// `--orders` orders).
    #[arg(long)]
    mysql: bool,
}

fn main() -> Result<ExitCode> {
    let args = Args::parse();
    if args.mysql {
        let facts = write_mysql_sample(&args.out, args.orders)?;
        if args.facts {
            println!("{}", serde_json::to_string_pretty(&facts)?);
        }
        eprintln!("wrote {}: {:?}", facts.export_id, facts.rows);
        return Ok(ExitCode::SUCCESS);
    }
    let facts = write_sample(&args.out, SampleSpec { orders: args.orders, customers: args.customers })?;
    if args.facts {
        println!("{}", serde_json::to_string_pretty(&facts)?);
    }
    for f in &facts {
        eprintln!("wrote {} ({}): {:?}", f.export_id, f.snapshot_date, f.rows);
    }
    Ok(ExitCode::SUCCESS)
}
