//! Evidence end to end against moto: exports manifested and sealed in a bucket with Object Lock
//! (by the library the cataloguing function uses), then `athenaq evidence` and `athenaq verify`
//! show the intact chain and name every kind of tampering: a part file replaced, a part file
//! deleted, a stray object added, a manifest altered, a manifest removed, the chain head
//! removed, garbled or pointing nowhere, the newest manifest rewritten, a stray object in the
//! evidence folder; and say so when the previous manifest is archived and cannot be compared.

use crate::support::{BUCKET, Fixture, KEY, athenaq, files_below, fixture_locked, status_of, upload, upload_export};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
use s3exports_config::ObjectLock;
use s3exports_evidence::manifest::{Link, sha256_hex};
use s3exports_evidence::record::{ChainHead, EvidenceError, head_key, pending_key};
use s3exports_evidence::{ExportFacts, Recorded, Sealed, collect, record, seal};
use s3exports_rds::TaskFilter;
use s3exports_rds::layout::{ExportInfo, TablesInfo};
use serde_json::Value;

const DB: &str = "pams-stack-prod";

/// What the cataloguer knows of one export of the fixture when it completes.
struct Known {
    task: s3exports_rds::ExportTask,
    entries: Vec<s3exports_rds::layout::TableStatus>,
    info: ExportInfo,
}

impl Known {
    fn facts(&self, database: &'static str) -> ExportFacts<'_> {
        ExportFacts {
            database,
            task: &self.task,
            entries: &self.entries,
            info: Some(&self.info),
            seal: Some((ObjectLock::Governance, 365)),
            expire_days: Some(365),
        }
    }
}

async fn known(f: &Fixture, export_id: &str) -> Known {
    let sdk = f.moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let filter = TaskFilter { export_task_identifier: Some(export_id.into()), ..TaskFilter::default() };
    let task = s3exports_rds::sdk::describe_export_tasks(&rds, &filter).await.unwrap().remove(0);
    let file = |name: &str| {
        let path =
            files_below(&f.sample.path().join(export_id)).into_iter().find(|p| p.to_string_lossy().contains(name));
        std::fs::read(path.unwrap()).unwrap()
    };
    let entries = serde_json::from_slice::<TablesInfo>(&file("export_tables_info_")).unwrap().per_table_status;
    let info: ExportInfo = serde_json::from_slice(&file("export_info_")).unwrap();
    Known { task, entries, info }
}

/// Manifests and seals one export of the fixture, as the cataloguer does when it completes.
async fn manifest(f: &Fixture, export_id: &str) -> Recorded {
    let known = known(f, export_id).await;
    let recorded = record(&f.s3, &known.facts(DB)).await.unwrap();
    assert_eq!(
        seal(&f.s3, &recorded, None).await.unwrap().sealed,
        Sealed::Done { objects: recorded.manifest.objects.len() + 1 }
    );
    recorded
}

/// The fixture with its earlier export too, with a task of its own.
async fn fixture_with_two() -> Fixture {
    let f = fixture_locked().await;
    upload_export(&f.s3, f.sample.path(), &f.earlier_export_id, StorageClass::Standard).await;
    let sdk = f.moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let snap = rds.create_db_snapshot().db_instance_identifier(DB).db_snapshot_identifier("s0").send().await.unwrap();
    let arn = snap.db_snapshot().unwrap().db_snapshot_arn().unwrap().to_owned();
    s3exports_testkit::start_export(&rds, &f.earlier_export_id, &arn, BUCKET, KEY).await;
    f
}

/// Both exports manifested, the earlier first.
async fn two_exports() -> (Fixture, Recorded, Recorded) {
    let f = fixture_with_two().await;
    let first = manifest(&f, &f.earlier_export_id).await;
    let second = manifest(&f, &f.export_id).await;
    (f, first, second)
}

fn evidence(f: &Fixture) -> (Vec<Value>, String, Option<i32>) {
    athenaq(&f.moto, &["--env", "prod", "evidence", "--db", DB, "--format", "json"])
}

fn verify(f: &Fixture) -> (Vec<Value>, String, Option<i32>) {
    athenaq(&f.moto, &["--env", "prod", "verify", f.export_id.as_str(), "--format", "json", "--deep"])
}

#[tokio::test]
async fn sealed_manifests_form_a_chain_that_verify_and_evidence_confirm() {
    let (f, first, second) = two_exports().await;
    assert_eq!(second.manifest.previous.as_ref().map(|l| l.sha256.as_str()), Some(first.sha256.as_str()));
    assert!(first.key.starts_with(&format!("_evidence/{DB}/")) && first.key.ends_with(".json"));

    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(0), "{rows:?}\n{err}");
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, recorded) in rows.iter().zip([&first, &second]) {
        assert_eq!(row["chain"], "ok", "{row}");
        assert_eq!(row["manifest_sha256"], recorded.sha256.as_str());
        assert!(row["lock"].as_str().unwrap().starts_with("GOVERNANCE until "), "{row}");
        assert_eq!(row["objects"], recorded.manifest.objects.len() as u64);
    }

    let (rows, err, code) = verify(&f);
    assert_eq!(code, Some(0), "{rows:?}\n{err}");
    for check in ["manifest", "objects", "checksums", "retention", "chain", "completeness", "rows"] {
        assert_eq!(status_of(&rows, check).0, "pass", "{check}: {rows:?}");
    }
    assert!(status_of(&rows, "chain").1.contains(&f.earlier_export_id), "{rows:?}");
    // What RDS left out is recorded, not lost.
    assert!(second.manifest.left_out.iter().any(|l| l.target == "postgres" && l.status.is_empty()));
    assert!(second.manifest.tables.iter().all(|t| t.rows.is_some() && !t.columns.is_empty()));
}

