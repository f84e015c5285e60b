//! Sealing a manifested export: a retention on every object version the manifest records, then
//! on the manifest itself, in the configured mode until the seal's date. An export of tens of
//! thousands of objects is sealed within the function's time; past the deadline the progress is
//! kept (`_evidence/<db>/_state/<export id>.seal.json`) and the next invocation continues from
//! it, so an export is never left half-sealed without the record and the function saying so.
//!
//! S3 refuses a retention it may not apply: on a version already under a longer one it may not
//! shorten, under COMPLIANCE it may not weaken, or with a date already past (a seal resumed
//! after its day). A version already retained at least as long as ours, in the same or a
//! stricter mode (read back with GetObjectRetention), is sealed: what was found is kept in the
//! progress record and reported. Every other refusal is reported object by object once the rest
//! is sealed, never by stopping at the first.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use s3exports_config::names;
use serde::{Deserialize, Serialize};

use crate::record::{EvidenceError, Recorded};
use crate::s3::{self, Retained};
use crate::text::{listed, shown};

/// Retentions placed at once.
pub const CONCURRENCY: usize = 32;
/// Objects sealed between two saves of the progress.
const SAVE_EVERY: usize = 1_000;

/// How far sealing one export got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealed {
    /// No seal asked for (`object_lock = "off"`).
    Off,
    /// Every object and the manifest carry the retention (or one at least as long).
    Done { objects: usize },
    /// Stopped at the deadline: `sealed` of `of` carry it; the rest follow in the next run.
    Partial { sealed: usize, of: usize },
}

/// What sealing did: how far it got, and the versions found already retained at least as long
/// as the seal asks (placed elsewhere: by hand, a default retention, an earlier longer seal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealReport {
    pub sealed: Sealed,
    pub held: Vec<Held>,
}

/// A version S3 already retains at least as long as the seal asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub key: String,
    pub version_id: Option<String>,
    pub mode: String,
    pub until: DateTime<Utc>,
}

/// A version S3 refused to retain, with nothing as long on it already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub key: String,
    pub version_id: Option<String>,
    /// S3's answer and what the version holds instead.
    pub why: String,
}

impl Refusal {
    pub fn text(&self) -> String {
        let version = self.version_id.as_deref().map(|v| format!(" (version {})", shown(v))).unwrap_or_default();
        format!("{}{version}: {}", shown(&self.key), shown(&self.why))
    }
}

/// The progress kept between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub export_id: String,
    pub mode: String,
    pub retain_until: String,
    /// Objects done so far, in the manifest's (key) order; the manifest itself is the last.
    pub sealed: usize,
    pub of: usize,
    /// Versions among those done that already held a retention at least as long.
    #[serde(default)]
    pub held: Vec<Held>,
    /// Versions among those done that S3 refused: tried again by the next run.
    #[serde(default)]
    pub refused: Vec<Refusal>,
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

/// What became of one version.
enum Outcome {
    Placed,
    Held(Held),
    Refused(Refusal),
}

/// Places the retention on one version; when S3 refuses it, reads what the version holds.
async fn seal_one(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: String,
    version: Option<String>,
    mode: &str,
    until: DateTime<Utc>,
) -> Result<Outcome, (String, s3exports_rds::AwsError)> {
    let refused = match s3::retain(s3, bucket, &key, version.as_deref(), mode, until).await {
        Ok(Retained::Placed) => return Ok(Outcome::Placed),
        Ok(Retained::Refused(why)) => why,
        Err(e) => return Err((key, e)),
    };
    let found = match s3::retention(s3, bucket, &key, version.as_deref()).await {
        Ok(found) => found,
        Err(e @ s3exports_rds::AwsError::Transient(_)) => return Err((key, e)),
        Err(e) => {
            let why = format!("{refused}; and GetObjectRetention failed: {e}");
            return Ok(Outcome::Refused(Refusal { key, version_id: version, why }));
        }
    };
    match found {
        Some((held, at)) if s3::at_least((&held, at), mode, until) => {
            Ok(Outcome::Held(Held { key, version_id: version, mode: held, until: at }))
        }
        Some((held, at)) => {
            let why = format!(
                "{refused}; it holds {held} until {}, short of {mode} until {}",
                at.to_rfc3339(),
                until.to_rfc3339()
            );
            Ok(Outcome::Refused(Refusal { key, version_id: version, why }))
        }
        None if until <= Utc::now() => {
            let why =
                format!("{refused}; it holds no retention, and the seal's date {} has passed", until.to_rfc3339());
            Ok(Outcome::Refused(Refusal { key, version_id: version, why }))
        }
        None => {
            let why = format!("{refused}; it holds no retention");
            Ok(Outcome::Refused(Refusal { key, version_id: version, why }))
        }
    }
}

