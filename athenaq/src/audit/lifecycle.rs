//! Tier-aware Athena queries: Athena skips objects in Glacier Flexible Retrieval and Deep
//! Archive without an error, so a query over old snapshots returns fewer rows and says nothing.
//! Before a query runs, the databases it reads are checked for exports the lifecycle has
//! archived by now.

use chrono::NaiveDate;
use s3exports_config::{Config, Database, Lifecycle, StorageTier, names};
use s3exports_rds::{ExportStatus, ExportTask};

/// The databases a query reads: those whose Glue database it names, else the default one.
pub fn databases_read<'c>(config: &'c Config, sql: &str, default: Option<&str>) -> Vec<&'c Database> {
    let sql = sql.to_ascii_lowercase();
    let named: Vec<&Database> =
        config.databases.iter().filter(|d| sql.contains(&names::glue_database(&d.db_name))).collect();
    if !named.is_empty() {
        return named;
    }
    config.databases.iter().filter(|d| default.is_some_and(|db| names::glue_database(&d.db_name) == db)).collect()
}

/// Complete exports the lifecycle has moved (some of the files of, at least) to Glacier or Deep
/// Archive by `today`, and the snapshot date of the newest of them. S3 counts each file's days
/// from its creation, so an export's first files, created as its task started, go first.
pub fn archived(tasks: &[ExportTask], lifecycle: &Lifecycle, today: NaiveDate) -> Option<(usize, NaiveDate, String)> {
    let archived: Vec<&ExportTask> = tasks
        .iter()
        .filter(|t| t.status == ExportStatus::Complete)
        .filter(|t| {
            let Some(written) = t.first_written() else { return false };
            matches!(lifecycle.schedule(written).tier_on(today).0, StorageTier::Glacier | StorageTier::DeepArchive)
        })
        .collect();
    let newest = archived.iter().max_by_key(|t| t.snapshot_time.or(t.task_end_time))?;
    let date = newest.snapshot_time.or(newest.task_end_time)?.date_naive();
    Some((archived.len(), date, newest.id.clone()))
}

pub fn warning(db: &str, count: usize, newest: NaiveDate, example: &str) -> String {
    format!(
        "warning: {count} snapshot export(s) of {db}, up to the one of {newest}, are in Glacier/Deep Archive by the \
         lifecycle: Athena skips archived objects without an error unless they are restored. `athenaq list-exports \
         --db {db}` shows which are restored; `athenaq restore {example}` restores one"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn task(id: &str, day: u32, status: ExportStatus) -> ExportTask {
        let at = Utc.with_ymd_and_hms(2026, 11, day, 4, 0, 0).single();
        ExportTask { snapshot_time: at, task_end_time: at, ..ExportTask::new(id, "", status) }
    }

    #[test]
    fn exports_past_the_glacier_day_are_archived() {
        let lifecycle = Lifecycle { glacier_days: 7, deep_archive_days: 97, expire_days: 365 };
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let tasks = [
            task("a", 20, ExportStatus::Complete),
            task("b", 21, ExportStatus::Complete),
            task("c", 25, ExportStatus::Complete),
            task("d", 1, ExportStatus::Failed),
        ];
        let (count, newest, example) = archived(&tasks, &lifecycle, today).unwrap();
        assert_eq!((count, newest.to_string(), example.as_str()), (2, "2026-11-21".to_owned(), "b"));
        assert!(archived(&tasks[2..], &lifecycle, today).is_none());
    }

    /// S3 counts the days from each object's creation, rounded up to the next midnight UTC
    /// (Amazon S3 User Guide, "Lifecycle configuration elements", Days).
    #[test]
    fn an_export_is_archived_from_its_first_files_day_not_its_end() {
        let lifecycle = Lifecycle { glacier_days: 7, deep_archive_days: 97, expire_days: 365 };
        let mut t = task("a", 1, ExportStatus::Complete);
        t.task_start_time = Utc.with_ymd_and_hms(2026, 11, 1, 23, 30, 0).single();
        t.task_end_time = Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).single();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert!(archived(std::slice::from_ref(&t), &lifecycle, day(8)).is_none());
        // 23:30 + 7 days rounds up to the 9th; counted from the end it would be the 10th.
        assert_eq!(archived(std::slice::from_ref(&t), &lifecycle, day(9)).map(|a| a.0), Some(1));
    }
}
