//! The exporter binary: the Lambda function (`bootstrap`) when Lambda runs it; otherwise the
//! command line in [`cli`]: `handle` / `catalogue` an event file, `poll` a queue.

use std::process::ExitCode;

mod cli;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
        cli::lambda::run().await.map_err(|e| anyhow::anyhow!(e))?;
        return Ok(ExitCode::SUCCESS);
    }
    cli::run().await
}
