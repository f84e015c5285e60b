//! S3 call sequences with mocked clients: ListObjectsV2 paging with storage classes and restore
//! status, HeadObject encryption and restore header, and RestoreObject's answers for objects
//! restoring or restored already.

use athenaq::archive::restore::{self, Plan, Tier};
use athenaq::audit::exports::Storage;
use athenaq::aws::s3::{self, Object, Restore, RestoreListing};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::restore_object::RestoreObjectOutput;
use aws_sdk_s3::types::{ObjectStorageClass, OptionalObjectAttributes, RestoreStatus, ServerSideEncryption};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

fn object(key: &str, class: ObjectStorageClass, restore: Option<RestoreStatus>) -> aws_sdk_s3::types::Object {
    aws_sdk_s3::types::Object::builder()
        .key(key)
        .size(1_000_000)
        .storage_class(class)
        .set_restore_status(restore)
        .build()
}

#[tokio::test]
async fn listing_pages_through_and_reads_storage_class_and_restore_status() {
    let until = aws_smithy_types::DateTime::from_secs(1_796_000_000);
    let first = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| {
            r.continuation_token().is_none()
                && r.optional_object_attributes() == [OptionalObjectAttributes::RestoreStatus]
        })
        .then_output(move || {
            ListObjectsV2Output::builder()
                .contents(object("e/pams/public.orders/1/part-0.parquet", ObjectStorageClass::DeepArchive, None))
                .contents(object(
                    "e/pams/public.orders/1/part-1.parquet",
                    ObjectStorageClass::DeepArchive,
                    Some(RestoreStatus::builder().is_restore_in_progress(true).build()),
                ))
                .next_continuation_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token() == Some("page-2"))
        .then_output(move || {
            ListObjectsV2Output::builder()
                .contents(object(
                    "e/pams/public.customers/1/part-0.parquet",
                    ObjectStorageClass::Glacier,
                    Some(RestoreStatus::builder().is_restore_in_progress(false).restore_expiry_date(until).build()),
                ))
                .contents(object("e/export_info_e.json", ObjectStorageClass::Standard, None))
                .build()
        });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&first, &second]);
    let listed = s3::list(&s3, "bucket", "e/", RestoreListing::Answered).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0].restore, Some(Restore::None), "archived, never restored: S3 says nothing");
    assert_eq!(listed[1].restore, Some(Restore::InProgress));
    let storage = Storage::of(&listed);
    assert_eq!(storage.class, "mixed (DEEP_ARCHIVE 2, GLACIER 1)", "the JSON file is not data");
    assert_eq!(storage.restore, "in progress 2/3");
    // Archived with the state known from the listing: nothing to ask HeadObject.
    assert_eq!(Plan::of(&listed).to_request.len(), 1);
}

fn archived_listing() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(object("e/pams/public.orders/1/part-0.parquet", ObjectStorageClass::DeepArchive, None))
            .contents(object("e/pams/public.orders/1/part-1.parquet", ObjectStorageClass::Glacier, None))
            .contents(aws_sdk_s3::types::Object::builder().key("e/pams/").size(0).build())
            .build()
    })
}

#[tokio::test]
async fn s3_archived_objects_never_restored_are_none_without_a_head_per_object() {
    // No HeadObject rule: a HEAD would fail the test.
    let list = archived_listing();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&list]);
    let mut listed = s3::list(&s3, "bucket", "e/", RestoreListing::Answered).await.unwrap();
    assert_eq!(listed.len(), 2, "the folder marker is not an object");
    restore::fill_restore_states(&s3, "bucket", &mut listed).await.unwrap();
    assert!(listed.iter().all(|o| o.restore == Some(Restore::None)));
    assert_eq!(Storage::of(&listed).restore, "none");
    assert_eq!(Plan::of(&listed).to_request.len(), 2);
}

#[tokio::test]
async fn an_endpoint_that_may_not_answer_restore_status_gets_a_head_per_archived_object() {
    let list = archived_listing();
    let head = mock!(aws_sdk_s3::Client::head_object)
        .then_output(|| HeadObjectOutput::builder().restore("ongoing-request=\"true\"").build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&list, &head]);
    let mut listed = s3::list(&s3, "bucket", "e/", RestoreListing::MaybeUnanswered).await.unwrap();
    assert!(listed.iter().all(|o| o.restore.is_none()));
    restore::fill_restore_states(&s3, "bucket", &mut listed).await.unwrap();
    assert_eq!(head.num_calls(), 2);
    assert!(listed.iter().all(|o| o.restore == Some(Restore::InProgress)));
}

#[tokio::test]
async fn head_object_gives_encryption_and_the_restore_header() {
    let head = mock!(aws_sdk_s3::Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("arn:aws:kms:eu-west-1:1:key/abc")
            .storage_class(aws_sdk_s3::types::StorageClass::DeepArchive)
            .restore("ongoing-request=\"false\", expiry-date=\"Fri, 04 Dec 2026 00:00:00 GMT\"")
            .build()
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&head]);
    let h = s3::head(&s3, "bucket", "k").await.unwrap();
    assert_eq!((h.sse.as_deref(), h.storage_class.as_str()), (Some("aws:kms"), "DEEP_ARCHIVE"));
    assert!(matches!(h.restore, Restore::Restored { until: Some(_) }), "{:?}", h.restore);
}

fn error(status: u16, code: &'static str) -> HttpResponse {
    let body = format!("<Error><Code>{code}</Code><Message>{code}</Message><RequestId>r</RequestId></Error>");
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn restore_counts_objects_restoring_or_not_archived_and_names_failures() {
    let rules = [
        mock!(aws_sdk_s3::Client::restore_object)
            .match_requests(|r| {
                r.key() == Some("new")
                    && r.restore_request().and_then(|q| q.glacier_job_parameters()).map(|g| g.tier().as_str())
                        == Some("Bulk")
                    && r.restore_request().and_then(|q| q.days()) == Some(7)
            })
            .then_output(|| RestoreObjectOutput::builder().build()),
        mock!(aws_sdk_s3::Client::restore_object)
            .match_requests(|r| r.key() == Some("restoring"))
            .then_http_response(|| error(409, "RestoreAlreadyInProgress")),
        mock!(aws_sdk_s3::Client::restore_object)
            .match_requests(|r| r.key() == Some("moved"))
            .then_http_response(|| error(403, "ObjectAlreadyInActiveTierError")),
        mock!(aws_sdk_s3::Client::restore_object)
            .match_requests(|r| r.key() == Some("denied"))
            .then_http_response(|| error(403, "AccessDenied")),
    ];
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &rules);
    let archived = |key: &str| Object {
        key: key.into(),
        size: 5,
        etag: "e".into(),
        storage_class: "DEEP_ARCHIVE".into(),
        restore: Some(Restore::None),
    };
    let plan = Plan::of(&["new", "restoring", "moved", "denied"].map(archived));
    let outcome = restore::request(&s3, "bucket", &plan, Tier::Bulk, 7).await;
    assert_eq!((outcome.requested, outcome.already_restoring, outcome.not_archived), (1, 1, 1));
    assert_eq!(outcome.failed.len(), 1);
    assert!(outcome.failed[0].starts_with("denied: AccessDenied"), "{:?}", outcome.failed);
}
