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

/// A long poll that takes the lock (held messages) with an attempt id of its own; messages get
/// the id `m-<receipt>`.
fn receive(bodies: Vec<(String, String)>) -> Rule {
    mock!(aws_sdk_sqs::Client::receive_message)
        .match_requests(|r| {
            r.queue_url() == Some(PENDING)
                && r.visibility_timeout().is_some_and(|v| v > 0)
                && r.wait_time_seconds().is_some_and(|w| w > 0)
                && r.receive_request_attempt_id().is_some_and(|id| !id.is_empty() && id.len() <= 128)
        })
        .then_output(move || {
            let messages = bodies.iter().map(|(receipt, body)| {
                Message::builder().message_id(format!("m-{receipt}")).receipt_handle(receipt).body(body).build()
            });
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

#[tokio::test]
async fn every_round_asks_with_an_attempt_id_of_its_own() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let rds = [running(0)];
    let sqs = [mock!(aws_sdk_sqs::Client::receive_message)
        .match_requests(move |r| {
            record.lock().unwrap().push(r.receive_request_attempt_id().unwrap_or_default().to_owned());
            true
        })
        .then_output(|| ReceiveMessageOutput::builder().build())];
    let edge = aws(&rds, &sqs);
    for _ in 0..2 {
        dispatch(&edge, &settings(), Trigger::Finished(1)).await.unwrap();
    }
    let ids = seen.lock().unwrap().clone();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "a new round is a new attempt; only an SDK retry repeats one");
}

#[tokio::test]
async fn entries_sqs_failed_to_settle_are_named_by_message_id() {
    use aws_sdk_sqs::types::BatchResultErrorEntry;
    let (a, b) = (parked(20), parked(21));
    let rds = [
        running(4),
        mock!(aws_sdk_rds::Client::start_export_task).then_output(|| StartExportTaskOutput::builder().build()),
    ];
    let failed = |id: &str| {
        BatchResultErrorEntry::builder()
            .id(id)
            .code("ReceiptHandleIsInvalid")
            .sender_fault(true)
            .message("stale")
            .build()
            .unwrap()
    };
    let sqs = [
        receive(vec![("r-20".into(), a.to_body()), ("r-21".into(), b.to_body())]),
        mock!(aws_sdk_sqs::Client::delete_message_batch).then_output(move || {
            DeleteMessageBatchOutput::builder().set_successful(Some(vec![])).failed(failed("0")).build().unwrap()
        }),
        mock!(aws_sdk_sqs::Client::change_message_visibility_batch).then_output(move || {
            ChangeMessageVisibilityBatchOutput::builder()
                .set_successful(Some(vec![]))
                .failed(failed("0"))
                .build()
                .unwrap()
        }),
    ];
    let out = dispatch(&aws(&rds, &sqs), &settings(), Trigger::Finished(2)).await.unwrap();
    assert_eq!(
        out.unsettled,
        [
            "deleting message m-r-20: ReceiptHandleIsInvalid stale",
            "putting back message m-r-21: ReceiptHandleIsInvalid stale"
        ]
    );
    assert!(out.decisions.iter().all(|d| !d.record.contains("r-2")), "receipt handles stay out of records");
}

#[tokio::test]
async fn a_dry_run_counts_only_readable_exports_as_waiting() {
    let waiting = parked(20);
    let rds = [running(5)];
    let sqs = [
        receive(vec![("r-20".into(), waiting.to_body()), ("r-junk".into(), "not json".into())]),
        put_back(&["r-junk", "r-20"]),
    ];
    let dry = Settings { dry_run: true, ..settings() };
    let out = dispatch(&aws(&rds, &sqs), &dry, Trigger::Finished(2)).await.unwrap();
    assert_eq!(out.waiting, 1, "the unreadable message is not an export waiting");
    let junk = out.decisions.iter().find(|d| d.outcome == Outcome::Reject).unwrap();
    assert_eq!(junk.record, "pending:message:m-r-junk");
}

#[tokio::test]
async fn reconcile_queues_under_a_deduplication_id_of_its_own_run() {
    use s3exports_exporter::export::reconcile::{ReconcileRun, reconcile};
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = sent.clone();
    let rds = [
        mock!(aws_sdk_rds::Client::describe_db_snapshots).match_requests(|r| r.snapshot_type().is_none()).then_output(
            || {
                let s = DbSnapshot::builder()
                    .db_snapshot_identifier("rds:orders-2026-11-24-03-10")
                    .db_snapshot_arn("arn:aws:rds:eu-west-1:123456789012:snapshot:rds:orders-2026-11-24-03-10")
                    .db_instance_identifier("orders")
                    .snapshot_type("automated")
                    .status("available")
                    .snapshot_create_time(aws_smithy_types::DateTime::from_secs(1_795_490_000))
                    .build();
                DescribeDbSnapshotsOutput::builder().db_snapshots(s).build()
            },
        ),
        mock!(aws_sdk_rds::Client::describe_db_snapshots).then_output(|| DescribeDbSnapshotsOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(|| DescribeExportTasksOutput::builder().build()),
    ];
    let sqs = [mock!(aws_sdk_sqs::Client::send_message)
        .match_requests(move |r| {
            record.lock().unwrap().push(r.message_deduplication_id().unwrap_or_default().to_owned());
            true
        })
        .then_output(|| SendMessageOutput::builder().message_id("p").build())];
    let edge = aws(&rds, &sqs);
    let run = |run_id: &str| ReconcileRun {
        db: None,
        since: chrono::DateTime::UNIX_EPOCH,
        retry_failed: false,
        alert_failures_after: None,
        record_metric: false,
        defer_while_pending: false,
        run_id: run_id.into(),
        deadline: None,
        turn: 0,
    };
    for id in ["run-1", "run-2"] {
        let done = reconcile(&edge, &settings(), &run(id)).await.unwrap();
        assert!(done.is_complete(), "{:?}", done.databases);
    }
    let ids = sent.lock().unwrap().clone();
    assert_eq!(ids.len(), 2);
    assert!(ids[0].ends_with(".run-1") && ids[1].ends_with(".run-2"), "{ids:?}");
    assert_ne!(ids[0], ids[1], "a second reconcile within five minutes is not dropped by SQS");
}

#[tokio::test]
async fn a_database_that_matches_nothing_is_an_error_not_zero_examined() {
    use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use s3exports_exporter::export::reconcile::{ReconcileRun, reconcile};
    let rds = [
        mock!(aws_sdk_rds::Client::describe_db_snapshots).then_output(|| DescribeDbSnapshotsOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
            .then_output(|| DescribeDbClusterSnapshotsOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(|| DescribeExportTasksOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| DescribeDbInstancesOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_clusters).then_output(|| DescribeDbClustersOutput::builder().build()),
    ];
    let run = ReconcileRun {
        db: None,
        since: chrono::DateTime::UNIX_EPOCH,
        retry_failed: false,
        alert_failures_after: None,
        record_metric: false,
        defer_while_pending: false,
        run_id: "r".into(),
        deadline: None,
        turn: 0,
    };
    let done = reconcile(&aws(&rds, &[]), &settings(), &run).await.unwrap();
    assert!(!done.is_complete());
    let error = done.databases[0].error.as_deref().unwrap();
    assert!(error.contains("no DB instance or Aurora cluster `orders`"), "{error}");
}

#[tokio::test]
async fn a_database_that_could_not_be_listed_records_a_reconcile_error_metric() {
    use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
    use s3exports_exporter::export::reconcile::{ReconcileRun, reconcile};
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, f64)>::new()));
    let record = sent.clone();
    let rds = [
        mock!(aws_sdk_rds::Client::describe_db_snapshots).then_error(|| {
            aws_sdk_rds::operation::describe_db_snapshots::DescribeDBSnapshotsError::unhandled("denied")
        }),
        mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(|| DescribeExportTasksOutput::builder().build()),
    ];
    let sqs = [mock!(aws_sdk_sqs::Client::get_queue_attributes)
        .then_output(|| aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput::builder().build())];
    let metrics = [mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(move |r| {
            for d in r.metric_data() {
                let db = d.dimensions().first().and_then(|x| x.value()).unwrap_or("total");
                record
                    .lock()
                    .unwrap()
                    .push((format!("{}:{db}", d.metric_name().unwrap_or_default()), d.value().unwrap_or(-1.0)));
            }
            true
        })
        .then_output(|| PutMetricDataOutput::builder().build())];
    let mut edge = aws(&rds, &sqs);
    edge.cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &metrics);
    let run = ReconcileRun {
        db: None,
        since: chrono::DateTime::UNIX_EPOCH,
        retry_failed: false,
        alert_failures_after: None,
        record_metric: true,
        defer_while_pending: true,
        run_id: "r".into(),
        deadline: None,
        turn: 0,
    };
    let done = reconcile(&edge, &settings(), &run).await.unwrap();
    assert!(done.databases[0].error.is_some());
    let sent = sent.lock().unwrap().clone();
    assert!(sent.contains(&("ReconcileErrors:orders".to_owned(), 1.0)), "{sent:?}");
    assert!(!sent.iter().any(|(m, _)| m == "SnapshotsWithoutExport:orders"), "{sent:?}");
}

