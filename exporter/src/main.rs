//! The exporter binary: the Lambda function (`bootstrap`) when Lambda runs it; otherwise the
//! command line in [`cli`]: `handle` / `catalogue` an event file, `poll` a queue.

use std::process::ExitCode;

// std's `println!`/`eprintln!` panic on a closed stdout or stderr (`exporter poll | head`, exit status
// 101 "failed printing to stdout: Broken pipe"): these (s3exports_cli::output) exit quietly when
// stdout's reader went away and drop a warning stderr cannot take. Defined first, so that
// they are the ones every module below uses.
macro_rules! println {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { ::s3exports_cli::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

mod cli;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
        cli::lambda::run().await.map_err(|e| anyhow::anyhow!(e))?;
        return Ok(ExitCode::SUCCESS);
    }
    cli::run().await
}
