//! The AWS list prices `cost` and `restore` estimate with: one region's, approximate, with the
//! date they were taken. Prices differ by region (often by 10-40%, more in aws-cn and GovCloud),
//! so every estimate names the region the prices are for and warns in any other. Every price
//! the commands use is here: exports, storage, restores (retrieval), Athena's scans.

use crate::archive::restore::Tier;

/// The region the prices below are for.
pub const REGION: &str = "us-east-1";
/// Where and when they were taken.
pub const SOURCE: &str =
    "AWS list prices for us-east-1 as of 2026-11 (aws.amazon.com/rds/pricing, aws.amazon.com/s3/pricing)";

/// USD per GB of snapshot size exported to S3 (RDS snapshot export).
pub const EXPORT_PER_GB: f64 = 0.010;

/// USD per GB-month, by storage class.
pub fn storage_per_gb_month(class: &str) -> f64 {
    match class {
        "GLACIER" => 0.0036,
        "DEEP_ARCHIVE" => 0.00099,
        "GLACIER_IR" => 0.004,
        "STANDARD_IA" => 0.0125,
        _ => 0.023,
    }
}

/// USD per TB of data an Athena query scans, and the least a query is billed for.
pub const ATHENA_PER_TB_SCANNED: f64 = 5.0;
pub const ATHENA_MIN_BILLED_BYTES: i64 = 10 * 1024 * 1024;

/// (USD per GB retrieved, USD per 1,000 requests) to restore objects of a storage class with a
/// retrieval tier; `None` where the tier does not exist (Deep Archive has no expedited
/// retrieval).
pub fn retrieval(class: &str, tier: Tier) -> Option<(f64, f64)> {
    match (class, tier) {
        ("GLACIER", Tier::Expedited) => Some((0.03, 10.0)),
        ("GLACIER", Tier::Standard) => Some((0.01, 0.05)),
        // Bulk retrievals from Glacier Flexible Retrieval are free.
        ("GLACIER", Tier::Bulk) => Some((0.0, 0.0)),
        ("DEEP_ARCHIVE", Tier::Standard) => Some((0.02, 0.10)),
        ("DEEP_ARCHIVE", Tier::Bulk) => Some((0.0025, 0.025)),
        _ => None,
    }
}

/// How long until restored objects can be read, as AWS documents it beside the prices.
pub fn retrieval_time(class: &str, tier: Tier) -> &'static str {
    match (class, tier) {
        ("GLACIER", Tier::Expedited) => "1-5 minutes",
        ("GLACIER", Tier::Standard) => "3-5 hours",
        ("GLACIER", Tier::Bulk) => "5-12 hours",
        ("DEEP_ARCHIVE", Tier::Standard) => "12 hours",
        ("DEEP_ARCHIVE", Tier::Bulk) => "48 hours",
        _ => "never: this tier does not apply to this storage class",
    }
}

/// What S3 stores beside each object in Glacier Flexible Retrieval or Deep Archive: 32 KB of
/// index and metadata billed at the archive class's rate, and 8 KB billed at Standard's.
pub const ARCHIVE_OVERHEAD_ARCHIVE_BYTES: f64 = 32.0 * 1024.0;
pub const ARCHIVE_OVERHEAD_STANDARD_BYTES: f64 = 8.0 * 1024.0;

/// USD per month of the per-object overhead of `objects` objects in an archive `class`.
pub fn archive_overhead_month(class: &str, objects: usize) -> f64 {
    if !matches!(class, "GLACIER" | "DEEP_ARCHIVE") {
        return 0.0;
    }
    let n = objects as f64;
    n * (ARCHIVE_OVERHEAD_ARCHIVE_BYTES / 1e9 * storage_per_gb_month(class)
        + ARCHIVE_OVERHEAD_STANDARD_BYTES / 1e9 * storage_per_gb_month("STANDARD"))
}

/// A warning when the prices are not the region's own.
pub fn region_warning(region: Option<&str>) -> Option<String> {
    match region {
        Some(REGION) => None,
        Some(other) => Some(format!(
            "warning: the prices are {REGION}'s; {other} has its own (see aws.amazon.com/s3/pricing and \
             aws.amazon.com/rds/pricing for the region), so treat these figures as an approximation"
        )),
        None => Some(format!("warning: no region configured; the prices are {REGION}'s")),
    }
}

/// Money to two decimals, never `-0.00`.
pub fn usd(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    format!("{:.2}", if rounded == 0.0 { 0.0 } else { rounded })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_never_prints_a_negative_zero() {
        assert_eq!(usd(-0.0), "0.00");
        assert_eq!(usd(-0.001), "0.00");
        assert_eq!(usd(1.005_1), "1.01");
    }

    #[test]
    fn retrievals_by_class_and_tier() {
        assert_eq!(retrieval("GLACIER", Tier::Bulk), Some((0.0, 0.0)), "bulk from Glacier is free");
        assert_eq!(retrieval("DEEP_ARCHIVE", Tier::Bulk), Some((0.0025, 0.025)));
        assert_eq!(retrieval("DEEP_ARCHIVE", Tier::Expedited), None, "Deep Archive has no expedited tier");
        assert_eq!(retrieval("STANDARD", Tier::Standard), None);
        assert_eq!(retrieval_time("DEEP_ARCHIVE", Tier::Standard), "12 hours");
        assert!(retrieval_time("DEEP_ARCHIVE", Tier::Expedited).starts_with("never"));
        // Athena: $5 per TB scanned, at least 10 MB a query.
        assert_eq!(crate::aws::athena::approximate_cost_usd(0), 10_485_760.0 / 1e12 * 5.0);
        assert_eq!(crate::aws::athena::approximate_cost_usd(2_000_000_000_000), 10.0);
    }

    #[test]
    fn archived_objects_carry_forty_kilobytes_each() {
        // 1,000,000 Deep Archive objects: 32 KB at $0.00099 and 8 KB at $0.023 per GB-month.
        let month = archive_overhead_month("DEEP_ARCHIVE", 1_000_000);
        let want = 1e6 * (32.0 * 1024.0 / 1e9 * 0.00099 + 8.0 * 1024.0 / 1e9 * 0.023);
        assert!((month - want).abs() < 1e-9, "{month}");
        assert_eq!(archive_overhead_month("STANDARD", 10), 0.0);
        assert!(region_warning(Some("eu-west-1")).unwrap().contains("us-east-1"));
        assert!(region_warning(Some("us-east-1")).is_none());
    }
}
