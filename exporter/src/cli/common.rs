//! What the exporter's commands share: the run options, settings from the compiled-in config,
//! the AWS edge, export targets from a file, the pending queue, and how decisions are printed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use s3exports_cli::AwsArgs;
use s3exports_config::{EnvSelector, ExportTarget, names};
use s3exports_exporter::aws::sdk::{Queues, SdkAws, TargetSource};
use s3exports_exporter::catalogue::Cataloguer;
use s3exports_exporter::poll::queue_url;
use s3exports_exporter::{Handled, Outcome, Settings};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// Running a handler on one Lambda event from a file.
#[derive(Debug, clap::Args)]
pub struct EventRun {
    /// The Lambda event (SQS, SNS or EventBridge), as JSON.
    #[arg(long)]
    pub event: PathBuf,
    #[command(flatten)]
    pub aws: RunArgs,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Make every read but change nothing (no export started, no catalogue written).
    #[arg(long)]
    pub dry_run: bool,
    /// Environment whose defaults and parameters apply: dev, prod or auto (git branch).
    #[arg(long, env = "ENVIRONMENT", default_value = "auto")]
    pub env: EnvSelector,
    #[command(flatten)]
    pub sdk: AwsArgs,
}

/// The AWS edge with per-database targets from the parameters the database stacks publish.
pub(crate) fn exporting_aws(sdk: &aws_config::SdkConfig, environment: String) -> SdkAws {
    SdkAws::from_config(sdk, TargetSource::Ssm { client: aws_sdk_ssm::Client::new(sdk), environment })
}

/// Policy defaults of the selected environment, from the config compiled into the binary.
pub(crate) fn settings_for(env: &EnvSelector, dry_run: bool, queue_actions: bool) -> Result<Settings> {
    let config = s3exports_cli::load_config(env, None)?;
    Ok(Settings { environment: config.environment, defaults: config.defaults, dry_run, queue_actions })
}

pub(crate) fn cataloguer(sdk: &aws_config::SdkConfig, settings: &Settings) -> Cataloguer {
    Cataloguer {
        s3: s3exports_cli::s3_client(sdk),
        glue: aws_sdk_glue::Client::new(sdk),
        ssm: aws_sdk_ssm::Client::new(sdk),
        environment: settings.environment.clone(),
        mode: settings.defaults.catalog,
    }
}

/// Export targets from a file, or from the parameters the database stacks publish.
pub fn target_source(sdk: &aws_config::SdkConfig, settings: &Settings, file: Option<&Path>) -> Result<TargetSource> {
    Ok(match file {
        Some(path) => TargetSource::Fixed(read_targets(path)?),
        None => TargetSource::Ssm { client: aws_sdk_ssm::Client::new(sdk), environment: settings.environment.clone() },
    })
}

/// The pending queue (by name or URL, default the environment's) and the dead-letter queue
/// beside it. `required`: fail when the pending queue cannot be found, rather than say so later.
pub async fn pending_queues(
    sqs: &aws_sdk_sqs::Client,
    env: &str,
    pending: Option<&str>,
    required: bool,
) -> Result<Queues> {
    let name = pending.map_or_else(|| names::pending_queue(env), str::to_owned);
    let pending_queue_url = match queue_url(sqs, &name).await {
        Ok(url) => Some(url),
        Err(e) if required => bail!("{e}"),
        Err(_) => None,
    };
    let dead_letter_queue_url = queue_url(sqs, &names::dead_letter_queue(env)).await.ok();
    Ok(Queues { events_queue_url: None, dead_letter_queue_url, pending_queue_url })
}

pub fn read_event(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read event file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON; it must hold one Lambda event", path.display()))
}

/// Outcomes counted as decisions are printed.
pub type Counts = BTreeMap<&'static str, usize>;

pub fn print_decisions(handled: &Handled) -> Result<ExitCode> {
    let mut counts = Counts::new();
    print_and_count(&handled.decisions, &mut counts)?;
    eprintln!("{} record(s): {}", handled.decisions.len(), outcome_summary(&counts));
    Ok(exit_status(&counts))
}

