//! The config files as a user writes them: what is accepted, and how mistakes are reported.

use s3exports_config::{
    CatalogMode, ConfigError, EnvSelector, MinInterval, SnapshotType, embedded, embedded_env, parse, select,
};

const MINIMAL: &str = r#"
environment = "prod"
git_branch = "main"
"#;

fn problems(text: &str) -> String {
    match parse("test.toml", text) {
        Err(e @ ConfigError::Invalid { .. }) => e.to_string(),
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

fn with_db(extra: &str) -> String {
    format!("{MINIMAL}\n[[databases]]\ndb_name = \"orders-db\"\ns3_bucket_name = \"orders-exports\"\n{extra}")
}

#[test]
fn embedded_environments_are_valid_and_as_specified() {
    let all = embedded().expect("embedded configs are valid");
    assert_eq!(all.len(), 2);
    let dev = embedded_env("dev").unwrap().config;
    assert_eq!(dev.git_branch, "develop");
    assert!(dev.databases.is_empty());
    let prod = embedded_env("prod").unwrap();
    assert!(prod.warnings.is_empty(), "{:?}", prod.warnings);
    let prod = prod.config;
    assert_eq!(prod.git_branch, "main");
    let pairs: Vec<(&str, &str)> =
        prod.databases.iter().map(|d| (d.db_name.as_str(), d.s3_bucket_name.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("pams-stack-prod", "pams-db-snapshots-export"),
            ("maxonevams-stack-prod", "maxonevams-db-snapshots-export"),
            ("maxonelams-stack-prod", "maxonelams-db-snapshots-export"),
        ]
    );
    for db in &prod.databases {
        assert_eq!((db.lifecycle.glacier_days, db.lifecycle.deep_archive_days, db.lifecycle.expire_days), (7, 97, 365));
        assert_eq!(db.policy.snapshot_types, SnapshotType::ALL);
        assert_eq!(db.policy.min_interval, MinInterval::NONE);
    }
    assert_eq!(prod.defaults.export_slots, 5);
    assert_eq!(prod.defaults.catalog, CatalogMode::Glue);
}

#[test]
fn defaults_apply_and_overrides_win() {
    let loaded = parse(
        "t.toml",
        &with_db(
            r#"
export_only = ["orders.public.items", "orders.audit"]
s3_prefix = "exports/rds"
snapshot_types = ["manual"]
min_interval = "20h"
lifecycle = { expire_days = 400 }
"#,
        ),
    )
    .unwrap();
    let db = &loaded.config.databases[0];
    assert_eq!(db.s3_prefix, "exports/rds");
    assert_eq!(db.policy.snapshot_types, [SnapshotType::Manual]);
    assert_eq!(db.policy.min_interval.to_string(), "20h");
    assert_eq!((db.lifecycle.glacier_days, db.lifecycle.expire_days), (7, 400));
}

#[test]
fn unknown_keys_are_named_with_their_path_and_line() {
    let msg = problems(&with_db("lifecycle = { glacer_days = 3 }"));
    assert!(msg.starts_with("test.toml: databases[0].lifecycle"), "{msg}");
    assert!(msg.contains("unknown field `glacer_days`"), "{msg}");
    assert!(msg.contains("line 8"), "{msg}");

    let msg = problems(&format!("{MINIMAL}\nregion = \"eu-west-1\"\n"));
    assert!(msg.contains("unknown field `region`"), "{msg}");
}

#[test]
fn wrong_types_and_bad_values_are_named() {
    let msg = problems(&with_db("snapshot_types = [\"hourly\"]"));
    assert!(msg.contains("databases[0].snapshot_types[0]"), "{msg}");
    assert!(msg.contains("hourly"), "{msg}");

    let msg = problems(&with_db("min_interval = \"soon\""));
    assert!(msg.contains("databases[0].min_interval"), "{msg}");
}

#[test]
fn bucket_names_follow_s3_rules() {
    for (bucket, why) in [
        ("ab", "3 to 63"),
        ("Orders-Exports", "lower-case"),
        ("-orders", "begin and end"),
        ("192.168.1.1", "adjacent dots|IP address|dots"),
        ("xn--orders", "reserved prefix"),
        ("orders-s3alias", "reserved suffix"),
    ] {
        let text = format!("{MINIMAL}\n[[databases]]\ndb_name = \"a\"\ns3_bucket_name = \"{bucket}\"\n");
        let msg = problems(&text);
        assert!(msg.contains("databases[0].s3_bucket_name"), "{msg}");
        assert!(why.split('|').any(|w| msg.contains(w)), "{bucket}: {msg}");
    }
}

#[test]
fn duplicates_are_reported_with_both_places() {
    let text = format!(
        "{MINIMAL}
[[databases]]
db_name = \"a\"
s3_bucket_name = \"bucket-one\"
[[databases]]
db_name = \"a\"
s3_bucket_name = \"bucket-one\"
"
    );
    let msg = problems(&text);
    assert!(msg.contains("2 problems"), "{msg}");
    assert!(msg.contains("databases[1].db_name: `a` is configured twice (also databases[0])"), "{msg}");
    assert!(msg.contains("databases[1].s3_bucket_name: bucket `bucket-one` is already used by databases[0]"), "{msg}");
}

#[test]
fn export_only_prefix_and_lifecycle_order_are_checked() {
    let msg = problems(&with_db("export_only = [\"a..b\", \"a.b.c.d\", \"ok.table\"]"));
    assert!(msg.contains("databases[0].export_only[0]"), "{msg}");
    assert!(msg.contains("databases[0].export_only[1]"), "{msg}");
    assert!(!msg.contains("export_only[2]"), "{msg}");

    let msg = problems(&with_db("s3_prefix = \"rds:exports\""));
    assert!(msg.contains("databases[0].s3_prefix") && msg.contains("`:`"), "{msg}");

    let msg = problems(&with_db("lifecycle = { glacier_days = 100, deep_archive_days = 97 }"));
    assert!(msg.contains("databases[0].lifecycle.deep_archive_days"), "{msg}");
    assert!(msg.contains("must be after glacier_days (100)"), "{msg}");
}

#[test]
fn short_archive_steps_warn_but_load() {
    let loaded =
        parse("t.toml", &with_db("lifecycle = { glacier_days = 7, deep_archive_days = 30, expire_days = 60 }"))
            .unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("databases[0].lifecycle.deep_archive_days: objects stay 23 days in Glacier"));
    assert!(warnings[1].contains("Deep Archive, which bills at least 180"));
}

#[test]
fn db_identifier_and_vpc_rules() {
    let msg = problems(&format!("{MINIMAL}\n[[databases]]\ndb_name = \"1db--x\"\ns3_bucket_name = \"abc\"\n"));
    assert!(msg.contains("databases[0].db_name") && msg.contains("must start with a letter"), "{msg}");

    let msg = problems(&format!(
        "{MINIMAL}\n[vpc]\nvpc_id = \"vpc-12\"\nprivate_subnet_ids = []\nallowed_egress_cidrs = [\"10.0.0.0/33\"]\n"
    ));
    assert!(msg.contains("vpc.vpc_id"), "{msg}");
    assert!(msg.contains("vpc.private_subnet_ids"), "{msg}");
    assert!(msg.contains("vpc.allowed_egress_cidrs[0]"), "{msg}");
}

#[test]
fn environment_selection_by_name_and_branch() {
    let configs: Vec<_> = embedded().unwrap().into_iter().map(|l| l.config).collect();
    let named = select(&"dev".parse().unwrap(), &configs, || unreachable!()).unwrap();
    assert_eq!(named.environment, "dev");
    let auto = select(&EnvSelector::Auto, &configs, || Ok("main".into())).unwrap();
    assert_eq!(auto.environment, "prod");
    let auto = select(&EnvSelector::Auto, &configs, || Ok("develop".into())).unwrap();
    assert_eq!(auto.environment, "dev");
    let err = select(&EnvSelector::Auto, &configs, || Ok("feature/x".into())).unwrap_err().to_string();
    assert!(err.contains("no environment deploys from git branch `feature/x`") && err.contains("dev, prod"), "{err}");
    let err = select(&"staging".parse().unwrap(), &configs, || unreachable!()).unwrap_err().to_string();
    assert!(err.contains("unknown environment `staging`"), "{err}");
    assert!("Prod".parse::<EnvSelector>().is_err());
}

#[test]
fn hostile_configs_are_refused_with_the_place_named() {
    // RDS identifiers ignore case: these are one database.
    let twice = format!(
        "{MINIMAL}\n[[databases]]\ndb_name = \"Orders-DB\"\ns3_bucket_name = \"a-exports\"\n\
         [[databases]]\ndb_name = \"orders-db\"\ns3_bucket_name = \"b-exports\"\n"
    );
    let p = problems(&twice);
    assert!(p.contains("databases[1].db_name") && p.contains("configured twice"), "{p}");

    let huge = problems(&with_db("lifecycle = { glacier_days = 7, deep_archive_days = 97, expire_days = 4000000000 }"));
    assert!(huge.contains("databases[0].lifecycle.expire_days") && huge.contains("36500"), "{huge}");

    let types = problems(&with_db("snapshot_types = [\"manual\", \"automated\", \"manual\"]"));
    assert!(types.contains("databases[0].snapshot_types[2]") && types.contains("listed twice"), "{types}");

    let slots = problems(&format!("{MINIMAL}\n[defaults]\nexport_slots = 6\n"));
    assert!(slots.contains("defaults.export_slots"), "{slots}");

    let key = problems(&format!("{MINIMAL}\ngit_branch = \"develop\"\n"));
    assert!(key.contains("duplicate key `git_branch`") && key.contains("line 5"), "{key}");
}

#[test]
fn a_file_that_is_not_utf8_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, b"environment = \"prod\"\ngit_branch = \"m\xffain\"\n").unwrap();
    let err = s3exports_config::load_file(&path).unwrap_err().to_string();
    assert!(err.contains("bad.toml") && err.contains("line 2, column 16"), "{err}");
}
