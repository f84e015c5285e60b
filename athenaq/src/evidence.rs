//! `evidence`: one row per export of a database, from its manifests and what RDS lists: the
//! manifest's SHA-256, its place in the chain, its seal, and what it records. Read with
//! listings and HeadObject only (S3's SHA-256 of each manifest and the metadata it was written
//! with), so manifests in Glacier or Deep Archive count too.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use s3exports_config::{Database, names};
use s3exports_evidence::chain::{self, Link, ManifestHead};
use s3exports_evidence::manifest::{base64_to_hex, sha256_hex};
use s3exports_evidence::s3 as evidence_s3;
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
    for (key, state) in states {
        let state = state.map_err(|e| format!("HeadObject s3://{bucket}/{key}: {e}"))?;
        let Some(state) = state else { continue };
        let meta = |name: &str| state.metadata.get(name).cloned();
        let export_id = meta("export-id")
            .unwrap_or_else(|| key.strip_prefix(&folder).unwrap_or(&key).trim_end_matches(".json").to_owned());
        let sha256 = match state.checksum.as_ref().filter(|c| c.algorithm == "SHA256") {
            Some(c) => base64_to_hex(&c.value),
            // Not written by the cataloguer with S3's SHA-256: hash it, unless it is archived.
            None if !state.is_archived() => {
                evidence_s3::get(s3, bucket, &key, state.version_id.as_deref(), None).await.ok().map(|b| sha256_hex(&b))
            }
            None => None,
        };
        let head = ManifestHead {
            export_id: export_id.clone(),
            key: key.clone(),
            sha256,
            snapshot_time: meta("snapshot-time")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.to_utc()),
            previous: meta("previous-export-id").zip(meta("previous-sha256")),
            previous_lapses: meta("previous-lapses")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.to_utc()),
            versions: counts.get(key.as_str()).copied().unwrap_or(1),
        };
        let lock = state
            .lock
            .as_ref()
            .map_or_else(|| "none".to_owned(), |(mode, until)| format!("{mode} until {}", until.format("%Y-%m-%d")));
        let number = |name: &str| meta(name).and_then(|n| n.parse::<u64>().ok());
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
            objects: number("objects"),
            bytes: number("bytes"),
            rows: number("rows"),
            export_id,
        });
        heads.push(head);
    }
    let links = chain::check(&heads, Utc::now());
    for row in &mut rows {
        row.chain = links.get(&row.export_id).map_or_else(|| "ok".to_owned(), Link::text);
    }
    let missing: Vec<EvidenceRow> = tasks
        .iter()
        .filter(|t| t.status == ExportStatus::Complete && !rows.iter().any(|r| r.export_id == t.id))
        .map(|t| without_manifest(db, t))
        .collect();
    rows.extend(missing);
    rows.retain(|r| since.is_none_or(|s| r.snapshot_time.is_some_and(|t| t >= s)));
    rows.sort_by(|a, b| (a.snapshot_time, &a.export_id).cmp(&(b.snapshot_time, &b.export_id)));
    Ok(rows)
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
