//! Writing one export's manifest: what S3 holds for it (every object's current version, S3's
//! checksum, each part's footer), what RDS reported, linked to the database's previous manifest.
//!
//! The chain is kept linear by a head pointer (`_evidence/<db>/_state/head.json`) written with
//! S3's conditional writes: a writer links to the manifest the head names and moves the head
//! only if no one moved it meanwhile, so two exports completing at once never both follow the
//! same manifest. Before moving the head, the writer keeps its manifest's exact bytes beside it
//! (`_state/<export id>.pending.json`); the manifest itself is written after, only if absent.
//! Whoever finds the head naming a manifest that was never written (its writer crashed or
//! timed out between the two writes) writes it from those bytes before linking to it, so no
//! manifest ever links to one that is missing, and a retry never computes different bytes.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use futures::{StreamExt, stream};
use s3exports_config::{ObjectLock, names};
use s3exports_rds::layout::{EntryKind, ExportInfo, TableRef, TableStatus};
use s3exports_rds::{AwsError, ExportTask};
use serde::{Deserialize, Serialize};

use crate::manifest::{
    ExportRecord, LeftOut, Link, MANIFEST_VERSION, Manifest, ObjectRecord, SealRecord, TableRecord, sha256_hex, tool,
};
use crate::s3::{self, FooterRead, Written};
use crate::text::shown;

/// Requests in flight at once while collecting (HeadObject, footers).
pub const CONCURRENCY: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{doing}: {source}")]
    Aws { doing: String, source: AwsError },
    #[error(transparent)]
    NotAManifest(#[from] crate::manifest::ManifestError),
    #[error(
        "s3://{bucket}/{key} already holds another manifest for this export (SHA-256 {found}, not {computed}): the \
         export's objects changed since it was written; `athenaq verify {export_id}` says which"
    )]
    Changed { bucket: String, key: String, export_id: String, found: String, computed: String },
    #[error(
        "bucket {bucket} has no S3 Object Lock, but the export target of {database} asks to seal its exports \
         (object_lock = \"{mode}\" in the config's [defaults] or its [[databases]] entry): deploy the database stack, \
         which enables Object Lock on the bucket in place, or set object_lock = \"off\""
    )]
    NoObjectLock { bucket: String, database: String, mode: String },
    #[error(
        "export {export_id} cannot be sealed: neither its task nor its export info file gives the snapshot's time \
         (or the export's end) to count the seal's days from"
    )]
    NoSealDate { export_id: String },
    #[error("the chain head of {database} kept changing under {tries} attempts to move it; try again")]
    Contended { database: String, tries: usize },
    #[error(
        "the chain head s3://{bucket}/{head} names {key}, which was never written, and {pending} does not hold its \
         bytes ({why}): the chain cannot continue from it. Restore the pending file's last version, or the head's \
         previous version, then retry"
    )]
    Unfinished { bucket: String, head: String, key: String, pending: String, why: String },
    #[error(
        "the chain head s3://{bucket}/{head} is missing while {found} exists: the head was removed, and a manifest \
         written now would start a second chain. Restore the head's last version (the bucket is versioned: \
         `aws s3api list-object-versions --bucket {bucket} --prefix {head}`), then retry"
    )]
    HeadMissing { bucket: String, head: String, found: String },
    #[error(
        "export {export_id}: S3 refused the retention of {count} of {of} objects in s3://{bucket}, which hold none as \
         long ({held} others already held one at least as long and count as sealed): {refused}. The rest is sealed; \
         what was found is kept in s3://{bucket}/{progress}, and the next delivery tries these again"
    )]
    SealRefused {
        bucket: String,
        export_id: String,
        count: usize,
        of: usize,
        held: usize,
        refused: String,
        progress: String,
    },
}

impl EvidenceError {
    fn aws(doing: impl Into<String>) -> impl FnOnce(AwsError) -> Self {
        let doing = doing.into();
        move |source| Self::Aws { doing, source }
    }

