//! The handler and the `exporter handle` CLI against moto: real snapshots, targets published as
//! SSM parameters, export tasks started once and never twice.

use std::process::Command;

use s3exports_config::{Defaults, ExportTarget, names};
use s3exports_exporter::aws::sdk::{SdkAws, TargetSource};
use s3exports_exporter::{Outcome, Settings, handle};
use s3exports_rds::TaskFilter;
use s3exports_rds::sdk::describe_export_tasks;
use s3exports_testkit::events;
use s3exports_testkit::{ACCOUNT, Moto, REGION};
use serde_json::{Value, json};

fn target(bucket: &str) -> ExportTarget {
    ExportTarget::new(
        bucket,
        "exports",
        format!("arn:aws:iam::{ACCOUNT}:role/rds-snapshot-s3exports/prod/export-{bucket}"),
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/0000-{bucket}"),
    )
}

/// The message RDS publishes to SNS.
fn rds_message(event_id: &str, source_id: &str) -> String {
    events::rds_message(event_id, source_id, None).to_string()
}

fn sqs_event(bodies: &[String]) -> Value {
    let queue = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:events");
    events::sqs_event(
        bodies.iter().enumerate().map(|(i, body)| events::sqs_record(&format!("m{i}"), body, 1, &queue)).collect(),
    )
}

struct Fixture {
    /// The RDS messages, as published to the topic.
    messages: Vec<String>,
    event: Value,
    automated_instance: String,
    automated_cluster: String,
}

async fn seed(moto: &Moto) -> Fixture {
    let sdk = moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    for (id, engine) in [("orders-db", "postgres"), ("unmanaged-db", "mysql")] {
        s3exports_testkit::create_db_instance(&rds, id, engine).await;
    }
    rds.create_db_cluster()
        .db_cluster_identifier("reporting")
        .engine("aurora-postgresql")
        .master_username("admin_user")
        .master_user_password("password123")
        .send()
        .await
        .unwrap();
    for (db, snap) in [("orders-db", "orders-manual-1"), ("unmanaged-db", "unmanaged-manual-1")] {
        rds.create_db_snapshot().db_instance_identifier(db).db_snapshot_identifier(snap).send().await.unwrap();
    }
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier("reporting")
        .db_cluster_snapshot_identifier("reporting-manual-1")
        .send()
        .await
        .unwrap();
    // moto takes an automated snapshot when it creates an instance or cluster.
    let automated_instance = rds
        .describe_db_snapshots()
        .db_instance_identifier("orders-db")
        .snapshot_type("automated")
        .send()
        .await
        .unwrap()
        .db_snapshots()[0]
        .db_snapshot_identifier()
        .unwrap()
        .to_owned();
    let automated_cluster = rds
        .describe_db_cluster_snapshots()
        .db_cluster_identifier("reporting")
        .snapshot_type("automated")
        .send()
        .await
        .unwrap()
        .db_cluster_snapshots()[0]
        .db_cluster_snapshot_identifier()
        .unwrap()
        .to_owned();

    // What the database stacks publish.
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for (db, bucket) in [("orders-db", "orders-exports"), ("reporting", "reporting-exports")] {
        ssm.put_parameter()
            .name(names::target_parameter("prod", db))
            .value(serde_json::to_string(&target(bucket)).unwrap())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }

    let messages = vec![
        rds_message("RDS-EVENT-0091", &automated_instance),
        rds_message("RDS-EVENT-0042", "orders-manual-1"),
        rds_message("RDS-EVENT-0169", &automated_cluster),
        rds_message("RDS-EVENT-0075", "reporting-manual-1"),
        rds_message("RDS-EVENT-0042", "unmanaged-manual-1"),
        rds_message("RDS-EVENT-0042", "deleted-meanwhile"),
    ];
    let event = sqs_event(&messages.iter().map(|m| events::sns_envelope(m, "n-1")).collect::<Vec<_>>());
    Fixture { messages, event, automated_instance, automated_cluster }
}

fn settings() -> Settings {
    Settings { environment: "prod".into(), defaults: Defaults::default(), dry_run: false, queue_actions: false }
}

