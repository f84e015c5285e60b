//! `verify` against the export's manifest: every object still the version, size, ETag and
//! checksum it recorded, nothing missing, replaced or added, every object and the manifest
//! retained as configured, the link to the previous manifest intact, the chain head whole, and
//! what the export holds against the previous one (or why it could not be compared). Nothing is
//! downloaded but manifests and the chain head: listings and HeadObject, which answer for
//! archived objects too. Every value taken from a manifest is shown bounded
//! ([`s3exports_evidence::text`]): a manifest is input anyone who can write to the bucket shaped.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use s3exports_config::{Database, ObjectLock, names};
use s3exports_evidence::manifest::{Manifest, base64_to_hex, sha256_hex};
use s3exports_evidence::record::{ChainHead, head_key, pending_key};
use s3exports_evidence::s3::{self as evidence_s3, ObjectState, Version};
use s3exports_evidence::text::{listed, shown};
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
                shown(&manifest.tool)
            ),
        ),
        Found::Read { key, sha256, manifest, .. } if manifest.export.id != task.id => check(
            "manifest",
            Status::Fail,
            format!(
                "{key} (SHA-256 {sha256}) is the manifest of export {}, not {}",
                shown(&manifest.export.id),
                task.id
            ),
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
        Found::Unreadable { key, why } => check("manifest", Status::Fail, format!("{key}: {}", shown(why))),
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
        let key = shown(&o.key);
        match latest.get(o.key.as_str()) {
            None => problems.push(format!("{key}: missing")),
            Some(v) if v.delete_marker => {
                problems.push(format!("{key}: deleted (a delete marker is its latest version)"))
            }
            Some(v) if o.version_id.is_some() && v.version_id != o.version_id => problems.push(format!(
                "{key}: replaced (version {} on top of the recorded {})",
                shown(v.version_id.as_deref().unwrap_or("(none)")),
                shown(o.version_id.as_deref().unwrap_or("(none)"))
            )),
            Some(v) if v.size != o.size || v.etag != o.etag => problems.push(format!(
                "{key}: changed ({} bytes, ETag {}; recorded {} bytes, ETag {})",
                v.size,
                shown(&v.etag),
                o.size,
                shown(&o.etag)
            )),
            Some(_) => {}
        }
    }
    let added: Vec<&str> =
        evidence_s3::current(versions).into_iter().map(|v| v.key.as_str()).filter(|k| !recorded.contains(k)).collect();
    problems.extend(added.iter().map(|k| format!("{}: added (not in the manifest)", shown(k))));
    if problems.is_empty() {
        return check(
            "objects",
            Status::Pass,
            format!("all {} objects as recorded, none added", manifest.objects.len()),
        );
    }
    check("objects", Status::Fail, format!("{} of {}: {}", problems.len(), manifest.objects.len(), listed(&problems)))
}

