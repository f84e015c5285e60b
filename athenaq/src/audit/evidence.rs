//! `evidence`: one row per export of a database, from its manifests and what RDS lists: the
//! manifest's SHA-256, its place in the chain, its seal, and what it records. Read with
//! listings and HeadObject only (S3's SHA-256 of each manifest and the metadata it was written
//! with), so manifests in Glacier or Deep Archive count too. The chain head
//! (`_evidence/<db>/_state/head.json`) is part of the evidence: one missing, garbled, naming a
//! manifest that is not there or whose SHA-256 changed is a row of its own, and so is any
//! object in the evidence folder that is neither a manifest nor the chain's state.
//!
//! Values read from S3 (metadata, the head's content) are shown bounded: they are input anyone
//! who can write to the bucket shaped.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use s3exports_config::{Database, names};
use s3exports_evidence::chain::{self, Link, ManifestHead};
use s3exports_evidence::manifest::{Manifest, base64_to_hex, sha256_hex};
use s3exports_evidence::record::{ChainHead, ManifestMetadata, head_key};
use s3exports_evidence::s3 as evidence_s3;
use s3exports_evidence::text::shown;
use s3exports_rds::{ExportStatus, ExportTask, TaskFilter};
use serde::Serialize;

use crate::output::Rows;
use crate::progress;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceRow {
    pub database: String,
    pub export_id: String,
    pub snapshot_time: Option<DateTime<Utc>>,
    /// RDS's status of the task, when RDS still lists it.
    pub status: Option<String>,
    pub manifest: Option<String>,
    pub manifest_sha256: Option<String>,
    /// `ok`, `broken: <why>`, or `no manifest`.
    pub chain: String,
    /// `GOVERNANCE until 2027-11-24`, or `none`.
    pub lock: String,
    pub objects: Option<u64>,
    pub bytes: Option<u64>,
    pub rows: Option<u64>,
}

impl EvidenceRow {
    /// A broken chain, or a complete export without a manifest.
    pub fn is_finding(&self) -> bool {
        self.chain != "ok"
    }
}

