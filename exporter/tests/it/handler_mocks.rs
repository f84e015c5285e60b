//! Handler call sequences against mocked AWS SDK clients: what is called, in which order, and
//! what becomes of the record.

use std::collections::HashMap;

use aws_sdk_rds::operation::describe_db_snapshots::{DescribeDBSnapshotsError, DescribeDbSnapshotsOutput};
use aws_sdk_rds::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_rds::operation::start_export_task::{StartExportTaskError, StartExportTaskOutput};
use aws_sdk_rds::types::error::{
    DbSnapshotNotFoundFault, ExportTaskAlreadyExistsFault, IamRoleMissingPermissionsFault, KmsKeyNotAccessibleFault,
};
use aws_sdk_rds::types::{DbSnapshot, ExportTask};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use s3exports_config::{Defaults, ExportTarget};
use s3exports_exporter::aws::sdk::{Queues, SdkAws, TargetSource};
use s3exports_exporter::export::retry::RetryKind;
use s3exports_exporter::{Outcome, Settings, handle};
use s3exports_testkit::events;
use serde_json::{Value, json};

const SNAPSHOT_ID: &str = "rds:orders-db-2026-11-24-03-10";
const SNAPSHOT_ARN: &str = "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:orders-db-2026-11-24-03-10";

fn sqs_event(event_id: &str, source_id: &str) -> Value {
    let body = events::sns_envelope(&events::rds_message(event_id, source_id, None).to_string(), "n1");
    events::sqs_event(vec![events::sqs_record("m1", &body, 2, "arn:aws:sqs:eu-west-1:123456789012:events")])
}

fn target() -> ExportTarget {
    ExportTarget::new(
        "orders-exports",
        "rds",
        "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
}

fn settings() -> Settings {
    Settings { environment: "prod".into(), defaults: Defaults::default(), dry_run: false, queue_actions: true }
}

fn available_snapshot(status: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_snapshots)
        .match_requests(|r| r.db_snapshot_identifier() == Some(SNAPSHOT_ID))
        .then_output(move || {
            DescribeDbSnapshotsOutput::builder()
                .db_snapshots(
                    DbSnapshot::builder()
                        .db_snapshot_identifier(SNAPSHOT_ID)
                        .db_snapshot_arn(SNAPSHOT_ARN)
                        .db_instance_identifier("orders-db")
                        .snapshot_type("automated")
                        .engine("postgres")
                        .status(status)
                        .snapshot_create_time(aws_smithy_types::DateTime::from_secs(1_795_490_000))
                        .build(),
                )
                .build()
        })
}

fn running_tasks(n: usize) -> Rule {
    mock!(aws_sdk_rds::Client::describe_export_tasks)
        .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("status")))
        .then_output(move || {
            let tasks = (0..n).map(|i| {
                ExportTask::builder().export_task_identifier(format!("other-{i}")).status("IN_PROGRESS").build()
            });
            DescribeExportTasksOutput::builder().set_export_tasks(Some(tasks.collect())).build()
        })
}

fn start_ok() -> Rule {
    mock!(aws_sdk_rds::Client::start_export_task)
        .match_requests(|r| {
            r.source_arn() == Some(SNAPSHOT_ARN)
                && r.s3_bucket_name() == Some("orders-exports")
                && r.s3_prefix() == Some("rds")
                && r.export_task_identifier().is_some_and(|id| id.starts_with("orders-db-20261124-"))
        })
        .then_output(|| StartExportTaskOutput::builder().build())
}

fn start_error(error: fn() -> StartExportTaskError) -> Rule {
    mock!(aws_sdk_rds::Client::start_export_task).then_error(error)
}

/// An RDS error the model does not know (the quota error is one), or throttling.
fn start_http_error(status: u16, code: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::start_export_task).then_http_response(move || {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} happened</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        );
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
    })
}

struct Harness {
    rds: Vec<Rule>,
    sqs: Vec<Rule>,
    sns: Vec<Rule>,
    cloudwatch: Vec<Rule>,
}

