//! Cataloguing against moto: the sample export uploaded to a bucket, export-completed events
//! handled, Glue tables and partitions checked; a second export with an extra column widens the
//! table; redelivery changes nothing; a previous manifest in Glacier is alerted as a comparison
//! not made.

use std::path::Path;

use s3exports_config::{CatalogMode, Defaults, ExportTarget, ObjectLock, names};
use s3exports_evidence::record::read_manifest;
use s3exports_exporter::aws::sdk::{SdkAws, TargetSource};
use s3exports_exporter::catalogue::Cataloguer;
use s3exports_exporter::catalogue::Cataloguing;
use s3exports_exporter::handle_with;
use s3exports_exporter::{Outcome, Settings};
use s3exports_testkit::Moto;
use s3exports_testkit::events;
use s3exports_testkit::sample::{SampleSpec, write_sample};

const BUCKET: &str = "pams-db-snapshots-export";

async fn upload_dir(s3: &aws_sdk_s3::Client, root: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            Box::pin(upload_dir(s3, root, &path)).await;
        } else {
            let key = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            s3.put_object().bucket(BUCKET).key(key).body(std::fs::read(&path).unwrap().into()).send().await.unwrap();
        }
    }
}

fn completed_event(snapshot_id: &str, snapshot_arn: &str) -> serde_json::Value {
    events::sqs_rds_event(
        "RDS-EVENT-0161",
        snapshot_id,
        Some(snapshot_arn),
        "arn:aws:sqs:us-east-1:123456789012:catalogue",
    )
}

/// What the database stack provides (bucket, Glue database, target parameter), and two
/// snapshots exported by RDS; the sample export stands in for the data RDS would write.
struct Setup {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    glue: aws_sdk_glue::Client,
    ssm: aws_sdk_ssm::Client,
    dir: tempfile::TempDir,
    facts: Vec<s3exports_testkit::sample::SnapshotFacts>,
    snapshots: Vec<(String, String)>,
}

async fn setup(target_extra: impl FnOnce(ExportTarget) -> ExportTarget, object_lock: bool) -> Setup {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let glue = aws_sdk_glue::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);

    // What the database stack provides: bucket, Glue database, target parameter.
    s3.create_bucket().bucket(BUCKET).object_lock_enabled_for_bucket(object_lock).send().await.unwrap();
    glue.create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name("pams_stack_prod").build().unwrap())
        .send()
        .await
        .unwrap();
    let target = target_extra(ExportTarget {
        glue_database: Some("pams_stack_prod".into()),
        ..ExportTarget::new(
            BUCKET,
            String::new(),
            "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
            "arn:aws:kms:us-east-1:123456789012:key/k",
        )
    });
    ssm.put_parameter()
        .name(names::target_parameter("prod", "pams-stack-prod"))
        .value(serde_json::to_string(&target).unwrap())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();

    // Two snapshots, each exported; the sample export stands in for the data RDS would write.
    let dir = tempfile::tempdir().unwrap();
    let facts = write_sample(dir.path(), SampleSpec { orders: 200, customers: 10 }).unwrap();
    s3exports_testkit::create_db_instance(&rds, "pams-stack-prod", "postgres").await;
    let mut snapshots = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        let id = format!("pams-manual-{i}");
        let snap = rds
            .create_db_snapshot()
            .db_instance_identifier("pams-stack-prod")
            .db_snapshot_identifier(&id)
            .send()
            .await
            .unwrap();
        let arn = snap.db_snapshot().unwrap().db_snapshot_arn().unwrap().to_owned();
        rds.start_export_task()
            .export_task_identifier(&f.export_id)
            .source_arn(&arn)
            .s3_bucket_name(BUCKET)
            .iam_role_arn(&target.iam_role_arn)
            .kms_key_id(&target.kms_key_arn)
            .send()
            .await
            .unwrap();
        snapshots.push((id, arn));
    }
    Setup { moto, sdk, s3, glue, ssm, dir, facts, snapshots }
}

