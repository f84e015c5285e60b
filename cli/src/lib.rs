//! What every binary's command line shares: the standard AWS arguments and the SDK
//! configuration they give, the environment's config (embedded or a file) with its warnings,
//! and SDK errors as short text.

use std::path::Path;

use anyhow::{Context, Result, bail};
use s3exports_config::{Config, EnvSelector};

pub use s3exports_rds::error::{bounded, error_text, sdk_error_text};

/// The standard AWS configuration (profiles, SSO, environment, `AWS_ENDPOINT_URL`), with the
/// two choices people make on the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS profile (otherwise the standard AWS configuration decides).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (otherwise the standard AWS configuration decides).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

impl AwsArgs {
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::from_env();
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        loader.load().await
    }
}

/// An S3 client; path-style addressing when `AWS_ENDPOINT_URL` points at a local emulator,
/// which has no per-bucket host names.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build())
}

/// The environment's config: from `file` when given (which must configure the environment
/// `selector` names, if it names one), else the embedded one the selector picks. Warnings go
/// to stderr.
pub fn load_config(selector: &EnvSelector, file: Option<&Path>) -> Result<Config> {
    let loaded = match file {
        Some(path) => {
            let loaded = s3exports_config::load_file(path)?;
            if let EnvSelector::Named(name) = selector {
                if name != &loaded.config.environment {
                    bail!(
                        "{} configures environment `{}`, not `{name}`: pass --env {} or another file",
                        path.display(),
                        loaded.config.environment,
                        loaded.config.environment
                    );
                }
            }
            loaded
        }
        None => {
            let all = s3exports_config::embedded()?;
            let configs: Vec<Config> = all.iter().map(|l| l.config.clone()).collect();
            let cwd = std::env::current_dir().unwrap_or_default();
            let chosen = s3exports_config::select(selector, &configs, || s3exports_config::current_git_branch(&cwd))?;
            all.into_iter()
                .find(|l| l.config.environment == chosen.environment)
                .context("the selected environment is not among the embedded ones")?
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    Ok(loaded.config)
}

/// `now - since` for a `--since` argument, or an error naming the value when it reaches before
/// the calendar's start.
pub fn since_time(
    now: chrono::DateTime<chrono::Utc>,
    since: std::time::Duration,
) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::Duration::from_std(since)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .with_context(|| format!("--since {}: too long ago to be a date", humantime::format_duration(since)))
}

/// An object's bytes, or the range asked for (`bytes=-8`: the last eight).
pub async fn get_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    range: Option<String>,
) -> Result<Vec<u8>, s3exports_rds::AwsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range)
        .send()
        .await
        .map_err(|e| s3exports_rds::classify(&e))?;
    let bytes =
        out.body.collect().await.map_err(|e| {
            s3exports_rds::AwsError::Transient(format!("reading s3://{bucket}/{key}: {}", error_text(e)))
        })?;
    Ok(bytes.into_bytes().to_vec())
}
