//! What `verify` reads: the export's JSON files (which may be archived too), part-file footers,
//! HeadObject, the key behind an alias (KMS), the bucket's lifecycle and public access blocks,
//! the account's (S3 Control), and Glue partitions.

use s3exports_rds::layout::{ExportInfo, TableRef, TableStatus, TablesInfo, partition_date};
use s3exports_rds::{ExportTask, footer};

use super::Clients;
use super::checks::{BlockFlags, FooterRead, LifecycleRule, is_alias};
use crate::aws::s3::{self, Object};
use crate::progress;

/// Reads that run at once (footers, HeadObject).
const CONCURRENCY: usize = 16;

/// One of the export's JSON files, read: or archived (S3 serves it only once restored), or
/// unreadable for another reason.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRead<T> {
    Read(T),
    Archived(String),
    Failed(String),
}

/// What S3 says when asked to GET an archived object that is not restored.
fn is_archived_refusal(error: &str) -> bool {
    error.contains("InvalidObjectState")
}

#[derive(Debug)]
pub struct Reads<'a> {
    pub c: &'a Clients,
    pub bucket: String,
}

impl Reads<'_> {
    /// The export's JSON files named `<name>*`, read one by one; an archived one ends the read
    /// with the restore to run.
    async fn json_files(&self, task: &ExportTask, objects: &[Object], name: &str) -> JsonRead<Vec<(String, Vec<u8>)>> {
        let bucket = &self.bucket;
        let files: Vec<&Object> =
            objects.iter().filter(|o| o.key.rsplit('/').next().is_some_and(|f| f.starts_with(name))).collect();
        if files.is_empty() {
            let pattern = if name.ends_with(".json") { name.to_owned() } else { format!("{name}*.json") };
            return JsonRead::Failed(format!("no {pattern} in s3://{bucket}/{}", task.folder()));
        }
        let archived = |o: &Object| {
            JsonRead::Archived(format!(
                "s3://{bucket}/{} is in {} and not restored, so it was not read: `athenaq restore {}` restores it with \
                 the export, then verify again",
                o.key, o.storage_class, task.id
            ))
        };
        let mut out = Vec::new();
        for o in files {
            if o.unreadable() {
                return archived(o);
            }
            match s3::get(&self.c.s3, bucket, &o.key, None).await {
                Ok(body) => out.push((o.key.clone(), body)),
                Err(e) if is_archived_refusal(&e.to_string()) => return archived(o),
                Err(e) => return JsonRead::Failed(format!("s3://{bucket}/{}: {e}", o.key)),
            }
        }
        JsonRead::Read(out)
    }

    /// Every entry of the export's `export_tables_info_*` files.
    pub async fn tables_info(&self, task: &ExportTask, objects: &[Object]) -> JsonRead<Vec<TableStatus>> {
        let name = format!("export_tables_info_{}_", task.id);
        let files = match self.json_files(task, objects, &name).await {
            JsonRead::Read(files) => files,
            JsonRead::Archived(why) => return JsonRead::Archived(why),
            JsonRead::Failed(why) => return JsonRead::Failed(why),
        };
        let mut out = Vec::new();
        for (key, body) in files {
            match serde_json::from_slice::<TablesInfo>(&body) {
                Ok(info) => out.extend(info.per_table_status),
                Err(e) => {
                    return JsonRead::Failed(format!("s3://{}/{key} is not a tables info file: {e}", self.bucket));
                }
            }
        }
        JsonRead::Read(out)
    }

    /// The snapshot date the partitions are named by, as the cataloguer dates them
    /// ([`partition_date`]): the task's, else the export info file's (read only then), else the
    /// date in an automated snapshot's id. An info file that is archived cannot say what the
    /// cataloguer read in it, so that is a warning with the restore to run.
    pub async fn snapshot_date(&self, task: &ExportTask, objects: &[Object]) -> JsonRead<String> {
        let name = format!("export_info_{}.json", task.id);
        let mut why_unread = None;
        let info = match task.snapshot_time {
            Some(_) => None,
            None => match self.json_files(task, objects, &name).await {
                JsonRead::Read(files) => match files.into_iter().next() {
                    Some((key, body)) => match serde_json::from_slice::<ExportInfo>(&body) {
                        Ok(info) => Some(info),
                        Err(e) => {
                            why_unread = Some(format!("s3://{}/{key} is not an export info file: {e}", self.bucket));
                            None
                        }
                    },
                    None => None,
                },
                JsonRead::Failed(why) => {
                    why_unread = Some(why);
                    None
                }
                JsonRead::Archived(why) => return JsonRead::Archived(why),
            },
        };
        match partition_date(task, info.as_ref()) {
            Some(date) => JsonRead::Read(date),
            None => JsonRead::Failed(format!(
                "export {} has no snapshot date to find its partitions by: the task has no snapshot time, {}, and {} \
                 names no automated snapshot",
                task.id,
                why_unread.unwrap_or_else(|| format!("{name} has none in a form RDS writes")),
                task.source_arn
            )),
        }
    }

    pub async fn footers(&self, parts: &[&Object]) -> Vec<(String, FooterRead)> {
        progress::each_concurrently(parts, "footers", CONCURRENCY, |o| async move {
            let read =
                if o.unreadable() { FooterRead::Archived } else { read_footer(&self.c.s3, &self.bucket, &o.key).await };
            (o.key.clone(), read)
        })
        .await
    }

    pub async fn heads(&self, sampled: &[&Object]) -> Vec<(String, Result<s3::Head, String>)> {
        progress::each_concurrently(sampled, "encryption", CONCURRENCY, |o| async move {
            (o.key.clone(), s3::head(&self.c.s3, &self.bucket, &o.key).await.map_err(|e| e.to_string()))
        })
        .await
    }

    /// The key ARN a task's KMS key identifier names: an alias (the task may have been started
    /// with one) is resolved with DescribeKey; a key ARN or id is used as it is.
    pub async fn key_arn(&self, key: &str) -> Result<String, String> {
        if !is_alias(key) {
            return Ok(key.to_owned());
        }
        let out = self.c.kms.describe_key().key_id(key).send().await.map_err(|e| {
            format!(
                "the export was encrypted with {key}, an alias, and DescribeKey could not resolve it: {}; \
                 allow kms:DescribeKey on the database's key",
                s3exports_cli::sdk_error_text(&e)
            )
        })?;
        out.key_metadata()
            .and_then(|m| m.arn())
            .map(str::to_owned)
            .ok_or_else(|| format!("DescribeKey {key} returned no key ARN"))
    }

    pub async fn lifecycle_rules(&self) -> Result<Vec<LifecycleRule>, String> {
        let out = match self.c.s3.get_bucket_lifecycle_configuration().bucket(&self.bucket).send().await {
            Ok(out) => out,
            Err(e) if s3exports_cli::sdk_error_text(&e).contains("NoSuchLifecycleConfiguration") => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(s3exports_cli::sdk_error_text(&e)),
        };
        Ok(out.rules().iter().map(lifecycle_rule).collect())
    }

    pub async fn bucket_public_access_block(&self) -> Result<BlockFlags, String> {
        match self.c.s3.get_public_access_block().bucket(&self.bucket).send().await {
            Ok(out) => Ok(out.public_access_block_configuration().map(|b| {
                [
                    b.block_public_acls().unwrap_or(false),
                    b.ignore_public_acls().unwrap_or(false),
                    b.block_public_policy().unwrap_or(false),
                    b.restrict_public_buckets().unwrap_or(false),
                ]
            })),
            Err(e) if s3exports_cli::sdk_error_text(&e).contains("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(s3exports_cli::sdk_error_text(&e)),
        }
    }

    /// The account's public access blocks (S3 Control), in the account the export's role
    /// belongs to.
    pub async fn account_public_access_block(&self, task: &ExportTask) -> Result<BlockFlags, String> {
        let Some(account) = account_of(&task.iam_role_arn).or_else(|| account_of(&task.kms_key_id)) else {
            return Err("no account id in the task's role or key ARN".into());
        };
        match self.c.s3control.get_public_access_block().account_id(account).send().await {
            Ok(out) => Ok(out.public_access_block_configuration().map(|b| {
                [
                    b.block_public_acls().unwrap_or(false),
                    b.ignore_public_acls().unwrap_or(false),
                    b.block_public_policy().unwrap_or(false),
                    b.restrict_public_buckets().unwrap_or(false),
                ]
            })),
            Err(e) if s3exports_cli::sdk_error_text(&e).contains("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(format!("{}; allow s3:GetAccountPublicAccessBlock", s3exports_cli::sdk_error_text(&e))),
        }
    }
}

/// The account id in an ARN (`arn:<partition>:<service>:<region>:<account>:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

fn lifecycle_rule(r: &aws_sdk_s3::types::LifecycleRule) -> LifecycleRule {
    let filter = r.filter();
    let and = filter.and_then(|f| f.and());
    #[allow(deprecated)]
    let legacy_prefix = r.prefix();
    LifecycleRule {
        id: r.id().unwrap_or_default().to_owned(),
        enabled: r.status().as_str() == "Enabled",
        prefix: filter
            .and_then(|f| f.prefix())
            .or_else(|| and.and_then(|a| a.prefix()))
            .or(legacy_prefix)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
        tag_filter: filter.is_some_and(|f| f.tag().is_some()) || and.is_some_and(|a| !a.tags().is_empty()),
        size_greater_than: filter
            .and_then(|f| f.object_size_greater_than())
            .or_else(|| and.and_then(|a| a.object_size_greater_than())),
        transitions: r
            .transitions()
            .iter()
            .filter_map(|t| Some((t.storage_class()?.as_str().to_owned(), t.days()?)))
            .collect(),
        expiration_days: r.expiration().and_then(|e| e.days()),
    }
}

async fn read_footer(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> FooterRead {
    let tail = match s3::get(s3, bucket, key, Some(format!("bytes=-{}", footer::TAIL_LEN))).await {
        Ok(tail) => tail,
        Err(e) if is_archived_refusal(&e.to_string()) => return FooterRead::Archived,
        Err(e) => return FooterRead::Damaged(e.to_string()),
    };
    let len = match footer::metadata_len(&tail) {
        Ok(len) => len,
        Err(e) => return FooterRead::Damaged(e),
    };
    match s3::get(s3, bucket, key, Some(format!("bytes=-{}", len + footer::TAIL_LEN))).await {
        Ok(bytes) => match footer::metadata(&bytes) {
            Ok(meta) => FooterRead::Rows(meta.file_metadata().num_rows()),
            Err(e) => FooterRead::Damaged(e),
        },
        Err(e) => FooterRead::Damaged(e.to_string()),
    }
}

/// The tables whose partition for this export is not in Glue.
pub async fn missing_partitions(
    glue: &aws_sdk_glue::Client,
    database: &str,
    export_id: &str,
    date: &str,
    tables: &[TableRef],
) -> Result<Vec<String>, String> {
    let mut missing = Vec::new();
    for t in tables {
        let table = t.glue_table();
        let found = glue
            .get_partition()
            .database_name(database)
            .table_name(&table)
            .partition_values(date)
            .partition_values(export_id)
            .send()
            .await;
        match found {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_entity_not_found_exception()) => {
                missing.push(format!("{table} ({date}, {export_id})"));
            }
            Err(e) => return Err(format!("GetPartition {database}.{table}: {}", s3exports_cli::sdk_error_text(&e))),
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use s3exports_rds::ExportStatus;

    const AUTOMATED: &str = "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:pams-2026-11-24-03-10";

    fn clients(s3: aws_sdk_s3::Client) -> Clients {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Clients { s3, listing: s3::RestoreListing::Answered, ..Clients::new(&sdk) }
    }

    fn info_file(key: &str) -> Object {
        Object { key: key.into(), size: 100, etag: "e".into(), storage_class: "STANDARD".into(), restore: None }
    }

    /// The date verify looks the partitions up by, with S3 answering GetObject of the export's
    /// info file with `body` (when it is listed).
    async fn date(source_arn: &str, listed: &[Object], body: &'static str) -> JsonRead<String> {
        let get = mock!(aws_sdk_s3::Client::get_object).then_output(move || {
            aws_sdk_s3::operation::get_object::GetObjectOutput::builder()
                .body(aws_sdk_s3::primitives::ByteStream::from_static(body.as_bytes()))
                .build()
        });
        let c = clients(mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&get]));
        let r = Reads { c: &c, bucket: "pams-db-snapshots-export".into() };
        let task = ExportTask::new("e1", source_arn, ExportStatus::Complete);
        r.snapshot_date(&task, listed).await
    }

    #[tokio::test]
    async fn verify_dates_an_export_as_the_cataloguer_does_down_to_the_automated_snapshots_id() {
        // The task has no snapshot time and the export no info file, or one that gives none: the
        // cataloguer then dates the partitions by the automated snapshot's id, so verify must
        // look them up by it too (it used to fail "catalogue" on such an export).
        let listed = [info_file("e1/export_info_e1.json")];
        assert_eq!(date(AUTOMATED, &[], "").await, JsonRead::Read("2026-11-24".into()));
        assert_eq!(date(AUTOMATED, &listed, r#"{"sourceArn": "x"}"#).await, JsonRead::Read("2026-11-24".into()));
        assert_eq!(date(AUTOMATED, &listed, "not json").await, JsonRead::Read("2026-11-24".into()));
        // The info file's time comes before the id.
        let java = r#"{"snapshotTime": "Nov 23, 2026 3:05:41 AM"}"#;
        assert_eq!(date(AUTOMATED, &listed, java).await, JsonRead::Read("2026-11-23".into()));
        // A manual snapshot with nothing to go by: a failed check that says why.
        let JsonRead::Failed(why) = date("arn:aws:rds:eu-west-1:1:snapshot:before-upgrade", &listed, "{}").await else {
            panic!("a manual snapshot with no time has no date")
        };
        assert!(why.contains("export e1 has no snapshot date") && why.contains("names no automated snapshot"), "{why}");
    }

    #[test]
    fn the_account_is_the_fifth_field_of_an_arn() {
        assert_eq!(account_of("arn:aws:iam::123456789012:role/x"), Some("123456789012"));
        assert_eq!(account_of("arn:aws-cn:kms:cn-north-1:123456789012:key/abc"), Some("123456789012"));
        assert_eq!(account_of("alias/x"), None);
        assert_eq!(account_of("arn:aws:iam::role/x"), None);
    }
}
