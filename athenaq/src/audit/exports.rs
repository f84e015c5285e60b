//! `list-exports`: every export of the environment's buckets, with where its data lives today
//! (from the lifecycle in config), whether Athena can read it, and when it expires.

use chrono::{DateTime, NaiveDate, Utc};
use s3exports_config::{Config, Lifecycle, StorageTier, names};
use s3exports_rds::ExportTask;

use crate::output::Rows;
use crate::source::discover::LocalExport;

#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    pub export_id: String,
    pub database: Option<String>,
    pub snapshot_type: String,
    pub snapshot_time: Option<DateTime<Utc>>,
    pub status: String,
    pub progress: i64,
    pub extracted_gb: f64,
    /// When the export ran: its throughput is extracted GB over (end - start).
    pub started: Option<DateTime<Utc>>,
    pub s3_location: String,
    pub kms_key: String,
    /// When the task ended.
    pub written: Option<DateTime<Utc>>,
    /// When RDS created the export's files, as far as the task says: from its start to its
    /// end ([`ExportTask::first_written`], [`ExportTask::last_written`]). S3's lifecycle counts
    /// each object's days from its creation, so the tiers are counted from these.
    pub files_written: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub lifecycle: Lifecycle,
    /// What S3 holds for the export's part files; `None` when not looked at.
    pub storage: Option<Storage>,
}

/// The storage class and restore state of an export's part files, as S3 lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    pub class: String,
    pub restore: String,
}

impl Storage {
    /// From the export's objects: its data, the part files (the JSON files are small and S3
    /// keeps files under 128 KB out of the lifecycle's transitions by default, but a large
    /// database's `export_tables_info` can pass that and be archived too: it is not data).
    pub fn of(objects: &[crate::aws::s3::Object]) -> Self {
        let parts: Vec<crate::aws::s3::Object> = objects.iter().filter(|o| o.is_part_file()).cloned().collect();
        Self { class: crate::aws::s3::storage_class_summary(&parts), restore: crate::aws::s3::restore_summary(&parts) }
    }
}

pub fn from_task(task: &ExportTask, config: &Config) -> ExportRow {
    let db = config.database_for_bucket(&task.s3_bucket);
    ExportRow {
        export_id: task.id.clone(),
        database: db.map(|d| d.db_name.clone()),
        snapshot_type: s3exports_rds::snapshot::snapshot_type(&task.source_arn).to_owned(),
        snapshot_time: task.snapshot_time,
        status: task.status.as_str().to_owned(),
        progress: i64::from(task.percent_progress),
        extracted_gb: f64::from(task.total_extracted_data_in_gb),
        started: task.task_start_time,
        s3_location: task.s3_location(),
        kms_key: task.kms_key_id.clone(),
        written: task.task_end_time,
        files_written: task.first_written().zip(task.last_written()),
        lifecycle: db.map_or(config.defaults.lifecycle, |d| d.lifecycle),
        storage: None,
    }
}

pub fn from_local(export: &LocalExport, config: &Config) -> ExportRow {
    let info = &export.info;
    let mut row = from_task(&info.to_task(), config);
    row.extracted_gb = info.total_exported_data_in_gb.unwrap_or_default();
    row
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub db: Option<String>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    /// `--db` names the row's database in any case, as [`Config::selected`] does for the
    /// databases listed.
    pub fn keeps(&self, row: &ExportRow) -> bool {
        self.db.as_ref().is_none_or(|db| row.database.as_ref().is_some_and(|d| names::same_db_id(d, db)))
            && self.status.as_ref().is_none_or(|s| row.status.eq_ignore_ascii_case(s))
            && self.since.is_none_or(|since| row.snapshot_time.is_some_and(|t| t >= since))
    }
}

