//! `query` on Athena: start, poll with progress, stop on Ctrl-C, and fetch the results —
//! through GetQueryResults when they fit one page, else with one GET of the result file.

use s3exports_rds::error::error_text;
use std::future::Future;
use std::time::Duration;

use aws_sdk_athena::Client;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration, StatementType};

use crate::output::{Column, Rows, parse_csv};

/// GetQueryResults returns at most this many rows a page.
const PAGE_ROWS: i32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("Athena query {id} {state}: {reason}")]
    Failed { id: String, state: String, reason: String },
    #[error("query {0} canceled: StopQueryExecution sent")]
    Canceled(String),
    #[error("{doing}: {message}")]
    Aws { doing: &'static str, message: String },
}

fn aws<E: std::error::Error + 'static>(doing: &'static str) -> impl FnOnce(E) -> QueryError {
    move |e| QueryError::Aws { doing, message: error_text(e) }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub state: String,
    pub elapsed_ms: i64,
    pub scanned_bytes: i64,
}

/// How results are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ResultMode {
    /// GetQueryResults when one page holds them, else the result file.
    #[default]
    Auto,
    /// Always GetQueryResults, page by page.
    Api,
    /// Always one GET of the result file.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultSource {
    /// One page of GetQueryResults.
    Api,
    /// The result CSV in the workgroup's output location.
    ResultFile,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub id: String,
    pub rows: Rows,
    pub scanned_bytes: i64,
    pub elapsed_ms: i64,
    pub source: ResultSource,
}

/// Approximate cost of scanning `bytes` (Athena bills per TB scanned, at least a minimum per query).
pub fn approximate_cost_usd(bytes: i64) -> f64 {
    use crate::audit::prices::{ATHENA_MIN_BILLED_BYTES, ATHENA_PER_TB_SCANNED};
    bytes.max(ATHENA_MIN_BILLED_BYTES) as f64 / 1e12 * ATHENA_PER_TB_SCANNED
}

#[derive(Debug)]
pub struct Athena<'a> {
    pub athena: &'a Client,
    pub s3: &'a aws_sdk_s3::Client,
    pub workgroup: String,
    pub database: Option<String>,
    /// Where Athena writes results; `None` leaves it to the workgroup (which enforces its own).
    pub output_location: Option<String>,
    pub results: ResultMode,
    /// First poll interval; doubles up to 2 s.
    pub poll: Duration,
}

