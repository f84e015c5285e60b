//! The cataloguing function in the core stack: its queue (export-completed events only), its
//! named role and the function. Each database stack attaches the rights to its own bucket, key
//! and Glue database to the role, so adding a database changes no core resource.

use s3exports_config::{CatalogMode, Config, Database, ObjectLock, names};
use serde_json::{Value, json};

use super::function::{self, QueueFunction};
use super::queue::queue_on_topic;
use crate::cfn::{Template, allow, get_att, policy, r#ref, sub};

/// Cataloguing 2,000 tables fits well inside this.
const TIMEOUT: u32 = 900;

pub fn add(t: &mut Template, config: &Config) {
    let env = config.environment.as_str();
    // Only RDS-EVENT-0161/0164 (export completed) reach this queue.
    // Suffixes without the `#`: the body's "Event ID" is a URL ending in `#RDS-EVENT-0161`, and
    // a bare id (the form of the documented `EventID` message attribute) matches as well.
    let filter = json!({ "Event ID": [{ "suffix": "RDS-EVENT-0161" }, { "suffix": "RDS-EVENT-0164" }] });
    queue_on_topic(t, "CatalogueQueue", &names::catalogue_queue(env), TIMEOUT * 6, Some(filter));
    let region_only = json!({ "StringEquals": { "aws:RequestedRegion": r#ref("AWS::Region") } });
    let statements = vec![
        allow(
            "DescribeSnapshots",
            &["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"],
            ["snapshot", "cluster-snapshot"]
                .iter()
                .map(|kind| sub(&format!("arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:{kind}:*")))
                .collect(),
        ),
        // DescribeExportTasks supports no resource-level scoping: "*", pinned to the region.
        json!({ "Sid": "FindExportTask", "Effect": "Allow", "Action": "rds:DescribeExportTasks", "Resource": "*", "Condition": region_only }),
        super::list_export_targets(env),
    ];
    function::add(
        t,
        config,
        QueueFunction {
            logical: "Catalogue",
            name: names::cataloguer_function(env),
            role_name: Some(names::cataloguer_role(env)),
            description: "Catalogues every completed export in Glue: a table per source table, a partition per snapshot",
            statements,
            queue: "CatalogueQueue",
            environment: vec![("FUNCTION_ROLE", json!("catalogue"))],
            timeout: TIMEOUT,
            memory: 256,
            batch_size: 1,
            max_concurrency: 2,
        },
    );
    t.output("CatalogueQueueUrl", "Export-completed events to catalogue", r#ref("CatalogueQueue"));
}

/// The ARN pattern of every object under the bucket's evidence folder (all databases').
pub fn evidence_objects(db: &Database) -> String {
    let bucket = format!("arn:${{AWS::Partition}}:s3:::{}", db.s3_bucket_name);
    let prefix = db.s3_prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{bucket}/{}/*", names::EVIDENCE_FOLDER)
    } else {
        format!("{bucket}/{prefix}/{}/*", names::EVIDENCE_FOLDER)
    }
}

/// The database stack's grant to the cataloguer: read its exports, decrypt them, write its Glue
/// database (and run its crawler in crawler mode).
pub fn database_grant(t: &mut Template, config: &Config, db: &Database) {
    let env = config.environment.as_str();
    let glue_db = names::glue_database(&db.db_name);
    let glue = |what: &str| sub(&format!("arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{what}"));
    let bucket = format!("arn:${{AWS::Partition}}:s3:::{}", db.s3_bucket_name);
    let evidence = evidence_objects(db);
    let mut statements = vec![
        allow("ListExports", &["s3:ListBucket", "s3:ListBucketVersions"], vec![sub(&bucket)]),
        // The manifest records each object's version and S3's checksum, read without the data.
        allow("ReadExports", &["s3:GetObject", "s3:GetObjectVersion"], vec![sub(&format!("{bucket}/*"))]),
        // Manifests only: the cataloguer writes nothing else into the bucket.
        allow("WriteManifests", &["s3:PutObject"], vec![sub(&evidence)]),
        allow("UseExportKey", &["kms:Decrypt", "kms:GenerateDataKey"], vec![get_att("ExportKey", "Arn")]),
    ];
    if db.object_lock != ObjectLock::Off {
        // Seals completed exports. Never s3:BypassGovernanceRetention: no role can shorten one.
        statements.push(allow(
            "SealExports",
            &["s3:PutObjectRetention", "s3:GetObjectRetention"],
            vec![sub(&format!("{bucket}/*"))],
        ));
        statements.push(allow("CheckObjectLock", &["s3:GetBucketObjectLockConfiguration"], vec![sub(&bucket)]));
    }
    match config.defaults.catalog {
        CatalogMode::Glue => statements.push(allow(
            "RegisterTablesAndPartitions",
            &[
                "glue:GetTables",
                "glue:GetTable",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:BatchCreatePartition",
                "glue:GetPartitions",
            ],
            vec![glue("catalog"), glue(&format!("database/{glue_db}")), glue(&format!("table/{glue_db}/*"))],
        )),
        CatalogMode::Crawler => {
            statements.push(allow(
                "RunCrawler",
                &["glue:UpdateCrawler", "glue:StartCrawler"],
                vec![glue(&format!("crawler/{}", names::crawler(env, &db.db_name)))],
            ));
            // Crawlers do not set read_restored_glacier_objects: the cataloguer sets it on the
            // tables they made, so Athena reads restored copies.
            statements.push(allow(
                "MarkCrawledTables",
                &["glue:GetTables", "glue:UpdateTable"],
                vec![glue("catalog"), glue(&format!("database/{glue_db}")), glue(&format!("table/{glue_db}/*"))],
            ));
        }
    }
    t.add(
        "CatalogueGrant",
        "AWS::IAM::Policy",
        json!({
            "PolicyName": format!("catalogue-{}", db.db_name),
            "Roles": [names::cataloguer_role(env)],
            "PolicyDocument": policy(statements)
        }),
    );
}

/// Crawler mode: the seed's Glue crawler per database, encrypted, with a role limited to this
/// database. The cataloguer points it at each completed export's folder and starts it.
pub fn crawler(t: &mut Template, config: &Config, db: &Database) {
    let env = config.environment.as_str();
    let glue_db = names::glue_database(&db.db_name);
    let bucket = format!("arn:${{AWS::Partition}}:s3:::{}", db.s3_bucket_name);
    let glue = |what: &str| sub(&format!("arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{what}"));
    t.add(
        "CrawlerRole",
        "AWS::IAM::Role",
        json!({
            "Path": format!("/{}/{env}/crawlers/", names::PROJECT),
            "AssumeRolePolicyDocument": crate::cfn::assume_role("glue.amazonaws.com"),
            "Policies": [{ "PolicyName": "crawl-exports", "PolicyDocument": policy(vec![
                allow("ListExports", &["s3:ListBucket"], vec![sub(&bucket)]),
                allow("ReadExports", &["s3:GetObject"], vec![sub(&format!("{bucket}/*"))]),
                allow("DecryptExports", &["kms:Decrypt"], vec![get_att("ExportKey", "Arn")]),
                allow(
                    "WriteCatalogue",
                    &["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                      "glue:BatchCreatePartition", "glue:BatchGetPartition", "glue:GetPartitions", "glue:UpdatePartition"],
                    vec![glue("catalog"), glue(&format!("database/{glue_db}")), glue(&format!("table/{glue_db}/*"))],
                ),
                allow(
                    "CrawlerLogs",
                    &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                    vec![sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/crawlers*")],
                ),
                // The security configuration encrypts the crawler's logs and bookmarks with the
                // export key: the Glue guide's KMS actions for that.
                allow(
                    "EncryptCrawlerOutput",
                    &["kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    vec![get_att("ExportKey", "Arn")],
                ),
            ]) }]
        }),
    );
    // CloudWatch Logs encrypts the crawler's log group with the export key only if the key's
    // policy lets the logs service use it, for this account's crawler log groups.
    let logs_use_key = crate::cfn::logs_service_uses_key("CrawlerLogsUseKey", "/aws-glue/crawlers*");
    if let Some(statements) = t
        .resources
        .get_mut("ExportKey")
        .and_then(|key| key.pointer_mut("/Properties/KeyPolicy/Statement"))
        .and_then(Value::as_array_mut)
    {
        statements.push(logs_use_key);
    }
    t.add(
        "CrawlerSecurity",
        "AWS::Glue::SecurityConfiguration",
        json!({
            "Name": format!("{}-crawler", names::crawler(env, &db.db_name)),
            "EncryptionConfiguration": {
                "S3Encryptions": [{ "S3EncryptionMode": "SSE-KMS", "KmsKeyArn": get_att("ExportKey", "Arn") }],
                "CloudWatchEncryption": { "CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": get_att("ExportKey", "Arn") },
                "JobBookmarksEncryption": { "JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": get_att("ExportKey", "Arn") }
            }
        }),
    );
    let configuration: Value = json!({ "Version": 1.0, "Grouping": { "TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": 3 } });
    t.add(
        "Crawler",
        "AWS::Glue::Crawler",
        json!({
            "Name": names::crawler(env, &db.db_name),
            "Role": get_att("CrawlerRole", "Arn"),
            "DatabaseName": r#ref("GlueDatabase"),
            // The manifests are evidence, not a table.
            "Targets": { "S3Targets": [{
                "Path": format!("s3://{}/{}", db.s3_bucket_name, db.s3_prefix),
                "Exclusions": [format!("{}/**", names::EVIDENCE_FOLDER)]
            }] },
            "CrawlerSecurityConfiguration": r#ref("CrawlerSecurity"),
            "Configuration": configuration.to_string(),
            "SchemaChangePolicy": { "UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG" },
            "RecrawlPolicy": { "RecrawlBehavior": "CRAWL_EVERYTHING" }
        }),
    );
}