/// The manifests of `db` and the exports RDS lists for its bucket, as rows, oldest first.
pub async fn database_evidence(
    rds: &aws_sdk_rds::Client,
    s3: &aws_sdk_s3::Client,
    db: &Database,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<EvidenceRow>, String> {
    let bucket = db.s3_bucket_name.as_str();
    let tasks = s3exports_rds::sdk::describe_export_tasks(rds, &TaskFilter::bucket(bucket))
        .await
        .map_err(|e| format!("listing the exports of {}: {e}", db.db_name))?;
    let folder = names::evidence_folder(&db.s3_prefix, &db.db_name);
    let versions = evidence_s3::list_versions(s3, bucket, &folder)
        .await
        .map_err(|e| format!("listing the manifests in s3://{bucket}/{folder}: {e}"))?;
    let is_manifest =
        |key: &str| key.strip_prefix(&folder).is_some_and(|rest| rest.ends_with(".json") && !rest.contains('/'));
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in versions.iter().filter(|v| is_manifest(&v.key) && !v.delete_marker) {
        *counts.entry(v.key.as_str()).or_default() += 1;
    }
    let keys: Vec<String> =
        evidence_s3::current(&versions).into_iter().filter(|v| is_manifest(&v.key)).map(|v| v.key.clone()).collect();
    let states = progress::each_concurrently(&keys, "manifests", 16, |key| async move {
        (key.clone(), evidence_s3::head(s3, bucket, key, None).await)
    })
    .await;
    let mut heads = Vec::new();
    let mut rows: Vec<EvidenceRow> = Vec::new();
    // Findings about one manifest beyond its place in the chain, by export id.
    let mut notes: HashMap<String, Vec<String>> = HashMap::new();
    for (key, state) in states {
        let state = state.map_err(|e| format!("HeadObject s3://{bucket}/{key}: {e}"))?;
        let Some(state) = state else { continue };
        // The cataloguer writes every manifest with S3's SHA-256 and its chain metadata; for one
        // written otherwise, what it says of itself comes from its content, if it can be read.
        let meta = ManifestMetadata::read(&state.metadata);
        let written_by_us = meta.is_some();
        let bytes = match state.checksum.as_ref().filter(|c| c.algorithm == "SHA256") {
            Some(_) if written_by_us => None,
            _ if state.is_archived() => None,
            _ => evidence_s3::get(s3, bucket, &key, state.version_id.as_deref(), None).await.ok(),
        };
        let content = bytes.as_deref().and_then(|b| Manifest::parse(&key, b).ok());
        let export_id = meta
            .as_ref()
            .map(|m| shown(&m.export_id))
            .or_else(|| content.as_ref().map(|m| shown(&m.export.id)))
            .unwrap_or_else(|| shown(key.strip_prefix(&folder).unwrap_or(&key).trim_end_matches(".json")));
        let sha256 = match state.checksum.as_ref().filter(|c| c.algorithm == "SHA256") {
            Some(c) => base64_to_hex(&c.value),
            None => bytes.as_deref().map(sha256_hex),
        };
        if !written_by_us {
            notes.entry(export_id.clone()).or_default().push(format!(
                "{} was not written as the cataloguer writes manifests (no export-id metadata{}): it was replaced or \
                 planted by another writer",
                shown(&key),
                if sha256.is_none() { ", and archived" } else { "" }
            ));
        }
        let (previous, previous_lapses) = match (&meta, &content) {
            (Some(m), _) => (m.previous.as_ref().map(|(id, sha)| (shown(id), shown(sha))), m.previous_lapses),
            (None, Some(c)) => (
                c.previous.as_ref().map(|p| (shown(&p.export_id), shown(&p.sha256))),
                c.previous.as_ref().and_then(|p| p.lapses),
            ),
            (None, None) => (None, None),
        };
        let head = ManifestHead {
            export_id: export_id.clone(),
            key: key.clone(),
            sha256,
            snapshot_time: meta
                .as_ref()
                .and_then(|m| m.snapshot_time)
                .or_else(|| content.as_ref().and_then(|m| m.export.snapshot_time)),
            previous,
            previous_lapses,
            versions: counts.get(key.as_str()).copied().unwrap_or(1),
        };
        let lock = state
            .lock
            .as_ref()
            .map_or_else(|| "none".to_owned(), |(mode, until)| format!("{mode} until {}", until.format("%Y-%m-%d")));
        let task = tasks.iter().find(|t| t.id == export_id);
        rows.push(EvidenceRow {
            database: db.db_name.clone(),
            snapshot_time: head.snapshot_time.or_else(|| task.and_then(|t| t.snapshot_time)),
            status: task.map(|t| t.status.as_str().to_owned()),
            manifest: Some(key.clone()),
            manifest_sha256: head.sha256.clone(),
            // Set once every manifest is known.
            chain: String::new(),
            lock,
            objects: meta.as_ref().and_then(|m| m.objects),
            bytes: meta.as_ref().and_then(|m| m.bytes),
            rows: meta.as_ref().and_then(|m| m.rows),
            export_id,
        });
        heads.push(head);
    }
    let links = chain::check(&heads, Utc::now());
    let head_at = head_key(&db.s3_prefix, &db.db_name);
    let (head_finding, rewritten) = chain_head(s3, bucket, &head_at, &versions, &heads).await;
    if let Some((id, why)) = rewritten {
        notes.entry(id).or_default().insert(0, why);
    }
    for row in &mut rows {
        let mut problems = notes.remove(&row.export_id).unwrap_or_default();
        if let Some(Link::Broken(why)) = links.get(&row.export_id) {
            problems.push(why.clone());
        }
        row.chain = if problems.is_empty() { "ok".to_owned() } else { format!("broken: {}", problems.join("; ")) };
    }
    let missing: Vec<EvidenceRow> = tasks
        .iter()
        .filter(|t| t.status == ExportStatus::Complete && !rows.iter().any(|r| r.export_id == t.id))
        .map(|t| without_manifest(db, t))
        .collect();
    rows.extend(missing);
    rows.retain(|r| since.is_none_or(|s| r.snapshot_time.is_some_and(|t| t >= s)));
    rows.sort_by(|a, b| (a.snapshot_time, &a.export_id).cmp(&(b.snapshot_time, &b.export_id)));
    // What is not about one export, whatever `--since` says.
    rows.extend(head_finding.map(|why| finding(db, HEAD_ROW, &head_at, why)));
    let strays = strays(s3, bucket, db, &folder, &versions).await?;
    rows.extend(strays.into_iter().map(|key| {
        let why = format!(
            "{} is in the evidence folder and is neither a manifest nor the chain's state: nothing the cataloguer \
             writes; find out who put it there",
            shown(&key)
        );
        finding(db, STRAY_ROW, &key, why)
    }));
    Ok(rows)
}

/// The export id column of a row about the chain head.
pub const HEAD_ROW: &str = "(chain head)";
/// The export id column of a row about an object that does not belong in the evidence folder.
pub const STRAY_ROW: &str = "(stray object)";

fn finding(db: &Database, what: &str, key: &str, why: String) -> EvidenceRow {
    EvidenceRow {
        database: db.db_name.clone(),
        export_id: what.to_owned(),
        snapshot_time: None,
        status: None,
        manifest: Some(shown(key)),
        manifest_sha256: None,
        chain: format!("broken: {why}"),
        lock: "none".to_owned(),
        objects: None,
        bytes: None,
        rows: None,
    }
}

/// What is wrong with the chain head, if anything, and the export whose manifest was rewritten
/// after the head moved to it (with what to say on that manifest's row).
async fn chain_head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    at: &str,
    versions: &[evidence_s3::Version],
    heads: &[ManifestHead],
) -> (Option<String>, Option<(String, String)>) {
    let current = versions.iter().find(|v| v.key == at && v.is_latest);
    let bytes = match current {
        Some(v) if v.delete_marker && heads.is_empty() => return (None, None),
        None if heads.is_empty() => return (None, None),
        Some(v) if v.delete_marker => {
            return (
                Some(format!(
                    "the chain head {at} was deleted (a delete marker lies on it) while {} manifest(s) exist: the next \
                     export's manifest cannot be linked (the cataloguer refuses to start a second chain). Restore its \
                     last version (`aws s3api list-object-versions --bucket {bucket} --prefix {at}`)",
                    heads.len()
                )),
                None,
            );
        }
        None => {
            return (
                Some(format!(
                    "the chain head {at} is missing while {} manifest(s) exist: the next export's manifest cannot be \
                     linked (the cataloguer refuses to start a second chain)",
                    heads.len()
                )),
                None,
            );
        }
        Some(v) => match evidence_s3::get(s3, bucket, at, v.version_id.as_deref(), None).await {
            Ok(bytes) => bytes,
            Err(e) => return (Some(format!("the chain head {at} could not be read: {e}")), None),
        },
    };
    let head = match ChainHead::parse(&bytes) {
        Ok(head) => head,
        Err(why) => {
            return (
                Some(format!("{at} was replaced by something that is {why}; restore its last good version")),
                None,
            );
        }
    };
    let (id, key) = (shown(&head.manifest.export_id), shown(&head.manifest.key));
    let Some(named) = heads.iter().find(|h| h.key == head.manifest.key) else {
        return (
            Some(format!(
                "the chain head {at} names {key} (export {id}), which is not there: the next export's cataloguing \
                 fails until it is (its bytes may wait in _state/{id}.pending.json; if not, restore the head's previous \
                 version)"
            )),
            None,
        );
    };
    if let Some(have) = named.sha256.as_deref().filter(|have| *have != head.manifest.sha256) {
        let why = format!(
            "rewritten: the chain head names this manifest with SHA-256 {}, and it has {have}: it was rewritten after \
             the chain head moved to it",
            shown(&head.manifest.sha256)
        );
        return (
            Some(format!("the chain head {at} names {key} (export {id}), whose manifest was rewritten since")),
            Some((named.export_id.clone(), why)),
        );
    }
    if let Some(next) = heads.iter().find(|h| h.previous.as_ref().is_some_and(|(p, _)| *p == named.export_id)) {
        return (
            Some(format!(
                "the chain head {at} names {key} (export {id}), yet {} follows it: the head was moved back",
                next.export_id
            )),
            None,
        );
    }
    (None, None)
}

