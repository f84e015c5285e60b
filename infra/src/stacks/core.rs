//! The environment's core stack: the RDS event topic and subscriptions, the queue and its
//! dead-letter queue, the pending queue, the exporter Lambda and its schedules (dispatch,
//! reconcile), alerts and alarms, and the Athena workgroup.

use s3exports_config::{Config, names};
use serde_json::{Value, json};

use super::function::{self, QueueFunction};
use super::queue::queue_on_topic;
use crate::cfn::{
    Template, account_administers_key, allow, checkov_skip, deny_insecure_transport, get_att, logs_service_uses_key,
    policy, private_bucket, r#ref, sub,
};

/// Seconds one invocation may run at least; the queue hides a message for six times as long, as
/// Lambda recommends for SQS sources. The daily reconcile runs in the same function and lists
/// each database (see [`exporter_timeout`]).
const FUNCTION_TIMEOUT: u32 = 60;
/// What the daily reconcile is given per configured database on top of the base: a few pages of
/// snapshots and export tasks, with retries (four databases are listed at once).
const RECONCILE_SECONDS_PER_DATABASE: u32 = 15;
/// How long exports may wait in the pending queue with none of them leaving it before an
/// alarm: a backlog drains in hours at five slots, so days mean dispatch is stuck; messages are
/// lost after 14.
const PENDING_STUCK_HOURS: u32 = 3 * 24;

/// The exporting function's timeout: enough for the scheduled reconcile of every configured
/// database, at most Lambda's 900 s (the reconcile stops before it and reports what was left).
pub fn exporter_timeout(config: &Config) -> u32 {
    let databases = u32::try_from(config.databases.len()).unwrap_or(u32::MAX);
    FUNCTION_TIMEOUT.saturating_add(databases.saturating_mul(RECONCILE_SECONDS_PER_DATABASE)).min(900)
}
/// Two concurrent pollers at most: exports are limited to 5 per account anyway.
const MAX_CONCURRENCY: u32 = 2;
/// Athena stops a query that scans more than this (100 GiB).
const BYTES_SCANNED_CUTOFF: u64 = 100 * 1024 * 1024 * 1024;
const ATHENA_RESULTS_DAYS: u32 = 30;
/// The backstop for export-finished events that never arrived: pending exports are dispatched
/// at least this often.
const DISPATCH_SCHEDULE: &str = "rate(10 minutes)";
/// The reconcile looks back this far each day: the longest automated snapshot retention (35
/// days), so no snapshot RDS still keeps goes unchecked.
const RECONCILE_SINCE_DAYS: u32 = 35;
/// Max 14 days (SQS): a pending export waits at most this long for a slot.
const PENDING_RETENTION_SECONDS: u32 = 1_209_600;

