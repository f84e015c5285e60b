//! Crawler mode (`catalog = "crawler"`): the cataloguer points the database's crawler at the
//! completed export's folder only and starts it; a running crawler means try again later.

use aws_sdk_glue::operation::start_crawler::{StartCrawlerError, StartCrawlerOutput};
use aws_sdk_glue::operation::update_crawler::UpdateCrawlerOutput;
use aws_sdk_glue::types::error::CrawlerRunningException;
use aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathOutput;
use aws_sdk_ssm::types::Parameter;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use s3exports_config::CatalogMode;
use s3exports_exporter::catalogue::Cataloguer;
use s3exports_rds::AwsError;
use s3exports_rds::{ExportStatus, ExportTask};

fn task() -> ExportTask {
    ExportTask {
        id: "orders-db-20261124-0310-abcdef012345".into(),
        source_arn: "arn:aws:rds:eu-west-1:1:snapshot:rds:orders-db-2026-11-24-03-10".into(),
        status: ExportStatus::Complete,
        snapshot_time: chrono::DateTime::from_timestamp(1_795_490_000, 0),
        task_start_time: None,
        task_end_time: None,
        s3_bucket: "orders-exports".into(),
        s3_prefix: "rds".into(),
        kms_key_id: String::new(),
        iam_role_arn: String::new(),
        percent_progress: 100,
        total_extracted_data_in_gb: 1,
        failure_cause: None,
        warning_message: None,
        export_only: vec![],
        cluster: false,
    }
}

fn targets() -> Rule {
    mock!(aws_sdk_ssm::Client::get_parameters_by_path)
        .match_requests(|r| r.path() == Some("/rds-snapshot-s3exports/prod/databases"))
        .then_output(|| {
            GetParametersByPathOutput::builder()
                .parameters(
                    Parameter::builder()
                        .name("/rds-snapshot-s3exports/prod/databases/orders-db")
                        .value(r#"{"s3_bucket_name":"orders-exports","s3_prefix":"rds","iam_role_arn":"arn:aws:iam::1:role/x","kms_key_arn":"arn:aws:kms:eu-west-1:1:key/k"}"#)
                        .build(),
                )
                .build()
        })
}

/// The export's `export_tables_info`, which the cataloguer reads in both modes (the manifest
/// records it).
fn tables_info() -> [Rule; 2] {
    let key = "rds/orders-db-20261124-0310-abcdef012345/export_tables_info_orders-db-20261124-0310-abcdef012345_from_1_to_1.json";
    [
        mock!(aws_sdk_s3::Client::list_objects_v2).then_output(move || {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder()
                .contents(aws_sdk_s3::types::Object::builder().key(key).size(10).build())
                .build()
        }),
        mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            let body = r#"{"perTableStatus":[{"target":"orders.public.orders","status":"COMPLETE"}]}"#;
            aws_sdk_s3::operation::get_object::GetObjectOutput::builder().body(body.as_bytes().to_vec().into()).build()
        }),
    ]
}

fn cataloguer(glue_rules: &[&Rule], ssm_rules: &[&Rule]) -> Cataloguer {
    let [list, get] = tables_info();
    Cataloguer {
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&list, &get]),
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, glue_rules),
        ssm: mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm_rules),
        environment: "prod".into(),
        mode: CatalogMode::Crawler,
    }
}

/// The tables earlier crawls made: one without `read_restored_glacier_objects`, one with it.
fn crawled_tables() -> Rule {
    mock!(aws_sdk_glue::Client::get_tables).then_output(|| {
        let table = |name: &str, marked: bool| {
            let mut t = aws_sdk_glue::types::Table::builder().name(name).parameters("classification", "parquet");
            if marked {
                t = t.parameters("read_restored_glacier_objects", "true");
            }
            t.build().unwrap()
        };
        aws_sdk_glue::operation::get_tables::GetTablesOutput::builder()
            .table_list(table("orders_db_public_orders", false))
            .table_list(table("orders_db_public_items", true))
            .build()
    })
}

fn mark_table() -> Rule {
    mock!(aws_sdk_glue::Client::update_table)
        .match_requests(|r| {
            r.table_input().is_some_and(|t| {
                t.name() == "orders_db_public_orders"
                    && t.parameters().and_then(|p| p.get("read_restored_glacier_objects")).map(String::as_str)
                        == Some("true")
                    && t.parameters().and_then(|p| p.get("classification")).map(String::as_str) == Some("parquet")
            })
        })
        .then_output(|| aws_sdk_glue::operation::update_table::UpdateTableOutput::builder().build())
}

#[tokio::test]
async fn crawler_is_pointed_at_the_export_folder_and_started() {
    let update = mock!(aws_sdk_glue::Client::update_crawler)
        .match_requests(|r| {
            r.name() == Some("rds-snapshot-s3exports-prod-orders-db")
                && r.targets().and_then(|t| t.s3_targets().first()).and_then(|s| s.path())
                    == Some("s3://orders-exports/rds/orders-db-20261124-0310-abcdef012345/")
        })
        .then_output(|| UpdateCrawlerOutput::builder().build());
    let start = mock!(aws_sdk_glue::Client::start_crawler).then_output(|| StartCrawlerOutput::builder().build());
    let (tables, mark) = (crawled_tables(), mark_table());
    let report = cataloguer(&[&update, &start, &tables, &mark], &[&targets()]).catalogue(&task()).await.unwrap();
    assert_eq!(report.crawler_started.as_deref(), Some("rds-snapshot-s3exports-prod-orders-db"));
    assert_eq!((update.num_calls(), start.num_calls()), (1, 1));
    // Crawlers leave the property out: the tables earlier crawls made get it now.
    assert_eq!(mark.num_calls(), 1, "only the table that lacked it");
    assert_eq!(
        report.summary(),
        "crawler rds-snapshot-s3exports-prod-orders-db started on export orders-db-20261124-0310-abcdef012345; \
         read_restored_glacier_objects set on orders_db_public_orders"
    );
}

#[tokio::test]
async fn a_running_crawler_is_retried_later() {
    let update = mock!(aws_sdk_glue::Client::update_crawler).then_output(|| UpdateCrawlerOutput::builder().build());
    let start = mock!(aws_sdk_glue::Client::start_crawler)
        .then_error(|| StartCrawlerError::CrawlerRunningException(CrawlerRunningException::builder().build()));
    let (tables, mark) = (crawled_tables(), mark_table());
    let err = cataloguer(&[&update, &start, &tables, &mark], &[&targets()]).catalogue(&task()).await.unwrap_err();
    assert!(matches!(err, AwsError::Transient(ref m) if m.contains("is running")), "{err:?}");
}

#[tokio::test]
async fn an_export_to_an_unknown_bucket_is_misconfiguration() {
    let mut t = task();
    t.s3_bucket = "somebody-elses".into();
    let err = cataloguer(&[], &[&targets()]).catalogue(&t).await.unwrap_err();
    assert!(
        matches!(err, AwsError::Misconfigured(ref m) if m.contains("no database of environment prod exports to bucket somebody-elses")),
        "{err:?}"
    );
}
