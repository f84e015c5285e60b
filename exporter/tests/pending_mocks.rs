//! The pending queue's call sequences against mocked SDK clients: dispatch takes the lock,
//! counts once, starts the oldest into the free slots and settles in one call each way; the
//! reconciler lists a database's snapshots with the fewest calls that still see all of them.

use std::collections::HashMap;

use aws_sdk_rds::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput;
use aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput;
use aws_sdk_rds::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_rds::operation::start_export_task::{StartExportTaskError, StartExportTaskOutput};
use aws_sdk_rds::types::error::DbSnapshotNotFoundFault;
use aws_sdk_rds::types::{DbClusterSnapshot, DbSnapshot, ExportTask};
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchOutput;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchOutput;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use aws_sdk_sqs::types::Message;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::retry::RetryConfig;
use chrono::{TimeZone, Utc};
use s3exports_config::{Defaults, ExportTarget};
use s3exports_exporter::aws::Aws;
use s3exports_exporter::aws::sdk::{Queues, SdkAws, TargetSource};
use s3exports_exporter::export::dispatch::{Trigger, dispatch};
use s3exports_exporter::export::pending::PendingExport;
use s3exports_exporter::{Outcome, Settings};
use s3exports_rds::{Snapshot, StartExport};

const PENDING: &str = "https://sqs.local/pending.fifo";

fn settings() -> Settings {
    Settings { environment: "prod".into(), defaults: Defaults::default(), dry_run: false, queue_actions: true }
}

fn target() -> ExportTarget {
    ExportTarget::new(
        "orders-exports",
        "rds",
        "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
}

/// A parked export of the orders database's snapshot taken on `day`.
fn parked(day: u32) -> PendingExport {
    let id = format!("rds:orders-2026-11-{day}-03-10");
    let arn = format!("arn:aws:rds:eu-west-1:123456789012:snapshot:{id}");
    let created = Utc.with_ymd_and_hms(2026, 11, day, 3, 10, 0).unwrap();
    let export_id = s3exports_rds::export_id::export_task_identifier("orders", created, &arn);
    PendingExport {
        request: StartExport::to_target(&export_id, &arn, &target(), &Defaults::default()),
        snapshot: Snapshot {
            arn,
            id,
            db_id: "orders".into(),
            cluster: false,
            snapshot_type: "automated".into(),
            engine: "postgres".into(),
            created: Some(created),
            status: "available".into(),
        },
        parked_by: "event".into(),
    }
}

fn running(n: usize) -> Rule {
    mock!(aws_sdk_rds::Client::describe_export_tasks)
        .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("status")))
        .then_output(move || {
            let tasks = (0..n).map(|i| {
                ExportTask::builder().export_task_identifier(format!("other-{i}")).status("IN_PROGRESS").build()
            });
            DescribeExportTasksOutput::builder().set_export_tasks(Some(tasks.collect())).build()
        })
}

fn receive(bodies: Vec<(String, String)>) -> Rule {
    mock!(aws_sdk_sqs::Client::receive_message)
        .match_requests(|r| r.queue_url() == Some(PENDING) && r.visibility_timeout().is_some_and(|v| v > 0))
        .then_output(move || {
            let messages =
                bodies.iter().map(|(receipt, body)| Message::builder().receipt_handle(receipt).body(body).build());
            ReceiveMessageOutput::builder().set_messages(Some(messages.collect())).build()
        })
}

fn delete(receipts: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_sqs::Client::delete_message_batch)
        .match_requests(move |r| {
            let mut got: Vec<&str> = r.entries().iter().map(|e| e.receipt_handle()).collect();
            got.sort_unstable();
            r.queue_url() == Some(PENDING) && got == receipts
        })
        .then_output(|| {
            DeleteMessageBatchOutput::builder().set_successful(Some(vec![])).set_failed(Some(vec![])).build().unwrap()
        })
}

