//! `verify EXPORT_ID`: the evidence that one export is whole, a row per check; exit status 1
//! when any check fails.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::audit::verify::{self, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export task identifier.
    export_id: String,
    /// Read every part file's footer and check every object's encryption, not a sample.
    #[arg(long)]
    deep: bool,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        let sdk = ctx.sdk().await;
        let clients = verify::Clients::new(&sdk);
        let checks = verify::verify(&clients, &ctx.config, &self.export_id, self.deep).await?;
        verify::to_rows(&checks).render(ctx.format, &mut std::io::stdout().lock())?;
        let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
        let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
        eprintln!("{}: {} checks, {failed} failed, {warned} warnings", self.export_id, checks.len());
        Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    }
}
