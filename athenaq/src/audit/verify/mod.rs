//! `verify`: the evidence that one export is whole, one row per check. The checks are plain
//! functions over what was read (`checks`); [`verify`] reads it ([`reads`]: RDS, S3, S3
//! Control, KMS, Glue) and runs them.

pub(crate) mod checks;
pub(crate) mod manifest;
pub mod reads;

use s3exports_config::{Config, Database, names};
use s3exports_rds::layout::{EntryKind, TableRef};
use s3exports_rds::{AwsError, ExportTask, TaskFilter};

pub use checks::{Check, FooterRead, LifecycleRule, Status, to_rows};
use checks::{check, parts_of};

use crate::aws::s3::{self, Object, RestoreListing};
use reads::{JsonRead, Reads};

/// The clients verify reads through.
#[derive(Debug)]
pub struct Clients {
    pub rds: aws_sdk_rds::Client,
    pub s3: aws_sdk_s3::Client,
    pub s3control: aws_sdk_s3control::Client,
    pub kms: aws_sdk_kms::Client,
    pub glue: aws_sdk_glue::Client,
    pub listing: RestoreListing,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            rds: aws_sdk_rds::Client::new(sdk),
            s3: s3exports_cli::s3_client(sdk),
            s3control: aws_sdk_s3control::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            glue: aws_sdk_glue::Client::new(sdk),
            listing: RestoreListing::for_sdk(sdk),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no export task `{0}` in this account and region")]
    NoSuchExport(String),
    #[error("export `{id}` went to s3://{bucket}, not a bucket of environment {env}")]
    NotOurs { id: String, bucket: String, env: String },
    #[error("{0}: {1}")]
    Aws(String, AwsError),
}

/// The export task and the configured database whose bucket it went to.
pub async fn find_export<'c>(
    rds: &aws_sdk_rds::Client,
    config: &'c Config,
    export_id: &str,
) -> Result<(ExportTask, &'c Database), VerifyError> {
    let filter = TaskFilter { export_task_identifier: Some(export_id.to_owned()), ..TaskFilter::default() };
    let task = s3exports_rds::sdk::describe_export_tasks(rds, &filter)
        .await
        .map_err(|e| VerifyError::Aws("DescribeExportTasks".into(), e))?
        .into_iter()
        .next()
        .ok_or_else(|| VerifyError::NoSuchExport(export_id.to_owned()))?;
    let db = config.database_for_bucket(&task.s3_bucket).ok_or_else(|| VerifyError::NotOurs {
        id: task.id.clone(),
        bucket: task.s3_bucket.clone(),
        env: config.environment.clone(),
    })?;
    Ok((task, db))
}