/// Seals `recorded`'s export, stopping before `deadline` if given.
pub async fn seal(
    s3: &aws_sdk_s3::Client,
    recorded: &Recorded,
    deadline: Option<Instant>,
) -> Result<SealReport, EvidenceError> {
    let m = &recorded.manifest;
    let Some(seal) = &m.seal else { return Ok(SealReport { sealed: Sealed::Off, held: Vec::new() }) };
    let bucket = m.export.s3_bucket.as_str();
    require_lock(s3, bucket, &m.database, &seal.mode).await?;
    // The manifest last: it is sealed once everything it records is.
    let mut targets: Vec<(&str, Option<&str>)> =
        m.objects.iter().map(|o| (o.key.as_str(), o.version_id.as_deref())).collect();
    targets.push((recorded.key.as_str(), recorded.version_id.as_deref()));
    let at = progress_key(&m.export.s3_prefix, &m.database, &m.export.id);
    let mut saved = read_progress(s3, bucket, &at).await.filter(|p| {
        p.export_id == m.export.id
            && p.mode == seal.mode
            && p.retain_until == seal.retain_until.to_rfc3339()
            && p.of == targets.len()
    });
    let mut progress = saved.clone().unwrap_or_else(|| Progress {
        export_id: m.export.id.clone(),
        mode: seal.mode.clone(),
        retain_until: seal.retain_until.to_rfc3339(),
        sealed: 0,
        of: targets.len(),
        held: Vec::new(),
        refused: Vec::new(),
    });
    progress.sealed = progress.sealed.min(targets.len());
    // What an earlier run was refused is tried again first (a permission fixed since, say).
    let mut work: Vec<(String, Option<String>)> = progress.refused.drain(..).map(|r| (r.key, r.version_id)).collect();
    let retried = work.len();
    work.extend(
        targets[progress.sealed..].iter().map(|(key, version)| ((*key).to_owned(), version.map(str::to_owned))),
    );
    let mut done = 0;
    let mut since_save = 0;
    let (mode, until) = (seal.mode.as_str(), seal.retain_until);
    while done < work.len() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            save(s3, bucket, &at, &kept(&progress, &work, done, retried), &mut saved).await?;
            return Ok(SealReport {
                sealed: Sealed::Partial { sealed: progress.sealed, of: targets.len() },
                held: progress.held.clone(),
            });
        }
        let chunk = work[done..(done + CONCURRENCY * 4).min(work.len())].to_vec();
        let outcomes: Vec<Result<Outcome, (String, s3exports_rds::AwsError)>> = stream::iter(chunk)
            .map(|(key, version)| seal_one(s3, bucket, key, version, mode, until))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(Outcome::Placed) => {}
                Ok(Outcome::Held(held)) => {
                    progress.held.retain(|h| (&h.key, &h.version_id) != (&held.key, &held.version_id));
                    progress.held.push(held);
                }
                Ok(Outcome::Refused(refusal)) => progress.refused.push(refusal),
                Err((key, source)) => {
                    // Worth retrying: kept where it stopped, so the next delivery goes on from here.
                    save(s3, bucket, &at, &kept(&progress, &work, done, retried), &mut saved).await?;
                    return Err(EvidenceError::Aws {
                        doing: format!("PutObjectRetention s3://{bucket}/{key}"),
                        source,
                    });
                }
            }
            if done >= retried {
                progress.sealed += 1;
            }
            done += 1;
            since_save += 1;
        }
        if since_save >= SAVE_EVERY {
            save(s3, bucket, &at, &kept(&progress, &work, done, retried), &mut saved).await?;
            since_save = 0;
        }
    }
    save(s3, bucket, &at, &progress, &mut saved).await?;
    if !progress.refused.is_empty() {
        let refused: Vec<String> = progress.refused.iter().map(Refusal::text).collect();
        return Err(EvidenceError::SealRefused {
            bucket: bucket.to_owned(),
            export_id: m.export.id.clone(),
            count: refused.len(),
            of: targets.len(),
            held: progress.held.len(),
            refused: listed(&refused),
            progress: at,
        });
    }
    Ok(SealReport { sealed: Sealed::Done { objects: targets.len() }, held: progress.held })
}

/// The progress to keep after `done` of `work`: earlier refusals not tried again yet (the first
/// `retried` of `work`) stay recorded as refused.
fn kept(progress: &Progress, work: &[(String, Option<String>)], done: usize, retried: usize) -> Progress {
    let mut out = progress.clone();
    out.refused.extend(work[done.min(retried)..retried].iter().map(|(key, version)| Refusal {
        key: key.clone(),
        version_id: version.clone(),
        why: "refused in an earlier run, not tried again yet".to_owned(),
    }));
    out
}

async fn read_progress(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Progress> {
    let bytes = s3::get(s3, bucket, key, None, None).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn save(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    now: &Progress,
    last: &mut Option<Progress>,
) -> Result<(), EvidenceError> {
    if last.as_ref() == Some(now) {
        return Ok(());
    }
    // Plain overwrite: progress is a note to the next run, not evidence.
    let body = serde_json::to_vec(now).unwrap_or_default();
    s3.put_object().bucket(bucket).key(key).content_type("application/json").body(body.into()).send().await.map_err(
        |e| EvidenceError::Aws {
            doing: format!("saving the seal's progress s3://{bucket}/{key}"),
            source: s3exports_rds::classify(&e),
        },
    )?;
    *last = Some(now.clone());
    Ok(())
}
