//! The config file schema and its parsing into a validated [`Config`].

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Problem};
use crate::policy::{ExportPolicy, Lifecycle, MinInterval, ObjectLock, SnapshotType};
use crate::validate;

/// How completed exports are catalogued in Glue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogMode {
    /// The pipeline registers tables and partitions itself (default).
    #[default]
    Glue,
    /// The seed's way: one Glue crawler per database, started on the completed export.
    Crawler,
}

/// A validated environment configuration, with defaults applied to every database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub environment: String,
    pub git_branch: String,
    pub defaults: Defaults,
    pub vpc: Option<Vpc>,
    pub databases: Vec<Database>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default = "all_snapshot_types")]
    pub snapshot_types: Vec<SnapshotType>,
    /// Export tasks the pipeline may have in progress at once (account quota: 5).
    #[serde(default = "default_export_slots")]
    pub export_slots: u32,
    #[serde(default)]
    pub min_interval: MinInterval,
    #[serde(default)]
    pub alert_emails: Vec<String>,
    #[serde(default)]
    pub catalog: CatalogMode,
    /// Reserved concurrency of each function. Off by default: AWS refuses a reservation that
    /// leaves the account fewer than its minimum unreserved executions (100, lower in some
    /// accounts), and the queues' `MaximumConcurrency` and the pending queue's lock bound the
    /// functions anyway. At least 3 when set (two pollers and a schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// Object Lock for completed exports (see [`ObjectLock`]); `None` in the file means
    /// `governance` in prod and `off` elsewhere (applied by [`parse`]).
    #[serde(default)]
    pub object_lock: Option<ObjectLock>,
    /// `verify` warns, and the cataloguer alerts once, when a table's rows fell by more than
    /// this percentage against the previous snapshot.
    #[serde(default = "default_row_drop_warn_pct")]
    pub row_drop_warn_pct: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            lifecycle: Lifecycle::default(),
            snapshot_types: all_snapshot_types(),
            export_slots: default_export_slots(),
            min_interval: MinInterval::NONE,
            alert_emails: Vec::new(),
            catalog: CatalogMode::Glue,
            reserved_concurrency: None,
            object_lock: None,
            row_drop_warn_pct: default_row_drop_warn_pct(),
        }
    }
}

fn default_row_drop_warn_pct() -> u32 {
    50
}

impl Defaults {
    pub fn policy(&self) -> ExportPolicy {
        ExportPolicy {
            snapshot_types: self.snapshot_types.clone(),
            min_interval: self.min_interval,
            export_only: Vec::new(),
        }
    }
}

fn all_snapshot_types() -> Vec<SnapshotType> {
    SnapshotType::ALL.to_vec()
}

fn default_export_slots() -> u32 {
    5
}

/// Optional VPC placement of the Lambda (off by default: it only calls AWS APIs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    pub vpc_id: String,
    pub private_subnet_ids: Vec<String>,
    /// Where the functions may connect. Must cover the VPC endpoints of RDS, SQS, SNS, SSM,
    /// S3, Glue and CloudWatch (or a NAT's route to them): the functions call nothing else, and
    /// nothing at all if these are missing.
    pub allowed_egress_cidrs: Vec<String>,
}

/// One exported database with its effective settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Database {
    /// RDS instance id or Aurora cluster id.
    pub db_name: String,
    pub s3_bucket_name: String,
    /// Key prefix inside the bucket, without leading or trailing `/`; empty for the root.
    pub s3_prefix: String,
    pub policy: ExportPolicy,
    pub lifecycle: Lifecycle,
    /// Object Lock for this database's completed exports, defaults applied.
    pub object_lock: ObjectLock,
}

impl Database {
    /// Whether `name` names this database, in any case ([`crate::names::same_db_id`]).
    pub fn is_named(&self, name: &str) -> bool {
        crate::names::same_db_id(&self.db_name, name)
    }
}

impl Config {
    /// The configured database `db_name` names, in any case (see [`Database::is_named`]).
    pub fn database(&self, db_name: &str) -> Option<&Database> {
        self.databases.iter().find(|d| d.is_named(db_name))
    }

    /// The configured database whose export bucket is `bucket` (validation gives every database
    /// its own bucket); `None` for a bucket that is not one of this environment's.
    pub fn database_for_bucket(&self, bucket: &str) -> Option<&Database> {
        self.databases.iter().find(|d| d.s3_bucket_name == bucket)
    }

