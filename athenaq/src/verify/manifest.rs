//! `verify` against the export's manifest: every object still the version, size, ETag and
//! checksum it recorded, nothing missing, replaced or added, every object and the manifest
//! retained as configured, the link to the previous manifest intact, and what the export holds
//! against the previous one. Nothing is downloaded but manifests: listings and HeadObject,
//! which answer for archived objects too.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use s3exports_config::{Database, ObjectLock, names};
use s3exports_evidence::manifest::{Manifest, base64_to_hex, sha256_hex};
use s3exports_evidence::s3::{self as evidence_s3, ObjectState, Version};
use s3exports_evidence::{completeness, s3::FooterRead};
use s3exports_rds::ExportTask;

use super::checks::{Check, Status, check};
use crate::progress;

/// Requests at once (HeadObject, footers).
const CONCURRENCY: usize = 16;

/// The manifest as read, or why it could not be.
#[derive(Debug, Clone)]
pub enum Found {
    Read {
        key: String,
        manifest: Box<Manifest>,
        sha256: String,
        versions: usize,
        state: Box<ObjectState>,
    },
    Missing {
        key: String,
    },
    /// Gone, with a delete marker on top of its versions.
    Deleted {
        key: String,
        versions: usize,
    },
    Archived {
        key: String,
        class: String,
    },
    Unreadable {
        key: String,
        why: String,
    },
}

/// Reads the manifest at `key` (its latest version), and counts its versions.
pub async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Found {
    let unreadable = |why: String| Found::Unreadable { key: key.to_owned(), why };
    let listed = match evidence_s3::list_versions(s3, bucket, key).await {
        Ok(v) => v,
        Err(e) => return unreadable(format!("listing its versions: {e}")),
    };
    let versions = listed.iter().filter(|v| v.key == key && !v.delete_marker).count();
    let deleted = listed.iter().any(|v| v.key == key && v.delete_marker && v.is_latest);
    let state = match evidence_s3::head(s3, bucket, key, None).await {
        Ok(Some(state)) => state,
        Ok(None) if deleted => return Found::Deleted { key: key.to_owned(), versions },
        Ok(None) => return Found::Missing { key: key.to_owned() },
        Err(e) if deleted => return Found::Deleted { key: format!("{key} ({e})"), versions },
        Err(e) => return unreadable(e.to_string()),
    };
    if state.is_archived() && !state.restore.as_deref().is_some_and(|r| r.contains("ongoing-request=\"false\"")) {
        return Found::Archived { key: key.to_owned(), class: state.storage_class.clone() };
    }
    let bytes = match evidence_s3::get(s3, bucket, key, state.version_id.as_deref(), None).await {
        Ok(bytes) => bytes,
        Err(e) => return unreadable(e.to_string()),
    };
    match Manifest::parse(key, &bytes) {
        Ok(manifest) => Found::Read {
            key: key.to_owned(),
            manifest: Box::new(manifest),
            sha256: sha256_hex(&bytes),
            versions,
            state: Box::new(state),
        },
        Err(e) => unreadable(e.to_string()),
    }
}

/// The manifest row.
pub fn manifest_check(found: &Found, task: &ExportTask) -> Check {
    match found {
        Found::Read { key, sha256, versions, manifest, .. } if *versions > 1 => check(
            "manifest",
            Status::Fail,
            format!(
                "{key} has {versions} versions: the manifest was replaced (its SHA-256 now {sha256}, written by {})",
                manifest.tool
            ),
        ),
        Found::Read { key, sha256, manifest, .. } if manifest.export.id != task.id => check(
            "manifest",
            Status::Fail,
            format!("{key} (SHA-256 {sha256}) is the manifest of export {}, not {}", manifest.export.id, task.id),
        ),
        Found::Read { key, sha256, .. } => check("manifest", Status::Pass, format!("{key}, SHA-256 {sha256}")),
        Found::Missing { key } => check(
            "manifest",
            Status::Warn,
            format!(
                "no manifest at {key}: the cataloguer writes one when an export completes; for an export from before \
                 that, `exporter evidence --backfill --db <database>` writes it"
            ),
        ),
        Found::Deleted { key, versions } => check(
            "manifest",
            Status::Fail,
            format!("{key} was deleted: a delete marker lies on its {versions} version(s)"),
        ),
        Found::Archived { key, class } => check(
            "manifest",
            Status::Warn,
            format!(
                "{key} is in {class} and not restored, so it was not read: `athenaq restore {}`, then verify again",
                task.id
            ),
        ),
        Found::Unreadable { key, why } => check("manifest", Status::Fail, format!("{key}: {why}")),
    }
}

