//! The AWS SDK side of [`Aws`]: RDS, SSM (export targets), SNS + CloudWatch (alerts) and SQS
//! (retries, requeue, dead-letter). Only conversions and error classification live here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::operation::start_export_task::StartExportTaskError as StartErr;
use aws_sdk_rds::types::Filter;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use chrono::{DateTime, Utc};
use s3exports_config::{ExportTarget, names};

use crate::edge::{Aws, AwsError, ExportAlert};
use crate::event::SqsMessageRef;
use crate::model::{ExportStatus, ExportTask, Snapshot, StartExport, TaskFilter};

/// How long a published export target is trusted before it is read again.
const TARGET_TTL: Duration = Duration::from_secs(300);

/// Where export targets come from.
#[derive(Debug)]
pub enum TargetSource {
    /// The parameters the database stacks publish (`names::target_parameter`).
    Ssm { client: aws_sdk_ssm::Client, environment: String },
    /// A JSON file keyed by database id (`exporter handle --targets`).
    Fixed(HashMap<String, ExportTarget>),
}

#[derive(Debug, Default, Clone)]
pub struct Queues {
    /// The events queue; when unset it is found from the record's queue ARN.
    pub events_queue_url: Option<String>,
    pub dead_letter_queue_url: Option<String>,
}

#[derive(Debug)]
pub struct SdkAws {
    pub rds: aws_sdk_rds::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub targets: TargetSource,
    pub alerts_topic_arn: Option<String>,
    pub queues: Queues,
    cache: Mutex<HashMap<String, (Instant, Option<ExportTarget>)>>,
    queue_urls: Mutex<HashMap<String, String>>,
}

impl SdkAws {
    pub fn new(
        rds: aws_sdk_rds::Client,
        sns: aws_sdk_sns::Client,
        sqs: aws_sdk_sqs::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        targets: TargetSource,
    ) -> Self {
        Self {
            rds,
            sns,
            sqs,
            cloudwatch,
            targets,
            alerts_topic_arn: None,
            queues: Queues::default(),
            cache: Mutex::default(),
            queue_urls: Mutex::default(),
        }
    }

    pub fn from_config(sdk: &aws_config::SdkConfig, targets: TargetSource) -> Self {
        Self::new(
            aws_sdk_rds::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            aws_sdk_sqs::Client::new(sdk),
            aws_sdk_cloudwatch::Client::new(sdk),
            targets,
        )
    }

    async fn queue_url(&self, message: &SqsMessageRef) -> Result<String, AwsError> {
        if let Some(url) = &self.queues.events_queue_url {
            return Ok(url.clone());
        }
        if let Some(url) = lock(&self.queue_urls).get(&message.queue_arn) {
            return Ok(url.clone());
        }
        // arn:aws:sqs:<region>:<account>:<name>
        let parts: Vec<&str> = message.queue_arn.split(':').collect();
        let [_, _, _, _, account, name] = parts.as_slice() else {
            return Err(AwsError::Permanent(format!("`{}` is not an SQS queue ARN", message.queue_arn)));
        };
        let out = self
            .sqs
            .get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let url = out.queue_url().unwrap_or_default().to_owned();
        lock(&self.queue_urls).insert(message.queue_arn.clone(), url.clone());
        Ok(url)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned cache is still a valid cache.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Transient (throttling, 5xx, network) versus the rest, for any SDK error.
pub fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> AwsError {
    const THROTTLING: [&str; 7] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    ];
    let text = error_text(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsError::Transient(text)
        }
        SdkError::ServiceError(ctx) => {
            let code = err.code().unwrap_or_default();
            if THROTTLING.contains(&code) || ctx.raw().status().is_server_error() {
                AwsError::Transient(text)
            } else {
                AwsError::Permanent(text)
            }
        }
        _ => AwsError::Permanent(text),
    }
}

fn error_text<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E, HttpResponse>) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
    }
}

