//! Export policy values shared by the config files, the published export targets and the
//! exporter's decisions.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a snapshot came to be, as RDS reports it in `SnapshotType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotType {
    Automated,
    Manual,
    /// Taken by AWS Backup (`awsbackup:job-<uuid>`), reported by RDS as `awsbackup`.
    Awsbackup,
}

impl SnapshotType {
    pub const ALL: [SnapshotType; 3] = [Self::Automated, Self::Manual, Self::Awsbackup];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automated => "automated",
            Self::Manual => "manual",
            Self::Awsbackup => "awsbackup",
        }
    }

    /// Reads RDS's `SnapshotType`; AWS Backup snapshots are recognised by their id too,
    /// because older API responses call them `manual`.
    pub fn from_rds(snapshot_type: &str, snapshot_id: &str) -> Option<Self> {
        if snapshot_id.starts_with("awsbackup:") {
            return Some(Self::Awsbackup);
        }
        match snapshot_type.to_ascii_lowercase().as_str() {
            "automated" => Some(Self::Automated),
            "manual" => Some(Self::Manual),
            "awsbackup" => Some(Self::Awsbackup),
            _ => None,
        }
    }
}

impl fmt::Display for SnapshotType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Minimum time between two exports of one database; `none` exports every snapshot.
/// Written as `"none"` or a duration such as `"20h"`, `"7d"`, `"1d 12h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MinInterval(pub Option<Duration>);

impl MinInterval {
    pub const NONE: MinInterval = MinInterval(None);
}

impl FromStr for MinInterval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("none") || s == "0" {
            return Ok(Self(None));
        }
        let duration = humantime::parse_duration(s)
            .map_err(|e| format!("`{s}` is not a duration ({e}); write \"none\" or e.g. \"20h\", \"7d\""))?;
        Ok(Self((!duration.is_zero()).then_some(duration)))
    }
}

impl fmt::Display for MinInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(d) => write!(f, "{}", humantime::format_duration(d)),
        }
    }
}

impl Serialize for MinInterval {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MinInterval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The effective export policy of one database, after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPolicy {
    pub snapshot_types: Vec<SnapshotType>,
    pub min_interval: MinInterval,
    /// `ExportOnly` entries; empty exports the whole snapshot.
    pub export_only: Vec<String>,
}

/// S3 lifecycle of the exported data, in days since the object was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    pub glacier_days: u32,
    pub deep_archive_days: u32,
    pub expire_days: u32,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self { glacier_days: 7, deep_archive_days: 97, expire_days: 365 }
    }
}

/// Whether and how a completed export is sealed with S3 Object Lock: a retention on every object
/// of the export and on its manifest, until the snapshot day plus the lifecycle's `expire_days`.
///
/// - `off`: no seal. After a bucket had it on, `off` only stops sealing new exports: S3 never
///   turns Object Lock (or versioning) off again on a bucket, and existing retentions stay.
/// - `governance`: no one can delete or overwrite a sealed version before its date, except a
///   principal holding `s3:BypassGovernanceRetention` who asks to bypass (no role here has it).
/// - `compliance`: no one at all can, the account's root user included, and the date can never
///   be shortened. Choose it knowingly: `infra` asks for `--yes` before deploying it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectLock {
    Off,
    Governance,
    Compliance,
}

impl ObjectLock {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Governance => "governance",
            Self::Compliance => "compliance",
        }
    }

    /// S3's retention mode (`GOVERNANCE`, `COMPLIANCE`); `None` when off.
    pub fn mode(self) -> Option<&'static str> {
        match self {
            Self::Off => None,
            Self::Governance => Some("GOVERNANCE"),
            Self::Compliance => Some("COMPLIANCE"),
        }
    }

    /// The default for an environment: sealed in prod, not elsewhere.
    pub fn default_for(environment: &str) -> Self {
        if environment == "prod" { Self::Governance } else { Self::Off }
    }
}

impl fmt::Display for ObjectLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an object of a given age lives under a lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageTier {
    Standard,
    Glacier,
    DeepArchive,
    Expired,
}

impl StorageTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Glacier => "GLACIER",
            Self::DeepArchive => "DEEP_ARCHIVE",
            Self::Expired => "EXPIRED",
        }
    }

    /// Athena reads only objects in instant-access classes (restored Glacier objects need a
    /// table property and a restore first).
    pub fn athena_readable(self) -> bool {
        self == Self::Standard
    }
}

/// The days on which S3 applies a lifecycle's actions to one object, as S3 schedules them: the
/// rule's days added to the object's creation time, rounded up to the next midnight UTC. S3
/// applies actions asynchronously after that day, so an object may still be in the previous
/// class for a while (see [`Lifecycle::TRANSITION_GRACE_DAYS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub glacier: NaiveDate,
    pub deep_archive: NaiveDate,
    pub expires: NaiveDate,
}