impl Setup {
    fn decider_parts(&self) -> (SdkAws, Cataloguer, Settings) {
        let aws =
            SdkAws::from_config(&self.sdk, TargetSource::Ssm { client: self.ssm.clone(), environment: "prod".into() });
        let cataloguer = Cataloguer {
            s3: self.s3.clone(),
            glue: self.glue.clone(),
            ssm: self.ssm.clone(),
            environment: "prod".into(),
            mode: CatalogMode::Glue,
        };
        let settings = Settings {
            environment: "prod".into(),
            defaults: Defaults::default(),
            dry_run: false,
            queue_actions: false,
        };
        (aws, cataloguer, settings)
    }

    /// Uploads export `i`'s files and handles its export-completed event as the function would.
    async fn complete(&self, i: usize) -> s3exports_exporter::Decision {
        upload_dir(&self.s3, self.dir.path(), &self.dir.path().join(&self.facts[i].export_id)).await;
        self.catalogue(i).await
    }

    async fn catalogue(&self, i: usize) -> s3exports_exporter::Decision {
        self.catalogue_alerting(i, None).await
    }

    /// As [`Self::catalogue`], alerts published to `topic`.
    async fn catalogue_alerting(&self, i: usize, topic: Option<String>) -> s3exports_exporter::Decision {
        let (mut aws, cataloguer, settings) = self.decider_parts();
        aws.alerts_topic_arn = topic;
        let decider =
            Cataloguing { aws: &aws, settings: &settings, cataloguer: &cataloguer, dry_run: false, deadline: None };
        let event = completed_event(&self.snapshots[i].0, &self.snapshots[i].1);
        handle_with(&aws, &settings, &event, &decider).await.unwrap().decisions.remove(0)
    }
}