/// Each recorded object against the current versions under the export's folder: missing,
/// deleted, replaced (another version on top), changed, or added beside them.
pub fn objects(manifest: &Manifest, versions: &[Version]) -> Check {
    let latest: HashMap<&str, &Version> =
        versions.iter().filter(|v| v.is_latest).map(|v| (v.key.as_str(), v)).collect();
    let recorded: HashSet<&str> = manifest.objects.iter().map(|o| o.key.as_str()).collect();
    let mut problems = Vec::new();
    for o in &manifest.objects {
        match latest.get(o.key.as_str()) {
            None => problems.push(format!("{}: missing", o.key)),
            Some(v) if v.delete_marker => {
                problems.push(format!("{}: deleted (a delete marker is its latest version)", o.key))
            }
            Some(v) if o.version_id.is_some() && v.version_id != o.version_id => problems.push(format!(
                "{}: replaced (version {} on top of the recorded {})",
                o.key,
                v.version_id.as_deref().unwrap_or("null"),
                o.version_id.as_deref().unwrap_or("null")
            )),
            Some(v) if v.size != o.size || v.etag != o.etag => problems.push(format!(
                "{}: changed ({} bytes, ETag {}; recorded {} bytes, ETag {})",
                o.key, v.size, v.etag, o.size, o.etag
            )),
            Some(_) => {}
        }
    }
    let added: Vec<&str> =
        evidence_s3::current(versions).into_iter().map(|v| v.key.as_str()).filter(|k| !recorded.contains(k)).collect();
    problems.extend(added.iter().map(|k| format!("{k}: added (not in the manifest)")));
    if problems.is_empty() {
        return check(
            "objects",
            Status::Pass,
            format!("all {} objects as recorded, none added", manifest.objects.len()),
        );
    }
    check("objects", Status::Fail, format!("{} of {}: {}", problems.len(), manifest.objects.len(), problems.join("; ")))
}

/// Each recorded object's S3 checksum, as HeadObject gives it for the recorded version.
pub fn checksums(manifest: &Manifest, heads: &HashMap<String, Result<Option<ObjectState>, String>>) -> Check {
    let mut problems = Vec::new();
    let mut compared = 0;
    for o in &manifest.objects {
        let Some(want) = &o.checksum else { continue };
        match heads.get(&o.key) {
            Some(Ok(Some(state))) => match &state.checksum {
                Some(have) if have.algorithm == want.algorithm && have.value == want.value => compared += 1,
                Some(have) => problems.push(format!(
                    "{}: {} {} now, recorded {} {}",
                    o.key, have.algorithm, have.value, want.algorithm, want.value
                )),
                None => problems
                    .push(format!("{}: S3 gives no checksum now, recorded {} {}", o.key, want.algorithm, want.value)),
            },
            Some(Ok(None)) => problems.push(format!("{}: the recorded version is gone", o.key)),
            Some(Err(e)) => problems.push(format!("{}: {e}", o.key)),
            None => {}
        }
    }
    if problems.is_empty() {
        let without = manifest.objects.iter().filter(|o| o.checksum.is_none()).count();
        let note = if without > 0 { format!("; {without} recorded without one (S3 kept none)") } else { String::new() };
        return check("checksums", Status::Pass, format!("{compared} S3 checksums as recorded{note}"));
    }
    check("checksums", Status::Fail, format!("{} differ: {}", problems.len(), problems.join("; ")))
}

