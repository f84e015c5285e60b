//! One database's stack: the export bucket with its lifecycle, the KMS key, the export role,
//! the Glue database and the parameter the exporter reads.

use s3exports_config::{Config, Database, ExportTarget, ObjectLock, names};
use serde_json::{Value, json};

use crate::cfn::{
    Template, account_administers_key, allow, checkov_skip, deny_insecure_transport, export_service_trust, get_att,
    policy, private_bucket, r#ref, sub,
};

/// Actions RDS needs on the bucket to write an export (StartExportTask documentation).
const EXPORT_S3_ACTIONS: [&str; 5] =
    ["s3:PutObject*", "s3:GetObject*", "s3:ListBucket", "s3:DeleteObject*", "s3:GetBucketLocation"];
const KEY_USE_ACTIONS: [&str; 6] =
    ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"];

pub fn template(config: &Config, db: &Database) -> Template {
    let env = &config.environment;
    let mut t = Template::new(format!(
        "rds-snapshot-s3exports {env}: exports of {} (bucket {}, key, export role, Glue database)",
        db.db_name, db.s3_bucket_name
    ));

    export_key(&mut t, env, db);
    export_bucket(&mut t, db);
    export_role(&mut t, env, db);
    t.add(
        "GlueDatabase",
        "AWS::Glue::Database",
        json!({
            "CatalogId": r#ref("AWS::AccountId"),
            "DatabaseInput": {
                "Name": names::glue_database(&db.db_name),
                "Description": format!("Snapshot exports of {} ({env}): one table per source table, one partition per snapshot", db.db_name)
            }
        }),
    );
    target_parameter(&mut t, env, db, &config.defaults);
    super::catalogue::database_grant(&mut t, config, db);
    if config.defaults.catalog == s3exports_config::CatalogMode::Crawler {
        super::catalogue::crawler(&mut t, config, db);
    }

    t.output("BucketName", "Export bucket", r#ref("ExportBucket"));
    t.output("KeyArn", "KMS key of the exports", get_att("ExportKey", "Arn"));
    t.output("ExportRoleArn", "Role RDS assumes to write the export", get_att("ExportRole", "Arn"));
    t.output("GlueDatabase", "Glue database of the catalogued exports", r#ref("GlueDatabase"));
    t.output("TargetParameter", "Parameter the exporter reads", r#ref("TargetParameter"));
    t
}

fn export_key(t: &mut Template, env: &str, db: &Database) {
    t.add(
        "ExportKey",
        "AWS::KMS::Key",
        json!({
            "Description": format!("Encrypts the snapshot exports of {} ({env})", db.db_name),
            "EnableKeyRotation": true,
            "KeyPolicy": policy(vec![
                // Lets IAM policies in this account grant use of the key (analysts, the functions).
                account_administers_key(),
                json!({
                    "Sid": "ExportRoleUsesKey",
                    "Effect": "Allow",
                    "Principal": { "AWS": get_att("ExportRole", "Arn") },
                    "Action": KEY_USE_ACTIONS,
                    "Resource": "*"
                }),
                // No aws:SourceAccount condition, for the reason given at `export_service_trust`.
                json!({
                    "Sid": "RdsExportServiceUsesKey",
                    "Effect": "Allow",
                    "Principal": { "Service": "export.rds.amazonaws.com" },
                    "Action": KEY_USE_ACTIONS,
                    "Resource": "*"
                }),
            ])
        }),
    );
    t.add(
        "ExportKeyAlias",
        "AWS::KMS::Alias",
        json!({ "AliasName": names::kms_alias(env, &db.db_name), "TargetKeyId": r#ref("ExportKey") }),
    );
}

/// Days a version stays once it is no longer current (after expiry, or overwritten).
const NONCURRENT_DAYS: u32 = 30;
/// Days an unfinished multipart upload may stay before S3 aborts it.
const ABORT_UPLOAD_DAYS: u32 = 7;

/// Where the exports of `db` live, and only they: `<prefix>/<what every export id of the
/// database begins with>`. A lifecycle filter cannot negate a prefix, so the archive rule
/// names the export folders instead of excluding `_evidence/`.
pub fn export_folders_prefix(db: &Database) -> String {
    let start = s3exports_rds::export_id::common_prefix(&db.db_name);
    match db.s3_prefix.trim_matches('/') {
        "" => start,
        prefix => format!("{prefix}/{start}"),
    }
}

/// The bucket's lifecycle. Exports go Standard -> Glacier -> Deep Archive and expire; anything
/// else in the bucket only expires, at the same age. The manifests and their state
/// (`<prefix>/_evidence/`) are read again by every later export and by `verify`, and a GET of an
/// archived object fails (InvalidObjectState), so they are never archived: only the rule
/// filtered on the export folders transitions.
pub fn lifecycle_rules(db: &Database) -> Value {
    let l = db.lifecycle;
    json!([
        {
            "Id": "ArchiveThenExpire",
            "Status": "Enabled",
            "Prefix": export_folders_prefix(db),
            "Transitions": [
                { "StorageClass": "GLACIER", "TransitionInDays": l.glacier_days },
                { "StorageClass": "DEEP_ARCHIVE", "TransitionInDays": l.deep_archive_days }
            ],
            "ExpirationInDays": l.expire_days
        },
        // The evidence expires with the exports it proves; overlapping the rule above on the
        // exports with the same expiry changes nothing for them.
        {
            "Id": "ExpireEverything",
            "Status": "Enabled",
            "ExpirationInDays": l.expire_days,
            "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": ABORT_UPLOAD_DAYS }
        },
        // Versioned: expiry leaves a delete marker over each version, which becomes noncurrent
        // and is removed after NONCURRENT_DAYS (once any seal has ended); the marker, then
        // alone, is removed too. Two actions: CloudFormation refuses a rule holding only
        // ExpiredObjectDeleteMarker (cloudformation-coverage-roadmap #1124), and S3 refuses it
        // beside ExpirationInDays.
        {
            "Id": "RemoveOldVersions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": { "NoncurrentDays": NONCURRENT_DAYS },
            "ExpiredObjectDeleteMarker": true
        }
    ])
}

fn export_bucket(t: &mut Template, db: &Database) {
    let mut props = private_bucket(get_att("ExportKey", "Arn"));
    props.insert("BucketName".into(), json!(db.s3_bucket_name));
    props.insert("LifecycleConfiguration".into(), json!({ "Rules": lifecycle_rules(db) }));
    if db.object_lock != ObjectLock::Off {
        // The pair AWS documents: ObjectLockEnabled whenever ObjectLockConfiguration is applied
        // (the nested form alone has stuck or failed creates: cloudformation-coverage-roadmap
        // #626). The resource schema no longer makes ObjectLockEnabled create-only, and S3
        // enables Object Lock on an existing versioned bucket in place; `infra deploy` still
        // refuses any change set that would replace a bucket. No default retention: it would
        // apply to the temporary objects RDS writes and deletes during an export. Completed
        // exports are sealed one by one by the cataloguer instead.
        props.insert("ObjectLockEnabled".into(), json!(true));
        props.insert("ObjectLockConfiguration".into(), json!({ "ObjectLockEnabled": "Enabled" }));
    }
    let bucket = t.add("ExportBucket", "AWS::S3::Bucket", Value::Object(props));
    // Exports are the archive: deleting the stack must not delete them.
    bucket["DeletionPolicy"] = json!("Retain");
    bucket["UpdateReplacePolicy"] = json!("Retain");
    checkov_skip(
        bucket,
        &[(
            "CKV_AWS_18",
            "Written only by RDS export tasks and the cataloguer's manifests, which CloudTrail records; server access logs would add a second bucket per database for no new facts (and an Object Lock bucket can never be a log destination)",
        )],
    );
    t.add(
        "ExportBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({ "Bucket": r#ref("ExportBucket"), "PolicyDocument": policy(vec![deny_insecure_transport("ExportBucket")]) }),
    );
}

/// The role names the bucket by its configured name and the key by its alias, so it depends on
/// neither and the key policy can name the role.
fn export_role(t: &mut Template, env: &str, db: &Database) {
    let bucket_arn = format!("arn:${{AWS::Partition}}:s3:::{}", db.s3_bucket_name);
    t.add(
        "ExportRole",
        "AWS::IAM::Role",
        json!({
            "Path": names::export_role_path(env),
            "Description": "Assumed by RDS to write snapshot exports to this database's bucket",
            "AssumeRolePolicyDocument": export_service_trust(),
            "Policies": [{
                "PolicyName": "write-exports",
                "PolicyDocument": policy(vec![
                    allow("WriteExportBucket", &EXPORT_S3_ACTIONS, vec![sub(&bucket_arn), sub(&format!("{bucket_arn}/*"))]),
                    // AWS's documented wildcards reach further than an export needs: never
                    // retentions or legal holds, never the evidence the cataloguer keeps.
                    json!({
                        "Sid": "NeverLocks",
                        "Effect": "Deny",
                        "Action": ["s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention"],
                        "Resource": sub(&format!("{bucket_arn}/*"))
                    }),
                    json!({
                        "Sid": "NeverEvidence",
                        "Effect": "Deny",
                        "Action": ["s3:PutObject*", "s3:DeleteObject*"],
                        "Resource": sub(&super::catalogue::evidence_objects(db))
                    }),
                    json!({
                        "Sid": "UseExportKey",
                        "Effect": "Allow",
                        "Action": KEY_USE_ACTIONS,
                        "Resource": sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"),
                        "Condition": { "ForAnyValue:StringEquals": { "kms:ResourceAliases": names::kms_alias(env, &db.db_name) } }
                    }),
                ])
            }]
        }),
    );
}

fn target_parameter(t: &mut Template, env: &str, db: &Database, defaults: &s3exports_config::Defaults) {
    // The document the exporter reads; role and key ARNs are filled in by CloudFormation.
    let target = ExportTarget::for_database(db, defaults, "${ExportRole.Arn}".into(), "${ExportKey.Arn}".into());
    let document = serde_json::to_string(&target).unwrap_or_default();
    t.add(
        "TargetParameter",
        "AWS::SSM::Parameter",
        json!({
            "Name": names::target_parameter(env, &db.db_name),
            "Type": "String",
            "Description": format!("Export target of {} read by the exporter", db.db_name),
            "Value": sub(&document)
        }),
    );
}
