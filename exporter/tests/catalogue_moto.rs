//! Cataloguing against moto: the sample export uploaded to a bucket, export-completed events
//! handled, Glue tables and partitions checked; a second export with an extra column widens the
//! table; redelivery changes nothing.

use std::path::Path;

use s3exports_config::{CatalogMode, Defaults, ExportTarget, names};
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

#[tokio::test]
async fn catalogues_exports_into_glue() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let glue = aws_sdk_glue::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);

    // What the database stack provides: bucket, Glue database, target parameter.
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    glue.create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name("pams_stack_prod").build().unwrap())
        .send()
        .await
        .unwrap();
    let target = ExportTarget {
        glue_database: Some("pams_stack_prod".into()),
        ..ExportTarget::new(
            BUCKET,
            String::new(),
            "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
            "arn:aws:kms:us-east-1:123456789012:key/k",
        )
    };
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

    let aws = SdkAws::from_config(&sdk, TargetSource::Ssm { client: ssm.clone(), environment: "prod".into() });
    let cataloguer =
        Cataloguer { s3: s3.clone(), glue: glue.clone(), ssm, environment: "prod".into(), mode: CatalogMode::Glue };
    let settings =
        Settings { environment: "prod".into(), defaults: Defaults::default(), dry_run: false, queue_actions: false };
    let decider =
        Cataloguing { aws: &aws, settings: &settings, cataloguer: &cataloguer, dry_run: false, deadline: None };
    let catalogue = |i: usize| {
        let event = completed_event(&snapshots[i].0, &snapshots[i].1);
        let (aws, settings, decider) = (&aws, &settings, &decider);
        async move { handle_with(aws, settings, &event, decider).await.unwrap().decisions.remove(0) }
    };

    // First export: four tables and one partition each.
    upload_dir(&s3, dir.path(), &dir.path().join(&facts[0].export_id)).await;
    let d = catalogue(0).await;
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
    upload_dir(&s3, dir.path(), &dir.path().join(&facts[1].export_id)).await;
    let d = catalogue(1).await;
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
    let d = catalogue(1).await;
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