    /// As the functions classify errors: transient ones are retried, the rest reported.
    pub fn into_aws(self) -> AwsError {
        match self {
            Self::Aws { source: AwsError::Transient(t), doing } => AwsError::Transient(format!("{doing}: {t}")),
            Self::Contended { .. } => AwsError::Transient(self.to_string()),
            Self::NoObjectLock { .. } => AwsError::Misconfigured(self.to_string()),
            other => AwsError::Permanent(other.to_string()),
        }
    }
}

/// What is known of a completed export besides what S3 holds.
#[derive(Debug, Clone)]
pub struct ExportFacts<'a> {
    /// The configured database (its manifests' folder).
    pub database: &'a str,
    pub task: &'a ExportTask,
    /// The export's `export_tables_info` entries.
    pub entries: &'a [TableStatus],
    pub info: Option<&'a ExportInfo>,
    /// Sealing: the mode and the days after the snapshot day the seal lasts.
    pub seal: Option<(ObjectLock, u32)>,
    /// The lifecycle's expiry days: from the snapshot day plus these the manifest may be gone.
    pub expire_days: Option<u32>,
}

/// The day a seal ends: the snapshot's day plus `days`, at midnight UTC. The snapshot's time
/// comes from the task, else its export info file; when neither gives one, the export's end.
pub fn seal_until(task: &ExportTask, info: Option<&ExportInfo>, days: u32) -> Option<DateTime<Utc>> {
    let from_info = info.and_then(|i| i.snapshot_time.as_deref()).and_then(s3exports_rds::layout::parse_export_time);
    let day = task.snapshot_time.or(from_info).or(task.task_end_time)?.date_naive();
    Some(day.checked_add_days(chrono::Days::new(u64::from(days)))?.and_time(NaiveTime::MIN).and_utc())
}