#[tokio::test]
async fn a_replaced_deleted_or_added_object_is_a_failure_naming_its_key() {
    let (f, _, second) = two_exports().await;
    let parts: Vec<&str> =
        second.manifest.objects.iter().map(|o| o.key.as_str()).filter(|k| k.ends_with(".parquet")).collect();
    let (replaced, deleted) = (parts[0].to_owned(), parts[1].to_owned());
    let body =
        f.s3.get_object().bucket(BUCKET).key(&replaced).send().await.unwrap().body.collect().await.unwrap().to_vec();
    upload(&f.s3, &replaced, body, StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    f.s3.delete_object().bucket(BUCKET).key(&deleted).send().await.unwrap();
    let stray = format!("{}/pams/public.orders/1/part-99999.parquet", f.export_id);
    upload(&f.s3, &stray, b"PAR1 stray PAR1".to_vec(), StorageClass::Standard, ServerSideEncryption::AwsKms).await;

    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "objects");
    assert_eq!(status, "fail");
    assert!(detail.contains(&format!("{replaced}: replaced")), "{detail}");
    assert!(detail.contains(&format!("{deleted}: deleted")), "{detail}");
    assert!(detail.contains(&format!("{stray}: added")), "{detail}");
    // The sealed versions are still there underneath, retained: the evidence of what was.
    assert_eq!(status_of(&rows, "retention").0, "pass", "{rows:?}");
}

#[tokio::test]
async fn an_altered_or_removed_manifest_breaks_the_chain() {
    let (f, first, second) = two_exports().await;
    // Altered: a new version of the first manifest, one byte different.
    let mut bytes = first.manifest.to_canonical_bytes();
    let at = bytes.iter().position(|b| *b == b'1').unwrap();
    bytes[at] = b'2';
    upload(&f.s3, &first.key, bytes, StorageClass::Standard, ServerSideEncryption::AwsKms).await;
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{err}");
    let first_row = rows.iter().find(|r| r["export_id"] == f.earlier_export_id.as_str()).unwrap();
    assert!(first_row["chain"].as_str().unwrap().contains("versions: the manifest was replaced"), "{first_row}");
    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "chain");
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains(&first.key), "{detail}");

    // Removed: the second manifest deleted (a delete marker on its sealed version).
    f.s3.delete_object().bucket(BUCKET).key(&second.key).send().await.unwrap();
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{err}");
    let row = rows.iter().find(|r| r["export_id"] == f.export_id.as_str()).unwrap();
    assert!(row["chain"].as_str().unwrap().starts_with("no manifest: a COMPLETE export without one"), "{row}");
    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "manifest");
    assert_eq!((status, detail.contains("was deleted")), ("fail", true), "{detail}");
}

