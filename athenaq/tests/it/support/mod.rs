//! What the moto tests of athenaq share: a bucket set up as the database stack sets it, a real
//! export task with the sample export's files uploaded with SSE-KMS, Glue partitions as the
//! cataloguer writes them, and running the binary against the emulator.

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    PublicAccessBlockConfiguration, ServerSideEncryption, StorageClass, Transition, TransitionStorageClass,
};
use s3exports_config::names;
use s3exports_testkit::Moto;
use s3exports_testkit::sample::{SampleSpec, SnapshotFacts, write_sample};
use serde_json::Value;

pub const BUCKET: &str = "pams-db-snapshots-export";
pub const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/pams-export-key";
/// The database key's alias (names::kms_alias).
pub const ALIAS: &str = "alias/rds-snapshot-s3exports/prod/pams-stack-prod";

pub struct Fixture {
    pub moto: Moto,
    pub s3: aws_sdk_s3::Client,
    pub export_id: String,
    /// Keys of the uploaded files, part files first.
    pub keys: Vec<String>,
    /// The sample: this export and an earlier one, not uploaded.
    pub sample: tempfile::TempDir,
    pub earlier_export_id: String,
}

pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { stack.push(path) } else { out.push(path) }
        }
    }
    out.sort();
    out
}

pub async fn upload(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>, class: StorageClass, sse: ServerSideEncryption) {
    upload_with_key(s3, key, body, class, sse, KEY).await;
}

pub async fn upload_with_key(
    s3: &aws_sdk_s3::Client,
    key: &str,
    body: Vec<u8>,
    class: StorageClass,
    sse: ServerSideEncryption,
    kms_key: &str,
) {
    let mut put = s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(body)).storage_class(class);
    put = put.server_side_encryption(sse.clone());
    if sse == ServerSideEncryption::AwsKms {
        put = put.ssekms_key_id(kms_key);
    }
    put.send().await.unwrap();
}

/// The export's files under `<export id>/`, part files in `class`; their keys, part files first.
pub async fn upload_export(
    s3: &aws_sdk_s3::Client,
    sample: &Path,
    export_id: &str,
    class: StorageClass,
) -> Vec<String> {
    upload_export_with_key(s3, sample, export_id, class, KEY).await
}

pub async fn upload_export_with_key(
    s3: &aws_sdk_s3::Client,
    sample: &Path,
    export_id: &str,
    class: StorageClass,
    kms_key: &str,
) -> Vec<String> {
    let folder = sample.join(export_id);
    let mut keys = Vec::new();
    for path in files_below(&folder) {
        let key = format!("{export_id}/{}", path.strip_prefix(&folder).unwrap().to_string_lossy());
        let part = key.ends_with(".parquet");
        let class = if part { class.clone() } else { StorageClass::Standard };
        upload_with_key(s3, &key, std::fs::read(&path).unwrap(), class, ServerSideEncryption::AwsKms, kms_key).await;
        keys.push(key);
    }
    keys.sort_by_key(|k| !k.ends_with(".parquet"));
    keys
}

pub async fn fixture(class: StorageClass) -> Fixture {
    fixture_keyed(class, KEY).await
}

/// The fixture with the export task started with `task_key` (the key's ARN, or an alias of it).
/// The key exists in the emulator's KMS as `KEY`, with the database's alias.
pub async fn fixture_keyed(class: StorageClass, task_key: &str) -> Fixture {
    fixture_with(class, task_key, false).await
}

/// The fixture in a bucket with S3 Object Lock (and so versioning), as the prod database stack
/// makes it.
pub async fn fixture_locked() -> Fixture {
    fixture_with(StorageClass::Standard, KEY, true).await
}

