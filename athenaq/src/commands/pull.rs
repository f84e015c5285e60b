//! `pull EXPORT_ID DIR`: an export (or one table) downloaded into the layout `query --local`
//! reads.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use s3exports_cli::s3_client;

use super::{Context, export_objects};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export task identifier.
    export_id: String,
    /// The folder to download into (the export lands in DIR/<export id>/).
    dir: PathBuf,
    /// Only this table's folder (`schema.table` as RDS names it, e.g. `public.orders`).
    #[arg(long)]
    table: Option<String>,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        let sdk = ctx.sdk().await;
        let s3 = s3_client(&sdk);
        let (task, objects) = export_objects(&sdk, &s3, &ctx.config, &self.export_id, self.table.as_deref()).await?;
        let pulled =
            crate::archive::pull::pull(&s3, &task.s3_bucket, &task.s3_prefix, &self.export_id, &objects, &self.dir)
                .await?;
        for key in &pulled.refused {
            eprintln!(
                "warning: skipped s3://{}/{key}: a key with an empty or `..` segment would land outside {}; not pulled",
                task.s3_bucket,
                self.dir.display()
            );
        }
        eprintln!(
            "{}: {} file(s) downloaded ({:.1} MB), {} already there; `athenaq query --local {}` reads it",
            self.dir.display(),
            pulled.downloaded,
            pulled.bytes as f64 / 1e6,
            pulled.skipped,
            self.dir.display()
        );
        // A copy without them would answer queries without a word about what is missing (a
        // query in place warns on every run), so the pull is not a success.
        if !pulled.refused.is_empty() {
            eprintln!(
                "error: the copy is incomplete: {} object(s) of export {} were not pulled (named above); the rest was",
                pulled.refused.len(),
                self.export_id
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}
