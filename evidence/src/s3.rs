//! The S3 calls evidence makes: every version under a prefix (ListObjectVersions), one version's
//! state without its data (HeadObject with `ChecksumMode`: size, ETag, S3's checksum, the
//! Object Lock retention, encryption, storage class, restore), a footer read, a manifest written
//! only if absent, the chain head written only if unchanged, a retention placed or read.
//!
//! Version ids are kept as S3 gives them, `null` included: an object written before the bucket
//! had versioning has the version id `null`, and S3 addresses that version by `versionId=null`
//! (S3 User Guide, "Working with objects in a versioning-enabled bucket"). Read as "no version",
//! a retention or a HEAD would address whatever version is current instead.

use std::collections::HashMap;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{ChecksumMode, ObjectLockEnabled, ObjectLockRetention, ObjectLockRetentionMode};
use chrono::{DateTime, Utc};
use s3exports_rds::{AwsError, classify, footer, sdk::to_chrono};

use crate::manifest::{Checksum, ColumnRecord};

/// One version of one key, or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub key: String,
    /// As S3 gives it (`null` for a version written before versioning was enabled).
    pub version_id: Option<String>,
    pub size: u64,
    /// Without quotes; empty for a delete marker.
    pub etag: String,
    pub storage_class: String,
    pub is_latest: bool,
    pub delete_marker: bool,
}

/// Every version and delete marker under `prefix`, all pages.
pub async fn list_versions(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<Version>, AwsError> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        out.extend(page.versions().iter().map(|v| Version {
            key: v.key().unwrap_or_default().to_owned(),
            version_id: v.version_id().map(str::to_owned),
            size: u64::try_from(v.size().unwrap_or_default()).unwrap_or(0),
            etag: v.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
            storage_class: v.storage_class().map_or_else(|| "STANDARD".to_owned(), |c| c.as_str().to_owned()),
            is_latest: v.is_latest().unwrap_or(false),
            delete_marker: false,
        }));
        out.extend(page.delete_markers().iter().map(|m| Version {
            key: m.key().unwrap_or_default().to_owned(),
            version_id: m.version_id().map(str::to_owned),
            size: 0,
            etag: String::new(),
            storage_class: String::new(),
            is_latest: m.is_latest().unwrap_or(false),
            delete_marker: true,
        }));
        if !page.is_truncated().unwrap_or(false) {
            return Ok(out);
        }
        let next = (page.next_key_marker().map(str::to_owned), page.next_version_id_marker().map(str::to_owned));
        if next.0.is_none() || next == (key_marker.clone(), version_marker.clone()) {
            return Err(AwsError::Transient(format!(
                "ListObjectVersions on s3://{bucket}/{prefix} said more follow but gave no new marker"
            )));
        }
        (key_marker, version_marker) = next;
    }
}

/// The version id of a version written while the bucket had no versioning.
pub const NULL: &str = "null";

/// S3 takes `versionId=null` in every bucket, and in one that was never versioned every object
/// is its null version; some S3-compatible endpoints (moto among them) refuse `versionId=null`
/// there with a 400. That refusal means the bucket is unversioned, so the latest version is the
/// null one: asked again without a version id (and checked to be `null` or unnamed).
fn refuses_null(version_id: Option<&str>, status: Option<u16>) -> bool {
    version_id == Some(NULL) && status == Some(400)
}

/// The latest version of each key that is not deleted, folder markers left out.
pub fn current(versions: &[Version]) -> Vec<&Version> {
    let mut out: Vec<&Version> =
        versions.iter().filter(|v| v.is_latest && !v.delete_marker && !(v.key.ends_with('/') && v.size == 0)).collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// One object version as HeadObject describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectState {
    pub key: String,
    pub version_id: Option<String>,
    pub size: u64,
    pub etag: String,
    pub checksum: Option<Checksum>,
    pub storage_class: String,
    /// Object Lock retention: (mode, until).
    pub lock: Option<(String, DateTime<Utc>)>,
    pub sse: Option<String>,
    pub kms_key: Option<String>,
    /// The `x-amz-restore` header, when S3 sends one.
    pub restore: Option<String>,
    pub metadata: HashMap<String, String>,
}

