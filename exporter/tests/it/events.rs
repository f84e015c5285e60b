//! Parsing of every event wiring and kind, including the awkward ones.

use s3exports_exporter::event::{
    EventSource, Origin, RecordError, event_id_from, parse_body, parse_rds_message, split,
};
use s3exports_exporter::event_kind::{EventKind, event_kind};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn sqs_batch_yields_one_record_per_message_whatever_its_body() {
    let (source, records) = split(&fixture("sqs-batch.json")).unwrap();
    assert_eq!(source, EventSource::Sqs);
    assert_eq!(records.len(), 7);

    // 0: SNS envelope, automated snapshot, old docs host.
    let e = records[0].event.as_ref().unwrap();
    assert_eq!(e.event_id, "RDS-EVENT-0091");
    assert_eq!(e.source_id, "rds:pams-stack-prod-2026-11-24-03-10");
    assert_eq!(
        e.source_arn.as_deref(),
        Some("arn:aws:rds:eu-west-1:123456789012:snapshot:rds:pams-stack-prod-2026-11-24-03-10")
    );
    let Origin::Sqs(msg) = &records[0].origin else { panic!("not SQS") };
    assert_eq!((msg.message_id.as_str(), msg.receipt_handle.as_str(), msg.receive_count), ("m0", "rh0", 1));
    assert!(msg.queue_arn.ends_with(":rds-snapshot-s3exports-prod-events"));

    // 1: AWS Backup snapshot, new docs host, no Source ARN.
    let e = records[1].event.as_ref().unwrap();
    assert_eq!(e.event_id, "RDS-EVENT-0042");
    assert!(e.source_id.starts_with("awsbackup:job-"));
    assert_eq!(e.source_arn, None);

    // 2: raw message delivery of a cluster snapshot event.
    let e = records[2].event.as_ref().unwrap();
    assert_eq!(e.event_id, "RDS-EVENT-0169");
    assert_eq!(e.source_type.as_deref(), Some("db-cluster-snapshot"));

    // 3: plain-text first message; 4: truncated JSON.
    assert!(matches!(records[3].event, Err(RecordError::PlainText(_))));
    assert!(matches!(&records[4].event, Err(RecordError::Malformed(m)) if m.contains("not valid JSON")));
    assert_eq!(records[4].id, "m4");

    assert_eq!(records[5].event.as_ref().unwrap().event_id, "RDS-EVENT-0161");
    assert_eq!(records[6].event.as_ref().unwrap().event_id, "RDS-EVENT-0090");
}

#[test]
fn sns_direct_and_eventbridge_wirings() {
    let (source, records) = split(&fixture("sns-direct.json")).unwrap();
    assert_eq!(source, EventSource::Sns);
    assert_eq!(records[0].id, "sns-direct");
    assert_eq!(records[0].origin, Origin::Sns);
    let e = records[0].event.as_ref().unwrap();
    assert_eq!(event_kind(&e.event_id), EventKind::SnapshotCreated { cluster: true });

    for (name, event_id, cluster) in [
        ("eventbridge-snapshot.json", "RDS-EVENT-0091", false),
        ("eventbridge-cluster-snapshot.json", "RDS-EVENT-0169", true),
    ] {
        let (source, records) = split(&fixture(name)).unwrap();
        assert_eq!(source, EventSource::EventBridge);
        let e = records[0].event.as_ref().unwrap();
        assert_eq!(e.event_id, event_id);
        assert_eq!(event_kind(&e.event_id), EventKind::SnapshotCreated { cluster });
        assert!(e.source_arn.as_deref().unwrap().starts_with("arn:aws:rds:"));
    }
}

#[test]
fn empty_batches_and_unknown_events() {
    let (source, records) = split(&fixture("sqs-empty.json")).unwrap();
    assert_eq!(source, EventSource::Sqs);
    assert!(records.is_empty());
    let err = split(&json!({"hello": "world"})).unwrap_err();
    assert!(err.to_string().contains("unrecognised Lambda event"));
    assert!(split(&json!({"Records": [{"eventSource": "aws:s3"}]})).is_err());
}

