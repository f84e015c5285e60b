//! `verify`'s checks as plain functions over what was read: one [`Check`] row each.

use s3exports_config::Lifecycle;
use s3exports_rds::layout::{EntryKind, TableRef, TableStatus};
use s3exports_rds::{ExportStatus, ExportTask};
use serde::Serialize;

use crate::aws::s3::{self, Object};
use crate::output::Rows;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
}

pub fn check(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check { check, status, detail: detail.into() }
}

pub fn to_rows(checks: &[Check]) -> Rows {
    let mut rows = Rows::new(&[("check", false), ("status", false), ("detail", false)]);
    rows.rows = checks
        .iter()
        .map(|c| vec![Some(c.check.to_owned()), Some(c.status.as_str().to_owned()), Some(c.detail.clone())])
        .collect();
    rows
}

pub fn task_status(task: &ExportTask) -> Check {
    if task.status == ExportStatus::Complete {
        return check(
            "task",
            Status::Pass,
            format!("RDS reports {} COMPLETE ({} GB)", task.id, task.total_extracted_data_in_gb),
        );
    }
    let cause = task.failure_cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
    check("task", Status::Fail, format!("RDS reports {} {}{cause}", task.id, task.status.as_str()))
}

/// What `export_tables_info` says: every table RDS exported whole (`pass`), or the tables it did
/// not (`fail`); and, as a `warn` row of its own, the entries that are not table results at all
/// (a PostgreSQL database with nothing to export has a `warningMessage` and no status).
pub fn tables_complete(entries: &[TableStatus]) -> Vec<Check> {
    let mut out = Vec::new();
    let tables: Vec<&TableStatus> = entries.iter().filter(|e| e.kind() != EntryKind::Note).collect();
    let not: Vec<String> = tables.iter().filter(|t| t.kind() == EntryKind::NotExported).map(|t| t.describe()).collect();
    out.push(if !not.is_empty() {
        check(
            "tables",
            Status::Fail,
            format!("{} of {} tables not COMPLETE: {}", not.len(), tables.len(), not.join(", ")),
        )
    } else if tables.is_empty() {
        check("tables", Status::Warn, "export_tables_info names no table: the export holds no data")
    } else {
        check("tables", Status::Pass, format!("all {} tables COMPLETE", tables.len()))
    });
    let notes: Vec<String> =
        entries.iter().filter(|e| e.kind() == EntryKind::Note).map(TableStatus::describe).collect();
    if !notes.is_empty() {
        out.push(check(
            "rds notes",
            Status::Warn,
            format!("information from RDS, not a failed table: {}", notes.join("; ")),
        ));
    }
    out
}

/// The part files of a table, by its folder in the export.
pub fn parts_of<'a>(folder: &str, table: &TableRef, objects: &'a [Object]) -> Vec<&'a Object> {
    let prefix = format!("{folder}{}/", table.folder().to_string_lossy());
    objects.iter().filter(|o| o.key.starts_with(&prefix) && o.is_part_file()).collect()
}

pub fn part_files(folder: &str, tables: &[TableRef], objects: &[Object]) -> Check {
    let empty: Vec<String> =
        tables.iter().filter(|t| parts_of(folder, t, objects).is_empty()).map(TableRef::target).collect();
    if !empty.is_empty() {
        return check("part files", Status::Fail, format!("no part files for {}", empty.join(", ")));
    }
    let count = objects.iter().filter(|o| o.is_part_file()).count();
    check("part files", Status::Pass, format!("{count} part files for {} tables", tables.len()))
}

/// What reading one part file's footer gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FooterRead {
    Rows(i64),
    Archived,
    Damaged(String),
}