/// Every object and the manifest retained in the expected mode until at least the expected
/// date: the manifest's seal, and sealing the config asks for.
pub fn retention(
    manifest: &Manifest,
    heads: &HashMap<String, Result<Option<ObjectState>, String>>,
    manifest_state: &ObjectState,
    db: &Database,
    now: DateTime<Utc>,
) -> Check {
    let Some(seal) = &manifest.seal else {
        if db.object_lock == ObjectLock::Off {
            return check("retention", Status::Pass, "not sealed: object_lock is off for this database");
        }
        // A backfill does not seal an export whose lock period has already ended (S3 refuses a
        // date in the past).
        let ended = manifest
            .export
            .snapshot_time
            .and_then(|t| t.date_naive().checked_add_days(chrono::Days::new(u64::from(db.lifecycle.expire_days))));
        if let Some(day) = ended.filter(|d| d.and_time(chrono::NaiveTime::MIN).and_utc() <= now) {
            return check(
                "retention",
                Status::Pass,
                format!(
                    "not sealed: its lock period (the snapshot day plus {} days) ended on {day}",
                    db.lifecycle.expire_days
                ),
            );
        }
        return check(
            "retention",
            Status::Fail,
            format!(
                "the manifest records no seal, and object_lock = \"{}\" for {}: the export was never sealed",
                db.object_lock, db.db_name
            ),
        );
    };
    let short = |state: &ObjectState| -> Option<String> {
        match &state.lock {
            None => Some("no retention".to_owned()),
            Some((mode, _)) if !mode.eq_ignore_ascii_case(&seal.mode) => Some(format!("{mode}, not {}", seal.mode)),
            Some((_, until)) if *until < seal.retain_until => Some(format!("retained only until {until}")),
            Some(_) => None,
        }
    };
    let mut problems: Vec<String> = Vec::new();
    for o in &manifest.objects {
        if let Some(Ok(Some(state))) = heads.get(&o.key) {
            if let Some(why) = short(state) {
                problems.push(format!("{}: {why}", o.key));
            }
        }
    }
    if let Some(why) = short(manifest_state) {
        problems.push(format!("the manifest {}: {why}", manifest_state.key));
    }
    if problems.is_empty() {
        return check(
            "retention",
            Status::Pass,
            format!(
                "{} objects and the manifest in {} until {}",
                manifest.objects.len(),
                seal.mode,
                date(seal.retain_until)
            ),
        );
    }
    check("retention", Status::Fail, format!("{} not retained as sealed: {}", problems.len(), problems.join("; ")))
}