impl Athena<'_> {
    pub async fn run(
        &self,
        sql: &str,
        mut progress: impl FnMut(&Progress),
        cancel: impl Future<Output = ()>,
    ) -> Result<Finished, QueryError> {
        let started = self
            .athena
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.workgroup)
            .set_query_execution_context(
                self.database.as_ref().map(|d| QueryExecutionContext::builder().database(d).build()),
            )
            .set_result_configuration(
                self.output_location.as_ref().map(|l| ResultConfiguration::builder().output_location(l).build()),
            )
            .send()
            .await
            .map_err(aws("starting the query"))?;
        let id = started.query_execution_id().unwrap_or_default().to_owned();
        tokio::pin!(cancel);
        let mut wait = self.poll;
        loop {
            let out = self
                .athena
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(aws("polling the query"))?;
            let q = out.query_execution();
            let status = q.and_then(|q| q.status());
            let state = status.and_then(|s| s.state()).cloned().unwrap_or(QueryExecutionState::Queued);
            let stats = q.and_then(|q| q.statistics());
            let p = Progress {
                state: state.as_str().to_owned(),
                elapsed_ms: stats.and_then(|s| s.total_execution_time_in_millis()).unwrap_or_default(),
                scanned_bytes: stats.and_then(|s| s.data_scanned_in_bytes()).unwrap_or_default(),
            };
            progress(&p);
            match state {
                QueryExecutionState::Succeeded => {
                    let location =
                        q.and_then(|q| q.result_configuration()).and_then(|r| r.output_location()).map(str::to_owned);
                    // Only DML (SELECT) results repeat the header in the first row; SHOW, DESCRIBE
                    // and other statements start with data.
                    let dml = q.and_then(|q| q.statement_type()).is_none_or(|t| *t == StatementType::Dml);
                    let (rows, source) = self.results(&id, location.as_deref(), dml).await?;
                    return Ok(Finished { id, rows, scanned_bytes: p.scanned_bytes, elapsed_ms: p.elapsed_ms, source });
                }
                QueryExecutionState::Failed | QueryExecutionState::Cancelled => {
                    let reason = status.and_then(|s| s.state_change_reason()).unwrap_or("no reason given").to_owned();
                    return Err(QueryError::Failed { id, state: p.state.to_ascii_lowercase(), reason });
                }
                _ => {}
            }
            tokio::select! {
                () = &mut cancel => {
                    self.athena.stop_query_execution().query_execution_id(&id).send().await.map_err(aws("stopping the query"))?;
                    return Err(QueryError::Canceled(id));
                }
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    async fn results(&self, id: &str, location: Option<&str>, dml: bool) -> Result<(Rows, ResultSource), QueryError> {
        if self.results == ResultMode::File {
            let location = location.ok_or_else(|| QueryError::Aws {
                doing: "reading the result file",
                message: "the query has no output location; pass --output-location".into(),
            })?;
            let mut rows = self.result_file(location).await?;
            // Without GetQueryResults the header line names the columns.
            let header = if rows.is_empty() { Vec::new() } else { rows.remove(0) };
            let columns = header.into_iter().map(|n| Column { name: n.unwrap_or_default(), numeric: false }).collect();
            return Ok((Rows { columns, rows }, ResultSource::ResultFile));
        }
        let page = self
            .athena
            .get_query_results()
            .query_execution_id(id)
            .max_results(PAGE_ROWS)
            .send()
            .await
            .map_err(aws("reading the results"))?;
        let columns: Vec<Column> = page
            .result_set()
            .and_then(|r| r.result_set_metadata())
            .map(|m| {
                m.column_info()
                    .iter()
                    .map(|c| Column {
                        name: c.name().to_owned(),
                        numeric: matches!(
                            c.r#type(),
                            "tinyint" | "smallint" | "integer" | "bigint" | "double" | "float" | "real" | "decimal"
                        ),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let more = page.next_token().is_some();
        if more && self.results == ResultMode::Auto {
            if let Some(location) = location {
                // Many pages: one GET of the result file beats a call per 1000 rows.
                let mut rows = self.result_file(location).await?;
                if dml && !rows.is_empty() {
                    rows.remove(0); // header
                }
                return Ok((Rows { columns, rows }, ResultSource::ResultFile));
            }
        }
        let mut rows: Vec<Vec<Option<String>>> = page
            .result_set()
            .map(|r| {
                r.rows()
                    .iter()
                    .map(|row| row.data().iter().map(|d| d.var_char_value().map(str::to_owned)).collect())
                    .collect()
            })
            .unwrap_or_default();
        // The first row of a DML result's first page repeats the header.
        if dml && !rows.is_empty() {
            rows.remove(0);
        }
        let mut token = page.next_token().map(str::to_owned);
        while let Some(t) = token {
            let next = self
                .athena
                .get_query_results()
                .query_execution_id(id)
                .max_results(PAGE_ROWS)
                .next_token(t)
                .send()
                .await
                .map_err(aws("reading the results"))?;
            if let Some(r) = next.result_set() {
                rows.extend(
                    r.rows()
                        .iter()
                        .map(|row| row.data().iter().map(|d| d.var_char_value().map(str::to_owned)).collect()),
                );
            }
            token = next.next_token().map(str::to_owned);
        }
        Ok((Rows { columns, rows }, ResultSource::Api))
    }

    async fn result_file(&self, location: &str) -> Result<Vec<Vec<Option<String>>>, QueryError> {
        let (bucket, key) = location.strip_prefix("s3://").and_then(|rest| rest.split_once('/')).ok_or_else(|| {
            QueryError::Aws { doing: "reading the result file", message: format!("`{location}` is not an s3:// URL") }
        })?;
        let object =
            self.s3.get_object().bucket(bucket).key(key).send().await.map_err(aws("reading the result file"))?;
        let bytes = object.body.collect().await.map_err(aws("reading the result file"))?.into_bytes();
        Ok(parse_csv(&String::from_utf8_lossy(&bytes)))
    }
}