#[tokio::test]
async fn exports_every_configured_snapshot_once() {
    let moto = Moto::start();
    let fixture = seed(&moto).await;
    let sdk = moto.sdk_config().await;
    let aws = SdkAws::from_config(
        &sdk,
        TargetSource::Ssm { client: aws_sdk_ssm::Client::new(&sdk), environment: "prod".into() },
    );

    let first = handle(&aws, &settings(), &fixture.event).await.unwrap();
    let outcomes: Vec<Outcome> = first.decisions.iter().map(|d| d.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::StartExport,
            Outcome::StartExport,
            Outcome::StartExport,
            Outcome::StartExport,
            Outcome::Skip,
            Outcome::Reject
        ],
        "{:#?}",
        first.decisions
    );
    assert_eq!(first.decisions[4].reason, "database `unmanaged-db` is not configured for export in environment prod");
    assert_eq!(first.decisions[2].db.as_deref(), Some("reporting"));

    let tasks = describe_export_tasks(&aws.rds, &TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), 4);
    for d in &first.decisions[..4] {
        let id = d.export_task_identifier.as_deref().unwrap();
        let task = tasks.iter().find(|t| t.id == id).unwrap_or_else(|| panic!("no task {id}"));
        assert_eq!(Some(task.source_arn.as_str()), d.source_arn.as_deref());
        let bucket = if d.db.as_deref() == Some("orders-db") { "orders-exports" } else { "reporting-exports" };
        assert_eq!(task.s3_bucket, bucket);
        assert_eq!(task.s3_prefix, "exports");
        assert!(task.kms_key_id.ends_with(&format!("0000-{bucket}")));
    }
    assert!(tasks.iter().any(|t| t.source_arn.ends_with(&fixture.automated_instance)));
    assert!(tasks.iter().any(|t| t.source_arn.ends_with(&fixture.automated_cluster)));

    // The same events again (redelivery): nothing new starts.
    let second = handle(&aws, &settings(), &fixture.event).await.unwrap();
    for d in &second.decisions[..4] {
        assert_eq!(d.outcome, Outcome::Skip, "{d:?}");
        assert!(d.reason.contains("already exists"), "{}", d.reason);
    }
    let again = describe_export_tasks(&aws.rds, &TaskFilter::default()).await.unwrap();
    assert_eq!(again.len(), 4);

    // The emulator filters as RDS does (testkit/moto_server.py), so the filter names we send are
    // checked against the ones it knows, and its answers stay small however many tasks it holds.
    let raw = |name: &str, value: &str| {
        let filter = aws_sdk_rds::types::Filter::builder().name(name).values(value).build();
        aws.rds.describe_export_tasks().filters(filter).send()
    };
    let orders = raw("s3-bucket", "orders-exports").await.unwrap().export_tasks.unwrap_or_default();
    assert_eq!(orders.len(), tasks.iter().filter(|t| t.s3_bucket == "orders-exports").count());
    assert!(raw("status", "in_progress").await.unwrap().export_tasks.unwrap_or_default().is_empty());
    assert!(raw("no-such-filter", "x").await.is_err(), "an unknown filter name is refused");
}

#[tokio::test]
async fn cli_prints_one_line_per_record() {
    let moto = Moto::start();
    let fixture = seed(&moto).await;
    let dir = tempfile::tempdir().unwrap();
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, fixture.event.to_string()).unwrap();
    let targets_path = dir.path().join("targets.json");
    std::fs::write(&targets_path, json!({"orders-db": target("orders-exports")}).to_string()).unwrap();

    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_exporter"));
        cmd.args(["handle", "--env", "prod", "--event"]).arg(&event_path).args(["--targets"]).arg(&targets_path);
        cmd.args(extra).envs(moto.env()).env("RUST_LOG", "warn");
        let out = cmd.output().unwrap();
        let lines: Vec<Value> =
            String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // A rejected record is a failed run: exit 1, and only then.
        let rejected = lines.iter().any(|l| l["outcome"] == "reject");
        assert_eq!(out.status.code(), Some(i32::from(rejected)), "{}", String::from_utf8_lossy(&out.stderr));
        (lines, String::from_utf8(out.stderr).unwrap())
    };

    let (dry, summary) = run(&["--dry-run"]);
    assert_eq!(dry.len(), 6);
    assert_eq!(dry[0]["outcome"], "start_export");
    assert!(dry[0]["reason"].as_str().unwrap().starts_with("dry run: would export to s3://orders-exports/exports"));
    for key in ["record", "outcome", "db", "source_arn", "export_task_identifier", "reason"] {
        assert!(dry[0].get(key).is_some(), "missing {key}: {}", dry[0]);
    }
    // Only orders-db is in the targets file: the cluster's snapshots are skipped.
    assert_eq!(dry[2]["outcome"], "skip");
    assert!(summary.contains("6 record(s)"), "{summary}");
    let sdk = moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    assert!(describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap().is_empty(), "dry run started an export");

    let (real, _) = run(&[]);
    assert_eq!(real[0]["outcome"], "start_export");
    assert_eq!(real[0]["export_task_identifier"], dry[0]["export_task_identifier"]);
    assert_eq!(real[1]["outcome"], "start_export");
    assert_eq!(describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap().len(), 2);
    let (again, _) = run(&[]);
    assert_eq!(again[0]["outcome"], "skip");
}

