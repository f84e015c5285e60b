//! What every binary's command line shares: the standard AWS arguments and the SDK
//! configuration they give, the environment's config (embedded or a file) with its warnings,
//! and SDK errors as short text.

pub mod output;

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

/// An S3 client; path-style addressing whenever the S3 endpoint is overridden
/// ([`s3_endpoint_override`]: `AWS_ENDPOINT_URL_S3`, the profile's `services` section,
/// `AWS_ENDPOINT_URL` or the profile's `endpoint_url`), as a local emulator or an S3-compatible
/// store needs: it has no per-bucket host names.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = s3_endpoint_override(sdk).is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build())
}

/// The endpoint the SDK gives its S3 clients in place of AWS's, if one is set: the service's
/// own setting first (`AWS_ENDPOINT_URL_S3`, the profile's `services` section), then
/// `AWS_ENDPOINT_URL`, as the generated client resolves it.
pub fn s3_endpoint_override(sdk: &aws_config::SdkConfig) -> Option<String> {
    use aws_types::service_config::ServiceConfigKey;
    let key =
        ServiceConfigKey::builder().service_id("S3").env("AWS_ENDPOINT_URL").profile("endpoint_url").build().ok()?;
    sdk.service_config().and_then(|config| config.load_config(key)).or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// An S3 endpoint URL, resolved by the SDK's own endpoint rules (so `amazonaws.com.cn` in
/// aws-cn, the GovCloud and ISO domains, `s3-fips`, `s3.dualstack`), never built by hand.
///
/// Without `bucket`: what the SDK's S3 client calls, path-style: the override when one is set,
/// else AWS's endpoint for the region with the FIPS and dual-stack settings. With `bucket` and
/// `aws_only`: the bucket's regional AWS endpoint, virtual-hosted, whatever the local settings,
/// which is what another AWS service (CloudFormation's TemplateURL) is given to read from.
pub async fn resolve_s3_endpoint(
    sdk: &aws_config::SdkConfig,
    bucket: Option<&str>,
    aws_only: bool,
) -> Result<String, String> {
    use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let region = sdk.region().ok_or("no AWS region: pass --region or set AWS_REGION (or the profile's region)")?;
    let mut params = Params::builder().region(region.as_ref()).force_path_style(bucket.is_none());
    if let Some(bucket) = bucket {
        params = params.bucket(bucket);
    }
    if !aws_only {
        params = params
            .use_fips(sdk.use_fips().unwrap_or(false))
            .use_dual_stack(sdk.use_dual_stack().unwrap_or(false))
            .set_endpoint(s3_endpoint_override(sdk));
    }
    let params = params.build().map_err(|e| format!("S3 endpoint parameters: {e}"))?;
    let endpoint = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| format!("no S3 endpoint for region {region}: {e}"))?;
    Ok(endpoint.url().trim_end_matches('/').to_owned())
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

/// A `--since` value: how far back to look, as a positive duration (`7d`, `36h`, `1d 12h`).
/// Takes `allow_hyphen_values` on the argument, so a negative one is explained here rather
/// than mistaken for an option.
pub fn parse_since(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "`{text}`: --since is how far back to look, a positive duration such as 7d, 36h or \"1d 12h\""
        ));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. 7d, 36h or \"1d 12h\""))
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn resolved(region: &str, fips: bool, dual_stack: bool, bucket: Option<&str>) -> String {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new(region.to_owned()))
            .use_fips(fips)
            .use_dual_stack(dual_stack)
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        resolve_s3_endpoint(&sdk, bucket, bucket.is_some()).await.unwrap()
    }

    #[tokio::test]
    async fn s3_endpoints_follow_the_partition_fips_and_dual_stack() {
        assert_eq!(resolved("cn-north-1", false, false, None).await, "https://s3.cn-north-1.amazonaws.com.cn");
        assert_eq!(resolved("us-gov-west-1", false, false, None).await, "https://s3.us-gov-west-1.amazonaws.com");
        assert_eq!(resolved("us-gov-west-1", true, false, None).await, "https://s3-fips.us-gov-west-1.amazonaws.com");
        assert_eq!(resolved("eu-west-1", false, true, None).await, "https://s3.dualstack.eu-west-1.amazonaws.com");
        // The URL another AWS service reads a bucket's object from: virtual-hosted, regional.
        assert_eq!(
            resolved("cn-northwest-1", true, true, Some("artifacts")).await,
            "https://artifacts.s3.cn-northwest-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn since_is_a_positive_duration_and_says_so() {
        assert_eq!(parse_since("36h"), Ok(std::time::Duration::from_secs(36 * 3600)));
        let negative = parse_since("-1d").unwrap_err();
        assert!(negative.contains("how far back to look, a positive duration"), "{negative}");
        assert!(parse_since("soon").unwrap_err().contains("`soon` is not a duration"));
    }

    #[tokio::test]
    async fn an_endpoint_override_wins_and_no_region_is_an_error() {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:5000")
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        assert_eq!(resolve_s3_endpoint(&sdk, None, false).await.unwrap(), "http://127.0.0.1:5000");
        let none = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        assert!(resolve_s3_endpoint(&none, None, false).await.unwrap_err().contains("no AWS region"));
    }
}