impl ObjectState {
    pub fn is_archived(&self) -> bool {
        matches!(self.storage_class.as_str(), "GLACIER" | "DEEP_ARCHIVE")
    }
}

/// HeadObject of a version (the latest when `version_id` is `None`), checksum asked for;
/// `None` when there is no such object or version.
pub async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<ObjectState>, AwsError> {
    let ask = |version: Option<&str>| {
        s3.head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
    };
    let mut sent = ask(version_id).await;
    if refuses_null(version_id, sent.as_ref().err().and_then(|e| e.raw_response()).map(|r| r.status().as_u16())) {
        sent = ask(None).await;
        if sent.as_ref().is_ok_and(|out| out.version_id().is_some_and(|v| v != NULL)) {
            // The latest is another version: the null one is not there to be had.
            return Ok(None);
        }
    }
    let out = match sent {
        Ok(out) => out,
        Err(e)
            if e.as_service_error().is_some_and(|s| s.is_not_found())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(classify(&e)),
    };
    let checksum = checksum_of(
        &[
            ("CRC64NVME", out.checksum_crc64_nvme()),
            ("CRC32C", out.checksum_crc32_c()),
            ("CRC32", out.checksum_crc32()),
            ("SHA256", out.checksum_sha256()),
            ("SHA1", out.checksum_sha1()),
            ("SHA512", out.checksum_sha512()),
            ("MD5", out.checksum_md5()),
            ("XXHASH64", out.checksum_xxhash64()),
            ("XXHASH3", out.checksum_xxhash3()),
            ("XXHASH128", out.checksum_xxhash128()),
        ],
        out.checksum_type().map(|t| t.as_str()),
    );
    let lock = out
        .object_lock_mode()
        .zip(to_chrono(out.object_lock_retain_until_date()))
        .map(|(m, t)| (m.as_str().to_owned(), t));
    Ok(Some(ObjectState {
        key: key.to_owned(),
        version_id: out.version_id().map(str::to_owned),
        size: u64::try_from(out.content_length().unwrap_or_default()).unwrap_or(0),
        etag: out.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
        checksum,
        storage_class: out.storage_class().map_or_else(|| "STANDARD".to_owned(), |c| c.as_str().to_owned()),
        lock,
        sse: out.server_side_encryption().map(|s| s.as_str().to_owned()),
        kms_key: out.ssekms_key_id().map(str::to_owned),
        restore: out.restore().map(str::to_owned),
        metadata: out.metadata().cloned().unwrap_or_default(),
    }))
}

/// The checksum S3 reports, whichever algorithm it is: S3 keeps one per object (the one it was
/// uploaded with, CRC64NVME when none was given), named by the algorithm as S3's
/// `ChecksumAlgorithm` spells it (CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512,
/// XXHASH3, XXHASH64, XXHASH128: S3 API Reference, "Checksum").
pub fn checksum_of(values: &[(&str, Option<&str>)], kind: Option<&str>) -> Option<Checksum> {
    values.iter().find_map(|(algorithm, value)| {
        value.map(|v| Checksum {
            algorithm: (*algorithm).to_owned(),
            value: v.to_owned(),
            kind: kind.map(str::to_owned),
        })
    })
}

/// The bytes of a version, or the range asked for.
pub async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    range: Option<String>,
) -> Result<Vec<u8>, AwsError> {
    let ask = |version: Option<&str>| {
        s3.get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .set_range(range.clone())
            .send()
    };
    let mut sent = ask(version_id).await;
    if refuses_null(version_id, sent.as_ref().err().and_then(|e| e.raw_response()).map(|r| r.status().as_u16())) {
        sent = ask(None).await;
        if sent.as_ref().is_ok_and(|out| out.version_id().is_some_and(|v| v != NULL)) {
            return Err(AwsError::NotFound(format!("s3://{bucket}/{key}: its null version is no longer there")));
        }
    }
    let out = sent.map_err(|e| classify(&e))?;
    let body = out.body.collect().await.map_err(|e| {
        AwsError::Transient(format!("reading s3://{bucket}/{key}: {}", s3exports_rds::error::error_text(e)))
    })?;
    Ok(body.into_bytes().to_vec())
}

