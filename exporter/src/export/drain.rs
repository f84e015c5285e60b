//! When the pending queue drains, at the rate exports have been running: for `exporter
//! dispatch --dry-run`, and for anyone deciding whether a backfill fits before a deadline.

use chrono::{DateTime, Duration, Utc};
use s3exports_rds::{ExportStatus, ExportTask};

/// Completed exports the estimate is made from: the most recent.
pub const SAMPLE: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Drain {
    pub pending: u64,
    pub slots: u32,
    /// Exports measured.
    pub measured: usize,
    /// Their median run, end minus start.
    pub median: Duration,
    /// Their extracted GB per hour, over all of them.
    pub gb_per_hour: Option<f64>,
    pub drained_by: DateTime<Utc>,
}

/// The estimate: the queue starts `slots` exports at a time, each running the median of the
/// last [`SAMPLE`] completed ones; `None` with nothing pending or nothing measured yet.
pub fn estimate(pending: u64, slots: u32, tasks: &[ExportTask], now: DateTime<Utc>) -> Option<Drain> {
    let mut done: Vec<&ExportTask> = tasks
        .iter()
        .filter(|t| {
            t.status == ExportStatus::Complete && t.task_start_time.is_some() && t.task_end_time > t.task_start_time
        })
        .collect();
    done.sort_by_key(|t| std::cmp::Reverse(t.task_end_time));
    done.truncate(SAMPLE);
    if pending == 0 || done.is_empty() || slots == 0 {
        return None;
    }
    let mut runs: Vec<Duration> = done.iter().filter_map(|t| Some(t.task_end_time? - t.task_start_time?)).collect();
    runs.sort();
    let median = runs[runs.len() / 2];
    let hours: f64 = runs.iter().map(|d| d.num_seconds() as f64 / 3600.0).sum();
    let gb: f64 = done.iter().map(|t| f64::from(t.total_extracted_data_in_gb)).sum();
    let waves = pending.div_ceil(u64::from(slots));
    Some(Drain {
        pending,
        slots,
        measured: done.len(),
        median,
        gb_per_hour: (hours > 0.0 && gb > 0.0).then(|| gb / hours),
        drained_by: now + median * i32::try_from(waves).unwrap_or(i32::MAX),
    })
}

impl Drain {
    pub fn describe(&self) -> String {
        let rate = self.gb_per_hour.map(|r| format!(", {r:.1} GB/h")).unwrap_or_default();
        format!(
            "{} pending; the last {} completed exports ran a median of {} min{rate}: at {} slots the queue drains in about {:.1} h, by {}",
            self.pending,
            self.measured,
            self.median.num_minutes(),
            self.slots,
            self.median.num_minutes() as f64 * self.pending.div_ceil(u64::from(self.slots)) as f64 / 60.0,
            self.drained_by.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(minutes: i64, gb: i32) -> ExportTask {
        let start = DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z").unwrap().to_utc();
        ExportTask {
            task_start_time: Some(start),
            task_end_time: Some(start + Duration::minutes(minutes)),
            total_extracted_data_in_gb: gb,
            ..ExportTask::new("e", "arn", ExportStatus::Complete)
        }
    }

    #[test]
    fn the_queue_drains_in_waves_of_the_slots_at_the_median_run() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().to_utc();
        let tasks = [task(20, 10), task(30, 10), task(90, 40)];
        let d = estimate(12, 5, &tasks, now).unwrap();
        assert_eq!((d.median.num_minutes(), d.measured), (30, 3));
        // 12 pending at 5 slots: 3 waves of 30 minutes.
        assert_eq!(d.drained_by.to_rfc3339(), "2026-12-01T01:30:00+00:00");
        assert!((d.gb_per_hour.unwrap() - 60.0 / (140.0 / 60.0)).abs() < 1e-9);
        assert!(d.describe().contains("drains in about 1.5 h"), "{}", d.describe());
        assert_eq!(estimate(0, 5, &tasks, now), None);
        assert_eq!(estimate(3, 5, &[], now), None, "nothing measured: no guess");
    }
}
