//! Every name that infra gives a resource and the exporter or athenaq must find again.
//! Nothing else in the workspace formats these names.

/// Prefix of every stack, parameter, alias and role path of the project.
pub const PROJECT: &str = "rds-snapshot-s3exports";

/// CloudWatch namespace of the exporter's metrics.
pub const METRIC_NAMESPACE: &str = "RdsSnapshotS3Exports";
/// Metric counted once per failed or canceled export.
pub const METRIC_EXPORT_FAILED: &str = "ExportFailed";
/// Metric counted when an export-finished event names a task that never appears.
pub const METRIC_EXPORT_EVENT_WITHOUT_TASK: &str = "ExportEventWithoutTask";
/// Metric the scheduled reconcile records per database: eligible snapshots with no export.
pub const METRIC_SNAPSHOTS_WITHOUT_EXPORT: &str = "SnapshotsWithoutExport";
/// Metric the scheduled reconcile records per database: 1 when the database could not be
/// reconciled (its listing failed, or the run's time ran out before it), else 0.
pub const METRIC_RECONCILE_ERRORS: &str = "ReconcileErrors";
/// Metric the cataloguer counts once per completed export it could not manifest and seal whole.
pub const METRIC_EVIDENCE_INCOMPLETE: &str = "EvidenceIncomplete";
/// Where a database's manifests live: `<prefix>/_evidence/<db>/<export id>.json`. Athena, Hive
/// and the local discovery skip keys under a folder starting with `_`.
pub const EVIDENCE_FOLDER: &str = "_evidence";

/// The environment's core stack: topic, queue, Lambda, alarms, Athena workgroup.
pub fn core_stack(env: &str) -> String {
    format!("{PROJECT}-{env}")
}

/// One database's stack: bucket, key, export role, Glue database, target parameter.
pub fn database_stack(db_name: &str, env: &str) -> String {
    format!("{PROJECT}-{db_name}-{env}")
}

/// SSM parameter under which a database stack publishes its [`crate::ExportTarget`].
pub fn target_parameter(env: &str, db_name: &str) -> String {
    format!("{}{db_name}", target_parameter_prefix(env))
}

/// Path under which all of an environment's target parameters live (for IAM scoping).
pub fn target_parameter_prefix(env: &str) -> String {
    format!("/{PROJECT}/{env}/databases/")
}

/// IAM path of the export roles; the exporter may pass only roles under it.
pub fn export_role_path(env: &str) -> String {
    format!("/{PROJECT}/{env}/")
}

/// KMS alias of a database's export key.
pub fn kms_alias(env: &str, db_name: &str) -> String {
    format!("alias/{PROJECT}/{env}/{db_name}")
}

/// KMS alias prefix of an environment's export keys (for IAM conditions).
pub fn kms_alias_prefix(env: &str) -> String {
    format!("alias/{PROJECT}/{env}/")
}

/// KMS alias of the environment's key for the event topics, queues and logs. Deliberately
/// outside [`kms_alias_prefix`]: the exporter may grant on export keys only.
pub fn events_key_alias(env: &str) -> String {
    format!("alias/{PROJECT}-{env}-events")
}

/// CloudFormation stack holding the artifacts bucket the deploy uploads code to.
pub fn bootstrap_stack(env: &str) -> String {
    format!("{PROJECT}-{env}-bootstrap")
}

pub fn exporter_function(env: &str) -> String {
    format!("{PROJECT}-{env}-exporter")
}

pub fn cataloguer_function(env: &str) -> String {
    format!("{PROJECT}-{env}-catalogue")
}

/// The cataloguing function's role, named so each database stack can attach the rights to its
/// own bucket, key and Glue database without redeploying the core stack.
pub fn cataloguer_role(env: &str) -> String {
    format!("{PROJECT}-{env}-catalogue")
}

pub fn catalogue_queue(env: &str) -> String {
    format!("{PROJECT}-{env}-catalogue")
}

pub fn events_topic(env: &str) -> String {
    format!("{PROJECT}-{env}-rds-events")
}

pub fn alerts_topic(env: &str) -> String {
    format!("{PROJECT}-{env}-alerts")
}

pub fn events_queue(env: &str) -> String {
    format!("{PROJECT}-{env}-events")
}

pub fn dead_letter_queue(env: &str) -> String {
    format!("{PROJECT}-{env}-events-dlq")
}

/// Exports waiting for a free slot; FIFO, so the name ends in `.fifo`.
pub fn pending_queue(env: &str) -> String {
    format!("{PROJECT}-{env}-pending.fifo")
}

pub fn athena_workgroup(env: &str) -> String {
    format!("{PROJECT}-{env}")
}

/// Glue crawler of one database (`catalog = "crawler"`).
pub fn crawler(env: &str, db_name: &str) -> String {
    format!("{PROJECT}-{env}-{db_name}")
}

