//! `tables`: the catalogued tables of each configured database (Glue), or of the exports a
//! folder or S3 prefix holds, with their snapshots.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use s3exports_config::names;

use super::Context;
use crate::aws::glue;
use crate::engine;
use crate::output::Rows;
use crate::source::{Opened, Purpose, Source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this database's tables (RDS instance or cluster id).
    #[arg(long)]
    db: Option<String>,
    /// Read exports from a folder of copies (no AWS needed), or in place from
    /// s3://BUCKET/PREFIX, instead of Glue.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    local: Option<Source>,
}

impl Args {
    pub async fn run(self, ctx: &Context) -> Result<ExitCode> {
        ctx.check_db(self.db.as_deref(), self.local.is_some())?;
        let rows = match &self.local {
            Some(source) => local_tables(ctx.open(source, Purpose::ReadData).await?, ctx, self.db.as_deref()).await?,
            None => self.glue_tables(ctx).await?,
        };
        rows.render(ctx.format, &mut std::io::stdout().lock())?;
        Ok(ExitCode::SUCCESS)
    }

    async fn glue_tables(&self, ctx: &Context) -> Result<Rows> {
        let client = aws_sdk_glue::Client::new(&ctx.sdk().await);
        let mut all = Vec::new();
        for d in ctx.config.selected(self.db.as_deref()) {
            let database = names::glue_database(&d.db_name);
            let tables = glue::tables(&client, &database)
                .await
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("listing Glue database {database}"))?;
            match tables {
                Some(tables) => all.extend(tables),
                None => {
                    eprintln!("warning: Glue database {database} of {} does not exist (stack not deployed?)", d.db_name)
                }
            }
        }
        Ok(glue::to_rows(&all))
    }
}

async fn local_tables(opened: Opened, ctx: &Context, db: Option<&str>) -> Result<Rows> {
    let tables = engine::catalog_tables(&opened.found.exports, Some(&ctx.config), db);
    let mut rows = Rows::new(&[
        ("database", false),
        ("table", false),
        ("columns", true),
        ("rows", true),
        ("snapshots", true),
        ("latest_snapshot", false),
        ("schema", false),
    ]);
    for t in &tables {
        let (count, columns) = engine::footer_stats(&opened.ctx, t).await?;
        let schema: Vec<String> = columns.iter().map(|(n, ty)| format!("{n} {ty}")).collect();
        rows.rows.push(vec![
            t.glue_database.clone(),
            Some(t.name.clone()),
            Some(columns.len().to_string()),
            Some(count.to_string()),
            Some(t.parts.len().to_string()),
            t.parts.iter().map(|p| p.snapshot_date.clone()).max(),
            Some(schema.join(", ")),
        ]);
    }
    Ok(rows)
}
