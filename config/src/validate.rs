//! Semantic rules of a config file, each reported at its field path. Syntax and unknown keys
//! are caught earlier, by the schema.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::error::Problem;
use crate::model::Config;
use crate::policy::Lifecycle;

/// Minimum billed storage durations (days) of the archive classes the lifecycle uses.
const GLACIER_MIN_BILLED_DAYS: u32 = 90;
const DEEP_ARCHIVE_MIN_BILLED_DAYS: u32 = 180;

#[derive(Debug, Default)]
pub(crate) struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

pub(crate) fn config(config: &Config) -> Report {
    let mut report = Report::default();
    let errors = &mut report.errors;

    if let Err(e) = environment_name(&config.environment) {
        errors.push(Problem::new("environment", e));
    }
    if config.git_branch.trim().is_empty() {
        errors.push(Problem::new("git_branch", "must name the branch this environment deploys from"));
    }
    let d = &config.defaults;
    if !(1..=5).contains(&d.export_slots) {
        errors.push(Problem::new(
            "defaults.export_slots",
            format!("{} is outside 1..=5 (RDS allows 5 exports in progress per account)", d.export_slots),
        ));
    }
    if d.snapshot_types.is_empty() {
        errors.push(Problem::new(
            "defaults.snapshot_types",
            "is empty: nothing would ever be exported; list automated, manual and/or awsbackup",
        ));
    }
    duplicate_snapshot_types("defaults.snapshot_types", &d.snapshot_types, errors);
    for (i, email) in d.alert_emails.iter().enumerate() {
        if !looks_like_email(email) {
            errors.push(Problem::new(
                format!("defaults.alert_emails[{i}]"),
                format!("`{email}` is not an e-mail address"),
            ));
        }
    }
    lifecycle("defaults.lifecycle", &d.lifecycle, &mut report);
    if let Some(n) = d.reserved_concurrency.filter(|n| !(3..=1000).contains(n)) {
        report.errors.push(Problem::new(
            "defaults.reserved_concurrency",
            format!("{n} is outside 3..=1000: each function needs 3 (two queue pollers and a schedule); leave it out for none"),
        ));
    }
    if !(1..=100).contains(&d.row_drop_warn_pct) {
        report.errors.push(Problem::new(
            "defaults.row_drop_warn_pct",
            format!("{} is outside 1..=100 (a percentage of the previous snapshot's rows)", d.row_drop_warn_pct),
        ));
    }

    if let Some(vpc) = &config.vpc {
        vpc_rules(vpc, &mut report.errors);
    }

    let mut seen_db: HashMap<String, usize> = HashMap::new();
    let mut seen_bucket: HashMap<&str, usize> = HashMap::new();
    for (i, db) in config.databases.iter().enumerate() {
        let at = |field: &str| format!("databases[{i}].{field}");
        if let Err(e) = db_identifier(&db.db_name) {
            report.errors.push(Problem::new(at("db_name"), e));
        }
        // RDS identifiers are case-insensitive: `Orders` and `orders` are one database.
        if let Some(first) = seen_db.insert(db.db_name.to_ascii_lowercase(), i) {
            report.errors.push(Problem::new(
                at("db_name"),
                format!(
                    "`{}` is configured twice (also databases[{first}]); RDS identifiers ignore case; keep one entry",
                    db.db_name
                ),
            ));
        }
        if let Err(e) = bucket_name(&db.s3_bucket_name) {
            report.errors.push(Problem::new(at("s3_bucket_name"), e));
        }
        if let Some(first) = seen_bucket.insert(&db.s3_bucket_name, i) {
            report.errors.push(Problem::new(
                at("s3_bucket_name"),
                format!(
                    "bucket `{}` is already used by databases[{first}]; every database needs its own bucket",
                    db.s3_bucket_name
                ),
            ));
        }
        if let Err(e) = s3_prefix(&db.s3_prefix) {
            report.errors.push(Problem::new(at("s3_prefix"), e));
        }
        for (j, entry) in db.policy.export_only.iter().enumerate() {
            if let Err(e) = export_only_entry(entry) {
                report.errors.push(Problem::new(at(&format!("export_only[{j}]")), e));
            }
        }
        if db.policy.snapshot_types.is_empty() {
            report.errors.push(Problem::new(
                at("snapshot_types"),
                "is empty: nothing would be exported; remove the database or list snapshot types",
            ));
        }
        duplicate_snapshot_types(&at("snapshot_types"), &db.policy.snapshot_types, &mut report.errors);
        lifecycle(&at("lifecycle"), &db.lifecycle, &mut report);
    }
    report
}

