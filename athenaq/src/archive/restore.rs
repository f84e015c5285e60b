//! `restore`: bring an export (or one table) back from Glacier Flexible Retrieval or Deep
//! Archive. First a plan (objects, bytes, an approximate cost by tier, when it will be ready),
//! then RestoreObject for each archived object, concurrently. Idempotent: objects restored or
//! restoring are counted, never requested again.

use chrono::NaiveDate;
use s3exports_rds::AwsError;

use crate::audit::prices::usd;

use crate::aws::s3::{self, Object, Restore};
use crate::progress;

const CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tier {
    Bulk,
    Standard,
    Expedited,
}

impl Tier {
    fn sdk(self) -> aws_sdk_s3::types::Tier {
        match self {
            Self::Bulk => aws_sdk_s3::types::Tier::Bulk,
            Self::Standard => aws_sdk_s3::types::Tier::Standard,
            Self::Expedited => aws_sdk_s3::types::Tier::Expedited,
        }
    }
}

/// What a restore would do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub objects: usize,
    /// Archived objects with no restored copy and no restore running: the requests to make.
    pub to_request: Vec<Object>,
    pub in_progress: usize,
    pub restored: usize,
    /// Per storage class: (objects, bytes) to request.
    pub by_class: Vec<(String, usize, i64)>,
}

impl Plan {
    pub fn of(objects: &[Object]) -> Self {
        let mut plan = Plan { objects: objects.len(), ..Plan::default() };
        for o in objects.iter().filter(|o| o.is_archived()) {
            match &o.restore {
                Some(Restore::InProgress) => plan.in_progress += 1,
                Some(Restore::Restored { .. }) => plan.restored += 1,
                _ => {
                    match plan.by_class.iter_mut().find(|(c, _, _)| *c == o.storage_class) {
                        Some(entry) => {
                            entry.1 += 1;
                            entry.2 += o.size;
                        }
                        None => plan.by_class.push((o.storage_class.clone(), 1, o.size)),
                    }
                    plan.to_request.push(o.clone());
                }
            }
        }
        plan
    }

    /// Approximate cost of the requests in USD; `None` if the tier does not apply to a class.
    pub fn cost(&self, tier: Tier) -> Option<f64> {
        self.by_class.iter().try_fold(0.0, |sum, (class, n, bytes)| {
            let (per_gb, per_thousand) = crate::audit::prices::retrieval(class, tier)?;
            Some(sum + per_gb * (*bytes as f64 / 1e9) + per_thousand * (*n as f64 / 1000.0))
        })
    }

    /// The lines to show before anything is requested. `expires`: the day the lifecycle
    /// removes the objects, which ends a restored copy too.
    pub fn describe(
        &self,
        tier: Tier,
        days: i32,
        expires: Option<NaiveDate>,
        today: NaiveDate,
        region: Option<&str>,
    ) -> Vec<String> {
        let mut out = vec![format!(
            "{} objects: {} archived to request, {} restoring already, {} restored already",
            self.objects,
            self.to_request.len(),
            self.in_progress,
            self.restored
        )];
        for (class, n, bytes) in &self.by_class {
            out.push(format!(
                "  {class}: {n} objects, {:.3} GB; ready within {} ({tier:?})",
                *bytes as f64 / 1e9,
                crate::audit::prices::retrieval_time(class, tier)
            ));
        }
        for t in [Tier::Bulk, Tier::Standard, Tier::Expedited] {
            let cost = self.cost(t).map_or_else(|| "not available".to_owned(), |c| format!("about ${}", usd(c)));
            out.push(format!("  {t:?}: {cost}"));
        }
        out.push(format!("  approximate: {}", crate::audit::prices::SOURCE));
        out.extend(crate::audit::prices::region_warning(region).map(|w| format!("  {w}")));
        out.push(readable_for(days, expires, today));
        out
    }
}

/// How long the restored copies can be read: `days`, unless the lifecycle expires the objects
/// first.
pub fn readable_for(days: i32, expires: Option<NaiveDate>, today: NaiveDate) -> String {
    let asked = today.checked_add_signed(chrono::Duration::days(i64::from(days)));
    match (expires, asked) {
        (Some(expires), Some(asked)) if expires <= asked => format!(
            "  the copies stay readable until {expires} only (not {days} days): the lifecycle expires the \
             objects that day, restored copies included"
        ),
        _ => format!("  the copies stay readable for {days} days"),
    }
}