#[tokio::test]
async fn a_manifest_that_is_not_one_is_a_failure_naming_its_key_not_a_panic() {
    let (f, _, second) = two_exports().await;
    upload(
        &f.s3,
        &second.key,
        b"{\"manifest_version\": \"x\"".to_vec(),
        StorageClass::Standard,
        ServerSideEncryption::AwsKms,
    )
    .await;
    let (rows, err, code) = verify(&f);
    assert_eq!(code, Some(1), "{err}");
    let (status, detail) = status_of(&rows, "manifest");
    assert_eq!(status, "fail");
    assert!(detail.contains(&second.key), "{detail}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn a_manifest_whose_writer_stopped_after_moving_the_head_is_finished_by_the_next() {
    let f = fixture_with_two().await;
    // The earlier export's writer moved the head to its manifest, kept its bytes, and stopped
    // (a timeout, a crash) before writing the manifest itself.
    let earlier = known(&f, &f.earlier_export_id).await;
    let mut m = collect(&f.s3, &earlier.facts(DB)).await.unwrap();
    m.previous = None;
    let bytes = m.to_canonical_bytes();
    let sha = sha256_hex(&bytes);
    let key = s3exports_config::names::manifest_key("", DB, &f.earlier_export_id);
    let put = |key: String, body: Vec<u8>| f.s3.put_object().bucket(BUCKET).key(key).body(body.into()).send();
    put(pending_key("", DB, &f.earlier_export_id), bytes).await.unwrap();
    let link = Link { export_id: f.earlier_export_id.clone(), key: key.clone(), sha256: sha.clone(), lapses: None };
    put(head_key("", DB), serde_json::to_vec(&ChainHead { manifest: link, previous: None }).unwrap()).await.unwrap();

    // The next export finishes it from the kept bytes before linking to it.
    let second = manifest(&f, &f.export_id).await;
    assert_eq!(second.manifest.previous.as_ref().map(|l| l.sha256.as_str()), Some(sha.as_str()));
    // The stopped writer's retry finds its manifest as it would have written it, and seals.
    let first = manifest(&f, &f.earlier_export_id).await;
    assert_eq!((first.sha256.as_str(), first.new, first.key.as_str()), (sha.as_str(), false, key.as_str()));

    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(0), "{rows:?}\n{err}");
    assert!(rows.iter().all(|r| r["chain"] == "ok"), "{rows:?}");
}

#[tokio::test]
async fn a_removed_chain_head_stops_the_chain_rather_than_starting_a_second() {
    let f = fixture_with_two().await;
    let (earlier, later) = (known(&f, &f.earlier_export_id).await, known(&f, &f.export_id).await);
    record(&f.s3, &earlier.facts(DB)).await.unwrap();
    f.s3.delete_object().bucket(BUCKET).key(head_key("", DB)).send().await.unwrap();
    match record(&f.s3, &later.facts(DB)).await {
        Err(e @ EvidenceError::HeadMissing { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&head_key("", DB)) && text.contains(&f.earlier_export_id), "{text}");
        }
        other => panic!("expected HeadMissing, got {other:?}"),
    }
}

async fn body_of(f: &Fixture, key: &str) -> Vec<u8> {
    f.s3.get_object().bucket(BUCKET).key(key).send().await.unwrap().body.collect().await.unwrap().to_vec()
}

async fn put_raw(f: &Fixture, key: &str, body: Vec<u8>) {
    f.s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(body)).send().await.unwrap();
}

fn finding<'a>(rows: &'a [Value], what: &str) -> &'a str {
    let row = rows.iter().find(|r| r["export_id"] == what).unwrap_or_else(|| panic!("no {what} row: {rows:?}"));
    row["chain"].as_str().unwrap()
}

/// The chain head is part of the evidence: deleted, replaced by garbage, or naming a manifest
/// that is not there, each is a finding (exit status 1) that says what happened, in `evidence`
/// and in `verify`.
#[tokio::test]
async fn a_deleted_garbled_or_dangling_chain_head_is_a_finding_saying_what_happened() {
    let (f, _, _) = two_exports().await;
    let head = head_key("", DB);
    let good = body_of(&f, &head).await;

    f.s3.delete_object().bucket(BUCKET).key(&head).send().await.unwrap();
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{rows:?}\n{err}");
    let why = finding(&rows, "(chain head)");
    assert!(why.contains(&head) && why.contains("was deleted") && why.contains("2 manifest(s) exist"), "{why}");
    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "chain head");
    assert_eq!((status, detail.contains("was deleted")), ("fail", true), "{detail}");

    put_raw(&f, &head, b"{\"manifest\": 42".to_vec()).await;
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{err}");
    assert!(finding(&rows, "(chain head)").contains("not a chain head"), "{rows:?}");
    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    assert!(status_of(&rows, "chain head").1.contains("not a chain head"), "{rows:?}");

    let nowhere = Link {
        export_id: "export-never".into(),
        key: s3exports_config::names::manifest_key("", DB, "export-never"),
        sha256: "0".repeat(64),
        lapses: None,
    };
    put_raw(&f, &head, serde_json::to_vec(&ChainHead { manifest: nowhere.clone(), previous: None }).unwrap()).await;
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{err}");
    let why = finding(&rows, "(chain head)");
    assert!(why.contains(&nowhere.key) && why.contains("which is not there"), "{why}");
    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "chain head");
    assert_eq!(status, "fail");
    assert!(detail.contains("which is not there") && detail.contains("never existed"), "{detail}");

    // Put right again: nothing to say.
    put_raw(&f, &head, good).await;
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(0), "{rows:?}\n{err}");
    let (rows, _, code) = verify(&f);
    assert_eq!((code, status_of(&rows, "chain head").0), (Some(0), "pass"), "{rows:?}");
}