fn put_back(receipts: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_sqs::Client::change_message_visibility_batch)
        .match_requests(move |r| {
            let got: Vec<&str> = r.entries().iter().map(|e| e.receipt_handle()).collect();
            r.entries().iter().all(|e| e.visibility_timeout() == Some(0)) && got == receipts
        })
        .then_output(|| {
            ChangeMessageVisibilityBatchOutput::builder()
                .set_successful(Some(vec![]))
                .set_failed(Some(vec![]))
                .build()
                .unwrap()
        })
}

fn dead_letter() -> Rule {
    mock!(aws_sdk_sqs::Client::send_message)
        .match_requests(|r| r.queue_url() == Some("https://sqs.local/dlq"))
        .then_output(|| SendMessageOutput::builder().message_id("dead").build())
}

fn aws(rds: &[Rule], sqs: &[Rule]) -> SdkAws {
    let no_retry = |c: aws_sdk_rds::config::Builder| c.retry_config(RetryConfig::disabled());
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, rds, no_retry);
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, sqs);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[]);
    let mut aws =
        SdkAws::new(rds, sns, sqs, cloudwatch, TargetSource::Fixed(HashMap::from([("orders".to_owned(), target())])));
    aws.queues = Queues {
        events_queue_url: None,
        dead_letter_queue_url: Some("https://sqs.local/dlq".into()),
        pending_queue_url: Some(PENDING.into()),
    };
    aws
}

#[tokio::test]
async fn dispatch_starts_the_oldest_into_the_free_slots_and_puts_the_rest_back() {
    let (newest, oldest, middle) = (parked(22), parked(20), parked(21));
    let started = [oldest.request.source_arn.clone(), middle.request.source_arn.clone()];
    let rds = [
        running(3),
        mock!(aws_sdk_rds::Client::start_export_task)
            .match_requests(move |r| {
                started.iter().any(|arn| r.source_arn() == Some(arn.as_str()))
                    && r.s3_bucket_name() == Some("orders-exports")
                    && r.kms_key_id().is_some_and(|k| k.ends_with("1234567890ab"))
            })
            .then_output(|| StartExportTaskOutput::builder().build()),
    ];
    let sqs = [
        receive(vec![
            ("r-22".into(), newest.to_body()),
            ("r-20".into(), oldest.to_body()),
            ("r-21".into(), middle.to_body()),
        ]),
        delete(&["r-20", "r-21"]),
        put_back(&["r-22"]),
    ];
    let out = dispatch(&aws(&rds, &sqs), &settings(), Trigger::Schedule).await.unwrap();
    let outcomes: Vec<(Option<&str>, Outcome)> =
        out.decisions.iter().map(|d| (d.snapshot.as_deref(), d.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (Some("rds:orders-2026-11-20-03-10"), Outcome::StartExport),
            (Some("rds:orders-2026-11-21-03-10"), Outcome::StartExport),
            (Some("rds:orders-2026-11-22-03-10"), Outcome::Retry),
        ]
    );
    assert_eq!((out.running, out.waiting), (3, 1));
    // Counted before taking (the schedule) and again under the lock; one call each way after.
    assert_eq!(rds[0].num_calls(), 2);
    assert_eq!(rds[1].num_calls(), 2);
    assert_eq!([sqs[0].num_calls(), sqs[1].num_calls(), sqs[2].num_calls()], [1, 1, 1]);
}

#[tokio::test]
async fn a_scheduled_dispatch_with_every_slot_taken_costs_one_call() {
    let rds = [running(5)];
    let sqs = [receive(vec![])];
    let out = dispatch(&aws(&rds, &sqs), &settings(), Trigger::Schedule).await.unwrap();
    assert!(out.decisions.is_empty());
    assert_eq!((rds[0].num_calls(), sqs[0].num_calls()), (1, 0));
}

