//! `verify` and `restore` end to end against moto: a real export task, its files uploaded with
//! SSE-KMS, a bucket set up as the database stack sets it, Glue partitions as the cataloguer
//! writes them. Verify passes on the whole export and fails on a deleted part file and on an
//! object not encrypted with the database's key; archived parts warn; restore runs twice;
//! `--local s3://...` reads the export in place as it reads a pulled copy.

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

const BUCKET: &str = "pams-db-snapshots-export";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/pams-export-key";

struct Fixture {
    moto: Moto,
    s3: aws_sdk_s3::Client,
    export_id: String,
    /// Keys of the uploaded files, part files first.
    keys: Vec<String>,
    /// The sample: this export and an earlier one, not uploaded.
    sample: tempfile::TempDir,
    earlier_export_id: String,
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
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

async fn upload(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>, class: StorageClass, sse: ServerSideEncryption) {
    let mut put = s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(body)).storage_class(class);
    put = put.server_side_encryption(sse.clone());
    if sse == ServerSideEncryption::AwsKms {
        put = put.ssekms_key_id(KEY);
    }
    put.send().await.unwrap();
}

/// The export's files under `<export id>/`, part files in `class`; their keys, part files first.
async fn upload_export(s3: &aws_sdk_s3::Client, sample: &Path, export_id: &str, class: StorageClass) -> Vec<String> {
    let folder = sample.join(export_id);
    let mut keys = Vec::new();
    for path in files_below(&folder) {
        let key = format!("{export_id}/{}", path.strip_prefix(&folder).unwrap().to_string_lossy());
        let part = key.ends_with(".parquet");
        let class = if part { class.clone() } else { StorageClass::Standard };
        upload(s3, &key, std::fs::read(&path).unwrap(), class, ServerSideEncryption::AwsKms).await;
        keys.push(key);
    }
    keys.sort_by_key(|k| !k.ends_with(".parquet"));
    keys
}

async fn fixture(class: StorageClass) -> Fixture {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let dir = tempfile::tempdir().unwrap();
    let facts: Vec<SnapshotFacts> = write_sample(dir.path(), SampleSpec { orders: 200, customers: 20 }).unwrap();
    let export_id = facts[1].export_id.clone();

    // The bucket as the database stack makes it.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
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

    // The export task, under the sample's export id, and its files.
    let rds = aws_sdk_rds::Client::new(&sdk);
    s3exports_testkit::create_db_instance(&rds, "pams-stack-prod", "postgres").await;
    let snap = rds
        .create_db_snapshot()
        .db_instance_identifier("pams-stack-prod")
        .db_snapshot_identifier("s1")
        .send()
        .await
        .unwrap();
    s3exports_testkit::start_export(
        &rds,
        &export_id,
        snap.db_snapshot().unwrap().db_snapshot_arn().unwrap(),
        BUCKET,
        KEY,
    )
    .await;
    let keys = upload_export(&s3, dir.path(), &export_id, class).await;

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

fn athenaq(moto: &Moto, args: &[&str]) -> (Vec<Value>, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(args)
        .envs(moto.env())
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let rows = String::from_utf8(out.stdout).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (rows, String::from_utf8(out.stderr).unwrap(), out.status.code())
}

fn status_of<'a>(rows: &'a [Value], check: &str) -> (&'a str, &'a str) {
    let row = rows.iter().find(|r| r["check"] == check).unwrap_or_else(|| panic!("no {check} row: {rows:?}"));
    (row["status"].as_str().unwrap(), row["detail"].as_str().unwrap())
}