pub fn footers(reads: &[(String, FooterRead)], deep: bool) -> Check {
    let scope = if deep { "every part file" } else { "one part file per table (--deep: all)" };
    let damaged: Vec<String> = reads
        .iter()
        .filter_map(|(key, r)| match r {
            FooterRead::Damaged(why) => Some(format!("{key}: {why}")),
            _ => None,
        })
        .collect();
    if !damaged.is_empty() {
        return check("footers", Status::Fail, format!("{} unreadable: {}", damaged.len(), damaged.join("; ")));
    }
    let archived = reads.iter().filter(|(_, r)| *r == FooterRead::Archived).count();
    if archived > 0 {
        return check(
            "footers",
            Status::Warn,
            format!("{archived} of {} archived and not restored, so not read: `athenaq restore` first", reads.len()),
        );
    }
    let rows: i64 = reads.iter().map(|(_, r)| if let FooterRead::Rows(n) = r { *n } else { 0 }).sum();
    check("footers", Status::Pass, format!("{} read ({scope}): {rows} rows", reads.len()))
}

/// The key id at the end of a key ARN, or the id itself.
pub fn key_id(key: &str) -> &str {
    key.rsplit_once("key/").map_or(key, |(_, id)| id)
}

/// Whether a KMS key identifier is an alias (`alias/...` or an alias ARN), which names a key
/// only through KMS.
pub fn is_alias(key: &str) -> bool {
    key.starts_with("alias/") || key.contains(":alias/")
}

/// Every sampled object is SSE-KMS with `expected_key` (a key ARN or id: an alias the task was
/// started with is resolved by the caller first).
pub fn encryption(heads: &[(String, Result<s3::Head, String>)], expected_key: &str, deep: bool) -> Check {
    let scope =
        if deep { "every object" } else { "a sample: the info files and one part file per table (--deep: all)" };
    let mut wrong = Vec::new();
    for (key, head) in heads {
        match head {
            Err(why) => wrong.push(format!("{key}: {why}")),
            Ok(h) if h.sse.as_deref() != Some("aws:kms") => {
                wrong.push(format!("{key}: {}", h.sse.as_deref().unwrap_or("not encrypted with KMS")))
            }
            Ok(h) if h.kms_key.as_deref().map(key_id) != Some(key_id(expected_key)) => {
                wrong.push(format!("{key}: key {}", h.kms_key.as_deref().unwrap_or("none")))
            }
            Ok(_) => {}
        }
    }
    if wrong.is_empty() {
        return check(
            "encryption",
            Status::Pass,
            format!("{} objects SSE-KMS with the database's key ({scope})", heads.len()),
        );
    }
    check(
        "encryption",
        Status::Fail,
        format!("{} of {} not SSE-KMS with {}: {}", wrong.len(), heads.len(), expected_key, wrong.join("; ")),
    )
}

/// One lifecycle rule as the bucket has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    /// The rule's prefix (`Filter.Prefix`, `Filter.And.Prefix` or the legacy `Prefix`); empty
    /// or `None` for the whole bucket.
    pub prefix: Option<String>,
    /// The rule filters on object tags, which RDS never sets: it applies to no export object.
    pub tag_filter: bool,
    /// `Filter.ObjectSizeGreaterThan`, bytes.
    pub size_greater_than: Option<i64>,
    pub transitions: Vec<(String, i32)>,
    pub expiration_days: Option<i32>,
}

impl LifecycleRule {
    /// Whether the rule applies to the objects under `folder` (an export's folder): enabled,
    /// no tag filter, a prefix the folder starts with, and no size filter beyond S3's own
    /// 128 KB transition floor.
    pub fn applies_to(&self, folder: &str) -> bool {
        self.enabled
            && !self.tag_filter
            && self.prefix.as_deref().is_none_or(|p| folder.starts_with(p))
            && self.size_greater_than.is_none_or(|n| n <= 128 * 1024)
    }
}

