//! Sealing a manifested export: a retention on every object version the manifest records, then
//! on the manifest itself, in the configured mode until the seal's date. An export of tens of
//! thousands of objects is sealed within the function's time; past the deadline the progress is
//! kept (`_evidence/<db>/_state/<export id>.seal.json`) and the next invocation continues from
//! it, so an export is never left half-sealed without the record and the function saying so.

use std::time::Instant;

use futures::{StreamExt, stream};
use s3exports_config::names;
use serde::{Deserialize, Serialize};

use crate::record::{EvidenceError, Recorded};
use crate::s3;

/// Retentions placed at once.
pub const CONCURRENCY: usize = 32;
/// Objects sealed between two saves of the progress.
const SAVE_EVERY: usize = 1_000;

/// How far sealing one export got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealed {
    /// No seal asked for (`object_lock = "off"`).
    Off,
    /// Every object and the manifest carry the retention.
    Done { objects: usize },
    /// Stopped at the deadline: `sealed` of `of` carry it; the rest follow in the next run.
    Partial { sealed: usize, of: usize },
}

/// The progress kept between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub export_id: String,
    pub mode: String,
    pub retain_until: String,
    /// Objects sealed so far, in the manifest's (key) order; the manifest itself is the last.
    pub sealed: usize,
    pub of: usize,
}

pub fn progress_key(prefix: &str, database: &str, export_id: &str) -> String {
    format!("{}_state/{export_id}.seal.json", names::evidence_folder(prefix, database))
}

/// Fails unless `bucket` has Object Lock: checked before a manifest that records a seal is
/// written, and again before sealing.
pub async fn require_lock(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    database: &str,
    mode: &str,
) -> Result<(), EvidenceError> {
    let locked = s3::lock_enabled(s3, bucket)
        .await
        .map_err(|source| EvidenceError::Aws { doing: format!("GetObjectLockConfiguration {bucket}"), source })?;
    if locked {
        return Ok(());
    }
    Err(EvidenceError::NoObjectLock {
        bucket: bucket.to_owned(),
        database: database.to_owned(),
        mode: mode.to_ascii_lowercase(),
    })
}

/// Seals `recorded`'s export, stopping before `deadline` if given.
pub async fn seal(
    s3: &aws_sdk_s3::Client,
    recorded: &Recorded,
    deadline: Option<Instant>,
) -> Result<Sealed, EvidenceError> {
    let m = &recorded.manifest;
    let Some(seal) = &m.seal else { return Ok(Sealed::Off) };
    let bucket = m.export.s3_bucket.as_str();
    require_lock(s3, bucket, &m.database, &seal.mode).await?;
    // The manifest last: it is sealed once everything it records is.
    let mut targets: Vec<(&str, Option<&str>)> =
        m.objects.iter().map(|o| (o.key.as_str(), o.version_id.as_deref())).collect();
    targets.push((recorded.key.as_str(), recorded.version_id.as_deref()));
    let at = progress_key(&m.export.s3_prefix, &m.database, &m.export.id);
    let mut progress = read_progress(s3, bucket, &at).await.filter(|p| {
        p.export_id == m.export.id
            && p.mode == seal.mode
            && p.retain_until == seal.retain_until.to_rfc3339()
            && p.of == targets.len()
    });
    let mut sealed = progress.as_ref().map_or(0, |p| p.sealed.min(targets.len()));
    let mut since_save = 0;
    while sealed < targets.len() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            save(s3, bucket, &at, m, sealed, targets.len(), &mut progress).await?;
            return Ok(Sealed::Partial { sealed, of: targets.len() });
        }
        let chunk = &targets[sealed..(sealed + CONCURRENCY * 4).min(targets.len())];
        // Owned inputs: the stream's futures must be Send for the functions' handlers.
        let owned: Vec<(String, Option<String>)> =
            chunk.iter().map(|(key, version)| ((*key).to_owned(), version.map(str::to_owned))).collect();
        let (mode, until) = (seal.mode.as_str(), seal.retain_until);
        let results: Vec<Result<(), (String, s3exports_rds::AwsError)>> = stream::iter(owned)
            .map(|(key, version)| async move {
                s3::retain(s3, bucket, &key, version.as_deref(), mode, until).await.map_err(|e| (key, e))
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        if let Some((failed, (key, source))) =
            results.into_iter().enumerate().find_map(|(i, r)| r.err().map(|e| (i, e)))
        {
            save(s3, bucket, &at, m, sealed + failed, targets.len(), &mut progress).await?;
            return Err(EvidenceError::Aws { doing: format!("PutObjectRetention s3://{bucket}/{key}"), source });
        }
        sealed += chunk.len();
        since_save += chunk.len();
        if since_save >= SAVE_EVERY {
            save(s3, bucket, &at, m, sealed, targets.len(), &mut progress).await?;
            since_save = 0;
        }
    }
    save(s3, bucket, &at, m, sealed, targets.len(), &mut progress).await?;
    Ok(Sealed::Done { objects: targets.len() })
}

async fn read_progress(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Progress> {
    let bytes = s3::get(s3, bucket, key, None, None).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn save(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    m: &crate::manifest::Manifest,
    sealed: usize,
    of: usize,
    last: &mut Option<Progress>,
) -> Result<(), EvidenceError> {
    let Some(seal) = &m.seal else { return Ok(()) };
    let now = Progress {
        export_id: m.export.id.clone(),
        mode: seal.mode.clone(),
        retain_until: seal.retain_until.to_rfc3339(),
        sealed,
        of,
    };
    if last.as_ref() == Some(&now) {
        return Ok(());
    }
    // Plain overwrite: progress is a note to the next run, not evidence.
    let body = serde_json::to_vec(&now).unwrap_or_default();
    s3.put_object().bucket(bucket).key(key).content_type("application/json").body(body.into()).send().await.map_err(
        |e| EvidenceError::Aws {
            doing: format!("saving the seal's progress s3://{bucket}/{key}"),
            source: s3exports_rds::classify(&e),
        },
    )?;
    *last = Some(now);
    Ok(())
}