/// A rejected record is a failure of the run, as it is of the Lambda batch (it goes to the
/// dead-letter queue there): exit 1 so scripts and CI notice.
pub fn exit_status(counts: &Counts) -> ExitCode {
    if counts.get(Outcome::Reject.as_str()).is_some_and(|n| *n > 0) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// One JSON line per decision on stdout, counted by outcome.
pub fn print_and_count(decisions: &[s3exports_exporter::Decision], counts: &mut Counts) -> Result<()> {
    for d in decisions {
        println!("{}", serde_json::to_string(d)?);
        *counts.entry(d.outcome.as_str()).or_default() += 1;
    }
    Ok(())
}

pub fn outcome_summary(counts: &Counts) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    if parts.is_empty() { "nothing to do".to_owned() } else { parts.join(", ") }
}

/// The export targets of a `--targets` file: a JSON object keyed by database id. Every key is
/// read as written (serde_json would silently keep the last of two equal keys), and an empty
/// object, a key given twice, two keys differing only in case (RDS ids ignore case: one
/// database, two buckets) and a target StartExportTask would refuse are errors naming them.
pub fn read_targets(path: &Path) -> Result<HashMap<String, ExportTarget>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read targets file {}", path.display()))?;
    let expected = "expected an object keyed by database id whose values have s3_bucket_name, s3_prefix, \
                    iam_role_arn and kms_key_arn";
    let entries = serde_json::Deserializer::from_str(&text)
        .deserialize_map(EntriesVisitor)
        .with_context(|| format!("{}: {expected}", path.display()))?;
    parse_targets(entries).map_err(|problem| anyhow::anyhow!("{}: {problem}", path.display()))
}

/// The checks of [`read_targets`] on the entries as written.
pub fn parse_targets(entries: Vec<(String, ExportTarget)>) -> Result<HashMap<String, ExportTarget>, String> {
    if entries.is_empty() {
        return Err("holds no export target: give at least one database id with its target".into());
    }
    let mut out: HashMap<String, ExportTarget> = HashMap::new();
    let mut lower: HashMap<String, String> = HashMap::new();
    for (db, target) in entries {
        if out.contains_key(&db) {
            return Err(format!("target `{db}` is given twice; keep one"));
        }
        if let Some(first) = lower.insert(db.to_ascii_lowercase(), db.clone()) {
            return Err(format!(
                "targets `{first}` and `{db}` differ only in case: RDS identifiers ignore case, so they are one \
                 database, which would be exported to two buckets; keep one"
            ));
        }
        target.validate().map_err(|problem| format!("target `{db}`: {problem}"))?;
        out.insert(db, target);
    }
    Ok(out)
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(String, ExportTarget)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object keyed by database id")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut out = Vec::new();
        while let Some(entry) = map.next_entry::<String, ExportTarget>()? {
            out.push(entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(bucket: &str) -> ExportTarget {
        ExportTarget::new(
            bucket,
            "",
            "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
            "arn:aws:kms:us-east-1:123456789012:key/k",
        )
    }

    #[test]
    fn a_targets_file_says_what_is_wrong_with_it() {
        assert!(parse_targets(vec![]).unwrap_err().contains("holds no export target"));
        let twice = parse_targets(vec![("pams".into(), target("a-exports")), ("pams".into(), target("b-exports"))]);
        assert!(twice.unwrap_err().contains("`pams` is given twice"));
        let case = parse_targets(vec![("PAMS".into(), target("a-exports")), ("pams".into(), target("b-exports"))]);
        assert!(case.unwrap_err().contains("`PAMS` and `pams` differ only in case"));
        assert_eq!(parse_targets(vec![("pams".into(), target("a-exports"))]).unwrap().len(), 1);
    }

    #[test]
    fn duplicate_keys_in_the_file_are_seen() {
        let text = r#"{"pams": {"s3_bucket_name": "a-exports", "iam_role_arn": "arn:aws:iam::1:role/r", "kms_key_arn": "arn:aws:kms:us-east-1:1:key/k"},
                       "pams": {"s3_bucket_name": "b-exports", "iam_role_arn": "arn:aws:iam::1:role/r", "kms_key_arn": "arn:aws:kms:us-east-1:1:key/k"}}"#;
        let entries = serde_json::Deserializer::from_str(text).deserialize_map(EntriesVisitor).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(parse_targets(entries).unwrap_err().contains("given twice"));
    }
}
