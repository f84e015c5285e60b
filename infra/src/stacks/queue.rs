//! A queue on the RDS events topic: encrypted, dead-lettered, optionally filtered. Both
//! functions' queues are built here, so neither stack module imports the other.

use serde_json::{Value, json};

use crate::cfn::{Template, get_att, policy, r#ref};

/// Receives before a message goes to the dead-letter queue; waiting for an export slot happens in
/// the pending queue, so only failing tries count.
pub const MAX_RECEIVE_COUNT: u32 = 10;

/// An encrypted queue with the dead-letter queue behind it, subscribed to the RDS events topic,
/// optionally only to the messages a filter on the body lets through.
pub fn queue_on_topic(t: &mut Template, logical: &str, name: &str, visibility: u32, filter: Option<Value>) {
    t.add(
        logical,
        "AWS::SQS::Queue",
        json!({
            "QueueName": name,
            "VisibilityTimeout": visibility,
            "MessageRetentionPeriod": 1_209_600,
            "KmsMasterKeyId": r#ref("EventsKey"),
            "KmsDataKeyReusePeriodSeconds": 3600,
            "RedrivePolicy": { "deadLetterTargetArn": get_att("DeadLetterQueue", "Arn"), "maxReceiveCount": MAX_RECEIVE_COUNT }
        }),
    );
    t.add(
        &format!("{logical}Policy"),
        "AWS::SQS::QueuePolicy",
        json!({
            "Queues": [r#ref(logical)],
            "PolicyDocument": policy(vec![json!({
                "Sid": "EventsTopicDelivers",
                "Effect": "Allow",
                "Principal": { "Service": "sns.amazonaws.com" },
                "Action": "sqs:SendMessage",
                "Resource": get_att(logical, "Arn"),
                "Condition": { "ArnEquals": { "aws:SourceArn": r#ref("EventsTopic") } }
            })])
        }),
    );
    let mut subscription =
        json!({ "TopicArn": r#ref("EventsTopic"), "Protocol": "sqs", "Endpoint": get_att(logical, "Arn") });
    if let Some(filter) = filter {
        subscription["FilterPolicyScope"] = json!("MessageBody");
        subscription["FilterPolicy"] = filter;
    }
    t.add(&format!("{logical}Subscription"), "AWS::SNS::Subscription", subscription);
}