/// The manifest of an export, from S3 as it is now; `previous` is set by [`record`].
pub async fn collect(s3: &aws_sdk_s3::Client, facts: &ExportFacts<'_>) -> Result<Manifest, EvidenceError> {
    let task = facts.task;
    let bucket = task.s3_bucket.as_str();
    let folder = task.folder();
    let versions = s3::list_versions(s3, bucket, &folder)
        .await
        .map_err(EvidenceError::aws(format!("listing the versions under s3://{bucket}/{folder}")))?;
    let current = s3::current(&versions);
    // Owned inputs: the stream's futures must be Send for the functions' handlers.
    let wanted: Vec<(String, Option<String>)> = current.iter().map(|v| (v.key.clone(), v.version_id.clone())).collect();
    let states: Vec<Result<Option<s3::ObjectState>, AwsError>> = stream::iter(wanted)
        .map(|(key, version)| async move { s3::head(s3, bucket, &key, version.as_deref()).await })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut objects = Vec::with_capacity(current.len());
    for (v, state) in current.iter().zip(states) {
        let state = state.map_err(EvidenceError::aws(format!("HeadObject s3://{bucket}/{}", v.key)))?;
        objects.push(ObjectRecord {
            key: v.key.clone(),
            size: v.size,
            etag: v.etag.clone(),
            version_id: v.version_id.clone(),
            checksum: state.and_then(|s| s.checksum),
        });
    }

    let complete: Vec<(&TableStatus, TableRef)> = facts
        .entries
        .iter()
        .filter(|e| e.kind() == EntryKind::Complete)
        .filter_map(|e| TableRef::from_target(&e.target).map(|t| (e, t)))
        .collect();
    let mut tables = Vec::with_capacity(complete.len());
    for (entry, table) in complete {
        let prefix = format!("{folder}{}/", table.folder().to_string_lossy());
        let parts: Vec<&ObjectRecord> =
            objects.iter().filter(|o| o.key.starts_with(&prefix) && o.key.ends_with(".parquet")).collect();
        let wanted: Vec<(String, Option<String>, u64)> =
            parts.iter().map(|o| (o.key.clone(), o.version_id.clone(), o.size)).collect();
        let footers: Vec<FooterRead> = stream::iter(wanted)
            .map(|(key, version, size)| async move { s3::footer(s3, bucket, &key, version.as_deref(), size).await })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut rows = Some(0u64);
        let mut columns = None;
        for (part, read) in parts.iter().zip(footers) {
            match read {
                FooterRead::Read { rows: n, columns: c } => {
                    rows = rows.map(|r| r + n);
                    columns.get_or_insert(c);
                }
                FooterRead::Archived => rows = None,
                FooterRead::Damaged(why) => {
                    return Err(EvidenceError::Aws {
                        doing: format!("reading the footer of s3://{bucket}/{}", part.key),
                        source: AwsError::Permanent(format!("damaged part file: {why}")),
                    });
                }
            }
        }
        tables.push(TableRecord {
            target: entry.target.clone(),
            status: entry.status.clone(),
            parts: parts.len() as u64,
            bytes: parts.iter().map(|o| o.size).sum(),
            rows,
            columns: columns.unwrap_or_default(),
        });
    }
    let left_out = facts
        .entries
        .iter()
        .filter(|e| e.kind() != EntryKind::Complete)
        .map(|e| LeftOut {
            target: e.target.clone(),
            status: e.status.clone(),
            message: e.message().map(str::to_owned),
        })
        .collect();
    let seal = match facts.seal.and_then(|(lock, days)| Some((lock.mode()?, days))) {
        None => None,
        Some((mode, days)) => match seal_until(task, facts.info, days) {
            // A seal whose day has passed (a backfill of an old export) is not placed: S3 refuses one.
            Some(until) if until <= Utc::now() => None,
            Some(until) => Some(SealRecord { mode: mode.to_owned(), retain_until: until }),
            None => return Err(EvidenceError::NoSealDate { export_id: task.id.clone() }),
        },
    };
    Ok(Manifest {
        manifest_version: MANIFEST_VERSION,
        tool: tool(),
        database: facts.database.to_owned(),
        export: ExportRecord {
            id: task.id.clone(),
            source_arn: task.source_arn.clone(),
            snapshot_time: task.snapshot_time,
            snapshot_type: s3exports_rds::snapshot::snapshot_type(&task.source_arn).to_owned(),
            task_start_time: task.task_start_time,
            task_end_time: task.task_end_time,
            kms_key_id: task.kms_key_id.clone(),
            iam_role_arn: task.iam_role_arn.clone(),
            total_exported_data_in_gb: facts.info.and_then(|i| i.total_exported_data_in_gb),
            s3_bucket: task.s3_bucket.clone(),
            s3_prefix: task.s3_prefix.clone(),
        },
        tables,
        left_out,
        objects,
        previous: None,
        seal,
    })
}

/// The database's chain head: the last manifest written and what it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub manifest: Link,
    pub previous: Option<Link>,
}

pub fn head_key(prefix: &str, database: &str) -> String {
    format!("{}_state/head.json", names::evidence_folder(prefix, database))
}

/// Where a manifest's bytes wait while the head already names it.
pub fn pending_key(prefix: &str, database: &str, export_id: &str) -> String {
    format!("{}_state/{export_id}.pending.json", names::evidence_folder(prefix, database))
}

/// A manifest as written.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub manifest: Manifest,
    pub key: String,
    pub sha256: String,
    pub version_id: Option<String>,
    /// Written now, rather than found from an earlier run.
    pub new: bool,
}

/// Conditional writes tried before giving up on a head that keeps moving.
const HEAD_TRIES: usize = 10;

