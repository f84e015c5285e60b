//! Athena and RDS call sequences with mocked SDK clients.

use std::time::Duration;

use athenaq::aws::athena::{Athena, QueryError, ResultMode, ResultSource};
use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
use aws_sdk_athena::operation::stop_query_execution::StopQueryExecutionOutput;
use aws_sdk_athena::types::{
    ColumnInfo, Datum, QueryExecution, QueryExecutionState, QueryExecutionStatistics, QueryExecutionStatus,
    ResultConfiguration, ResultSet, ResultSetMetadata, Row, StatementType,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

fn execution(state: QueryExecutionState, reason: Option<&str>) -> GetQueryExecutionOutput {
    GetQueryExecutionOutput::builder()
        .query_execution(
            QueryExecution::builder()
                .query_execution_id("q-1")
                .status(
                    QueryExecutionStatus::builder()
                        .state(state)
                        .set_state_change_reason(reason.map(str::to_owned))
                        .build(),
                )
                .statistics(
                    QueryExecutionStatistics::builder()
                        .data_scanned_in_bytes(2_500_000)
                        .total_execution_time_in_millis(1_200)
                        .build(),
                )
                .result_configuration(
                    ResultConfiguration::builder().output_location("s3://results-bucket/results/q-1.csv").build(),
                )
                .build(),
        )
        .build()
}

fn row(values: &[Option<&str>]) -> Row {
    Row::builder()
        .set_data(Some(
            values.iter().map(|v| Datum::builder().set_var_char_value(v.map(str::to_owned)).build()).collect(),
        ))
        .build()
}

fn page(rows: Vec<Row>, next: Option<&str>) -> GetQueryResultsOutput {
    let metadata = ResultSetMetadata::builder()
        .column_info(ColumnInfo::builder().name("name").r#type("varchar").build().unwrap())
        .column_info(ColumnInfo::builder().name("n").r#type("bigint").build().unwrap())
        .build();
    GetQueryResultsOutput::builder()
        .result_set(ResultSet::builder().set_rows(Some(rows)).result_set_metadata(metadata).build())
        .set_next_token(next.map(str::to_owned))
        .build()
}

fn start() -> Rule {
    mock!(aws_sdk_athena::Client::start_query_execution)
        .match_requests(|r| {
            r.work_group() == Some("rds-snapshot-s3exports-prod")
                && r.query_execution_context().and_then(|c| c.database()) == Some("pams_stack_prod")
        })
        .then_output(|| StartQueryExecutionOutput::builder().query_execution_id("q-1").build())
}

fn states(list: &'static [QueryExecutionState], reason: Option<&'static str>) -> Rule {
    let mut seq = mock!(aws_sdk_athena::Client::get_query_execution).sequence();
    for s in list {
        seq = seq.output(move || execution(s.clone(), reason));
    }
    seq.build()
}

async fn run(
    rules: &[&Rule],
    s3_rules: &[&Rule],
    cancel_now: bool,
) -> (Result<athenaq::aws::athena::Finished, QueryError>, Vec<String>) {
    run_mode(rules, s3_rules, cancel_now, ResultMode::Auto).await
}

async fn run_mode(
    rules: &[&Rule],
    s3_rules: &[&Rule],
    cancel_now: bool,
    results: ResultMode,
) -> (Result<athenaq::aws::athena::Finished, QueryError>, Vec<String>) {
    let athena = mock_client!(aws_sdk_athena, RuleMode::MatchAny, rules);
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules);
    let q = Athena {
        athena: &athena,
        s3: &s3,
        workgroup: "rds-snapshot-s3exports-prod".into(),
        database: Some("pams_stack_prod".into()),
        output_location: None,
        results,
        poll: Duration::from_millis(1),
    };
    let mut seen = Vec::new();
    let cancel = async move {
        if !cancel_now {
            std::future::pending::<()>().await;
        }
    };
    let result = q.run("SELECT 1", |p| seen.push(p.state.clone()), cancel).await;
    (result, seen)
}

#[tokio::test]
async fn polls_until_succeeded_and_skips_the_header_row() {
    use QueryExecutionState::*;
    let exec = states(&[Queued, Running, Running, Succeeded], None);
    let results = mock!(aws_sdk_athena::Client::get_query_results).then_output(|| {
        page(
            vec![
                row(&[Some("name"), Some("n")]),
                row(&[Some("a"), Some("1")]),
                row(&[None, Some("2")]),
                row(&[Some(""), None]),
            ],
            None,
        )
    });
    let (result, seen) = run(&[&start(), &exec, &results], &[], false).await;
    let done = result.unwrap();
    assert_eq!(seen, ["QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"]);
    assert_eq!(done.source, ResultSource::Api);
    assert_eq!(done.scanned_bytes, 2_500_000);
    assert_eq!(done.rows.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["name", "n"]);
    assert_eq!(
        done.rows.rows,
        vec![vec![Some("a".into()), Some("1".into())], vec![None, Some("2".into())], vec![Some(String::new()), None]]
    );
    assert!(done.rows.columns[1].numeric);
}

#[tokio::test]
async fn only_dml_results_lose_their_first_row() {
    // SHOW / DESCRIBE (UTILITY, DDL) results have no header row: their first row is data.
    let utility = mock!(aws_sdk_athena::Client::get_query_execution).then_output(|| {
        GetQueryExecutionOutput::builder()
            .query_execution(
                QueryExecution::builder()
                    .query_execution_id("q-1")
                    .statement_type(StatementType::Utility)
                    .status(QueryExecutionStatus::builder().state(QueryExecutionState::Succeeded).build())
                    .build(),
            )
            .build()
    });
    let results = mock!(aws_sdk_athena::Client::get_query_results).then_output(|| {
        page(vec![row(&[Some("pams_public_orders"), None]), row(&[Some("pams_public_events"), None])], None)
    });
    let (result, _) = run(&[&start(), &utility, &results], &[], false).await;
    let rows = result.unwrap().rows.rows;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][0].as_deref(), Some("pams_public_orders"));
}

