//! Real events, mutated: truncated, wrong types, nulls, huge and control-character ids, and
//! garbage at any position of a batch. The handler never panics, every record gets a decision,
//! and the good records' outcomes never change.

use std::time::Duration;

use proptest::prelude::*;
use s3exports_config::{Defaults, ExportTarget};
use s3exports_exporter::aws::{Aws, ExportAlert};
use s3exports_exporter::event::SqsMessageRef;
use s3exports_exporter::export::pending::{Parked, PendingExport};
use s3exports_exporter::{Outcome, Settings, handle};
use s3exports_rds::{AwsError, ExportTask, Snapshot, StartExport, TaskFilter};
use s3exports_testkit::events;
use serde_json::{Value, json};

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:events";

/// One database with two available snapshots; every start succeeds; queue actions are no-ops.
struct FakeAws;

fn snapshot(id: &str) -> Option<Snapshot> {
    ["rds:orders-2026-11-24-03-10", "orders-manual-1"].contains(&id).then(|| Snapshot {
        arn: format!("arn:aws:rds:eu-west-1:123456789012:snapshot:{id}"),
        id: id.to_owned(),
        db_id: "orders".into(),
        cluster: false,
        snapshot_type: if id.starts_with("rds:") { "automated" } else { "manual" }.into(),
        engine: "postgres".into(),
        created: chrono::DateTime::from_timestamp(1_795_000_000, 0),
        status: "available".into(),
    })
}

fn orders_target() -> ExportTarget {
    ExportTarget::new(
        "orders-exports",
        "",
        "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
}

impl Aws for FakeAws {
    async fn describe_snapshot(&self, id: &str, _cluster: bool) -> Result<Option<Snapshot>, AwsError> {
        Ok(snapshot(id))
    }
    async fn export_tasks(&self, _filter: &TaskFilter) -> Result<Vec<ExportTask>, AwsError> {
        Ok(Vec::new())
    }
    async fn start_export(&self, _request: &StartExport) -> Result<(), AwsError> {
        Ok(())
    }
    async fn target(&self, db_id: &str) -> Result<Option<ExportTarget>, AwsError> {
        Ok((db_id == "orders").then(orders_target))
    }
    async fn database_for_bucket(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        Ok((bucket == "orders-exports").then(|| "orders".to_owned()))
    }
    async fn list_snapshots(&self, db_id: &str, _awsbackup: bool) -> Result<Vec<Snapshot>, AwsError> {
        Ok(["rds:orders-2026-11-24-03-10", "orders-manual-1"]
            .into_iter()
            .filter_map(snapshot)
            .filter(|s| s.db_id == db_id)
            .collect())
    }
    async fn targets(&self) -> Result<Vec<(String, ExportTarget)>, AwsError> {
        Ok(vec![("orders".to_owned(), orders_target())])
    }
    async fn metric(&self, _metric: &'static str, _total: f64, _per_db: &[(String, f64)]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn alert(&self, _alert: &ExportAlert) -> Result<(), AwsError> {
        Ok(())
    }
    async fn retry_later(&self, _message: &SqsMessageRef, _delay: Duration) -> Result<(), AwsError> {
        Ok(())
    }
    async fn park(&self, _pending: &PendingExport, _deduplication_id: &str) -> Result<(), AwsError> {
        Ok(())
    }
    async fn take_pending(&self, _max: usize, _wait: Duration) -> Result<Vec<Parked>, AwsError> {
        Ok(Vec::new())
    }
    async fn pending_backlog(&self) -> Result<u64, AwsError> {
        Ok(0)
    }
    async fn settle_pending(&self, _done: &[Parked], _back: &[Parked]) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn database_exists(&self, _db_id: &str) -> Result<bool, AwsError> {
        Ok(true)
    }
    async fn dead_letter(&self, _record_id: &str, _body: &str, _reason: &str) -> Result<(), AwsError> {
        Ok(())
    }
}

fn settings() -> Settings {
    Settings { environment: "prod".into(), defaults: Defaults::default(), dry_run: false, queue_actions: true }
}

/// The good records: the two snapshots' created events, as SNS delivers them to the queue.
fn good_records() -> Vec<Value> {
    [
        ("good-auto", "RDS-EVENT-0091", "rds:orders-2026-11-24-03-10"),
        ("good-manual", "RDS-EVENT-0042", "orders-manual-1"),
    ]
    .iter()
    .map(|(id, event, snapshot)| {
        let body = events::sns_envelope(&events::rds_message(event, snapshot, None).to_string(), id);
        events::sqs_record(id, &body, 1, QUEUE)
    })
    .collect()
}

fn decide(records: Vec<Value>) -> Vec<(String, Outcome, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let handled = runtime.block_on(handle(&FakeAws, &settings(), &events::sqs_event(records))).expect("an SQS batch");
    handled.decisions.into_iter().map(|d| (d.record, d.outcome, d.reason)).collect()
}

/// A value that is wrong where it stands: null, another type, huge, control characters.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(Value::from("")),
        Just(Value::from("\u{0}\u{1b}[31m\r\n\u{2028}")),
        (1usize..200_000).prop_map(|n| Value::from("x".repeat(n))),
        "\\PC{0,40}".prop_map(Value::from),
    ]
}

/// A mutation of one good record: a field of the record, of the SNS envelope or of the RDS
/// message replaced, or the body cut short.
fn mutated_record() -> impl Strategy<Value = Value> {
    let fields = prop_oneof![
        Just(("record", "body")),
        Just(("record", "messageId")),
        Just(("record", "eventSource")),
        Just(("record", "attributes")),
        Just(("envelope", "Message")),
        Just(("envelope", "Type")),
        Just(("message", "Event ID")),
        Just(("message", "Source ID")),
        Just(("message", "Source ARN")),
    ];
    (0usize..2, fields, hostile_value(), any::<bool>(), 0usize..400).prop_map(
        |(which, (level, field), value, truncate, cut)| {
            let mut record = good_records()[which].clone();
            record["messageId"] = json!(format!("mutant-{which}"));
            let mut envelope: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
            let mut message: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
            match level {
                "message" => message[field] = value,
                "envelope" => envelope[field] = value,
                _ => record[field] = value,
            }
            if level == "message" {
                envelope["Message"] = json!(message.to_string());
            }
            if level != "record" || field != "body" {
                let mut body = envelope.to_string();
                if truncate {
                    body.truncate(body.char_indices().nth(cut).map_or(body.len(), |(i, _)| i));
                }
                record["body"] = json!(body);
            }
            record
        },
    )
}

fn garbage() -> impl Strategy<Value = Value> {
    prop_oneof![hostile_value(), mutated_record()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn garbage_anywhere_never_changes_the_good_records(
        inserts in prop::collection::vec((0usize..3, garbage()), 1..6),
    ) {
        let baseline = decide(good_records());
        prop_assert_eq!(baseline.iter().filter(|d| d.1 == Outcome::StartExport).count(), 2);
        let mut batch = good_records();
        for (at, record) in inserts.clone() {
            batch.insert(at.min(batch.len()), record);
        }
        let decisions = decide(batch.clone());
        prop_assert_eq!(decisions.len(), batch.len(), "every record gets a decision");
        for good in &baseline {
            let seen = decisions.iter().find(|d| d.0 == good.0);
            prop_assert_eq!(seen, Some(good), "the good record {} changed", &good.0);
        }
        for d in &decisions {
            prop_assert!(d.2.len() < 2_000, "a bounded reason, not {} bytes", d.2.len());
        }
    }
}