/// An object in the evidence folder that is neither a manifest nor the chain's state is a
/// finding, and so is one directly under `_evidence/`.
#[tokio::test]
async fn a_stray_object_in_the_evidence_folder_is_a_finding() {
    let (f, _, _) = two_exports().await;
    let stray = format!("_evidence/{DB}/notes/x.json");
    put_raw(&f, &stray, b"{}".to_vec()).await;
    put_raw(&f, "_evidence/loose.txt", b"x".to_vec()).await;
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{rows:?}\n{err}");
    let strays: Vec<&str> =
        rows.iter().filter(|r| r["export_id"] == "(stray object)").map(|r| r["manifest"].as_str().unwrap()).collect();
    assert_eq!(strays, [stray.as_str(), "_evidence/loose.txt"], "{rows:?}");
    assert!(err.contains("neither a manifest nor the chain's state"), "{err}");
}

/// The newest manifest rewritten after the head moved to it (content and metadata replaced by
/// another writer) is named as rewritten, not only as a fork.
#[tokio::test]
async fn a_rewritten_head_manifest_is_named_as_rewritten() {
    let (f, _, second) = two_exports().await;
    let mut m = second.manifest.clone();
    m.tool = "someone else".into();
    put_raw(&f, &second.key, m.to_canonical_bytes()).await;
    let (rows, err, code) = evidence(&f);
    assert_eq!(code, Some(1), "{err}");
    let row = rows.iter().find(|r| r["export_id"] == f.export_id.as_str()).unwrap();
    let why = row["chain"].as_str().unwrap();
    assert!(why.contains("rewritten: the chain head names this manifest with SHA-256"), "{why}");
    assert!(why.contains("not written as the cataloguer writes manifests"), "{why}");
    assert!(finding(&rows, "(chain head)").contains("whose manifest was rewritten"), "{rows:?}");
    let (rows, _, code) = verify(&f);
    assert_eq!(code, Some(1));
    let (status, detail) = status_of(&rows, "manifest");
    assert_eq!((status, detail.contains("the manifest was replaced")), ("fail", true), "{detail}");
}

/// The previous manifest archived (Glacier: a GET fails with InvalidObjectState, S3 API
/// Reference GetObject; moto refuses it too): `verify` says the completeness comparison was
/// not made, naming the manifest and why, instead of passing.
#[tokio::test]
async fn completeness_against_an_archived_previous_manifest_is_a_warning_naming_it() {
    let f = fixture_with_two().await;
    let first = record(&f.s3, &known(&f, &f.earlier_export_id).await.facts(DB)).await.unwrap();
    // The first manifest, as the lifecycle would leave it: the same bytes and metadata, in Glacier.
    let head = f.s3.head_object().bucket(BUCKET).key(&first.key).send().await.unwrap();
    let bytes = body_of(&f, &first.key).await;
    f.s3.delete_object()
        .bucket(BUCKET)
        .key(&first.key)
        .set_version_id(head.version_id().map(str::to_owned))
        .send()
        .await
        .unwrap();
    let sha = s3exports_evidence::manifest::hex_to_base64(&sha256_hex(&bytes)).unwrap();
    f.s3.put_object()
        .bucket(BUCKET)
        .key(&first.key)
        .storage_class(StorageClass::Glacier)
        .set_metadata(head.metadata().cloned())
        .checksum_sha256(sha)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .unwrap();
    manifest(&f, &f.export_id).await;
    let (rows, err, _) = verify(&f);
    let (status, detail) = status_of(&rows, "completeness");
    assert_eq!(status, "warn", "{rows:?}\n{err}");
    assert!(detail.contains("completeness not checked") && detail.contains(&first.key), "{detail}");
    assert!(detail.contains("GLACIER"), "{detail}");
}

/// A manifest field of megabytes is shown cut, with its length, never copied whole.
#[tokio::test]
async fn a_huge_manifest_field_is_shown_bounded() {
    let (f, _, second) = two_exports().await;
    let huge = "x".repeat(2 * 1024 * 1024);
    put_raw(&f, &second.key, format!("{{\"manifest_version\": \"{huge}\"}}").into_bytes()).await;
    // The table, as a person reads it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["--env", "prod", "verify", f.export_id.as_str()])
        .envs(f.moto.env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.stdout.len() < 64 * 1024, "{} bytes of output", out.stdout.len());
    assert!(text.contains("bytes in all"), "{text}");
    let (rows, _, _) = verify(&f);
    let (status, detail) = status_of(&rows, "manifest");
    assert_eq!(status, "fail");
    assert!(detail.len() < 2_000 && detail.contains(&second.key), "{} bytes", detail.len());
}