/// The export's manifest: the one already written, or a new one linked into the chain.
pub async fn record(s3: &aws_sdk_s3::Client, facts: &ExportFacts<'_>) -> Result<Recorded, EvidenceError> {
    let task = facts.task;
    let bucket = task.s3_bucket.as_str();
    let key = names::manifest_key(&task.s3_prefix, facts.database, &task.id);
    if let Some(found) = read_manifest(s3, bucket, &key).await? {
        return Ok(found);
    }
    let mut manifest = collect(s3, facts).await?;
    let lapses = facts.expire_days.and_then(|days| seal_until(task, facts.info, days));
    let head_at = head_key(&task.s3_prefix, facts.database);
    let pending_at = pending_key(&task.s3_prefix, facts.database, &task.id);
    for attempt in 0..HEAD_TRIES {
        let head = read_head(s3, bucket, &head_at).await?;
        let (bytes, moved) = match &head {
            // A retry after the head was moved and the manifest not yet written: the bytes kept.
            Some((h, _)) if h.manifest.export_id == task.id => {
                let bytes = pending_bytes(s3, bucket, &head_at, &h.manifest, &pending_at).await?;
                manifest = Manifest::parse(&pending_at, &bytes)?;
                (bytes, true)
            }
            Some((h, _)) => {
                finish(s3, bucket, &head_at, &task.s3_prefix, facts.database, &h.manifest).await?;
                manifest.previous = Some(h.manifest.clone());
                let bytes = manifest.to_canonical_bytes();
                (
                    bytes.clone(),
                    move_head(s3, bucket, &head_at, &pending_at, head.as_ref(), &manifest, &key, lapses, bytes).await?,
                )
            }
            None => {
                let folder = names::evidence_folder(&task.s3_prefix, facts.database);
                if let Some(found) = s3::any_manifest(s3, bucket, &folder)
                    .await
                    .map_err(EvidenceError::aws(format!("listing s3://{bucket}/{folder}")))?
                {
                    return Err(EvidenceError::HeadMissing { bucket: bucket.to_owned(), head: head_at, found });
                }
                manifest.previous = None;
                let bytes = manifest.to_canonical_bytes();
                (
                    bytes.clone(),
                    move_head(s3, bucket, &head_at, &pending_at, None, &manifest, &key, lapses, bytes).await?,
                )
            }
        };
        if !moved {
            // Another export's manifest moved the head: follow it instead.
            tokio::time::sleep(Duration::from_millis(20 * (attempt as u64 + 1))).await;
            continue;
        }
        let sha = sha256_hex(&bytes);
        let written = s3::put_if(s3, bucket, &key, bytes, &metadata(&manifest), None)
            .await
            .map_err(EvidenceError::aws(format!("writing the manifest s3://{bucket}/{key}")))?;
        return match written {
            Written::Yes { version_id, .. } => Ok(Recorded { manifest, key, sha256: sha, version_id, new: true }),
            // Written meanwhile (by the next export's writer, from the kept bytes).
            Written::Conflict => match read_manifest(s3, bucket, &key).await? {
                Some(found) if found.sha256 == sha => Ok(found),
                Some(found) => Err(changed(bucket, &key, &task.id, &found.sha256, &sha)),
                None => Err(EvidenceError::Aws {
                    doing: format!("writing the manifest s3://{bucket}/{key}"),
                    source: AwsError::Transient("S3 said it exists, and it cannot be read".into()),
                }),
            },
        };
    }
    Err(EvidenceError::Contended { database: facts.database.to_owned(), tries: HEAD_TRIES })
}

/// Keeps the manifest's bytes, then moves the head from `head` to it; false when another
/// writer moved the head first.
#[allow(clippy::too_many_arguments)]
async fn move_head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    head_at: &str,
    pending_at: &str,
    head: Option<&(ChainHead, String)>,
    manifest: &Manifest,
    key: &str,
    lapses: Option<DateTime<Utc>>,
    bytes: Vec<u8>,
) -> Result<bool, EvidenceError> {
    let this = Link { export_id: manifest.export.id.clone(), key: key.to_owned(), sha256: sha256_hex(&bytes), lapses };
    s3::put(s3, bucket, pending_at, bytes)
        .await
        .map_err(EvidenceError::aws(format!("keeping the manifest's bytes at s3://{bucket}/{pending_at}")))?;
    let next = ChainHead { manifest: this, previous: manifest.previous.clone() };
    let body = serde_json::to_vec(&next).unwrap_or_default();
    let expect = head.map(|(_, etag)| etag.as_str());
    let written = s3::put_if(s3, bucket, head_at, body, &[], expect)
        .await
        .map_err(EvidenceError::aws(format!("moving the chain head s3://{bucket}/{head_at}")))?;
    Ok(written != Written::Conflict)
}

