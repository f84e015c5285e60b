//! Evidence's S3 call sequences with mocked clients, for what an emulator does not check: the
//! chain head moved with `If-Match` carrying the ETag exactly as S3 returned it, every checksum
//! algorithm S3 reports, the `null` version addressed as such, and a seal S3 refuses for some
//! objects (an existing longer or COMPLIANCE retention, a date already past) sealing the rest
//! and reporting each refusal.

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::get_object_lock_configuration::GetObjectLockConfigurationOutput;
use aws_sdk_s3::operation::get_object_retention::GetObjectRetentionOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::head_object::builders::HeadObjectOutputBuilder;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::put_object_retention::PutObjectRetentionOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetention, ObjectLockRetentionMode, ObjectVersion,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Duration, Utc};
use s3exports_evidence::manifest::{Link, Manifest, ObjectRecord, SealRecord};
use s3exports_evidence::record::{ChainHead, EvidenceError, head_key};
use s3exports_evidence::s3::{self, Retained};
use s3exports_evidence::seal::{Progress, progress_key};
use s3exports_evidence::{ExportFacts, Recorded, SealReport, Sealed, record, seal};
use s3exports_rds::{ExportStatus, ExportTask};

const BUCKET: &str = "b";
const DB: &str = "pams";
const MANIFEST: &str = "_evidence/pams/e2.json";

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!("<Error><Code>{code}</Code><Message>{message}</Message><RequestId>r</RequestId></Error>");
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn not_found() -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(404).unwrap(), SdkBody::empty())
}

fn manifest(objects: &[(&str, Option<&str>)], seal: Option<SealRecord>) -> Manifest {
    let mut m: Manifest = serde_json::from_value(serde_json::json!({
        "manifest_version": 1, "tool": "t", "database": DB,
        "export": {"id": "e2", "source_arn": "arn", "snapshot_time": null, "snapshot_type": "manual",
                   "task_start_time": null, "task_end_time": null, "kms_key_id": "k", "iam_role_arn": "r",
                   "total_exported_data_in_gb": null, "s3_bucket": BUCKET, "s3_prefix": ""},
        "tables": [], "left_out": [], "objects": [], "previous": null, "seal": null
    }))
    .unwrap();
    m.objects = objects
        .iter()
        .map(|(key, version)| ObjectRecord {
            key: (*key).into(),
            size: 1,
            etag: "e".into(),
            version_id: version.map(str::to_owned),
            checksum: None,
        })
        .collect();
    m.seal = seal;
    m
}

fn recorded(m: Manifest) -> Recorded {
    Recorded { manifest: m, key: MANIFEST.into(), sha256: "s".into(), version_id: Some("mv".into()), new: true }
}

fn governance(until: DateTime<Utc>) -> Option<SealRecord> {
    Some(SealRecord { mode: "GOVERNANCE".into(), retain_until: until })
}