pub fn to_chrono(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

pub fn export_task_from_sdk(t: &aws_sdk_rds::types::ExportTask) -> ExportTask {
    ExportTask {
        id: t.export_task_identifier().unwrap_or_default().to_owned(),
        source_arn: t.source_arn().unwrap_or_default().to_owned(),
        status: ExportStatus::parse(t.status().unwrap_or_default()),
        snapshot_time: to_chrono(t.snapshot_time()),
        task_start_time: to_chrono(t.task_start_time()),
        task_end_time: to_chrono(t.task_end_time()),
        s3_bucket: t.s3_bucket().unwrap_or_default().to_owned(),
        s3_prefix: t.s3_prefix().unwrap_or_default().to_owned(),
        kms_key_id: t.kms_key_id().unwrap_or_default().to_owned(),
        iam_role_arn: t.iam_role_arn().unwrap_or_default().to_owned(),
        percent_progress: t.percent_progress().unwrap_or_default(),
        total_extracted_data_in_gb: t.total_extracted_data_in_gb().unwrap_or_default(),
        failure_cause: t.failure_cause().map(str::to_owned),
        warning_message: t.warning_message().map(str::to_owned),
        export_only: t.export_only().to_vec(),
        cluster: t.source_type().is_some_and(|s| s.as_str().eq_ignore_ascii_case("CLUSTER")),
    }
}

/// DescribeExportTasks, all pages, with the filter applied by the API.
pub async fn describe_export_tasks(
    rds: &aws_sdk_rds::Client,
    filter: &TaskFilter,
) -> Result<Vec<ExportTask>, AwsError> {
    let mut filters = Vec::new();
    let mut add = |name: &str, values: Vec<String>| {
        if !values.is_empty() {
            filters.push(Filter::builder().name(name).set_values(Some(values)).build());
        }
    };
    add("export-task-identifier", filter.export_task_identifier.iter().cloned().collect());
    add("source-arn", filter.source_arn.iter().cloned().collect());
    add("s3-bucket", filter.s3_bucket.iter().cloned().collect());
    add("status", filter.statuses.iter().map(|s| (*s).to_owned()).collect());

    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = rds
            .describe_export_tasks()
            .set_filters((!filters.is_empty()).then(|| filters.clone()))
            .set_marker(marker.clone())
            .max_records(100)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        // Filter again: emulators may ignore some filters, and status case differs.
        out.extend(page.export_tasks().iter().map(export_task_from_sdk).filter(|t| matches(filter, t)));
        marker = page.marker().filter(|m| !m.is_empty()).map(str::to_owned);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

fn matches(filter: &TaskFilter, t: &ExportTask) -> bool {
    filter.export_task_identifier.as_ref().is_none_or(|id| &t.id == id)
        && filter.source_arn.as_ref().is_none_or(|arn| &t.source_arn == arn)
        && filter.s3_bucket.as_ref().is_none_or(|b| &t.s3_bucket == b)
        && (filter.statuses.is_empty() || filter.statuses.iter().any(|s| s.eq_ignore_ascii_case(t.status.as_str())))
}

impl Aws for SdkAws {
    async fn describe_snapshot(&self, id: &str, cluster: bool) -> Result<Option<Snapshot>, AwsError> {
        if cluster {
            let out = match self.rds.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(id).send().await {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_snapshot_not_found_fault()) => {
                    return Ok(None);
                }
                Err(e) => return Err(classify(&e)),
            };
            Ok(out.db_cluster_snapshots().first().map(|s| Snapshot {
                arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_owned(),
                id: s.db_cluster_snapshot_identifier().unwrap_or(id).to_owned(),
                db_id: s.db_cluster_identifier().unwrap_or_default().to_owned(),
                cluster: true,
                snapshot_type: s.snapshot_type().unwrap_or_default().to_owned(),
                engine: s.engine().unwrap_or_default().to_owned(),
                created: to_chrono(s.snapshot_create_time()),
                status: s.status().unwrap_or_default().to_owned(),
            }))
        } else {
            let out = match self.rds.describe_db_snapshots().db_snapshot_identifier(id).send().await {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_db_snapshot_not_found_fault()) => return Ok(None),
                Err(e) => return Err(classify(&e)),
            };
            Ok(out.db_snapshots().first().map(|s| Snapshot {
                arn: s.db_snapshot_arn().unwrap_or_default().to_owned(),
                id: s.db_snapshot_identifier().unwrap_or(id).to_owned(),
                db_id: s.db_instance_identifier().unwrap_or_default().to_owned(),
                cluster: false,
                snapshot_type: s.snapshot_type().unwrap_or_default().to_owned(),
                engine: s.engine().unwrap_or_default().to_owned(),
                created: to_chrono(s.snapshot_create_time()),
                status: s.status().unwrap_or_default().to_owned(),
            }))
        }
    }

    async fn export_tasks(&self, filter: &TaskFilter) -> Result<Vec<ExportTask>, AwsError> {
        describe_export_tasks(&self.rds, filter).await
    }

    async fn start_export(&self, r: &StartExport) -> Result<(), AwsError> {
        let sent = self
            .rds
            .start_export_task()
            .export_task_identifier(&r.export_task_identifier)
            .source_arn(&r.source_arn)
            .s3_bucket_name(&r.s3_bucket)
            .set_s3_prefix((!r.s3_prefix.is_empty()).then(|| r.s3_prefix.clone()))
            .iam_role_arn(&r.iam_role_arn)
            .kms_key_id(&r.kms_key_id)
            .set_export_only((!r.export_only.is_empty()).then(|| r.export_only.clone()))
            .send()
            .await;
        let Err(err) = sent else { return Ok(()) };
        let generic = classify(&err);
        let text = error_text(&err);
        Err(match err.as_service_error() {
            Some(StartErr::ExportTaskAlreadyExistsFault(_)) => AwsError::AlreadyExists,
            Some(StartErr::InvalidExportSourceStateFault(_)) => AwsError::NotReady(text),
            Some(
                StartErr::DbSnapshotNotFoundFault(_)
                | StartErr::DbClusterSnapshotNotFoundFault(_)
                | StartErr::DbClusterNotFoundFault(_),
            ) => AwsError::NotFound(text),
            Some(
                StartErr::IamRoleMissingPermissionsFault(_)
                | StartErr::IamRoleNotFoundFault(_)
                | StartErr::InvalidExportOnlyFault(_)
                | StartErr::InvalidS3BucketFault(_)
                | StartErr::KmsKeyNotAccessibleFault(_),
            ) => AwsError::Misconfigured(text),
            // Every modelled error is matched above: what is left and not transient is an
            // error the model does not name, such as the export quota.
            _ => match generic {
                AwsError::Transient(t) => AwsError::Transient(t),
                _ => AwsError::Unmodelled(text),
            },
        })
    }

    async fn target(&self, db_id: &str) -> Result<Option<ExportTarget>, AwsError> {
        let (client, environment) = match &self.targets {
            TargetSource::Fixed(map) => return Ok(map.get(db_id).cloned()),
            TargetSource::Ssm { client, environment } => (client, environment),
        };
        if let Some((at, cached)) = lock(&self.cache).get(db_id) {
            if at.elapsed() < TARGET_TTL {
                return Ok(cached.clone());
            }
        }
        let name = names::target_parameter(environment, db_id);
        let target = match client.get_parameter().name(&name).send().await {
            Ok(out) => {
                let text = out.parameter().and_then(|p| p.value()).unwrap_or_default();
                let target: ExportTarget = serde_json::from_str(text).map_err(|e| {
                    AwsError::Misconfigured(format!("parameter {name} is not an export target document: {e}"))
                })?;
                Some(target)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => None,
            Err(e) => return Err(classify(&e)),
        };
        lock(&self.cache).insert(db_id.to_owned(), (Instant::now(), target.clone()));
        Ok(target)
    }

    async fn alert(&self, alert: &ExportAlert) -> Result<(), AwsError> {
        if let Some(topic) = &self.alerts_topic_arn {
            let subject =
                format!("RDS snapshot export {}: {}", alert.status.to_ascii_lowercase(), alert.export_task_identifier);
            let body = serde_json::to_string_pretty(alert).unwrap_or_default();
            self.sns
                .publish()
                .topic_arn(topic)
                .subject(subject.chars().take(100).collect::<String>())
                .message(body)
                .send()
                .await
                .map_err(|e| classify(&e))?;
        }
        let mut datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
            .metric_name(names::METRIC_EXPORT_FAILED)
            .value(1.0)
            .unit(aws_sdk_cloudwatch::types::StandardUnit::Count);
        if let Some(db) = &alert.db {
            datum =
                datum.dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("Database").value(db).build());
        }
        // The alarm watches the metric without dimensions; the per-database one is for dashboards.
        let total = aws_sdk_cloudwatch::types::MetricDatum::builder()
            .metric_name(names::METRIC_EXPORT_FAILED)
            .value(1.0)
            .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
            .build();
        self.cloudwatch
            .put_metric_data()
            .namespace(names::METRIC_NAMESPACE)
            .metric_data(total)
            .metric_data(datum.build())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn retry_later(&self, message: &SqsMessageRef, delay: Duration) -> Result<(), AwsError> {
        let url = self.queue_url(message).await?;
        self.sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(&message.receipt_handle)
            .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(900))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn requeue(&self, body: &str, delay: Duration) -> Result<(), AwsError> {
        let Some(url) = &self.queues.events_queue_url else {
            return Err(AwsError::Permanent("EVENTS_QUEUE_URL is not set".into()));
        };
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(i32::try_from(delay.as_secs().min(900)).unwrap_or(900))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn dead_letter(&self, record_id: &str, body: &str, reason: &str) -> Result<(), AwsError> {
        let Some(url) = &self.queues.dead_letter_queue_url else {
            return Err(AwsError::Permanent("DEAD_LETTER_QUEUE_URL is not set".into()));
        };
        let text = |v: &str| {
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| AwsError::Permanent(e.to_string()))
        };
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(if body.is_empty() { "(empty body)" } else { body })
            .message_attributes("reason", text(&reason.chars().take(1000).collect::<String>())?)
            .message_attributes("record", text(record_id)?)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }
}