/// Keys in the evidence folder (current versions) that are neither a manifest (`<id>.json`)
/// nor the chain's state (`_state/head.json`, `_state/<id>.pending.json`,
/// `_state/<id>.seal.json`); and objects directly under `_evidence/`, which belong to no
/// database.
async fn strays(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    db: &Database,
    folder: &str,
    versions: &[evidence_s3::Version],
) -> Result<Vec<String>, String> {
    let ours = |key: &str| {
        let Some(rest) = key.strip_prefix(folder) else { return false };
        match rest.strip_prefix("_state/") {
            Some(state) => {
                state == "head.json"
                    || (!state.contains('/') && (state.ends_with(".pending.json") || state.ends_with(".seal.json")))
            }
            None => !rest.contains('/') && rest.ends_with(".json") && rest.len() > ".json".len(),
        }
    };
    let mut out: Vec<String> =
        evidence_s3::current(versions).into_iter().map(|v| v.key.clone()).filter(|k| !ours(k)).collect();
    let top = folder.trim_end_matches('/').strip_suffix(db.db_name.as_str()).unwrap_or(folder).to_owned();
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&top)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| format!("listing s3://{bucket}/{top}: {}", s3exports_rds::classify(&e)))?;
    out.extend(listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned));
    Ok(out)
}

fn without_manifest(db: &Database, t: &ExportTask) -> EvidenceRow {
    EvidenceRow {
        database: db.db_name.clone(),
        export_id: t.id.clone(),
        snapshot_time: t.snapshot_time,
        status: Some(t.status.as_str().to_owned()),
        manifest: None,
        manifest_sha256: None,
        chain: format!(
            "no manifest: a COMPLETE export without one (`exporter evidence --backfill --db {}` writes it)",
            db.db_name
        ),
        lock: "none".to_owned(),
        objects: None,
        bytes: None,
        rows: None,
    }
}

pub fn to_rows(rows: &[EvidenceRow]) -> Rows {
    let mut out = Rows::new(&[
        ("database", false),
        ("export_id", false),
        ("snapshot_time", false),
        ("status", false),
        ("manifest_sha256", false),
        ("chain", false),
        ("lock", false),
        ("objects", true),
        ("bytes", true),
        ("rows", true),
        ("manifest", false),
    ]);
    for r in rows {
        out.rows.push(vec![
            Some(r.database.clone()),
            Some(r.export_id.clone()),
            r.snapshot_time.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string()),
            r.status.clone(),
            r.manifest_sha256.clone(),
            Some(r.chain.clone()),
            Some(r.lock.clone()),
            r.objects.map(|n| n.to_string()),
            r.bytes.map(|n| n.to_string()),
            r.rows.map(|n| n.to_string()),
            r.manifest.clone(),
        ]);
    }
    out
}