/// What the requests gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub requested: usize,
    /// S3 said a restore was already running.
    pub already_restoring: usize,
    /// S3 said the object is not archived (any more).
    pub not_archived: usize,
    pub failed: Vec<String>,
}

/// Finds each unknown restore state with HeadObject: S3 lists it only when asked and emulators
/// never do.
pub async fn fill_restore_states(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: &mut [Object],
) -> Result<(), AwsError> {
    let unknown: Vec<usize> =
        (0..objects.len()).filter(|i| objects[*i].is_archived() && objects[*i].restore.is_none()).collect();
    let keys: Vec<(usize, String)> = unknown.into_iter().map(|i| (i, objects[i].key.clone())).collect();
    let heads = progress::each_concurrently(&keys, "restore states", CONCURRENCY, |(i, key)| async move {
        (*i, s3::head(s3, bucket, key).await)
    })
    .await;
    for (i, head) in heads {
        objects[i].restore = Some(head?.restore);
    }
    Ok(())
}

pub async fn request(s3: &aws_sdk_s3::Client, bucket: &str, plan: &Plan, tier: Tier, days: i32) -> Outcome {
    let results = progress::each_concurrently(&plan.to_request, "restore requests", CONCURRENCY, |o| async move {
        let request = aws_sdk_s3::types::RestoreRequest::builder()
            .days(days)
            .glacier_job_parameters(
                aws_sdk_s3::types::GlacierJobParameters::builder()
                    .tier(tier.sdk())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build();
        let sent = s3.restore_object().bucket(bucket).key(&o.key).restore_request(request).send().await;
        Ok::<_, String>((o.key.clone(), sent.map(|_| ()).map_err(|e| s3exports_cli::sdk_error_text(&e))))
    })
    .await;
    let mut out = Outcome::default();
    for r in results {
        match r {
            Ok((_, Ok(()))) => out.requested += 1,
            Ok((_, Err(e))) if e.contains("RestoreAlreadyInProgress") => out.already_restoring += 1,
            Ok((_, Err(e))) if e.contains("ObjectAlreadyInActiveTierError") || e.contains("InvalidObjectState") => {
                out.not_archived += 1;
            }
            Ok((key, Err(e))) => out.failed.push(format!("{key}: {e}")),
            Err(e) => out.failed.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(class: &str, size: i64, restore: Option<Restore>) -> Object {
        Object {
            key: format!("k-{class}-{size}.parquet"),
            size,
            etag: "e".into(),
            storage_class: class.into(),
            restore,
        }
    }

    #[test]
    fn the_plan_counts_what_is_done_and_prices_the_rest() {
        let objects = [
            object("STANDARD", 10, None),
            object("DEEP_ARCHIVE", 2_000_000_000, Some(Restore::None)),
            object("DEEP_ARCHIVE", 1_000_000_000, Some(Restore::InProgress)),
            object("GLACIER", 1_000_000_000, Some(Restore::Restored { until: None })),
            object("GLACIER", 4_000_000_000, Some(Restore::None)),
        ];
        let plan = Plan::of(&objects);
        assert_eq!((plan.to_request.len(), plan.in_progress, plan.restored), (2, 1, 1));
        // Deep Archive bulk: 2 GB x $0.0025 + 1 request; Glacier bulk is free.
        let bulk = plan.cost(Tier::Bulk).unwrap();
        assert!((bulk - (2.0 * 0.0025 + 0.025 / 1000.0)).abs() < 1e-9, "{bulk}");
        assert!(plan.cost(Tier::Expedited).is_none(), "Deep Archive has no expedited retrieval");
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let lines = plan.describe(Tier::Standard, 7, None, today, Some("us-east-1")).join("\n");
        assert!(lines.contains("DEEP_ARCHIVE: 1 objects, 2.000 GB; ready within 12 hours"), "{lines}");
        assert!(lines.contains("approximate") && lines.contains("readable for 7 days"), "{lines}");
        let lines = plan.describe(Tier::Bulk, 7, None, today, Some("eu-central-1")).join("\n");
        assert!(lines.contains("warning: the prices are us-east-1's; eu-central-1"), "{lines}");
    }

    #[test]
    fn a_restore_is_readable_no_longer_than_the_objects_live() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let expires = NaiveDate::from_ymd_opt(2026, 12, 4);
        assert!(readable_for(7, expires, today).contains("readable until 2026-12-04 only (not 7 days)"));
        assert!(readable_for(2, expires, today).contains("readable for 2 days"));
    }
}
