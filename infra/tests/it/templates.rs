//! The synthesized templates: snapshots of prod, and the properties that must never regress.

use s3exports_config::{embedded_env, parse};
use s3exports_infra::stacks::{self, StackKind};
use serde_json::Value;

fn prod() -> Vec<(String, StackKind, Value)> {
    let config = embedded_env("prod").unwrap().config;
    stacks::all(&config).into_iter().map(|s| (s.name, s.kind, s.template.to_json())).collect()
}

/// The lifecycle rule `id` of a bucket resource.
fn lifecycle_rule<'a>(bucket: &'a Value, id: &str) -> &'a Value {
    bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == id)
        .unwrap_or_else(|| panic!("no lifecycle rule {id} in {bucket}"))
}

fn resources_of<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"].as_object().unwrap().iter().filter(|(_, r)| r["Type"] == kind).collect()
}

fn core() -> Value {
    prod().into_iter().find(|(_, k, _)| *k == StackKind::Core).unwrap().2
}

fn database(db: &str) -> Value {
    prod().into_iter().find(|(n, _, _)| n.contains(db)).unwrap().2
}

#[test]
fn prod_templates_snapshot() {
    for (name, _, template) in prod() {
        insta::assert_json_snapshot!(name, template);
    }
}

#[test]
fn synthesis_is_deterministic() {
    let config = embedded_env("prod").unwrap().config;
    let a: Vec<String> = stacks::all(&config).iter().map(|s| s.template.render()).collect();
    let b: Vec<String> = stacks::all(&config).iter().map(|s| s.template.render()).collect();
    assert_eq!(a, b);
    let dir = tempfile::tempdir().unwrap();
    let first = s3exports_infra::synth::write(&stacks::all(&config), dir.path()).unwrap();
    let bytes: Vec<Vec<u8>> = first.iter().map(|s| std::fs::read(&s.path).unwrap()).collect();
    s3exports_infra::synth::write(&stacks::all(&config), dir.path()).unwrap();
    let again: Vec<Vec<u8>> = first.iter().map(|s| std::fs::read(&s.path).unwrap()).collect();
    assert_eq!(bytes, again);
}

#[test]
fn stack_names_follow_the_config() {
    let names: Vec<String> = prod().into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(
        names,
        [
            "rds-snapshot-s3exports-prod-bootstrap",
            "rds-snapshot-s3exports-prod",
            "rds-snapshot-s3exports-pams-stack-prod-prod",
            "rds-snapshot-s3exports-maxonevams-stack-prod-prod",
            "rds-snapshot-s3exports-maxonelams-stack-prod-prod",
        ]
    );
}