impl Harness {
    fn new(rds: Vec<Rule>) -> Self {
        let sqs = vec![
            mock!(aws_sdk_sqs::Client::change_message_visibility)
                .match_requests(|r| {
                    r.receipt_handle() == Some("rh-m1") && r.visibility_timeout().is_some_and(|v| v > 0)
                })
                .then_output(|| {
                    aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityOutput::builder().build()
                }),
            mock!(aws_sdk_sqs::Client::send_message)
                .match_requests(|r| {
                    r.queue_url() == Some("https://sqs.local/pending.fifo")
                        && r.message_group_id() == Some("pending-exports")
                        && r.message_deduplication_id().is_some_and(|id| id.starts_with("orders-db-20261124-"))
                        && r.message_body().is_some_and(|b| b.contains(SNAPSHOT_ARN) && b.contains("orders-exports"))
                })
                .then_output(|| {
                    aws_sdk_sqs::operation::send_message::SendMessageOutput::builder().message_id("parked").build()
                }),
            mock!(aws_sdk_sqs::Client::send_message)
                .match_requests(|r| {
                    r.queue_url() == Some("https://sqs.local/dlq")
                        && r.message_attributes().is_some_and(|a| a.contains_key("reason"))
                })
                .then_output(|| {
                    aws_sdk_sqs::operation::send_message::SendMessageOutput::builder().message_id("dead").build()
                }),
        ];
        let sns = vec![
            mock!(aws_sdk_sns::Client::publish)
                .match_requests(|r| {
                    r.topic_arn() == Some("arn:aws:sns:eu-west-1:123456789012:alerts")
                        && r.message().is_some_and(|m| m.contains("disk full"))
                })
                .then_output(|| aws_sdk_sns::operation::publish::PublishOutput::builder().message_id("a").build()),
        ];
        let cloudwatch = vec![
            mock!(aws_sdk_cloudwatch::Client::put_metric_data)
                .match_requests(|r| r.namespace() == Some("RdsSnapshotS3Exports"))
                .then_output(|| aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput::builder().build()),
        ];
        Self { rds, sqs, sns, cloudwatch }
    }

    fn aws(&self) -> SdkAws {
        let no_retry = |c: aws_sdk_rds::config::Builder| c.retry_config(RetryConfig::disabled());
        let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &self.rds, no_retry);
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &self.sqs);
        let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &self.sns);
        let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &self.cloudwatch);
        let mut aws = SdkAws::new(
            rds,
            sns,
            sqs,
            cloudwatch,
            TargetSource::Fixed(HashMap::from([("orders-db".to_owned(), target())])),
        );
        aws.alerts_topic_arn = Some("arn:aws:sns:eu-west-1:123456789012:alerts".into());
        aws.queues = Queues {
            events_queue_url: Some("https://sqs.local/events".into()),
            dead_letter_queue_url: Some("https://sqs.local/dlq".into()),
            pending_queue_url: Some("https://sqs.local/pending.fifo".into()),
        };
        aws
    }

    fn sqs_calls(&self) -> [usize; 3] {
        [self.sqs[0].num_calls(), self.sqs[1].num_calls(), self.sqs[2].num_calls()]
    }
}

#[tokio::test]
async fn starts_the_export_when_a_slot_is_free() {
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(2), start_ok()]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::StartExport, "{d:?}");
    assert_eq!(d.db.as_deref(), Some("orders-db"));
    assert_eq!(d.source_arn.as_deref(), Some(SNAPSHOT_ARN));
    assert!(d.export_task_identifier.as_deref().unwrap().starts_with("orders-db-20261124-"));
    assert_eq!([h.rds[0].num_calls(), h.rds[1].num_calls(), h.rds[2].num_calls()], [1, 1, 1]);
    assert!(out.batch.batch_item_failures.is_empty());
    assert_eq!(h.sqs_calls(), [0, 0, 0]);
}