#[tokio::test]
async fn catalogues_exports_into_glue() {
    let set = setup(|t| t, false).await;
    let (glue, facts) = (&set.glue, &set.facts);
    // First export: four tables and one partition each.
    let d = set.complete(0).await;
    assert_eq!(d.outcome, Outcome::ExportCompleted, "{d:?}");
    assert!(d.reason.contains("4 table(s) created, 0 widened, 4 partition(s) added"), "{}", d.reason);
    let tables = glue.get_tables().database_name("pams_stack_prod").send().await.unwrap();
    let mut table_names: Vec<&str> = tables.table_list().iter().map(|t| t.name()).collect();
    table_names.sort();
    assert_eq!(
        table_names,
        ["pams_public_customers", "pams_public_events", "pams_public_order_items", "pams_public_orders"]
    );
    let orders = glue.get_table().database_name("pams_stack_prod").name("pams_public_orders").send().await.unwrap();
    let orders = orders.table().unwrap();
    assert_eq!(orders.table_type(), Some("EXTERNAL_TABLE"));
    assert_eq!(orders.parameters().unwrap().get("read_restored_glacier_objects").map(String::as_str), Some("true"));
    let keys: Vec<&str> = orders.partition_keys().iter().map(|k| k.name()).collect();
    assert_eq!(keys, ["snapshot_date", "export_id"]);
    let columns: Vec<(&str, &str)> =
        orders.storage_descriptor().unwrap().columns().iter().map(|c| (c.name(), c.r#type().unwrap())).collect();
    assert_eq!(
        columns,
        [
            ("id", "bigint"),
            ("customer_id", "bigint"),
            ("status", "string"),
            ("total", "string"),
            ("placed_at", "string"),
            ("note", "string")
        ]
    );
    let items = glue.get_table().database_name("pams_stack_prod").name("pams_public_order_items").send().await.unwrap();
    let quantity = items
        .table()
        .unwrap()
        .storage_descriptor()
        .unwrap()
        .columns()
        .iter()
        .find(|c| c.name() == "quantity")
        .unwrap()
        .r#type();
    assert_eq!(quantity, Some("int"), "smallint arrives as INT32");
    let parts =
        glue.get_partitions().database_name("pams_stack_prod").table_name("pams_public_orders").send().await.unwrap();
    assert_eq!(parts.partitions().len(), 1);
    let p = &parts.partitions()[0];
    assert_eq!(p.values()[1], facts[0].export_id);
    assert_eq!(
        p.storage_descriptor().unwrap().location(),
        Some(format!("s3://{BUCKET}/{}/pams/public.orders/", facts[0].export_id).as_str())
    );

    // Second export adds `orders.channel`: the table widens, partitions are added.
    let d = set.complete(1).await;
    assert!(d.reason.contains("0 table(s) created, 1 widened, 4 partition(s) added"), "{}", d.reason);
    let orders = glue.get_table().database_name("pams_stack_prod").name("pams_public_orders").send().await.unwrap();
    let names_now: Vec<&str> =
        orders.table().unwrap().storage_descriptor().unwrap().columns().iter().map(|c| c.name()).collect();
    assert_eq!(names_now.last(), Some(&"channel"));
    assert_eq!(names_now.len(), 7);
    let parts =
        glue.get_partitions().database_name("pams_stack_prod").table_name("pams_public_orders").send().await.unwrap();
    assert_eq!(parts.partitions().len(), 2);

    // Redelivery changes nothing.
    let d = set.catalogue(1).await;
    assert!(
        d.reason.contains("0 table(s) created, 0 widened, 0 partition(s) added, 4 already present"),
        "{}",
        d.reason
    );
    let parts =
        glue.get_partitions().database_name("pams_stack_prod").table_name("pams_public_orders").send().await.unwrap();
    assert_eq!(parts.partitions().len(), 2);

    // The table holds the union of both exports' columns (orders gained `channel`).
    let table = glue.get_table().database_name("pams_stack_prod").name("pams_public_orders").send().await.unwrap();
    let columns = table.table().and_then(|t| t.storage_descriptor()).map_or(0, |sd| sd.columns().len());
    assert_eq!(columns, 7);
}

fn sealed(t: ExportTarget) -> ExportTarget {
    ExportTarget { object_lock: Some(ObjectLock::Governance), retain_days: Some(365), ..t }
}

#[tokio::test]
async fn completed_exports_are_manifested_chained_and_sealed() {
    let set = setup(sealed, true).await;
    let d = set.complete(0).await;
    assert_eq!(d.outcome, Outcome::ExportCompleted, "{d:?}");
    let first_key = names::manifest_key("", "pams-stack-prod", &set.facts[0].export_id);
    assert!(
        d.reason.contains(&format!("manifest {first_key} written")) && d.reason.contains("objects sealed"),
        "{}",
        d.reason
    );
    let d = set.complete(1).await;
    assert_eq!(d.outcome, Outcome::ExportCompleted, "{d:?}");

    let first = read_manifest(&set.s3, BUCKET, &first_key).await.unwrap().unwrap();
    let second_key = names::manifest_key("", "pams-stack-prod", &set.facts[1].export_id);
    let second = read_manifest(&set.s3, BUCKET, &second_key).await.unwrap().unwrap();
    let link = second.manifest.previous.as_ref().unwrap();
    assert_eq!(
        (link.export_id.as_str(), link.sha256.as_str()),
        (set.facts[0].export_id.as_str(), first.sha256.as_str())
    );
    let seal = second.manifest.seal.as_ref().unwrap();
    assert_eq!(seal.mode, "GOVERNANCE");
    // Every object carries the retention, and so does the manifest. (HeadObject: the emulator
    // answers GetObjectRetention with a version id with the object itself.)
    for o in &second.manifest.objects {
        let h =
            set.s3.head_object().bucket(BUCKET).key(&o.key).set_version_id(o.version_id.clone()).send().await.unwrap();
        assert_eq!(h.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"), "{}", o.key);
        assert!(h.object_lock_retain_until_date().is_some(), "{}", o.key);
    }
    let h = set.s3.head_object().bucket(BUCKET).key(&second_key).send().await.unwrap();
    assert_eq!(h.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"), "the manifest is sealed too");

    // A redelivered event finds the manifest and changes nothing.
    let d = set.catalogue(1).await;
    assert!(d.reason.contains("already there"), "{}", d.reason);
    let versions = set.s3.list_object_versions().bucket(BUCKET).prefix(&second_key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "never written twice");
}

#[tokio::test]
async fn sealing_a_bucket_without_object_lock_is_an_error_naming_the_bucket() {
    let set = setup(sealed, false).await;
    let d = set.complete(0).await;
    assert_eq!(d.outcome, Outcome::Reject, "{d:?}");
    assert!(
        d.reason.contains(&format!("bucket {BUCKET} has no S3 Object Lock")) && d.reason.contains("object_lock"),
        "{}",
        d.reason
    );
}

#[tokio::test]
async fn the_backfill_manifests_older_exports_oldest_first() {
    let set = setup(sealed, true).await;
    for f in &set.facts {
        upload_dir(&set.s3, set.dir.path(), &set.dir.path().join(&f.export_id)).await;
    }
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_exporter"))
            .args(["evidence", "--backfill", "--env", "prod"])
            .envs(set.moto.env())
            .output()
            .unwrap();
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        (lines, String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code())
    };
    let (lines, err, code) = run();
    assert_eq!(code, Some(0), "{err}");
    let written: Vec<&str> =
        lines.iter().filter(|l| l["outcome"] == "written").map(|l| l["export_id"].as_str().unwrap()).collect();
    assert_eq!(written, [set.facts[0].export_id.as_str(), set.facts[1].export_id.as_str()], "{lines:?}");
    let second = read_manifest(&set.s3, BUCKET, &names::manifest_key("", "pams-stack-prod", &set.facts[1].export_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.manifest.previous.as_ref().map(|l| l.export_id.as_str()), Some(set.facts[0].export_id.as_str()));
    let (lines, err, code) = run();
    assert_eq!(code, Some(0), "{err}");
    assert!(lines.iter().all(|l| l["outcome"] == "already there"), "{lines:?}");
}

/// The previous manifest in Glacier (S3 refuses a GET of it with InvalidObjectState: S3 API
/// Reference, GetObject; moto does too): the completeness comparison cannot be made, and the
/// alert says so, naming the manifest, instead of the findings silently never being made.
#[tokio::test]
async fn a_previous_manifest_in_glacier_is_alerted_as_a_comparison_not_made() {
    let set = setup(|t| t, false).await;
    assert_eq!(set.complete(0).await.outcome, Outcome::ExportCompleted);
    // The first manifest as the lifecycle leaves it: the same bytes and metadata, in Glacier.
    let first = names::manifest_key("", "pams-stack-prod", &set.facts[0].export_id);
    let head = set.s3.head_object().bucket(BUCKET).key(&first).send().await.unwrap();
    let bytes = set.s3.get_object().bucket(BUCKET).key(&first).send().await.unwrap().body.collect().await.unwrap();
    set.s3.delete_object().bucket(BUCKET).key(&first).send().await.unwrap();
    set.s3
        .put_object()
        .bucket(BUCKET)
        .key(&first)
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .set_metadata(head.metadata().cloned())
        .body(bytes.into_bytes().into())
        .send()
        .await
        .unwrap();

    let sns = aws_sdk_sns::Client::new(&set.sdk);
    let sqs = aws_sdk_sqs::Client::new(&set.sdk);
    let topic = sns.create_topic().name("alerts").send().await.unwrap().topic_arn().unwrap().to_owned();
    let queue = sqs.create_queue().queue_name("alerts-seen").send().await.unwrap().queue_url().unwrap().to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .unwrap();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();

    upload_dir(&set.s3, set.dir.path(), &set.dir.path().join(&set.facts[1].export_id)).await;
    // The decision itself is not asserted: after publishing, the alert counts a CloudWatch
    // metric, which this moto does not answer (HTTP 404), so the decision reports that.
    let d = set.catalogue_alerting(1, Some(topic)).await;
    assert!(!d.reason.contains("completeness"), "{d:?}");
    let got =
        sqs.receive_message().queue_url(&queue).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
    let bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    let alert = bodies.iter().find(|b| b.contains("completeness not checked")).unwrap_or_else(|| panic!("{bodies:?}"));
    assert!(alert.contains(&first) && alert.contains("GLACIER"), "{alert}");
}
