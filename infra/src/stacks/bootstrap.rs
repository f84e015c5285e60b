//! The bootstrap stack: the artifacts bucket `infra deploy` uploads the Lambda zip to.

use s3exports_config::Config;
use serde_json::{Value, json};

use crate::cfn::{Template, checkov_skip, deny_insecure_transport, private_bucket, r#ref};

pub fn template(config: &Config) -> Template {
    let env = &config.environment;
    let mut t = Template::new(format!("rds-snapshot-s3exports {env}: artifacts bucket for deployments"));
    // The AWS managed key: Lambda reads the code with the deploying principal's rights.
    let mut props = private_bucket(json!("alias/aws/s3"));
    props.insert(
        "LifecycleConfiguration".into(),
        json!({ "Rules": [{
            "Id": "ForgetOldArtifacts",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": { "NoncurrentDays": 30 },
            "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 }
        }]}),
    );
    let bucket = t.add("ArtifactsBucket", "AWS::S3::Bucket", Value::Object(props));
    checkov_skip(bucket, &[("CKV_AWS_18", "Holds build artifacts uploaded by infra deploy, recorded by CloudTrail")]);
    t.add(
        "ArtifactsBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({ "Bucket": r#ref("ArtifactsBucket"), "PolicyDocument": crate::cfn::policy(vec![deny_insecure_transport("ArtifactsBucket")]) }),
    );
    t.output("ArtifactsBucket", "Bucket infra deploy uploads code to", r#ref("ArtifactsBucket"));
    t
}