#[tokio::test]
async fn with_every_slot_taken_the_export_waits_in_the_pending_queue_and_the_record_is_done() {
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(5), start_ok()]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!((d.outcome, d.queued), (Outcome::StartExport, true), "{d:?}");
    assert!(d.reason.contains("pending queue"), "{}", d.reason);
    assert_eq!(h.rds[2].num_calls(), 0, "StartExportTask must not be called");
    assert_eq!(h.sqs_calls(), [0, 1, 0], "parked once; no visibility change, no dead letter");
    assert!(out.batch.batch_item_failures.is_empty(), "waiting never comes back to the events queue");
}

#[tokio::test]
async fn once_the_slots_are_full_the_rest_of_the_batch_is_parked_without_counting_again() {
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(5)]);
    let mut event = sqs_event("RDS-EVENT-0091", SNAPSHOT_ID);
    let record = event["Records"][0].clone();
    let mut creating = sqs_event("RDS-EVENT-0040", SNAPSHOT_ID)["Records"][0].clone();
    creating["messageId"] = json!("m-creating");
    let mut again = record.clone();
    again["messageId"] = json!("m2");
    event["Records"] = json!([record, creating, again]);

    let out = handle(&h.aws(), &settings(), &event).await.unwrap();
    let outcomes: Vec<_> = out.decisions.iter().map(|d| (d.outcome, d.queued)).collect();
    assert_eq!(
        outcomes,
        [(Outcome::StartExport, true), (Outcome::Skip, false), (Outcome::StartExport, true)],
        "{:#?}",
        out.decisions
    );
    assert!(out.decisions[2].reason.contains("earlier record of this batch"), "{}", out.decisions[2].reason);
    assert_eq!([h.rds[0].num_calls(), h.rds[1].num_calls()], [2, 1], "exports in progress counted once");
    assert_eq!(h.sqs_calls(), [0, 2, 0]);
    assert!(out.batch.batch_item_failures.is_empty());

    // A dry run parks nothing.
    let dry = Settings { dry_run: true, ..settings() };
    let out = handle(&h.aws(), &dry, &event).await.unwrap();
    assert!(out.decisions[0].reason.starts_with("dry run"), "{}", out.decisions[0].reason);
    assert_eq!(h.sqs_calls(), [0, 2, 0]);
}

