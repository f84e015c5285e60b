//! athenaq against moto: list-exports over real export tasks, and a query whose seeded results
//! are read back through GetQueryResults and from the result file in S3.

use std::process::Command;

use s3exports_testkit::Moto;
use serde_json::{Value, json};

fn athenaq(moto: &Moto, args: &[&str]) -> String {
    let out = crate::support::run(moto, args);
    assert!(out.status.success(), "athenaq {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn list_exports_over_real_export_tasks() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let arn = crate::support::db_snapshot(&rds, "pams-stack-prod", "before-upgrade").await;
    for (id, bucket) in [
        ("pams-one", "pams-db-snapshots-export"),
        ("pams-two", "pams-db-snapshots-export"),
        ("elsewhere", "someone-elses-bucket"),
    ] {
        s3exports_testkit::start_export(&rds, id, &arn, bucket, "arn:aws:kms:us-east-1:123456789012:key/k").await;
    }
    let out = athenaq(&moto, &["--env", "prod", "list-exports", "--format", "json"]);
    let rows: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["export_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pams-one", "pams-two"], "only the environment's buckets");
    assert_eq!(rows[0]["database"], "pams-stack-prod");
    assert_eq!(rows[0]["snapshot_type"], "manual");
    assert_eq!(rows[0]["status"], "COMPLETE");
    assert_eq!(rows[0]["s3_location"], "s3://pams-db-snapshots-export/pams-one/");
    let csv = athenaq(
        &moto,
        &["--env", "prod", "list-exports", "--status", "complete", "--db", "pams-stack-prod", "--format", "csv"],
    );
    assert_eq!(csv.lines().count(), 3);
}

#[tokio::test]
async fn query_results_through_the_api_and_the_result_file() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let athena = aws_sdk_athena::Client::new(&sdk);
    athena.create_work_group().name("rds-snapshot-s3exports-prod").send().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    s3.create_bucket().bucket("athena-results").send().await.unwrap();

    // Athena's first row repeats the header; NULL has no VarCharValue, "" has an empty one.
    let result = json!({
        "rows": [
            {"Data": [{"VarCharValue": "customer"}, {"VarCharValue": "orders"}, {"VarCharValue": "note"}]},
            {"Data": [{"VarCharValue": "Zoë Müller"}, {"VarCharValue": "3"}, {}]},
            {"Data": [{"VarCharValue": "李小龙"}, {"VarCharValue": "1"}, {"VarCharValue": ""}]}
        ],
        "column_info": [
            {"Name": "customer", "Type": "varchar"}, {"Name": "orders", "Type": "bigint"}, {"Name": "note", "Type": "varchar"}
        ]
    });
    let seeded = moto.post_json(
        "/moto-api/static/athena/query-results",
        &json!({"results": [result.clone(), result.clone(), result]}).to_string(),
    );
    assert_eq!(seeded, 201);

    let sql = "SELECT customer, count(*) AS orders, max(note) AS note FROM pams_public_orders GROUP BY 1";
    let expected = "customer,orders,note\nZoë Müller,3,\n李小龙,1,\"\"\n";
    let api = athenaq(
        &moto,
        &["--env", "prod", "query", "--db", "pams-stack-prod", "--results", "api", "--format", "csv", sql],
    );
    assert_eq!(api, expected);

    let file = athenaq(
        &moto,
        &[
            "--env",
            "prod",
            "query",
            "--db",
            "pams-stack-prod",
            "--results",
            "file",
            "--output-location",
            "s3://athena-results/athenaq/",
            "--format",
            "csv",
            sql,
        ],
    );
    assert_eq!(file, expected);
    let listed = s3.list_objects_v2().bucket("athena-results").prefix("athenaq/").send().await.unwrap();
    assert_eq!(listed.contents().len(), 1, "the result file was read from S3");

    let json = athenaq(&moto, &["--env", "prod", "query", "--db", "pams-stack-prod", "--format", "json", sql]);
    let rows: Vec<Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows[0], json!({"customer": "Zoë Müller", "orders": 3, "note": null}));
    assert_eq!(rows[1], json!({"customer": "李小龙", "orders": 1, "note": ""}));
}