/// Each recorded object's S3 checksum, as HeadObject gives it for the recorded version.
pub fn checksums(manifest: &Manifest, heads: &HashMap<String, Result<Option<ObjectState>, String>>) -> Check {
    let mut problems = Vec::new();
    let mut compared = 0;
    for o in &manifest.objects {
        let Some(want) = &o.checksum else { continue };
        let (key, recorded) = (shown(&o.key), format!("{} {}", shown(&want.algorithm), shown(&want.value)));
        match heads.get(&o.key) {
            Some(Ok(Some(state))) => match &state.checksum {
                Some(have) if have.algorithm == want.algorithm && have.value == want.value => compared += 1,
                Some(have) => {
                    problems.push(format!("{key}: {} {} now, recorded {recorded}", have.algorithm, shown(&have.value)))
                }
                None => problems.push(format!("{key}: S3 gives no checksum now, recorded {recorded}")),
            },
            Some(Ok(None)) => problems.push(format!("{key}: the recorded version is gone")),
            Some(Err(e)) => problems.push(format!("{key}: {e}")),
            None => {}
        }
    }
    if problems.is_empty() {
        let without = manifest.objects.iter().filter(|o| o.checksum.is_none()).count();
        let note = if without > 0 { format!("; {without} recorded without one (S3 kept none)") } else { String::new() };
        return check("checksums", Status::Pass, format!("{compared} S3 checksums as recorded{note}"));
    }
    check("checksums", Status::Fail, format!("{} differ: {}", problems.len(), listed(&problems)))
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
    // A retention at least as long, in the seal's mode or a stricter one (COMPLIANCE for
    // GOVERNANCE), is the seal: the cataloguer counts one it finds as sealed.
    let seal_mode = shown(&seal.mode);
    let short = |state: &ObjectState| -> Option<String> {
        match &state.lock {
            None => Some("no retention".to_owned()),
            Some((mode, until)) if evidence_s3::at_least((mode, *until), &seal.mode, seal.retain_until) => None,
            Some((_, until)) if *until < seal.retain_until => Some(format!("retained only until {until}")),
            Some((mode, _)) => Some(format!("{mode}, not {seal_mode} or stricter")),
        }
    };
    let mut problems: Vec<String> = Vec::new();
    for o in &manifest.objects {
        if let Some(Ok(Some(state))) = heads.get(&o.key) {
            if let Some(why) = short(state) {
                problems.push(format!("{}: {why}", shown(&o.key)));
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
                "{} objects and the manifest in {seal_mode} (or stricter) until {} or later",
                manifest.objects.len(),
                date(seal.retain_until)
            ),
        );
    }
    check("retention", Status::Fail, format!("{} not retained as sealed: {}", problems.len(), listed(&problems)))
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

/// The previous manifest as the completeness check gets it: `Ok(None)` for the first manifest
/// of a chain, `Err` saying why it could not be compared with (naming its key).
pub type Previous = Result<Option<Manifest>, String>;

/// The previous manifest this one names, as S3 holds it now.
pub async fn chain(s3: &aws_sdk_s3::Client, bucket: &str, manifest: &Manifest) -> (Check, Previous) {
    let Some(link) = &manifest.previous else {
        return (check("chain", Status::Pass, "the first manifest of its database's chain"), Ok(None));
    };
    let (id, link_key, link_sha) = (shown(&link.export_id), shown(&link.key), shown(&link.sha256));
    let this = shown(&manifest.export.id);
    match read(s3, bucket, &link.key).await {
        Found::Read { sha256, manifest: previous, versions, .. } if sha256 == link.sha256 && versions == 1 => (
            check("chain", Status::Pass, format!("follows {id} ({link_key}), SHA-256 as recorded")),
            Ok(Some(*previous)),
        ),
        Found::Read { sha256, versions, .. } if versions > 1 => (
            check(
                "chain",
                Status::Fail,
                format!(
                    "{link_key} has {versions} versions (replaced); its SHA-256 is now {sha256}, the link names {link_sha}"
                ),
            ),
            Err(format!("{link_key} was replaced since this manifest linked to it")),
        ),
        Found::Read { sha256, .. } => (
            check(
                "chain",
                Status::Fail,
                format!("{this} names {link_key} with SHA-256 {link_sha}, and it has {sha256}: altered"),
            ),
            Err(format!("{link_key} was altered since this manifest linked to it")),
        ),
        Found::Archived { key, class } => {
            let not_read = Err(format!(
                "{} is in {class} and not restored, so it was not read (`athenaq restore {id}`, then verify again)",
                shown(&key)
            ));
            match evidence_s3::head(s3, bucket, &key, None).await {
                // S3's own SHA-256 of an archived manifest, without restoring it.
                Ok(Some(state)) if state.checksum.as_ref().is_some_and(|c| c.algorithm == "SHA256") => {
                    let have = state.checksum.and_then(|c| base64_to_hex(&c.value)).unwrap_or_default();
                    let status = if have == link.sha256 { Status::Pass } else { Status::Fail };
                    (
                        check(
                            "chain",
                            status,
                            format!("follows {id} (archived; S3's SHA-256 {have}, the link names {link_sha})"),
                        ),
                        not_read,
                    )
                }
                _ => (
                    check(
                        "chain",
                        Status::Warn,
                        format!(
                            "{} is archived and S3 gives no SHA-256 for it: restore it to check the link",
                            shown(&key)
                        ),
                    ),
                    not_read,
                ),
            }
        }
        Found::Missing { key } | Found::Deleted { key, .. } if link.lapsed(Utc::now()) => (
            check(
                "chain",
                Status::Pass,
                format!(
                    "follows {id}, whose manifest {} the lifecycle may remove from {} on, as configured",
                    shown(&key),
                    link.lapses.map(date).unwrap_or_default()
                ),
            ),
            Err(format!("{} is gone: the lifecycle removed it, as configured", shown(&key))),
        ),
        Found::Missing { key } | Found::Deleted { key, .. } => (
            check(
                "chain",
                Status::Fail,
                format!("gap: {this} names {id} as previous, and {} is not there", shown(&key)),
            ),
            Err(format!("{} is not there", shown(&key))),
        ),
        Found::Unreadable { key, why } => {
            let why = format!("{}: {}", shown(&key), shown(&why));
            (check("chain", Status::Fail, why.clone()), Err(why))
        }
    }
}

/// Tables gone, skipped or shrunk against the previous manifest; a warning naming the previous
/// manifest's key and why when it could not be compared with, never a silent pass.
pub fn completeness_check(
    manifest: &Manifest,
    previous: Result<&Option<Manifest>, &String>,
    row_drop_warn_pct: u32,
) -> Check {
    let compared = previous.as_ref().ok().and_then(|p| p.as_ref());
    let mut findings = completeness::warnings(manifest, compared, row_drop_warn_pct);
    if let (Err(why), Some(link)) = (previous, &manifest.previous) {
        findings.push(completeness::not_compared(&link.export_id, why));
    }
    if findings.is_empty() {
        let against = compared.map_or_else(
            || "no previous manifest to compare with".to_owned(),
            |p| format!("against export {}", shown(&p.export.id)),
        );
        return check("completeness", Status::Pass, format!("{} tables, {against}", manifest.tables.len()));
    }
    check("completeness", Status::Warn, listed(&findings))
}

/// The database's chain head (`_state/head.json`): there, a chain head, naming a manifest that
/// is there with the SHA-256 the head names. The head is what the next manifest links to: one
/// removed, garbled or pointing nowhere stops the chain, and one whose manifest changed means
/// the newest manifest was rewritten after it was linked.
pub async fn chain_head(s3: &aws_sdk_s3::Client, bucket: &str, manifest: &Manifest) -> Check {
    let at = head_key(&manifest.export.s3_prefix, &manifest.database);
    let fail = |why: String| check("chain head", Status::Fail, why);
    let listed = match evidence_s3::list_versions(s3, bucket, &at).await {
        Ok(v) => v,
        Err(e) => return fail(format!("listing the versions of {at}: {e}")),
    };
    let bytes = match evidence_s3::get_tagged(s3, bucket, &at).await {
        Ok(Some((bytes, _))) => bytes,
        Ok(None) => {
            let deleted = listed.iter().any(|v| v.key == at && v.delete_marker && v.is_latest);
            let how = if deleted { "was deleted (a delete marker lies on it)" } else { "is missing" };
            return fail(format!(
                "the chain head {at} {how}, while this export's manifest exists: the next manifest cannot be linked \
                 into the chain. Restore its last version (`aws s3api list-object-versions --bucket {bucket} --prefix \
                 {at}`)"
            ));
        }
        Err(e) => return fail(format!("reading the chain head {at}: {e}")),
    };
    let head = match ChainHead::parse(&bytes) {
        Ok(head) => head,
        Err(why) => {
            return fail(format!("{at} was replaced by something that is {why}; restore its last good version"));
        }
    };
    let (id, key, want) = (shown(&head.manifest.export_id), shown(&head.manifest.key), shown(&head.manifest.sha256));
    let state = match evidence_s3::head(s3, bucket, &head.manifest.key, None).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            let pending = pending_key(&manifest.export.s3_prefix, &manifest.database, &head.manifest.export_id);
            let waits = matches!(evidence_s3::head(s3, bucket, &pending, None).await, Ok(Some(_)));
            let note = if waits {
                format!(
                    "; its bytes wait in {pending} (its writer stopped before writing it): the next export's \
                         cataloguing writes it"
                )
            } else {
                format!("; nothing waits in {pending} either: the head points at a manifest that never existed")
            };
            return fail(format!("the chain head {at} names {key} (export {id}), which is not there{note}"));
        }
        Err(e) => return fail(format!("HeadObject {key}: {e}")),
    };
    let have = match state.checksum.as_ref().filter(|c| c.algorithm == "SHA256") {
        Some(c) => base64_to_hex(&c.value),
        None if !state.is_archived() => {
            evidence_s3::get(s3, bucket, &head.manifest.key, state.version_id.as_deref(), None)
                .await
                .ok()
                .map(|b| sha256_hex(&b))
        }
        None => None,
    };
    match have {
        Some(have) if have == head.manifest.sha256 => check(
            "chain head",
            Status::Pass,
            if head.manifest.export_id == manifest.export.id {
                format!("{at} names this export's manifest, SHA-256 as recorded")
            } else {
                format!("{at} names {key} (export {id}), SHA-256 as recorded")
            },
        ),
        Some(have) => fail(format!(
            "the chain head {at} names {key} (export {id}) with SHA-256 {want}, and it has {have}: the manifest was \
             rewritten after the chain head moved to it"
        )),
        None => check(
            "chain head",
            Status::Warn,
            format!("{at} names {key} (export {id}), archived with no S3 SHA-256: restore it to check it"),
        ),
    }
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
    let folder = s3exports_rds::layout::export_folder(&manifest.export.s3_prefix, &manifest.export.id);
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
                    problems.push(format!("{}: {}", shown(key), shown(why)));
                    complete = false;
                }
            }
        }
        if complete && have != want {
            problems.push(format!("{}: {have} rows in the footers, {want} recorded", shown(&table.target)));
        }
    }
    if !problems.is_empty() {
        return check("rows", Status::Fail, listed(&problems));
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

    #[test]
    fn values_from_a_manifest_are_shown_bounded() {
        let huge = "k".repeat(100 * 1024 * 1024);
        let mut m = manifest(vec![object(&huge, "1"), object("e1/b", "1")]);
        m.tool = huge.clone();
        let state = ObjectState {
            key: "_evidence/db/e1.json".into(),
            version_id: Some("1".into()),
            size: 1,
            etag: "e".into(),
            checksum: None,
            storage_class: "STANDARD".into(),
            lock: None,
            sse: None,
            kms_key: None,
            restore: None,
            metadata: HashMap::new(),
        };
        let found = Found::Read {
            key: "_evidence/db/e1.json".into(),
            manifest: Box::new(m.clone()),
            sha256: "s".into(),
            versions: 2,
            state: Box::new(state),
        };
        let task = ExportTask::new("e1", "arn", s3exports_rds::ExportStatus::Complete);
        let row = manifest_check(&found, &task);
        assert!(row.detail.len() < 1_000 && row.detail.contains("(104857600 bytes in all)"), "{}", row.detail.len());
        let row = objects(&m, &[version("e1/b", "1", true, false)]);
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.len() < 1_000 && row.detail.contains(": missing"), "{}", row.detail.len());
        // Many problems: the first ones, and how many more.
        let many = manifest((0..500).map(|i| object(&format!("e1/{i}"), "1")).collect());
        let row = objects(&many, &[]);
        assert!(row.detail.starts_with("500 of 500: ") && row.detail.ends_with("; and 450 more"), "{}", row.detail);
    }

    #[test]
    fn completeness_never_passes_silently_when_the_previous_manifest_could_not_be_read() {
        let mut m = manifest(vec![]);
        m.previous = Some(s3exports_evidence::manifest::Link {
            export_id: "e0".into(),
            key: "_evidence/db/e0.json".into(),
            sha256: "s".into(),
            lapses: None,
        });
        let why = "_evidence/db/e0.json is in GLACIER and not restored".to_owned();
        let row = completeness_check(&m, Err(&why), 50);
        assert_eq!(row.status, Status::Warn);
        assert!(row.detail.contains("completeness not checked") && row.detail.contains(&why), "{}", row.detail);
        assert_eq!(completeness_check(&m, Ok(&Some(m.clone())), 50).status, Status::Pass);
        m.previous = None;
        assert_eq!(completeness_check(&m, Ok(&None), 50).status, Status::Pass, "the first of its chain");
    }

    /// COMPLIANCE for at least as long is a GOVERNANCE seal and more: no one can shorten it (S3
    /// User Guide, "Object Lock retention modes").
    #[test]
    fn a_longer_or_stricter_retention_counts_as_the_seal() {
        let until = DateTime::parse_from_rfc3339("2027-11-24T00:00:00Z").unwrap().to_utc();
        let mut m = manifest(vec![object("e1/a", "1")]);
        m.seal = Some(s3exports_evidence::manifest::SealRecord { mode: "GOVERNANCE".into(), retain_until: until });
        let state = |mode: &str, days: i64| ObjectState {
            key: "k".into(),
            version_id: Some("1".into()),
            size: 10,
            etag: "e".into(),
            checksum: None,
            storage_class: "STANDARD".into(),
            lock: Some((mode.into(), until + chrono::Duration::days(days))),
            sse: None,
            kms_key: None,
            restore: None,
            metadata: HashMap::new(),
        };
        let config = s3exports_config::parse("prod.toml", include_str!("../../../../config/prod.toml")).unwrap().config;
        let db = &config.databases[0];
        let heads = |s: ObjectState| HashMap::from([("e1/a".to_owned(), Ok(Some(s)))]);
        let now = until - chrono::Duration::days(10);
        let row = retention(&m, &heads(state("COMPLIANCE", 30)), &state("GOVERNANCE", 0), db, now);
        assert_eq!(row.status, Status::Pass, "{}", row.detail);
        let row = retention(&m, &heads(state("GOVERNANCE", -1)), &state("GOVERNANCE", 0), db, now);
        assert_eq!(row.status, Status::Fail, "{}", row.detail);
    }
}