/// The rows as a table, with tier, readability and expiry as of `as_of`.
pub fn to_rows(rows: &[ExportRow], as_of: NaiveDate) -> Rows {
    let mut out = Rows::new(&[
        ("export_id", false),
        ("database", false),
        ("snapshot_type", false),
        ("snapshot_time", false),
        ("status", false),
        ("progress", true),
        ("extracted_gb", true),
        ("gb_per_hour", true),
        ("s3_location", false),
        ("kms_key", false),
        ("storage_tier", false),
        ("athena_readable", false),
        ("expires_on", false),
        ("storage_class", false),
        ("restore", false),
        ("tier_as_expected", false),
    ]);
    for r in rows {
        // Only a complete export has data on a lifecycle. S3 counts each file's days from its
        // creation, so the first files written reach a tier first: the tier shown, athena_readable
        // and expires_on are theirs (from then on Athena misses rows); the last ones follow by
        // the end of the export's run.
        let written = r.files_written.filter(|_| r.status == "COMPLETE");
        let schedule = written.map(|(first, _)| r.lifecycle.schedule(first));
        let last = written.map(|(_, last)| r.lifecycle.schedule(last));
        let due = schedule.map(|s| s.tier_on(as_of));
        let tier = due.map(|(t, _)| t);
        out.rows.push(vec![
            Some(r.export_id.clone()),
            r.database.clone(),
            Some(r.snapshot_type.clone()),
            r.snapshot_time.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()),
            Some(r.status.clone()),
            Some(r.progress.to_string()),
            Some(format!("{}", r.extracted_gb)),
            gb_per_hour(r).map(|rate| format!("{rate:.2}")),
            Some(r.s3_location.clone()),
            Some(r.kms_key.clone()),
            tier.map(|t| t.as_str().to_owned()),
            tier.map(|t| if t.athena_readable() { "yes".to_owned() } else { "no (restore first)".to_owned() }),
            schedule.map(|s| s.expires.to_string()),
            r.storage.as_ref().map(|s| s.class.clone()),
            r.storage.as_ref().map(|s| s.restore.clone()),
            // The lifecycle's tier against where the data really is.
            r.storage
                .as_ref()
                .zip(due)
                .zip(last)
                .filter(|((s, _), _)| !s.class.is_empty())
                .map(|((s, (t, since)), last)| tier_as_expected(&s.class, t, since, last.day_of(t).or(since), as_of)),
        ]);
    }
    out
}

/// Extracted GB per hour of the export's run, when it ran and extracted something.
pub fn gb_per_hour(r: &ExportRow) -> Option<f64> {
    let hours = (r.written? - r.started?).num_seconds() as f64 / 3600.0;
    (hours > 0.0 && r.status == "COMPLETE").then(|| r.extracted_gb / hours)
}

/// `yes`, `pending: ...` while S3 may still be applying a transition, or `no: expected ...`.
/// `expected` fell due on `due` for the export's first files; `last_due` is when it falls due
/// for its last (files written across midnight UTC fall due a day apart). Until
/// [`Lifecycle::TRANSITION_GRACE_DAYS`] after `last_due`, files still in the previous class, or
/// a mix of the two, are pending: S3 applies lifecycle rules asynchronously.
pub fn tier_as_expected(
    class: &str,
    expected: StorageTier,
    due: Option<NaiveDate>,
    last_due: Option<NaiveDate>,
    as_of: NaiveDate,
) -> String {
    if class == expected.as_str() {
        return "yes".to_owned();
    }
    let previous = match expected {
        StorageTier::Glacier => Some(StorageTier::Standard),
        StorageTier::DeepArchive => Some(StorageTier::Glacier),
        StorageTier::Expired => Some(StorageTier::DeepArchive),
        StorageTier::Standard => None,
    };
    if let (Some(previous), Some(due)) = (previous, due) {
        let settled = last_due.unwrap_or(due).max(due);
        let in_transit = class == previous.as_str()
            || mixed_classes(class)
                .is_some_and(|mix| mix.iter().all(|c| [previous, expected].iter().any(|t| t.as_str() == *c)));
        if in_transit && (as_of - settled).num_days() < Lifecycle::TRANSITION_GRACE_DAYS {
            return format!("pending: {} due from {due}; S3 applies lifecycle rules asynchronously", expected.as_str());
        }
    }
    format!("no: expected {}", expected.as_str())
}

