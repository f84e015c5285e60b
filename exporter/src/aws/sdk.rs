//! The AWS SDK side of [`Aws`]: RDS, SSM (export targets), SNS + CloudWatch (alerts) and SQS
//! (retries, the pending queue, dead-letter). Only conversions and error classification live here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_rds::operation::start_export_task::StartExportTaskError as StartErr;
use s3exports_config::{ExportTarget, names};
use s3exports_rds::{AwsError, ExportTask, Snapshot, StartExport, TaskFilter, classify, sdk, sdk_error_text};

use crate::aws::{Aws, ExportAlert};
use crate::event::SqsMessageRef;
use crate::export::pending::{MESSAGE_GROUP, Parked, PendingExport, receive_attempt_id};

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
    /// Exports waiting for a free slot (FIFO).
    pub pending_queue_url: Option<String>,
}

impl Queues {
    /// The queues a deployed function is given in its environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
        Self {
            events_queue_url: var("EVENTS_QUEUE_URL"),
            dead_letter_queue_url: var("DEAD_LETTER_QUEUE_URL"),
            pending_queue_url: var("PENDING_QUEUE_URL"),
        }
    }

    fn pending(&self) -> Result<&str, AwsError> {
        self.pending_queue_url
            .as_deref()
            .ok_or_else(|| AwsError::Permanent("PENDING_QUEUE_URL is not set: no pending queue to wait in".into()))
    }
}

/// How long a dispatch holds the pending exports it took (and with them the queue's lock).
const PENDING_HOLD_SECONDS: i32 = 120;

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

impl SdkAws {
    /// `total` without dimensions and each database's value, at most 1,000 values a call.
    async fn put_metric(&self, metric: &str, total: f64, per_db: &[(String, f64)]) -> Result<(), AwsError> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let datum = |value: f64| MetricDatum::builder().metric_name(metric).value(value).unit(StandardUnit::Count);
        let mut data = vec![datum(total).build()];
        data.extend(per_db.iter().map(|(db, value)| {
            datum(*value).dimensions(Dimension::builder().name("Database").value(db).build()).build()
        }));
        for chunk in data.chunks(1000) {
            self.cloudwatch
                .put_metric_data()
                .namespace(names::METRIC_NAMESPACE)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(())
    }
}