/// The bytes kept for the manifest `link` names, checked against the SHA-256 the head holds.
async fn pending_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    head_at: &str,
    link: &Link,
    pending_at: &str,
) -> Result<Vec<u8>, EvidenceError> {
    let unfinished = |why: String| EvidenceError::Unfinished {
        bucket: bucket.to_owned(),
        head: head_at.to_owned(),
        key: link.key.clone(),
        pending: pending_at.to_owned(),
        why,
    };
    let doing = || format!("reading s3://{bucket}/{pending_at}");
    let Some(state) = s3::head(s3, bucket, pending_at, None).await.map_err(EvidenceError::aws(doing()))? else {
        return Err(unfinished("it is not there".into()));
    };
    let bytes = s3::get(s3, bucket, pending_at, state.version_id.as_deref(), None)
        .await
        .map_err(EvidenceError::aws(doing()))?;
    let sha = sha256_hex(&bytes);
    if sha != link.sha256 {
        return Err(unfinished(format!("its SHA-256 is {sha}, the head names {}", link.sha256)));
    }
    Ok(bytes)
}

/// Makes sure the manifest the head names exists before anything links to it: written by its
/// own writer, or now, from the bytes that writer kept.
async fn finish(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    head_at: &str,
    prefix: &str,
    database: &str,
    link: &Link,
) -> Result<(), EvidenceError> {
    let there = s3::head(s3, bucket, &link.key, None)
        .await
        .map_err(EvidenceError::aws(format!("HeadObject s3://{bucket}/{}", link.key)))?;
    if there.is_some() {
        return Ok(());
    }
    let pending_at = pending_key(prefix, database, &link.export_id);
    let bytes = pending_bytes(s3, bucket, head_at, link, &pending_at).await?;
    let manifest = Manifest::parse(&pending_at, &bytes)?;
    s3::put_if(s3, bucket, &link.key, bytes, &metadata(&manifest), None)
        .await
        .map_err(EvidenceError::aws(format!("writing the manifest s3://{bucket}/{}", link.key)))?;
    Ok(())
}

fn changed(bucket: &str, key: &str, export_id: &str, found: &str, computed: &str) -> EvidenceError {
    EvidenceError::Changed {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        export_id: export_id.to_owned(),
        found: found.to_owned(),
        computed: computed.to_owned(),
    }
}

/// The metadata keys a manifest object carries; written by [`metadata`], read by
/// [`ManifestMetadata::read`], so the two can never disagree.
mod meta_key {
    pub const EXPORT_ID: &str = "export-id";
    pub const OBJECTS: &str = "objects";
    pub const BYTES: &str = "bytes";
    pub const SNAPSHOT_TIME: &str = "snapshot-time";
    pub const ROWS: &str = "rows";
    pub const PREVIOUS_EXPORT_ID: &str = "previous-export-id";
    pub const PREVIOUS_SHA256: &str = "previous-sha256";
    pub const PREVIOUS_LAPSES: &str = "previous-lapses";
}

/// What a manifest object carries in its metadata, so the chain can be checked with HeadObject
/// alone (archived manifests included): S3's own SHA-256 of the object, and these.
fn metadata(m: &Manifest) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (meta_key::EXPORT_ID, m.export.id.clone()),
        (meta_key::OBJECTS, m.objects.len().to_string()),
        (meta_key::BYTES, m.total_bytes().to_string()),
    ];
    if let Some(t) = m.export.snapshot_time {
        out.push((meta_key::SNAPSHOT_TIME, t.to_rfc3339()));
    }
    if let Some(rows) = m.total_rows() {
        out.push((meta_key::ROWS, rows.to_string()));
    }
    if let Some(p) = &m.previous {
        out.push((meta_key::PREVIOUS_EXPORT_ID, p.export_id.clone()));
        out.push((meta_key::PREVIOUS_SHA256, p.sha256.clone()));
        if let Some(lapses) = p.lapses {
            out.push((meta_key::PREVIOUS_LAPSES, lapses.to_rfc3339()));
        }
    }
    out
}

