//! A CloudFormation template as ordered JSON, and the intrinsic functions the stacks use.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

#[derive(Debug, Default)]
pub struct Template {
    pub description: String,
    pub parameters: BTreeMap<String, Value>,
    pub conditions: BTreeMap<String, Value>,
    pub resources: BTreeMap<String, Value>,
    pub outputs: BTreeMap<String, Value>,
    /// Resources added under a logical id already taken, kept aside (never replacing the first)
    /// so that synthesis fails naming them.
    pub refused: Vec<(String, Value)>,
}

impl Template {
    pub fn new(description: impl Into<String>) -> Self {
        Self { description: description.into(), ..Self::default() }
    }

    /// Adds a resource and returns it for further fields (DependsOn, policies, metadata). A
    /// logical id already taken is refused: a typo must not silently replace a resource, so the
    /// second one is kept aside and [`Template::duplicate_ids`] names it.
    pub fn add(&mut self, name: &str, kind: &str, properties: Value) -> &mut Value {
        let resource = json!({ "Type": kind, "Properties": properties });
        match self.resources.entry(name.to_owned()) {
            std::collections::btree_map::Entry::Vacant(slot) => slot.insert(resource),
            std::collections::btree_map::Entry::Occupied(_) => {
                self.refused.push((name.to_owned(), resource));
                let last = self.refused.len() - 1;
                &mut self.refused[last].1
            }
        }
    }

    /// Logical ids that were added more than once.
    pub fn duplicate_ids(&self) -> Vec<&str> {
        self.refused.iter().map(|(name, _)| name.as_str()).collect()
    }

    pub fn output(&mut self, name: &str, description: &str, value: Value) {
        self.outputs.insert(name.to_owned(), json!({ "Description": description, "Value": value }));
    }

    pub fn parameter(&mut self, name: &str, description: &str) {
        self.parameters.insert(name.to_owned(), json!({ "Type": "String", "Description": description }));
    }

    pub fn to_json(&self) -> Value {
        let mut t = Map::new();
        t.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        t.insert("Description".into(), json!(self.description));
        let section = |m: &BTreeMap<String, Value>| Value::Object(m.clone().into_iter().collect());
        if !self.parameters.is_empty() {
            t.insert("Parameters".into(), section(&self.parameters));
        }
        if !self.conditions.is_empty() {
            t.insert("Conditions".into(), section(&self.conditions));
        }
        t.insert("Resources".into(), section(&self.resources));
        if !self.outputs.is_empty() {
            t.insert("Outputs".into(), section(&self.outputs));
        }
        Value::Object(t)
    }

    /// Pretty JSON with a trailing newline: the same config always gives the same bytes.
    pub fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        s.push('\n');
        s
    }
}

pub fn r#ref(name: &str) -> Value {
    json!({ "Ref": name })
}

pub fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

pub fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

pub fn policy(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

pub fn allow(sid: &str, actions: &[&str], resources: Vec<Value>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// Trust policy for the RDS export service. No `aws:SourceAccount` condition: AWS's documented
/// trust policy for snapshot export has none, and snapshot export is not among the RDS features
/// documented to send that key; if the service does not send it, a condition on it locks the
/// service out and every export fails with "cannot assume role". The role is still only usable
/// by exports this account starts, since StartExportTask needs iam:PassRole on it.
pub fn export_service_trust() -> Value {
    policy(vec![json!({
        "Effect": "Allow",
        "Principal": { "Service": "export.rds.amazonaws.com" },
        "Action": "sts:AssumeRole"
    })])
}

/// Trust policy for a service principal, limited to this account.
pub fn assume_role(service: &str) -> Value {
    policy(vec![json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole",
        "Condition": { "StringEquals": { "aws:SourceAccount": { "Ref": "AWS::AccountId" } } }
    })])
}

/// The key policy statement AWS documents for CloudWatch Logs encryption: the logs service may use
/// the key for this account's log groups matching `log_groups` (e.g. `*`, `/aws-glue/crawlers*`).
pub fn logs_service_uses_key(sid: &str, log_groups: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "Service": sub("logs.${AWS::Region}.amazonaws.com") },
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": { "ArnLike": { "kms:EncryptionContext:aws:logs:arn":
            sub(&format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_groups}")) } }
    })
}

/// The key policy statement that lets IAM policies in this account grant use of a key.
pub fn account_administers_key() -> Value {
    json!({
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": { "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// A bucket policy statement that refuses every request not made over TLS.
pub fn deny_insecure_transport(bucket: &str) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [get_att(bucket, "Arn"), sub(&format!("${{{bucket}.Arn}}/*"))],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

/// S3 bucket properties every bucket here shares: KMS encryption with a bucket key, public
/// access blocked, owner-enforced objects, versioning.
pub fn private_bucket(key: Value) -> Map<String, Value> {
    let props = json!({
        "BucketEncryption": { "ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key },
            "BucketKeyEnabled": true
        }]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true
        },
        "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
        "VersioningConfiguration": { "Status": "Enabled" }
    });
    match props {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Records a checkov finding we accept, with the reason, in the resource's metadata.
pub fn checkov_skip(resource: &mut Value, skips: &[(&str, &str)]) {
    let list: Vec<Value> = skips.iter().map(|(id, why)| json!({ "id": id, "comment": why })).collect();
    resource["Metadata"]["checkov"]["skip"] = Value::Array(list);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_logical_id_is_refused_not_replaced() {
        let mut t = Template::new("t");
        t.add("Queue", "AWS::SQS::Queue", json!({ "QueueName": "first" }));
        t.add("Queue", "AWS::SNS::Topic", json!({ "TopicName": "second" }))["DependsOn"] = json!("X");
        assert_eq!(t.resources["Queue"]["Properties"]["QueueName"], "first");
        assert!(t.resources["Queue"].get("DependsOn").is_none());
        assert_eq!(t.duplicate_ids(), ["Queue"]);
    }
}