impl Schedule {
    /// The tier due on `day`, and the day it became due (`None` while in Standard).
    pub fn tier_on(&self, day: NaiveDate) -> (StorageTier, Option<NaiveDate>) {
        if day >= self.expires {
            (StorageTier::Expired, Some(self.expires))
        } else if day >= self.deep_archive {
            (StorageTier::DeepArchive, Some(self.deep_archive))
        } else if day >= self.glacier {
            (StorageTier::Glacier, Some(self.glacier))
        } else {
            (StorageTier::Standard, None)
        }
    }

    /// The day `tier` falls due (`None` for Standard, where an object starts).
    pub fn day_of(&self, tier: StorageTier) -> Option<NaiveDate> {
        match tier {
            StorageTier::Standard => None,
            StorageTier::Glacier => Some(self.glacier),
            StorageTier::DeepArchive => Some(self.deep_archive),
            StorageTier::Expired => Some(self.expires),
        }
    }
}

/// `written + days`, rounded up to the next midnight UTC (S3's rule for lifecycle actions).
pub fn lifecycle_action_day(written: DateTime<Utc>, days: u32) -> NaiveDate {
    let due = written + chrono::Duration::days(i64::from(days));
    let midnight = due.time() == chrono::NaiveTime::MIN;
    let day = due.date_naive();
    if midnight { day } else { day.succ_opt().unwrap_or(day) }
}

impl Lifecycle {
    /// Days S3 may take after an action's due day before an object not yet moved is a finding.
    pub const TRANSITION_GRACE_DAYS: i64 = 2;

    pub fn schedule(&self, written: DateTime<Utc>) -> Schedule {
        Schedule {
            glacier: lifecycle_action_day(written, self.glacier_days),
            deep_archive: lifecycle_action_day(written, self.deep_archive_days),
            expires: lifecycle_action_day(written, self.expire_days),
        }
    }

    pub fn tier_at_age(&self, age_days: i64) -> StorageTier {
        if age_days >= i64::from(self.expire_days) {
            StorageTier::Expired
        } else if age_days >= i64::from(self.deep_archive_days) {
            StorageTier::DeepArchive
        } else if age_days >= i64::from(self.glacier_days) {
            StorageTier::Glacier
        } else {
            StorageTier::Standard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_interval_parses_none_and_durations() {
        assert_eq!("none".parse::<MinInterval>(), Ok(MinInterval::NONE));
        assert_eq!("NONE".parse::<MinInterval>(), Ok(MinInterval::NONE));
        assert_eq!("20h".parse::<MinInterval>(), Ok(MinInterval(Some(Duration::from_secs(20 * 3600)))));
        assert_eq!("1d 12h".parse::<MinInterval>(), Ok(MinInterval(Some(Duration::from_secs(36 * 3600)))));
        let err = "soon".parse::<MinInterval>().unwrap_err();
        assert!(err.contains("`soon` is not a duration"), "{err}");
    }

    #[test]
    fn min_interval_round_trips_through_its_text() {
        for text in ["none", "20h", "7days", "1day 12h"] {
            let parsed: MinInterval = text.parse().unwrap();
            assert_eq!(parsed.to_string().parse::<MinInterval>(), Ok(parsed));
        }
    }

    #[test]
    fn snapshot_type_recognises_aws_backup_by_id() {
        assert_eq!(SnapshotType::from_rds("manual", "awsbackup:job-1234"), Some(SnapshotType::Awsbackup));
        assert_eq!(SnapshotType::from_rds("AUTOMATED", "rds:x"), Some(SnapshotType::Automated));
        assert_eq!(SnapshotType::from_rds("shared", "x"), None);
    }

    /// Amazon S3 User Guide, "Lifecycle configuration elements" (Days): S3 adds the rule's days
    /// to the object's creation time and rounds the result up to the next midnight UTC.
    #[test]
    fn s3_applies_actions_from_the_next_midnight_utc() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(lifecycle_action_day(at("2026-11-01T10:00:00Z"), 7), day("2026-11-09"));
        assert_eq!(lifecycle_action_day(at("2026-11-01T00:00:00Z"), 7), day("2026-11-08"));
        let s = Lifecycle::default().schedule(at("2026-11-01T23:59:00Z"));
        assert_eq!(s.tier_on(day("2026-11-08")), (StorageTier::Standard, None));
        assert_eq!(s.tier_on(day("2026-11-09")), (StorageTier::Glacier, Some(day("2026-11-09"))));
        assert_eq!(s.tier_on(day("2027-11-02")).0, StorageTier::Expired);
        assert_eq!(s.day_of(StorageTier::Glacier), Some(day("2026-11-09")));
        assert_eq!(s.day_of(StorageTier::Standard), None);
    }

    #[test]
    fn lifecycle_tiers_follow_the_days() {
        let l = Lifecycle::default();
        assert_eq!(l.tier_at_age(0), StorageTier::Standard);
        assert_eq!(l.tier_at_age(6), StorageTier::Standard);
        assert_eq!(l.tier_at_age(7), StorageTier::Glacier);
        assert_eq!(l.tier_at_age(97), StorageTier::DeepArchive);
        assert_eq!(l.tier_at_age(365), StorageTier::Expired);
        assert!(l.tier_at_age(3).athena_readable());
        assert!(!l.tier_at_age(30).athena_readable());
    }
}