#[test]
fn export_bucket_lifecycle_encryption_and_access() {
    let t = database("pams-stack-prod");
    let bucket = &t["Resources"]["ExportBucket"];
    assert_eq!(bucket["Properties"]["BucketName"], "pams-db-snapshots-export");
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
    let rule = lifecycle_rule(bucket, "ArchiveThenExpire");
    assert_eq!(rule["Transitions"][0], serde_json::json!({"StorageClass": "GLACIER", "TransitionInDays": 7}));
    assert_eq!(rule["Transitions"][1], serde_json::json!({"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 97}));
    assert_eq!(rule["ExpirationInDays"], 365);
    assert_eq!(lifecycle_rule(bucket, "ExpireEverything")["ExpirationInDays"], 365);
    assert!(lifecycle_rule(bucket, "ExpireEverything")["AbortIncompleteMultipartUpload"].is_object());
    assert!(lifecycle_rule(bucket, "RemoveOldVersions")["NoncurrentVersionExpiration"].is_object());
    let sse = &bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "aws:kms");
    assert_eq!(
        sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        serde_json::json!({"Fn::GetAtt": ["ExportKey", "Arn"]})
    );
    assert_eq!(sse["BucketKeyEnabled"], true);
    let pab = &bucket["Properties"]["PublicAccessBlockConfiguration"];
    for k in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(pab[k], true, "{k}");
    }
    assert_eq!(bucket["Properties"]["VersioningConfiguration"]["Status"], "Enabled");
    let deny = &t["Resources"]["ExportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(t["Resources"]["ExportKey"]["Properties"]["EnableKeyRotation"], true);
}

#[test]
fn lifecycle_overrides_reach_the_bucket() {
    let text = r#"
environment = "prod"
git_branch = "main"
[[databases]]
db_name = "orders"
s3_bucket_name = "orders-exports"
lifecycle = { glacier_days = 30, deep_archive_days = 120, expire_days = 400 }
"#;
    let config = parse("t.toml", text).unwrap().config;
    let stacks = stacks::all(&config);
    let t = stacks.iter().find(|s| s.kind == StackKind::Database).unwrap().template.to_json();
    let rule = lifecycle_rule(&t["Resources"]["ExportBucket"], "ArchiveThenExpire");
    assert_eq!(rule["Transitions"][0]["TransitionInDays"], 30);
    assert_eq!(rule["Transitions"][1]["TransitionInDays"], 120);
    assert_eq!(rule["ExpirationInDays"], 400);
}

#[test]
fn subscriptions_cover_the_snapshot_and_export_events() {
    let t = core();
    let subs = resources_of(&t, "AWS::RDS::EventSubscription");
    let mut seen: Vec<(String, Vec<String>)> = subs
        .iter()
        .map(|(_, r)| {
            let p = &r["Properties"];
            let cats =
                p["EventCategories"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
            (p["SourceType"].as_str().unwrap().to_owned(), cats)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("db-cluster-snapshot".to_owned(), vec!["backup".to_owned(), "notification".to_owned()]),
            ("db-snapshot".to_owned(), vec!["creation".to_owned(), "notification".to_owned()]),
        ]
    );
    for (_, s) in subs {
        assert_eq!(s["Properties"]["SnsTopicArn"], serde_json::json!({"Ref": "EventsTopic"}));
    }
    let topic_policy = &t["Resources"]["EventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(topic_policy["Principal"]["Service"], "events.rds.amazonaws.com");
    assert!(topic_policy["Condition"]["StringEquals"]["aws:SourceAccount"].is_object());
    assert!(t["Resources"]["EventsTopic"]["Properties"]["KmsMasterKeyId"].is_object());
}

#[test]
fn lambda_runs_arm64_from_the_queue_with_partial_batches_and_a_dlq() {
    let t = core();
    let f = &t["Resources"]["ExporterFunction"]["Properties"];
    assert_eq!(f["Runtime"], "provided.al2023");
    assert_eq!(f["Architectures"], serde_json::json!(["arm64"]));
    assert_eq!(f["Code"]["S3Key"], serde_json::json!({"Ref": "CodeS3Key"}));
    // Off by default: a reservation fails stack creation in accounts with low concurrency quotas.
    assert!(f.get("ReservedConcurrentExecutions").is_none(), "{f}");
    let m = &t["Resources"]["ExporterEventSource"]["Properties"];
    assert_eq!(m["FunctionResponseTypes"], serde_json::json!(["ReportBatchItemFailures"]));
    assert_eq!(m["EventSourceArn"], serde_json::json!({"Fn::GetAtt": ["EventsQueue", "Arn"]}));
    assert!(m["ScalingConfig"]["MaximumConcurrency"].is_u64());
    let q = &t["Resources"]["EventsQueue"]["Properties"];
    assert_eq!(
        q["RedrivePolicy"]["deadLetterTargetArn"],
        serde_json::json!({"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
    );
    assert!(q["VisibilityTimeout"].as_u64().unwrap() >= 6 * f["Timeout"].as_u64().unwrap());
    for queue in ["EventsQueue", "DeadLetterQueue"] {
        assert!(t["Resources"][queue]["Properties"]["KmsMasterKeyId"].is_object(), "{queue} unencrypted");
    }
    let alarms = resources_of(&t, "AWS::CloudWatch::Alarm");
    assert_eq!(
        alarms.len(),
        5 + 2 * 3,
        "dead letters, function errors, failed exports, a stuck pending queue, incomplete evidence; two per database"
    );
    assert!(t["Resources"]["ExporterLogGroup"]["Properties"]["RetentionInDays"].is_u64());
    let wg = &t["Resources"]["AthenaWorkgroup"]["Properties"]["WorkGroupConfiguration"];
    assert_eq!(wg["EnforceWorkGroupConfiguration"], true);
    assert!(wg["BytesScannedCutoffPerQuery"].as_u64().unwrap() > 0);
    assert_eq!(wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"], "SSE_KMS");
}

#[test]
fn exports_wait_in_a_fifo_pending_queue_dispatched_and_reconciled_on_schedules() {
    let t = core();
    let q = &t["Resources"]["PendingQueue"]["Properties"];
    assert_eq!(q["FifoQueue"], true);
    assert!(q["QueueName"].as_str().unwrap().ends_with(".fifo"));
    assert_eq!(q["MessageRetentionPeriod"], 1_209_600);
    assert!(q["KmsMasterKeyId"].is_object(), "pending queue unencrypted");
    assert!(
        !resources_of(&t, "AWS::Lambda::EventSourceMapping")
            .iter()
            .any(|(_, m)| m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] == "PendingQueue"),
        "nothing consumes the pending queue but dispatch"
    );
    let f = &t["Resources"]["ExporterFunction"]["Properties"];
    assert_eq!(f["Environment"]["Variables"]["PENDING_QUEUE_URL"], serde_json::json!({"Ref": "PendingQueue"}));

    let rules = resources_of(&t, "AWS::Events::Rule");
    let inputs: Vec<Value> = rules
        .iter()
        .map(|(_, r)| serde_json::from_str(r["Properties"]["Targets"][0]["Input"].as_str().unwrap()).unwrap())
        .collect();
    assert!(inputs.contains(&serde_json::json!({"s3exports": "dispatch"})), "{inputs:?}");
    assert!(inputs.iter().any(|i| i["s3exports"] == "reconcile" && i["since_days"].as_u64() >= Some(35)), "{inputs:?}");
    for (logical, _) in &rules {
        let permission = &t["Resources"][format!("{logical}Permission")]["Properties"];
        assert_eq!(permission["Principal"], "events.amazonaws.com");
        assert_eq!(permission["SourceArn"], serde_json::json!({"Fn::GetAtt": [logical, "Arn"]}));
    }
    let per_db: Vec<&str> = resources_of(&t, "AWS::CloudWatch::Alarm")
        .iter()
        .filter(|(_, a)| a["Properties"]["MetricName"] == "SnapshotsWithoutExport")
        .map(|(_, a)| a["Properties"]["Dimensions"][0]["Value"].as_str().unwrap())
        .collect();
    assert_eq!(per_db, ["pams-stack-prod", "maxonevams-stack-prod", "maxonelams-stack-prod"]);

    let exporter_policy = &t["Resources"]["ExporterRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let pending = exporter_policy.as_array().unwrap().iter().find(|s| s["Sid"] == "PendingExports").unwrap();
    assert_eq!(pending["Resource"], serde_json::json!([{"Fn::GetAtt": ["PendingQueue", "Arn"]}]));
}

/// Every IAM policy statement: no `*` action, and `*` resources only for the actions that
/// cannot be scoped, each with a condition.
#[test]
fn iam_policies_are_least_privilege() {
    const UNSCOPABLE: [&str; 8] = [
        "rds:StartExportTask",
        "rds:DescribeExportTasks",
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ];
    let mut checked = 0;
    for (stack, _, t) in prod() {
        let documents = resources_of(&t, "AWS::IAM::Role")
            .into_iter()
            .flat_map(|(name, role)| {
                role["Properties"]["Policies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |p| (name, p["PolicyDocument"].clone()))
            })
            .chain(
                resources_of(&t, "AWS::IAM::Policy")
                    .into_iter()
                    .map(|(name, p)| (name, p["Properties"]["PolicyDocument"].clone())),
            )
            .collect::<Vec<_>>();
        for (name, document) in documents {
            {
                for st in document["Statement"].as_array().unwrap() {
                    checked += 1;
                    let actions: Vec<&str> = match &st["Action"] {
                        Value::String(a) => vec![a.as_str()],
                        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect(),
                        other => panic!("{stack}/{name}: odd Action {other}"),
                    };
                    assert!(!actions.iter().any(|a| *a == "*" || a.ends_with(":*")), "{stack}/{name}: {actions:?}");
                    let star = st["Resource"] == "*"
                        || st["Resource"].as_array().is_some_and(|r| r.contains(&Value::from("*")));
                    if star {
                        assert!(
                            actions.iter().all(|a| UNSCOPABLE.contains(a)),
                            "{stack}/{name}: * resource for {actions:?}"
                        );
                        assert!(st["Condition"].is_object(), "{stack}/{name}: unconditioned * for {actions:?}");
                    }
                }
            }
        }
    }
    assert!(checked >= 25, "only {checked} statements checked");
}

#[test]
fn exporter_may_pass_only_export_roles_and_read_only_its_parameters() {
    let t = core();
    let statements = t["Resources"]["ExporterRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .clone();
    let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).unwrap().clone();
    assert_eq!(
        by_sid("PassOnlyExportRoles")["Resource"][0],
        serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/rds-snapshot-s3exports/prod/*"})
    );
    assert_eq!(
        by_sid("ReadExportTargets")["Resource"][0],
        serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/rds-snapshot-s3exports/prod/databases/*"})
    );
    assert_eq!(
        by_sid("GrantOnExportKeys")["Condition"]["ForAnyValue:StringLike"]["kms:ResourceAliases"],
        "alias/rds-snapshot-s3exports/prod/*"
    );
    // The export role is where the exporter may pass it, and publishes its target there.
    let db = database("pams-stack-prod");
    assert_eq!(db["Resources"]["ExportRole"]["Properties"]["Path"], "/rds-snapshot-s3exports/prod/");
    assert_eq!(
        db["Resources"]["TargetParameter"]["Properties"]["Name"],
        "/rds-snapshot-s3exports/prod/databases/pams-stack-prod"
    );
    assert_eq!(
        db["Resources"]["ExportKeyAlias"]["Properties"]["AliasName"],
        "alias/rds-snapshot-s3exports/prod/pams-stack-prod"
    );
    let trust = &db["Resources"]["ExportRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "export.rds.amazonaws.com");
}

#[test]
fn target_parameter_is_the_document_the_exporter_reads() {
    let db = database("pams-stack-prod");
    let text = db["Resources"]["TargetParameter"]["Properties"]["Value"]["Fn::Sub"].as_str().unwrap();
    let filled = text
        .replace("${ExportRole.Arn}", "arn:aws:iam::1:role/x")
        .replace("${ExportKey.Arn}", "arn:aws:kms:eu-west-1:1:key/k");
    let target: s3exports_config::ExportTarget = serde_json::from_str(&filled).unwrap();
    assert_eq!(target.s3_bucket_name, "pams-db-snapshots-export");
    assert_eq!(target.glue_database.as_deref(), Some("pams_stack_prod"));
    target.validate().unwrap();
}

#[test]
fn vpc_placement_is_optional_and_https_only() {
    let text = r#"
environment = "prod"
git_branch = "main"
[vpc]
vpc_id = "vpc-0123abcd"
private_subnet_ids = ["subnet-0123abcd", "subnet-4567ef01"]
allowed_egress_cidrs = ["10.0.0.0/16"]
"#;
    let config = parse("t.toml", text).unwrap().config;
    let t = stacks::all(&config).into_iter().find(|s| s.kind == StackKind::Core).unwrap().template.to_json();
    let sg = &t["Resources"]["ExporterSecurityGroup"]["Properties"];
    assert_eq!(sg["SecurityGroupEgress"].as_array().unwrap().len(), 1);
    assert_eq!(sg["SecurityGroupEgress"][0]["FromPort"], 443);
    assert!(sg.get("SecurityGroupIngress").is_none());
    assert!(t["Resources"]["ExporterFunction"]["Properties"]["VpcConfig"].is_object());
    assert!(core()["Resources"].get("ExporterSecurityGroup").is_none());
}

fn role_actions(t: &Value, role: &str) -> Vec<String> {
    t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|st| match &st["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            _ => vec![],
        })
        .collect()
}

/// The part that starts exports cannot write the catalogue, and the part that writes the
/// catalogue cannot start exports.
#[test]
fn exporting_and_cataloguing_have_separate_rights() {
    let t = core();
    let exporter = role_actions(&t, "ExporterRole");
    let cataloguer = role_actions(&t, "CatalogueRole");
    assert!(exporter.iter().any(|a| a == "rds:StartExportTask"));
    assert!(!exporter.iter().any(|a| a.starts_with("glue:") || a.starts_with("s3:")), "{exporter:?}");
    assert!(
        !cataloguer.iter().any(|a| a == "rds:StartExportTask" || a == "iam:PassRole" || a == "kms:CreateGrant"),
        "{cataloguer:?}"
    );
    assert_eq!(t["Resources"]["CatalogueRole"]["Properties"]["RoleName"], "rds-snapshot-s3exports-prod-catalogue");
    // Each database stack grants the cataloguer its own bucket, key and Glue database only.
    let db = database("pams-stack-prod");
    let grant = &db["Resources"]["CatalogueGrant"]["Properties"];
    assert_eq!(grant["Roles"], serde_json::json!(["rds-snapshot-s3exports-prod-catalogue"]));
    let text = grant["PolicyDocument"].to_string();
    assert!(
        text.contains("pams-db-snapshots-export")
            && text.contains("database/pams_stack_prod")
            && text.contains("table/pams_stack_prod/*"),
        "{text}"
    );
    assert!(!text.contains("maxone"), "{text}");
    // Both functions run the same code, told apart by FUNCTION_ROLE.
    let f = &t["Resources"]["CatalogueFunction"]["Properties"];
    assert_eq!(f["Environment"]["Variables"]["FUNCTION_ROLE"], "catalogue");
    assert_eq!(f["Code"], t["Resources"]["ExporterFunction"]["Properties"]["Code"]);
}

#[test]
fn only_export_completed_events_reach_the_cataloguer() {
    let t = core();
    let sub = &t["Resources"]["CatalogueQueueSubscription"]["Properties"];
    assert_eq!(sub["FilterPolicyScope"], "MessageBody");
    assert_eq!(
        sub["FilterPolicy"],
        serde_json::json!({"Event ID": [{"suffix": "RDS-EVENT-0161"}, {"suffix": "RDS-EVENT-0164"}]})
    );
    assert!(t["Resources"]["EventsQueueSubscription"]["Properties"].get("FilterPolicy").is_none());
    let q = &t["Resources"]["CatalogueQueue"]["Properties"];
    assert!(
        q["VisibilityTimeout"].as_u64().unwrap()
            >= 6 * t["Resources"]["CatalogueFunction"]["Properties"]["Timeout"].as_u64().unwrap()
    );
}

#[test]
fn crawler_mode_keeps_the_seeds_crawler_per_database() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crawler.toml")).unwrap();
    let config = parse("crawler.toml", &text).unwrap().config;
    let db = stacks::all(&config).into_iter().find(|s| s.kind == StackKind::Database).unwrap().template.to_json();
    let crawler = &db["Resources"]["Crawler"]["Properties"];
    assert_eq!(crawler["Name"], "rds-snapshot-s3exports-lab-orders-lab");
    assert_eq!(crawler["Targets"]["S3Targets"][0]["Path"], "s3://orders-lab-snapshots-export/exports");
    assert!(crawler["CrawlerSecurityConfiguration"].is_object());
    let grant = db["Resources"]["CatalogueGrant"]["Properties"]["PolicyDocument"].to_string();
    assert!(grant.contains("glue:StartCrawler") && !grant.contains("glue:CreateTable"), "{grant}");
    // Direct registration (the default) has no crawler.
    assert!(database("pams-stack-prod")["Resources"].get("Crawler").is_none());
}

fn with_defaults(extra: &str) -> s3exports_config::Config {
    let text = format!(
        "environment = \"prod\"\ngit_branch = \"main\"\n[defaults]\n{extra}\n\
         [[databases]]\ndb_name = \"orders\"\ns3_bucket_name = \"orders-exports\"\ns3_prefix = \"rds\"\n"
    );
    parse("t.toml", &text).unwrap().config
}

fn templates_of(config: &s3exports_config::Config) -> (Value, Value) {
    let stacks = stacks::all(config);
    let of = |kind: StackKind| stacks.iter().find(|s| s.kind == kind).unwrap().template.to_json();
    (of(StackKind::Core), of(StackKind::Database))
}

#[test]
fn reserved_concurrency_is_set_only_when_configured() {
    let (core, _) = templates_of(&with_defaults("reserved_concurrency = 4"));
    for f in ["ExporterFunction", "CatalogueFunction"] {
        assert_eq!(core["Resources"][f]["Properties"]["ReservedConcurrentExecutions"], 4, "{f}");
    }
    let (core, _) = templates_of(&with_defaults(""));
    let skips = core["Resources"]["ExporterFunction"]["Metadata"]["checkov"]["skip"].to_string();
    assert!(skips.contains("CKV_AWS_115"), "the checkov finding is accepted with its reason: {skips}");
}

#[test]
fn the_scheduled_reconcile_has_time_for_every_database_and_its_failures_alarm() {
    let t = core();
    let f = &t["Resources"]["ExporterFunction"]["Properties"];
    let timeout = f["Timeout"].as_u64().unwrap();
    assert_eq!(timeout, 60 + 3 * 15, "three databases");
    let q = &t["Resources"]["EventsQueue"]["Properties"];
    assert!(q["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    for (i, db) in ["pams-stack-prod", "maxonevams-stack-prod", "maxonelams-stack-prod"].iter().enumerate() {
        let alarm = &t["Resources"][format!("ReconcileErrorsAlarm{i}")]["Properties"];
        assert_eq!(alarm["MetricName"], "ReconcileErrors");
        assert_eq!(alarm["Dimensions"][0]["Value"], *db);
    }
    let exporter = role_actions(&t, "ExporterRole");
    assert!(exporter.iter().any(|a| a == "rds:DescribeDBInstances"), "{exporter:?}");
    // 200 databases cannot make the function outlive Lambda's limit.
    let many: String =
        (0..200).map(|i| format!("[[databases]]\ndb_name = \"d{i}\"\ns3_bucket_name = \"d{i}-exports\"\n")).collect();
    let config = parse("t.toml", &format!("environment = \"prod\"\ngit_branch = \"main\"\n{many}")).unwrap().config;
    assert_eq!(s3exports_infra::stacks::core::exporter_timeout(&config), 900);
}

#[test]
fn object_lock_is_enabled_in_place_without_a_default_retention() {
    let t = database("pams-stack-prod");
    let bucket = &t["Resources"]["ExportBucket"]["Properties"];
    assert_eq!(bucket["ObjectLockConfiguration"], serde_json::json!({"ObjectLockEnabled": "Enabled"}));
    // The pair AWS documents ("Enable ObjectLockEnabled when you apply ObjectLockConfiguration",
    // AWS::S3::Bucket ObjectLockConfiguration); the nested form alone has failed creates
    // (cloudformation-coverage-roadmap #626). A replacement is still refused by `infra deploy`.
    assert_eq!(bucket["ObjectLockEnabled"], true, "{bucket}");
    assert!(
        bucket["ObjectLockConfiguration"].get("Rule").is_none(),
        "no default retention: RDS deletes its own temporary objects"
    );
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled", "Object Lock needs versioning");
    let markers = lifecycle_rule(&t["Resources"]["ExportBucket"], "RemoveOldVersions");
    assert_eq!(markers["ExpiredObjectDeleteMarker"], true);
    assert!(markers["NoncurrentVersionExpiration"].is_object());
    // Dev does not lock.
    let dev = s3exports_config::embedded_env("dev").unwrap().config;
    assert_eq!(dev.defaults.object_lock, Some(s3exports_config::ObjectLock::Off));
    let (_, off) = templates_of(&with_defaults("object_lock = \"off\""));
    assert!(off["Resources"]["ExportBucket"]["Properties"].get("ObjectLockConfiguration").is_none());
    assert!(off["Resources"]["ExportBucket"]["Properties"].get("ObjectLockEnabled").is_none());
    // An Object Lock bucket can never receive server access logs: nothing sends them.
    for (_, _, template) in prod() {
        assert!(!template.to_string().contains("LoggingConfiguration"), "server access logging configured somewhere");
    }
}

/// Every action an Allow statement anywhere in the template grants.
fn allowed(template: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) if m.get("Effect") == Some(&Value::from("Allow")) => match &m["Action"] {
                Value::String(a) => out.push(a.clone()),
                Value::Array(all) => out.extend(all.iter().filter_map(|a| a.as_str().map(str::to_owned))),
                _ => {}
            },
            Value::Object(m) => m.values().for_each(|v| walk(v, out)),
            Value::Array(all) => all.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(template, &mut out);
    out
}

#[test]
fn only_the_cataloguer_seals_and_only_its_databases_buckets_and_no_one_bypasses() {
    let db = database("pams-stack-prod");
    let grant =
        db["Resources"]["CatalogueGrant"]["Properties"]["PolicyDocument"]["Statement"].as_array().unwrap().clone();
    let statement = |sid: &str| grant.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("{sid}")).clone();
    let seal = statement("SealExports");
    assert_eq!(seal["Action"], serde_json::json!(["s3:PutObjectRetention", "s3:GetObjectRetention"]));
    assert_eq!(seal["Resource"][0]["Fn::Sub"], "arn:${AWS::Partition}:s3:::pams-db-snapshots-export/*");
    let write = statement("WriteManifests");
    assert_eq!(write["Resource"][0]["Fn::Sub"], "arn:${AWS::Partition}:s3:::pams-db-snapshots-export/_evidence/*");
    let read = statement("ReadExports").to_string();
    assert!(!read.contains("Attributes"), "the manifest is read with HeadObject, nothing more: {read}");
    let core = core();
    for role in ["ExporterRole", "CatalogueRole"] {
        let actions = role_actions(&core, role);
        assert!(
            !actions.iter().any(|a| a.contains("Retention") || a.contains("GetObjectAttributes")),
            "{role}: {actions:?}"
        );
    }
    for (name, _, template) in prod() {
        assert!(!allowed(&template).iter().any(|a| a.contains("BypassGovernanceRetention")), "{name}");
    }
    // RDS's export role: AWS's documented wildcards, then denied retentions and the evidence.
    let export = db["Resources"]["ExportRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].to_string();
    for denied in ["s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention", "_evidence/*"] {
        assert!(export.contains(denied), "the export role denies {denied}: {export}");
    }
    let (_, off) = templates_of(&with_defaults("object_lock = \"off\""));
    assert!(!allowed(&off).iter().any(|a| a.contains("PutObjectRetention")), "no seal, no right to seal");
    let (_, prefixed) = templates_of(&with_defaults(""));
    assert!(prefixed.to_string().contains("orders-exports/rds/_evidence/*"), "manifests under the prefix");
}

/// Every template of dev, prod and the fixtures (crawler mode, VPC, a prefix, Object Lock off
/// and compliance), as `(stack, template)`.
fn every_template() -> Vec<(String, Value)> {
    let mut configs: Vec<s3exports_config::Config> =
        ["dev", "prod"].iter().map(|env| embedded_env(env).unwrap().config).collect();
    let crawler = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/crawler.toml")).unwrap();
    configs.push(parse("crawler.toml", &crawler).unwrap().config);
    configs.push(with_defaults(""));
    configs.push(with_defaults("object_lock = \"off\""));
    configs.push(with_defaults("object_lock = \"compliance\""));
    configs.iter().flat_map(|c| stacks::all(c).into_iter().map(|s| (s.name, s.template.to_json()))).collect()
}

/// The rules CloudFormation and S3 enforce that cfn-lint and moto do not (sources in
/// `s3exports_infra::bucket_rules`: cloudformation-coverage-roadmap #132 and #1124, the
/// AWS::S3::Bucket Rule and ObjectLockConfiguration pages, S3's lifecycle errors). A rule holding
/// only ExpiredObjectDeleteMarker, or ObjectLockConfiguration without ObjectLockEnabled, fails
/// here.
#[test]
fn every_template_passes_the_bucket_rules_cloudformation_enforces() {
    let mut buckets = 0;
    for (stack, template) in every_template() {
        buckets += resources_of(&template, "AWS::S3::Bucket").len();
        let found = s3exports_infra::bucket_rules::check_template(&template);
        assert!(found.is_empty(), "{stack}: {}", found.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
    }
    assert!(buckets >= 10, "only {buckets} buckets checked");
}

#[test]
fn synthesis_refuses_a_bucket_cloudformation_would_refuse() {
    let config = embedded_env("prod").unwrap().config;
    let mut all = stacks::all(&config);
    let db = all.iter_mut().find(|s| s.kind == StackKind::Database).unwrap();
    let bucket = db.template.resources.get_mut("ExportBucket").unwrap();
    bucket["Properties"]["LifecycleConfiguration"]["Rules"] = serde_json::json!([{ "Id": "RemoveExpiredDeleteMarkers", "Status": "Enabled", "ExpiredObjectDeleteMarker": true }]);
    let dir = tempfile::tempdir().unwrap();
    let err = s3exports_infra::synth::write(&all, dir.path()).unwrap_err().to_string();
    assert!(err.contains("ExportBucket lifecycle rule `RemoveExpiredDeleteMarkers`: no action"), "{err}");
    assert!(err.contains("would refuse"), "{err}");
}

/// Whether some enabled rule of `bucket` applies `action` to `key` (prefix filters only: the
/// templates use no tag or size filter).
fn rule_applies(bucket: &Value, action: &str, key: &str) -> bool {
    bucket["Properties"]["LifecycleConfiguration"]["Rules"].as_array().unwrap().iter().any(|r| {
        r["Status"] == "Enabled"
            && r.get(action).is_some()
            && r["TagFilters"].is_null()
            && key.starts_with(r["Prefix"].as_str().unwrap_or(""))
    })
}

/// A GET of an archived object fails with InvalidObjectState (S3 API reference, GetObject), and
/// the cataloguer and `verify` read the previous manifest and the chain's state again: they are
/// never archived, yet expire with the exports, noncurrent versions too. Exports of every
/// attempt and of a database moved to a new bucket are archived.
#[test]
fn exports_are_archived_and_the_evidence_only_expires() {
    use s3exports_rds::export_id;
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T03:10:00Z").unwrap().to_utc();
    let long_name = "a-database-with-a-very-long-identifier-indeed";
    let config = |prefix: &str, db: &str| {
        let text = format!(
            "environment = \"prod\"\ngit_branch = \"main\"\n[[databases]]\ndb_name = \"{db}\"\n\
             s3_bucket_name = \"orders-exports\"\ns3_prefix = \"{prefix}\"\n"
        );
        parse("t.toml", &text).unwrap().config
    };
    for (prefix, db) in [("", "orders"), ("rds/exports", "orders"), ("rds", long_name)] {
        let config = config(prefix, db);
        let t = stacks::all(&config).into_iter().find(|s| s.kind == StackKind::Database).unwrap().template.to_json();
        let bucket = &t["Resources"]["ExportBucket"];
        let under = |key: &str| if prefix.is_empty() { key.to_owned() } else { format!("{prefix}/{key}") };
        let arn = "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:orders-2026-11-24-03-10";
        let first = export_id::export_task_identifier(db, at, arn);
        let ids = [
            first.clone(),
            export_id::attempt_identifier(db, at, arn, 7),
            export_id::attempt_identifier(db, at, arn, u32::MAX),
            export_id::in_bucket(&first, "orders-exports"),
        ];
        for id in &ids {
            for key in
                [format!("{id}/{db}/public.orders/1/part-00000-x.gz.parquet"), format!("{id}/export_info_{id}.json")]
            {
                let key = under(&key);
                assert!(rule_applies(bucket, "Transitions", &key), "{db} export not archived: {key}");
                assert!(rule_applies(bucket, "ExpirationInDays", &key), "{db} export never expires: {key}");
            }
        }
        let manifest = s3exports_config::names::manifest_key(prefix, db, &first);
        let folder = s3exports_config::names::evidence_folder(prefix, db);
        for key in [manifest, format!("{folder}_state/head.json"), under("_state/pending.json")] {
            assert!(!rule_applies(bucket, "Transitions", &key), "{db}: {key} would be archived");
            assert!(!rule_applies(bucket, "NoncurrentVersionTransitions", &key), "{db}: {key} would be archived");
            assert!(rule_applies(bucket, "ExpirationInDays", &key), "{db}: {key} never expires");
            assert!(rule_applies(bucket, "NoncurrentVersionExpiration", &key), "{db}: old versions of {key} stay");
        }
    }
}

/// SQS leaves messages received three times or more out of ApproximateAgeOfOldestMessage
/// ("points at the second-oldest message that hasn't been received more than three times",
/// Available CloudWatch metrics for Amazon SQS), and dispatch receives and returns the waiting
/// exports every few minutes: the alarm reads that nothing left a queue that holds messages.
/// CloudWatch: Period x EvaluationPeriods at most 7 days (PutMetricAlarm API reference).
#[test]
fn a_stuck_pending_queue_alarms_on_what_sqs_counts_reliably() {
    let t = core();
    assert!(!t.to_string().contains("ApproximateAgeOfOldestMessage"), "an alarm reads the age of the oldest message");
    let alarm = &t["Resources"]["PendingStuckAlarm"]["Properties"];
    for single in ["MetricName", "Namespace", "Statistic", "Period", "Dimensions"] {
        assert!(alarm.get(single).is_none(), "a metric math alarm has no {single}: {alarm}");
    }
    let metrics = alarm["Metrics"].as_array().unwrap();
    let by_id = |id: &str| metrics.iter().find(|m| m["Id"] == id).unwrap_or_else(|| panic!("no metric {id}"));
    let queue = serde_json::json!([{"Name": "QueueName", "Value": {"Fn::GetAtt": ["PendingQueue", "QueueName"]}}]);
    for (id, metric, stat) in [
        ("waiting", "ApproximateNumberOfMessagesVisible", "Maximum"),
        ("held", "ApproximateNumberOfMessagesNotVisible", "Maximum"),
        ("left", "NumberOfMessagesDeleted", "Sum"),
    ] {
        let m = &by_id(id)["MetricStat"];
        assert_eq!(m["Metric"]["Namespace"], "AWS/SQS");
        assert_eq!(m["Metric"]["MetricName"], metric);
        assert_eq!(m["Metric"]["Dimensions"], queue);
        assert_eq!(m["Stat"], stat);
        assert_eq!(m["Period"], 3600);
        assert_eq!(by_id(id)["ReturnData"], false);
    }
    let stuck = by_id("stuck");
    assert_eq!(stuck["ReturnData"], true);
    assert_eq!(stuck["Expression"], "IF(FILL(waiting, 0) + FILL(held, 0) > 0 AND FILL(left, 0) == 0, 1, 0)");
    assert_eq!(metrics.iter().filter(|m| m["ReturnData"] == true).count(), 1);
    let periods = alarm["EvaluationPeriods"].as_u64().unwrap();
    assert_eq!(periods, 72, "three days of hours");
    assert_eq!(alarm["DatapointsToAlarm"], periods, "every hour of the three days");
    assert!(periods * 3600 <= 7 * 86_400);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["Threshold"], 0);
    assert_eq!(alarm["AlarmActions"], serde_json::json!([{"Ref": "AlertsTopic"}]));
    // SQS publishes these itself: the exporter needs no new right.
    assert!(!role_actions(&t, "ExporterRole").iter().any(|a| a.starts_with("cloudwatch:Get")));
}