async fn fixture_with(class: StorageClass, task_key: &str, object_lock: bool) -> Fixture {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let dir = tempfile::tempdir().unwrap();
    let facts: Vec<SnapshotFacts> = write_sample(dir.path(), SampleSpec { orders: 200, customers: 20 }).unwrap();
    let export_id = facts[1].export_id.clone();

    // The bucket as the database stack makes it.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).object_lock_enabled_for_bucket(object_lock).send().await.unwrap();
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block().bucket(BUCKET).public_access_block_configuration(block).send().await.unwrap();
    let transition =
        |class: TransitionStorageClass, days| Transition::builder().storage_class(class).days(days).build();
    let rule = LifecycleRule::builder()
        .id("ArchiveThenExpire")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .transitions(transition(TransitionStorageClass::Glacier, 7))
        .transitions(transition(TransitionStorageClass::DeepArchive, 97))
        .expiration(LifecycleExpiration::builder().days(365).build())
        .build()
        .unwrap();
    let lifecycle = BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    s3.put_bucket_lifecycle_configuration().bucket(BUCKET).lifecycle_configuration(lifecycle).send().await.unwrap();

    // A task started with the alias: the database's key made in the emulator's KMS, with the
    // alias the database stack gives it, and the objects encrypted with it.
    let kms_key = if task_key == ALIAS {
        let kms = aws_sdk_kms::Client::new(&sdk);
        let made = kms.create_key().send().await.unwrap();
        let arn = made.key_metadata().unwrap().arn().unwrap().to_owned();
        kms.create_alias().alias_name(ALIAS).target_key_id(&arn).send().await.unwrap();
        arn
    } else {
        KEY.to_owned()
    };

    // The export task, under the sample's export id, and its files.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let snapshot_arn = db_snapshot(&rds, "pams-stack-prod", "s1").await;
    s3exports_testkit::start_export(&rds, &export_id, &snapshot_arn, BUCKET, task_key).await;
    let keys = upload_export_with_key(&s3, dir.path(), &export_id, class, &kms_key).await;

    // The catalogue, as the cataloguer writes it: a table per source table, a partition per export.
    let glue = aws_sdk_glue::Client::new(&sdk);
    let database = names::glue_database("pams-stack-prod");
    glue.create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name(&database).build().unwrap())
        .send()
        .await
        .unwrap();
    for table in ["customers", "orders", "order_items", "events"] {
        let name = names::glue_table("pams", Some("public"), table);
        let key = |n: &str| aws_sdk_glue::types::Column::builder().name(n).r#type("string").build().unwrap();
        let input = aws_sdk_glue::types::TableInput::builder()
            .name(&name)
            .partition_keys(key("snapshot_date"))
            .partition_keys(key("export_id"))
            .build()
            .unwrap();
        glue.create_table().database_name(&database).table_input(input).send().await.unwrap();
        let partition =
            aws_sdk_glue::types::PartitionInput::builder().values(&facts[1].snapshot_date).values(&export_id).build();
        glue.create_partition()
            .database_name(&database)
            .table_name(&name)
            .partition_input(partition)
            .send()
            .await
            .unwrap();
    }
    let earlier_export_id = facts[0].export_id.clone();
    Fixture { moto, s3, export_id, keys, sample: dir, earlier_export_id }
}

/// The binary against the emulator, as it is run by hand.
pub fn run(moto: &Moto, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_athenaq")).args(args).envs(moto.env()).env("RUST_BACKTRACE", "0").output().unwrap()
}

/// A manual snapshot of `db` (created with its instance), by its ARN.
pub async fn db_snapshot(rds: &aws_sdk_rds::Client, db: &str, snapshot_id: &str) -> String {
    s3exports_testkit::create_db_instance(rds, db, "postgres").await;
    let snap =
        rds.create_db_snapshot().db_instance_identifier(db).db_snapshot_identifier(snapshot_id).send().await.unwrap();
    snap.db_snapshot().unwrap().db_snapshot_arn().unwrap().to_owned()
}

pub fn athenaq(moto: &Moto, args: &[&str]) -> (Vec<Value>, String, Option<i32>) {
    let out = run(moto, args);
    let rows = String::from_utf8(out.stdout).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (rows, String::from_utf8(out.stderr).unwrap(), out.status.code())
}

pub fn status_of<'a>(rows: &'a [Value], check: &str) -> (&'a str, &'a str) {
    let row = rows.iter().find(|r| r["check"] == check).unwrap_or_else(|| panic!("no {check} row: {rows:?}"));
    (row["status"].as_str().unwrap(), row["detail"].as_str().unwrap())
}