/// The bytes of the latest version of `key` and its ETag exactly as S3 returned it (quotes
/// kept, for `If-Match`); `None` when there is no such key.
pub async fn get_tagged(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, String)>, AwsError> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error().is_some_and(|s| s.is_no_such_key())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(classify(&e)),
    };
    let etag = out.e_tag().unwrap_or_default().to_owned();
    let body = out.body.collect().await.map_err(|e| {
        AwsError::Transient(format!("reading s3://{bucket}/{key}: {}", s3exports_rds::error::error_text(e)))
    })?;
    Ok(Some((body.into_bytes().to_vec(), etag)))
}

/// What a part file's footer says.
#[derive(Debug, Clone, PartialEq)]
pub enum FooterRead {
    Read {
        rows: u64,
        columns: Vec<ColumnRecord>,
    },
    /// In Glacier or Deep Archive, not restored: S3 will not serve it.
    Archived,
    Damaged(String),
}

/// Bytes read from a part's end at first: a footer is seldom larger, so one GET usually does.
const FOOTER_GUESS: usize = 64 * 1024;

/// The footer of one part version: its last bytes in one ranged GET (two when the footer is
/// larger than [`FOOTER_GUESS`]).
pub async fn footer(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    size: u64,
) -> FooterRead {
    let tail = usize::try_from(size).unwrap_or(usize::MAX).min(FOOTER_GUESS);
    let mut bytes = match get(s3, bucket, key, version_id, Some(format!("bytes=-{tail}"))).await {
        Ok(bytes) => bytes,
        Err(e) if is_archived_refusal(&e) => return FooterRead::Archived,
        Err(e) => return FooterRead::Damaged(e.to_string()),
    };
    let len = match footer::metadata_len(&bytes) {
        Ok(len) => len,
        Err(e) => return FooterRead::Damaged(e),
    };
    if len + footer::TAIL_LEN > bytes.len() {
        bytes = match get(s3, bucket, key, version_id, Some(format!("bytes=-{}", len + footer::TAIL_LEN))).await {
            Ok(bytes) => bytes,
            Err(e) => return FooterRead::Damaged(e.to_string()),
        };
    }
    match footer::metadata(&bytes) {
        Ok(meta) => FooterRead::Read {
            rows: u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0),
            columns: meta
                .file_metadata()
                .schema_descr()
                .columns()
                .iter()
                .map(|c| ColumnRecord {
                    name: c.path().string(),
                    parquet_type: match c.logical_type_ref() {
                        Some(logical) => format!("{} ({logical:?})", c.physical_type()),
                        None => c.physical_type().to_string(),
                    },
                })
                .collect(),
        },
        Err(e) => FooterRead::Damaged(e),
    }
}

/// S3's refusal to read an archived object that is not restored.
pub fn is_archived_refusal(error: &AwsError) -> bool {
    error.to_string().contains("InvalidObjectState")
}

/// What a conditional write found.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Written; the new version's id (when the bucket is versioned) and its ETag as S3 returned
    /// it (quoted), fit to send back in `If-Match`.
    Yes { version_id: Option<String>, etag: String },
    /// The condition failed: the object exists (`If-None-Match`) or changed (`If-Match`).
    Conflict,
}

/// PUT `bytes` to `key` with S3 checking their SHA-256, only if the key does not exist
/// (`expect: None`) or still has the ETag `expect`, sent exactly as S3 returned it: an ETag is
/// a quoted string (RFC 7232 entity-tag, which S3's conditional writes compare), so its quotes
/// stay on.
pub async fn put_if(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    metadata: &[(&str, String)],
    expect: Option<&str>,
) -> Result<Written, AwsError> {
    let sha = crate::manifest::hex_to_base64(&crate::manifest::sha256_hex(&bytes)).unwrap_or_default();
    let mut put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .checksum_sha256(sha)
        .body(bytes.into());
    put = match expect {
        None => put.if_none_match("*"),
        Some(etag) => put.if_match(etag),
    };
    for (k, v) in metadata {
        put = put.metadata(*k, v);
    }
    match put.send().await {
        Ok(out) => Ok(Written::Yes {
            version_id: out.version_id().map(str::to_owned),
            etag: out.e_tag().unwrap_or_default().to_owned(),
        }),
        Err(e)
            if matches!(e.code(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
                || e.raw_response().is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
        {
            Ok(Written::Conflict)
        }
        Err(e) => Err(classify(&e)),
    }
}

/// PUT `bytes` to `key`, whatever is there.
pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), AwsError> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(())
}