/// The chain head is moved with `If-Match` holding the ETag as S3 returned it, quotes and all:
/// an ETag is an RFC 7232 entity-tag, a quoted string, and S3 compares the header with it
/// (S3 User Guide, "How to prevent object overwrites with conditional writes"; PutObject
/// `If-Match`).
#[tokio::test]
async fn the_chain_head_is_moved_with_the_etag_exactly_as_s3_returned_it() {
    const ETAG: &str = "\"3858f62230ac3c915f300c664312c63f\"";
    let head_at = head_key("", DB);
    let previous =
        Link { export_id: "e1".into(), key: "_evidence/pams/e1.json".into(), sha256: "p".into(), lapses: None };
    let head_json = serde_json::to_vec(&ChainHead { manifest: previous.clone(), previous: None }).unwrap();
    let at = head_at.clone();
    let rules: Vec<Rule> = vec![
        // No manifest yet; the previous one the head names is there.
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.key() == Some(MANIFEST))
            .then_http_response(not_found),
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.key() == Some("_evidence/pams/e1.json"))
            .then_output(|| HeadObjectOutput::builder().e_tag("\"p\"").build()),
        mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| ListObjectVersionsOutput::builder().build()),
        mock!(aws_sdk_s3::Client::get_object).match_requests(move |r| r.key() == Some(at.as_str())).then_output(
            move || GetObjectOutput::builder().e_tag(ETAG).body(ByteStream::from(head_json.clone())).build(),
        ),
        mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| r.key().is_some_and(|k| k.ends_with(".pending.json")))
            .then_output(|| PutObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| r.key() == Some(MANIFEST) && r.if_none_match() == Some("*"))
            .then_output(|| PutObjectOutput::builder().version_id("v2").e_tag("\"m\"").build()),
    ];
    let moved = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| r.key() == Some(head_at.as_str()) && r.if_match() == Some(ETAG))
        .then_output(|| PutObjectOutput::builder().e_tag("\"h2\"").build());
    let all: Vec<&Rule> = rules.iter().chain([&moved]).collect();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &all);
    let task = ExportTask { s3_bucket: BUCKET.into(), ..ExportTask::new("e2", "arn", ExportStatus::Complete) };
    let facts = ExportFacts { database: DB, task: &task, entries: &[], info: None, seal: None, expire_days: None };
    let written = record(&s3, &facts).await.unwrap();
    assert_eq!(moved.num_calls(), 1, "the head moved once, with the quoted ETag");
    assert_eq!(written.manifest.previous.as_ref(), Some(&previous));
    assert_eq!(written.version_id.as_deref(), Some("v2"));
}

/// Whichever algorithm S3 reports is recorded: S3's Checksum type names CRC32, CRC32C,
/// CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH3, XXHASH64 and XXHASH128 (S3 API Reference,
/// "Checksum"; HeadObject with `x-amz-checksum-mode: ENABLED`).
#[tokio::test]
async fn every_checksum_algorithm_s3_reports_is_recorded() {
    type Set = fn(HeadObjectOutputBuilder) -> HeadObjectOutputBuilder;
    let cases: [(&str, Set); 6] = [
        ("CRC64NVME", |b| b.checksum_crc64_nvme("v")),
        ("MD5", |b| b.checksum_md5("v")),
        ("SHA512", |b| b.checksum_sha512("v")),
        ("XXHASH64", |b| b.checksum_xxhash64("v")),
        ("XXHASH3", |b| b.checksum_xxhash3("v")),
        ("XXHASH128", |b| b.checksum_xxhash128("v")),
    ];
    for (algorithm, set) in cases {
        let rule = mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.checksum_mode() == Some(&aws_sdk_s3::types::ChecksumMode::Enabled))
            .then_output(move || {
                set(HeadObjectOutput::builder()).checksum_type(aws_sdk_s3::types::ChecksumType::FullObject).build()
            });
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&rule]);
        let state = s3::head(&s3, BUCKET, "k", None).await.unwrap().unwrap();
        let checksum = state.checksum.unwrap_or_else(|| panic!("{algorithm}: recorded as no checksum"));
        assert_eq!(
            (checksum.algorithm.as_str(), checksum.value.as_str(), checksum.kind.as_deref()),
            (algorithm, "v", Some("FULL_OBJECT"))
        );
    }
}

