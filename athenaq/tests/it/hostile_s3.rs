//! Hostile buckets and folders against moto: keys no query engine can address beside good
//! exports, keys that need encoding (`%`, `+`, spaces, non-ASCII, in a non-ASCII prefix), and
//! `pull` into a folder with planted links, folder markers and damaged files.

use std::path::Path;

use crate::support::{BUCKET, athenaq, files_below, fixture, upload};
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};

const ORDERS: &str = "SELECT count(*) AS n FROM pams_public_orders";

#[tokio::test]
async fn a_key_with_an_empty_or_dot_segment_is_skipped_and_spoils_nothing() {
    let f = fixture(StorageClass::Standard).await;
    for odd in ["unrelated//double-slash.parquet", "other/../escape.parquet", "other/./here.json"] {
        upload(&f.s3, odd, b"odd".to_vec(), StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    }
    let bucket = format!("s3://{BUCKET}");
    let (rows, err, code) =
        athenaq(&f.moto, &["--env", "prod", "query", "--local", &bucket, "--format", "json", ORDERS]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rows[0]["n"], 200, "{rows:?}");
    assert!(err.contains("warning: skipped s3://pams-db-snapshots-export/unrelated//double-slash.parquet"), "{err}");
    assert!(err.contains("other/../escape.parquet"), "{err}");
}

/// The sample export with `public.orders` moved to a table folder (and part file names) that
/// need encoding, uploaded under a non-ASCII prefix; its tables info names the new folder.
async fn upload_encoded(f: &crate::support::Fixture, prefix: &str, folder: &str) {
    let root = f.sample.path().join(&f.export_id);
    for path in files_below(&root) {
        let relative = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let mut key = relative.replace("pams/public.orders/", &format!("pams/{folder}/"));
        if key.contains(folder) {
            key = key.replace("part-", "part %2B+é-");
        }
        let mut body = std::fs::read(&path).unwrap();
        if key.contains("export_tables_info_") {
            body =
                String::from_utf8(body).unwrap().replace("pams.public.orders", &format!("pams.{folder}")).into_bytes();
        }
        let key = format!("{prefix}/{}/{key}", f.export_id);
        upload(&f.s3, &key, body, StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    }
}

#[tokio::test]
async fn keys_that_need_encoding_are_read_exactly_as_s3_lists_them() {
    let f = fixture(StorageClass::Standard).await;
    let folder = "public.100% off+ördérs";
    upload_encoded(&f, "données été", folder).await;
    let place = format!("s3://{BUCKET}/données été");
    let table = s3exports_config::names::glue_table("pams", Some("public"), "100% off+ördérs");
    let (tables, err, code) = athenaq(&f.moto, &["--env", "prod", "tables", "--local", &place, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let found = tables.iter().find(|t| t["table"] == table.as_str()).unwrap_or_else(|| panic!("{table}: {tables:?}"));
    assert_eq!(found["rows"], 200, "{found}");
    let sql = format!("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM {table}");
    let (rows, err, code) = athenaq(&f.moto, &["--env", "prod", "query", "--local", &place, "--format", "json", &sql]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((&rows[0]["n"], &rows[0]["ids"]), (&200.into(), &200.into()), "{rows:?}");
    let (exports, err, code) =
        athenaq(&f.moto, &["--env", "prod", "list-exports", "--local", &place, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(exports.len(), 1, "{exports:?}");
}

fn pull(f: &crate::support::Fixture, dir: &Path) -> (String, Option<i32>) {
    let target = dir.to_string_lossy().into_owned();
    let (_, err, code) = athenaq(&f.moto, &["--env", "prod", "pull", f.export_id.as_str(), target.as_str()]);
    (err, code)
}

#[tokio::test]
async fn pull_never_writes_through_a_link_and_refuses_a_linked_export_folder() {
    let f = fixture(StorageClass::Standard).await;
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();

    // A link planted where a download's .partial goes, and where a file goes.
    let part = dir.path().join(&f.keys[0]);
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    let mut partial = part.file_name().unwrap().to_owned();
    partial.push(".partial");
    std::os::unix::fs::symlink(&victim, part.with_file_name(partial)).unwrap();
    let other = dir.path().join(&f.keys[1]);
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &other).unwrap();
    let (err, code) = pull(&f, dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me", "nothing written outside the folder");
    assert!(!std::fs::symlink_metadata(dir.path().join(&f.keys[1])).unwrap().file_type().is_symlink());

    // A linked export folder is refused, and nothing lands where it points.
    let other = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), other.path().join(&f.export_id)).unwrap();
    let (err, code) = pull(&f, other.path());
    assert_eq!(code, Some(1));
    assert!(err.contains("is a symbolic link") && err.contains(&f.export_id), "{err}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1, "only the victim is there");
}

#[tokio::test]
async fn pull_skips_folder_markers_and_replaces_a_damaged_file_of_the_same_size() {
    let f = fixture(StorageClass::Standard).await;
    // What the S3 console leaves when someone "creates a folder".
    let marker = format!("{}/pams/", f.export_id);
    upload(&f.s3, &marker, Vec::new(), StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    let dir = tempfile::tempdir().unwrap();
    let (err, code) = pull(&f, dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("{} file(s) downloaded", f.keys.len())), "{err}");

    // Same size, other bytes: the resume notices.
    let part = dir.path().join(&f.keys[0]);
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&part, &bytes).unwrap();
    let (err, code) = pull(&f, dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("1 file(s) downloaded"), "{err}");
    let (rows, err, code) =
        athenaq(&f.moto, &["query", "--local", &dir.path().to_string_lossy(), "--format", "json", ORDERS]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rows[0]["n"], 200);
}

#[tokio::test]
async fn pull_skips_a_key_that_would_land_outside_the_folder_pulls_the_rest_and_fails() {
    let f = fixture(StorageClass::Standard).await;
    let escape = format!("{}/pams/../../escape.parquet", f.export_id);
    upload(&f.s3, &escape, b"odd".to_vec(), StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("copy");
    let (err, code) = pull(&f, &dir);
    // Named, as discovery names the keys it skips; the rest pulled; the pull is not a success.
    assert!(err.contains(&format!("warning: skipped s3://{BUCKET}/{escape}")), "{err}");
    assert!(err.contains(&format!("{} file(s) downloaded", f.keys.len())), "{err}");
    assert!(err.contains("the copy is incomplete: 1 object(s)"), "{err}");
    assert_eq!(code, Some(1), "{err}");
    assert!(!root.path().join("escape.parquet").exists(), "nothing written outside the folder");
    let (rows, err, code) = athenaq(&f.moto, &["query", "--local", &dir.to_string_lossy(), "--format", "json", ORDERS]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rows[0]["n"], 200);
}

/// `AWS_ENDPOINT_URL_S3`, the service-specific endpoint (AWS SDKs and Tools Reference Guide,
/// "Service-specific endpoints"), without `AWS_ENDPOINT_URL`: every S3 client athenaq builds
/// (the SDK's, and object_store's for `--local s3://`) goes there path-style, as an emulator
/// with no per-bucket host names needs. Named by host name: S3's endpoint rules address an IP
/// address path-style anyway, `localhost` virtual-hosted (`<bucket>.localhost`) unless told.
#[tokio::test]
async fn the_service_specific_s3_endpoint_is_used_path_style_by_every_s3_client() {
    let f = fixture(StorageClass::Standard).await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_athenaq"))
            .args(args)
            .envs(f.moto.env().into_iter().filter(|(k, _)| *k != "AWS_ENDPOINT_URL"))
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_ENDPOINT_URL_S3", f.moto.endpoint().replace("127.0.0.1", "localhost"))
            .env("AWS_ENDPOINT_URL_RDS", f.moto.endpoint())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
        )
    };
    let bucket = format!("s3://{BUCKET}");
    let (out, err, code) = run(&["--env", "prod", "query", "--local", &bucket, "--format", "json", ORDERS]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"n\":200"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let (_, err, code) = run(&["--env", "prod", "pull", &f.export_id, &dir.path().to_string_lossy()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("{} file(s) downloaded", f.keys.len())), "{err}");
}