#[tokio::test]
async fn verify_passes_on_a_whole_export_and_fails_on_a_missing_part_or_a_foreign_key() {
    let f = fixture(StorageClass::Standard).await;
    let verify = ["--env", "prod", "verify", f.export_id.as_str(), "--format", "json"];
    let (rows, stderr, code) = athenaq(&f.moto, &verify);
    assert_eq!(code, Some(0), "{rows:?}\n{stderr}");
    for check in ["task", "tables", "part files", "footers", "encryption", "lifecycle", "public access", "catalogue"] {
        assert_eq!(status_of(&rows, check).0, "pass", "{check}: {rows:?}");
    }
    let (_, deep_err, code) = athenaq(&f.moto, &[&verify[..], &["--deep"]].concat());
    assert_eq!(code, Some(0), "{deep_err}");

    // An object written with S3's own key instead of the database's.
    let part = &f.keys[0];
    let body = f.s3.get_object().bucket(BUCKET).key(part).send().await.unwrap().body.collect().await.unwrap().to_vec();
    upload(&f.s3, part, body, StorageClass::Standard, ServerSideEncryption::Aes256).await;
    let (rows, _, code) = athenaq(&f.moto, &[&verify[..], &["--deep"]].concat());
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "encryption");
    assert_eq!(status, "fail");
    assert!(detail.contains(part.as_str()) && detail.contains("AES256"), "{detail}");

    // Every part file of one table gone.
    let table_folder = part.rsplit_once('/').unwrap().0.to_owned();
    for key in f.keys.iter().filter(|k| k.starts_with(&format!("{table_folder}/"))) {
        f.s3.delete_object().bucket(BUCKET).key(key).send().await.unwrap();
    }
    let (rows, _, code) = athenaq(&f.moto, &verify);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "part files");
    assert_eq!(status, "fail");
    assert!(detail.starts_with("no part files for pams.public."), "{detail}");

    // Not an export of this environment, and no export at all.
    let (_, err, code) = athenaq(&f.moto, &["--env", "prod", "verify", "no-such-export"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no export task `no-such-export`"), "{err}");
}

#[tokio::test]
async fn archived_parts_warn_until_restored_and_restore_requests_each_object_once() {
    let f = fixture(StorageClass::DeepArchive).await;
    let (rows, stderr, code) = athenaq(&f.moto, &["--env", "prod", "verify", f.export_id.as_str(), "--format", "json"]);
    assert_eq!(code, Some(0), "archived objects are a warning, not a failure: {stderr}");
    let (status, detail) = status_of(&rows, "footers");
    assert_eq!(status, "warn");
    assert!(detail.contains("athenaq restore"), "{detail}");

    // list-exports shows where the data really is.
    let (rows, _, code) = athenaq(&f.moto, &["--env", "prod", "list-exports", "--format", "json"]);
    assert_eq!(code, Some(0));
    assert_eq!(rows[0]["storage_class"], "DEEP_ARCHIVE", "{rows:?}");
    let (rows, _, _) = athenaq(&f.moto, &["--env", "prod", "list-exports", "--format", "json", "--no-storage"]);
    assert!(rows[0]["storage_class"].is_null(), "{rows:?}");

    let parts = f.keys.iter().filter(|k| k.ends_with(".parquet")).count();
    let restore = ["--env", "prod", "restore", f.export_id.as_str()];
    let (_, plan, code) = athenaq(&f.moto, &restore);
    assert_eq!(code, Some(0), "{plan}");
    assert!(plan.contains(&format!("{parts} archived to request")) && plan.contains("add --yes"), "{plan}");
    assert!(
        plan.contains("DEEP_ARCHIVE") && plan.contains("ready within 48 hours") && plan.contains("approximate"),
        "{plan}"
    );
    let (_, err, code) = athenaq(&f.moto, &[&restore[..], &["--tier", "expedited", "--yes"]].concat());
    assert_eq!(code, Some(1), "expedited does not apply to Deep Archive: {err}");

    let (_, first, code) = athenaq(&f.moto, &[&restore[..], &["--yes"]].concat());
    assert_eq!(code, Some(0), "{first}");
    assert!(first.contains(&format!("{parts} restore(s) requested")), "{first}");
    // Again: every object is restored or restoring, so nothing is requested twice.
    let (_, second, code) = athenaq(&f.moto, &[&restore[..], &["--yes"]].concat());
    assert_eq!(code, Some(0), "{second}");
    assert!(second.contains("0 archived to request") && second.contains("nothing to request"), "{second}");

    // One table only, and a table that is not there.
    let (_, err, code) = athenaq(&f.moto, &[&restore[..], &["--table", "public.nosuch"]].concat());
    assert_eq!(code, Some(1));
    assert!(err.contains("no table folder `public.nosuch`") && err.contains("public.orders"), "{err}");
}

#[tokio::test]
async fn pull_downloads_an_export_that_query_local_reads_and_resumes() {
    let f = fixture(StorageClass::Standard).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_string_lossy().into_owned();
    let pull = ["--env", "prod", "pull", f.export_id.as_str(), target.as_str()];
    let (_, first, code) = athenaq(&f.moto, &pull);
    assert_eq!(code, Some(0), "{first}");
    assert!(first.contains(&format!("{} file(s) downloaded", f.keys.len())), "{first}");
    let (rows, err, code) = athenaq(
        &f.moto,
        &["query", "--local", target.as_str(), "--format", "json", "SELECT count(*) AS n FROM pams_public_orders"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rows[0]["n"], 200, "{rows:?}");

    // Interrupted half way: a file cut short is fetched again, whole ones are skipped.
    let part = dir.path().join(&f.keys[0]);
    std::fs::write(&part, b"PAR1").unwrap();
    let (_, second, code) = athenaq(&f.moto, &pull);
    assert_eq!(code, Some(0), "{second}");
    assert!(
        second.contains("1 file(s) downloaded") && second.contains(&format!("{} already there", f.keys.len() - 1)),
        "{second}"
    );

    // One table: its files and the export's JSON files, so the copy is still an export.
    let only = tempfile::tempdir().unwrap();
    let only_dir = only.path().to_string_lossy().into_owned();
    let (_, out, code) = athenaq(
        &f.moto,
        &["--env", "prod", "pull", f.export_id.as_str(), only_dir.as_str(), "--table", "public.orders"],
    );
    assert_eq!(code, Some(0), "{out}");
    let (rows, err, _) = athenaq(
        &f.moto,
        &["query", "--local", only_dir.as_str(), "--format", "json", "SELECT count(*) AS n FROM pams_public_orders"],
    );
    assert_eq!(rows[0]["n"], 200, "{err}");
}

#[tokio::test]
async fn pull_refuses_archived_objects_and_points_to_restore() {
    let f = fixture(StorageClass::DeepArchive).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_string_lossy().into_owned();
    let (_, err, code) = athenaq(&f.moto, &["--env", "prod", "pull", f.export_id.as_str(), target.as_str()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("archived and not restored") && err.contains(&format!("athenaq restore {}", f.export_id)),
        "{err}"
    );
    // Read in place, the archived export is left out, and said so with the command that helps.
    let sql = "SELECT count(*) FROM pams_public_orders";
    let (_, err, code) = athenaq(&f.moto, &["--env", "prod", "query", "--local", &format!("s3://{BUCKET}"), sql]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no export under s3://")
            && err.contains(&format!(
                "part files in DEEP_ARCHIVE, which S3 serves only once restored: `athenaq restore {}`",
                f.export_id
            )),
        "{err}"
    );
}

#[tokio::test]
async fn cost_adds_up_what_the_bucket_stores_by_class() {
    let f = fixture(StorageClass::DeepArchive).await;
    let (rows, err, code) = athenaq(&f.moto, &["--env", "prod", "cost", "--db", "pams-stack-prod", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rows.len(), 1);
    let stored = rows[0]["stored_gb"].as_str().unwrap();
    assert!(stored.contains("DEEP_ARCHIVE") && stored.contains("STANDARD"), "{stored}");
    assert!(err.contains("approximate: AWS list prices"), "{err}");
    // A database whose bucket is not there is an error naming it; the others are still shown.
    let (rows, err, code) = athenaq(&f.moto, &["--env", "prod", "cost", "--format", "json"]);
    assert_eq!(code, Some(1));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(err.contains("maxonevams-db-snapshots-export"), "{err}");
}

#[tokio::test]
async fn local_s3_reads_the_export_in_place_as_a_pulled_copy_is_read() {
    let f = fixture(StorageClass::Standard).await;
    let copy = tempfile::tempdir().unwrap();
    let copy_dir = copy.path().to_string_lossy().into_owned();
    let (_, err, code) = athenaq(&f.moto, &["--env", "prod", "pull", f.export_id.as_str(), copy_dir.as_str()]);
    assert_eq!(code, Some(0), "{err}");
    // An earlier export beside it, archived: left out, and said so.
    upload_export(&f.s3, f.sample.path(), &f.earlier_export_id, StorageClass::DeepArchive).await;
    let bucket = format!("s3://{BUCKET}");
    let sql = format!(
        "SELECT snapshot_date, export_id, count(*) AS n, min(total) AS low, max(total) AS high \
         FROM {}.pams_public_orders GROUP BY snapshot_date, export_id",
        names::glue_database("pams-stack-prod")
    );
    let query = |place: &str| athenaq(&f.moto, &["--env", "prod", "query", "--local", place, "--format", "json", &sql]);
    let (in_place, err, code) = query(&bucket);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("in place over 1 export(s)"), "{err}");
    assert!(
        err.contains(&format!("export {0} has part files in DEEP_ARCHIVE", f.earlier_export_id))
            && err.contains(&format!("`athenaq restore {}`", f.earlier_export_id)),
        "{err}"
    );
    assert_eq!(
        (in_place.len(), &in_place[0]["n"], &in_place[0]["export_id"]),
        (1, &Value::from(200), &Value::from(f.export_id.as_str()))
    );
    let (copied, err, _) = query(&copy_dir);
    assert_eq!(in_place, copied, "{err}");

    // The other readers of --local take the same place.
    let (tables, err, code) =
        athenaq(&f.moto, &["--env", "prod", "tables", "--local", &format!("{bucket}/"), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let orders = tables.iter().find(|t| t["table"] == "pams_public_orders").unwrap_or_else(|| panic!("{tables:?}"));
    assert_eq!((tables.len(), &orders["rows"]), (4, &Value::from(200)), "{tables:?}");
    let (exports, err, code) =
        athenaq(&f.moto, &["--env", "prod", "list-exports", "--local", &bucket, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    // Listing reads only the JSON files: the archived export is listed.
    let listed: Vec<&Value> = exports.iter().map(|e| &e["export_id"]).collect();
    assert_eq!(listed, [f.earlier_export_id.as_str(), f.export_id.as_str()], "{exports:?}");

    // Nothing there, no such bucket, a damaged object: each named, exit 1.
    let (_, err, code) = query(&format!("{bucket}/not-an-export-prefix"));
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("no export found under {bucket}/not-an-export-prefix")), "{err}");
    let no_region = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["query", "--local", &bucket, "SELECT 1"])
        .envs(f.moto.env())
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&no_region.stderr);
    assert_eq!(no_region.status.code(), Some(1));
    assert!(err.contains("no AWS region: pass --region"), "{err}");
    let (_, err, code) = query("s3://no-such-bucket-here");
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot read s3://no-such-bucket-here") && err.contains("s3:ListBucket"), "{err}");
    upload(
        &f.s3,
        &f.keys[0],
        b"PAR1 not a parquet file".to_vec(),
        StorageClass::Standard,
        ServerSideEncryption::AwsKms,
    )
    .await;
    let (_, err, code) = query(&bucket);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("{bucket}/{}: damaged part file", f.keys[0])), "{err}");
}