/// What a manifest says of itself in its object metadata (HeadObject), as [`metadata`] wrote it.
/// Values are as S3 returned them: untrusted, so a caller shows them bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestMetadata {
    pub export_id: String,
    pub snapshot_time: Option<DateTime<Utc>>,
    /// The previous manifest's export id and SHA-256.
    pub previous: Option<(String, String)>,
    pub previous_lapses: Option<DateTime<Utc>>,
    pub objects: Option<u64>,
    pub bytes: Option<u64>,
    pub rows: Option<u64>,
}

impl ManifestMetadata {
    /// `None` when the object was not written as the cataloguer writes manifests (no export id).
    pub fn read(metadata: &std::collections::HashMap<String, String>) -> Option<Self> {
        let text = |key: &str| metadata.get(key).cloned();
        let time = |key: &str| metadata.get(key).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc());
        let number = |key: &str| metadata.get(key).and_then(|n| n.parse::<u64>().ok());
        Some(Self {
            export_id: text(meta_key::EXPORT_ID)?,
            snapshot_time: time(meta_key::SNAPSHOT_TIME),
            previous: text(meta_key::PREVIOUS_EXPORT_ID).zip(text(meta_key::PREVIOUS_SHA256)),
            previous_lapses: time(meta_key::PREVIOUS_LAPSES),
            objects: number(meta_key::OBJECTS),
            bytes: number(meta_key::BYTES),
            rows: number(meta_key::ROWS),
        })
    }
}

/// The manifest at `key`, if there is one.
pub async fn read_manifest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Recorded>, EvidenceError> {
    let Some(state) =
        s3::head(s3, bucket, key, None).await.map_err(EvidenceError::aws(format!("HeadObject s3://{bucket}/{key}")))?
    else {
        return Ok(None);
    };
    let bytes = s3::get(s3, bucket, key, state.version_id.as_deref(), None)
        .await
        .map_err(EvidenceError::aws(format!("reading the manifest s3://{bucket}/{key}")))?;
    let manifest = Manifest::parse(key, &bytes)?;
    Ok(Some(Recorded {
        manifest,
        key: key.to_owned(),
        sha256: sha256_hex(&bytes),
        version_id: state.version_id,
        new: false,
    }))
}

/// The chain head and its ETag exactly as S3 returned it (quoted, to send back in `If-Match`),
/// if there is one. Read in one GET, so the ETag is that of the bytes read.
async fn read_head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(ChainHead, String)>, EvidenceError> {
    let Some((bytes, etag)) = s3::get_tagged(s3, bucket, key)
        .await
        .map_err(EvidenceError::aws(format!("reading the chain head s3://{bucket}/{key}")))?
    else {
        return Ok(None);
    };
    let head = ChainHead::parse(&bytes).map_err(|why| EvidenceError::Aws {
        doing: format!("reading the chain head s3://{bucket}/{key}"),
        source: AwsError::Permanent(why),
    })?;
    Ok(Some((head, etag)))
}

/// The previous manifest a new one links to, for the comparison of the two.
#[derive(Debug, Clone)]
pub enum Previous {
    /// The first manifest of its chain: nothing to compare with.
    None,
    Read(Box<Recorded>),
    /// It could not be compared with: why, naming its key.
    Unavailable(String),
}