    /// The databases a `--db` option selects: every configured one without it, else the one it
    /// names in any case (none when it names no configured database).
    pub fn selected<'a>(&'a self, db: Option<&'a str>) -> impl Iterator<Item = &'a Database> {
        self.databases.iter().filter(move |d| db.is_none_or(|name| d.is_named(name)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    environment: String,
    git_branch: String,
    #[serde(default)]
    defaults: Defaults,
    vpc: Option<Vpc>,
    #[serde(default)]
    databases: Vec<RawDatabase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    db_name: String,
    s3_bucket_name: String,
    export_only: Option<Vec<String>>,
    s3_prefix: Option<String>,
    snapshot_types: Option<Vec<SnapshotType>>,
    min_interval: Option<MinInterval>,
    lifecycle: Option<LifecycleOverride>,
    object_lock: Option<ObjectLock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleOverride {
    glacier_days: Option<u32>,
    deep_archive_days: Option<u32>,
    expire_days: Option<u32>,
}

impl LifecycleOverride {
    fn over(&self, base: Lifecycle) -> Lifecycle {
        Lifecycle {
            glacier_days: self.glacier_days.unwrap_or(base.glacier_days),
            deep_archive_days: self.deep_archive_days.unwrap_or(base.deep_archive_days),
            expire_days: self.expire_days.unwrap_or(base.expire_days),
        }
    }
}

/// A parsed, validated config and the warnings worth showing its author.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Problem>,
}

/// Parses and validates one config file's text; `file` names it in every message.
pub fn parse(file: &str, text: &str) -> Result<Loaded, ConfigError> {
    let invalid = |problems| ConfigError::Invalid { file: file.to_owned(), problems };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| invalid(vec![toml_problem(text, "", &e)]))?;
    let raw: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        invalid(vec![toml_problem(text, &path, e.inner())])
    })?;

    let mut defaults = raw.defaults;
    let object_lock = *defaults.object_lock.get_or_insert(ObjectLock::default_for(&raw.environment));
    let databases: Vec<Database> = raw
        .databases
        .into_iter()
        .map(|d| Database {
            lifecycle: d.lifecycle.unwrap_or_default().over(defaults.lifecycle),
            policy: ExportPolicy {
                snapshot_types: d.snapshot_types.unwrap_or_else(|| defaults.snapshot_types.clone()),
                min_interval: d.min_interval.unwrap_or(defaults.min_interval),
                export_only: d.export_only.unwrap_or_default(),
            },
            s3_prefix: d.s3_prefix.unwrap_or_default(),
            object_lock: d.object_lock.unwrap_or(object_lock),
            db_name: d.db_name,
            s3_bucket_name: d.s3_bucket_name,
        })
        .collect();
    let config = Config { environment: raw.environment, git_branch: raw.git_branch, defaults, vpc: raw.vpc, databases };

    let report = validate::config(&config);
    if !report.errors.is_empty() {
        return Err(invalid(report.errors));
    }
    Ok(Loaded { config, warnings: report.warnings })
}

/// A TOML or schema error as a problem at a field path, with the line it is on.
fn toml_problem(text: &str, path: &str, error: &toml::de::Error) -> Problem {
    let message = error.message().trim_end().to_owned();
    let message = match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            // toml says only "duplicate key": the span is the key, so name it.
            let key = text.get(span.start..span.end.min(text.len())).unwrap_or_default();
            let key = key.lines().next().unwrap_or_default().trim();
            if message == "duplicate key" && !key.is_empty() {
                let key: String = key.chars().take(80).collect();
                format!("duplicate key `{key}` (line {line}); keep one")
            } else {
                format!("{message} (line {line})")
            }
        }
        None => message,
    };
    Problem::new(path, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "environment = \"t\"\ngit_branch = \"t\"\n\
                    [[databases]]\ndb_name = \"pams-stack-prod\"\ns3_bucket_name = \"pams-exports\"\n\
                    [[databases]]\ndb_name = \"lams-stack-prod\"\ns3_bucket_name = \"lams-exports\"\n";
        parse("t.toml", text).unwrap().config
    }

    fn names<'a>(dbs: impl Iterator<Item = &'a Database>) -> Vec<&'a str> {
        dbs.map(|d| d.db_name.as_str()).collect()
    }

    #[test]
    fn db_selects_one_database_in_any_case_or_all_without_it() {
        let c = config();
        assert_eq!(names(c.selected(None)), ["pams-stack-prod", "lams-stack-prod"]);
        // RDS identifiers are case-insensitive ("DBInstanceIdentifier ... stored as a lowercase
        // string", CreateDBInstance in the Amazon RDS API Reference).
        for db in ["pams-stack-prod", "PAMS-Stack-Prod"] {
            assert_eq!(names(c.selected(Some(db))), ["pams-stack-prod"], "{db:?}");
            assert_eq!(c.database(db).map(|d| d.db_name.as_str()), Some("pams-stack-prod"), "{db:?}");
        }
        for other in ["pams", "pams-stack-prod2", " pams-stack-prod", ""] {
            assert_eq!(names(c.selected(Some(other))), Vec::<&str>::new(), "{other:?}");
            assert!(c.database(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn the_database_of_a_bucket_is_the_one_exporting_to_it() {
        let c = config();
        assert_eq!(c.database_for_bucket("lams-exports").map(|d| d.db_name.as_str()), Some("lams-stack-prod"));
        // Bucket names are exact: S3 allows only lower case, so another case is another bucket.
        assert!(c.database_for_bucket("LAMS-exports").is_none());
        assert!(c.database_for_bucket("someone-elses-bucket").is_none());
    }
}