#[tokio::test]
async fn while_another_dispatch_holds_the_queue_nothing_is_counted_or_started() {
    // A FIFO queue with one message group delivers nothing of it while messages are held.
    let rds = [running(0)];
    let sqs = [receive(vec![])];
    let out = dispatch(&aws(&rds, &sqs), &settings(), Trigger::Finished(2)).await.unwrap();
    assert!(out.decisions.is_empty());
    assert_eq!((sqs[0].num_calls(), rds[0].num_calls()), (1, 0));
}

#[tokio::test]
async fn a_deleted_snapshot_is_dropped_and_an_unreadable_message_is_dead_lettered() {
    let gone = parked(20);
    let rds = [
        running(0),
        mock!(aws_sdk_rds::Client::start_export_task).then_error(|| {
            StartExportTaskError::DbSnapshotNotFoundFault(DbSnapshotNotFoundFault::builder().message("gone").build())
        }),
    ];
    let sqs = [
        receive(vec![("r-gone".into(), gone.to_body()), ("r-junk".into(), "{\"not\": \"an export\"}".into())]),
        delete(&["r-gone", "r-junk"]),
        dead_letter(),
    ];
    // Fewer pending than asked for: one round.
    let out = dispatch(&aws(&rds, &sqs), &settings(), Trigger::Finished(5)).await.unwrap();
    let reasons: Vec<(Outcome, &str)> = out.decisions.iter().map(|d| (d.outcome, d.reason.as_str())).collect();
    assert!(reasons.iter().any(|(o, r)| *o == Outcome::Reject && r.starts_with("not a pending export")), "{reasons:?}");
    assert!(
        reasons.iter().any(|(o, r)| *o == Outcome::Skip && r.contains("is gone") && r.contains("dropped")),
        "{reasons:?}"
    );
    assert_eq!((sqs[1].num_calls(), sqs[2].num_calls()), (1, 1));
}

#[tokio::test]
async fn an_instance_is_listed_with_its_aws_backup_snapshots_and_a_cluster_without() {
    let instance = [
        mock!(aws_sdk_rds::Client::describe_db_snapshots)
            .match_requests(|r| r.db_instance_identifier() == Some("orders") && r.snapshot_type().is_none())
            .then_output(|| {
                let s = DbSnapshot::builder()
                    .db_snapshot_identifier("rds:orders-1")
                    .db_snapshot_arn("arn:s1")
                    .db_instance_identifier("orders")
                    .build();
                DescribeDbSnapshotsOutput::builder().db_snapshots(s).build()
            }),
        mock!(aws_sdk_rds::Client::describe_db_snapshots)
            .match_requests(|r| r.snapshot_type() == Some("awsbackup"))
            .then_output(|| {
                let s = DbSnapshot::builder()
                    .db_snapshot_identifier("awsbackup:job-1")
                    .db_snapshot_arn("arn:s2")
                    .db_instance_identifier("orders")
                    .build();
                DescribeDbSnapshotsOutput::builder().db_snapshots(s).build()
            }),
        mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
            .then_output(|| DescribeDbClusterSnapshotsOutput::builder().build()),
    ];
    let listed = aws(&instance, &[]).list_snapshots("orders", true).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["rds:orders-1", "awsbackup:job-1"]);
    assert_eq!(instance[2].num_calls(), 0, "an instance is not looked for among clusters");

    let cluster = [
        mock!(aws_sdk_rds::Client::describe_db_snapshots).then_output(|| DescribeDbSnapshotsOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
            .match_requests(|r| r.db_cluster_identifier() == Some("reporting"))
            .then_output(|| {
                let s = DbClusterSnapshot::builder()
                    .db_cluster_snapshot_identifier("rds:reporting-1")
                    .db_cluster_snapshot_arn("arn:c1")
                    .db_cluster_identifier("reporting")
                    .build();
                DescribeDbClusterSnapshotsOutput::builder().db_cluster_snapshots(s).build()
            }),
    ];
    let listed = aws(&cluster, &[]).list_snapshots("reporting", true).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].cluster);
    assert_eq!(cluster[0].num_calls(), 1, "awsbackup does not apply to Aurora: not asked for a cluster");
}