pub fn lifecycle(rules: &[LifecycleRule], want: &Lifecycle, folder: &str) -> Check {
    let wanted = [("GLACIER", want.glacier_days), ("DEEP_ARCHIVE", want.deep_archive_days)];
    let as_configured = |r: &LifecycleRule| {
        r.expiration_days == i32::try_from(want.expire_days).ok()
            && wanted.iter().all(|(class, days)| {
                r.transitions.iter().any(|(c, d)| c == class && i32::try_from(*days).ok() == Some(*d))
            })
    };
    let expected = format!(
        "Glacier at {} days, Deep Archive at {}, expiry at {}",
        want.glacier_days, want.deep_archive_days, want.expire_days
    );
    if rules.iter().any(|r| r.applies_to(folder) && as_configured(r)) {
        return check("lifecycle", Status::Pass, format!("as configured, applying to {folder}: {expected}"));
    }
    let found: Vec<String> = rules
        .iter()
        .map(|r| {
            let t: Vec<String> = r.transitions.iter().map(|(c, d)| format!("{c} at {d}")).collect();
            let scope = match (&r.prefix, r.tag_filter) {
                (_, true) => " (tag filter: applies to no export object)".to_owned(),
                (Some(p), _) if !p.is_empty() && !folder.starts_with(p.as_str()) => {
                    format!(" (prefix `{p}`: not this export's)")
                }
                _ => String::new(),
            };
            format!(
                "{}{}{}; expiry {:?}{scope}",
                if r.id.is_empty() { String::new() } else { format!("{}: ", r.id) },
                if r.enabled { "" } else { "(disabled) " },
                t.join(", "),
                r.expiration_days
            )
        })
        .collect();
    let found = if found.is_empty() { "no rules".to_owned() } else { found.join(" | ") };
    check("lifecycle", Status::Fail, format!("config wants {expected} for {folder}; the bucket has {found}"))
}

/// The four public access block flags (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
/// RestrictPublicBuckets), as one level (bucket or account) sets them; `None`: not configured.
pub type BlockFlags = Option<[bool; 4]>;

/// S3 applies the most restrictive combination of the bucket's and the account's settings, so
/// each flag counts when either level sets it. `account`: `Err` when it could not be read.
pub fn public_access(bucket: BlockFlags, account: Result<BlockFlags, String>) -> Check {
    const NAMES: [&str; 4] = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"];
    let b = bucket.unwrap_or([false; 4]);
    let a = account.as_ref().ok().copied().flatten().unwrap_or([false; 4]);
    let off: Vec<&str> = (0..4).filter(|i| !(b[*i] || a[*i])).map(|i| NAMES[i]).collect();
    if off.is_empty() {
        let level = match (b.iter().all(|f| *f), a.iter().all(|f| *f)) {
            (true, true) => "on for the bucket and blocked at account level",
            (true, false) => "on for the bucket",
            (false, true) => "blocked at account level",
            (false, false) => "on, between the bucket's and the account's settings",
        };
        return check("public access", Status::Pass, format!("all four public access blocks {level}"));
    }
    let why = match &account {
        Err(e) => format!("; the account-level settings could not be read ({e}), they may cover the rest"),
        Ok(_) => String::new(),
    };
    check("public access", Status::Fail, format!("off at bucket and account level: {}{why}", off.join(", ")))
}

