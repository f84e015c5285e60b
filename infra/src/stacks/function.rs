//! A Lambda function fed by its own SQS queue: log group, role, function, event source. The
//! exporter and the cataloguer are two of these, from one zip, with separate roles.

use s3exports_config::Config;
use serde_json::{Map, Value, json};

use crate::cfn::{Template, allow, assume_role, checkov_skip, get_att, policy, r#ref};

const LOG_RETENTION_DAYS: u32 = 365;

#[derive(Debug)]
pub struct QueueFunction<'a> {
    /// Prefix of the logical ids: `<logical>LogGroup`, `<logical>Role`, `<logical>Function`, ...
    pub logical: &'a str,
    pub name: String,
    /// A fixed role name, for stacks that attach policies to it.
    pub role_name: Option<String>,
    pub description: &'a str,
    /// What only this function may do; logs, its queue, the DLQ, alerts and the failure metric
    /// are added for every function.
    pub statements: Vec<Value>,
    /// Logical id of the queue it consumes.
    pub queue: &'a str,
    pub environment: Vec<(&'a str, Value)>,
    pub timeout: u32,
    pub memory: u32,
    pub batch_size: u32,
    pub max_concurrency: u32,
}

pub fn add(t: &mut Template, config: &Config, f: QueueFunction<'_>) {
    let env = config.environment.as_str();
    let (log_group, role, function) =
        (format!("{}LogGroup", f.logical), format!("{}Role", f.logical), format!("{}Function", f.logical));
    t.add(
        &log_group,
        "AWS::Logs::LogGroup",
        json!({ "LogGroupName": format!("/aws/lambda/{}", f.name), "RetentionInDays": LOG_RETENTION_DAYS, "KmsKeyId": get_att("EventsKey", "Arn") }),
    );

    let region_only = json!({ "StringEquals": { "aws:RequestedRegion": r#ref("AWS::Region") } });
    let mut statements = vec![
        allow("WriteOwnLogs", &["logs:CreateLogStream", "logs:PutLogEvents"], vec![get_att(&log_group, "Arn")]),
        allow(
            "ConsumeOwnQueue",
            &["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
            vec![get_att(f.queue, "Arn")],
        ),
        allow("DeadLetter", &["sqs:SendMessage"], vec![get_att("DeadLetterQueue", "Arn")]),
        allow("QueueEncryption", &["kms:Decrypt", "kms:GenerateDataKey"], vec![get_att("EventsKey", "Arn")]),
        allow("Alert", &["sns:Publish"], vec![r#ref("AlertsTopic")]),
        // PutMetricData supports no resource scoping; limited to the project's namespace.
        json!({
            "Sid": "FailureMetric",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": { "StringEquals": { "cloudwatch:namespace": s3exports_config::names::METRIC_NAMESPACE } }
        }),
    ];
    statements.extend(f.statements);
    if config.vpc.is_some() {
        // Lambda manages its network interfaces (AWS's current VPC access policy, which includes
        // ec2:DescribeSubnets); these EC2 actions support no resource scoping. The security
        // group's allowed egress CIDRs must cover the VPC endpoints (RDS, SQS, SSM, SNS, S3,
        // Glue, CloudWatch) or the functions cannot reach AWS.
        statements.push(json!({
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            "Resource": "*",
            "Condition": region_only
        }));
    }
    let mut role_props = json!({
        "Description": format!("rds-snapshot-s3exports {env}: {}", f.description),
        "AssumeRolePolicyDocument": assume_role("lambda.amazonaws.com"),
        "Policies": [{ "PolicyName": "own-work", "PolicyDocument": policy(statements) }]
    });
    if let Some(name) = &f.role_name {
        role_props["RoleName"] = json!(name);
    }
    t.add(&role, "AWS::IAM::Role", role_props);

    let mut variables = Map::new();
    variables.insert("ENVIRONMENT".into(), json!(env));
    variables.insert("ALERTS_TOPIC_ARN".into(), r#ref("AlertsTopic"));
    variables.insert("EVENTS_QUEUE_URL".into(), r#ref(f.queue));
    variables.insert("DEAD_LETTER_QUEUE_URL".into(), r#ref("DeadLetterQueue"));
    variables.insert("RUST_LOG".into(), json!("info"));
    for (k, v) in f.environment {
        variables.insert(k.into(), v);
    }
    let mut props = json!({
        "FunctionName": f.name,
        "Description": f.description,
        "Runtime": "provided.al2023",
        "Architectures": ["arm64"],
        "Handler": "bootstrap",
        "Code": { "S3Bucket": r#ref("CodeS3Bucket"), "S3Key": r#ref("CodeS3Key") },
        "MemorySize": f.memory,
        "Timeout": f.timeout,
        "Role": get_att(&role, "Arn"),
        "LoggingConfig": { "LogGroup": r#ref(&log_group), "LogFormat": "JSON" },
        "DeadLetterConfig": { "TargetArn": get_att("DeadLetterQueue", "Arn") },
        "Environment": { "Variables": variables }
    });
    // Off by default: a reservation that leaves the account under its minimum unreserved
    // concurrency (100, lower in some accounts) fails the stack; the event source's
    // MaximumConcurrency and the pending queue's lock bound the function anyway.
    if let Some(reserved) = config.defaults.reserved_concurrency {
        props["ReservedConcurrentExecutions"] = json!(reserved);
    }
    if let Some(vpc) = &config.vpc {
        props["VpcConfig"] =
            json!({ "SubnetIds": vpc.private_subnet_ids, "SecurityGroupIds": [r#ref("ExporterSecurityGroup")] });
    }
    let resource = t.add(&function, "AWS::Lambda::Function", props);
    let mut skips = vec![("CKV_AWS_173", "The environment holds only resource names and ARNs, no secrets")];
    if config.defaults.reserved_concurrency.is_none() {
        skips.push((
            "CKV_AWS_115",
            "Bounded by the event source's MaximumConcurrency and the pending queue's lock; a reservation fails stacks in accounts with low concurrency quotas (set defaults.reserved_concurrency to reserve)",
        ));
    }
    if config.vpc.is_none() {
        skips.push((
            "CKV_AWS_117",
            "Calls only AWS APIs and holds no network-reachable data; set [vpc] in config to place it in a VPC",
        ));
    }
    checkov_skip(resource, &skips);

    t.add(
        &format!("{}EventSource", f.logical),
        "AWS::Lambda::EventSourceMapping",
        json!({
            "EventSourceArn": get_att(f.queue, "Arn"),
            "FunctionName": r#ref(&function),
            "BatchSize": f.batch_size,
            "MaximumBatchingWindowInSeconds": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": { "MaximumConcurrency": f.max_concurrency }
        }),
    );
}