/// The topic -> queue wiring of the core stack, with its dead-letter queue.
async fn events_queue(sdk: &aws_config::SdkConfig) -> (String, String, String) {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sns = aws_sdk_sns::Client::new(sdk);
    let dlq = sqs.create_queue().queue_name(names::dead_letter_queue("prod")).send().await.unwrap();
    let dlq_url = dlq.queue_url().unwrap().to_owned();
    let redrive = json!({"deadLetterTargetArn": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", names::dead_letter_queue("prod")),
                         "maxReceiveCount": "5"});
    let queue = sqs
        .create_queue()
        .queue_name(names::events_queue("prod"))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap();
    let topic = sns.create_topic().name(names::events_topic("prod")).send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_owned();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", names::events_queue("prod")))
        .send()
        .await
        .unwrap();
    (topic_arn, queue.queue_url().unwrap().to_owned(), dlq_url)
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = out.attributes().unwrap();
    (attributes[&A::ApproximateNumberOfMessages].clone(), attributes[&A::ApproximateNumberOfMessagesNotVisible].clone())
}

#[tokio::test]
async fn poll_consumes_the_queue_as_the_event_source_mapping_would() {
    let moto = Moto::start();
    let fixture = seed(&moto).await;
    let sdk = moto.sdk_config().await;
    let (topic, queue_url, dlq_url) = events_queue(&sdk).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    for message in fixture.messages.iter().map(String::as_str).chain(["This is a test notification from Amazon RDS."]) {
        sns.publish().topic_arn(&topic).message(message).send().await.unwrap();
    }

    let poll = || {
        let out = Command::new(env!("CARGO_BIN_EXE_exporter"))
            .args(["poll", "--env", "prod", "--until-empty", "--wait-seconds", "0"])
            .envs(moto.env())
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        let outcomes: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["outcome"].as_str().unwrap().to_owned())
            .collect();
        let rejected = outcomes.iter().any(|o| o == "reject");
        assert_eq!(out.status.code(), Some(i32::from(rejected)), "{}", String::from_utf8_lossy(&out.stderr));
        (outcomes, String::from_utf8(out.stderr).unwrap())
    };
    let (outcomes, summary) = poll();
    let count = |o: &str| outcomes.iter().filter(|x| *x == o).count();
    assert_eq!((count("start_export"), count("skip"), count("reject")), (4, 2, 1), "{outcomes:?}\n{summary}");
    assert!(summary.contains("7 message(s) deleted, 0 left for redelivery"), "{summary}");
    let rds = aws_sdk_rds::Client::new(&sdk);
    assert_eq!(describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap().len(), 4);

    // Handled messages are gone; the event of a snapshot that no longer exists went to the
    // dead-letter queue with its reason.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    assert_eq!(queue_depth(&sqs, &queue_url).await, ("0".to_owned(), "0".to_owned()));
    let dead = sqs.receive_message().queue_url(&dlq_url).message_attribute_names("All").send().await.unwrap();
    let dead = dead.messages();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].message_attributes().unwrap().contains_key("reason"), "{:?}", dead[0]);

    // The same events again start nothing.
    for message in &fixture.messages {
        sns.publish().topic_arn(&topic).message(message).send().await.unwrap();
    }
    let (outcomes, _) = poll();
    assert_eq!(outcomes.len(), 6);
    assert!(!outcomes.iter().any(|o| o == "start_export"), "{outcomes:?}");
    assert_eq!(describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap().len(), 4);
}

