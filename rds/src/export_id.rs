//! The export task identifier: deterministic per snapshot, readable, and valid by the
//! StartExportTask rules, so a redelivered event maps to the same task and RDS itself
//! refuses a second export (`ExportTaskAlreadyExists`).
//!
//! Shape: `<database slug>-<YYYYMMDD>-<HHMM>-<12 hex of sha256(snapshot ARN)>`, at most 60
//! characters. The hash keeps distinct snapshots distinct even when the slug is cut short or
//! two snapshots share a minute.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub const MAX_LEN: usize = 60;
const HASH_HEX: usize = 12;
/// `-YYYYMMDD-HHMM-` plus the hash.
const SUFFIX_LEN: usize = 1 + 8 + 1 + 4 + 1 + HASH_HEX;

pub fn export_task_identifier(db_id: &str, snapshot_time: DateTime<Utc>, snapshot_arn: &str) -> String {
    attempt_identifier(db_id, snapshot_time, snapshot_arn, 0)
}

/// The identifier of a later attempt at the same snapshot's export, after `attempt` exports of
/// it failed: the first one's with `-r<attempt>` appended (the database slug cut to make room),
/// so it is deterministic, distinct per attempt, and still sorts beside the first.
pub fn attempt_identifier(db_id: &str, snapshot_time: DateTime<Utc>, snapshot_arn: &str, attempt: u32) -> String {
    let digest = Sha256::digest(snapshot_arn.as_bytes());
    let hash: String = digest.iter().take(HASH_HEX / 2).map(|b| format!("{b:02x}")).collect();
    let tail = if attempt == 0 { String::new() } else { format!("-r{attempt}") };
    let mut slug = slug(db_id, MAX_LEN - SUFFIX_LEN - tail.len());
    if slug.is_empty() {
        slug.push_str("snapshot");
    }
    format!("{slug}-{}-{hash}{tail}", snapshot_time.format("%Y%m%d-%H%M"))
}

/// What every export task identifier of database `db_id` begins with, whatever the snapshot,
/// the attempt ([`attempt_identifier`]) or the bucket ([`in_bucket`]): the database's slug cut
/// to the length left beside the longest attempt suffix. It starts with a letter, so a key
/// prefix `<export prefix>/<this>` reaches the database's export folders and never a folder
/// whose name starts with `_` (the evidence and its state).
pub fn common_prefix(db_id: &str) -> String {
    let longest_tail = format!("-r{}", u32::MAX).len();
    let slug = slug(db_id, MAX_LEN - SUFFIX_LEN - longest_tail);
    if slug.is_empty() { "snapshot".to_owned() } else { slug }
}

/// Lower-case letters, digits and single hyphens, starting with a letter, at most `max`.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max);
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || (c.is_ascii_digit() && !out.is_empty()) {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The identifier for exporting to `bucket` a snapshot whose usual identifier `id` is already
/// taken by an export of it to another bucket (the database moved to a new bucket): `id` with
/// `-b<6 hex of sha256(bucket)>`, cut to stay within 60 characters. Deterministic per bucket, so
/// a retry maps to the same task and the reconciler, which matches a bucket's tasks by
/// snapshot, finds it exported.
pub fn in_bucket(id: &str, bucket: &str) -> String {
    let digest = Sha256::digest(bucket.as_bytes());
    let tail: String = format!("-b{}", digest.iter().take(3).map(|b| format!("{b:02x}")).collect::<String>());
    let mut base: String = id.chars().take(MAX_LEN - tail.len()).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        base.push_str("snapshot");
    }
    format!("{base}{tail}")
}

