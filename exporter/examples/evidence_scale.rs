//! How long manifesting and sealing a large export takes: N part files (default 20,000, in
//! tables of 1,000) uploaded to a bucket with Object Lock in the local emulator, then the
//! cataloguing function's evidence step on it: every object listed with its versions and S3's
//! checksum, every footer read, the manifest written and linked, every object and the manifest
//! sealed. Prints the figures as one JSON line and fails past the function's 900 s.
//!
//! `cargo run -p s3exports-exporter --example evidence_scale -- [PARTS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use s3exports_config::{CatalogMode, ExportTarget, ObjectLock};
use s3exports_evidence::Sealed;
use s3exports_exporter::catalogue::Cataloguer;
use s3exports_rds::layout::TableStatus;
use s3exports_rds::{ExportStatus, ExportTask};
use s3exports_testkit::Moto;

const BUCKET: &str = "big-db-snapshots-export";
const LIMIT: Duration = Duration::from_secs(900);
const PARTS_PER_TABLE: usize = 1_000;

#[tokio::main]
async fn main() -> Result<()> {
    let parts: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket(BUCKET).object_lock_enabled_for_bucket(true).send().await?;

    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])?;
    let mut part = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut part, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    let export_id = "big-db-20261124-0310-000000000000";
    let tables = parts.div_ceil(PARTS_PER_TABLE);
    let setup = Instant::now();
    futures::stream::iter(0..parts)
        .map(|i| {
            let (s3, part) = (&s3, &part);
            async move {
                let key = format!("{export_id}/big/public.t{:03}/1/part-{i:05}.gz.parquet", i / PARTS_PER_TABLE);
                s3.put_object().bucket(BUCKET).key(key).body(part.clone().into()).send().await.map(|_| ())
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!("set up {parts} part files in {tables} tables in {:.1} s", setup.elapsed().as_secs_f64());

    let entries: Vec<TableStatus> = (0..tables)
        .map(|t| TableStatus { target: format!("big.public.t{t:03}"), status: "COMPLETE".into(), ..Default::default() })
        .collect();
    let task = ExportTask {
        snapshot_time: chrono::DateTime::from_timestamp(1_795_490_000, 0),
        s3_bucket: BUCKET.into(),
        ..ExportTask::new(
            export_id,
            "arn:aws:rds:us-east-1:123456789012:snapshot:rds:big-db-2026-11-24-03-10",
            ExportStatus::Complete,
        )
    };
    let target = ExportTarget {
        object_lock: Some(ObjectLock::Governance),
        retain_days: Some(365),
        ..ExportTarget::new(BUCKET, "", "arn:aws:iam::123456789012:role/r", "arn:aws:kms:us-east-1:123456789012:key/k")
    };
    let cataloguer = Cataloguer {
        s3,
        glue: aws_sdk_glue::Client::new(&sdk),
        ssm: aws_sdk_ssm::Client::new(&sdk),
        environment: "prod".into(),
        mode: CatalogMode::Glue,
    };
    let started = Instant::now();
    // As the function would: stop sealing before its 900 s, leaving the rest to the next run.
    let deadline = started + LIMIT - Duration::from_secs(20);
    let report = cataloguer
        .evidence(&task, "big-db", &target, &entries, Some(deadline))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let took = started.elapsed();
    let sealed = match report.sealed {
        Sealed::Done { objects } => objects,
        other => bail!("not sealed whole within the limit: {other:?}"),
    };
    println!(
        "{}",
        serde_json::json!({
            "parts": parts,
            "objects_sealed": sealed,
            "seconds": (took.as_secs_f64() * 10.0).round() / 10.0,
            "objects_per_second": (sealed as f64 / took.as_secs_f64()).round(),
            "limit_seconds": LIMIT.as_secs(),
            "endpoint": "moto 5.2.1 on loopback",
        })
    );
    eprintln!("{}", report.summary());
    if took > LIMIT {
        bail!("took longer than the function's time limit");
    }
    Ok(())
}