#[tokio::test]
async fn unmodelled_error_with_slots_nearly_full_is_the_quota() {
    let h = Harness::new(vec![
        available_snapshot("available"),
        running_tasks(4),
        start_http_error(400, "ExportQuotaExceeded"),
    ]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!((d.outcome, d.queued), (Outcome::StartExport, true), "{d:?}");
    assert!(d.reason.contains("quota full"), "{}", d.reason);
    assert_eq!(h.sqs_calls(), [0, 1, 0]);
}

/// The export id of the test's snapshot.
fn first_id() -> String {
    let created = chrono::DateTime::from_timestamp(1_795_490_000, 0).unwrap();
    s3exports_rds::export_id::export_task_identifier("orders-db", created, SNAPSHOT_ARN)
}

/// DescribeExportTasks by id: the task of the snapshot's export id, written to `bucket`.
fn task_by_id(bucket: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::describe_export_tasks)
        .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("export-task-identifier")))
        .then_output(move || {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder()
                        .export_task_identifier(first_id())
                        .source_arn(SNAPSHOT_ARN)
                        .s3_bucket(bucket)
                        .status("COMPLETE")
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn already_exists_is_a_redelivery_not_an_error() {
    let h = Harness::new(vec![
        available_snapshot("available"),
        running_tasks(0),
        start_error(|| {
            StartExportTaskError::ExportTaskAlreadyExistsFault(ExportTaskAlreadyExistsFault::builder().build())
        }),
        task_by_id("orders-exports"),
    ]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::Skip);
    assert!(d.reason.contains("already exists"), "{}", d.reason);
    assert!(out.batch.batch_item_failures.is_empty());
    assert_eq!(h.sqs_calls(), [0, 0, 0]);
    assert_eq!(h.rds[2].num_calls(), 1, "started once");
}

#[tokio::test]
async fn a_database_moved_to_another_bucket_is_exported_again_under_that_buckets_id() {
    let moved = |id: &str| id == s3exports_rds::export_id::in_bucket(&first_id(), "orders-exports");
    let h = Harness::new(vec![
        available_snapshot("available"),
        running_tasks(0),
        mock!(aws_sdk_rds::Client::start_export_task)
            .match_requests(move |r| r.export_task_identifier().is_some_and(|id| !moved(id)))
            .then_error(|| {
                StartExportTaskError::ExportTaskAlreadyExistsFault(ExportTaskAlreadyExistsFault::builder().build())
            }),
        mock!(aws_sdk_rds::Client::start_export_task)
            .match_requests(move |r| {
                r.export_task_identifier().is_some_and(moved) && r.s3_bucket_name() == Some("orders-exports")
            })
            .then_output(|| StartExportTaskOutput::builder().build()),
        task_by_id("orders-old-bucket"),
    ]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::StartExport, "{d:?}");
    assert!(d.reason.contains("went to s3://orders-old-bucket, not orders-exports"), "{}", d.reason);
    assert_eq!((h.rds[2].num_calls(), h.rds[3].num_calls()), (1, 1));
}

#[tokio::test]
async fn a_cluster_snapshot_is_never_looked_up_as_an_aws_backup_snapshot() {
    use aws_sdk_rds::operation::describe_db_cluster_snapshots::{
        DescribeDBClusterSnapshotsError, DescribeDbClusterSnapshotsOutput,
    };
    let h = Harness::new(vec![
        mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
            .match_requests(|r| r.snapshot_type() == Some("awsbackup"))
            .then_error(|| DescribeDBClusterSnapshotsError::unhandled("awsbackup does not apply to Aurora")),
        mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots)
            .match_requests(|r| r.snapshot_type().is_none())
            .then_output(|| DescribeDbClusterSnapshotsOutput::builder().build()),
        running_tasks(0),
    ]);
    for id in ["awsbackup:job-1234", "before-migration"] {
        let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0075", id)).await.unwrap();
        assert_eq!(out.decisions[0].outcome, Outcome::Reject, "{:?}", out.decisions[0]);
        assert!(out.decisions[0].reason.contains("not found"), "{}", out.decisions[0].reason);
    }
    assert_eq!(h.rds[0].num_calls(), 0, "SnapshotType=awsbackup never sent for a cluster");
    assert_eq!(h.rds[1].num_calls(), 2);
}

#[tokio::test]
async fn below_the_account_quota_a_free_slot_is_taken_under_the_lock() {
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(1), start_ok()]);
    let three = Settings { defaults: Defaults { export_slots: 3, ..Defaults::default() }, ..settings() };
    let out = handle(&h.aws(), &three, &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!((d.outcome, d.queued), (Outcome::StartExport, true), "{d:?}");
    assert!(d.reason.contains("start under the pending queue's lock"), "{}", d.reason);
    assert_eq!(h.rds[2].num_calls(), 0, "not started outside the lock");
    assert_eq!(h.sqs_calls(), [0, 1, 0]);
    // The invocation then dispatches into the slot it saw free.
    assert_eq!(s3exports_exporter::export::invocation::slots_freed(&out), 1);
}