/// The StartExportTask rules for ExportTaskIdentifier.
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
    }

    #[test]
    fn readable_for_an_ordinary_snapshot() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 3, 10, 0).unwrap();
        let id = export_task_identifier(
            "pams-stack-prod",
            t,
            "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:pams-stack-prod-2026-11-24-03-10",
        );
        assert!(id.starts_with("pams-stack-prod-20261124-0310-"), "{id}");
        assert_eq!(id.len(), "pams-stack-prod-20261124-0310-".len() + 12);
        assert!(is_valid(&id));
    }

    #[test]
    fn long_and_odd_database_ids_stay_valid() {
        let long = "a".repeat(63);
        let id = export_task_identifier(&long, at(0), "arn");
        assert_eq!(id.len(), MAX_LEN);
        assert!(is_valid(&id), "{id}");
        for db in ["", "---", "::::", "9lives", "db--x-", "Ünïcode-db"] {
            let id = export_task_identifier(db, at(0), "arn");
            assert!(is_valid(&id), "{db:?} -> {id}");
        }
    }

    #[test]
    fn validity_rules() {
        assert!(is_valid("a"));
        assert!(!is_valid("1a"));
        assert!(!is_valid("a-"));
        assert!(!is_valid("a--b"));
        assert!(!is_valid("a_b"));
        assert!(!is_valid(&"a".repeat(61)));
    }

    proptest! {
        #[test]
        fn always_valid_and_deterministic(
            db in "[-a-zA-Z0-9:]{0,63}",
            arn in "arn:aws:rds:[a-z0-9-]{1,15}:[0-9]{12}:(cluster-)?snapshot:[-a-zA-Z0-9:]{1,255}",
            secs in 0i64..4_102_444_800,
        ) {
            let id = export_task_identifier(&db, at(secs), &arn);
            prop_assert!(is_valid(&id), "{} -> {}", db, id);
            prop_assert!(id.len() <= MAX_LEN);
            prop_assert_eq!(&id, &export_task_identifier(&db, at(secs), &arn));
        }

        #[test]
        fn later_attempts_are_valid_distinct_and_deterministic(
            db in "[-a-zA-Z0-9:]{0,63}",
            secs in 0i64..4_102_444_800,
            attempt in 1u32..100_000,
        ) {
            let arn = "arn:aws:rds:eu-west-1:123456789012:snapshot:rds:x-2026-11-24-03-10";
            let id = attempt_identifier(&db, at(secs), arn, attempt);
            prop_assert!(is_valid(&id), "{} -> {}", db, id);
            prop_assert_eq!(&id, &attempt_identifier(&db, at(secs), arn, attempt));
            prop_assert_ne!(&id, &attempt_identifier(&db, at(secs), arn, attempt + 1));
            prop_assert_ne!(id, export_task_identifier(&db, at(secs), arn));
        }

        #[test]
        fn an_identifier_moved_to_another_bucket_is_valid_distinct_and_deterministic(
            db in "[-a-zA-Z0-9:]{0,63}",
            secs in 0i64..4_102_444_800,
            bucket in "[a-z0-9][a-z0-9.-]{2,62}",
        ) {
            let id = export_task_identifier(&db, at(secs), "arn:aws:rds:eu-west-1:1:snapshot:rds:x");
            let moved = in_bucket(&id, &bucket);
            prop_assert!(is_valid(&moved), "{} -> {}", id, moved);
            prop_assert_ne!(&moved, &id);
            prop_assert_eq!(&moved, &in_bucket(&id, &bucket));
            prop_assert_ne!(moved, in_bucket(&id, &format!("{bucket}x")));
        }

        #[test]
        fn every_identifier_of_a_database_starts_with_its_common_prefix(
            db in "[-a-zA-Z0-9:]{0,63}",
            secs in 0i64..4_102_444_800,
            attempt in prop_oneof![Just(0u32), 1u32..100, Just(u32::MAX)],
            bucket in "[a-z0-9][a-z0-9.-]{2,62}",
        ) {
            let prefix = common_prefix(&db);
            prop_assert!(prefix.starts_with(|c: char| c.is_ascii_lowercase()), "{}", prefix);
            let id = attempt_identifier(&db, at(secs), "arn:aws:rds:eu-west-1:1:snapshot:rds:x", attempt);
            prop_assert!(id.starts_with(&prefix), "{} does not start with {}", id, prefix);
            let moved = in_bucket(&id, &bucket);
            prop_assert!(moved.starts_with(&prefix), "{} does not start with {}", moved, prefix);
        }

        #[test]
        fn distinct_snapshots_get_distinct_ids(
            db in "[-a-z0-9:]{1,63}",
            a in "[-a-z0-9:]{1,120}",
            b in "[-a-z0-9:]{1,120}",
            secs in 0i64..4_102_444_800,
        ) {
            prop_assume!(a != b);
            let arn = |s: &str| format!("arn:aws:rds:eu-west-1:123456789012:snapshot:{s}");
            prop_assert_ne!(
                export_task_identifier(&db, at(secs), &arn(&a)),
                export_task_identifier(&db, at(secs), &arn(&b))
            );
        }
    }
}