#[tokio::test]
async fn missing_lists_the_snapshots_without_an_export_and_fails() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    s3exports_testkit::create_db_instance(&rds, "pams-stack-prod", "postgres").await;
    let mut arns = Vec::new();
    for id in ["exported-by-hand", "never-exported"] {
        let snap = rds
            .create_db_snapshot()
            .db_instance_identifier("pams-stack-prod")
            .db_snapshot_identifier(id)
            .send()
            .await
            .unwrap();
        arns.push(snap.db_snapshot().unwrap().db_snapshot_arn().unwrap().to_owned());
    }
    // Exported to the database's bucket under an id of its own, and to another bucket: only the
    // first counts.
    for (id, arn, bucket) in
        [("by-hand", &arns[0], "pams-db-snapshots-export"), ("elsewhere", &arns[1], "someone-elses-bucket")]
    {
        s3exports_testkit::start_export(&rds, id, arn, bucket, "arn:aws:kms:us-east-1:123456789012:key/k").await;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
        .args(["--env", "prod", "list-exports", "--missing", "--format", "json"])
        .envs(moto.env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "gaps are a failed check: {stderr}");
    let rows: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let snapshots: Vec<&str> = rows.iter().map(|r| r["snapshot"].as_str().unwrap()).collect();
    // moto's automated snapshot of the instance has no export either.
    assert!(snapshots.contains(&"never-exported") && !snapshots.contains(&"exported-by-hand"), "{rows:?}");
    let row = rows.iter().find(|r| r["snapshot"] == "never-exported").unwrap();
    assert_eq!((row["database"].as_str(), row["status"].as_str()), (Some("pams-stack-prod"), Some("missing")));
    assert!(row["export_id"].as_str().unwrap().starts_with("pams-stack-prod-"), "{row}");
    assert!(stderr.contains(&format!("{} of 3 snapshot(s) examined have no export", rows.len())), "{stderr}");
}

/// `--db` is one rule for every command: RDS identifiers are case-insensitive ("stored as a
/// lowercase string", DBInstanceIdentifier in the Amazon RDS API Reference), so `list-exports`
/// and `list-exports --missing` select the same database in any case, and refuse the same names.
#[tokio::test]
async fn db_selects_the_same_database_in_list_exports_and_its_missing_list() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    s3exports_testkit::create_db_instance(&rds, "pams-stack-prod", "postgres").await;
    let mut arns = Vec::new();
    for id in ["exported", "never-exported"] {
        let snap =
            rds.create_db_snapshot().db_instance_identifier("pams-stack-prod").db_snapshot_identifier(id).send().await;
        arns.push(snap.unwrap().db_snapshot().unwrap().db_snapshot_arn().unwrap().to_owned());
    }
    let key = "arn:aws:kms:us-east-1:123456789012:key/k";
    s3exports_testkit::start_export(&rds, "pams-one", &arns[0], "pams-db-snapshots-export", key).await;
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_athenaq"))
            .args(["--env", "prod", "--format", "json"])
            .args(args)
            .envs(moto.env())
            .output()
            .unwrap();
        let rows: Vec<Value> =
            String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        (rows, String::from_utf8_lossy(&out.stderr).into_owned(), out.status.code())
    };
    for db in ["pams-stack-prod", "PAMS-Stack-Prod"] {
        let (exports, err, code) = run(&["list-exports", "--no-storage", "--db", db]);
        assert_eq!(code, Some(0), "{db}: {err}");
        let ids: Vec<&str> = exports.iter().filter_map(|r| r["export_id"].as_str()).collect();
        assert_eq!(ids, ["pams-one"], "{db}: {exports:?}");
        let (gaps, err, code) = run(&["list-exports", "--missing", "--db", db]);
        assert_eq!(code, Some(1), "{db}: gaps are a failed check: {err}");
        assert!(gaps.iter().any(|r| r["snapshot"] == "never-exported"), "{db}: {gaps:?}");
        assert!(gaps.iter().all(|r| r["database"] == "pams-stack-prod"), "{db}: {gaps:?}");
    }
    for missing in [false, true] {
        let args: &[&str] =
            if missing { &["list-exports", "--missing", "--db", "pams"] } else { &["list-exports", "--db", "pams"] };
        let (_, err, code) = run(args);
        assert_eq!(code, Some(1));
        assert!(err.contains("database `pams` is not configured in prod"), "{err}");
    }
}