/// The pending queue the core stack creates: FIFO, so parked exports keep their order.
async fn pending_queue(sdk: &aws_config::SdkConfig) -> String {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let out = sqs
        .create_queue()
        .queue_name(names::pending_queue("prod"))
        .attributes(A::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    out.queue_url().unwrap().to_owned()
}

/// Runs an `exporter` command against moto: its JSON lines, stderr and exit code.
fn exporter(moto: &Moto, args: &[&str]) -> (Vec<Value>, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_exporter"))
        .args(args)
        .envs(moto.env())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (lines, String::from_utf8(out.stderr).unwrap(), out.status.code())
}

#[tokio::test]
async fn reconcile_queues_snapshots_whose_events_were_lost_and_dispatch_exports_them_once() {
    let moto = Moto::start();
    let fixture = seed(&moto).await;
    let sdk = moto.sdk_config().await;
    let pending_url = pending_queue(&sdk).await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    // One snapshot was exported by hand, under an id of its own: it counts as exported.
    let manual_arn = format!("arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:orders-manual-1");
    let t = target("orders-exports");
    s3exports_testkit::start_export(&rds, "exported-by-hand", &manual_arn, "orders-exports", &t.kms_key_arn).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let reconcile = ["reconcile", "--env", "prod", "--since", "3650d"];

    // No events at all: a dry run lists what is missing and queues nothing.
    let (dry, summary, code) = exporter(&moto, &[&reconcile[..], &["--dry-run"]].concat());
    assert_eq!(code, Some(0), "{summary}");
    let lines: Vec<&Value> = dry.iter().filter(|l| l.get("outcome").is_some()).collect();
    let outcome_of = |lines: &[&Value], snapshot: &str| {
        let line = lines
            .iter()
            .find(|l| l["snapshot"] == snapshot)
            .unwrap_or_else(|| panic!("no line for {snapshot}: {lines:?}"));
        (line["outcome"].as_str().unwrap().to_owned(), line["reason"].as_str().unwrap().to_owned())
    };
    for snapshot in [fixture.automated_instance.as_str(), fixture.automated_cluster.as_str(), "reporting-manual-1"] {
        let (outcome, reason) = outcome_of(&lines, snapshot);
        assert_eq!(outcome, "start_export", "{snapshot}: {reason}");
        assert!(reason.starts_with("dry run"), "{reason}");
    }
    let (outcome, reason) = outcome_of(&lines, "orders-manual-1");
    assert_eq!(
        (outcome.as_str(), reason.as_str()),
        ("skip", "exported by task exported-by-hand (COMPLETE)"),
        "{summary}"
    );
    assert!(!lines.iter().any(|l| l["db"] == "unmanaged-db"), "only configured databases are examined");
    let summaries: Vec<&Value> = dry.iter().filter(|l| l.get("summary").is_some()).collect();
    assert_eq!(summaries.len(), 2, "{dry:?}");
    assert!(summary.contains("orders-db: 2 snapshot(s) examined: 1 exported, 1 queued for export"), "{summary}");
    assert_eq!(queue_depth(&sqs, &pending_url).await.0, "0", "a dry run queued an export");

    // For real: the three go to the pending queue, none is started directly.
    let (real, summary, code) = exporter(&moto, &reconcile);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(real.iter().filter(|l| l["outcome"] == "start_export" && l["queued"] == true).count(), 3, "{real:?}");
    assert_eq!(queue_depth(&sqs, &pending_url).await.0, "3");
    assert_eq!(describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap().len(), 1);

    // Dispatch starts them into the free slots, and the queue is empty after.
    let (started, summary, code) = exporter(&moto, &["dispatch", "--env", "prod"]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(started.iter().filter(|l| l["outcome"] == "start_export").count(), 3, "{started:?}\n{summary}");
    assert_eq!(queue_depth(&sqs, &pending_url).await, ("0".to_owned(), "0".to_owned()));
    let tasks = describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), 4);
    assert!(
        tasks.iter().any(|t| t.source_arn.ends_with(&fixture.automated_cluster) && t.s3_bucket == "reporting-exports")
    );

    // Nothing is missing any more: a second reconcile queues nothing, dispatch starts nothing.
    let (again, _, code) = exporter(&moto, &reconcile);
    assert_eq!(code, Some(0));
    assert!(!again.iter().any(|l| l["outcome"] == "start_export"), "{again:?}");
    let (idle, _, _) = exporter(&moto, &["dispatch", "--env", "prod"]);
    assert!(idle.is_empty(), "{idle:?}");
    assert_eq!(describe_export_tasks(&rds, &TaskFilter::default()).await.unwrap().len(), 4);

    // An unknown database is an error naming the ones there are.
    let (_, err, code) = exporter(&moto, &["reconcile", "--env", "prod", "--db", "nosuch"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("`nosuch` is not configured") && err.contains("orders-db"), "{err}");
}
