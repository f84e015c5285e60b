//! `verify` and `restore` end to end against moto: a real export task, its files uploaded with
//! SSE-KMS, a bucket set up as the database stack sets it, Glue partitions as the cataloguer
//! writes them. Verify passes on the whole export and fails on a deleted part file and on an
//! object not encrypted with the database's key; archived parts warn; restore runs twice;
//! `--local s3://...` reads the export in place as it reads a pulled copy.

use std::process::Command;

use crate::support::{ALIAS, BUCKET, KEY, athenaq, fixture, fixture_keyed, status_of, upload, upload_export};
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
use s3exports_config::names;
use serde_json::Value;

#[tokio::test]
async fn verify_passes_on_a_whole_export_and_fails_on_a_missing_part_or_a_foreign_key() {
    let f = fixture(StorageClass::Standard).await;
    let verify = ["--env", "prod", "verify", f.export_id.as_str(), "--format", "json"];
    let (rows, stderr, code) = athenaq(&f.moto, &verify);
    assert_eq!(code, Some(0), "{rows:?}\n{stderr}");
    for check in ["task", "tables", "part files", "footers", "encryption", "lifecycle", "public access", "catalogue"] {
        assert_eq!(status_of(&rows, check).0, "pass", "{check}: {rows:?}");
    }
    // Every PostgreSQL export names the instance's other databases with a warning and no
    // status: information, never a failed table.
    let (status, detail) = status_of(&rows, "rds notes");
    assert_eq!(status, "warn");
    assert!(detail.contains("postgres: No tables found"), "{detail}");
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

#[tokio::test]
async fn a_task_started_with_a_key_alias_passes_encryption_through_describe_key() {
    let f = fixture_keyed(StorageClass::Standard, ALIAS).await;
    let (rows, stderr, code) =
        athenaq(&f.moto, &["--env", "prod", "verify", f.export_id.as_str(), "--format", "json", "--deep"]);
    assert_eq!(code, Some(0), "{rows:?}\n{stderr}");
    let (status, detail) = status_of(&rows, "encryption");
    assert_eq!(status, "pass", "{detail}");
    assert!(KEY.ends_with("pams-export-key"));
}

#[tokio::test]
async fn archived_export_json_is_a_warning_with_the_restore_to_run_not_a_failure() {
    let f = fixture(StorageClass::Standard).await;
    // A large database's export_tables_info passes S3's 128 KB transition floor.
    let tables_info = f.keys.iter().find(|k| k.contains("export_tables_info_")).unwrap().clone();
    let body =
        f.s3.get_object().bucket(BUCKET).key(&tables_info).send().await.unwrap().body.collect().await.unwrap().to_vec();
    upload(&f.s3, &tables_info, body, StorageClass::DeepArchive, ServerSideEncryption::AwsKms).await;
    let (rows, stderr, code) = athenaq(&f.moto, &["--env", "prod", "verify", f.export_id.as_str(), "--format", "json"]);
    assert_eq!(code, Some(0), "archived metadata is not a failed export: {rows:?}\n{stderr}");
    let (status, detail) = status_of(&rows, "tables");
    assert_eq!(status, "warn");
    assert!(
        detail.contains("DEEP_ARCHIVE") && detail.contains(&format!("`athenaq restore {}`", f.export_id)),
        "{detail}"
    );
    // Listing in place leaves that export out with the same advice; the cost still adds up.
    let bucket = format!("s3://{BUCKET}");
    let (_, err, code) = athenaq(&f.moto, &["--env", "prod", "list-exports", "--local", &bucket, "--format", "json"]);
    assert_eq!(code, Some(1), "nothing readable is an error: {err}");
    assert!(err.contains(&format!("athenaq restore {}", f.export_id)), "{err}");
    let (rows, err, code) = athenaq(&f.moto, &["--env", "prod", "cost", "--db", "pams-stack-prod", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(rows[0]["stored_gb"].as_str().unwrap().contains("DEEP_ARCHIVE"), "{rows:?}");
}

#[tokio::test]
async fn in_place_metadata_comes_from_the_cache_until_an_object_changes() {
    use datafusion::arrow::array::RecordBatch;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let f = fixture(StorageClass::Standard).await;
    let cache = tempfile::tempdir().unwrap();
    let sql = format!("SELECT count(*) AS n FROM {}.pams_public_orders", names::glue_database("pams-stack-prod"));
    let query = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
            .args(extra)
            .args(["--env", "prod", "query", "--local", &format!("s3://{BUCKET}"), "--format", "csv", &sql])
            .envs(f.moto.env())
            .env("ATHENAQ_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{err}");
        (String::from_utf8(out.stdout).unwrap(), err)
    };
    let (first, err) = query(&[]);
    assert!(!err.contains("from the cache"), "{err}");
    let (second, err) = query(&[]);
    assert_eq!(second, first);
    assert!(err.contains("part file(s)' metadata from the cache"), "{err}");

    // One orders part rewritten with 3 rows: a new ETag, so its cached footer is not used.
    let part = f.keys.iter().find(|k| k.contains("public.orders/")).unwrap();
    let body = f.s3.get_object().bucket(BUCKET).key(part).send().await.unwrap().body.collect().await.unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(body.into_bytes()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let mut rewritten = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut rewritten, batches[0].schema(), None).unwrap();
    writer.write(&batches[0].slice(0, 3)).unwrap();
    writer.close().unwrap();
    upload(&f.s3, part, rewritten, StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    let (after, _) = query(&[]);
    assert_ne!(after, first);
    assert_eq!(after, query(&["--no-cache"]).0);
}

#[tokio::test]
async fn the_shell_on_athena_describes_a_table_with_its_glue_partitions() {
    use std::io::Write;
    let f = fixture(StorageClass::Standard).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["--env", "prod", "--format", "csv", "shell", "--db", "pams-stack-prod"])
        .envs(f.moto.env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"\\d\n\\d pams_public_orders\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(out.status.success(), "{stderr}");
    // \d: four tables, one snapshot each; \d TABLE: the partition keys and the partition.
    assert!(stdout.contains("pams_public_orders,2,1"), "{stdout}");
    assert!(stdout.contains("snapshot_date,string") && stdout.contains("export_id,string"), "{stdout}");
    let partition = stdout.lines().find(|l| l.starts_with("(snapshot),")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(partition.ends_with(&format!(" ({})", f.export_id)), "{partition}");
}