/// Every export target the environment's database stacks published: `(database, target)`.
/// A parameter that is not a target document is skipped with a warning, never fatal for the rest.
pub async fn published_targets(
    ssm: &aws_sdk_ssm::Client,
    environment: &str,
) -> Result<Vec<(String, ExportTarget)>, AwsError> {
    let prefix = names::target_parameter_prefix(environment);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path(prefix.trim_end_matches('/'))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        for p in page.parameters() {
            let (Some(name), Some(value)) = (p.name(), p.value()) else { continue };
            match serde_json::from_str::<ExportTarget>(value) {
                Ok(target) => out.push((name.trim_start_matches(&prefix).to_owned(), target)),
                Err(e) => tracing::warn!(parameter = name, error = %e, "not an export target document; skipped"),
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned cache is still a valid cache.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Aws for SdkAws {
    async fn describe_snapshot(&self, id: &str, cluster: bool) -> Result<Option<Snapshot>, AwsError> {
        sdk::describe_snapshot(&self.rds, id, cluster).await
    }

    async fn export_tasks(&self, filter: &TaskFilter) -> Result<Vec<ExportTask>, AwsError> {
        sdk::describe_export_tasks(&self.rds, filter).await
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
        let text = sdk_error_text(&err);
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

    async fn database_for_bucket(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let (client, environment) = match &self.targets {
            TargetSource::Fixed(map) => {
                return Ok(map.iter().find(|(_, t)| t.s3_bucket_name == bucket).map(|(db, _)| db.clone()));
            }
            TargetSource::Ssm { client, environment } => (client, environment),
        };
        let targets = published_targets(client, environment).await?;
        Ok(targets.into_iter().find(|(_, t)| t.s3_bucket_name == bucket).map(|(db, _)| db))
    }

    async fn list_snapshots(&self, db_id: &str, awsbackup: bool) -> Result<Vec<Snapshot>, AwsError> {
        sdk::list_snapshots(&self.rds, db_id, awsbackup).await
    }

    async fn database_exists(&self, db_id: &str) -> Result<bool, AwsError> {
        sdk::database_exists(&self.rds, db_id).await
    }

    async fn targets(&self) -> Result<Vec<(String, ExportTarget)>, AwsError> {
        match &self.targets {
            TargetSource::Fixed(map) => {
                let mut all: Vec<(String, ExportTarget)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                all.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(all)
            }
            TargetSource::Ssm { client, environment } => published_targets(client, environment).await,
        }
    }

    async fn metric(&self, metric: &'static str, total: f64, per_db: &[(String, f64)]) -> Result<(), AwsError> {
        self.put_metric(metric, total, per_db).await
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
        self.count(names::METRIC_EXPORT_FAILED, alert.db.as_deref()).await
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

    async fn park(&self, pending: &PendingExport, deduplication_id: &str) -> Result<(), AwsError> {
        self.sqs
            .send_message()
            .queue_url(self.queues.pending()?)
            .message_body(pending.to_body())
            .message_group_id(MESSAGE_GROUP)
            .message_deduplication_id(deduplication_id)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn take_pending(&self, max: usize, wait: Duration) -> Result<Vec<Parked>, AwsError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(self.queues.pending()?)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .visibility_timeout(PENDING_HOLD_SECONDS)
            .wait_time_seconds(i32::try_from(wait.as_secs().min(20)).unwrap_or(20))
            .receive_request_attempt_id(receive_attempt_id())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Parked {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    async fn pending_backlog(&self) -> Result<u64, AwsError> {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queues.pending()?)
            .attribute_names(Name::ApproximateNumberOfMessages)
            .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let attributes = out.attributes().cloned().unwrap_or_default();
        let count = |name: Name| attributes.get(&name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Ok(count(Name::ApproximateNumberOfMessages) + count(Name::ApproximateNumberOfMessagesNotVisible))
    }

    async fn settle_pending(&self, done: &[Parked], back: &[Parked]) -> Result<Vec<String>, AwsError> {
        use aws_sdk_sqs::types::{
            BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry as Back,
            DeleteMessageBatchRequestEntry as Done,
        };
        let url = self.queues.pending()?;
        let built = |e: aws_sdk_sqs::error::BuildError| AwsError::Permanent(e.to_string());
        // Entry ids are positions in the chunk; failures are named by message id.
        let named = |chunk: &[Parked], failed: &[BatchResultErrorEntry], doing: &str| -> Vec<String> {
            failed
                .iter()
                .map(|f| {
                    let message =
                        f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)).map(|p| p.message_id.as_str());
                    format!(
                        "{doing} message {}: {} {}",
                        message.unwrap_or("?"),
                        f.code(),
                        f.message().unwrap_or_default()
                    )
                })
                .collect()
        };
        let mut failures = Vec::new();
        for chunk in done.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| Done::builder().id(i.to_string()).receipt_handle(&p.receipt).build().map_err(built))
                .collect::<Result<Vec<_>, _>>()?;
            let out = self.sqs.delete_message_batch().queue_url(url).set_entries(Some(entries)).send().await;
            failures.extend(named(chunk, out.map_err(|e| classify(&e))?.failed(), "deleting"));
        }
        for chunk in back.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Back::builder()
                        .id(i.to_string())
                        .receipt_handle(&p.receipt)
                        .visibility_timeout(0)
                        .build()
                        .map_err(built)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self.sqs.change_message_visibility_batch().queue_url(url).set_entries(Some(entries)).send().await;
            failures.extend(named(chunk, out.map_err(|e| classify(&e))?.failed(), "putting back"));
        }
        Ok(failures)
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
        let copy = DeadLetterCopy::of(record_id, body, reason);
        let mut send = self
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(copy.body)
            .message_attributes("reason", text(&copy.reason)?)
            .message_attributes("record", text(&copy.record)?);
        if let Some(original) = copy.truncated_from {
            send = send.message_attributes("truncated", text(&format!("body cut from {original} bytes"))?);
        }
        send.send().await.map_err(|e| classify(&e))?;
        Ok(())
    }
}

/// What goes to the dead-letter queue: the record, cut to fit SQS's message size. AWS raised
/// the limit to 1 MiB in 2025, but a queue created before keeps the 256 KiB it was given, so
/// the copy (body and attributes together) fits 256 KiB wherever it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterCopy {
    pub record: String,
    pub reason: String,
    pub body: String,
    /// The body's size before it was cut, when it was.
    pub truncated_from: Option<usize>,
}

/// The size every dead-letter copy fits, attributes included.
pub const DEAD_LETTER_MAX_BYTES: usize = 256 * 1024;

impl DeadLetterCopy {
    pub fn of(record: &str, body: &str, reason: &str) -> Self {
        let record: String = record.chars().take(300).collect();
        let reason: String = reason.chars().take(1000).collect();
        // Attribute names, types and values count towards the limit; keep 1 KiB for them.
        let room = DEAD_LETTER_MAX_BYTES - 1024 - record.len() - reason.len();
        let body = if body.is_empty() { "(empty body)" } else { body };
        if body.len() <= room {
            return Self { record, reason, body: body.to_owned(), truncated_from: None };
        }
        let mut cut = room;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        Self { record, reason, body: body[..cut].to_owned(), truncated_from: Some(body.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_copy_fits_256_kib_whatever_the_record() {
        let huge = "é".repeat(400_000);
        let copy = DeadLetterCopy::of(&"r".repeat(5000), &huge, &"x".repeat(5000));
        let total = copy.body.len() + copy.reason.len() + copy.record.len() + 200;
        assert!(total <= DEAD_LETTER_MAX_BYTES, "{total}");
        assert_eq!(copy.truncated_from, Some(huge.len()));
        assert!(copy.body.chars().all(|c| c == 'é'), "cut on a character boundary");
        let small = DeadLetterCopy::of("r", "{}", "bad");
        assert_eq!((small.body.as_str(), small.truncated_from), ("{}", None));
    }
}