#[tokio::test]
async fn failed_query_reports_athenas_reason() {
    use QueryExecutionState::*;
    let exec = states(&[Running, Failed], Some("TABLE_NOT_FOUND: line 1:15: Table 'x' does not exist"));
    let (result, _) = run(&[&start(), &exec], &[], false).await;
    match result {
        Err(QueryError::Failed { state, reason, .. }) => {
            assert_eq!(state, "failed");
            assert!(reason.contains("TABLE_NOT_FOUND"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn many_pages_are_read_from_the_result_file_in_one_get() {
    use QueryExecutionState::*;
    let exec = states(&[Succeeded], None);
    let results = mock!(aws_sdk_athena::Client::get_query_results)
        .then_output(|| page(vec![row(&[Some("name"), Some("n")]), row(&[Some("a"), Some("1")])], Some("more")));
    let object = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.bucket() == Some("results-bucket") && r.key() == Some("results/q-1.csv"))
        .then_output(|| {
            aws_sdk_s3::operation::get_object::GetObjectOutput::builder()
                .body(aws_smithy_types::byte_stream::ByteStream::from_static(
                    b"\"name\",\"n\"\n\"a\",\"1\"\n,\"2\"\n\"\",\n",
                ))
                .build()
        });
    let (result, _) = run(&[&start(), &exec, &results], &[&object], false).await;
    let done = result.unwrap();
    assert_eq!(done.source, ResultSource::ResultFile);
    assert_eq!(results.num_calls(), 1, "no paging through the API");
    assert_eq!(object.num_calls(), 1);
    assert_eq!(
        done.rows.rows,
        vec![vec![Some("a".into()), Some("1".into())], vec![None, Some("2".into())], vec![Some(String::new()), None]]
    );
}

#[tokio::test]
async fn ctrl_c_stops_the_athena_query() {
    use QueryExecutionState::*;
    let exec = mock!(aws_sdk_athena::Client::get_query_execution).then_output(|| execution(Running, None));
    let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
        .match_requests(|r| r.query_execution_id() == Some("q-1"))
        .then_output(|| StopQueryExecutionOutput::builder().build());
    let (result, _) = run(&[&start(), &exec, &stop], &[], true).await;
    assert!(matches!(result, Err(QueryError::Canceled(id)) if id == "q-1"));
    assert_eq!(stop.num_calls(), 1);
}

#[tokio::test]
async fn describe_export_tasks_reads_every_page_and_filters() {
    use aws_sdk_rds::operation::describe_export_tasks::DescribeExportTasksOutput;
    use aws_sdk_rds::types::ExportTask;
    let pages = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .sequence()
        .output(|| {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder().export_task_identifier("a").s3_bucket("b1").status("complete").build(),
                )
                .export_tasks(
                    ExportTask::builder().export_task_identifier("b").s3_bucket("other").status("COMPLETE").build(),
                )
                .marker("page-2")
                .build()
        })
        .output(|| {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder().export_task_identifier("c").s3_bucket("b1").status("FAILED").build(),
                )
                .build()
        })
        .build();
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&pages]);
    let filter = s3exports_rds::TaskFilter { s3_bucket: Some("b1".into()), ..Default::default() };
    let tasks = s3exports_rds::sdk::describe_export_tasks(&rds, &filter).await.unwrap();
    assert_eq!(tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(tasks[0].status, s3exports_rds::ExportStatus::Complete, "lower-case status from emulators");
    assert_eq!(pages.num_calls(), 2);
}

#[tokio::test]
async fn api_mode_pages_through_get_query_results() {
    use QueryExecutionState::*;
    let exec = states(&[Succeeded], None);
    let first = mock!(aws_sdk_athena::Client::get_query_results)
        .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(1000))
        .then_output(|| page(vec![row(&[Some("name"), Some("n")]), row(&[Some("a"), Some("1")])], Some("page-2")));
    let second = mock!(aws_sdk_athena::Client::get_query_results)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| page(vec![row(&[Some("b"), Some("2")]), row(&[Some("c"), None])], None));
    let (result, _) = run_mode(&[&start(), &exec, &first, &second], &[], false, ResultMode::Api).await;
    let done = result.unwrap();
    assert_eq!(done.source, ResultSource::Api);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    // Only the first page repeats the header.
    assert_eq!(
        done.rows.rows,
        vec![
            vec![Some("a".into()), Some("1".into())],
            vec![Some("b".into()), Some("2".into())],
            vec![Some("c".into()), None]
        ]
    );
}