pub fn catalogue(tables: &[TableRef], missing: &[String], database: &str) -> Check {
    if missing.is_empty() {
        return check("catalogue", Status::Pass, format!("{} partitions in Glue database {database}", tables.len()));
    }
    check("catalogue", Status::Fail, format!("no partition for this export in {database}: {}", missing.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(target: &str, s: &str) -> TableStatus {
        TableStatus { target: target.into(), status: s.into(), ..TableStatus::default() }
    }

    #[test]
    fn tables_not_complete_are_named() {
        let c = tables_complete(&[status("pams.public.orders", "COMPLETE"), status("pams.public.audit", "FAILED")]);
        assert_eq!(c[0].status, Status::Fail);
        assert!(c[0].detail.contains("pams.public.audit: FAILED"), "{}", c[0].detail);
        assert_eq!(tables_complete(&[status("pams.public.orders", "COMPLETE")])[0].status, Status::Pass);
    }

    #[test]
    fn a_database_with_nothing_to_export_is_information_not_a_failed_table() {
        let note = TableStatus {
            target: "postgres".into(),
            warning_message: Some("The database postgres has no tables to export".into()),
            ..TableStatus::default()
        };
        let checks = tables_complete(&[status("pams.public.orders", "COMPLETE"), note]);
        assert_eq!(checks[0].status, Status::Pass, "{checks:?}");
        assert_eq!(checks[1].status, Status::Warn);
        assert!(checks[1].detail.contains("postgres: The database postgres has no tables"), "{}", checks[1].detail);
    }

    #[test]
    fn archived_footers_warn_and_damaged_ones_fail() {
        let ok = ("a.parquet".to_owned(), FooterRead::Rows(10));
        assert_eq!(footers(&[ok.clone(), ("b.parquet".into(), FooterRead::Archived)], false).status, Status::Warn);
        let bad = footers(&[ok.clone(), ("c.parquet".into(), FooterRead::Damaged("not Parquet".into()))], true);
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.detail.contains("c.parquet: not Parquet"));
        assert_eq!(footers(&[ok], false).detail, "1 read (one part file per table (--deep: all)): 10 rows");
    }

    #[test]
    fn encryption_wants_the_database_key_by_arn_or_id() {
        let head = |sse: &str, key: &str| {
            Ok(s3::Head {
                sse: Some(sse.into()),
                kms_key: Some(key.into()),
                storage_class: "STANDARD".into(),
                restore: s3::Restore::None,
            })
        };
        let arn = "arn:aws:kms:eu-west-1:1:key/abc";
        assert_eq!(encryption(&[("k".into(), head("aws:kms", arn))], "abc", false).status, Status::Pass);
        let other = encryption(&[("k".into(), head("aws:kms", "arn:aws:kms:eu-west-1:1:key/zzz"))], arn, false);
        assert_eq!(other.status, Status::Fail);
        assert_eq!(encryption(&[("k".into(), head("AES256", arn))], arn, false).status, Status::Fail);
        assert!(is_alias("alias/rds-snapshot-s3exports/prod/pams") && is_alias("arn:aws:kms:us-east-1:1:alias/x"));
        assert!(!is_alias(arn));
    }

    fn rule() -> LifecycleRule {
        LifecycleRule {
            id: "ArchiveThenExpire".into(),
            enabled: true,
            transitions: vec![("GLACIER".into(), 7), ("DEEP_ARCHIVE".into(), 97)],
            expiration_days: Some(365),
            ..LifecycleRule::default()
        }
    }

    #[test]
    fn lifecycle_must_match_the_config() {
        let want = Lifecycle { glacier_days: 7, deep_archive_days: 97, expire_days: 365 };
        assert_eq!(lifecycle(&[rule()], &want, "e1/").status, Status::Pass);
        let shorter = LifecycleRule { expiration_days: Some(30), ..rule() };
        let c = lifecycle(&[shorter], &want, "e1/");
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("expiry Some(30)"), "{}", c.detail);
        assert_eq!(lifecycle(&[], &want, "e1/").status, Status::Fail);
    }

    #[test]
    fn the_lifecycle_rule_must_apply_to_the_exports_prefix() {
        let want = Lifecycle { glacier_days: 7, deep_archive_days: 97, expire_days: 365 };
        let elsewhere = LifecycleRule { prefix: Some("logs/".into()), ..rule() };
        let c = lifecycle(std::slice::from_ref(&elsewhere), &want, "exports/e1/");
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("prefix `logs/`: not this export's"), "{}", c.detail);
        let ours = LifecycleRule { prefix: Some("exports/".into()), ..rule() };
        assert_eq!(lifecycle(&[elsewhere, ours], &want, "exports/e1/").status, Status::Pass);
        let tagged = LifecycleRule { tag_filter: true, ..rule() };
        assert_eq!(lifecycle(&[tagged], &want, "exports/e1/").status, Status::Fail);
    }

    #[test]
    fn account_level_blocks_count() {
        assert_eq!(public_access(Some([true; 4]), Ok(None)).status, Status::Pass);
        let at_account = public_access(None, Ok(Some([true; 4])));
        assert_eq!((at_account.status, at_account.detail.contains("blocked at account level")), (Status::Pass, true));
        let split = public_access(Some([true, true, false, false]), Ok(Some([false, false, true, true])));
        assert_eq!(split.status, Status::Pass);
        let off = public_access(Some([true, true, false, true]), Ok(None));
        assert_eq!(off.status, Status::Fail);
        assert!(off.detail.contains("BlockPublicPolicy"), "{}", off.detail);
        let unknown = public_access(None, Err("AccessDenied".into()));
        assert!(unknown.detail.contains("could not be read (AccessDenied)"), "{}", unknown.detail);
    }
}
