//! athenaq's commands, one module each: an `Args` struct (clap) and its `run()`. They share
//! [`Global`] (environment, config, output format, AWS configuration) through [`Context`], and
//! the library's `source`, `engine`, `aws` and `output` modules.

pub mod cost;
pub mod evidence;
pub mod list_exports;
pub mod pull;
pub mod query;
pub mod rehydrate;
pub mod restore;
pub mod shell;
pub mod tables;
pub mod verify;

use std::path::PathBuf;

use anyhow::{Result, bail};
use s3exports_cli::AwsArgs;
use s3exports_config::{Config, EnvSelector, names};

use crate::aws::s3::{self, Object, RestoreListing};
use crate::output::Format;
use crate::source::{self, Caching, Opened, Purpose, Source};

/// The options every command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Environment: dev, prod, or auto (from the git branch).
    #[arg(long, global = true, default_value = "prod")]
    pub env: EnvSelector,
    /// A config file to use instead of the one compiled in.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Output: a readable table, or csv / json (one object per row) for machines.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: Format,
    /// Read every export's metadata afresh, and leave the metadata cache (the exports' JSON
    /// files and footers kept from earlier runs in ~/.cache/athenaq) untouched.
    #[arg(long, global = true)]
    pub no_cache: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// What a command runs with: the environment's config, the output format, the AWS options.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub format: Format,
    pub caching: Caching,
    pub aws: AwsArgs,
}

impl Global {
    pub fn context(self) -> Result<Context> {
        let config = s3exports_cli::load_config(&self.env, self.config.as_deref())?;
        let caching = if self.no_cache { Caching::Off } else { Caching::On };
        Ok(Context { config, format: self.format, caching, aws: self.aws })
    }
}

impl Context {
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        self.aws.sdk_config().await
    }

    /// A `--db` that names no configured database is an error listing the configured ones
    /// (a folder or S3 prefix read with `--local` may hold any database, so it is not checked).
    pub fn check_db(&self, db: Option<&str>, local: bool) -> Result<()> {
        let Some(db) = db else { return Ok(()) };
        if local || self.config.database(db).is_some() {
            return Ok(());
        }
        let known: Vec<&str> = self.config.databases.iter().map(|d| d.db_name.as_str()).collect();
        bail!(
            "database `{db}` is not configured in {}; configured: {}",
            self.config.environment,
            if known.is_empty() { "none".into() } else { known.join(", ") }
        )
    }

    /// The Glue database unqualified names resolve in on Athena: `--db`'s (as configured, in
    /// whatever case it was typed), else the only configured database's, else none.
    pub fn default_glue_database(&self, db: Option<&str>) -> Option<String> {
        match db {
            Some(d) => Some(names::glue_database(self.config.database(d).map_or(d, |c| c.db_name.as_str()))),
            None if self.config.databases.len() == 1 => Some(names::glue_database(&self.config.databases[0].db_name)),
            None => None,
        }
    }

    /// The exports a `--local` argument holds; what discovery left out is said on stderr.
    pub async fn open(&self, source: &Source, purpose: Purpose) -> Result<Opened> {
        let opened = source::open(source, purpose, self.caching, || self.aws.sdk_config()).await?;
        for skipped in &opened.found.skipped {
            eprintln!("warning: skipped {skipped}");
        }
        Ok(opened)
    }
}

/// An export's task and its objects (or one table's, with the export's JSON files), with the
/// restore state of each archived object as S3 lists it (HeadObject only where the endpoint
/// may not say).
pub async fn export_objects(
    sdk: &aws_config::SdkConfig,
    s3: &aws_sdk_s3::Client,
    config: &Config,
    export_id: &str,
    table: Option<&str>,
) -> Result<(s3exports_rds::ExportTask, Vec<Object>)> {
    let (task, _) = crate::audit::verify::find_export(&aws_sdk_rds::Client::new(sdk), config, export_id).await?;
    let folder = task.folder();
    let listing = RestoreListing::for_sdk(sdk);
    let mut all = s3::list(s3, &task.s3_bucket, &folder, listing)
        .await
        .map_err(|e| anyhow::anyhow!("listing s3://{}/{folder}: {e}", task.s3_bucket))?;
    if let Some(table) = table {
        all = s3::of_table(&folder, &all, table).map_err(|folders| {
            anyhow::anyhow!(
                "export {export_id} has no table folder `{table}` (give `schema.table` as RDS names the folder); \
                 it has: {}",
                if folders.is_empty() { "none".to_owned() } else { folders.join(", ") }
            )
        })?;
    }
    crate::archive::restore::fill_restore_states(s3, &task.s3_bucket, &mut all).await?;
    Ok((task, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(env: &str) -> Context {
        let config = s3exports_config::embedded_env(env).unwrap().config;
        Context { config, format: Format::Table, caching: Caching::Off, aws: AwsArgs::default() }
    }

    #[test]
    fn the_default_glue_database_is_the_configured_one_in_any_case() {
        let prod = context("prod");
        let named = prod.default_glue_database(Some("pams-stack-prod"));
        assert!(named.is_some());
        assert_eq!(prod.default_glue_database(Some("PAMS-Stack-Prod")), named, "RDS ids ignore case");
        assert_eq!(prod.default_glue_database(None), None, "three databases: none is the default");
        assert_eq!(context("dev").default_glue_database(None), None, "no databases");
    }
}