#[tokio::test]
async fn snapshot_not_yet_available_is_retried_later() {
    let h = Harness::new(vec![available_snapshot("creating"), running_tasks(0), start_ok()]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!((d.outcome, d.retry), (Outcome::Retry, Some(RetryKind::NotReady)));
    assert!(d.reason.contains("`creating`"), "{}", d.reason);
    assert_eq!(out.batch.batch_item_failures.len(), 1);
    assert_eq!(out.batch.batch_item_failures[0].item_identifier, "m1");
    assert_eq!(h.sqs_calls(), [1, 0, 0], "visibility extended once");
    assert_eq!(h.rds[2].num_calls(), 0);
}

#[tokio::test]
async fn snapshot_not_found_goes_to_the_dead_letter_queue() {
    let h = Harness::new(vec![
        mock!(aws_sdk_rds::Client::describe_db_snapshots).then_error(|| {
            DescribeDBSnapshotsError::DbSnapshotNotFoundFault(DbSnapshotNotFoundFault::builder().build())
        }),
        running_tasks(0),
    ]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::Reject);
    assert!(d.reason.contains("not found"), "{}", d.reason);
    assert_eq!(h.sqs_calls(), [0, 0, 1]);
    assert!(out.batch.batch_item_failures.is_empty(), "dead-lettered, so deleted from the queue");
}

#[tokio::test]
async fn throttling_is_transient() {
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(0), start_http_error(400, "Throttling")]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!((d.outcome, d.retry), (Outcome::Retry, Some(RetryKind::Transient)), "{d:?}");
    assert_eq!(out.batch.batch_item_failures.len(), 1);

    let h = Harness::new(vec![
        available_snapshot("available"),
        running_tasks(0),
        start_http_error(503, "ServiceUnavailable"),
    ]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
    assert_eq!(out.decisions[0].retry, Some(RetryKind::Transient));
}

#[tokio::test]
async fn kms_and_iam_errors_are_misconfiguration() {
    let errors: [fn() -> StartExportTaskError; 2] = [
        || {
            StartExportTaskError::KmsKeyNotAccessibleFault(
                KmsKeyNotAccessibleFault::builder().message("key disabled").build(),
            )
        },
        || {
            StartExportTaskError::IamRoleMissingPermissionsFault(
                IamRoleMissingPermissionsFault::builder().message("no s3:PutObject").build(),
            )
        },
    ];
    for error in errors {
        let h = Harness::new(vec![available_snapshot("available"), running_tasks(0), start_error(error)]);
        let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0091", SNAPSHOT_ID)).await.unwrap();
        let d = &out.decisions[0];
        assert_eq!(d.outcome, Outcome::Reject, "{d:?}");
        assert!(d.reason.starts_with("StartExportTask: misconfiguration"), "{}", d.reason);
        assert_eq!(h.sqs_calls(), [0, 0, 1]);
    }
}

#[tokio::test]
async fn unconfigured_database_is_skipped_without_starting_an_export() {
    let rule_snapshot = mock!(aws_sdk_rds::Client::describe_db_snapshots).then_output(|| {
        DescribeDbSnapshotsOutput::builder()
            .db_snapshots(
                DbSnapshot::builder()
                    .db_snapshot_identifier("manual-1")
                    .db_snapshot_arn("arn:aws:rds:eu-west-1:1:snapshot:manual-1")
                    .db_instance_identifier("someone-elses-db")
                    .snapshot_type("manual")
                    .status("available")
                    .snapshot_create_time(aws_smithy_types::DateTime::from_secs(1))
                    .build(),
            )
            .build()
    });
    let h = Harness::new(vec![rule_snapshot, running_tasks(0), start_ok()]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0042", "manual-1")).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::Skip);
    assert_eq!(d.reason, "database `someone-elses-db` is not configured for export in environment prod");
    // The slot count is read alongside the snapshot; nothing is started.
    assert_eq!((h.rds[1].num_calls(), h.rds[2].num_calls()), (1, 0));
}

#[tokio::test]
async fn failed_export_raises_an_alert_and_a_metric() {
    let failed = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("source-arn")))
        .then_output(|| {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder()
                        .export_task_identifier("orders-db-20261124-0310-abcdef012345")
                        .source_arn(SNAPSHOT_ARN)
                        .status("FAILED")
                        .failure_cause("disk full")
                        .s3_bucket("orders-exports")
                        .build(),
                )
                .build()
        });
    let h = Harness::new(vec![available_snapshot("available"), failed]);
    let mut event = sqs_event("RDS-EVENT-0159", SNAPSHOT_ID);
    // With a Source ARN the task is found without describing the snapshot first.
    let body: Value = serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap();
    let mut message: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
    message["Source ARN"] = json!(SNAPSHOT_ARN);
    event["Records"][0]["body"] = json!(json!({"Type": "Notification", "Message": message.to_string()}).to_string());

    let out = handle(&h.aws(), &settings(), &event).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::ExportFailed, "{d:?}");
    assert_eq!(d.export_task_identifier.as_deref(), Some("orders-db-20261124-0310-abcdef012345"));
    assert!(d.reason.contains("disk full"));
    assert_eq!((h.sns[0].num_calls(), h.cloudwatch[0].num_calls()), (1, 1));
    assert!(out.batch.batch_item_failures.is_empty());
}

