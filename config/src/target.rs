//! The document a database stack publishes (one SSM parameter per database) and the exporter
//! reads at run time: where and how to export that database's snapshots.

use serde::{Deserialize, Serialize};

use crate::model::{Database, Defaults};
use crate::policy::{ExportPolicy, MinInterval, ObjectLock, SnapshotType};
use crate::validate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportTarget {
    pub s3_bucket_name: String,
    #[serde(default)]
    pub s3_prefix: String,
    pub iam_role_arn: String,
    pub kms_key_arn: String,
    /// Policy fields: absent means the environment's defaults apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_types: Option<Vec<SnapshotType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<MinInterval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_only: Option<Vec<String>>,
    /// Glue database the completed exports are catalogued into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glue_database: Option<String>,
    /// How completed exports are sealed (absent: not sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLock>,
    /// Days after the snapshot day a seal lasts: the lifecycle's `expire_days`, so S3's lock
    /// and its expiry agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_days: Option<u32>,
    /// Rows may fall by this percentage against the previous snapshot before an alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_drop_warn_pct: Option<u32>,
}

impl ExportTarget {
    /// A target with the environment's defaults for every policy field.
    pub fn new(
        s3_bucket_name: impl Into<String>,
        s3_prefix: impl Into<String>,
        iam_role_arn: impl Into<String>,
        kms_key_arn: impl Into<String>,
    ) -> Self {
        Self {
            s3_bucket_name: s3_bucket_name.into(),
            s3_prefix: s3_prefix.into(),
            iam_role_arn: iam_role_arn.into(),
            kms_key_arn: kms_key_arn.into(),
            snapshot_types: None,
            min_interval: None,
            export_only: None,
            glue_database: None,
            object_lock: None,
            retain_days: None,
            row_drop_warn_pct: None,
        }
    }

    /// The seal a completed export gets: the mode and its days, when sealing is on.
    pub fn seal(&self) -> Option<(ObjectLock, u32)> {
        let lock = self.object_lock.filter(|l| *l != ObjectLock::Off)?;
        Some((lock, self.retain_days?))
    }

    /// The target infra publishes for a configured database, given its role and key ARNs.
    pub fn for_database(db: &Database, defaults: &Defaults, iam_role_arn: String, kms_key_arn: String) -> Self {
        Self {
            s3_bucket_name: db.s3_bucket_name.clone(),
            s3_prefix: db.s3_prefix.clone(),
            iam_role_arn,
            kms_key_arn,
            snapshot_types: Some(db.policy.snapshot_types.clone()),
            min_interval: Some(db.policy.min_interval),
            export_only: Some(db.policy.export_only.clone()),
            glue_database: Some(crate::names::glue_database(&db.db_name)),
            object_lock: Some(db.object_lock),
            retain_days: Some(db.lifecycle.expire_days),
            row_drop_warn_pct: Some(defaults.row_drop_warn_pct),
        }
    }

    pub fn policy(&self, defaults: &Defaults) -> ExportPolicy {
        ExportPolicy {
            snapshot_types: self.snapshot_types.clone().unwrap_or_else(|| defaults.snapshot_types.clone()),
            min_interval: self.min_interval.unwrap_or(defaults.min_interval),
            export_only: self.export_only.clone().unwrap_or_default(),
        }
    }

    /// Checks what StartExportTask would reject, so a bad target is reported as such.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Err(e) = validate::bucket_name(&self.s3_bucket_name) {
            problems.push(format!("s3_bucket_name: {e}"));
        }
        if let Err(e) = validate::s3_prefix(&self.s3_prefix) {
            problems.push(format!("s3_prefix: {e}"));
        }
        if !self.iam_role_arn.starts_with("arn:") || !self.iam_role_arn.contains(":role/") {
            problems.push(format!("iam_role_arn: `{}` is not an IAM role ARN", self.iam_role_arn));
        }
        if !self.kms_key_arn.starts_with("arn:") || !self.kms_key_arn.contains(":key/") {
            problems.push(format!("kms_key_arn: `{}` is not a KMS key ARN", self.kms_key_arn));
        }
        for (i, e) in self.export_only.iter().flatten().enumerate() {
            if let Err(msg) = validate::export_only_entry(e) {
                problems.push(format!("export_only[{i}]: {msg}"));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}