pub fn template(config: &Config) -> Template {
    let env = config.environment.as_str();
    let mut t = Template::new(format!(
        "rds-snapshot-s3exports {env}: RDS snapshot events -> SNS -> SQS -> exporter Lambda; alerts; Athena workgroup"
    ));
    t.parameter("CodeS3Bucket", "Bucket holding the exporter's Lambda zip (infra deploy uploads it)");
    t.parameter("CodeS3Key", "Key of the exporter's Lambda zip (content-addressed)");

    events_key(&mut t, env);
    events_topic(&mut t, env);
    queues(&mut t, env, exporter_timeout(config));
    alerts(&mut t, env, &config.defaults.alert_emails);
    exporter(&mut t, config);
    schedules(&mut t, env);
    super::catalogue::add(&mut t, config);
    alarms(&mut t, config);
    athena(&mut t, env);

    t.output("EventsTopicArn", "SNS topic the RDS event subscriptions publish to", r#ref("EventsTopic"));
    t.output("EventsQueueUrl", "Queue the exporter consumes", r#ref("EventsQueue"));
    t.output("DeadLetterQueueUrl", "Records that failed for good", r#ref("DeadLetterQueue"));
    t.output("PendingQueueUrl", "Exports waiting for a free export slot", r#ref("PendingQueue"));
    t.output("AlertsTopicArn", "Export failures and alarms", r#ref("AlertsTopic"));
    t.output("ExporterFunctionName", "The exporter Lambda", r#ref("ExporterFunction"));
    t.output("AthenaWorkgroup", "Workgroup for queries over the exports", r#ref("AthenaWorkgroup"));
    t.output("AthenaResultsBucket", "Where Athena writes query results", r#ref("AthenaResultsBucket"));
    t
}

fn service_uses_key(sid: &str, service: Value, actions: &[&str]) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": actions,
        "Resource": "*",
        "Condition": { "StringEquals": { "aws:SourceAccount": r#ref("AWS::AccountId") } }
    })
}

fn events_key(t: &mut Template, env: &str) {
    let data_key = ["kms:GenerateDataKey*", "kms:Decrypt"];
    t.add(
        "EventsKey",
        "AWS::KMS::Key",
        json!({
            "Description": format!("Encrypts the rds-snapshot-s3exports {env} topics, queues, logs and Athena results"),
            "EnableKeyRotation": true,
            "KeyPolicy": policy(vec![
                // Lets IAM policies in this account grant use of the key (analysts, the functions).
                account_administers_key(),
                // RDS publishes to the encrypted topic, SNS delivers to the encrypted queue,
                // CloudWatch alarms publish to the encrypted alerts topic.
                service_uses_key("RdsEventsPublish", json!("events.rds.amazonaws.com"), &data_key),
                service_uses_key("SnsDeliversToQueue", json!("sns.amazonaws.com"), &data_key),
                service_uses_key("AlarmsPublish", json!("cloudwatch.amazonaws.com"), &data_key),
                logs_service_uses_key("LogsEncrypt", "*"),
            ])
        }),
    );
    t.add(
        "EventsKeyAlias",
        "AWS::KMS::Alias",
        json!({ "AliasName": names::events_key_alias(env), "TargetKeyId": r#ref("EventsKey") }),
    );
}

fn events_topic(t: &mut Template, env: &str) {
    t.add(
        "EventsTopic",
        "AWS::SNS::Topic",
        json!({ "TopicName": names::events_topic(env), "KmsMasterKeyId": r#ref("EventsKey") }),
    );
    t.add(
        "EventsTopicPolicy",
        "AWS::SNS::TopicPolicy",
        json!({
            "Topics": [r#ref("EventsTopic")],
            "PolicyDocument": policy(vec![json!({
                "Sid": "RdsEventsFromThisAccount",
                "Effect": "Allow",
                "Principal": { "Service": "events.rds.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": r#ref("EventsTopic"),
                "Condition": { "StringEquals": { "aws:SourceAccount": r#ref("AWS::AccountId") } }
            })])
        }),
    );
    for (name, source_type, categories) in [
        ("SnapshotEvents", "db-snapshot", ["creation", "notification"]),
        ("ClusterSnapshotEvents", "db-cluster-snapshot", ["backup", "notification"]),
    ] {
        t.add(
            name,
            "AWS::RDS::EventSubscription",
            json!({
                "SubscriptionName": format!("{}-{source_type}", names::events_topic(env)),
                "SnsTopicArn": r#ref("EventsTopic"),
                "SourceType": source_type,
                "EventCategories": categories,
                "Enabled": true
            }),
        )["DependsOn"] = json!("EventsTopicPolicy");
    }
}

fn queues(t: &mut Template, env: &str, timeout: u32) {
    t.add(
        "DeadLetterQueue",
        "AWS::SQS::Queue",
        json!({
            "QueueName": names::dead_letter_queue(env),
            "MessageRetentionPeriod": 1_209_600,
            "KmsMasterKeyId": r#ref("EventsKey")
        }),
    );
    queue_on_topic(t, "EventsQueue", &names::events_queue(env), timeout * 6, None);
    // Exports waiting for a slot: FIFO with one message group, so it keeps their order and is
    // the lock two dispatches share. No event source: the function dispatches from it.
    t.add(
        "PendingQueue",
        "AWS::SQS::Queue",
        json!({
            "QueueName": names::pending_queue(env),
            "FifoQueue": true,
            "MessageRetentionPeriod": PENDING_RETENTION_SECONDS,
            "KmsMasterKeyId": r#ref("EventsKey"),
            "KmsDataKeyReusePeriodSeconds": 3600
        }),
    );
}

/// EventBridge schedules invoking the exporter with a constant input it recognises.
fn schedules(t: &mut Template, env: &str) {
    let dispatch = json!({ "s3exports": "dispatch" }).to_string();
    let reconcile = json!({ "s3exports": "reconcile", "since_days": RECONCILE_SINCE_DAYS }).to_string();
    for (logical, schedule, input, what) in [
        ("DispatchSchedule", DISPATCH_SCHEDULE, dispatch, "start pending exports into free slots"),
        ("ReconcileSchedule", "rate(1 day)", reconcile, "queue every snapshot without an export"),
    ] {
        t.add(
            logical,
            "AWS::Events::Rule",
            json!({
                "Name": format!("{}-{}", names::exporter_function(env), logical.trim_end_matches("Schedule").to_ascii_lowercase()),
                "Description": format!("rds-snapshot-s3exports {env}: {what}"),
                "ScheduleExpression": schedule,
                "State": "ENABLED",
                "Targets": [{ "Id": "exporter", "Arn": get_att("ExporterFunction", "Arn"), "Input": input }]
            }),
        );
        t.add(
            &format!("{logical}Permission"),
            "AWS::Lambda::Permission",
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": r#ref("ExporterFunction"),
                "Principal": "events.amazonaws.com",
                "SourceArn": get_att(logical, "Arn")
            }),
        );
    }
}

fn alerts(t: &mut Template, env: &str, emails: &[String]) {
    t.add(
        "AlertsTopic",
        "AWS::SNS::Topic",
        json!({ "TopicName": names::alerts_topic(env), "KmsMasterKeyId": r#ref("EventsKey") }),
    );
    t.add(
        "AlertsTopicPolicy",
        "AWS::SNS::TopicPolicy",
        json!({
            "Topics": [r#ref("AlertsTopic")],
            "PolicyDocument": policy(vec![json!({
                "Sid": "AlarmsFromThisAccount",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": r#ref("AlertsTopic"),
                "Condition": { "StringEquals": { "aws:SourceAccount": r#ref("AWS::AccountId") } }
            })])
        }),
    );
    for (i, email) in emails.iter().enumerate() {
        t.add(
            &format!("AlertEmail{i}"),
            "AWS::SNS::Subscription",
            json!({ "TopicArn": r#ref("AlertsTopic"), "Protocol": "email", "Endpoint": email }),
        );
    }
}

fn rds_arns() -> Vec<Value> {
    ["snapshot", "cluster-snapshot", "db", "cluster"]
        .iter()
        .map(|kind| sub(&format!("arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:*")))
        .collect()
}

fn exporter(t: &mut Template, config: &Config) {
    let env = config.environment.as_str();
    let region_only = json!({ "StringEquals": { "aws:RequestedRegion": r#ref("AWS::Region") } });
    let statements = vec![
        allow("DescribeSnapshots", &["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"], rds_arns()),
        // Reconcile asks whether a database with no snapshot exists at all.
        allow(
            "DescribeDatabases",
            &["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
            ["db", "cluster"]
                .iter()
                .map(|kind| sub(&format!("arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:*")))
                .collect(),
        ),
        // StartExportTask is scoped to this account's snapshots (it supports the snapshot and
        // cluster-snapshot resource types); DescribeExportTasks supports no resource-level
        // scoping: "*", pinned to this stack's region.
        allow(
            "StartExports",
            &["rds:StartExportTask"],
            ["snapshot", "cluster-snapshot"]
                .iter()
                .map(|kind| sub(&format!("arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:*")))
                .collect(),
        ),
        json!({
            "Sid": "ListExportTasks",
            "Effect": "Allow",
            "Action": ["rds:DescribeExportTasks"],
            "Resource": "*",
            "Condition": region_only
        }),
        allow(
            "PassOnlyExportRoles",
            &["iam:PassRole"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{}*",
                names::export_role_path(env)
            ))],
        ),
        // Export keys are created per database stack; they are recognised by their alias.
        json!({
            "Sid": "GrantOnExportKeys",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:DescribeKey"],
            "Resource": sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"),
            "Condition": { "ForAnyValue:StringLike": { "kms:ResourceAliases": format!("{}*", names::kms_alias_prefix(env)) } }
        }),
        super::list_export_targets(env),
        // Exports wait in the pending queue for a slot; dispatch takes, starts and settles them.
        allow(
            "PendingExports",
            &[
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            vec![get_att("PendingQueue", "Arn")],
        ),
        allow(
            "ReadExportTargets",
            &["ssm:GetParameter"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{}*",
                names::target_parameter_prefix(env)
            ))],
        ),
    ];
    if let Some(vpc) = &config.vpc {
        security_group(t, env, vpc);
    }
    function::add(
        t,
        config,
        QueueFunction {
            logical: "Exporter",
            name: names::exporter_function(env),
            role_name: None,
            description: "Exports every RDS snapshot of the configured databases to S3 as Parquet, exactly once",
            statements,
            queue: "EventsQueue",
            environment: vec![("PENDING_QUEUE_URL", r#ref("PendingQueue"))],
            timeout: exporter_timeout(config),
            memory: 128,
            batch_size: 10,
            max_concurrency: MAX_CONCURRENCY,
        },
    );
}

fn security_group(t: &mut Template, env: &str, vpc: &s3exports_config::Vpc) {
    let egress: Vec<Value> = vpc
        .allowed_egress_cidrs
        .iter()
        .map(|cidr| json!({ "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": cidr, "Description": "HTTPS to AWS APIs" }))
        .collect();
    t.add(
        "ExporterSecurityGroup",
        "AWS::EC2::SecurityGroup",
        json!({
            "GroupDescription": format!("rds-snapshot-s3exports {env} exporter: HTTPS out only"),
            "VpcId": vpc.vpc_id,
            "SecurityGroupEgress": egress
        }),
    );
}

fn alarms(t: &mut Template, config: &Config) {
    let env = config.environment.as_str();
    let alarm = |description: &str, namespace: &str, metric: &str, statistic: &str, dimensions: Value| {
        json!({
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [r#ref("AlertsTopic")]
        })
    };
    t.add(
        "DeadLetterAlarm",
        "AWS::CloudWatch::Alarm",
        alarm(
            &format!("rds-snapshot-s3exports {env}: records in the dead-letter queue; read their `reason` attribute"),
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "Maximum",
            json!([{ "Name": "QueueName", "Value": get_att("DeadLetterQueue", "QueueName") }]),
        ),
    );
    t.add(
        "ExporterErrorsAlarm",
        "AWS::CloudWatch::Alarm",
        alarm(
            &format!("rds-snapshot-s3exports {env}: the exporter function failed"),
            "AWS/Lambda",
            "Errors",
            "Sum",
            json!([{ "Name": "FunctionName", "Value": r#ref("ExporterFunction") }]),
        ),
    );
    t.add(
        "ExportFailedAlarm",
        "AWS::CloudWatch::Alarm",
        alarm(
            &format!("rds-snapshot-s3exports {env}: an export task failed or was canceled"),
            names::METRIC_NAMESPACE,
            names::METRIC_EXPORT_FAILED,
            "Sum",
            json!([]),
        ),
    );
    // Each database's daily count of snapshots without an export: lost events, failed exports,
    // or a backlog older than a day.
    for (i, db) in config.databases.iter().enumerate() {
        let mut props = alarm(
            &format!(
                "rds-snapshot-s3exports {env}: snapshots of {} without an export after the daily reconcile; `exporter reconcile --db {} --dry-run` lists them",
                db.db_name, db.db_name
            ),
            names::METRIC_NAMESPACE,
            names::METRIC_SNAPSHOTS_WITHOUT_EXPORT,
            "Maximum",
            json!([{ "Name": "Database", "Value": db.db_name }]),
        );
        props["Period"] = json!(86_400);
        t.add(&format!("SnapshotsWithoutExportAlarm{i}"), "AWS::CloudWatch::Alarm", props);
        // A database whose listing failed records no SnapshotsWithoutExport at all, which the
        // alarm above reads as fine: its own error metric says so.
        let mut props = alarm(
            &format!(
                "rds-snapshot-s3exports {env}: the daily reconcile could not examine {} (listing failed or time ran out); `exporter reconcile --db {}` says why",
                db.db_name, db.db_name
            ),
            names::METRIC_NAMESPACE,
            names::METRIC_RECONCILE_ERRORS,
            "Maximum",
            json!([{ "Name": "Database", "Value": db.db_name }]),
        );
        props["Period"] = json!(86_400);
        t.add(&format!("ReconcileErrorsAlarm{i}"), "AWS::CloudWatch::Alarm", props);
    }
    t.add("PendingStuckAlarm", "AWS::CloudWatch::Alarm", pending_stuck_alarm(env));
    let mut props = alarm(
        &format!(
            "rds-snapshot-s3exports {env}: a completed export could not be manifested or sealed whole; `athenaq evidence` shows which"
        ),
        names::METRIC_NAMESPACE,
        names::METRIC_EVIDENCE_INCOMPLETE,
        "Sum",
        json!([]),
    );
    props["Period"] = json!(3600);
    t.add("EvidenceIncompleteAlarm", "AWS::CloudWatch::Alarm", props);
}

/// Exports wait in the pending queue and none has left it for [`PENDING_STUCK_HOURS`]: every
/// hour had a message waiting or in flight and no message deleted (dispatch deletes one when
/// it starts the export, finds it exported, or dead-letters it). Not the age of the oldest
/// message: dispatch receives the waiting messages and returns them every few minutes, and SQS
/// leaves a message received three times or more out of ApproximateAgeOfOldestMessage ("the
/// metric points at the second-oldest message that hasn't been received more than three
/// times", Available CloudWatch metrics for Amazon SQS), so a stuck queue reads young.
fn pending_stuck_alarm(env: &str) -> Value {
    let queue = |metric: &str, id: &str, stat: &str| {
        json!({
            "Id": id,
            "ReturnData": false,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": metric,
                    "Dimensions": [{ "Name": "QueueName", "Value": get_att("PendingQueue", "QueueName") }]
                },
                "Period": 3600,
                "Stat": stat
            }
        })
    };
    json!({
        "AlarmDescription": format!(
            "rds-snapshot-s3exports {env}: exports have waited in the pending queue for {} days and none has \
             started: dispatch is stuck (see the exporter's logs; `exporter dispatch --dry-run`)",
            PENDING_STUCK_HOURS / 24
        ),
        "Metrics": [
            queue("ApproximateNumberOfMessagesVisible", "waiting", "Maximum"),
            queue("ApproximateNumberOfMessagesNotVisible", "held", "Maximum"),
            queue("NumberOfMessagesDeleted", "left", "Sum"),
            {
                "Id": "stuck",
                "Label": "Exports waiting, none left the queue",
                "Expression": "IF(FILL(waiting, 0) + FILL(held, 0) > 0 AND FILL(left, 0) == 0, 1, 0)",
                "ReturnData": true
            }
        ],
        "EvaluationPeriods": PENDING_STUCK_HOURS,
        "DatapointsToAlarm": PENDING_STUCK_HOURS,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [r#ref("AlertsTopic")]
    })
}

fn athena(t: &mut Template, env: &str) {
    let mut props = private_bucket(get_att("EventsKey", "Arn"));
    props.insert(
        "LifecycleConfiguration".into(),
        json!({ "Rules": [{
            "Id": "ExpireResults",
            "Status": "Enabled",
            "ExpirationInDays": ATHENA_RESULTS_DAYS,
            "NoncurrentVersionExpiration": { "NoncurrentDays": 1 },
            "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 }
        }]}),
    );
    let bucket = t.add("AthenaResultsBucket", "AWS::S3::Bucket", Value::Object(props));
    checkov_skip(
        bucket,
        &[(
            "CKV_AWS_18",
            "Holds query results only, which expire; queries are audited in Athena's history and CloudTrail",
        )],
    );
    t.add(
        "AthenaResultsBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({ "Bucket": r#ref("AthenaResultsBucket"), "PolicyDocument": policy(vec![deny_insecure_transport("AthenaResultsBucket")]) }),
    );
    t.add(
        "AthenaWorkgroup",
        "AWS::Athena::WorkGroup",
        json!({
            "Name": names::athena_workgroup(env),
            "Description": "Queries over the snapshot exports",
            "State": "ENABLED",
            "RecursiveDeleteOption": true,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": true,
                "PublishCloudWatchMetricsEnabled": true,
                "BytesScannedCutoffPerQuery": BYTES_SCANNED_CUTOFF,
                "EngineVersion": { "SelectedEngineVersion": "Athena engine version 3" },
                "ResultConfiguration": {
                    "OutputLocation": sub("s3://${AthenaResultsBucket}/results/"),
                    "EncryptionConfiguration": { "EncryptionOption": "SSE_KMS", "KmsKey": get_att("EventsKey", "Arn") }
                }
            }
        }),
    );
}