/// Whether this caller may see retentions: HeadObject returns an object's lock mode and date
/// only to callers allowed `s3:GetObjectRetention`, and without it every object would look
/// unsealed. Asked only when the sealed manifest's HEAD shows no retention.
pub async fn retention_denied(s3: &aws_sdk_s3::Client, bucket: &str, state: &ObjectState) -> Option<String> {
    if state.lock.is_some() {
        return None;
    }
    let asked =
        s3.get_object_retention().bucket(bucket).key(&state.key).set_version_id(state.version_id.clone()).send().await;
    match asked {
        Err(e)
            if e.as_service_error().and_then(|s| s.meta().code()) == Some("AccessDenied")
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 403) =>
        {
            Some(format!(
                "cannot see retentions: GetObjectRetention on {} is denied, and S3 shows a retention only to callers \
                 allowed s3:GetObjectRetention; grant it (README: Evidence and immutability) and verify again",
                state.key
            ))
        }
        _ => None,
    }
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The previous manifest this one names, as S3 holds it now.
pub async fn chain(s3: &aws_sdk_s3::Client, bucket: &str, manifest: &Manifest) -> (Check, Option<Manifest>) {
    let Some(link) = &manifest.previous else {
        return (check("chain", Status::Pass, "the first manifest of its database's chain"), None);
    };
    match read(s3, bucket, &link.key).await {
        Found::Read { sha256, manifest: previous, versions, .. } if sha256 == link.sha256 && versions == 1 => (
            check("chain", Status::Pass, format!("follows {} ({}), SHA-256 as recorded", link.export_id, link.key)),
            Some(*previous),
        ),
        Found::Read { sha256, versions, .. } if versions > 1 => (
            check(
                "chain",
                Status::Fail,
                format!(
                    "{} has {versions} versions (replaced); its SHA-256 is now {sha256}, the link names {}",
                    link.key, link.sha256
                ),
            ),
            None,
        ),
        Found::Read { sha256, .. } => (
            check(
                "chain",
                Status::Fail,
                format!(
                    "{} names {} with SHA-256 {}, and it has {sha256}: altered",
                    manifest.export.id, link.key, link.sha256
                ),
            ),
            None,
        ),
        Found::Archived { key, .. } => match evidence_s3::head(s3, bucket, &key, None).await {
            // S3's own SHA-256 of an archived manifest, without restoring it.
            Ok(Some(state)) if state.checksum.as_ref().is_some_and(|c| c.algorithm == "SHA256") => {
                let have = state.checksum.and_then(|c| base64_to_hex(&c.value)).unwrap_or_default();
                let status = if have == link.sha256 { Status::Pass } else { Status::Fail };
                (
                    check(
                        "chain",
                        status,
                        format!(
                            "follows {} (archived; S3's SHA-256 {have}, the link names {})",
                            link.export_id, link.sha256
                        ),
                    ),
                    None,
                )
            }
            _ => (
                check(
                    "chain",
                    Status::Warn,
                    format!("{key} is archived and S3 gives no SHA-256 for it: restore it to check the link"),
                ),
                None,
            ),
        },
        Found::Missing { key } | Found::Deleted { key, .. } if link.lapsed(Utc::now()) => (
            check(
                "chain",
                Status::Pass,
                format!(
                    "follows {}, whose manifest {key} the lifecycle may remove from {} on, as configured",
                    link.export_id,
                    link.lapses.map(date).unwrap_or_default()
                ),
            ),
            None,
        ),
        Found::Missing { key } | Found::Deleted { key, .. } => (
            check(
                "chain",
                Status::Fail,
                format!("gap: {} names {} as previous, and {key} is not there", manifest.export.id, link.export_id),
            ),
            None,
        ),
        Found::Unreadable { key, why } => (check("chain", Status::Fail, format!("{key}: {why}")), None),
    }
}

/// Tables gone, skipped or shrunk against the previous manifest.
pub fn completeness_check(manifest: &Manifest, previous: Option<&Manifest>, row_drop_warn_pct: u32) -> Check {
    let findings = completeness::warnings(manifest, previous, row_drop_warn_pct);
    if findings.is_empty() {
        let against = previous.map_or_else(
            || "no previous manifest to compare with".to_owned(),
            |p| format!("against export {}", p.export.id),
        );
        return check("completeness", Status::Pass, format!("{} tables, {against}", manifest.tables.len()));
    }
    check("completeness", Status::Warn, findings.join("; "))
}

/// HeadObject of every recorded version, with S3's checksum and the retention.
pub async fn heads(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest: &Manifest,
) -> HashMap<String, Result<Option<ObjectState>, String>> {
    let wanted: Vec<(String, Option<String>)> =
        manifest.objects.iter().map(|o| (o.key.clone(), o.version_id.clone())).collect();
    progress::each_concurrently(&wanted, "objects", CONCURRENCY, |(key, version)| async move {
        (key.clone(), evidence_s3::head(s3, bucket, key, version.as_deref()).await.map_err(|e| e.to_string()))
    })
    .await
    .into_iter()
    .collect()
}

