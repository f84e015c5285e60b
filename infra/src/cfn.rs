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
}

impl Template {
    pub fn new(description: impl Into<String>) -> Self {
        Self { description: description.into(), ..Self::default() }
    }

    /// Adds a resource and returns it for further fields (DependsOn, policies, metadata).
    pub fn add(&mut self, name: &str, kind: &str, properties: Value) -> &mut Value {
        self.resources.insert(name.to_owned(), json!({ "Type": kind, "Properties": properties }));
        self.resources.get_mut(name).unwrap_or_else(|| unreachable!("just inserted"))
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

/// Trust policy for a service principal, limited to this account.
pub fn assume_role(service: &str) -> Value {
    policy(vec![json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole",
        "Condition": { "StringEquals": { "aws:SourceAccount": { "Ref": "AWS::AccountId" } } }
    })])
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