/// A version written before versioning was enabled has the version id `null`, and S3 takes
/// `versionId=null` to address it (S3 User Guide, "Working with objects in a versioning-enabled
/// bucket"): it is recorded and addressed as `null`, never as "the current version".
#[tokio::test]
async fn the_null_version_is_recorded_and_addressed_as_such() {
    let listing = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| {
        ListObjectVersionsOutput::builder()
            .versions(ObjectVersion::builder().key("e2/a.parquet").version_id("null").is_latest(false).size(1).build())
            .versions(ObjectVersion::builder().key("e2/a.parquet").version_id("v9").is_latest(true).size(1).build())
            .build()
    });
    let head = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| r.version_id() == Some("null"))
        .then_output(|| HeadObjectOutput::builder().version_id("null").build());
    let retain = mock!(aws_sdk_s3::Client::put_object_retention)
        .match_requests(|r| r.version_id() == Some("null"))
        .then_output(|| PutObjectRetentionOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&listing, &head, &retain]);
    let versions = s3::list_versions(&s3, BUCKET, "e2/").await.unwrap();
    assert_eq!(versions[0].version_id.as_deref(), Some("null"));
    let state = s3::head(&s3, BUCKET, "e2/a.parquet", Some("null")).await.unwrap().unwrap();
    assert_eq!(state.version_id.as_deref(), Some("null"));
    let until = Utc::now() + Duration::days(30);
    let placed = s3::retain(&s3, BUCKET, "e2/a.parquet", Some("null"), "GOVERNANCE", until).await.unwrap();
    assert_eq!(placed, Retained::Placed);
    assert_eq!(retain.num_calls(), 1);
}

fn retention(mode: ObjectLockRetentionMode, until: DateTime<Utc>) -> GetObjectRetentionOutput {
    GetObjectRetentionOutput::builder()
        .retention(
            ObjectLockRetention::builder()
                .mode(mode)
                .retain_until_date(aws_smithy_types::DateTime::from_secs(until.timestamp()))
                .build(),
        )
        .build()
}

fn lock_enabled() -> Rule {
    mock!(aws_sdk_s3::Client::get_object_lock_configuration).then_output(|| {
        GetObjectLockConfigurationOutput::builder()
            .object_lock_configuration(
                ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build(),
            )
            .build()
    })
}

fn no_progress() -> Rule {
    mock!(aws_sdk_s3::Client::get_object).then_http_response(|| error(404, "NoSuchKey", "no progress"))
}

fn protected() -> HttpResponse {
    error(403, "AccessDenied", "Access Denied because object protected by object lock.")
}

/// S3 refuses to shorten a retention or weaken COMPLIANCE (only GOVERNANCE may be bypassed,
/// with s3:BypassGovernanceRetention; COMPLIANCE "can't be shortened": S3 User Guide, "Object
/// Lock retention modes"). A version already retained at least as long, in the same or a
/// stricter mode, is sealed; the others are named one by one, after the rest is sealed.
#[tokio::test]
async fn a_seal_refused_for_some_objects_counts_longer_retentions_and_names_the_rest() {
    let until = Utc::now() + Duration::days(300);
    let placed = mock!(aws_sdk_s3::Client::put_object_retention)
        .match_requests(|r| matches!(r.key(), Some("e2/a.parquet" | MANIFEST)))
        .then_output(|| PutObjectRetentionOutput::builder().build());
    let rules = [
        lock_enabled(),
        no_progress(),
        mock!(aws_sdk_s3::Client::put_object_retention)
            .match_requests(|r| matches!(r.key(), Some("e2/b.parquet" | "e2/c.parquet")))
            .then_http_response(protected),
        // b: COMPLIANCE for longer, set elsewhere: sealed. c: GOVERNANCE, shorter: not.
        mock!(aws_sdk_s3::Client::get_object_retention)
            .match_requests(|r| r.key() == Some("e2/b.parquet") && r.version_id() == Some("vb"))
            .then_output(move || retention(ObjectLockRetentionMode::Compliance, until + Duration::days(100))),
        mock!(aws_sdk_s3::Client::get_object_retention)
            .match_requests(|r| r.key() == Some("e2/c.parquet"))
            .then_output(move || retention(ObjectLockRetentionMode::Governance, until - Duration::days(1))),
    ];
    let saved = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.key() == Some(progress_key("", DB, "e2").as_str()))
        .then_output(|| PutObjectOutput::builder().build());
    let all: Vec<&Rule> = rules.iter().chain([&placed, &saved]).collect();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &all);
    let objects = [("e2/a.parquet", Some("va")), ("e2/b.parquet", Some("vb")), ("e2/c.parquet", Some("vc"))];
    let m = recorded(manifest(&objects, governance(until)));
    match seal(&s3, &m, None).await {
        Err(e @ EvidenceError::SealRefused { count: 1, of: 4, held: 1, .. }) => {
            let text = e.to_string();
            assert!(text.contains("e2/c.parquet (version vc): AccessDenied"), "{text}");
            assert!(text.contains("it holds GOVERNANCE until") && text.contains("short of GOVERNANCE"), "{text}");
            assert!(!text.contains("e2/b.parquet"), "b is sealed: {text}");
        }
        other => panic!("expected SealRefused for c only, got {other:?}"),
    }
    assert_eq!(placed.num_calls(), 2, "the rest sealed, the manifest too");
    assert!(saved.num_calls() >= 1, "what was found is kept for the next run");
}

