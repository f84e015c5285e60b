//! The burst benchmark: 1,000 snapshot-created events across 50 databases at once, against a
//! fake RDS with the account's export quota and injected faults (see `simulation`). Prints the
//! report as JSON; `--snapshots N --databases N --seed N` change the size. Not part of the
//! Lambda zip (`cargo lambda build --bin exporter`).

use s3exports_exporter::simulation::{BurstSpec, run};

fn main() -> anyhow::Result<()> {
    let mut spec = BurstSpec::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).ok_or_else(|| anyhow::anyhow!("{} needs a value", pair[0]))?;
        match pair[0].as_str() {
            "--snapshots" => spec.snapshots = value.parse()?,
            "--databases" => spec.databases = value.parse()?,
            "--seed" => spec.seed = value.parse()?,
            other => anyhow::bail!("unknown option {other}; expected --snapshots, --databases or --seed"),
        }
    }
    let started = std::time::Instant::now();
    let report = tokio::runtime::Builder::new_current_thread().build()?.block_on(run(&spec));
    let out = serde_json::json!({ "spec": spec, "report": report, "wall_seconds": started.elapsed().as_secs_f64() });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