pub async fn verify(c: &Clients, config: &Config, export_id: &str, deep: bool) -> Result<Vec<Check>, VerifyError> {
    let (task, db) = find_export(&c.rds, config, export_id).await?;
    let r = Reads { c, bucket: task.s3_bucket.clone() };
    let bucket = &r.bucket;
    let mut checks = vec![checks::task_status(&task)];
    let folder = task.folder();
    let listed = s3::list(&c.s3, bucket, &folder, c.listing)
        .await
        .map_err(|e| VerifyError::Aws(format!("listing s3://{bucket}/{folder}"), e))?;
    let mut objects = listed;
    crate::archive::restore::fill_restore_states(&c.s3, bucket, &mut objects)
        .await
        .map_err(|e| VerifyError::Aws(format!("reading restore states in s3://{bucket}/{folder}"), e))?;

    checks.extend(against_manifest(c, config, &task, db, &folder, deep).await);

    let entries = match r.tables_info(&task, &objects).await {
        JsonRead::Read(entries) => {
            checks.extend(checks::tables_complete(&entries));
            entries
        }
        JsonRead::Archived(why) => {
            checks.push(check("tables", Status::Warn, why));
            Vec::new()
        }
        JsonRead::Failed(why) => {
            checks.push(check("tables", Status::Fail, why));
            Vec::new()
        }
    };
    let complete: Vec<TableRef> = entries
        .iter()
        .filter(|t| t.kind() == EntryKind::Complete)
        .filter_map(|t| TableRef::from_target(&t.target))
        .collect();
    if !entries.is_empty() {
        checks.push(checks::part_files(&folder, &complete, &objects));
    }

    // The sample: the first part file of each table; with --deep, every part file.
    let parts: Vec<&Object> = if deep {
        objects.iter().filter(|o| o.is_part_file()).collect()
    } else {
        complete.iter().filter_map(|t| parts_of(&folder, t, &objects).into_iter().min_by_key(|o| &o.key)).collect()
    };
    checks.push(checks::footers(&r.footers(&parts).await, deep));

    let sampled: Vec<&Object> = if deep {
        objects.iter().collect()
    } else {
        objects.iter().filter(|o| !o.is_part_file()).chain(parts.iter().copied()).collect()
    };
    checks.push(match r.key_arn(&task.kms_key_id).await {
        Ok(key) => checks::encryption(&r.heads(&sampled).await, &key, deep),
        Err(e) => check("encryption", Status::Fail, e),
    });

    checks.push(match r.lifecycle_rules().await {
        Ok(rules) => checks::lifecycle(&rules, &db.lifecycle, &folder),
        Err(e) => check("lifecycle", Status::Fail, format!("GetBucketLifecycleConfiguration: {e}")),
    });
    checks.push(match r.bucket_public_access_block().await {
        Ok(block) => checks::public_access(block, r.account_public_access_block(&task).await),
        Err(e) => check("public access", Status::Fail, format!("GetPublicAccessBlock: {e}")),
    });
    let database = names::glue_database(&db.db_name);
    checks.push(match r.snapshot_date(&task, &objects).await {
        JsonRead::Read(date) => match reads::missing_partitions(&c.glue, &database, &task.id, &date, &complete).await {
            Ok(missing) => checks::catalogue(&complete, &missing, &database),
            Err(e) => check("catalogue", Status::Fail, e),
        },
        JsonRead::Archived(why) => check("catalogue", Status::Warn, why),
        JsonRead::Failed(why) => check("catalogue", Status::Fail, why),
    });
    Ok(checks)
}

/// The checks against the export's manifest (none but the manifest row when there is none).
async fn against_manifest(
    c: &Clients,
    config: &Config,
    task: &ExportTask,
    db: &Database,
    folder: &str,
    deep: bool,
) -> Vec<Check> {
    let bucket = task.s3_bucket.as_str();
    let found = manifest::read(&c.s3, bucket, &manifest::key_of(task, db)).await;
    let mut checks = vec![manifest::manifest_check(&found, task)];
    let manifest::Found::Read { manifest: m, state, versions: 1, .. } = &found else { return checks };
    if m.export.id != task.id {
        return checks;
    }
    match s3exports_evidence::s3::list_versions(&c.s3, bucket, folder).await {
        Ok(versions) => checks.push(manifest::objects(m, &versions)),
        Err(e) => checks.push(check(
            "objects",
            Status::Fail,
            format!("listing the versions under s3://{bucket}/{folder}: {e}"),
        )),
    }
    let heads = manifest::heads(&c.s3, bucket, m).await;
    checks.push(manifest::checksums(m, &heads));
    let denied = match &m.seal {
        Some(_) => manifest::retention_denied(&c.s3, bucket, state).await,
        None => None,
    };
    checks.push(match denied {
        Some(why) => check("retention", Status::Fail, why),
        None => manifest::retention(m, &heads, state, db, chrono::Utc::now()),
    });
    let (chain, previous) = manifest::chain(&c.s3, bucket, m).await;
    checks.push(chain);
    checks.push(manifest::chain_head(&c.s3, bucket, m).await);
    checks.push(manifest::completeness_check(m, previous.as_ref(), config.defaults.row_drop_warn_pct));
    if deep {
        checks.push(manifest::rows(&c.s3, bucket, m).await);
    }
    checks
}