/// The classes of a summary of several (`mixed (GLACIER 3, STANDARD 2)`, as
/// [`crate::aws::s3::storage_class_summary`] writes it).
fn mixed_classes(summary: &str) -> Option<Vec<&str>> {
    let inner = summary.strip_prefix("mixed (")?.strip_suffix(')')?;
    Some(inner.split(", ").filter_map(|entry| entry.rsplit_once(' ').map(|(class, _)| class)).collect())
}

/// Fills in what S3 holds for each complete export: one listing per export, eight at a time. A
/// listing that fails leaves the row's storage empty with a warning naming the export.
pub async fn read_storage(s3: &aws_sdk_s3::Client, rows: &mut [ExportRow], listing: crate::aws::s3::RestoreListing) {
    let wanted: Vec<(usize, String, bool)> =
        rows.iter().enumerate().map(|(i, r)| (i, r.s3_location.clone(), r.status == "COMPLETE")).collect();
    let found =
        crate::progress::each_concurrently(&wanted, "listing exports", 8, |(i, location, complete)| async move {
            let complete = *complete;
            let storage = match location.strip_prefix("s3://").and_then(|l| l.split_once('/')) {
                Some((bucket, folder)) if complete => match crate::aws::s3::list(s3, bucket, folder, listing).await {
                    Ok(objects) => Some(Storage::of(&objects)),
                    Err(e) => {
                        eprintln!("warning: listing {location}: {e}");
                        None
                    }
                },
                _ => None,
            };
            (*i, storage)
        })
        .await;
    for (i, storage) in found {
        rows[i].storage = storage;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transition_s3_has_not_applied_yet_is_pending_for_a_grace_period() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let due = Some(day("2026-11-09"));
        assert_eq!(tier_as_expected("GLACIER", StorageTier::Glacier, due, due, day("2026-11-09")), "yes");
        let pending = tier_as_expected("STANDARD", StorageTier::Glacier, due, due, day("2026-11-10"));
        assert!(pending.starts_with("pending: GLACIER due from 2026-11-09"), "{pending}");
        assert_eq!(
            tier_as_expected("STANDARD", StorageTier::Glacier, due, due, day("2026-11-11")),
            "no: expected GLACIER"
        );
        assert_eq!(
            tier_as_expected("DEEP_ARCHIVE", StorageTier::Glacier, due, due, day("2026-11-10")),
            "no: expected GLACIER"
        );
        // Part of the files moved, part not yet: in transit too, then a finding.
        let mixed = "mixed (GLACIER 3, STANDARD 2)";
        assert!(tier_as_expected(mixed, StorageTier::Glacier, due, due, day("2026-11-10")).starts_with("pending"));
        assert_eq!(tier_as_expected(mixed, StorageTier::Glacier, due, due, day("2026-11-11")), "no: expected GLACIER");
        let odd = "mixed (DEEP_ARCHIVE 1, STANDARD 2)";
        assert_eq!(tier_as_expected(odd, StorageTier::Glacier, due, due, day("2026-11-10")), "no: expected GLACIER");
    }

    /// S3 counts a lifecycle rule's days from each object's creation, rounded up to the next
    /// midnight UTC (Amazon S3 User Guide, "Lifecycle configuration elements", Days). RDS
    /// creates an export's files while its task runs, so the first ones are due from the task's
    /// start, not its end.
    #[test]
    fn tiers_count_from_when_the_files_were_created_not_from_the_exports_end() {
        let mut config = s3exports_config::parse("t.toml", "environment = \"t\"\ngit_branch = \"t\"\n").unwrap().config;
        config.databases.clear();
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
        let mut task = ExportTask::new(
            "e1",
            "arn:aws:rds:us-east-1:1:snapshot:rds:x-2026-11-01-23-00",
            s3exports_rds::ExportStatus::Complete,
        );
        // Started before midnight, ended after it: files created on two days.
        task.task_start_time = at("2026-11-01T23:30:00Z");
        task.task_end_time = at("2026-11-02T01:00:00Z");
        let mut row = from_task(&task, &config);
        row.storage = Some(Storage { class: "GLACIER".into(), restore: "none".into() });
        let on = |d: &str, row: &ExportRow| {
            to_rows(std::slice::from_ref(row), NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
        };
        // 23:30 on the 1st + 7 days rounds up to the 9th: the first files are in Glacier then,
        // and Athena already misses their rows (counted from the end it would be the 10th).
        let rows = on("2026-11-09", &row);
        assert_eq!(rows.rows[0][10].as_deref(), Some("GLACIER"));
        assert_eq!(rows.rows[0][11].as_deref(), Some("no (restore first)"));
        assert_eq!(rows.rows[0][15].as_deref(), Some("yes"));
        assert_eq!(rows.rows[0][12].as_deref(), Some("2027-11-02"), "expires from the first files' day");
        // The last files fall due on the 10th: still in Standard then is pending, not a finding,
        // until the grace days after it.
        row.storage = Some(Storage { class: "STANDARD".into(), restore: "none".into() });
        assert!(
            on("2026-11-10", &row).rows[0][15].as_deref().unwrap().starts_with("pending: GLACIER due from 2026-11-09")
        );
        assert!(on("2026-11-11", &row).rows[0][15].as_deref().unwrap().starts_with("pending"));
        assert_eq!(on("2026-11-12", &row).rows[0][15].as_deref(), Some("no: expected GLACIER"));
        // The day before, everything is in Standard as expected.
        assert_eq!(on("2026-11-08", &row).rows[0][15].as_deref(), Some("yes"));
    }

    #[test]
    fn the_tier_counts_from_the_next_midnight_after_the_write() {
        let mut config = s3exports_config::parse("t.toml", "environment = \"t\"\ngit_branch = \"t\"\n").unwrap().config;
        config.databases.clear();
        let mut task = ExportTask::new(
            "e1",
            "arn:aws:rds:us-east-1:1:snapshot:rds:x-2026-11-01-10-00",
            s3exports_rds::ExportStatus::Complete,
        );
        task.task_end_time = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z").ok().map(|t| t.to_utc());
        let rows = to_rows(&[from_task(&task, &config)], NaiveDate::from_ymd_opt(2026, 11, 8).unwrap());
        // 7 days after 10:00 on the 1st is the 8th at 10:00, which S3 rounds up to the 9th.
        assert_eq!(rows.rows[0][10].as_deref(), Some("STANDARD"));
        assert_eq!(rows.rows[0][12].as_deref(), Some("2027-11-02"));
    }

    #[test]
    fn throughput_is_extracted_gb_over_the_run() {
        let mut config = s3exports_config::parse("t.toml", "environment = \"t\"\ngit_branch = \"t\"\n").unwrap().config;
        config.databases.clear();
        let mut task = ExportTask::new("e1", "arn", s3exports_rds::ExportStatus::Complete);
        task.total_extracted_data_in_gb = 30;
        task.task_start_time = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z").ok().map(|t| t.to_utc());
        task.task_end_time = chrono::DateTime::parse_from_rfc3339("2026-11-01T12:30:00Z").ok().map(|t| t.to_utc());
        assert_eq!(gb_per_hour(&from_task(&task, &config)), Some(12.0));
        task.task_end_time = task.task_start_time;
        assert_eq!(gb_per_hour(&from_task(&task, &config)), None, "no time elapsed: no rate");
    }
}