#[test]
fn a_record_that_breaks_the_sqs_schema_does_not_break_its_batch() {
    let event = json!({"Records": [
        {"messageId": "bad", "eventSource": "aws:sqs", "body": 42},
        {"messageId": "good", "eventSource": "aws:sqs", "receiptHandle": "rh",
         "body": "{\"Event ID\": \"#RDS-EVENT-0091\", \"Source ID\": \"rds:x-2026-11-24-00-00\"}",
         "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q", "attributes": {"ApproximateReceiveCount": "3"}}
    ]});
    let (_, records) = split(&event).unwrap();
    assert_eq!(records[0].id, "bad");
    assert!(matches!(records[0].event, Err(RecordError::Malformed(_))));
    assert_eq!(records[1].event.as_ref().unwrap().source_id, "rds:x-2026-11-24-00-00");
    let Origin::Sqs(msg) = &records[1].origin else { panic!() };
    assert_eq!(msg.receive_count, 3);
}

#[test]
fn event_ids_from_either_host_or_bare() {
    for text in [
        "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#RDS-EVENT-0091",
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html#RDS-EVENT-0091",
        "RDS-EVENT-0091",
    ] {
        assert_eq!(event_id_from(text).unwrap(), "RDS-EVENT-0091");
    }
    assert!(event_id_from("https://example.com/#RDS-EVENT-91").is_err());
    assert!(event_id_from("").is_err());
}

#[test]
fn malformed_messages_say_what_is_missing() {
    let err = parse_rds_message(r#"{"Source ID": "x"}"#).unwrap_err();
    assert_eq!(err, RecordError::Malformed("no \"Event ID\"".into()));
    let err = parse_rds_message(r##"{"Event ID": "#RDS-EVENT-0091"}"##).unwrap_err();
    assert_eq!(err, RecordError::Malformed("no \"Source ID\"".into()));
    let err = parse_body(r#"{"Type": "Notification", "Message": 7}"#).unwrap_err();
    assert!(matches!(err, RecordError::Malformed(m) if m.contains("SNS envelope")));
    assert!(matches!(parse_body("hello"), Err(RecordError::PlainText(t)) if t == "hello"));
    assert!(matches!(
        parse_rds_message(r##"{"Event ID": "#RDS-EVENT-0091", "Source ID": 5}"##),
        Err(RecordError::Malformed(_))
    ));
}

#[test]
fn junk_first_never_decides_how_the_good_records_are_read() {
    let good = json!({"messageId": "good", "eventSource": "aws:sqs", "receiptHandle": "rh", "body": "{}",
                      "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q", "attributes": {"ApproximateReceiveCount": "1"}});
    for junk in [json!(null), json!(42), json!({"eventSource": "aws:sns", "Sns": {}}), json!({"hello": 1})] {
        let (source, records) = split(&json!({"Records": [junk.clone(), good.clone()]})).unwrap();
        assert_eq!(source, EventSource::Sqs, "{junk}");
        assert_eq!(records.len(), 2);
        assert!(matches!(records[1].origin, Origin::Sqs(_)), "{junk}: the good record is still an SQS record");
        assert_eq!(records[1].id, "good");
    }
}

#[test]
fn blank_and_oversized_ids_are_malformed_with_bounded_text() {
    for blank in ["", "  "] {
        let message = json!({"Event ID": "#RDS-EVENT-0042", "Source ID": blank}).to_string();
        let err = parse_rds_message(&message).unwrap_err();
        assert!(matches!(&err, RecordError::Malformed(m) if m.contains("blank")), "{err:?}");
    }
    let huge = "a".repeat(1_000_000);
    let message = json!({"Event ID": "#RDS-EVENT-0042", "Source ID": huge}).to_string();
    let RecordError::Malformed(reason) = parse_rds_message(&message).unwrap_err() else { panic!("not malformed") };
    assert!(reason.len() < 1_000, "a 1 MB id must not make a 1 MB reason: {} bytes", reason.len());
    let message = json!({"Event ID": format!("#{huge}"), "Source ID": "x"}).to_string();
    let RecordError::Malformed(reason) = parse_rds_message(&message).unwrap_err() else { panic!("not malformed") };
    assert!(reason.len() < 1_000, "{} bytes", reason.len());
}