/// The key of some manifest directly in `folder` (not in its `_state/`), if there is one.
pub async fn any_manifest(s3: &aws_sdk_s3::Client, bucket: &str, folder: &str) -> Result<Option<String>, AwsError> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(folder)
        .delimiter("/")
        .max_keys(10)
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(out.contents().iter().filter_map(|o| o.key()).find(|k| k.ends_with(".json")).map(str::to_owned))
}

/// What PutObjectRetention answered for one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retained {
    Placed,
    /// S3 refused this version's retention (a 4xx that is not throttling): an existing retention
    /// it may not shorten or weaken, a date in the past, a version that is gone, access denied.
    /// `Code: message`, as S3 gave it.
    Refused(String),
}

/// Places a retention on one version, in `mode` (GOVERNANCE or COMPLIANCE) until `until`.
/// Throttling, 5xx and network errors are `Err` (worth retrying); S3's refusal of this one
/// version is [`Retained::Refused`].
pub async fn retain(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    mode: &str,
    until: DateTime<Utc>,
) -> Result<Retained, AwsError> {
    let retention = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::from(mode))
        .retain_until_date(aws_smithy_types::DateTime::from_secs(until.timestamp()))
        .build();
    let sent = s3
        .put_object_retention()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .retention(retention)
        .send()
        .await;
    match sent {
        Ok(_) => Ok(Retained::Placed),
        Err(e) => match (classify(&e), e.raw_response().map(|r| r.status().as_u16())) {
            (AwsError::Permanent(text), Some(400..=499)) => Ok(Retained::Refused(text)),
            (other, _) => Err(other),
        },
    }
}

/// The retention one version carries (GetObjectRetention): (mode, until); `None` when it has
/// none (S3 answers `NoSuchObjectLockConfiguration`).
pub async fn retention(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<(String, DateTime<Utc>)>, AwsError> {
    let sent =
        s3.get_object_retention().bucket(bucket).key(key).set_version_id(version_id.map(str::to_owned)).send().await;
    match sent {
        Ok(out) => Ok(out
            .retention()
            .and_then(|r| r.mode().map(|m| m.as_str().to_owned()).zip(to_chrono(r.retain_until_date())))),
        Err(e) if e.code() == Some("NoSuchObjectLockConfiguration") => Ok(None),
        Err(e) => Err(classify(&e)),
    }
}

/// Whether a retention S3 already holds, `(mode, until)`, is at least ours: until no earlier,
/// in the same mode or a stricter one (COMPLIANCE, which no one can shorten, over GOVERNANCE).
pub fn at_least(held: (&str, DateTime<Utc>), mode: &str, until: DateTime<Utc>) -> bool {
    let strength = |m: &str| match m.to_ascii_uppercase().as_str() {
        "COMPLIANCE" => 2,
        "GOVERNANCE" => 1,
        _ => 0,
    };
    // In whole seconds: retentions are placed (and S3 keeps them) to the second.
    held.1.timestamp() >= until.timestamp() && strength(held.0) >= strength(mode) && strength(mode) > 0
}

/// Whether the bucket has Object Lock enabled.
pub async fn lock_enabled(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<bool, AwsError> {
    match s3.get_object_lock_configuration().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            .is_some_and(|e| *e == ObjectLockEnabled::Enabled)),
        Err(e) if matches!(e.code(), Some("ObjectLockConfigurationNotFoundError" | "InvalidRequest")) => Ok(false),
        Err(e) => Err(classify(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(key: &str, latest: bool, deleted: bool) -> Version {
        Version {
            key: key.into(),
            version_id: Some(format!("v-{key}-{latest}")),
            size: 1,
            etag: "e".into(),
            storage_class: "STANDARD".into(),
            is_latest: latest,
            delete_marker: deleted,
        }
    }

    #[test]
    fn the_current_objects_are_the_latest_versions_not_deleted() {
        let versions = [
            version("b", true, false),
            version("a", false, false),
            version("a", true, false),
            version("c", false, false),
            version("c", true, true),
            Version { size: 0, ..version("folder/", true, false) },
        ];
        let keys: Vec<&str> = current(&versions).iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
    }
}
