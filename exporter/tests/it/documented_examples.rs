//! The RDS and SQS responses the exporter parses, as AWS's own documentation shows them
//! (`testkit/aws-examples/`, each file's source in its SOURCES.md), read through the same SDK
//! calls and conversions the functions make.

use std::collections::HashMap;
use std::time::Duration;

use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use s3exports_config::ExportTarget;
use s3exports_exporter::aws::Aws;
use s3exports_exporter::aws::sdk::{Queues, SdkAws, TargetSource};
use s3exports_exporter::export::pending::Parked;
use s3exports_rds::{ExportStatus, TaskFilter};
use s3exports_testkit::aws_examples::response;

fn aws(rds: &[&Rule], sqs: &[&Rule]) -> SdkAws {
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, rds);
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, sqs);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[] as &[&Rule]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[] as &[&Rule]);
    let target = ExportTarget::new("b", "", "arn:aws:iam::1:role/r", "arn:aws:kms:us-east-1:1:key/k");
    let mut aws = SdkAws::new(rds, sns, sqs, cloudwatch, TargetSource::Fixed(HashMap::from([("db".into(), target)])));
    aws.queues = Queues {
        events_queue_url: None,
        dead_letter_queue_url: None,
        pending_queue_url: Some("https://sqs.us-east-1.amazonaws.com/1/pending.fifo".into()),
    };
    aws
}

#[tokio::test]
async fn describe_export_tasks_as_the_cli_reference_and_user_guides_show_it() {
    let cli = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .then_http_response(|| response("rds_describe_export_tasks.cli.rendered.xml"));
    let tasks = aws(&[&cli], &[]).export_tasks(&TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!((tasks[0].status, tasks[1].status), (ExportStatus::Complete, ExportStatus::Starting));
    assert!(tasks[0].snapshot_time.is_some() && tasks[0].task_end_time.is_some(), "{:?}", tasks[0]);

    let guide = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .then_http_response(|| response("rds_describe_export_tasks.userguide_rds_snapshot.rendered.xml"));
    let tasks = aws(&[&guide], &[]).export_tasks(&TaskFilter::default()).await.unwrap();
    let statuses: Vec<ExportStatus> = tasks.iter().map(|t| t.status).collect();
    assert_eq!(statuses, [ExportStatus::Canceled, ExportStatus::Complete, ExportStatus::Failed]);
    assert_eq!(tasks[1].total_extracted_data_in_gb, 263);
    assert!(tasks[1].warning_message.as_deref().is_some_and(|w| w.contains("FAILED_TO_EXTRACT_TABLES_LIST")));
    assert!(tasks[2].failure_cause.as_deref().is_some_and(|c| c.contains("isn't located in the current AWS Region")));
    // The guide's `ExportTime` is not in the model: ignored, and the snapshot time stays unknown.
    assert_eq!(tasks[1].snapshot_time, None);
    assert!(!tasks[1].cluster);

    let cluster = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .then_http_response(|| response("rds_describe_export_tasks.userguide_aurora_cluster.rendered.xml"));
    let tasks = aws(&[&cluster], &[]).export_tasks(&TaskFilter::default()).await.unwrap();
    assert!(!tasks.is_empty() && tasks.iter().all(|t| t.cluster), "a live cluster's export is Aurora's: {tasks:?}");
}

#[tokio::test]
async fn db_snapshots_and_cluster_snapshots_as_the_api_reference_shows_them() {
    let instance = mock!(aws_sdk_rds::Client::describe_db_snapshots)
        .then_http_response(|| response("rds_describe_db_snapshots.apiref.xml"));
    let none = mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
        .then_http_response(|| response("rds_describe_db_cluster_snapshots.apiref.xml"));
    let edge = aws(&[&instance, &none], &[]);
    // The sample gives no ARNs: three snapshots still, never merged into one.
    let all = edge.list_snapshots("my-mysqlexampledb", false).await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|s| s.db_id == "my-mysqlexampledb" && !s.cluster), "{all:?}");
    assert!(all.iter().any(|s| s.snapshot_type == "automated") && all.iter().any(|s| s.snapshot_type == "manual"));
    assert!(all.iter().all(|s| s.created.is_some() && s.is_available()), "{all:?}");

    let cli = mock!(aws_sdk_rds::Client::describe_db_snapshots)
        .then_http_response(|| response("rds_describe_db_snapshots.cli.rendered.xml"));
    let found = aws(&[&cli], &[]).describe_snapshot("mydbsnapshot", false).await.unwrap();
    let found = found.expect("the CLI example's snapshot, by its identifier");
    assert!(found.arn.starts_with("arn:aws:rds:"), "{found:?}");

    let empty = mock!(aws_sdk_rds::Client::describe_db_snapshots)
        .then_output(|| aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput::builder().build());
    let clusters = mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
        .then_http_response(|| response("rds_describe_db_cluster_snapshots.apiref.xml"));
    let listed = aws(&[&empty, &clusters], &[]).list_snapshots("sample-cluster", true).await.unwrap();
    assert_eq!(listed.len(), 2, "only sample-cluster's: {listed:?}");
    assert!(listed.iter().all(|s| s.cluster && s.db_id == "sample-cluster"), "{listed:?}");
    // A snapshot still being created is listed, and not yet exportable.
    assert!(listed.iter().any(|s| !s.is_available()), "{listed:?}");
}

#[tokio::test]
async fn pending_queue_calls_as_the_sqs_reference_shows_them() {
    let receive = mock!(aws_sdk_sqs::Client::receive_message)
        .then_http_response(|| response("sqs_receive_message.apiref.json_protocol.json"));
    let delete = mock!(aws_sdk_sqs::Client::delete_message_batch)
        .then_http_response(|| response("sqs_delete_message_batch.apiref.json_protocol.json"));
    let back = mock!(aws_sdk_sqs::Client::change_message_visibility_batch)
        .then_http_response(|| response("sqs_change_message_visibility_batch.cli.json"));
    let edge = aws(&[], &[&receive, &delete, &back]);
    let taken = edge.take_pending(10, Duration::from_secs(1)).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(
        (taken[0].message_id.as_str(), taken[0].body.as_str()),
        ("219f8380-5770-4cc2-8c3e-5c715e145f5e", "This is a test message")
    );
    assert!(taken[0].receipt.starts_with("AQEB"));
    let one = |id: &str| Parked { message_id: id.into(), receipt: "r".into(), body: String::new() };
    // `Failed` is empty in one and left out altogether in the other: nothing unsettled either way.
    let unsettled = edge.settle_pending(&[one("a"), one("b")], &[one("c")]).await.unwrap();
    assert!(unsettled.is_empty(), "{unsettled:?}");
}

#[test]
fn a_snapshot_rds_lists_without_an_arn_is_never_exported_by_a_made_up_one() {
    use s3exports_rds::reconcile::{Verdict, Window, examine};
    let snapshot = s3exports_rds::Snapshot {
        arn: String::new(),
        id: "rds:my-mysqlexampledb-2021-04-19-10-08".into(),
        db_id: "my-mysqlexampledb".into(),
        cluster: false,
        snapshot_type: "automated".into(),
        engine: "mysql".into(),
        created: chrono::DateTime::from_timestamp(1_618_826_880, 0),
        status: "available".into(),
    };
    let policy = s3exports_config::Defaults::default().policy();
    let window = Window { policy: &policy, since: chrono::DateTime::UNIX_EPOCH, retry_failed: false };
    let examined = examine(&[snapshot], &[], &window);
    assert!(
        matches!(&examined[0].verdict, Verdict::Skip { reason } if reason.contains("without an ARN")),
        "{examined:?}"
    );
}