#[tokio::test]
async fn reconcile_starts_each_turn_one_database_further_along() {
    use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use s3exports_exporter::export::reconcile::{ReconcileRun, reconcile};
    let rds = [
        mock!(aws_sdk_rds::Client::describe_db_snapshots).then_output(|| DescribeDbSnapshotsOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
            .then_output(|| DescribeDbClusterSnapshotsOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(|| DescribeExportTasksOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| DescribeDbInstancesOutput::builder().build()),
        mock!(aws_sdk_rds::Client::describe_db_clusters).then_output(|| DescribeDbClustersOutput::builder().build()),
    ];
    let mut edge = aws(&rds, &[]);
    let targets = ["orders", "billing", "catalog"].map(|db| (db.to_owned(), target()));
    edge.targets = TargetSource::Fixed(HashMap::from(targets));
    let run = |turn| ReconcileRun {
        db: None,
        since: chrono::DateTime::UNIX_EPOCH,
        retry_failed: false,
        alert_failures_after: None,
        record_metric: false,
        defer_while_pending: false,
        run_id: "r".into(),
        deadline: None,
        turn,
    };
    // With a time budget the last ones may not be reached: the same first database every run
    // would starve the others.
    for (turn, first) in [(0, "billing"), (1, "catalog"), (2, "orders"), (3, "billing")] {
        let done = reconcile(&edge, &settings(), &run(turn)).await.unwrap();
        let order: Vec<&str> = done.databases.iter().map(|d| d.db.as_str()).collect();
        assert_eq!(order[0], first, "turn {turn}: {order:?}");
        assert_eq!(order.len(), 3);
    }
}