/// With `--deep`: every readable part's footer again, its rows against the manifest's.
pub async fn rows(s3: &aws_sdk_s3::Client, bucket: &str, manifest: &Manifest) -> Check {
    let prefix = manifest.export.s3_prefix.trim_matches('/');
    let id = &manifest.export.id;
    let folder = if prefix.is_empty() { format!("{id}/") } else { format!("{prefix}/{id}/") };
    let parts: Vec<(String, Option<String>, u64)> = manifest
        .objects
        .iter()
        .filter(|o| o.key.ends_with(".parquet"))
        .map(|o| (o.key.clone(), o.version_id.clone(), o.size))
        .collect();
    let read = progress::each_concurrently(&parts, "footers", CONCURRENCY, |(key, version, size)| async move {
        (key.clone(), evidence_s3::footer(s3, bucket, key, version.as_deref(), *size).await)
    })
    .await;
    let mut problems = Vec::new();
    let mut archived = 0;
    for table in &manifest.tables {
        let Some(want) = table.rows else { continue };
        let prefix = match s3exports_rds::layout::TableRef::from_target(&table.target) {
            Some(t) => format!("{folder}{}/", t.folder().to_string_lossy()),
            None => continue,
        };
        let mut have = 0u64;
        let mut complete = true;
        for (key, footer) in read.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            match footer {
                FooterRead::Read { rows, .. } => have += rows,
                FooterRead::Archived => {
                    archived += 1;
                    complete = false;
                }
                FooterRead::Damaged(why) => {
                    problems.push(format!("{key}: {why}"));
                    complete = false;
                }
            }
        }
        if complete && have != want {
            problems.push(format!("{}: {have} rows in the footers, {want} recorded", table.target));
        }
    }
    if !problems.is_empty() {
        return check("rows", Status::Fail, problems.join("; "));
    }
    if archived > 0 {
        return check(
            "rows",
            Status::Warn,
            format!("{archived} part files archived, not read: `athenaq restore {}` first", manifest.export.id),
        );
    }
    check(
        "rows",
        Status::Pass,
        format!("every footer read again: rows as recorded in {} tables", manifest.tables.len()),
    )
}

/// The manifest's key for an export of `db`.
pub fn key_of(task: &ExportTask, db: &Database) -> String {
    names::manifest_key(&task.s3_prefix, &db.db_name, &task.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3exports_evidence::manifest::ObjectRecord;

    fn manifest(objects: Vec<ObjectRecord>) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "manifest_version": 1, "tool": "t", "database": "db",
            "export": {"id": "e1", "source_arn": "arn", "snapshot_time": null, "snapshot_type": "manual",
                       "task_start_time": null, "task_end_time": null, "kms_key_id": "k", "iam_role_arn": "r",
                       "total_exported_data_in_gb": null, "s3_bucket": "b", "s3_prefix": ""},
            "tables": [], "left_out": [], "objects": [], "previous": null, "seal": null
        }))
        .unwrap();
        m.objects = objects;
        m
    }

    fn object(key: &str, version: &str) -> ObjectRecord {
        ObjectRecord { key: key.into(), size: 10, etag: "e".into(), version_id: Some(version.into()), checksum: None }
    }

    fn version(key: &str, version: &str, latest: bool, deleted: bool) -> Version {
        Version {
            key: key.into(),
            version_id: Some(version.into()),
            size: 10,
            etag: "e".into(),
            storage_class: "STANDARD".into(),
            is_latest: latest,
            delete_marker: deleted,
        }
    }

    #[test]
    fn replaced_deleted_missing_and_added_objects_are_each_named() {
        let m = manifest(vec![object("e1/a", "1"), object("e1/b", "1"), object("e1/c", "1"), object("e1/d", "1")]);
        let versions = [
            version("e1/a", "1", true, false),
            version("e1/b", "1", false, false),
            version("e1/b", "2", true, false),
            version("e1/c", "1", false, false),
            version("e1/c", "2", true, true),
            version("e1/stray.parquet", "1", true, false),
        ];
        let c = objects(&m, &versions);
        assert_eq!(c.status, Status::Fail);
        for want in [
            "e1/b: replaced (version 2 on top of the recorded 1)",
            "e1/c: deleted",
            "e1/d: missing",
            "e1/stray.parquet: added",
        ] {
            assert!(c.detail.contains(want), "{want}: {}", c.detail);
        }
        assert!(!c.detail.contains("e1/a"), "{}", c.detail);
        let whole = [
            version("e1/a", "1", true, false),
            version("e1/b", "1", true, false),
            version("e1/c", "1", true, false),
            version("e1/d", "1", true, false),
        ];
        assert_eq!(objects(&m, &whole).status, Status::Pass);
    }
}