fn duplicate_snapshot_types(path: &str, types: &[crate::SnapshotType], errors: &mut Vec<Problem>) {
    for (i, t) in types.iter().enumerate() {
        if types[..i].contains(t) {
            errors
                .push(Problem::new(format!("{path}[{i}]"), format!("`{}` is listed twice; list it once", t.as_str())));
        }
    }
}

/// The longest lifecycle step accepted, in days (100 years): beyond that a typo, and date
/// arithmetic on it would leave the calendar.
pub const MAX_LIFECYCLE_DAYS: u32 = 36_500;

fn lifecycle(path: &str, l: &Lifecycle, report: &mut Report) {
    if l.glacier_days == 0 {
        report.errors.push(Problem::new(format!("{path}.glacier_days"), "must be at least 1"));
    }
    for (field, days) in
        [("glacier_days", l.glacier_days), ("deep_archive_days", l.deep_archive_days), ("expire_days", l.expire_days)]
    {
        if days > MAX_LIFECYCLE_DAYS {
            report.errors.push(Problem::new(
                format!("{path}.{field}"),
                format!("{days} is over {MAX_LIFECYCLE_DAYS} days (100 years); is a digit too many?"),
            ));
        }
    }
    if l.deep_archive_days <= l.glacier_days {
        report.errors.push(Problem::new(
            format!("{path}.deep_archive_days"),
            format!(
                "{} must be after glacier_days ({}): objects move Standard -> Glacier -> Deep Archive -> expiry",
                l.deep_archive_days, l.glacier_days
            ),
        ));
    }
    if l.expire_days <= l.deep_archive_days {
        report.errors.push(Problem::new(
            format!("{path}.expire_days"),
            format!("{} must be after deep_archive_days ({})", l.expire_days, l.deep_archive_days),
        ));
    }
    let in_glacier = l.deep_archive_days.saturating_sub(l.glacier_days);
    if in_glacier < GLACIER_MIN_BILLED_DAYS {
        report.warnings.push(Problem::new(
            format!("{path}.deep_archive_days"),
            format!(
                "objects stay {in_glacier} days in Glacier Flexible Retrieval, which bills at least \
                 {GLACIER_MIN_BILLED_DAYS}; set deep_archive_days >= {}",
                l.glacier_days + GLACIER_MIN_BILLED_DAYS
            ),
        ));
    }
    let in_deep = l.expire_days.saturating_sub(l.deep_archive_days);
    if in_deep < DEEP_ARCHIVE_MIN_BILLED_DAYS {
        report.warnings.push(Problem::new(
            format!("{path}.expire_days"),
            format!(
                "objects stay {in_deep} days in Deep Archive, which bills at least \
                 {DEEP_ARCHIVE_MIN_BILLED_DAYS}; set expire_days >= {}",
                l.deep_archive_days + DEEP_ARCHIVE_MIN_BILLED_DAYS
            ),
        ));
    }
}

fn vpc_rules(vpc: &crate::model::Vpc, errors: &mut Vec<Problem>) {
    if !is_aws_id(&vpc.vpc_id, "vpc-") {
        errors.push(Problem::new("vpc.vpc_id", format!("`{}` is not a VPC id (vpc-0123abcd...)", vpc.vpc_id)));
    }
    if vpc.private_subnet_ids.is_empty() {
        errors.push(Problem::new("vpc.private_subnet_ids", "list at least one private subnet"));
    }
    for (i, s) in vpc.private_subnet_ids.iter().enumerate() {
        if !is_aws_id(s, "subnet-") {
            errors.push(Problem::new(
                format!("vpc.private_subnet_ids[{i}]"),
                format!("`{s}` is not a subnet id (subnet-0123abcd...)"),
            ));
        }
    }
    if vpc.allowed_egress_cidrs.is_empty() {
        errors.push(Problem::new(
            "vpc.allowed_egress_cidrs",
            "list the CIDRs the function may reach over HTTPS (VPC endpoints or a NAT)",
        ));
    }
    for (i, c) in vpc.allowed_egress_cidrs.iter().enumerate() {
        if let Err(e) = ipv4_cidr(c) {
            errors.push(Problem::new(format!("vpc.allowed_egress_cidrs[{i}]"), e));
        }
    }
}

fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

pub fn ipv4_cidr(cidr: &str) -> Result<(), String> {
    let bad = || format!("`{cidr}` is not an IPv4 CIDR such as 10.0.0.0/16");
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    addr.parse::<Ipv4Addr>().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    Ok(())
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Environment names go into stack, queue and function names.
pub fn environment_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 16
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` must be 1-16 lower-case letters and digits, starting with a letter"))
    }
}

/// RDS DB instance / Aurora cluster identifier rules.
pub fn db_identifier(id: &str) -> Result<(), String> {
    let problem = if id.is_empty() || id.len() > 63 {
        Some("must be 1 to 63 characters")
    } else if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter")
    } else if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may contain only ASCII letters, digits and hyphens")
    } else if id.ends_with('-') || id.contains("--") {
        Some("must not end with a hyphen or contain two consecutive hyphens")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!("`{id}` is not an RDS instance or cluster identifier: it {p}")),
        None => Ok(()),
    }
}

/// S3 general purpose bucket naming rules.
pub fn bucket_name(name: &str) -> Result<(), String> {
    let problem = if !(3..=63).contains(&name.len()) {
        Some("must be 3 to 63 characters long".to_owned())
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
        Some("may contain only lower-case letters, digits, dots and hyphens".to_owned())
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        Some("must begin and end with a letter or digit".to_owned())
    } else if name.contains("..") {
        Some("must not contain two adjacent dots".to_owned())
    } else if name.parse::<Ipv4Addr>().is_ok() {
        Some("must not look like an IP address".to_owned())
    } else if let Some(p) = ["xn--", "sthree-", "amzn-s3-demo-"].iter().find(|p| name.starts_with(*p)) {
        Some(format!("must not start with the reserved prefix `{p}`"))
    } else if let Some(s) = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().find(|s| name.ends_with(*s))
    {
        Some(format!("must not end with the reserved suffix `{s}`"))
    } else if name.contains('.') {
        // Dots break virtual-hosted TLS and S3 Transfer Acceleration.
        Some("must not contain dots (they break HTTPS virtual-hosted access)".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!("`{name}` is not a valid S3 bucket name: it {p}")),
        None => Ok(()),
    }
}

/// `S3Prefix` of StartExportTask: no `:`, and written without surrounding slashes.
pub fn s3_prefix(prefix: &str) -> Result<(), String> {
    if prefix.contains(':') {
        Err(format!("`{prefix}` contains `:`, which StartExportTask rejects in S3Prefix"))
    } else if prefix.starts_with('/') || prefix.ends_with('/') || prefix.contains("//") {
        Err(format!("`{prefix}` must not start or end with `/` or contain `//`; write e.g. `exports/rds`"))
    } else if prefix.chars().any(|c| c.is_control()) || prefix.len() > 512 {
        Err(format!("`{prefix}` must be at most 512 printable characters"))
    } else {
        Ok(())
    }
}

/// `ExportOnly` entry: `db`, `db.table` (MySQL/MariaDB), `db.schema` or `db.schema.table`
/// (PostgreSQL).
pub fn export_only_entry(entry: &str) -> Result<(), String> {
    let parts: Vec<&str> = entry.split('.').collect();
    let bad_part = parts
        .iter()
        .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '-'));
    if parts.len() > 3 || bad_part {
        Err(format!(
            "`{entry}` is not an ExportOnly entry: write `database`, `database.table`, \
             `database.schema` or `database.schema.table` with non-empty names"
        ))
    } else {
        Ok(())
    }
}
