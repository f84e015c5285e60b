//! The S3, S3 Control and KMS responses athenaq parses, as AWS's own documentation shows them
//! (`testkit/aws-examples/`, each file's source in its SOURCES.md), read through the same calls.

use athenaq::audit::verify::Clients;
use athenaq::audit::verify::reads::Reads;
use athenaq::aws::s3::{self, Restore, RestoreListing};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use s3exports_rds::ExportTask;
use s3exports_testkit::aws_examples::response;

fn clients(s3: &[&Rule], s3control: &[&Rule], kms: &[&Rule]) -> Clients {
    Clients {
        rds: mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[] as &[&Rule]),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3),
        s3control: mock_client!(aws_sdk_s3control, RuleMode::MatchAny, s3control),
        kms: mock_client!(aws_sdk_kms, RuleMode::MatchAny, kms),
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, &[] as &[&Rule]),
        listing: RestoreListing::Answered,
    }
}

#[tokio::test]
async fn list_objects_v2_as_botocore_and_the_cli_reference_show_it() {
    // botocore's page says more follow (a continuation token): the CLI's page is the next.
    let botocore = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token().is_none())
        .then_http_response(|| response("s3_list_objects_v2.botocore.rendered.xml"));
    let next = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token().is_some())
        .then_http_response(|| response("s3_list_objects_v2.cli.rendered.xml"));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&botocore, &next]);
    let listed = s3::list(&s3, "examplebucket", "", RestoreListing::Answered).await.unwrap();
    assert_eq!(listed.len(), 2 + 4, "both pages: {listed:?}");
    assert!(listed.iter().all(|o| !o.key.is_empty() && o.size > 0 && !o.etag.contains('"')), "{listed:?}");
    assert!(listed.iter().all(|o| o.storage_class == "STANDARD" && o.restore.is_none()), "{listed:?}");

    let cli = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_http_response(|| response("s3_list_objects_v2.cli.rendered.xml"));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&cli]);
    assert_eq!(s3::list(&s3, "my-bucket", "", RestoreListing::Answered).await.unwrap().len(), 4);
}

#[tokio::test]
async fn head_object_as_the_api_reference_shows_archived_and_versioned_objects() {
    let file = "s3_head_object.apiref.glacier_restore_in_progress.normalized.headers.txt";
    let head = mock!(aws_sdk_s3::Client::head_object).then_http_response(move || response(file));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&head]);
    let h = s3::head(&s3, "bucket", "key").await.unwrap_or_else(|e| panic!("{file}: {e:?}"));
    assert_eq!(h.restore, Restore::InProgress);
    assert_eq!(h.storage_class, "STANDARD", "no x-amz-storage-class header is Standard");
    // The versioned example's `Last-Modified: Sun, 1 Jan 2006 ...` is not the HTTP date form S3
    // sends (`01`): the SDK refuses it, and that is an error saying so, not a panic or a guess.
    let file = "s3_head_object.apiref.versioned.normalized.headers.txt";
    let head = mock!(aws_sdk_s3::Client::head_object).then_http_response(move || response(file));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&head]);
    let err = s3::head(&s3, "bucket", "key").await.unwrap_err().to_string();
    assert!(err.contains("HTTP 200 whose response could not be read"), "{err}");
    let head = mock!(aws_sdk_s3::Client::head_object)
        .then_http_response(|| response("s3_head_object.apiref.glacier_restored.normalized.headers.txt"));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&head]);
    let Restore::Restored { until: Some(until) } = s3::head(&s3, "bucket", "key").await.unwrap().restore else {
        panic!("a restored copy with its expiry date")
    };
    assert_eq!(until.format("%Y-%m-%d").to_string(), "2012-11-07");
}

#[tokio::test]
async fn lifecycle_rules_with_a_legacy_prefix_or_a_filter_as_documented() {
    let legacy = mock!(aws_sdk_s3::Client::get_bucket_lifecycle_configuration)
        .then_http_response(|| response("s3_get_bucket_lifecycle_configuration.apiref.ex1_general_purpose.xml"));
    let reads = Reads { c: &clients(&[&legacy], &[], &[]), bucket: "b".into() };
    let rules = reads.lifecycle_rules().await.unwrap();
    assert_eq!(rules[0].prefix.as_deref(), Some("projectdocs/"));
    assert!(rules[0].applies_to("projectdocs/e1/") && !rules[0].applies_to("exports/e1/"));
    assert_eq!(rules[0].expiration_days, Some(3650));

    let filtered = mock!(aws_sdk_s3::Client::get_bucket_lifecycle_configuration)
        .then_http_response(|| response("s3_lifecycle_configuration.userguide_filter_prefix_tax.xml"));
    let reads = Reads { c: &clients(&[&filtered], &[], &[]), bucket: "b".into() };
    let rules = reads.lifecycle_rules().await.unwrap();
    assert_eq!((rules[0].prefix.as_deref(), rules[0].enabled), (Some("tax/"), true));
    assert_eq!(rules[0].transitions, [("GLACIER".to_owned(), 365)]);
}

#[tokio::test]
async fn public_access_blocks_of_the_bucket_and_the_account_and_a_key_alias() {
    let bucket = mock!(aws_sdk_s3::Client::get_public_access_block)
        .then_http_response(|| response("s3_get_public_access_block.cli.rendered.xml"));
    let account = mock!(aws_sdk_s3control::Client::get_public_access_block)
        .match_requests(|r| r.account_id() == Some("123456789012"))
        .then_http_response(|| response("s3control_get_public_access_block.cli.rendered.xml"));
    let key = mock!(aws_sdk_kms::Client::describe_key)
        .match_requests(|r| r.key_id() == Some("alias/ExampleAlias"))
        .then_http_response(|| response("kms_describe_key.botocore.symmetric.wire_rendered.json"));
    let c = clients(&[&bucket], &[&account], &[&key]);
    let reads = Reads { c: &c, bucket: "b".into() };
    assert_eq!(reads.bucket_public_access_block().await.unwrap(), Some([true; 4]));
    let mut task = ExportTask::new("e1", "arn", s3exports_rds::ExportStatus::Complete);
    task.iam_role_arn = "arn:aws:iam::123456789012:role/export".into();
    assert_eq!(reads.account_public_access_block(&task).await.unwrap(), Some([true; 4]));
    assert_eq!(
        reads.key_arn("alias/ExampleAlias").await.unwrap(),
        "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
}