/// Reads the manifest `link` names, checked against the SHA-256 it names, saying why when it
/// cannot be compared with: archived (a GET of an archived object fails with InvalidObjectState:
/// S3 API Reference, GetObject), gone, altered, or unreadable.
pub async fn previous(s3: &aws_sdk_s3::Client, bucket: &str, link: Option<&Link>) -> Previous {
    let Some(link) = link else { return Previous::None };
    let key = shown(&link.key);
    let state = match s3::head(s3, bucket, &link.key, None).await {
        Ok(Some(state)) => state,
        Ok(None) if link.lapsed(Utc::now()) => {
            return Previous::Unavailable(format!("{key} is gone: the lifecycle removes it from {} on", date(link)));
        }
        Ok(None) => return Previous::Unavailable(format!("{key} is not there")),
        Err(e) => return Previous::Unavailable(format!("{key} could not be read: {e}")),
    };
    if state.is_archived() && !state.restore.as_deref().is_some_and(|r| r.contains("ongoing-request=\"false\"")) {
        return Previous::Unavailable(format!(
            "{key} is in {} and not restored, so S3 will not serve it (`athenaq restore {}` makes it readable)",
            state.storage_class,
            shown(&link.export_id)
        ));
    }
    let bytes = match s3::get(s3, bucket, &link.key, state.version_id.as_deref(), None).await {
        Ok(bytes) => bytes,
        Err(e) if s3::is_archived_refusal(&e) => {
            return Previous::Unavailable(format!("{key} is archived, so S3 will not serve it: {e}"));
        }
        Err(e) => return Previous::Unavailable(format!("{key} could not be read: {e}")),
    };
    let sha = sha256_hex(&bytes);
    if sha != link.sha256 {
        return Previous::Unavailable(format!(
            "{key} has SHA-256 {sha}, not the {} the link names: it was altered",
            shown(&link.sha256)
        ));
    }
    match Manifest::parse(&link.key, &bytes) {
        Ok(manifest) => Previous::Read(Box::new(Recorded {
            manifest,
            key: link.key.clone(),
            sha256: sha,
            version_id: state.version_id,
            new: false,
        })),
        Err(e) => Previous::Unavailable(shown(&e.to_string())),
    }
}

fn date(link: &Link) -> String {
    link.lapses.map(|l| l.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

impl ChainHead {
    /// Reads a chain head; the error says what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        // Bounded: serde quotes the value it did not expect, whatever its size.
        serde_json::from_slice(bytes).map_err(|e| format!("not a chain head: {}", shown(&e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3exports_rds::ExportStatus;

    #[test]
    fn the_metadata_a_manifest_is_written_with_reads_back_whole() {
        let lapses = DateTime::parse_from_rfc3339("2027-11-24T00:00:00Z").ok().map(|t| t.to_utc());
        let previous =
            crate::manifest::Link { export_id: "e0".into(), key: "k0".into(), sha256: "ab".repeat(32), lapses };
        let manifest = crate::manifest::sample("e1", Some(previous));
        let written: std::collections::HashMap<String, String> =
            metadata(&manifest).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let read = ManifestMetadata::read(&written).expect("written by the cataloguer");
        assert_eq!(read.export_id, "e1");
        assert_eq!(read.snapshot_time, manifest.export.snapshot_time);
        assert_eq!(read.previous, Some(("e0".to_owned(), "ab".repeat(32))));
        assert_eq!(read.previous_lapses, lapses);
        assert_eq!(read.objects, Some(manifest.objects.len() as u64));
        assert_eq!(read.bytes, Some(manifest.total_bytes()));
        assert_eq!(read.rows, manifest.total_rows());
        // Without the export id it is not one of ours, whatever else it carries.
        let mut planted = written;
        planted.remove("export-id");
        assert_eq!(ManifestMetadata::read(&planted), None);
    }

    #[test]
    fn a_seal_lasts_from_the_snapshot_day_for_the_lifecycles_days() {
        let mut task = ExportTask::new("e1", "arn", ExportStatus::Complete);
        assert_eq!(seal_until(&task, None, 365), None, "never a guessed date");
        task.task_end_time = DateTime::parse_from_rfc3339("2026-11-25T05:00:00Z").ok().map(|t| t.to_utc());
        assert_eq!(seal_until(&task, None, 365).unwrap().to_rfc3339(), "2027-11-25T00:00:00+00:00");
        let info = ExportInfo { snapshot_time: Some("Nov 23, 2026 3:05:41 AM".into()), ..ExportInfo::default() };
        assert_eq!(seal_until(&task, Some(&info), 365).unwrap().to_rfc3339(), "2027-11-23T00:00:00+00:00");
        task.snapshot_time = DateTime::parse_from_rfc3339("2026-11-24T03:10:00Z").ok().map(|t| t.to_utc());
        assert_eq!(seal_until(&task, Some(&info), 365).unwrap().to_rfc3339(), "2027-11-24T00:00:00+00:00");
    }
}
