//! How long cataloguing a wide export takes: N tables (default 2,000) uploaded to a local
//! emulator, then catalogued as the cataloguing function would. Prints the time and fails when
//! it exceeds the function's 900 s limit.
//!
//! `cargo run --release -p s3exports-exporter --example catalogue_scale -- [TABLES]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use s3exports_config::{CatalogMode, ExportTarget, names};
use s3exports_exporter::catalogue::Cataloguer;
use s3exports_rds::layout::{TableStatus, TablesInfo};
use s3exports_rds::{ExportStatus, ExportTask};
use s3exports_testkit::Moto;

const BUCKET: &str = "wide-db-snapshots-export";
const LIMIT: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() -> Result<()> {
    let tables: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let glue = aws_sdk_glue::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    s3.create_bucket().bucket(BUCKET).send().await?;
    glue.create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name("wide_db").build()?)
        .send()
        .await?;
    let target = ExportTarget {
        glue_database: Some("wide_db".into()),
        ..ExportTarget::new(
            BUCKET,
            String::new(),
            "arn:aws:iam::123456789012:role/rds-snapshot-s3exports/prod/export",
            "arn:aws:kms:us-east-1:123456789012:key/k",
        )
    };
    ssm.put_parameter()
        .name(names::target_parameter("prod", "wide-db"))
        .value(serde_json::to_string(&target)?)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await?;

    // One small part file, uploaded once per table.
    let schema =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![1, 2])), Arc::new(StringArray::from(vec![Some("a"), None]))],
    )?;
    let mut part = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut part, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    let export_id = "wide-db-20261124-0310-000000000000";
    let setup = Instant::now();
    futures::stream::iter(0..tables)
        .map(|i| {
            let (s3, part) = (&s3, &part);
            async move {
                let key = format!("{export_id}/wide/public.t{i:05}/1/part-00000.gz.parquet");
                s3.put_object().bucket(BUCKET).key(key).body(part.clone().into()).send().await.map(|_| ())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let info = TablesInfo {
        per_table_status: (0..tables)
            .map(|i| TableStatus {
                target: format!("wide.public.t{i:05}"),
                status: "COMPLETE".into(),
                ..Default::default()
            })
            .collect(),
    };
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("{export_id}/export_tables_info_{export_id}_from_1_to_{tables}.json"))
        .body(serde_json::to_vec(&info)?.into())
        .send()
        .await?;
    eprintln!("set up {tables} tables in {:.1} s", setup.elapsed().as_secs_f64());

    let task = ExportTask {
        id: export_id.into(),
        source_arn: "arn:aws:rds:us-east-1:123456789012:snapshot:rds:wide-db-2026-11-24-03-10".into(),
        status: ExportStatus::Complete,
        snapshot_time: chrono::DateTime::from_timestamp(1_795_490_000, 0),
        task_start_time: None,
        task_end_time: None,
        s3_bucket: BUCKET.into(),
        s3_prefix: String::new(),
        kms_key_id: String::new(),
        iam_role_arn: String::new(),
        percent_progress: 100,
        total_extracted_data_in_gb: 0,
        failure_cause: None,
        warning_message: None,
        export_only: vec![],
        cluster: false,
    };
    let cataloguer = Cataloguer { s3, glue, ssm, environment: "prod".into(), mode: CatalogMode::Glue };
    let started = Instant::now();
    let report = cataloguer.catalogue(&task).await.map_err(|e| anyhow::anyhow!(e))?;
    let took = started.elapsed();
    println!(
        "catalogued {} tables ({} created, {} partitions) in {:.1} s against the local emulator; limit {} s",
        tables,
        report.tables_created.len(),
        report.partitions_added,
        took.as_secs_f64(),
        LIMIT.as_secs()
    );
    if report.tables_created.len() != tables || report.partitions_added != tables {
        bail!("expected {tables} tables and partitions: {}", report.summary());
    }
    if took > LIMIT {
        bail!("took longer than the function's time limit");
    }
    Ok(())
}