/// Whether two database ids name one database: RDS identifiers are case-insensitive (RDS stores
/// them lower case), so `Orders` and `orders` are one. The one case rule of every `--db`.
pub fn same_db_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Glue database of one configured database: lower-cased, `[^a-z0-9_]` -> `_`.
pub fn glue_database(db_name: &str) -> String {
    glue_identifier(db_name)
}

/// Glue table of one exported source table: `<database>_<schema>_<table>` for PostgreSQL,
/// `<database>_<table>` for MySQL/MariaDB (no schema level).
pub fn glue_table(database: &str, schema: Option<&str>, table: &str) -> String {
    let joined = match schema {
        Some(schema) => format!("{database}_{schema}_{table}"),
        None => format!("{database}_{table}"),
    };
    glue_identifier(&joined)
}

/// The folder of one database's manifests in its bucket: `<prefix>/_evidence/<db>/`.
pub fn evidence_folder(s3_prefix: &str, db_name: &str) -> String {
    let prefix = s3_prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{EVIDENCE_FOLDER}/{db_name}/")
    } else {
        format!("{prefix}/{EVIDENCE_FOLDER}/{db_name}/")
    }
}

/// One export's manifest: `<prefix>/_evidence/<db>/<export id>.json`.
pub fn manifest_key(s3_prefix: &str, db_name: &str, export_id: &str) -> String {
    format!("{}{export_id}.json", evidence_folder(s3_prefix, db_name))
}

/// Glue and Athena fold names to lower case and accept `[a-z0-9_]`.
pub fn glue_identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '_' }
        })
        .collect()
}

/// Partition columns of every catalogued table, in order.
pub const PARTITION_KEYS: [&str; 2] = ["snapshot_date", "export_id"];

/// Every derived name of one environment, as `infra synth` writes it to `names.json` for the
/// scripts (demo, benchmarks) that must find the resources without deriving names again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnvironmentNames {
    pub environment: String,
    pub core_stack: String,
    pub bootstrap_stack: String,
    pub events_topic: String,
    pub alerts_topic: String,
    pub events_queue: String,
    pub dead_letter_queue: String,
    pub pending_queue: String,
    pub catalogue_queue: String,
    pub exporter_function: String,
    pub cataloguer_function: String,
    pub cataloguer_role: String,
    pub athena_workgroup: String,
    pub target_parameter_prefix: String,
    pub export_role_path: String,
    pub metric_namespace: String,
    pub databases: Vec<DatabaseNames>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseNames {
    pub db_name: String,
    pub stack: String,
    pub s3_bucket: String,
    pub kms_alias: String,
    pub glue_database: String,
    pub target_parameter: String,
    pub crawler: String,
}

/// The names of `config`'s environment and each of its databases.
pub fn environment(config: &crate::Config) -> EnvironmentNames {
    let env = config.environment.as_str();
    EnvironmentNames {
        environment: env.to_owned(),
        core_stack: core_stack(env),
        bootstrap_stack: bootstrap_stack(env),
        events_topic: events_topic(env),
        alerts_topic: alerts_topic(env),
        events_queue: events_queue(env),
        dead_letter_queue: dead_letter_queue(env),
        pending_queue: pending_queue(env),
        catalogue_queue: catalogue_queue(env),
        exporter_function: exporter_function(env),
        cataloguer_function: cataloguer_function(env),
        cataloguer_role: cataloguer_role(env),
        athena_workgroup: athena_workgroup(env),
        target_parameter_prefix: target_parameter_prefix(env),
        export_role_path: export_role_path(env),
        metric_namespace: METRIC_NAMESPACE.to_owned(),
        databases: config
            .databases
            .iter()
            .map(|d| DatabaseNames {
                db_name: d.db_name.clone(),
                stack: database_stack(&d.db_name, env),
                s3_bucket: d.s3_bucket_name.clone(),
                kms_alias: kms_alias(env, &d.db_name),
                glue_database: glue_database(&d.db_name),
                target_parameter: target_parameter(env, &d.db_name),
                crawler: crawler(env, &d.db_name),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_and_parameter_names() {
        assert_eq!(core_stack("prod"), "rds-snapshot-s3exports-prod");
        assert_eq!(database_stack("pams-stack-prod", "prod"), "rds-snapshot-s3exports-pams-stack-prod-prod");
        assert_eq!(
            target_parameter("prod", "pams-stack-prod"),
            "/rds-snapshot-s3exports/prod/databases/pams-stack-prod"
        );
        assert!(target_parameter("prod", "x").starts_with(&target_parameter_prefix("prod")));
        assert!(kms_alias("dev", "x").starts_with(&kms_alias_prefix("dev")));
    }

    #[test]
    fn glue_names_are_sanitised() {
        assert_eq!(glue_database("pams-stack-prod"), "pams_stack_prod");
        assert_eq!(glue_table("pams", Some("public"), "Orders"), "pams_public_orders");
        assert_eq!(glue_table("shop", None, "line-items"), "shop_line_items");
        assert_eq!(glue_identifier("Über.Tabelle"), "_ber_tabelle");
    }
}