#[tokio::test]
async fn another_teams_failed_export_is_skipped_without_an_alert() {
    // Shared account: the subscription delivers every export event, this one for a task that
    // wrote to a bucket no database of this environment exports to.
    let foreign = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("source-arn")))
        .then_output(|| {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder()
                        .export_task_identifier("their-export")
                        .source_arn(SNAPSHOT_ARN)
                        .status("FAILED")
                        .s3_bucket("another-teams-bucket")
                        .build(),
                )
                .build()
        });
    let h = Harness::new(vec![available_snapshot("available"), foreign]);
    let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0159", SNAPSHOT_ID)).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::Skip, "{d:?}");
    assert!(d.reason.contains("another-teams-bucket") && d.reason.contains("another team's"), "{}", d.reason);
    assert_eq!((h.sns[0].num_calls(), h.cloudwatch[0].num_calls()), (0, 0), "no page for someone else's export");
}

#[tokio::test]
async fn an_export_event_whose_task_never_appears_is_retried_then_skipped_and_counted() {
    let no_tasks =
        mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(|| DescribeExportTasksOutput::builder().build());
    let h = Harness::new(vec![available_snapshot("available"), no_tasks]);
    let mut event = sqs_event("RDS-EVENT-0161", SNAPSHOT_ID);
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("4");
    let out = handle(&h.aws(), &settings(), &event).await.unwrap();
    assert_eq!(out.decisions[0].outcome, Outcome::Retry, "{:?}", out.decisions[0]);
    assert_eq!(h.cloudwatch[0].num_calls(), 0);

    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("5");
    let out = handle(&h.aws(), &settings(), &event).await.unwrap();
    let d = &out.decisions[0];
    assert_eq!(d.outcome, Outcome::Skip, "{d:?}");
    assert!(d.reason.contains("after 5 tries"), "{}", d.reason);
    assert!(out.batch.batch_item_failures.is_empty(), "not redelivered, not dead-lettered");
    assert_eq!(h.cloudwatch[0].num_calls(), 1, "counted once");
}

#[tokio::test]
async fn a_blank_source_id_never_describes_any_snapshot() {
    // Reproduced: an empty Source ID made DescribeDBSnapshots answer with the account's
    // snapshots, and the first one was exported.
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(0), start_ok()]);
    for blank in ["", "   "] {
        let out = handle(&h.aws(), &settings(), &sqs_event("RDS-EVENT-0042", blank)).await.unwrap();
        let d = &out.decisions[0];
        assert_eq!(d.outcome, Outcome::Reject, "{d:?}");
        assert!(d.reason.contains("blank"), "{}", d.reason);
    }
    assert_eq!(h.rds.iter().map(|r| r.num_calls()).sum::<usize>(), 0, "RDS was never asked");
}

#[tokio::test]
async fn one_bad_record_does_not_hold_back_the_good_one() {
    let h = Harness::new(vec![available_snapshot("available"), running_tasks(0), start_ok()]);
    let mut event = sqs_event("RDS-EVENT-0091", SNAPSHOT_ID);
    let good = event["Records"][0].clone();
    let mut bad = good.clone();
    bad["messageId"] = json!("m0");
    bad["body"] = json!("{\"Type\": \"Notification\", \"Mess");
    event["Records"] = json!([bad, good]);
    let out = handle(&h.aws(), &settings(), &event).await.unwrap();
    assert_eq!(out.decisions[0].outcome, Outcome::Reject);
    assert_eq!(out.decisions[1].outcome, Outcome::StartExport);
    assert!(out.batch.batch_item_failures.is_empty());
    assert_eq!(h.sqs_calls(), [0, 0, 1]);
}