#[tokio::test]
async fn a_seal_whose_objects_all_hold_one_at_least_as_long_is_done_and_says_what_it_found() {
    let until = Utc::now() + Duration::days(300);
    let rules = [
        lock_enabled(),
        no_progress(),
        mock!(aws_sdk_s3::Client::put_object_retention)
            .match_requests(|r| r.key() == Some(MANIFEST))
            .then_output(|| PutObjectRetentionOutput::builder().build()),
        mock!(aws_sdk_s3::Client::put_object_retention).then_http_response(protected),
        mock!(aws_sdk_s3::Client::get_object_retention)
            .then_output(move || retention(ObjectLockRetentionMode::Governance, until + Duration::days(1))),
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build()),
    ];
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &rules);
    let m = recorded(manifest(&[("e2/a.parquet", Some("va"))], governance(until)));
    let SealReport { sealed, held } = seal(&s3, &m, None).await.unwrap();
    assert_eq!(sealed, Sealed::Done { objects: 2 });
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].key.as_str(), held[0].mode.as_str()), ("e2/a.parquet", "GOVERNANCE"));
}

/// A seal resumed after its date: S3 refuses a date in the past (InvalidArgument, "The retain
/// until date must be in the future"); objects retained until that date by the earlier run
/// count as sealed, and what never got one is named.
#[tokio::test]
async fn a_resumed_seal_whose_date_has_passed_counts_what_the_earlier_run_placed() {
    let until = Utc::now() - Duration::days(1);
    let earlier = Progress {
        export_id: "e2".into(),
        mode: "GOVERNANCE".into(),
        retain_until: until.to_rfc3339(),
        sealed: 1,
        of: 3,
        held: Vec::new(),
        refused: Vec::new(),
    };
    let body = serde_json::to_vec(&earlier).unwrap();
    let rules = [
        lock_enabled(),
        mock!(aws_sdk_s3::Client::get_object)
            .then_output(move || GetObjectOutput::builder().body(ByteStream::from(body.clone())).build()),
        mock!(aws_sdk_s3::Client::put_object_retention)
            .then_http_response(|| error(400, "InvalidArgument", "The retain until date must be in the future!")),
        mock!(aws_sdk_s3::Client::get_object_retention)
            .match_requests(|r| r.key() == Some("e2/b.parquet"))
            .then_output(move || retention(ObjectLockRetentionMode::Governance, until)),
        mock!(aws_sdk_s3::Client::get_object_retention).then_http_response(|| {
            error(404, "NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration")
        }),
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build()),
    ];
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &rules);
    let objects = [("e2/a.parquet", Some("va")), ("e2/b.parquet", Some("vb"))];
    let m = recorded(manifest(&objects, governance(until)));
    match seal(&s3, &m, None).await {
        // b holds the retention the earlier run placed; the manifest never got one, and now cannot.
        Err(e @ EvidenceError::SealRefused { count: 1, of: 3, held: 1, .. }) => {
            let text = e.to_string();
            assert!(text.contains(&format!("{MANIFEST} (version mv): InvalidArgument")), "{text}");
            assert!(text.contains("the seal's date") && text.contains("has passed"), "{text}");
        }
        other => panic!("expected the manifest refused and b held, got {other:?}"),
    }
}
